//! Identity and access: sessions with rotating refresh tokens, password resets, TOTP recovery codes, API keys
//! and the casbin policy table.

use sea_orm_migration::prelude::*;

use crate::ddl::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000002_identity"
    }
}

/// Tables in creation order; dropped in reverse.
const TABLES: &[&str] = &[
    "auth_sessions",
    "refresh_tokens",
    "one_time_tokens",
    "totp_recovery_codes",
    "api_keys",
    "casbin_rule",
];

fn tables() -> Vec<TableCreateStatement> {
    let mut out = Vec::new();

    // A login and every refresh that descends from it: the "family" that reuse of a spent token revokes.
    let mut t = table("auth_sessions");
    t.col(uuid("user_id"))
        .col(ts("expires_at"))
        .col(ts_null("revoked_at"))
        .col(string_null("revoked_reason"))
        .col(boolean("mfa", false))
        .col(string_null("ip"))
        .col(text_null("user_agent"))
        .col(ts_null("last_refreshed_at"))
        .foreign_key(&mut fk("auth_sessions", "user_id", "users"));
    out.push(t);

    // Only a hash of each refresh token is kept; `used_at` is claimed atomically, once.
    let mut t = table("refresh_tokens");
    t.col(uuid("session_id"))
        .col(string("token_hash"))
        .col(ts("expires_at"))
        .col(ts_null("used_at"))
        .foreign_key(&mut fk_cascade(
            "refresh_tokens",
            "session_id",
            "auth_sessions",
        ));
    out.push(t);

    // Password resets and invitations: single use, expiring, stored hashed.
    let mut t = table("one_time_tokens");
    t.col(uuid("user_id"))
        .col(one_of(
            "purpose",
            &["password_reset", "invitation", "mfa_challenge"],
        ))
        .col(string("token_hash"))
        .col(ts("expires_at"))
        .col(ts_null("used_at"))
        .foreign_key(&mut fk("one_time_tokens", "user_id", "users"));
    out.push(t);

    let mut t = table("totp_recovery_codes");
    t.col(uuid("user_id"))
        .col(string("code_hash"))
        .col(ts_null("used_at"))
        .foreign_key(&mut fk("totp_recovery_codes", "user_id", "users"));
    out.push(t);

    let mut t = table("api_keys");
    t.col(string("name"))
        .col(string("role"))
        .col(string("prefix"))
        .col(string("key_hash"))
        .col(uuid_null("created_by"))
        .col(ts_null("expires_at"))
        .col(ts_null("last_used_at"))
        .col(ts_null("revoked_at"))
        .foreign_key(&mut fk("api_keys", "created_by", "users"));
    out.push(t);

    // casbin's standard layout, so its tooling and documentation apply as they are.
    let mut t = Table::create();
    t.table("casbin_rule")
        .col(
            ColumnDef::new("id")
                .integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        )
        .col(string("ptype"));
    for v in ["v0", "v1", "v2", "v3", "v4", "v5"] {
        t.col(ColumnDef::new(v).string().not_null().default(""));
    }
    out.push(t);
    out
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        index("auth_sessions", "user", &["user_id", "revoked_at"]),
        unique("refresh_tokens", "token_hash", &["token_hash"]),
        index("refresh_tokens", "session", &["session_id"]),
        unique("one_time_tokens", "token_hash", &["token_hash"]),
        index("one_time_tokens", "user", &["user_id", "purpose"]),
        unique("totp_recovery_codes", "code", &["user_id", "code_hash"]),
        unique("api_keys", "key_hash", &["key_hash"]),
        unique(
            "casbin_rule",
            "rule",
            &["ptype", "v0", "v1", "v2", "v3", "v4", "v5"],
        ),
    ]
}

fn users_alter(column: ColumnDef) -> TableAlterStatement {
    Table::alter().table("users").add_column(column).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in tables() {
            manager.create_table(t).await?;
        }
        for i in indexes() {
            manager.create_index(i).await?;
        }
        // SQLite adds one column per ALTER.
        manager
            .alter_table(users_alter(
                ColumnDef::new("totp_last_step")
                    .big_integer()
                    .null()
                    .to_owned(),
            ))
            .await?;
        manager
            .alter_table(users_alter(ts_null("password_changed_at")))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["password_changed_at", "totp_last_step"] {
            manager
                .alter_table(Table::alter().table("users").drop_column(column).to_owned())
                .await?;
        }
        for name in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(*name).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_created_table_is_dropped() {
        let created = created_names(&tables());
        let listed: Vec<String> = TABLES.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(created, listed);
    }
}
