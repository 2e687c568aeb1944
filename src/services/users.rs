//! Staff accounts: the owner's management (create or invite, edit, block, delete, revoke sessions), each user's
//! own password and second factor, and password resets through the outbox.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{auth_sessions, casbin_rule, one_time_tokens, totp_recovery_codes, users};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::reads::{self, Listed, Window};
use super::sessions::{self, one_time_token, revoke_where, spend_one_time_token};
use super::{audit, edit, soft_delete, touch};
use crate::auth::Caller;
use crate::auth::catalog::OWNER;
use crate::auth::password::{Password, Verified};
use crate::auth::policy::{Access, EVERYWHERE, Policy};
use crate::auth::{Auth, crypto, totp};
use crate::db::Db;
use crate::db::queries;
use crate::db::rows::ByPosition;
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
    /// Needed only to change one's own e-mail.
    pub current_password: Option<String>,
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
        pending_email: Set(None),
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
    super::roles::holding(user.id, OWNER, EVERYWHERE)
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

/// A message for a user: what it is about, where it goes, and the single-use link it carries, if any.
struct Message<'a> {
    topic: &'a str,
    to: &'a str,
    link: Option<(&'a str, &'a str, DateTime<Utc>)>,
}

/// Queues a message for the user (an invitation, a reset, an e-mail change) through the outbox, and logs its
/// link in development.
async fn notify<C: ConnectionTrait>(
    conn: &C,
    auth: &Auth,
    user: &users::Model,
    m: Message<'_>,
) -> AppResult<()> {
    let link = m
        .link
        .map(|(path, token, _)| format!("{}/{path}?token={token}", auth.settings.public_url));
    let payload = json!({
        "email": m.to,
        "name": user.name,
        "link": link,
        "expiresAt": m.link.map(|(_, _, at)| at),
    });
    crate::db::outbox_row(m.topic, "user", user.id, payload)
        .insert(conn)
        .await?;
    if auth.development {
        tracing::info!(email = %m.to, link = ?link, "{} (development: logged instead of sent)", m.topic);
    }
    Ok(())
}

/// Nobody acts on an account (edits, e-mail, blocking, deleting, sessions) that may do anything they may not:
/// changing its e-mail and resetting its password would make its rights theirs. Only the shop's owners act on
/// an owner, at a branch or shop-wide.
pub async fn may_act_on(policy: &Policy, access: &Access, target: Uuid) -> AppResult<()> {
    if access.user_id == Some(target) {
        return Ok(());
    }
    let theirs = policy.access_of_user(target).await;
    let owner = theirs.holdings.iter().any(|h| h.role == OWNER);
    if (owner && !access.is_owner()) || !access.covers(&theirs) {
        return Err(AppError::invalid(
            "id",
            "escalation",
            "this user holds rights you do not: only someone who holds all of them may change their account",
        ));
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
        let message = Message {
            topic: "notification.invitation",
            to: &user.email,
            link: Some(("accept-invitation", &token, expires_at)),
        };
        notify(&tx, auth, &user, message).await?;
    }
    audit::record(&tx, caller, "user", user.id, "create", None, Some(&user)).await?;
    tx.commit().await?;
    db.staff.changed();
    Ok(user)
}

/// Edits a user's name, phone or e-mail. A new e-mail is only pending until confirmed through a link sent to
/// it, and the old address hears of the request: sign-in and resets keep using the old one until then.
#[allow(clippy::too_many_arguments)]
pub async fn update(
    db: &Db,
    auth: &Auth,
    who: Acting<'_>,
    id: Uuid,
    version: i32,
    ch: UserChanges,
) -> AppResult<users::Model> {
    may_act_on(who.policy, who.access, id).await?;
    if ch.email.is_some() && who.access.user_id == Some(id) {
        // Whoever holds the session could otherwise confirm an address of theirs and then reset the password.
        let Some(password) = ch.current_password.as_deref().filter(|p| !p.is_empty()) else {
            return Err(AppError::invalid(
                "currentPassword",
                "required",
                "enter your password to change your own e-mail",
            ));
        };
        confirm_password(
            auth,
            &me(db, &who.caller).await?,
            password,
            "currentPassword",
        )
        .await?;
    }
    let edited = edit::<users::ActiveModel>(
        db,
        &who.caller,
        "user",
        id,
        version,
        "update",
        async |tx, before, a| {
            if let Some(v) = ch.email {
                request_email_change(tx, auth, before, a, &v).await?;
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
    .await?;
    db.staff.changed();
    Ok(edited)
}

/// Marks `new` as the user's pending e-mail, with a confirmation link to it and a warning to the old address;
/// an earlier pending change is superseded. Asking for the current address cancels a pending change.
async fn request_email_change<C: ConnectionTrait>(
    conn: &C,
    auth: &Auth,
    user: &users::Model,
    a: &mut users::ActiveModel,
    new: &Email,
) -> AppResult<()> {
    let now = Utc::now();
    one_time_tokens::Entity::update_many()
        .col_expr(one_time_tokens::Column::UsedAt, Expr::value(now))
        .filter(one_time_tokens::Column::UserId.eq(user.id))
        .filter(one_time_tokens::Column::Purpose.eq("email_change"))
        .filter(one_time_tokens::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    if new.as_str() == user.email {
        a.pending_email = Set(None);
        return Ok(());
    }
    if sessions::find_live_user(conn, new.as_str())
        .await?
        .is_some()
    {
        return Err(AppError::invalid(
            "email",
            "email_taken",
            "this value is already in use",
        ));
    }
    a.pending_email = Set(Some(new.as_str().to_owned()));
    let (token, expires_at) = one_time_token(conn, user.id, "email_change", RESET_TTL).await?;
    let confirm = Message {
        topic: "notification.email_change_confirm",
        to: new.as_str(),
        link: Some(("confirm-email", &token, expires_at)),
    };
    notify(conn, auth, user, confirm).await?;
    let warn = Message {
        topic: "notification.email_change_requested",
        to: &user.email,
        link: None,
    };
    notify(conn, auth, user, warn).await
}

/// Makes a pending e-mail the user's address with the token from the link sent to it; every session of the
/// user ends, as after a password reset.
pub async fn confirm_email_change(
    db: &Db,
    auth: &Auth,
    caller: &Caller,
    token: &str,
) -> AppResult<users::Model> {
    let addr = auth.throttle.address("email_token", caller.ip.as_deref());
    let attempt = sessions::attempt(auth, &[&addr]).await?;
    let invalid = || {
        AppError::invalid(
            "token",
            "invalid_token",
            "this link has expired or was already used",
        )
    };
    let tx = db.write_tx().await?;
    // The user's row is locked before the token is spent, in the order a request for a change takes them.
    let Some(pending) = one_time_tokens::Entity::find()
        .filter(one_time_tokens::Column::TokenHash.eq(crypto::sha256_hex(token.trim().as_bytes())))
        .filter(one_time_tokens::Column::Purpose.eq("email_change"))
        .filter(one_time_tokens::Column::UsedAt.is_null())
        .filter(one_time_tokens::Column::ExpiresAt.gt(Utc::now()))
        .one(&tx)
        .await?
    else {
        return Err(invalid());
    };
    let before = users::Entity::find_by_id(pending.user_id)
        .filter(users::Column::DeletedAt.is_null())
        .lock_exclusive()
        .one(&tx)
        .await?
        .ok_or_else(invalid)?;
    if spend_one_time_token(&tx, token, &["email_change"])
        .await?
        .is_none()
    {
        return Err(invalid());
    }
    auth.throttle.succeeded(attempt).await;
    let Some(new) = before.pending_email.clone() else {
        return Err(invalid());
    };
    let mut a = before.clone().into_active_model();
    a.email = Set(new);
    a.pending_email = Set(None);
    touch(&mut a, before.version)?;
    let after = a.update(&tx).await?;
    revoke_where(
        &tx,
        auth_sessions::Column::UserId.eq(before.id),
        "email_changed",
    )
    .await?;
    // Links already sent to the old address stop working with it.
    one_time_tokens::Entity::update_many()
        .col_expr(one_time_tokens::Column::UsedAt, Expr::value(Utc::now()))
        .filter(one_time_tokens::Column::UserId.eq(before.id))
        .filter(one_time_tokens::Column::Purpose.is_in(["password_reset", "invitation"]))
        .filter(one_time_tokens::Column::UsedAt.is_null())
        .exec(&tx)
        .await?;
    audit::record(
        &tx,
        caller,
        "user",
        before.id,
        "email_changed",
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    db.sessions.revoked();
    db.staff.changed();
    Ok(after)
}

/// Who acts on another account, and with what rights: what [`may_act_on`] needs.
#[derive(Debug, Clone)]
pub struct Acting<'a> {
    pub caller: Caller,
    pub policy: &'a Policy,
    pub access: &'a Access,
}

/// Blocks (ending every session at once) or unblocks a user. Nobody blocks themselves.
pub async fn set_blocked(
    db: &Db,
    who: Acting<'_>,
    id: Uuid,
    version: i32,
    blocked: bool,
) -> AppResult<users::Model> {
    let caller = &who.caller;
    may_act_on(who.policy, who.access, id).await?;
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
                super::roles::lock_owner_set(tx).await?;
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
    db.staff.changed();
    edited
}

/// Soft-deletes (ending every session) or restores a user. Nobody deletes themselves.
pub async fn set_deleted(
    db: &Db,
    who: Acting<'_>,
    id: Uuid,
    version: i32,
    delete: bool,
) -> AppResult<users::Model> {
    let caller = &who.caller;
    may_act_on(who.policy, who.access, id).await?;
    if delete && caller.user_id == Some(id) {
        return Err(AppError::invalid(
            "id",
            "cannot_delete_self",
            "you cannot delete your own account",
        ));
    }
    let deleted =
        soft_delete::<users::ActiveModel>(db, caller, "user", id, version, delete, async |tx| {
            if delete {
                super::roles::lock_owner_set(tx).await?;
            }
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
    db.staff.changed();
    deleted
}

/// Ends every session of a user (a lost phone, a departing employee).
pub async fn revoke_sessions(db: &Db, who: Acting<'_>, id: Uuid) -> AppResult<u64> {
    let caller = &who.caller;
    may_act_on(who.policy, who.access, id).await?;
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
    let attempt = sessions::attempt(auth, &[&acct]).await?;
    if auth
        .hasher
        .verify(password, user.password_hash.as_deref())
        .await?
        == Verified::No
    {
        return Err(AppError::invalid(
            field,
            "invalid_credentials",
            "the password is wrong",
        ));
    }
    auth.throttle.succeeded(attempt).await;
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
    // Every request counts, so one address cannot flood an inbox or the outbox. Over the limit the answer
    // is still the same: the requests stop producing e-mails, not telling anything.
    if auth.throttle.reserve(&[&acct, &addr]).await.is_err() {
        return Ok(());
    }
    let Some(user) = sessions::find_live_user(&db.conn, email).await? else {
        return Ok(());
    };
    if user.status != "active" {
        return Ok(());
    }
    let tx = db.write_tx().await?;
    let (token, expires_at) = one_time_token(&tx, user.id, "password_reset", RESET_TTL).await?;
    let message = Message {
        topic: "notification.password_reset",
        to: &user.email,
        link: Some(("reset-password", &token, expires_at)),
    };
    notify(&tx, auth, &user, message).await?;
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
    let attempt = sessions::attempt(auth, &[&addr]).await?;
    let hash = auth.hasher.hash(&new).await?;
    let tx = db.write_tx().await?;
    let Some(spent) = spend_one_time_token(&tx, token, &["password_reset", "invitation"]).await?
    else {
        return Err(AppError::invalid(
            "token",
            "invalid_token",
            "this link has expired or was already used",
        ));
    };
    auth.throttle.succeeded(attempt).await;
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
    db.staff.changed();
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
    db.staff.changed();
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
    db.staff.changed();
    Ok(())
}

/// Staff accounts, by name, one page.
pub async fn list(
    db: &Db,
    f: &queries::UserFilter,
    w: &Window,
) -> AppResult<Listed<ByPosition<users::Model>>> {
    reads::models(db, queries::users(f), &queries::user_sort(), w).await
}
