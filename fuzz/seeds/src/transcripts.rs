//! Seeds from recorded scenario runs (`mqtt-conformance run --record DIR`).
//!
//! A transcript file is JSON lines, one per packet or connection event, in the order they
//! happened: `client`, `dir` (`sent`, `received`, `event`), `at_ms`, `hex`. From each file:
//!
//! - `decode`, `roundtrip`, `framing`: every client's sent bytes as one stream and its
//!   received bytes as another, so the codec starts from real sessions in both directions
//!   (`decode` prefixed with the byte that picks the version, `framing` with a control header
//!   that follows the CONNECT and cuts the stream into uneven chunks);
//! - `engine`: the whole run replayed as raw-byte actions (at most 63 bytes each, so longer
//!   packets span several), a clock advance for every pause of a quarter second or more, and a
//!   dropped connection where the client closed or dropped its own.
//!
//! Streams longer than libFuzzer's default `-max_len` (4096) are skipped, and identical seeds
//! are written once.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The longest seed worth writing: libFuzzer's default `-max_len`.
const MAX_SEED: usize = 4096;

/// The engine target's action tags (`mqtt_reference_broker::fuzzing::actions_from_bytes`).
const ACTION_BYTES: u8 = 1;
const ACTION_DROP: u8 = 7;
const ACTION_ADVANCE: u8 = 8;
/// How many client slots the engine target has.
const ENGINE_CLIENTS: usize = 4;

#[derive(Deserialize)]
struct Line {
    at_ms: u64,
    client: String,
    dir: String,
    #[serde(default)]
    what: String,
    hex: String,
}

/// One client's traffic in a transcript.
#[derive(Default)]
struct Streams {
    sent: Vec<u8>,
    received: Vec<u8>,
}

/// Writes the seeds of every `*.jsonl` file under `dir` into `root/<target>/seed-tx-*`.
pub fn write_seeds(dir: &Path, root: &Path) -> io::Result<()> {
    let mut files = Vec::new();
    collect(dir, &mut files)
        .map_err(|e| io::Error::other(format!("cannot read {}: {e}", dir.display())))?;
    files.sort();
    if files.is_empty() {
        return Err(io::Error::other(format!(
            "no *.jsonl transcripts under {}; write them with `mqtt-conformance run --record {}`",
            dir.display(),
            dir.display()
        )));
    }
    let mut seen = HashSet::new();
    let mut written = BTreeMap::<&str, usize>::new();
    for path in &files {
        let text = fs::read_to_string(path)?;
        let lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str::<Line>(l)
                    .map_err(|e| io::Error::other(format!("{}:{}: {e}", path.display(), i + 1)))
            })
            .collect::<io::Result<Vec<_>>>()?;
        // <area>/<id>.<version>.jsonl, named <area>-<id>.<version>.
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        let area = path
            .parent()
            .and_then(Path::file_name)
            .unwrap_or_default()
            .to_string_lossy();
        let name = format!("tx-{area}-{stem}");
        let fallback = if stem.ends_with(".5.0") { 2 } else { 1 };

        let mut seeds: Vec<(&str, String, Vec<u8>)> = Vec::new();
        for (client, streams) in streams(path, &lines)? {
            let index = version_index(&streams.sent).unwrap_or(fallback);
            for (way, stream) in [("sent", &streams.sent), ("received", &streams.received)] {
                if stream.is_empty() || stream.len() > MAX_SEED {
                    continue;
                }
                let seed_name = format!("{name}-{client}-{way}");
                let mut decode = vec![index];
                decode.extend_from_slice(stream);
                seeds.push(("decode", seed_name.clone(), decode));
                seeds.push(("roundtrip", seed_name.clone(), stream.clone()));
                // Follow the CONNECT (as a broker does), no size limit, chunks of 1, 2, 3, 7
                // and 64 bytes, so cuts fall inside headers, bodies and between packets.
                let mut framing = vec![0x04 | index, 0, 5, 1, 2, 3, 7, 64];
                framing.extend_from_slice(stream);
                seeds.push(("framing", seed_name, framing));
            }
        }
        let actions = engine_actions(&lines);
        if !actions.is_empty() && actions.len() <= MAX_SEED {
            seeds.push(("engine", name.clone(), actions));
        }
        for (target, seed_name, bytes) in seeds {
            if seen.insert((target, bytes.clone())) {
                let out = root.join(target);
                fs::create_dir_all(&out)?;
                fs::write(out.join(format!("seed-{seed_name}")), &bytes)?;
                *written.entry(target).or_default() += 1;
            }
        }
    }
    let counts: Vec<String> = written.iter().map(|(t, n)| format!("{t} {n}")).collect();
    println!(
        "from {} transcripts under {}: {} (under {})",
        files.len(),
        dir.display(),
        counts.join(", "),
        root.display()
    );
    Ok(())
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            files.push(path);
        }
    }
    Ok(())
}

/// Each client's sent and received bytes, clients in order of appearance.
fn streams(path: &Path, lines: &[Line]) -> io::Result<Vec<(String, Streams)>> {
    let slots = client_slots(lines);
    let mut out: Vec<(String, Streams)> = Vec::new();
    for (line, &i) in lines.iter().zip(&slots) {
        if i == out.len() {
            out.push((line.client.clone(), Streams::default()));
        }
        let bytes = unhex(&line.hex)
            .ok_or_else(|| io::Error::other(format!("{}: bad hex", path.display())))?;
        match line.dir.as_str() {
            "sent" => out[i].1.sent.extend_from_slice(&bytes),
            "received" => out[i].1.received.extend_from_slice(&bytes),
            _ => {}
        }
    }
    Ok(out)
}

/// The run as engine actions: raw bytes per client slot, pauses, and connections the client
/// ended itself.
fn engine_actions(lines: &[Line]) -> Vec<u8> {
    let mut actions = Vec::new();
    let mut last_ms = 0;
    for (line, slot) in lines.iter().zip(client_slots(lines)) {
        let slot = u8::try_from(slot % ENGINE_CLIENTS).unwrap_or(0);
        // The broker's side of the run follows from what the clients do; pauses matter for
        // keep alive, expiry and will delay.
        let quarters = (line.at_ms.saturating_sub(last_ms)) / 250;
        if quarters > 0 {
            actions.extend([ACTION_ADVANCE, u8::try_from(quarters).unwrap_or(u8::MAX)]);
        }
        last_ms = line.at_ms;
        match line.dir.as_str() {
            "sent" => {
                for chunk in unhex(&line.hex).unwrap_or_default().chunks(63) {
                    let len = u8::try_from(chunk.len()).unwrap_or(0);
                    actions.extend([ACTION_BYTES, slot, len]);
                    actions.extend_from_slice(chunk);
                }
            }
            "event"
                if line.what.starts_with("closed by the client")
                    || line.what.starts_with("dropped by the client") =>
            {
                actions.extend([ACTION_DROP, slot]);
            }
            _ => {}
        }
    }
    actions
}

/// Each line's client numbered by order of first appearance (0, 1, ...).
fn client_slots(lines: &[Line]) -> Vec<usize> {
    let mut clients: Vec<&str> = Vec::new();
    lines
        .iter()
        .map(
            |line| match clients.iter().position(|c| *c == line.client) {
                Some(i) => i,
                None => {
                    clients.push(&line.client);
                    clients.len() - 1
                }
            },
        )
        .collect()
}

/// The `decode` version byte for a stream that starts with a CONNECT: its protocol level 3, 4
/// or 5 picks 3.1, 3.1.1 or 5.0.
fn version_index(sent: &[u8]) -> Option<u8> {
    let level = mqtt_codec::Connect::peek_level(sent)?;
    match level {
        3 => Some(0),
        4 => Some(1),
        5 => Some(2),
        _ => None,
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).ok())
        .collect()
}
