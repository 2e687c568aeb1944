//! Customers: create, edit, soft-delete and restore, each audited, each checked against the version read.

use chrono::Utc;
use entity::{customers, invoices, locations, vehicles, work_orders};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Set,
};
use serde_json::Value;
use uuid::Uuid;

use super::reads::{self, Listed, Window};
use super::{audit, edit, set_deleted, soft_delete};
use crate::auth::Caller;
use crate::auth::policy::Access;
use crate::auth::visibility::{self, columns};
use crate::db::Db;
use crate::db::batch::{self, CustomerWith};
use crate::db::queries::{self, SortBy};
use crate::db::rows::ByPosition;
use crate::domain::{CustomerKind, Email, NonEmpty, Phone, WorkOrderStatus};
use crate::error::{AppError, AppResult};

#[derive(Debug)]
pub struct NewCustomer {
    pub kind: CustomerKind,
    pub name: NonEmpty,
    pub phones: Vec<Phone>,
    pub emails: Vec<Email>,
    pub notes: Option<String>,
    pub marketing_consent: bool,
    pub home_location_id: Option<Uuid>,
}

/// Only the fields present change; `Some(None)` clears a nullable one.
#[derive(Debug, Default)]
pub struct CustomerChanges {
    pub kind: Option<CustomerKind>,
    pub name: Option<NonEmpty>,
    pub phones: Option<Vec<Phone>>,
    pub emails: Option<Vec<Email>>,
    pub notes: Option<Option<String>>,
    pub marketing_consent: Option<bool>,
    pub home_location_id: Option<Option<Uuid>>,
}

fn json_list<T: ToString>(items: &[T]) -> Value {
    Value::Array(items.iter().map(|i| Value::String(i.to_string())).collect())
}

async fn check_location<C: sea_orm::ConnectionTrait>(conn: &C, id: Option<Uuid>) -> AppResult<()> {
    let Some(id) = id else { return Ok(()) };
    // FOR SHARE on PostgreSQL: the location cannot be deleted until this transaction ends.
    let found = locations::Entity::find_by_id(id)
        .filter(locations::Column::DeletedAt.is_null())
        .lock_shared()
        .one(conn)
        .await?;
    found
        .map(|_| ())
        .ok_or_else(|| AppError::invalid("homeLocationId", "not_found", "no such location"))
}

pub async fn create(db: &Db, caller: &Caller, new: NewCustomer) -> AppResult<customers::Model> {
    let tx = db.write_tx().await?;
    check_location(&tx, new.home_location_id).await?;
    let now = Utc::now();
    let row = customers::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        kind: Set(new.kind.as_str().to_owned()),
        name_folded: Set(new.name.as_str().to_lowercase()),
        name: Set(new.name.into_inner()),
        phones: Set(json_list(&new.phones)),
        emails: Set(json_list(&new.emails)),
        notes: Set(new.notes),
        marketing_consent: Set(new.marketing_consent),
        home_location_id: Set(new.home_location_id),
        deleted_at: Set(None),
        version: Set(1),
    }
    .insert(&tx)
    .await?;
    audit::record(&tx, caller, "customer", row.id, "create", None, Some(&row)).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update(
    db: &Db,
    caller: &Caller,
    id: Uuid,
    version: i32,
    ch: CustomerChanges,
) -> AppResult<customers::Model> {
    edit::<customers::ActiveModel>(
        db,
        caller,
        "customer",
        id,
        version,
        "update",
        async |tx, _, a| {
            if let Some(loc) = ch.home_location_id {
                check_location(tx, loc).await?;
            }
            if let Some(v) = ch.kind {
                a.kind = Set(v.as_str().to_owned());
            }
            if let Some(v) = ch.name {
                a.name_folded = Set(v.as_str().to_lowercase());
                a.name = Set(v.into_inner());
            }
            if let Some(v) = ch.phones {
                a.phones = Set(json_list(&v));
            }
            if let Some(v) = ch.emails {
                a.emails = Set(json_list(&v));
            }
            if let Some(v) = ch.notes {
                a.notes = Set(v);
            }
            if let Some(v) = ch.marketing_consent {
                a.marketing_consent = Set(v);
            }
            if let Some(v) = ch.home_location_id {
                a.home_location_id = Set(v);
            }
            Ok(())
        },
    )
    .await
}

/// Soft-deletes a customer who owes nothing and has no open work.
pub async fn delete(
    db: &Db,
    caller: &Caller,
    id: Uuid,
    version: i32,
) -> AppResult<customers::Model> {
    soft_delete::<customers::ActiveModel>(db, caller, "customer", id, version, true, async |tx| {
        let open: Vec<&str> = WorkOrderStatus::ALL
            .iter()
            .filter(|s| s.is_open())
            .map(|s| s.as_str())
            .collect();
        let open_orders = work_orders::Entity::find()
            .filter(work_orders::Column::CustomerId.eq(id))
            .filter(work_orders::Column::DeletedAt.is_null())
            .filter(work_orders::Column::Status.is_in(open))
            .count(tx)
            .await?;
        if open_orders > 0 {
            return Err(AppError::invalid(
                "id",
                "customer_has_open_work_orders",
                "close or cancel the customer's open work orders first",
            ));
        }
        let unpaid = invoices::Entity::find()
            .filter(invoices::Column::CustomerId.eq(id))
            .filter(invoices::Column::DeletedAt.is_null())
            .filter(invoices::Column::Status.is_in(["issued", "partially_paid"]))
            .count(tx)
            .await?;
        if unpaid > 0 {
            return Err(AppError::invalid(
                "id",
                "customer_has_unpaid_invoices",
                "the customer has unpaid invoices",
            ));
        }
        // The customer's vehicles go with them (each audited); they come back one by one if needed.
        let cars = vehicles::Entity::find()
            .filter(vehicles::Column::CustomerId.eq(id))
            .filter(vehicles::Column::DeletedAt.is_null())
            .all(tx)
            .await?;
        for car in cars {
            let gone = set_deleted::<vehicles::ActiveModel, _>(tx, car.clone(), true).await?;
            super::files::follow_parent(tx, "vehicle", car.id, None).await?;
            audit::record(
                tx,
                caller,
                "vehicle",
                car.id,
                "delete",
                Some(&car),
                Some(&gone),
            )
            .await?;
        }
        Ok(())
    })
    .await
}

pub async fn restore(
    db: &Db,
    caller: &Caller,
    id: Uuid,
    version: i32,
) -> AppResult<customers::Model> {
    soft_delete::<customers::ActiveModel>(db, caller, "customer", id, version, false, async |_| {
        Ok(())
    })
    .await
}

/// The customers the caller may see, filtered and sorted, one page.
pub async fn list(
    db: &Db,
    access: &Access,
    f: &queries::CustomerFilter,
    sort: (SortBy, bool),
    w: &Window,
) -> AppResult<Listed<ByPosition<customers::Model>>> {
    reads::models(
        db,
        visible(access, f),
        &queries::customer_sort(sort.0, sort.1),
        w,
    )
    .await
}

/// The same page, each customer with its home branch and balance due read in the page's own statement.
pub async fn list_with_home_and_balance(
    db: &Db,
    access: &Access,
    f: &queries::CustomerFilter,
    sort: (SortBy, bool),
    w: &Window,
) -> AppResult<Listed<CustomerWith>> {
    let sort = queries::customer_sort(sort.0, sort.1);
    reads::list(
        db,
        visible(access, f),
        batch::with_home_and_balance,
        &sort,
        w,
    )
    .await
}

fn visible(access: &Access, f: &queries::CustomerFilter) -> sea_orm::Select<customers::Entity> {
    queries::customers(f).filter(visibility::CUSTOMER.condition(access, &columns::customers()))
}
