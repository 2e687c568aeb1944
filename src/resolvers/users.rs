//! The owner's management of staff accounts and integration keys.

// Each argument of a list field is a GraphQL argument; bundling them would change the schema.
#![allow(clippy::too_many_arguments)]

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::auth::{DonePayload, done};
use super::caller;
use super::customers::RecordVersionInput;
use super::lists::{nodes, window};
use crate::auth::catalog::Perm;
use crate::auth::guard::{Require, access};
use crate::auth::password::Password;
use crate::db::queries::UserFilter;
use crate::domain::{Email, NonEmpty, Phone};
use crate::error::{AppError, AppResult};
use crate::schema::connection::Conn;
use crate::schema::payload::{UserError, split};
use crate::schema::types::{ApiKey, User};
use crate::schema::{ids, state};
use crate::services::api_keys::{self, NewApiKey};
use crate::services::users::{self, NewUser, UserChanges};

#[derive(Default)]
pub struct UserQuery;

#[derive(Default)]
pub struct UserMutation;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum UserStatusFilter {
    Active,
    Blocked,
}

#[derive(InputObject)]
pub struct CreateUserInput {
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    /// Leave out to invite: the user gets a link to choose their own password.
    #[graphql(validator(max_length = 1024))]
    pub password: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateUserInput {
    pub id: ID,
    pub version: i32,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: MaybeUndefined<String>,
    /// Your password: asked when you change your own e-mail, so that a borrowed session cannot move the
    /// account (and its password resets) to another address.
    pub current_password: Option<String>,
}

#[derive(InputObject)]
pub struct UserIdInput {
    pub id: ID,
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    pub name: String,
    /// The role the key acts with.
    pub role: String,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct ApiKeyIdInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct UserPayload {
    pub user: Option<User>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    pub api_key: Option<ApiKey>,
    /// The key itself: shown this once, never again.
    pub secret: Option<String>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct ApiKeyPayload {
    pub api_key: Option<ApiKey>,
    pub errors: Vec<UserError>,
}

fn user_payload(r: AppResult<entity::users::Model>) -> Result<UserPayload> {
    let (user, errors) = split(r)?;
    Ok(UserPayload {
        user: user.map(User::full),
        errors,
    })
}

fn parsed<T: std::str::FromStr<Err = crate::domain::ParseError>>(
    field: &str,
    raw: &str,
) -> AppResult<T> {
    raw.parse().map_err(|e| AppError::parse(field, e))
}

fn non_empty(field: &str, raw: &str) -> AppResult<NonEmpty> {
    NonEmpty::parse(field, raw).map_err(|e| AppError::parse(field, e))
}

/// Blocks, unblocks, deletes or restores the user the input names, at the version it names.
async fn status_change(
    ctx: &Context<'_>,
    input: RecordVersionInput,
    change: impl AsyncFnOnce(
        &crate::db::Db,
        users::Acting<'_>,
        uuid::Uuid,
        i32,
        bool,
    ) -> AppResult<entity::users::Model>,
    on: bool,
) -> AppResult<entity::users::Model> {
    let id = user_id(&input.id)?;
    let s = state(ctx);
    change(&s.db, acting(ctx), id, input.version, on).await
}

/// The caller and their rights, for acting on another account.
fn acting<'a>(ctx: &'a Context<'_>) -> users::Acting<'a> {
    users::Acting {
        caller: caller(ctx),
        policy: &state(ctx).policy,
        access: access(ctx),
    }
}

fn user_id(id: &ID) -> AppResult<uuid::Uuid> {
    ids::decode_as("User", id, "id")
}

impl CreateUserInput {
    fn parse(self) -> AppResult<NewUser> {
        Ok(NewUser {
            email: parsed::<Email>("email", &self.email)?,
            name: non_empty("name", &self.name)?,
            phone: self
                .phone
                .as_deref()
                .map(|p| parsed::<Phone>("phone", p))
                .transpose()?,
            password: self
                .password
                .as_deref()
                .map(|p| Password::parse("password", p))
                .transpose()?,
        })
    }
}

impl UpdateUserInput {
    fn parse(self) -> AppResult<(uuid::Uuid, i32, UserChanges)> {
        let phone = match self.phone {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(p) => Some(Some(parsed::<Phone>("phone", &p)?)),
        };
        Ok((
            user_id(&self.id)?,
            self.version,
            UserChanges {
                email: self
                    .email
                    .as_deref()
                    .map(|e| parsed::<Email>("email", e))
                    .transpose()?,
                name: self
                    .name
                    .as_deref()
                    .map(|n| non_empty("name", n))
                    .transpose()?,
                phone,
                current_password: self.current_password,
            },
        ))
    }
}

#[Object]
impl UserQuery {
    /// Staff accounts, by name.
    #[graphql(
        guard = "Require::perm(Perm::UserManage)",
        complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        status: Option<UserStatusFilter>,
        #[graphql(validator(max_length = 100))] search: Option<String>,
    ) -> Result<Conn<User>> {
        let f = UserFilter {
            status: status.map(|st| match st {
                UserStatusFilter::Active => "active",
                UserStatusFilter::Blocked => "blocked",
            }),
            search,
        };
        let w = window(ctx, first, after, last, before);
        Ok(nodes(
            users::list(&state(ctx).db, &f, &w).await?,
            User::full,
        ))
    }

    /// Integration keys, newest first.
    #[graphql(
        guard = "Require::perm(Perm::ApiKeyManage)",
        complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] include_revoked: bool,
    ) -> Result<Conn<ApiKey>> {
        let w = window(ctx, first, after, last, before);
        let l = api_keys::list(&state(ctx).db, include_revoked, &w).await?;
        Ok(nodes(l, ApiKey))
    }
}

#[Object]
impl UserMutation {
    /// Adds a member of staff, with a password or by invitation.
    #[graphql(guard = "Require::perm(Perm::UserManage)")]
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<UserPayload> {
        let s = state(ctx);
        let r = async { users::create(&s.db, &s.auth, &caller(ctx), input.parse()?).await };
        user_payload(r.await)
    }

    #[graphql(guard = "Require::perm(Perm::UserManage)")]
    async fn update_user(&self, ctx: &Context<'_>, input: UpdateUserInput) -> Result<UserPayload> {
        let s = state(ctx);
        let r = async {
            let (id, version, changes) = input.parse()?;
            users::update(&s.db, &s.auth, acting(ctx), id, version, changes).await
        };
        user_payload(r.await)
    }

    /// Blocks a user: every session ends at once and sign-in is refused until unblocked.
    #[graphql(guard = "Require::perm(Perm::UserManage)")]
    async fn block_user(
        &self,
        ctx: &Context<'_>,
        input: RecordVersionInput,
    ) -> Result<UserPayload> {
        user_payload(status_change(ctx, input, users::set_blocked, true).await)
    }

    #[graphql(guard = "Require::perm(Perm::UserManage)")]
    async fn unblock_user(
        &self,
        ctx: &Context<'_>,
        input: RecordVersionInput,
    ) -> Result<UserPayload> {
        user_payload(status_change(ctx, input, users::set_blocked, false).await)
    }

    #[graphql(guard = "Require::perm(Perm::UserManage)")]
    async fn delete_user(
        &self,
        ctx: &Context<'_>,
        input: RecordVersionInput,
    ) -> Result<UserPayload> {
        user_payload(status_change(ctx, input, users::set_deleted, true).await)
    }

    #[graphql(guard = "Require::perm(Perm::UserManage)")]
    async fn restore_user(
        &self,
        ctx: &Context<'_>,
        input: RecordVersionInput,
    ) -> Result<UserPayload> {
        user_payload(status_change(ctx, input, users::set_deleted, false).await)
    }

    /// Ends every session of a user.
    #[graphql(guard = "Require::perm(Perm::UserManage)")]
    async fn revoke_user_sessions(
        &self,
        ctx: &Context<'_>,
        input: UserIdInput,
    ) -> Result<DonePayload> {
        let s = state(ctx);
        let r = async {
            users::revoke_sessions(&s.db, acting(ctx), user_id(&input.id)?).await?;
            Ok(())
        };
        done(r.await)
    }

    /// Makes a key for an integration; its secret is in the payload, once.
    #[graphql(guard = "Require::perm(Perm::ApiKeyManage)")]
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> Result<CreateApiKeyPayload> {
        let s = state(ctx);
        let r = async {
            let new = input.parse()?;
            api_keys::create(&s.db, &s.policy, &caller(ctx), access(ctx), new).await
        };
        let (made, errors) = split(r.await)?;
        let (api_key, secret) = made.map_or((None, None), |(k, s)| (Some(ApiKey(k)), Some(s)));
        Ok(CreateApiKeyPayload {
            api_key,
            secret,
            errors,
        })
    }

    #[graphql(guard = "Require::perm(Perm::ApiKeyManage)")]
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        input: ApiKeyIdInput,
    ) -> Result<ApiKeyPayload> {
        let s = state(ctx);
        let r = async {
            let id = ids::decode_as("ApiKey", &input.id, "id")?;
            api_keys::revoke(&s.db, &s.policy, &caller(ctx), access(ctx), id).await
        };
        let (key, errors) = split(r.await)?;
        Ok(ApiKeyPayload {
            api_key: key.map(ApiKey),
            errors,
        })
    }
}

impl CreateApiKeyInput {
    fn parse(self) -> AppResult<NewApiKey> {
        Ok(NewApiKey {
            name: non_empty("name", &self.name)?,
            role: self.role,
            expires_at: self.expires_at,
        })
    }
}
