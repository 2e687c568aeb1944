//! Budgets that keep one client from taking the shop's API for itself. A request is charged what it costs (its
//! operation's computed cost; one for a request refused before it could be costed) against every bucket it draws
//! on: its user or API key, its address, and for sign-in and upload requests a tighter bucket of their own. The
//! buckets live in Redis when it is configured, so any number of replicas share one budget (one script, one
//! round trip); without Redis, or while it does not answer, each process keeps its own.

mod address;
mod local;
mod shared;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use address::{Cidr, client_ip};

/// How much a bucket lets through: `per_minute` on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub per_minute: u32,
    pub burst: u32,
}

impl Quota {
    /// The time one unit takes to come back.
    fn interval(self) -> Duration {
        Duration::from_secs(60) / self.per_minute.max(1)
    }
}

/// The kinds of bucket, each with its quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    /// A signed-in user's or an integration's API key's: charged the operation's cost.
    Caller,
    /// An address's, whoever signs in from it: charged the operation's cost.
    Address,
    /// Sign-in, session refresh and password reset requests from one address, one each.
    SignIn,
    /// Upload requests of one caller, one each.
    Upload,
}

impl Budget {
    pub const ALL: [Budget; 4] = [Self::Caller, Self::Address, Self::SignIn, Self::Upload];

    pub fn name(self) -> &'static str {
        match self {
            Self::Caller => "caller",
            Self::Address => "address",
            Self::SignIn => "sign_in",
            Self::Upload => "upload",
        }
    }
}

/// Every budget's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    pub caller: Quota,
    pub address: Quota,
    pub sign_in: Quota,
    pub upload: Quota,
}

impl Quotas {
    pub fn of(&self, budget: Budget) -> Quota {
        match budget {
            Budget::Caller => self.caller,
            Budget::Address => self.address,
            Budget::SignIn => self.sign_in,
            Budget::Upload => self.upload,
        }
    }
}

/// One draw on one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draw {
    pub budget: Budget,
    key: String,
    amount: u32,
}

impl Draw {
    /// `amount` from the bucket of `budget` kept for `whose` (an id or an address).
    pub fn new(budget: Budget, whose: impl std::fmt::Display, amount: u32) -> Self {
        Self {
            budget,
            key: format!("{}:{whose}", budget.name()),
            amount,
        }
    }

    /// From an address's bucket: a host's whole IPv6 /64 is one address.
    pub fn address(budget: Budget, ip: IpAddr, amount: u32) -> Self {
        Self::new(budget, address::bucket_key(ip), amount)
    }
}

/// The answer to a charge: let through or not, and what to tell the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// The bucket the numbers below are about: the one that refused, or the one with least left.
    pub budget: Budget,
    pub limit: u32,
    pub remaining: u32,
    /// How long until the request would be let through (zero when it was).
    pub retry_after: Duration,
}

impl Verdict {
    /// How long until the bucket is full again.
    pub fn reset(&self, quotas: &Quotas) -> Duration {
        quotas.of(self.budget).interval() * self.limit.saturating_sub(self.remaining)
    }
}

/// While Redis does not answer, it is not asked again for this long: each request would otherwise wait for it.
const REDIS_REST: Duration = Duration::from_secs(5);

pub struct RateLimiter {
    quotas: Quotas,
    /// Always there: the store without Redis, and the fallback while Redis does not answer.
    local: local::Buckets,
    shared: Option<shared::Buckets>,
    started: Instant,
    /// Milliseconds after `started` before which Redis is not asked.
    redis_rests_until: AtomicU64,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("quotas", &self.quotas)
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

impl RateLimiter {
    pub fn in_process(quotas: Quotas) -> Self {
        Self {
            quotas,
            local: local::Buckets::new(&quotas),
            shared: None,
            started: Instant::now(),
            redis_rests_until: AtomicU64::new(0),
        }
    }

    /// Buckets in Redis under `prefix`, shared by every replica that uses the same.
    pub fn shared(quotas: Quotas, conn: redis::aio::ConnectionManager, prefix: &str) -> Self {
        Self {
            shared: Some(shared::Buckets::new(conn, prefix)),
            ..Self::in_process(quotas)
        }
    }

    pub fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    /// Charges every draw, or none when one of them is refused (in Redis; in process, the buckets before the
    /// refusing one have paid). A draw larger than its bucket takes the whole bucket: the largest query the
    /// limits allow can always run on a full budget.
    pub async fn charge(&self, draws: &[Draw]) -> Verdict {
        let draws: Vec<(Draw, Quota)> = draws
            .iter()
            .map(|d| {
                let quota = self.quotas.of(d.budget);
                let amount = d.amount.clamp(1, quota.burst.max(1));
                (
                    Draw {
                        amount,
                        ..d.clone()
                    },
                    quota,
                )
            })
            .collect();
        let verdict = match &self.shared {
            Some(shared) if !self.redis_resting() => match shared.charge(&draws).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "rate limits: Redis did not answer; each replica limits on its own for now");
                    metrics::counter!("autoshop_rate_limit_fallbacks_total").increment(1);
                    self.rest_redis();
                    self.local.charge(&draws)
                }
            },
            _ => self.local.charge(&draws),
        };
        if !verdict.allowed {
            metrics::counter!("autoshop_rate_limited_total", "budget" => verdict.budget.name())
                .increment(1);
        }
        verdict
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn redis_resting(&self) -> bool {
        self.now_ms() < self.redis_rests_until.load(Ordering::Relaxed)
    }

    fn rest_redis(&self) {
        let until = self.now_ms().saturating_add(REDIS_REST.as_millis() as u64);
        self.redis_rests_until.store(until, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quotas(per_minute: u32, burst: u32) -> Quotas {
        let q = Quota { per_minute, burst };
        Quotas {
            caller: q,
            address: q,
            sign_in: q,
            upload: q,
        }
    }

    #[tokio::test]
    async fn a_request_is_charged_its_cost_and_refused_when_the_bucket_cannot_pay() {
        let limiter = RateLimiter::in_process(quotas(60, 10));
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        let first = limiter
            .charge(&[Draw::address(Budget::Address, ip, 7)])
            .await;
        assert!(first.allowed);
        assert_eq!((first.limit, first.remaining), (10, 3));
        assert_eq!(first.reset(limiter.quotas()), Duration::from_secs(7));
        let second = limiter
            .charge(&[Draw::address(Budget::Address, ip, 4)])
            .await;
        assert!(!second.allowed);
        assert_eq!(second.budget, Budget::Address);
        assert!(
            second.retry_after > Duration::ZERO && second.retry_after <= Duration::from_secs(1)
        );
        let other: IpAddr = "10.0.0.2".parse().expect("ip");
        assert!(
            limiter
                .charge(&[Draw::address(Budget::Address, other, 10)])
                .await
                .allowed
        );
    }

    #[tokio::test]
    async fn a_draw_larger_than_its_bucket_takes_the_whole_bucket() {
        let limiter = RateLimiter::in_process(quotas(60, 10));
        let v = limiter.charge(&[Draw::new(Budget::Caller, "u", 500)]).await;
        assert!(v.allowed);
        assert_eq!(v.remaining, 0);
        assert!(
            !limiter
                .charge(&[Draw::new(Budget::Caller, "u", 1)])
                .await
                .allowed
        );
    }

    #[tokio::test]
    async fn the_tightest_bucket_speaks_for_the_request() {
        let limiter = RateLimiter::in_process(Quotas {
            sign_in: Quota {
                per_minute: 60,
                burst: 2,
            },
            ..quotas(600, 100)
        });
        let ip: IpAddr = "10.0.0.9".parse().expect("ip");
        let draws = [
            Draw::address(Budget::Address, ip, 5),
            Draw::address(Budget::SignIn, ip, 1),
        ];
        let v = limiter.charge(&draws).await;
        assert_eq!((v.budget, v.remaining), (Budget::SignIn, 1));
        assert!(limiter.charge(&draws).await.allowed);
        let refused = limiter.charge(&draws).await;
        assert_eq!((refused.allowed, refused.budget), (false, Budget::SignIn));
    }
}
