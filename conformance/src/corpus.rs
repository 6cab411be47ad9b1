//! Loading scenarios: the corpus embedded at build time, or files and folders named on the
//! command line, which replace it.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::scenario::{self, Scenario};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/corpus.rs"));
}

/// A scenario with where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The scenario.
    pub scenario: Scenario,
    /// Its path (under `scenarios/` when embedded).
    pub path: String,
    /// The area: the name of the folder holding the file.
    pub area: String,
}

/// The embedded scenario files as (path, text).
pub fn embedded_sources() -> Vec<(String, String)> {
    embedded::SCENARIOS
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect()
}

/// The embedded profile with this name (`reference`, `mosquitto`, ...), if any.
pub fn embedded_profile(name: &str) -> Option<&'static str> {
    let want = format!("profiles/{name}.yaml");
    embedded::PROFILES
        .iter()
        .find(|(p, _)| *p == want)
        .map(|(_, t)| *t)
}

/// Reads scenario files from paths (files or folders, searched recursively for `*.yaml`,
/// skipping `profiles/` and `brokers/`).
pub fn read_sources(paths: &[PathBuf]) -> Result<Vec<(String, String)>, Error> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut files)?;
        } else if p.exists() {
            files.push(p.clone());
        } else {
            return Err(Error::Usage(format!(
                "no such file or folder: {}",
                p.display()
            )));
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|f| {
            std::fs::read_to_string(&f)
                .map(|t| (f.display().to_string(), t))
                .map_err(|e| Error::Usage(format!("cannot read {}: {e}", f.display())))
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", dir.display())))?;
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            // Profiles and `certify`'s broker lists live beside the scenarios.
            if p.file_name()
                .is_some_and(|n| n == "profiles" || n == "brokers")
            {
                continue;
            }
            walk(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
    Ok(())
}

/// One problem in one file.
#[derive(Debug, Clone)]
pub struct FileProblem {
    /// The file.
    pub path: String,
    /// The message, with line and field where known.
    pub message: String,
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The retired scenario ids (`scenarios/retired.txt`), each with why it was retired.
const RETIRED: &str = include_str!("../../scenarios/retired.txt");

/// Why `id` was retired, if it was: a retired id is never reused, since profiles and CI
/// configurations refer to scenarios by id.
pub fn retired(id: &str) -> Option<&'static str> {
    RETIRED
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| {
            let (name, why) = l.trim().split_once(char::is_whitespace)?;
            (name == id).then(|| why.trim())
        })
}

/// Parses and validates sources; duplicate and retired ids are problems too.
pub fn parse_all(sources: &[(String, String)]) -> (Vec<Loaded>, Vec<FileProblem>) {
    let mut loaded: Vec<Loaded> = Vec::new();
    let mut problems = Vec::new();
    for (path, text) in sources {
        match from_yaml::<Scenario>(text) {
            Ok(s) => {
                for p in scenario::validate(&s) {
                    problems.push(FileProblem {
                        path: path.clone(),
                        message: format!("{}: {}", p.field, p.message),
                    });
                }
                if let Some(why) = retired(&s.id) {
                    problems.push(FileProblem {
                        path: path.clone(),
                        message: format!(
                            "id `{}` is retired ({why}); give the scenario a new id",
                            s.id
                        ),
                    });
                }
                if let Some(other) = loaded.iter().find(|l| l.scenario.id == s.id) {
                    problems.push(FileProblem {
                        path: path.clone(),
                        message: format!("id `{}` is also used by {}", s.id, other.path),
                    });
                }
                let stem = Path::new(path)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if stem != s.id {
                    problems.push(FileProblem {
                        path: path.clone(),
                        message: format!("id `{}` differs from the file name `{stem}`", s.id),
                    });
                }
                let area = Path::new(path)
                    .parent()
                    .and_then(|p| p.file_name())
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "misc".into());
                loaded.push(Loaded {
                    scenario: s,
                    path: path.clone(),
                    area,
                });
            }
            Err(e) => problems.push(FileProblem {
                path: path.clone(),
                message: e.to_string(),
            }),
        }
    }
    (loaded, problems)
}

/// Parses YAML where enums are written as single-key maps (`{ publish: { ... } }`), as every
/// scenario file does. Errors carry the line, column and field path.
pub fn from_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_yaml::Error> {
    serde_yaml::with::singleton_map_recursive::deserialize(serde_yaml::Deserializer::from_str(text))
}

/// Loads the corpus (embedded, or from `paths`), failing on any problem.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Loaded>, Error> {
    let sources = if paths.is_empty() {
        embedded_sources()
    } else {
        read_sources(paths)?
    };
    let (loaded, problems) = parse_all(&sources);
    if !problems.is_empty() {
        return Err(Error::BadScenarios(
            problems.iter().map(ToString::to_string).collect(),
        ));
    }
    Ok(loaded)
}
