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

/// Whose attempts are counted: an account's are forgotten when its owner gets in; an address's are not, but
/// a successful attempt is handed back to it.
#[derive(Debug, Clone)]
pub struct Subject {
    key: String,
    threshold: u32,
    account: bool,
}

#[derive(Debug)]
struct Entry {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// An attempt reserved against its subjects' budgets before the secret is checked, so that any number of
/// concurrent guesses are counted before any is verified. It stands as a failure unless declared a success.
#[derive(Debug)]
#[must_use = "an attempt counts as a failure unless declared a success"]
pub struct Attempt {
    subjects: Vec<Subject>,
}

type Memory = Mutex<HashMap<String, Entry>>;

pub struct Throttle {
    /// Always there: the store while there is no Redis, and the fallback while Redis does not answer.
    memory: Memory,
    redis: Option<(ConnectionManager, String)>,
    policy: Policy,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.redis.is_some() {
            "redis"
        } else {
            "memory"
        };
        f.debug_struct("Throttle")
            .field("store", &kind)
            .field("policy", &self.policy)
            .finish()
    }
}

/// Refuses while any subject is locked; otherwise counts the attempt against every subject and locks those
/// that reach their threshold, all in one step, so replicas and concurrent requests agree.
/// KEYS: (failures, lock) per subject; ARGV: window, base, cap, then each subject's threshold.
const RESERVE_SCRIPT: &str = r"
local n = #KEYS / 2
local wait = 0
for i = 1, n do
  local t = redis.call('PTTL', KEYS[2 * i])
  if t > wait then wait = t end
end
if wait > 0 then return wait end
for i = 1, n do
  local c = redis.call('INCR', KEYS[2 * i - 1])
  redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[1])
  local th = tonumber(ARGV[3 + i])
  if c >= th then
    local ms = math.min(tonumber(ARGV[2]) * (2 ^ math.min(c - th, 20)), tonumber(ARGV[3]))
    redis.call('SET', KEYS[2 * i], '1', 'PX', math.floor(ms))
  end
end
return 0
";

/// Hands a successful attempt back to an address: one failure fewer, and no lock while under the threshold.
const REFUND_SCRIPT: &str = r"
local c = redis.call('DECR', KEYS[1])
if c <= 0 then redis.call('DEL', KEYS[1]) end
if c < tonumber(ARGV[1]) then redis.call('DEL', KEYS[2]) end
return c
";

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn memory(m: &Memory) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Throttle {
    pub fn in_memory(policy: Policy) -> Self {
        Self {
            memory: Mutex::default(),
            redis: None,
            policy,
        }
    }

    pub fn redis(conn: ConnectionManager, prefix: String, policy: Policy) -> Self {
        Self {
            memory: Mutex::default(),
            redis: Some((conn, prefix)),
            policy,
        }
    }

    pub fn account(&self, what: &str, email: &str) -> Subject {
        Subject {
            key: format!("{what}:acct:{}", email.trim().to_lowercase()),
            threshold: self.policy.max_failures,
            account: true,
        }
    }

    pub fn address(&self, what: &str, ip: Option<&str>) -> Subject {
        Subject {
            key: format!("{what}:ip:{}", ip.unwrap_or("-")),
            threshold: self.policy.max_failures.saturating_mul(4),
            account: false,
        }
    }

    /// Reserves one attempt against every subject, or says how long the caller must still wait. In Redis when
    /// configured; while Redis does not answer, in this process, so throttling never fails open.
    pub async fn reserve(&self, subjects: &[&Subject]) -> Result<Attempt, Duration> {
        let wait = match &self.redis {
            Some((conn, prefix)) => {
                let mut cmd = redis::cmd("EVAL");
                cmd.arg(RESERVE_SCRIPT).arg(subjects.len() * 2);
                for s in subjects {
                    cmd.arg(format!("{prefix}throttle:fails:{}", s.key))
                        .arg(format!("{prefix}throttle:lock:{}", s.key));
                }
                let p = self.policy;
                cmd.arg(millis(p.window))
                    .arg(millis(p.base))
                    .arg(millis(p.cap));
                for s in subjects {
                    cmd.arg(s.threshold);
                }
                let mut conn = conn.clone();
                match crate::redis_conn::bounded(cmd.query_async::<i64>(&mut conn)).await {
                    Ok(ms) => (ms > 0).then(|| Duration::from_millis(ms.unsigned_abs())),
                    Err(e) => {
                        tracing::error!(error = %e, "throttle: Redis unreachable; throttling in this process");
                        self.reserve_in_memory(subjects)
                    }
                }
            }
            None => self.reserve_in_memory(subjects),
        };
        match wait {
            Some(w) => Err(w),
            None => Ok(Attempt {
                subjects: subjects.iter().map(|s| (*s).clone()).collect(),
            }),
        }
    }

    fn reserve_in_memory(&self, subjects: &[&Subject]) -> Option<Duration> {
        let p = self.policy;
        let now = Instant::now();
        let mut map = memory(&self.memory);
        let wait = subjects
            .iter()
            .filter_map(|s| map.get(&s.key)?.locked_until?.checked_duration_since(now))
            .filter(|d| !d.is_zero())
            .max();
        if wait.is_some() {
            return wait;
        }
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
        None
    }

    /// The attempt succeeded: its accounts' failures are forgotten, and its addresses get the attempt back.
    pub async fn succeeded(&self, attempt: Attempt) {
        self.settle(attempt, true).await;
    }

    /// The secret could not be checked (the database failed, say): the attempt is given back everywhere and
    /// counts neither way.
    pub async fn release(&self, attempt: Attempt) {
        self.settle(attempt, false).await;
    }

    async fn settle(&self, attempt: Attempt, success: bool) {
        for s in &attempt.subjects {
            let forget = success && s.account;
            if let Some((conn, prefix)) = &self.redis {
                let (fails, lock) = (
                    format!("{prefix}throttle:fails:{}", s.key),
                    format!("{prefix}throttle:lock:{}", s.key),
                );
                let cmd = if forget {
                    let mut c = redis::cmd("DEL");
                    c.arg(fails).arg(lock);
                    c
                } else {
                    let mut c = redis::cmd("EVAL");
                    c.arg(REFUND_SCRIPT)
                        .arg(2)
                        .arg(fails)
                        .arg(lock)
                        .arg(s.threshold);
                    c
                };
                let mut conn = conn.clone();
                let r = crate::redis_conn::bounded(cmd.query_async::<i64>(&mut conn)).await;
                if let Err(e) = r {
                    tracing::error!(error = %e, "throttle: Redis unreachable");
                }
            }
            // The attempt may have been counted here while Redis was away.
            let mut map = memory(&self.memory);
            if forget {
                map.remove(&s.key);
            } else if let Some(e) = map.get_mut(&s.key) {
                e.failures = e.failures.saturating_sub(1);
                if e.failures < s.threshold {
                    e.locked_until = None;
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
            let _failed = t.reserve(&[&acct]).await.expect("not locked yet");
        }
        assert!(t.reserve(&[&acct]).await.is_err());
        tokio::time::sleep(Duration::from_millis(250)).await;
        let ok = t.reserve(&[&acct]).await.expect("the lock lifted");
        t.succeeded(ok).await;
        let _failed = t.reserve(&[&acct]).await.expect("success resets the count");
        assert!(
            t.reserve(&[&acct]).await.is_ok(),
            "success resets the count"
        );
    }

    #[tokio::test]
    async fn concurrent_attempts_are_counted_before_any_is_checked() {
        let t = std::sync::Arc::new(Throttle::in_memory(policy()));
        let acct = t.account("login", "a@x.test");
        let tries = (0..20).map(|_| {
            let (t, acct) = (std::sync::Arc::clone(&t), acct.clone());
            tokio::spawn(async move { t.reserve(&[&acct]).await.is_ok() })
        });
        let mut admitted = 0;
        for h in tries {
            admitted += usize::from(h.await.expect("task"));
        }
        assert_eq!(
            admitted, 3,
            "only the threshold's worth of guesses get through"
        );
    }

    #[tokio::test]
    async fn an_address_gets_a_successful_attempt_back() {
        let t = Throttle::in_memory(policy());
        let addr = t.address("login", Some("10.0.0.1"));
        for _ in 0..30 {
            let ok = t
                .reserve(&[&addr])
                .await
                .expect("successes never lock an address");
            t.succeeded(ok).await;
        }
    }
}
