//! Will messages: held per connection, published on an abnormal close (network drop,
//! keep-alive expiry, protocol error, takeover, 5.0 DISCONNECT 0x04), discarded on a normal
//! DISCONNECT (MQTT-3.1.2-8/10 in 3.1.1, 3.1.2-8/10 and 3.14.4-3 in 5.0).
//!
//! 5.0 Will Delay Interval: the will waits in [`PendingWills`] until the delay passes or the
//! session ends, whichever is first (3.1.3.2.2); a new connection to the session before then
//! cancels it (MQTT-3.1.3-9). The will is kept as the client sent it and becomes a message only
//! when published, so that its Message Expiry Interval counts from publication (3.1.3.2.4).

use std::collections::HashMap;
use std::time::Instant;

use mqtt_codec::{ByteString, Will};

use super::timers::Timers;

/// Wills waiting for their delay, by client id, with their deadlines in time order.
#[derive(Debug, Default)]
pub(crate) struct PendingWills {
    by_client: HashMap<ByteString, Box<Will>>,
    deadlines: Timers<ByteString>,
}

impl PendingWills {
    /// Schedules `will` for `client` at `at`, replacing any earlier one.
    pub(crate) fn schedule(&mut self, client: ByteString, at: Instant, will: Box<Will>) {
        self.deadlines.set(client.clone(), Some(at));
        self.by_client.insert(client, will);
    }

    /// Removes and returns `client`'s pending will.
    pub(crate) fn take(&mut self, client: &ByteString) -> Option<Box<Will>> {
        self.deadlines.remove(client);
        self.by_client.remove(client)
    }

    /// Removes and returns every will due at `now` with its client, earliest first.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<(ByteString, Box<Will>)> {
        std::iter::from_fn(|| self.deadlines.pop_due(now))
            .filter_map(|client| self.by_client.remove(&client).map(|w| (client, w)))
            .collect()
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.next()
    }
}
