//! Writes the seed corpora in `fuzz/corpus/<target>/`, one small file per seed, named
//! `seed-*` (the only corpus files git tracks).
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml -p mqtt-fuzz-seeds -- fuzz/corpus
//! cargo run --manifest-path fuzz/Cargo.toml -p mqtt-fuzz-seeds -- fuzz/corpus --transcripts DIR
//! ```
//!
//! Seeds are encoded with the codec from `mqtt_codec::fuzzing::seed_packets`: every packet
//! type under every version, a whole session per version as one stream, and a few malformed
//! packets that broker fuzzing has found crashes with. The `packet` target's input is not
//! wire bytes but `Arbitrary` choices, so its seeds come from a short fuzzing run instead (see
//! fuzz/README.md). The `engine` seeds are short action scripts (below), and the `scenario`
//! seeds copies of the scenario files under `scenarios/`.

use std::fs;
use std::io;
use std::path::Path;

use mqtt_codec::fuzzing::{VERSIONS, seed_packets};
use mqtt_codec::{Packet, ProtocolVersion};

mod transcripts;

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

/// Action scripts for the `engine` target, in the byte format of
/// `mqtt_reference_broker::fuzzing::actions_from_bytes`: a tag byte (mod 9) and its fields.
///
/// ```text
/// 0 client version flags(1 clean, 2 will) keep_alive session_expiry receive_maximum  CONNECT
/// 1 client len bytes…                   raw bytes      5 client          ack what arrived
/// 2 client filter qos                   SUBSCRIBE      6 client          DISCONNECT
/// 3 client filter                       UNSUBSCRIBE    7 client          drop the socket
/// 4 client topic qos retain             PUBLISH        8 quarter-seconds advance the clock
/// ```
///
/// Filters: 0 `a/#`, 1 `a/+`, 2 `+/b`, 3 `#`, 4 `$share/g/a/b`, 5 `a/b`, 6 `$SYS/#`.
/// Topics: 0 `a`, 1 `a/b`, 2 `a/b/c`, 3 `$SYS/x`, 4 `b`. A filter or topic byte with the high
/// bit set is followed by a shape and a size byte (the topic grammar, fuzz/README.md); flag 4
/// of CONNECT adds a will whose topic bytes follow the CONNECT's fields.
const ENGINE: &[(&str, &[u8])] = &[
    // Two 5.0 clients, a QoS 2 exchange through a wildcard, acks, then a clean and an abrupt end.
    (
        "qos2-flow",
        &[
            0, 0, 2, 1, 60, 0, 0, 0, 1, 2, 1, 60, 0, 0, 2, 1, 0, 2, 4, 0, 1, 2, 0, 5, 0, 5, 1, 5,
            1, 5, 0, 8, 4, 6, 0, 7, 1,
        ],
    ),
    // A 3.1.1 persistent session queues QoS 1 messages while offline and gets them back.
    (
        "persistent-session",
        &[
            0, 1, 1, 0, 60, 0, 0, 2, 1, 3, 1, 7, 1, 0, 0, 1, 1, 60, 0, 0, 4, 0, 1, 1, 0, 4, 0, 2,
            1, 0, 4, 0, 0, 1, 1, 0, 1, 1, 0, 60, 0, 0, 5, 1, 5, 1,
        ],
    ),
    // A will published when its client's socket drops; a subscriber sees it.
    (
        "will-on-drop",
        &[
            0, 0, 2, 3, 60, 0, 0, 0, 1, 2, 1, 60, 0, 0, 2, 1, 0, 1, 7, 0, 8, 8, 5, 1,
        ],
    ),
    // Two members of a shared subscription and a burst of QoS 1 messages.
    (
        "shared-subscription",
        &[
            0, 0, 2, 1, 60, 0, 0, 0, 1, 2, 1, 60, 0, 0, 0, 2, 2, 1, 60, 0, 0, 2, 1, 4, 1, 2, 2, 4,
            1, 4, 0, 1, 1, 0, 4, 0, 1, 1, 0, 4, 0, 1, 1, 0, 5, 1, 5, 2,
        ],
    ),
    // Keep alive of one second, then five seconds of silence.
    ("keep-alive-expiry", &[0, 0, 2, 1, 1, 0, 0, 8, 20, 5, 0]),
    // Receive Maximum 1 against five QoS 1 messages, acked one at a time.
    (
        "receive-maximum",
        &[
            0, 1, 2, 1, 60, 30, 1, 2, 1, 5, 1, 0, 0, 2, 1, 60, 0, 0, 4, 0, 1, 1, 0, 4, 0, 1, 1, 0,
            4, 0, 1, 1, 0, 4, 0, 1, 1, 0, 4, 0, 1, 1, 0, 5, 1, 5, 1, 5, 1, 5, 1, 5, 1,
        ],
    ),
    // Retained messages at QoS 1 and 2, then a late subscriber that receives them.
    (
        "retained",
        &[
            0, 0, 2, 1, 60, 0, 0, 4, 0, 1, 1, 1, 4, 0, 2, 2, 1, 0, 1, 2, 1, 60, 0, 0, 2, 1, 0, 2,
            5, 1, 5, 1, 5, 0,
        ],
    ),
    // Raw bytes: a 5.0 CONNECT, then a PUBLISH with a Topic Alias and an empty topic.
    (
        "raw-topic-alias",
        &[
            1, 3, 18, 0x10, 0x10, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3c, 0x03,
            0x22, 0x00, 0x0a, 0x00, 0x00, 1, 3, 9, 0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01,
            b'x',
        ],
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

/// A `decode` seed: the byte that picks `VERSIONS[index]`, then the stream.
fn with_version(index: usize, stream: &[u8]) -> Vec<u8> {
    let mut seed = vec![u8::try_from(index).unwrap_or(0)];
    seed.extend_from_slice(stream);
    seed
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join(format!("seed-{name}")), bytes)
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mqtt-fuzz-seeds: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = args.first().map_or("fuzz/corpus", String::as_str);
    let root = Path::new(root);
    match args.get(1..) {
        Some([flag, dir]) if flag == "--transcripts" => {
            return transcripts::write_seeds(Path::new(dir), root);
        }
        None | Some([]) => {}
        Some(_) => {
            return Err(io::Error::other(
                "usage: mqtt-fuzz-seeds [CORPUS_DIR] [--transcripts DIR]",
            ));
        }
    }
    let mut count = 0;
    for (vi, version) in VERSIONS.into_iter().enumerate() {
        let v = version_tag(version);
        let mut session = Vec::new();
        for (i, packet) in seed_packets(version).iter().enumerate() {
            let bytes = packet
                .to_bytes(version)
                .map_err(|e| io::Error::other(e.to_string()))?;
            let name = format!("{v}-{i:02}-{}", type_tag(packet));
            write(&root.join("decode"), &name, &with_version(vi, &bytes))?;
            write(&root.join("roundtrip"), &name, &bytes)?;
            session.extend_from_slice(&bytes);
            count += 1;
        }
        let name = format!("{v}-session");
        write(&root.join("decode"), &name, &with_version(vi, &session))?;
        write(&root.join("roundtrip"), &name, &session)?;
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
        // Under 3.1.1 and 5.0: the two wire formats.
        for vi in [1, 2] {
            let tag = version_tag(VERSIONS[vi]);
            let seed = with_version(vi, bytes);
            write(
                &root.join("decode"),
                &format!("malformed-{name}-{tag}"),
                &seed,
            )?;
        }
        write(&root.join("roundtrip"), &format!("malformed-{name}"), bytes)?;
        let mut framing = vec![0x02, 0, 2, 1, 2];
        framing.extend_from_slice(bytes);
        write(
            &root.join("framing"),
            &format!("malformed-{name}"),
            &framing,
        )?;
    }
    for (name, actions) in ENGINE {
        write(&root.join("engine"), name, actions)?;
    }
    // The scenario files under scenarios/ are the scenario target's seeds.
    let scenarios = root.join("../../scenarios");
    let mut scenario_count = 0;
    let mut dirs = vec![scenarios];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                let stem = path.file_stem().unwrap_or_default().to_string_lossy();
                let area = dir.file_name().unwrap_or_default().to_string_lossy();
                write(
                    &root.join("scenario"),
                    &format!("{area}-{stem}"),
                    &fs::read(&path)?,
                )?;
                scenario_count += 1;
            }
        }
    }
    println!(
        "wrote {count} packets, {} malformed, {} engine and {scenario_count} scenario seeds \
         under {}",
        MALFORMED.len(),
        ENGINE.len(),
        root.display()
    );
    Ok(())
}
