//! RFC 6238 time-based one-time passwords (HMAC-SHA1, 30-second steps, 6 digits), as authenticator apps use.

use aws_lc_rs::hmac;

use super::crypto;

pub const STEP_SECS: i64 = 30;
const DIGITS: u32 = 6;
/// 160 bits: RFC 4226's recommended secret length.
pub const SECRET_LEN: usize = 20;

pub fn new_secret() -> Vec<u8> {
    crypto::random_bytes(SECRET_LEN)
}

/// The code for one time step (RFC 4226 HOTP over the step counter).
pub fn code_at(secret: &[u8], step: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let bin = (u32::from(mac[offset] & 0x7f) << 24)
        | (u32::from(mac[offset + 1]) << 16)
        | (u32::from(mac[offset + 2]) << 8)
        | u32::from(mac[offset + 3]);
    format!(
        "{:0width$}",
        bin % 10u32.pow(DIGITS),
        width = DIGITS as usize
    )
}

pub fn step_of(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The step whose code `code` is, allowing one step of clock skew either way, and only steps after
/// `last_used` (a code, once accepted, is spent).
pub fn accept(secret: &[u8], code: &str, now_secs: i64, last_used: Option<i64>) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(now_secs);
    (now - 1..=now + 1)
        .filter(|s| last_used.is_none_or(|last| *s > last))
        .find(|s| crypto::constant_time_eq(code_at(secret, *s).as_bytes(), code.as_bytes()))
}

/// The `otpauth://` URI an authenticator app scans.
pub fn provisioning_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        crypto::base32(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_match_the_rfc_6238_sha1_vectors() {
        // Appendix B gives 8 digits; the 6-digit code is its last six.
        for (t, expect) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(RFC_SECRET, step_of(t)), expect, "t={t}");
        }
    }

    #[test]
    fn one_step_of_skew_is_accepted_and_spent_codes_are_not() {
        let now = 1_111_111_109;
        let prev = code_at(RFC_SECRET, step_of(now) - 1);
        let step = accept(RFC_SECRET, &prev, now, None).expect("previous step accepted");
        assert_eq!(accept(RFC_SECRET, &prev, now, Some(step)), None);
        let two_back = code_at(RFC_SECRET, step_of(now) - 2);
        assert_eq!(accept(RFC_SECRET, &two_back, now, None), None);
        assert_eq!(accept(RFC_SECRET, "12a456", now, None), None);
    }
}
