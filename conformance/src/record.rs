//! `run --record DIR`: every result's transcript written as JSON lines, one file per scenario
//! and version, `DIR/<area>/<id>.<version>.jsonl`.
//!
//! Each line is one [`Entry`](crate::client::Entry): `at_ms`, `client`, `dir` (`sent`,
//! `received` or `event`), `what` and `hex`, the packet's bytes exactly as they crossed the
//! wire. The fuzz seed generator (`fuzz/seeds`) turns these files into seeds, so a fuzz
//! campaign starts from the states real scenario runs reach.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::Error;
use crate::runner::ScenarioResult;

/// Writes the transcripts of `results` under `dir`; returns how many files it wrote.
pub fn write(dir: &Path, results: &[ScenarioResult]) -> Result<usize, Error> {
    let mut files = 0;
    for r in results.iter().filter(|r| !r.transcript.is_empty()) {
        let area = dir.join(&r.area);
        std::fs::create_dir_all(&area).map_err(Error::write(&area))?;
        let mut text = String::new();
        for entry in &r.transcript {
            // An Entry holds strings and numbers only, so serialising cannot fail.
            let line = serde_json::to_string(entry).unwrap_or_default();
            let _ = writeln!(text, "{line}");
        }
        let path = area.join(format!("{}.{}.jsonl", r.id, r.version));
        std::fs::write(&path, text).map_err(Error::write(&path))?;
        files += 1;
    }
    Ok(files)
}
