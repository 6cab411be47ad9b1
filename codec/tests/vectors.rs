//! Byte vectors: the worked examples of the specs, and past bugs, one file per case in
//! `tests/vectors/`, plus the remaining-length table of 3.1.1 2.2.3 and 5.0 1.5.5 inline.
//!
//! A vector file is hex with `#` comments. Its leading comment lines say where the bytes come
//! from and hold two keys: `# version: 3.1 | 3.1.1 | 5.0` and `# expect: packet | error`. A
//! packet must decode, taking every byte, and re-encode to the same bytes; an error must be an
//! error. Either way the `Debug` of the outcome is an insta snapshot, reviewed like code.

use std::fs;
use std::path::{Path, PathBuf};

use mqtt_codec::bytes::BytesMut;
use mqtt_codec::{Decoded, Decoder, Error, Packet, ProtocolVersion, Publish};

use crate::{decode_one, decode_one_with, encode, from_hex, to_hex};

struct Vector {
    name: String,
    version: ProtocolVersion,
    expect_packet: bool,
    bytes: Vec<u8>,
}

fn load(path: &Path) -> Vector {
    let text = fs::read_to_string(path).expect("a readable vector file");
    let key = |key: &str| {
        text.lines()
            .take_while(|l| l.starts_with('#'))
            .find_map(|l| l.strip_prefix('#')?.trim().strip_prefix(key))
            .map(str::trim)
            .unwrap_or_else(|| panic!("{}: no `# {key}` line", path.display()))
            .to_owned()
    };
    let version = match key("version:").as_str() {
        "3.1" => ProtocolVersion::V3_1,
        "3.1.1" => ProtocolVersion::V3_1_1,
        "5.0" => ProtocolVersion::V5_0,
        other => panic!("{}: unknown version {other}", path.display()),
    };
    let expect_packet = match key("expect:").as_str() {
        "packet" => true,
        "error" => false,
        other => panic!("{}: expect packet or error, not {other}", path.display()),
    };
    Vector {
        name: path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a UTF-8 file name")
            .to_owned(),
        version,
        expect_packet,
        bytes: from_hex(&text),
    }
}

fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/vectors exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "hex"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_vector_file_decodes_as_it_says() {
    let files = vector_files();
    assert!(files.len() >= 15, "vector files missing: {files:?}");
    for path in files {
        let v = load(&path);
        let outcome = decode_one(v.version, &v.bytes);
        let shown = match &outcome {
            Ok(packet) => {
                assert!(
                    v.expect_packet,
                    "{}: decoded, but expected an error",
                    v.name
                );
                // Spec examples are canonical: the encoder writes them back byte for byte.
                assert_eq!(
                    to_hex(&encode(packet, v.version)),
                    to_hex(&v.bytes),
                    "{}: re-encoding differs",
                    v.name
                );
                format!("{packet:#?}")
            }
            Err(e) => {
                assert!(!v.expect_packet, "{}: {e:?}", v.name);
                format!("{e:#?}")
            }
        };
        let decoded = format!(
            "{} ({})\n{}\n\n{shown}",
            v.name,
            v.version,
            to_hex(&v.bytes)
        );
        insta::assert_snapshot!(format!("vector_{}", v.name), decoded);
    }
}

/// 3.1.1 table 2.4 and 5.0 table 1-1: the boundaries of one- to four-byte remaining lengths.
#[test]
fn remaining_length_examples() {
    let table: &[(u32, &[u8])] = &[
        (0, &[0x00]),
        (127, &[0x7F]),
        (128, &[0x80, 0x01]),
        (16_383, &[0xFF, 0x7F]),
        (16_384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xFF, 0xFF, 0x7F]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
        (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
    ];
    for &(value, encoding) in table {
        let len = usize::try_from(value).expect("fits");
        // The fixed header alone tells the size: a limit one byte short reports it.
        let mut header = vec![0x30];
        header.extend_from_slice(encoding);
        let size = header.len() + len;
        let mut buf = BytesMut::from(&header[..]);
        let mut decoder = Decoder::new(ProtocolVersion::V3_1_1).with_max_packet_size(size - 1);
        assert_eq!(
            decoder.decode(&mut buf),
            Err(Error::PacketTooLarge {
                size,
                max: size - 1
            }),
            "{value}"
        );
        // Up to two megabytes, build the whole packet: a PUBLISH to "a" whose payload fills
        // the rest, and check the encoder writes the same header.
        if (3..=2_097_152).contains(&value) {
            let publish = Packet::Publish(Publish::new("a", vec![0x55; len - 3]));
            let bytes = encode(&publish, ProtocolVersion::V3_1_1);
            assert_eq!(&bytes[..header.len()], &header[..], "{value}");
            let decoder = Decoder::new(ProtocolVersion::V3_1_1).with_max_packet_size(size);
            assert_eq!(decode_one_with(decoder, &bytes), Ok(publish), "{value}");
        }
    }
}

/// Before the last byte of the remaining length, and of the body, the decoder waits.
#[test]
fn remaining_length_examples_are_incomplete_until_the_last_byte() {
    let mut decoder = Decoder::new(ProtocolVersion::V5_0);
    let mut buf = BytesMut::from(&[0x30, 0x80, 0x80][..]); // 2,097,152 needs a fourth byte
    assert_eq!(decoder.decode(&mut buf), Ok(Decoded::Incomplete));
    buf.extend_from_slice(&[0x01]);
    assert_eq!(decoder.decode(&mut buf), Ok(Decoded::Incomplete));
    assert_eq!(buf.len(), 4, "nothing taken while incomplete");
}
