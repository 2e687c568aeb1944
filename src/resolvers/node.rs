//! `node(id)` and `nodes(ids)`: any object by its global id, batched through the loaders.

use async_graphql::{Context, ID, Object, Result};
use entity::{
    customers, files, invoice_lines, invoices, locations, payments, users, vehicles,
    work_order_lines, work_orders,
};

use crate::schema::loaders::{ById, via};
use crate::schema::types::*;
use crate::schema::{ids, load, prime};

#[derive(Default)]
pub struct NodeQuery;

async fn find(ctx: &Context<'_>, id: &ID) -> Result<Option<Node>> {
    let (kind, key) = ids::decode(id, "id")?;
    // Soft-deleted records are invisible here, as they are in lists.
    Ok(match kind.as_str() {
        "Location" => load::<locations::Entity, via::Node>(ctx, key)
            .await?
            .filter(|m| m.deleted_at.is_none())
            .map(|m| Node::Location(Location(m))),
        "User" => load::<users::Entity, via::Node>(ctx, key)
            .await?
            .filter(|m| m.deleted_at.is_none())
            .map(|m| Node::User(User(m))),
        "Customer" => load::<customers::Entity, via::Node>(ctx, key)
            .await?
            .filter(|m| m.deleted_at.is_none())
            .map(|m| Node::Customer(Customer(m))),
        "Vehicle" => load::<vehicles::Entity, via::Node>(ctx, key)
            .await?
            .filter(|m| m.deleted_at.is_none())
            .map(|m| Node::Vehicle(Vehicle(m))),
        "WorkOrder" => load::<work_orders::Entity, via::Node>(ctx, key)
            .await?
            .filter(|m| m.deleted_at.is_none())
            .map(|m| Node::WorkOrder(WorkOrder(m))),
        "WorkOrderLine" => load::<work_order_lines::Entity, via::Node>(ctx, key)
            .await?
            .map(|m| Node::WorkOrderLine(WorkOrderLine(m))),
        "Invoice" => load::<invoices::Entity, via::Node>(ctx, key)
            .await?
            .filter(|m| m.deleted_at.is_none())
            .map(|m| Node::Invoice(Invoice(m))),
        "InvoiceLine" => load::<invoice_lines::Entity, via::Node>(ctx, key)
            .await?
            .map(|m| Node::InvoiceLine(InvoiceLine(m))),
        "Payment" => load::<payments::Entity, via::Node>(ctx, key)
            .await?
            .map(|m| Node::Payment(Payment(m))),
        "File" => load::<files::Entity, via::Node>(ctx, key)
            .await?
            .filter(|m| m.deleted_at.is_none())
            .map(|m| Node::File(File(m))),
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
            "Customer" => {
                let found = prime_as!(customers);
                let rows: Vec<_> = found.values().filter(|m| m.deleted_at.is_none()).collect();
                Customer::prime_list(ctx, &rows, ctx.look_ahead()).await?;
            }
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
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        prime_nodes(ctx, std::slice::from_ref(&id)).await?;
        find(ctx, &id).await
    }

    /// Several objects by id, in the order asked; null where one is missing.
    #[graphql(complexity = "ids.len() * child_complexity + 1")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(max_items = 100))] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        prime_nodes(ctx, &ids).await?;
        futures_util::future::try_join_all(ids.iter().map(|id| find(ctx, id))).await
    }
}
