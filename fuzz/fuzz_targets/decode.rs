//! Arbitrary bytes through the streaming decoder under each protocol version: no panic, no
//! endless loop, never more bytes consumed than given.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mqtt_codec::fuzzing::decode(data));
