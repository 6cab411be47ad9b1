//! The scenario loader (YAML into the scenario model, then its semantic checks) never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mqtt_conformance::fuzzing::parse_scenario(data));
