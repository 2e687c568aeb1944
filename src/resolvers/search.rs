//! `search`: staff full-text search, answered by the engine within the caller's scope and checked again
//! against the database, so a stale index can never show a record.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Object, Result};

use super::node;
use crate::auth::guard::{Require, access};
use crate::error::AppError;
use crate::schema::search::{
    SearchCount, SearchExtras, SearchHit, SearchRecord, SearchType, ranges,
};
use crate::schema::types::Node;
use crate::schema::{ids, state};
use crate::search::{Kind, highlights};
use crate::services::search::{self, Asked};

#[derive(Default)]
pub struct SearchQuery;

type Results = Connection<String, SearchHit, SearchExtras, EmptyFields>;

fn type_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Customer => "Customer",
        Kind::Vehicle => "Vehicle",
        Kind::WorkOrder => "WorkOrder",
        Kind::Invoice => "Invoice",
    }
}

fn offset(after: Option<String>) -> Result<usize> {
    let Some(c) = after else { return Ok(0) };
    c.strip_prefix("hit:")
        .and_then(|n| n.parse::<usize>().ok())
        .map(|n| n + 1)
        .ok_or_else(|| {
            AppError::invalid("after", "invalid_cursor", "not a cursor of this search").into()
        })
}

/// The record behind a hit, if the database still has it and the caller may see it.
async fn record(ctx: &Context<'_>, kind: Kind, id: uuid::Uuid) -> Result<Option<SearchRecord>> {
    Ok(
        match node::find(ctx, &ids::encode(type_name(kind), id)).await? {
            Some(Node::Customer(c)) => Some(SearchRecord::Customer(c)),
            Some(Node::Vehicle(v)) => Some(SearchRecord::Vehicle(v)),
            Some(Node::WorkOrder(w)) => Some(SearchRecord::WorkOrder(w)),
            Some(Node::Invoice(i)) => Some(SearchRecord::Invoice(i)),
            _ => None,
        },
    )
}

#[Object]
impl SearchQuery {
    /// Customers, vehicles, work orders and invoices matching what was typed: names with a typo or two, the
    /// last characters of a VIN, a plate or phone number however written, an order or invoice number. Only
    /// what you may see, best first.
    #[graphql(
        guard = "Require::any_searchable()",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(desc = "Only these types; all when null or empty.")] types: Option<
            Vec<SearchType>,
        >,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Results> {
        let s = state(ctx);
        let limit = usize::try_from(first.unwrap_or(20).max(0))
            .unwrap_or(0)
            .min(s.limits.max_page_size);
        let asked = Asked {
            text: query.clone(),
            kinds: types.iter().flatten().map(|t| t.kind()).collect(),
            offset: offset(after)?,
            limit,
        };
        let found = search::search(s.search.as_ref(), access(ctx), asked.clone()).await?;
        let total: u64 = found.counts.values().sum();
        let counts = found
            .counts
            .iter()
            .map(|(k, n)| SearchCount {
                kind: SearchType::of(*k),
                count: i32::try_from(*n).unwrap_or(i32::MAX),
            })
            .collect();
        let records = futures_util::future::try_join_all(
            found.hits.iter().map(|h| record(ctx, h.kind, h.id)),
        )
        .await?;
        let end = asked.offset + found.hits.len();
        let mut conn = Connection::with_additional_fields(
            asked.offset > 0,
            (end as u64) < total,
            SearchExtras { counts },
        );
        for (i, (hit, rec)) in found.hits.into_iter().zip(records).enumerate() {
            // A hit the database no longer lets the caller see (a stale index) is dropped.
            let Some(record) = rec else { continue };
            let marks = ranges(&hit.title, &highlights(&hit.title, &query));
            let node = SearchHit {
                record,
                title: hit.title,
                highlights: marks,
            };
            conn.edges
                .push(Edge::new(format!("hit:{}", asked.offset + i), node));
        }
        Ok(conn)
    }
}
