//! Owner-managed settings (typed, validated, read at use so a change holds at once) and reference directories
//! (service types, car makes, payment methods, part categories).

use chrono::Utc;
use entity::{directories, directory_entries, system_settings};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{audit, edit, touch};
use crate::auth::Caller;
use crate::db::Db;
use crate::domain::{Money, NonEmpty, TaxRate};
use crate::error::{AppError, AppResult};

/// How a setting's value is typed and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum SettingType {
    /// A percentage with up to two decimals, e.g. `8.25`.
    TaxRate,
    /// An ISO 4217 code, e.g. `USD`.
    Currency,
    /// An amount, e.g. `120.00`.
    Money,
    /// A short prefix of letters, digits and dashes.
    Prefix,
    /// A whole number of bytes.
    Bytes,
    /// A comma-separated list of MIME types.
    ContentTypes,
    /// A whole number of days, up to ten years.
    Days,
}

#[derive(Debug)]
pub struct SettingDef {
    pub key: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    pub kind: SettingType,
    pub default: &'static str,
}

pub const SETTINGS: &[SettingDef] = &[
    SettingDef {
        key: "tax_rate",
        label: "Tax rate",
        description: "Default tax rate of new lines, in percent.",
        kind: SettingType::TaxRate,
        default: "0",
    },
    SettingDef {
        key: "currency",
        label: "Currency",
        description: "The shop's one currency.",
        kind: SettingType::Currency,
        default: "USD",
    },
    SettingDef {
        key: "labour_rate",
        label: "Labour rate",
        description: "Default price of an hour of labour.",
        kind: SettingType::Money,
        default: "0.00",
    },
    SettingDef {
        key: "work_order_prefix",
        label: "Work-order number prefix",
        description: "Put before every work-order number.",
        kind: SettingType::Prefix,
        default: "WO-",
    },
    SettingDef {
        key: "invoice_prefix",
        label: "Invoice number prefix",
        description: "Put before every invoice number.",
        kind: SettingType::Prefix,
        default: "INV-",
    },
    SettingDef {
        key: "upload_max_bytes",
        label: "Largest upload",
        description: "The largest file staff may attach, in bytes (up to 100 MiB).",
        kind: SettingType::Bytes,
        default: "20971520",
    },
    SettingDef {
        key: "upload_content_types",
        label: "Allowed file types",
        description: "MIME types staff may attach.",
        kind: SettingType::ContentTypes,
        default: "image/jpeg,image/png,application/pdf",
    },
    SettingDef {
        key: "file_retention_days",
        label: "Keep deleted files",
        description: "Days a deleted file's contents are kept before they are removed for good (0: at once).",
        kind: SettingType::Days,
        default: "30",
    },
];

fn def(key: &str) -> AppResult<&'static SettingDef> {
    SETTINGS.iter().find(|d| d.key == key).ok_or_else(|| {
        AppError::invalid(
            "key",
            "unknown_setting",
            format!("no setting named `{key}`"),
        )
    })
}

/// Checks a value written as text and returns it as stored (JSON) and as shown (text).
pub fn parse_setting(kind: SettingType, raw: &str) -> AppResult<(Value, String)> {
    let raw = raw.trim();
    let bad = |msg: &str| AppError::invalid("value", "invalid_setting", msg.to_owned());
    Ok(match kind {
        SettingType::TaxRate => {
            let r: TaxRate = raw.parse().map_err(|e| AppError::parse("value", e))?;
            (json!(r.to_string()), r.to_string())
        }
        SettingType::Money => {
            let m: Money = raw.parse().map_err(|e| AppError::parse("value", e))?;
            if m.minor() < 0 {
                return Err(bad("an amount cannot be negative"));
            }
            (json!(m.to_string()), m.to_string())
        }
        SettingType::Currency => {
            if raw.len() != 3 || !raw.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(bad("a currency is three capital letters, e.g. USD"));
            }
            (json!(raw), raw.to_owned())
        }
        SettingType::Prefix => {
            if raw.len() > 10 || !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(bad("a prefix is up to 10 letters, digits or dashes"));
            }
            (json!(raw), raw.to_owned())
        }
        SettingType::Bytes => {
            let n: i64 = raw.parse().map_err(|_| bad("a whole number of bytes"))?;
            if !(1..=100 * 1024 * 1024).contains(&n) {
                return Err(bad("between 1 byte and 100 MiB"));
            }
            (json!(n), n.to_string())
        }
        SettingType::Days => {
            let n: i64 = raw.parse().map_err(|_| bad("a whole number of days"))?;
            if !(0..=3650).contains(&n) {
                return Err(bad("between 0 and 3650 days"));
            }
            (json!(n), n.to_string())
        }
        SettingType::ContentTypes => {
            let types: Vec<String> = raw
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect();
            if types.is_empty()
                || types
                    .iter()
                    .any(|t| t.split('/').count() != 2 || t.contains(' '))
            {
                return Err(bad("MIME types like image/jpeg, separated by commas"));
            }
            (json!(types), types.join(","))
        }
    })
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

/// A setting as the owner's screen shows it: its value as text and the version to name when changing it
/// (0 while it still has its default).
#[derive(Debug, Clone)]
pub struct Setting {
    pub def: &'static SettingDef,
    pub value: String,
    pub version: i32,
}

pub async fn all(db: &Db) -> AppResult<Vec<Setting>> {
    let rows = system_settings::Entity::find().all(&db.conn).await?;
    Ok(SETTINGS
        .iter()
        .map(|d| match rows.iter().find(|r| r.key == d.key) {
            Some(r) => Setting {
                def: d,
                value: shown(&r.value),
                version: r.version,
            },
            None => Setting {
                def: d,
                value: d.default.to_owned(),
                version: 0,
            },
        })
        .collect())
}

/// A setting's current value as text, read now: a change holds on the next use.
pub async fn text<C: ConnectionTrait>(conn: &C, key: &str) -> AppResult<String> {
    let d = def(key)?;
    Ok(system_settings::Entity::find()
        .filter(system_settings::Column::Key.eq(key))
        .one(conn)
        .await?
        .map_or_else(|| d.default.to_owned(), |r| shown(&r.value)))
}

pub async fn update(
    db: &Db,
    caller: &Caller,
    key: &str,
    raw: &str,
    version: i32,
) -> AppResult<Setting> {
    let d = def(key)?;
    let (value, text) = parse_setting(d.kind, raw)?;
    let tx = db.write_tx().await?;
    let existing = system_settings::Entity::find()
        .filter(system_settings::Column::Key.eq(key))
        .lock_exclusive()
        .one(&tx)
        .await?;
    let current = existing.as_ref().map_or(0, |r| r.version);
    if current != version {
        return Err(AppError::Conflict {
            field: vec!["version".into()],
        });
    }
    let now = Utc::now();
    let after = match existing.clone() {
        Some(row) => {
            let mut a = row.into_active_model();
            a.value = Set(value);
            a.updated_by = Set(caller.actor_id());
            touch(&mut a, version)?;
            a.update(&tx).await?
        }
        None => {
            system_settings::ActiveModel {
                id: Set(Uuid::now_v7()),
                created_at: Set(now),
                updated_at: Set(now),
                version: Set(1),
                key: Set(key.to_owned()),
                value: Set(value),
                updated_by: Set(caller.actor_id()),
            }
            .insert(&tx)
            .await?
        }
    };
    let before = existing.map_or_else(|| json!(d.default), |r| r.value);
    audit::event(
        &tx,
        caller,
        "setting",
        Some(after.id),
        "update",
        json!({ "before": { key: before }, "after": { key: after.value } }),
    )
    .await?;
    tx.commit().await?;
    Ok(Setting {
        def: d,
        value: text,
        version: after.version,
    })
}

type DirectorySeed = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const DIRECTORIES: &[DirectorySeed] = &[
    (
        "payment_methods",
        "Payment methods",
        &[
            ("cash", "Cash"),
            ("card", "Card"),
            ("bank_transfer", "Bank transfer"),
        ],
    ),
    (
        "service_types",
        "Service types",
        &[
            ("maintenance", "Maintenance"),
            ("repair", "Repair"),
            ("inspection", "Inspection"),
            ("tyres", "Tyres"),
        ],
    ),
    (
        "car_makes",
        "Car makes",
        &[
            ("honda", "Honda"),
            ("toyota", "Toyota"),
            ("vw", "Volkswagen"),
            ("bmw", "BMW"),
            ("hyundai", "Hyundai"),
            ("renault", "Renault"),
        ],
    ),
    (
        "part_categories",
        "Part categories",
        &[
            ("brakes", "Brakes"),
            ("filters", "Filters"),
            ("fluids", "Fluids"),
            ("electrical", "Electrical"),
        ],
    ),
];

/// Creates the standard directories with their starting entries, once. Idempotent.
pub async fn seed_directories(db: &Db) -> AppResult<()> {
    let tx = db.write_tx().await?;
    let have: Vec<String> = directories::Entity::find()
        .all(&tx)
        .await?
        .into_iter()
        .map(|d| d.code)
        .collect();
    let now = Utc::now();
    for (code, name, entries) in DIRECTORIES {
        if have.iter().any(|h| h == code) {
            continue;
        }
        let dir = directories::ActiveModel {
            id: Set(Uuid::now_v7()),
            created_at: Set(now),
            updated_at: Set(now),
            code: Set((*code).to_owned()),
            name: Set((*name).to_owned()),
            description: Set(None),
        }
        .insert(&tx)
        .await?;
        for (i, (c, l)) in entries.iter().enumerate() {
            directory_entries::ActiveModel {
                id: Set(Uuid::now_v7()),
                created_at: Set(now),
                updated_at: Set(now),
                version: Set(1),
                directory_id: Set(dir.id),
                code: Set((*c).to_owned()),
                label: Set((*l).to_owned()),
                sort_order: Set(i32::try_from(i).unwrap_or(0)),
                active: Set(true),
            }
            .insert(&tx)
            .await?;
        }
    }
    match tx.commit().await {
        Ok(()) => Ok(()),
        // Another replica seeded at the same moment.
        Err(e) if AppError::from(e.clone()).is_user_error() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub async fn directories(db: &Db) -> AppResult<Vec<directories::Model>> {
    Ok(directories::Entity::find()
        .order_by_asc(directories::Column::Name)
        .all(&db.conn)
        .await?)
}

pub async fn entries(
    db: &Db,
    directory: Uuid,
    include_inactive: bool,
) -> AppResult<Vec<directory_entries::Model>> {
    let mut q = directory_entries::Entity::find()
        .filter(directory_entries::Column::DirectoryId.eq(directory));
    if !include_inactive {
        q = q.filter(directory_entries::Column::Active.eq(true));
    }
    Ok(q.order_by_asc(directory_entries::Column::SortOrder)
        .order_by_asc(directory_entries::Column::Label)
        .all(&db.conn)
        .await?)
}

/// An active entry of a directory, by code: how payments name their method.
pub async fn active_entry<C: ConnectionTrait>(
    conn: &C,
    directory: &str,
    code: &str,
) -> AppResult<Option<directory_entries::Model>> {
    let Some(dir) = directories::Entity::find()
        .filter(directories::Column::Code.eq(directory))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    Ok(directory_entries::Entity::find()
        .filter(directory_entries::Column::DirectoryId.eq(dir.id))
        .filter(directory_entries::Column::Code.eq(code))
        .filter(directory_entries::Column::Active.eq(true))
        .one(conn)
        .await?)
}

#[derive(Debug)]
pub struct EntryChanges {
    pub label: Option<NonEmpty>,
    pub sort_order: Option<i32>,
    pub active: Option<bool>,
}

fn entry_code(raw: &str) -> AppResult<String> {
    let c = raw.trim().to_ascii_lowercase();
    if c.is_empty()
        || c.len() > 40
        || !c
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(AppError::invalid(
            "code",
            "invalid_code",
            "a code is up to 40 letters, digits, dashes or underscores",
        ));
    }
    Ok(c)
}

pub async fn create_entry(
    db: &Db,
    caller: &Caller,
    directory: &str,
    code: &str,
    label: NonEmpty,
    sort_order: i32,
) -> AppResult<directory_entries::Model> {
    let code = entry_code(code)?;
    let tx = db.write_tx().await?;
    let dir = directories::Entity::find()
        .filter(directories::Column::Code.eq(directory))
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::invalid("directory", "not_found", "no such directory"))?;
    let now = Utc::now();
    let row = directory_entries::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
        directory_id: Set(dir.id),
        code: Set(code),
        label: Set(label.into_inner()),
        sort_order: Set(sort_order),
        active: Set(true),
    }
    .insert(&tx)
    .await?;
    audit::record(
        &tx,
        caller,
        "directory_entry",
        row.id,
        "create",
        None,
        Some(&row),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update_entry(
    db: &Db,
    caller: &Caller,
    id: Uuid,
    version: i32,
    ch: EntryChanges,
) -> AppResult<directory_entries::Model> {
    let kind = "directory_entry";
    edit::<directory_entries::ActiveModel>(
        db,
        caller,
        kind,
        id,
        version,
        "update",
        async |_, _, a| {
            if let Some(l) = ch.label {
                a.label = Set(l.into_inner());
            }
            if let Some(o) = ch.sort_order {
                a.sort_order = Set(o);
            }
            if let Some(act) = ch.active {
                a.active = Set(act);
            }
            Ok(())
        },
    )
    .await
}
