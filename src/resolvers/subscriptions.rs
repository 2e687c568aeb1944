//! Subscriptions over GraphQL-over-WebSocket: the live work-order board, filtered by the caller's access like
//! any query, and the caller's own access as the owner changes it.

use async_graphql::{Context, ID, Result, Subscription};
use futures_util::{Stream, StreamExt};

use crate::auth::Caller;
use crate::auth::catalog::Perm;
use crate::auth::guard::Require;
use crate::resolvers::access::{EffectiveAccess, effective};
use crate::schema::types::WorkOrder;
use crate::schema::{ids, state};
use crate::services::{roles, work_orders};

#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// A work order you can see was created or changed (at `locationId`, when given): the board refreshes it.
    #[graphql(guard = "Require::either(Perm::WorkOrderRead, Perm::WorkOrderReadAssigned)")]
    async fn work_order_changed(
        &self,
        ctx: &Context<'_>,
        location_id: Option<ID>,
    ) -> Result<impl Stream<Item = WorkOrder> + use<>> {
        let location = location_id
            .map(|l| ids::decode_as("Location", &l, "locationId"))
            .transpose()?;
        let s = state(ctx);
        let caller = ctx.data_opt::<Caller>().cloned().unwrap_or_default();
        let changes =
            work_orders::changes(s.db.clone(), &s.events, s.policy.clone(), caller, location);
        Ok(changes.map(WorkOrder))
    }

    /// What you may do, and where: at once, then each time the owner changes it (your roles, or what a role of
    /// yours holds). The SPA's buttons follow at once, without asking `myAccess` again and again.
    #[graphql(guard = "Require::signed_in()")]
    async fn my_access_changed(
        &self,
        ctx: &Context<'_>,
    ) -> impl Stream<Item = EffectiveAccess> + use<> {
        let s = state(ctx);
        let caller = ctx.data_opt::<Caller>().cloned().unwrap_or_default();
        roles::access_changes(s.db.clone(), s.policy.clone(), caller).map(|a| effective(&a))
    }
}
