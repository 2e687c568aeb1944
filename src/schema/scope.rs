//! Row scope: which records the caller may see, wherever a record is reached (`node`, a relation, an event),
//! by the rules of [`crate::auth::visibility`], the same ones lists filter with. A record outside the caller's
//! locations, or not assigned to them where they see only their own, looks exactly like a missing one.

use async_graphql::Context;
use entity::{
    customers, files, invoice_lines, invoices, locations, payments, users, vehicles,
    work_order_lines, work_order_status_changes, work_orders,
};
use uuid::Uuid;

use super::loaders::{ById, MechanicsOf, via};
use super::loaders_for;
use crate::auth::catalog::Perm;
use crate::auth::guard::access;
use crate::auth::visibility::{self, Placement, Rule};
use crate::error::AppResult;

/// A record the caller may or may not see.
pub trait Scoped: Sized {
    /// Reached on its own: by id, through `node`, or as the parent of something.
    fn visible(&self, ctx: &Context<'_>) -> impl Future<Output = AppResult<bool>> + Send;

    /// Reached as a child of a record the caller already sees; by default the same check.
    fn visible_as_child(&self, ctx: &Context<'_>) -> impl Future<Output = AppResult<bool>> + Send {
        self.visible(ctx)
    }
}

async fn raw<E, V>(ctx: &Context<'_>, id: Uuid) -> AppResult<Option<E::Model>>
where
    E: sea_orm::EntityTrait + Send + Sync,
    E::Model: Clone + Send + Sync + entity::Positional,
    V: Send + Sync + 'static,
{
    Ok(loaders_for(ctx)?.load_one(ById::<(E, V)>::new(id)).await?)
}

pub async fn work_order_visible(ctx: &Context<'_>, wo: &work_orders::Model) -> AppResult<bool> {
    admitted(ctx, wo, &visibility::WORK_ORDER).await
}

/// Whether `rule` admits the caller to what is placed where the work order is and assigned as it is.
async fn admitted(ctx: &Context<'_>, wo: &work_orders::Model, rule: &Rule) -> AppResult<bool> {
    let a = access(ctx);
    let at = Placement::at(Some(wo.location_id));
    if !rule.needs_assignments(a, wo.location_id) {
        return Ok(rule.admits(a, at));
    }
    let mechanics: Vec<Uuid> = loaders_for(ctx)?
        .load_one(MechanicsOf(wo.id))
        .await?
        .unwrap_or_default()
        .iter()
        .map(|m| m.id())
        .collect();
    Ok(rule.admits(
        a,
        Placement {
            assigned: &mechanics,
            ..at
        },
    ))
}

/// Whether, placed at the location of the invoice `id`, `rule` admits the caller (at once for a caller who sees
/// such records everywhere; a missing invoice admits nobody else).
async fn at_invoice(ctx: &Context<'_>, id: Uuid, rule: &Rule) -> AppResult<bool> {
    if rule.sees_everything(access(ctx)) {
        return Ok(true);
    }
    Ok(raw::<invoices::Entity, via::Node>(ctx, id)
        .await?
        .is_some_and(|i| rule.admits(access(ctx), Placement::at(Some(i.location_id)))))
}

async fn invoice_by_id_visible(ctx: &Context<'_>, id: Uuid) -> AppResult<bool> {
    at_invoice(ctx, id, &visibility::INVOICE).await
}

async fn work_order_by_id_visible(ctx: &Context<'_>, id: Uuid) -> AppResult<bool> {
    match raw::<work_orders::Entity, via::Node>(ctx, id).await? {
        Some(wo) => work_order_visible(ctx, &wo).await,
        None => Ok(false),
    }
}

/// Whether, placed at the home location of the customer `id`, `rule` admits the caller (at once for a caller
/// who sees such records everywhere; a missing customer admits nobody else).
async fn at_customer(ctx: &Context<'_>, id: Uuid, rule: &Rule) -> AppResult<bool> {
    if rule.sees_everything(access(ctx)) {
        return Ok(true);
    }
    Ok(raw::<customers::Entity, via::VehicleCustomer>(ctx, id)
        .await?
        .is_some_and(|c| rule.admits(access(ctx), Placement::at(c.home_location_id))))
}

impl Scoped for entity::audit_log::Model {
    async fn visible(&self, ctx: &Context<'_>) -> AppResult<bool> {
        Ok(access(ctx).can(Perm::AuditRead))
    }
}

impl Scoped for locations::Model {
    async fn visible(&self, _: &Context<'_>) -> AppResult<bool> {
        Ok(true)
    }
}

impl Scoped for users::Model {
    async fn visible(&self, ctx: &Context<'_>) -> AppResult<bool> {
        let a = access(ctx);
        Ok(a.can(Perm::UserRead) || a.user_id == Some(self.id))
    }
}

impl Scoped for customers::Model {
    async fn visible(&self, ctx: &Context<'_>) -> AppResult<bool> {
        Ok(visibility::CUSTOMER.admits(access(ctx), Placement::at(self.home_location_id)))
    }
}

impl Scoped for vehicles::Model {
    async fn visible(&self, ctx: &Context<'_>) -> AppResult<bool> {
        at_customer(ctx, self.customer_id, &visibility::VEHICLE).await
    }
}

impl Scoped for work_orders::Model {
    async fn visible(&self, ctx: &Context<'_>) -> AppResult<bool> {
        work_order_visible(ctx, self).await
    }
}

impl Scoped for invoices::Model {
    async fn visible(&self, ctx: &Context<'_>) -> AppResult<bool> {
        Ok(visibility::INVOICE.admits(access(ctx), Placement::at(Some(self.location_id))))
    }
}

/// Records seen exactly when their parent is: reached from it, at once; on their own, through it.
macro_rules! through_parent {
    ($($model:ty => $parent_visible:ident($field:ident)),+ $(,)?) => {$(
        impl Scoped for $model {
            async fn visible(&self, ctx: &Context<'_>) -> AppResult<bool> {
                $parent_visible(ctx, self.$field).await
            }

            async fn visible_as_child(&self, _: &Context<'_>) -> AppResult<bool> {
                Ok(true)
            }
        }
    )+};
}

through_parent!(
    work_order_lines::Model => work_order_by_id_visible(work_order_id),
    work_order_status_changes::Model => work_order_by_id_visible(work_order_id),
    invoice_lines::Model => invoice_by_id_visible(invoice_id),
);

impl Scoped for payments::Model {
    async fn visible(&self, ctx: &Context<'_>) -> AppResult<bool> {
        at_invoice(ctx, self.invoice_id, &visibility::PAYMENT).await
    }
}

impl Scoped for files::Model {
    async fn visible(&self, ctx: &Context<'_>) -> AppResult<bool> {
        let id = self.parent_id;
        match self.parent_type.as_str() {
            "customer" => at_customer(ctx, id, &visibility::file_of(visibility::CUSTOMER)).await,
            "vehicle" => match raw::<vehicles::Entity, via::Node>(ctx, id).await? {
                Some(v) => {
                    at_customer(
                        ctx,
                        v.customer_id,
                        &visibility::file_of(visibility::VEHICLE),
                    )
                    .await
                }
                None => Ok(false),
            },
            "work_order" => match raw::<work_orders::Entity, via::Node>(ctx, id).await? {
                Some(wo) => admitted(ctx, &wo, &visibility::file_of(visibility::WORK_ORDER)).await,
                None => Ok(false),
            },
            "invoice" => at_invoice(ctx, id, &visibility::file_of(visibility::INVOICE)).await,
            _ => Ok(false),
        }
    }
}

/// Before a write: the caller may apply `p` to this customer (live or deleted) in its home location. A customer
/// outside their reach is `not_found`, exactly like a missing one.
pub async fn authorise_customer(ctx: &Context<'_>, id: Uuid, p: Perm) -> AppResult<()> {
    match raw::<customers::Entity, via::Node>(ctx, id).await? {
        Some(c) if access(ctx).can_at(p, c.home_location_id) => Ok(()),
        _ => Err(crate::error::AppError::NotFound),
    }
}

/// Before a write: the caller may apply `p` to this vehicle, through its owner's home location.
pub async fn authorise_vehicle(ctx: &Context<'_>, id: Uuid, p: Perm) -> AppResult<()> {
    match raw::<vehicles::Entity, via::Node>(ctx, id).await? {
        Some(v) => authorise_customer(ctx, v.customer_id, p).await,
        None => Err(crate::error::AppError::NotFound),
    }
}

/// Before a write that places a record in `location`: the caller holds `p` there.
pub fn authorise_location(ctx: &Context<'_>, p: Perm, location: Option<Uuid>) -> AppResult<()> {
    if access(ctx).can_at(p, location) {
        Ok(())
    } else {
        Err(crate::error::AppError::Forbidden)
    }
}

/// Before a write: the caller sees this work order (live or deleted) and holds `p` at its location.
pub async fn authorise_work_order(
    ctx: &Context<'_>,
    id: Uuid,
    p: Perm,
) -> AppResult<work_orders::Model> {
    match raw::<work_orders::Entity, via::Node>(ctx, id).await? {
        Some(wo)
            if access(ctx).can_at(p, Some(wo.location_id))
                && work_order_visible(ctx, &wo).await? =>
        {
            Ok(wo)
        }
        _ => Err(crate::error::AppError::NotFound),
    }
}

/// Before a write: the caller sees this invoice and holds `p` at its location.
pub async fn authorise_invoice(ctx: &Context<'_>, id: Uuid, p: Perm) -> AppResult<invoices::Model> {
    match raw::<invoices::Entity, via::Node>(ctx, id).await? {
        Some(i)
            if access(ctx).can_at(p, Some(i.location_id))
                && access(ctx).can_at(Perm::InvoiceRead, Some(i.location_id)) =>
        {
            Ok(i)
        }
        _ => Err(crate::error::AppError::NotFound),
    }
}
