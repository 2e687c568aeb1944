//! The query, mutation and subscription roots, and the schema built from them. Each resolver parses its input,
//! calls one service and maps the result.

mod access;
pub mod auth;
mod customers;
mod files;
mod lists;
mod node;
mod reference;
mod search;
mod subscriptions;
mod users;
mod vehicles;
mod workflow;

use async_graphql::{Context, MergedObject, Schema, ValidationMode};

pub use subscriptions::SubscriptionRoot;

use crate::app::AppState;
use crate::auth::Caller;
use crate::config::GraphqlLimits;

#[derive(MergedObject, Default)]
pub struct QueryRoot(
    node::NodeQuery,
    lists::ListQuery,
    auth::AuthQuery,
    users::UserQuery,
    access::AccessQuery,
    reference::ReferenceQuery,
    search::SearchQuery,
);

#[derive(MergedObject, Default)]
pub struct MutationRoot(
    auth::AuthMutation,
    users::UserMutation,
    access::AccessMutation,
    customers::CustomerMutation,
    vehicles::VehicleMutation,
    workflow::WorkflowMutation,
    reference::ReferenceMutation,
    files::FileMutation,
);

fn caller(ctx: &Context<'_>) -> Caller {
    ctx.data_opt::<Caller>().cloned().unwrap_or_default()
}

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Builds the schema with its limits; `state` is shared by every request.
pub fn build(state: Option<AppState>, limits: GraphqlLimits, development: bool) -> AppSchema {
    build_with(state, limits, development, ValidationMode::Strict)
}

/// The same schema for documents that already passed every validation rule and ran cleanly (the document
/// cache's): it checks only what depends on the variables (depth, complexity; argument values are checked as
/// they are read), not the document's static rules a second time.
pub fn build_for_validated(
    state: Option<AppState>,
    limits: GraphqlLimits,
    development: bool,
) -> AppSchema {
    build_with(state, limits, development, ValidationMode::Fast)
}

fn build_with(
    state: Option<AppState>,
    limits: GraphqlLimits,
    development: bool,
    mode: ValidationMode,
) -> AppSchema {
    let mut builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .validation_mode(mode)
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
    .limit_recursive_depth(32);
    if !development {
        builder = builder.disable_introspection().disable_suggestions();
    }
    if let Some(state) = state {
        builder = builder.data(state);
    }
    builder.finish()
}

/// The SDL written to schema.graphql.
pub fn sdl() -> String {
    build(None, SDL_LIMITS, true).sdl()
}

/// Limits do not show in the SDL; any will do for exporting it.
const SDL_LIMITS: GraphqlLimits = GraphqlLimits {
    max_depth: 12,
    max_complexity: 20_000,
    max_aliases: 30,
    max_page_size: 100,
    max_body_bytes: 262_144,
    loader_delay: std::time::Duration::from_millis(1),
    max_query_bytes: 16_384,
    max_query_tokens: 2000,
};
