//! The MQTT conformance suite: scenario model, runner and reports.

pub mod catalogue;
