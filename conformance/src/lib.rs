//! The MQTT conformance suite: scenario model, scripted client, runner, profiles and reports.
//!
//! The `mqtt-conformance` binary is a thin shell over [`app::main`]. The pieces are separable
//! so other tools (a broker matrix, a network fuzzer) can reuse them: [`transport`] and
//! [`client`] talk to a broker, [`packets`] and [`matcher`] turn scenario specs into bytes and
//! compare what arrives, [`judge`] grades every arrival against a step, [`exec`] runs one scenario, [`runner`] schedules many, and
//! [`report`] renders the results.

pub mod app;
pub mod catalogue;
pub mod certify;
pub mod cli;
pub mod client;
pub mod corpus;
pub mod coverage;
pub mod error;
pub mod exec;
pub mod exit;
#[doc(hidden)]
pub mod fuzzing;
pub mod judge;
pub mod matcher;
pub mod netfuzz;
pub mod packets;
pub mod probe;
pub mod profile;
pub mod record;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod transport;
pub mod vars;
