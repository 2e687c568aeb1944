//! Roles the owner edits: their names and descriptions. What each role may do lives in `casbin_rule`.

use sea_orm_migration::prelude::*;

use crate::ddl::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000003_roles"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut t = table("roles");
        // `key` is the role's name in casbin's rules: it never changes, so renaming touches no rule.
        t.col(string("key"))
            .col(string("name"))
            .col(text_null("description"))
            .col(boolean("built_in", false))
            .col(version());
        manager.create_table(t).await?;
        manager
            .create_index(unique("roles", "key", &["key"]))
            .await?;
        manager
            .create_index(unique("roles", "name", &["name"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("roles").to_owned())
            .await
    }
}
