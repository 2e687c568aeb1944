//! What each replica remembers across requests until a change says otherwise: the sessions it found live
//! (every request must know that its session still holds, and asking the database each time is most of the
//! cost of a small read) and the shop's staff (the users the screens name beside nearly every record).
//!
//! Correctness rests on an epoch and an age. A request reads the epoch before asking the database and keeps what
//! it learnt only under that epoch; every change bumps it after its transaction commits, here and, through the
//! [`Fanout`], on every other replica, so nothing read before a change outlives it. A message can be lost, and a
//! write can be made outside the server: so no entry is trusted for longer than its time to live
//! (`AUTOSHOP_CACHE_TTL_SECS`), which bounds how stale any replica can be. With Redis configured, nothing is
//! remembered unless this replica hears the others' changes.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::fanout::Fanout;

/// Entries kept at most; past this the memory starts over (what is in use refills it at once).
const MAX_ENTRIES: usize = 50_000;

/// Values read from the database, kept until the next change anywhere or until they are too old.
pub struct Remembered<K, V> {
    /// What is remembered: the topic its changes are announced under.
    what: &'static str,
    epoch: AtomicU64,
    ttl: Duration,
    entries: Mutex<HashMap<K, (V, Instant)>>,
    fanout: Arc<Fanout>,
}

/// Sessions found live, each with its own end.
pub type LiveSessions = Remembered<(Uuid, Uuid), DateTime<Utc>>;

/// The shop's users by id, as screens name them: never their credentials.
pub type Staff = Remembered<Uuid, StaffCard>;

/// What the board shows of a member of staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffCard {
    pub id: Uuid,
    pub name: String,
    pub status: String,
    pub deleted: bool,
}

impl From<&entity::users::Model> for StaffCard {
    fn from(u: &entity::users::Model) -> Self {
        StaffCard {
            id: u.id,
            name: u.name.clone(),
            status: u.status.clone(),
            deleted: u.deleted_at.is_some(),
        }
    }
}

impl<K, V> std::fmt::Debug for Remembered<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remembered")
            .field("what", &self.what)
            .field("epoch", &self.epoch.load(Ordering::Relaxed))
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl<K: Eq + Hash + Send + 'static, V: Clone + Send + 'static> Remembered<K, V> {
    /// Remembers `what` for at most `ttl` (nothing at all for zero), forgetting it whenever another replica
    /// announces a change of it through `fanout`, or may have.
    pub fn new(what: &'static str, ttl: Duration, fanout: Arc<Fanout>) -> Arc<Self> {
        let me = Arc::new(Self {
            what,
            epoch: AtomicU64::new(0),
            ttl,
            entries: Mutex::new(HashMap::new()),
            fanout: Arc::clone(&fanout),
        });
        let weak = Arc::downgrade(&me);
        fanout.on(what, move |_| {
            if let Some(me) = weak.upgrade() {
                me.forget();
            }
        });
        me
    }

    /// The epoch to read before asking the database; hand it back to [`Self::remember`].
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// What was remembered for `key`, with no change since and younger than the time to live.
    pub fn get(&self, key: &K) -> Option<V> {
        if !self.fanout.hearing() {
            return None;
        }
        self.lock()
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(v, _)| v.clone())
    }

    /// Keeps what the database said at `epoch`, unless a change came in between.
    pub fn remember(&self, key: K, value: V, epoch: u64) {
        if !self.fanout.hearing() || self.ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if self.epoch() != epoch {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (value, Instant::now()));
    }

    /// Something changed: forget everything here and tell the other replicas. Call it after the change has
    /// committed.
    pub fn changed(&self) {
        self.forget();
        self.fanout.announce(self.what, String::new());
    }

    fn forget(&self) {
        let mut entries = self.lock();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (V, Instant)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
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

    fn sessions(ttl: Duration) -> Arc<LiveSessions> {
        LiveSessions::new("sessions", ttl, Fanout::alone())
    }

    #[test]
    fn a_revocation_forgets_what_was_read_before_it() {
        let live = sessions(Duration::from_secs(60));
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
        let live = sessions(Duration::from_secs(60));
        let (u, s, now) = (Uuid::now_v7(), Uuid::now_v7(), Utc::now());
        live.remember((u, s), now + chrono::Duration::seconds(1), live.epoch());
        assert!(live.is_live(u, s, now));
        assert!(!live.is_live(u, s, now + chrono::Duration::seconds(2)));
    }

    #[test]
    fn nothing_is_trusted_longer_than_its_time_to_live() {
        let live = sessions(Duration::from_millis(50));
        let (u, s, now) = (Uuid::now_v7(), Uuid::now_v7(), Utc::now());
        live.remember((u, s), now + chrono::Duration::hours(1), live.epoch());
        assert!(live.is_live(u, s, now));
        std::thread::sleep(Duration::from_millis(60));
        assert!(!live.is_live(u, s, now), "asked again once too old");
        let never = sessions(Duration::ZERO);
        never.remember((u, s), now + chrono::Duration::hours(1), never.epoch());
        assert!(!never.is_live(u, s, now));
    }
}
