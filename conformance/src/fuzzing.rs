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

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `scenario` fuzz target: hex digits were sliced by byte offset, which
    /// panicked inside a multi-byte character.
    #[test]
    fn hex_with_a_multi_byte_character_is_an_error_not_a_panic() {
        assert!(scenario::parse_hex("0\u{e9}").is_err());
        assert!(scenario::parse_hex("\u{d0}\u{0}:").is_err());
        parse_scenario("raw: { hex: \"a\u{e9}\" }\n\u{d0}\0: x".as_bytes());
    }

    #[test]
    fn hex_bytes_are_two_hex_digits() {
        assert_eq!(
            scenario::parse_hex("0a FF # c\n10"),
            Ok(vec![0x0a, 0xff, 0x10])
        );
        // `u8::from_str_radix` would take a sign.
        assert!(scenario::parse_hex("+f").is_err());
    }
}
