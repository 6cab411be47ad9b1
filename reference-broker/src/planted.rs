//! A deliberately planted crash, compiled in only with the test-only feature `planted-bug`
//! and armed only by [`arm`]: it lets the network fuzzer's tests prove that `fuzz` finds a
//! broker crash and writes a reproducer. Never enable it outside tests.
//!
//! The bug: a SUBSCRIBE with a Topic Filter of two levels or more, one of them `+`, makes
//! the engine panic (a filter such as `a/+`), which stops the engine task: the broker still accepts TCP connections but
//! never answers a CONNECT again (a wedged broker).

use std::sync::atomic::{AtomicBool, Ordering};

use mqtt_codec::Subscribe;

static ARMED: AtomicBool = AtomicBool::new(false);

/// Arms the planted bug for every engine of this process.
pub fn arm() {
    ARMED.store(true, Ordering::SeqCst);
}

/// Panics on the planted filter shape when armed.
pub(crate) fn on_subscribe(s: &Subscribe) {
    if !ARMED.load(Ordering::SeqCst) {
        return;
    }
    let trigger = |f: &str| f.contains('/') && f.split('/').any(|level| level == "+");
    if let Some(f) = s.filters.iter().find(|f| trigger(&f.filter)) {
        panic!("planted bug: SUBSCRIBE filter {:?}", &*f.filter);
    }
}
