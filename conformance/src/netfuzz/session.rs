//! Runs one fuzz session: opens a connection, writes each frame, and collects what the broker
//! sends after each, until it goes quiet or closes.

use std::time::Duration;

use crate::client::{Connection, Entry, Event, Transcript};
use crate::transport::Target;

use super::generate::Plan;

/// How long the broker may stay silent after a frame before the next is written. Replies that
/// come later are still read, after a later frame, or in the final wait.
const QUIET: Duration = Duration::from_millis(40);
/// How long the session waits for late replies after its last frame.
const LAST_QUIET: Duration = Duration::from_millis(250);

/// What happened in a session.
#[derive(Debug)]
pub struct Outcome {
    /// Each event with the number of frames written before it arrived.
    pub events: Vec<(usize, Event)>,
    /// How many frames were written (fewer than planned when the broker closed early).
    pub sent: usize,
    /// Everything sent and received.
    pub transcript: Vec<Entry>,
}

/// Runs `plan` against `target`; an error when no connection opens within `connect_timeout`.
pub async fn run(
    target: &Target,
    plan: &Plan,
    connect_timeout: Duration,
) -> Result<Outcome, String> {
    let transcript = Transcript::new();
    let open = Connection::open(target, "fuzz", plan.version.protocol(), transcript.clone());
    let mut c = match tokio::time::timeout(connect_timeout, open).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err(format!("connecting to {} timed out", target.url)),
    };
    let mut events = Vec::new();
    let mut sent = 0;
    let mut closed = false;
    for frame in &plan.frames {
        let _ = c.send_bytes(frame.what.clone(), &frame.bytes).await;
        sent += 1;
        closed = drain(&mut c, sent, QUIET, &mut events).await;
        if closed {
            break;
        }
    }
    if !closed {
        drain(&mut c, sent, LAST_QUIET, &mut events).await;
    }
    c.abort();
    Ok(Outcome {
        events,
        sent,
        transcript: transcript.entries(),
    })
}

/// Reads events until `quiet` passes without one or the connection closes (true). Bounded:
/// a broker that floods is cut off after a fixed number of events.
async fn drain(
    c: &mut Connection,
    sent: usize,
    quiet: Duration,
    events: &mut Vec<(usize, Event)>,
) -> bool {
    const MAX_EVENTS: usize = 1000;
    while events.len() < MAX_EVENTS {
        match c.next_event(quiet).await {
            None => return false,
            Some(ev) => {
                let closed = matches!(ev, Event::Closed(_));
                events.push((sent, ev));
                if closed {
                    return true;
                }
            }
        }
    }
    false
}
