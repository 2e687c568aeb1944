//! Who is calling. Identity (sessions, tokens, API keys) builds on this; today it records where a request came
//! from and its request id, which every audit entry carries.

use std::net::IpAddr;

use axum::http::HeaderMap;

use crate::services::Caller;

/// The caller of one HTTP request, as far as the transport tells.
pub fn caller_from_request(headers: &HeaderMap, client: Option<IpAddr>) -> Caller {
    Caller {
        user_id: None,
        ip: client.map(|ip| ip.to_string()),
        request_id: headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}
