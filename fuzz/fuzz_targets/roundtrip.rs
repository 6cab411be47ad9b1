//! Whatever decodes re-encodes, with an exact `encoded_len`, to bytes that decode to the same
//! packet; and the borrowed decoder agrees with the owned one on every input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mqtt_codec::fuzzing::decode_and_roundtrip(data);
    mqtt_codec::fuzzing::decode_borrowed_matches_owned(data);
});
