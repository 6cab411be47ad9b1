//! Embeds the scenario corpus (`../scenarios/**/*.yaml`) and the broker profiles into the binary,
//! so the tool works from any directory after `cargo install`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    // Read at run time, not with `env!`: a build script compiled in one checkout and reused
    // from a moved or copied target folder would otherwise embed the old checkout's corpus.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let root = Path::new(&manifest).join("../scenarios");
    println!("cargo:rerun-if-changed={}", root.display());
    // A binary without its corpus would report "no scenario matches" for every run.
    assert!(
        root.is_dir(),
        "the scenario corpus {} is missing",
        root.display()
    );
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    let mut scenarios = String::new();
    let mut profiles = String::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap_or(f)
            .to_string_lossy()
            .replace('\\', "/");
        let abs = f.canonicalize().unwrap_or_else(|_| f.clone());
        let line = format!(
            "    ({rel:?}, include_str!({:?})),\n",
            abs.display().to_string()
        );
        if rel.starts_with("profiles/") {
            profiles.push_str(&line);
        } else if rel.starts_with("brokers/") {
            // Broker lists for `certify`: neither scenarios nor profiles.
            continue;
        } else {
            scenarios.push_str(&line);
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "/// Embedded scenario files: (path under scenarios/, text)."
    );
    let _ = writeln!(
        out,
        "pub(super) static SCENARIOS: &[(&str, &str)] = &[\n{scenarios}];"
    );
    let _ = writeln!(
        out,
        "/// Embedded broker profiles: (path under scenarios/, text)."
    );
    let _ = writeln!(
        out,
        "pub(super) static PROFILES: &[(&str, &str)] = &[\n{profiles}];"
    );
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("corpus.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("cannot write {}: {e}", dest.display());
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            println!("cargo:rerun-if-changed={}", p.display());
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}
