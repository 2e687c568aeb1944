//! `node(id)` and `nodes(ids)`: any object by its global id, batched through the loaders.

use async_graphql::{Context, ID, Object, Result};
use entity::{
    customers, files, invoice_lines, invoices, locations, payments, users, vehicles,
    work_order_lines, work_orders,
};

use crate::auth::guard::Require;
use crate::schema::loaders::{ById, via};
use crate::schema::types::*;
use crate::schema::{ids, load, prime};

#[derive(Default)]
pub struct NodeQuery;

/// The object behind a global id, if it exists and the caller may see it.
pub(crate) async fn find(ctx: &Context<'_>, id: &ID) -> Result<Option<Node>> {
    let (kind, key) = ids::decode(id, "id")?;
    // `load` hides soft-deleted records, here as in lists and relations.
    macro_rules! found {
        ($entity:ident, $variant:ident) => {
            load::<$entity::Entity, via::Node>(ctx, key)
                .await?
                .map(|m| Node::$variant($variant(m)))
        };
    }
    Ok(match kind.as_str() {
        "Location" => found!(locations, Location),
        "User" => load::<users::Entity, via::Node>(ctx, key)
            .await?
            .map(|m| Node::User(User::full(m))),
        "Customer" => found!(customers, Customer),
        "Vehicle" => found!(vehicles, Vehicle),
        "WorkOrder" => found!(work_orders, WorkOrder),
        "WorkOrderLine" => found!(work_order_lines, WorkOrderLine),
        "Invoice" => found!(invoices, Invoice),
        "InvoiceLine" => found!(invoice_lines, InvoiceLine),
        "Payment" => found!(payments, Payment),
        "File" => found!(files, File),
        _ => None,
    })
}

/// Loads every id at once, one statement per type and no batching delay, into the request's loader cache;
/// then the relations the client selected on the customers and work orders found.
async fn prime_nodes(ctx: &Context<'_>, ids: &[ID]) -> Result<()> {
    let mut by_kind: std::collections::HashMap<String, Vec<uuid::Uuid>> =
        std::collections::HashMap::new();
    for id in ids {
        let (kind, key) = ids::decode(id, "id")?;
        by_kind.entry(kind).or_default().push(key);
    }
    for (kind, keys) in by_kind {
        macro_rules! prime_as {
            ($entity:ident) => {
                prime(
                    ctx,
                    keys.iter()
                        .map(|k| ById::<($entity::Entity, via::Node)>::new(*k)),
                )
                .await?
            };
        }
        match kind.as_str() {
            "Location" => drop(prime_as!(locations)),
            "User" => drop(prime_as!(users)),
            "Customer" => Customer::prime_by_ids(ctx, &keys, ctx.look_ahead()).await?,
            "Vehicle" => drop(prime_as!(vehicles)),
            "WorkOrder" => {
                let found = prime_as!(work_orders);
                let rows: Vec<_> = found.values().filter(|m| m.deleted_at.is_none()).collect();
                WorkOrder::prime_list(ctx, &rows, ctx.look_ahead()).await?;
            }
            "WorkOrderLine" => drop(prime_as!(work_order_lines)),
            "Invoice" => drop(prime_as!(invoices)),
            "InvoiceLine" => drop(prime_as!(invoice_lines)),
            "Payment" => drop(prime_as!(payments)),
            "File" => drop(prime_as!(files)),
            _ => {}
        }
    }
    Ok(())
}

#[Object]
impl NodeQuery {
    /// Any object by its global id; null when it does not exist or is not visible.
    #[graphql(guard = "Require::signed_in()")]
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        prime_nodes(ctx, std::slice::from_ref(&id)).await?;
        find(ctx, &id).await
    }

    /// Several objects by id, in the order asked; null where one is missing.
    #[graphql(
        guard = "Require::signed_in()",
        complexity = "ids.len() * child_complexity + 1"
    )]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(max_items = 100))] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        prime_nodes(ctx, &ids).await?;
        futures_util::future::try_join_all(ids.iter().map(|id| find(ctx, id))).await
    }
}
