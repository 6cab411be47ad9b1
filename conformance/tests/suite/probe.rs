//! `probe` against the in-process reference broker with each capability switched off: what it
//! finds must be what was configured.

use std::time::Duration;

use mqtt_codec::{ProtocolVersion, QoS};
use mqtt_conformance::probe::{self, Discovery, Endpoint};
use mqtt_conformance::profile::Profile;
use mqtt_conformance::scenario::{Capability, Version};
use mqtt_conformance::transport::Target;
use mqtt_reference_broker::{Config, Limits};

async fn probe_with(limits: Limits) -> Discovery {
    let config = Config {
        limits,
        ..Config::default()
    };
    let broker = mqtt_reference_broker::start(config).await.unwrap();
    let endpoint = Endpoint {
        target: Target::tcp(broker.tcp_addr()),
        credentials: None,
        timeout: Duration::from_secs(5),
    };
    let found = tokio::time::timeout(Duration::from_secs(120), probe::discover(&endpoint))
        .await
        .expect("the probe stalled");
    broker.shutdown().await;
    found
}

/// The draft YAML parses back as a profile equal in capabilities to the discovered one.
fn round_trip(found: &Discovery) -> Profile {
    let dir = std::env::temp_dir().join(format!("mqtt-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{:?}.yaml", std::thread::current().id()));
    std::fs::write(&path, found.yaml(None)).unwrap();
    let loaded = Profile::load(path.to_str().unwrap()).unwrap();
    let discovered = found.profile();
    assert_eq!(loaded.versions, discovered.versions);
    assert_eq!(
        format!("{:?}", loaded.capabilities),
        format!("{:?}", discovered.capabilities)
    );
    loaded
}

#[tokio::test]
async fn default_reference_broker_offers_everything() {
    let found = probe_with(Limits::default()).await;
    assert!(found.offers(ProtocolVersion::V3_1));
    assert!(found.offers(ProtocolVersion::V3_1_1));
    assert!(found.offers(ProtocolVersion::V5_0));
    assert_eq!(found.probed_with, Some(ProtocolVersion::V5_0));
    assert_eq!(found.max_qos.value, 2, "{}", found.max_qos.how);
    assert!(found.retain.value, "{}", found.retain.how);
    assert!(found.wildcards.value, "{}", found.wildcards.how);
    assert!(found.shared_subscriptions.value);
    assert!(found.subscription_identifiers.value);
    assert_eq!(found.topic_alias_maximum.value, 10);
    assert_eq!(found.receive_maximum.value, Some(100));
    assert_eq!(found.maximum_packet_size.value, Some(1024 * 1024));
    assert!(found.assigned_client_id.value);
    assert!(found.persistent_sessions.value);
    assert!(found.response_information.value);
    assert!(!found.auth.value);
    assert!(!found.credentials_needed.value);
    let p = round_trip(&found);
    let reference = Profile::load("reference").unwrap();
    assert_eq!(p.versions, reference.versions);
    for cap in [Capability::Qos2, Capability::Retain, Capability::TopicAlias] {
        assert!(p.has(cap));
    }
}

#[tokio::test]
async fn each_capability_off_is_found_off() {
    let limits = Limits {
        max_qos: QoS::AtLeastOnce,
        retain_available: false,
        wildcard_subscription_available: false,
        shared_subscription_available: false,
        subscription_identifiers_available: false,
        topic_alias_maximum: 0,
        max_keep_alive: Some(30),
        ..Limits::default()
    };
    let found = probe_with(limits).await;
    assert_eq!(found.max_qos.value, 1, "{}", found.max_qos.how);
    assert!(
        found.max_qos.how.contains("Maximum QoS 1"),
        "{}",
        found.max_qos.how
    );
    assert!(!found.retain.value);
    assert!(found.retain.how.contains("Retain Available 0"));
    assert!(!found.wildcards.value);
    assert!(!found.shared_subscriptions.value);
    assert!(!found.subscription_identifiers.value);
    assert_eq!(found.topic_alias_maximum.value, 0);
    assert_eq!(found.server_keep_alive.value, Some(30));
    round_trip(&found);
    // `run` without a profile skips with the reason it was found missing.
    let p = found.profile();
    let why = p.missing(&[Capability::Qos2]).unwrap();
    assert!(
        why.contains("qos2") && why.contains("Maximum QoS 1"),
        "{why}"
    );
    assert!(p.missing(&[Capability::Qos1]).is_none());
    let why = p.missing(&[Capability::Wildcards]).unwrap();
    assert!(why.contains("Wildcard Subscription Available 0"), "{why}");
}

/// Under 3.1.1 there is no CONNACK to read: each capability is found by use.
#[tokio::test]
async fn capabilities_found_by_use_without_mqtt5() {
    let limits = Limits {
        max_qos: QoS::AtLeastOnce,
        retain_available: false,
        wildcard_subscription_available: false,
        ..Limits::default()
    };
    let config = Config {
        limits,
        ..Config::default()
    };
    let broker = mqtt_reference_broker::start(config).await.unwrap();
    let endpoint = Endpoint {
        target: Target::tcp(broker.tcp_addr()),
        credentials: None,
        timeout: Duration::from_secs(5),
    };
    let found = probe::discover_only(&endpoint, &[ProtocolVersion::V3_1_1]).await;
    broker.shutdown().await;
    assert_eq!(found.probed_with, Some(ProtocolVersion::V3_1_1));
    let p = found.profile();
    assert_eq!(p.versions, vec![Version::V3_1_1]);
    // The reference broker grants QoS 1 for a QoS 2 subscription.
    assert_eq!(p.capabilities.max_qos, 1, "{}", found.max_qos.how);
    assert!(
        found
            .max_qos
            .how
            .contains("granted QoS 1 for a QoS 2 subscription")
    );
    // Without Retain Available to read, the retained message is simply not kept: 3.1.1
    // gives no lawful way to do that (MQTT-3.3.1-5), so the profile keeps `retain` and its
    // scenarios report the violation instead of skipping.
    assert!(!found.retain.value, "{}", found.retain.how);
    assert_eq!(found.retain.required_by, Some("MQTT-3.3.1-5"));
    assert!(p.capabilities.retain);
    assert!(found.yaml(None).contains("retain: true  # NOT found"));
    assert!(!p.capabilities.wildcards, "{}", found.wildcards.how);
    assert!(p.missing(&[Capability::TopicAlias]).is_some());
}

#[tokio::test]
async fn silent_port_reports_every_version_refused() {
    // A listener that accepts and never answers: every version is "no CONNACK".
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let endpoint = Endpoint {
        target: Target::tcp(addr),
        credentials: None,
        timeout: Duration::from_millis(500),
    };
    let found = probe::discover(&endpoint).await;
    hold.abort();
    assert_eq!(found.probed_with, None);
    assert!(found.profile().versions.is_empty());
    let why = found.refusal(ProtocolVersion::V5_0).unwrap().describe();
    assert!(why.contains("no CONNACK"), "{why}");
}

/// `run` without `--profile` against a broker announcing Maximum QoS 1 and no wildcards: the
/// scenarios needing them are skipped with the reason found, none fails, and the others run.
#[tokio::test]
async fn run_without_profile_skips_what_the_broker_lawfully_lacks() {
    let limits = Limits {
        max_qos: QoS::AtLeastOnce,
        wildcard_subscription_available: false,
        ..Limits::default()
    };
    let broker = mqtt_reference_broker::start(Config {
        limits,
        ..Config::default()
    })
    .await
    .unwrap();
    let url = format!("mqtt://{}", broker.tcp_addr());
    let (out, _) = crate::support::run_cli(&[
        "run",
        "--broker",
        &url,
        "--filter",
        "qos2-order-preserved",
        "--filter",
        "unsubscribe-filter-not-used-as-pattern",
        "--filter",
        "pingreq-answered",
        "--color",
        "never",
        "--verbose",
    ])
    .await;
    broker.shutdown().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("no --profile: capabilities discovered"),
        "{stdout}"
    );
    // 5.0 reads the CONNACK, 3.1.1 finds it by use: both are reasons, neither a failure.
    assert!(stdout.contains("qos2: "), "{stdout}");
    assert!(stdout.contains("Maximum QoS 1"), "{stdout}");
    assert!(
        stdout.contains("Wildcard Subscription Available 0"),
        "{stdout}"
    );
    assert!(stdout.contains("0 failed"), "{stdout}");
    assert!(stdout.contains("2 passed"), "{stdout}");
}

/// A broker that sends a new subscription's retained message before its SUBACK, as 3.8.4
/// allows (ActiveMQ does, some of the time): the probe still finds retained messages.
#[tokio::test]
async fn retained_message_before_the_suback_is_found() {
    let fake = crate::fake::Fake::start(|p| {
        let subscribe = p.kind == 8 && p.body.len() > 4;
        let n = if subscribe {
            usize::from(u16::from_be_bytes([p.body[2], p.body[3]]))
        } else {
            0
        };
        let filter = p.body.get(4..4 + n).unwrap_or_default();
        if !subscribe || !filter.ends_with(b"/retained") {
            return crate::fake::Reply::Answer;
        }
        // PUBLISH QoS 0 RETAIN 1 on the filter's topic, then the SUBACK, in one write.
        let payload = b"probe";
        let len = u8::try_from(2 + filter.len() + payload.len()).expect("a short topic");
        let mut out = vec![0x31, len];
        out.extend(u16::try_from(filter.len()).unwrap().to_be_bytes());
        out.extend(filter);
        out.extend(payload);
        out.extend([0x90, 0x03, p.body[0], p.body[1], 0x00]);
        crate::fake::Reply::Send(out)
    })
    .await;
    let endpoint = Endpoint {
        target: Target::tcp(fake.addr),
        credentials: None,
        timeout: Duration::from_millis(500),
    };
    let only = [ProtocolVersion::V3_1_1];
    let found = tokio::time::timeout(
        Duration::from_secs(120),
        probe::discover_only(&endpoint, &only),
    )
    .await
    .expect("the probe stalled");
    assert!(found.retain.value, "{}", found.retain.how);
    assert!(
        found.retain.how.contains("RETAIN 1"),
        "{}",
        found.retain.how
    );
}
