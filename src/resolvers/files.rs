//! Uploading and removing files: the browser is told where to PUT the bytes (a presigned URL), confirms when
//! they are there, and may delete a file later. Reading is `File` itself, reached through its parent.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::caller;
use super::customers::RecordVersionInput;
use crate::auth::catalog::Perm;
use crate::auth::guard::Require;
use crate::domain::{ContentType, FileName};
use crate::error::{AppError, AppResult};
use crate::schema::payload::{UserError, split};
use crate::schema::scope::{
    authorise_customer, authorise_invoice, authorise_vehicle, authorise_work_order,
};
use crate::schema::types::File;
use crate::schema::{ids, state};
use crate::services::files::{self, NewUpload, Parent};
use crate::storage::Presigned;

#[derive(Default)]
pub struct FileMutation;

#[derive(InputObject)]
pub struct RequestUploadInput {
    /// The customer, vehicle, work order or invoice the file belongs to.
    pub parent_id: ID,
    /// The name on the user's disk; kept to show and to download as.
    #[graphql(validator(max_length = 1000))]
    pub file_name: String,
    /// The MIME type the browser will send, e.g. `image/jpeg`; it must be one the shop allows.
    pub content_type: String,
    /// The exact length in bytes the browser will send.
    pub size: i32,
}

#[derive(InputObject)]
pub struct ConfirmUploadInput {
    pub file_id: ID,
}

/// One header a presigned request must carry, exactly as given.
#[derive(SimpleObject)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

/// A request the browser sends straight to the object store.
#[derive(SimpleObject)]
pub struct PresignedRequest {
    pub url: String,
    pub method: String,
    /// Send these headers as they are: they are signed. A body of another length or type is refused.
    pub headers: Vec<HttpHeader>,
    pub expires_at: DateTime<Utc>,
}

impl From<Presigned> for PresignedRequest {
    fn from(p: Presigned) -> Self {
        Self {
            url: p.url,
            method: p.method,
            headers: p
                .headers
                .into_iter()
                .map(|(name, value)| HttpHeader { name, value })
                .collect(),
            expires_at: p.expires_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct RequestUploadPayload {
    /// The file, pending until `confirmUpload`.
    pub file: Option<File>,
    pub upload: Option<PresignedRequest>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct FilePayload {
    pub file: Option<File>,
    pub errors: Vec<UserError>,
}

fn file_payload(r: AppResult<entity::files::Model>) -> Result<FilePayload> {
    let (file, errors) = split(r)?;
    Ok(FilePayload {
        file: file.map(File),
        errors,
    })
}

/// The caller sees `parent` and holds `p` where it sits; otherwise it does not exist for them.
async fn authorise_parent(ctx: &Context<'_>, parent: Parent, p: Perm) -> AppResult<()> {
    let (kind, id) = (parent.kind, parent.id);
    let visible = super::node::find(ctx, &ids::encode(type_name(kind), id))
        .await
        .map_err(|_| AppError::NotFound)?
        .is_some();
    if !visible {
        return Err(AppError::NotFound);
    }
    match kind {
        "customer" => authorise_customer(ctx, id, p).await,
        "vehicle" => authorise_vehicle(ctx, id, p).await,
        "work_order" => authorise_work_order(ctx, id, p).await.map(|_| ()),
        _ => authorise_invoice(ctx, id, p).await.map(|_| ()),
    }
}

fn type_name(kind: &str) -> &'static str {
    match kind {
        "customer" => "Customer",
        "vehicle" => "Vehicle",
        "work_order" => "WorkOrder",
        _ => "Invoice",
    }
}

/// A live file the caller may act on with `p` (through its parent), with the parent.
async fn authorised_file(ctx: &Context<'_>, id: &ID, p: Perm) -> AppResult<entity::files::Model> {
    let file = files::find(&state(ctx).db, ids::decode_as("File", id, "fileId")?).await?;
    let kind = crate::auth::visibility::FILE_PARENTS
        .iter()
        .map(|(k, _)| *k)
        .find(|k| *k == file.parent_type)
        .ok_or(AppError::NotFound)?;
    let parent = Parent {
        kind,
        id: file.parent_id,
    };
    authorise_parent(ctx, parent, Perm::FileRead).await?;
    authorise_parent(ctx, parent, p).await?;
    Ok(file)
}

#[Object]
impl FileMutation {
    /// Starts an upload: a pending file and the PUT that sends its bytes straight to the object store.
    #[graphql(guard = "Require::perm(Perm::FileUpload)")]
    async fn request_upload(
        &self,
        ctx: &Context<'_>,
        input: RequestUploadInput,
    ) -> Result<RequestUploadPayload> {
        let s = state(ctx);
        let r = async {
            let new = input.parse()?;
            authorise_parent(ctx, new.parent, Perm::FileUpload).await?;
            let ttl = s.settings.storage.url_ttl;
            files::request_upload(&s.db, s.store.as_ref(), ttl, &caller(ctx), new).await
        };
        let (made, errors) = split(r.await)?;
        let (file, upload) = made.map_or((None, None), |(f, p)| (Some(File(f)), Some(p.into())));
        Ok(RequestUploadPayload {
            file,
            upload,
            errors,
        })
    }

    /// Finishes an upload once the browser's PUT succeeded: the file becomes ready, or is removed if the store
    /// holds something else than was declared. Confirming twice is harmless.
    #[graphql(guard = "Require::perm(Perm::FileUpload)")]
    async fn confirm_upload(
        &self,
        ctx: &Context<'_>,
        input: ConfirmUploadInput,
    ) -> Result<FilePayload> {
        let s = state(ctx);
        let r = async {
            let file = authorised_file(ctx, &input.file_id, Perm::FileUpload).await?;
            files::confirm(&s.db, s.store.as_ref(), &caller(ctx), file).await
        };
        file_payload(r.await)
    }

    /// Deletes a file; its contents are removed for good after the retention the owner set.
    #[graphql(guard = "Require::perm(Perm::FileDelete)")]
    async fn delete_file(
        &self,
        ctx: &Context<'_>,
        input: RecordVersionInput,
    ) -> Result<FilePayload> {
        let r = async {
            let file = authorised_file(ctx, &input.id, Perm::FileDelete).await?;
            files::delete(&state(ctx).db, &caller(ctx), file.id, input.version).await
        };
        file_payload(r.await)
    }
}

impl RequestUploadInput {
    fn parse(self) -> AppResult<NewUpload> {
        let (type_name, id): (String, Uuid) = ids::decode(&self.parent_id, "parentId")?;
        let parent = Parent::of(&type_name, id).ok_or_else(|| {
            AppError::invalid(
                "parentId",
                "invalid_parent",
                "files attach to customers, vehicles, work orders and invoices",
            )
        })?;
        let size = u64::try_from(self.size)
            .map_err(|_| AppError::invalid("size", "file_empty", "the size is negative"))?;
        Ok(NewUpload {
            parent,
            name: FileName::parse(&self.file_name).map_err(|e| AppError::parse("fileName", e))?,
            content_type: ContentType::parse(&self.content_type)
                .map_err(|e| AppError::parse("contentType", e))?,
            size,
        })
    }
}
