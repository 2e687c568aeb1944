//! Read paths for lists: a filter, a sort and a page, with the means to count the whole list.

use sea_orm::{EntityTrait, Select};

use crate::db::Db;
use crate::db::keyset::{CountQuery, Page, PageArgs, PageRow, SortKey, paginate};
use crate::error::AppResult;

/// One page of a list, and a count of the whole list that runs only if a client selects it.
/// (Counting alongside the page on a second connection was measured: it lowers latency when idle but costs
/// a fifth of the throughput under load, so the count waits for the field.)
#[derive(Debug)]
pub struct Listed<M> {
    pub page: Page<M>,
    pub count: CountQuery,
}

pub async fn list<E, R>(
    db: &Db,
    select: Select<E>,
    sort: &SortKey<E>,
    args: &PageArgs,
    max: usize,
) -> AppResult<Listed<R>>
where
    E: EntityTrait,
    R: PageRow<E>,
{
    list_joined(db, select, Ok, sort, args, max).await
}

/// A page whose statement also reads what `join` adds beside each row; the count ignores the join.
pub async fn list_joined<E, R>(
    db: &Db,
    select: Select<E>,
    join: impl FnOnce(Select<E>) -> Result<Select<E>, sea_orm::DbErr>,
    sort: &SortKey<E>,
    args: &PageArgs,
    max: usize,
) -> AppResult<Listed<R>>
where
    E: EntityTrait,
    R: PageRow<E>,
{
    let count = CountQuery::new(&db.conn, &select);
    let page = paginate(&db.conn, join(select)?, sort, args, max).await?;
    Ok(Listed { page, count })
}
