//! Variable Byte Integer: the remaining length and every v5 length or identifier that uses it.
//!
//! Seven bits per byte, least significant group first, the top bit set on every byte but the
//! last; at most four bytes, so the largest value is 268,435,455.

use bytes::BufMut;

use crate::error::Error;

/// The largest value a Variable Byte Integer can hold.
pub const MAX_VARINT: u32 = 268_435_455;

/// The result of reading a Variable Byte Integer from the front of a slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VarInt {
    /// The value and how many bytes it took.
    Value(u32, usize),
    /// The slice ends before the last byte of the integer.
    Incomplete,
}

/// Reads a Variable Byte Integer from the front of `bytes`.
///
/// A fifth byte is an error, and so is an encoding longer than needed
/// (MQTT-1.5.5-1 in 5.0: the fewest bytes that can represent the value).
pub(crate) fn read(bytes: &[u8], field: &'static str) -> Result<VarInt, Error> {
    let mut value: u32 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(4) {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // A final byte of zero after a continuation byte adds nothing: not minimal.
            if i > 0 && byte == 0 {
                return Err(Error::NonMinimalVarInt { field });
            }
            return Ok(VarInt::Value(value, i + 1));
        }
    }
    if bytes.len() >= 4 {
        return Err(Error::MalformedVarInt { field });
    }
    Ok(VarInt::Incomplete)
}

/// How many bytes `value` takes as a Variable Byte Integer (5 over [`MAX_VARINT`], see
/// [`write()`]).
pub fn len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        2_097_152..=MAX_VARINT => 4,
        _ => 5,
    }
}

/// Writes `value` in the fewest bytes.
///
/// The codec's encoders check `value` against [`MAX_VARINT`] first. A larger value comes out
/// as five bytes, which every receiver must refuse: a test can send that on purpose.
pub fn write(buf: &mut impl BufMut, mut value: u32) {
    loop {
        // Masked to seven bits, so the cast keeps every bit.
        let mut byte = (value & 0x7f) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        buf.put_u8(byte);
        if value == 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_spec_boundaries() {
        let cases: &[(&[u8], u32)] = &[
            (&[0x00], 0),
            (&[0x7f], 127),
            (&[0x80, 0x01], 128),
            (&[0xff, 0x7f], 16_383),
            (&[0x80, 0x80, 0x01], 16_384),
            (&[0xff, 0xff, 0x7f], 2_097_151),
            (&[0x80, 0x80, 0x80, 0x01], 2_097_152),
            (&[0xff, 0xff, 0xff, 0x7f], 268_435_455),
        ];
        for &(bytes, value) in cases {
            assert_eq!(read(bytes, "t").unwrap(), VarInt::Value(value, bytes.len()));
            assert_eq!(len(value), bytes.len());
            let mut out = Vec::new();
            write(&mut out, value);
            assert_eq!(out, bytes);
        }
    }

    #[test]
    fn writes_five_bytes_past_the_maximum() {
        let mut out = Vec::new();
        write(&mut out, MAX_VARINT + 1);
        assert_eq!(out, [0x80, 0x80, 0x80, 0x80, 0x01]);
        assert_eq!(len(MAX_VARINT + 1), 5);
    }

    #[test]
    fn rejects_a_fifth_byte() {
        assert_eq!(
            read(&[0xff, 0xff, 0xff, 0xff, 0x01], "t"),
            Err(Error::MalformedVarInt { field: "t" })
        );
    }

    #[test]
    fn rejects_non_minimal_encodings() {
        assert_eq!(
            read(&[0x80, 0x00], "t"),
            Err(Error::NonMinimalVarInt { field: "t" })
        );
    }

    #[test]
    fn short_input_is_incomplete() {
        assert_eq!(read(&[0x80, 0x80], "t"), Ok(VarInt::Incomplete));
        assert_eq!(read(&[], "t"), Ok(VarInt::Incomplete));
    }
}
