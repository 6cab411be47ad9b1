//! Keep alive (3.1.1 and 5.0 section 3.1.2.10): a connection that sends nothing for one and a
//! half times its Keep Alive is closed (MQTT-3.1.2-24 / 5.0 MQTT-3.1.2-22); 0 turns it off.
//! In 5.0 the server may impose its own value through Server Keep Alive.

use std::time::{Duration, Instant};

/// The keep alive in force on a connection and when it last heard from the client.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeepAlive {
    secs: u16,
    last_heard: Instant,
}

impl KeepAlive {
    /// Starts counting at `now` with `secs` (0 is off).
    pub(crate) fn new(secs: u16, now: Instant) -> Self {
        Self {
            secs,
            last_heard: now,
        }
    }

    /// Records a packet from the client.
    pub(crate) fn heard(&mut self, now: Instant) {
        self.last_heard = now;
    }

    /// When the connection is to be closed if nothing arrives, if ever.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        if self.secs == 0 {
            return None;
        }
        // One and a half times the interval, in milliseconds to keep the half second.
        let grace = Duration::from_millis(u64::from(self.secs) * 1500);
        self.last_heard.checked_add(grace)
    }
}

/// The keep alive a server grants: the client's, unless `max` is set and the client asked for
/// more or for none; the second value says whether it differs from the request (and so must
/// be sent as Server Keep Alive).
pub(crate) fn negotiate(requested: u16, max: Option<u16>) -> (u16, bool) {
    match max {
        Some(max) if requested == 0 || requested > max => (max, true),
        _ => (requested, false),
    }
}
