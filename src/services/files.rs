//! Files attached to customers, vehicles, work orders and invoices: an upload is asked for (a pending row and a
//! presigned PUT the browser sends the bytes with), confirmed once the store holds exactly what was declared,
//! read through short-lived presigned GETs, deleted softly with its parent or on its own, and swept from the
//! store when abandoned or deleted long enough ago.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::files;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::{audit, reference, soft_delete};
use crate::auth::Caller;
use crate::db::Db;
use crate::domain::{ContentType, FileName, ObjectKey};
use crate::error::{AppError, AppResult, corrupt};
use crate::storage::{ObjectStore, Presigned, Upload};

/// How many bytes from the start of an image or PDF are read to tell its real type.
const SNIFF_BYTES: u64 = 8192;

/// Counts uploads by how far they got, for /metrics.
fn uploads(outcome: &'static str) {
    metrics::counter!("autoshop_uploads_total", "outcome" => outcome).increment(1);
}

/// The record a file is attached to: its kind as `files.parent_type` stores it, and its id.
#[derive(Debug, Clone, Copy)]
pub struct Parent {
    pub kind: &'static str,
    pub id: Uuid,
}

impl Parent {
    /// The parent a global id's type names, if files attach to that type.
    pub fn of(type_name: &str, id: Uuid) -> Option<Self> {
        let kind = match type_name {
            "Customer" => "customer",
            "Vehicle" => "vehicle",
            "WorkOrder" => "work_order",
            "Invoice" => "invoice",
            _ => return None,
        };
        Some(Self { kind, id })
    }
}

#[derive(Debug)]
pub struct NewUpload {
    pub parent: Parent,
    pub name: FileName,
    pub content_type: ContentType,
    pub size: u64,
}

/// Checks the upload against the limits in settings, records it as pending under a fresh random key, and
/// returns the PUT the browser must make: exactly this type and length, within `ttl`.
pub async fn request_upload(
    db: &Db,
    store: &dyn ObjectStore,
    ttl: Duration,
    caller: &Caller,
    new: NewUpload,
) -> AppResult<(files::Model, Presigned)> {
    let max: u64 = reference::text(&db.conn, "upload_max_bytes")
        .await?
        .parse()
        .map_err(|_| corrupt("setting", "upload_max_bytes"))?;
    let allowed = reference::text(&db.conn, "upload_content_types").await?;
    if new.size == 0 {
        return Err(AppError::invalid("size", "file_empty", "the file is empty"));
    }
    if new.size > max {
        return Err(AppError::invalid(
            "size",
            "file_too_large",
            format!("files may be at most {max} bytes"),
        ));
    }
    if !allowed.split(',').any(|t| t == new.content_type.as_str()) {
        return Err(AppError::invalid(
            "contentType",
            "content_type_not_allowed",
            format!("allowed types: {allowed}"),
        ));
    }
    let key = ObjectKey::random(new.parent.kind);
    let upload = Upload {
        key: &key,
        content_type: &new.content_type,
        size: new.size,
        name: &new.name,
    };
    let presigned = store
        .upload_url(upload, ttl)
        .await
        .map_err(AppError::internal)?;
    let now = Utc::now();
    let file = files::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        parent_type: Set(new.parent.kind.to_owned()),
        parent_id: Set(new.parent.id),
        object_key: Set(key.as_str().to_owned()),
        original_name: Set(new.name.into_inner()),
        content_type: Set(new.content_type.as_str().to_owned()),
        size_bytes: Set(i64::try_from(new.size).map_err(AppError::internal)?),
        checksum_sha256: Set(None),
        uploaded_by: Set(caller.user_id),
        status: Set("pending".to_owned()),
        deleted_at: Set(None),
        version: Set(1),
    }
    .insert(&db.conn)
    .await?;
    uploads("requested");
    Ok((file, presigned))
}

/// A live file by id, pending or ready.
pub async fn find(db: &Db, id: Uuid) -> AppResult<files::Model> {
    files::Entity::find_by_id(id)
        .filter(files::Column::DeletedAt.is_null())
        .one(&db.conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// Makes an uploaded file ready once the store holds what was declared: its length, its type, and for images and
/// PDFs bytes that are really of that type. Anything else removes the object and the pending file. Confirming a
/// ready file again changes nothing.
pub async fn confirm(
    db: &Db,
    store: &dyn ObjectStore,
    caller: &Caller,
    file: files::Model,
) -> AppResult<files::Model> {
    if file.status == "ready" {
        return Ok(file);
    }
    let key =
        ObjectKey::parse(&file.object_key).map_err(|_| corrupt("object key", &file.object_key))?;
    let Some(stored) = store.stat(&key).await.map_err(AppError::internal)? else {
        return Err(AppError::invalid(
            "fileId",
            "upload_missing",
            "the file has not reached the store yet; upload it, then confirm",
        ));
    };
    let declared = ContentType::parse(&file.content_type)
        .map_err(|_| corrupt("content type", &file.content_type))?;
    let problem = if i64::try_from(stored.size).ok() != Some(file.size_bytes)
        || stored.content_type.as_deref() != Some(declared.as_str())
    {
        Some("the stored file is not the one declared")
    } else if declared.is_checked() {
        let head = store
            .head_bytes(&key, SNIFF_BYTES)
            .await
            .map_err(AppError::internal)?;
        let real = infer::get(&head).map(|t| t.mime_type());
        (real != Some(declared.as_str()))
            .then_some("the file's content is not of its declared type")
    } else {
        None
    };
    if let Some(why) = problem {
        store.remove(&key).await.map_err(AppError::internal)?;
        files::Entity::delete_by_id(file.id).exec(&db.conn).await?;
        uploads("rejected");
        return Err(AppError::invalid("fileId", "upload_rejected", why));
    }
    let tx = db.write_tx().await?;
    let done = files::Entity::update_many()
        .col_expr(files::Column::Status, Expr::value("ready"))
        .col_expr(files::Column::UpdatedAt, Expr::value(Utc::now()))
        .col_expr(
            files::Column::Version,
            Expr::col(files::Column::Version).add(1),
        )
        .filter(files::Column::Id.eq(file.id))
        .filter(files::Column::Status.eq("pending"))
        .exec(&tx)
        .await?;
    let after = files::Entity::find_by_id(file.id)
        .one(&tx)
        .await?
        .ok_or(AppError::NotFound)?;
    // A confirmation racing this one made it ready first and wrote the entry.
    if done.rows_affected == 1 {
        audit::record(&tx, caller, "file", file.id, "create", None, Some(&after)).await?;
    }
    tx.commit().await?;
    if done.rows_affected == 1 {
        uploads("confirmed");
    }
    Ok(after)
}

/// A GET of a ready file, for whoever may see it (the caller checks that).
pub async fn download(
    store: &dyn ObjectStore,
    ttl: Duration,
    file: &files::Model,
) -> AppResult<Option<Presigned>> {
    if file.status != "ready" {
        return Ok(None);
    }
    let key =
        ObjectKey::parse(&file.object_key).map_err(|_| corrupt("object key", &file.object_key))?;
    Ok(Some(
        store
            .download_url(&key, ttl)
            .await
            .map_err(AppError::internal)?,
    ))
}

/// Deletes a file softly; its object stays for the retention the owner set, then the sweep removes it.
pub async fn delete(db: &Db, caller: &Caller, id: Uuid, version: i32) -> AppResult<files::Model> {
    soft_delete::<files::ActiveModel>(db, caller, "file", id, version, true, async |_| Ok(())).await
}

/// Files follow their parent: deleted with it, and restored with it (those deleted when it was, not those
/// deleted before).
pub async fn follow_parent<C: ConnectionTrait>(
    conn: &C,
    kind: &str,
    parent: Uuid,
    deleted_since: Option<DateTime<Utc>>,
) -> AppResult<()> {
    let now = Utc::now();
    let mut q = files::Entity::update_many()
        .col_expr(files::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            files::Column::Version,
            Expr::col(files::Column::Version).add(1),
        )
        .filter(files::Column::ParentType.eq(kind))
        .filter(files::Column::ParentId.eq(parent));
    q = match deleted_since {
        None => q
            .col_expr(files::Column::DeletedAt, Expr::value(Some(now)))
            .filter(files::Column::DeletedAt.is_null()),
        Some(since) => q
            .col_expr(
                files::Column::DeletedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(files::Column::DeletedAt.gte(since)),
    };
    q.exec(conn).await?;
    Ok(())
}

/// What one sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub abandoned: usize,
    pub expired: usize,
}

/// Removes (object, then row) uploads never confirmed within `pending_ttl` and files deleted longer ago than the
/// retention in settings. On PostgreSQL one replica sweeps at a time; the others skip the round.
pub async fn sweep(db: &Db, store: &dyn ObjectStore, pending_ttl: Duration) -> AppResult<Swept> {
    let Some(lease) = db.try_lease("file_sweep").await? else {
        return Ok(Swept::default());
    };
    let days: i64 = reference::text(&db.conn, "file_retention_days")
        .await?
        .parse()
        .map_err(|_| corrupt("setting", "file_retention_days"))?;
    let now = Utc::now();
    let abandoned_before =
        now - chrono::Duration::from_std(pending_ttl).map_err(AppError::internal)?;
    let expired_before = now - chrono::Duration::days(days);
    let mut swept = Swept::default();
    loop {
        let batch = files::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(
                        sea_orm::Condition::all()
                            .add(files::Column::Status.eq("pending"))
                            .add(files::Column::CreatedAt.lt(abandoned_before)),
                    )
                    .add(files::Column::DeletedAt.lt(expired_before)),
            )
            .order_by_asc(files::Column::CreatedAt)
            .limit(200)
            .all(&db.conn)
            .await?;
        if batch.is_empty() {
            break;
        }
        for f in &batch {
            if let Ok(key) = ObjectKey::parse(&f.object_key) {
                store.remove(&key).await.map_err(AppError::internal)?;
            }
            files::Entity::delete_by_id(f.id).exec(&db.conn).await?;
            if f.deleted_at.is_some() {
                swept.expired += 1;
            } else {
                swept.abandoned += 1;
            }
        }
    }
    lease.release().await?;
    Ok(swept)
}

/// Sweeps now and then, for as long as the process runs; a failed round is logged and the next one tries again.
pub fn sweep_every(
    db: Db,
    store: std::sync::Arc<dyn ObjectStore>,
    s: &crate::config::StorageSettings,
) {
    let (every, pending_ttl) = (s.sweep_every, s.pending_ttl);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match sweep(&db, store.as_ref(), pending_ttl).await {
                Ok(s) if s != Swept::default() => {
                    tracing::info!(abandoned = s.abandoned, expired = s.expired, "swept files")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = ?e, "sweeping files failed; trying again later"),
            }
        }
    });
}
