//! Buckets in Redis, shared by every replica: one script charges all of a request's buckets at once (GCRA on
//! Redis's own clock, so the replicas' clocks do not matter), or none of them.

use std::time::Duration;

use redis::aio::ConnectionManager;

use super::{Budget, Draw, Quota, Verdict};

/// KEYS: one per bucket, holding its theoretical arrival time in µs. ARGV: per bucket its interval (µs per unit),
/// burst and amount. Returns {refusing bucket (1-based), µs to wait, 0} or {0, bucket with least left, units left}.
const CHARGE_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tats, wait, refused = {}, 0, 0
for i = 1, #KEYS do
  local interval, burst, amount = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  if tat < now then tat = now end
  tats[i] = tat + interval * amount
  local allow_at = tats[i] - interval * burst
  if allow_at - now > wait then
    wait = allow_at - now
    refused = i
  end
end
if refused > 0 then return {refused, wait, 0} end
local least, least_i = -1, 1
for i = 1, #KEYS do
  local interval, burst = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1])
  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1)
  local left = math.floor((interval * burst - (tats[i] - now)) / interval)
  if least < 0 or left < least then
    least, least_i = left, i
  end
end
return {0, least_i, least}
";

pub struct Buckets {
    conn: ConnectionManager,
    prefix: String,
    script: redis::Script,
}

impl Buckets {
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self {
            conn,
            prefix: format!("{prefix}rate:"),
            script: redis::Script::new(CHARGE_SCRIPT),
        }
    }

    pub async fn charge(&self, draws: &[(Draw, Quota)]) -> redis::RedisResult<Verdict> {
        let mut invocation = self.script.prepare_invoke();
        for (draw, quota) in draws {
            let interval = u64::try_from(quota.interval().as_micros()).unwrap_or(u64::MAX);
            invocation
                .key(format!("{}{}", self.prefix, draw.key))
                .arg(interval)
                .arg(quota.burst)
                .arg(draw.amount);
        }
        let mut conn = self.conn.clone();
        let (first, second, third): (usize, u64, i64) =
            crate::redis_conn::bounded(invocation.invoke_async(&mut conn)).await?;
        let about = |i: usize| -> (Budget, u32) {
            draws
                .get(i.saturating_sub(1))
                .map_or((Budget::Address, 0), |(d, q)| (d.budget, q.burst))
        };
        Ok(if first > 0 {
            let (budget, limit) = about(first);
            Verdict {
                allowed: false,
                budget,
                limit,
                remaining: 0,
                retry_after: Duration::from_micros(second),
            }
        } else {
            let (budget, limit) = about(usize::try_from(second).unwrap_or(1));
            Verdict {
                allowed: true,
                budget,
                limit,
                remaining: u32::try_from(third.max(0)).unwrap_or(u32::MAX),
                retry_after: Duration::ZERO,
            }
        })
    }
}
