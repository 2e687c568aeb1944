//! The SPA's session cookies: `__Host-` prefixed (Secure, Path=/, no Domain), httpOnly, SameSite=Strict.

use axum::http::{HeaderMap, header};

pub const ACCESS: &str = "__Host-autoshop-access";
pub const REFRESH: &str = "__Host-autoshop-refresh";

/// A cookie's value from the request's `Cookie` headers.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value; `max_age_secs` 0 removes the cookie.
pub fn set(name: &str, value: &str, max_age_secs: u64) -> String {
    format!("{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; Secure; SameSite=Strict")
}

pub fn clear(name: &str) -> String {
    set(name, "", 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_host_only_secure_http_only_and_strict() {
        let c = set(ACCESS, "abc", 60);
        for part in [
            "__Host-",
            "Path=/",
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Max-Age=60",
        ] {
            assert!(c.contains(part), "{c} lacks {part}");
        }
        assert!(!c.contains("Domain"));
    }

    #[test]
    fn a_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            format!("a=1; {REFRESH}=tok; b=2").parse().expect("header"),
        );
        assert_eq!(get(&h, REFRESH).as_deref(), Some("tok"));
        assert_eq!(get(&h, ACCESS), None);
    }
}
