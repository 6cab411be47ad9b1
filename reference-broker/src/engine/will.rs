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
use super::timers::Timers;

/// Wills waiting for their delay, by client id, with their deadlines in time order.
#[derive(Debug, Default)]
pub(crate) struct PendingWills {
    by_client: HashMap<ByteString, Arc<Message>>,
    deadlines: Timers<ByteString>,
}

impl PendingWills {
    /// Schedules `msg` for `client` at `at`, replacing any earlier one.
    pub(crate) fn schedule(&mut self, client: ByteString, at: Instant, msg: Arc<Message>) {
        self.deadlines.set(client.clone(), Some(at));
        self.by_client.insert(client, msg);
    }

    /// Removes and returns `client`'s pending will.
    pub(crate) fn take(&mut self, client: &ByteString) -> Option<Arc<Message>> {
        self.deadlines.remove(client);
        self.by_client.remove(client)
    }

    /// Removes and returns every will due at `now`, earliest first.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<Arc<Message>> {
        std::iter::from_fn(|| self.deadlines.pop_due(now))
            .filter_map(|client| self.by_client.remove(&client))
            .collect()
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.next()
    }
}
