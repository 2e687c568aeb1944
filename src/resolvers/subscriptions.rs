//! Subscriptions over GraphQL-over-WebSocket: the live work-order board, filtered by the caller's access like
//! any query.

use async_graphql::{Context, ID, Result, Subscription};
use futures_util::{Stream, StreamExt};

use crate::auth::Caller;
use crate::auth::catalog::Perm;
use crate::auth::guard::{Require, access};
use crate::schema::types::WorkOrder;
use crate::schema::{ids, state};
use crate::services::work_orders;

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
        let (s, who) = (state(ctx), access(ctx).clone());
        let caller = ctx.data_opt::<Caller>().cloned().unwrap_or_default();
        let changes = work_orders::changes(s.db.clone(), &s.events, who, caller, location);
        Ok(changes.map(WorkOrder))
    }
}
