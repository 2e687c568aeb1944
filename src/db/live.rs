//! What each replica remembers across requests until a change anywhere says otherwise: the sessions it found live
//! (every request must know that its session still holds, and asking the database each time is most of the
//! cost of a small read) and the shop's staff (the users the screens name beside nearly every record).
//!
//! Correctness rests on an epoch. A request reads it before asking the database and keeps what it learnt only
//! under that epoch; every change bumps it after its transaction commits, here and, through Redis, on every
//! other replica, so nothing read before a change outlives it. With Redis configured, nothing is remembered
//! unless this replica is subscribed to the other replicas' changes: while Redis is away, every request asks
//! the database again.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Entries kept at most; past this the memory starts over (what is in use refills it at once).
const MAX_ENTRIES: usize = 50_000;

/// Values read from the database, kept until the next change anywhere.
pub struct Remembered<K, V> {
    /// What is remembered, for the logs.
    what: &'static str,
    epoch: AtomicU64,
    /// Whether this replica hears every change: always when alone, only while subscribed with Redis.
    trusted: AtomicBool,
    entries: Mutex<HashMap<K, V>>,
    notify: OnceLock<(redis::aio::ConnectionManager, String)>,
}

/// Sessions found live, each with its own end.
pub type LiveSessions = Remembered<(Uuid, Uuid), DateTime<Utc>>;

/// The shop's users by id.
pub type Staff = Remembered<Uuid, entity::users::Model>;

impl<K, V> std::fmt::Debug for Remembered<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remembered")
            .field("what", &self.what)
            .field("epoch", &self.epoch.load(Ordering::Relaxed))
            .field("trusted", &self.trusted.load(Ordering::Relaxed))
            .finish()
    }
}

impl<K: Eq + Hash + Send + 'static, V: Clone + Send + 'static> Remembered<K, V> {
    /// Deaf until told otherwise: remembers nothing.
    fn deaf(what: &'static str) -> Self {
        Self {
            what,
            epoch: AtomicU64::new(0),
            trusted: AtomicBool::new(false),
            entries: Mutex::new(HashMap::new()),
            notify: OnceLock::new(),
        }
    }

    /// Alone (no Redis): this process sees every change there is.
    pub fn alone(what: &'static str) -> Self {
        let me = Self::deaf(what);
        me.trusted.store(true, Ordering::SeqCst);
        me
    }

    /// The epoch to read before asking the database; hand it back to [`Self::remember`].
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// What was remembered for `key`, with no change since.
    pub fn get(&self, key: &K) -> Option<V> {
        if !self.trusted.load(Ordering::SeqCst) {
            return None;
        }
        self.lock().get(key).cloned()
    }

    /// Keeps what the database said at `epoch`, unless a change came in between.
    pub fn remember(&self, key: K, value: V, epoch: u64) {
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
        entries.insert(key, value);
    }

    /// Something changed: forget everything here and tell the other replicas. Call it after the change has
    /// committed.
    pub fn changed(&self) {
        self.forget();
        if let Some((conn, channel)) = self.notify.get() {
            let (mut conn, channel, what) = (conn.clone(), channel.clone(), self.what);
            tokio::spawn(async move {
                let r: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg("changed")
                    .query_async(&mut conn)
                    .await;
                if let Err(e) = r {
                    tracing::error!(error = %e, what, "telling the other replicas about a change");
                }
            });
        }
    }

    fn forget(&self) {
        let mut entries = self.lock();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Shares changes with the other replicas through Redis: publishes this replica's, and trusts what it
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
                    // Whatever changed while deaf is unknown: start from nothing.
                    me.forget();
                    me.trusted.store(true, Ordering::SeqCst);
                    let mut messages = pubsub.on_message();
                    while messages.next().await.is_some() {
                        me.forget();
                    }
                    me.trusted.store(false, Ordering::SeqCst);
                    me.forget();
                    tracing::warn!(
                        what = me.what,
                        "change channel lost: asking the database on every request"
                    );
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
    }
}

impl LiveSessions {
    /// Whether `session` of `user` was found live, with no revocation since and before its end.
    pub fn is_live(&self, user: Uuid, session: Uuid, now: DateTime<Utc>) -> bool {
        self.get(&(user, session)).is_some_and(|until| until > now)
    }

    /// Some session ended (logout, revocation, a blocked or deleted user, a changed password): forget them
    /// all here and tell the other replicas. Call it after the change has committed.
    pub fn revoked(&self) {
        self.changed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_forgets_what_was_read_before_it() {
        let live = LiveSessions::alone("sessions");
        let (u, s, now) = (Uuid::now_v7(), Uuid::now_v7(), Utc::now());
        let later = now + chrono::Duration::hours(1);
        let before = live.epoch();
        live.remember((u, s), later, before);
        assert!(live.is_live(u, s, now));
        let read = live.epoch();
        live.forget();
        assert!(!live.is_live(u, s, now));
        // An answer read before the revocation, arriving after it, is not kept.
        live.remember((u, s), later, read);
        assert!(!live.is_live(u, s, now));
    }

    #[test]
    fn a_remembered_session_still_ends_on_time() {
        let live = LiveSessions::alone("sessions");
        let (u, s, now) = (Uuid::now_v7(), Uuid::now_v7(), Utc::now());
        live.remember((u, s), now + chrono::Duration::seconds(1), live.epoch());
        assert!(live.is_live(u, s, now));
        assert!(!live.is_live(u, s, now + chrono::Duration::seconds(2)));
    }

    #[test]
    fn nothing_is_remembered_while_deaf_to_other_replicas() {
        let live = LiveSessions::deaf("sessions");
        let (u, s, now) = (Uuid::now_v7(), Uuid::now_v7(), Utc::now());
        live.remember((u, s), now + chrono::Duration::hours(1), live.epoch());
        assert!(!live.is_live(u, s, now));
    }
}
