//! Opaque global IDs: `base64url("<Type>:<uuid>")`, so `node(id)` can find any object and clients never build ids.

use async_graphql::ID;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

pub fn encode(type_name: &str, id: Uuid) -> ID {
    // Built on the stack: a list's page encodes a few hundred of these.
    let mut raw = [0u8; 96];
    let n = type_name.len();
    if n + 1 + uuid::fmt::Hyphenated::LENGTH > raw.len() {
        return ID(URL_SAFE_NO_PAD.encode(format!("{type_name}:{id}")));
    }
    raw[..n].copy_from_slice(type_name.as_bytes());
    raw[n] = b':';
    let end = n + 1 + id.hyphenated().encode_lower(&mut raw[n + 1..]).len();
    ID(URL_SAFE_NO_PAD.encode(&raw[..end]))
}

/// The type name and key inside a global ID.
pub fn decode(id: &ID, field: &str) -> AppResult<(String, Uuid)> {
    let bad = || AppError::invalid(field, "invalid_id", "not an id issued by this API");
    let raw = URL_SAFE_NO_PAD.decode(id.as_str()).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (t, key) = raw.split_once(':').ok_or_else(bad)?;
    let key = Uuid::parse_str(key).map_err(|_| bad())?;
    Ok((t.to_owned(), key))
}

/// The key of a global ID that must name an object of `type_name`.
pub fn decode_as(type_name: &str, id: &ID, field: &str) -> AppResult<Uuid> {
    match decode(id, field)? {
        (t, key) if t == type_name => Ok(key),
        _ => Err(AppError::invalid(
            field,
            "invalid_id",
            format!("expected the id of a {type_name}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_the_base64_of_its_type_and_key_whatever_the_length_of_the_type() {
        let u = Uuid::now_v7();
        for t in ["Customer", "WorkOrderStatusChange", &"T".repeat(80)] {
            assert_eq!(encode(t, u).0, URL_SAFE_NO_PAD.encode(format!("{t}:{u}")));
        }
    }

    #[test]
    fn ids_round_trip_and_keep_their_type() {
        let u = Uuid::now_v7();
        let id = encode("Customer", u);
        assert_eq!(decode_as("Customer", &id, "id").expect("same type"), u);
        assert_eq!(
            decode_as("Vehicle", &id, "id")
                .expect_err("other type")
                .code(),
            "invalid_id"
        );
        assert_eq!(
            decode(&ID("%%%".into()), "id").expect_err("garbage").code(),
            "invalid_id"
        );
        assert_eq!(
            decode(&ID(URL_SAFE_NO_PAD.encode("Customer:42")), "id")
                .expect_err("not a uuid")
                .code(),
            "invalid_id"
        );
    }
}
