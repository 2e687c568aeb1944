//! Customer mutations: create, update, soft delete and restore, in the payload style.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};

use super::caller;
use crate::auth::catalog::Perm;
use crate::auth::guard::Require;
use crate::domain::{CustomerKind, Email, NonEmpty, ParseError, Phone};
use crate::error::{AppError, AppResult};
use crate::schema::payload::{UserError, split};
use crate::schema::scope::{authorise_customer, authorise_location};
use crate::schema::types::Customer;
use crate::schema::{ids, state};
use crate::services::customers::{self, CustomerChanges, NewCustomer};

#[derive(Default)]
pub struct CustomerMutation;

#[derive(InputObject)]
pub struct CreateCustomerInput {
    #[graphql(default_with = "CustomerKind::Person")]
    pub kind: CustomerKind,
    pub name: String,
    #[graphql(default, validator(max_items = 10))]
    pub phones: Vec<String>,
    #[graphql(default, validator(max_items = 10))]
    pub emails: Vec<String>,
    #[graphql(validator(max_length = 10000))]
    pub notes: Option<String>,
    #[graphql(default)]
    pub marketing_consent: bool,
    pub home_location_id: Option<ID>,
}

#[derive(InputObject)]
pub struct UpdateCustomerInput {
    pub id: ID,
    /// The version you read; a newer one in the database means someone else changed it.
    pub version: i32,
    pub kind: Option<CustomerKind>,
    pub name: Option<String>,
    #[graphql(validator(max_items = 10))]
    pub phones: Option<Vec<String>>,
    #[graphql(validator(max_items = 10))]
    pub emails: Option<Vec<String>>,
    #[graphql(validator(max_length = 10000))]
    pub notes: MaybeUndefined<String>,
    pub marketing_consent: Option<bool>,
    pub home_location_id: MaybeUndefined<ID>,
}

/// Names a record and the version the client read.
#[derive(InputObject)]
pub struct RecordVersionInput {
    pub id: ID,
    pub version: i32,
}

#[derive(SimpleObject)]
pub struct CustomerPayload {
    pub customer: Option<Customer>,
    pub errors: Vec<UserError>,
}

fn payload(r: AppResult<entity::customers::Model>) -> Result<CustomerPayload> {
    let (customer, errors) = split(r)?;
    Ok(CustomerPayload {
        customer: customer.map(Customer),
        errors,
    })
}

/// Parses every item of a list, naming the item at fault (`phones.2`).
fn each<T: std::str::FromStr<Err = ParseError>>(raw: &[String], field: &str) -> AppResult<Vec<T>> {
    raw.iter()
        .enumerate()
        .map(|(i, p)| {
            p.parse()
                .map_err(|e| AppError::parse(&format!("{field}.{i}"), e))
        })
        .collect()
}

fn location(id: Option<&ID>) -> AppResult<Option<uuid::Uuid>> {
    id.map(|i| ids::decode_as("Location", i, "homeLocationId"))
        .transpose()
}

fn maybe<T, U>(
    v: MaybeUndefined<T>,
    f: impl FnOnce(T) -> AppResult<U>,
) -> AppResult<Option<Option<U>>> {
    match v {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Ok(Some(None)),
        MaybeUndefined::Value(t) => f(t).map(|u| Some(Some(u))),
    }
}

impl CreateCustomerInput {
    fn parse(self) -> AppResult<NewCustomer> {
        Ok(NewCustomer {
            kind: self.kind,
            name: NonEmpty::parse("name", &self.name).map_err(|e| AppError::parse("name", e))?,
            phones: each::<Phone>(&self.phones, "phones")?,
            emails: each::<Email>(&self.emails, "emails")?,
            notes: self
                .notes
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty()),
            marketing_consent: self.marketing_consent,
            home_location_id: location(self.home_location_id.as_ref())?,
        })
    }
}

impl UpdateCustomerInput {
    fn parse(self) -> AppResult<(uuid::Uuid, i32, CustomerChanges)> {
        let id = ids::decode_as("Customer", &self.id, "id")?;
        let changes = CustomerChanges {
            kind: self.kind,
            name: self
                .name
                .map(|n| NonEmpty::parse("name", &n).map_err(|e| AppError::parse("name", e)))
                .transpose()?,
            phones: self
                .phones
                .map(|p| each::<Phone>(&p, "phones"))
                .transpose()?,
            emails: self
                .emails
                .map(|p| each::<Email>(&p, "emails"))
                .transpose()?,
            notes: match self.notes {
                // Blank notes are no notes, as on create.
                MaybeUndefined::Value(n) if n.trim().is_empty() => Some(None),
                other => maybe(other, |n| Ok(n.trim().to_owned()))?,
            },
            marketing_consent: self.marketing_consent,
            home_location_id: maybe(self.home_location_id, |i| {
                ids::decode_as("Location", &i, "homeLocationId")
            })?,
        };
        Ok((id, self.version, changes))
    }
}

#[Object]
impl CustomerMutation {
    #[graphql(guard = "Require::perm(Perm::CustomerCreate)")]
    async fn create_customer(
        &self,
        ctx: &Context<'_>,
        input: CreateCustomerInput,
    ) -> Result<CustomerPayload> {
        let r = async {
            let new = input.parse()?;
            authorise_location(ctx, Perm::CustomerCreate, new.home_location_id)?;
            customers::create(&state(ctx).db, &caller(ctx), new).await
        };
        payload(r.await)
    }

    /// Changes the fields given; absent fields stay, `null` clears an optional one.
    #[graphql(guard = "Require::perm(Perm::CustomerUpdate)")]
    async fn update_customer(
        &self,
        ctx: &Context<'_>,
        input: UpdateCustomerInput,
    ) -> Result<CustomerPayload> {
        let r = async {
            let (id, version, ch) = input.parse()?;
            authorise_customer(ctx, id, Perm::CustomerUpdate).await?;
            if let Some(home) = ch.home_location_id {
                authorise_location(ctx, Perm::CustomerUpdate, home)?;
            }
            customers::update(&state(ctx).db, &caller(ctx), id, version, ch).await
        };
        payload(r.await)
    }

    /// Hides the customer everywhere; refused while they have open work orders or unpaid invoices.
    #[graphql(guard = "Require::perm(Perm::CustomerDelete)")]
    async fn delete_customer(
        &self,
        ctx: &Context<'_>,
        input: RecordVersionInput,
    ) -> Result<CustomerPayload> {
        let r = async {
            let id = ids::decode_as("Customer", &input.id, "id")?;
            authorise_customer(ctx, id, Perm::CustomerDelete).await?;
            customers::delete(&state(ctx).db, &caller(ctx), id, input.version).await
        };
        payload(r.await)
    }

    #[graphql(guard = "Require::perm(Perm::CustomerDelete)")]
    async fn restore_customer(
        &self,
        ctx: &Context<'_>,
        input: RecordVersionInput,
    ) -> Result<CustomerPayload> {
        let r = async {
            let id = ids::decode_as("Customer", &input.id, "id")?;
            authorise_customer(ctx, id, Perm::CustomerDelete).await?;
            customers::restore(&state(ctx).db, &caller(ctx), id, input.version).await
        };
        payload(r.await)
    }
}
