//! `mqtt-conformance`: parses the command line, runs, exits with the mapped code.

fn main() {
    let cli = <mqtt_conformance::cli::Cli as clap::Parser>::parse();
    std::process::exit(mqtt_conformance::app::main(cli));
}
