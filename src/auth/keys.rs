//! The RS256 key set: which key signs, which keys verify, the published JWKS, and access-token minting and
//! validation.
//!
//! Keys are PEM files in a directory (the newest by file name signs; the others keep verifying until the
//! tokens they signed have expired) or one PEM in the environment. The embedded default generates its first key.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context as _;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::crypto;

/// Leeway for clocks that disagree a little between replicas; RFC 9068 deployments keep it under a minute.
const LEEWAY_SECS: u64 = 30;
const ACCESS_TYP: &str = "at+jwt";

struct Verifier {
    key: DecodingKey,
    jwk: Jwk,
}

pub struct KeySet {
    signing_kid: String,
    signing: EncodingKey,
    verifiers: HashMap<String, Verifier>,
    validation: Validation,
    issuer: String,
    audience: String,
    /// Tokens whose signature and claims were checked, with what they say: an RSA verification costs more
    /// than the rest of a small request, and the SPA sends one token many times. A hit is the very same bytes,
    /// so it proves what the first check proved; the time-bound claims are checked again on every use.
    verified: Mutex<HashMap<String, AccessClaims>>,
}

/// Verified tokens remembered at most; past this the memory starts over (live tokens refill it at once).
const MAX_VERIFIED: usize = 10_000;

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("signing_kid", &self.signing_kid)
            .field("kids", &self.verifiers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// What an access token says. `sid` names the session, so revoking it ends the token at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    pub sid: Uuid,
    pub exp: u64,
    pub iat: u64,
    pub nbf: u64,
    pub jti: Uuid,
}

/// Why a token was refused; never shown to clients in more detail than "invalid or expired".
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token type is not at+jwt")]
    WrongType,
    #[error("algorithm other than RS256")]
    WrongAlgorithm,
    #[error("unknown key id")]
    UnknownKey,
    #[error("token has expired")]
    Expired,
    #[error("invalid token: {0}")]
    Invalid(jsonwebtoken::errors::Error),
}

/// A new 2048-bit RSA private key as PKCS#8 PEM.
pub fn generate_pem() -> anyhow::Result<String> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow::anyhow!("RSA keygen"))?;
    let der: aws_lc_rs::encoding::Pkcs8V1Der<'_> =
        pair.as_der().map_err(|_| anyhow::anyhow!("PKCS#8"))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk)?);
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem)
}

/// Adds a new signing key to `dir` (it signs from the next start; older keys keep verifying) and returns its
/// file name.
pub fn add_key_file(dir: &Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = format!(
        "signing-{}-{}.pem",
        chrono::Utc::now().format("%Y%m%dT%H%M%S"),
        &Uuid::new_v4().simple().to_string()[..8]
    );
    let path = dir.join(&name);
    std::fs::write(&path, generate_pem()?)
        .with_context(|| format!("writing {}", path.display()))?;
    restrict(&path);
    Ok(name)
}

#[cfg(unix)]
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict(_: &Path) {}

/// The PEM files of a key directory, oldest first (file names sort by creation time).
pub fn read_key_dir(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "pem"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    names.sort();
    names
        .iter()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
        .collect()
}

/// RFC 7638 thumbprint: the same key gets the same `kid` on every replica.
fn thumbprint(jwk: &Jwk) -> anyhow::Result<String> {
    let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        anyhow::bail!("not an RSA key");
    };
    let canonical = format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, rsa.e, rsa.n);
    Ok(crypto::b64url(&crypto::sha256(canonical.as_bytes())))
}

impl KeySet {
    /// Builds the set from private keys in PEM, oldest first; the last one signs.
    pub fn from_pems(pems: &[String], issuer: &str, audience: &str) -> anyhow::Result<Self> {
        let mut verifiers = HashMap::new();
        let mut signing = None;
        for pem in pems {
            let enc = EncodingKey::from_rsa_pem(pem.as_bytes()).context("an RSA private key")?;
            let mut jwk = Jwk::from_encoding_key(&enc, Algorithm::RS256)?;
            let kid = thumbprint(&jwk)?;
            jwk.common.key_id = Some(kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            let key = DecodingKey::from_jwk(&jwk)?;
            verifiers.insert(kid.clone(), Verifier { key, jwk });
            signing = Some((kid, enc));
        }
        let (signing_kid, signing) = signing.context("no signing key")?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        Ok(Self {
            signing_kid,
            signing,
            verifiers,
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            verified: Mutex::default(),
        })
    }

    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    /// The public keys, as served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> JwkSet {
        let mut keys: Vec<Jwk> = self.verifiers.values().map(|v| v.jwk.clone()).collect();
        keys.sort_by(|a, b| a.common.key_id.cmp(&b.common.key_id));
        JwkSet { keys }
    }

    /// Signs an access token for `user` in `session`, valid for `ttl_secs`.
    pub fn mint_access(
        &self,
        user: Uuid,
        session: Uuid,
        ttl_secs: u64,
    ) -> anyhow::Result<(String, u64)> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user,
            sid: session,
            exp: now + ttl_secs,
            iat: now,
            nbf: now,
            jti: Uuid::now_v7(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some(ACCESS_TYP.to_owned());
        header.kid = Some(self.signing_kid.clone());
        Ok((
            jsonwebtoken::encode(&header, &claims, &self.signing)?,
            claims.exp,
        ))
    }

    /// Validates an access token: RS256 only, from our own key set (any `jku`, `x5u` or embedded `jwk` is
    /// ignored), typed `at+jwt`, with `exp`, `iss`, `aud` and `sub` required and `nbf` honoured.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let remembered = self.verified().get(token).cloned();
        if let Some(claims) = remembered {
            let now = jsonwebtoken::get_current_timestamp();
            return if claims.exp.saturating_add(LEEWAY_SECS) < now {
                self.verified().remove(token);
                Err(TokenError::Expired)
            } else {
                Ok(claims)
            };
        }
        let claims = self.verify_signed(token)?;
        let mut verified = self.verified();
        if verified.len() >= MAX_VERIFIED {
            verified.clear();
        }
        verified.insert(token.to_owned(), claims.clone());
        Ok(claims)
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, HashMap<String, AccessClaims>> {
        self.verified.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn verify_signed(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::WrongAlgorithm);
        }
        if !header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case(ACCESS_TYP) || t.eq_ignore_ascii_case("application/at+jwt")
        }) {
            return Err(TokenError::WrongType);
        }
        let verifier = header
            .kid
            .as_deref()
            .and_then(|k| self.verifiers.get(k))
            .ok_or(TokenError::UnknownKey)?;
        jsonwebtoken::decode::<AccessClaims>(token, &verifier.key, &self.validation)
            .map(|d| d.claims)
            .map_err(TokenError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pems: &[String]) -> KeySet {
        KeySet::from_pems(pems, "autoshop", "autoshop-api").expect("key set")
    }

    #[test]
    fn a_rotated_set_signs_with_the_newest_key_and_still_verifies_the_old_ones() {
        let (a, b) = (generate_pem().expect("a"), generate_pem().expect("b"));
        let old = set(std::slice::from_ref(&a));
        let (token, _) = old
            .mint_access(Uuid::now_v7(), Uuid::now_v7(), 60)
            .expect("mint");
        let rotated = set(&[a, b]);
        assert_ne!(rotated.signing_kid(), old.signing_kid());
        assert!(rotated.verify_access(&token).is_ok());
        assert_eq!(rotated.jwks().keys.len(), 2);
        let (fresh, _) = rotated
            .mint_access(Uuid::now_v7(), Uuid::now_v7(), 60)
            .expect("mint");
        assert!(matches!(
            old.verify_access(&fresh),
            Err(TokenError::UnknownKey)
        ));
    }

    #[test]
    fn tokens_for_another_audience_are_refused() {
        let pem = generate_pem().expect("pem");
        let (token, _) = KeySet::from_pems(std::slice::from_ref(&pem), "autoshop", "elsewhere")
            .expect("set")
            .mint_access(Uuid::now_v7(), Uuid::now_v7(), 60)
            .expect("mint");
        assert!(matches!(
            set(&[pem]).verify_access(&token),
            Err(TokenError::Invalid(_))
        ));
    }
}
