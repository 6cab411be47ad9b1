//! SUBSCRIBE and UNSUBSCRIBE: per-filter checks and refusals, the subscription tree and the
//! session's copy of it, and retained messages on subscribe.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use mqtt_codec::properties::Properties;
use mqtt_codec::{
    ByteString, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, Subscription, UnsubAck,
    Unsubscribe,
};

use super::inflight::Delivery;
use super::topics::{self, SubEntry};
use super::{ConnId, Engine};

/// A subscription whose retained messages are to be sent once the SUBACK is out.
struct RetainedFor {
    filter: ByteString,
    qos: QoS,
    id: Option<u32>,
}

impl Engine {
    pub(super) fn on_subscribe(
        &mut self,
        conn: ConnId,
        client: &ByteString,
        s: Subscribe,
        now: Instant,
    ) {
        #[cfg(feature = "planted-bug")]
        crate::planted::on_subscribe(&s);
        let v5 = self.version(conn).is_v5();
        let sub_id = s.properties.subscription_identifiers().next();
        if sub_id.is_some() && !self.limits.subscription_identifiers_available {
            self.protocol_error(
                conn,
                ReasonCode::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
                "subscription identifiers not supported",
                now,
            );
            return;
        }
        let username = self.conns.get(&conn).and_then(|c| c.username.clone());
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut retained = Vec::new();
        for (index, sub) in s.filters.into_iter().enumerate() {
            match self.subscribe_one(client, username.as_deref(), index, sub, sub_id) {
                Ok((granted, send)) => {
                    codes.push(ReasonCode(granted.as_u8()));
                    retained.extend(send);
                }
                // 3.1.1 has one failure code (MQTT-3.9.3-2).
                Err(code) => codes.push(if v5 {
                    code
                } else {
                    ReasonCode::SUBACK_FAILURE_V3
                }),
            }
        }
        let ack = SubAck {
            packet_id: s.packet_id,
            properties: Properties::new(),
            codes,
        };
        self.send(conn, ack.into());
        for r in retained {
            self.send_retained(client, &r, now);
        }
    }

    /// Checks and stores one filter of a SUBSCRIBE: the granted QoS and, if retained
    /// messages are due, what to send them for; or the refusal's 5.0 reason code.
    fn subscribe_one(
        &mut self,
        client: &ByteString,
        username: Option<&str>,
        index: usize,
        sub: Subscription,
        sub_id: Option<u32>,
    ) -> Result<(QoS, Option<RetainedFor>), ReasonCode> {
        let (group, inner) = topics::split(&sub.filter);
        let l = &self.limits;
        let held = self
            .sessions
            .get(client)
            .map_or(0, |s| s.subscriptions.len());
        let replaces = self
            .sessions
            .get(client)
            .is_some_and(|s| s.subscriptions.contains_key(&sub.filter));
        if index >= l.max_filters_per_subscribe {
            self.notice
                .once("filters per SUBSCRIBE over max_filters_per_subscribe");
            return Err(ReasonCode::QUOTA_EXCEEDED);
        }
        if !l.topic_fits(&sub.filter) {
            // 0x8F: well formed, but not accepted by this server.
            self.notice
                .once("topic filter over max_topic_levels or max_topic_bytes");
            return Err(ReasonCode::TOPIC_FILTER_INVALID);
        }
        if group.is_some() && !l.shared_subscription_available {
            return Err(ReasonCode::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED);
        }
        if inner.contains(['+', '#']) && !l.wildcard_subscription_available {
            return Err(ReasonCode::WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED);
        }
        if l.users
            .as_ref()
            .is_some_and(|u| !u.may_subscribe(username, inner))
        {
            return Err(ReasonCode::NOT_AUTHORIZED);
        }
        if !replaces && held >= l.max_subscriptions_per_session {
            self.notice
                .once("subscriptions over max_subscriptions_per_session");
            return Err(ReasonCode::QUOTA_EXCEEDED);
        }
        let mut options = sub.options;
        options.qos = options.qos.min(l.max_qos);
        let entry = SubEntry {
            options,
            id: sub_id,
        };
        let existed = self.subs.insert(&sub.filter, client, entry);
        if let Some(session) = self.sessions.get_mut(client) {
            session.subscriptions.insert(sub.filter.clone(), entry);
        }
        // MQTT-3.3.1-6 / 5.0 3.8.3.1: retained messages on subscribe, per Retain Handling;
        // never for shared subscriptions.
        let send = group.is_none()
            && match options.retain_handling {
                RetainHandling::SendAtSubscribe => true,
                RetainHandling::SendIfNew => !existed,
                RetainHandling::DoNotSend => false,
            };
        let retained = send.then(|| RetainedFor {
            filter: sub.filter,
            qos: options.qos,
            id: sub_id,
        });
        Ok((options.qos, retained))
    }

    /// Streams the retained messages matching `r.filter` into the client's session, one at a
    /// time, and stops as soon as the session takes no more (its queue is full or, for QoS 0,
    /// its connection is congested): a SUBSCRIBE costs bounded memory and work whatever the
    /// store holds.
    fn send_retained(&mut self, client: &ByteString, r: &RetainedFor, now: Instant) {
        let mut store = std::mem::take(&mut self.retained);
        store.for_each_matching(&r.filter, now, |msg| {
            if !self.may_read(client, &msg.topic) {
                // The ACL is checked at delivery too, retained messages included.
                return ControlFlow::Continue(());
            }
            let d = Delivery {
                qos: msg.qos.min(r.qos),
                msg: Arc::clone(msg),
                retain: true,
                sub_ids: r.id.into_iter().collect(),
            };
            if self.deliver(client, d, now) {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        });
        self.retained = store;
    }

    pub(super) fn on_unsubscribe(&mut self, conn: ConnId, client: &ByteString, u: Unsubscribe) {
        let mut codes = Vec::with_capacity(u.filters.len());
        for filter in &u.filters {
            let removed = self.subs.remove(filter, client);
            if let Some(s) = self.sessions.get_mut(client) {
                s.subscriptions.remove(filter);
            }
            codes.push(if removed {
                ReasonCode::SUCCESS
            } else {
                ReasonCode::NO_SUBSCRIPTION_EXISTED
            });
        }
        let ack = UnsubAck {
            packet_id: u.packet_id,
            properties: Properties::new(),
            codes,
        };
        self.send(conn, ack.into());
    }
}
