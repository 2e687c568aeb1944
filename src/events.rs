//! Change notifications for live screens (the work-order board): published after a change commits, delivered to
//! this process's subscribers at once and, through Redis pub/sub, to every other replica's.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::fanout::{Fanout, Heard};

/// A work order was created or changed (details, lines, mechanics, status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrderChanged {
    pub id: Uuid,
    pub location_id: Uuid,
}

/// The topic work-order changes travel under between replicas.
const TOPIC: &str = "work_order";

pub struct Events {
    tx: broadcast::Sender<WorkOrderChanged>,
    fanout: Arc<Fanout>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    /// Events published here, and those other replicas announce through `fanout`.
    pub fn new(fanout: Arc<Fanout>) -> Arc<Self> {
        // A slow subscriber skips ahead rather than holding everyone back; the board reloads what it missed.
        let (tx, _) = broadcast::channel(1024);
        let me = Arc::new(Self {
            tx: tx.clone(),
            fanout: Arc::clone(&fanout),
        });
        fanout.on(TOPIC, move |heard| {
            if let Heard::Change(text) = heard
                && let Ok(event) = serde_json::from_str::<WorkOrderChanged>(text)
            {
                let _ = tx.send(event);
            }
        });
        me
    }

    pub fn subscribe(&self) -> broadcast::Receiver<WorkOrderChanged> {
        self.tx.subscribe()
    }

    pub fn publish(&self, event: WorkOrderChanged) {
        // No subscriber here is not an error.
        let _ = self.tx.send(event);
        if let Ok(text) = serde_json::to_string(&event) {
            self.fanout.announce(TOPIC, text);
        }
    }
}
