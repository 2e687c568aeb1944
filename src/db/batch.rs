//! Batched reads for the DataLoaders: one statement per relation per request level, whatever the row count.

use std::collections::HashMap;
use std::hash::Hash;
use std::str::FromStr;

use super::reads::Reads;
use entity::{customers, locations, users, work_order_mechanics};
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, IdenStatic, ModelTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, Value,
};
use uuid::Uuid;

use super::rows;

fn uuid_of<M: ModelTrait>(m: &M, col: <M::Entity as EntityTrait>::Column) -> Option<Uuid> {
    match m.get(col) {
        Value::Uuid(Some(u)) => Some(u),
        _ => None,
    }
}

/// `column IN (ids)`; on PostgreSQL one array parameter, so the statement reads the same whatever the number
/// of ids: each connection prepares it once, where a list of placeholders would be a new statement (parsed,
/// planned and cached again) for every batch size. The column is named with its table, so a statement may join.
fn among<C: ColumnTrait>(conn: &Reads, column: C, ids: &[Uuid]) -> Expr {
    use sea_orm::EntityName as _;
    match conn.get_database_backend() {
        DbBackend::Postgres => Expr::cust_with_values(
            format!(
                "\"{}\".\"{}\" = ANY(CAST($1 AS uuid[]))",
                C::EntityName::default().table_name(),
                column.as_str()
            ),
            [uuid_array(ids)],
        ),
        _ => column.is_in(ids.iter().copied()),
    }
}

/// A PostgreSQL array literal of ids, `{a,b,…}`, sent as one text parameter.
fn uuid_array(ids: &[Uuid]) -> String {
    let mut list = String::with_capacity(2 + ids.len() * 37);
    list.push('{');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        list.push_str(&id.to_string());
    }
    list.push('}');
    list
}

fn id_column<E: EntityTrait>() -> Result<E::Column, DbErr> {
    E::Column::from_str("id")
        .map_err(|_| DbErr::Custom(format!("{} has no id column", E::default().table_name())))
}

/// Rows of `E` with the given ids, keyed by id.
pub async fn by_ids<E: EntityTrait<Model: entity::Positional>>(
    conn: &Reads,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, E::Model>, DbErr> {
    let id = id_column::<E>()?;
    let rows = rows::all(E::find().filter(among(conn, id, ids)), conn).await?;
    Ok(rows
        .into_iter()
        .filter_map(|m| uuid_of(&m, id).map(|k| (k, m)))
        .collect())
}

/// Groups rows by a key, keeping their order.
fn group<K: Hash + Eq, M>(rows: Vec<M>, key: impl Fn(&M) -> Option<K>) -> HashMap<K, Vec<M>> {
    let mut out: HashMap<K, Vec<M>> = HashMap::new();
    for m in rows {
        if let Some(k) = key(&m) {
            out.entry(k).or_default().push(m);
        }
    }
    out
}

/// All children of each parent, ordered by `order` ascending.
pub async fn children<E: EntityTrait<Model: entity::Positional>>(
    conn: &Reads,
    parent: E::Column,
    order: E::Column,
    condition: Condition,
    parents: &[Uuid],
) -> Result<HashMap<Uuid, Vec<E::Model>>, DbErr> {
    let select = E::find()
        .filter(among(conn, parent, parents))
        .filter(condition)
        .order_by_asc(order)
        .order_by_asc(id_column::<E>()?);
    let rows = rows::all(select, conn).await?;
    Ok(group(rows, |m| uuid_of(m, parent)))
}

/// The newest `limit` children of each parent (by `order`, descending), in one statement:
/// a window function numbers each parent's rows and the outer query keeps the first few.
pub async fn newest_children<E: EntityTrait<Model: entity::Positional>>(
    conn: &Reads,
    parent: E::Column,
    order: E::Column,
    condition: Condition,
    parents: &[Uuid],
    limit: u64,
) -> Result<HashMap<Uuid, Vec<E::Model>>, DbErr> {
    let backend = conn.get_database_backend();
    if backend == DbBackend::Postgres {
        // Per parent, the index on (parent, order) yields the newest rows and stops: ranking every child of a
        // busy customer to keep ten costs more than the rest of the customer card together.
        let inner = E::find()
            .filter(Expr::cust(format!(
                "\"{}\".\"{}\" = p.parent_key",
                E::default().table_name(),
                parent.as_str()
            )))
            .filter(condition)
            .order_by_desc(order)
            .order_by_desc(id_column::<E>()?)
            .limit(limit)
            .into_query();
        let inner = backend.build(&inner);
        let sql = format!(
            "SELECT c.* FROM unnest(CAST(${n} AS uuid[])) WITH ORDINALITY AS p(parent_key, ord) \
             CROSS JOIN LATERAL ({inner}) AS c ORDER BY p.ord, c.\"{o}\" DESC, c.id DESC",
            n = inner.values.as_ref().map_or(0, |v| v.0.len()) + 1,
            inner = inner.sql,
            o = order.as_str(),
        );
        let mut values = inner.values.map(|v| v.0).unwrap_or_default();
        values.push(uuid_array(parents).into());
        let stmt = sea_orm::Statement::from_sql_and_values(backend, sql, values);
        let rows = rows::all_raw(E::find().from_raw_sql(stmt), conn).await?;
        return Ok(group(rows, |m| uuid_of(m, parent)));
    }
    let rank = format!(
        "ROW_NUMBER() OVER (PARTITION BY {p} ORDER BY {o} DESC, id DESC)",
        p = parent.as_str(),
        o = order.as_str()
    );
    let mut inner = E::find()
        .filter(among(conn, parent, parents))
        .filter(condition)
        .into_query();
    inner.expr_as(Expr::cust(rank), Alias::new("rn"));
    let outer = Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("ranked"))
        .and_where(Expr::col(Alias::new("rn")).lte(limit))
        .order_by(Alias::new(parent.as_str()), sea_orm::Order::Asc)
        .order_by(Alias::new("rn"), sea_orm::Order::Asc)
        .to_owned();
    let stmt = conn.get_database_backend().build(&outer);
    let rows = rows::all_raw(E::find().from_raw_sql(stmt), conn).await?;
    Ok(group(rows, |m| uuid_of(m, parent)))
}

/// What the customer of the enclosing `customers` row still owes on issued invoices, in minor units: one
/// definition for the balance read alone and the one read beside the customer.
fn balance_due_of_customer() -> Expr {
    Expr::cust(
        "(SELECT CAST(COALESCE(SUM(i.total_minor - i.paid_minor), 0) AS BIGINT) FROM invoices i \
         WHERE i.customer_id = \"customers\".\"id\" AND i.status IN ('issued', 'partially_paid') \
         AND i.deleted_at IS NULL)",
    )
}

/// What each customer still owes on issued invoices, in minor units.
pub async fn balances_due(conn: &Reads, ids: &[Uuid]) -> Result<HashMap<Uuid, i64>, DbErr> {
    use customers::{Column as C, Entity as Customers};
    let rows: Vec<(Uuid, i64)> = Customers::find()
        .select_only()
        .column(C::Id)
        .expr_as(balance_due_of_customer(), "due")
        .filter(among(conn, C::Id, ids))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// A customer with what its card and its list row show beside it, read by the same statement
/// ([`with_home_and_balance`]).
pub struct CustomerWith {
    pub customer: customers::Model,
    /// `None` when the customer has no home branch.
    pub home: Option<locations::Model>,
    /// What the customer owes on issued invoices, in minor units.
    pub due: i64,
}

impl sea_orm::FromQueryResult for CustomerWith {
    fn from_query_result(res: &sea_orm::QueryResult, _pre: &str) -> Result<Self, DbErr> {
        use entity::Positional as _;
        let at = customers::Model::COLUMNS.len();
        Ok(Self {
            customer: rows::read(res, 0)?,
            home: rows::read_joined(res, at)?,
            due: res.try_get_by_index(at + locations::Model::COLUMNS.len())?,
        })
    }
}

impl super::keyset::PageRow<customers::Entity> for CustomerWith {
    fn record(&self) -> &customers::Model {
        &self.customer
    }
}

/// `select` with each customer's home branch (left-joined) and balance due (a subquery) read beside it: one
/// statement where reading those after the customers would be two more.
pub fn with_home_and_balance(
    select: Select<customers::Entity>,
) -> Result<Select<customers::Entity>, DbErr> {
    use customers::{Column as C, Entity as Customers};
    Ok(
        rows::left_join::<Customers, locations::Entity>(select, C::HomeLocationId)?
            .expr_as(balance_due_of_customer(), "due"),
    )
}

/// Customers by id, with their home branch and balance ([`with_home_and_balance`]).
pub async fn customers_with(conn: &Reads, ids: &[Uuid]) -> Result<Vec<CustomerWith>, DbErr> {
    use customers::{Column as C, Entity as Customers};
    with_home_and_balance(Customers::find().filter(among(conn, C::Id, ids)))?
        .into_model::<CustomerWith>()
        .all(conn)
        .await
}

/// The users assigned to each work order, in the order they were assigned: the assignments joined to their
/// users in one statement, where reading the assignments and then their users would be two, one after the
/// other.
pub async fn mechanics_of(
    conn: &Reads,
    work_orders: &[Uuid],
) -> Result<HashMap<Uuid, Vec<users::Model>>, DbErr> {
    use sea_orm::{ConnectionTrait, FromQueryResult};
    use work_order_mechanics::{Column as A, Entity as Assignment};
    let mut select = users::Entity::find().into_query();
    select
        .expr_as(
            Expr::col((Assignment, A::WorkOrderId)),
            Alias::new("parent_key"),
        )
        .inner_join(
            Assignment,
            Expr::col((Assignment, A::UserId)).equals((users::Entity, users::Column::Id)),
        )
        .and_where(among(conn, A::WorkOrderId, work_orders))
        .order_by((Assignment, A::CreatedAt), sea_orm::Order::Asc)
        .order_by((Assignment, A::Id), sea_orm::Order::Asc);
    let rows = conn.query_all(&select).await?;
    let mut out: HashMap<Uuid, Vec<users::Model>> = HashMap::new();
    for row in rows {
        let work_order: Uuid = row.try_get("", "parent_key")?;
        out.entry(work_order)
            .or_default()
            .push(rows::ByPosition::<users::Model>::from_query_result(&row, "")?.0);
    }
    Ok(out)
}
