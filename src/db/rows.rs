//! Rows read into models by column position ([`entity::Positional`]) instead of by name.

use entity::Positional;
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryResult, Select, SelectModel,
    SelectorRaw,
};

/// A model read by position when the row holds its columns alone, in order; by name otherwise.
pub struct ByPosition<M>(pub M);

impl<M: Positional + FromQueryResult> FromQueryResult for ByPosition<M> {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        if pre.is_empty() {
            if let Some(row) = res.try_as_pg_row() {
                debug_assert!(in_order::<M>(sea_orm::sqlx::Row::columns(row)));
                return M::from_pg_row(row, 0).map(ByPosition).map_err(unreadable);
            }
            if let Some(row) = res.try_as_sqlite_row() {
                debug_assert!(in_order::<M>(sea_orm::sqlx::Row::columns(row)));
                return M::from_sqlite_row(row, 0)
                    .map(ByPosition)
                    .map_err(unreadable);
            }
        }
        M::from_query_result(res, pre).map(ByPosition)
    }
}

/// Whether the row starts with the model's columns, in its order (checked in debug builds: the tests).
fn in_order<M: Positional>(columns: &[impl sea_orm::sqlx::Column]) -> bool {
    columns.len() >= M::COLUMNS.len()
        && M::COLUMNS
            .iter()
            .zip(columns)
            .all(|(want, got)| *want == got.name())
}

fn unreadable(e: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Type(format!("reading a row: {e}"))
}

fn unwrap<M>(rows: Vec<ByPosition<M>>) -> Vec<M> {
    rows.into_iter().map(|r| r.0).collect()
}

/// Every row of `select`.
pub async fn all<E, C>(select: Select<E>, conn: &C) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: Positional,
    C: ConnectionTrait,
{
    Ok(unwrap(
        select
            .into_model::<ByPosition<E::Model>>()
            .all(conn)
            .await?,
    ))
}

/// The first row of `select`.
pub async fn one<E, C>(select: Select<E>, conn: &C) -> Result<Option<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: Positional,
    C: ConnectionTrait,
{
    Ok(select
        .into_model::<ByPosition<E::Model>>()
        .one(conn)
        .await?
        .map(|r| r.0))
}

/// Every row of a raw statement that selects a model's columns first.
pub async fn all_raw<M, C>(select: SelectorRaw<SelectModel<M>>, conn: &C) -> Result<Vec<M>, DbErr>
where
    M: Positional + FromQueryResult,
    C: ConnectionTrait,
{
    Ok(unwrap(
        select.into_model::<ByPosition<M>>().all(conn).await?,
    ))
}

/// A model from the first columns of a row that has more after them.
pub fn leading<M: Positional + FromQueryResult>(row: &QueryResult) -> Result<M, DbErr> {
    if let Some(r) = row.try_as_pg_row() {
        return M::from_pg_row(r, 0).map_err(unreadable);
    }
    if let Some(r) = row.try_as_sqlite_row() {
        return M::from_sqlite_row(r, 0).map_err(unreadable);
    }
    M::from_query_result(row, "")
}
