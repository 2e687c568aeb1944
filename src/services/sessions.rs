//! Sign-in and sessions: password login (with a TOTP challenge when enabled), refresh-token rotation with reuse
//! detection (RFC 9700), logout and revocation. Every outcome is audited.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{auth_sessions, one_time_tokens, refresh_tokens, totp_recovery_codes, users};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

use super::audit;
use crate::auth::Caller;
use crate::auth::password::Verified;
use crate::auth::throttle::{Attempt, Subject};
use crate::auth::{Auth, REFRESH_PREFIX, crypto, totp};
use crate::db::Db;
use crate::error::{AppError, AppResult};

/// How long the second step of a two-factor login may take.
const CHALLENGE_TTL: Duration = Duration::from_secs(5 * 60);

/// A session's tokens, as handed to the client once.
#[derive(Debug)]
pub struct Issued {
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    pub user: users::Model,
}

#[derive(Debug)]
pub enum LoginOutcome {
    Signed(Issued),
    /// The password was right and a second factor is enabled: send a code with this challenge.
    SecondFactor {
        challenge: String,
        expires_at: DateTime<Utc>,
    },
}

fn invalid_credentials() -> AppError {
    AppError::invalid("", "invalid_credentials", "wrong e-mail or password")
}

fn invalid_refresh() -> AppError {
    AppError::invalid(
        "refreshToken",
        "invalid_refresh_token",
        "the session has ended; sign in again",
    )
}

fn later(d: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(365))
}

/// Reserves an attempt against each subject's budget before any secret is checked, or refuses with
/// `too_many_attempts` while one waits out its backoff. The attempt counts as a failure unless the caller
/// declares it a success (`auth.throttle.succeeded`).
pub async fn attempt(auth: &Auth, subjects: &[&Subject]) -> AppResult<Attempt> {
    auth.throttle
        .reserve(subjects)
        .await
        .map_err(|wait| AppError::TooManyAttempts {
            retry_after_secs: wait.as_secs_f64().ceil() as u64,
        })
}

/// Audits outside the failed request's transaction: a refused attempt leaves a trace and nothing else.
async fn audit_event(
    db: &Db,
    caller: &Caller,
    kind: &str,
    id: Option<Uuid>,
    action: &str,
    details: serde_json::Value,
) -> AppResult<()> {
    audit::event(&db.conn, caller, kind, id, action, details).await
}

pub async fn find_live_user<C: ConnectionTrait>(
    conn: &C,
    email: &str,
) -> AppResult<Option<users::Model>> {
    Ok(users::Entity::find()
        .filter(users::Column::Email.eq(email.trim().to_lowercase()))
        .filter(users::Column::DeletedAt.is_null())
        .one(conn)
        .await?)
}

/// Checks e-mail and password. Unknown e-mails, wrong passwords and accounts without a password get the same
/// answer after the same work; failures count towards the account's and the address's backoff.
pub async fn login(
    db: &Db,
    auth: &Auth,
    caller: &Caller,
    email: &str,
    password: &str,
) -> AppResult<LoginOutcome> {
    let acct = auth.throttle.account("login", email);
    let addr = auth.throttle.address("login", caller.ip.as_deref());
    let attempt = attempt(auth, &[&acct, &addr]).await?;
    let checked = async {
        let user = find_live_user(&db.conn, email).await?;
        let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let verified = auth.hasher.verify(password, stored).await?;
        AppResult::Ok((user, verified))
    };
    let (user, verified) = match checked.await {
        Ok(checked) => checked,
        Err(e) => {
            // Nothing was checked: no guess to count.
            auth.throttle.release(attempt).await;
            return Err(e);
        }
    };
    let Some(user) = user.filter(|_| verified != Verified::No) else {
        audit_event(
            db,
            caller,
            "session",
            None,
            "login_failed",
            json!({ "email": email.trim().to_lowercase() }),
        )
        .await?;
        return Err(invalid_credentials());
    };
    if user.status != "active" {
        // The password was right: not a guess, and no reward either.
        auth.throttle.release(attempt).await;
        audit_event(
            db,
            caller,
            "user",
            Some(user.id),
            "login_refused_blocked",
            json!({}),
        )
        .await?;
        return Err(AppError::invalid(
            "",
            "account_blocked",
            "this account is blocked; ask the shop's owner",
        ));
    }
    auth.throttle.succeeded(attempt).await;
    if let Verified::YesRehashed(hash) = verified {
        users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(hash))
            .filter(users::Column::Id.eq(user.id))
            .exec(&db.conn)
            .await?;
    }
    if user.totp_enabled {
        let tx = db.write_tx().await?;
        let (challenge, expires_at) =
            one_time_token(&tx, user.id, "mfa_challenge", CHALLENGE_TTL).await?;
        audit::event(
            &tx,
            caller,
            "user",
            Some(user.id),
            "login_second_factor_required",
            json!({}),
        )
        .await?;
        tx.commit().await?;
        return Ok(LoginOutcome::SecondFactor {
            challenge,
            expires_at,
        });
    }
    start_session(db, auth, caller, user, false)
        .await
        .map(LoginOutcome::Signed)
}

/// Stores a single-use token's hash and returns the token.
pub async fn one_time_token<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    purpose: &str,
    ttl: Duration,
) -> AppResult<(String, DateTime<Utc>)> {
    let token = crypto::random_token("");
    let now = Utc::now();
    let expires_at = later(ttl);
    one_time_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        user_id: Set(user),
        purpose: Set(purpose.to_owned()),
        token_hash: Set(crypto::sha256_hex(token.as_bytes())),
        expires_at: Set(expires_at),
        used_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok((token, expires_at))
}

/// Spends a single-use token of `purpose`: exactly one caller can, however many try at once.
pub async fn spend_one_time_token<C: ConnectionTrait>(
    conn: &C,
    token: &str,
    purposes: &[&str],
) -> AppResult<Option<one_time_tokens::Model>> {
    let hash = crypto::sha256_hex(token.trim().as_bytes());
    let now = Utc::now();
    let claimed = one_time_tokens::Entity::update_many()
        .col_expr(one_time_tokens::Column::UsedAt, Expr::value(now))
        .col_expr(one_time_tokens::Column::UpdatedAt, Expr::value(now))
        .filter(one_time_tokens::Column::TokenHash.eq(&hash))
        .filter(one_time_tokens::Column::Purpose.is_in(purposes.iter().copied()))
        .filter(one_time_tokens::Column::UsedAt.is_null())
        .filter(one_time_tokens::Column::ExpiresAt.gt(now))
        .exec(conn)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(None);
    }
    Ok(one_time_tokens::Entity::find()
        .filter(one_time_tokens::Column::TokenHash.eq(hash))
        .one(conn)
        .await?)
}

/// The second step of a two-factor login: a current TOTP code (never one already accepted) or an unused
/// recovery code, with the challenge from the first step.
pub async fn login_second_factor(
    db: &Db,
    auth: &Auth,
    caller: &Caller,
    challenge: &str,
    code: Option<&str>,
    recovery_code: Option<&str>,
) -> AppResult<Issued> {
    let addr = auth.throttle.address("mfa", caller.ip.as_deref());
    let by_address = attempt(auth, &[&addr]).await?;
    let hash = crypto::sha256_hex(challenge.trim().as_bytes());
    let pending = one_time_tokens::Entity::find()
        .filter(one_time_tokens::Column::TokenHash.eq(hash))
        .filter(one_time_tokens::Column::Purpose.eq("mfa_challenge"))
        .filter(one_time_tokens::Column::UsedAt.is_null())
        .filter(one_time_tokens::Column::ExpiresAt.gt(Utc::now()))
        .one(&db.conn)
        .await?;
    let Some(pending) = pending else {
        return Err(AppError::invalid(
            "challenge",
            "invalid_challenge",
            "the sign-in has expired; start again",
        ));
    };
    let acct = auth.throttle.account("mfa", &pending.user_id.to_string());
    let by_account = match attempt(auth, &[&acct]).await {
        Ok(a) => a,
        Err(e) => {
            // The account waits: the address is not charged for a code nobody checked.
            auth.throttle.release(by_address).await;
            return Err(e);
        }
    };
    let user = users::Entity::find_by_id(pending.user_id)
        .filter(users::Column::DeletedAt.is_null())
        .one(&db.conn)
        .await?
        .ok_or_else(invalid_credentials)?;

    let tx = db.write_tx().await?;
    let accepted = match (code, recovery_code) {
        (Some(code), _) => accept_totp(&tx, auth, &user, code).await?,
        (None, Some(rc)) => spend_recovery_code(&tx, user.id, rc).await?,
        (None, None) => false,
    };
    if !accepted {
        drop(tx);
        audit_event(
            db,
            caller,
            "user",
            Some(user.id),
            "second_factor_failed",
            json!({}),
        )
        .await?;
        return Err(AppError::invalid(
            "code",
            "invalid_code",
            "that code is not valid",
        ));
    }
    if spend_one_time_token(&tx, challenge, &["mfa_challenge"])
        .await?
        .is_none()
    {
        return Err(AppError::invalid(
            "challenge",
            "invalid_challenge",
            "the sign-in has expired; start again",
        ));
    }
    if recovery_code.is_some() && code.is_none() {
        audit::event(
            &tx,
            caller,
            "user",
            Some(user.id),
            "recovery_code_used",
            json!({}),
        )
        .await?;
    }
    tx.commit().await?;
    auth.throttle.succeeded(by_account).await;
    auth.throttle.succeeded(by_address).await;
    if user.status != "active" {
        return Err(AppError::invalid(
            "",
            "account_blocked",
            "this account is blocked; ask the shop's owner",
        ));
    }
    start_session(db, auth, caller, user, true).await
}

/// Accepts a TOTP code for `user` and records its time step, so the same code cannot be used twice, even by
/// two requests at once (the update only wins if no later or equal step was recorded).
pub async fn accept_totp<C: ConnectionTrait>(
    conn: &C,
    auth: &Auth,
    user: &users::Model,
    code: &str,
) -> AppResult<bool> {
    let Some(secret) = user
        .totp_secret_enc
        .as_deref()
        .and_then(|s| auth.sealer.open(s, user.id.as_bytes()))
    else {
        return Ok(false);
    };
    let Some(step) = totp::accept(&secret, code, Utc::now().timestamp(), user.totp_last_step)
    else {
        return Ok(false);
    };
    let won = users::Entity::update_many()
        .col_expr(users::Column::TotpLastStep, Expr::value(step))
        .filter(users::Column::Id.eq(user.id))
        .filter(
            users::Column::TotpLastStep
                .is_null()
                .or(users::Column::TotpLastStep.lt(step)),
        )
        .exec(conn)
        .await?;
    Ok(won.rows_affected == 1)
}

pub fn recovery_hash(user: Uuid, code: &str) -> String {
    let normalised: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    crypto::sha256_hex(format!("{user}:{normalised}").as_bytes())
}

async fn spend_recovery_code<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    code: &str,
) -> AppResult<bool> {
    let r = totp_recovery_codes::Entity::update_many()
        .col_expr(totp_recovery_codes::Column::UsedAt, Expr::value(Utc::now()))
        .filter(totp_recovery_codes::Column::UserId.eq(user))
        .filter(totp_recovery_codes::Column::CodeHash.eq(recovery_hash(user, code)))
        .filter(totp_recovery_codes::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

async fn new_refresh_token<C: ConnectionTrait>(
    conn: &C,
    auth: &Auth,
    session: &auth_sessions::Model,
) -> AppResult<(String, DateTime<Utc>)> {
    let token = crypto::random_token(REFRESH_PREFIX);
    let now = Utc::now();
    let expires_at = Ord::min(later(auth.settings.refresh_ttl), session.expires_at);
    refresh_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        session_id: Set(session.id),
        token_hash: Set(crypto::sha256_hex(token.as_bytes())),
        expires_at: Set(expires_at),
        used_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok((token, expires_at))
}

fn access(auth: &Auth, user: Uuid, session: Uuid) -> AppResult<(String, DateTime<Utc>)> {
    let (token, exp) = auth
        .keys
        .mint_access(user, session, auth.settings.access_ttl.as_secs())
        .map_err(AppError::internal)?;
    let at = DateTime::from_timestamp(i64::try_from(exp).unwrap_or(i64::MAX), 0)
        .unwrap_or_else(Utc::now);
    Ok((token, at))
}

async fn start_session(
    db: &Db,
    auth: &Auth,
    caller: &Caller,
    user: users::Model,
    mfa: bool,
) -> AppResult<Issued> {
    let tx = db.write_tx().await?;
    let now = Utc::now();
    let session = auth_sessions::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        user_id: Set(user.id),
        expires_at: Set(later(auth.settings.session_ttl)),
        revoked_at: Set(None),
        revoked_reason: Set(None),
        mfa: Set(mfa),
        ip: Set(caller.ip.clone()),
        user_agent: Set(caller.user_agent.clone()),
        last_refreshed_at: Set(None),
    }
    .insert(&tx)
    .await?;
    let (refresh_token, refresh_expires_at) = new_refresh_token(&tx, auth, &session).await?;
    users::Entity::update_many()
        .col_expr(users::Column::LastLoginAt, Expr::value(now))
        .filter(users::Column::Id.eq(user.id))
        .exec(&tx)
        .await?;
    let signed_in = Caller {
        user_id: Some(user.id),
        session_id: Some(session.id),
        ..caller.clone()
    };
    audit::event(
        &tx,
        &signed_in,
        "session",
        Some(session.id),
        "login",
        json!({ "mfa": mfa }),
    )
    .await?;
    tx.commit().await?;
    let (access_token, access_expires_at) = access(auth, user.id, session.id)?;
    Ok(Issued {
        access_token,
        access_expires_at,
        refresh_token,
        refresh_expires_at,
        user: users::Model {
            last_login_at: Some(now),
            ..user
        },
    })
}

/// Exchanges a refresh token for a new pair. Each token works once: the claim is one conditional UPDATE, so of
/// many concurrent uses exactly one wins. Presenting a spent token means it was copied: the whole session
/// (every token descended from the same login) is revoked.
pub async fn refresh(db: &Db, auth: &Auth, caller: &Caller, presented: &str) -> AppResult<Issued> {
    let hash = crypto::sha256_hex(presented.trim().as_bytes());
    let now = Utc::now();
    let tx = db.write_tx().await?;
    let claimed = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::UsedAt, Expr::value(now))
        .col_expr(refresh_tokens::Column::UpdatedAt, Expr::value(now))
        .filter(refresh_tokens::Column::TokenHash.eq(&hash))
        .filter(refresh_tokens::Column::UsedAt.is_null())
        .filter(refresh_tokens::Column::ExpiresAt.gt(now))
        .exec(&tx)
        .await?;
    let token = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(&hash))
        .one(&tx)
        .await?;
    let Some(token) = token else {
        return Err(invalid_refresh());
    };
    if claimed.rows_affected != 1 {
        let grace = chrono::Duration::from_std(auth.settings.refresh_reuse_grace)
            .unwrap_or_else(|_| chrono::Duration::zero());
        // Just replaced: another tab of the same browser refreshed a moment ago. It gets an error and uses the
        // winner's tokens; the session stands. Later than that, the token was copied.
        if token.used_at.is_some_and(|used| now - used < grace) {
            return Err(invalid_refresh());
        }
        if token.used_at.is_some() {
            let revoked = revoke_where(
                &tx,
                auth_sessions::Column::Id.eq(token.session_id),
                "refresh_reuse",
            )
            .await?;
            audit::event(
                &tx,
                caller,
                "session",
                Some(token.session_id),
                "refresh_reuse_detected",
                json!({ "revoked": revoked }),
            )
            .await?;
            tx.commit().await?;
            db.sessions.revoked();
            tracing::warn!(session = %token.session_id, "refresh token reused: session revoked");
        }
        return Err(invalid_refresh());
    }
    let session = auth_sessions::Entity::find_by_id(token.session_id)
        .filter(auth_sessions::Column::RevokedAt.is_null())
        .filter(auth_sessions::Column::ExpiresAt.gt(now))
        .one(&tx)
        .await?
        .ok_or_else(invalid_refresh)?;
    let user = users::Entity::find_by_id(session.user_id)
        .filter(users::Column::DeletedAt.is_null())
        .filter(users::Column::Status.eq("active"))
        .one(&tx)
        .await?
        .ok_or_else(invalid_refresh)?;
    let (refresh_token, refresh_expires_at) = new_refresh_token(&tx, auth, &session).await?;
    auth_sessions::Entity::update_many()
        .col_expr(auth_sessions::Column::LastRefreshedAt, Expr::value(now))
        .filter(auth_sessions::Column::Id.eq(session.id))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    let (access_token, access_expires_at) = access(auth, user.id, session.id)?;
    Ok(Issued {
        access_token,
        access_expires_at,
        refresh_token,
        refresh_expires_at,
        user,
    })
}

/// Revokes the live sessions matching `filter`; returns how many. Once the transaction commits, the caller
/// tells every replica with `db.sessions.revoked()`.
pub async fn revoke_where<C: ConnectionTrait>(
    conn: &C,
    filter: sea_orm::sea_query::SimpleExpr,
    reason: &str,
) -> AppResult<u64> {
    let now = Utc::now();
    let r = auth_sessions::Entity::update_many()
        .col_expr(auth_sessions::Column::RevokedAt, Expr::value(now))
        .col_expr(auth_sessions::Column::RevokedReason, Expr::value(reason))
        .col_expr(auth_sessions::Column::UpdatedAt, Expr::value(now))
        .filter(filter)
        .filter(auth_sessions::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(r.rows_affected)
}

/// Ends a session: the one the refresh token belongs to, or else the caller's own.
pub async fn logout(db: &Db, caller: &Caller, refresh_token: Option<&str>) -> AppResult<()> {
    let session = match refresh_token {
        Some(t) => refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::TokenHash.eq(crypto::sha256_hex(t.trim().as_bytes())))
            .one(&db.conn)
            .await?
            .map(|t| t.session_id),
        None => None,
    }
    .or(caller.session_id);
    let Some(session) = session else {
        return Ok(());
    };
    let tx = db.write_tx().await?;
    let revoked = revoke_where(&tx, auth_sessions::Column::Id.eq(session), "logout").await?;
    if revoked > 0 {
        audit::event(&tx, caller, "session", Some(session), "logout", json!({})).await?;
    }
    tx.commit().await?;
    db.sessions.revoked();
    Ok(())
}
