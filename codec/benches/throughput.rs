//! Codec throughput: our decoder and encoder against the MQTT codecs on crates.io.
//!
//! Run with `cargo bench -p mqtt-codec --bench throughput` (a plain `main`, no harness).
//!
//! # Streams
//!
//! Two client-to-server streams of 1,000,000 packets each are generated from a fixed seed by a
//! hand-written generator below, independent of every decoder (it borrows only our Variable
//! Byte Integer writer), so each decoder sees identical bytes. The mix, per mille:
//!
//! | packet                                   | ‰   |
//! |------------------------------------------|-----|
//! | PUBLISH QoS 0, 16 B payload              | 400 |
//! | PUBLISH QoS 0, 256 B payload             | 200 |
//! | PUBLISH QoS 0, 4096 B payload            |  50 |
//! | PUBLISH QoS 1, 16 or 256 B payload       | 150 |
//! | PUBACK                                   | 120 |
//! | PINGREQ                                  |  50 |
//! | SUBSCRIBE with 1–4 filters               |  30 |
//!
//! Topic names and filters come from a pool of 1024 valid names of 20–60 ASCII characters (no
//! wildcards). The 3.1.1 stream uses the 3.1.1 wire format; the 5.0 stream is the same mix in
//! the 5.0 format, with every PUBLISH carrying a Payload Format Indicator (payloads are ASCII),
//! a Message Expiry Interval, a Content Type and two User Properties.
//!
//! # Codecs
//!
//! - ours: `mqtt_codec::Decoder` (every receiver-side check) and `Packet::encode`;
//! - rumqttc 0.25 `mqttbytes` (`rumqttc::mqttbytes::v4::Packet::read`,
//!   `rumqttc::v5::mqttbytes::v5::Packet::read`);
//! - rumqttd 0.20 `protocol` (`V4` / `V5` through the `Protocol` trait, whose read method is
//!   `read_mut(&mut self, &mut BytesMut, max_size)`);
//! - mqttrs 0.4 `decode_slice` (3.1.1 only, so it runs on the 3.1.1 stream only).
//!
//! rumqttc and rumqttd are built without default features (no TLS or websocket stack).
//!
//! # Measurement
//!
//! Each decoder is fed its stream the way a socket reader would be: 64 KiB at a time appended
//! to a `BytesMut`, decoding every complete packet after each append. Each codec/stream pair
//! gets one warm-up run and then [`RUNS`] timed runs; the median is reported (with the fastest
//! and slowest run). Every run must decode exactly 1,000,000 packets and leave no bytes behind,
//! so a codec that silently skips or merges packets fails the bench. Our encoder is timed on the
//! packets our decoder produced, written into a buffer that is flushed every 64 KiB; before
//! timing, a note is printed if writing them back does not reproduce the stream byte for byte.
//! The last lines are the ratio of our decode rate to the fastest peer's, per stream.
//!
//! Ours is timed twice: `Decoder::decode` into owned packets (like every peer), and
//! `Decoder::decode_borrowed`, the same validation with PUBLISH packets handed back as views
//! into the read buffer. A "framing only" line (64 KiB reads and fixed-header framing, no
//! parsing) shows the floor every decoder stands on; a "(+ topic UTF-8)" line adds only the
//! UTF-8 check of each PUBLISH topic, a bound on any decoder that validates topics and hands
//! them out as `&str`, printed as a ratio to the fastest peer before the ratios.
//!
//! MB is 10^6 bytes. Numbers on a shared 2-core machine are noisy; compare within one run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use mqtt_codec::{
    Borrowed, Decoded, Decoder, FixedHeader, Packet, PacketType, ProtocolVersion, varint,
};

/// Packets per stream.
const PACKETS: usize = 1_000_000;
/// Size of one simulated socket read.
const CHUNK: usize = 64 * 1024;
/// Timed runs per codec and stream (after one warm-up run).
const RUNS: usize = 5;
/// Seed of the stream generator; both streams use it, so they share their packet sequence.
const SEED: u64 = 0x6d71_7474_2d62_656e;
/// Maximum packet size handed to the codecs that ask for one.
const MAX_PACKET: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Seeded random numbers: SplitMix64, enough for a reproducible packet mix.

struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (the modulo bias is irrelevant here).
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n as u64).expect("below n fits usize")
    }

    /// A number in `lo..=hi`.
    fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// Stream generator: writes the wire format directly, without any codec.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wire {
    V3_1_1,
    V5_0,
}

/// What one generated stream holds, for the header and a sanity check of the mix.
#[derive(Default, Debug, PartialEq, Eq)]
struct Mix {
    publish_qos0: usize,
    publish_qos1: usize,
    puback: usize,
    pingreq: usize,
    subscribe: usize,
}

impl Mix {
    fn total(&self) -> usize {
        self.publish_qos0 + self.publish_qos1 + self.puback + self.pingreq + self.subscribe
    }
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_u16(
        out,
        u16::try_from(s.len()).expect("string fits a u16 length"),
    );
    out.extend_from_slice(s);
}

/// Variable Byte Integer, written by the codec's writer (the bytes are the spec's, whoever
/// writes them).
fn put_varint(out: &mut Vec<u8>, v: usize) {
    let v = u32::try_from(v)
        .ok()
        .filter(|&v| v <= mqtt_codec::MAX_VARINT);
    varint::write(out, v.expect("varint out of range"));
}

/// Appends a packet: first byte, remaining length, then `body`.
fn put_packet(out: &mut Vec<u8>, first_byte: u8, body: &[u8]) {
    out.push(first_byte);
    put_varint(out, body.len());
    out.extend_from_slice(body);
}

/// 1024 distinct topic names of 20–60 characters: `/`-separated levels of `[a-z0-9_-]`, never an
/// empty level, no wildcards, no leading `$`.
fn topic_pool(rng: &mut SplitMix64) -> Vec<Vec<u8>> {
    const LEVEL_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut pool: Vec<Vec<u8>> = Vec::with_capacity(1024);
    while pool.len() < 1024 {
        let len = rng.between(20, 60);
        let mut topic = Vec::with_capacity(len);
        while topic.len() < len {
            let level_end = topic.last().is_some_and(|&c| c != b'/');
            if level_end && topic.len() + 1 < len && rng.below(8) == 0 {
                topic.push(b'/');
            } else {
                topic.push(*rng.pick(LEVEL_CHARS));
            }
        }
        if !pool.contains(&topic) {
            pool.push(topic);
        }
    }
    pool
}

/// Generates the 1,000,000-packet stream for `wire`.
fn generate(wire: Wire) -> (Vec<u8>, Mix) {
    let mut rng = SplitMix64(SEED);
    // The 5.0 properties draw from their own generator, so both streams have the same packet
    // sequence (types, topics, payloads, packet identifiers).
    let mut prop_rng = SplitMix64(!SEED);
    let topics = topic_pool(&mut rng);
    // Payloads are slices of one block of printable ASCII, so the 5.0 Payload Format
    // Indicator (UTF-8) is truthful.
    let text: Vec<u8> = (0..8192)
        .map(|_| u8::try_from(rng.between(0x20, 0x7e)).expect("printable ASCII"))
        .collect();
    const CONTENT_TYPES: [&str; 3] = ["text/plain; charset=utf-8", "application/json", "text/csv"];
    const HEX: &[u8] = b"0123456789abcdef";

    let mut out = Vec::with_capacity(400 * PACKETS);
    let mut body = Vec::with_capacity(8192);
    let mut mix = Mix::default();
    let mut next_pid: u16 = 0;
    let mut pid = move || {
        next_pid = next_pid.checked_add(1).unwrap_or(1);
        next_pid
    };

    for _ in 0..PACKETS {
        body.clear();
        let roll = rng.below(1000);
        let publish = match roll {
            0..400 => Some((0u8, 16)),
            400..600 => Some((0, 256)),
            600..650 => Some((0, 4096)),
            650..800 => Some((1, if rng.below(2) == 0 { 16 } else { 256 })),
            _ => None,
        };
        if let Some((qos, payload_len)) = publish {
            put_str(&mut body, rng.pick(&topics).as_slice());
            if qos == 1 {
                put_u16(&mut body, pid());
                mix.publish_qos1 += 1;
            } else {
                mix.publish_qos0 += 1;
            }
            if wire == Wire::V5_0 {
                let mut props = Vec::with_capacity(96);
                props.extend_from_slice(&[0x01, 0x01]); // Payload Format Indicator: UTF-8
                props.push(0x02); // Message Expiry Interval
                put_u32(
                    &mut props,
                    u32::try_from(prop_rng.between(60, 86_400)).expect("expiry fits u32"),
                );
                props.push(0x03); // Content Type
                put_str(&mut props, prop_rng.pick(&CONTENT_TYPES).as_bytes());
                props.push(0x26); // User Property
                put_str(&mut props, b"device");
                put_str(
                    &mut props,
                    format!("sensor-{:04}", prop_rng.below(10_000)).as_bytes(),
                );
                props.push(0x26); // User Property
                put_str(&mut props, b"trace-id");
                let trace: Vec<u8> = (0..16).map(|_| *prop_rng.pick(HEX)).collect();
                put_str(&mut props, &trace);
                put_varint(&mut body, props.len());
                body.extend_from_slice(&props);
            }
            let start = rng.below(text.len() - payload_len);
            body.extend_from_slice(&text[start..start + payload_len]);
            put_packet(&mut out, 0x30 | (qos << 1), &body);
        } else if roll < 920 {
            // PUBACK: packet identifier only (in 5.0 this short form means Success, no
            // properties).
            put_u16(&mut body, pid());
            put_packet(&mut out, 0x40, &body);
            mix.puback += 1;
        } else if roll < 970 {
            put_packet(&mut out, 0xc0, &[]);
            mix.pingreq += 1;
        } else {
            put_u16(&mut body, pid());
            if wire == Wire::V5_0 {
                body.push(0); // no properties
            }
            for _ in 0..rng.between(1, 4) {
                put_str(&mut body, rng.pick(&topics).as_slice());
                // 3.1.1: requested QoS; 5.0: subscription options with only the QoS bits set.
                body.push(u8::from(rng.below(2) == 1));
            }
            put_packet(&mut out, 0x82, &body);
            mix.subscribe += 1;
        }
    }
    assert_eq!(mix.total(), PACKETS);
    (out, mix)
}

// ---------------------------------------------------------------------------------------------
// Feeding a decoder the way a socket reader does.

/// Appends `stream` to a buffer 64 KiB at a time and, after each append, calls `decode_one`
/// until it reports that no complete packet is left. `decode_one` returns `true` after decoding
/// (and consuming) one packet and `false` when the buffer holds no complete packet; it panics on
/// a decode error. Returns the number of packets decoded.
fn feed(stream: &[u8], mut decode_one: impl FnMut(&mut BytesMut) -> bool) -> usize {
    let mut buf = BytesMut::with_capacity(2 * CHUNK);
    let mut count = 0;
    for chunk in stream.chunks(CHUNK) {
        buf.extend_from_slice(chunk);
        while decode_one(&mut buf) {
            count += 1;
        }
    }
    assert!(buf.is_empty(), "{} bytes left undecoded", buf.len());
    count
}

/// Length of the first packet in `buf` (fixed header included), if all of it is there.
/// Needed for mqttrs, whose `decode_slice` does not say how much it consumed.
fn complete_frame_len(buf: &[u8]) -> Option<usize> {
    let len = fixed_header(buf)?.packet_len();
    (buf.len() >= len).then_some(len)
}

/// The fixed header at the front of `buf`, once it is complete.
fn fixed_header(buf: &[u8]) -> Option<FixedHeader> {
    FixedHeader::parse(buf).expect("the streams are valid")
}

// ---------------------------------------------------------------------------------------------
// Our codec. One small function per stream and direction, on top of two shared helpers.

/// Our decoded packets of one stream, the input of the encode benchmark.
type OursPackets = Vec<Packet>;

/// Decodes with `mqtt_codec::Decoder` (full validation), calling `sink` on every packet.
fn ours_feed(stream: &[u8], version: ProtocolVersion, mut sink: impl FnMut(Packet)) -> usize {
    let mut decoder = Decoder::new(version).with_max_packet_size(MAX_PACKET);
    feed(stream, |buf| match decoder.decode(buf) {
        Ok(Decoded::Packet(packet)) => {
            sink(packet);
            true
        }
        Ok(Decoded::Incomplete) => false,
        Err(e) => panic!("ours {version}: {e}"),
    })
}

/// Writes `packets` into a buffer that is flushed (cleared) whenever it holds 64 KiB, as a
/// socket writer would; returns the bytes written.
fn ours_encode(packets: &[Packet], version: ProtocolVersion) -> usize {
    let mut out = BytesMut::with_capacity(2 * CHUNK);
    let mut written = 0;
    for packet in packets {
        packet.encode(version, &mut out).expect("ours: encode");
        if out.len() >= CHUNK {
            written += black_box(&out).len();
            out.clear();
        }
    }
    written + black_box(&out).len()
}

/// Decodes a stream once (untimed) into the packets the encode benchmark writes, and says
/// whether writing them back reproduces the stream byte for byte.
fn ours_packets(stream: &[u8], version: ProtocolVersion) -> OursPackets {
    let mut packets = Vec::with_capacity(PACKETS);
    ours_feed(stream, version, |packet| packets.push(packet));
    let mut again = BytesMut::with_capacity(stream.len());
    for packet in &packets {
        packet.encode(version, &mut again).expect("ours: encode");
    }
    match again.iter().zip(stream).position(|(a, b)| a != b) {
        None if again.len() == stream.len() => {}
        at => println!(
            "note: ours re-encodes the {version} stream differently (first difference at byte {}, {} bytes vs {})",
            at.unwrap_or(again.len().min(stream.len())),
            again.len(),
            stream.len(),
        ),
    }
    packets
}

fn decode_ours_v4(stream: &[u8]) -> usize {
    ours_feed(stream, ProtocolVersion::V3_1_1, |packet| {
        black_box(packet);
    })
}

fn decode_ours_v5(stream: &[u8]) -> usize {
    ours_feed(stream, ProtocolVersion::V5_0, |packet| {
        black_box(packet);
    })
}

/// Decodes with `Decoder::decode_borrowed` (the same checks): PUBLISH packets are validated
/// in place and borrow from the read buffer; the buffer is advanced past each packet.
fn ours_feed_borrowed(stream: &[u8], version: ProtocolVersion) -> usize {
    let mut decoder = Decoder::new(version).with_max_packet_size(MAX_PACKET);
    feed(stream, |buf| {
        let len = match decoder.decode_borrowed(buf) {
            Ok(Borrowed::Publish(publish, len)) => {
                black_box(publish);
                len
            }
            Ok(Borrowed::Packet(packet, len)) => {
                black_box(packet);
                len
            }
            Ok(Borrowed::Incomplete) => return false,
            Err(e) => panic!("ours borrowed {version}: {e}"),
        };
        buf.advance(len);
        true
    })
}

fn decode_ours_borrowed_v4(stream: &[u8]) -> usize {
    ours_feed_borrowed(stream, ProtocolVersion::V3_1_1)
}

fn decode_ours_borrowed_v5(stream: &[u8]) -> usize {
    ours_feed_borrowed(stream, ProtocolVersion::V5_0)
}

/// The floor every decoder stands on: 64 KiB reads and fixed-header framing, no parsing.
fn framing_only(stream: &[u8]) -> usize {
    feed(stream, |buf| match complete_frame_len(buf) {
        Some(len) => {
            buf.advance(len);
            true
        }
        None => false,
    })
}

/// A bound on any decoder that hands out the PUBLISH topic as a `&str` (mqttrs does; so do we):
/// the framing floor plus the UTF-8 check of each PUBLISH topic (here the ASCII check, as
/// quick as a safe check gets), and nothing else. No other field is parsed or checked (no
/// wildcard or U+0000 scan, no 5.0 properties), so such a decoder can only be slower; and a
/// strict one may not skip the UTF-8 check (MQTT-1.5.3-1).
fn topic_utf8_floor(stream: &[u8]) -> usize {
    feed(stream, |buf| {
        let Some(header) = fixed_header(buf) else {
            return false;
        };
        let len = header.packet_len();
        if buf.len() < len {
            return false;
        }
        if header.packet_type == PacketType::Publish {
            let body = &buf[header.header_len..len];
            let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
            let topic = body.get(2..2 + topic_len).expect("topic within the packet");
            // The quickest safe check there is for the ASCII topics of the streams (ours too).
            let topic = ascii::AsciiStr::from_ascii(topic).map(ascii::AsciiStr::as_str);
            black_box(topic.expect("the streams are valid"));
        }
        buf.advance(len);
        true
    })
}

fn packets_ours_v4(stream: &[u8]) -> OursPackets {
    ours_packets(stream, ProtocolVersion::V3_1_1)
}

fn packets_ours_v5(stream: &[u8]) -> OursPackets {
    ours_packets(stream, ProtocolVersion::V5_0)
}

fn encode_ours_v4(packets: &OursPackets) -> usize {
    ours_encode(packets, ProtocolVersion::V3_1_1)
}

fn encode_ours_v5(packets: &OursPackets) -> usize {
    ours_encode(packets, ProtocolVersion::V5_0)
}

// ---------------------------------------------------------------------------------------------
// Peer codecs.

fn decode_rumqttc_v4(stream: &[u8]) -> usize {
    use rumqttc::mqttbytes::{Error, v4::Packet};
    feed(stream, |buf| match Packet::read(buf, MAX_PACKET) {
        Ok(packet) => {
            black_box(packet);
            true
        }
        Err(Error::InsufficientBytes(_)) => false,
        Err(e) => panic!("rumqttc v4: {e}"),
    })
}

fn decode_rumqttc_v5(stream: &[u8]) -> usize {
    use rumqttc::v5::mqttbytes::{Error, v5::Packet};
    let max = Some(u32::try_from(MAX_PACKET).expect("limit fits u32"));
    feed(stream, |buf| match Packet::read(buf, max) {
        Ok(packet) => {
            black_box(packet);
            true
        }
        Err(Error::InsufficientBytes(_)) => false,
        Err(e) => panic!("rumqttc v5: {e}"),
    })
}

fn decode_rumqttd_v4(stream: &[u8]) -> usize {
    use rumqttd::protocol::{Error, Protocol, v4::V4};
    let mut protocol = V4;
    feed(stream, |buf| match protocol.read_mut(buf, MAX_PACKET) {
        Ok(packet) => {
            black_box(packet);
            true
        }
        Err(Error::InsufficientBytes(_)) => false,
        Err(e) => panic!("rumqttd v4: {e}"),
    })
}

fn decode_rumqttd_v5(stream: &[u8]) -> usize {
    use rumqttd::protocol::{Error, Protocol, v5::V5};
    let mut protocol = V5;
    feed(stream, |buf| match protocol.read_mut(buf, MAX_PACKET) {
        Ok(packet) => {
            black_box(packet);
            true
        }
        Err(Error::InsufficientBytes(_)) => false,
        Err(e) => panic!("rumqttd v5: {e}"),
    })
}

/// mqttrs speaks 3.1.1 only. Its `decode_slice` borrows the buffer and does not report the
/// consumed length, so the frame length is read from the fixed header here (a few byte reads)
/// and the buffer advanced past it.
fn decode_mqttrs_v4(stream: &[u8]) -> usize {
    feed(stream, |buf| {
        let Some(len) = complete_frame_len(buf) else {
            return false;
        };
        match mqttrs::decode_slice(&buf[..len]) {
            Ok(Some(packet)) => {
                black_box(packet);
            }
            Ok(None) => panic!("mqttrs: complete frame reported incomplete"),
            Err(e) => panic!("mqttrs: {e:?}"),
        }
        buf.advance(len);
        true
    })
}

// ---------------------------------------------------------------------------------------------
// Timing and reporting.

struct Timing {
    median: Duration,
    best: Duration,
    worst: Duration,
}

/// One warm-up run and [`RUNS`] timed runs of `run`, each of which must return `expected`.
fn time_runs(what: &str, expected: usize, mut run: impl FnMut() -> usize) -> Timing {
    assert_eq!(black_box(run()), expected, "{what}: warm-up count");
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let n = black_box(run());
            let elapsed = start.elapsed();
            assert_eq!(n, expected, "{what}: count");
            elapsed
        })
        .collect();
    times.sort();
    Timing {
        median: times[RUNS / 2],
        best: times[0],
        worst: times[RUNS - 1],
    }
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

/// Prints one table row; returns packets per second at the median.
fn report(codec: &str, stream: &str, bytes: usize, t: &Timing) -> f64 {
    let secs = t.median.as_secs_f64();
    let pps = PACKETS as f64 / secs;
    println!(
        "{codec:<18} {stream:<6} {:>8.2} M pkt/s {:>9.1} MB/s   median {:>7.1} ms (best {:.1}, worst {:.1})",
        pps / 1e6,
        mb(bytes) / secs,
        secs * 1e3,
        t.best.as_secs_f64() * 1e3,
        t.worst.as_secs_f64() * 1e3,
    );
    pps
}

type DecodeFn = fn(&[u8]) -> usize;

struct StreamSpec {
    label: &'static str,
    wire: Wire,
    ours_decode: DecodeFn,
    ours_borrowed: DecodeFn,
    ours_packets: fn(&[u8]) -> OursPackets,
    ours_encode: fn(&OursPackets) -> usize,
    peers: &'static [(&'static str, DecodeFn)],
}

const STREAMS: [StreamSpec; 2] = [
    StreamSpec {
        label: "3.1.1",
        wire: Wire::V3_1_1,
        ours_decode: decode_ours_v4,
        ours_borrowed: decode_ours_borrowed_v4,
        ours_packets: packets_ours_v4,
        ours_encode: encode_ours_v4,
        peers: &[
            ("rumqttc mqttbytes", decode_rumqttc_v4),
            ("rumqttd protocol", decode_rumqttd_v4),
            ("mqttrs", decode_mqttrs_v4),
        ],
    },
    StreamSpec {
        label: "5.0",
        wire: Wire::V5_0,
        ours_decode: decode_ours_v5,
        ours_borrowed: decode_ours_borrowed_v5,
        ours_packets: packets_ours_v5,
        ours_encode: encode_ours_v5,
        peers: &[
            ("rumqttc mqttbytes", decode_rumqttc_v5),
            ("rumqttd protocol", decode_rumqttd_v5),
        ],
    },
];

fn main() {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());

    let streams: Vec<(&StreamSpec, Vec<u8>, Mix)> = STREAMS
        .iter()
        .map(|spec| {
            let (bytes, mix) = generate(spec.wire);
            (spec, bytes, mix)
        })
        .collect();
    assert_eq!(
        streams[0].2, streams[1].2,
        "both streams carry the same packet sequence"
    );

    // `MQTT_BENCH_ONCE=1` runs each of our decoders (and the framing floor) once per stream,
    // untimed: for counting instructions, e.g. under `valgrind --tool=callgrind`, where the
    // inclusive cost of `decode_ours_*`, `framing_only` and `decode_mqttrs_v4` per stream is
    // what to compare.
    if std::env::var_os("MQTT_BENCH_ONCE").is_some() {
        for (spec, bytes, _) in &streams {
            let counts = [
                (spec.ours_decode)(bytes),
                (spec.ours_borrowed)(bytes),
                framing_only(bytes),
            ];
            println!("{}: {counts:?}", spec.label);
        }
        println!("mqttrs 3.1.1: {}", decode_mqttrs_v4(&streams[0].1));
        return;
    }

    // `MQTT_BENCH_PROFILE=1` runs only our decoder, repeatedly, for a profiler to look at.
    if std::env::var_os("MQTT_BENCH_PROFILE").is_some() {
        for (spec, bytes, _) in &streams {
            for _ in 0..2 {
                let t = time_runs("ours", PACKETS, || (spec.ours_decode)(bytes));
                report("ours", spec.label, bytes.len(), &t);
                let t = time_runs("ours borrowed", PACKETS, || (spec.ours_borrowed)(bytes));
                report("ours borrowed", spec.label, bytes.len(), &t);
                let t = time_runs("framing only", PACKETS, || framing_only(bytes));
                report("framing only", spec.label, bytes.len(), &t);
            }
        }
        return;
    }

    println!(
        "codec throughput: {cores} cores ({cpu}), {RUNS} timed runs + 1 warm-up, median reported"
    );
    for (spec, bytes, mix) in &streams {
        println!(
            "stream {:<5}: {PACKETS} packets, {:.1} MB (PUBLISH QoS0 {}, QoS1 {}, PUBACK {}, PINGREQ {}, SUBSCRIBE {}), fed in {} KiB reads",
            spec.label,
            mb(bytes.len()),
            mix.publish_qos0,
            mix.publish_qos1,
            mix.puback,
            mix.pingreq,
            mix.subscribe,
            CHUNK / 1024,
        );
    }
    println!();
    println!("decode");

    let mut ratios = Vec::new();
    for (spec, bytes, _) in &streams {
        let stream = bytes.as_slice();
        let t = time_runs("framing only", PACKETS, || framing_only(stream));
        report("(framing only)", spec.label, stream.len(), &t);
        let t = time_runs("topic UTF-8", PACKETS, || topic_utf8_floor(stream));
        let floor = report("(+ topic UTF-8)", spec.label, stream.len(), &t);
        let t = time_runs("ours", PACKETS, || (spec.ours_decode)(stream));
        let ours = report("ours", spec.label, stream.len(), &t);
        let t = time_runs("ours borrowed", PACKETS, || (spec.ours_borrowed)(stream));
        let borrowed = report("ours borrowed", spec.label, stream.len(), &t);
        let mut fastest: Option<(&str, f64)> = None;
        for &(name, decode) in spec.peers {
            let t = time_runs(name, PACKETS, || decode(stream));
            let pps = report(name, spec.label, stream.len(), &t);
            if fastest.is_none_or(|(_, best)| pps > best) {
                fastest = Some((name, pps));
            }
        }
        ratios.push((
            spec.label,
            ours,
            borrowed,
            floor,
            fastest.expect("every stream has a peer"),
        ));
    }

    println!();
    println!("encode");
    for (spec, bytes, _) in &streams {
        let packets = (spec.ours_packets)(bytes);
        let written = (spec.ours_encode)(&packets);
        let t = time_runs("ours encode", written, || (spec.ours_encode)(&packets));
        report("ours", spec.label, written, &t);
    }

    println!();
    // The bound any strict decoder stands under, for reading the ratios against.
    for (label, _, _, floor, (peer, peer_pps)) in &ratios {
        println!(
            "floor {label:<5}: framing + topic UTF-8 check alone / fastest peer ({peer}) = {:.2}",
            floor / peer_pps,
        );
    }
    // "ours" decodes into owned packets, like every peer; "ours borrowed" validates the same
    // way but hands PUBLISH packets back as views into the read buffer.
    for (label, ours, borrowed, _, (peer, peer_pps)) in ratios {
        println!(
            "ratio {label:<5}: ours / fastest peer ({peer}) = {:.2}; ours borrowed / fastest peer = {:.2}",
            ours / peer_pps,
            borrowed / peer_pps,
        );
    }
}
