//! Who is calling, proven: sign-in material (keys, password hashing, TOTP, throttling) and the per-request
//! authentication that turns a bearer token, an SPA cookie or an API key into a [`Caller`].

pub mod caller;
pub mod catalog;
pub mod cookies;
pub mod crypto;
pub mod guard;
pub mod keys;
pub mod password;
pub mod policy;
pub mod throttle;
pub mod totp;
pub mod visibility;

use std::net::IpAddr;

use anyhow::Context as _;
use axum::http::{HeaderMap, header};
use chrono::Utc;
use entity::{api_keys, auth_sessions, users};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::config::{AuthSettings, Settings};
use crate::db::Db;
pub use caller::{ApiKeyCaller, Caller};

/// API keys are told from access tokens by this prefix.
pub const API_KEY_PREFIX: &str = "ask_";
pub const REFRESH_PREFIX: &str = "art_";

/// Everything sign-in needs, shared by every request.
#[derive(Debug)]
pub struct Auth {
    pub keys: keys::KeySet,
    pub sealer: crypto::Sealer,
    pub hasher: password::Hasher,
    pub throttle: throttle::Throttle,
    pub settings: AuthSettings,
    pub development: bool,
}

impl Auth {
    /// Loads the key set and the sealing key (generating both on a development machine's first start) and
    /// connects the throttle's store.
    pub async fn load(settings: &Settings) -> anyhow::Result<Self> {
        let a = &settings.auth;
        let dev = settings.is_development();
        let mut pems = keys::read_key_dir(&a.keys_dir)?;
        if pems.is_empty() && a.jwt_private_key.is_none() {
            anyhow::ensure!(
                dev,
                "no signing key: set AUTOSHOP_JWT_PRIVATE_KEY or put a PEM key in AUTOSHOP_KEYS_DIR \
                 (`autoshop rotate-key` writes one)"
            );
            let name = keys::add_key_file(&a.keys_dir)?;
            tracing::info!(file = %name, dir = %a.keys_dir.display(), "generated a signing key");
            pems = keys::read_key_dir(&a.keys_dir)?;
        }
        if let Some(pem) = &a.jwt_private_key {
            pems.push(pem.expose().clone());
        }
        let keys = keys::KeySet::from_pems(&pems, &a.issuer, &a.audience)
            .context("loading the RS256 keys")?;
        let sealer = match &a.encryption_key {
            Some(k) => crypto::Sealer::from_base64(k.expose())
                .map_err(|e| anyhow::anyhow!("AUTOSHOP_ENCRYPTION_KEY: {e}"))?,
            None => {
                let path = a.keys_dir.join("encryption.key");
                if !path.exists() {
                    anyhow::ensure!(dev, "no encryption key: set AUTOSHOP_ENCRYPTION_KEY");
                    std::fs::create_dir_all(&a.keys_dir)?;
                    std::fs::write(&path, crypto::Sealer::generate_base64())?;
                }
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                crypto::Sealer::from_base64(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
            }
        };
        let throttle = match &settings.redis {
            Some(r) => {
                let (_, conn) = crate::redis_conn::connect(r.url.expose()).await?;
                throttle::Throttle::redis(conn, r.prefix.clone(), a.throttle)
            }
            None => throttle::Throttle::in_memory(a.throttle),
        };
        Ok(Self {
            keys,
            sealer,
            hasher: password::Hasher::new(a.hash_concurrency),
            throttle,
            settings: a.clone(),
            development: dev,
        })
    }
}

/// Why presented credentials were not accepted; clients only ever learn "invalid or expired".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    Token,
    ApiKey,
    /// The credentials could not be checked: the database is unreachable. Not the caller's fault, so never
    /// reported as `unauthenticated` (which would sign the SPA out).
    Unavailable,
    /// Checking them failed otherwise (logged): `internal`, again not the caller's fault.
    Failed,
}

/// Why checking credentials failed, by what the database said.
fn failed_check(e: &sea_orm::DbErr, what: &str) -> Rejected {
    if crate::error::is_outage(e) {
        tracing::warn!(error = %e, "{what}");
        Rejected::Unavailable
    } else {
        tracing::error!(error = %e, "{what}");
        Rejected::Failed
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Whether the request presents an API key (checked later, by [`authenticate`]): integrations write their own
/// documents, so this decides which documents may run before anything is parsed.
pub fn presents_api_key(headers: &HeaderMap) -> bool {
    bearer(headers).is_some_and(|t| t.starts_with(API_KEY_PREFIX))
}

/// The caller of one HTTP request: who (from a bearer token, an API key or the SPA's cookie) and from where.
/// Credentials that do not hold leave the caller anonymous and say so.
pub async fn authenticate(
    db: &Db,
    auth: &Auth,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> (Caller, Option<Rejected>) {
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut caller = Caller {
        ip: client.map(|ip| ip.to_string()),
        request_id: text(header::HeaderName::from_static("x-request-id")),
        user_agent: text(header::USER_AGENT).map(|ua| ua.chars().take(300).collect()),
        ..Caller::default()
    };
    let (token, from_cookie) = match bearer(headers) {
        Some(t) => (Some(t.to_owned()), false),
        None => (cookies::get(headers, cookies::ACCESS), true),
    };
    let Some(token) = token else {
        return (caller, None);
    };
    if !from_cookie && token.starts_with(API_KEY_PREFIX) {
        return match api_key(db, &token).await {
            Ok(Some(key)) => {
                caller.api_key = Some(key);
                (caller, None)
            }
            Ok(None) => (caller, Some(Rejected::ApiKey)),
            Err(e) => (caller, Some(failed_check(&e, "checking an API key"))),
        };
    }
    let Ok(claims) = auth.keys.verify_access(&token) else {
        return (caller, Some(Rejected::Token));
    };
    match session_is_live(db, claims.sub, claims.sid).await {
        Ok(true) => {
            caller.user_id = Some(claims.sub);
            caller.session_id = Some(claims.sid);
            (caller, None)
        }
        Ok(false) => (caller, Some(Rejected::Token)),
        Err(e) => (caller, Some(failed_check(&e, "checking a session"))),
    }
}

/// Whether a caller who signed in earlier still may act: their session is live and the user active, or their
/// API key is neither revoked nor expired. Long-lived connections (subscriptions) ask again as they go.
pub async fn still_valid(db: &Db, caller: &Caller) -> bool {
    if let Some(key) = &caller.api_key {
        let now = Utc::now();
        return api_keys::Entity::find_by_id(key.id)
            .filter(api_keys::Column::RevokedAt.is_null())
            .one(&db.conn)
            .await
            .ok()
            .flatten()
            .is_some_and(|k| k.expires_at.is_none_or(|at| at > now));
    }
    match (caller.user_id, caller.session_id) {
        (Some(user), Some(session)) => session_is_live(db, user, session).await.unwrap_or(false),
        _ => false,
    }
}

/// Whether the user is active and not deleted, and the token's session neither revoked nor over: one statement,
/// unless this process already found it live and no session has been revoked anywhere since (see
/// [`crate::db::live`]). So blocking a user or revoking a session ends access at once on every replica.
async fn session_is_live(
    db: &Db,
    user: uuid::Uuid,
    session: uuid::Uuid,
) -> Result<bool, sea_orm::DbErr> {
    let now = Utc::now();
    if db.sessions.is_live(user, session, now) {
        return Ok(true);
    }
    let epoch = db.sessions.epoch();
    let active_user = Query::select()
        .expr(Expr::val(1))
        .from(users::Entity)
        .and_where(Expr::col((users::Entity, users::Column::Id)).eq(user))
        .and_where(Expr::col((users::Entity, users::Column::Status)).eq("active"))
        .and_where(Expr::col((users::Entity, users::Column::DeletedAt)).is_null())
        .to_owned();
    let until: Option<chrono::DateTime<Utc>> = auth_sessions::Entity::find_by_id(session)
        .select_only()
        .column(auth_sessions::Column::ExpiresAt)
        .filter(auth_sessions::Column::UserId.eq(user))
        .filter(auth_sessions::Column::RevokedAt.is_null())
        .filter(auth_sessions::Column::ExpiresAt.gt(now))
        .filter(Expr::exists(active_user))
        .into_tuple()
        .one(&db.conn)
        .await?;
    match until {
        Some(until) => {
            db.sessions.remember((user, session), until, epoch);
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Finds a live API key by its hash and notes its use (at most once a minute, so busy integrations do not
/// turn every read into a write).
async fn api_key(db: &Db, presented: &str) -> Result<Option<ApiKeyCaller>, sea_orm::DbErr> {
    let now = Utc::now();
    let Some(key) = api_keys::Entity::find()
        .filter(api_keys::Column::KeyHash.eq(crypto::sha256_hex(presented.as_bytes())))
        .filter(api_keys::Column::RevokedAt.is_null())
        .one(&db.conn)
        .await?
    else {
        return Ok(None);
    };
    if key.expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    let stale = key
        .last_used_at
        .is_none_or(|t| now - t > chrono::Duration::minutes(1));
    if stale {
        let r = api_keys::Entity::update_many()
            .col_expr(api_keys::Column::LastUsedAt, Expr::value(now))
            .filter(api_keys::Column::Id.eq(key.id))
            .exec(&db.conn)
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "recording an API key's use");
        }
    }
    Ok(Some(ApiKeyCaller {
        id: key.id,
        role: key.role,
    }))
}
