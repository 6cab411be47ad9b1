//! The ACL fails closed, sessions have an owner, assigned identifiers are random.

use bytes::Bytes;
use mqtt_codec::{Connect, Packet, QoS, ReasonCode, Subscribe, Will};

use super::harness::{Harness, V5, V311};
use crate::config::Limits;
use crate::engine::auth::{ANONYMOUS, Access, Users};

/// alice reads `a/+` and writes `a/#`; bob has no rule; anonymous clients read `public/#`.
fn acl() -> Limits {
    let mut users = Users::default();
    users.add_with_iterations("alice", b"a-pw", 1000);
    users.add_with_iterations("bob", b"b-pw", 1000);
    users.allow("alice", "a/+", Access::Read);
    users.allow("alice", "a/#", Access::Write);
    users.allow(ANONYMOUS, "public/#", Access::Read);
    Limits {
        users: Some(users),
        allow_anonymous: true,
        ..Limits::default()
    }
}

fn login(version: mqtt_codec::ProtocolVersion, id: &str, user: &str) -> Connect {
    let mut connect = Connect::new(version, id);
    connect.username = Some(user.into());
    connect.password = Some(Bytes::from(format!("{}-pw", &user[..1])));
    connect
}

fn suback(h: &mut Harness, c: crate::ConnId, filter: &str) -> ReasonCode {
    h.send(c, Subscribe::single(1, filter, QoS::AtMostOnce));
    match h.recv(c) {
        Some(Packet::SubAck(a)) => a.codes[0],
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

#[test]
fn a_plus_rule_does_not_grant_a_hash_subscription_nor_its_retained_messages() {
    let mut h = Harness::with_limits(acl());
    let (w, _) = h.connect_with(login(V5, "writer", "alice"));
    h.publish(w, "a/b/secret", "deep", QoS::AtMostOnce);
    let mut retained = mqtt_codec::Publish::new("a/b/secret", "kept");
    retained.retain = true;
    h.send(w, retained);
    let (c, _) = h.connect_with(login(V5, "reader", "alice"));
    assert_eq!(suback(&mut h, c, "a/#"), ReasonCode::NOT_AUTHORIZED);
    assert_eq!(suback(&mut h, c, "#"), ReasonCode::NOT_AUTHORIZED);
    assert_eq!(suback(&mut h, c, "a/+"), ReasonCode::SUCCESS);
    assert_eq!(
        h.recv(c),
        None,
        "a retained message outside the rules was delivered"
    );
}

#[test]
fn a_user_without_rules_may_do_nothing() {
    let mut h = Harness::with_limits(acl());
    let (c, ack) = h.connect_with(login(V5, "bob", "bob"));
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    assert_eq!(suback(&mut h, c, "x"), ReasonCode::NOT_AUTHORIZED);
    let mut p = mqtt_codec::Publish::new("x", "y");
    (p.qos, p.packet_id) = (QoS::AtLeastOnce, 3);
    h.send(c, p);
    assert!(matches!(h.recv(c), Some(Packet::PubAck(a)) if a.reason == ReasonCode::NOT_AUTHORIZED));
}

#[test]
fn anonymous_clients_get_only_the_anonymous_rules() {
    let mut h = Harness::with_limits(acl());
    let (c, ack) = h.connect_with(Connect::new(V5, "anon"));
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    assert_eq!(suback(&mut h, c, "public/+"), ReasonCode::SUCCESS);
    assert_eq!(suback(&mut h, c, "a/b"), ReasonCode::NOT_AUTHORIZED);
}

#[test]
fn a_will_the_user_may_not_publish_is_refused_at_connect_in_both_versions() {
    let mut h = Harness::with_limits(acl());
    for (version, code) in [
        (V5, ReasonCode::NOT_AUTHORIZED),
        (V311, ReasonCode::V3_NOT_AUTHORIZED),
    ] {
        let mut connect = login(version, "willer", "alice");
        connect.will = Some(Will {
            topic: "b/elsewhere".into(),
            payload: "x".into(),
            qos: QoS::AtMostOnce,
            retain: true,
            properties: Default::default(),
        });
        let (c, ack) = h.connect_with(connect);
        assert_eq!(ack.code, code);
        assert!(h.is_closed(c));
    }
}

#[test]
fn another_user_cannot_take_over_or_resume_a_session() {
    let mut h = Harness::with_limits(acl());
    let mut connect = login(V5, "alices-id", "alice");
    connect.clean_start = false;
    connect
        .properties
        .push(mqtt_codec::Property::SessionExpiryInterval(600));
    let (alice, _) = h.connect_with(connect.clone());
    assert_eq!(suback(&mut h, alice, "a/x"), ReasonCode::SUCCESS);
    for version in [V5, V311] {
        let mut theft = login(version, "alices-id", "bob");
        theft.clean_start = false;
        let (_, ack) = h.connect_with(theft);
        let refused = if version == V5 {
            ReasonCode::NOT_AUTHORIZED
        } else {
            ReasonCode::V3_NOT_AUTHORIZED
        };
        assert_eq!(ack.code, refused);
    }
    assert!(!h.is_closed(alice), "the owner was disconnected");
    h.drop_conn(alice);
    let (_, ack) = h.connect_with(connect);
    assert!(ack.session_present, "the owner lost the session");
}

/// A persistent 5.0 CONNECT for `id`.
fn persistent(id: &str) -> Connect {
    let mut connect = Connect::new(V5, id);
    connect.clean_start = false;
    connect
        .properties
        .push(mqtt_codec::Property::SessionExpiryInterval(600));
    connect
}

#[test]
fn a_certificate_user_owns_its_session_without_a_password_file() {
    let mut h = Harness::new();
    let with_cert = |h: &mut Harness, user: &str| {
        let c = h.open(V5);
        h.engine.set_certificate_user(c, user.to_owned());
        h.send(c, persistent("shared-id"));
        match h.recv(c) {
            Some(Packet::ConnAck(ack)) => (c, ack),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    };
    let (alice, ack) = with_cert(&mut h, "alice");
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    h.subscribe(alice, "t", QoS::AtLeastOnce);
    h.drop_conn(alice);
    // Another certificate's user, and a client without one, are refused alice's session.
    let (_, ack) = with_cert(&mut h, "bob");
    assert_eq!(ack.code, ReasonCode::NOT_AUTHORIZED);
    let (_, ack) = h.connect_with(persistent("shared-id"));
    assert_eq!(ack.code, ReasonCode::NOT_AUTHORIZED);
    let (alice, ack) = with_cert(&mut h, "alice");
    assert!(ack.session_present, "the owner lost the session");
    // Her subscription survived the attempts.
    let p = h.connect(V5, "publisher");
    h.publish(p, "t", "kept", QoS::AtLeastOnce);
    assert_eq!(&h.recv_publish(alice).payload[..], b"kept");
}

#[test]
fn anonymous_sessions_have_no_owner_and_an_unverified_user_name_claims_none() {
    // No password file, no certificates: MQTT-3.1.4-2/3 let any client with the client id
    // resume the session; a user name nobody checked does not make it anyone's.
    let mut h = Harness::new();
    let mut first = persistent("anon-id");
    first.username = Some("alice".into());
    let (c, ack) = h.connect_with(first);
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    h.drop_conn(c);
    let mut second = persistent("anon-id");
    second.username = Some("mallory".into());
    let (_, ack) = h.connect_with(second);
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    assert!(ack.session_present);
}

#[test]
fn assigned_client_identifiers_are_random() {
    let mut h = Harness::new();
    let ids: Vec<String> = (0..2)
        .map(|_| {
            let (_, ack) = h.connect_with(Connect::new(V5, ""));
            let id = ack.properties.assigned_client_identifier().unwrap();
            id.to_string()
        })
        .collect();
    assert_ne!(ids[0], ids[1]);
    for id in &ids {
        // 12 random bytes in hex: not a counter one can guess.
        assert_eq!(id.len(), "auto-".len() + 24, "{id}");
    }
}

#[test]
fn packets_pipelined_behind_a_connect_wait_for_its_password_check() {
    let mut h = Harness::with_limits(acl());
    for (password, answered) in [("a-pw", true), ("wrong", false)] {
        let c = h.open(V5);
        let mut connect = login(V5, "pipelined", "alice");
        connect.password = Some(Bytes::from(password));
        let mut bytes = Packet::from(connect).to_bytes(V5).unwrap().to_vec();
        let sub = Packet::from(Subscribe::single(1, "a/x", QoS::AtMostOnce));
        bytes.extend_from_slice(&sub.to_bytes(V5).unwrap());
        h.send_raw(c, &bytes);
        match h.recv(c) {
            Some(Packet::ConnAck(a)) => assert_eq!(a.code.is_success(), answered),
            other => panic!("expected CONNACK, got {other:?}"),
        }
        let suback = matches!(h.recv(c), Some(Packet::SubAck(_)));
        assert_eq!(suback, answered, "the SUBSCRIBE behind the CONNECT");
    }
}
