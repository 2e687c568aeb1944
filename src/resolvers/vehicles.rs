//! Vehicle mutations: register, edit (owner and odometer rules included), soft delete and restore.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};

use super::caller;
use super::customers::RecordVersionInput;
use crate::auth::catalog::Perm;
use crate::auth::guard::Require;
use crate::domain::{PlateNumber, Vin};
use crate::error::{AppError, AppResult, not_found_at};
use crate::schema::payload::{UserError, split};
use crate::schema::scope::{authorise_customer, authorise_vehicle};
use crate::schema::types::Vehicle;
use crate::schema::{ids, state};
use crate::services::vehicles::{self, NewVehicle, VehicleChanges};

#[derive(Default)]
pub struct VehicleMutation;

#[derive(InputObject)]
pub struct CreateVehicleInput {
    pub customer_id: ID,
    pub vin: Option<String>,
    pub plate_number: Option<String>,
    #[graphql(validator(max_length = 100))]
    pub make: Option<String>,
    #[graphql(validator(max_length = 100))]
    pub model: Option<String>,
    pub year: Option<i32>,
    #[graphql(validator(max_length = 100))]
    pub engine: Option<String>,
    #[graphql(validator(max_length = 100))]
    pub colour: Option<String>,
    pub odometer_km: Option<i32>,
}

#[derive(InputObject)]
pub struct UpdateVehicleInput {
    pub id: ID,
    pub version: i32,
    /// Moves the vehicle to another owner; the ownership history is kept.
    pub customer_id: Option<ID>,
    pub vin: MaybeUndefined<String>,
    pub plate_number: MaybeUndefined<String>,
    #[graphql(validator(max_length = 100))]
    pub make: MaybeUndefined<String>,
    #[graphql(validator(max_length = 100))]
    pub model: MaybeUndefined<String>,
    pub year: MaybeUndefined<i32>,
    #[graphql(validator(max_length = 100))]
    pub engine: MaybeUndefined<String>,
    #[graphql(validator(max_length = 100))]
    pub colour: MaybeUndefined<String>,
    pub odometer_km: Option<i32>,
    /// Accept a reading below the last one.
    #[graphql(default)]
    pub odometer_correction: bool,
}

#[derive(SimpleObject)]
pub struct VehiclePayload {
    pub vehicle: Option<Vehicle>,
    pub errors: Vec<UserError>,
}

fn payload(r: AppResult<entity::vehicles::Model>) -> Result<VehiclePayload> {
    let (vehicle, errors) = split(r)?;
    Ok(VehiclePayload {
        vehicle: vehicle.map(Vehicle),
        errors,
    })
}

fn text(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn vin(raw: &str) -> AppResult<Vin> {
    raw.parse().map_err(|e| AppError::parse("vin", e))
}

fn plate(raw: &str) -> AppResult<PlateNumber> {
    raw.parse().map_err(|e| AppError::parse("plateNumber", e))
}

fn maybe_text(v: MaybeUndefined<String>) -> Option<Option<String>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(s) => Some(text(Some(s))),
    }
}

fn maybe_parsed<T>(
    v: MaybeUndefined<String>,
    parse: fn(&str) -> AppResult<T>,
) -> AppResult<Option<Option<T>>> {
    match maybe_text(v) {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(s)) => parse(&s).map(|t| Some(Some(t))),
    }
}

impl CreateVehicleInput {
    fn parse(self) -> AppResult<NewVehicle> {
        Ok(NewVehicle {
            customer_id: ids::decode_as("Customer", &self.customer_id, "customerId")?,
            vin: text(self.vin).map(|v| vin(&v)).transpose()?,
            plate_number: text(self.plate_number).map(|p| plate(&p)).transpose()?,
            make: text(self.make),
            model: text(self.model),
            year: self.year,
            engine: text(self.engine),
            colour: text(self.colour),
            odometer_km: self.odometer_km.map(i64::from),
        })
    }
}

impl UpdateVehicleInput {
    fn parse(self) -> AppResult<(uuid::Uuid, i32, VehicleChanges)> {
        let id = ids::decode_as("Vehicle", &self.id, "id")?;
        let changes = VehicleChanges {
            customer_id: self
                .customer_id
                .map(|c| ids::decode_as("Customer", &c, "customerId"))
                .transpose()?,
            vin: maybe_parsed(self.vin, vin)?,
            plate_number: maybe_parsed(self.plate_number, plate)?,
            make: maybe_text(self.make),
            model: maybe_text(self.model),
            year: match self.year {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(y) => Some(Some(y)),
            },
            engine: maybe_text(self.engine),
            colour: maybe_text(self.colour),
            odometer_km: self.odometer_km.map(i64::from),
            odometer_correction: self.odometer_correction,
        };
        Ok((id, self.version, changes))
    }
}

#[Object]
impl VehicleMutation {
    #[graphql(guard = "Require::perm(Perm::VehicleCreate)")]
    async fn create_vehicle(
        &self,
        ctx: &Context<'_>,
        input: CreateVehicleInput,
    ) -> Result<VehiclePayload> {
        let r = async {
            let new = input.parse()?;
            authorise_customer(ctx, new.customer_id, Perm::VehicleCreate)
                .await
                .map_err(not_found_at("customerId", "no such customer"))?;
            vehicles::create(&state(ctx).db, &caller(ctx), new).await
        };
        payload(r.await)
    }

    #[graphql(guard = "Require::perm(Perm::VehicleUpdate)")]
    async fn update_vehicle(
        &self,
        ctx: &Context<'_>,
        input: UpdateVehicleInput,
    ) -> Result<VehiclePayload> {
        let r = async {
            let (id, version, ch) = input.parse()?;
            authorise_vehicle(ctx, id, Perm::VehicleUpdate).await?;
            if let Some(owner) = ch.customer_id {
                authorise_customer(ctx, owner, Perm::VehicleUpdate)
                    .await
                    .map_err(not_found_at("customerId", "no such customer"))?;
            }
            vehicles::update(&state(ctx).db, &caller(ctx), id, version, ch).await
        };
        payload(r.await)
    }

    #[graphql(guard = "Require::perm(Perm::VehicleDelete)")]
    async fn delete_vehicle(
        &self,
        ctx: &Context<'_>,
        input: RecordVersionInput,
    ) -> Result<VehiclePayload> {
        let r = async {
            let id = ids::decode_as("Vehicle", &input.id, "id")?;
            authorise_vehicle(ctx, id, Perm::VehicleDelete).await?;
            vehicles::delete(&state(ctx).db, &caller(ctx), id, input.version).await
        };
        payload(r.await)
    }

    #[graphql(guard = "Require::perm(Perm::VehicleDelete)")]
    async fn restore_vehicle(
        &self,
        ctx: &Context<'_>,
        input: RecordVersionInput,
    ) -> Result<VehiclePayload> {
        let r = async {
            let id = ids::decode_as("Vehicle", &input.id, "id")?;
            authorise_vehicle(ctx, id, Perm::VehicleDelete).await?;
            vehicles::restore(&state(ctx).db, &caller(ctx), id, input.version).await
        };
        payload(r.await)
    }
}
