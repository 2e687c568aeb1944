//! Backoff after failed sign-in attempts, per account and per client address: in Redis when configured (shared
//! by every replica), in process otherwise. Locks always expire: an attacker can slow an account down, never
//! lock its owner out for good.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

/// How failures turn into waiting.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failures on one account before it must wait; an address gets four times as many.
    pub max_failures: u32,
    /// The first wait; each further failure doubles it, up to `cap`.
    pub base: Duration,
    pub cap: Duration,
    /// Failures older than this are forgotten.
    pub window: Duration,
}

impl Policy {
    fn wait_after(&self, failures: u32, threshold: u32) -> Option<Duration> {
        let over = failures.checked_sub(threshold)?;
        let factor = 2u32.saturating_pow(over.min(20));
        Some(self.base.saturating_mul(factor).min(self.cap))
    }
}

/// Whose attempts are counted.
#[derive(Debug, Clone)]
pub struct Subject {
    key: String,
    threshold: u32,
}

#[derive(Debug)]
struct Entry {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

enum Store {
    Memory(Mutex<HashMap<String, Entry>>),
    Redis {
        conn: ConnectionManager,
        prefix: String,
    },
}

pub struct Throttle {
    store: Store,
    policy: Policy,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.store {
            Store::Memory(_) => "memory",
            Store::Redis { .. } => "redis",
        };
        f.debug_struct("Throttle")
            .field("store", &kind)
            .field("policy", &self.policy)
            .finish()
    }
}

/// Counts failures and sets the lock in one step, so replicas racing on one key agree.
const FAIL_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if n >= tonumber(ARGV[2]) then
  local ms = math.min(tonumber(ARGV[3]) * (2 ^ math.min(n - tonumber(ARGV[2]), 20)), tonumber(ARGV[4]))
  redis.call('SET', KEYS[2], '1', 'PX', math.floor(ms))
end
return n
";

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Throttle {
    pub fn in_memory(policy: Policy) -> Self {
        Self {
            store: Store::Memory(Mutex::default()),
            policy,
        }
    }

    pub fn redis(conn: ConnectionManager, prefix: String, policy: Policy) -> Self {
        Self {
            store: Store::Redis { conn, prefix },
            policy,
        }
    }

    pub fn account(&self, what: &str, email: &str) -> Subject {
        Subject {
            key: format!("{what}:acct:{}", email.trim().to_lowercase()),
            threshold: self.policy.max_failures,
        }
    }

    pub fn address(&self, what: &str, ip: Option<&str>) -> Subject {
        Subject {
            key: format!("{what}:ip:{}", ip.unwrap_or("-")),
            threshold: self.policy.max_failures.saturating_mul(4),
        }
    }

    /// How long the caller must still wait, if any subject is locked.
    pub async fn wait(&self, subjects: &[&Subject]) -> Option<Duration> {
        match &self.store {
            Store::Memory(m) => {
                let now = Instant::now();
                let map = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                subjects
                    .iter()
                    .filter_map(|s| map.get(&s.key)?.locked_until?.checked_duration_since(now))
                    .filter(|d| !d.is_zero())
                    .max()
            }
            Store::Redis { conn, prefix } => {
                let mut pipe = redis::pipe();
                for s in subjects {
                    pipe.cmd("PTTL")
                        .arg(format!("{prefix}throttle:lock:{}", s.key));
                }
                let mut conn = conn.clone();
                match pipe.query_async::<Vec<i64>>(&mut conn).await {
                    Ok(ttls) => ttls
                        .into_iter()
                        .filter(|ms| *ms > 0)
                        .max()
                        .map(|ms| Duration::from_millis(ms.unsigned_abs())),
                    Err(e) => {
                        // Sign-in stays available when Redis is not; the failure is loud in the logs.
                        tracing::error!(error = %e, "throttle: Redis unreachable; not throttling");
                        None
                    }
                }
            }
        }
    }

    pub async fn failed(&self, subjects: &[&Subject]) {
        let p = self.policy;
        match &self.store {
            Store::Memory(m) => {
                let now = Instant::now();
                let mut map = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if map.len() > 100_000 {
                    map.retain(|_, e| now.duration_since(e.last) < p.window);
                }
                for s in subjects {
                    let e = map.entry(s.key.clone()).or_insert(Entry {
                        failures: 0,
                        last: now,
                        locked_until: None,
                    });
                    if now.duration_since(e.last) >= p.window {
                        e.failures = 0;
                    }
                    e.failures += 1;
                    e.last = now;
                    if let Some(wait) = p.wait_after(e.failures, s.threshold) {
                        e.locked_until = Some(now + wait);
                    }
                }
            }
            Store::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                for s in subjects {
                    let r: redis::RedisResult<i64> = redis::cmd("EVAL")
                        .arg(FAIL_SCRIPT)
                        .arg(2)
                        .arg(format!("{prefix}throttle:fails:{}", s.key))
                        .arg(format!("{prefix}throttle:lock:{}", s.key))
                        .arg(millis(p.window))
                        .arg(s.threshold)
                        .arg(millis(p.base))
                        .arg(millis(p.cap))
                        .query_async(&mut conn)
                        .await;
                    if let Err(e) = r {
                        tracing::error!(error = %e, "throttle: Redis unreachable; failure not counted");
                    }
                }
            }
        }
    }

    /// Forgets an account's failures once its owner gets in.
    pub async fn succeeded(&self, subject: &Subject) {
        match &self.store {
            Store::Memory(m) => {
                m.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&subject.key);
            }
            Store::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let r: redis::RedisResult<i64> = redis::cmd("DEL")
                    .arg(format!("{prefix}throttle:fails:{}", subject.key))
                    .arg(format!("{prefix}throttle:lock:{}", subject.key))
                    .query_async(&mut conn)
                    .await;
                if let Err(e) = r {
                    tracing::error!(error = %e, "throttle: Redis unreachable");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            max_failures: 3,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(900),
            window: Duration::from_secs(900),
        }
    }

    #[test]
    fn waits_double_from_the_threshold_and_stop_at_the_cap() {
        let p = policy();
        assert_eq!(p.wait_after(2, 3), None);
        assert_eq!(p.wait_after(3, 3), Some(Duration::from_millis(200)));
        assert_eq!(p.wait_after(5, 3), Some(Duration::from_millis(800)));
        assert_eq!(p.wait_after(500, 3), Some(Duration::from_secs(900)));
    }

    #[tokio::test]
    async fn an_account_is_locked_after_its_failures_and_the_lock_lifts() {
        let t = Throttle::in_memory(policy());
        let acct = t.account("login", "A@x.test");
        assert_eq!(t.account("login", "a@x.test").key, acct.key);
        for _ in 0..3 {
            assert!(t.wait(&[&acct]).await.is_none());
            t.failed(&[&acct]).await;
        }
        assert!(t.wait(&[&acct]).await.is_some());
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(t.wait(&[&acct]).await.is_none());
        t.succeeded(&acct).await;
        t.failed(&[&acct]).await;
        assert!(t.wait(&[&acct]).await.is_none(), "success resets the count");
    }
}
