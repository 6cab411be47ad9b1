//! The transcript source: sessions recorded by `mqtt-conformance run --record DIR`
//! (`--corpus DIR`). Each client's sent packets in a transcript file, from its CONNECT on,
//! become one recorded session, which [`fields`] then mutates field by field:
//! the fuzzer starts from the states real scenarios reach.

use std::path::{Path, PathBuf};

use mqtt_codec::Packet;
use serde::Deserialize;

use super::fields;
use crate::error::Error;
use crate::scenario::Version;

/// Frames kept per recorded session: longer sessions are cut (the rest rarely matters to a
/// crash, and every frame costs a replay when minimising).
const MAX_FRAMES: usize = 24;
/// Recorded sessions kept in all, so a huge recording cannot exhaust memory.
const MAX_SESSIONS: usize = 20_000;

/// One client's packets from one transcript, each decoded by the strict codec.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The version of its CONNECT.
    pub version: Version,
    /// The packets, CONNECT first.
    pub packets: Vec<Packet>,
    /// `FILE:CLIENT`, for frame descriptions.
    pub name: String,
}

/// One transcript line (the fields the fuzzer needs of [`crate::client::Entry`]).
#[derive(Deserialize)]
struct Line {
    client: String,
    dir: String,
    hex: String,
}

/// Loads every `*.jsonl` transcript under `dir`. Lines that are not JSON, packets that do not
/// decode and sessions without a CONNECT of a fuzzed version are skipped; an error only when
/// `dir` cannot be read or holds no usable session.
pub fn load(dir: &Path, versions: &[Version]) -> Result<Vec<Recorded>, Error> {
    let mut files = Vec::new();
    collect(dir, &mut files).map_err(|e| bad(dir, &e))?;
    files.sort();
    let mut sessions = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| bad(&file, &e))?;
        sessions.extend(sessions_of(&file, &text, versions));
        if sessions.len() >= MAX_SESSIONS {
            sessions.truncate(MAX_SESSIONS);
            break;
        }
    }
    if sessions.is_empty() {
        return Err(Error::Usage(format!(
            "--corpus {}: no recorded session with a CONNECT of a fuzzed version \
             (record some with `mqtt-conformance run --record {}`)",
            dir.display(),
            dir.display()
        )));
    }
    Ok(sessions)
}

fn bad(path: &Path, e: &dyn std::fmt::Display) -> Error {
    Error::Usage(format!("--corpus: cannot read {}: {e}", path.display()))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
    Ok(())
}

/// The sessions of one transcript file: per client, its sent packets from its first CONNECT.
fn sessions_of(file: &Path, text: &str, versions: &[Version]) -> Vec<Recorded> {
    let mut clients: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    for line in text.lines() {
        let Ok(l) = serde_json::from_str::<Line>(line) else {
            continue;
        };
        let Some(bytes) = crate::scenario::parse_hex(&l.hex)
            .ok()
            .filter(|b| l.dir == "sent" && !b.is_empty())
        else {
            continue;
        };
        match clients.iter_mut().find(|(c, _)| *c == l.client) {
            Some((_, frames)) => frames.push(bytes),
            None => clients.push((l.client, vec![bytes])),
        }
    }
    let name = file
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    clients
        .into_iter()
        .filter_map(|(client, frames)| {
            session(&frames, versions).map(|(version, packets)| Recorded {
                version,
                packets,
                name: format!("{name}:{client}"),
            })
        })
        .collect()
}

/// The packets from the first CONNECT on, decoded under its version (a later CONNECT, and
/// what follows it, belongs to a reconnection and is kept as it is: a second CONNECT is
/// itself worth sending).
fn session(frames: &[Vec<u8>], versions: &[Version]) -> Option<(Version, Vec<Packet>)> {
    let start = frames
        .iter()
        .position(|f| mqtt_codec::Connect::peek_level(f).is_some())?;
    let level = mqtt_codec::Connect::peek_level(&frames[start])?;
    let version = *versions.iter().find(|v| v.protocol().level() == level)?;
    let packets: Vec<Packet> = frames[start..]
        .iter()
        .filter_map(|f| fields::decode(f, version))
        .take(MAX_FRAMES)
        .collect();
    matches!(packets.first(), Some(Packet::Connect(_))).then_some((version, packets))
}

#[cfg(test)]
mod tests {
    use mqtt_codec::{Connect, Packet, QoS, Subscribe};

    use super::*;
    use crate::netfuzz::generate;

    fn line(client: &str, dir: &str, p: &Packet) -> String {
        let bytes = p.to_bytes(mqtt_codec::ProtocolVersion::V5_0).unwrap();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!(r#"{{"at_ms":0,"client":"{client}","dir":"{dir}","what":"","hex":"{hex}"}}"#)
    }

    #[test]
    fn each_client_from_its_connect_becomes_a_session_and_is_replayed_with_a_fresh_id() {
        let connect = Packet::from(Connect::new(mqtt_codec::ProtocolVersion::V5_0, "rec"));
        let subscribe = Packet::Subscribe(Subscribe::single(1, "a/b", QoS::AtLeastOnce));
        let text = [
            line("a", "sent", &connect),
            line("a", "received", &Packet::PingResp),
            "not json".into(),
            line("a", "sent", &subscribe),
            // No CONNECT of its own: not a session.
            line("b", "sent", &Packet::PingReq),
        ]
        .join("\n");
        let dir = std::env::temp_dir().join(format!("netfuzz-corpus-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("area")).unwrap();
        std::fs::write(dir.join("area/x.5.0.jsonl"), text).unwrap();
        let got = load(&dir, &Version::ALL).unwrap();
        assert!(load(&dir, &[Version::V3_1_1]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].version, Version::V5_0);
        assert_eq!(got[0].packets, vec![connect, subscribe]);
        assert_eq!(got[0].name, "x.5.0.jsonl:a");

        // Over many seeds, the unmutated CONNECT carries the session's id and a clean start.
        let plans: Vec<_> = (0..40)
            .map(|i| generate::recorded(3, i, &got[0], "fresh"))
            .collect();
        let clean = plans.iter().filter(|p| p.clean_connect).count();
        assert!(clean > 10 && clean < 40, "{clean} of 40 clean");
        for p in plans.iter().filter(|p| p.clean_connect) {
            let Some(Packet::Connect(c)) = fields::decode(&p.frames[0].bytes, Version::V5_0) else {
                panic!("{:?}", p.frames[0])
            };
            assert_eq!((c.client_id.as_ref(), c.clean_start), ("fresh", true));
        }
        let again = generate::recorded(3, 5, &got[0], "fresh");
        assert_eq!(again.frames.len(), plans[5].frames.len());
        assert!(
            again
                .frames
                .iter()
                .zip(&plans[5].frames)
                .all(|(a, b)| a.bytes == b.bytes)
        );
    }
}
