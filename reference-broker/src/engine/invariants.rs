//! Internal invariants and introspection, for tests and the fuzz driver.

use super::*;

impl Engine {
    /// Checks internal invariants; the error names the first one broken.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        for (client, s) in &self.sessions {
            if s.outbound.inflight.len() > usize::from(s.window_cap.max(1)) {
                return Err(format!("{client}: in-flight beyond the receive maximum"));
            }
            if s.outbound.len()
                > self
                    .limits
                    .max_queued_messages
                    .max(s.outbound.inflight.len())
                && s.outbound.queue.len() > self.limits.max_queued_messages
            {
                return Err(format!("{client}: queue beyond its limit"));
            }
            if let Some(conn) = s.conn {
                if !self.conns.contains_key(&conn) {
                    return Err(format!("{client}: attached to a closed connection"));
                }
            }
        }
        for (id, c) in &self.conns {
            if (c.state != ConnState::Connected) != self.pending.contains(id) {
                return Err(format!(
                    "conn {}: pending set disagrees with its state",
                    id.0
                ));
            }
        }
        if self.pending.len() > self.conns.len() {
            return Err("a pending connection that is not open".to_owned());
        }
        for (client, s) in &self.sessions {
            let armed = self.timers.get(&Timer::Session(client.clone()));
            if s.conn.is_none() && armed != s.expires_at {
                return Err(format!("{client}: expiry timer does not match the session"));
            }
        }
        let queued: usize = (self.sessions.values())
            .flat_map(|s| s.outbound.queue.iter().map(|d| d.msg.size()))
            .sum();
        if queued != self.queued_bytes {
            return Err(format!(
                "{queued} bytes queued, {} counted",
                self.queued_bytes
            ));
        }
        let stored: usize = self.sessions.values().map(|s| s.subscriptions.len()).sum();
        if stored != self.subs.len() {
            return Err(format!(
                "{stored} subscriptions in sessions, {} in the tree",
                self.subs.len()
            ));
        }
        for (id, c) in &self.conns {
            let armed = self.timers.get(&Timer::Conn(*id));
            let due = self.conn_deadline(c);
            // Lazy re-arming lets the timer be early, never late or missing.
            if due.is_some_and(|due| armed.is_none_or(|armed| armed > due)) {
                return Err(format!(
                    "connection {}: timer later than its deadline",
                    id.0
                ));
            }
            if let Some(client) = &c.client_id {
                if self.sessions.get(client).and_then(|s| s.conn) != Some(*id) {
                    return Err(format!("connection {} lost its session", id.0));
                }
            }
        }
        Ok(())
    }

    /// The filters a connection's session holds (`None` before CONNACK).
    #[doc(hidden)]
    pub fn session_filters(&self, conn: ConnId) -> Option<Vec<String>> {
        let client = self.conns.get(&conn)?.client_id.as_ref()?;
        let s = self.sessions.get(client)?;
        Some(s.subscriptions.keys().map(|f| f.to_string()).collect())
    }

    /// The client id attached to a connection.
    #[doc(hidden)]
    pub fn client_id(&self, conn: ConnId) -> Option<String> {
        self.conns
            .get(&conn)?
            .client_id
            .as_ref()
            .map(|c| c.to_string())
    }
}
