//! The one error type: every failure has a stable snake_case code; internals are logged once and never sent.

use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, SqlErr};

use crate::domain::ParseError;

/// Everything a service or resolver can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad input for a field: becomes a `UserError` in a mutation payload, or a top-level error in a query.
    #[error("{message}")]
    Invalid {
        field: Vec<String>,
        code: &'static str,
        message: String,
    },
    #[error("the record was changed by someone else; reload it and try again")]
    Conflict { field: Vec<String> },
    #[error("not found")]
    NotFound,
    #[error("authentication required")]
    Unauthenticated,
    #[error("not allowed")]
    Forbidden,
    #[error("too many requests; slow down")]
    RateLimited,
    /// Too many failed sign-in attempts for this account or address: wait, then try again.
    #[error("too many failed attempts; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// The database (or another service the request needs) is unreachable for now: retry shortly. Never
    /// reported as `unauthenticated` or `not_found`, which would make clients sign out or forget records.
    #[error("the service is temporarily unavailable; retry shortly")]
    Unavailable(#[source] anyhow::Error),
    /// The search engine did not answer in time: search again shortly; everything else works.
    #[error("search is unavailable for now; try again shortly")]
    SearchUnavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field_path(field),
            code,
            message: message.into(),
        }
    }

    /// A raw value for `field` that its newtype refused.
    pub fn parse(field: &str, e: ParseError) -> Self {
        Self::Invalid {
            field: field_path(field),
            code: e.code,
            message: e.message,
        }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    /// The stable code clients branch on; listed in frontend-contract/error-codes.md.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { code, .. } => code,
            Self::Conflict { .. } => "conflict",
            Self::NotFound => "not_found",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::RateLimited => "rate_limited",
            Self::TooManyAttempts { .. } => "too_many_attempts",
            Self::Unavailable(_) => UNAVAILABLE,
            Self::SearchUnavailable(_) => "search_unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// Errors about the input, which a mutation reports in its payload's `errors`: bad values, a stale version,
    /// or a record that is gone (deleted in another tab, say).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            Self::Invalid { .. }
                | Self::Conflict { .. }
                | Self::NotFound
                | Self::TooManyAttempts { .. }
        )
    }

    /// Path to the input field at fault; a missing record is the input's `id`.
    pub fn field(&self) -> Vec<String> {
        match self {
            Self::Invalid { field, .. } | Self::Conflict { field } => field.clone(),
            Self::NotFound => vec!["id".to_owned()],
            _ => Vec::new(),
        }
    }
}

/// The code of infrastructure failures: the HTTP layer answers 503 with `Retry-After` when a response has one.
pub const UNAVAILABLE: &str = "unavailable";

/// A referenced record that is missing (or out of the caller's reach) becomes `not_found` on the input field
/// that named it; any other failure, an outage say, stays what it is.
pub fn not_found_at(
    field: &'static str,
    message: &'static str,
) -> impl FnOnce(AppError) -> AppError {
    move |e| match e {
        AppError::NotFound => AppError::invalid(field, "not_found", message),
        other => other,
    }
}

/// PostgreSQL's connection exceptions (08) and shutdowns (57P); SQLite's busy and locked (5, 6, and their
/// extended codes), which outlast the busy timeout only under a writer that holds on.
fn transient_code(code: std::borrow::Cow<'_, str>) -> bool {
    code.starts_with("08")
        || code.starts_with("57P")
        || matches!(code.as_ref(), "5" | "6" | "261" | "262" | "517")
}

/// Whether a database error means the database cannot be reached (down, restarting, the network or the pool
/// exhausted), rather than a fault in the statement or the data.
pub fn is_outage(e: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    let sqlx = |r: &RuntimeErr| match r {
        RuntimeErr::SqlxError(e) => {
            matches!(
                **e,
                Sqlx::Io(_)
                    | Sqlx::PoolTimedOut
                    | Sqlx::PoolClosed
                    | Sqlx::WorkerCrashed
                    | Sqlx::Tls(_)
            ) || matches!(&**e, Sqlx::Database(d) if d.code().is_some_and(transient_code))
        }
        _ => false,
    };
    match e {
        // Opening a connection failed, however the server (or a proxy in front of it) refused.
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(r) | DbErr::Query(r) => sqlx(r),
        _ => false,
    }
}

/// A stored value outside its CHECK constraint means the database and the code disagree.
pub fn corrupt(what: &str, value: &str) -> AppError {
    AppError::internal(anyhow::anyhow!(
        "stored {what} `{value}` is not known to this version"
    ))
}

/// A request-level error with its stable code, for failures found before the engine runs (or outside it).
pub fn coded(message: &str, code: &str) -> async_graphql::ServerError {
    let mut e = async_graphql::ServerError::new(message, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code);
    e.extensions = Some(ext);
    e
}

fn field_path(field: &str) -> Vec<String> {
    if field.is_empty() {
        Vec::new()
    } else {
        field.split('.').map(str::to_owned).collect()
    }
}

/// Unique indexes whose violation is the user's to fix: (PostgreSQL index name, SQLite's `table.column`, field, code).
const UNIQUE_RULES: &[(&str, &str, &str, &str)] = &[
    ("ux_vehicles_vin", "vehicles.vin", "vin", "vin_taken"),
    ("ux_users_email", "users.email", "email", "email_taken"),
    ("ux_roles_name", "roles.name", "name", "name_taken"),
    (
        "ux_payments_idempotency_key",
        "payments.idempotency_key",
        "idempotencyKey",
        "idempotency_key_reused",
    ),
    (
        "ux_directory_entries_code",
        "directory_entries.code",
        "code",
        "code_taken",
    ),
    (
        "ux_invoices_work_order",
        "invoices.work_order_id",
        "workOrderId",
        "invoice_exists",
    ),
];

impl From<DbErr> for AppError {
    fn from(e: DbErr) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(msg)) => {
                match UNIQUE_RULES
                    .iter()
                    .find(|(pg, lite, _, _)| msg.contains(pg) || msg.contains(lite))
                {
                    Some((_, _, field, code)) => {
                        AppError::invalid(field, code, "this value is already in use")
                    }
                    None => AppError::Internal(e.into()),
                }
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => AppError::invalid(
                "",
                "reference_not_found",
                "a record this one refers to does not exist",
            ),
            _ if is_outage(&e) => AppError::Unavailable(e.into()),
            _ => AppError::Internal(e.into()),
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(e: AppError) -> Self {
        match &e {
            // Logged here, once, with the whole chain; the client only learns that it failed.
            AppError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
            }
            AppError::Unavailable(cause) | AppError::SearchUnavailable(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "unavailable");
            }
            _ => {}
        }
        let code = e.code();
        let field = match e {
            AppError::NotFound => Vec::new(),
            _ => e.field(),
        };
        async_graphql::Error::new(e.to_string()).extend_with(|_, ext| {
            ext.set("code", code);
            if !field.is_empty() {
                ext.set("field", field.clone());
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let e = AppError::internal(anyhow::anyhow!("connection refused at 10.0.0.5"));
        let g: async_graphql::Error = e.into();
        assert_eq!(g.message, "internal error");
        assert!(!format!("{:?}", g.extensions).contains("10.0.0.5"));
    }

    #[test]
    fn codes_are_snake_case() {
        for e in [
            AppError::NotFound,
            AppError::Forbidden,
            AppError::Conflict { field: vec![] },
        ] {
            assert!(e.code().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }
}
