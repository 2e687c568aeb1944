//! Settings, directories and the audit log: what the owner's settings pages read and edit.

// Each argument of a list field is a GraphQL argument; bundling them would change the schema.
#![allow(clippy::too_many_arguments)]

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::caller;
use super::lists::{nodes, window};
use crate::auth::catalog::Perm;
use crate::auth::guard::Require;
use crate::db::queries::AuditFilter;
use crate::domain::NonEmpty;
use crate::error::{AppError, AppResult};
use crate::schema::connection::Conn;
use crate::schema::payload::{UserError, split};
use crate::schema::types::AuditEntry;
use crate::schema::{ids, state};
use crate::services::audit;
use crate::services::reference::{self, EntryChanges, SettingType};

#[derive(Default)]
pub struct ReferenceQuery;

#[derive(Default)]
pub struct ReferenceMutation;

/// A typed system setting.
#[derive(SimpleObject)]
pub struct Setting {
    pub key: String,
    pub label: String,
    pub description: String,
    #[graphql(name = "type")]
    pub kind: SettingType,
    /// The value as text, e.g. `8.25`, `USD`, `image/jpeg,image/png`.
    pub value: String,
    /// Name it when changing the setting; 0 while it has its default.
    pub version: i32,
}

fn setting(s: reference::Setting) -> Setting {
    Setting {
        key: s.def.key.to_owned(),
        label: s.def.label.to_owned(),
        description: s.def.description.to_owned(),
        kind: s.def.kind,
        value: s.value,
        version: s.version,
    }
}

pub struct Directory(entity::directories::Model);

#[Object]
impl Directory {
    async fn id(&self) -> ID {
        ids::encode("Directory", self.0.id)
    }
    /// e.g. `payment_methods`.
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn entries(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] include_inactive: bool,
    ) -> Result<Vec<DirectoryEntry>> {
        Ok(
            reference::entries(&state(ctx).db, self.0.id, include_inactive)
                .await?
                .into_iter()
                .map(DirectoryEntry)
                .collect(),
        )
    }
}

pub struct DirectoryEntry(entity::directory_entries::Model);

#[Object]
impl DirectoryEntry {
    async fn id(&self) -> ID {
        ids::encode("DirectoryEntry", self.0.id)
    }
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn label(&self) -> &str {
        &self.0.label
    }
    async fn sort_order(&self) -> i32 {
        self.0.sort_order
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
}

#[derive(InputObject)]
pub struct UpdateSettingInput {
    pub key: String,
    pub value: String,
    pub version: i32,
}

#[derive(InputObject)]
pub struct CreateDirectoryEntryInput {
    /// The directory's code, e.g. `payment_methods`.
    pub directory: String,
    pub code: String,
    pub label: String,
    #[graphql(default)]
    pub sort_order: i32,
}

#[derive(InputObject)]
pub struct UpdateDirectoryEntryInput {
    pub id: ID,
    pub version: i32,
    pub label: Option<String>,
    pub sort_order: Option<i32>,
    pub active: Option<bool>,
}

#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    /// e.g. `customer`, `work_order`, `invoice`, `role`, `session`.
    pub entity_type: Option<String>,
    /// The record's id (as in `AuditEntry.entityId`).
    pub entity_id: Option<uuid::Uuid>,
    pub actor_id: Option<uuid::Uuid>,
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

#[derive(SimpleObject)]
pub struct SettingPayload {
    pub setting: Option<Setting>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct DirectoryEntryPayload {
    pub entry: Option<DirectoryEntry>,
    pub errors: Vec<UserError>,
}

fn entry_payload(r: AppResult<entity::directory_entries::Model>) -> Result<DirectoryEntryPayload> {
    let (e, errors) = split(r)?;
    Ok(DirectoryEntryPayload {
        entry: e.map(DirectoryEntry),
        errors,
    })
}

#[Object]
impl ReferenceQuery {
    /// Every system setting with its current value; changes hold at once.
    #[graphql(guard = "Require::signed_in()")]
    async fn settings(&self, ctx: &Context<'_>) -> Result<Vec<Setting>> {
        Ok(reference::all(&state(ctx).db)
            .await?
            .into_iter()
            .map(setting)
            .collect())
    }

    /// The reference lists: payment methods, service types, car makes, part categories.
    #[graphql(guard = "Require::signed_in()")]
    async fn directories(&self, ctx: &Context<'_>) -> Result<Vec<Directory>> {
        Ok(reference::directories(&state(ctx).db)
            .await?
            .into_iter()
            .map(Directory)
            .collect())
    }

    /// Every change, newest first.
    #[graphql(
        guard = "Require::perm(Perm::AuditRead)",
        complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] filter: AuditLogFilter,
    ) -> Result<Conn<AuditEntry>> {
        let f = AuditFilter {
            entity_type: filter.entity_type,
            entity_id: filter.entity_id,
            actor_id: filter.actor_id,
            action: filter.action,
            since: filter.since,
            until: filter.until,
        };
        let w = window(ctx, first, after, last, before);
        Ok(nodes(
            audit::list(&state(ctx).db, &f, &w).await?,
            AuditEntry,
        ))
    }
}

#[Object]
impl ReferenceMutation {
    /// Changes a setting, checked against its type and range.
    #[graphql(guard = "Require::perm(Perm::SettingsManage)")]
    async fn update_setting(
        &self,
        ctx: &Context<'_>,
        input: UpdateSettingInput,
    ) -> Result<SettingPayload> {
        let r = reference::update(
            &state(ctx).db,
            &caller(ctx),
            &input.key,
            &input.value,
            input.version,
        )
        .await;
        let (s, errors) = split(r)?;
        Ok(SettingPayload {
            setting: s.map(setting),
            errors,
        })
    }

    #[graphql(guard = "Require::perm(Perm::SettingsManage)")]
    async fn create_directory_entry(
        &self,
        ctx: &Context<'_>,
        input: CreateDirectoryEntryInput,
    ) -> Result<DirectoryEntryPayload> {
        let r = async {
            let label =
                NonEmpty::parse("label", &input.label).map_err(|e| AppError::parse("label", e))?;
            reference::create_entry(
                &state(ctx).db,
                &caller(ctx),
                &input.directory,
                &input.code,
                label,
                input.sort_order,
            )
            .await
        };
        entry_payload(r.await)
    }

    /// Relabels, reorders, or (de)activates an entry; entries are never deleted, so old records keep their meaning.
    #[graphql(guard = "Require::perm(Perm::SettingsManage)")]
    async fn update_directory_entry(
        &self,
        ctx: &Context<'_>,
        input: UpdateDirectoryEntryInput,
    ) -> Result<DirectoryEntryPayload> {
        let r = async {
            let id = ids::decode_as("DirectoryEntry", &input.id, "id")?;
            let ch = EntryChanges {
                label: input
                    .label
                    .as_deref()
                    .map(|l| NonEmpty::parse("label", l).map_err(|e| AppError::parse("label", e)))
                    .transpose()?,
                sort_order: input.sort_order,
                active: input.active,
            };
            reference::update_entry(&state(ctx).db, &caller(ctx), id, input.version, ch).await
        };
        entry_payload(r.await)
    }
}
