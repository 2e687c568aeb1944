//! Read paths for lists: a filter, a sort and a page, with the means to count the whole list.

use sea_orm::{EntityTrait, Select};

use crate::db::Db;
use crate::db::keyset::{CountQuery, Page, PageArgs, PageRow, SortKey, paginate};
use crate::error::AppResult;

/// One page of a list, and a count of the whole list, made only if a client selects it: by the page's own
/// statement when the page has rows (a second statement was a fifth of the board's round trips), else alone.
#[derive(Debug)]
pub struct Listed<M> {
    pub page: Page<M>,
    pub count: CountQuery,
}

/// One page of `select`, whose statement also reads what `join` adds beside each row (`Ok` for nothing; the
/// count ignores the join). With `counted` (a client selected `totalCount`), the page's statement counts the
/// list as well.
pub async fn list<E, R>(
    db: &Db,
    select: Select<E>,
    join: impl FnOnce(Select<E>) -> Result<Select<E>, sea_orm::DbErr>,
    sort: &SortKey<E>,
    args: &PageArgs,
    max: usize,
    counted: bool,
) -> AppResult<Listed<R>>
where
    E: EntityTrait,
    R: PageRow<E>,
{
    let mut count = CountQuery::new(&db.reads, &select);
    let page = paginate(
        &db.reads,
        join(select)?,
        sort,
        args,
        max,
        counted.then_some(&mut count),
    )
    .await?;
    Ok(Listed { page, count })
}
