//! Business rules, one module per aggregate. Each write is one transaction that also writes its audit entry.

pub mod api_keys;
pub mod audit;
pub mod customers;
pub mod files;
pub mod invoices;
pub mod reads;
pub mod reference;
pub mod roles;
pub mod search;
pub mod sessions;
pub mod users;
pub mod vehicles;
pub mod work_orders;

use std::str::FromStr;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, ModelTrait,
    QueryFilter, QuerySelect, Value,
};
use uuid::Uuid;

use crate::auth::Caller;
use crate::db::Db;
use crate::error::{AppError, AppResult};

/// Whether a soft-deleted row is what the operation wants (restore) or must not touch (everything else).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Live,
    Deleted,
}

fn column<E: EntityTrait>(name: &str) -> AppResult<E::Column> {
    E::Column::from_str(name).map_err(|_| {
        AppError::internal(anyhow::anyhow!(
            "{} has no {name} column",
            E::default().table_name()
        ))
    })
}

/// Locks a business record for update and checks the version the client read.
/// A missing row, or one in the wrong liveness, is `not_found`; another version is `conflict`. Records
/// without soft delete are always live.
pub async fn lock_versioned<E, C>(
    conn: &C,
    id: Uuid,
    version: i32,
    liveness: Liveness,
) -> AppResult<E::Model>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let row = E::find()
        .filter(column::<E>("id")?.eq(id))
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    // A record without soft delete (a role, a directory entry) is always live.
    let is_deleted = E::Column::from_str("deleted_at")
        .is_ok_and(|c| !matches!(row.get(c), Value::ChronoDateTimeUtc(None)));
    if is_deleted != (liveness == Liveness::Deleted) {
        return Err(AppError::NotFound);
    }
    if row.get(column::<E>("version")?) != Value::Int(Some(version)) {
        return Err(AppError::Conflict {
            field: vec!["version".into()],
        });
    }
    Ok(row)
}

/// Bumps `version` and `updated_at` on an active model about to be saved.
pub fn touch<A>(active: &mut A, version: i32) -> AppResult<()>
where
    A: ActiveModelTrait,
{
    let col = |n: &str| column::<A::Entity>(n);
    active.set(col("version")?, Value::Int(Some(version + 1)));
    active.set(col("updated_at")?, Utc::now().into());
    Ok(())
}

/// Sets or clears `deleted_at`, bumping the version; the caller audits and commits.
pub async fn set_deleted<A, C>(
    conn: &C,
    row: <A::Entity as EntityTrait>::Model,
    deleted: bool,
) -> AppResult<<A::Entity as EntityTrait>::Model>
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    C: ConnectionTrait,
{
    let version = match row.get(column::<A::Entity>("version")?) {
        Value::Int(Some(v)) => v,
        other => return Err(AppError::internal(anyhow::anyhow!("version is {other:?}"))),
    };
    let mut active: A = row.into_active_model();
    let when: Option<chrono::DateTime<Utc>> = deleted.then(Utc::now);
    active.set(column::<A::Entity>("deleted_at")?, when.into());
    touch(&mut active, version)?;
    Ok(active.update(conn).await?)
}

/// Edits a live business record named by the version the client read, in one transaction: locks it, lets
/// `change` check the rules and set fields (with the transaction at hand for checks of its own), bumps the
/// version, and audits `action` with the before and after.
pub async fn edit<A>(
    db: &Db,
    caller: &Caller,
    kind: &str,
    id: Uuid,
    version: i32,
    action: &str,
    change: impl AsyncFnOnce(
        &sea_orm::DatabaseTransaction,
        &<A::Entity as EntityTrait>::Model,
        &mut A,
    ) -> AppResult<()>,
) -> AppResult<<A::Entity as EntityTrait>::Model>
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + Clone + serde::Serialize,
{
    let tx = db.write_tx().await?;
    let before = lock_versioned::<A::Entity, _>(&tx, id, version, Liveness::Live).await?;
    let mut a: A = before.clone().into_active_model();
    change(&tx, &before, &mut a).await?;
    touch(&mut a, version)?;
    let after = a.update(&tx).await?;
    audit::record(&tx, caller, kind, id, action, Some(&before), Some(&after)).await?;
    tx.commit().await?;
    Ok(after)
}

/// Soft-deletes (`delete`) or restores a business record named by the version the client read, after `check`
/// agrees, and audits it; all in one transaction.
pub async fn soft_delete<A>(
    db: &Db,
    caller: &Caller,
    kind: &str,
    id: Uuid,
    version: i32,
    delete: bool,
    check: impl AsyncFnOnce(&sea_orm::DatabaseTransaction) -> AppResult<()>,
) -> AppResult<<A::Entity as EntityTrait>::Model>
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + Clone + serde::Serialize,
{
    let tx = db.write_tx().await?;
    let liveness = if delete {
        Liveness::Live
    } else {
        Liveness::Deleted
    };
    let before = lock_versioned::<A::Entity, _>(&tx, id, version, liveness).await?;
    check(&tx).await?;
    let after = set_deleted::<A, _>(&tx, before.clone(), delete).await?;
    if crate::auth::visibility::FILE_PARENTS
        .iter()
        .any(|(k, _)| *k == kind)
    {
        let since = if delete {
            None
        } else {
            Some(deleted_at(&before)?)
        };
        files::follow_parent(&tx, kind, id, since).await?;
    }
    let action = if delete { "delete" } else { "restore" };
    audit::record(&tx, caller, kind, id, action, Some(&before), Some(&after)).await?;
    tx.commit().await?;
    Ok(after)
}

/// When a soft-deleted record was deleted, read from its serialised form (every soft-deleted model has
/// `deleted_at`).
fn deleted_at<T: serde::Serialize>(model: &T) -> AppResult<chrono::DateTime<Utc>> {
    let v = serde_json::to_value(model).map_err(AppError::internal)?;
    v.get("deleted_at")
        .and_then(|d| serde_json::from_value(d.clone()).ok())
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("a deleted record without deleted_at")))
}
