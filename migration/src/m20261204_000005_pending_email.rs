//! A changed e-mail waits for its owner's confirmation before sign-in and resets use it: where it waits, and
//! the single-use token (purpose `email_change`) that confirms it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::ddl::{index, unique};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000005_pending_email"
    }
}

const BEFORE: &[&str] = &["password_reset", "invitation", "mfa_challenge"];
const AFTER: &[&str] = &[
    "password_reset",
    "invitation",
    "mfa_challenge",
    "email_change",
];

fn quoted(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Replaces the CHECK on `one_time_tokens.purpose`. PostgreSQL swaps the constraint; SQLite cannot alter one,
/// so the table is rebuilt from its own definition with the new list, its rows and indexes carried over
/// (nothing refers to it).
async fn allow_purposes(m: &SchemaManager<'_>, from: &[&str], to: &[&str]) -> Result<(), DbErr> {
    let db = m.get_connection();
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let row = db
                .query_one_raw(Statement::from_string(
                    DbBackend::Sqlite,
                    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'one_time_tokens'",
                ))
                .await?
                .ok_or_else(|| DbErr::Migration("one_time_tokens is missing".into()))?;
            let create: String = row.try_get("", "sql")?;
            let (old, new) = (quoted(from), quoted(to));
            if !create.contains(&old) {
                return Err(DbErr::Migration(format!(
                    "unexpected one_time_tokens definition: {create}"
                )));
            }
            let next = create
                .replacen("\"one_time_tokens\"", "\"one_time_tokens_next\"", 1)
                .replace(&old, &new);
            let indexes = [
                unique("one_time_tokens", "token_hash", &["token_hash"]),
                index("one_time_tokens", "user", &["user_id", "purpose"]),
            ]
            .map(|i| i.to_string(SqliteQueryBuilder));
            // One batch, so one connection runs it all: another pooled connection may still see the old table.
            let batch = [
                next.as_str(),
                "INSERT INTO one_time_tokens_next SELECT * FROM one_time_tokens",
                "DROP TABLE one_time_tokens",
                "ALTER TABLE one_time_tokens_next RENAME TO one_time_tokens",
                &indexes[0],
                &indexes[1],
            ]
            .join(";\n");
            db.execute_unprepared(&batch).await?;
            Ok(())
        }
        _ => {
            db.execute_unprepared(&format!(
                "ALTER TABLE one_time_tokens DROP CONSTRAINT IF EXISTS one_time_tokens_purpose_check, \
                 ADD CONSTRAINT one_time_tokens_purpose_check CHECK (purpose IN ({}))",
                quoted(to)
            ))
            .await?;
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// On SQLite too: the column and the table rebuild land together or not at all.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("users")
                    .add_column(ColumnDef::new("pending_email").string_len(254).null())
                    .to_owned(),
            )
            .await?;
        allow_purposes(manager, BEFORE, AFTER).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM one_time_tokens WHERE purpose = 'email_change'")
            .await?;
        allow_purposes(manager, AFTER, BEFORE).await?;
        manager
            .alter_table(
                Table::alter()
                    .table("users")
                    .drop_column("pending_email")
                    .to_owned(),
            )
            .await
    }
}
