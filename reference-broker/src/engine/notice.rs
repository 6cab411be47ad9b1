//! Refusals logged once: a hostile client repeating a refused request must not flood the log.

use std::collections::HashSet;

/// Which kinds of refusal have been logged.
#[derive(Debug, Default)]
pub(crate) struct Notices {
    seen: HashSet<&'static str>,
}

impl Notices {
    /// Logs `what` at warn level the first time, at debug level after.
    pub(crate) fn once(&mut self, what: &'static str) {
        if self.seen.insert(what) {
            tracing::warn!("refused: {what} (further refusals of this kind are logged at debug)");
        } else {
            tracing::debug!("refused: {what}");
        }
    }
}
