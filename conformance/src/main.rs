//! `mqtt-conformance`: parses the command line, runs, exits with the mapped code.

fn main() {
    eprintln!("mqtt-conformance: not yet implemented");
    std::process::exit(2);
}
