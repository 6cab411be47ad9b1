//! Exit codes of `mqtt-conformance`, in one place (also documented in the README).

/// Every scenario passed, was skipped, or was an expected failure (and, with `--strict`,
/// none was non-strict).
pub const SUCCESS: i32 = 0;
/// At least one failure, unexpected pass or error (or non-strict with `--strict`); `lint`
/// found problems.
pub const FAILURES: i32 = 1;
/// The run could not be done: bad arguments, bad scenario files, broker unreachable.
pub const CANNOT_RUN: i32 = 2;
