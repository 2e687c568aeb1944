//! Request-level guards and telemetry: an alias ceiling (depth and complexity are built in) and per-operation metrics.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Response, ServerError, ServerResult, Variables};

/// Refuses documents with more than N aliases: aliases multiply work without raising depth.
pub struct AliasLimit(pub usize);

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimit(self.0))
    }
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|s| match &s.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + count_aliases(&f.node.selection_set.node)
            }
            Selection::InlineFragment(f) => count_aliases(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

#[async_graphql::async_trait::async_trait]
impl Extension for AliasLimit {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let aliases: usize = doc
            .operations
            .iter()
            .map(|(_, op)| count_aliases(&op.node.selection_set.node))
            .sum::<usize>()
            + doc
                .fragments
                .values()
                .map(|f| count_aliases(&f.node.selection_set.node))
                .sum::<usize>();
        if aliases > self.0 {
            let mut e = ServerError::new(
                format!(
                    "the query uses {aliases} aliases; at most {} are allowed",
                    self.0
                ),
                None,
            );
            e.extensions = Some({
                let mut ext = async_graphql::ErrorExtensionValues::default();
                ext.set("code", "too_many_aliases");
                ext
            });
            return Err(e);
        }
        Ok(doc)
    }
}

/// Counts requests and records latency per operation name for `/metrics`.
pub struct OperationMetrics;

/// Operation names are chosen by clients: past this many distinct ones, the rest share one label.
const MAX_OPERATION_LABELS: usize = 200;

static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn label(name: Option<&str>) -> String {
    let Some(name) = name else {
        return "anonymous".into();
    };
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    let seen = seen.get_or_insert_with(HashSet::new);
    if seen.contains(name) || (seen.len() < MAX_OPERATION_LABELS && name.len() <= 64) {
        seen.insert(name.to_owned());
        name.to_owned()
    } else {
        "other".into()
    }
}

impl ExtensionFactory for OperationMetrics {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationMetrics)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for OperationMetrics {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let started = Instant::now();
        let response = next.run(ctx, operation_name).await;
        let operation = label(operation_name);
        let outcome = if response.errors.is_empty() {
            "ok"
        } else {
            "error"
        };
        metrics::counter!("autoshop_graphql_requests_total", "operation" => operation.clone(), "outcome" => outcome)
            .increment(1);
        metrics::histogram!("autoshop_graphql_request_seconds", "operation" => operation)
            .record(started.elapsed().as_secs_f64());
        response
    }
}
