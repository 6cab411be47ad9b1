//! Entry points for the `scenario` fuzz target in `fuzz/`. Not a stable interface.

use crate::corpus;
use crate::scenario;

/// Loads `data` as a scenario file the way the corpus loader does (YAML into the scenario
/// model, then every semantic check) and prints each problem found; also reads it as the hex
/// notation raw steps use. Must never panic, whatever the input.
pub fn parse_scenario(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let sources = [("scenarios/fuzz/input.yaml".to_owned(), text)];
    let (_, problems) = corpus::parse_all(&sources);
    for problem in &problems {
        let _ = problem.to_string();
    }
    let _ = scenario::parse_hex(&sources[0].1);
}
