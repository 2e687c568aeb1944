//! Schema migrations for both backends (PostgreSQL and SQLite), written once with sea-query's builder.

pub use sea_orm_migration::prelude::*;

mod ddl;
mod m20261122_000001_core;
mod m20261122_000002_identity;
mod m20261122_000003_roles;
mod m20261122_000004_history_index;
mod m20261204_000005_pending_email;
mod m20261205_000006_file_grants;

/// Every migration, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_core::Migration),
            Box::new(m20261122_000002_identity::Migration),
            Box::new(m20261122_000003_roles::Migration),
            Box::new(m20261122_000004_history_index::Migration),
            Box::new(m20261204_000005_pending_email::Migration),
            Box::new(m20261205_000006_file_grants::Migration),
        ]
    }
}
