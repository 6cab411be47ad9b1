//! One-line descriptions of steps, closes and raw bytes, for failures and transcripts.

use crate::client::{Dir, Entry, summary};
use crate::matcher;
use crate::scenario::{Action, ClosedSpec, LevelKey, PacketSpec, Step, Version};

pub(super) fn describe_closed(c: &ClosedSpec) -> String {
    match &c.disconnect {
        Some(codes) => format!(
            "connection closed (5.0: after DISCONNECT {}, {})",
            matcher::hex_list(codes),
            match c.disconnect_level.unwrap_or(LevelKey::Should) {
                LevelKey::Must => "required",
                LevelKey::Should => "recommended",
                LevelKey::May => "optional",
            }
        ),
        None => "connection closed".into(),
    }
}

pub(super) fn describe_raw(bytes: &[u8], version: Version) -> String {
    let mut buf = bytes::BytesMut::from(bytes);
    let mut d = mqtt_codec::Decoder::new(version.protocol());
    match d.decode(&mut buf) {
        Ok(mqtt_codec::Decoded::Packet(p)) if buf.is_empty() => format!("raw {}", summary(&p)),
        Ok(_) => format!("raw {} bytes", bytes.len()),
        Err(e) => format!("raw {} bytes ({e})", bytes.len()),
    }
}

/// A one-line description of a step, as in the file.
pub fn describe_step(step: &Step) -> String {
    let what = match &step.action {
        Action::Send(p) => match p {
            PacketSpec::Connect(_) => "send connect",
            PacketSpec::Publish(_) => "publish",
            PacketSpec::Puback(_) => "puback",
            PacketSpec::Pubrec(_) => "pubrec",
            PacketSpec::Pubrel(_) => "pubrel",
            PacketSpec::Pubcomp(_) => "pubcomp",
            PacketSpec::Subscribe(_) => "subscribe",
            PacketSpec::Unsubscribe(_) => "unsubscribe",
            PacketSpec::Pingreq(_) => "pingreq",
            PacketSpec::Disconnect(_) => "send disconnect",
            PacketSpec::Auth(_) => "auth",
        },
        other => other.key(),
    };
    let mut s = format!("{}: {what}", step.client);
    if let Some(n) = &step.note {
        s.push_str(&format!(" ({n})"));
    }
    s
}

/// Entries of the given direction, for tests.
pub fn count(entries: &[Entry], dir: Dir) -> usize {
    entries.iter().filter(|e| e.dir == dir).count()
}
