//! The data representations of 3.1.1 section 1.5 and 5.0 section 1.5: two- and four-byte
//! integers, UTF-8 strings, binary data and string pairs.
//!
//! [`Reader`] reads them from a packet body that has already been cut to exactly its remaining
//! length, so no field can read into the next packet; every read checks what is left first.

use bytes::{Buf, BufMut, Bytes};
use bytestring::ByteString;

use crate::error::Error;
use crate::ids::PacketType;
use crate::varint::{self, VarInt};

/// A bounded reader over one packet's body (or one length-prefixed part of it).
#[derive(Debug)]
pub(crate) struct Reader {
    buf: Bytes,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Self { buf }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, Error> {
        self.buf
            .try_get_u8()
            .map_err(|_| Error::UnexpectedEof { field })
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, Error> {
        self.buf
            .try_get_u16()
            .map_err(|_| Error::UnexpectedEof { field })
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, Error> {
        self.buf
            .try_get_u32()
            .map_err(|_| Error::UnexpectedEof { field })
    }

    pub(crate) fn varint(&mut self, field: &'static str) -> Result<u32, Error> {
        match varint::read(&self.buf, field)? {
            VarInt::Value(value, n) => {
                self.buf.advance(n);
                Ok(value)
            }
            VarInt::Incomplete => Err(Error::UnexpectedEof { field }),
        }
    }

    /// Takes the next `n` bytes as their own buffer (zero-copy).
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<Bytes, Error> {
        if n > self.buf.len() {
            return Err(Error::UnexpectedEof { field });
        }
        Ok(self.buf.split_to(n))
    }

    /// Binary Data: a two-byte length, then that many bytes.
    pub(crate) fn binary(&mut self, field: &'static str) -> Result<Bytes, Error> {
        let len = self.u16(field)?;
        self.take(usize::from(len), field)
    }

    /// A UTF-8 Encoded String, checked for well-formedness (which rules out surrogates)
    /// and U+0000 (3.1.1 MQTT-1.5.3-1/2, 5.0 MQTT-1.5.4-1/2).
    ///
    /// Strings are copied rather than sliced: they are short, and an allocation costs less
    /// than the two atomic reference-count operations a shared slice needs.
    pub(crate) fn string(&mut self, field: &'static str) -> Result<ByteString, Error> {
        let len = usize::from(self.u16(field)?);
        let bytes = self.buf.get(..len).ok_or(Error::UnexpectedEof { field })?;
        let string = ByteString::from(check_str(bytes, field)?);
        self.buf.advance(len);
        Ok(string)
    }

    /// Everything left, e.g. the PUBLISH payload.
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    /// Fails if any bytes are left over after the last field.
    pub(crate) fn finish(self, packet_type: PacketType) -> Result<(), Error> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Error::TrailingBytes {
                packet_type,
                count: self.buf.len(),
            })
        }
    }
}

/// Checks that `bytes` are well-formed UTF-8 (which rules out surrogates) without U+0000
/// (3.1.1 MQTT-1.5.3-1/2, 5.0 MQTT-1.5.4-1/2).
///
/// Nearly every string on the wire is ASCII, so one branch-free pass over the bytes settles
/// the common case; only a string with a byte of 0x80 or above pays for the full UTF-8 check.
pub(crate) fn validate_str(bytes: &[u8], field: &'static str) -> Result<(), Error> {
    let (high, zero) = scan(bytes);
    if zero {
        return Err(Error::NullCharacter { field });
    }
    if high && std::str::from_utf8(bytes).is_err() {
        return Err(Error::InvalidUtf8 { field });
    }
    Ok(())
}

/// [`validate_str`], returning the bytes as a string.
pub(crate) fn check_str<'a>(bytes: &'a [u8], field: &'static str) -> Result<&'a str, Error> {
    if scan(bytes).1 {
        return Err(Error::NullCharacter { field });
    }
    utf8(bytes).ok_or(Error::InvalidUtf8 { field })
}

/// `bytes` as a string, if they are well-formed UTF-8 (which rules out surrogates).
///
/// Nearly every string on the wire is ASCII, and short: `std::str::from_utf8` walks such a
/// string mostly a byte at a time (its word loop needs aligned input), while the ASCII check
/// reads it a word at a time, unaligned ends included. Anything else gets the full check.
pub(crate) fn utf8(bytes: &[u8]) -> Option<&str> {
    match ascii::AsciiStr::from_ascii(bytes) {
        Ok(ascii) => Some(ascii.as_str()),
        Err(_) => std::str::from_utf8(bytes).ok(),
    }
}

/// Whether `bytes` hold a byte of 0x80 or above, and whether they hold a zero byte.
///
/// Eight bytes at a time as little-endian words, the last one padded with `a`s (a byte both
/// checks pass). Strings on the wire are mostly 5 to 60 bytes: too short for the compiler's
/// vector loops to pay off over their byte-at-a-time tails, long enough for a byte loop to cost
/// more than a few words.
pub(crate) fn scan(bytes: &[u8]) -> (bool, bool) {
    let mut bits = 0u64;
    let mut zero = false;
    let mut word = |word: u64| {
        bits |= word;
        zero |= has_zero(word);
    };
    let chunks = bytes.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        // Every chunk is 8 bytes long, so the conversion always succeeds.
        word(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
    }
    if !rest.is_empty() {
        let mut last = [b'a'; 8];
        last[..rest.len()].copy_from_slice(rest);
        word(u64::from_le_bytes(last));
    }
    (bits & HIGH_BITS != 0, zero)
}

/// The high bit of every byte of a word.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
/// A one in every byte of a word.
const LOW_BITS: u64 = 0x0101_0101_0101_0101;

/// Whether any byte of `word` is zero. Exact as a yes/no answer: the borrow can only mark a
/// byte above one that really is zero.
#[inline]
fn has_zero(word: u64) -> bool {
    word.wrapping_sub(LOW_BITS) & !word & HIGH_BITS != 0
}

/// A bounded reader over a borrowed slice, for validating without taking `Bytes` slices.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next byte, not consumed.
    pub(crate) fn first(&self) -> Option<&'a u8> {
        self.buf.first()
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], Error> {
        if n > self.buf.len() {
            return Err(Error::UnexpectedEof { field });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, Error> {
        Ok(self.take(1, field)?.first().copied().unwrap_or_default())
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, Error> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes(b.try_into().unwrap_or_default()))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, Error> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes(b.try_into().unwrap_or_default()))
    }

    pub(crate) fn varint(&mut self, field: &'static str) -> Result<u32, Error> {
        match varint::read(self.buf, field)? {
            VarInt::Value(value, n) => {
                self.take(n, field)?;
                Ok(value)
            }
            VarInt::Incomplete => Err(Error::UnexpectedEof { field }),
        }
    }

    pub(crate) fn binary(&mut self, field: &'static str) -> Result<&'a [u8], Error> {
        let len = self.u16(field)?;
        self.take(usize::from(len), field)
    }
}

/// Writes a two-byte length and the bytes of a string or binary field.
pub(crate) fn put_binary(
    buf: &mut impl BufMut,
    bytes: &[u8],
    field: &'static str,
) -> Result<(), Error> {
    let len = u16::try_from(bytes.len()).map_err(|_| Error::FieldTooLong {
        field,
        len: bytes.len(),
    })?;
    buf.put_u16(len);
    buf.put_slice(bytes);
    Ok(())
}

/// The encoded size of a string or binary field.
pub(crate) fn binary_len(bytes: &[u8]) -> usize {
    2 + bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ASCII shortcut gives the answer `std::str::from_utf8` gives.
    #[test]
    fn utf8_agrees_with_std() {
        let cases: [&[u8]; 9] = [
            b"",
            b"plain/ascii/topic",
            "caf\u{e9}/\u{1f600}".as_bytes(),
            b"\xed\xa0\x80", // a UTF-16 surrogate
            b"\xc0\x80",     // an overlong encoding of U+0000
            b"abc\xe2\x82",  // a truncated sequence
            b"\xff",
            b"\x7f\x00\x01", // ASCII control characters are well-formed
            b"0123456789abcdef\x80",
        ];
        for bytes in cases {
            assert_eq!(utf8(bytes), std::str::from_utf8(bytes).ok(), "{bytes:02x?}");
        }
    }

    /// The word-at-a-time scan agrees with a byte loop for every length up to three words and
    /// every position of a zero byte or a high byte, next to every other byte value (a borrow
    /// out of a zero byte must not hide or invent anything).
    #[test]
    fn the_word_scan_agrees_with_a_byte_loop() {
        let naive = |bytes: &[u8]| (bytes.iter().any(|&b| b >= 0x80), bytes.contains(&0));
        for len in 0..=24 {
            for at in 0..len {
                for special in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                    for filler in [b'a', 0x01, 0x7f, 0x80, 0xfe] {
                        let mut bytes = vec![filler; len];
                        bytes[at] = special;
                        assert_eq!(scan(&bytes), naive(&bytes), "{bytes:02x?}");
                    }
                }
            }
        }
    }
}
