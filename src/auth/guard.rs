//! What a field needs from its caller, declared next to it as a guard:
//! `#[graphql(guard = "Require::perm(Perm::CustomerRead)")]`. Deny by default: a caller without the permission
//! somewhere gets `forbidden`; which records they see is then narrowed to their locations (`schema::scope`).
//! Signing in is checked for the whole operation before it runs (see `schema::limits::PUBLIC_FIELDS`).

use async_graphql::{Context, Guard, Result};

use super::catalog::Perm;
use super::policy::Access;
use crate::auth::Caller;
use crate::error::AppError;

#[derive(Debug, Clone, Copy)]
enum Need {
    SignedIn,
    SignedInUser,
    Permission(Perm),
    Either(Perm, Perm),
    AnyTransition,
    AnySearchable,
}

#[derive(Debug, Clone, Copy)]
pub struct Require(Need);

impl Require {
    /// A person signed in (not an integration's API key): their own profile, password and second factor.
    pub fn user() -> Self {
        Self(Need::SignedInUser)
    }

    /// Anyone signed in: reference data (locations) and lookups whose records are scoped one by one.
    pub fn signed_in() -> Self {
        Self(Need::SignedIn)
    }

    /// Either of two permissions (say, all work orders or only one's own).
    pub fn either(a: Perm, b: Perm) -> Self {
        Self(Need::Either(a, b))
    }

    /// Some work-order transition; which one the move needs is checked against the order.
    pub fn any_transition() -> Self {
        Self(Need::AnyTransition)
    }

    /// A permission that sees some kind of record search finds.
    pub fn any_searchable() -> Self {
        Self(Need::AnySearchable)
    }

    /// A permission from the catalog, held in at least one location.
    pub fn perm(p: Perm) -> Self {
        Self(Need::Permission(p))
    }
}

/// The request's access, worked out once by the HTTP handler; none means nothing is allowed.
pub fn access<'a>(ctx: &Context<'a>) -> &'a Access {
    static NOTHING: std::sync::LazyLock<Access> = std::sync::LazyLock::new(Access::default);
    ctx.data_opt::<std::sync::Arc<Access>>()
        .map_or(&NOTHING, |a| a.as_ref())
}

impl Guard for Require {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let caller = ctx.data_opt::<Caller>();
        if !caller.is_some_and(Caller::is_authenticated) {
            return Err(AppError::Unauthenticated.into());
        }
        let allowed = match self.0 {
            Need::SignedIn => true,
            Need::SignedInUser => caller.is_some_and(|c| c.user_id.is_some()),
            Need::Permission(p) => access(ctx).can(p),
            Need::Either(a, b) => access(ctx).can(a) || access(ctx).can(b),
            Need::AnyTransition => crate::domain::WorkOrderStatus::ALL
                .iter()
                .filter_map(|s| Perm::transition_to(*s))
                .any(|p| access(ctx).can(p)),
            Need::AnySearchable => super::visibility::SEARCHABLE
                .iter()
                .any(|r| r.sees_some(access(ctx))),
        };
        if allowed {
            Ok(())
        } else {
            Err(AppError::Forbidden.into())
        }
    }
}
