//! Writes the seed corpora in `fuzz/corpus/<target>/`, one small file per seed, named
//! `seed-*` (the only corpus files git tracks).
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml -p mqtt-fuzz-seeds -- fuzz/corpus
//! ```
//!
//! Seeds are encoded with the codec from `mqtt_codec::fuzzing::seed_packets`: every packet
//! type under every version, a whole session per version as one stream, and a few malformed
//! packets that broker fuzzing has found crashes with. The `packet` target's input is not
//! wire bytes but `Arbitrary` choices, so its seeds come from a short fuzzing run instead (see
//! fuzz/README.md).

use std::fs;
use std::io;
use std::path::Path;

use mqtt_codec::fuzzing::{VERSIONS, seed_packets};
use mqtt_codec::{Packet, ProtocolVersion};

/// Malformed packets worth starting from, each a past bug somewhere or an edge of the spec.
const MALFORMED: &[(&str, &[u8])] = &[
    // PUBLISH with a zero-length topic and no alias (mosquitto CVE-2021-34432).
    ("publish-empty-topic", &[0x30, 0x02, 0x00, 0x00]),
    // Remaining length of five bytes.
    ("varint-five-bytes", &[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
    // Remaining length 0 encoded in two bytes.
    ("varint-non-minimal", &[0xc0, 0x80, 0x00]),
    // The largest remaining length, with no body.
    ("remaining-length-max", &[0x30, 0xff, 0xff, 0xff, 0x7f]),
    // Reserved packet type 0 and reserved flags on SUBSCRIBE.
    ("reserved-type", &[0x00, 0x00]),
    (
        "subscribe-bad-flags",
        &[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00],
    ),
    // A string length running past the packet.
    ("topic-past-end", &[0x30, 0x04, 0x00, 0x10, b'a', b'b']),
    // A UTF-16 surrogate (ED A0 80) in a topic.
    (
        "topic-surrogate",
        &[0x30, 0x05, 0x00, 0x03, 0xed, 0xa0, 0x80],
    ),
    // 5.0 property length running past the packet.
    (
        "v5-property-length-past-end",
        &[0x30, 0x06, 0x00, 0x01, b'a', 0x7f, 0x01, 0x01],
    ),
];

fn version_tag(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::V3_1 => "v31",
        ProtocolVersion::V3_1_1 => "v311",
        _ => "v5",
    }
}

fn type_tag(p: &Packet) -> String {
    p.packet_type().to_string().to_lowercase()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join(format!("seed-{name}")), bytes)
}

fn main() -> io::Result<()> {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus".into());
    let root = Path::new(&root);
    let mut count = 0;
    for (vi, version) in VERSIONS.into_iter().enumerate() {
        let v = version_tag(version);
        let mut session = Vec::new();
        for (i, packet) in seed_packets(version).iter().enumerate() {
            let bytes = packet
                .to_bytes(version)
                .map_err(|e| io::Error::other(e.to_string()))?;
            let name = format!("{v}-{i:02}-{}", type_tag(packet));
            for target in ["decode", "roundtrip"] {
                write(&root.join(target), &name, &bytes)?;
            }
            session.extend_from_slice(&bytes);
            count += 1;
        }
        for target in ["decode", "roundtrip"] {
            write(&root.join(target), &format!("{v}-session"), &session)?;
        }
        // framing: control byte (version index, follow CONNECT), no size limit, then chunk
        // lengths that cut the session inside headers, bodies and between packets.
        let vi = u8::try_from(vi).unwrap_or(0);
        let mut framing = vec![0x04 | vi, 0, 6, 1, 1, 3, 0, 7, 64];
        framing.extend_from_slice(&session);
        write(&root.join("framing"), &format!("{v}-session"), &framing)?;
        // The same with a small maximum packet size, so the limit cuts in mid-stream.
        framing[1] = 40;
        write(
            &root.join("framing"),
            &format!("{v}-session-max40"),
            &framing,
        )?;
    }
    for (name, bytes) in MALFORMED {
        for target in ["decode", "roundtrip"] {
            write(&root.join(target), &format!("malformed-{name}"), bytes)?;
        }
        let mut framing = vec![0x02, 0, 2, 1, 2];
        framing.extend_from_slice(bytes);
        write(
            &root.join("framing"),
            &format!("malformed-{name}"),
            &framing,
        )?;
    }
    println!(
        "wrote {count} packets and {} malformed seeds under {}",
        MALFORMED.len(),
        root.display()
    );
    Ok(())
}
