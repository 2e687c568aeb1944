//! What a field needs from its caller, declared next to it as a guard: `#[graphql(guard = "Require::owner()")]`.
//! Signing in is checked for the whole operation before it runs (see `schema::limits::PUBLIC_FIELDS`).

use async_graphql::{Context, Guard, Result};

use crate::error::AppError;
use crate::services::{Caller, users};

#[derive(Debug, Clone, Copy)]
enum Need {
    SignedInUser,
    Owner,
}

#[derive(Debug, Clone, Copy)]
pub struct Require(Need);

impl Require {
    /// A person signed in (not an integration's API key): their own profile, password and second factor.
    pub fn user() -> Self {
        Self(Need::SignedInUser)
    }

    /// The shop's owner (or an API key with the owner role).
    pub fn owner() -> Self {
        Self(Need::Owner)
    }
}

impl Guard for Require {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let caller = ctx.data_opt::<Caller>().cloned().unwrap_or_default();
        match self.0 {
            Need::SignedInUser if caller.user_id.is_some() => Ok(()),
            Need::SignedInUser if caller.is_authenticated() => Err(AppError::Forbidden.into()),
            Need::Owner if caller.is_authenticated() => {
                let db = &crate::schema::state(ctx).db;
                if users::is_owner(db, &caller).await? {
                    Ok(())
                } else {
                    Err(AppError::Forbidden.into())
                }
            }
            _ => Err(AppError::Unauthenticated.into()),
        }
    }
}
