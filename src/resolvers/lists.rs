//! The list queries: Relay connections with filters, a sort and keyset cursors.

// Each argument of a list field is a GraphQL argument; bundling them would change the schema.
#![allow(clippy::too_many_arguments)]

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};

use crate::auth::catalog::Perm;
use crate::auth::guard::{Require, access};
use crate::auth::visibility::{self, columns};
use crate::config::Backend;
use crate::db::batch;
use crate::db::keyset::{PageArgs, PageRow, SortKey};
use crate::db::queries::{self, SortBy};
use crate::db::rows::ByPosition;
use crate::domain::{InvoiceStatus, WorkOrderStatus};
use crate::schema::connection::{Conn, connection};
use crate::schema::types::*;
use crate::schema::{ids, state};
use crate::services::reads::{self, Listed};
use sea_orm::QueryFilter;

#[derive(Default)]
pub struct ListQuery;

pub(super) fn page(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> PageArgs {
    PageArgs {
        first,
        after,
        last,
        before,
    }
}

/// Runs one page of a list and maps its rows to GraphQL nodes.
pub(super) async fn listed<E, N>(
    ctx: &Context<'_>,
    select: sea_orm::Select<E>,
    sort: &SortKey<E>,
    args: PageArgs,
    node: impl Fn(E::Model) -> N,
) -> Result<Conn<N>>
where
    E: sea_orm::EntityTrait,
    E::Model: Send + Sync + entity::Positional,
    N: async_graphql::OutputType,
{
    let l = page_of(ctx, select, Ok, sort, &args).await?;
    Ok(connection(l, |r: ByPosition<E::Model>| node(r.0)))
}

/// One page of a list with what `join` reads beside its rows, within the page-size cap, counted in the same
/// statement when the client selected `totalCount`.
async fn page_of<E, R>(
    ctx: &Context<'_>,
    select: sea_orm::Select<E>,
    join: impl FnOnce(sea_orm::Select<E>) -> Result<sea_orm::Select<E>, sea_orm::DbErr>,
    sort: &SortKey<E>,
    args: &PageArgs,
) -> Result<Listed<R>>
where
    E: sea_orm::EntityTrait,
    R: PageRow<E>,
{
    let s = state(ctx);
    let counted = ctx.look_ahead().field("totalCount").exists();
    Ok(reads::list(
        &s.db,
        select,
        join,
        sort,
        args,
        s.limits.max_page_size,
        counted,
    )
    .await?)
}

/// Soft-deleted records are listed only on request, and only for those who may delete and restore them.
fn deleted_allowed(ctx: &Context<'_>, asked: bool, p: Perm) -> Result<bool> {
    if asked && !access(ctx).can(p) {
        return Err(crate::error::AppError::Forbidden.into());
    }
    Ok(asked)
}

fn opt_id(kind: &str, id: Option<&ID>, field: &str) -> Result<Option<uuid::Uuid>> {
    Ok(id.map(|i| ids::decode_as(kind, i, field)).transpose()?)
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum CustomerSort {
    #[default]
    NameAsc,
    NameDesc,
    CreatedAtAsc,
    CreatedAtDesc,
    UpdatedAtDesc,
}

#[derive(InputObject, Default)]
pub struct CustomerFilter {
    /// Case-insensitive part of the name.
    pub name_contains: Option<String>,
    pub home_location_id: Option<ID>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum RecordSort {
    #[default]
    CreatedAtDesc,
    CreatedAtAsc,
    UpdatedAtDesc,
    UpdatedAtAsc,
}

impl RecordSort {
    fn key(self) -> (SortBy, bool) {
        match self {
            Self::CreatedAtDesc => (SortBy::CreatedAt, true),
            Self::CreatedAtAsc => (SortBy::CreatedAt, false),
            Self::UpdatedAtDesc => (SortBy::UpdatedAt, true),
            Self::UpdatedAtAsc => (SortBy::UpdatedAt, false),
        }
    }
}

#[derive(InputObject, Default)]
pub struct VehicleFilter {
    pub customer_id: Option<ID>,
    /// The full VIN.
    pub vin: Option<String>,
    /// Any spelling: spaces and dashes are ignored.
    pub plate_number: Option<String>,
}

#[derive(InputObject, Default)]
pub struct WorkOrderFilter {
    /// Any of these statuses; all when empty.
    #[graphql(default)]
    pub statuses: Vec<WorkOrderStatus>,
    pub location_id: Option<ID>,
    pub customer_id: Option<ID>,
    pub vehicle_id: Option<ID>,
}

#[derive(InputObject, Default)]
pub struct InvoiceFilter {
    #[graphql(default)]
    pub statuses: Vec<InvoiceStatus>,
    pub location_id: Option<ID>,
    pub customer_id: Option<ID>,
    pub work_order_id: Option<ID>,
}

#[Object]
impl ListQuery {
    #[graphql(
        guard = "Require::perm(Perm::CustomerRead)",
        complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn customers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] filter: CustomerFilter,
        #[graphql(
            default,
            desc = "Include soft-deleted records (needs the delete permission)."
        )]
        include_deleted: bool,
        #[graphql(default)] sort: CustomerSort,
    ) -> Result<Conn<Customer>> {
        let f = queries::CustomerFilter {
            name_contains: filter.name_contains,
            location_id: opt_id(
                "Location",
                filter.home_location_id.as_ref(),
                "filter.homeLocationId",
            )?,
            include_deleted: deleted_allowed(ctx, include_deleted, Perm::CustomerDelete)?,
        };
        let (by, desc) = match sort {
            CustomerSort::NameAsc => (SortBy::Name, false),
            CustomerSort::NameDesc => (SortBy::Name, true),
            CustomerSort::CreatedAtAsc => (SortBy::CreatedAt, false),
            CustomerSort::CreatedAtDesc => (SortBy::CreatedAt, true),
            CustomerSort::UpdatedAtDesc => (SortBy::UpdatedAt, true),
        };
        let select = queries::customers(&f)
            .filter(visibility::CUSTOMER.condition(access(ctx), &columns::customers()));
        let sort = queries::customer_sort(by, desc);
        let args = page(first, after, last, before);
        let node = ctx.look_ahead().field("edges").field("node");
        if Customer::shows_home_or_balance(&node) {
            let l = page_of(ctx, select, batch::with_home_and_balance, &sort, &args).await?;
            return Customer::connection_with_home_and_balance(ctx, l, node).await;
        }
        let conn = listed(ctx, select, &sort, args, Customer).await?;
        let rows: Vec<_> = conn.edges.iter().map(|e| &e.node.0).collect();
        Customer::prime_list(ctx, &rows, node).await?;
        Ok(conn)
    }

    #[graphql(
        guard = "Require::perm(Perm::VehicleRead)",
        complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn vehicles(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] filter: VehicleFilter,
        #[graphql(
            default,
            desc = "Include soft-deleted records (needs the delete permission)."
        )]
        include_deleted: bool,
        #[graphql(default)] sort: RecordSort,
    ) -> Result<Conn<Vehicle>> {
        let f = queries::VehicleFilter {
            customer_id: opt_id("Customer", filter.customer_id.as_ref(), "filter.customerId")?,
            vin: filter.vin.map(|v| v.trim().to_ascii_uppercase()),
            plate_number: filter
                .plate_number
                .map(|p| {
                    p.parse::<crate::domain::PlateNumber>()
                        .map(|p| p.into_inner())
                })
                .transpose()
                .map_err(|e| crate::error::AppError::parse("filter.plateNumber", e))?,
            include_deleted: deleted_allowed(ctx, include_deleted, Perm::VehicleDelete)?,
        };
        let (by, desc) = sort.key();
        listed(
            ctx,
            queries::vehicles(&f)
                .filter(visibility::VEHICLE.condition(access(ctx), &columns::vehicles())),
            &queries::vehicle_sort(by, desc),
            page(first, after, last, before),
            Vehicle,
        )
        .await
    }

    #[graphql(
        guard = "Require::either(Perm::WorkOrderRead, Perm::WorkOrderReadAssigned)",
        complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn work_orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] filter: WorkOrderFilter,
        #[graphql(
            default,
            desc = "Include soft-deleted records (needs the delete permission)."
        )]
        include_deleted: bool,
        #[graphql(default)] sort: RecordSort,
    ) -> Result<Conn<WorkOrder>> {
        let f = queries::WorkOrderFilter {
            statuses: filter.statuses.iter().map(|s| s.as_str()).collect(),
            location_id: opt_id("Location", filter.location_id.as_ref(), "filter.locationId")?,
            customer_id: opt_id("Customer", filter.customer_id.as_ref(), "filter.customerId")?,
            vehicle_id: opt_id("Vehicle", filter.vehicle_id.as_ref(), "filter.vehicleId")?,
            include_deleted: deleted_allowed(ctx, include_deleted, Perm::WorkOrderDelete)?,
        };
        let (by, desc) = sort.key();
        let select = queries::work_orders(&f)
            .filter(visibility::WORK_ORDER.condition(access(ctx), &columns::work_orders()));
        let sort = queries::work_order_sort(by, desc);
        let args = page(first, after, last, before);
        let node = ctx.look_ahead().field("edges").field("node");
        if node.field("customer").exists() || node.field("vehicle").exists() {
            // The board: its cards' customers and vehicles come with the page, in its statement, and on
            // PostgreSQL their mechanics' ids too.
            if node.field("mechanics").exists() && state(ctx).db.backend == Backend::Postgres {
                let join = |s| {
                    Ok(queries::with_mechanic_ids(
                        queries::with_customer_and_vehicle(s)?,
                    ))
                };
                let l = page_of(ctx, select, join, &sort, &args).await?;
                return WorkOrder::connection_of_cards(ctx, l, node).await;
            }
            let l = page_of(
                ctx,
                select,
                queries::with_customer_and_vehicle,
                &sort,
                &args,
            )
            .await?;
            return WorkOrder::connection_with_parties(ctx, l, node).await;
        }
        let conn = listed(ctx, select, &sort, args, WorkOrder).await?;
        let rows: Vec<_> = conn.edges.iter().map(|e| &e.node.0).collect();
        WorkOrder::prime_list(ctx, &rows, node).await?;
        Ok(conn)
    }

    #[graphql(
        guard = "Require::perm(Perm::InvoiceRead)",
        complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] filter: InvoiceFilter,
        #[graphql(default)] sort: RecordSort,
    ) -> Result<Conn<Invoice>> {
        let f = queries::InvoiceFilter {
            statuses: filter.statuses.iter().map(|s| s.as_str()).collect(),
            location_id: opt_id("Location", filter.location_id.as_ref(), "filter.locationId")?,
            customer_id: opt_id("Customer", filter.customer_id.as_ref(), "filter.customerId")?,
            work_order_id: opt_id(
                "WorkOrder",
                filter.work_order_id.as_ref(),
                "filter.workOrderId",
            )?,
        };
        let (by, desc) = sort.key();
        listed(
            ctx,
            queries::invoices(&f)
                .filter(visibility::INVOICE.condition(access(ctx), &columns::invoices())),
            &queries::invoice_sort(by, desc),
            page(first, after, last, before),
            Invoice,
        )
        .await
    }

    /// Payments and refunds, newest first.
    #[graphql(
        guard = "Require::perm(Perm::PaymentRead)",
        complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn payments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        invoice_id: Option<ID>,
    ) -> Result<Conn<Payment>> {
        let f = queries::PaymentFilter {
            invoice_id: opt_id("Invoice", invoice_id.as_ref(), "invoiceId")?,
        };
        listed(
            ctx,
            queries::payments(&f)
                .filter(visibility::PAYMENT.condition(access(ctx), &columns::payments())),
            &queries::payment_sort(true),
            page(first, after, last, before),
            Payment,
        )
        .await
    }

    /// File metadata, newest first.
    #[graphql(
        guard = "Require::perm(Perm::FileRead)",
        complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn files(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(desc = "The record the files are attached to.")] parent_id: Option<ID>,
    ) -> Result<Conn<File>> {
        let parent = parent_id
            .as_ref()
            .map(|i| ids::decode(i, "parentId"))
            .transpose()?
            .map(|(_, k)| k);
        let f = queries::FileFilter {
            parent_id: parent,
            include_pending: false,
        };
        // Files are scoped through what they are attached to: beyond "everywhere", name a parent you can see.
        let everywhere = access(ctx).everywhere(Perm::FileRead);
        let parent_visible = match &parent_id {
            Some(id) => super::node::find(ctx, id).await?.is_some(),
            None => false,
        };
        let select = if everywhere || parent_visible {
            queries::files(&f)
        } else {
            queries::files(&f).filter(visibility::nothing())
        };
        listed(
            ctx,
            select,
            &queries::file_sort(true),
            page(first, after, last, before),
            File,
        )
        .await
    }

    #[graphql(
        guard = "Require::signed_in()",
        complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn locations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Conn<Location>> {
        listed(
            ctx,
            queries::locations(),
            &queries::location_sort(),
            page(first, after, last, before),
            Location,
        )
        .await
    }
}
