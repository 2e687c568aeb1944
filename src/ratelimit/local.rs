//! Buckets in this process (governor's GCRA, one keyed limiter per budget): the store without Redis, and the
//! fallback while Redis does not answer.

use std::collections::HashMap;
use std::num::NonZeroU32;

use governor::clock::{Clock as _, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;

use super::{Budget, Draw, Quota, Quotas, Verdict};

type Keyed = governor::RateLimiter<
    String,
    DefaultKeyedStateStore<String>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// Buckets kept before idle ones (full again, so indistinguishable from new) are dropped: a flood of addresses
/// cannot grow memory forever.
const MAX_TRACKED: usize = 10_000;

pub struct Buckets {
    limiters: HashMap<Budget, (Keyed, Quota)>,
    clock: DefaultClock,
}

fn non_zero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

impl Buckets {
    pub fn new(quotas: &Quotas) -> Self {
        let limiters = Budget::ALL
            .into_iter()
            .map(|budget| {
                let q = quotas.of(budget);
                let quota = governor::Quota::with_period(q.interval())
                    .unwrap_or_else(|| governor::Quota::per_second(NonZeroU32::MIN))
                    .allow_burst(non_zero(q.burst));
                let limiter = governor::RateLimiter::dashmap(quota)
                    .with_middleware::<StateInformationMiddleware>();
                (budget, (limiter, q))
            })
            .collect();
        Self {
            limiters,
            clock: DefaultClock::default(),
        }
    }

    pub fn charge(&self, draws: &[(Draw, Quota)]) -> Verdict {
        let mut tightest: Option<Verdict> = None;
        for (draw, quota) in draws {
            let Some((limiter, _)) = self.limiters.get(&draw.budget) else {
                continue;
            };
            if limiter.len() > MAX_TRACKED {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
            let verdict = match limiter.check_key_n(&draw.key, non_zero(draw.amount)) {
                Ok(Ok(state)) => Verdict {
                    allowed: true,
                    budget: draw.budget,
                    limit: quota.burst,
                    remaining: state.remaining_burst_capacity(),
                    retry_after: std::time::Duration::ZERO,
                },
                Ok(Err(not_until)) => Verdict {
                    allowed: false,
                    budget: draw.budget,
                    limit: quota.burst,
                    remaining: 0,
                    retry_after: not_until.wait_time_from(self.clock.now()),
                },
                // Amounts are clamped to the burst before they get here.
                Err(_) => Verdict {
                    allowed: false,
                    budget: draw.budget,
                    limit: quota.burst,
                    remaining: 0,
                    retry_after: quota.interval() * quota.burst,
                },
            };
            if !verdict.allowed {
                return verdict;
            }
            if tightest.is_none_or(|t| verdict.remaining < t.remaining) {
                tightest = Some(verdict);
            }
        }
        tightest.unwrap_or(Verdict {
            allowed: true,
            budget: Budget::Address,
            limit: 0,
            remaining: 0,
            retry_after: std::time::Duration::ZERO,
        })
    }
}
