//! Read paths for lists: a filter, a sort and a page, with the means to count the whole list. The screens'
//! reads, in the domain's words, live with their aggregates (`customers::list`, `work_orders::board`, …) and
//! come through here.

use sea_orm::{EntityTrait, QueryFilter, Select};

use crate::auth::policy::Access;
use crate::auth::visibility;
use crate::db::queries;
use crate::db::rows::ByPosition;

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

/// How much of a list a screen asks for: a page (within the page-size cap) and whether it shows the total.
#[derive(Debug, Clone)]
pub struct Window {
    pub page: PageArgs,
    pub max: usize,
    pub counted: bool,
}

/// One page of `select`, whose statement also reads what `join` adds beside each row (`Ok` for nothing; the
/// count ignores the join). When the window shows the total, the page's statement counts the list as well.
pub async fn list<E, R>(
    db: &Db,
    select: Select<E>,
    join: impl FnOnce(Select<E>) -> Result<Select<E>, sea_orm::DbErr>,
    sort: &SortKey<E>,
    w: &Window,
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
        &w.page,
        w.max,
        w.counted.then_some(&mut count),
    )
    .await?;
    Ok(Listed { page, count })
}

/// One page of `select` as models.
pub async fn models<E>(
    db: &Db,
    select: Select<E>,
    sort: &SortKey<E>,
    w: &Window,
) -> AppResult<Listed<ByPosition<E::Model>>>
where
    E: EntityTrait,
    E::Model: Send + Sync + entity::Positional,
{
    list(db, select, Ok, sort, w).await
}

/// Files attached to what the caller may see: beyond a caller who sees every file, only those of a parent the
/// caller was found to see (`parent_visible`).
pub async fn files(
    db: &Db,
    access: &Access,
    f: &queries::FileFilter,
    w: &Window,
) -> AppResult<Listed<ByPosition<entity::files::Model>>> {
    let select = queries::files(f).filter(visibility::files_condition(access));
    models(db, select, &queries::file_sort(true), w).await
}

/// The shop's branches.
pub async fn locations(
    db: &Db,
    w: &Window,
) -> AppResult<Listed<ByPosition<entity::locations::Model>>> {
    models(db, queries::locations(), &queries::location_sort(), w).await
}
