//! Limits refused with the spec's codes: sessions, retained store, queued bytes, topics.

use mqtt_codec::properties::Property;
use mqtt_codec::{Connect, Packet, PubAck, Publish, QoS, ReasonCode, Subscribe};

use super::harness::{Harness, V5, V311};
use crate::config::Limits;

#[test]
fn a_session_past_max_sessions_is_refused_with_0x97_or_0x03() {
    let mut h = Harness::with_limits(Limits {
        max_sessions: 2,
        ..Limits::default()
    });
    let mut persistent = Connect::new(V5, "offline");
    persistent.clean_start = false;
    persistent
        .properties
        .push(Property::SessionExpiryInterval(600));
    let (c, _) = h.connect_with(persistent);
    h.drop_conn(c);
    h.connect(V5, "online");
    let (_, ack) = h.connect_with(Connect::new(V5, "third"));
    assert_eq!(
        ack.code,
        ReasonCode::QUOTA_EXCEEDED,
        "offline sessions count"
    );
    let (_, ack) = h.connect_with(Connect::new(V311, "third"));
    assert_eq!(ack.code, ReasonCode::V3_SERVER_UNAVAILABLE);
    // Taking over an existing session needs no new one.
    let (_, ack) = h.connect_with(Connect::new(V5, "online"));
    assert_eq!(ack.code, ReasonCode::SUCCESS);
}

#[test]
fn a_full_retained_store_refuses_5_0_qos_1_and_delivers_3_1_1_unretained() {
    let mut h = Harness::with_limits(Limits {
        max_retained_messages: 1,
        ..Limits::default()
    });
    let watcher = h.connect(V5, "w");
    h.subscribe(watcher, "r/#", QoS::AtMostOnce);
    let p = h.connect(V5, "p5");
    let mut first = Publish::new("r/1", "kept");
    first.retain = true;
    h.send(p, first);
    h.recv_publish(watcher);
    let mut second = Publish::new("r/2", "refused");
    (second.retain, second.qos, second.packet_id) = (true, QoS::AtLeastOnce, 9);
    h.send(p, second);
    match h.recv(p) {
        Some(Packet::PubAck(a)) => assert_eq!(a.reason, ReasonCode::QUOTA_EXCEEDED),
        other => panic!("expected PUBACK 0x97, got {other:?}"),
    }
    assert!(h.recv(watcher).is_none(), "a refused PUBLISH was delivered");
    let old = h.connect(V311, "p3");
    let mut third = Publish::new("r/3", "unretained");
    third.retain = true;
    h.send(old, third);
    assert_eq!(&h.recv_publish(watcher).payload[..], b"unretained");
    // Only the first is retained.
    let late = h.connect(V5, "late");
    h.subscribe(late, "r/#", QoS::AtMostOnce);
    let got: Vec<_> = h.drain(late);
    assert_eq!(got.len(), 1);
    assert!(matches!(&got[0], Packet::Publish(p) if &p.topic[..] == "r/1"));
}

#[test]
fn queued_bytes_across_sessions_are_bounded() {
    let mut h = Harness::with_limits(Limits {
        max_queued_bytes: 100,
        ..Limits::default()
    });
    let mut sleeper = Connect::new(V5, "sleeper");
    sleeper.clean_start = false;
    sleeper
        .properties
        .push(Property::SessionExpiryInterval(600));
    let (s, _) = h.connect_with(sleeper.clone());
    h.subscribe(s, "q", QoS::AtLeastOnce);
    h.drop_conn(s);
    let p = h.connect(V5, "p");
    // 30 bytes each (topic 1 + payload 29): three fit in 100 bytes, the rest are dropped.
    for i in 1..=6 {
        let mut m = Publish::new("q", "x".repeat(29));
        (m.qos, m.packet_id) = (QoS::AtLeastOnce, i);
        h.send(p, m);
        assert!(matches!(h.recv(p), Some(Packet::PubAck(_))));
    }
    let (s, _) = h.connect_with(sleeper);
    let queued = h
        .drain(s)
        .into_iter()
        .filter(|p| matches!(p, Packet::Publish(_)))
        .count();
    assert_eq!(queued, 3);
    h.send(s, PubAck::new(1));
}

#[test]
fn filters_past_the_per_subscribe_limit_get_0x97() {
    let mut h = Harness::with_limits(Limits {
        max_filters_per_subscribe: 2,
        ..Limits::default()
    });
    let c = h.connect(V5, "c");
    let mut s = Subscribe::single(1, "a", QoS::AtMostOnce);
    let extra = s.filters[0].clone();
    for name in ["b", "c"] {
        let mut f = extra.clone();
        f.filter = name.into();
        s.filters.push(f);
    }
    h.send(c, s);
    match h.recv(c) {
        Some(Packet::SubAck(a)) => assert_eq!(
            a.codes,
            [
                ReasonCode::SUCCESS,
                ReasonCode::SUCCESS,
                ReasonCode::QUOTA_EXCEEDED
            ]
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sockets_without_connect_neither_count_as_connections_nor_lock_out_a_client() {
    let mut h = Harness::with_limits(Limits {
        max_connections: 2,
        max_pending_connections: 3,
        ..Limits::default()
    });
    let silent: Vec<_> = (0..3).map(|_| h.open(V5)).collect();
    // The pending limit is reached: a new socket closes the oldest silent one, and its
    // CONNECT is accepted although three sockets are open besides it.
    let a = h.connect(V5, "a");
    assert!(h.is_closed(silent[0]), "the oldest silent socket stayed");
    assert!(!h.is_closed(silent[1]) && !h.is_closed(silent[2]));
    // a is connected, two silent sockets wait: room for one more pending socket.
    h.connect(V311, "b");
    assert!(!h.is_closed(silent[1]) && !h.is_closed(silent[2]));
    // Connected clients are what max_connections counts: the third is refused.
    for (version, code) in [
        (V5, ReasonCode::QUOTA_EXCEEDED),
        (V311, ReasonCode::V3_SERVER_UNAVAILABLE),
    ] {
        let (c, ack) = h.connect_with(Connect::new(version, "c"));
        assert_eq!(ack.code, code);
        assert!(h.is_closed(c));
    }
    assert!(
        !h.is_closed(a),
        "a connected client was closed for a pending one"
    );
    h.drop_conn(a);
    h.connect(V5, "c");
}

#[test]
fn a_pending_connection_is_still_closed_by_the_connect_timeout() {
    let mut h = Harness::with_limits(Limits {
        max_pending_connections: 1,
        ..Limits::default()
    });
    let silent = h.open(V5);
    h.advance_secs(11);
    assert!(h.is_closed(silent));
    // Its place is free again: nothing is closed to make room for the next.
    let next = h.open(V5);
    h.advance_secs(1);
    assert!(!h.is_closed(next));
}
