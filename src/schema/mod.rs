//! The GraphQL schema: object types mapped from entities, scalars, ids, connections, loaders and request limits.

pub mod connection;
pub mod documents;
pub mod ids;
pub mod limits;
pub mod loaders;
pub mod payload;
pub mod scalars;
pub mod scope;
pub mod search;
pub mod trusted;
pub mod types;

use std::collections::HashMap;

use async_graphql::Context;
use async_graphql::dataloader::Loader;
use sea_orm::EntityTrait;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::{AppError, AppResult};
use loaders::{ById, ChildrenOf, HasMany, Loaders, NewestOf};
use scope::Scoped;

pub fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub(crate) fn loaders_for<'a>(ctx: &Context<'a>) -> AppResult<&'a Loaders> {
    ctx.data::<Loaders>()
        .map_err(|_| AppError::internal(anyhow::anyhow!("request has no loaders")))
}

/// Whether a row is soft-deleted: such rows are invisible through every path, lists, `node` and relations alike.
fn is_soft_deleted<E: EntityTrait>(m: &E::Model) -> bool {
    use sea_orm::ModelTrait;
    use std::str::FromStr;
    E::Column::from_str("deleted_at")
        .map(|c| matches!(m.get(c), sea_orm::Value::ChronoDateTimeUtc(Some(_))))
        .unwrap_or(false)
}

/// One live row by id that the caller may see, batched with every other lookup through the same field `V` in
/// this request.
pub async fn load<E, V>(ctx: &Context<'_>, id: Uuid) -> AppResult<Option<E::Model>>
where
    E: EntityTrait + Send + Sync,
    E::Model: Clone + Send + Sync + Scoped + entity::Positional,
    V: Send + Sync + 'static,
{
    // On the heap (as in `children` and `newest`): all fields of an object resolve through one future type,
    // as large as its largest field's, and every field, a plain string too, is started by moving one. A
    // relation's loader state kept inline would make every scalar field of a list pay for it.
    Box::pin(async move {
        let row = loaders_for(ctx)?.load_one(ById::<(E, V)>::new(id)).await?;
        match row.filter(|m| !is_soft_deleted::<E>(m)) {
            Some(m) if m.visible(ctx).await? => Ok(Some(m)),
            _ => Ok(None),
        }
    })
    .await
}

/// The rows, of those a visible parent has, that the caller may see.
async fn keep_visible<M: Scoped + Sync>(ctx: &Context<'_>, rows: Vec<M>) -> AppResult<Vec<M>> {
    let checks =
        futures_util::future::try_join_all(rows.iter().map(|r| r.visible_as_child(ctx))).await?;
    Ok(rows
        .into_iter()
        .zip(checks)
        .filter_map(|(r, ok)| ok.then_some(r))
        .collect())
}

/// All children through relation `R`, batched across parents.
pub async fn children<R: HasMany>(
    ctx: &Context<'_>,
    parent: Uuid,
) -> AppResult<Vec<<R::Child as EntityTrait>::Model>>
where
    <R::Child as EntityTrait>::Model: Scoped,
{
    Box::pin(async move {
        let rows = loaders_for(ctx)?
            .load_one(ChildrenOf::<R>::new(parent))
            .await?
            .unwrap_or_default();
        keep_visible(ctx, rows).await
    })
    .await
}

/// The newest `limit` children through relation `R`, batched across parents.
pub async fn newest<R: HasMany>(
    ctx: &Context<'_>,
    parent: Uuid,
    limit: i32,
) -> AppResult<Vec<<R::Child as EntityTrait>::Model>>
where
    <R::Child as EntityTrait>::Model: Scoped,
{
    let limit = u64::try_from(limit)
        .map_err(|_| AppError::invalid("limit", "invalid_page_args", "limit cannot be negative"))?;
    Box::pin(async move {
        let rows = loaders_for(ctx)?
            .load_one(NewestOf::<R>::new(parent, limit))
            .await?
            .unwrap_or_default();
        keep_visible(ctx, rows).await
    })
    .await
}

/// Loads, in one statement through the loader, what the rows of a list will ask for one by one, and feeds it
/// to the request's loader cache: the rows then find it there instead of each queueing a lookup, and no batching
/// delay is spent waiting for keys that are all known already. Only for what the client selected.
pub async fn prime<K>(
    ctx: &Context<'_>,
    keys: impl IntoIterator<Item = K>,
) -> AppResult<HashMap<K, <loaders::DbLoader as Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    loaders::DbLoader: Loader<K, Error = loaders::LoadError>,
{
    let keys: Vec<K> = keys
        .into_iter()
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let loaders = loaders_for(ctx)?;
    let values = loaders.loader().load(&keys).await?;
    loaders.feed_many(values.clone()).await;
    Ok(values)
}
