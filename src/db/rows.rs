//! Rows read into models by column position ([`entity::Positional`]) instead of by name.

use std::str::FromStr;

use entity::Positional;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, FromQueryResult, Iterable, JoinType, QueryResult,
    QuerySelect, RelationDef, Select, SelectModel, SelectorRaw,
};

use super::keyset::PageRow;

/// A model read by position when the row starts with its columns, in order; by name otherwise.
pub struct ByPosition<M>(pub M);

impl<M: Positional + FromQueryResult> FromQueryResult for ByPosition<M> {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        if pre.is_empty()
            && let Some(m) = read_at(res, 0)
        {
            return m.map(ByPosition);
        }
        M::from_query_result(res, pre).map(ByPosition)
    }
}

/// `M` from the columns of `res` that start at `at`; `None` for a row of neither SQLx backend. A row whose
/// columns there are not the model's, by name and in order (a renamed, missing or extra column), is an error,
/// never misread: checked in every build, a few short comparisons per row.
fn read_at<M: Positional>(res: &QueryResult, at: usize) -> Option<Result<M, DbErr>> {
    if let Some(row) = res.try_as_pg_row() {
        return Some(
            in_order::<M>(sea_orm::sqlx::Row::columns(row), at)
                .and_then(|()| M::from_pg_row(row, at).map_err(unreadable)),
        );
    }
    let row = res.try_as_sqlite_row()?;
    Some(
        in_order::<M>(sea_orm::sqlx::Row::columns(row), at)
            .and_then(|()| M::from_sqlite_row(row, at).map_err(unreadable)),
    )
}

/// Whether the row holds the model's columns from `at`, in its order.
fn in_order<M: Positional>(columns: &[impl sea_orm::sqlx::Column], at: usize) -> Result<(), DbErr> {
    let fits = columns.len() >= at + M::COLUMNS.len()
        && M::COLUMNS
            .iter()
            .zip(&columns[at..])
            .all(|(want, got)| *want == got.name());
    if fits {
        Ok(())
    } else {
        let got: Vec<&str> = columns.iter().skip(at).map(|c| c.name()).collect();
        Err(DbErr::Type(format!(
            "reading a row by position: expected columns {:?} from {at}, got {got:?}",
            M::COLUMNS
        )))
    }
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

impl<E> PageRow<E> for ByPosition<E::Model>
where
    E: EntityTrait<Model: Positional + Send + Sync>,
{
    fn record(&self) -> &E::Model {
        &self.0
    }
}

/// A row with the two records its foreign keys name, read by the same statement ([`join_two`]).
pub struct WithTwo<M, A, B> {
    pub row: M,
    pub first: A,
    pub second: B,
}

impl<M, A, B> FromQueryResult for WithTwo<M, A, B>
where
    M: Positional,
    A: Positional,
    B: Positional,
{
    fn from_query_result(res: &QueryResult, _pre: &str) -> Result<Self, DbErr> {
        let (a, b) = (M::COLUMNS.len(), M::COLUMNS.len() + A::COLUMNS.len());
        Ok(WithTwo {
            row: read(res, 0)?,
            first: read(res, a)?,
            second: read(res, b)?,
        })
    }
}

/// `M` from the columns of `res` that start at `at`.
pub fn read<M: Positional>(res: &QueryResult, at: usize) -> Result<M, DbErr> {
    read_at(res, at).unwrap_or_else(|| Err(DbErr::Type("not a SQLx row".to_owned())))
}

/// `M` from columns a left join ([`left_join`]) put at `at`; `None` where it found no row (the id is NULL).
pub fn read_joined<M: Positional>(res: &QueryResult, at: usize) -> Result<Option<M>, DbErr> {
    let id: Option<uuid::Uuid> = res.try_get_by_index(at)?;
    id.map(|_| read(res, at)).transpose()
}

impl<E, A, B> PageRow<E> for WithTwo<E::Model, A, B>
where
    E: EntityTrait<Model: Positional + Send + Sync>,
    A: Positional + Send + Sync,
    B: Positional + Send + Sync,
{
    fn record(&self) -> &E::Model {
        &self.row
    }
}

/// `select` with the rows of `A` and `B` that its foreign keys `to_a` and `to_b` name, joined in and their
/// columns appended in model order: one statement where reading them by id afterwards would be two more. The keys
/// must be NOT NULL foreign keys (an inner join drops a row whose key names nothing).
pub fn join_two<E, A, B>(
    select: Select<E>,
    to_a: E::Column,
    to_b: E::Column,
) -> Result<Select<E>, DbErr>
where
    E: EntityTrait,
    A: EntityTrait,
    B: EntityTrait,
{
    joined::<E, B>(
        joined::<E, A>(select, JoinType::InnerJoin, to_a)?,
        JoinType::InnerJoin,
        to_b,
    )
}

/// `select` with the row of `A` that its nullable foreign key `to_a` names, left-joined and its columns appended
/// in model order (read them with [`read_joined`]).
pub fn left_join<E: EntityTrait, A: EntityTrait>(
    select: Select<E>,
    to_a: E::Column,
) -> Result<Select<E>, DbErr> {
    joined::<E, A>(select, JoinType::LeftJoin, to_a)
}

/// `select` joined (`how`) to the row of `A` that `key` names, with `A`'s columns appended in model order.
fn joined<E: EntityTrait, A: EntityTrait>(
    select: Select<E>,
    how: JoinType,
    key: E::Column,
) -> Result<Select<E>, DbErr> {
    Ok(with_columns::<A, E>(select.join(how, parent::<E, A>(key)?)))
}

fn parent<E: EntityTrait, F: EntityTrait>(key: E::Column) -> Result<RelationDef, DbErr> {
    let id = F::Column::from_str("id")
        .map_err(|_| DbErr::Custom(format!("{} has no id column", F::default().table_name())))?;
    Ok(E::belongs_to(F::default()).from(key).to(id).into())
}

fn with_columns<F: EntityTrait, E: EntityTrait>(mut select: Select<E>) -> Select<E> {
    for c in F::Column::iter() {
        select = select.expr(Expr::col((F::default(), c)));
    }
    select
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

    use super::*;

    /// The row a query for a role would return, with the given name in the place of `key`.
    async fn role_row(key_column: &str) -> QueryResult {
        let conn = Database::connect("sqlite::memory:").await.expect("sqlite");
        let sql = format!(
            "SELECT X'0192d6a48f0e7c4e9a1b000000000001' AS id, '2026-12-04T00:00:00Z' AS created_at, \
             '2026-12-04T00:00:00Z' AS updated_at, 'owner' AS {key_column}, 'Owner' AS name, NULL AS description, \
             1 AS built_in, 1 AS version"
        );
        conn.query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
            .await
            .expect("query")
            .expect("a row")
    }

    #[tokio::test]
    async fn a_row_whose_columns_are_not_the_models_is_an_error_in_every_build() {
        let renamed = role_row("role_key").await;
        let e = read::<entity::roles::Model>(&renamed, 0).expect_err("renamed column");
        assert!(e.to_string().contains("role_key"), "{e}");
        let fine = role_row("key").await;
        let role = read::<entity::roles::Model>(&fine, 0).expect("the model's own columns");
        assert_eq!(role.key, "owner");
    }
}
