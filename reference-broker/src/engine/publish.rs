//! Packets after CONNACK, PUBLISH from clients (aliases, checks, acknowledgements) and routing
//! a message to the retained store and to every matching subscription.

use super::*;

impl Engine {
    pub(super) fn on_packet(&mut self, conn: ConnId, packet: Packet, now: Instant) {
        let Some(client) = self.conns.get(&conn).and_then(|c| c.client_id.clone()) else {
            return;
        };
        match packet {
            Packet::Publish(p) => self.on_publish(conn, &client, p, now),
            Packet::PubAck(a) => {
                if let Some(s) = self.sessions.get_mut(&client) {
                    s.outbound.complete(a.packet_id, OutState::AwaitPubAck);
                }
                self.pump(&client, now);
            }
            Packet::PubRec(a) => {
                let Some(s) = self.sessions.get_mut(&client) else {
                    return;
                };
                if !a.reason.is_success() {
                    // 5.0 4.3.3: a PUBREC with a failure code ends the flow.
                    s.outbound.complete(a.packet_id, OutState::AwaitPubRec);
                    self.pump(&client, now);
                } else if s.outbound.pubrec(a.packet_id) {
                    self.send(conn, PubRel::new(a.packet_id).into());
                } else {
                    let mut rel = PubRel::new(a.packet_id);
                    rel.reason = ReasonCode::PACKET_IDENTIFIER_NOT_FOUND;
                    self.send(conn, rel.into());
                }
            }
            Packet::PubComp(a) => {
                if let Some(s) = self.sessions.get_mut(&client) {
                    s.outbound.complete(a.packet_id, OutState::AwaitPubComp);
                }
                self.pump(&client, now);
            }
            Packet::PubRel(r) => {
                let released = self
                    .sessions
                    .get_mut(&client)
                    .is_some_and(|s| s.inbound.release(r.packet_id));
                let mut comp = PubComp::new(r.packet_id);
                if !released {
                    comp.reason = ReasonCode::PACKET_IDENTIFIER_NOT_FOUND;
                }
                self.send(conn, comp.into());
            }
            Packet::Subscribe(s) => self.on_subscribe(conn, &client, s, now),
            Packet::Unsubscribe(u) => self.on_unsubscribe(conn, &client, u),
            Packet::PingReq => self.send(conn, Packet::PingResp),
            Packet::Disconnect(d) => self.on_client_disconnect(conn, &client, d, now),
            Packet::Auth(a) => self.on_reauth(conn, a, now),
            // MQTT-3.1.0-2: a second CONNECT is a protocol violation; packets only a server
            // sends are too.
            Packet::Connect(_)
            | Packet::ConnAck(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)
            | Packet::PingResp => {
                self.protocol_error(conn, ReasonCode::PROTOCOL_ERROR, "unexpected packet", now);
            }
        }
    }

    pub(super) fn protocol_error(
        &mut self,
        conn: ConnId,
        code: ReasonCode,
        why: &str,
        now: Instant,
    ) {
        self.send_disconnect(conn, code, why);
        self.close(conn, CloseKind::Abnormal, now);
    }

    pub(super) fn on_publish(
        &mut self,
        conn: ConnId,
        client: &ByteString,
        p: Publish,
        now: Instant,
    ) {
        let v5 = self.version(conn).is_v5();
        let p = if v5 {
            match self.check_v5_publish(conn, p) {
                Ok(p) => p,
                Err((code, why)) => return self.protocol_error(conn, code, why, now),
            }
        } else {
            p
        };
        if p.topic.is_empty() {
            self.protocol_error(conn, ReasonCode::TOPIC_NAME_INVALID, "empty topic", now);
            return;
        }
        let refused = self.publish_refusal(conn, &p, v5);
        match p.qos {
            QoS::AtMostOnce => {
                if refused.is_none() {
                    self.route(client, p, now);
                }
            }
            QoS::AtLeastOnce => {
                let id = p.packet_id;
                if refused.is_none() {
                    self.route(client, p, now);
                }
                let mut ack = PubAck::new(id);
                if let Some(code) = refused.filter(|_| v5) {
                    ack.reason = code;
                    self.add_reason_string(conn, &mut ack.properties, code);
                }
                self.send(conn, ack.into());
            }
            QoS::ExactlyOnce => self.on_publish_qos2(conn, client, p, refused, now),
        }
    }

    /// 5.0 rules a PUBLISH breaks by protocol error: resolves its topic alias (3.3.2.3.4), or
    /// names the DISCONNECT reason.
    fn check_v5_publish(
        &mut self,
        conn: ConnId,
        mut p: Publish,
    ) -> Result<Publish, (ReasonCode, &'static str)> {
        if let Some(alias) = p.properties.topic_alias() {
            if alias == 0 || alias > self.limits.topic_alias_maximum {
                return Err((ReasonCode::TOPIC_ALIAS_INVALID, "topic alias out of range"));
            }
            let Some(c) = self.conns.get_mut(&conn) else {
                return Err((ReasonCode::PROTOCOL_ERROR, "no connection"));
            };
            if p.topic.is_empty() {
                match c.aliases.as_ref().and_then(|a| a.get(&alias)) {
                    Some(topic) => p.topic = topic.clone(),
                    None => return Err((ReasonCode::PROTOCOL_ERROR, "unknown topic alias")),
                }
            } else {
                (c.aliases.get_or_insert_with(Box::default)).insert(alias, p.topic.clone());
            }
        }
        if p.properties.subscription_identifiers().next().is_some() {
            // MQTT-3.3.4-6: a client never sends a Subscription Identifier.
            return Err((
                ReasonCode::PROTOCOL_ERROR,
                "subscription identifier from a client",
            ));
        }
        if p.qos > self.limits.max_qos {
            // MQTT-3.2.2-11.
            return Err((ReasonCode::QOS_NOT_SUPPORTED, "qos not supported"));
        }
        if p.retain && !self.limits.retain_available {
            // MQTT-3.2.2-14.
            return Err((ReasonCode::RETAIN_NOT_SUPPORTED, "retain not supported"));
        }
        Ok(p)
    }

    /// Why a PUBLISH is not accepted for delivery (its 5.0 acknowledgement code): topic over
    /// the limits, not allowed by the ACL, no room in the retained store, payload not UTF-8
    /// as announced. 3.1.1 has no negative acknowledgement: such a PUBLISH is acknowledged
    /// and dropped (MQTT-3.3.5-2).
    fn publish_refusal(&mut self, conn: ConnId, p: &Publish, v5: bool) -> Option<ReasonCode> {
        if !self.limits.topic_fits(&p.topic) {
            // 0x90: well formed, but not accepted by this server.
            self.notice
                .once("topic name over max_topic_levels or max_topic_bytes");
            return Some(ReasonCode::TOPIC_NAME_INVALID);
        }
        if let Some(users) = &self.limits.users {
            let user = self.conns.get(&conn).and_then(|c| c.username.as_deref());
            if !users.allowed(user, &p.topic, Access::Write) {
                return Some(ReasonCode::NOT_AUTHORIZED);
            }
        }
        if p.retain && !p.payload.is_empty() && !self.retained_room(p) {
            self.notice
                .once("retained message over max_retained_messages or max_retained_bytes");
            // 5.0 QoS 1/2: refused with 0x97. Otherwise the publisher cannot be told, so the
            // message is delivered without being retained (in `distribute`).
            if v5 && p.qos != QoS::AtMostOnce {
                return Some(ReasonCode::QUOTA_EXCEEDED);
            }
        }
        let utf8_promised = p.properties.payload_format_indicator() == Some(1);
        if v5 && utf8_promised && std::str::from_utf8(&p.payload).is_err() {
            return Some(ReasonCode::PAYLOAD_FORMAT_INVALID);
        }
        None
    }

    /// QoS 2 from a client: delivered on PUBLISH (method A of 4.3.3) and answered PUBREC.
    fn on_publish_qos2(
        &mut self,
        conn: ConnId,
        client: &ByteString,
        p: Publish,
        refused: Option<ReasonCode>,
        now: Instant,
    ) {
        let v5 = self.version(conn).is_v5();
        let id = p.packet_id;
        let mut rec = PubRec::new(id);
        if let Some(code) = refused {
            if v5 {
                rec.reason = code;
                self.add_reason_string(conn, &mut rec.properties, code);
            }
            self.send(conn, rec.into());
            return;
        }
        let Some(session) = self.sessions.get_mut(client) else {
            return;
        };
        let max = usize::from(self.limits.receive_maximum.max(1));
        let fresh = session.inbound.receive(id);
        if fresh && session.inbound.len() > max && v5 {
            // MQTT-3.3.4-9: more than Receive Maximum unacknowledged QoS 2 PUBLISH.
            session.inbound.release(id);
            self.protocol_error(
                conn,
                ReasonCode::RECEIVE_MAXIMUM_EXCEEDED,
                "receive maximum exceeded",
                now,
            );
            return;
        }
        if fresh {
            // A resend before PUBREL is answered PUBREC but not delivered again
            // (MQTT-4.3.3-9 / 5.0 4.3.3-10).
            self.route(client, p, now);
        }
        self.send(conn, rec.into());
    }

    pub(super) fn add_reason_string(&self, conn: ConnId, props: &mut Properties, code: ReasonCode) {
        // 5.0 3.1.2.11.7: reason strings on packets other than CONNACK and DISCONNECT only when
        // Request Problem Information is not 0.
        if self.conns.get(&conn).is_some_and(|c| c.problem_info) {
            if let Some(name) = code.name() {
                props.push(Property::ReasonString(name.into()));
            }
        }
    }

    /// Accepts a PUBLISH for delivery: retained store, then every matching subscription.
    pub(super) fn route(&mut self, publisher: &ByteString, p: Publish, now: Instant) {
        let msg = Arc::new(Message::new(
            p.topic,
            p.payload,
            p.qos,
            p.retain,
            &p.properties,
            now,
            Some(publisher.clone()),
        ));
        self.distribute(msg, now);
    }

    /// Whether the retained store can take `p` (a replacement always fits in count).
    pub(super) fn retained_room(&self, p: &Publish) -> bool {
        let (count, bytes) = self.retained.usage();
        let size = p.topic.len().saturating_add(p.payload.len());
        count < self.limits.max_retained_messages
            && bytes.saturating_add(size) <= self.limits.max_retained_bytes
            || self.retained.contains(&p.topic)
    }

    pub(super) fn distribute(&mut self, msg: Arc<Message>, now: Instant) {
        if msg.retain && self.limits.retain_available {
            let l = &self.limits;
            let stored = self
                .retained
                .update(&msg, l.max_retained_messages, l.max_retained_bytes);
            if stored.is_err() {
                self.notice
                    .once("retained store full, message not retained");
            }
        }
        let sessions = &self.sessions;
        let matches = self.subs.matches(&msg.topic, |c| {
            sessions.get(c).is_some_and(|s| s.conn.is_some())
        });
        // One delivery per client for its non-shared subscriptions; one per shared match.
        let mut per_client: Vec<(ByteString, Delivery)> = Vec::new();
        let mut index: HashMap<ByteString, usize> = HashMap::new();
        for m in matches {
            if !self.may_read(&m.client, &msg.topic) {
                continue;
            }
            let o = m.entry.options;
            if !m.shared && o.no_local && msg.publisher.as_ref() == Some(&m.client) {
                // MQTT-3.8.3-3: No Local.
                continue;
            }
            let qos = msg.qos.min(o.qos);
            let retain = o.retain_as_published && msg.retain;
            let sub_ids: Vec<u32> = m.entry.id.into_iter().collect();
            if !m.shared {
                if let Some(&i) = index.get(&m.client) {
                    if let Some((_, d)) = per_client.get_mut(i) {
                        d.qos = d.qos.max(qos);
                        d.retain |= retain;
                        d.sub_ids.extend(sub_ids);
                    }
                    continue;
                }
                index.insert(m.client.clone(), per_client.len());
            }
            per_client.push((
                m.client,
                Delivery {
                    msg: Arc::clone(&msg),
                    qos,
                    retain,
                    sub_ids,
                },
            ));
        }
        for (client, delivery) in per_client {
            self.deliver(&client, delivery, now);
        }
    }

    /// Whether the ACL lets `client`'s session receive messages published to `topic`.
    pub(super) fn may_read(&self, client: &ByteString, topic: &str) -> bool {
        let Some(users) = &self.limits.users else {
            return true;
        };
        let owner = self.sessions.get(client).and_then(|s| s.owner.as_deref());
        users.allowed(owner, topic, Access::Read)
    }
}
