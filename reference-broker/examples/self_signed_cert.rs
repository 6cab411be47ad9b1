//! Writes a self-signed certificate for `localhost` and `127.0.0.1` and its private key, as
//! `cert.pem` and `key.pem` in the directory given as the only argument, for trying the TLS
//! listener (`scripts/interop.sh` uses it) without the `openssl` command.
//!
//! ```text
//! cargo run -p mqtt-reference-broker --example self_signed_cert -- DIR
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: self_signed_cert DIR");
        return ExitCode::from(2);
    };
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let generated = match rcgen::generate_simple_self_signed(names) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("self_signed_cert: {e}");
            return ExitCode::FAILURE;
        }
    };
    let write = |name: &str, pem: String| {
        std::fs::write(dir.join(name), pem).map_err(|e| eprintln!("self_signed_cert: {name}: {e}"))
    };
    if write("cert.pem", generated.cert.pem()).is_err()
        || write("key.pem", generated.key_pair.serialize_pem()).is_err()
    {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
