//! The list queries: Relay connections with filters, a sort and keyset cursors.

// Each argument of a list field is a GraphQL argument; bundling them would change the schema.
#![allow(clippy::too_many_arguments)]

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};

use crate::auth::catalog::Perm;
use crate::auth::guard::{Require, access};
use crate::auth::visibility::{self, Rule};
use crate::db::keyset::PageArgs;
use crate::db::queries::{self, SortBy};
use crate::db::rows::ByPosition;
use crate::domain::{InvoiceStatus, WorkOrderStatus};
use crate::schema::connection::{Conn, connection};
use crate::schema::types::*;
use crate::schema::{ids, state};
use crate::services::reads::{self, Listed, Window};
use crate::services::work_orders::Board;
use crate::services::{customers, invoices, vehicles, work_orders};

#[derive(Default)]
pub struct ListQuery;

/// What a list field asks for: its page within the cap, and whether `totalCount` is selected.
pub(super) fn window(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> Window {
    Window {
        page: PageArgs {
            first,
            after,
            last,
            before,
        },
        max: state(ctx).limits.max_page_size,
        counted: ctx.look_ahead().field("totalCount").exists(),
    }
}

/// What a list that primes its nodes' relations reads with: the database, the caller's access, and what the
/// client selected of each node.
fn reading<'a>(
    ctx: &'a Context<'_>,
) -> (
    &'a crate::db::Db,
    &'a crate::auth::policy::Access,
    async_graphql::Lookahead<'a>,
) {
    let node = ctx.look_ahead().field("edges").field("node");
    (&state(ctx).db, access(ctx), node)
}

/// A page of models as a connection of GraphQL nodes.
pub(super) fn nodes<M, N>(listed: Listed<ByPosition<M>>, node: impl Fn(M) -> N) -> Conn<N>
where
    N: async_graphql::OutputType,
{
    connection(listed, |r: ByPosition<M>| node(r.0))
}

/// Soft-deleted records are listed only on request, and only for those the record's rule lets see them.
fn deleted_allowed(ctx: &Context<'_>, asked: bool, rule: Rule) -> Result<bool> {
    if asked && !rule.may_include_deleted(access(ctx)) {
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
        let f = filter.parse(ctx, include_deleted)?;
        let (w, (db, a, node)) = (window(ctx, first, after, last, before), reading(ctx));
        if Customer::shows_home_or_balance(&node) {
            let l = customers::list_with_home_and_balance(db, a, &f, sort.key(), &w).await?;
            return Customer::connection_with_home_and_balance(ctx, l, node).await;
        }
        let conn = nodes(customers::list(db, a, &f, sort.key(), &w).await?, Customer);
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
        let (f, w) = (
            filter.parse(ctx, include_deleted)?,
            window(ctx, first, after, last, before),
        );
        let l = vehicles::list(&state(ctx).db, access(ctx), &f, sort.key(), &w).await?;
        Ok(nodes(l, Vehicle))
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
        let f = filter.parse(ctx, include_deleted)?;
        let (w, (db, a, node)) = (window(ctx, first, after, last, before), reading(ctx));
        if node.field("customer").exists() || node.field("vehicle").exists() {
            return board(ctx, &f, sort, &w).await;
        }
        let conn = nodes(
            work_orders::list(db, a, &f, sort.key(), &w).await?,
            WorkOrder,
        );
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
        let (f, w) = (filter.parse()?, window(ctx, first, after, last, before));
        let l = invoices::list(&state(ctx).db, access(ctx), &f, sort.key(), &w).await?;
        Ok(nodes(l, Invoice))
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
        let w = window(ctx, first, after, last, before);
        let l = invoices::payments(&state(ctx).db, access(ctx), &f, &w).await?;
        Ok(nodes(l, Payment))
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
            .transpose()?;
        let f = queries::FileFilter {
            parent_id: parent.map(|(_, k)| k),
            include_pending: false,
        };
        let w = window(ctx, first, after, last, before);
        let l = reads::files(&state(ctx).db, access(ctx), &f, &w).await?;
        Ok(nodes(l, File))
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
        let w = window(ctx, first, after, last, before);
        Ok(nodes(reads::locations(&state(ctx).db, &w).await?, Location))
    }
}

/// The board: its cards' customers and vehicles (and mechanics) come with the page.
async fn board(
    ctx: &Context<'_>,
    f: &queries::WorkOrderFilter,
    sort: RecordSort,
    w: &Window,
) -> Result<Conn<WorkOrder>> {
    let (db, a, node) = reading(ctx);
    let mechanics = node.field("mechanics").exists();
    match work_orders::board(db, a, f, sort.key(), w, mechanics).await? {
        Board::Cards(l) => WorkOrder::connection_of_cards(ctx, l, node).await,
        Board::WithParties(l) => WorkOrder::connection_with_parties(ctx, l, node).await,
    }
}

impl CustomerFilter {
    fn parse(self, ctx: &Context<'_>, include_deleted: bool) -> Result<queries::CustomerFilter> {
        Ok(queries::CustomerFilter {
            name_contains: self.name_contains,
            location_id: opt_id(
                "Location",
                self.home_location_id.as_ref(),
                "filter.homeLocationId",
            )?,
            include_deleted: deleted_allowed(ctx, include_deleted, visibility::CUSTOMER)?,
        })
    }
}

impl CustomerSort {
    fn key(self) -> (SortBy, bool) {
        match self {
            Self::NameAsc => (SortBy::Name, false),
            Self::NameDesc => (SortBy::Name, true),
            Self::CreatedAtAsc => (SortBy::CreatedAt, false),
            Self::CreatedAtDesc => (SortBy::CreatedAt, true),
            Self::UpdatedAtDesc => (SortBy::UpdatedAt, true),
        }
    }
}

impl VehicleFilter {
    fn parse(self, ctx: &Context<'_>, include_deleted: bool) -> Result<queries::VehicleFilter> {
        let plate_number = self
            .plate_number
            .map(|p| {
                p.parse::<crate::domain::PlateNumber>()
                    .map(|p| p.into_inner())
            })
            .transpose()
            .map_err(|e| crate::error::AppError::parse("filter.plateNumber", e))?;
        Ok(queries::VehicleFilter {
            customer_id: opt_id("Customer", self.customer_id.as_ref(), "filter.customerId")?,
            vin: self.vin.map(|v| v.trim().to_ascii_uppercase()),
            plate_number,
            include_deleted: deleted_allowed(ctx, include_deleted, visibility::VEHICLE)?,
        })
    }
}

impl WorkOrderFilter {
    fn parse(self, ctx: &Context<'_>, include_deleted: bool) -> Result<queries::WorkOrderFilter> {
        Ok(queries::WorkOrderFilter {
            statuses: self.statuses.iter().map(|s| s.as_str()).collect(),
            location_id: opt_id("Location", self.location_id.as_ref(), "filter.locationId")?,
            customer_id: opt_id("Customer", self.customer_id.as_ref(), "filter.customerId")?,
            vehicle_id: opt_id("Vehicle", self.vehicle_id.as_ref(), "filter.vehicleId")?,
            include_deleted: deleted_allowed(ctx, include_deleted, visibility::WORK_ORDER)?,
        })
    }
}

impl InvoiceFilter {
    fn parse(self) -> Result<queries::InvoiceFilter> {
        Ok(queries::InvoiceFilter {
            statuses: self.statuses.iter().map(|s| s.as_str()).collect(),
            location_id: opt_id("Location", self.location_id.as_ref(), "filter.locationId")?,
            customer_id: opt_id("Customer", self.customer_id.as_ref(), "filter.customerId")?,
            work_order_id: opt_id(
                "WorkOrder",
                self.work_order_id.as_ref(),
                "filter.workOrderId",
            )?,
        })
    }
}
