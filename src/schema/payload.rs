//! Mutation payloads: the result, or user errors with a field path and a stable code.

use async_graphql::SimpleObject;

use crate::error::AppError;

/// Something about the input the user can fix.
#[derive(SimpleObject, Debug, Clone)]
pub struct UserError {
    /// Path to the input field at fault, e.g. `["input", "vin"]`; empty when it is the input as a whole.
    pub field: Vec<String>,
    pub message: String,
    /// Stable snake_case code; see frontend-contract/error-codes.md.
    pub code: String,
}

/// Splits a service result into the payload's record and errors; anything not the user's to fix stays an error.
pub fn split<T>(r: Result<T, AppError>) -> async_graphql::Result<(Option<T>, Vec<UserError>)> {
    match r {
        Ok(v) => Ok((Some(v), Vec::new())),
        Err(e) if e.is_user_error() => {
            let mut field = vec!["input".to_owned()];
            field.extend(e.field());
            Ok((
                None,
                vec![UserError {
                    field,
                    message: e.to_string(),
                    code: e.code().to_owned(),
                }],
            ))
        }
        Err(e) => Err(e.into()),
    }
}
