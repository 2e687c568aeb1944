//! Password hashing with argon2id: OWASP's parameters, a bounded number of hashes at once, rehash on login.

use std::sync::{Arc, LazyLock};

use argon2::{Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

/// NIST SP 800-63B: at least 8; we ask a little more. The upper bound keeps hashing cost bounded.
pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 128;

/// A password that met the length rules: the only way into hashing.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn parse(field: &str, raw: &str) -> AppResult<Self> {
        let n = raw.chars().count();
        if n < MIN_LEN {
            return Err(AppError::invalid(
                field,
                "password_too_short",
                format!("use at least {MIN_LEN} characters"),
            ));
        }
        if n > MAX_LEN {
            return Err(AppError::invalid(
                field,
                "password_too_long",
                format!("use at most {MAX_LEN} characters"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// argon2id with m=19 MiB, t=2, p=1 (the crate's defaults, OWASP's recommendation).
fn params() -> Params {
    Params::default()
}

/// Hashes run on the blocking pool, at most this many at once, so a burst of logins queues instead of starving
/// the request workers of CPU and memory.
#[derive(Clone, Debug)]
pub struct Hasher {
    permits: Arc<Semaphore>,
}

/// A valid hash of nothing anyone knows: verifying against it costs what a real verification costs, so an unknown
/// e-mail answers no faster than a wrong password.
static DUMMY: LazyLock<String> =
    LazyLock::new(|| hash_now("not a password anyone will ever type").unwrap_or_default());

fn hash_now(password: &str) -> AppResult<String> {
    Argon2::from(params())
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(anyhow::anyhow!("argon2: {e}")))
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, and stored with other parameters than today's: here is the hash to store instead.
    YesRehashed(String),
}

impl Hasher {
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(AppError::internal)
    }

    pub async fn hash(&self, password: &Password) -> AppResult<String> {
        let p = password.0.clone();
        self.run(move || hash_now(&p)).await?
    }

    /// Checks `password` against `stored`, or against a dummy hash when there is no account, so both take as long.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> AppResult<Verified> {
        let (p, stored) = (password.to_owned(), stored.map(str::to_owned));
        self.run(move || {
            let known = stored.is_some();
            let text = stored.unwrap_or_else(|| DUMMY.clone());
            let Ok(parsed) = PasswordHash::new(&text) else {
                return Ok(Verified::No);
            };
            if Argon2::default()
                .verify_password(p.as_bytes(), &parsed)
                .is_err()
                || !known
            {
                return Ok(Verified::No);
            }
            // Only the cost parameters matter: a parsed hash also carries its output length, the defaults do not.
            let want = params();
            let same = parsed.algorithm == argon2::ARGON2ID_IDENT
                && Params::try_from(&parsed).is_ok_and(|p| {
                    (p.m_cost(), p.t_cost(), p.p_cost())
                        == (want.m_cost(), want.t_cost(), want.p_cost())
                });
            if same {
                Ok(Verified::Yes)
            } else {
                hash_now(&p).map(Verified::YesRehashed)
            }
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_that_verify() {
        let h = Hasher::new(1);
        let pw = Password::parse("password", "correct horse battery").expect("long enough");
        let stored = h.hash(&pw).await.expect("hash");
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(
            h.verify("correct horse battery", Some(&stored)).await.ok(),
            Some(Verified::Yes)
        );
        assert_eq!(
            h.verify("wrong horse battery", Some(&stored)).await.ok(),
            Some(Verified::No)
        );
        assert_eq!(
            h.verify("correct horse battery", None).await.ok(),
            Some(Verified::No)
        );
    }

    #[tokio::test]
    async fn a_hash_with_old_parameters_is_replaced_on_login() {
        let weak = Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            Params::new(8192, 1, 1, None).expect("params"),
        )
        .hash_password(b"correct horse battery")
        .expect("hash")
        .to_string();
        match Hasher::new(1)
            .verify("correct horse battery", Some(&weak))
            .await
        {
            Ok(Verified::YesRehashed(new)) => assert!(new.contains("m=19456,t=2,p=1")),
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    #[test]
    fn length_rules_have_their_own_codes() {
        assert_eq!(
            Password::parse("p", "short").err().map(|e| e.code()),
            Some("password_too_short")
        );
        let long = "x".repeat(MAX_LEN + 1);
        assert_eq!(
            Password::parse("p", &long).err().map(|e| e.code()),
            Some("password_too_long")
        );
    }
}
