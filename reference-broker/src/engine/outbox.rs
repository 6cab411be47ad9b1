//! Output: delivery into a session (sent, queued or dropped), the in-flight window and its
//! queue, redelivery on reconnect, and encoding packets within the client's limits.

use super::*;

impl Engine {
    /// Hands one message to one session: sends it, or queues it (QoS 1/2) when the client is
    /// offline, its window is full or it reads too slowly (its outbound buffer is past
    /// `max_outbound_buffer`). QoS 0 messages for offline or slow clients are dropped, as are
    /// QoS 1/2 ones past `max_queued_messages` or `max_queued_bytes`. False if dropped.
    pub(super) fn deliver(&mut self, client: &ByteString, d: Delivery, now: Instant) -> bool {
        let limit = self.limits.max_outbound_buffer;
        let Some(s) = self.sessions.get_mut(client) else {
            return false;
        };
        let conn = s.conn;
        let congested = conn
            .and_then(|c| self.outbox.get(&c))
            .is_some_and(|o| o.congested(limit));
        if d.qos == QoS::AtMostOnce {
            let Some(conn) = conn else {
                return false;
            };
            if congested {
                // The client does not read fast enough: QoS 0 is at most once.
                tracing::debug!(client = %client, "outbound buffer full, qos 0 dropped");
                return false;
            }
            if !d.msg.expired(now) {
                let p = build_publish(&d, 0, false, now);
                self.send(conn, p.into());
            }
            return true;
        }
        let window = conn
            .and_then(|c| self.conns.get(&c))
            .map_or(0, |c| usize::from(c.window));
        let idle = s.outbound.queue.is_empty() && s.outbound.unsent() == 0;
        if idle && s.outbound.inflight.len() < window && !congested {
            if let Some(conn) = conn {
                self.send_new(client, conn, d, now);
            }
            return true;
        }
        let size = d.msg.size();
        if s.outbound.len() >= self.limits.max_queued_messages
            || self.queued_bytes.saturating_add(size) > self.limits.max_queued_bytes
        {
            tracing::debug!(client = %client, "queue full, message dropped");
            return false;
        }
        self.queued_bytes += size;
        s.outbound.queue.push_back(d);
        true
    }

    /// Sends a QoS 1/2 message with a fresh packet identifier.
    pub(super) fn send_new(
        &mut self,
        client: &ByteString,
        conn: ConnId,
        d: Delivery,
        now: Instant,
    ) {
        if d.msg.expired(now) {
            return;
        }
        let (version, max) = self.peer(conn);
        let Some(s) = self.sessions.get_mut(client) else {
            return;
        };
        let probe = build_publish(&d, 1, false, now);
        if u32::try_from(Packet::Publish(probe.clone()).encoded_len(version)).unwrap_or(u32::MAX)
            > max
        {
            // 5.0 MQTT-3.1.2-25: too large for the client: discarded as if delivered.
            return;
        }
        let Some(id) = s.outbound.alloc_id() else {
            self.queued_bytes += d.msg.size();
            s.outbound.queue.push_front(d);
            return;
        };
        let mut p = probe;
        p.packet_id = id;
        s.outbound.push(id, d);
        self.send(conn, p.into());
    }

    /// Fills the client's window from its queue.
    pub(super) fn pump(&mut self, client: &ByteString, now: Instant) {
        loop {
            let Some(s) = self.sessions.get_mut(client) else {
                return;
            };
            let Some(conn) = s.conn else {
                return;
            };
            let window = self.conns.get(&conn).map_or(0, |c| usize::from(c.window));
            let limit = self.limits.max_outbound_buffer;
            let congested = self.outbox.get(&conn).is_some_and(|o| o.congested(limit));
            if s.outbound.sent() >= window || congested {
                return;
            }
            if s.outbound.unsent() > 0 {
                self.resend_one(client, conn, now);
                continue;
            }
            let Some(d) = s.outbound.queue.pop_front() else {
                return;
            };
            self.queued_bytes -= d.msg.size();
            let before = s.outbound.queue.len();
            self.send_new(client, conn, d, now);
            // All packet identifiers in use: the message went back to the queue.
            if self
                .sessions
                .get(client)
                .is_some_and(|s| s.outbound.queue.len() > before)
            {
                return;
            }
        }
    }

    /// MQTT-4.4.0-1: on reconnect, resends the unacknowledged PUBLISH (DUP=1) and PUBREL
    /// packets in order, as many as the client's new Receive Maximum allows (MQTT-3.3.4-7);
    /// the rest follow as acknowledgements make room (`pump`). A PUBLISH now over the
    /// client's Maximum Packet Size is discarded as if delivered (MQTT-3.1.2-25) instead of
    /// staying in flight for ever.
    pub(super) fn redeliver(&mut self, client: &ByteString, conn: ConnId, now: Instant) {
        let (version, max) = self.peer(conn);
        let Some(s) = self.sessions.get_mut(client) else {
            return;
        };
        let too_big: Vec<(u16, OutState)> = (s.outbound.inflight.iter())
            .filter(|e| e.state != OutState::AwaitPubComp)
            .filter(|e| {
                let p = Packet::Publish(build_publish(&e.delivery, e.id, true, now));
                u32::try_from(p.encoded_len(version)).map_or(true, |len| len > max)
            })
            .map(|e| (e.id, e.state))
            .collect();
        for (id, state) in too_big {
            s.outbound.complete(id, state);
        }
        s.outbound.mark_all_unsent();
    }

    /// Resends the oldest in-flight entry not yet resent on this connection; false if none.
    pub(super) fn resend_one(&mut self, client: &ByteString, conn: ConnId, now: Instant) -> bool {
        let Some(e) = self
            .sessions
            .get_mut(client)
            .and_then(|s| s.outbound.take_unsent())
        else {
            return false;
        };
        let packet: Packet = match e.state {
            OutState::AwaitPubComp => PubRel::new(e.id).into(),
            _ => build_publish(&e.delivery, e.id, true, now).into(),
        };
        self.send(conn, packet);
        true
    }

    /// The protocol version a connection speaks (3.1.1 until its CONNECT says otherwise).
    pub(super) fn version(&self, conn: ConnId) -> ProtocolVersion {
        self.peer(conn).0
    }

    /// A connection's protocol version and the client's Maximum Packet Size.
    fn peer(&self, conn: ConnId) -> (ProtocolVersion, u32) {
        self.conns
            .get(&conn)
            .map_or((ProtocolVersion::V3_1_1, u32::MAX), |c| {
                (c.version, c.max_packet_size)
            })
    }

    pub(super) fn send_disconnect(&mut self, conn: ConnId, code: ReasonCode, why: &str) {
        if !self.version(conn).is_v5() {
            return;
        }
        let mut d = Disconnect::new(code);
        d.properties.push(Property::ReasonString(why.into()));
        self.send(conn, d.into());
    }

    /// Encodes `packet` for `conn`, honouring the client's Maximum Packet Size: an oversized
    /// PUBLISH is dropped, other packets lose their Reason String and User Properties first
    /// (5.0 MQTT-3.1.2-24/25).
    pub(super) fn send(&mut self, conn: ConnId, mut packet: Packet) {
        // Only an open connection is sent to: a closed one's outbox only drains.
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let (version, max) = (c.version, c.max_packet_size);
        let Some(o) = self.outbox.get_mut(&conn) else {
            return;
        };
        if o.closed {
            return;
        }
        let fits = |p: &Packet| u32::try_from(p.encoded_len(version)).is_ok_and(|len| len <= max);
        if !fits(&packet) {
            if matches!(packet, Packet::Publish(_)) {
                return;
            }
            strip_diagnostics(&mut packet);
            if !fits(&packet) {
                return;
            }
        }
        if packet.encode(version, &mut o.buf).is_err() {
            tracing::warn!(conn = conn.0, "packet could not be encoded");
            return;
        }
        if !o.queued {
            o.queued = true;
            self.ready.push_back(conn);
        }
    }
}

/// The PUBLISH a subscriber receives for `d`.
pub(super) fn build_publish(d: &Delivery, packet_id: u16, dup: bool, now: Instant) -> Publish {
    let mut properties = d.msg.properties.clone();
    if let Some(left) = d.msg.remaining_expiry(now) {
        properties.push(Property::MessageExpiryInterval(left));
    }
    for id in &d.sub_ids {
        properties.push(Property::SubscriptionIdentifier(*id));
    }
    Publish {
        dup: dup && d.qos != QoS::AtMostOnce,
        qos: d.qos,
        retain: d.retain,
        topic: d.msg.topic.clone(),
        packet_id,
        properties,
        payload: d.msg.payload.clone(),
    }
}

pub(super) fn strip_diagnostics(packet: &mut Packet) {
    let props = match packet {
        Packet::ConnAck(p) => &mut p.properties,
        Packet::PubAck(p) => &mut p.properties,
        Packet::PubRec(p) => &mut p.properties,
        Packet::PubRel(p) => &mut p.properties,
        Packet::PubComp(p) => &mut p.properties,
        Packet::SubAck(p) => &mut p.properties,
        Packet::UnsubAck(p) => &mut p.properties,
        Packet::Disconnect(p) => &mut p.properties,
        Packet::Auth(p) => &mut p.properties,
        _ => return,
    };
    let kept: Properties = props
        .iter()
        .filter(|p| !matches!(p, Property::ReasonString(_) | Property::UserProperty(..)))
        .collect();
    *props = kept;
}
