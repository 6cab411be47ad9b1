//! MQTT 5 features: properties, expiry, aliases, subscription options, shared subscriptions,
//! packet size limits, enhanced authentication, users and ACLs.

use bytes::Bytes;
use mqtt_codec::properties::Property;
use mqtt_codec::{Auth, Connect, Packet, Publish, QoS, ReasonCode, RetainHandling, Subscribe};

use super::harness::{Harness, V5, V311};
use crate::config::Limits;
use crate::engine::auth::{Access, Users};

#[test]
fn user_properties_and_message_properties_are_forwarded_in_order() {
    let mut h = Harness::new();
    let s = h.connect(V5, "s");
    h.subscribe(s, "t", QoS::AtMostOnce);
    let p = h.connect(V5, "p");
    let mut publish = Publish::new("t", "{}");
    for prop in [
        Property::UserProperty("k".into(), "1".into()),
        Property::PayloadFormatIndicator(1),
        Property::ContentType("application/json".into()),
        Property::UserProperty("k".into(), "2".into()),
        Property::ResponseTopic("reply/here".into()),
        Property::CorrelationData(Bytes::from_static(b"corr")),
        Property::UserProperty("a".into(), "3".into()),
    ] {
        publish.properties.push(prop);
    }
    h.send(p, publish.clone());
    let got = h.recv_publish(s);
    assert_eq!(got.properties, publish.properties);
}

#[test]
fn an_expired_message_is_dropped_and_a_waiting_one_gets_the_remaining_interval() {
    let mut h = Harness::new();
    let mut connect = Connect::new(V5, "s");
    connect.clean_start = false;
    connect
        .properties
        .push(Property::SessionExpiryInterval(1000));
    let (s, _) = h.connect_with(connect.clone());
    h.subscribe(s, "t", QoS::AtLeastOnce);
    h.drop_conn(s);
    let p = h.connect(V5, "p");
    for (payload, secs) in [("short", 5), ("long", 60)] {
        let mut publish = Publish::new("t", payload);
        publish.qos = QoS::AtLeastOnce;
        publish.packet_id = 1;
        publish
            .properties
            .push(Property::MessageExpiryInterval(secs));
        h.send(p, publish);
    }
    h.advance_secs(10);
    let (s, _) = h.connect_with(connect);
    let got = h.recv_publish(s);
    assert_eq!(&got.payload[..], b"long");
    assert_eq!(got.properties.message_expiry_interval(), Some(50));
    assert!(h.recv(s).is_none());
}

/// A persistent 5.0 subscriber to `t` at QoS 1, offline; its CONNECT, to come back with.
fn offline_subscriber(h: &mut Harness) -> Connect {
    let mut connect = Connect::new(V5, "s");
    connect.clean_start = false;
    connect
        .properties
        .push(Property::SessionExpiryInterval(1000));
    let (s, _) = h.connect_with(connect.clone());
    h.subscribe(s, "t", QoS::AtLeastOnce);
    h.drop_conn(s);
    connect
}

/// Publishes `payload` to `t` at QoS 1 with Message Expiry Interval `secs`.
fn publish_expiring(h: &mut Harness, p: crate::ConnId, payload: &'static str, secs: u32) {
    let mut publish = Publish::new("t", payload);
    publish.qos = QoS::AtLeastOnce;
    publish.packet_id = 1;
    publish
        .properties
        .push(Property::MessageExpiryInterval(secs));
    h.send(p, publish);
}

#[test]
fn a_forwarded_expiry_interval_is_the_whole_seconds_left_never_more() {
    // MQTT-3.3.2-6: received value minus the time waited. After 2.6 s, 10 leaves 7.4 s (7,
    // not 8) and 3 leaves 0.4 s: not expired, so delivered (MQTT-3.3.2-5), carrying 0.
    let mut h = Harness::new();
    let connect = offline_subscriber(&mut h);
    let p = h.connect(V5, "p");
    publish_expiring(&mut h, p, "ten", 10);
    publish_expiring(&mut h, p, "three", 3);
    h.advance(std::time::Duration::from_millis(2600));
    let (s, _) = h.connect_with(connect);
    let got: Vec<_> = (0..2).map(|_| h.recv_publish(s)).collect();
    let expiry = |p: &Publish| (p.payload.clone(), p.properties.message_expiry_interval());
    assert_eq!(
        got.iter().map(expiry).collect::<Vec<_>>(),
        [
            (Bytes::from_static(b"ten"), Some(7)),
            (Bytes::from_static(b"three"), Some(0)),
        ]
    );
}

#[test]
fn a_resent_message_whose_interval_passed_carries_0() {
    // Delivered once and left unacknowledged: onward delivery started, so it is resent on
    // resumption (MQTT-4.4.0-1) although its second ran out; no lifetime is left to send.
    let mut h = Harness::new();
    let mut connect = Connect::new(V5, "s");
    connect.clean_start = false;
    connect
        .properties
        .push(Property::SessionExpiryInterval(1000));
    let (s, _) = h.connect_with(connect.clone());
    h.subscribe(s, "t", QoS::AtLeastOnce);
    let p = h.connect(V5, "p");
    publish_expiring(&mut h, p, "brief", 1);
    let first = h.recv_publish(s);
    assert_eq!(first.properties.message_expiry_interval(), Some(1));
    h.drop_conn(s);
    h.advance_secs(2);
    let (s, _) = h.connect_with(connect);
    let again = h.recv_publish(s);
    assert!(again.dup);
    assert_eq!(again.properties.message_expiry_interval(), Some(0));
}

#[test]
fn an_inbound_topic_alias_is_resolved() {
    let mut h = Harness::new();
    let s = h.connect(V5, "s");
    h.subscribe(s, "long/topic", QoS::AtMostOnce);
    let p = h.connect(V5, "p");
    let mut first = Publish::new("long/topic", "1");
    first.properties.push(Property::TopicAlias(3));
    h.send(p, first);
    let mut second = Publish::new("", "2");
    second.properties.push(Property::TopicAlias(3));
    h.send(p, second);
    for payload in ["1", "2"] {
        let got = h.recv_publish(s);
        assert_eq!(
            (got.topic.as_ref(), &got.payload[..]),
            ("long/topic", payload.as_bytes())
        );
        assert!(got.properties.topic_alias().is_none());
    }
}

#[test]
fn a_topic_alias_above_the_maximum_gets_disconnect_0x94() {
    let mut h = Harness::new();
    let (p, ack) = h.connect_with(Connect::new(V5, "p"));
    assert_eq!(ack.properties.topic_alias_maximum(), Some(10));
    let mut publish = Publish::new("t", "x");
    publish.properties.push(Property::TopicAlias(11));
    h.send(p, publish);
    assert!(
        matches!(h.recv(p), Some(Packet::Disconnect(d)) if d.reason == ReasonCode::TOPIC_ALIAS_INVALID)
    );
    assert!(h.is_closed(p));
}

#[test]
fn an_unknown_topic_alias_is_a_protocol_error() {
    let mut h = Harness::new();
    let p = h.connect(V5, "p");
    let mut publish = Publish::new("", "x");
    publish.properties.push(Property::TopicAlias(2));
    h.send(p, publish);
    assert!(
        matches!(h.recv(p), Some(Packet::Disconnect(d)) if d.reason == ReasonCode::PROTOCOL_ERROR)
    );
}

#[test]
fn no_local_suppresses_the_clients_own_messages() {
    let mut h = Harness::new();
    let c = h.connect(V5, "c");
    let mut sub = Subscribe::single(1, "t", QoS::AtMostOnce);
    sub.filters[0].options.no_local = true;
    h.send(c, sub);
    let _ = h.drain(c);
    h.publish(c, "t", "mine", QoS::AtMostOnce);
    assert!(h.recv(c).is_none());
    let other = h.connect(V5, "o");
    h.publish(other, "t", "theirs", QoS::AtMostOnce);
    assert_eq!(&h.recv_publish(c).payload[..], b"theirs");
}

#[test]
fn retain_handling_1_sends_retained_only_for_a_new_subscription_and_2_never() {
    let mut h = Harness::new();
    let p = h.connect(V5, "p");
    let mut publish = Publish::new("r", "kept");
    publish.retain = true;
    h.send(p, publish);
    let s = h.connect(V5, "s");
    for (expected, handling) in [
        (1, RetainHandling::SendIfNew),
        (0, RetainHandling::SendIfNew),
    ] {
        let mut sub = Subscribe::single(1, "r", QoS::AtMostOnce);
        sub.filters[0].options.retain_handling = handling;
        h.send(s, sub);
        let publishes = h
            .drain(s)
            .into_iter()
            .filter(|p| matches!(p, Packet::Publish(_)))
            .count();
        assert_eq!(publishes, expected);
    }
    let s2 = h.connect(V5, "s2");
    let mut sub = Subscribe::single(1, "r", QoS::AtMostOnce);
    sub.filters[0].options.retain_handling = RetainHandling::DoNotSend;
    h.send(s2, sub);
    assert_eq!(h.drain(s2).len(), 1);
}

#[test]
fn a_shared_subscription_delivers_each_message_to_one_member() {
    let mut h = Harness::new();
    let a = h.connect(V5, "a");
    let b = h.connect(V5, "b");
    h.subscribe(a, "$share/g/job", QoS::AtMostOnce);
    h.subscribe(b, "$share/g/job", QoS::AtMostOnce);
    let p = h.connect(V5, "p");
    for _ in 0..4 {
        h.publish(p, "job", "x", QoS::AtMostOnce);
    }
    let (na, nb) = (h.drain(a).len(), h.drain(b).len());
    assert_eq!(na + nb, 4);
    assert!(na > 0 && nb > 0);
}

#[test]
fn shared_subscriptions_work_in_3_1_1_too() {
    let mut h = Harness::new();
    let a = h.connect(V311, "a");
    h.subscribe(a, "$share/g/job", QoS::AtMostOnce);
    let p = h.connect(V311, "p");
    h.publish(p, "job", "x", QoS::AtMostOnce);
    assert_eq!(h.drain(a).len(), 1);
}

#[test]
fn an_outbound_publish_above_the_client_maximum_packet_size_is_dropped_for_that_client() {
    let mut h = Harness::new();
    let mut connect = Connect::new(V5, "small");
    connect.properties.push(Property::MaximumPacketSize(30));
    let (small, _) = h.connect_with(connect);
    h.subscribe(small, "t", QoS::AtLeastOnce);
    let big = h.connect(V5, "big");
    h.subscribe(big, "t", QoS::AtLeastOnce);
    let p = h.connect(V5, "p");
    h.publish(
        p,
        "t",
        "this payload is far too long for thirty bytes",
        QoS::AtLeastOnce,
    );
    h.publish(p, "t", "ok", QoS::AtLeastOnce);
    assert_eq!(&h.recv_publish(small).payload[..], b"ok");
    assert_eq!(h.drain(big).len(), 2);
}

#[test]
fn request_response_information_returns_response_information() {
    let mut h = Harness::new();
    let mut connect = Connect::new(V5, "rr");
    connect
        .properties
        .push(Property::RequestResponseInformation(1));
    let (_, ack) = h.connect_with(connect);
    assert_eq!(
        ack.properties.response_information().as_deref(),
        Some("response/rr")
    );
    let (_, ack) = h.connect_with(Connect::new(V5, "plain"));
    assert!(ack.properties.response_information().is_none());
}

#[test]
fn request_problem_information_0_suppresses_reason_strings_on_acks() {
    let mut users = Users::default();
    users.add_with_iterations("u", b"pw", 1000);
    users.allow("u", "ok", Access::Write);
    let limits = Limits {
        users: Some(users),
        ..Default::default()
    };
    let mut h = Harness::with_limits(limits);
    for (rpi, expect_reason) in [(0u8, false), (1, true)] {
        let mut connect = Connect::new(V5, "c");
        connect.username = Some("u".into());
        connect.password = Some(Bytes::from_static(b"pw"));
        connect
            .properties
            .push(Property::RequestProblemInformation(rpi));
        let (c, _) = h.connect_with(connect);
        let mut publish = Publish::new("denied", "x");
        publish.qos = QoS::AtLeastOnce;
        publish.packet_id = 5;
        h.send(c, publish);
        match h.recv(c) {
            Some(Packet::PubAck(a)) => {
                assert_eq!(a.reason, ReasonCode::NOT_AUTHORIZED);
                assert_eq!(a.properties.reason_string().is_some(), expect_reason);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_challenge_authentication_method_runs_an_auth_exchange() {
    let mut h = Harness::new();
    let c = h.open(V5);
    let mut connect = Connect::new(V5, "auth");
    connect
        .properties
        .push(Property::AuthenticationMethod("challenge".into()));
    h.send(c, connect);
    match h.recv(c) {
        Some(Packet::Auth(a)) => {
            assert_eq!(a.reason, ReasonCode::CONTINUE_AUTHENTICATION);
            assert_eq!(
                a.properties.authentication_data().as_deref(),
                Some(&b"ping"[..])
            );
        }
        other => panic!("{other:?}"),
    }
    let reply = Auth {
        reason: ReasonCode::CONTINUE_AUTHENTICATION,
        properties: [
            Property::AuthenticationMethod("challenge".into()),
            Property::AuthenticationData(Bytes::from_static(b"pong")),
        ]
        .into_iter()
        .collect(),
    };
    h.send(c, reply);
    match h.recv(c) {
        Some(Packet::ConnAck(a)) => assert_eq!(a.code, ReasonCode::SUCCESS),
        other => panic!("{other:?}"),
    }
    // Re-authentication (4.12.1) starts the same challenge.
    let reauth = Auth {
        reason: ReasonCode::RE_AUTHENTICATE,
        properties: [Property::AuthenticationMethod("challenge".into())]
            .into_iter()
            .collect(),
    };
    h.send(c, reauth);
    match h.recv(c) {
        Some(Packet::Auth(a)) => assert_eq!(a.reason, ReasonCode::CONTINUE_AUTHENTICATION),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_auth_from_a_client_that_connected_without_a_method_gets_disconnect_0x82() {
    let mut h = Harness::new();
    let c = h.connect(V5, "plain");
    let reauth = Auth {
        reason: ReasonCode::RE_AUTHENTICATE,
        properties: [Property::AuthenticationMethod("challenge".into())]
            .into_iter()
            .collect(),
    };
    h.send(c, reauth);
    // MQTT-4.12.0-6: no AUTH to a client whose CONNECT had no Authentication Method.
    match h.recv(c) {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::PROTOCOL_ERROR),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    assert!(h.is_closed(c));
}

#[test]
fn a_wrong_challenge_answer_gets_connack_0x87_and_an_unknown_method_0x8c() {
    let mut h = Harness::new();
    let c = h.open(V5);
    let mut connect = Connect::new(V5, "auth");
    connect
        .properties
        .push(Property::AuthenticationMethod("challenge".into()));
    h.send(c, connect);
    let _ = h.recv(c);
    let reply = Auth {
        reason: ReasonCode::CONTINUE_AUTHENTICATION,
        properties: [
            Property::AuthenticationMethod("challenge".into()),
            Property::AuthenticationData(Bytes::from_static(b"wrong")),
        ]
        .into_iter()
        .collect(),
    };
    h.send(c, reply);
    assert!(matches!(h.recv(c), Some(Packet::ConnAck(a)) if a.code == ReasonCode::NOT_AUTHORIZED));
    let mut connect = Connect::new(V5, "auth2");
    connect
        .properties
        .push(Property::AuthenticationMethod("kerberos".into()));
    let (_, ack) = h.connect_with(connect);
    assert_eq!(ack.code, ReasonCode::BAD_AUTHENTICATION_METHOD);
}

fn users_limits() -> Limits {
    let mut users = Users::default();
    users.add_with_iterations("alice", b"secret", 1000);
    users.allow("alice", "alice/#", Access::Read);
    users.allow("alice", "alice/#", Access::Write);
    Limits {
        users: Some(users),
        ..Default::default()
    }
}

fn login(version: mqtt_codec::ProtocolVersion, password: &'static [u8]) -> Connect {
    let mut connect = Connect::new(version, "alice");
    connect.username = Some("alice".into());
    connect.password = Some(Bytes::from_static(password));
    connect
}

#[test]
fn a_wrong_password_gets_connack_0x86_in_5_0_and_0x04_in_3_1_1() {
    let mut h = Harness::with_limits(users_limits());
    let (_, ack) = h.connect_with(login(V5, b"nope"));
    assert_eq!(ack.code, ReasonCode::BAD_USER_NAME_OR_PASSWORD);
    let (_, ack) = h.connect_with(login(V311, b"nope"));
    assert_eq!(ack.code, ReasonCode::V3_BAD_USER_NAME_OR_PASSWORD);
    let (_, ack) = h.connect_with(login(V311, b"secret"));
    assert_eq!(ack.code, ReasonCode::SUCCESS);
}

#[test]
fn an_anonymous_client_gets_connack_0x87_in_5_0_and_0x05_in_3_1_1() {
    let mut h = Harness::with_limits(users_limits());
    let (_, ack) = h.connect_with(Connect::new(V5, "anon"));
    assert_eq!(ack.code, ReasonCode::NOT_AUTHORIZED);
    let (_, ack) = h.connect_with(Connect::new(V311, "anon"));
    assert_eq!(ack.code, ReasonCode::V3_NOT_AUTHORIZED);
}

#[test]
fn the_acl_refuses_subscribe_with_0x87_in_5_0_and_0x80_in_3_1_1() {
    let mut h = Harness::with_limits(users_limits());
    for (version, code) in [(V5, ReasonCode::NOT_AUTHORIZED), (V311, ReasonCode(0x80))] {
        let (c, _) = h.connect_with(login(version, b"secret"));
        h.send(c, Subscribe::single(1, "bob/x", QoS::AtMostOnce));
        assert!(matches!(h.recv(c), Some(Packet::SubAck(a)) if a.codes == [code]));
        h.subscribe(c, "alice/x", QoS::AtMostOnce);
    }
}

#[test]
fn the_acl_refuses_publish_with_puback_0x87_in_5_0() {
    let mut h = Harness::with_limits(users_limits());
    let (c, _) = h.connect_with(login(V5, b"secret"));
    h.subscribe(c, "alice/#", QoS::AtMostOnce);
    let mut publish = Publish::new("bob/x", "x");
    publish.qos = QoS::AtLeastOnce;
    publish.packet_id = 2;
    h.send(c, publish);
    assert!(matches!(h.recv(c), Some(Packet::PubAck(a)) if a.reason == ReasonCode::NOT_AUTHORIZED));
    h.publish(c, "alice/x", "ok", QoS::AtMostOnce);
    assert_eq!(&h.recv_publish(c).payload[..], b"ok");
}

#[test]
fn connack_advertises_the_configured_limits() {
    let limits = Limits {
        max_qos: QoS::AtLeastOnce,
        retain_available: false,
        shared_subscription_available: false,
        ..Default::default()
    };
    let mut h = Harness::with_limits(limits);
    let (c, ack) = h.connect_with(Connect::new(V5, "c"));
    assert_eq!(ack.properties.maximum_qos(), Some(1));
    assert_eq!(ack.properties.retain_available(), Some(0));
    assert_eq!(ack.properties.shared_subscription_available(), Some(0));
    h.send(c, Subscribe::single(1, "$share/g/t", QoS::AtMostOnce));
    assert!(
        matches!(h.recv(c), Some(Packet::SubAck(a)) if a.codes == [ReasonCode::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED])
    );
    h.send(c, Subscribe::single(2, "t", QoS::ExactlyOnce));
    assert!(matches!(h.recv(c), Some(Packet::SubAck(a)) if a.codes == [ReasonCode::GRANTED_QOS_1]));
    let mut publish = Publish::new("t", "x");
    publish.retain = true;
    h.send(c, publish);
    assert!(
        matches!(h.recv(c), Some(Packet::Disconnect(d)) if d.reason == ReasonCode::RETAIN_NOT_SUPPORTED)
    );
}

#[test]
fn a_qos_above_the_maximum_gets_disconnect_0x9b() {
    let limits = Limits {
        max_qos: QoS::AtLeastOnce,
        ..Default::default()
    };
    let mut h = Harness::with_limits(limits);
    let c = h.connect(V5, "c");
    let mut publish = Publish::new("t", "x");
    publish.qos = QoS::ExactlyOnce;
    publish.packet_id = 1;
    h.send(c, publish);
    assert!(
        matches!(h.recv(c), Some(Packet::Disconnect(d)) if d.reason == ReasonCode::QOS_NOT_SUPPORTED)
    );
}

#[test]
fn a_disconnect_setting_session_expiry_after_0_is_a_protocol_error() {
    let mut h = Harness::new();
    let c = h.connect(V5, "c");
    let mut d = mqtt_codec::Disconnect::default();
    d.properties.push(Property::SessionExpiryInterval(10));
    h.send(c, d);
    assert!(
        matches!(h.recv(c), Some(Packet::Disconnect(d)) if d.reason == ReasonCode::PROTOCOL_ERROR)
    );
}

#[test]
fn an_invalid_utf8_payload_with_format_indicator_1_gets_puback_0x99() {
    let mut h = Harness::new();
    let c = h.connect(V5, "c");
    let mut publish = Publish::new("t", vec![0xff, 0xfe]);
    publish.qos = QoS::AtLeastOnce;
    publish.packet_id = 1;
    publish.properties.push(Property::PayloadFormatIndicator(1));
    h.send(c, publish);
    assert!(
        matches!(h.recv(c), Some(Packet::PubAck(a)) if a.reason == ReasonCode::PAYLOAD_FORMAT_INVALID)
    );
}

fn redirecting(kind: crate::config::RedirectKind) -> Harness {
    Harness::with_limits(Limits {
        redirect: Some(crate::config::Redirect {
            kind,
            reference: "other.example:1883".to_owned(),
        }),
        ..Limits::default()
    })
}

#[test]
fn redirection_answers_connack_0x9c_or_0x9d_with_the_server_reference() {
    use crate::config::RedirectKind::{ServerMoved, UseAnotherServer};
    for (kind, code) in [
        (UseAnotherServer, ReasonCode::USE_ANOTHER_SERVER),
        (ServerMoved, ReasonCode::SERVER_MOVED),
    ] {
        let mut h = redirecting(kind);
        let (c, ack) = h.connect_with(Connect::new(V5, "r"));
        assert_eq!(ack.code, code);
        assert_eq!(
            ack.properties.server_reference().as_deref(),
            Some("other.example:1883")
        );
        assert!(h.is_closed(c));
    }
}

#[test]
fn redirection_refuses_a_3_1_1_client_with_connack_0x03() {
    let mut h = redirecting(crate::config::RedirectKind::UseAnotherServer);
    let (c, ack) = h.connect_with(Connect::new(V311, "r"));
    assert_eq!(ack.code, ReasonCode::V3_SERVER_UNAVAILABLE);
    assert!(h.is_closed(c));
}
