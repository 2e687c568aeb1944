//! Change notifications for live screens (the work-order board): published after a change commits, delivered to
//! this process's subscribers at once and, through Redis pub/sub, to every other replica's.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

/// A work order was created or changed (details, lines, mechanics, status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrderChanged {
    pub id: Uuid,
    pub location_id: Uuid,
}

/// What travels between replicas: the event and who sent it, so nobody delivers their own twice.
#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    origin: Uuid,
    event: WorkOrderChanged,
}

pub struct Events {
    tx: broadcast::Sender<WorkOrderChanged>,
    origin: Uuid,
    redis: Option<(redis::aio::ConnectionManager, String)>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("origin", &self.origin)
            .finish()
    }
}

impl Events {
    pub fn new(redis: Option<(redis::aio::ConnectionManager, String)>) -> Arc<Self> {
        // A slow subscriber skips ahead rather than holding everyone back; the board reloads what it missed.
        let (tx, _) = broadcast::channel(1024);
        Arc::new(Self {
            tx,
            origin: Uuid::new_v4(),
            redis,
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<WorkOrderChanged> {
        self.tx.subscribe()
    }

    pub fn publish(&self, event: WorkOrderChanged) {
        // No subscriber here is not an error.
        let _ = self.tx.send(event);
        if let Some((conn, channel)) = &self.redis {
            let (mut conn, channel) = (conn.clone(), channel.clone());
            let wire = Wire {
                origin: self.origin,
                event,
            };
            let Ok(text) = serde_json::to_string(&wire) else {
                return;
            };
            tokio::spawn(async move {
                let r: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg(text)
                    .query_async(&mut conn)
                    .await;
                if let Err(e) = r {
                    tracing::warn!(error = %e, "publishing a change to the other replicas");
                }
            });
        }
    }

    /// Delivers the other replicas' events here; reconnects when Redis goes away.
    pub fn relay(self: &Arc<Self>, client: redis::Client, channel: String) {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            use futures_util::StreamExt as _;
            loop {
                if let Ok(mut pubsub) = client.get_async_pubsub().await
                    && pubsub.subscribe(&channel).await.is_ok()
                {
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        let Ok(text) = msg.get_payload::<String>() else {
                            continue;
                        };
                        if let Ok(w) = serde_json::from_str::<Wire>(&text)
                            && w.origin != me.origin
                        {
                            let _ = me.tx.send(w.event);
                        }
                    }
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
    }
}
