//! `mqtt-reference-broker`: parses arguments and runs the server.

fn main() {
    eprintln!("mqtt-reference-broker: not yet implemented");
    std::process::exit(2);
}
