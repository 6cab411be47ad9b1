//! The broker engine driven by an arbitrary sequence of client actions (connects, raw bytes,
//! subscribes, publishes, acks, disconnects, dropped connections, time passing); no panic, and
//! the invariants of `mqtt_reference_broker::fuzzing` hold after every step.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mqtt_reference_broker::fuzzing::run_bytes(data));
