//! One byte stream decoded whole and split into arbitrary chunks gives the same packets, the
//! same error and the same leftover bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mqtt_codec::fuzzing::decode_chunked(data));
