//! Subscriptions over GraphQL-over-WebSocket: the live work-order board, filtered by the caller's access like
//! any query.

use async_graphql::{Context, ID, Result, Subscription};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::Caller;
use crate::auth::catalog::Perm;
use crate::auth::guard::{Require, access};
use crate::schema::scope::visible_work_order;
use crate::schema::types::WorkOrder;
use crate::schema::{ids, state};

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
        let s = state(ctx).clone();
        let who = access(ctx).clone();
        let caller = ctx.data_opt::<Caller>().cloned().unwrap_or_default();
        let rx = s.events.subscribe();
        Ok(futures_util::stream::unfold(
            (rx, s, who, caller),
            move |(mut rx, s, who, caller)| async move {
                loop {
                    match rx.recv().await {
                        Ok(e) if location.is_none_or(|l| l == e.location_id) => {
                            // A subscriber signed out, blocked or revoked since hears nothing more: the stream ends.
                            if !crate::auth::still_valid(&s.db, &caller).await {
                                return None;
                            }
                            // Each event is checked now, against the order as it is now.
                            if let Ok(Some(wo)) = visible_work_order(&s.db, &who, e.id).await {
                                return Some((WorkOrder(wo), (rx, s, who, caller)));
                            }
                        }
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return None,
                    }
                }
            },
        ))
    }
}
