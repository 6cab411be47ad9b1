//! Will messages: held per connection, published on an abnormal close (network drop,
//! keep-alive expiry, protocol error, takeover, 5.0 DISCONNECT 0x04), discarded on a normal
//! DISCONNECT (MQTT-3.1.2-8/10 in 3.1.1, 3.1.2-8/10 and 3.14.4-3 in 5.0).
//!
//! 5.0 Will Delay Interval: the will waits in [`PendingWills`] until the delay passes or the
//! session ends, whichever is first (3.1.3.2.2); a new connection to the session before then
//! cancels it (MQTT-3.1.3-9).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use mqtt_codec::ByteString;

use super::message::Message;

/// A will waiting for its delay.
#[derive(Debug)]
pub(crate) struct PendingWill {
    pub(crate) at: Instant,
    pub(crate) msg: Arc<Message>,
}

/// Wills waiting for their delay, by client id.
#[derive(Debug, Default)]
pub(crate) struct PendingWills {
    by_client: HashMap<ByteString, PendingWill>,
}

impl PendingWills {
    /// Schedules `msg` for `client` at `at`, replacing any earlier one.
    pub(crate) fn schedule(&mut self, client: ByteString, at: Instant, msg: Arc<Message>) {
        self.by_client.insert(client, PendingWill { at, msg });
    }

    /// Removes and returns `client`'s pending will.
    pub(crate) fn take(&mut self, client: &ByteString) -> Option<Arc<Message>> {
        self.by_client.remove(client).map(|w| w.msg)
    }

    /// Removes and returns every will due at `now`.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<Arc<Message>> {
        let due: Vec<ByteString> = self
            .by_client
            .iter()
            .filter(|(_, w)| w.at <= now)
            .map(|(c, _)| c.clone())
            .collect();
        due.iter().filter_map(|c| self.take(c)).collect()
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.by_client.values().map(|w| w.at).min()
    }
}
