//! Small builders that keep every table's common columns and constraints identical across migrations.

use sea_orm_migration::prelude::*;

/// A table with the columns every table has: UUID key and the two timestamps.
pub fn table(name: &'static str) -> TableCreateStatement {
    let mut t = Table::create();
    t.table(name)
        .col(ColumnDef::new("id").uuid().not_null().primary_key())
        .col(ts("created_at"))
        .col(ts("updated_at"));
    t
}

/// A business record: soft delete and optimistic concurrency on top of [`table`].
pub fn business(name: &'static str) -> TableCreateStatement {
    let mut t = table(name);
    t.col(ts_null("deleted_at")).col(version());
    t
}

pub fn version() -> ColumnDef {
    ColumnDef::new("version")
        .integer()
        .not_null()
        .default(1)
        .check(Expr::col("version").gte(1))
        .to_owned()
}

pub fn ts(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

pub fn ts_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

pub fn uuid(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).uuid().not_null().to_owned()
}

pub fn uuid_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).uuid().null().to_owned()
}

pub fn string(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).string().not_null().to_owned()
}

pub fn string_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).string().null().to_owned()
}

pub fn text_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).text().null().to_owned()
}

pub fn text(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).text().not_null().to_owned()
}

pub fn json(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).json().not_null().to_owned()
}

pub fn json_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).json().null().to_owned()
}

pub fn boolean(name: &'static str, default: bool) -> ColumnDef {
    ColumnDef::new(name)
        .boolean()
        .not_null()
        .default(default)
        .to_owned()
}

/// Money and other exact quantities are 64-bit integers of minor units.
pub fn bigint(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

pub fn money(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

pub fn integer(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).integer().not_null().to_owned()
}

/// A string column constrained to a closed set of values.
pub fn one_of(name: &'static str, values: &[&'static str]) -> ColumnDef {
    ColumnDef::new(name)
        .string()
        .not_null()
        .check(Expr::col(name).is_in(values.iter().copied()))
        .to_owned()
}

pub fn one_of_null(name: &'static str, values: &[&'static str]) -> ColumnDef {
    ColumnDef::new(name)
        .string()
        .null()
        .check(Expr::col(name).is_in(values.iter().copied()))
        .to_owned()
}

/// A foreign key from `table.column` to `target.id`; deletes are restricted (the API only soft-deletes).
pub fn fk(
    table: &'static str,
    column: &'static str,
    target: &'static str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(table, column)
        .to(target, "id")
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

/// Same as [`fk`] but the child rows belong to the parent and go with it.
pub fn fk_cascade(
    table: &'static str,
    column: &'static str,
    target: &'static str,
) -> ForeignKeyCreateStatement {
    let mut f = fk(table, column, target);
    f.on_delete(ForeignKeyAction::Cascade);
    f
}

pub fn index(table: &'static str, name: &str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(format!("ix_{table}_{name}")).table(table);
    for c in columns {
        i.col(*c);
    }
    i
}

/// A unique index that ignores soft-deleted rows (and, optionally, rows where the key is absent).
pub fn unique_live(
    table: &'static str,
    name: &str,
    columns: &[&'static str],
) -> IndexCreateStatement {
    let mut i = index(table, name, columns);
    i.name(format!("ux_{table}_{name}"))
        .unique()
        .and_where(Expr::col("deleted_at").is_null());
    i
}

pub fn unique(table: &'static str, name: &str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut i = index(table, name, columns);
    i.name(format!("ux_{table}_{name}")).unique();
    i
}

/// The names of the tables the statements create, in order: what a migration's `down` must drop.
#[cfg(test)]
pub fn created_names(tables: &[TableCreateStatement]) -> Vec<String> {
    tables
        .iter()
        .map(|t| {
            t.to_string(PostgresQueryBuilder)
                .split('"')
                .nth(1)
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}
