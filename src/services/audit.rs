//! The append-only audit log: one entry per mutation, in the mutation's own transaction.

use chrono::Utc;
use entity::audit_log;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::reads::{self, Listed, Window};
use crate::auth::Caller;
use crate::db::queries;
use crate::db::rows::ByPosition;
use crate::error::{AppError, AppResult};

/// Fields that never enter the log, whatever the entity.
const REDACTED: &[&str] = &[
    "password_hash",
    "totp_secret_enc",
    "key_hash",
    "token_hash",
    "code_hash",
];
/// Bookkeeping fields every row has; the diff is about the record, not them.
const IGNORED: &[&str] = &["updated_at", "version"];

fn object<T: Serialize>(v: Option<&T>) -> AppResult<Map<String, Value>> {
    match v
        .map(serde_json::to_value)
        .transpose()
        .map_err(AppError::internal)?
    {
        Some(Value::Object(m)) => Ok(m),
        _ => Ok(Map::new()),
    }
}

/// `{"before": {...}, "after": {...}}` holding only the fields that changed.
pub fn diff<T: Serialize>(before: Option<&T>, after: Option<&T>) -> AppResult<Value> {
    let (b, a) = (object(before)?, object(after)?);
    let mut before_out = Map::new();
    let mut after_out = Map::new();
    let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    for k in keys {
        if IGNORED.contains(&k.as_str()) || b.get(k) == a.get(k) {
            continue;
        }
        let shown = |v: Option<&Value>| {
            if REDACTED.contains(&k.as_str()) {
                Value::String("***".into())
            } else {
                v.cloned().unwrap_or(Value::Null)
            }
        };
        if before.is_some() {
            before_out.insert(k.clone(), shown(b.get(k)));
        }
        if after.is_some() {
            after_out.insert(k.clone(), shown(a.get(k)));
        }
    }
    Ok(serde_json::json!({ "before": before_out, "after": after_out }))
}

/// Writes one audit entry for `action` on an entity.
pub async fn record<C: ConnectionTrait, T: Serialize>(
    conn: &C,
    caller: &Caller,
    entity_type: &str,
    entity_id: Uuid,
    action: &str,
    before: Option<&T>,
    after: Option<&T>,
) -> AppResult<()> {
    // Every write to a searchable record is audited here, in its transaction: the search index hears of it too.
    crate::search::outbox::enqueue(conn, entity_type, entity_id).await?;
    let now = Utc::now();
    audit_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        actor_id: Set(caller.actor_id()),
        actor_ip: Set(caller.ip.clone()),
        request_id: Set(caller.request_id.clone()),
        entity_type: Set(entity_type.to_owned()),
        entity_id: Set(Some(entity_id)),
        action: Set(action.to_owned()),
        diff: Set(Some(diff(before, after)?)),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Writes one audit entry for an event that is not an edit (a sign-in, a refused token), with its details.
pub async fn event<C: ConnectionTrait>(
    conn: &C,
    caller: &Caller,
    entity_type: &str,
    entity_id: Option<Uuid>,
    action: &str,
    details: Value,
) -> AppResult<()> {
    let now = Utc::now();
    audit_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        actor_id: Set(caller.actor_id()),
        actor_ip: Set(caller.ip.clone()),
        request_id: Set(caller.request_id.clone()),
        entity_type: Set(entity_type.to_owned()),
        entity_id: Set(entity_id),
        action: Set(action.to_owned()),
        diff: Set(Some(details)),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Audit entries, newest first, one page.
pub async fn list(
    db: &crate::db::Db,
    f: &queries::AuditFilter,
    w: &Window,
) -> AppResult<Listed<ByPosition<audit_log::Model>>> {
    reads::models(db, queries::audit_entries(f), &queries::audit_sort(), w).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        name: &'static str,
        password_hash: &'static str,
        version: i32,
    }

    #[test]
    fn the_diff_holds_changed_fields_only_and_redacts_secrets() {
        let b = Row {
            name: "a",
            password_hash: "x",
            version: 1,
        };
        let a = Row {
            name: "b",
            password_hash: "y",
            version: 2,
        };
        let d = diff(Some(&b), Some(&a)).expect("diff");
        assert_eq!(d["before"]["name"], "a");
        assert_eq!(d["after"]["name"], "b");
        assert_eq!(d["after"]["password_hash"], "***");
        assert!(d["after"].get("version").is_none());
    }
}
