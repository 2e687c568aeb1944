//! API keys for integrations: made by the owner with a role, shown once, stored as a hash, revocable.

use chrono::{DateTime, Utc};
use entity::api_keys;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use uuid::Uuid;

use super::audit;
use super::reads::{self, Listed, Window};
use crate::auth::Caller;
use crate::auth::policy::{Access, Policy};
use crate::auth::{API_KEY_PREFIX, crypto};
use crate::db::Db;
use crate::db::queries;
use crate::db::rows::ByPosition;
use crate::domain::NonEmpty;
use crate::error::{AppError, AppResult};

#[derive(Debug)]
pub struct NewApiKey {
    pub name: NonEmpty,
    pub role: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Creates a key and returns it with its secret, which is never stored and never shown again. The key acts with
/// its role everywhere, so its maker must hold every permission of that role everywhere.
pub async fn create(
    db: &Db,
    policy: &Policy,
    caller: &Caller,
    access: &Access,
    new: NewApiKey,
) -> AppResult<(api_keys::Model, String)> {
    if super::roles::find_by_key(&db.conn, &new.role)
        .await?
        .is_none()
    {
        return Err(AppError::invalid(
            "role",
            "unknown_role",
            format!("no role with the key `{}`", new.role),
        ));
    }
    may_wield(policy, access, &new.role, "role").await?;
    if new.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(AppError::invalid(
            "expiresAt",
            "in_the_past",
            "the expiry must be in the future",
        ));
    }
    let secret = crypto::random_token(API_KEY_PREFIX);
    let now = Utc::now();
    let tx = db.write_tx().await?;
    let key = api_keys::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        name: Set(new.name.into_inner()),
        role: Set(new.role),
        prefix: Set(secret.chars().take(API_KEY_PREFIX.len() + 6).collect()),
        key_hash: Set(crypto::sha256_hex(secret.as_bytes())),
        created_by: Set(caller.user_id),
        expires_at: Set(new.expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&tx)
    .await?;
    audit::record(&tx, caller, "api_key", key.id, "create", None, Some(&key)).await?;
    tx.commit().await?;
    Ok((key, secret))
}

pub async fn revoke(
    db: &Db,
    policy: &Policy,
    caller: &Caller,
    access: &Access,
    id: Uuid,
) -> AppResult<api_keys::Model> {
    // Checked before the write transaction, which on SQLite holds the only writer while it lasts. A key's role
    // never changes.
    may_wield(policy, access, &live_key(&db.conn, id).await?.role, "id").await?;
    let tx = db.write_tx().await?;
    let before = live_key(&tx, id).await?;
    let mut a = before.clone().into_active_model();
    let now = Utc::now();
    a.revoked_at = Set(Some(now));
    a.updated_at = Set(now);
    let after = a.update(&tx).await?;
    audit::record(
        &tx,
        caller,
        "api_key",
        id,
        "revoke",
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

async fn live_key<C: sea_orm::ConnectionTrait>(conn: &C, id: Uuid) -> AppResult<api_keys::Model> {
    api_keys::Entity::find_by_id(id)
        .filter(api_keys::Column::RevokedAt.is_null())
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// A key acts with its role everywhere, so only someone who holds every permission of that role everywhere
/// makes one or revokes one: a user manager cannot mint an owner's key, nor cut off the owner's integrations.
async fn may_wield(policy: &Policy, access: &Access, role: &str, field: &str) -> AppResult<()> {
    if role == crate::auth::catalog::OWNER && !access.is_owner() {
        return Err(AppError::invalid(
            field,
            "escalation",
            "only the shop's owners make or revoke keys that act as owners",
        ));
    }
    for p in policy.grants_of(role).await {
        if !access.everywhere(p) {
            return Err(AppError::invalid(
                field,
                "escalation",
                format!(
                    "the key holds `{}`, which you do not hold everywhere",
                    p.key()
                ),
            ));
        }
    }
    Ok(())
}

/// Integration keys, newest first, one page.
pub async fn list(
    db: &Db,
    include_revoked: bool,
    w: &Window,
) -> AppResult<Listed<ByPosition<api_keys::Model>>> {
    let select = queries::api_keys(include_revoked);
    reads::models(db, select, &queries::api_key_sort(), w).await
}
