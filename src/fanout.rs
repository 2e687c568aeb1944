//! The one path by which a replica tells the others what it changed, after the change commits (sessions ended,
//! staff changed, access rules changed, a work order moved), and hears theirs: one Redis channel, one
//! subscriber, handlers by topic. Alone (no Redis) there is nobody to tell.
//!
//! A message can be lost (Redis away at the wrong moment, a publish that times out): whatever a replica keeps
//! because of what it hears must also expire on its own (see [`crate::db::live`] and the policy's refresh).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What travels between replicas: the topic, its details, and who sent it (nobody handles their own twice).
#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    origin: Uuid,
    topic: String,
    #[serde(default)]
    payload: String,
}

/// What a handler is told.
#[derive(Debug, Clone, Copy)]
pub enum Heard<'a> {
    /// Another replica announced a change under the handler's topic.
    Change(&'a str),
    /// Messages may have been missed (the subscription was lost or has just begun): assume anything changed.
    Resync,
}

type Handler = Arc<dyn Fn(Heard<'_>) + Send + Sync>;

pub struct Fanout {
    origin: Uuid,
    redis: OnceLock<(redis::aio::ConnectionManager, String)>,
    /// Whether this replica hears every change: always when alone, only while subscribed with Redis.
    hearing: AtomicBool,
    handlers: Mutex<Vec<(&'static str, Handler)>>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("shared", &self.redis.get().is_some())
            .field("hearing", &self.hearing())
            .finish()
    }
}

impl Fanout {
    /// Alone: every change there is happens in this process.
    pub fn alone() -> Arc<Self> {
        Arc::new(Self {
            origin: Uuid::new_v4(),
            redis: OnceLock::new(),
            hearing: AtomicBool::new(true),
            handlers: Mutex::default(),
        })
    }

    /// Whether this replica hears the others' changes (always, when alone).
    pub fn hearing(&self) -> bool {
        self.hearing.load(Ordering::SeqCst)
    }

    /// Calls `handler` with what other replicas announce under `topic`, and with [`Heard::Resync`] whenever
    /// some of it may have been missed.
    pub fn on(&self, topic: &'static str, handler: impl Fn(Heard<'_>) + Send + Sync + 'static) {
        self.lock().push((topic, Arc::new(handler)));
    }

    /// Tells the other replicas (not this one: the caller has already acted here) that `topic` changed. Call
    /// it after the change has committed. Sent in the background, bounded in time; a failure is logged.
    pub fn announce(&self, topic: &'static str, payload: String) {
        let Some((conn, channel)) = self.redis.get() else {
            return;
        };
        let wire = Wire {
            origin: self.origin,
            topic: topic.to_owned(),
            payload,
        };
        let Ok(text) = serde_json::to_string(&wire) else {
            return;
        };
        let (mut conn, channel) = (conn.clone(), channel.clone());
        tokio::spawn(async move {
            let mut publish = redis::cmd("PUBLISH");
            publish.arg(&channel).arg(text);
            if let Err(e) = crate::redis_conn::bounded(publish.query_async::<i64>(&mut conn)).await
            {
                tracing::warn!(error = %e, topic, "telling the other replicas about a change");
            }
        });
    }

    /// Shares changes through Redis from now on: announces this replica's on `channel`, and hears the others'
    /// only while subscribed to it (reconnecting when Redis goes away). Returns once first subscribed (or after
    /// two seconds without), so what a replica loads after it cannot miss a change announced meanwhile.
    pub async fn share(
        self: &Arc<Self>,
        client: redis::Client,
        conn: redis::aio::ConnectionManager,
        channel: String,
    ) {
        self.hearing.store(false, Ordering::SeqCst);
        let _ = self.redis.set((conn, channel.clone()));
        let me = Arc::clone(self);
        let subscribed = Arc::new(tokio::sync::Notify::new());
        let first = Arc::clone(&subscribed);
        tokio::spawn(async move {
            use futures_util::StreamExt as _;
            loop {
                if let Ok(mut pubsub) = client.get_async_pubsub().await
                    && pubsub.subscribe(&channel).await.is_ok()
                {
                    me.hearing.store(true, Ordering::SeqCst);
                    // Whatever changed while deaf is unknown.
                    me.deliver(None, Heard::Resync);
                    first.notify_one();
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        let Ok(text) = msg.get_payload::<String>() else {
                            continue;
                        };
                        match serde_json::from_str::<Wire>(&text) {
                            Ok(w) if w.origin != me.origin => {
                                me.deliver(Some(&w.topic), Heard::Change(&w.payload));
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "an unreadable change message"),
                        }
                    }
                    me.hearing.store(false, Ordering::SeqCst);
                    me.deliver(None, Heard::Resync);
                    tracing::warn!("change channel lost: remembering nothing until it is back");
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
        let waited =
            tokio::time::timeout(std::time::Duration::from_secs(2), subscribed.notified()).await;
        if waited.is_err() {
            tracing::warn!(
                "not yet subscribed to the other replicas' changes: remembering nothing until then"
            );
        }
    }

    /// Runs the handlers of `topic` (of every topic for `None`).
    fn deliver(&self, topic: Option<&str>, heard: Heard<'_>) {
        let handlers: Vec<Handler> = self
            .lock()
            .iter()
            .filter(|(t, _)| topic.is_none_or(|topic| topic == *t))
            .map(|(_, h)| Arc::clone(h))
            .collect();
        for h in handlers {
            h(heard);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(&'static str, Handler)>> {
        self.handlers.lock().unwrap_or_else(|p| p.into_inner())
    }
}
