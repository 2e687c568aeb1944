//! sea-orm entities: persistence shapes only. GraphQL types live in the app's `schema` module.

pub mod api_keys;
pub mod audit_log;
pub mod auth_sessions;
pub mod casbin_rule;
pub mod customers;
pub mod directories;
pub mod directory_entries;
pub mod files;
pub mod invoice_lines;
pub mod invoices;
pub mod location_counters;
pub mod locations;
pub mod odometer_readings;
pub mod one_time_tokens;
pub mod outbox;
pub mod payments;
pub mod refresh_tokens;
pub mod roles;
pub mod system_settings;
pub mod totp_recovery_codes;
pub mod users;
pub mod vehicle_ownerships;
pub mod vehicles;
pub mod work_order_lines;
pub mod work_order_mechanics;
pub mod work_order_status_changes;
pub mod work_orders;

/// Entity aliases, named in the domain's words.
pub mod prelude {
    pub use super::api_keys::Entity as ApiKey;
    pub use super::audit_log::Entity as AuditEntry;
    pub use super::auth_sessions::Entity as AuthSession;
    pub use super::casbin_rule::Entity as CasbinRule;
    pub use super::customers::Entity as Customer;
    pub use super::directories::Entity as Directory;
    pub use super::directory_entries::Entity as DirectoryEntry;
    pub use super::files::Entity as File;
    pub use super::invoice_lines::Entity as InvoiceLine;
    pub use super::invoices::Entity as Invoice;
    pub use super::location_counters::Entity as LocationCounter;
    pub use super::locations::Entity as Location;
    pub use super::odometer_readings::Entity as OdometerReading;
    pub use super::one_time_tokens::Entity as OneTimeToken;
    pub use super::outbox::Entity as OutboxMessage;
    pub use super::payments::Entity as Payment;
    pub use super::refresh_tokens::Entity as RefreshToken;
    pub use super::roles::Entity as Role;
    pub use super::system_settings::Entity as SystemSetting;
    pub use super::totp_recovery_codes::Entity as TotpRecoveryCode;
    pub use super::users::Entity as User;
    pub use super::vehicle_ownerships::Entity as VehicleOwnership;
    pub use super::vehicles::Entity as Vehicle;
    pub use super::work_order_lines::Entity as WorkOrderLine;
    pub use super::work_order_mechanics::Entity as WorkOrderMechanic;
    pub use super::work_order_status_changes::Entity as WorkOrderStatusChange;
    pub use super::work_orders::Entity as WorkOrder;
}
