//! The owner's access-control screens: the permission catalog, roles and their grants, who holds which role
//! where, a user's effective permissions, and why a user may or may not do something.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::caller;
use crate::auth::catalog::{CATALOG, Perm};
use crate::auth::guard::{Require, access};
use crate::auth::policy::{Access, EVERYWHERE, Scope};
use crate::domain::NonEmpty;
use crate::error::{AppError, AppResult};
use crate::schema::payload::{UserError, split};
use crate::schema::types::User;
use crate::schema::{ids, state};
use crate::services::roles;

#[derive(Default)]
pub struct AccessQuery;

#[derive(Default)]
pub struct AccessMutation;

/// One permission of the catalog.
#[derive(SimpleObject)]
pub struct Permission {
    /// `resource:action`, e.g. `customer:read_contact`.
    pub key: String,
    pub label: String,
    pub description: String,
}

#[derive(SimpleObject)]
pub struct PermissionGroup {
    pub resource: String,
    pub permissions: Vec<Permission>,
}

fn permission(p: Perm) -> Permission {
    let i = p.info();
    Permission {
        key: p.key(),
        label: i.label.to_owned(),
        description: i.description.to_owned(),
    }
}

/// A role and what it grants.
pub struct Role {
    model: entity::roles::Model,
}

#[Object]
impl Role {
    async fn id(&self) -> ID {
        ids::encode("Role", self.model.id)
    }
    /// The stable name casbin's rules use; API keys name their role by it.
    async fn key(&self) -> &str {
        &self.model.key
    }
    async fn name(&self) -> &str {
        &self.model.name
    }
    async fn description(&self) -> Option<&str> {
        self.model.description.as_deref()
    }
    async fn built_in(&self) -> bool {
        self.model.built_in
    }
    async fn version(&self) -> i32 {
        self.model.version
    }
    async fn permissions(&self, ctx: &Context<'_>) -> Vec<Permission> {
        state(ctx)
            .policy
            .grants_of(&self.model.key)
            .await
            .into_iter()
            .map(permission)
            .collect()
    }
}

/// A role held at one location, or everywhere (`location` null).
#[derive(SimpleObject)]
pub struct RoleHolding {
    pub role: String,
    pub location_id: Option<ID>,
}

/// A permission and where it holds.
#[derive(SimpleObject)]
pub struct EffectivePermission {
    pub permission: String,
    pub everywhere: bool,
    pub location_ids: Vec<ID>,
}

#[derive(SimpleObject)]
pub struct EffectiveAccess {
    pub roles: Vec<RoleHolding>,
    pub permissions: Vec<EffectivePermission>,
}

/// A role held in a casbin domain: a location's id, or everywhere.
fn holding(role: String, domain: &str) -> RoleHolding {
    let location_id = (domain != EVERYWHERE)
        .then(|| domain.parse().ok().map(|u| ids::encode("Location", u)))
        .flatten();
    RoleHolding { role, location_id }
}

fn effective_permission(p: Perm, scope: &Scope) -> EffectivePermission {
    EffectivePermission {
        permission: p.key(),
        everywhere: *scope == Scope::Everywhere,
        location_ids: match scope {
            Scope::Everywhere => Vec::new(),
            Scope::Locations(ls) => ls.iter().map(|l| ids::encode("Location", *l)).collect(),
        },
    }
}

pub(crate) fn effective(a: &Access) -> EffectiveAccess {
    let mut permissions: Vec<EffectivePermission> = a
        .permissions()
        .map(|(p, scope)| effective_permission(p, scope))
        .collect();
    permissions.sort_by(|a, b| a.permission.cmp(&b.permission));
    let roles = a
        .holdings
        .iter()
        .map(|h| holding(h.role.clone(), &h.domain))
        .collect();
    EffectiveAccess { roles, permissions }
}

#[derive(SimpleObject)]
pub struct AccessExplanation {
    pub allowed: bool,
    /// In words: which role grants it and where, or what is missing.
    pub reason: String,
    pub granted_by: Vec<RoleHolding>,
}

#[derive(InputObject)]
pub struct CreateRoleInput {
    pub name: String,
    #[graphql(validator(max_length = 2000))]
    pub description: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateRoleInput {
    pub id: ID,
    pub version: i32,
    pub name: Option<String>,
    #[graphql(validator(max_length = 2000))]
    pub description: Option<String>,
}

#[derive(InputObject)]
pub struct DeleteRoleInput {
    pub id: ID,
    pub version: i32,
}

#[derive(InputObject)]
pub struct RolePermissionsInput {
    pub role_id: ID,
    /// Keys from the catalog, e.g. `customer:read`.
    #[graphql(validator(max_items = 100))]
    pub permissions: Vec<String>,
}

#[derive(InputObject)]
pub struct RoleAssignmentInput {
    pub user_id: ID,
    pub role_id: ID,
    /// The location where the user holds the role; leave out for every location.
    pub location_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct RolePayload {
    pub role: Option<Role>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct RoleAssignmentPayload {
    pub user: Option<User>,
    pub errors: Vec<UserError>,
}

fn role_payload(r: AppResult<entity::roles::Model>) -> Result<RolePayload> {
    let (role, errors) = split(r)?;
    Ok(RolePayload {
        role: role.map(|model| Role { model }),
        errors,
    })
}

fn perms(raw: &[String]) -> AppResult<Vec<Perm>> {
    raw.iter()
        .enumerate()
        .map(|(i, k)| {
            k.split_once(':')
                .and_then(|(r, a)| Perm::from_parts(r, a))
                .ok_or_else(|| {
                    AppError::invalid(
                        &format!("permissions.{i}"),
                        "unknown_permission",
                        format!("`{k}` is not in the catalog"),
                    )
                })
        })
        .collect()
}

fn role_id(id: &ID, field: &str) -> AppResult<uuid::Uuid> {
    ids::decode_as("Role", id, field)
}

#[Object]
impl AccessQuery {
    /// Every permission the API checks, grouped by resource, for the owner's role editor.
    #[graphql(guard = "Require::signed_in()")]
    async fn permissions(&self) -> Vec<PermissionGroup> {
        let mut groups: Vec<PermissionGroup> = Vec::new();
        for i in CATALOG {
            match groups.iter_mut().find(|g| g.resource == i.resource) {
                Some(g) => g.permissions.push(permission(i.perm)),
                None => groups.push(PermissionGroup {
                    resource: i.resource.to_owned(),
                    permissions: vec![permission(i.perm)],
                }),
            }
        }
        groups
    }

    #[graphql(guard = "Require::perm(Perm::RoleManage)")]
    async fn roles(&self, ctx: &Context<'_>) -> Result<Vec<Role>> {
        Ok(roles::list(&state(ctx).db)
            .await?
            .into_iter()
            .map(|model| Role { model })
            .collect())
    }

    /// What the signed-in caller may do, and where: the SPA shows only what this allows.
    #[graphql(guard = "Require::signed_in()")]
    async fn my_access(&self, ctx: &Context<'_>) -> EffectiveAccess {
        effective(access(ctx))
    }

    /// A user's roles and the permissions they add up to.
    #[graphql(guard = "Require::perm(Perm::RoleManage)")]
    async fn user_access(&self, ctx: &Context<'_>, user_id: ID) -> Result<EffectiveAccess> {
        let id = ids::decode_as("User", &user_id, "userId")?;
        let s = state(ctx);
        let holdings = s.policy.holdings(&id.to_string()).await;
        Ok(effective(
            &s.policy.access_for_holdings(Some(id), holdings).await,
        ))
    }

    /// Whether a user may use a permission (on a record, when given) and why: the role and location that grant
    /// it, or what is missing.
    #[graphql(guard = "Require::perm(Perm::RoleManage)")]
    async fn explain_access(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        permission: String,
        record_id: Option<ID>,
    ) -> Result<AccessExplanation> {
        let (s, user) = (state(ctx), ids::decode_as("User", &user_id, "userId")?);
        let perm = perms(std::slice::from_ref(&permission))?[0];
        let record = record_id
            .as_ref()
            .map(|id| ids::decode(id, "recordId"))
            .transpose()?;
        let e = roles::explain(&s.db, &s.policy, user, perm, record).await?;
        let granted_by = e.granted_by.into_iter().map(|(r, d)| holding(r, &d));
        Ok(AccessExplanation {
            allowed: e.allowed,
            reason: e.reason,
            granted_by: granted_by.collect(),
        })
    }
}

#[Object]
impl AccessMutation {
    #[graphql(guard = "Require::perm(Perm::RoleManage)")]
    async fn create_role(&self, ctx: &Context<'_>, input: CreateRoleInput) -> Result<RolePayload> {
        let s = state(ctx);
        let r = async {
            let name =
                NonEmpty::parse("name", &input.name).map_err(|e| AppError::parse("name", e))?;
            roles::create(&s.db, &s.policy, &caller(ctx), name, input.description).await
        };
        role_payload(r.await)
    }

    /// Renames or describes a role.
    #[graphql(guard = "Require::perm(Perm::RoleManage)")]
    async fn update_role(&self, ctx: &Context<'_>, input: UpdateRoleInput) -> Result<RolePayload> {
        let s = state(ctx);
        let r = async {
            let (id, version, name, description) = input.parse()?;
            roles::update(&s.db, &caller(ctx), id, version, name, description).await
        };
        role_payload(r.await)
    }

    /// Deletes a role nobody holds.
    #[graphql(guard = "Require::perm(Perm::RoleManage)")]
    async fn delete_role(&self, ctx: &Context<'_>, input: DeleteRoleInput) -> Result<RolePayload> {
        let s = state(ctx);
        let r = async {
            let id = role_id(&input.id, "id")?;
            roles::delete(&s.db, &s.policy, &caller(ctx), id, input.version).await
        };
        role_payload(r.await)
    }

    /// Adds permissions to a role; you can only grant what you hold everywhere.
    #[graphql(guard = "Require::perm(Perm::RoleManage)")]
    async fn grant_permissions(
        &self,
        ctx: &Context<'_>,
        input: RolePermissionsInput,
    ) -> Result<RolePayload> {
        let s = state(ctx);
        let r = async {
            let id = role_id(&input.role_id, "roleId")?;
            let p = perms(&input.permissions)?;
            roles::set_grants(&s.db, &s.policy, &caller(ctx), access(ctx), id, &p, true).await
        };
        role_payload(r.await)
    }

    #[graphql(guard = "Require::perm(Perm::RoleManage)")]
    async fn revoke_permissions(
        &self,
        ctx: &Context<'_>,
        input: RolePermissionsInput,
    ) -> Result<RolePayload> {
        let s = state(ctx);
        let r = async {
            let id = role_id(&input.role_id, "roleId")?;
            let p = perms(&input.permissions)?;
            roles::set_grants(&s.db, &s.policy, &caller(ctx), access(ctx), id, &p, false).await
        };
        role_payload(r.await)
    }

    /// Gives a user a role at one location or everywhere; you can only hand out what you hold there.
    #[graphql(guard = "Require::perm(Perm::RoleManage)")]
    async fn assign_role(
        &self,
        ctx: &Context<'_>,
        input: RoleAssignmentInput,
    ) -> Result<RoleAssignmentPayload> {
        assignment(ctx, input, true).await
    }

    /// Takes a role away; the last owner keeps theirs.
    #[graphql(guard = "Require::perm(Perm::RoleManage)")]
    async fn unassign_role(
        &self,
        ctx: &Context<'_>,
        input: RoleAssignmentInput,
    ) -> Result<RoleAssignmentPayload> {
        assignment(ctx, input, false).await
    }
}

async fn assignment(
    ctx: &Context<'_>,
    input: RoleAssignmentInput,
    assign: bool,
) -> Result<RoleAssignmentPayload> {
    let s = state(ctx);
    let r = async {
        let (user, role, location) = input.parse()?;
        let (c, a) = (&caller(ctx), access(ctx));
        roles::set_assignment(&s.db, &s.policy, c, a, user, role, location, assign).await
    };
    let (user, errors) = split(r.await)?;
    Ok(RoleAssignmentPayload {
        user: user.map(User::full),
        errors,
    })
}

impl UpdateRoleInput {
    /// The role, the version the client saw, and the changes: a new name, and a description (cleared by null).
    #[allow(clippy::type_complexity)]
    fn parse(self) -> AppResult<(uuid::Uuid, i32, Option<NonEmpty>, Option<Option<String>>)> {
        let name = self
            .name
            .as_deref()
            .map(|n| NonEmpty::parse("name", n).map_err(|e| AppError::parse("name", e)))
            .transpose()?;
        Ok((
            role_id(&self.id, "id")?,
            self.version,
            name,
            self.description.map(Some),
        ))
    }
}

impl RoleAssignmentInput {
    /// The user, the role, and the location (none for everywhere).
    fn parse(&self) -> AppResult<(uuid::Uuid, uuid::Uuid, Option<uuid::Uuid>)> {
        let location = self
            .location_id
            .as_ref()
            .map(|l| ids::decode_as("Location", l, "locationId"))
            .transpose()?;
        Ok((
            ids::decode_as("User", &self.user_id, "userId")?,
            role_id(&self.role_id, "roleId")?,
            location,
        ))
    }
}
