//! The query and mutation roots. Each resolver parses its input, calls one service and maps the result.

mod access;
pub mod auth;
mod customers;
mod lists;
mod node;
mod reference;
mod subscriptions;
mod users;
mod vehicles;
mod workflow;

use async_graphql::{Context, MergedObject};

pub use subscriptions::SubscriptionRoot;

use crate::services::Caller;

#[derive(MergedObject, Default)]
pub struct QueryRoot(
    node::NodeQuery,
    lists::ListQuery,
    auth::AuthQuery,
    users::UserQuery,
    access::AccessQuery,
    reference::ReferenceQuery,
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
);

fn caller(ctx: &Context<'_>) -> Caller {
    ctx.data_opt::<Caller>().cloned().unwrap_or_default()
}
