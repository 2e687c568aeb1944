//! The object types the SPA reads, each mapped from its entity; relations resolve through the DataLoader.

use async_graphql::{Context, ID, Interface, Lookahead, Object, Result};
use chrono::{DateTime, Utc};
use entity::{
    customers, files, invoice_lines, invoices, locations, payments, users, vehicles,
    work_order_lines, work_order_status_changes, work_orders,
};

use super::loaders::*;
use super::{children, ids, load, newest, prime};
use crate::auth::catalog::Perm;
use crate::db::batch::CustomerWith;
use crate::db::keyset::Page;
use crate::db::queries::{WorkOrderCard, WorkOrderWithParties};
use crate::domain::{
    ApprovalMethod, CustomerKind, FileStatus, InvoiceStatus, LineKind, Money, Quantity, TaxRate,
    UserStatus, WorkOrderStatus,
};
use crate::error::AppError;
use crate::error::corrupt;
use crate::schema::connection::{Conn, connection};
use crate::schema::scope::authorise_location;
use crate::services::reads::Listed;
use std::collections::HashMap;

/// Any object with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "The object's opaque global id."))]
pub enum Node {
    Location(Location),
    User(User),
    Customer(Customer),
    Vehicle(Vehicle),
    WorkOrder(WorkOrder),
    WorkOrderLine(WorkOrderLine),
    Invoice(Invoice),
    InvoiceLine(InvoiceLine),
    Payment(Payment),
    File(File),
}

/// A work order's money, for those who may see prices (at `location`, or anywhere when it is not known).
fn priced(ctx: &Context<'_>, location: Option<uuid::Uuid>, minor: i64) -> Result<Option<Money>> {
    authorise_location(ctx, Perm::WorkOrderReadPrices, location)?;
    Ok(Some(Money::from_minor(minor)))
}

fn stored<T>(what: &str, value: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    parse(value).ok_or_else(|| corrupt(what, value).into())
}

fn small(what: &str, v: i64) -> Result<i32> {
    i32::try_from(v).map_err(|_| corrupt(what, &v.to_string()).into())
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A shop branch.
pub struct Location(pub locations::Model);

#[Object]
impl Location {
    async fn id(&self) -> ID {
        ids::encode("Location", self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    /// IANA time zone of the branch, e.g. `Europe/Berlin`.
    async fn timezone(&self) -> &str {
        &self.0.timezone
    }
}

/// One audit entry: who did what to which record, when and from where, and what changed.
pub struct AuditEntry(pub entity::audit_log::Model);

#[Object]
impl AuditEntry {
    async fn id(&self) -> ID {
        ids::encode("AuditEntry", self.0.id)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The user or API key that acted; null for the system.
    async fn actor_id(&self) -> Option<uuid::Uuid> {
        self.0.actor_id
    }
    async fn actor_ip(&self) -> Option<&str> {
        self.0.actor_ip.as_deref()
    }
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }
    async fn entity_type(&self) -> &str {
        &self.0.entity_type
    }
    async fn entity_id(&self) -> Option<uuid::Uuid> {
        self.0.entity_id
    }
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// `{"before": {...}, "after": {...}}` with the fields that changed (secrets shown as `***`).
    async fn diff(&self) -> Option<async_graphql::Json<serde_json::Value>> {
        self.0.diff.clone().map(async_graphql::Json)
    }
}

/// A record's audit entries, newest first; the owner's "history" panel.
async fn history(ctx: &Context<'_>, id: uuid::Uuid, limit: i32) -> Result<Vec<AuditEntry>> {
    Ok(newest::<HistoryOf>(ctx, id, limit.clamp(0, 100))
        .await?
        .into_iter()
        .map(AuditEntry)
        .collect())
}

/// A member of staff: the whole row, or what the staff cache keeps of it (the board's mechanics), whose other
/// fields are read when a client asks for them.
pub struct User(pub UserRow);

impl User {
    pub fn full(u: users::Model) -> Self {
        User(UserRow::Full(u))
    }

    /// The whole row.
    async fn row(&self, ctx: &Context<'_>) -> Result<std::borrow::Cow<'_, users::Model>> {
        match &self.0 {
            UserRow::Full(u) => Ok(std::borrow::Cow::Borrowed(u)),
            UserRow::Card(c) => {
                let key = ById::<(users::Entity, via::Node)>::new(c.id);
                let u = Box::pin(super::loaders_for(ctx)?.load_one(key))
                    .await
                    .map_err(AppError::from)?
                    .ok_or(AppError::NotFound)?;
                Ok(std::borrow::Cow::Owned(u))
            }
        }
    }
}

#[Object]
impl User {
    async fn id(&self) -> ID {
        ids::encode("User", self.0.id())
    }
    async fn name(&self) -> &str {
        match &self.0 {
            UserRow::Full(u) => &u.name,
            UserRow::Card(c) => &c.name,
        }
    }
    async fn email(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(self.row(ctx).await?.email.clone())
    }
    /// A new e-mail waiting for its owner to confirm it through the link sent there; until then sign-in and
    /// password resets use `email`.
    async fn pending_email(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.row(ctx).await?.pending_email.clone())
    }
    async fn status(&self) -> Result<UserStatus> {
        let status = match &self.0 {
            UserRow::Full(u) => &u.status,
            UserRow::Card(c) => &c.status,
        };
        stored("user status", status, UserStatus::from_stored)
    }
    async fn last_login_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(self.row(ctx).await?.last_login_at)
    }
    async fn phone(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.row(ctx).await?.phone.clone())
    }
    /// Whether sign-in asks for a code from an authenticator app.
    async fn two_factor_enabled(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.row(ctx).await?.totp_enabled)
    }
    /// An invited user who has not chosen a password yet.
    async fn invitation_pending(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.row(ctx).await?.password_hash.is_none())
    }
    async fn created_at(&self, ctx: &Context<'_>) -> Result<DateTime<Utc>> {
        Ok(self.row(ctx).await?.created_at)
    }
    /// Name this version when changing the user.
    async fn version(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(self.row(ctx).await?.version)
    }
}

/// An integration's key. Its secret was shown once, when it was made; only its first characters are kept.
pub struct ApiKey(pub entity::api_keys::Model);

#[Object]
impl ApiKey {
    async fn id(&self) -> ID {
        ids::encode("ApiKey", self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The role the key acts with.
    async fn role(&self) -> &str {
        &self.0.role
    }
    /// The secret's first characters, to tell keys apart.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}

/// A person or company the shop serves.
pub struct Customer(pub customers::Model);

/// How many recent work orders or invoices the customer card shows unless it asks for another number.
const RECENT: i32 = 10;

/// Primes the newest children through `R` that the client asked of `field`, once per distinct `limit` (see
/// [`prime`]); a size the field's own validation will refuse is left to it.
async fn prime_newest<R: HasMany>(
    ctx: &Context<'_>,
    node: &Lookahead<'_>,
    field: &str,
    parents: &[uuid::Uuid],
) -> Result<(), AppError> {
    let mut limits: Vec<u64> = node
        .field(field)
        .selection_fields()
        .iter()
        .filter_map(|f| {
            let args = f.arguments().ok()?;
            let limit = match args.iter().find(|(name, _)| name.as_str() == "limit") {
                Some((_, async_graphql::Value::Number(n))) => n.as_u64()?,
                Some(_) => return None,
                None => u64::try_from(RECENT).ok()?,
            };
            // The fields' own maximum.
            (limit <= 50).then_some(limit)
        })
        .collect();
    limits.sort_unstable();
    limits.dedup();
    for limit in limits {
        prime(ctx, parents.iter().map(|id| NewestOf::<R>::new(*id, limit))).await?;
    }
    Ok(())
}

impl Customer {
    /// Reads customers by id for `node`/`nodes` into the request's loaders, with their home branch and balance in
    /// the same statement when the client selected either, and primes the rest of what it selected.
    pub async fn prime_by_ids(
        ctx: &Context<'_>,
        ids: &[uuid::Uuid],
        node: Lookahead<'_>,
    ) -> Result<()> {
        if !Self::shows_home_or_balance(&node) {
            let found = prime(
                ctx,
                ids.iter()
                    .map(|k| ById::<(customers::Entity, via::Node)>::new(*k)),
            )
            .await?;
            let live: Vec<_> = found.values().filter(|m| m.deleted_at.is_none()).collect();
            return Self::prime_list(ctx, &live, node).await;
        }
        let loaders = super::loaders_for(ctx)?;
        let found = loaders
            .loader()
            .customers_with(ids)
            .await
            .map_err(AppError::from)?;
        let mut customers = Vec::with_capacity(found.len());
        let beside = found
            .into_iter()
            .map(|r| {
                let id = r.customer.id;
                customers.push(r.customer);
                (id, r.home, r.due)
            })
            .collect();
        Self::feed_beside(ctx, beside).await?;
        let live: Vec<_> = customers
            .iter()
            .filter(|m| m.deleted_at.is_none())
            .collect();
        Self::prime_relations(ctx, &live, node, false).await?;
        loaders
            .feed_many(
                customers
                    .into_iter()
                    .map(|m| (ById::<(customers::Entity, via::Node)>::new(m.id), m)),
            )
            .await;
        Ok(())
    }

    /// A page of customers read with their home branch and balance ([`CustomerWith`]): those go to the request's
    /// loaders, and the rest of what the rows ask for is primed.
    pub async fn connection_with_home_and_balance(
        ctx: &Context<'_>,
        listed: Listed<CustomerWith>,
        node: Lookahead<'_>,
    ) -> Result<Conn<Customer>> {
        let mut beside = Vec::new();
        let conn = connection(listed, |r: CustomerWith| {
            beside.push((r.customer.id, r.home, r.due));
            Customer(r.customer)
        });
        Self::feed_beside(ctx, beside).await?;
        let rows: Vec<_> = conn.edges.iter().map(|e| &e.node.0).collect();
        Self::prime_relations(ctx, &rows, node, false).await?;
        Ok(conn)
    }

    /// Whether the client selected what [`CustomerWith`] reads beside a customer.
    pub fn shows_home_or_balance(node: &Lookahead<'_>) -> bool {
        node.field("homeLocation").exists() || node.field("balanceDue").exists()
    }

    /// Gives the request's loaders the home branches and balances read beside the customers (by customer id).
    async fn feed_beside(
        ctx: &Context<'_>,
        beside: Vec<(uuid::Uuid, Option<locations::Model>, i64)>,
    ) -> Result<()> {
        let mut homes = HashMap::new();
        let mut balances = HashMap::with_capacity(beside.len());
        for (customer, home, due) in beside {
            if let Some(l) = home {
                homes.insert(
                    ById::<(locations::Entity, via::CustomerHomeLocation)>::new(l.id),
                    l,
                );
            }
            balances.insert(BalanceDue(customer), due);
        }
        let loaders = super::loaders_for(ctx)?;
        loaders.feed_many(homes).await;
        loaders.feed_many(balances).await;
        Ok(())
    }

    /// Primes the relations a list of customers will ask for (see [`prime`]).
    pub async fn prime_list(
        ctx: &Context<'_>,
        rows: &[&customers::Model],
        node: Lookahead<'_>,
    ) -> Result<()> {
        Self::prime_relations(ctx, rows, node, true).await
    }

    /// `with_home_and_balance`: whether the home branch and the balance are still to be read (not read beside the
    /// rows).
    async fn prime_relations(
        ctx: &Context<'_>,
        rows: &[&customers::Model],
        node: Lookahead<'_>,
        with_home_and_balance: bool,
    ) -> Result<()> {
        let ids = || rows.iter().map(|r| r.id);
        let vehicles = async {
            if node.field("vehicles").exists() {
                let owned = prime(ctx, ids().map(ChildrenOf::<VehiclesOfCustomer>::new)).await?;
                // A recent order's vehicle is nearly always one the customer owns: found among those, it
                // costs no statement of its own (a vehicle since sold is still loaded by id).
                if node.field("recentWorkOrders").field("vehicle").exists() {
                    let known = owned.into_values().flatten().map(|v| {
                        (
                            ById::<(vehicles::Entity, via::WorkOrderVehicle)>::new(v.id),
                            v,
                        )
                    });
                    super::loaders_for(ctx)?.feed_many(known).await;
                }
            }
            Ok::<_, AppError>(())
        };
        let balances = async {
            if with_home_and_balance && node.field("balanceDue").exists() {
                prime(ctx, ids().map(BalanceDue)).await?;
            }
            Ok(())
        };
        // The card's history, read now beside the rest instead of after a loader's wait.
        let parents: Vec<_> = ids().collect();
        let recent_orders =
            prime_newest::<WorkOrdersOfCustomer>(ctx, &node, "recentWorkOrders", &parents);
        let recent_invoices =
            prime_newest::<InvoicesOfCustomer>(ctx, &node, "recentInvoices", &parents);
        let locations = async {
            let keys = rows.iter().filter_map(|r| r.home_location_id);
            if with_home_and_balance && node.field("homeLocation").exists() {
                prime(
                    ctx,
                    keys.map(ById::<(locations::Entity, via::CustomerHomeLocation)>::new),
                )
                .await?;
            }
            Ok(())
        };
        futures_util::try_join!(
            vehicles,
            balances,
            locations,
            recent_orders,
            recent_invoices
        )?;
        Ok(())
    }
}

#[Object]
impl Customer {
    /// Who changed this record and how, newest first.
    #[graphql(guard = "crate::auth::guard::Require::perm(Perm::AuditRead)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] limit: i32,
    ) -> Result<Vec<AuditEntry>> {
        history(ctx, self.0.id, limit).await
    }
    async fn id(&self) -> ID {
        ids::encode("Customer", self.0.id)
    }
    async fn kind(&self) -> Result<CustomerKind> {
        stored("customer kind", &self.0.kind, CustomerKind::from_stored)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Phone numbers, normalised to digits with an optional leading `+`. Null, with a `forbidden` error, for
    /// those without `customer:read_contact`.
    async fn phones(&self, ctx: &Context<'_>) -> Result<Option<Vec<String>>> {
        authorise_location(ctx, Perm::CustomerReadContact, self.0.home_location_id)?;
        Ok(Some(strings(&self.0.phones)))
    }
    /// Null, with a `forbidden` error, for those without `customer:read_contact`.
    async fn emails(&self, ctx: &Context<'_>) -> Result<Option<Vec<String>>> {
        authorise_location(ctx, Perm::CustomerReadContact, self.0.home_location_id)?;
        Ok(Some(strings(&self.0.emails)))
    }
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    async fn marketing_consent(&self) -> bool {
        self.0.marketing_consent
    }
    async fn home_location(&self, ctx: &Context<'_>) -> Result<Option<Location>> {
        let Some(id) = self.0.home_location_id else {
            return Ok(None);
        };
        Ok(
            load::<locations::Entity, via::CustomerHomeLocation>(ctx, id)
                .await?
                .map(Location),
        )
    }
    /// The customer's vehicles, oldest first.
    async fn vehicles(&self, ctx: &Context<'_>) -> Result<Vec<Vehicle>> {
        Ok(children::<VehiclesOfCustomer>(ctx, self.0.id)
            .await?
            .into_iter()
            .map(Vehicle)
            .collect())
    }
    /// The newest work orders, for the customer card's history.
    #[graphql(complexity = "(limit.max(0) as usize) * child_complexity")]
    async fn recent_work_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "RECENT", validator(minimum = 0, maximum = 50))] limit: i32,
    ) -> Result<Vec<WorkOrder>> {
        Ok(newest::<WorkOrdersOfCustomer>(ctx, self.0.id, limit)
            .await?
            .into_iter()
            .map(WorkOrder)
            .collect())
    }
    #[graphql(complexity = "(limit.max(0) as usize) * child_complexity")]
    async fn recent_invoices(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "RECENT", validator(minimum = 0, maximum = 50))] limit: i32,
    ) -> Result<Vec<Invoice>> {
        Ok(newest::<InvoicesOfCustomer>(ctx, self.0.id, limit)
            .await?
            .into_iter()
            .map(Invoice)
            .collect())
    }
    /// What the customer still owes on issued invoices; null, with a `forbidden` error, without `invoice:read`.
    async fn balance_due(&self, ctx: &Context<'_>) -> Result<Option<Money>> {
        authorise_location(ctx, Perm::InvoiceRead, self.0.home_location_id)?;
        // Boxed, like every relation's load (see `schema::load`).
        let due = Box::pin(super::loaders_for(ctx)?.load_one(BalanceDue(self.0.id)))
            .await
            .map_err(AppError::from)?;
        Ok(Some(Money::from_minor(due.unwrap_or(0))))
    }
    /// Its photos and documents, newest first.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn files(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default)] filter: FileFilter,
    ) -> Result<Conn<File>> {
        let rows = children::<FilesOfCustomer>(ctx, self.0.id).await?;
        file_page(ctx, rows, first, after, &filter)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.0.deleted_at
    }
    /// Send it back with an update: a stale version is refused with `conflict`.
    async fn version(&self) -> i32 {
        self.0.version
    }
}

/// A customer's vehicle.
pub struct Vehicle(pub vehicles::Model);

#[Object]
impl Vehicle {
    /// Who changed this record and how, newest first.
    #[graphql(guard = "crate::auth::guard::Require::perm(Perm::AuditRead)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] limit: i32,
    ) -> Result<Vec<AuditEntry>> {
        history(ctx, self.0.id, limit).await
    }
    async fn id(&self) -> ID {
        ids::encode("Vehicle", self.0.id)
    }
    async fn vin(&self) -> Option<&str> {
        self.0.vin.as_deref()
    }
    /// Normalised: upper case, no spaces or dashes.
    async fn plate_number(&self) -> Option<&str> {
        self.0.plate_number.as_deref()
    }
    async fn make(&self) -> Option<&str> {
        self.0.make.as_deref()
    }
    async fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }
    async fn year(&self) -> Option<i32> {
        self.0.year
    }
    async fn engine(&self) -> Option<&str> {
        self.0.engine.as_deref()
    }
    async fn colour(&self) -> Option<&str> {
        self.0.colour.as_deref()
    }
    /// The latest odometer reading, in kilometres.
    async fn odometer_km(&self) -> Result<Option<i32>> {
        self.0.odometer_km.map(|v| small("odometer", v)).transpose()
    }
    async fn customer(&self, ctx: &Context<'_>) -> Result<Option<Customer>> {
        Ok(
            load::<customers::Entity, via::VehicleCustomer>(ctx, self.0.customer_id)
                .await?
                .map(Customer),
        )
    }
    #[graphql(complexity = "(limit.max(0) as usize) * child_complexity")]
    async fn recent_work_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10, validator(minimum = 0, maximum = 50))] limit: i32,
    ) -> Result<Vec<WorkOrder>> {
        Ok(newest::<WorkOrdersOfVehicle>(ctx, self.0.id, limit)
            .await?
            .into_iter()
            .map(WorkOrder)
            .collect())
    }
    /// Its photos and documents, newest first.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn files(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default)] filter: FileFilter,
    ) -> Result<Conn<File>> {
        let rows = children::<FilesOfVehicle>(ctx, self.0.id).await?;
        file_page(ctx, rows, first, after, &filter)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.0.deleted_at
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
}

/// A repair order.
pub struct WorkOrder(pub work_orders::Model);

/// What a page of work orders already brought to the request's loaders, read by its own statement.
#[derive(Clone, Copy, Default)]
struct Known {
    /// Each order's customer and vehicle.
    parties: bool,
    /// Each order's mechanics.
    mechanics: bool,
}

impl WorkOrder {
    /// Primes the relations a list of work orders will ask for (see [`prime`]), all batches at once.
    pub async fn prime_list(
        ctx: &Context<'_>,
        rows: &[&work_orders::Model],
        node: Lookahead<'_>,
    ) -> Result<()> {
        Self::prime_except(ctx, rows, node, Known::default()).await
    }

    /// A page of board cards ([`WorkOrderCard`]): each card's mechanics go to the request's loaders, found among
    /// the staff this replica remembers (or read in one statement), and the rest as
    /// [`Self::connection_with_parties`].
    pub async fn connection_of_cards(
        ctx: &Context<'_>,
        listed: Listed<WorkOrderCard>,
        node: Lookahead<'_>,
    ) -> Result<Conn<WorkOrder>> {
        let loaders = super::loaders_for(ctx)?;
        let ids: Vec<_> = listed
            .page
            .rows
            .iter()
            .flat_map(|(_, c)| c.mechanics.iter().copied())
            .collect();
        let staff = loaders.loader().staff(&ids).await.map_err(AppError::from)?;
        let Listed { page, count } = listed;
        let mut assigned = HashMap::with_capacity(page.rows.len());
        let rows = page
            .rows
            .into_iter()
            .map(|(cursor, card)| {
                let users = card
                    .mechanics
                    .iter()
                    .filter_map(|id| staff.get(id).cloned().map(UserRow::Card));
                assigned.insert(MechanicsOf(card.parties.row.id), users.collect());
                (cursor, card.parties)
            })
            .collect();
        loaders.feed_many(assigned).await;
        let page = Page {
            rows,
            has_previous_page: page.has_previous_page,
            has_next_page: page.has_next_page,
        };
        Self::with_parties(ctx, Listed { page, count }, node, true).await
    }

    /// A page of work orders read with their customers and vehicles: those go to the request's loaders, where
    /// the cards' `customer` and `vehicle` fields find them, and the rest of what the cards ask for is primed.
    pub async fn connection_with_parties(
        ctx: &Context<'_>,
        listed: Listed<WorkOrderWithParties>,
        node: Lookahead<'_>,
    ) -> Result<Conn<WorkOrder>> {
        Self::with_parties(ctx, listed, node, false).await
    }

    async fn with_parties(
        ctx: &Context<'_>,
        listed: Listed<WorkOrderWithParties>,
        node: Lookahead<'_>,
        mechanics_known: bool,
    ) -> Result<Conn<WorkOrder>> {
        let mut customers = HashMap::new();
        let mut vehicles = HashMap::new();
        let conn = connection(listed, |r| {
            customers.insert(
                ById::<(customers::Entity, via::WorkOrderCustomer)>::new(r.first.id),
                r.first,
            );
            vehicles.insert(
                ById::<(vehicles::Entity, via::WorkOrderVehicle)>::new(r.second.id),
                r.second,
            );
            WorkOrder(r.row)
        });
        let loaders = super::loaders_for(ctx)?;
        loaders.feed_many(customers).await;
        loaders.feed_many(vehicles).await;
        let rows: Vec<_> = conn.edges.iter().map(|e| &e.node.0).collect();
        let known = Known {
            parties: true,
            mechanics: mechanics_known,
        };
        Self::prime_except(ctx, &rows, node, known).await?;
        Ok(conn)
    }

    async fn prime_except(
        ctx: &Context<'_>,
        rows: &[&work_orders::Model],
        node: Lookahead<'_>,
        known: Known,
    ) -> Result<()> {
        let ids = || rows.iter().map(|r| r.id);
        let customers = async {
            if !known.parties && node.field("customer").exists() {
                let keys = rows.iter().map(|r| {
                    ById::<(customers::Entity, via::WorkOrderCustomer)>::new(r.customer_id)
                });
                prime(ctx, keys).await?;
            }
            Ok::<_, AppError>(())
        };
        let vehicles = async {
            if !known.parties && node.field("vehicle").exists() {
                let keys = rows
                    .iter()
                    .map(|r| ById::<(vehicles::Entity, via::WorkOrderVehicle)>::new(r.vehicle_id));
                prime(ctx, keys).await?;
            }
            Ok(())
        };
        let locations = async {
            if node.field("location").exists() {
                let keys = rows.iter().map(|r| {
                    ById::<(locations::Entity, via::WorkOrderLocation)>::new(r.location_id)
                });
                prime(ctx, keys).await?;
            }
            Ok(())
        };
        let lines = async {
            if node.field("lines").exists() {
                prime(ctx, ids().map(ChildrenOf::<LinesOfWorkOrder>::new)).await?;
            }
            Ok(())
        };
        let mechanics = async {
            if !known.mechanics && node.field("mechanics").exists() {
                prime(ctx, ids().map(MechanicsOf)).await?;
            }
            Ok(())
        };
        futures_util::try_join!(customers, vehicles, locations, lines, mechanics)?;
        Ok(())
    }
}

#[Object]
impl WorkOrder {
    /// Who changed this record and how, newest first.
    #[graphql(guard = "crate::auth::guard::Require::perm(Perm::AuditRead)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] limit: i32,
    ) -> Result<Vec<AuditEntry>> {
        history(ctx, self.0.id, limit).await
    }
    async fn id(&self) -> ID {
        ids::encode("WorkOrder", self.0.id)
    }
    /// Human number, sequential per location, with the location's prefix.
    async fn number(&self) -> &str {
        &self.0.number
    }
    async fn status(&self) -> Result<WorkOrderStatus> {
        stored(
            "work order status",
            &self.0.status,
            WorkOrderStatus::from_stored,
        )
    }
    async fn complaint(&self) -> &str {
        &self.0.complaint
    }
    async fn diagnosis(&self) -> Option<&str> {
        self.0.diagnosis.as_deref()
    }
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    async fn promised_at(&self) -> Option<DateTime<Utc>> {
        self.0.promised_at
    }
    async fn odometer_in_km(&self) -> Result<Option<i32>> {
        self.0
            .odometer_in_km
            .map(|v| small("odometer", v))
            .transpose()
    }
    async fn approved_at(&self) -> Option<DateTime<Utc>> {
        self.0.approved_at
    }
    async fn approved_by_name(&self) -> Option<&str> {
        self.0.approved_by_name.as_deref()
    }
    async fn approval_method(&self) -> Result<Option<ApprovalMethod>> {
        self.0
            .approval_method
            .as_deref()
            .map(|m| stored("approval method", m, ApprovalMethod::from_stored))
            .transpose()
    }
    /// Prices need `work_order:read_prices`: without it, null with a `forbidden` error.
    async fn subtotal(&self, ctx: &Context<'_>) -> Result<Option<Money>> {
        priced(ctx, Some(self.0.location_id), self.0.subtotal_minor)
    }
    async fn discount(&self, ctx: &Context<'_>) -> Result<Option<Money>> {
        priced(ctx, Some(self.0.location_id), self.0.discount_minor)
    }
    async fn tax(&self, ctx: &Context<'_>) -> Result<Option<Money>> {
        priced(ctx, Some(self.0.location_id), self.0.tax_minor)
    }
    async fn total(&self, ctx: &Context<'_>) -> Result<Option<Money>> {
        priced(ctx, Some(self.0.location_id), self.0.total_minor)
    }
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    async fn customer(&self, ctx: &Context<'_>) -> Result<Option<Customer>> {
        Ok(
            load::<customers::Entity, via::WorkOrderCustomer>(ctx, self.0.customer_id)
                .await?
                .map(Customer),
        )
    }
    async fn vehicle(&self, ctx: &Context<'_>) -> Result<Option<Vehicle>> {
        Ok(
            load::<vehicles::Entity, via::WorkOrderVehicle>(ctx, self.0.vehicle_id)
                .await?
                .map(Vehicle),
        )
    }
    async fn location(&self, ctx: &Context<'_>) -> Result<Option<Location>> {
        Ok(
            load::<locations::Entity, via::WorkOrderLocation>(ctx, self.0.location_id)
                .await?
                .map(Location),
        )
    }
    async fn lines(&self, ctx: &Context<'_>) -> Result<Vec<WorkOrderLine>> {
        Ok(children::<LinesOfWorkOrder>(ctx, self.0.id)
            .await?
            .into_iter()
            .map(WorkOrderLine)
            .collect())
    }
    /// Mechanics assigned to the order.
    async fn mechanics(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        // Boxed, like every relation's load (see `schema::load`).
        let assigned = Box::pin(super::loaders_for(ctx)?.load_one(MechanicsOf(self.0.id)))
            .await
            .map_err(AppError::from)?;
        Ok(assigned
            .unwrap_or_default()
            .into_iter()
            .filter(|u| !u.deleted())
            .map(User)
            .collect())
    }
    /// Every status change, oldest first.
    async fn status_history(&self, ctx: &Context<'_>) -> Result<Vec<WorkOrderStatusChange>> {
        Ok(children::<StatusChangesOfWorkOrder>(ctx, self.0.id)
            .await?
            .into_iter()
            .map(WorkOrderStatusChange)
            .collect())
    }
    /// The invoice that is not void, if one was issued.
    async fn invoice(&self, ctx: &Context<'_>) -> Result<Option<Invoice>> {
        Ok(children::<LiveInvoiceOfWorkOrder>(ctx, self.0.id)
            .await?
            .into_iter()
            .next()
            .map(Invoice))
    }
    /// Its photos and documents, newest first.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn files(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default)] filter: FileFilter,
    ) -> Result<Conn<File>> {
        let rows = children::<FilesOfWorkOrder>(ctx, self.0.id).await?;
        file_page(ctx, rows, first, after, &filter)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.0.deleted_at
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
}

/// What work-order and invoice lines store alike, read one way for both.
fn line_kind(stored_kind: &str) -> Result<LineKind> {
    stored("line kind", stored_kind, LineKind::from_stored)
}

fn line_quantity(milli: i64) -> Result<Quantity> {
    Ok(Quantity::from_milli(milli).map_err(|e| corrupt("quantity", &e.message))?)
}

fn line_tax_rate(basis_points: i32) -> Result<TaxRate> {
    Ok(TaxRate::from_basis_points(basis_points).map_err(|e| corrupt("tax rate", &e.message))?)
}

/// One line of a work order; amounts are computed by the server.
pub struct WorkOrderLine(pub work_order_lines::Model);

#[Object]
impl WorkOrderLine {
    async fn id(&self) -> ID {
        ids::encode("WorkOrderLine", self.0.id)
    }
    async fn position(&self) -> i32 {
        self.0.position
    }
    async fn kind(&self) -> Result<LineKind> {
        line_kind(&self.0.kind)
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Pieces, or hours for labour.
    async fn quantity(&self) -> Result<Quantity> {
        line_quantity(self.0.quantity_milli)
    }
    async fn unit_price(&self, ctx: &Context<'_>) -> Result<Option<Money>> {
        priced(ctx, None, self.0.unit_price_minor)
    }
    async fn tax_rate(&self) -> Result<TaxRate> {
        line_tax_rate(self.0.tax_rate_bp)
    }
    async fn part_number(&self) -> Option<&str> {
        self.0.part_number.as_deref()
    }
    async fn mechanic(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(id) = self.0.mechanic_id else {
            return Ok(None);
        };
        Ok(load::<users::Entity, via::LineMechanic>(ctx, id)
            .await?
            .map(User::full))
    }
    /// Quantity × unit price (negative for discounts), before tax.
    async fn net(&self, ctx: &Context<'_>) -> Result<Option<Money>> {
        priced(ctx, None, self.0.net_minor)
    }
    async fn tax(&self, ctx: &Context<'_>) -> Result<Option<Money>> {
        priced(ctx, None, self.0.tax_minor)
    }
    async fn total(&self, ctx: &Context<'_>) -> Result<Option<Money>> {
        priced(ctx, None, self.0.total_minor)
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
}

/// One transition in a work order's history.
pub struct WorkOrderStatusChange(pub work_order_status_changes::Model);

#[Object]
impl WorkOrderStatusChange {
    #[graphql(name = "fromStatus")]
    async fn status_before(&self) -> Result<Option<WorkOrderStatus>> {
        self.0
            .from_status
            .as_deref()
            .map(|s| stored("work order status", s, WorkOrderStatus::from_stored))
            .transpose()
    }
    async fn to_status(&self) -> Result<WorkOrderStatus> {
        stored(
            "work order status",
            &self.0.to_status,
            WorkOrderStatus::from_stored,
        )
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    async fn changed_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn changed_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(id) = self.0.actor_id else {
            return Ok(None);
        };
        Ok(load::<users::Entity, via::ChangedBy>(ctx, id)
            .await?
            .map(User::full))
    }
}

/// An invoice issued from a work order; never edited once issued.
pub struct Invoice(pub invoices::Model);

#[Object]
impl Invoice {
    /// Who changed this record and how, newest first.
    #[graphql(guard = "crate::auth::guard::Require::perm(Perm::AuditRead)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] limit: i32,
    ) -> Result<Vec<AuditEntry>> {
        history(ctx, self.0.id, limit).await
    }
    async fn id(&self) -> ID {
        ids::encode("Invoice", self.0.id)
    }
    async fn number(&self) -> &str {
        &self.0.number
    }
    async fn status(&self) -> Result<InvoiceStatus> {
        stored("invoice status", &self.0.status, InvoiceStatus::from_stored)
    }
    /// ISO 4217 code.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    async fn subtotal(&self) -> Money {
        Money::from_minor(self.0.subtotal_minor)
    }
    async fn discount(&self) -> Money {
        Money::from_minor(self.0.discount_minor)
    }
    async fn tax(&self) -> Money {
        Money::from_minor(self.0.tax_minor)
    }
    async fn total(&self) -> Money {
        Money::from_minor(self.0.total_minor)
    }
    /// Payments less refunds.
    async fn paid(&self) -> Money {
        Money::from_minor(self.0.paid_minor)
    }
    /// Total less paid.
    async fn balance(&self) -> Money {
        Money::from_minor(self.0.total_minor - self.0.paid_minor)
    }
    async fn issued_at(&self) -> Option<DateTime<Utc>> {
        self.0.issued_at
    }
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at
    }
    async fn voided_at(&self) -> Option<DateTime<Utc>> {
        self.0.voided_at
    }
    async fn void_reason(&self) -> Option<&str> {
        self.0.void_reason.as_deref()
    }
    async fn work_order(&self, ctx: &Context<'_>) -> Result<Option<WorkOrder>> {
        Ok(
            load::<work_orders::Entity, via::InvoiceWorkOrder>(ctx, self.0.work_order_id)
                .await?
                .map(WorkOrder),
        )
    }
    async fn customer(&self, ctx: &Context<'_>) -> Result<Option<Customer>> {
        Ok(
            load::<customers::Entity, via::InvoiceCustomer>(ctx, self.0.customer_id)
                .await?
                .map(Customer),
        )
    }
    async fn location(&self, ctx: &Context<'_>) -> Result<Option<Location>> {
        Ok(
            load::<locations::Entity, via::InvoiceLocation>(ctx, self.0.location_id)
                .await?
                .map(Location),
        )
    }
    async fn lines(&self, ctx: &Context<'_>) -> Result<Vec<InvoiceLine>> {
        Ok(children::<LinesOfInvoice>(ctx, self.0.id)
            .await?
            .into_iter()
            .map(InvoiceLine)
            .collect())
    }
    /// Payments and refunds, in the order received.
    async fn payments(&self, ctx: &Context<'_>) -> Result<Vec<Payment>> {
        Ok(children::<PaymentsOfInvoice>(ctx, self.0.id)
            .await?
            .into_iter()
            .map(Payment)
            .collect())
    }
    /// Its photos and documents, newest first.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn files(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default)] filter: FileFilter,
    ) -> Result<Conn<File>> {
        let rows = children::<FilesOfInvoice>(ctx, self.0.id).await?;
        file_page(ctx, rows, first, after, &filter)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
}

/// A line frozen on an invoice.
pub struct InvoiceLine(pub invoice_lines::Model);

#[Object]
impl InvoiceLine {
    async fn id(&self) -> ID {
        ids::encode("InvoiceLine", self.0.id)
    }
    async fn position(&self) -> i32 {
        self.0.position
    }
    async fn kind(&self) -> Result<LineKind> {
        line_kind(&self.0.kind)
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn quantity(&self) -> Result<Quantity> {
        line_quantity(self.0.quantity_milli)
    }
    async fn unit_price(&self) -> Money {
        Money::from_minor(self.0.unit_price_minor)
    }
    async fn tax_rate(&self) -> Result<TaxRate> {
        line_tax_rate(self.0.tax_rate_bp)
    }
    async fn part_number(&self) -> Option<&str> {
        self.0.part_number.as_deref()
    }
    async fn net(&self) -> Money {
        Money::from_minor(self.0.net_minor)
    }
    async fn tax(&self) -> Money {
        Money::from_minor(self.0.tax_minor)
    }
    async fn total(&self) -> Money {
        Money::from_minor(self.0.total_minor)
    }
}

/// A payment, or a refund (negative amount) of an earlier payment.
pub struct Payment(pub payments::Model);

#[Object]
impl Payment {
    async fn id(&self) -> ID {
        ids::encode("Payment", self.0.id)
    }
    async fn amount(&self) -> Money {
        Money::from_minor(self.0.amount_minor)
    }
    /// Code from the payment-methods directory.
    async fn method(&self) -> &str {
        &self.0.method_code
    }
    async fn received_at(&self) -> DateTime<Utc> {
        self.0.received_at
    }
    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }
    async fn is_refund(&self) -> bool {
        self.0.refund_of_id.is_some()
    }
    /// The payment this refund reverses.
    async fn refund_of(&self, ctx: &Context<'_>) -> Result<Option<Payment>> {
        let Some(id) = self.0.refund_of_id else {
            return Ok(None);
        };
        Ok(load::<payments::Entity, via::RefundOf>(ctx, id)
            .await?
            .map(Payment))
    }
    async fn invoice(&self, ctx: &Context<'_>) -> Result<Option<Invoice>> {
        Ok(
            load::<invoices::Entity, via::PaymentInvoice>(ctx, self.0.invoice_id)
                .await?
                .map(Invoice),
        )
    }
    async fn recorded_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(id) = self.0.recorded_by else {
            return Ok(None);
        };
        Ok(load::<users::Entity, via::RecordedBy>(ctx, id)
            .await?
            .map(User::full))
    }
}

/// A file's metadata; its bytes live in the object store.
pub struct File(pub files::Model);

/// Which of a record's files to list.
#[derive(async_graphql::InputObject, Default)]
pub struct FileFilter {
    /// Any of these types; `image/*` stands for every image. All when empty.
    #[graphql(default, validator(max_items = 20))]
    pub content_types: Vec<String>,
}

impl FileFilter {
    fn admits(&self, content_type: &str) -> bool {
        self.content_types.is_empty()
            || self
                .content_types
                .iter()
                .any(|t| match t.strip_suffix("/*") {
                    Some(major) => content_type.split('/').next() == Some(major),
                    None => t.eq_ignore_ascii_case(content_type),
                })
    }
}

/// One page of a record's files, newest first. A record has few files: its loader brings them all (one statement
/// for every record on the page), and the page is cut here; the cursor is the file's id.
fn file_page(
    ctx: &Context<'_>,
    mut rows: Vec<files::Model>,
    first: Option<i32>,
    after: Option<String>,
    filter: &FileFilter,
) -> Result<Conn<File>> {
    let max = super::state(ctx).limits.max_page_size;
    let first = usize::try_from(first.unwrap_or(20).max(0))
        .unwrap_or(0)
        .min(max);
    rows.retain(|f| filter.admits(&f.content_type));
    rows.sort_by_key(|f| std::cmp::Reverse((f.created_at, f.id)));
    let total = rows.len();
    let start = match after {
        Some(c) => {
            let id = ids::decode_as("File", &ID(c), "after")?;
            rows.iter()
                .position(|f| f.id == id)
                .map_or(total, |i| i + 1)
        }
        None => 0,
    };
    let end = (start + first).min(total);
    let page = Page {
        rows: rows
            .drain(start..end)
            .map(|f| (ids::encode("File", f.id).0, f))
            .collect(),
        has_previous_page: start > 0,
        has_next_page: end < total,
    };
    let count = crate::db::keyset::CountQuery::known(&super::state(ctx).db.reads, total as i64);
    Ok(connection(Listed { page, count }, File))
}

#[Object]
impl File {
    async fn id(&self) -> ID {
        ids::encode("File", self.0.id)
    }
    async fn original_name(&self) -> &str {
        &self.0.original_name
    }
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    async fn size_bytes(&self) -> Result<i32> {
        small("file size", self.0.size_bytes)
    }
    async fn status(&self) -> Result<FileStatus> {
        stored("file status", &self.0.status, FileStatus::from_stored)
    }
    /// Name it when deleting the file.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// A link that downloads the file for the next few minutes (shown in place for images and PDFs, saved
    /// otherwise); null while the upload is pending.
    async fn download_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let s = super::state(ctx);
        let ttl = s.settings.storage.url_ttl;
        let p = crate::services::files::download(s.store.as_ref(), ttl, &self.0).await?;
        Ok(p.map(|p| p.url))
    }
    async fn uploaded_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(id) = self.0.uploaded_by else {
            return Ok(None);
        };
        Ok(load::<users::Entity, via::UploadedBy>(ctx, id)
            .await?
            .map(User::full))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
