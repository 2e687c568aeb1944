//! Work orders: taking a car in (numbered per location without gaps), editing under row versions, mechanics,
//! lines with totals the server computes, and the status workflow with its history.

use chrono::{DateTime, Utc};
use entity::{
    customers, location_counters, locations, users, vehicles, work_order_lines,
    work_order_mechanics, work_order_status_changes, work_orders,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::reads::{self, Listed, Window};
use super::{Liveness, audit, edit, lock_versioned, reference, soft_delete, touch};
use crate::auth::Caller;
use crate::auth::policy::Access;
use crate::auth::visibility::{self, columns};
use crate::config::Backend;
use crate::db::Db;
use crate::db::queries::{self, SortBy, WorkOrderCard, WorkOrderWithParties};
use crate::db::rows::ByPosition;
use crate::domain::{
    ApprovalMethod, LineKind, Money, NonEmpty, Quantity, TaxRate, Totals, WorkOrderStatus,
    line_amounts,
};
use crate::error::{AppError, AppResult};

/// The next number of `kind` (`work_order` or `invoice`) at a location. The counter row is updated inside the
/// caller's transaction, so concurrent creations queue on it and a rolled-back one leaves no gap.
pub async fn next_number<C: ConnectionTrait>(
    conn: &C,
    location: Uuid,
    kind: &str,
) -> AppResult<i64> {
    let now = Utc::now();
    location_counters::Entity::insert(location_counters::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        location_id: Set(location),
        kind: Set(kind.to_owned()),
        last_value: Set(0),
    })
    .on_conflict_do_nothing_on([
        location_counters::Column::LocationId,
        location_counters::Column::Kind,
    ])
    .exec(conn)
    .await?;
    let rows = location_counters::Entity::update_many()
        .col_expr(
            location_counters::Column::LastValue,
            Expr::col(location_counters::Column::LastValue).add(1),
        )
        .col_expr(location_counters::Column::UpdatedAt, Expr::value(now))
        .filter(location_counters::Column::LocationId.eq(location))
        .filter(location_counters::Column::Kind.eq(kind))
        .exec_with_returning(conn)
        .await?;
    rows.first()
        .map(|r| r.last_value)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no {kind} counter for {location}")))
}

#[derive(Debug)]
pub struct NewWorkOrder {
    pub customer_id: Uuid,
    pub vehicle_id: Uuid,
    pub location_id: Uuid,
    pub complaint: NonEmpty,
    pub promised_at: Option<DateTime<Utc>>,
    pub odometer_in_km: Option<i64>,
}

#[derive(Debug, Default)]
pub struct WorkOrderChanges {
    pub complaint: Option<NonEmpty>,
    pub diagnosis: Option<Option<String>>,
    pub notes: Option<Option<String>>,
    pub promised_at: Option<Option<DateTime<Utc>>>,
}

#[derive(Debug)]
pub struct NewLine {
    pub kind: LineKind,
    pub description: NonEmpty,
    pub quantity: Quantity,
    /// None takes the labour rate from settings for labour lines.
    pub unit_price: Option<Money>,
    /// None takes the shop's tax rate from settings.
    pub tax_rate: Option<TaxRate>,
    pub mechanic_id: Option<Uuid>,
    pub part_number: Option<String>,
}

#[derive(Debug, Default)]
pub struct LineChanges {
    pub description: Option<NonEmpty>,
    pub quantity: Option<Quantity>,
    pub unit_price: Option<Money>,
    pub tax_rate: Option<TaxRate>,
    pub mechanic_id: Option<Option<Uuid>>,
    pub part_number: Option<Option<String>>,
}

#[derive(Debug)]
pub struct Approval {
    pub approved_by: NonEmpty,
    pub method: ApprovalMethod,
}

fn status_of(wo: &work_orders::Model) -> AppResult<WorkOrderStatus> {
    WorkOrderStatus::from_stored(&wo.status)
        .ok_or_else(|| crate::error::corrupt("work order status", &wo.status))
}

fn editable(wo: &work_orders::Model) -> AppResult<()> {
    if status_of(wo)?.is_editable() {
        Ok(())
    } else {
        Err(AppError::invalid(
            "id",
            "work_order_locked",
            format!("a work order that is {} cannot be edited", wo.status),
        ))
    }
}

/// One audit entry for a change to the order, with extra details (the line touched, the mechanic).
async fn audit_change<C: ConnectionTrait>(
    conn: &C,
    caller: &Caller,
    action: &str,
    before: &work_orders::Model,
    after: &work_orders::Model,
    extra: serde_json::Value,
) -> AppResult<()> {
    let mut d = audit::diff(Some(before), Some(after))?;
    if let (Some(obj), serde_json::Value::Object(more)) = (d.as_object_mut(), extra) {
        obj.extend(more);
    }
    audit::event(conn, caller, "work_order", Some(after.id), action, d).await
}

pub async fn create(db: &Db, caller: &Caller, new: NewWorkOrder) -> AppResult<work_orders::Model> {
    let tx = db.write_tx().await?;
    locations::Entity::find_by_id(new.location_id)
        .filter(locations::Column::DeletedAt.is_null())
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::invalid("locationId", "not_found", "no such location"))?;
    customers::Entity::find_by_id(new.customer_id)
        .filter(customers::Column::DeletedAt.is_null())
        .lock_shared()
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::invalid("customerId", "not_found", "no such customer"))?;
    let vehicle = vehicles::Entity::find_by_id(new.vehicle_id)
        .filter(vehicles::Column::DeletedAt.is_null())
        .lock_shared()
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::invalid("vehicleId", "not_found", "no such vehicle"))?;
    if vehicle.customer_id != new.customer_id {
        return Err(AppError::invalid(
            "vehicleId",
            "vehicle_not_owned",
            "this vehicle belongs to another customer",
        ));
    }
    if let (Some(reading), Some(last)) = (new.odometer_in_km, vehicle.odometer_km)
        && reading < last
    {
        return Err(AppError::invalid(
            "odometerInKm",
            "odometer_decreased",
            format!("the vehicle last read {last} km"),
        ));
    }
    if new.odometer_in_km.is_some_and(|r| r < 0) {
        return Err(AppError::invalid(
            "odometerInKm",
            "invalid_odometer",
            "a reading cannot be negative",
        ));
    }
    let seq = next_number(&tx, new.location_id, "work_order").await?;
    let prefix = reference::text(&tx, "work_order_prefix").await?;
    let now = Utc::now();
    let wo = work_orders::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        location_id: Set(new.location_id),
        seq: Set(seq),
        number: Set(format!("{prefix}{seq:06}")),
        customer_id: Set(new.customer_id),
        vehicle_id: Set(new.vehicle_id),
        status: Set(WorkOrderStatus::Draft.as_str().to_owned()),
        complaint: Set(new.complaint.into_inner()),
        diagnosis: Set(None),
        notes: Set(None),
        promised_at: Set(new.promised_at),
        odometer_in_km: Set(new.odometer_in_km),
        approved_at: Set(None),
        approved_by_name: Set(None),
        approval_method: Set(None),
        subtotal_minor: Set(0),
        discount_minor: Set(0),
        tax_minor: Set(0),
        total_minor: Set(0),
        closed_at: Set(None),
        deleted_at: Set(None),
        version: Set(1),
    }
    .insert(&tx)
    .await?;
    if let Some(reading) = new.odometer_in_km {
        vehicles::Entity::update_many()
            .col_expr(vehicles::Column::OdometerKm, Expr::value(reading))
            .filter(vehicles::Column::Id.eq(vehicle.id))
            .exec(&tx)
            .await?;
        entity::odometer_readings::ActiveModel {
            id: Set(Uuid::now_v7()),
            created_at: Set(now),
            updated_at: Set(now),
            vehicle_id: Set(vehicle.id),
            work_order_id: Set(Some(wo.id)),
            reading_km: Set(reading),
            recorded_at: Set(now),
            is_correction: Set(false),
            recorded_by: Set(caller.user_id),
        }
        .insert(&tx)
        .await?;
    }
    record_status(&tx, caller, wo.id, None, WorkOrderStatus::Draft, None).await?;
    audit::record(&tx, caller, "work_order", wo.id, "create", None, Some(&wo)).await?;
    tx.commit().await?;
    Ok(wo)
}

async fn record_status<C: ConnectionTrait>(
    conn: &C,
    caller: &Caller,
    wo: Uuid,
    from: Option<WorkOrderStatus>,
    to: WorkOrderStatus,
    note: Option<String>,
) -> AppResult<()> {
    let now = Utc::now();
    work_order_status_changes::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        work_order_id: Set(wo),
        from_status: Set(from.map(|s| s.as_str().to_owned())),
        to_status: Set(to.as_str().to_owned()),
        actor_id: Set(caller.user_id),
        note: Set(note),
    }
    .insert(conn)
    .await?;
    Ok(())
}

pub async fn update(
    db: &Db,
    caller: &Caller,
    id: Uuid,
    version: i32,
    ch: WorkOrderChanges,
) -> AppResult<work_orders::Model> {
    edit::<work_orders::ActiveModel>(
        db,
        caller,
        "work_order",
        id,
        version,
        "update",
        async |_, before, a| {
            editable(before)?;
            if let Some(v) = ch.complaint {
                a.complaint = Set(v.into_inner());
            }
            if let Some(v) = ch.diagnosis {
                a.diagnosis = Set(v);
            }
            if let Some(v) = ch.notes {
                a.notes = Set(v);
            }
            if let Some(v) = ch.promised_at {
                a.promised_at = Set(v);
            }
            Ok(())
        },
    )
    .await
}

/// Assigns or unassigns a mechanic (an active member of staff).
pub async fn set_mechanic(
    db: &Db,
    caller: &Caller,
    id: Uuid,
    version: i32,
    user: Uuid,
    assign: bool,
) -> AppResult<work_orders::Model> {
    let tx = db.write_tx().await?;
    let before = lock_versioned::<work_orders::Entity, _>(&tx, id, version, Liveness::Live).await?;
    editable(&before)?;
    users::Entity::find_by_id(user)
        .filter(users::Column::DeletedAt.is_null())
        .filter(users::Column::Status.eq("active"))
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::invalid("userId", "not_found", "no such member of staff"))?;
    let existing = work_order_mechanics::Entity::find()
        .filter(work_order_mechanics::Column::WorkOrderId.eq(id))
        .filter(work_order_mechanics::Column::UserId.eq(user))
        .one(&tx)
        .await?;
    let now = Utc::now();
    match (assign, existing) {
        (true, None) => {
            work_order_mechanics::ActiveModel {
                id: Set(Uuid::now_v7()),
                created_at: Set(now),
                updated_at: Set(now),
                work_order_id: Set(id),
                user_id: Set(user),
                assigned_by: Set(caller.user_id),
            }
            .insert(&tx)
            .await?;
        }
        (false, Some(row)) => {
            work_order_mechanics::Entity::delete_by_id(row.id)
                .exec(&tx)
                .await?;
        }
        // Already so: still a change the user asked for, recorded as such.
        _ => {}
    }
    let mut a = before.clone().into_active_model();
    touch(&mut a, version)?;
    let after = a.update(&tx).await?;
    let action = if assign {
        "assign_mechanic"
    } else {
        "unassign_mechanic"
    };
    audit_change(
        &tx,
        caller,
        action,
        &before,
        &after,
        json!({ "mechanic": user }),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

async fn check_mechanic<C: ConnectionTrait>(conn: &C, id: Option<Uuid>) -> AppResult<()> {
    if let Some(id) = id {
        users::Entity::find_by_id(id)
            .filter(users::Column::DeletedAt.is_null())
            .one(conn)
            .await?
            .ok_or_else(|| {
                AppError::invalid("mechanicId", "not_found", "no such member of staff")
            })?;
    }
    Ok(())
}

fn amounts(
    kind: LineKind,
    qty: Quantity,
    price: Money,
    rate: TaxRate,
) -> AppResult<(Money, Money)> {
    line_amounts(kind == LineKind::Discount, qty, price, rate).ok_or_else(|| {
        AppError::invalid(
            "quantity",
            "amount_too_large",
            "the line's amount is too large",
        )
    })
}

/// Sums the order's lines into its totals and bumps its version; refuses a negative total.
async fn retotal<C: ConnectionTrait>(
    conn: &C,
    before: &work_orders::Model,
    version: i32,
) -> AppResult<work_orders::Model> {
    let lines = work_order_lines::Entity::find()
        .filter(work_order_lines::Column::WorkOrderId.eq(before.id))
        .all(conn)
        .await?;
    let t = Totals::of(lines.iter().map(|l| {
        (
            Money::from_minor(l.net_minor),
            Money::from_minor(l.tax_minor),
        )
    }))
    .ok_or_else(|| AppError::invalid("", "amount_too_large", "the order's total is too large"))?;
    if t.total.minor() < 0 || t.tax.minor() < 0 {
        return Err(AppError::invalid(
            "",
            "negative_total",
            "discounts cannot exceed what the order charges",
        ));
    }
    let mut a = before.clone().into_active_model();
    a.subtotal_minor = Set(t.subtotal.minor());
    a.discount_minor = Set(t.discount.minor());
    a.tax_minor = Set(t.tax.minor());
    a.total_minor = Set(t.total.minor());
    touch(&mut a, version)?;
    Ok(a.update(conn).await?)
}

pub async fn add_line(
    db: &Db,
    caller: &Caller,
    wo_id: Uuid,
    version: i32,
    line: NewLine,
) -> AppResult<work_orders::Model> {
    let tx = db.write_tx().await?;
    let before =
        lock_versioned::<work_orders::Entity, _>(&tx, wo_id, version, Liveness::Live).await?;
    editable(&before)?;
    check_mechanic(&tx, line.mechanic_id).await?;
    let rate = match line.tax_rate {
        Some(r) => r,
        None => reference::text(&tx, "tax_rate")
            .await?
            .parse()
            .map_err(|e| AppError::parse("taxRate", e))?,
    };
    let price = match (line.unit_price, line.kind) {
        (Some(p), _) => p,
        (None, LineKind::Labour) => reference::text(&tx, "labour_rate")
            .await?
            .parse()
            .map_err(|e| AppError::parse("unitPrice", e))?,
        (None, _) => {
            return Err(AppError::invalid(
                "unitPrice",
                "required",
                "a price is required",
            ));
        }
    };
    if price.minor() < 0 {
        return Err(AppError::invalid(
            "unitPrice",
            "invalid_money",
            "a price cannot be negative; use a discount line",
        ));
    }
    let (net, tax) = amounts(line.kind, line.quantity, price, rate)?;
    let position = work_order_lines::Entity::find()
        .filter(work_order_lines::Column::WorkOrderId.eq(wo_id))
        .order_by_desc(work_order_lines::Column::Position)
        .one(&tx)
        .await?
        .map_or(1, |l| l.position + 1);
    let now = Utc::now();
    let row = work_order_lines::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
        work_order_id: Set(wo_id),
        position: Set(position),
        kind: Set(line.kind.as_str().to_owned()),
        description: Set(line.description.into_inner()),
        quantity_milli: Set(line.quantity.milli()),
        unit_price_minor: Set(price.minor()),
        tax_rate_bp: Set(rate.basis_points()),
        mechanic_id: Set(line.mechanic_id),
        part_number: Set(line.part_number),
        net_minor: Set(net.minor()),
        tax_minor: Set(tax.minor()),
        total_minor: Set(net.minor() + tax.minor()),
    }
    .insert(&tx)
    .await?;
    let after = retotal(&tx, &before, version).await?;
    audit_change(
        &tx,
        caller,
        "add_line",
        &before,
        &after,
        json!({ "line": row }),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

async fn line_of<C: ConnectionTrait>(conn: &C, line: Uuid) -> AppResult<work_order_lines::Model> {
    work_order_lines::Entity::find_by_id(line)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// The work order a line belongs to: what the caller's rights are checked against.
pub async fn order_of_line(db: &Db, line: Uuid) -> AppResult<Uuid> {
    Ok(line_of(&db.conn, line).await?.work_order_id)
}

/// Locks the order a line belongs to, checked against the version the client read and open to edits.
async fn lock_order_of_line(
    tx: &sea_orm::DatabaseTransaction,
    line_id: Uuid,
    version: i32,
) -> AppResult<(work_order_lines::Model, work_orders::Model)> {
    let line = line_of(tx, line_id).await?;
    let order =
        lock_versioned::<work_orders::Entity, _>(tx, line.work_order_id, version, Liveness::Live)
            .await?;
    editable(&order)?;
    Ok((line, order))
}

pub async fn update_line(
    db: &Db,
    caller: &Caller,
    line_id: Uuid,
    version: i32,
    ch: LineChanges,
) -> AppResult<work_orders::Model> {
    let tx = db.write_tx().await?;
    let (line, before) = lock_order_of_line(&tx, line_id, version).await?;
    if let Some(m) = ch.mechanic_id {
        check_mechanic(&tx, m).await?;
    }
    let kind = LineKind::from_stored(&line.kind)
        .ok_or_else(|| crate::error::corrupt("line kind", &line.kind))?;
    let qty = ch.quantity.map_or_else(
        || Quantity::from_milli(line.quantity_milli).map_err(|e| AppError::parse("quantity", e)),
        Ok,
    )?;
    let price = ch
        .unit_price
        .unwrap_or(Money::from_minor(line.unit_price_minor));
    if price.minor() < 0 {
        return Err(AppError::invalid(
            "unitPrice",
            "invalid_money",
            "a price cannot be negative; use a discount line",
        ));
    }
    let rate = ch.tax_rate.map_or_else(
        || TaxRate::from_basis_points(line.tax_rate_bp).map_err(|e| AppError::parse("taxRate", e)),
        Ok,
    )?;
    let (net, tax) = amounts(kind, qty, price, rate)?;
    let before_line = line.clone();
    let mut a = line.into_active_model();
    if let Some(d) = ch.description {
        a.description = Set(d.into_inner());
    }
    if let Some(m) = ch.mechanic_id {
        a.mechanic_id = Set(m);
    }
    if let Some(p) = ch.part_number {
        a.part_number = Set(p);
    }
    a.quantity_milli = Set(qty.milli());
    a.unit_price_minor = Set(price.minor());
    a.tax_rate_bp = Set(rate.basis_points());
    a.net_minor = Set(net.minor());
    a.tax_minor = Set(tax.minor());
    a.total_minor = Set(net.minor() + tax.minor());
    touch(&mut a, before_line.version)?;
    let after_line = a.update(&tx).await?;
    let after = retotal(&tx, &before, version).await?;
    let line_diff = audit::diff(Some(&before_line), Some(&after_line))?;
    audit_change(
        &tx,
        caller,
        "update_line",
        &before,
        &after,
        json!({ "line": line_diff }),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn remove_line(
    db: &Db,
    caller: &Caller,
    line_id: Uuid,
    version: i32,
) -> AppResult<work_orders::Model> {
    let tx = db.write_tx().await?;
    let (line, before) = lock_order_of_line(&tx, line_id, version).await?;
    work_order_lines::Entity::delete_by_id(line.id)
        .exec(&tx)
        .await?;
    let after = retotal(&tx, &before, version).await?;
    audit_change(
        &tx,
        caller,
        "remove_line",
        &before,
        &after,
        json!({ "line": line }),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Moves the order along its workflow. Illegal moves are `illegal_transition`; approving needs who approved
/// and how.
pub async fn transition(
    db: &Db,
    caller: &Caller,
    id: Uuid,
    version: i32,
    to: WorkOrderStatus,
    note: Option<String>,
    approval: Option<Approval>,
) -> AppResult<work_orders::Model> {
    let tx = db.write_tx().await?;
    let before = lock_versioned::<work_orders::Entity, _>(&tx, id, version, Liveness::Live).await?;
    let from = status_of(&before)?;
    if !from.can_become(to) {
        return Err(AppError::invalid(
            "to",
            "illegal_transition",
            format!(
                "a work order that is {} cannot become {}",
                from.as_str(),
                to.as_str()
            ),
        ));
    }
    let mut a = before.clone().into_active_model();
    a.status = Set(to.as_str().to_owned());
    let now = Utc::now();
    if to == WorkOrderStatus::Approved {
        let approval = approval.ok_or_else(|| {
            AppError::invalid(
                "approval",
                "approval_required",
                "say who approved the estimate and how",
            )
        })?;
        a.approved_at = Set(Some(now));
        a.approved_by_name = Set(Some(approval.approved_by.into_inner()));
        a.approval_method = Set(Some(approval.method.as_str().to_owned()));
    }
    if to == WorkOrderStatus::Closed {
        a.closed_at = Set(Some(now));
    }
    touch(&mut a, version)?;
    let after = a.update(&tx).await?;
    record_status(&tx, caller, id, Some(from), to, note.clone()).await?;
    audit_change(
        &tx,
        caller,
        "transition",
        &before,
        &after,
        json!({ "note": note }),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn set_deleted(
    db: &Db,
    caller: &Caller,
    id: Uuid,
    version: i32,
    delete: bool,
) -> AppResult<work_orders::Model> {
    soft_delete::<work_orders::ActiveModel>(
        db,
        caller,
        "work_order",
        id,
        version,
        delete,
        async |tx| {
            if delete {
                let live_invoice = entity::invoices::Entity::find()
                    .filter(entity::invoices::Column::WorkOrderId.eq(id))
                    .filter(entity::invoices::Column::Status.ne("void"))
                    .filter(entity::invoices::Column::DeletedAt.is_null())
                    .one(tx)
                    .await?;
                if live_invoice.is_some() {
                    return Err(AppError::invalid(
                        "id",
                        "work_order_invoiced",
                        "void the order's invoice first",
                    ));
                }
            }
            Ok(())
        },
    )
    .await
}

/// Used by the resolver before `transition`: the order's location, for the permission check.
pub async fn find_any(db: &Db, id: Uuid) -> AppResult<work_orders::Model> {
    work_orders::Entity::find_by_id(id)
        .one(&db.conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// The work orders the caller may see, filtered and sorted, one page.
pub async fn list(
    db: &Db,
    access: &Access,
    f: &queries::WorkOrderFilter,
    sort: (SortBy, bool),
    w: &Window,
) -> AppResult<Listed<ByPosition<work_orders::Model>>> {
    reads::models(
        db,
        visible(access, f),
        &queries::work_order_sort(sort.0, sort.1),
        w,
    )
    .await
}

/// A page of the board: each card's customer and vehicle read in the page's own statement and, when the
/// screen shows mechanics and the database can (PostgreSQL), their ids too.
pub enum Board {
    Cards(Listed<WorkOrderCard>),
    WithParties(Listed<WorkOrderWithParties>),
}

pub async fn board(
    db: &Db,
    access: &Access,
    f: &queries::WorkOrderFilter,
    sort: (SortBy, bool),
    w: &Window,
    mechanics: bool,
) -> AppResult<Board> {
    let sort = queries::work_order_sort(sort.0, sort.1);
    let select = visible(access, f);
    if mechanics && db.backend == Backend::Postgres {
        let join = |s| {
            Ok(queries::with_mechanic_ids(
                queries::with_customer_and_vehicle(s)?,
            ))
        };
        return Ok(Board::Cards(reads::list(db, select, join, &sort, w).await?));
    }
    let join = queries::with_customer_and_vehicle;
    Ok(Board::WithParties(
        reads::list(db, select, join, &sort, w).await?,
    ))
}

fn visible(access: &Access, f: &queries::WorkOrderFilter) -> sea_orm::Select<work_orders::Entity> {
    queries::work_orders(f)
        .filter(visibility::WORK_ORDER.condition(access, &columns::work_orders()))
}

/// A live work order, if the caller may see it, read straight from the database: for events, which outlive the
/// request that subscribed.
pub async fn find_visible(
    db: &Db,
    access: &Access,
    id: Uuid,
) -> AppResult<Option<work_orders::Model>> {
    let Some(wo) = work_orders::Entity::find_by_id(id)
        .filter(work_orders::Column::DeletedAt.is_null())
        .one(&db.conn)
        .await?
    else {
        return Ok(None);
    };
    let rule = &visibility::WORK_ORDER;
    let mechanics: Vec<Uuid> = if rule.needs_assignments(access, wo.location_id) {
        work_order_mechanics::Entity::find()
            .filter(work_order_mechanics::Column::WorkOrderId.eq(wo.id))
            .all(&db.conn)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect()
    } else {
        Vec::new()
    };
    let at = visibility::Placement {
        location: Some(wo.location_id),
        assigned: &mechanics,
    };
    Ok(rule.admits(access, at).then_some(wo))
}

/// The work orders the caller sees as they are created or change (at `location`, when given), each read and
/// checked when its event arrives, against the caller's access as the rules stand then (a right the owner
/// takes away stops the events it allowed). The stream ends when the caller's session or key stops being valid.
pub fn changes(
    db: Db,
    events: &crate::events::Events,
    policy: std::sync::Arc<crate::auth::policy::Policy>,
    caller: Caller,
    location: Option<Uuid>,
) -> impl futures_util::Stream<Item = work_orders::Model> + use<> {
    use tokio::sync::broadcast::error::RecvError;
    let rx = events.subscribe();
    futures_util::stream::unfold(
        (rx, db, policy, caller),
        move |(mut rx, db, policy, caller)| async move {
            loop {
                match rx.recv().await {
                    Ok(e) if location.is_none_or(|l| l == e.location_id) => {
                        // A subscriber signed out, blocked or revoked since hears nothing more.
                        if !crate::auth::still_valid(&db, &caller).await {
                            return None;
                        }
                        let who = policy.access(&caller).await;
                        if let Ok(Some(wo)) = find_visible(&db, &who, e.id).await {
                            return Some((wo, (rx, db, policy, caller)));
                        }
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    )
}
