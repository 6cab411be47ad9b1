//! QoS 1 and 2 flows of one session: packet identifier allocation, the outbound in-flight
//! window and its queue, redelivery order, and the inbound QoS 2 state that makes delivery
//! exactly-once.
//!
//! ```text
//! outbound QoS 1:  queued ──send PUBLISH──► AwaitPubAck ──PUBACK──► done
//! outbound QoS 2:  queued ──send PUBLISH──► AwaitPubRec ──PUBREC──► AwaitPubComp ──PUBCOMP──► done
//!                                              (PUBREC ≥ 0x80 ends the flow)   (PUBREL sent)
//! inbound QoS 2:   PUBLISH id ──deliver, PUBREC──► held(id) ──PUBREL──► PUBCOMP, forgotten
//!                  (a PUBLISH with a held id is answered PUBREC and not delivered again)
//! ```
//!
//! On reconnect, in-flight entries are resent in their original order: PUBLISH with DUP=1
//! for those awaiting PUBACK/PUBREC, PUBREL for those awaiting PUBCOMP (MQTT-4.4.0-1).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use mqtt_codec::QoS;

use super::message::Message;

/// Where an outbound QoS 1/2 message stands.
#[expect(
    clippy::enum_variant_names,
    reason = "named for the packet awaited, as in the spec"
)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutState {
    AwaitPubAck,
    AwaitPubRec,
    AwaitPubComp,
}

/// A message for one subscriber, with what the subscription decided about it.
#[derive(Clone, Debug)]
pub(crate) struct Delivery {
    pub(crate) msg: Arc<Message>,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
    pub(crate) sub_ids: Vec<u32>,
}

/// One in-flight outbound message.
#[derive(Clone, Debug)]
pub(crate) struct OutEntry {
    pub(crate) id: u16,
    pub(crate) state: OutState,
    pub(crate) delivery: Delivery,
    /// Sent on an earlier connection and not yet resent on this one: the client's new
    /// Receive Maximum had no room for it (MQTT-3.3.4-7).
    pub(crate) unsent: bool,
}

/// Outbound state of one session.
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    pub(crate) inflight: VecDeque<OutEntry>,
    pub(crate) queue: VecDeque<Delivery>,
    /// How many in-flight entries are `unsent` (at most 65,535, as packet identifiers).
    unsent: u16,
    used: HashSet<u16>,
    last_id: u16,
}

impl Outbound {
    /// A free packet identifier (1..=65535), or `None` if all are in use.
    pub(crate) fn alloc_id(&mut self) -> Option<u16> {
        if self.used.len() >= usize::from(u16::MAX) {
            return None;
        }
        loop {
            self.last_id = self.last_id.checked_add(1).unwrap_or(1);
            if self.used.insert(self.last_id) {
                return Some(self.last_id);
            }
        }
    }

    /// Records a sent message.
    pub(crate) fn push(&mut self, id: u16, delivery: Delivery) {
        let state = if delivery.qos == QoS::ExactlyOnce {
            OutState::AwaitPubRec
        } else {
            OutState::AwaitPubAck
        };
        self.inflight.push_back(OutEntry {
            id,
            state,
            delivery,
            unsent: false,
        });
    }

    /// In-flight entries the client has been sent on this connection: what counts against
    /// its Receive Maximum.
    pub(crate) fn sent(&self) -> usize {
        self.inflight.len() - usize::from(self.unsent)
    }

    /// How many in-flight entries wait to be resent.
    pub(crate) fn unsent(&self) -> usize {
        usize::from(self.unsent)
    }

    /// Marks every in-flight entry unsent (a new connection: nothing was sent on it yet).
    pub(crate) fn mark_all_unsent(&mut self) {
        for e in &mut self.inflight {
            e.unsent = true;
        }
        self.unsent = u16::try_from(self.inflight.len()).unwrap_or(u16::MAX);
    }

    /// The oldest entry waiting to be resent, now counted as sent.
    pub(crate) fn take_unsent(&mut self) -> Option<&OutEntry> {
        let e = self.inflight.iter_mut().find(|e| e.unsent)?;
        e.unsent = false;
        self.unsent -= 1;
        Some(e)
    }

    fn position(&self, id: u16, state: OutState) -> Option<usize> {
        self.inflight
            .iter()
            .position(|e| e.id == id && e.state == state)
    }

    /// Ends the flow of `id` if it is in `state`; true if it was.
    pub(crate) fn complete(&mut self, id: u16, state: OutState) -> bool {
        match self.position(id, state) {
            Some(i) => {
                if self.inflight.remove(i).is_some_and(|e| e.unsent) {
                    self.unsent -= 1;
                }
                self.used.remove(&id);
                true
            }
            None => false,
        }
    }

    /// Moves a QoS 2 flow from PUBREC to PUBCOMP; true if `id` was awaiting PUBREC (or already
    /// awaits PUBCOMP: a resent PUBREC is answered with PUBREL again).
    pub(crate) fn pubrec(&mut self, id: u16) -> bool {
        if let Some(i) = self.position(id, OutState::AwaitPubRec) {
            if let Some(e) = self.inflight.get_mut(i) {
                e.state = OutState::AwaitPubComp;
            }
            return true;
        }
        self.position(id, OutState::AwaitPubComp).is_some()
    }

    /// Messages in flight or queued.
    pub(crate) fn len(&self) -> usize {
        self.inflight.len() + self.queue.len()
    }
}

/// Inbound QoS 2 identifiers received but not yet released.
#[derive(Debug, Default)]
pub(crate) struct InboundQos2 {
    held: HashSet<u16>,
}

impl InboundQos2 {
    /// Records `id`; false if it was already held (a resend, not to be delivered again).
    pub(crate) fn receive(&mut self, id: u16) -> bool {
        self.held.insert(id)
    }

    /// Releases `id`; false if it was not held.
    pub(crate) fn release(&mut self, id: u16) -> bool {
        self.held.remove(&id)
    }

    /// How many are held.
    pub(crate) fn len(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_ids_skip_those_in_use_and_wrap() {
        let mut o = Outbound {
            last_id: u16::MAX - 1,
            ..Outbound::default()
        };
        assert_eq!(o.alloc_id(), Some(u16::MAX));
        assert_eq!(o.alloc_id(), Some(1));
        o.last_id = u16::MAX - 1;
        assert_eq!(o.alloc_id(), Some(2));
    }

    #[test]
    fn a_held_qos2_id_is_not_received_twice() {
        let mut i = InboundQos2::default();
        assert!(i.receive(5));
        assert!(!i.receive(5));
        assert!(i.release(5));
        assert!(i.receive(5));
    }
}
