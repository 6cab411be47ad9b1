//! Byte-level mutations of encoded frames and reorderings of a session's frames. Each keeps
//! the frame short (at most a few bytes longer than it was).

use mqtt_codec::bytes::BytesMut;
use mqtt_codec::{Decoded, Decoder, ProtocolVersion};

use super::generate::{Frame, Rng};

/// Values that sit on the boundaries parsers get wrong: lengths, flags, varint continuation.
const INTERESTING: &[u8] = &[0x00, 0x01, 0x02, 0x7F, 0x80, 0xFF, 0x3F, 0xC0];

/// Applies one to three random byte mutations to `f` and describes the result: what the
/// mutated bytes are under `v`, then what they were made from.
pub fn bytes(rng: &mut Rng, f: &mut Frame, v: ProtocolVersion) {
    let mut done = Vec::new();
    for _ in 0..1 + rng.below(3) {
        done.push(one(rng, &mut f.bytes));
    }
    f.what = format!(
        "{} (mutated from {}: {})",
        what_now(&f.bytes, v),
        f.what,
        done.join(", ")
    );
}

/// What a strict decoder of `v` makes of `bytes`: the packet, or why there is none. A
/// transcript line then says what went on the wire, not what it was before the mutation.
fn what_now(bytes: &[u8], v: ProtocolVersion) -> String {
    let mut buf = BytesMut::from(bytes);
    match Decoder::new(v).decode(&mut buf) {
        Ok(Decoded::Packet(p)) if buf.is_empty() => crate::client::summary(&p),
        Ok(Decoded::Packet(p)) => format!(
            "{} and {} more bytes",
            crate::client::summary(&p),
            buf.len()
        ),
        Ok(Decoded::Incomplete) => "an incomplete packet".into(),
        Err(e) => format!("a malformed packet ({e})"),
    }
}

fn one(rng: &mut Rng, b: &mut Vec<u8>) -> &'static str {
    if b.is_empty() {
        b.push(rng.byte());
        return "byte added";
    }
    let at = rng.below(b.len());
    match rng.below(7) {
        0 => {
            b[at] ^= 1 << rng.below(8);
            "bit flipped"
        }
        1 => {
            b[at] = INTERESTING[rng.below(INTERESTING.len())];
            "byte set"
        }
        2 => {
            b.remove(at);
            "byte removed"
        }
        3 => {
            b.insert(at, INTERESTING[rng.below(INTERESTING.len())]);
            "byte inserted"
        }
        4 => {
            b.truncate(at.max(1));
            "truncated"
        }
        5 if b.len() > 1 => {
            // The first remaining-length byte: the frame now claims another length.
            b[1] = b[1].wrapping_add(1 + rng.byte() % 4);
            "remaining length changed"
        }
        _ => {
            // The fixed header's flags nibble.
            b[0] = (b[0] & 0xF0) | (rng.byte() & 0x0F);
            "flags changed"
        }
    }
}

/// Swaps two frames or repeats one.
pub fn order(rng: &mut Rng, frames: &mut [Frame]) {
    if frames.len() < 2 {
        return;
    }
    let (a, b) = (rng.below(frames.len()), rng.below(frames.len()));
    if rng.chance(1, 2) {
        frames.swap(a, b);
    } else {
        frames[a] = frames[b].clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: ProtocolVersion = ProtocolVersion::V3_1_1;

    #[test]
    fn a_description_says_what_the_bytes_are_now() {
        assert_eq!(what_now(&[0xC0, 0x00], V4), "PINGREQ");
        assert_eq!(
            what_now(&[0xC0, 0x00, 0xC0], V4),
            "PINGREQ and 1 more bytes"
        );
        assert_eq!(what_now(&[0x30, 0x05, 0x00], V4), "an incomplete packet");
        // Flags 0001 on PINGREQ are reserved (MQTT-2.2.2-2): the strict decoder refuses it.
        assert!(what_now(&[0xC1, 0x00], V4).starts_with("a malformed packet"));
    }

    #[test]
    fn a_mutated_frame_is_described_as_sent_and_as_made() {
        for seed in 0..50 {
            let mut rng = Rng::new(seed);
            let mut f = Frame {
                bytes: vec![0xC0, 0x00],
                what: "PINGREQ".into(),
            };
            bytes(&mut rng, &mut f, V4);
            let now = what_now(&f.bytes, V4);
            assert!(
                f.what
                    .starts_with(&format!("{now} (mutated from PINGREQ: ")),
                "{} for {:02x?}",
                f.what,
                f.bytes
            );
        }
    }
}
