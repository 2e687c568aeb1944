//! sea-orm entities: persistence shapes only. GraphQL types live in the app's `schema` module.

pub use sea_orm::sqlx;
use sea_orm::sqlx::{postgres::PgRow, sqlite::SqliteRow};

/// A model read from a row by column position, in the order of its fields, which is the order sea-orm
/// selects them in. sea-orm reads every column by name (a hash lookup, and a formatted error string behind
/// every NULL that an `Option` field then discards); on a page of fifty work orders that was a tenth of the
/// server's work.
pub trait Positional: Sized {
    /// The column names, in the order they are read.
    const COLUMNS: &'static [&'static str];
    /// Reads the model from the columns starting at `at`.
    fn from_pg_row(row: &PgRow, at: usize) -> Result<Self, sqlx::Error>;
    /// Reads the model from the columns starting at `at`.
    fn from_sqlite_row(row: &SqliteRow, at: usize) -> Result<Self, sqlx::Error>;
}

/// One column by position, its type checked against the field's (as sea-orm does on every read) when `$checked`;
/// unchecked otherwise: the check compares type names for every value, and a model's columns keep their types
/// from one row to the next.
#[doc(hidden)]
#[macro_export]
macro_rules! read {
    ($row:expr, $at:expr, $checked:expr) => {
        if $checked {
            $crate::sqlx::Row::try_get($row, $at)?
        } else {
            $crate::sqlx::Row::try_get_unchecked($row, $at)?
        }
    };
}

/// Declares an entity's `Model` and reads it by position ([`Positional`]) from the same field list, so the
/// two cannot drift apart.
#[macro_export]
macro_rules! model {
    (
        $(#[$meta:meta])*
        pub struct Model {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub struct Model {
            $( $(#[$fmeta])* pub $field : $ty ),*
        }

        impl $crate::Positional for Model {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),*];
            $crate::model!(@read from_pg_row, postgres::PgRow, $($field),*);
            $crate::model!(@read from_sqlite_row, sqlite::SqliteRow, $($field),*);
        }
    };
    (@read $name:ident, $row:ident :: $ty:ident, $($field:ident),*) => {
        #[allow(unused_assignments)]
        fn $name(
            row: &$crate::sqlx::$row::$ty,
            mut at: usize,
        ) -> Result<Self, $crate::sqlx::Error> {
            use std::sync::atomic::{AtomicBool, Ordering};
            // Types are checked on every read in debug builds (the tests), and on this process's first read
            // of the model from this backend in release builds: a column whose type a migration changed fails
            // loudly there, never misreads.
            static CHECKED: AtomicBool = AtomicBool::new(false);
            let check = cfg!(debug_assertions) || !CHECKED.load(Ordering::Relaxed);
            let model = Model {
                $( $field: { let v = $crate::read!(row, at, check); at += 1; v } ),*
            };
            CHECKED.store(true, Ordering::Relaxed);
            Ok(model)
        }
    };
}

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
