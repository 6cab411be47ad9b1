//! QoS flows, retained messages, wills and topic matching.

use mqtt_codec::properties::Property;
use mqtt_codec::{
    Connect, Disconnect, Packet, PubAck, Publish, QoS, ReasonCode, Subscribe, Subscription,
    SubscriptionOptions, Will,
};

use super::harness::{Harness, V5, V311};

fn will(topic: &str) -> Will {
    Will {
        topic: topic.into(),
        payload: "gone".into(),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    }
}

#[test]
fn a_qos_1_publish_is_acknowledged_and_delivered() {
    let mut h = Harness::new();
    let s = h.connect(V311, "s");
    h.subscribe(s, "a/b", QoS::AtLeastOnce);
    let p = h.connect(V311, "p");
    h.publish(p, "a/b", "hi", QoS::AtLeastOnce);
    let got = h.recv_publish(s);
    assert_eq!(
        (got.qos, &got.payload[..], got.retain),
        (QoS::AtLeastOnce, &b"hi"[..], false)
    );
    assert_ne!(got.packet_id, 0);
}

#[test]
fn a_resent_qos_2_publish_before_pubrel_is_not_delivered_twice() {
    let mut h = Harness::new();
    let s = h.connect(V311, "s");
    h.subscribe(s, "x", QoS::ExactlyOnce);
    let p = h.connect(V311, "p");
    let mut publish = Publish::new("x", "once");
    publish.qos = QoS::ExactlyOnce;
    publish.packet_id = 10;
    h.send(p, publish.clone());
    assert!(matches!(h.recv(p), Some(Packet::PubRec(r)) if r.packet_id == 10));
    publish.dup = true;
    h.send(p, publish);
    assert!(matches!(h.recv(p), Some(Packet::PubRec(r)) if r.packet_id == 10));
    h.send(p, mqtt_codec::PubRel::new(10));
    assert!(matches!(h.recv(p), Some(Packet::PubComp(r)) if r.packet_id == 10));
    assert_eq!(h.recv_publish(s).qos, QoS::ExactlyOnce);
    assert!(h.recv(s).is_none());
}

#[test]
fn delivers_at_the_minimum_of_published_and_granted_qos() {
    let mut h = Harness::new();
    let s = h.connect(V311, "s");
    h.subscribe(s, "x", QoS::AtLeastOnce);
    let p = h.connect(V311, "p");
    h.publish(p, "x", "2", QoS::ExactlyOnce);
    h.publish(p, "x", "0", QoS::AtMostOnce);
    assert_eq!(h.recv_publish(s).qos, QoS::AtLeastOnce);
    assert_eq!(h.recv_publish(s).qos, QoS::AtMostOnce);
}

#[test]
fn the_outbound_window_respects_the_client_receive_maximum() {
    let mut h = Harness::new();
    let mut connect = Connect::new(V5, "s");
    connect.properties.push(Property::ReceiveMaximum(2));
    let (s, _) = h.connect_with(connect);
    h.subscribe(s, "x", QoS::AtLeastOnce);
    let p = h.connect(V5, "p");
    for _ in 0..4 {
        h.publish(p, "x", "m", QoS::AtLeastOnce);
    }
    let first = h.drain(s);
    assert_eq!(first.len(), 2);
    let Packet::Publish(one) = &first[0] else {
        panic!()
    };
    h.send(s, PubAck::new(one.packet_id));
    assert_eq!(h.drain(s).len(), 1);
}

fn small_outbound_buffer() -> Harness {
    Harness::with_limits(crate::config::Limits {
        max_outbound_buffer: 100,
        ..Default::default()
    })
}

#[test]
fn qos_0_messages_for_a_client_that_stops_reading_are_dropped_past_the_outbound_buffer() {
    let mut h = small_outbound_buffer();
    let sub = h.connect(V5, "slow");
    h.subscribe(sub, "t", QoS::AtMostOnce);
    let publisher = h.connect(V5, "pub");
    h.stall(sub);
    for _ in 0..50 {
        h.publish(publisher, "t", "0123456789", QoS::AtMostOnce);
    }
    // Each PUBLISH is 16 bytes: the 7th takes the unwritten bytes past 100, the rest drop.
    assert_eq!(h.drain(sub).len(), 7);
    h.resume(sub);
    h.publish(publisher, "t", "0123456789", QoS::AtMostOnce);
    assert_eq!(h.drain(sub).len(), 1);
}

#[test]
fn qos_1_messages_for_a_client_that_stops_reading_wait_in_its_queue() {
    let mut h = small_outbound_buffer();
    let sub = h.connect(V5, "slow");
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    let publisher = h.connect(V5, "pub");
    h.stall(sub);
    for _ in 0..20 {
        h.publish(publisher, "t", "0123456789", QoS::AtLeastOnce);
    }
    let first = h.drain(sub);
    assert!(first.len() < 20, "{} sent to a stalled client", first.len());
    h.resume(sub);
    let rest = h.drain(sub);
    let ids: Vec<u16> = first
        .iter()
        .chain(&rest)
        .map(|p| match p {
            Packet::Publish(p) => p.packet_id,
            other => panic!("expected PUBLISH, got {other:?}"),
        })
        .collect();
    assert_eq!(ids, (1..=20).collect::<Vec<u16>>());
}

#[test]
fn exceeding_the_inbound_receive_maximum_gets_disconnect_0x93() {
    let limits = crate::config::Limits {
        receive_maximum: 1,
        ..Default::default()
    };
    let mut h = Harness::with_limits(limits);
    let (p, ack) = h.connect_with(Connect::new(V5, "p"));
    assert_eq!(ack.properties.receive_maximum(), Some(1));
    for id in [1, 2] {
        let mut publish = Publish::new("x", "m");
        publish.qos = QoS::ExactlyOnce;
        publish.packet_id = id;
        h.send(p, publish);
    }
    assert!(matches!(h.recv(p), Some(Packet::PubRec(_))));
    assert!(
        matches!(h.recv(p), Some(Packet::Disconnect(d)) if d.reason == ReasonCode::RECEIVE_MAXIMUM_EXCEEDED)
    );
}

#[test]
fn packet_ids_of_outbound_messages_are_unique_while_in_flight() {
    let mut h = Harness::new();
    let s = h.connect(V311, "s");
    h.subscribe(s, "x", QoS::AtLeastOnce);
    let p = h.connect(V311, "p");
    for _ in 0..10 {
        h.publish(p, "x", "m", QoS::AtLeastOnce);
    }
    let mut ids: Vec<u16> = h
        .drain(s)
        .into_iter()
        .map(|p| match p {
            Packet::Publish(p) => p.packet_id,
            _ => 0,
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10);
}

#[test]
fn messages_on_one_topic_keep_their_order() {
    let mut h = Harness::new();
    let s = h.connect(V311, "s");
    h.subscribe(s, "o", QoS::ExactlyOnce);
    let p = h.connect(V311, "p");
    for (payload, qos) in [
        ("1", QoS::AtLeastOnce),
        ("2", QoS::ExactlyOnce),
        ("3", QoS::AtLeastOnce),
    ] {
        h.publish(p, "o", payload, qos);
    }
    let payloads: Vec<_> = (0..3).map(|_| h.recv_publish(s).payload).collect();
    assert_eq!(payloads, ["1", "2", "3"]);
}

#[test]
fn a_retained_message_is_delivered_on_subscribe_with_retain_set() {
    let mut h = Harness::new();
    let p = h.connect(V311, "p");
    let mut publish = Publish::new("r/a", "kept");
    publish.retain = true;
    h.send(p, publish);
    let s = h.connect(V311, "s");
    h.subscribe(s, "r/+", QoS::AtLeastOnce);
    let got = h.recv_publish(s);
    assert!(got.retain);
    assert_eq!(&got.payload[..], b"kept");
}

#[test]
fn a_newer_retained_message_replaces_the_old_and_an_empty_one_clears_it() {
    let mut h = Harness::new();
    let p = h.connect(V311, "p");
    for payload in ["old", "new"] {
        let mut publish = Publish::new("r", payload);
        publish.retain = true;
        h.send(p, publish);
    }
    let s = h.connect(V311, "s");
    h.subscribe(s, "r", QoS::AtMostOnce);
    assert_eq!(&h.recv_publish(s).payload[..], b"new");
    let mut clear = Publish::new("r", "");
    clear.retain = true;
    h.send(p, clear);
    let _ = h.drain(s);
    let s2 = h.connect(V311, "s2");
    h.subscribe(s2, "r", QoS::AtMostOnce);
    assert!(h.recv(s2).is_none());
}

#[test]
fn live_forwarding_clears_retain_unless_retain_as_published() {
    let mut h = Harness::new();
    let plain = h.connect(V5, "plain");
    h.subscribe(plain, "r", QoS::AtMostOnce);
    let rap = h.connect(V5, "rap");
    let mut sub = Subscribe::single(1, "r", QoS::AtMostOnce);
    sub.filters[0].options.retain_as_published = true;
    h.send(rap, sub);
    let _ = h.drain(rap);
    let p = h.connect(V5, "p");
    let mut publish = Publish::new("r", "x");
    publish.retain = true;
    h.send(p, publish);
    assert!(!h.recv_publish(plain).retain);
    assert!(h.recv_publish(rap).retain);
}

#[test]
fn the_will_is_published_on_an_abnormal_close() {
    let mut h = Harness::new();
    let s = h.connect(V311, "s");
    h.subscribe(s, "w", QoS::AtLeastOnce);
    let mut connect = Connect::new(V311, "dying");
    connect.will = Some(will("w"));
    let (c, _) = h.connect_with(connect);
    h.drop_conn(c);
    let got = h.recv_publish(s);
    assert_eq!(
        (&got.payload[..], got.qos),
        (&b"gone"[..], QoS::AtLeastOnce)
    );
}

#[test]
fn the_will_is_not_published_after_a_normal_disconnect() {
    let mut h = Harness::new();
    let s = h.connect(V311, "s");
    h.subscribe(s, "w", QoS::AtLeastOnce);
    let mut connect = Connect::new(V311, "leaving");
    connect.will = Some(will("w"));
    let (c, _) = h.connect_with(connect);
    h.send(c, Disconnect::default());
    assert!(h.is_closed(c));
    assert!(h.recv(s).is_none());
}

#[test]
fn the_will_is_published_when_keep_alive_expires() {
    let mut h = Harness::new();
    let s = h.connect(V311, "s");
    h.subscribe(s, "w", QoS::AtLeastOnce);
    let mut connect = Connect::new(V311, "silent");
    connect.keep_alive = 2;
    connect.will = Some(will("w"));
    h.connect_with(connect);
    h.advance_secs(2);
    assert!(h.recv(s).is_none());
    h.advance_secs(2);
    assert_eq!(&h.recv_publish(s).payload[..], b"gone");
}

#[test]
fn a_retained_will_is_stored() {
    let mut h = Harness::new();
    let mut connect = Connect::new(V311, "dying");
    let mut w = will("w");
    w.retain = true;
    connect.will = Some(w);
    let (c, _) = h.connect_with(connect);
    h.drop_conn(c);
    let s = h.connect(V311, "s");
    h.subscribe(s, "w", QoS::AtLeastOnce);
    assert!(h.recv_publish(s).retain);
}

#[test]
fn the_will_delay_interval_postpones_the_will_and_a_reconnect_cancels_it() {
    let mut h = Harness::new();
    let s = h.connect(V5, "s");
    h.subscribe(s, "w", QoS::AtLeastOnce);
    let mut connect = Connect::new(V5, "delayed");
    connect.clean_start = false;
    connect
        .properties
        .push(Property::SessionExpiryInterval(100));
    let mut w = will("w");
    w.properties.push(Property::WillDelayInterval(10));
    connect.will = Some(w);
    let (c, _) = h.connect_with(connect.clone());
    h.drop_conn(c);
    h.advance_secs(5);
    assert!(h.recv(s).is_none());
    let (c, _) = h.connect_with(connect);
    h.advance_secs(20);
    assert!(h.recv(s).is_none());
    h.drop_conn(c);
    h.advance_secs(9);
    assert!(h.recv(s).is_none());
    h.advance_secs(1);
    assert_eq!(&h.recv_publish(s).payload[..], b"gone");
}

#[test]
fn the_will_is_published_when_the_session_ends_before_the_will_delay() {
    let mut h = Harness::new();
    let s = h.connect(V5, "s");
    h.subscribe(s, "w", QoS::AtLeastOnce);
    let mut connect = Connect::new(V5, "short");
    connect.properties.push(Property::SessionExpiryInterval(3));
    let mut w = will("w");
    w.properties.push(Property::WillDelayInterval(60));
    connect.will = Some(w);
    let (c, _) = h.connect_with(connect);
    h.drop_conn(c);
    h.advance_secs(2);
    assert!(h.recv(s).is_none());
    h.advance_secs(1);
    assert_eq!(&h.recv_publish(s).payload[..], b"gone");
}

#[test]
fn disconnect_0x04_publishes_the_will() {
    let mut h = Harness::new();
    let s = h.connect(V5, "s");
    h.subscribe(s, "w", QoS::AtLeastOnce);
    let mut connect = Connect::new(V5, "bye");
    connect.will = Some(will("w"));
    let (c, _) = h.connect_with(connect);
    h.send(c, Disconnect::new(ReasonCode::DISCONNECT_WITH_WILL_MESSAGE));
    assert_eq!(&h.recv_publish(s).payload[..], b"gone");
}

#[test]
fn dollar_topics_are_not_matched_by_leading_wildcards() {
    let mut h = Harness::new();
    let s = h.connect(V311, "s");
    h.subscribe(s, "#", QoS::AtMostOnce);
    h.subscribe(s, "+/info", QoS::AtMostOnce);
    let sys = h.connect(V311, "sys");
    h.subscribe(sys, "$SYS/#", QoS::AtMostOnce);
    let p = h.connect(V311, "p");
    h.publish(p, "$SYS/info", "x", QoS::AtMostOnce);
    assert!(h.recv(s).is_none());
    assert_eq!(h.recv_publish(sys).topic, "$SYS/info");
}

#[test]
fn hash_matches_the_parent_level_and_matching_is_case_sensitive() {
    let mut h = Harness::new();
    let s = h.connect(V311, "s");
    h.subscribe(s, "sport/#", QoS::AtMostOnce);
    let p = h.connect(V311, "p");
    h.publish(p, "sport", "parent", QoS::AtMostOnce);
    h.publish(p, "Sport/x", "case", QoS::AtMostOnce);
    assert_eq!(&h.recv_publish(s).payload[..], b"parent");
    assert!(h.recv(s).is_none());
}

#[test]
fn overlapping_subscriptions_deliver_once_at_the_highest_qos_with_every_identifier() {
    let mut h = Harness::new();
    let s = h.connect(V5, "s");
    for (id, filter, qos) in [(1, "a/+", QoS::AtMostOnce), (2, "a/#", QoS::AtLeastOnce)] {
        let mut sub = Subscribe::single(id, filter, qos);
        sub.properties
            .push(Property::SubscriptionIdentifier(u32::from(id)));
        h.send(s, sub);
    }
    let _ = h.drain(s);
    let p = h.connect(V5, "p");
    h.publish(p, "a/b", "x", QoS::AtLeastOnce);
    let got = h.recv_publish(s);
    assert_eq!(got.qos, QoS::AtLeastOnce);
    let mut ids: Vec<u32> = got.properties.subscription_identifiers().collect();
    ids.sort();
    assert_eq!(ids, [1, 2]);
    assert!(h.recv(s).is_none());
}

#[test]
fn unsubscribe_stops_delivery_and_reports_missing_subscriptions() {
    let mut h = Harness::new();
    let s = h.connect(V5, "s");
    h.subscribe(s, "u", QoS::AtMostOnce);
    h.send(
        s,
        mqtt_codec::Unsubscribe {
            packet_id: 3,
            properties: Default::default(),
            filters: vec!["u".into(), "none".into()],
        },
    );
    match h.recv(s) {
        Some(Packet::UnsubAck(a)) => {
            assert_eq!(
                a.codes,
                [ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED]
            );
        }
        other => panic!("{other:?}"),
    }
    let p = h.connect(V5, "p");
    h.publish(p, "u", "x", QoS::AtMostOnce);
    assert!(h.recv(s).is_none());
}

#[test]
fn a_subscribe_with_several_filters_gets_one_code_each() {
    let mut h = Harness::new();
    let s = h.connect(V311, "s");
    let sub = Subscribe {
        packet_id: 4,
        properties: Default::default(),
        filters: vec![
            Subscription {
                filter: "a".into(),
                options: SubscriptionOptions::qos(QoS::ExactlyOnce),
            },
            Subscription {
                filter: "b".into(),
                options: SubscriptionOptions::qos(QoS::AtMostOnce),
            },
        ],
    };
    h.send(s, sub);
    match h.recv(s) {
        Some(Packet::SubAck(a)) => assert_eq!(a.codes, [ReasonCode(2), ReasonCode(0)]),
        other => panic!("{other:?}"),
    }
}
