//! The filtered list queries behind each connection, and the sort orders each list offers.

use entity::{
    api_keys, customers, files, invoices, locations, payments, users, vehicles, work_orders,
};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect, Select};
use uuid::Uuid;

use super::keyset::{KeyKind, SortKey};

/// What a list is ordered by; `descending` flips it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Name,
    CreatedAt,
    UpdatedAt,
    ReceivedAt,
}

fn key<E: EntityTrait>(
    name: &'static str,
    column: E::Column,
    id: E::Column,
    kind: KeyKind,
    descending: bool,
) -> SortKey<E> {
    SortKey {
        name,
        column,
        id,
        kind,
        descending,
    }
}

macro_rules! sort_name {
    ($desc:expr, $asc:literal, $descn:literal) => {
        if $desc { $descn } else { $asc }
    };
}

/// The creation- and change-time orders every business record offers.
fn time_sort<E: EntityTrait>(
    by: SortBy,
    desc: bool,
    created: E::Column,
    updated: E::Column,
    id: E::Column,
) -> SortKey<E> {
    match by {
        SortBy::UpdatedAt => key(
            sort_name!(desc, "updated", "-updated"),
            updated,
            id,
            KeyKind::Time,
            desc,
        ),
        _ => key(
            sort_name!(desc, "created", "-created"),
            created,
            id,
            KeyKind::Time,
            desc,
        ),
    }
}

/// `LIKE '%needle%'` on a column the application stores lower-cased, with the needle's own wildcards escaped:
/// the same matches on both backends, whatever the alphabet.
fn contains_folded(column: impl sea_orm::sea_query::IntoColumnRef, needle: &str) -> Expr {
    let escaped: String = needle
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    Expr::col(column).like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

#[derive(Debug, Default, Clone)]
pub struct CustomerFilter {
    pub name_contains: Option<String>,
    pub location_id: Option<Uuid>,
    pub include_deleted: bool,
}

pub fn customers(f: &CustomerFilter) -> Select<customers::Entity> {
    use customers::Column as C;
    let mut cond = Condition::all();
    if !f.include_deleted {
        cond = cond.add(C::DeletedAt.is_null());
    }
    if let Some(n) = f
        .name_contains
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        cond = cond.add(contains_folded((customers::Entity, C::NameFolded), n));
    }
    if let Some(l) = f.location_id {
        cond = cond.add(C::HomeLocationId.eq(l));
    }
    customers::Entity::find().filter(cond)
}

pub fn customer_sort(by: SortBy, desc: bool) -> SortKey<customers::Entity> {
    use customers::Column as C;
    match by {
        SortBy::Name => key(
            sort_name!(desc, "name", "-name"),
            C::Name,
            C::Id,
            KeyKind::Text,
            desc,
        ),
        _ => time_sort(by, desc, C::CreatedAt, C::UpdatedAt, C::Id),
    }
}

#[derive(Debug, Default, Clone)]
pub struct VehicleFilter {
    pub customer_id: Option<Uuid>,
    pub vin: Option<String>,
    pub plate_number: Option<String>,
    pub include_deleted: bool,
}

pub fn vehicles(f: &VehicleFilter) -> Select<vehicles::Entity> {
    use vehicles::Column as C;
    let mut cond = Condition::all();
    if !f.include_deleted {
        cond = cond.add(C::DeletedAt.is_null());
    }
    if let Some(c) = f.customer_id {
        cond = cond.add(C::CustomerId.eq(c));
    }
    if let Some(v) = &f.vin {
        cond = cond.add(C::Vin.eq(v.clone()));
    }
    if let Some(p) = &f.plate_number {
        cond = cond.add(C::PlateNumber.eq(p.clone()));
    }
    vehicles::Entity::find().filter(cond)
}

pub fn vehicle_sort(by: SortBy, desc: bool) -> SortKey<vehicles::Entity> {
    use vehicles::Column as C;
    time_sort(by, desc, C::CreatedAt, C::UpdatedAt, C::Id)
}

#[derive(Debug, Default, Clone)]
pub struct WorkOrderFilter {
    pub statuses: Vec<&'static str>,
    pub location_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub vehicle_id: Option<Uuid>,
    pub include_deleted: bool,
}

pub fn work_orders(f: &WorkOrderFilter) -> Select<work_orders::Entity> {
    use work_orders::Column as C;
    let mut cond = Condition::all();
    if !f.include_deleted {
        cond = cond.add(C::DeletedAt.is_null());
    }
    if !f.statuses.is_empty() {
        cond = cond.add(C::Status.is_in(f.statuses.iter().copied()));
    }
    if let Some(v) = f.location_id {
        cond = cond.add(C::LocationId.eq(v));
    }
    if let Some(v) = f.customer_id {
        cond = cond.add(C::CustomerId.eq(v));
    }
    if let Some(v) = f.vehicle_id {
        cond = cond.add(C::VehicleId.eq(v));
    }
    work_orders::Entity::find().filter(cond)
}

/// A work order with its customer and vehicle, read by the page's own statement.
pub type WorkOrderWithParties =
    super::rows::WithTwo<work_orders::Model, customers::Model, vehicles::Model>;

/// Joins each work order's customer and vehicle into a page of work orders ([`WorkOrderWithParties`]).
pub fn with_customer_and_vehicle(
    select: Select<work_orders::Entity>,
) -> Result<Select<work_orders::Entity>, sea_orm::DbErr> {
    use work_orders::Column as C;
    super::rows::join_two::<_, customers::Entity, vehicles::Entity>(
        select,
        C::CustomerId,
        C::VehicleId,
    )
}

/// A card of the board: a work order with its customer and vehicle, and the ids of its mechanics in the order
/// they were assigned, all read by the page's own statement ([`with_mechanic_ids`]).
pub struct WorkOrderCard {
    pub parties: WorkOrderWithParties,
    pub mechanics: Vec<Uuid>,
}

impl sea_orm::FromQueryResult for WorkOrderCard {
    fn from_query_result(res: &sea_orm::QueryResult, pre: &str) -> Result<Self, sea_orm::DbErr> {
        use entity::Positional as _;
        let at = work_orders::Model::COLUMNS.len()
            + customers::Model::COLUMNS.len()
            + vehicles::Model::COLUMNS.len();
        Ok(Self {
            parties: WorkOrderWithParties::from_query_result(res, pre)?,
            mechanics: res.try_get_by_index(at)?,
        })
    }
}

impl super::keyset::PageRow<work_orders::Entity> for WorkOrderCard {
    fn record(&self) -> &work_orders::Model {
        &self.parties.row
    }
}

/// Adds to a page of [`with_customer_and_vehicle`] each order's mechanics' ids, as a PostgreSQL array (one
/// index walk per order, where reading the assignments would be a statement of its own); the users themselves
/// come from what the replica remembers of the staff.
pub fn with_mechanic_ids(select: Select<work_orders::Entity>) -> Select<work_orders::Entity> {
    select.expr_as(
        Expr::cust(
            "ARRAY(SELECT m.user_id FROM work_order_mechanics m \
             WHERE m.work_order_id = \"work_orders\".\"id\" ORDER BY m.created_at, m.id)",
        ),
        "mechanic_ids",
    )
}

pub fn work_order_sort(by: SortBy, desc: bool) -> SortKey<work_orders::Entity> {
    use work_orders::Column as C;
    time_sort(by, desc, C::CreatedAt, C::UpdatedAt, C::Id)
}

#[derive(Debug, Default, Clone)]
pub struct InvoiceFilter {
    pub statuses: Vec<&'static str>,
    pub location_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub work_order_id: Option<Uuid>,
}

pub fn invoices(f: &InvoiceFilter) -> Select<invoices::Entity> {
    use invoices::Column as C;
    let mut cond = Condition::all().add(C::DeletedAt.is_null());
    if !f.statuses.is_empty() {
        cond = cond.add(C::Status.is_in(f.statuses.iter().copied()));
    }
    if let Some(v) = f.location_id {
        cond = cond.add(C::LocationId.eq(v));
    }
    if let Some(v) = f.customer_id {
        cond = cond.add(C::CustomerId.eq(v));
    }
    if let Some(v) = f.work_order_id {
        cond = cond.add(C::WorkOrderId.eq(v));
    }
    invoices::Entity::find().filter(cond)
}

pub fn invoice_sort(by: SortBy, desc: bool) -> SortKey<invoices::Entity> {
    use invoices::Column as C;
    time_sort(by, desc, C::CreatedAt, C::UpdatedAt, C::Id)
}

#[derive(Debug, Default, Clone)]
pub struct PaymentFilter {
    pub invoice_id: Option<Uuid>,
}

pub fn payments(f: &PaymentFilter) -> Select<payments::Entity> {
    let mut cond = Condition::all();
    if let Some(v) = f.invoice_id {
        cond = cond.add(payments::Column::InvoiceId.eq(v));
    }
    payments::Entity::find().filter(cond)
}

pub fn payment_sort(desc: bool) -> SortKey<payments::Entity> {
    use payments::Column as C;
    key(
        sort_name!(desc, "received", "-received"),
        C::ReceivedAt,
        C::Id,
        KeyKind::Time,
        desc,
    )
}

#[derive(Debug, Default, Clone)]
pub struct FileFilter {
    pub parent_id: Option<Uuid>,
    pub include_pending: bool,
}

pub fn files(f: &FileFilter) -> Select<files::Entity> {
    use files::Column as C;
    let mut cond = Condition::all().add(C::DeletedAt.is_null());
    if !f.include_pending {
        cond = cond.add(C::Status.eq("ready"));
    }
    if let Some(v) = f.parent_id {
        cond = cond.add(C::ParentId.eq(v));
    }
    files::Entity::find().filter(cond)
}

pub fn file_sort(desc: bool) -> SortKey<files::Entity> {
    use files::Column as C;
    key(
        sort_name!(desc, "created", "-created"),
        C::CreatedAt,
        C::Id,
        KeyKind::Time,
        desc,
    )
}

pub fn locations() -> Select<locations::Entity> {
    locations::Entity::find().filter(locations::Column::DeletedAt.is_null())
}

pub fn location_sort() -> SortKey<locations::Entity> {
    use locations::Column as C;
    key("name", C::Name, C::Id, KeyKind::Text, false)
}

#[derive(Debug, Default)]
pub struct UserFilter {
    pub status: Option<&'static str>,
    /// Part of the name or e-mail, any case.
    pub search: Option<String>,
}

pub fn users(f: &UserFilter) -> Select<users::Entity> {
    use sea_orm::sea_query::Func;
    use users::Column as C;
    let mut q = users::Entity::find().filter(C::DeletedAt.is_null());
    if let Some(s) = f.status {
        q = q.filter(C::Status.eq(s));
    }
    if let Some(term) = f.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let escaped = term.to_lowercase().replace(['%', '_', '\\'], "");
        let pattern = format!("%{escaped}%");
        q = q.filter(
            Condition::any()
                .add(Expr::expr(Func::lower(Expr::col(C::Name))).like(pattern.clone()))
                .add(C::Email.like(pattern)),
        );
    }
    q
}

pub fn user_sort() -> SortKey<users::Entity> {
    use users::Column as C;
    key("name", C::Name, C::Id, KeyKind::Text, false)
}

pub fn api_keys(include_revoked: bool) -> Select<api_keys::Entity> {
    let q = api_keys::Entity::find();
    if include_revoked {
        q
    } else {
        q.filter(api_keys::Column::RevokedAt.is_null())
    }
}

pub fn api_key_sort() -> SortKey<api_keys::Entity> {
    use api_keys::Column as C;
    key("created", C::CreatedAt, C::Id, KeyKind::Time, true)
}

#[derive(Debug, Default)]
pub struct AuditFilter {
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub action: Option<String>,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

pub fn audit_entries(f: &AuditFilter) -> Select<entity::audit_log::Entity> {
    use entity::audit_log::Column as C;
    let mut q = entity::audit_log::Entity::find();
    if let Some(v) = &f.entity_type {
        q = q.filter(C::EntityType.eq(v.as_str()));
    }
    if let Some(v) = f.entity_id {
        q = q.filter(C::EntityId.eq(v));
    }
    if let Some(v) = f.actor_id {
        q = q.filter(C::ActorId.eq(v));
    }
    if let Some(v) = &f.action {
        q = q.filter(C::Action.eq(v.as_str()));
    }
    if let Some(v) = f.since {
        q = q.filter(C::CreatedAt.gte(v));
    }
    if let Some(v) = f.until {
        q = q.filter(C::CreatedAt.lt(v));
    }
    q
}

pub fn audit_sort() -> SortKey<entity::audit_log::Entity> {
    use entity::audit_log::Column as C;
    key("created", C::CreatedAt, C::Id, KeyKind::Time, true)
}
