//! Vehicles: registration, edits with ownership history and odometer rules, soft delete and restore.

use chrono::Utc;
use entity::{customers, odometer_readings, vehicle_ownerships, vehicles};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};
use uuid::Uuid;

use super::reads::{self, Listed, Window};
use super::{audit, edit, soft_delete};
use crate::auth::Caller;
use crate::auth::policy::Access;
use crate::auth::visibility::{self, columns};
use crate::db::Db;
use crate::db::queries::{self, SortBy};
use crate::db::rows::ByPosition;
use crate::domain::{PlateNumber, Vin};
use crate::error::{AppError, AppResult};

/// The model year range the database accepts.
pub const YEARS: std::ops::RangeInclusive<i32> = 1886..=2100;

#[derive(Debug)]
pub struct NewVehicle {
    pub customer_id: Uuid,
    pub vin: Option<Vin>,
    pub plate_number: Option<PlateNumber>,
    pub make: Option<String>,
    pub model: Option<String>,
    pub year: Option<i32>,
    pub engine: Option<String>,
    pub colour: Option<String>,
    pub odometer_km: Option<i64>,
}

#[derive(Debug, Default)]
pub struct VehicleChanges {
    /// A new owner: the current ownership ends and a new one starts.
    pub customer_id: Option<Uuid>,
    pub vin: Option<Option<Vin>>,
    pub plate_number: Option<Option<PlateNumber>>,
    pub make: Option<Option<String>>,
    pub model: Option<Option<String>>,
    pub year: Option<Option<i32>>,
    pub engine: Option<Option<String>>,
    pub colour: Option<Option<String>>,
    pub odometer_km: Option<i64>,
    /// Allows a reading below the previous one (a replaced cluster, a typo).
    pub odometer_correction: bool,
}

fn check_year(year: Option<i32>) -> AppResult<()> {
    match year {
        Some(y) if !YEARS.contains(&y) => Err(AppError::invalid(
            "year",
            "invalid_year",
            "year must be between 1886 and 2100",
        )),
        _ => Ok(()),
    }
}

fn check_odometer(km: i64) -> AppResult<()> {
    if km < 0 {
        return Err(AppError::invalid(
            "odometerKm",
            "invalid_odometer",
            "odometer cannot be negative",
        ));
    }
    Ok(())
}

async fn live_customer<C: ConnectionTrait>(conn: &C, id: Uuid) -> AppResult<()> {
    // FOR SHARE on PostgreSQL: the customer cannot be deleted until this transaction ends.
    customers::Entity::find_by_id(id)
        .filter(customers::Column::DeletedAt.is_null())
        .lock_shared()
        .one(conn)
        .await?
        .map(|_| ())
        .ok_or_else(|| AppError::invalid("customerId", "not_found", "no such customer"))
}

async fn start_ownership<C: ConnectionTrait>(
    conn: &C,
    vehicle_id: Uuid,
    customer_id: Uuid,
) -> AppResult<()> {
    let now = Utc::now();
    vehicle_ownerships::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        vehicle_id: Set(vehicle_id),
        customer_id: Set(customer_id),
        started_at: Set(now),
        ended_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(())
}

async fn record_reading<C: ConnectionTrait>(
    conn: &C,
    caller: &Caller,
    vehicle_id: Uuid,
    km: i64,
    correction: bool,
) -> AppResult<()> {
    let now = Utc::now();
    odometer_readings::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        vehicle_id: Set(vehicle_id),
        work_order_id: Set(None),
        reading_km: Set(km),
        recorded_at: Set(now),
        is_correction: Set(correction),
        recorded_by: Set(caller.user_id),
    }
    .insert(conn)
    .await?;
    Ok(())
}

pub async fn create(db: &Db, caller: &Caller, new: NewVehicle) -> AppResult<vehicles::Model> {
    check_year(new.year)?;
    if let Some(km) = new.odometer_km {
        check_odometer(km)?;
    }
    let tx = db.write_tx().await?;
    live_customer(&tx, new.customer_id).await?;
    let now = Utc::now();
    let row = vehicles::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        customer_id: Set(new.customer_id),
        vin: Set(new.vin.map(|v| v.to_string())),
        plate_number: Set(new.plate_number.map(PlateNumber::into_inner)),
        make: Set(new.make),
        model: Set(new.model),
        year: Set(new.year),
        engine: Set(new.engine),
        colour: Set(new.colour),
        odometer_km: Set(new.odometer_km),
        deleted_at: Set(None),
        version: Set(1),
    }
    .insert(&tx)
    .await?;
    start_ownership(&tx, row.id, row.customer_id).await?;
    if let Some(km) = row.odometer_km {
        record_reading(&tx, caller, row.id, km, false).await?;
    }
    audit::record(&tx, caller, "vehicle", row.id, "create", None, Some(&row)).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update(
    db: &Db,
    caller: &Caller,
    id: Uuid,
    version: i32,
    ch: VehicleChanges,
) -> AppResult<vehicles::Model> {
    if let Some(y) = ch.year {
        check_year(y)?;
    }
    if let Some(km) = ch.odometer_km {
        check_odometer(km)?;
    }
    edit::<vehicles::ActiveModel>(db, caller, "vehicle", id, version, "update", async |tx, before, a| {
    if let Some(owner) = ch.customer_id.filter(|c| *c != before.customer_id) {
        live_customer(tx, owner).await?;
        vehicle_ownerships::Entity::update_many()
            .col_expr(
                vehicle_ownerships::Column::EndedAt,
                sea_orm::sea_query::Expr::value(Utc::now()),
            )
            .filter(vehicle_ownerships::Column::VehicleId.eq(id))
            .filter(vehicle_ownerships::Column::EndedAt.is_null())
            .exec(tx)
            .await?;
        start_ownership(tx, id, owner).await?;
        a.customer_id = Set(owner);
    }
    if let Some(km) = ch.odometer_km {
        if before.odometer_km.is_some_and(|prev| km < prev) && !ch.odometer_correction {
            return Err(AppError::invalid(
                "odometerKm",
                "odometer_decreased",
                "the reading is below the last one; mark it as a correction if that is right",
            ));
        }
        if before.odometer_km != Some(km) {
            record_reading(tx, caller, id, km, ch.odometer_correction).await?;
            a.odometer_km = Set(Some(km));
        }
    }
    if let Some(v) = ch.vin {
        a.vin = Set(v.map(|v| v.to_string()));
    }
    if let Some(v) = ch.plate_number {
        a.plate_number = Set(v.map(PlateNumber::into_inner));
    }
    if let Some(v) = ch.make {
        a.make = Set(v);
    }
    if let Some(v) = ch.model {
        a.model = Set(v);
    }
    if let Some(v) = ch.year {
        a.year = Set(v);
    }
    if let Some(v) = ch.engine {
        a.engine = Set(v);
    }
    if let Some(v) = ch.colour {
        a.colour = Set(v);
    }
    Ok(())
    })
    .await
}

pub async fn delete(
    db: &Db,
    caller: &Caller,
    id: Uuid,
    version: i32,
) -> AppResult<vehicles::Model> {
    soft_delete::<vehicles::ActiveModel>(db, caller, "vehicle", id, version, true, async |_| Ok(()))
        .await
}

/// Restores a vehicle whose owner is live.
pub async fn restore(
    db: &Db,
    caller: &Caller,
    id: Uuid,
    version: i32,
) -> AppResult<vehicles::Model> {
    soft_delete::<vehicles::ActiveModel>(db, caller, "vehicle", id, version, false, async |tx| {
        let car = vehicles::Entity::find_by_id(id)
            .one(tx)
            .await?
            .ok_or(AppError::NotFound)?;
        live_customer(tx, car.customer_id).await
    })
    .await
}

/// The vehicles the caller may see, filtered and sorted, one page.
pub async fn list(
    db: &Db,
    access: &Access,
    f: &queries::VehicleFilter,
    sort: (SortBy, bool),
    w: &Window,
) -> AppResult<Listed<ByPosition<vehicles::Model>>> {
    let select =
        queries::vehicles(f).filter(visibility::VEHICLE.condition(access, &columns::vehicles()));
    reads::models(db, select, &queries::vehicle_sort(sort.0, sort.1), w).await
}
