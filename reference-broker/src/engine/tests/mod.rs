//! Deterministic engine tests: a virtual clock and fake clients (see [`harness`]), one test
//! per behaviour, named for it.

mod acl;
mod connect;
mod gaps;
mod harness;
mod limits;
mod messages;
mod v5;
