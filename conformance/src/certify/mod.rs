//! `mqtt-conformance certify brokers.yaml --out DIR`: runs the suite against each broker of a
//! list in turn (starting and stopping it when the list says how) and writes the matrix:
//! `index.html` (self-contained), `matrix.json` and its schema, `<broker>.junit.xml` and
//! `summary.md`.

mod bisect;
pub mod brokers;
mod html;
pub mod isolate;
pub mod matrix;
pub mod process;
mod summary;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::corpus::Loaded;
use crate::error::Error;
use crate::exec::Settings;
use crate::probe;
use crate::profile::Profile;
use crate::report;
use crate::runner::{self, Options, RunReport};
use crate::scenario::Version;
use crate::transport::{Target, TlsOptions};

pub use brokers::{BrokerEntry, BrokerList};
pub use matrix::Matrix;

/// How to certify.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The output folder.
    pub out: PathBuf,
    /// Parallel scenario runs per broker (capped by a broker's own `jobs`).
    pub jobs: usize,
    /// Order seed.
    pub seed: u64,
    /// Multiplies every timeout (on top of each broker's own factor).
    pub timeout_scale: f64,
    /// Only these brokers (by name); empty: all.
    pub only: Vec<String>,
}

/// One broker's certification: its column, and its run when there was one.
struct Certified {
    column: matrix::BrokerColumn,
    report: Option<RunReport>,
}

/// Certifies every broker of `list` against `corpus` and writes the outputs into `plan.out`.
pub async fn certify(list: &BrokerList, corpus: &[Loaded], plan: &Plan) -> Result<Matrix, Error> {
    std::fs::create_dir_all(&plan.out).map_err(Error::write(&plan.out))?;
    let started = SystemTime::now();
    let mut columns = Vec::new();
    let mut rows = BTreeMap::new();
    for entry in &list.brokers {
        if !plan.only.is_empty() && !plan.only.contains(&entry.name) {
            continue;
        }
        eprintln!(
            "certify: {} ({} at once) ...",
            entry.name,
            entry.jobs(plan.jobs)
        );
        let c = one(list, entry, corpus, plan).await;
        if let Some(r) = &c.report {
            matrix::add_results(&mut rows, &entry.name, r);
            let path = plan.out.join(format!("{}.junit.xml", entry.name));
            std::fs::write(&path, report::junit(r)).map_err(Error::write(&path))?;
        }
        eprintln!(
            "certify: {} {} ({:.1} s)",
            entry.name,
            if c.column.ok {
                "as expected"
            } else {
                "UNEXPECTED RESULTS"
            },
            Duration::from_millis(c.column.duration_ms).as_secs_f64()
        );
        columns.push(c.column);
    }
    if columns.is_empty() {
        return Err(Error::Usage("no broker of the list was selected".into()));
    }
    let m = Matrix {
        format: matrix::FORMAT.into(),
        format_version: matrix::FORMAT_VERSION,
        tool_version: report::TOOL_VERSION.into(),
        started: humantime::format_rfc3339_seconds(started).to_string(),
        versions: Version::EVERY.iter().map(|v| v.key().to_owned()).collect(),
        brokers: columns,
        scenarios: rows.into_values().collect(),
    };
    write_outputs(&m, &plan.out)?;
    Ok(m)
}

fn write_outputs(m: &Matrix, out: &Path) -> Result<(), Error> {
    let files = [
        ("index.html", html::render(m)),
        (
            "matrix.json",
            serde_json::to_string_pretty(m).unwrap_or_default() + "\n",
        ),
        ("matrix.schema.json", matrix::schema_json()),
        ("summary.md", summary::render(m)),
    ];
    for (name, text) in files {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(Error::write(&path))?;
    }
    Ok(())
}

/// Certifies one broker; every failure becomes the column's `error`, never an `Err`.
async fn one(list: &BrokerList, e: &BrokerEntry, corpus: &[Loaded], plan: &Plan) -> Certified {
    let clock = Instant::now();
    let mut column = matrix::BrokerColumn {
        name: e.name.clone(),
        url: e.url.clone(),
        broker: e.name.clone(),
        profile: e.profile.clone().unwrap_or_else(|| "(discovered)".into()),
        versions: Vec::new(),
        error: None,
        down: None,
        ok: false,
        duration_ms: 0,
        counts: BTreeMap::new(),
        deviations: Vec::new(),
        warnings: Vec::new(),
    };
    let report = match started(list, e, corpus, plan, &mut column).await {
        Ok(r) => Some(r),
        Err(err) => {
            column.error = Some(err.to_string());
            None
        }
    };
    if let Some(r) = &report {
        for x in &r.results {
            *column.counts.entry(matrix::outcome(x)).or_insert(0) += 1;
        }
        column.broker = r.broker_name.clone();
        column.warnings = r.warnings.clone();
        column.ok = !r.failed();
    }
    column.duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);

    Certified { column, report }
}

/// Starts the broker if the list says how, runs the suite, stops it.
async fn started(
    list: &BrokerList,
    e: &BrokerEntry,
    corpus: &[Loaded],
    plan: &Plan,
    column: &mut matrix::BrokerColumn,
) -> Result<RunReport, Error> {
    let run_dir = plan.out.join("run").join(&e.name);
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir).map_err(Error::write(&run_dir))?;
    let run_dir = run_dir.canonicalize().map_err(Error::write(&run_dir))?;
    let dir = list.dir.canonicalize().unwrap_or_else(|_| list.dir.clone());
    let port = free_port()?;
    let url = brokers::fill(&e.url, port, &run_dir, &dir);
    column.url.clone_from(&url);
    let target = Target::parse(&url, &TlsOptions::default())?;
    let mut managed = match &e.start {
        None => None,
        Some(cmd) => {
            let launch = process::Launch {
                command: brokers::fill(cmd, port, &run_dir, &dir),
                cwd: dir.clone(),
                log: run_dir.join("broker.log"),
                host: target.host.clone(),
                port: target.port,
                timeout: Duration::from_secs(e.start_timeout.unwrap_or(60)),
            };
            let stop = e
                .stop
                .as_ref()
                .map(|s| brokers::fill(s, port, &run_dir, &dir));
            Some(isolate::Managed::start(launch, stop).await?)
        }
    };
    let result = run_suite(list, e, corpus, plan, target, column, managed.as_mut()).await;
    if let Some(m) = &mut managed {
        m.stop().await;
    }
    result
}

async fn run_suite(
    list: &BrokerList,
    e: &BrokerEntry,
    corpus: &[Loaded],
    plan: &Plan,
    target: Target,
    column: &mut matrix::BrokerColumn,
    managed: Option<&mut isolate::Managed>,
) -> Result<RunReport, Error> {
    let scale = plan.timeout_scale * e.timeout_scale.unwrap_or(1.0);
    let versions = e.versions.clone().unwrap_or_else(|| Version::ALL.to_vec());
    column.versions = versions.iter().map(|v| v.key().to_owned()).collect();
    let credentials = e
        .credentials
        .as_ref()
        .map(|c| (c.username.clone(), c.password.clone()));
    let step_timeout = crate::app::STEP_TIMEOUT.mul_f64(scale);
    let profile = match &e.profile {
        Some(spec) => Profile::load(&list.profile_spec(spec))?,
        None => {
            let endpoint = probe::Endpoint {
                target: target.clone(),
                credentials: credentials.clone(),
                timeout: step_timeout,
            };
            let only: Vec<_> = versions.iter().map(|v| v.protocol()).collect();
            probe::discover_only(&endpoint, &only).await.profile()
        }
    };
    column.deviations = profile
        .deviations
        .iter()
        .map(|d| matrix::DeviationEntry {
            id: d.id.clone(),
            versions: d
                .versions
                .iter()
                .flatten()
                .map(|v| v.key().to_owned())
                .collect(),
            reason: d.reason.clone(),
        })
        .collect();
    let selected = crate::app::select(corpus.to_vec(), &[], &versions)?;
    let opts = Options {
        settings: Settings {
            target,
            step_timeout,
            scale,
            credentials,
        },
        jobs: e.jobs(plan.jobs),
        repeat: 1,
        seed: plan.seed,
        strict: false,
        versions,
        keep_transcripts: true,
        // Every broker certify runs is external.
        delayed_wills_apart: true,
    };
    let bar = indicatif::ProgressBar::hidden();
    let mut r = runner::run(&selected, &profile, &opts, &bar).await?;
    column.down = isolate::recover(&mut r, &selected, &profile, &opts, managed).await;
    r.warnings.extend(profile.stale(corpus));
    Ok(r)
}

/// A free loopback port (bound and released; the broker binds it next).
fn free_port() -> Result<u16, Error> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::Usage(format!("no free port: {e}")))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::Usage(format!("no free port: {e}")))
}
