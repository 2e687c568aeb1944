//! Domain value types: the only way raw input becomes a VIN, an e-mail, a plate number or an amount of money.

mod file;
mod money;
mod status;
mod text;
mod vin;

pub use file::{ContentType, FileName, ObjectKey};
pub use money::{Money, Quantity, TaxRate, Totals, line_amounts};
pub use status::{
    ApprovalMethod, CustomerKind, FileStatus, InvoiceStatus, LineKind, UserStatus, WorkOrderStatus,
};
pub use text::{Email, NonEmpty, Phone, PlateNumber};
pub use vin::{Vin, check_digit};

/// Why a raw value was refused: a stable snake_case code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub code: &'static str,
    pub message: String,
}

impl ParseError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}
