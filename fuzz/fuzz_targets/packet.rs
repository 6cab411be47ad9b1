//! An arbitrary typed packet encodes and decodes back to itself when valid, and is rejected
//! with an error, not a panic, when not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_codec::{Packet, ProtocolVersion};

fuzz_target!(|input: (ProtocolVersion, Packet)| {
    mqtt_codec::fuzzing::encode_and_decode(input.0, &input.1);
});
