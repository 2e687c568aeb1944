//! The closed sets of states and kinds the database constrains, as Rust enums with their stored spellings.

macro_rules! stored_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, async_graphql::Enum)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            /// Reads a stored spelling; `None` means the row breaks the table's CHECK constraint.
            pub fn from_stored(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

stored_enum!(
    /// Where a work order is in the shop's workflow.
    WorkOrderStatus {
        Draft = "draft",
        Estimate = "estimate",
        AwaitingApproval = "awaiting_approval",
        Approved = "approved",
        InProgress = "in_progress",
        Ready = "ready",
        Closed = "closed",
        Cancelled = "cancelled",
    }
);

impl WorkOrderStatus {
    /// Open orders are the ones on the board.
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Closed | Self::Cancelled)
    }

    /// The workflow: `draft → estimate → awaiting_approval → approved → in_progress → ready → closed`, and
    /// `cancelled` from any open state. Nothing else.
    pub fn can_become(self, to: Self) -> bool {
        use WorkOrderStatus::*;
        matches!(
            (self, to),
            (Draft, Estimate)
                | (Estimate, AwaitingApproval)
                | (AwaitingApproval, Approved)
                | (Approved, InProgress)
                | (InProgress, Ready)
                | (Ready, Closed)
        ) || (to == Cancelled && self.is_open())
    }

    /// Lines, mechanics and details change only while the car is still being worked on.
    pub fn is_editable(self) -> bool {
        !matches!(self, Self::Ready | Self::Closed | Self::Cancelled)
    }
}

stored_enum!(
    /// Where an invoice is in its life.
    InvoiceStatus {
        Draft = "draft",
        Issued = "issued",
        PartiallyPaid = "partially_paid",
        Paid = "paid",
        Void = "void",
    }
);

stored_enum!(
    /// What a work-order or invoice line charges for.
    LineKind {
        Labour = "labour",
        Part = "part",
        Fee = "fee",
        Discount = "discount",
    }
);

stored_enum!(
    /// A private person or a company (fleet, business customer).
    CustomerKind {
        Person = "person",
        Company = "company",
    }
);

stored_enum!(
    /// Whether a staff account may sign in.
    UserStatus {
        Active = "active",
        Blocked = "blocked",
    }
);

stored_enum!(
    /// How the customer approved an estimate.
    ApprovalMethod {
        InPerson = "in_person",
        Phone = "phone",
        Signature = "signature",
    }
);

stored_enum!(
    /// An upload is pending until the object is confirmed in the bucket.
    FileStatus {
        Pending = "pending",
        Ready = "ready",
    }
);
