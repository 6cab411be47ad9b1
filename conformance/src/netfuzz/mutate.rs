//! Byte-level mutations of encoded frames and reorderings of a session's frames. Each keeps
//! the frame short (at most a few bytes longer than it was).

use super::generate::{Frame, Rng};

/// Values that sit on the boundaries parsers get wrong: lengths, flags, varint continuation.
const INTERESTING: &[u8] = &[0x00, 0x01, 0x02, 0x7F, 0x80, 0xFF, 0x3F, 0xC0];

/// Applies one to three random byte mutations to `f` and marks its description.
pub fn bytes(rng: &mut Rng, f: &mut Frame) {
    let mut done = Vec::new();
    for _ in 0..1 + rng.below(3) {
        done.push(one(rng, &mut f.bytes));
    }
    f.what = format!("{} mutated ({})", f.what, done.join(", "));
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
