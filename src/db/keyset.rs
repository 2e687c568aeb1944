//! Relay-style keyset pagination over any entity: opaque cursors bound to their sort order, stable under inserts,
//! and a `totalCount` that costs work only when someone asks for it.

use super::reads::Reads;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, ModelTrait, Order,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, Statement, Value,
};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// How a sort column's values travel inside a cursor.
#[derive(Debug, Clone, Copy)]
pub enum KeyKind {
    Text,
    Time,
    Int,
}

/// One sort order of a list: a non-null column, ties broken by `id` in the same direction.
#[derive(Debug)]
pub struct SortKey<E: EntityTrait> {
    /// Written into cursors so a cursor of one order is refused by another.
    pub name: &'static str,
    pub column: E::Column,
    pub id: E::Column,
    pub kind: KeyKind,
    pub descending: bool,
}

#[derive(Debug, Default, Clone)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

pub const DEFAULT_PAGE_SIZE: usize = 20;

impl PageArgs {
    /// The page size asked for, within `1..=max`.
    pub fn limit(&self, max: usize) -> AppResult<usize> {
        if self.first.is_some() && self.last.is_some() {
            return Err(AppError::invalid(
                "last",
                "invalid_page_args",
                "give `first` or `last`, not both",
            ));
        }
        let (field, n) = match (self.first, self.last) {
            (Some(n), _) => ("first", n),
            (_, Some(n)) => ("last", n),
            _ => return Ok(DEFAULT_PAGE_SIZE.min(max)),
        };
        let n = usize::try_from(n).map_err(|_| {
            AppError::invalid(
                field,
                "invalid_page_args",
                format!("`{field}` cannot be negative"),
            )
        })?;
        if n > max {
            return Err(AppError::invalid(
                field,
                "page_size_exceeded",
                format!("`{field}` is at most {max}"),
            ));
        }
        Ok(n)
    }
}

#[derive(Debug)]
pub struct Page<M> {
    pub rows: Vec<(String, M)>,
    pub has_previous_page: bool,
    pub has_next_page: bool,
}

/// A row of a page: the listed record, and whatever the page's statement read beside it.
pub trait PageRow<E: EntityTrait>: FromQueryResult + Send + Sync {
    fn record(&self) -> &E::Model;
}

/// A page row with the list's total, when the page's statement counted it ([`CountQuery::column`]).
struct Counted<R> {
    row: R,
    total: Option<i64>,
}

impl<R: FromQueryResult> FromQueryResult for Counted<R> {
    fn from_query_result(res: &sea_orm::QueryResult, pre: &str) -> Result<Self, sea_orm::DbErr> {
        Ok(Counted {
            row: R::from_query_result(res, pre)?,
            total: res.try_get(pre, TOTAL)?,
        })
    }
}

/// The column a page's statement counts the whole list into.
const TOTAL: &str = "list_total_count";

/// Runs `select` as one page of `sort`, counting the whole list in the same statement when `count` is given.
/// One statement, whatever the page size.
pub async fn paginate<E, R>(
    conn: &Reads,
    select: Select<E>,
    sort: &SortKey<E>,
    args: &PageArgs,
    max: usize,
    count: Option<&mut CountQuery>,
) -> AppResult<Page<R>>
where
    E: EntityTrait,
    R: PageRow<E>,
{
    let limit = args.limit(max)?;
    let backward = args.last.is_some();
    let mut select = select;
    if let Some(c) = &args.after {
        select = select.filter(beyond(sort, decode(sort, c, "after")?, !sort.descending));
    }
    if let Some(c) = &args.before {
        select = select.filter(beyond(sort, decode(sort, c, "before")?, sort.descending));
    }
    let ascending = sort.descending == backward;
    let order = if ascending { Order::Asc } else { Order::Desc };
    let select = select
        .order_by(sort.column, order.clone())
        .order_by(sort.id, order)
        .limit(limit as u64 + 1);
    let mut rows = match count {
        None => select.into_model::<R>().all(conn).await?,
        Some(count) => {
            let counted = select
                .expr_as(count.column(), TOTAL)
                .into_model::<Counted<R>>()
                .all(conn)
                .await?;
            // No row, no count: a page past the end leaves the count to its own statement.
            if let Some(total) = counted.first().and_then(|c| c.total) {
                count.known = Some(total);
            }
            counted.into_iter().map(|c| c.row).collect()
        }
    };
    let more = rows.len() > limit;
    rows.truncate(limit);
    if backward {
        rows.reverse();
    }
    let rows = rows
        .into_iter()
        .map(|r| Ok((encode(sort, r.record())?, r)))
        .collect::<AppResult<Vec<_>>>()?;
    Ok(Page {
        rows,
        has_previous_page: if backward { more } else { args.after.is_some() },
        has_next_page: if backward {
            args.before.is_some()
        } else {
            more
        },
    })
}

/// Rows strictly after (`upward`) or before the cursor's position in ascending key order.
fn beyond<E: EntityTrait>(
    sort: &SortKey<E>,
    (value, id): (Value, Uuid),
    upward: bool,
) -> Condition {
    let (key_past, id_past) = if upward {
        (sort.column.gt(value.clone()), sort.id.gt(id))
    } else {
        (sort.column.lt(value.clone()), sort.id.lt(id))
    };
    Condition::any()
        .add(key_past)
        .add(Condition::all().add(sort.column.eq(value)).add(id_past))
}

fn invalid_cursor(field: &str) -> AppError {
    AppError::invalid(
        field,
        "invalid_cursor",
        "the cursor is malformed or belongs to another list or order",
    )
}

/// A sort value as its cursor carries it.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum CursorKey {
    Text(String),
    Int(i64),
}

fn encode<E: EntityTrait>(sort: &SortKey<E>, model: &E::Model) -> AppResult<String> {
    let key = match model.get(sort.column) {
        Value::String(Some(s)) => CursorKey::Text(s),
        Value::ChronoDateTimeUtc(Some(t)) => {
            CursorKey::Text(t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        }
        Value::BigInt(Some(i)) => CursorKey::Int(i),
        Value::Int(Some(i)) => CursorKey::Int(i.into()),
        other => {
            return Err(AppError::internal(anyhow::anyhow!(
                "unsupported sort key value {other:?}"
            )));
        }
    };
    let id = match model.get(sort.id) {
        Value::Uuid(Some(u)) => u,
        other => {
            return Err(AppError::internal(anyhow::anyhow!(
                "sort tie-breaker is not a uuid: {other:?}"
            )));
        }
    };
    // Serialised straight from a tuple: the same JSON array a `json!` value gave, without building one.
    let raw = serde_json::to_vec(&(E::default().table_name(), sort.name, key, id))
        .map_err(AppError::internal)?;
    Ok(URL_SAFE_NO_PAD.encode(raw))
}

fn decode<E: EntityTrait>(
    sort: &SortKey<E>,
    cursor: &str,
    field: &str,
) -> AppResult<(Value, Uuid)> {
    let bad = || invalid_cursor(field);
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let (list, name, key, id): (String, String, serde_json::Value, Uuid) =
        serde_json::from_slice(&raw).map_err(|_| bad())?;
    if list != E::default().table_name() || name != sort.name {
        return Err(bad());
    }
    let value = match (sort.kind, key) {
        (KeyKind::Text, serde_json::Value::String(s)) => Value::from(s),
        (KeyKind::Time, serde_json::Value::String(s)) => {
            Value::from(s.parse::<DateTime<Utc>>().map_err(|_| bad())?)
        }
        (KeyKind::Int, serde_json::Value::Number(n)) => Value::from(n.as_i64().ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    Ok((value, id))
}

/// `SELECT COUNT(*)` over a list's filter, for a client that selects `totalCount`: counted by the page's own
/// statement when the page has rows, else by a statement of its own.
#[derive(Clone, Debug)]
pub struct CountQuery {
    conn: Reads,
    query: sea_orm::sea_query::SelectStatement,
    known: Option<i64>,
}

impl CountQuery {
    pub fn new<E: EntityTrait>(conn: &Reads, select: &Select<E>) -> Self {
        let inner = select.clone().into_query();
        let query = Query::select()
            .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
            .from_subquery(inner, Alias::new("t"))
            .to_owned();
        Self {
            conn: conn.clone(),
            query,
            known: None,
        }
    }

    /// A count already known (a list cut in memory).
    pub fn known(conn: &Reads, n: i64) -> Self {
        Self {
            conn: conn.clone(),
            query: Query::select().to_owned(),
            known: Some(n),
        }
    }

    /// The count as a scalar subquery, for a column of the page's statement. It does not depend on the row, so
    /// the database runs it once (PostgreSQL as an init plan), as a hand-written query would.
    fn column(&self) -> Expr {
        Expr::SubQuery(None, Box::new(self.query.clone().into()))
    }

    pub async fn run(&self) -> AppResult<i64> {
        if let Some(n) = self.known {
            return Ok(n);
        }
        let statement: Statement = self.conn.get_database_backend().build(&self.query);
        let row = self.conn.query_one_raw(statement).await?;
        Ok(match row {
            Some(r) => r.try_get::<i64>("", "n")?,
            None => 0,
        })
    }
}
