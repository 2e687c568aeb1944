//! Staff accounts: the owner's management (create or invite, edit, block, delete, revoke sessions), each user's
//! own password and second factor, and password resets through the outbox.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{auth_sessions, casbin_rule, outbox, totp_recovery_codes, users};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::sessions::{self, one_time_token, revoke_where, spend_one_time_token};
use super::{Caller, audit, edit, soft_delete};
use crate::auth::catalog::OWNER;
use crate::auth::password::{Password, Verified};
use crate::auth::policy::EVERYWHERE;
use crate::auth::{Auth, crypto, totp};
use crate::db::Db;
use crate::domain::{Email, NonEmpty, Phone};
use crate::error::{AppError, AppResult};

const RESET_TTL: Duration = Duration::from_secs(60 * 60);
const INVITATION_TTL: Duration = Duration::from_secs(72 * 60 * 60);
const RECOVERY_CODES: usize = 10;

#[derive(Debug)]
pub struct NewUser {
    pub email: Email,
    pub name: NonEmpty,
    pub phone: Option<Phone>,
    /// None invites the user: they choose a password through the link they receive.
    pub password: Option<Password>,
}

#[derive(Debug, Default)]
pub struct UserChanges {
    pub email: Option<Email>,
    pub name: Option<NonEmpty>,
    pub phone: Option<Option<Phone>>,
}

pub async fn owner_exists(db: &Db) -> AppResult<bool> {
    let n = casbin_rule::Entity::find()
        .filter(casbin_rule::Column::Ptype.eq("g"))
        .filter(casbin_rule::Column::V1.eq(OWNER))
        .count(&db.conn)
        .await?;
    Ok(n > 0)
}

pub async fn count_users(db: &Db) -> AppResult<u64> {
    Ok(users::Entity::find()
        .filter(users::Column::DeletedAt.is_null())
        .count(&db.conn)
        .await?)
}

async fn insert_user<C: ConnectionTrait>(
    conn: &C,
    new: &NewUser,
    hash: Option<String>,
) -> AppResult<users::Model> {
    let now = Utc::now();
    Ok(users::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        email: Set(new.email.as_str().to_owned()),
        name: Set(new.name.as_str().to_owned()),
        phone: Set(new.phone.as_ref().map(|p| p.as_str().to_owned())),
        password_changed_at: Set(hash.as_ref().map(|_| now)),
        password_hash: Set(hash),
        status: Set("active".to_owned()),
        totp_secret_enc: Set(None),
        totp_enabled: Set(false),
        totp_last_step: Set(None),
        last_login_at: Set(None),
        deleted_at: Set(None),
        version: Set(1),
    }
    .insert(conn)
    .await?)
}

/// The first account, made from the command line: a user holding the owner role for every location.
pub async fn create_owner(
    db: &Db,
    auth: &Auth,
    email: Email,
    name: NonEmpty,
    password: Password,
) -> AppResult<users::Model> {
    super::roles::seed_built_in(db).await?;
    let hash = auth.hasher.hash(&password).await?;
    let tx = db.write_tx().await?;
    let new = NewUser {
        email,
        name,
        phone: None,
        password: None,
    };
    let user = insert_user(&tx, &new, Some(hash)).await?;
    casbin_rule::ActiveModel {
        ptype: Set("g".to_owned()),
        v0: Set(user.id.to_string()),
        v1: Set(OWNER.to_owned()),
        v2: Set(EVERYWHERE.to_owned()),
        v3: Set(String::new()),
        v4: Set(String::new()),
        v5: Set(String::new()),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    let system = Caller::default();
    audit::record(
        &tx,
        &system,
        "user",
        user.id,
        "create_owner",
        None,
        Some(&user),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// Queues a message with a link for the user (an invitation or a reset), and logs the link in development.
async fn notify<C: ConnectionTrait>(
    conn: &C,
    auth: &Auth,
    user: &users::Model,
    topic: &str,
    path: &str,
    token: &str,
    expires_at: DateTime<Utc>,
) -> AppResult<()> {
    let link = format!("{}/{path}?token={token}", auth.settings.public_url);
    let now = Utc::now();
    outbox::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        topic: Set(topic.to_owned()),
        aggregate_type: Set("user".to_owned()),
        aggregate_id: Set(user.id),
        payload: Set(json!({ "email": user.email, "name": user.name, "link": link, "expiresAt": expires_at })),
        available_at: Set(now),
        processed_at: Set(None),
        attempts: Set(0),
        last_error: Set(None),
    }
    .insert(conn)
    .await?;
    if auth.development {
        tracing::info!(email = %user.email, %link, "{topic} (development: the link is logged instead of sent)");
    }
    Ok(())
}

/// Creates a user; without a password they are invited (a single-use link, valid for three days).
pub async fn create(
    db: &Db,
    auth: &Auth,
    caller: &Caller,
    new: NewUser,
) -> AppResult<users::Model> {
    let hash = match &new.password {
        Some(p) => Some(auth.hasher.hash(p).await?),
        None => None,
    };
    let tx = db.write_tx().await?;
    let user = insert_user(&tx, &new, hash).await?;
    if new.password.is_none() {
        let (token, expires_at) =
            one_time_token(&tx, user.id, "invitation", INVITATION_TTL).await?;
        notify(
            &tx,
            auth,
            &user,
            "notification.invitation",
            "accept-invitation",
            &token,
            expires_at,
        )
        .await?;
    }
    audit::record(&tx, caller, "user", user.id, "create", None, Some(&user)).await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn update(
    db: &Db,
    caller: &Caller,
    id: Uuid,
    version: i32,
    ch: UserChanges,
) -> AppResult<users::Model> {
    edit::<users::ActiveModel>(
        db,
        caller,
        "user",
        id,
        version,
        "update",
        async |_, _, a| {
            if let Some(v) = ch.email {
                a.email = Set(v.as_str().to_owned());
            }
            if let Some(v) = ch.name {
                a.name = Set(v.into_inner());
            }
            if let Some(v) = ch.phone {
                a.phone = Set(v.map(|p| p.as_str().to_owned()));
            }
            Ok(())
        },
    )
    .await
}

/// Blocks (ending every session at once) or unblocks a user. Nobody blocks themselves.
pub async fn set_blocked(
    db: &Db,
    caller: &Caller,
    id: Uuid,
    version: i32,
    blocked: bool,
) -> AppResult<users::Model> {
    if blocked && caller.user_id == Some(id) {
        return Err(AppError::invalid(
            "id",
            "cannot_block_self",
            "you cannot block your own account",
        ));
    }
    let action = if blocked { "block" } else { "unblock" };
    let edited =
        edit::<users::ActiveModel>(db, caller, "user", id, version, action, async |tx, _, a| {
            if blocked {
                if super::roles::is_last_owner(tx, id).await? {
                    return Err(AppError::invalid(
                        "id",
                        "last_owner",
                        "the shop must keep at least one owner",
                    ));
                }
                revoke_where(tx, auth_sessions::Column::UserId.eq(id), "blocked").await?;
            }
            a.status = Set(if blocked { "blocked" } else { "active" }.to_owned());
            Ok(())
        })
        .await;
    db.sessions.revoked();
    edited
}

/// Soft-deletes (ending every session) or restores a user. Nobody deletes themselves.
pub async fn set_deleted(
    db: &Db,
    caller: &Caller,
    id: Uuid,
    version: i32,
    delete: bool,
) -> AppResult<users::Model> {
    if delete && caller.user_id == Some(id) {
        return Err(AppError::invalid(
            "id",
            "cannot_delete_self",
            "you cannot delete your own account",
        ));
    }
    let deleted =
        soft_delete::<users::ActiveModel>(db, caller, "user", id, version, delete, async |tx| {
            if delete && super::roles::is_last_owner(tx, id).await? {
                return Err(AppError::invalid(
                    "id",
                    "last_owner",
                    "the shop must keep at least one owner",
                ));
            }
            if delete {
                revoke_where(tx, auth_sessions::Column::UserId.eq(id), "deleted").await?;
            }
            Ok(())
        })
        .await;
    db.sessions.revoked();
    deleted
}

/// Ends every session of a user (a lost phone, a departing employee).
pub async fn revoke_sessions(db: &Db, caller: &Caller, id: Uuid) -> AppResult<u64> {
    let tx = db.write_tx().await?;
    users::Entity::find_by_id(id)
        .filter(users::Column::DeletedAt.is_null())
        .one(&tx)
        .await?
        .ok_or(AppError::NotFound)?;
    let n = revoke_where(
        &tx,
        auth_sessions::Column::UserId.eq(id),
        "revoked_by_owner",
    )
    .await?;
    audit::event(
        &tx,
        caller,
        "user",
        Some(id),
        "revoke_sessions",
        json!({ "sessions": n }),
    )
    .await?;
    tx.commit().await?;
    db.sessions.revoked();
    Ok(n)
}

async fn me(db: &Db, caller: &Caller) -> AppResult<users::Model> {
    let id = caller.user_id.ok_or(AppError::Unauthenticated)?;
    users::Entity::find_by_id(id)
        .filter(users::Column::DeletedAt.is_null())
        .one(&db.conn)
        .await?
        .ok_or(AppError::Unauthenticated)
}

pub async fn current(db: &Db, caller: &Caller) -> AppResult<users::Model> {
    me(db, caller).await
}

/// Checks a signed-in user's password before a sensitive change; failures count towards the account's backoff.
async fn confirm_password(
    auth: &Auth,
    user: &users::Model,
    password: &str,
    field: &str,
) -> AppResult<()> {
    let acct = auth.throttle.account("password", &user.email);
    sessions::throttled(auth, &[&acct]).await?;
    if auth
        .hasher
        .verify(password, user.password_hash.as_deref())
        .await?
        == Verified::No
    {
        auth.throttle.failed(&[&acct]).await;
        return Err(AppError::invalid(
            field,
            "invalid_credentials",
            "the password is wrong",
        ));
    }
    Ok(())
}

/// Changes the caller's password after checking the current one, and ends their other sessions.
pub async fn change_password(
    db: &Db,
    auth: &Auth,
    caller: &Caller,
    current: &str,
    new: Password,
) -> AppResult<()> {
    let user = me(db, caller).await?;
    confirm_password(auth, &user, current, "currentPassword").await?;
    let hash = auth.hasher.hash(&new).await?;
    let tx = db.write_tx().await?;
    set_password(&tx, user.id, hash).await?;
    let mut others = auth_sessions::Column::UserId.eq(user.id);
    if let Some(sid) = caller.session_id {
        others = others.and(auth_sessions::Column::Id.ne(sid));
    }
    let n = revoke_where(&tx, others, "password_changed").await?;
    audit::event(
        &tx,
        caller,
        "user",
        Some(user.id),
        "change_password",
        json!({ "sessionsRevoked": n }),
    )
    .await?;
    tx.commit().await?;
    db.sessions.revoked();
    Ok(())
}

async fn set_password<C: ConnectionTrait>(conn: &C, user: Uuid, hash: String) -> AppResult<()> {
    let now = Utc::now();
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash))
        .col_expr(users::Column::PasswordChangedAt, Expr::value(now))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            users::Column::Version,
            Expr::col(users::Column::Version).add(1),
        )
        .filter(users::Column::Id.eq(user))
        .exec(conn)
        .await?;
    Ok(())
}

/// Sends a reset link if the address belongs to an active user. The answer is the same either way, so the
/// form cannot be used to learn who works here.
pub async fn request_password_reset(
    db: &Db,
    auth: &Auth,
    caller: &Caller,
    email: &str,
) -> AppResult<()> {
    let addr = auth.throttle.address("reset", caller.ip.as_deref());
    let acct = auth.throttle.account("reset", email);
    if auth.throttle.wait(&[&acct, &addr]).await.is_some() {
        // Still the same answer: the requests stop producing e-mails, not telling anything.
        return Ok(());
    }
    // Every request counts, so one address cannot flood an inbox or the outbox.
    auth.throttle.failed(&[&acct, &addr]).await;
    let Some(user) = sessions::find_live_user(&db.conn, email).await? else {
        return Ok(());
    };
    if user.status != "active" {
        return Ok(());
    }
    let tx = db.write_tx().await?;
    let (token, expires_at) = one_time_token(&tx, user.id, "password_reset", RESET_TTL).await?;
    notify(
        &tx,
        auth,
        &user,
        "notification.password_reset",
        "reset-password",
        &token,
        expires_at,
    )
    .await?;
    audit::event(
        &tx,
        caller,
        "user",
        Some(user.id),
        "request_password_reset",
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sets a new password with a reset or invitation token (single use, unexpired) and ends every session.
pub async fn reset_password(
    db: &Db,
    auth: &Auth,
    caller: &Caller,
    token: &str,
    new: Password,
) -> AppResult<()> {
    let addr = auth.throttle.address("reset_token", caller.ip.as_deref());
    sessions::throttled(auth, &[&addr]).await?;
    let hash = auth.hasher.hash(&new).await?;
    let tx = db.write_tx().await?;
    let Some(spent) = spend_one_time_token(&tx, token, &["password_reset", "invitation"]).await?
    else {
        drop(tx);
        auth.throttle.failed(&[&addr]).await;
        return Err(AppError::invalid(
            "token",
            "invalid_token",
            "this link has expired or was already used",
        ));
    };
    let user = users::Entity::find_by_id(spent.user_id)
        .filter(users::Column::DeletedAt.is_null())
        .filter(users::Column::Status.eq("active"))
        .one(&tx)
        .await?
        .ok_or_else(|| {
            AppError::invalid(
                "token",
                "invalid_token",
                "this link has expired or was already used",
            )
        })?;
    set_password(&tx, user.id, hash).await?;
    let n = revoke_where(
        &tx,
        auth_sessions::Column::UserId.eq(user.id),
        "password_reset",
    )
    .await?;
    audit::event(
        &tx,
        caller,
        "user",
        Some(user.id),
        &format!("{}_completed", spent.purpose),
        json!({ "sessionsRevoked": n }),
    )
    .await?;
    tx.commit().await?;
    db.sessions.revoked();
    Ok(())
}

/// A new TOTP secret, sealed and stored but not yet enabled: the user confirms it with a code first.
#[derive(Debug)]
pub struct Enrolment {
    pub secret: String,
    pub uri: String,
}

pub async fn enrol_totp(db: &Db, auth: &Auth, caller: &Caller) -> AppResult<Enrolment> {
    let user = me(db, caller).await?;
    if user.totp_enabled {
        return Err(AppError::invalid(
            "",
            "totp_already_enabled",
            "two-factor sign-in is already on; turn it off first",
        ));
    }
    let secret = totp::new_secret();
    let tx = db.write_tx().await?;
    users::Entity::update_many()
        .col_expr(
            users::Column::TotpSecretEnc,
            Expr::value(auth.sealer.seal(&secret, user.id.as_bytes())),
        )
        .col_expr(
            users::Column::TotpLastStep,
            Expr::value(Option::<i64>::None),
        )
        .filter(users::Column::Id.eq(user.id))
        .exec(&tx)
        .await?;
    audit::event(
        &tx,
        caller,
        "user",
        Some(user.id),
        "totp_enrolment_started",
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(Enrolment {
        secret: crypto::base32(&secret),
        uri: totp::provisioning_uri(&secret, &auth.settings.issuer, &user.email),
    })
}

/// Turns TOTP on with a code from the new secret; returns single-use recovery codes, shown this once.
pub async fn confirm_totp(
    db: &Db,
    auth: &Auth,
    caller: &Caller,
    code: &str,
) -> AppResult<Vec<String>> {
    let user = me(db, caller).await?;
    if user.totp_enabled || user.totp_secret_enc.is_none() {
        return Err(AppError::invalid(
            "",
            "totp_not_pending",
            "start enrolment first",
        ));
    }
    let tx = db.write_tx().await?;
    if !sessions::accept_totp(&tx, auth, &user, code).await? {
        return Err(AppError::invalid(
            "code",
            "invalid_code",
            "that code is not valid",
        ));
    }
    users::Entity::update_many()
        .col_expr(users::Column::TotpEnabled, Expr::value(true))
        .filter(users::Column::Id.eq(user.id))
        .exec(&tx)
        .await?;
    totp_recovery_codes::Entity::delete_many()
        .filter(totp_recovery_codes::Column::UserId.eq(user.id))
        .exec(&tx)
        .await?;
    let now = Utc::now();
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        // 80 random bits, written as four groups an adult can copy without mistakes.
        let raw = crypto::base32(&crypto::random_bytes(10));
        let code = format!(
            "{}-{}-{}-{}",
            &raw[0..4],
            &raw[4..8],
            &raw[8..12],
            &raw[12..16]
        );
        totp_recovery_codes::ActiveModel {
            id: Set(Uuid::now_v7()),
            created_at: Set(now),
            updated_at: Set(now),
            user_id: Set(user.id),
            code_hash: Set(sessions::recovery_hash(user.id, &code)),
            used_at: Set(None),
        }
        .insert(&tx)
        .await?;
        codes.push(code);
    }
    audit::event(
        &tx,
        caller,
        "user",
        Some(user.id),
        "totp_enabled",
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}

/// Turns TOTP off after checking the password; the secret and recovery codes are erased.
pub async fn disable_totp(db: &Db, auth: &Auth, caller: &Caller, password: &str) -> AppResult<()> {
    let user = me(db, caller).await?;
    confirm_password(auth, &user, password, "password").await?;
    let tx = db.write_tx().await?;
    users::Entity::update_many()
        .col_expr(users::Column::TotpEnabled, Expr::value(false))
        .col_expr(
            users::Column::TotpSecretEnc,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            users::Column::TotpLastStep,
            Expr::value(Option::<i64>::None),
        )
        .filter(users::Column::Id.eq(user.id))
        .exec(&tx)
        .await?;
    totp_recovery_codes::Entity::delete_many()
        .filter(totp_recovery_codes::Column::UserId.eq(user.id))
        .exec(&tx)
        .await?;
    audit::event(
        &tx,
        caller,
        "user",
        Some(user.id),
        "totp_disabled",
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
