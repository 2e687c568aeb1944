//! Each record's history reads its audit entries by id alone (ids are unique across kinds): an index for that.

use sea_orm_migration::prelude::*;

use crate::ddl::index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000004_history_index"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index("audit_log", "history", &["entity_id", "created_at"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_audit_log_history")
                    .table("audit_log")
                    .to_owned(),
            )
            .await
    }
}
