//! Each capability, found by use under the newest version the broker accepts. Under 5.0 a
//! CONNACK announcement that rules a feature out is taken as given (section 3.2.2.3): the probe
//! does not try it, as trying would be a Protocol Error on the client's part.

use mqtt_codec::{Properties, Property, ProtocolVersion, QoS};

use super::session::{Endpoint, Session};
use super::versions::client_id;
use super::{Discovery, Found, VersionOffer};

/// What every feature probe needs.
struct Ctx<'a> {
    ep: &'a Endpoint,
    version: ProtocolVersion,
    /// The 5.0 CONNACK properties (empty before 5.0).
    props: Properties,
    /// A topic prefix unique to this probe.
    prefix: String,
}

impl Ctx<'_> {
    async fn session(&self, what: &str) -> Option<Session> {
        self.ep
            .connect(self.version, &client_id(what), |_| {})
            .await
            .ok()
            .map(|(s, _)| s)
    }

    fn v5(&self) -> bool {
        self.version.is_v5()
    }

    /// `Some(reason)` when the 5.0 CONNACK announces `value` 0 for this feature.
    fn announced_off(&self, value: Option<u8>, name: &str) -> Option<String> {
        (self.v5() && value == Some(0))
            .then(|| format!("the 5.0 CONNACK announces {name} 0 (authoritative)"))
    }
}

/// Probes every capability; `newest` is the newest version that accepted a CONNECT.
pub(super) async fn probe(
    ep: &Endpoint,
    versions: Vec<VersionOffer>,
    newest: Option<ProtocolVersion>,
    server_redirection: Found<bool>,
) -> Discovery {
    let none = |what: &str| format!("not probed: no version accepted a CONNECT ({what})");
    let Some(version) = newest else {
        return nothing(ep, versions, server_redirection, &none(""));
    };
    let props = versions
        .iter()
        .find(|o| o.version == version)
        .and_then(|o| o.properties().cloned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let c = Ctx {
        ep,
        version,
        props,
        prefix: format!("mqtt-conformance/probe/{}-{nanos}", std::process::id()),
    };
    let (credentials_needed, auth) = credentials(&c, &versions).await;
    Discovery {
        url: ep.target.url.clone(),
        probed_with: Some(version),
        credentials_needed,
        auth,
        max_qos: max_qos(&c).await,
        retain: retain(&c).await,
        wildcards: wildcards(&c).await,
        shared_subscriptions: shared(&c).await,
        subscription_identifiers: subscription_ids(&c).await,
        topic_alias_maximum: announced(&c, c.props.topic_alias_maximum(), "Topic Alias Maximum")
            .map_or_else(|how| Found::new(0, how), |(v, how)| Found::new(v, how)),
        receive_maximum: optional(&c, c.props.receive_maximum(), "Receive Maximum"),
        maximum_packet_size: optional(&c, c.props.maximum_packet_size(), "Maximum Packet Size"),
        server_keep_alive: optional(&c, c.props.server_keep_alive(), "Server Keep Alive"),
        assigned_client_id: assigned_id(&c).await,
        persistent_sessions: persistent(&c).await,
        response_information: response_info(&c).await,
        server_redirection,
        versions,
    }
}

/// A discovery where nothing could be tried.
fn nothing(
    ep: &Endpoint,
    versions: Vec<VersionOffer>,
    server_redirection: Found<bool>,
    why: &str,
) -> Discovery {
    let needed = versions.iter().any(|o| {
        o.answer
            .as_ref()
            .is_err_and(super::session::Refusal::bad_credentials)
    });
    let how = if needed {
        "a CONNECT was refused for its credentials".to_owned()
    } else {
        why.to_owned()
    };
    Discovery {
        url: ep.target.url.clone(),
        versions,
        probed_with: None,
        credentials_needed: Found::new(needed, how.clone()),
        auth: Found::new(needed, how),
        max_qos: Found::new(0, why),
        retain: Found::new(false, why),
        wildcards: Found::new(false, why),
        shared_subscriptions: Found::new(false, why),
        subscription_identifiers: Found::new(false, why),
        topic_alias_maximum: Found::new(0, why),
        receive_maximum: Found::new(None, why),
        maximum_packet_size: Found::new(None, why),
        server_keep_alive: Found::new(None, why),
        assigned_client_id: Found::new(false, why),
        persistent_sessions: Found::new(false, why),
        response_information: Found::new(false, why),
        server_redirection,
    }
}

/// A 5.0 CONNACK value: `Ok((value, how))`, or `Err(how)` when there is none to read.
fn announced<T: std::fmt::Display>(
    c: &Ctx<'_>,
    value: Option<T>,
    name: &str,
) -> Result<(T, String), String> {
    if !c.v5() {
        return Err(format!("{name} is a 5.0 property; 5.0 not offered"));
    }
    match value {
        Some(v) => {
            let how = format!("the 5.0 CONNACK announces {name} {v}");
            Ok((v, how))
        }
        None => Err(format!("the 5.0 CONNACK has no {name}")),
    }
}

fn optional<T: std::fmt::Display>(c: &Ctx<'_>, value: Option<T>, name: &str) -> Found<Option<T>> {
    match announced(c, value, name) {
        Ok((v, how)) => Found::new(Some(v), how),
        Err(how) => Found::new(None, how),
    }
}

/// Whether a CONNECT without credentials is refused, and whether wrong ones are.
async fn credentials(c: &Ctx<'_>, versions: &[VersionOffer]) -> (Found<bool>, Found<bool>) {
    let refused = |o: &VersionOffer| {
        o.answer
            .as_ref()
            .is_err_and(super::session::Refusal::bad_credentials)
    };
    let needed = if c.ep.credentials.is_none() {
        let n = versions.iter().any(refused);
        let how = if n {
            "a CONNECT without credentials was refused as not authorized"
        } else {
            "a CONNECT without credentials was accepted"
        };
        Found::new(n, how)
    } else {
        let anonymous = Endpoint {
            credentials: None,
            ..c.ep.clone()
        };
        match anonymous.connect(c.version, &client_id("a"), |_| {}).await {
            Ok((s, _)) => {
                s.disconnect().await;
                Found::new(false, "a CONNECT without credentials was accepted")
            }
            Err(r) => Found::new(
                r.bad_credentials(),
                format!("a CONNECT without credentials: {}", r.describe()),
            ),
        }
    };
    let user =
        c.ep.credentials
            .as_ref()
            .map_or_else(|| "mqtt-conformance-probe".to_owned(), |(u, _)| u.clone());
    let wrong = Endpoint {
        credentials: Some((user, Some("not-the-password-7f3a".into()))),
        ..c.ep.clone()
    };
    let auth = match wrong.connect(c.version, &client_id("b"), |_| {}).await {
        Ok((s, _)) => {
            s.disconnect().await;
            Found::new(false, "a CONNECT with a wrong password was accepted")
        }
        Err(r) => Found::new(
            r.bad_credentials(),
            format!("a CONNECT with a wrong password: {}", r.describe()),
        ),
    };
    (needed, auth)
}

/// The highest QoS both granted in SUBACK and delivered, trying 2, then 1, then 0.
async fn max_qos(c: &Ctx<'_>) -> Found<u8> {
    let announced = if c.v5() {
        c.props.maximum_qos().unwrap_or(2)
    } else {
        2
    };
    let (Some(mut sub), Some(mut publ)) = (c.session("qs").await, c.session("qp").await) else {
        return Found::new(0, "could not open two connections");
    };
    let mut tried = Vec::new();
    let mut found = Found::new(0, String::new());
    for want in (0..=2u8).rev() {
        let topic = format!("{}/qos{want}", c.prefix);
        let code = sub.subscribe(&topic, qos(want), Properties::new()).await;
        let granted = match code {
            Some(g @ 0..=2) => g,
            Some(code) => {
                tried.push(format!("SUBACK 0x{code:02X} for a QoS {want} subscription"));
                continue;
            }
            None => {
                tried.push(format!("no SUBACK for a QoS {want} subscription"));
                break;
            }
        };
        // 5.0 clients must not publish above the announced Maximum QoS (MQTT-3.2.2-11).
        let sent = granted.min(announced);
        let delivered = if publ.publish(&topic, qos(sent), false, "probe").await {
            sub.receive(&topic).await.map(|p| p.qos.as_u8())
        } else {
            None
        };
        let Some(d) = delivered else {
            tried.push(format!(
                "SUBACK granted QoS {granted} for a QoS {want} subscription, but a QoS {sent} \
                 PUBLISH was not delivered"
            ));
            continue;
        };
        tried.push(format!(
            "SUBACK granted QoS {granted} for a QoS {want} subscription; a QoS {sent} PUBLISH \
             was delivered at QoS {d}"
        ));
        found = Found::new(d.min(sent), String::new());
        break;
    }
    if c.v5() {
        tried.push(match c.props.maximum_qos() {
            Some(m) => format!("the 5.0 CONNACK announces Maximum QoS {m}"),
            None => "the 5.0 CONNACK has no Maximum QoS (2)".into(),
        });
    }
    sub.disconnect().await;
    publ.disconnect().await;
    found.how = tried.join("; ");
    found
}

fn qos(q: u8) -> QoS {
    QoS::from_u8(q).unwrap_or(QoS::AtMostOnce)
}

/// A QoS 0 message published to `topic` reaches a subscription to `filter` made with `props`;
/// returns the PUBLISH, or what went wrong.
async fn delivered(
    c: &Ctx<'_>,
    filter: &str,
    topic: &str,
    props: Properties,
) -> Result<mqtt_codec::Publish, String> {
    let (Some(mut sub), Some(mut publ)) = (c.session("fs").await, c.session("fp").await) else {
        return Err("could not open two connections".into());
    };
    let result = match sub.subscribe(filter, QoS::AtMostOnce, props).await {
        None => Err(format!("no SUBACK for `{filter}`")),
        Some(code @ 0x80..) => Err(format!("SUBACK 0x{code:02X} for `{filter}`")),
        Some(_) => {
            publ.publish(topic, QoS::AtMostOnce, false, "probe").await;
            sub.receive(topic).await.ok_or_else(|| {
                format!("SUBACK granted `{filter}`, but a PUBLISH to `{topic}` was not delivered")
            })
        }
    };
    sub.disconnect().await;
    publ.disconnect().await;
    result
}

async fn retain(c: &Ctx<'_>) -> Found<bool> {
    if let Some(how) = c.announced_off(c.props.retain_available(), "Retain Available") {
        return Found::new(false, how);
    }
    // Nothing in the version lets a broker go without retained messages: they must be
    // stored (MQTT-3.3.1-5) unless a 5.0 CONNACK says Retain Available 0.
    retained_by_use(c).await.required("MQTT-3.3.1-5")
}

/// Publishes a retained message, then subscribes from another session. The message may come
/// before the SUBACK (3.8.4): the session keeps it for `receive`.
async fn retained_by_use(c: &Ctx<'_>) -> Found<bool> {
    let topic = format!("{}/retained", c.prefix);
    let Some(mut publ) = c.session("rp").await else {
        return Found::new(false, "could not connect");
    };
    publ.publish(&topic, QoS::AtMostOnce, true, "probe").await;
    let found = match c.session("rs").await {
        Some(mut sub) => {
            let code = sub
                .subscribe(&topic, QoS::AtMostOnce, Properties::new())
                .await;
            let got = sub.receive(&topic).await;
            sub.disconnect().await;
            match (code, got) {
                (_, Some(p)) if p.retain => Found::new(
                    true,
                    "a retained message was sent to a later subscription with RETAIN 1",
                ),
                (_, Some(_)) => Found::new(
                    false,
                    "a later subscription got the message without RETAIN 1",
                ),
                (_, None) => Found::new(
                    false,
                    "a retained message was not sent to a later subscription",
                ),
            }
        }
        None => Found::new(false, "could not connect"),
    };
    // Clear it: an empty retained message removes the retained one (MQTT-3.3.1-10/11).
    publ.publish(&topic, QoS::AtMostOnce, true, "").await;
    publ.disconnect().await;
    found
}

async fn wildcards(c: &Ctx<'_>) -> Found<bool> {
    let name = "Wildcard Subscription Available";
    if let Some(how) = c.announced_off(c.props.wildcard_subscription_available(), name) {
        return Found::new(false, how);
    }
    let filter = format!("{}/w/+/#", c.prefix);
    let topic = format!("{}/w/a/b", c.prefix);
    match delivered(c, &filter, &topic, Properties::new()).await {
        Ok(_) => Found::new(true, "a subscription to `+/#` was granted and delivered to"),
        Err(e) => Found::new(false, e),
    }
}

async fn shared(c: &Ctx<'_>) -> Found<bool> {
    if !c.v5() {
        return Found::new(false, "shared subscriptions are 5.0; 5.0 not offered");
    }
    let name = "Shared Subscription Available";
    if let Some(how) = c.announced_off(c.props.shared_subscription_available(), name) {
        return Found::new(false, how);
    }
    let topic = format!("{}/shared", c.prefix);
    let filter = format!("$share/mcprobe/{topic}");
    match delivered(c, &filter, &topic, Properties::new()).await {
        Ok(_) => Found::new(
            true,
            "a `$share/...` subscription was granted and delivered to",
        ),
        Err(e) => Found::new(false, e),
    }
}

async fn subscription_ids(c: &Ctx<'_>) -> Found<bool> {
    if !c.v5() {
        return Found::new(false, "Subscription Identifiers are 5.0; 5.0 not offered");
    }
    let name = "Subscription Identifier Available";
    if let Some(how) = c.announced_off(c.props.subscription_identifier_available(), name) {
        return Found::new(false, how);
    }
    let topic = format!("{}/subid", c.prefix);
    let props = Properties::from(vec![Property::SubscriptionIdentifier(7)]);
    match delivered(c, &topic, &topic, props).await {
        Ok(p) if p.properties.subscription_identifiers().any(|i| i == 7) => Found::new(
            true,
            "a message matching a subscription with Subscription Identifier 7 carried it",
        ),
        Ok(_) => Found::new(
            false,
            "a subscription with Subscription Identifier 7 was delivered to without it",
        ),
        Err(e) => Found::new(false, e),
    }
}

async fn assigned_id(c: &Ctx<'_>) -> Found<bool> {
    if c.version == ProtocolVersion::V3_1 {
        return Found::new(false, "MQTT 3.1 has no empty client ids");
    }
    match c.ep.connect(c.version, "", |_| {}).await {
        Ok((s, ack)) => {
            s.disconnect().await;
            match ack.properties.assigned_client_identifier() {
                Some(id) => Found::new(
                    true,
                    format!("an empty client id was accepted and assigned `{id}`"),
                ),
                None if c.v5() => Found::new(
                    false,
                    "an empty client id was accepted without an Assigned Client Identifier",
                ),
                None => Found::new(true, "an empty client id with clean session was accepted"),
            }
        }
        Err(r) => Found::new(false, format!("an empty client id: {}", r.describe())),
    }
}

async fn persistent(c: &Ctx<'_>) -> Found<bool> {
    // A session must be resumed (3.1.1 MQTT-3.1.2-4, 5.0 MQTT-3.1.2-5); a 5.0 broker may
    // shorten its life with a Session Expiry Interval in CONNACK, which the scenarios read.
    let statement = if c.v5() {
        "MQTT-3.1.2-5"
    } else {
        "MQTT-3.1.2-4"
    };
    session_by_use(c).await.required(statement)
}

async fn session_by_use(c: &Ctx<'_>) -> Found<bool> {
    let id = client_id("ps");
    let v5 = c.v5();
    let keep = |k: &mut mqtt_codec::Connect| {
        k.clean_start = false;
        if v5 {
            k.properties.push(Property::SessionExpiryInterval(300));
        }
    };
    let Ok((mut s, _)) = c.ep.connect(c.version, &id, keep).await else {
        return Found::new(false, "a CONNECT with clean session 0 was refused");
    };
    let topic = format!("{}/session", c.prefix);
    s.subscribe(&topic, QoS::AtMostOnce, Properties::new())
        .await;
    s.disconnect().await;
    let found = match c.ep.connect(c.version, &id, keep).await {
        Ok((s, ack)) => {
            s.disconnect().await;
            if ack.session_present {
                Found::new(
                    true,
                    "a reconnection with clean session 0 got Session Present 1",
                )
            } else {
                Found::new(
                    false,
                    "a reconnection with clean session 0 got Session Present 0",
                )
            }
        }
        Err(r) => Found::new(false, format!("the reconnection: {}", r.describe())),
    };
    // End the session so that it does not outlive the probe.
    if let Ok((s, _)) = c.ep.connect(c.version, &id, |_| {}).await {
        s.disconnect().await;
    }
    found
}

async fn response_info(c: &Ctx<'_>) -> Found<bool> {
    if !c.v5() {
        return Found::new(false, "Response Information is 5.0; 5.0 not offered");
    }
    let ask = |k: &mut mqtt_codec::Connect| {
        k.properties.push(Property::RequestResponseInformation(1));
    };
    match c.ep.connect(c.version, &client_id("ri"), ask).await {
        Ok((s, ack)) => {
            s.disconnect().await;
            match ack.properties.response_information() {
                Some(r) => Found::new(true, format!("asked for it, the CONNACK carried `{r}`")),
                None => Found::new(false, "asked for it, the CONNACK carried none"),
            }
        }
        Err(r) => Found::new(false, format!("asking for it: {}", r.describe())),
    }
}
