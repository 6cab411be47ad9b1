//! Exit codes of `mqtt-conformance`, in one place (also documented in the README).

/// Every scenario passed, was skipped, or was an expected failure (and, with `--strict`,
/// none was non-strict).
pub const SUCCESS: i32 = 0;
/// At least one failure, unexpected pass, error or flaky result (or non-strict with
/// `--strict`); `lint` found problems. A broker that dies mid-run lands here: the run was done,
/// and the scenarios from the death on are errors.
pub const FAILURES: i32 = 1;
/// The run could not be done: bad arguments, bad scenario files, broker unreachable (no TCP
/// connection, or no version answering the health check before the run), or interrupted by
/// SIGINT or SIGTERM.
pub const CANNOT_RUN: i32 = 2;
