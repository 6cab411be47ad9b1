//! Spec rules the engine once missed, each on the virtual clock.

use mqtt_codec::properties::Property;
use mqtt_codec::{Connect, Disconnect, Packet, PubAck, Publish, QoS, ReasonCode, Subscribe, Will};

use super::harness::{Harness, V5, V311};
use crate::config::Limits;

/// A 5.0 CONNECT resuming (or starting) a session that lives `expiry` seconds.
fn persistent(id: &str, expiry: u32) -> Connect {
    let mut c = Connect::new(V5, id);
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(expiry));
    c
}

fn publish_qos1(h: &mut Harness, c: crate::ConnId, topic: &str, payload: &'static str, id: u16) {
    let mut p = Publish::new(topic, payload);
    (p.qos, p.packet_id) = (QoS::AtLeastOnce, id);
    h.send(c, p);
    assert!(matches!(h.recv(c), Some(Packet::PubAck(_))));
}

fn publishes(h: &mut Harness, c: crate::ConnId) -> Vec<Publish> {
    h.drain(c)
        .into_iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(p),
            _ => None,
        })
        .collect()
}

#[test]
fn a_disconnect_session_expiry_is_clamped_to_the_configured_maximum() {
    let mut h = Harness::with_limits(Limits {
        max_session_expiry_interval: Some(60),
        ..Limits::default()
    });
    let (c, _) = h.connect_with(persistent("c", 10));
    let mut d = Disconnect::new(ReasonCode::SUCCESS);
    d.properties.push(Property::SessionExpiryInterval(100_000));
    h.send(c, d);
    h.advance_secs(61);
    let (_, ack) = h.connect_with(persistent("c", 10));
    assert!(!ack.session_present, "the session outlived the maximum");
}

#[test]
fn redelivery_honours_a_smaller_receive_maximum_on_reconnect() {
    let mut h = Harness::new();
    let (s, _) = h.connect_with(persistent("s", 600));
    h.subscribe(s, "t", QoS::AtLeastOnce);
    let p = h.connect(V5, "p");
    for i in 1..=5 {
        publish_qos1(&mut h, p, "t", "m", i);
    }
    assert_eq!(publishes(&mut h, s).len(), 5);
    h.drop_conn(s);
    let mut again = persistent("s", 600);
    again.properties.push(Property::ReceiveMaximum(2));
    let (s, ack) = h.connect_with(again);
    assert!(ack.session_present);
    let resent = publishes(&mut h, s);
    assert_eq!(
        resent.len(),
        2,
        "MQTT-3.3.4-7: more than Receive Maximum resent"
    );
    assert!(resent.iter().all(|p| p.dup));
    h.send(s, PubAck::new(resent[0].packet_id));
    let next = publishes(&mut h, s);
    assert_eq!(next.len(), 1, "an acknowledgement makes room for one more");
}

#[test]
fn an_in_flight_message_over_the_new_maximum_packet_size_is_discarded_not_stuck() {
    let mut h = Harness::new();
    let (s, _) = h.connect_with(persistent("s", 600));
    h.subscribe(s, "t", QoS::AtLeastOnce);
    let p = h.connect(V5, "p");
    publish_qos1(
        &mut h,
        p,
        "t",
        "a payload far longer than the new maximum allows",
        1,
    );
    assert_eq!(publishes(&mut h, s).len(), 1);
    h.drop_conn(s);
    let mut again = persistent("s", 600);
    again.properties.push(Property::ReceiveMaximum(1));
    again.properties.push(Property::MaximumPacketSize(30));
    let (s, _) = h.connect_with(again);
    assert!(publishes(&mut h, s).is_empty());
    // The window of one is free: the old message did not stay in flight.
    publish_qos1(&mut h, p, "t", "small", 2);
    let got = publishes(&mut h, s);
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[..], b"small");
}

#[test]
fn a_delayed_will_expiry_counts_from_its_publication() {
    let mut h = Harness::new();
    let watcher = h.connect(V5, "w");
    h.subscribe(watcher, "will", QoS::AtMostOnce);
    let mut connect = persistent("dying", 600);
    let mut will = Will {
        topic: "will".into(),
        payload: "gone".into(),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Default::default(),
    };
    will.properties.push(Property::WillDelayInterval(10));
    will.properties.push(Property::MessageExpiryInterval(5));
    connect.will = Some(will);
    let (c, _) = h.connect_with(connect);
    h.drop_conn(c);
    h.advance_secs(10);
    let got = publishes(&mut h, watcher);
    assert_eq!(got.len(), 1, "the will expired before it was published");
    assert_eq!(got[0].properties.message_expiry_interval(), Some(5));
}

#[test]
fn a_will_above_maximum_qos_or_retained_without_retain_is_refused() {
    let mut h = Harness::with_limits(Limits {
        max_qos: QoS::AtLeastOnce,
        retain_available: false,
        ..Limits::default()
    });
    for (qos, retain, code) in [
        (QoS::ExactlyOnce, false, ReasonCode::QOS_NOT_SUPPORTED),
        (QoS::AtMostOnce, true, ReasonCode::RETAIN_NOT_SUPPORTED),
    ] {
        let mut connect = Connect::new(V5, "w");
        connect.will = Some(Will {
            topic: "t".into(),
            payload: "x".into(),
            qos,
            retain,
            properties: Default::default(),
        });
        let (c, ack) = h.connect_with(connect);
        // MQTT-3.2.2-12 and MQTT-3.2.2-13.
        assert_eq!(ack.code, code);
        assert!(h.is_closed(c));
    }
}

#[test]
fn a_3_1_1_persistent_session_expires_when_configured() {
    let mut h = Harness::with_limits(Limits {
        v3_session_expiry_interval: Some(30),
        ..Limits::default()
    });
    let mut connect = Connect::new(V311, "old");
    connect.clean_start = false;
    let (c, _) = h.connect_with(connect.clone());
    h.send(c, Subscribe::single(1, "t", QoS::AtLeastOnce));
    h.drop_conn(c);
    h.advance_secs(29);
    let (c, ack) = h.connect_with(connect.clone());
    assert!(ack.session_present);
    h.drop_conn(c);
    h.advance_secs(31);
    let (_, ack) = h.connect_with(connect);
    assert!(!ack.session_present, "the 3.1.1 session never expired");
}
