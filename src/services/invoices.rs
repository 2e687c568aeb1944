//! Invoices and their payments: issued from a finished work order with its lines frozen, voided (with a
//! reason, only when nothing is paid) and reissued; payments and refunds are an append-only ledger with
//! idempotency keys, and the invoice row is locked while its balance moves.

use chrono::{DateTime, Utc};
use entity::{invoice_lines, invoices, payments, work_order_lines, work_orders};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::reads::{self, Listed, Window};
use super::work_orders::next_number;
use super::{Liveness, audit, lock_versioned, reference, touch};
use crate::auth::Caller;
use crate::auth::crypto;
use crate::auth::policy::Access;
use crate::auth::visibility::{self, columns};
use crate::db::Db;
use crate::db::queries::{self, SortBy};
use crate::db::rows::ByPosition;
use crate::domain::{InvoiceStatus, Money, NonEmpty, WorkOrderStatus};
use crate::error::{AppError, AppResult};

/// Issues the invoice of a ready or closed work order: numbered per location, lines copied and frozen. After a
/// void, issuing again makes the replacement.
pub async fn issue(db: &Db, caller: &Caller, work_order: Uuid) -> AppResult<invoices::Model> {
    let tx = db.write_tx().await?;
    let wo = work_orders::Entity::find_by_id(work_order)
        .filter(work_orders::Column::DeletedAt.is_null())
        .lock_exclusive()
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::invalid("workOrderId", "not_found", "no such work order"))?;
    let status = WorkOrderStatus::from_stored(&wo.status)
        .ok_or_else(|| crate::error::corrupt("work order status", &wo.status))?;
    if !matches!(status, WorkOrderStatus::Ready | WorkOrderStatus::Closed) {
        return Err(AppError::invalid(
            "workOrderId",
            "work_order_not_ready",
            "invoice a work order once it is ready or closed",
        ));
    }
    let replaces = invoices::Entity::find()
        .filter(invoices::Column::WorkOrderId.eq(work_order))
        .filter(invoices::Column::Status.eq("void"))
        .order_by_desc(invoices::Column::CreatedAt)
        .one(&tx)
        .await?
        .map(|i| i.id);
    let seq = next_number(&tx, wo.location_id, "invoice").await?;
    let prefix = reference::text(&tx, "invoice_prefix").await?;
    let currency = reference::text(&tx, "currency").await?;
    let now = Utc::now();
    let inv = invoices::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        location_id: Set(wo.location_id),
        work_order_id: Set(wo.id),
        customer_id: Set(wo.customer_id),
        seq: Set(seq),
        number: Set(format!("{prefix}{seq:06}")),
        status: Set(InvoiceStatus::Issued.as_str().to_owned()),
        currency: Set(currency),
        subtotal_minor: Set(wo.subtotal_minor),
        discount_minor: Set(wo.discount_minor),
        tax_minor: Set(wo.tax_minor),
        total_minor: Set(wo.total_minor),
        paid_minor: Set(0),
        issued_at: Set(Some(now)),
        due_at: Set(None),
        voided_at: Set(None),
        void_reason: Set(None),
        replaces_invoice_id: Set(replaces),
        deleted_at: Set(None),
        version: Set(1),
    }
    .insert(&tx)
    .await?;
    let lines = work_order_lines::Entity::find()
        .filter(work_order_lines::Column::WorkOrderId.eq(wo.id))
        .order_by_asc(work_order_lines::Column::Position)
        .all(&tx)
        .await?;
    for l in lines {
        invoice_lines::ActiveModel {
            id: Set(Uuid::now_v7()),
            created_at: Set(now),
            updated_at: Set(now),
            invoice_id: Set(inv.id),
            position: Set(l.position),
            kind: Set(l.kind),
            description: Set(l.description),
            quantity_milli: Set(l.quantity_milli),
            unit_price_minor: Set(l.unit_price_minor),
            tax_rate_bp: Set(l.tax_rate_bp),
            part_number: Set(l.part_number),
            net_minor: Set(l.net_minor),
            tax_minor: Set(l.tax_minor),
            total_minor: Set(l.total_minor),
        }
        .insert(&tx)
        .await?;
    }
    audit::record(&tx, caller, "invoice", inv.id, "issue", None, Some(&inv)).await?;
    tx.commit().await?;
    Ok(inv)
}

/// Voids an invoice nothing is paid on (refund first), with a reason.
pub async fn void(
    db: &Db,
    caller: &Caller,
    id: Uuid,
    version: i32,
    reason: NonEmpty,
) -> AppResult<invoices::Model> {
    let tx = db.write_tx().await?;
    let before = lock_versioned::<invoices::Entity, _>(&tx, id, version, Liveness::Live).await?;
    if before.status == InvoiceStatus::Void.as_str() {
        return Err(AppError::invalid(
            "id",
            "invoice_void",
            "the invoice is already void",
        ));
    }
    if before.paid_minor != 0 {
        return Err(AppError::invalid(
            "id",
            "invoice_has_payments",
            "refund the payments before voiding",
        ));
    }
    let mut a = before.clone().into_active_model();
    a.status = Set(InvoiceStatus::Void.as_str().to_owned());
    a.voided_at = Set(Some(Utc::now()));
    a.void_reason = Set(Some(reason.into_inner()));
    touch(&mut a, version)?;
    let after = a.update(&tx).await?;
    audit::record(
        &tx,
        caller,
        "invoice",
        id,
        "void",
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn find_any(db: &Db, id: Uuid) -> AppResult<invoices::Model> {
    invoices::Entity::find_by_id(id)
        .one(&db.conn)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn payment(db: &Db, id: Uuid) -> AppResult<payments::Model> {
    payments::Entity::find_by_id(id)
        .one(&db.conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// What a payment or refund request is: retries must send the same.
#[derive(Debug, Clone)]
pub enum Movement {
    Payment { invoice_id: Uuid, method: String },
    Refund { payment_id: Uuid },
}

#[derive(Debug, Clone)]
pub struct LedgerEntry {
    pub movement: Movement,
    pub amount: Money,
    pub reference: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
    pub idempotency_key: String,
}

impl LedgerEntry {
    fn request_hash(&self) -> String {
        let what = match &self.movement {
            Movement::Payment { invoice_id, method } => {
                json!({ "pay": invoice_id, "method": method })
            }
            Movement::Refund { payment_id } => json!({ "refund": payment_id }),
        };
        let body = json!({ "what": what, "amount": self.amount.minor(), "reference": self.reference, "receivedAt": self.received_at });
        crypto::sha256_hex(body.to_string().as_bytes())
    }
}

async fn replay<C: ConnectionTrait>(
    conn: &C,
    key: &str,
    hash: &str,
) -> AppResult<Option<payments::Model>> {
    let found = payments::Entity::find()
        .filter(payments::Column::IdempotencyKey.eq(key))
        .one(conn)
        .await?;
    match found {
        Some(p) if p.request_hash.as_deref() == Some(hash) => Ok(Some(p)),
        Some(_) => Err(AppError::invalid(
            "idempotencyKey",
            "idempotency_key_reused",
            "this idempotency key was used for a different request",
        )),
        None => Ok(None),
    }
}

fn status_for(paid: i64, total: i64) -> InvoiceStatus {
    if paid == 0 {
        InvoiceStatus::Issued
    } else if paid >= total {
        InvoiceStatus::Paid
    } else {
        InvoiceStatus::PartiallyPaid
    }
}

/// Records a payment or a refund, once per idempotency key: a retry with the same key and body gets the first
/// result; the same key with another body is refused. Partial payments are fine; overpaying and refunding more
/// than was paid are not. The invoice row is locked while its balance moves.
pub async fn record(db: &Db, caller: &Caller, entry: LedgerEntry) -> AppResult<payments::Model> {
    let key = entry.idempotency_key.trim();
    if key.len() < 8 || key.len() > 100 {
        return Err(AppError::invalid(
            "idempotencyKey",
            "invalid_idempotency_key",
            "an idempotency key has 8 to 100 characters",
        ));
    }
    // A key is the sender's own, for one operation: another caller who sends the same key (or this caller
    // sending it for a refund) makes a request of their own, and never receives someone else's payment.
    let operation = match entry.movement {
        Movement::Payment { .. } => "payment",
        Movement::Refund { .. } => "refund",
    };
    let sender = caller
        .actor_id()
        .map_or_else(|| "system".to_owned(), |id| id.to_string());
    let key = format!("{operation}:{sender}:{key}");
    let hash = entry.request_hash();
    if let Some(done) = replay(&db.conn, &key, &hash).await? {
        return Ok(done);
    }
    match write(db, caller, &entry, &key, &hash).await {
        // Another request with this key won the race: answer as a retry would be answered.
        Err(e) if e.code() == "idempotency_key_reused" => {
            replay(&db.conn, &key, &hash).await?.ok_or(e)
        }
        other => other,
    }
}

async fn write(
    db: &Db,
    caller: &Caller,
    entry: &LedgerEntry,
    key: &str,
    hash: &str,
) -> AppResult<payments::Model> {
    if entry.amount.minor() <= 0 {
        return Err(AppError::invalid(
            "amount",
            "invalid_amount",
            "the amount must be positive",
        ));
    }
    let tx = db.write_tx().await?;
    let (invoice_id, refund_of, method, signed) = match &entry.movement {
        Movement::Payment { invoice_id, method } => {
            if reference::active_entry(&tx, "payment_methods", method)
                .await?
                .is_none()
            {
                return Err(AppError::invalid(
                    "method",
                    "unknown_payment_method",
                    format!("`{method}` is not an active payment method"),
                ));
            }
            (*invoice_id, None, method.clone(), entry.amount.minor())
        }
        Movement::Refund { payment_id } => {
            let original = payments::Entity::find_by_id(*payment_id)
                .one(&tx)
                .await?
                .ok_or_else(|| AppError::invalid("paymentId", "not_found", "no such payment"))?;
            if original.refund_of_id.is_some() {
                return Err(AppError::invalid(
                    "paymentId",
                    "not_refundable",
                    "a refund cannot be refunded",
                ));
            }
            (
                original.invoice_id,
                Some(original),
                String::new(),
                -entry.amount.minor(),
            )
        }
    };
    let inv = invoices::Entity::find_by_id(invoice_id)
        .filter(invoices::Column::DeletedAt.is_null())
        .lock_exclusive()
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::invalid("invoiceId", "not_found", "no such invoice"))?;
    // Checked again under the invoice's lock: a concurrent request with this key may have just committed.
    if let Some(done) = replay(&tx, key, hash).await? {
        return Ok(done);
    }
    if !matches!(inv.status.as_str(), "issued" | "partially_paid" | "paid") {
        return Err(AppError::invalid(
            "invoiceId",
            "invoice_not_payable",
            format!("an invoice that is {} takes no payments", inv.status),
        ));
    }
    let method = match &refund_of {
        None => {
            let paid = Money::from_minor(inv.paid_minor)
                .add_within(Money::from_minor(signed), "amount")?;
            if paid.minor() > inv.total_minor {
                return Err(AppError::invalid(
                    "amount",
                    "overpayment",
                    format!(
                        "the balance is {}",
                        Money::from_minor(inv.total_minor.saturating_sub(inv.paid_minor))
                    ),
                ));
            }
            method
        }
        Some(original) => {
            let mut refunded = Money::ZERO;
            for r in payments::Entity::find()
                .filter(payments::Column::RefundOfId.eq(original.id))
                .all(&tx)
                .await?
            {
                refunded = refunded.add_within(Money::from_minor(-r.amount_minor), "amount")?;
            }
            if refunded.add_within(entry.amount, "amount")?.minor() > original.amount_minor {
                return Err(AppError::invalid(
                    "amount",
                    "refund_exceeds_payment",
                    format!(
                        "at most {} of this payment is left to refund",
                        Money::from_minor(original.amount_minor)
                            .checked_sub(refunded)
                            .unwrap_or(Money::ZERO)
                    ),
                ));
            }
            original.method_code.clone()
        }
    };
    let now = Utc::now();
    let row = payments::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        invoice_id: Set(inv.id),
        amount_minor: Set(signed),
        method_code: Set(method),
        received_at: Set(entry.received_at.unwrap_or(now)),
        reference: Set(entry.reference.clone()),
        refund_of_id: Set(refund_of.as_ref().map(|o| o.id)),
        idempotency_key: Set(Some(key.to_owned())),
        request_hash: Set(Some(hash.to_owned())),
        recorded_by: Set(caller.user_id),
    }
    .insert(&tx)
    .await?;
    let paid = Money::from_minor(inv.paid_minor)
        .add_within(Money::from_minor(signed), "amount")?
        .minor();
    let before = inv.clone();
    let mut a = inv.into_active_model();
    a.paid_minor = Set(paid);
    a.status = Set(status_for(paid, before.total_minor).as_str().to_owned());
    touch(&mut a, before.version)?;
    let after = a.update(&tx).await?;
    let mut d = audit::diff(Some(&before), Some(&after))?;
    d["payment"] = json!(row);
    let action = if refund_of.is_some() {
        "refund"
    } else {
        "payment"
    };
    audit::event(&tx, caller, "invoice", Some(after.id), action, d).await?;
    tx.commit().await?;
    Ok(row)
}

/// The invoices the caller may see, filtered and sorted, one page.
pub async fn list(
    db: &Db,
    access: &Access,
    f: &queries::InvoiceFilter,
    sort: (SortBy, bool),
    w: &Window,
) -> AppResult<Listed<ByPosition<invoices::Model>>> {
    let select =
        queries::invoices(f).filter(visibility::INVOICE.condition(access, &columns::invoices()));
    reads::models(db, select, &queries::invoice_sort(sort.0, sort.1), w).await
}

/// The payments and refunds the caller may see, newest first, one page.
pub async fn payments(
    db: &Db,
    access: &Access,
    f: &queries::PaymentFilter,
    w: &Window,
) -> AppResult<Listed<ByPosition<payments::Model>>> {
    let select =
        queries::payments(f).filter(visibility::PAYMENT.condition(access, &columns::payments()));
    reads::models(db, select, &queries::payment_sort(true), w).await
}
