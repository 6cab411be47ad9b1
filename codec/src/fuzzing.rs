//! Entry points for the fuzz targets. Not a stable interface.

use bytes::BytesMut;

use crate::framing::{Decoded, Decoder};
use crate::version::ProtocolVersion;

/// The three versions, for targets that try each.
pub const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5_0,
];

/// Decodes `data` as a stream under every version; every packet that decodes must re-encode
/// to bytes that decode to the same packet. Panics (for the fuzzer to see) if not.
pub fn decode_and_roundtrip(data: &[u8]) {
    for version in VERSIONS {
        let mut buf = BytesMut::from(data);
        let mut decoder = Decoder::new(version);
        loop {
            let before = buf.len();
            match decoder.decode(&mut buf) {
                Ok(Decoded::Packet(packet)) => {
                    assert!(buf.len() < before, "a decoded packet consumed no bytes");
                    // CONNECT carries its own version; everything else uses the decoder's.
                    let v = match &packet {
                        crate::Packet::Connect(c) => c.protocol,
                        _ => version,
                    };
                    let bytes = packet.to_bytes(v).expect("a decoded packet re-encodes");
                    let mut again = BytesMut::from(&bytes[..]);
                    let decoded = Decoder::new(v)
                        .decode(&mut again)
                        .expect("re-encoding decodes");
                    assert_eq!(
                        decoded,
                        Decoded::Packet(packet),
                        "round trip changed the packet"
                    );
                    assert!(again.is_empty(), "re-encoding left bytes over");
                }
                Ok(Decoded::Incomplete) | Err(_) => break,
            }
        }
    }
}
