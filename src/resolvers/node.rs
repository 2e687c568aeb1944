//! `node(id)` and `nodes(ids)`: any object by its global id, batched through the loaders.

use async_graphql::{Context, ID, Object, Result};
use entity::{
    customers, files, invoice_lines, invoices, locations, payments, users, vehicles,
    work_order_lines, work_orders,
};

use crate::schema::loaders::via;
use crate::schema::types::*;
use crate::schema::{ids, load};

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

#[Object]
impl NodeQuery {
    /// Any object by its global id; null when it does not exist or is not visible.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        find(ctx, &id).await
    }

    /// Several objects by id, in the order asked; null where one is missing.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(max_items = 100))] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        futures_util::future::try_join_all(ids.iter().map(|id| find(ctx, id))).await
    }
}
