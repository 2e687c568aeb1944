//! The built-in roles' file permissions, for shops whose roles were made before files existed.
//!
//! Built-in roles get their grants once, when first made, so that an owner's edits stand; permissions added to
//! the catalog later reach only the owner role. This gives the advisor, mechanic and cashier the file grants a
//! new shop starts with, but only where the role holds no file permission at all: a role the owner has given
//! file rights, or taken some of them from, stays as it is. (One that had lost every file right by the owner's
//! hand since files shipped, the day before, gets them back: the rules keep no record of who removed what.)

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000006_file_grants"
    }
}

/// As `BUILT_IN_ROLES` in src/auth/catalog.rs grants them; fixed here, as a migration must be.
const GRANTS: &[(&str, &[&str])] = &[
    ("service_advisor", &["read", "upload", "delete"]),
    ("mechanic", &["read", "upload"]),
    ("cashier", &["read", "upload"]),
];

/// One statement per role, so the "no file permission yet" test sees the rules as they were before it.
fn insert(role: &str, actions: &[&str]) -> String {
    let actions = actions
        .iter()
        .map(|a| format!("SELECT '{a}' AS action"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    format!(
        "INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5) \
         SELECT 'p', r.\"key\", '*', 'file', a.action, '', '' FROM roles r, ({actions}) a \
         WHERE r.\"key\" = '{role}' AND r.built_in \
         AND NOT EXISTS (SELECT 1 FROM casbin_rule c WHERE c.ptype = 'p' AND c.v0 = '{role}' AND c.v2 = 'file')"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (role, actions) in GRANTS {
            db.execute_unprepared(&insert(role, actions)).await?;
        }
        Ok(())
    }

    /// Grants are the owner's once given: going back leaves them, as it cannot tell them from the owner's own.
    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
