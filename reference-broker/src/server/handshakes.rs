//! Sockets in a TLS handshake or WebSocket upgrade, which the engine does not know yet: at
//! most `Limits::max_pending_connections` per listener. When that many are running, the
//! oldest is aborted to make room, as the engine closes its oldest socket without CONNECT: a
//! flood of silent sockets pushes out its own members, never a client that completes its
//! handshake at once. Each is also bounded in time by the connect timeout.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::task::AbortHandle;

/// The handshakes running on one listener.
#[derive(Debug)]
pub(crate) struct Handshakes {
    max: usize,
    running: Mutex<Running>,
    /// Whether aborting one to make room has been logged.
    logged: AtomicBool,
}

#[derive(Debug, Default)]
struct Running {
    next: u64,
    /// By admission order: the first is the oldest.
    tasks: BTreeMap<u64, AbortHandle>,
}

/// One admitted handshake; dropping it (the handshake ended, either way) stops counting it,
/// and it can no longer be aborted to make room.
#[derive(Debug)]
pub(crate) struct Ticket {
    handshakes: Arc<Handshakes>,
    id: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Ok(mut running) = self.handshakes.running.lock() {
            running.tasks.remove(&self.id);
        }
    }
}

impl Handshakes {
    /// At most `max` handshakes at once (at least 1).
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            running: Mutex::new(Running::default()),
            logged: AtomicBool::new(false),
        })
    }

    /// Counts `task`, which is about to handshake, aborting the oldest running ones first
    /// when `max` are.
    pub(crate) fn admit(self: &Arc<Self>, task: AbortHandle) -> Ticket {
        let mut running = match self.running.lock() {
            Ok(running) => running,
            Err(poisoned) => poisoned.into_inner(),
        };
        while running.tasks.len() >= self.max {
            let Some((_, oldest)) = running.tasks.pop_first() else {
                break;
            };
            oldest.abort();
            if !self.logged.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "refused: handshakes over max_pending_connections, the oldest aborted \
                     (further ones are not logged)"
                );
            }
        }
        running.next += 1;
        let id = running.next;
        running.tasks.insert(id, task);
        Ticket {
            handshakes: Arc::clone(self),
            id,
        }
    }

    /// How many handshakes are counted now.
    #[cfg(test)]
    pub(crate) fn running(&self) -> usize {
        self.running.lock().map_or(0, |r| r.tasks.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_oldest_handshake_is_aborted_to_make_room_and_a_finished_one_frees_its_place() {
        let handshakes = Handshakes::new(2);
        let stalled = || tokio::spawn(std::future::pending::<()>());
        let (first, second, third) = (stalled(), stalled(), stalled());
        let _one = handshakes.admit(first.abort_handle());
        let two = handshakes.admit(second.abort_handle());
        let _three = handshakes.admit(third.abort_handle());
        assert!(first.await.unwrap_err().is_cancelled(), "the oldest kept");
        assert_eq!(handshakes.running(), 2);
        // The second finishes its handshake: the next one finds room.
        drop(two);
        let fourth = stalled();
        let _four = handshakes.admit(fourth.abort_handle());
        assert_eq!(handshakes.running(), 2);
        for task in [second, third, fourth] {
            assert!(
                !task.is_finished(),
                "a handshake aborted while there was room"
            );
            task.abort();
        }
    }
}
