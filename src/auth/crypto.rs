//! Small cryptographic building blocks over aws-lc-rs: random secrets, digests, sealing secrets at rest.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{constant_time, digest, rand};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // The system RNG failing is not something a request can recover from.
    rand::fill(&mut buf).unwrap_or_else(|_| panic!("the system random number generator failed"));
    buf
}

/// An opaque bearer secret: `prefix` followed by 256 random bits, URL-safe.
pub fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_bytes(32)))
}

/// SHA-256 as lowercase hex. Enough for secrets of 256 random bits: nobody can guess them, so a slow hash
/// would protect nothing and cost every request.
pub fn sha256_hex(data: &[u8]) -> String {
    digest::digest(&digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    constant_time::verify_slices_are_equal(a, b).is_ok()
}

pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as authenticator apps expect TOTP secrets.
pub fn base32(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// AES-256-GCM with a random nonce per message; seals secrets stored in the database (TOTP seeds).
#[derive(Clone)]
pub struct Sealer {
    key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// Reads a key written as standard base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| "not base64".to_owned())?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "must be 32 bytes of base64".to_owned())?;
        Ok(Self::new(key))
    }

    pub fn generate_base64() -> String {
        STANDARD.encode(random_bytes(32))
    }

    fn key(&self) -> LessSafeKey {
        // A 32-byte key always fits AES-256.
        LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &self.key)
                .unwrap_or_else(|_| panic!("AES-256 rejected a 32-byte key")),
        )
    }

    /// `base64(nonce || ciphertext || tag)`, bound to `context` (say, the user's id) so a sealed value cannot be
    /// moved to another row.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> String {
        let nonce_bytes = random_bytes(NONCE_LEN);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&nonce_bytes);
        let mut buf = plaintext.to_vec();
        self.key()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut buf,
            )
            .unwrap_or_else(|_| panic!("AES-GCM sealing failed"));
        let mut out = nonce.to_vec();
        out.extend(buf);
        STANDARD.encode(out)
    }

    pub fn open(&self, sealed: &str, context: &[u8]) -> Option<Vec<u8>> {
        let raw = STANDARD.decode(sealed).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = body.to_vec();
        let plain = self
            .key()
            .open_in_place(nonce, Aad::from(context), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc_4648_vectors() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_context() {
        let s = Sealer::new([7; 32]);
        let sealed = s.seal(b"seed", b"user-1");
        assert_eq!(s.open(&sealed, b"user-1").as_deref(), Some(&b"seed"[..]));
        assert_eq!(s.open(&sealed, b"user-2"), None);
        assert_eq!(Sealer::new([8; 32]).open(&sealed, b"user-1"), None);
        assert_ne!(
            s.seal(b"seed", b"user-1"),
            sealed,
            "a fresh nonce each time"
        );
    }

    #[test]
    fn tokens_carry_256_random_bits() {
        let t = random_token("rt_");
        assert!(t.starts_with("rt_"));
        assert_eq!(t.len(), 3 + 43);
        assert_ne!(t, random_token("rt_"));
    }
}
