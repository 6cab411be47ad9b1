//! CONNECT handling, sessions, keep alive and malformed input.

use mqtt_codec::properties::Property;
use mqtt_codec::{Connect, Disconnect, Packet, PubAck, Publish, QoS, ReasonCode};

use super::harness::{Harness, V5, V311};

#[test]
fn accepts_a_3_1_1_connect_with_connack_0() {
    let mut h = Harness::new();
    let (_, ack) = h.connect_with(Connect::new(V311, "a"));
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    assert!(!ack.session_present);
}

#[test]
fn accepts_a_3_1_connect() {
    let mut h = Harness::new();
    let (_, ack) = h.connect_with(Connect::new(mqtt_codec::ProtocolVersion::V3_1, "a"));
    assert_eq!(ack.code, ReasonCode::SUCCESS);
}

#[test]
fn answers_an_unsupported_protocol_level_with_3_1_1_connack_0x01() {
    let mut h = Harness::new();
    let c = h.open(V311);
    // CONNECT, "MQTT", level 2, clean session, keep alive 60, client id "a".
    h.send_raw(
        c,
        &[
            0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 2, 2, 0, 60, 0, 1, b'a',
        ],
    );
    match h.recv(c) {
        Some(Packet::ConnAck(ack)) => assert_eq!(ack.code, ReasonCode(0x01)),
        other => panic!("{other:?}"),
    }
    assert!(h.is_closed(c));
}

#[test]
fn answers_a_future_protocol_level_with_5_0_connack_0x84() {
    let mut h = Harness::new();
    let c = h.open(V5);
    h.send_raw(
        c,
        &[
            0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 6, 2, 0, 60, 0, 0, 1, b'a',
        ],
    );
    match h.recv(c) {
        Some(Packet::ConnAck(ack)) => {
            assert_eq!(ack.code, ReasonCode::UNSUPPORTED_PROTOCOL_VERSION)
        }
        other => panic!("{other:?}"),
    }
    assert!(h.is_closed(c));
}

#[test]
fn answers_a_malformed_5_0_connect_with_connack_carrying_the_reason_code() {
    let mut h = Harness::new();
    let c = h.open(V5);
    // Reserved connect flag bit 0 set: Malformed Packet.
    h.send_raw(
        c,
        &[
            0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 5, 3, 0, 60, 0, 0, 1, b'a',
        ],
    );
    match h.recv(c) {
        Some(Packet::ConnAck(ack)) => assert_eq!(ack.code, ReasonCode::MALFORMED_PACKET),
        other => panic!("{other:?}"),
    }
    assert!(h.is_closed(c));
}

#[test]
fn rejects_an_empty_client_id_without_clean_session_in_3_1_1() {
    let mut h = Harness::new();
    let mut connect = Connect::new(V311, "");
    connect.clean_start = false;
    let (c, ack) = h.connect_with(connect);
    assert_eq!(ack.code, ReasonCode::V3_IDENTIFIER_REJECTED);
    assert!(h.is_closed(c));
}

#[test]
fn accepts_an_empty_client_id_with_clean_session_in_3_1_1() {
    let mut h = Harness::new();
    let (_, ack) = h.connect_with(Connect::new(V311, ""));
    assert_eq!(ack.code, ReasonCode::SUCCESS);
}

#[test]
fn assigns_a_client_identifier_in_5_0() {
    let mut h = Harness::new();
    let (_, ack) = h.connect_with(Connect::new(V5, ""));
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    assert!(
        ack.properties
            .assigned_client_identifier()
            .is_some_and(|id| !id.is_empty())
    );
}

#[test]
fn takeover_sends_disconnect_0x8e_to_the_older_connection() {
    let mut h = Harness::new();
    let old = h.connect(V5, "same");
    let new = h.connect(V5, "same");
    match h.recv(old) {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::SESSION_TAKEN_OVER),
        other => panic!("{other:?}"),
    }
    assert!(h.is_closed(old));
    assert!(!h.is_closed(new));
}

#[test]
fn takeover_in_3_1_1_closes_the_older_connection() {
    let mut h = Harness::new();
    let old = h.connect(V311, "same");
    h.connect(V311, "same");
    assert!(h.is_closed(old));
    assert!(h.recv(old).is_none());
}

#[test]
fn a_second_connect_closes_the_connection() {
    let mut h = Harness::new();
    let c = h.connect(V311, "a");
    h.send(c, Connect::new(V311, "a"));
    assert!(h.is_closed(c));
}

#[test]
fn a_second_connect_in_5_0_gets_disconnect_0x82() {
    let mut h = Harness::new();
    let c = h.connect(V5, "a");
    h.send(c, Connect::new(V5, "a"));
    match h.recv(c) {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::PROTOCOL_ERROR),
        other => panic!("{other:?}"),
    }
    assert!(h.is_closed(c));
}

#[test]
fn the_first_packet_must_be_connect() {
    let mut h = Harness::new();
    let c = h.open(V311);
    h.send(c, Packet::PingReq);
    assert!(h.is_closed(c));
    assert!(h.recv(c).is_none());
}

#[test]
fn closes_a_connection_that_never_sends_connect() {
    let mut h = Harness::new();
    let c = h.open(V311);
    h.advance_secs(9);
    assert!(!h.is_closed(c));
    h.advance_secs(2);
    assert!(h.is_closed(c));
}

#[test]
fn reports_session_present_after_reconnecting_without_clean_session() {
    let mut h = Harness::new();
    let mut connect = Connect::new(V311, "p");
    connect.clean_start = false;
    let (c, ack) = h.connect_with(connect.clone());
    assert!(!ack.session_present);
    h.send(c, Disconnect::default());
    let (_, ack) = h.connect_with(connect);
    assert!(ack.session_present);
}

#[test]
fn clean_session_discards_the_previous_session() {
    let mut h = Harness::new();
    let mut connect = Connect::new(V311, "p");
    connect.clean_start = false;
    let (c, _) = h.connect_with(connect.clone());
    h.subscribe(c, "t", QoS::AtLeastOnce);
    h.send(c, Disconnect::default());
    let (c, ack) = h.connect_with(Connect::new(V311, "p"));
    assert!(!ack.session_present);
    let p = h.connect(V311, "pub");
    h.publish(p, "t", "x", QoS::AtLeastOnce);
    assert!(h.recv(c).is_none());
}

#[test]
fn a_5_0_session_expires_after_its_interval() {
    let mut h = Harness::new();
    let mut connect = Connect::new(V5, "e");
    connect.clean_start = false;
    connect.properties.push(Property::SessionExpiryInterval(10));
    let (c, _) = h.connect_with(connect.clone());
    h.drop_conn(c);
    h.advance_secs(5);
    let (c, ack) = h.connect_with(connect.clone());
    assert!(ack.session_present);
    h.drop_conn(c);
    h.advance_secs(11);
    let (_, ack) = h.connect_with(connect);
    assert!(!ack.session_present);
}

#[test]
fn a_5_0_session_with_expiry_0_ends_with_the_connection() {
    let mut h = Harness::new();
    let mut connect = Connect::new(V5, "e");
    connect.clean_start = false;
    let (c, _) = h.connect_with(connect.clone());
    h.drop_conn(c);
    let (_, ack) = h.connect_with(connect);
    assert!(!ack.session_present);
}

#[test]
fn queues_qos_1_messages_for_an_offline_session_and_delivers_them_on_reconnect() {
    let mut h = Harness::new();
    let mut connect = Connect::new(V311, "off");
    connect.clean_start = false;
    let (c, _) = h.connect_with(connect.clone());
    h.subscribe(c, "q", QoS::AtLeastOnce);
    h.drop_conn(c);
    let p = h.connect(V311, "pub");
    h.publish(p, "q", "one", QoS::AtLeastOnce);
    h.publish(p, "q", "two", QoS::ExactlyOnce);
    h.publish(p, "q", "zero", QoS::AtMostOnce);
    let (c, ack) = h.connect_with(connect);
    assert!(ack.session_present);
    let a = h.recv_publish(c);
    let b = h.recv_publish(c);
    assert_eq!((&a.payload[..], a.qos), (&b"one"[..], QoS::AtLeastOnce));
    assert_eq!((&b.payload[..], b.qos), (&b"two"[..], QoS::AtLeastOnce));
    assert!(h.recv(c).is_none());
}

#[test]
fn the_offline_queue_is_bounded() {
    let limits = crate::config::Limits {
        max_queued_messages: 2,
        ..Default::default()
    };
    let mut h = Harness::with_limits(limits);
    let mut connect = Connect::new(V311, "off");
    connect.clean_start = false;
    let (c, _) = h.connect_with(connect.clone());
    h.subscribe(c, "q", QoS::AtLeastOnce);
    h.drop_conn(c);
    let p = h.connect(V311, "pub");
    for _ in 0..5 {
        h.publish(p, "q", "m", QoS::AtLeastOnce);
    }
    let (c, _) = h.connect_with(connect);
    assert_eq!(h.drain(c).len(), 2);
}

#[test]
fn redelivers_unacknowledged_publish_with_dup_and_pubrel_in_order() {
    let mut h = Harness::new();
    let mut connect = Connect::new(V311, "r");
    connect.clean_start = false;
    let (c, _) = h.connect_with(connect.clone());
    h.subscribe(c, "t", QoS::ExactlyOnce);
    let p = h.connect(V311, "pub");
    h.publish(p, "t", "a", QoS::ExactlyOnce);
    h.publish(p, "t", "b", QoS::ExactlyOnce);
    let first = h.recv_publish(c);
    let second = h.recv_publish(c);
    h.send(c, mqtt_codec::PubRec::new(first.packet_id));
    assert!(matches!(h.recv(c), Some(Packet::PubRel(r)) if r.packet_id == first.packet_id));
    h.drop_conn(c);
    let (c, ack) = h.connect_with(connect);
    assert!(ack.session_present);
    match h.recv(c) {
        Some(Packet::PubRel(r)) => assert_eq!(r.packet_id, first.packet_id),
        other => panic!("{other:?}"),
    }
    let again = h.recv_publish(c);
    assert!(again.dup);
    assert_eq!(again.packet_id, second.packet_id);
    assert_eq!(&again.payload[..], b"b");
}

#[test]
fn keep_alive_closes_after_one_and_a_half_times_the_interval() {
    let mut h = Harness::new();
    let mut connect = Connect::new(V5, "k");
    connect.keep_alive = 10;
    let (c, _) = h.connect_with(connect);
    h.advance_secs(14);
    assert!(!h.is_closed(c));
    h.send(c, Packet::PingReq);
    assert_eq!(h.recv(c), Some(Packet::PingResp));
    h.advance_secs(14);
    assert!(!h.is_closed(c));
    h.advance_secs(2);
    assert!(h.is_closed(c));
    match h.recv(c) {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::KEEP_ALIVE_TIMEOUT),
        other => panic!("{other:?}"),
    }
}

#[test]
fn idle_connections_without_keep_alive_leave_no_timer_armed() {
    let mut h = Harness::new();
    let conns: Vec<_> = (0..1_000)
        .map(|i| {
            let mut connect = Connect::new(V311, format!("idle-{i}"));
            connect.keep_alive = 0;
            h.connect_with(connect).0
        })
        .collect();
    assert_eq!(h.engine.poll_timeout(), None);
    h.advance_secs(3600);
    assert!(conns.iter().all(|c| !h.is_closed(*c)));
}

#[test]
fn the_next_timeout_is_the_earliest_keep_alive_deadline() {
    let mut h = Harness::new();
    let start = h.now;
    for (id, keep_alive) in [("slow", 60), ("fast", 2), ("mid", 10)] {
        let mut connect = Connect::new(V5, id);
        connect.keep_alive = keep_alive;
        h.connect_with(connect);
    }
    assert_eq!(
        h.engine.poll_timeout(),
        Some(start + std::time::Duration::from_secs(3))
    );
}

#[test]
fn server_keep_alive_is_sent_when_the_broker_caps_it() {
    let limits = crate::config::Limits {
        max_keep_alive: Some(30),
        ..Default::default()
    };
    let mut h = Harness::with_limits(limits);
    let mut connect = Connect::new(V5, "k");
    connect.keep_alive = 0;
    let (c, ack) = h.connect_with(connect);
    assert_eq!(ack.properties.server_keep_alive(), Some(30));
    h.advance_secs(46);
    assert!(h.is_closed(c));
}

#[test]
fn a_decode_error_after_connect_in_5_0_gets_disconnect_with_its_reason_code() {
    let mut h = Harness::new();
    let c = h.connect(V5, "m");
    // PUBLISH with QoS 3.
    h.send_raw(c, &[0x36, 5, 0, 1, b't', 0, 1]);
    match h.recv(c) {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::MALFORMED_PACKET),
        other => panic!("{other:?}"),
    }
    assert!(h.is_closed(c));
}

#[test]
fn a_decode_error_in_3_1_1_closes_without_a_packet() {
    let mut h = Harness::new();
    let c = h.connect(V311, "m");
    h.send_raw(c, &[0x36, 5, 0, 1, b't', 0, 1]);
    assert!(h.is_closed(c));
    assert!(h.recv(c).is_none());
}

#[test]
fn a_packet_above_the_maximum_packet_size_gets_disconnect_0x95() {
    let limits = crate::config::Limits {
        max_packet_size: 64,
        ..Default::default()
    };
    let mut h = Harness::with_limits(limits);
    let (c, ack) = h.connect_with(Connect::new(V5, "big"));
    assert_eq!(ack.properties.maximum_packet_size(), Some(64));
    h.send(c, Publish::new("t", vec![0u8; 100]));
    match h.recv(c) {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::PACKET_TOO_LARGE),
        other => panic!("{other:?}"),
    }
}

#[test]
fn packets_only_a_server_sends_are_a_protocol_error() {
    let mut h = Harness::new();
    let c = h.connect(V5, "x");
    h.send(c, Packet::PingResp);
    assert!(
        matches!(h.recv(c), Some(Packet::Disconnect(d)) if d.reason == ReasonCode::PROTOCOL_ERROR)
    );
    assert!(h.is_closed(c));
}

#[test]
fn pubrel_for_an_unknown_id_gets_pubcomp_0x92_in_5_0() {
    let mut h = Harness::new();
    let c = h.connect(V5, "x");
    h.send(c, mqtt_codec::PubRel::new(9));
    match h.recv(c) {
        Some(Packet::PubComp(p)) => {
            assert_eq!(p.reason, ReasonCode::PACKET_IDENTIFIER_NOT_FOUND);
        }
        other => panic!("{other:?}"),
    }
    let _ = PubAck::new(1);
}
