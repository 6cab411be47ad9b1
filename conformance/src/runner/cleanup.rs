//! Cleanup after a scenario: the sessions and retained messages it left behind.

use mqtt_codec::{Connect, Packet, Publish};

use crate::client::{Connection, Event, Transcript};
use crate::exec::{Execution, Settings};
use crate::scenario::Version;

/// Clears retained messages and sessions a scenario left behind. Stops at the first reset that
/// fails (a broker that does not answer would make each wait out its timeouts) and says so.
///
/// The retained topics are cleared under a client id of this run's own (`tag`): cleanups run
/// concurrently, and a shared id would make each take over the session of the one before.
pub(crate) async fn cleanup(s: &Settings, v: Version, e: &Execution, tag: &str) -> bool {
    for id in e.client_ids.iter() {
        if id.is_empty() {
            continue;
        }
        if session_reset(s, v, id, &[]).await.is_none() {
            return false;
        }
    }
    if !e.retained.is_empty() {
        let topics: Vec<String> = e.retained.iter().cloned().collect();
        return session_reset(s, v, &format!("mcclean{tag}"), &topics)
            .await
            .is_some();
    }
    true
}

async fn session_reset(s: &Settings, v: Version, id: &str, clear: &[String]) -> Option<()> {
    let t = Transcript::new();
    let mut c = tokio::time::timeout(
        s.step_timeout,
        Connection::open(&s.target, "cleanup", v.protocol(), t),
    )
    .await
    .ok()?
    .ok()?;
    let mut connect = Connect::new(v.protocol(), id.to_owned());
    if let Some((u, p)) = &s.credentials {
        connect.username = Some(u.clone().into());
        connect.password = p.clone().map(Into::into);
    }
    c.send_packet(&Packet::from(connect)).await.ok()?;
    match c.next_event(s.step_timeout).await {
        Some(Event::Packet(Packet::ConnAck(_))) => {}
        _ => return None,
    }
    for topic in clear {
        let mut p = Publish::new(topic.clone(), bytes::Bytes::new());
        p.retain = true;
        c.send_packet(&Packet::Publish(p)).await.ok()?;
    }
    // A PINGREQ barrier makes sure the broker processed the above before we leave.
    c.send_packet(&Packet::PingReq).await.ok()?;
    let _ = c.next_event(s.step_timeout).await;
    let _ = c
        .send_packet(&Packet::Disconnect(mqtt_codec::Disconnect::default()))
        .await;
    c.close().await;
    Some(())
}
