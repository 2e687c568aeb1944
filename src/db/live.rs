//! Sessions found live, remembered across requests until a revocation anywhere says otherwise: every request
//! must know that its session still holds, and asking the database each time is most of the cost of a small
//! read.
//!
//! Correctness rests on an epoch. A request reads it before asking the database and keeps what it learnt only
//! under that epoch; every revocation bumps it after its transaction commits, here and, through Redis, on
//! every other replica, so nothing read before a revocation outlives it. With Redis configured, nothing is
//! remembered unless this replica is subscribed to the other replicas' revocations: while Redis is away,
//! every request asks the database again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Entries kept at most; past this the memory starts over (live sessions refill it at once).
const MAX_ENTRIES: usize = 50_000;

#[derive(Default)]
pub struct LiveSessions {
    epoch: AtomicU64,
    /// Whether this replica hears every revocation: always when alone, only while subscribed with Redis.
    trusted: AtomicBool,
    entries: Mutex<HashMap<(Uuid, Uuid), Entry>>,
    notify: OnceLock<(redis::aio::ConnectionManager, String)>,
}

#[derive(Clone, Copy)]
struct Entry {
    epoch: u64,
    /// The session's own end: a remembered session expires on time.
    until: DateTime<Utc>,
}

impl std::fmt::Debug for LiveSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSessions")
            .field("epoch", &self.epoch.load(Ordering::Relaxed))
            .field("trusted", &self.trusted.load(Ordering::Relaxed))
            .finish()
    }
}

impl LiveSessions {
    /// Alone (no Redis): this process sees every revocation there is.
    pub fn alone() -> Self {
        let me = Self::default();
        me.trusted.store(true, Ordering::SeqCst);
        me
    }

    /// The epoch to read before asking the database; hand it back to [`Self::remember`].
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Whether `session` of `user` was found live, with no revocation since and before its end.
    pub fn is_live(&self, user: Uuid, session: Uuid, now: DateTime<Utc>) -> bool {
        if !self.trusted.load(Ordering::SeqCst) {
            return false;
        }
        let epoch = self.epoch();
        self.lock()
            .get(&(user, session))
            .is_some_and(|e| e.epoch == epoch && e.until > now)
    }

    /// Keeps what the database said at `epoch`, unless a revocation came in between.
    pub fn remember(&self, user: Uuid, session: Uuid, epoch: u64, until: DateTime<Utc>) {
        if !self.trusted.load(Ordering::SeqCst) {
            return;
        }
        let mut entries = self.lock();
        if self.epoch() != epoch {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert((user, session), Entry { epoch, until });
    }

    /// Some session ended (logout, revocation, a blocked or deleted user, a changed password): forget them
    /// all here and tell the other replicas. Call it after the change has committed.
    pub fn revoked(&self) {
        self.forget();
        if let Some((conn, channel)) = self.notify.get() {
            let (mut conn, channel) = (conn.clone(), channel.clone());
            tokio::spawn(async move {
                let r: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg("revoked")
                    .query_async(&mut conn)
                    .await;
                if let Err(e) = r {
                    tracing::error!(error = %e, "telling the other replicas about a revoked session");
                }
            });
        }
    }

    fn forget(&self) {
        let mut entries = self.lock();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Uuid, Uuid), Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Shares revocations with the other replicas through Redis: publishes this replica's, and trusts what it
    /// remembers only while it hears theirs. Reconnects when Redis goes away.
    pub fn share(
        self: &Arc<Self>,
        client: redis::Client,
        conn: redis::aio::ConnectionManager,
        channel: String,
    ) {
        self.trusted.store(false, Ordering::SeqCst);
        let _ = self.notify.set((conn, channel.clone()));
        let me = Arc::clone(self);
        tokio::spawn(async move {
            use futures_util::StreamExt as _;
            loop {
                if let Ok(mut pubsub) = client.get_async_pubsub().await
                    && pubsub.subscribe(&channel).await.is_ok()
                {
                    // Whatever was revoked while deaf is unknown: start from nothing.
                    me.forget();
                    me.trusted.store(true, Ordering::SeqCst);
                    let mut messages = pubsub.on_message();
                    while messages.next().await.is_some() {
                        me.forget();
                    }
                    me.trusted.store(false, Ordering::SeqCst);
                    me.forget();
                    tracing::warn!(
                        "revocation channel lost: checking every session in the database"
                    );
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_forgets_what_was_read_before_it() {
        let live = LiveSessions::alone();
        let (u, s, now) = (Uuid::now_v7(), Uuid::now_v7(), Utc::now());
        let later = now + chrono::Duration::hours(1);
        let before = live.epoch();
        live.remember(u, s, before, later);
        assert!(live.is_live(u, s, now));
        let read = live.epoch();
        live.forget();
        assert!(!live.is_live(u, s, now));
        // An answer read before the revocation, arriving after it, is not kept.
        live.remember(u, s, read, later);
        assert!(!live.is_live(u, s, now));
    }

    #[test]
    fn a_remembered_session_still_ends_on_time() {
        let live = LiveSessions::alone();
        let (u, s, now) = (Uuid::now_v7(), Uuid::now_v7(), Utc::now());
        live.remember(u, s, live.epoch(), now + chrono::Duration::seconds(1));
        assert!(live.is_live(u, s, now));
        assert!(!live.is_live(u, s, now + chrono::Duration::seconds(2)));
    }

    #[test]
    fn nothing_is_remembered_while_deaf_to_other_replicas() {
        let live = LiveSessions::default();
        let (u, s, now) = (Uuid::now_v7(), Uuid::now_v7(), Utc::now());
        live.remember(u, s, live.epoch(), now + chrono::Duration::hours(1));
        assert!(!live.is_live(u, s, now));
    }
}
