//! Closing connections and ending sessions: DISCONNECT from a client, wills (immediate or
//! delayed), session expiry.

use super::*;

impl Engine {
    pub(super) fn on_client_disconnect(
        &mut self,
        conn: ConnId,
        client: &ByteString,
        d: Disconnect,
        now: Instant,
    ) {
        if let Some(expiry) = d.properties.session_expiry_interval() {
            let connect_expiry = self.conns.get(&conn).map_or(0, |c| c.connect_expiry);
            if connect_expiry == 0 && expiry != 0 {
                // MQTT-3.14.2-2.
                self.protocol_error(
                    conn,
                    ReasonCode::PROTOCOL_ERROR,
                    "session expiry set after 0",
                    now,
                );
                return;
            }
            // Clamped like the CONNECT's: the configured maximum bounds the session's life
            // whichever packet asks.
            let max = self.limits.max_session_expiry_interval.unwrap_or(u32::MAX);
            if let Some(s) = self.sessions.get_mut(client) {
                s.expiry_interval = expiry.min(max);
            }
        }
        let kind = if d.reason == ReasonCode::DISCONNECT_WITH_WILL_MESSAGE {
            CloseKind::Abnormal
        } else {
            CloseKind::Normal
        };
        self.close(conn, kind, now);
    }

    pub(super) fn close(&mut self, conn: ConnId, kind: CloseKind, now: Instant) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        self.pending.remove(&conn);
        self.timers.remove(&Timer::Conn(conn));
        match self.outbox.get_mut(&conn) {
            Some(o) if !o.buf.is_empty() => o.closed = true,
            _ => {
                self.outbox.remove(&conn);
            }
        }
        self.events.push_back(Event::Close { conn });
        let Some(client) = c.client_id else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&client) else {
            return;
        };
        if s.conn != Some(conn) {
            return;
        }
        s.conn = None;
        let expiry = s.expiry_interval;
        let will = c.will.filter(|_| kind != CloseKind::Normal);
        if let CloseKind::Takeover { clean } = kind {
            // The session lives on in the new connection; a will without delay is published
            // now, and one with a delay only if the session ends (Clean Start).
            if let Some(w) = will {
                let delay = w.properties.will_delay_interval().unwrap_or(0);
                if delay == 0 || clean {
                    self.publish_will(&client, &w, now);
                }
            }
            return;
        }
        if let Some(w) = will {
            let delay = w.properties.will_delay_interval().unwrap_or(0).min(expiry);
            if delay == 0 {
                self.publish_will(&client, &w, now);
            } else {
                // A deadline beyond what the clock can represent is never due.
                if let Some(at) = now.checked_add(Duration::from_secs(u64::from(delay))) {
                    self.wills.schedule(client.clone(), at, w);
                }
            }
        }
        if expiry == 0 {
            self.end_session(&client, now);
        } else if expiry != u32::MAX {
            if let Some(s) = self.sessions.get_mut(&client) {
                s.expires_at = now.checked_add(Duration::from_secs(u64::from(expiry)));
                self.timers.set(Timer::Session(client), s.expires_at);
            }
        }
    }

    /// Ends a session: its pending will is published (3.1.3.2.2), its state discarded.
    pub(super) fn end_session(&mut self, client: &ByteString, now: Instant) {
        self.remove_session(client);
        if let Some(will) = self.wills.take(client) {
            self.publish_will(client, &will, now);
        }
    }

    pub(super) fn remove_session(&mut self, client: &ByteString) {
        self.timers.remove(&Timer::Session(client.clone()));
        if let Some(s) = self.sessions.remove(client) {
            for filter in s.subscriptions.keys() {
                self.subs.remove(filter, client);
            }
            let queued: usize = s.outbound.queue.iter().map(|d| d.msg.size()).sum();
            self.queued_bytes -= queued;
        }
    }

    /// Publishes `client`'s will at `now`: its Message Expiry Interval starts here.
    pub(super) fn publish_will(&mut self, client: &ByteString, w: &Will, now: Instant) {
        tracing::debug!(topic = %w.topic, "publishing will");
        self.distribute(will_message(w, client, now), now);
    }

    /// When `c` is to be closed if nothing changes: the connect timeout before CONNACK, the
    /// keep alive after.
    pub(super) fn conn_deadline(&self, c: &Conn) -> Option<Instant> {
        match c.state {
            ConnState::Connected => c.keep_alive.deadline(),
            _ => c.opened.checked_add(self.limits.connect_timeout),
        }
    }
}

pub(super) fn will_message(w: &Will, client: &ByteString, now: Instant) -> Arc<Message> {
    Arc::new(Message::new(
        w.topic.clone(),
        w.payload.clone(),
        w.qos,
        w.retain,
        &w.properties,
        now,
        Some(client.clone()),
    ))
}
