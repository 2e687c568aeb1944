//! The permission catalog: every `resource:action` the API checks, with the label and description the owner's
//! settings screen shows, and the built-in roles' starting grants.

use async_graphql::Enum;

/// One permission. Declared next to the field it guards as `Require::perm(Perm::…)`.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Perm {
    CustomerRead,
    CustomerReadContact,
    CustomerCreate,
    CustomerUpdate,
    CustomerDelete,
    VehicleRead,
    VehicleCreate,
    VehicleUpdate,
    VehicleDelete,
    WorkOrderRead,
    WorkOrderReadAssigned,
    WorkOrderReadPrices,
    WorkOrderCreate,
    WorkOrderUpdate,
    WorkOrderDelete,
    WorkOrderToEstimate,
    WorkOrderToAwaitingApproval,
    WorkOrderToApproved,
    WorkOrderToInProgress,
    WorkOrderToReady,
    WorkOrderToClosed,
    WorkOrderToCancelled,
    InvoiceRead,
    InvoiceIssue,
    InvoiceVoid,
    PaymentRead,
    PaymentRecord,
    PaymentRefund,
    SettingsManage,
    AuditRead,
    FileRead,
    FileUpload,
    FileDelete,
    UserRead,
    UserManage,
    RoleManage,
    ApiKeyManage,
}

pub struct PermInfo {
    pub perm: Perm,
    pub resource: &'static str,
    pub action: &'static str,
    pub label: &'static str,
    pub description: &'static str,
}

macro_rules! catalog {
    ($( $perm:ident => $res:literal, $act:literal, $label:literal, $desc:literal; )*) => {
        pub const CATALOG: &[PermInfo] = &[
            $( PermInfo { perm: Perm::$perm, resource: $res, action: $act, label: $label, description: $desc }, )*
        ];
    };
}

catalog! {
    CustomerRead => "customer", "read", "See customers", "Names, notes and history of the customers of your locations.";
    CustomerReadContact => "customer", "read_contact", "See customers' contact details", "Phone numbers and e-mail addresses.";
    CustomerCreate => "customer", "create", "Add customers", "Register new customers.";
    CustomerUpdate => "customer", "update", "Edit customers", "Change customers' details.";
    CustomerDelete => "customer", "delete", "Delete and restore customers", "Move customers (and their vehicles) to the bin and back.";
    VehicleRead => "vehicle", "read", "See vehicles", "Vehicles of the customers you can see.";
    VehicleCreate => "vehicle", "create", "Add vehicles", "Register vehicles to customers.";
    VehicleUpdate => "vehicle", "update", "Edit vehicles", "Change vehicles, record odometer readings and owners.";
    VehicleDelete => "vehicle", "delete", "Delete and restore vehicles", "Move vehicles to the bin and back.";
    WorkOrderRead => "work_order", "read", "See all work orders", "Every work order of your locations.";
    WorkOrderReadAssigned => "work_order", "read_assigned", "See assigned work orders", "Only the work orders you are assigned to.";
    WorkOrderReadPrices => "work_order", "read_prices", "See prices on work orders", "Unit prices and totals of work orders and their lines.";
    WorkOrderCreate => "work_order", "create", "Open work orders", "Take cars in: new work orders.";
    WorkOrderUpdate => "work_order", "update", "Edit work orders", "Details, lines and assigned mechanics of the orders you can see.";
    WorkOrderDelete => "work_order", "delete", "Delete and restore work orders", "Move work orders to the bin and back.";
    WorkOrderToEstimate => "work_order", "transition:estimate", "Start estimates", "Move a draft to estimate.";
    WorkOrderToAwaitingApproval => "work_order", "transition:awaiting_approval", "Send estimates for approval", "Move an estimate to awaiting approval.";
    WorkOrderToApproved => "work_order", "transition:approved", "Record approvals", "Record the customer's approval of an estimate.";
    WorkOrderToInProgress => "work_order", "transition:in_progress", "Start work", "Move an approved order into the workshop.";
    WorkOrderToReady => "work_order", "transition:ready", "Finish work", "Mark an order ready for pick-up.";
    WorkOrderToClosed => "work_order", "transition:closed", "Close work orders", "Close an order once the car is handed over.";
    WorkOrderToCancelled => "work_order", "transition:cancelled", "Cancel work orders", "Cancel an open order.";
    InvoiceRead => "invoice", "read", "See invoices", "Invoices of your locations.";
    InvoiceIssue => "invoice", "issue", "Issue invoices", "Issue an invoice from a finished work order (and reissue a voided one).";
    InvoiceVoid => "invoice", "void", "Void invoices", "Void an unpaid invoice, with a reason.";
    PaymentRead => "payment", "read", "See payments", "Payments and refunds on the invoices you can see.";
    PaymentRecord => "payment", "record", "Take payments", "Record payments on invoices.";
    PaymentRefund => "payment", "refund", "Refund payments", "Refund all or part of a payment.";
    SettingsManage => "settings", "manage", "Manage settings", "System settings and reference directories.";
    AuditRead => "audit", "read", "See the audit log", "Who changed what, when, and each record's history.";
    FileRead => "file", "read", "See files", "Photos and documents attached to what you can see.";
    FileUpload => "file", "upload", "Attach files", "Upload photos and documents to the records you can see.";
    FileDelete => "file", "delete", "Delete files", "Remove attached photos and documents.";
    UserRead => "user", "read", "See staff", "Names of the people working in the shop.";
    UserManage => "user", "manage", "Manage staff accounts", "Create, edit, block and delete users; end their sessions.";
    RoleManage => "role", "manage", "Manage roles and permissions", "Create roles, grant permissions, assign roles to users.";
    ApiKeyManage => "api_key", "manage", "Manage API keys", "Create and revoke keys for integrations.";
}

impl Perm {
    /// The permission a move of a work order to `to` needs.
    pub fn transition_to(to: crate::domain::WorkOrderStatus) -> Option<Perm> {
        use crate::domain::WorkOrderStatus as S;
        Some(match to {
            S::Draft => return None,
            S::Estimate => Perm::WorkOrderToEstimate,
            S::AwaitingApproval => Perm::WorkOrderToAwaitingApproval,
            S::Approved => Perm::WorkOrderToApproved,
            S::InProgress => Perm::WorkOrderToInProgress,
            S::Ready => Perm::WorkOrderToReady,
            S::Closed => Perm::WorkOrderToClosed,
            S::Cancelled => Perm::WorkOrderToCancelled,
        })
    }

    pub fn info(self) -> &'static PermInfo {
        // The catalog lists every variant (a unit test holds it to that).
        CATALOG
            .iter()
            .find(|i| i.perm == self)
            .unwrap_or(&CATALOG[0])
    }

    /// `resource:action`, as casbin stores it.
    pub fn key(self) -> String {
        let i = self.info();
        format!("{}:{}", i.resource, i.action)
    }

    pub fn from_parts(resource: &str, action: &str) -> Option<Self> {
        CATALOG
            .iter()
            .find(|i| i.resource == resource && i.action == action)
            .map(|i| i.perm)
    }

    pub fn all() -> impl Iterator<Item = Perm> {
        CATALOG.iter().map(|i| i.perm)
    }
}

/// A role every shop starts with.
pub struct BuiltInRole {
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub grants: &'static [Perm],
}

pub use built_in::{BUILT_IN_ROLES, OWNER};

mod built_in {
    use super::BuiltInRole;
    use super::Perm::*;

    pub const OWNER: &str = "owner";

    pub const BUILT_IN_ROLES: &[BuiltInRole] = &[
        BuiltInRole {
            key: OWNER,
            name: "Owner",
            description: "Everything, everywhere. The shop always keeps at least one.",
            grants: &[],
        },
        BuiltInRole {
            key: "service_advisor",
            name: "Service advisor",
            description: "Takes cars in, talks to customers, builds estimates.",
            grants: &[
                CustomerRead,
                CustomerReadContact,
                CustomerCreate,
                CustomerUpdate,
                CustomerDelete,
                VehicleRead,
                VehicleCreate,
                VehicleUpdate,
                VehicleDelete,
                WorkOrderRead,
                WorkOrderReadPrices,
                WorkOrderCreate,
                WorkOrderUpdate,
                WorkOrderDelete,
                WorkOrderToEstimate,
                WorkOrderToAwaitingApproval,
                WorkOrderToApproved,
                WorkOrderToInProgress,
                WorkOrderToReady,
                WorkOrderToClosed,
                WorkOrderToCancelled,
                InvoiceRead,
                InvoiceIssue,
                PaymentRead,
                FileRead,
                FileUpload,
                FileDelete,
                UserRead,
            ],
        },
        BuiltInRole {
            key: "mechanic",
            name: "Mechanic",
            description: "Works on the orders assigned to them; sees no money.",
            grants: &[
                CustomerRead,
                VehicleRead,
                VehicleUpdate,
                WorkOrderReadAssigned,
                WorkOrderUpdate,
                WorkOrderToInProgress,
                WorkOrderToReady,
                FileRead,
                FileUpload,
                UserRead,
            ],
        },
        BuiltInRole {
            key: "cashier",
            name: "Cashier",
            description: "Invoices and payments.",
            grants: &[
                CustomerRead,
                CustomerReadContact,
                VehicleRead,
                WorkOrderRead,
                WorkOrderReadPrices,
                WorkOrderToClosed,
                InvoiceRead,
                InvoiceIssue,
                InvoiceVoid,
                PaymentRead,
                PaymentRecord,
                PaymentRefund,
                FileRead,
                FileUpload,
                UserRead,
            ],
        },
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_is_in_the_catalog_once_with_a_snake_case_key() {
        // Every variant of the enum, as the GraphQL type lists them.
        let all: Vec<Perm> = <Perm as async_graphql::resolver_utils::EnumType>::items()
            .iter()
            .map(|i| i.value)
            .collect();
        assert_eq!(CATALOG.len(), all.len());
        for p in all {
            assert_eq!(CATALOG.iter().filter(|i| i.perm == p).count(), 1, "{p:?}");
            let key = p.key();
            assert!(
                key.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == ':'),
                "{key}"
            );
            let (r, a) = key.split_once(':').expect("resource:action");
            assert_eq!(Perm::from_parts(r, a), Some(p));
        }
    }
}
