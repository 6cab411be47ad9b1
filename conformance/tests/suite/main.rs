//! Integration tests of the conformance runner: one binary, one module per concern.

mod attribution;
mod certify;
mod cli;
mod fake;
mod faults;
mod grading;
mod isolation;
mod junit;
mod lawful;
mod netfuzz;
mod netfuzz_protocol;
mod probe;
mod receive_maximum;
mod retained_copies;
mod runs;
mod support;
mod tls;
mod untestable;
mod vacuous;
