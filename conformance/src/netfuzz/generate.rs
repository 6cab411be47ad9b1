//! Sessions of packets from a seed: a CONNECT first (mostly well-formed, for the session's
//! version), then packets from the codec's `Arbitrary`, mostly client-to-server ones encoded
//! for the negotiated version, sometimes deliberately not, and some byte-mutated.

use arbitrary::{Arbitrary, Unstructured};
use mqtt_codec::{Connect, Packet, PacketType, ProtocolVersion};

use super::corpus::Recorded;
use super::{fields, mutate};
use crate::scenario::Version;

/// A small seeded PRNG (SplitMix64, Steele, Lea and Flood 2014): fast, and the same sequence
/// for the same seed on every platform, which is all the fuzzer needs for reproducible runs.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// The generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n.max(1) as u64).unwrap_or(0)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next_u64() % den < num
    }

    /// A random byte.
    pub fn byte(&mut self) -> u8 {
        self.next_u64().to_le_bytes()[0]
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
}

/// One write to the broker: the bytes and what they are.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The bytes on the wire.
    pub bytes: Vec<u8>,
    /// A description for transcripts and reports.
    pub what: String,
}

impl Frame {
    /// The packet type the first byte announces, for reports and deduplication.
    pub fn kind(&self) -> String {
        kind_of(&self.bytes)
    }
}

/// The packet type a frame's first byte announces ("reserved" for type 0, "empty").
pub fn kind_of(bytes: &[u8]) -> String {
    match bytes.first() {
        None => "empty".into(),
        Some(b) => PacketType::from_nibble(b >> 4).map_or("reserved".into(), |t| t.to_string()),
    }
}

/// One fuzz session: its frames, sent in order on one connection.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The version the session is for (the CONNECT's, and the one replies decode as).
    pub version: Version,
    /// The session's number in the run (it and the seed determine the frames).
    pub index: u64,
    /// The frames.
    pub frames: Vec<Frame>,
    /// Whether the first frame is a well-formed CONNECT of `version`: only then are the
    /// broker's replies judged by the protocol oracle.
    pub clean_connect: bool,
    /// Whether it replays a recorded session (`--corpus`) rather than a generated one.
    pub recorded: bool,
}

/// The session `index` of a run with `seed`, for `version`; `client_id` names the clean
/// CONNECT's client (unique per session, so no session state leaks between sessions).
pub fn session(seed: u64, index: u64, version: Version, client_id: &str) -> Plan {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
    let (first, clean_connect) = connect(&mut rng, version, client_id);
    let mut frames = vec![first];
    for _ in 0..1 + rng.below(8) {
        if let Some(mut f) = packet(&mut rng, version) {
            if rng.chance(1, 5) {
                mutate::bytes(&mut rng, &mut f, version.protocol());
            }
            frames.push(f);
        }
    }
    if frames.len() > 2 && rng.chance(1, 10) {
        mutate::order(&mut rng, &mut frames[1..]);
    }
    Plan {
        version,
        index,
        frames,
        clean_connect,
        recorded: false,
    }
}

/// The session `index` of a run with `seed` from a recorded session: its CONNECT (with
/// `client_id` and a clean start, so no state leaks between sessions) and its packets, a
/// third of them mutated field by field and some byte by byte, sometimes reordered.
pub fn recorded(seed: u64, index: u64, rec: &Recorded, client_id: &str) -> Plan {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
    let v = rec.version;
    let mut frames = Vec::with_capacity(rec.packets.len());
    let mut clean_connect = false;
    for (i, p) in rec.packets.iter().enumerate() {
        let mut p = p.clone();
        if let (0, Packet::Connect(c)) = (i, &mut p) {
            c.client_id = client_id.into();
            c.clean_start = true;
        }
        let what = format!("{} (recorded {})", crate::client::summary(&p), rec.name);
        let mutated = rng.chance(1, 3);
        let f = if mutated {
            fields::mutate(&mut rng, &p, v)
        } else {
            fields::frame(&p, v, what)
        };
        let Some(mut f) = f else { continue };
        // Only an unchanged CONNECT sent first lets the oracle judge the replies.
        clean_connect |= i == 0 && !mutated;
        if i > 0 && rng.chance(1, 10) {
            mutate::bytes(&mut rng, &mut f, v.protocol());
        }
        frames.push(f);
    }
    if frames.len() > 2 && rng.chance(1, 5) {
        mutate::order(&mut rng, &mut frames[1..]);
    }
    Plan {
        version: v,
        index,
        frames,
        clean_connect,
        recorded: true,
    }
}

/// The first frame: mostly a well-formed CONNECT with a fresh client id and a clean start,
/// sometimes an arbitrary one (any version, flags, will, properties), rarely byte-mutated.
/// The flag says whether it is the well-formed one, unmutated.
fn connect(rng: &mut Rng, v: Version, client_id: &str) -> (Frame, bool) {
    let arbitrary = if rng.chance(3, 20) {
        let data = rng.bytes(2048);
        Connect::arbitrary(&mut Unstructured::new(&data)).ok()
    } else {
        None
    };
    let odd = arbitrary.and_then(|c| encode(&Packet::from(c.clone()), c.protocol));
    let (mut frame, clean) = match odd {
        Some(f) => (f, false),
        None => {
            let c = Connect::new(v.protocol(), client_id);
            let frame = encode(&Packet::from(c), v.protocol()).unwrap_or_else(|| Frame {
                bytes: vec![0x10, 0x00],
                what: "CONNECT (empty)".into(),
            });
            (frame, true)
        }
    };
    if rng.chance(1, 20) {
        mutate::bytes(rng, &mut frame, v.protocol());
        return (frame, false);
    }
    (frame, clean)
}

/// What follows the CONNECT, by weight: mostly the client-to-server packets that build
/// state (subscriptions, messages in flight), rarely the ones that end a session
/// (DISCONNECT, a second CONNECT, 3.1.1 AUTH) or a server-only packet as a protocol error.
const KINDS: &[(PacketType, u64)] = &[
    (PacketType::Publish, 8),
    (PacketType::Subscribe, 6),
    (PacketType::Unsubscribe, 3),
    (PacketType::PubAck, 1),
    (PacketType::PubRec, 1),
    (PacketType::PubRel, 2),
    (PacketType::PubComp, 1),
    (PacketType::PingReq, 1),
    (PacketType::Disconnect, 1),
    (PacketType::Auth, 1),
    (PacketType::Connect, 1),
    (PacketType::ConnAck, 1),
];

fn kind(rng: &mut Rng) -> PacketType {
    let total: u64 = KINDS.iter().map(|(_, w)| w).sum();
    let mut pick = rng.next_u64() % total;
    for &(t, w) in KINDS {
        if pick < w {
            return t;
        }
        pick -= w;
    }
    PacketType::PingReq
}

/// A packet after the CONNECT: mostly one the strict codec accepts (so the session goes on
/// and reaches deeper states), sometimes one it rejects.
fn packet(rng: &mut Rng, v: Version) -> Option<Frame> {
    let mut last = None;
    for _ in 0..4 {
        let Some(f) = any_packet(rng, v) else {
            continue;
        };
        if decodes(&f.bytes, v) || rng.chance(1, 4) {
            return Some(f);
        }
        last = Some(f);
    }
    last
}

/// Whether the strict codec decodes `bytes` as exactly one packet of version `v`.
pub fn decodes(bytes: &[u8], v: Version) -> bool {
    let mut buf = bytes::BytesMut::from(bytes);
    matches!(
        mqtt_codec::Decoder::new(v.protocol()).decode(&mut buf),
        Ok(mqtt_codec::Decoded::Packet(_))
    ) && buf.is_empty()
}

/// An arbitrary packet of a weighted type, mostly encoded for `v`.
fn any_packet(rng: &mut Rng, v: Version) -> Option<Frame> {
    let data = rng.bytes(1024);
    let u = &mut Unstructured::new(&data);
    let mut t = kind(rng);
    if t == PacketType::Auth && !v.is_v5() && rng.chance(3, 4) {
        t = PacketType::PingReq;
    }
    let p = match t {
        PacketType::Publish => Packet::Publish(Arbitrary::arbitrary(u).ok()?),
        PacketType::Subscribe => Packet::Subscribe(Arbitrary::arbitrary(u).ok()?),
        PacketType::Unsubscribe => Packet::Unsubscribe(Arbitrary::arbitrary(u).ok()?),
        PacketType::PubAck => Packet::PubAck(Arbitrary::arbitrary(u).ok()?),
        PacketType::PubRec => Packet::PubRec(Arbitrary::arbitrary(u).ok()?),
        PacketType::PubRel => Packet::PubRel(Arbitrary::arbitrary(u).ok()?),
        PacketType::PubComp => Packet::PubComp(Arbitrary::arbitrary(u).ok()?),
        PacketType::Disconnect => Packet::Disconnect(Arbitrary::arbitrary(u).ok()?),
        PacketType::Auth => Packet::Auth(Arbitrary::arbitrary(u).ok()?),
        PacketType::PingReq => Packet::PingReq,
        // A second CONNECT or a server-only packet: any packet the codec can generate.
        _ => Packet::arbitrary(u).ok()?,
    };
    let mut p = p;
    if rng.chance(3, 4) {
        repair(&mut p, v, rng.chance(1, 2));
    }
    let wire = if rng.chance(1, 20) {
        other(v)
    } else {
        v.protocol()
    };
    encode(&p, wire)
}

/// Makes the codec's arbitrary strings and options mostly legal, so that the packet reaches
/// the broker's state machine instead of its parser: at most three filters, no U+0000, short
/// names, no wildcard in a PUBLISH topic, no 5.0-only option bits under 3.1.1, and (with
/// `drop_props`) no properties.
fn repair(p: &mut Packet, v: Version, drop_props: bool) {
    match p {
        Packet::Subscribe(s) => {
            s.filters.truncate(3);
            for f in &mut s.filters {
                f.filter = tidy(&f.filter, false);
                if !v.is_v5() {
                    f.options = mqtt_codec::SubscriptionOptions::qos(f.options.qos);
                }
            }
            if drop_props {
                s.properties = mqtt_codec::Properties::new();
            }
        }
        Packet::Unsubscribe(u) => {
            u.filters.truncate(3);
            for f in &mut u.filters {
                *f = tidy(f, false);
            }
            if drop_props {
                u.properties = mqtt_codec::Properties::new();
            }
        }
        Packet::Publish(pb) => {
            pb.topic = tidy(&pb.topic, true);
            if drop_props {
                pb.properties = mqtt_codec::Properties::new();
            }
        }
        _ => {}
    }
}

/// At most 32 characters, no U+0000 (nor wildcards for a topic name), never empty.
fn tidy(s: &str, name: bool) -> mqtt_codec::ByteString {
    let kept: String = s
        .chars()
        .filter(|c| *c != '\0' && !(name && matches!(c, '+' | '#')))
        .take(32)
        .collect();
    if kept.is_empty() {
        "a".into()
    } else {
        kept.into()
    }
}

fn other(v: Version) -> ProtocolVersion {
    match v {
        Version::V5_0 => Version::V3_1_1.protocol(),
        _ => Version::V5_0.protocol(),
    }
}

/// Larger frames only test how fast a broker discards bytes; the codec's "too long" fields
/// (over 64 KiB) fail to encode and are dropped here.
const MAX_FRAME: usize = 16 * 1024;

fn encode(p: &Packet, wire: ProtocolVersion) -> Option<Frame> {
    let bytes = p.to_bytes(wire).ok()?;
    (bytes.len() <= MAX_FRAME).then(|| Frame {
        bytes: bytes.to_vec(),
        what: crate::client::summary(p),
    })
}
