//! The shop's daily work through GraphQL: work orders (details, mechanics, lines, status), invoices and
//! payments. Each resolver parses, checks the caller may act on that very record, calls one service and maps.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::caller;
use super::customers::RecordVersionInput;
use crate::auth::catalog::Perm;
use crate::auth::guard::Require;
use crate::domain::{
    ApprovalMethod, LineKind, Money, NonEmpty, Quantity, TaxRate, WorkOrderStatus,
};
use crate::error::{AppError, AppResult, not_found_at};
use crate::schema::payload::{UserError, split};
use crate::schema::scope::{
    authorise_customer, authorise_invoice, authorise_location, authorise_work_order,
};
use crate::schema::types::{Invoice, Payment, WorkOrder};
use crate::schema::{ids, state};
use crate::services::invoices::{self, LedgerEntry, Movement};
use crate::services::work_orders::{
    self, Approval, LineChanges, NewLine, NewWorkOrder, WorkOrderChanges,
};

#[derive(Default)]
pub struct WorkflowMutation;

fn text(field: &str, raw: &str) -> AppResult<NonEmpty> {
    NonEmpty::parse(field, raw).map_err(|e| AppError::parse(field, e))
}

fn parsed<T: std::str::FromStr<Err = crate::domain::ParseError>>(
    field: &str,
    raw: &str,
) -> AppResult<T> {
    raw.parse().map_err(|e| AppError::parse(field, e))
}

fn opt_text(raw: Option<String>) -> Option<String> {
    raw.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

#[derive(InputObject)]
pub struct CreateWorkOrderInput {
    pub customer_id: ID,
    pub vehicle_id: ID,
    pub location_id: ID,
    #[graphql(validator(max_length = 10000))]
    pub complaint: String,
    pub promised_at: Option<DateTime<Utc>>,
    /// The odometer when the car came in, in km.
    pub odometer_in_km: Option<i64>,
}

#[derive(InputObject)]
pub struct UpdateWorkOrderInput {
    pub id: ID,
    pub version: i32,
    #[graphql(validator(max_length = 10000))]
    pub complaint: Option<String>,
    #[graphql(validator(max_length = 10000))]
    pub diagnosis: async_graphql::MaybeUndefined<String>,
    #[graphql(validator(max_length = 10000))]
    pub notes: async_graphql::MaybeUndefined<String>,
    pub promised_at: async_graphql::MaybeUndefined<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct MechanicInput {
    pub work_order_id: ID,
    /// The work order's version you read.
    pub version: i32,
    pub user_id: ID,
}

#[derive(InputObject)]
pub struct AddLineInput {
    pub work_order_id: ID,
    pub version: i32,
    pub kind: LineKind,
    #[graphql(validator(max_length = 1000))]
    pub description: String,
    /// Hours for labour, pieces for parts, e.g. `"1.5"`.
    pub quantity: String,
    /// Leave out on a labour line to charge the labour rate from settings.
    pub unit_price: Option<String>,
    /// Percent; leave out for the shop's tax rate from settings.
    pub tax_rate: Option<String>,
    /// Who does the labour.
    pub mechanic_id: Option<ID>,
    #[graphql(validator(max_length = 100))]
    pub part_number: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateLineInput {
    pub line_id: ID,
    /// The work order's version you read.
    pub version: i32,
    #[graphql(validator(max_length = 1000))]
    pub description: Option<String>,
    pub quantity: Option<String>,
    pub unit_price: Option<String>,
    pub tax_rate: Option<String>,
    pub mechanic_id: async_graphql::MaybeUndefined<ID>,
    #[graphql(validator(max_length = 100))]
    pub part_number: async_graphql::MaybeUndefined<String>,
}

#[derive(InputObject)]
pub struct RemoveLineInput {
    pub line_id: ID,
    pub version: i32,
}

#[derive(InputObject)]
pub struct ApprovalInput {
    /// The person who approved the estimate.
    pub approved_by: String,
    pub method: ApprovalMethod,
}

#[derive(InputObject)]
pub struct TransitionWorkOrderInput {
    pub id: ID,
    pub version: i32,
    pub to: WorkOrderStatus,
    #[graphql(validator(max_length = 2000))]
    pub note: Option<String>,
    /// Required when moving to APPROVED.
    pub approval: Option<ApprovalInput>,
}

#[derive(InputObject)]
pub struct IssueInvoiceInput {
    pub work_order_id: ID,
}

#[derive(InputObject)]
pub struct VoidInvoiceInput {
    pub id: ID,
    pub version: i32,
    #[graphql(validator(max_length = 2000))]
    pub reason: String,
}

#[derive(InputObject)]
pub struct RecordPaymentInput {
    pub invoice_id: ID,
    pub amount: String,
    /// A code from the payment-methods directory, e.g. `card`.
    pub method: String,
    #[graphql(validator(max_length = 200))]
    pub reference: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
    /// Unique per intended payment (a UUID the client makes once): retries with it record nothing twice.
    pub idempotency_key: String,
}

#[derive(InputObject)]
pub struct RefundPaymentInput {
    pub payment_id: ID,
    pub amount: String,
    #[graphql(validator(max_length = 200))]
    pub reference: Option<String>,
    pub idempotency_key: String,
}

#[derive(SimpleObject)]
pub struct WorkOrderPayload {
    pub work_order: Option<WorkOrder>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct InvoicePayload {
    pub invoice: Option<Invoice>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct PaymentPayload {
    pub payment: Option<Payment>,
    pub errors: Vec<UserError>,
}

/// Maps a work-order result, and tells the live board about the change.
fn wo_payload(
    ctx: &Context<'_>,
    r: AppResult<entity::work_orders::Model>,
) -> Result<WorkOrderPayload> {
    if let Ok(wo) = &r {
        state(ctx).events.publish(crate::events::WorkOrderChanged {
            id: wo.id,
            location_id: wo.location_id,
        });
    }
    let (w, errors) = split(r)?;
    Ok(WorkOrderPayload {
        work_order: w.map(WorkOrder),
        errors,
    })
}

fn invoice_payload(r: AppResult<entity::invoices::Model>) -> Result<InvoicePayload> {
    let (i, errors) = split(r)?;
    Ok(InvoicePayload {
        invoice: i.map(Invoice),
        errors,
    })
}

fn payment_payload(r: AppResult<entity::payments::Model>) -> Result<PaymentPayload> {
    let (p, errors) = split(r)?;
    Ok(PaymentPayload {
        payment: p.map(Payment),
        errors,
    })
}

fn wo_id(id: &ID, field: &str) -> AppResult<uuid::Uuid> {
    ids::decode_as("WorkOrder", id, field)
}

fn opt_mechanic(id: Option<&ID>) -> AppResult<Option<uuid::Uuid>> {
    id.map(|i| ids::decode_as("User", i, "mechanicId"))
        .transpose()
}

fn opt_parsed<T: std::str::FromStr<Err = crate::domain::ParseError>>(
    field: &str,
    raw: Option<&str>,
) -> AppResult<Option<T>> {
    raw.map(|r| parsed::<T>(field, r)).transpose()
}

impl AddLineInput {
    fn parse(self) -> AppResult<(uuid::Uuid, i32, NewLine)> {
        let line = NewLine {
            kind: self.kind,
            description: text("description", &self.description)?,
            quantity: parsed::<Quantity>("quantity", &self.quantity)?,
            unit_price: opt_parsed::<Money>("unitPrice", self.unit_price.as_deref())?,
            tax_rate: opt_parsed::<TaxRate>("taxRate", self.tax_rate.as_deref())?,
            mechanic_id: opt_mechanic(self.mechanic_id.as_ref())?,
            part_number: opt_text(self.part_number),
        };
        Ok((
            wo_id(&self.work_order_id, "workOrderId")?,
            self.version,
            line,
        ))
    }
}

impl UpdateLineInput {
    fn parse(self) -> AppResult<(uuid::Uuid, i32, LineChanges)> {
        let ch = LineChanges {
            description: self
                .description
                .as_deref()
                .map(|d| text("description", d))
                .transpose()?,
            quantity: opt_parsed::<Quantity>("quantity", self.quantity.as_deref())?,
            unit_price: opt_parsed::<Money>("unitPrice", self.unit_price.as_deref())?,
            tax_rate: opt_parsed::<TaxRate>("taxRate", self.tax_rate.as_deref())?,
            mechanic_id: match self.mechanic_id {
                async_graphql::MaybeUndefined::Undefined => None,
                async_graphql::MaybeUndefined::Null => Some(None),
                async_graphql::MaybeUndefined::Value(m) => Some(opt_mechanic(Some(&m))?),
            },
            part_number: maybe(self.part_number.map_value(|p| p.trim().to_owned())),
        };
        let line = ids::decode_as("WorkOrderLine", &self.line_id, "lineId")?;
        Ok((line, self.version, ch))
    }
}

/// A move along the workflow, parsed: the order, the version read, where to, and the permission it needs.
struct Transition {
    id: uuid::Uuid,
    version: i32,
    to: WorkOrderStatus,
    note: Option<String>,
    approval: Option<Approval>,
    perm: Perm,
}

impl TransitionWorkOrderInput {
    fn parse(self) -> AppResult<Transition> {
        let approval = self
            .approval
            .map(|a| -> AppResult<Approval> {
                Ok(Approval {
                    approved_by: text("approval.approvedBy", &a.approved_by)?,
                    method: a.method,
                })
            })
            .transpose()?;
        let perm = Perm::transition_to(self.to).ok_or_else(|| {
            AppError::invalid(
                "to",
                "illegal_transition",
                "no work order goes back to draft",
            )
        })?;
        Ok(Transition {
            id: wo_id(&self.id, "id")?,
            version: self.version,
            to: self.to,
            note: opt_text(self.note),
            approval,
            perm,
        })
    }
}

#[Object]
impl WorkflowMutation {
    /// Takes a car in: a draft work order, numbered at its location.
    #[graphql(guard = "Require::perm(Perm::WorkOrderCreate)")]
    async fn create_work_order(
        &self,
        ctx: &Context<'_>,
        input: CreateWorkOrderInput,
    ) -> Result<WorkOrderPayload> {
        let r = async {
            let new = input.parse()?;
            authorise_location(ctx, Perm::WorkOrderCreate, Some(new.location_id))?;
            authorise_customer(ctx, new.customer_id, Perm::CustomerRead)
                .await
                .map_err(not_found_at("customerId", "no such customer"))?;
            work_orders::create(&state(ctx).db, &caller(ctx), new).await
        };
        wo_payload(ctx, r.await)
    }

    #[graphql(guard = "Require::perm(Perm::WorkOrderUpdate)")]
    async fn update_work_order(
        &self,
        ctx: &Context<'_>,
        input: UpdateWorkOrderInput,
    ) -> Result<WorkOrderPayload> {
        let r = async {
            let (id, version, ch) = input.parse()?;
            authorise_work_order(ctx, id, Perm::WorkOrderUpdate).await?;
            work_orders::update(&state(ctx).db, &caller(ctx), id, version, ch).await
        };
        wo_payload(ctx, r.await)
    }

    #[graphql(guard = "Require::perm(Perm::WorkOrderDelete)")]
    async fn delete_work_order(
        &self,
        ctx: &Context<'_>,
        input: RecordVersionInput,
    ) -> Result<WorkOrderPayload> {
        wo_payload(ctx, delete_or_restore(ctx, input, true).await)
    }

    #[graphql(guard = "Require::perm(Perm::WorkOrderDelete)")]
    async fn restore_work_order(
        &self,
        ctx: &Context<'_>,
        input: RecordVersionInput,
    ) -> Result<WorkOrderPayload> {
        wo_payload(ctx, delete_or_restore(ctx, input, false).await)
    }

    #[graphql(guard = "Require::perm(Perm::WorkOrderUpdate)")]
    async fn assign_mechanic(
        &self,
        ctx: &Context<'_>,
        input: MechanicInput,
    ) -> Result<WorkOrderPayload> {
        wo_payload(ctx, mechanic(ctx, input, true).await)
    }

    #[graphql(guard = "Require::perm(Perm::WorkOrderUpdate)")]
    async fn unassign_mechanic(
        &self,
        ctx: &Context<'_>,
        input: MechanicInput,
    ) -> Result<WorkOrderPayload> {
        wo_payload(ctx, mechanic(ctx, input, false).await)
    }

    /// Adds a labour, part, fee or discount line; the server computes its amounts and the order's totals.
    #[graphql(guard = "Require::perm(Perm::WorkOrderUpdate)")]
    async fn add_work_order_line(
        &self,
        ctx: &Context<'_>,
        input: AddLineInput,
    ) -> Result<WorkOrderPayload> {
        let r = async {
            let (id, version, line) = input.parse()?;
            authorise_work_order(ctx, id, Perm::WorkOrderUpdate).await?;
            work_orders::add_line(&state(ctx).db, &caller(ctx), id, version, line).await
        };
        wo_payload(ctx, r.await)
    }

    #[graphql(guard = "Require::perm(Perm::WorkOrderUpdate)")]
    async fn update_work_order_line(
        &self,
        ctx: &Context<'_>,
        input: UpdateLineInput,
    ) -> Result<WorkOrderPayload> {
        let r = async {
            let (line, version, ch) = input.parse()?;
            let s = state(ctx);
            let order = work_orders::order_of_line(&s.db, line).await?;
            authorise_work_order(ctx, order, Perm::WorkOrderUpdate).await?;
            work_orders::update_line(&s.db, &caller(ctx), line, version, ch).await
        };
        wo_payload(ctx, r.await)
    }

    #[graphql(guard = "Require::perm(Perm::WorkOrderUpdate)")]
    async fn remove_work_order_line(
        &self,
        ctx: &Context<'_>,
        input: RemoveLineInput,
    ) -> Result<WorkOrderPayload> {
        let r = async {
            let line = ids::decode_as("WorkOrderLine", &input.line_id, "lineId")?;
            let s = state(ctx);
            let order = work_orders::order_of_line(&s.db, line).await?;
            authorise_work_order(ctx, order, Perm::WorkOrderUpdate).await?;
            work_orders::remove_line(&s.db, &caller(ctx), line, input.version).await
        };
        wo_payload(ctx, r.await)
    }

    /// Moves the order along its workflow; each target status is a permission of its own.
    #[graphql(guard = "Require::any_transition()")]
    async fn transition_work_order(
        &self,
        ctx: &Context<'_>,
        input: TransitionWorkOrderInput,
    ) -> Result<WorkOrderPayload> {
        let r = async {
            let t = input.parse()?;
            let wo = authorise_work_order(ctx, t.id, Perm::WorkOrderRead)
                .await
                .or(authorise_work_order(ctx, t.id, Perm::WorkOrderReadAssigned).await)?;
            authorise_location(ctx, t.perm, Some(wo.location_id))?;
            let (db, who) = (&state(ctx).db, caller(ctx));
            work_orders::transition(db, &who, t.id, t.version, t.to, t.note, t.approval).await
        };
        wo_payload(ctx, r.await)
    }

    /// Issues the invoice of a ready or closed work order (again, after a void).
    #[graphql(guard = "Require::perm(Perm::InvoiceIssue)")]
    async fn issue_invoice(
        &self,
        ctx: &Context<'_>,
        input: IssueInvoiceInput,
    ) -> Result<InvoicePayload> {
        let r = async {
            let id = wo_id(&input.work_order_id, "workOrderId")?;
            authorise_work_order(ctx, id, Perm::InvoiceIssue)
                .await
                .map_err(not_found_at("workOrderId", "no such work order"))?;
            invoices::issue(&state(ctx).db, &caller(ctx), id).await
        };
        invoice_payload(r.await)
    }

    #[graphql(guard = "Require::perm(Perm::InvoiceVoid)")]
    async fn void_invoice(
        &self,
        ctx: &Context<'_>,
        input: VoidInvoiceInput,
    ) -> Result<InvoicePayload> {
        let r = async {
            let id = ids::decode_as("Invoice", &input.id, "id")?;
            let reason = text("reason", &input.reason)?;
            authorise_invoice(ctx, id, Perm::InvoiceVoid).await?;
            invoices::void(&state(ctx).db, &caller(ctx), id, input.version, reason).await
        };
        invoice_payload(r.await)
    }

    /// Records a payment; safe to retry with the same idempotency key.
    #[graphql(guard = "Require::perm(Perm::PaymentRecord)")]
    async fn record_payment(
        &self,
        ctx: &Context<'_>,
        input: RecordPaymentInput,
    ) -> Result<PaymentPayload> {
        let r = async {
            let (invoice_id, entry) = input.parse()?;
            authorise_invoice(ctx, invoice_id, Perm::PaymentRecord)
                .await
                .map_err(not_found_at("invoiceId", "no such invoice"))?;
            invoices::record(&state(ctx).db, &caller(ctx), entry).await
        };
        payment_payload(r.await)
    }

    /// Refunds all or part of a payment: a negative entry pointing at it; never more than was paid.
    #[graphql(guard = "Require::perm(Perm::PaymentRefund)")]
    async fn refund_payment(
        &self,
        ctx: &Context<'_>,
        input: RefundPaymentInput,
    ) -> Result<PaymentPayload> {
        let r = async {
            let (payment_id, entry) = input.parse()?;
            let s = state(ctx);
            let no_such = || not_found_at("paymentId", "no such payment");
            let original = invoices::payment(&s.db, payment_id)
                .await
                .map_err(no_such())?;
            authorise_invoice(ctx, original.invoice_id, Perm::PaymentRefund)
                .await
                .map_err(no_such())?;
            invoices::record(&s.db, &caller(ctx), entry).await
        };
        payment_payload(r.await)
    }
}

fn maybe<T>(v: async_graphql::MaybeUndefined<T>) -> Option<Option<T>> {
    match v {
        async_graphql::MaybeUndefined::Undefined => None,
        async_graphql::MaybeUndefined::Null => Some(None),
        async_graphql::MaybeUndefined::Value(t) => Some(Some(t)),
    }
}

async fn delete_or_restore(
    ctx: &Context<'_>,
    input: RecordVersionInput,
    delete: bool,
) -> AppResult<entity::work_orders::Model> {
    let id = wo_id(&input.id, "id")?;
    authorise_work_order(ctx, id, Perm::WorkOrderDelete).await?;
    work_orders::set_deleted(&state(ctx).db, &caller(ctx), id, input.version, delete).await
}

async fn mechanic(
    ctx: &Context<'_>,
    input: MechanicInput,
    assign: bool,
) -> AppResult<entity::work_orders::Model> {
    let id = wo_id(&input.work_order_id, "workOrderId")?;
    let user = ids::decode_as("User", &input.user_id, "userId")?;
    authorise_work_order(ctx, id, Perm::WorkOrderUpdate).await?;
    let (db, c) = (&state(ctx).db, caller(ctx));
    work_orders::set_mechanic(db, &c, id, input.version, user, assign).await
}

impl CreateWorkOrderInput {
    fn parse(&self) -> AppResult<NewWorkOrder> {
        Ok(NewWorkOrder {
            customer_id: ids::decode_as("Customer", &self.customer_id, "customerId")?,
            vehicle_id: ids::decode_as("Vehicle", &self.vehicle_id, "vehicleId")?,
            location_id: ids::decode_as("Location", &self.location_id, "locationId")?,
            complaint: text("complaint", &self.complaint)?,
            promised_at: self.promised_at,
            odometer_in_km: self.odometer_in_km,
        })
    }
}

impl UpdateWorkOrderInput {
    /// The order, the version the client saw, and the changes (null clears an optional field).
    fn parse(self) -> AppResult<(uuid::Uuid, i32, WorkOrderChanges)> {
        let complaint = self
            .complaint
            .as_deref()
            .map(|c| text("complaint", c))
            .transpose()?;
        let ch = WorkOrderChanges {
            complaint,
            diagnosis: maybe(self.diagnosis.map_value(|d| d.trim().to_owned())),
            notes: maybe(self.notes.map_value(|d| d.trim().to_owned())),
            promised_at: maybe(self.promised_at),
        };
        Ok((wo_id(&self.id, "id")?, self.version, ch))
    }
}

impl RecordPaymentInput {
    /// The invoice paid, and the ledger entry.
    fn parse(self) -> AppResult<(uuid::Uuid, LedgerEntry)> {
        let invoice_id = ids::decode_as("Invoice", &self.invoice_id, "invoiceId")?;
        let method = self.method.trim().to_ascii_lowercase();
        Ok((
            invoice_id,
            LedgerEntry {
                movement: Movement::Payment { invoice_id, method },
                amount: parsed::<Money>("amount", &self.amount)?,
                reference: opt_text(self.reference),
                received_at: self.received_at,
                idempotency_key: self.idempotency_key,
            },
        ))
    }
}

impl RefundPaymentInput {
    /// The payment refunded, and the ledger entry.
    fn parse(self) -> AppResult<(uuid::Uuid, LedgerEntry)> {
        let payment_id = ids::decode_as("Payment", &self.payment_id, "paymentId")?;
        Ok((
            payment_id,
            LedgerEntry {
                movement: Movement::Refund { payment_id },
                amount: parsed::<Money>("amount", &self.amount)?,
                reference: opt_text(self.reference),
                received_at: None,
                idempotency_key: self.idempotency_key,
            },
        ))
    }
}
