//! The subcommands: each takes its parsed arguments and returns an exit code.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::time::Duration;

use globset::{Glob, GlobSetBuilder};

use crate::cli::{
    CertifyArgs, Cli, ColorChoice, Command, ExplainArgs, FuzzArgs, ListArgs, ProbeArgs, RunArgs,
};
use crate::corpus::{self, Loaded};
use crate::error::Error;
use crate::exec::Settings;
use crate::profile::Profile;
use crate::report::{self, Style};
use crate::runner::{self, Options};
use crate::scenario::{self, Version};
use crate::transport::{Target, TlsOptions};
use crate::{catalogue, certify, coverage, exit, probe, record};

/// `println!` that ignores a closed stdout (`mqtt-conformance list | head`) instead of panicking.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// `print!` that ignores a closed stdout.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

/// The default per-step timeout, before `--timeout-scale`.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs a parsed command line; returns the process exit code.
pub fn main(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Run(args) => run_command(*args),
        Command::List(args) => list(&args),
        Command::Explain(args) => explain(&args),
        Command::Coverage(args) => coverage_command(&args),
        Command::Lint(args) => lint(&args.paths),
        Command::Schema => {
            out!("{}", scenario::schema_json());
            Ok(exit::SUCCESS)
        }
        Command::Probe(args) => probe_command(&args),
        Command::Certify(args) => certify_command(&args),
        Command::Fuzz(args) => fuzz_command(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mqtt-conformance: {e}");
            exit::CANNOT_RUN
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))
}

/// Runs `work` to completion unless SIGINT or SIGTERM comes first. Then `work` is dropped, and
/// with it every broker process it started (`Process` stops its group when dropped): the
/// brokers run in process groups of their own, so a Ctrl-C in the terminal does not reach them.
fn block_on<T>(work: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    runtime()?.block_on(async {
        tokio::select! {
            result = work => result,
            signal = interrupted() => Err(Error::Interrupted(signal)),
        }
    })
}

/// The name of the first of SIGINT and SIGTERM to arrive; never returns if neither can be
/// watched.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

fn run_command(args: RunArgs) -> Result<i32, Error> {
    block_on(run_async(args))
}

fn certify_command(args: &CertifyArgs) -> Result<i32, Error> {
    if !(args.timeout_scale > 0.0 && args.timeout_scale.is_finite()) {
        return Err(Error::Usage(
            "--timeout-scale must be a positive number".into(),
        ));
    }
    let list = certify::BrokerList::load(&args.list)?;
    let corpus = select(
        corpus::load(&args.scenarios)?,
        &args.filter,
        &Version::EVERY,
    )?;
    if corpus.is_empty() {
        return Err(Error::Usage("no scenario matches the selection".into()));
    }
    let plan = certify::Plan {
        out: args.out.clone(),
        jobs: args.jobs,
        seed: args.seed.unwrap_or_else(random_seed),
        timeout_scale: args.timeout_scale,
        only: args.only.clone(),
    };
    let m = block_on(certify::certify(&list, &corpus, &plan))?;
    for b in &m.brokers {
        let state = match (&b.error, b.ok) {
            (Some(e), _) => format!("not certified: {e}"),
            (None, true) => "as expected".into(),
            (None, false) => "UNEXPECTED RESULTS".into(),
        };
        outln!("{:<14} {state}", b.name);
    }
    outln!(
        "matrix written to {}",
        args.out.join("index.html").display()
    );
    Ok(if m.brokers.iter().all(|b| b.ok) {
        exit::SUCCESS
    } else {
        exit::FAILURES
    })
}

fn fuzz_command(args: &FuzzArgs) -> Result<i32, Error> {
    if !(args.timeout_scale > 0.0 && args.timeout_scale.is_finite()) {
        return Err(Error::Usage(
            "--timeout-scale must be a positive number".into(),
        ));
    }
    let tls = TlsOptions {
        ca: args.ca.clone(),
        insecure: args.insecure,
        ..TlsOptions::default()
    };
    let options = crate::netfuzz::Options {
        target: Target::parse(&args.broker, &tls)?,
        broker_cmd: args.broker_cmd.clone(),
        duration: args.duration,
        seed: args.seed.unwrap_or_else(random_seed),
        jobs: args.jobs.max(1),
        versions: versions(&args.mqtt_version),
        out: args.out.clone(),
        step_timeout: STEP_TIMEOUT.mul_f64(args.timeout_scale),
        corpus: args.corpus.clone(),
        broker_pid: args.broker_pid,
    };
    let bar = indicatif::ProgressBar::new_spinner();
    let show = |p: &crate::netfuzz::Progress| {
        bar.set_message(p.line());
        bar.tick();
    };
    let report = block_on(crate::netfuzz::fuzz(&options, &show))?;
    bar.finish_and_clear();
    out!("{}", report.table());
    outln!(
        "report written to {}",
        args.out.join("report.json").display()
    );
    Ok(if report.findings.is_empty() {
        exit::SUCCESS
    } else {
        exit::FAILURES
    })
}

fn probe_command(args: &ProbeArgs) -> Result<i32, Error> {
    if !(args.timeout_scale > 0.0 && args.timeout_scale.is_finite()) {
        return Err(Error::Usage(
            "--timeout-scale must be a positive number".into(),
        ));
    }
    let tls = TlsOptions {
        ca: args.ca.clone(),
        cert: args.cert.clone(),
        key: args.key.clone(),
        insecure: args.insecure,
    };
    let target = Target::parse(&args.broker, &tls)?;
    let credentials = match (&args.username, &target.username) {
        (Some(u), _) => Some((u.clone(), args.password.clone())),
        (None, Some(u)) => Some((u.clone(), target.password.clone())),
        (None, None) => None,
    };
    let endpoint = probe::Endpoint {
        target,
        credentials,
        timeout: probe::TIMEOUT.mul_f64(args.timeout_scale),
    };
    let found = runtime()?.block_on(probe::discover(&endpoint));
    if found.probed_with.is_none() && !found.credentials_needed.value {
        let why: Vec<String> = found
            .versions
            .iter()
            .filter_map(|o| o.answer.as_ref().err())
            .map(probe::Refusal::describe)
            .collect();
        return Err(Error::Unreachable(format!(
            "no version accepted a CONNECT: {}",
            why.join("; ")
        )));
    }
    let user = endpoint.credentials.as_ref().map(|(u, _)| u.as_str());
    out!("{}", found.yaml(user));
    Ok(exit::SUCCESS)
}

/// `run`, on a runtime.
pub async fn run_async(args: RunArgs) -> Result<i32, Error> {
    check_run_args(&args)?;
    let full = corpus::load(&args.corpus.paths)?;
    let corpus = select(full.clone(), &args.filter, &versions(&args.mqtt_version))?;
    if corpus.is_empty() {
        return Err(Error::Usage("no scenario matches the selection".into()));
    }
    let (target, broker, default_profile) = open_target(&args).await?;
    let mut managed = match &args.broker_cmd {
        Some(cmd) => Some(start_broker(cmd, &target).await?),
        None => None,
    };
    let declared = match args.profile.as_deref().or(default_profile) {
        Some(p) => Some(Profile::load(p)?),
        None => None,
    };
    let credentials = credentials(&args, &target, declared.as_ref());
    let profile = match declared {
        Some(p) => p,
        None => discover(&args, &target, &credentials).await,
    };
    let opts = Options {
        settings: Settings {
            target,
            step_timeout: STEP_TIMEOUT.mul_f64(args.timeout_scale),
            scale: args.timeout_scale,
            credentials,
        },
        jobs: args.jobs,
        repeat: args.repeat,
        seed: args.seed.unwrap_or_else(random_seed),
        strict: args.strict,
        versions: versions(&args.mqtt_version),
        keep_transcripts: args.record.is_some(),
        delayed_wills_apart: broker.is_none(),
    };
    let progress = progress_bar();
    let outcome = runner::run(&corpus, &profile, &opts, &progress).await;
    progress.finish_and_clear();
    if let Some(h) = broker {
        h.shutdown().await;
    }
    let mut report = match outcome {
        Ok(r) => r,
        Err(e) => {
            if let Some(m) = &mut managed {
                m.stop().await;
            }
            return Err(e);
        }
    };
    // A broker that stopped answering is said once; with --broker-cmd the scenario that
    // kills it is found by restart and re-run.
    if let Some(note) =
        certify::isolate::recover(&mut report, &corpus, &profile, &opts, managed.as_mut()).await
    {
        outln!("BROKER DOWN: {note}");
    }
    if let Some(m) = &mut managed {
        m.stop().await;
    }
    record_transcripts(&args, &mut report)?;
    // Stale entries are judged against the whole corpus, not the filtered selection.
    report.warnings.extend(profile.stale(&full));
    write_reports(&args, &report)?;
    Ok(if report.failed() {
        exit::FAILURES
    } else {
        exit::SUCCESS
    })
}

/// The arguments `run` checks before it loads anything.
fn check_run_args(args: &RunArgs) -> Result<(), Error> {
    if !(args.timeout_scale > 0.0 && args.timeout_scale.is_finite()) {
        return Err(Error::Usage(
            "--timeout-scale must be a positive number".into(),
        ));
    }
    // A folder that cannot be written is found before the run, not after it.
    if let Some(dir) = &args.record {
        std::fs::create_dir_all(dir).map_err(Error::write(dir))?;
    }
    Ok(())
}

/// The broker to run against: `--broker`, or the reference broker started in-process (with
/// its handle and the name of its profile).
async fn open_target(
    args: &RunArgs,
) -> Result<
    (
        Target,
        Option<mqtt_reference_broker::BrokerHandle>,
        Option<&'static str>,
    ),
    Error,
> {
    match &args.broker {
        Some(url) => {
            let tls = TlsOptions {
                ca: args.ca.clone(),
                cert: args.cert.clone(),
                key: args.key.clone(),
                insecure: args.insecure,
            };
            Ok((Target::parse(url, &tls)?, None, None))
        }
        None => {
            let handle = mqtt_reference_broker::start(mqtt_reference_broker::Config::default())
                .await
                .map_err(|e| Error::Broker(e.to_string()))?;
            Ok((
                Target::tcp(handle.tcp_addr()),
                Some(handle),
                Some("reference"),
            ))
        }
    }
}

/// The credentials, in order of precedence: `--username`, the URL's, the profile's.
fn credentials(
    args: &RunArgs,
    target: &Target,
    profile: Option<&Profile>,
) -> Option<(String, Option<String>)> {
    let from_profile = profile.and_then(|p| p.credentials.as_ref());
    match (&args.username, &target.username, from_profile) {
        (Some(u), _, _) => Some((u.clone(), args.password.clone())),
        (None, Some(u), _) => Some((u.clone(), target.password.clone())),
        (None, None, Some(c)) => Some((c.username.clone(), c.password.clone())),
        (None, None, None) => None,
    }
}

/// No profile for an external broker: discover what it offers, so that what it may lawfully
/// lack is skipped with the reason rather than failed.
async fn discover(
    args: &RunArgs,
    target: &Target,
    credentials: &Option<(String, Option<String>)>,
) -> Profile {
    let endpoint = probe::Endpoint {
        target: target.clone(),
        credentials: credentials.clone(),
        timeout: STEP_TIMEOUT.mul_f64(args.timeout_scale),
    };
    let only: Vec<_> = versions(&args.mqtt_version)
        .iter()
        .map(|v| v.protocol())
        .collect();
    let p = probe::discover_only(&endpoint, &only).await.profile();
    outln!("no --profile: capabilities discovered ({})", p.summary());
    p
}

/// A progress bar on a terminal's stderr, hidden otherwise.
fn progress_bar() -> indicatif::ProgressBar {
    let progress =
        indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
    if std::io::stderr().is_terminal() {
        progress.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    } else {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    progress
}

/// `--record`: every transcript to its file, then the passes' transcripts out of the reports,
/// which keep their usual shape.
fn record_transcripts(args: &RunArgs, report: &mut runner::RunReport) -> Result<(), Error> {
    let Some(dir) = &args.record else {
        return Ok(());
    };
    let files = record::write(dir, &report.results)?;
    outln!("recorded {files} transcripts under {}", dir.display());
    for r in &mut report.results {
        if r.outcome == runner::Outcome::Pass {
            r.transcript.clear();
        }
    }
    Ok(())
}

/// The terminal summary, then the report files asked for.
fn write_reports(args: &RunArgs, report: &runner::RunReport) -> Result<(), Error> {
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    out!(
        "{}",
        report::terminal(
            report,
            Style {
                color,
                verbose: args.verbose
            }
        )
    );
    if let Some(p) = &args.json {
        let text = serde_json::to_string_pretty(&report::json(report)).unwrap_or_default();
        write(p, &(text + "\n"))?;
    }
    if let Some(p) = &args.junit {
        write(p, &report::junit(report))?;
    }
    if let Some(p) = &args.report {
        write(p, &report::html(report))?;
    }
    outln!("wall time: {:.2}s", report.duration.as_secs_f64());
    Ok(())
}

/// Starts `--broker-cmd` and waits for the `--broker` port.
async fn start_broker(cmd: &str, target: &Target) -> Result<certify::isolate::Managed, Error> {
    let log = std::env::temp_dir().join(format!(
        "mqtt-conformance-broker-{}.log",
        std::process::id()
    ));
    let launch = certify::process::Launch {
        command: cmd.to_owned(),
        cwd: std::env::current_dir().map_err(|e| Error::Usage(e.to_string()))?,
        log: log.clone(),
        host: target.host.clone(),
        port: target.port,
        timeout: Duration::from_secs(60),
    };
    outln!("starting the broker: {cmd} (output in {})", log.display());
    certify::isolate::Managed::start(launch, None).await
}

fn write(path: &std::path::Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(Error::write(path))
}

fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    u64::from(nanos) ^ (u64::from(std::process::id()) << 32)
}

fn versions(keys: &[String]) -> Vec<Version> {
    if keys.is_empty() {
        return Version::ALL.to_vec();
    }
    Version::EVERY
        .into_iter()
        .filter(|v| keys.iter().any(|k| Version::from_key(k) == Some(*v)))
        .collect()
}

/// Keeps scenarios whose id matches one of the globs and that run under one of the versions.
pub fn select(
    corpus: Vec<Loaded>,
    filters: &[String],
    versions: &[Version],
) -> Result<Vec<Loaded>, Error> {
    let mut b = GlobSetBuilder::new();
    for f in filters {
        b.add(Glob::new(f).map_err(|e| Error::Usage(format!("bad --filter `{f}`: {e}")))?);
    }
    let set = b
        .build()
        .map_err(|e| Error::Usage(format!("bad --filter: {e}")))?;
    Ok(corpus
        .into_iter()
        .filter(|l| filters.is_empty() || set.is_match(&l.scenario.id))
        .filter(|l| l.scenario.versions.iter().any(|v| versions.contains(v)))
        .collect())
}

fn list(args: &ListArgs) -> Result<i32, Error> {
    let corpus = select(
        corpus::load(&args.corpus.paths)?,
        &args.filter,
        &versions(&args.mqtt_version),
    )?;
    if args.json {
        let items: Vec<serde_json::Value> = corpus
            .iter()
            .map(|l| {
                let s = &l.scenario;
                serde_json::json!({
                    "id": s.id,
                    "title": s.title,
                    "area": l.area,
                    "path": l.path,
                    "versions": s.versions,
                    "requires": s.requires.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                    "exclusive": s.exclusive,
                    "fixed_topics": s.fixed_topics,
                    "delays_wills": s.delays_wills(),
                    "statements": s.statements.all().map(|(lvl, id)| serde_json::json!({"id": id, "level": lvl.as_str()})).collect::<Vec<_>>(),
                })
            })
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&items).unwrap_or_default()
        );
    } else {
        for l in &corpus {
            let s = &l.scenario;
            let vs: Vec<&str> = s.versions.iter().map(|v| v.key()).collect();
            let st: Vec<&str> = s.statements.all().map(|(_, id)| id.as_str()).collect();
            outln!(
                "{:<44} {:<11} {:<40} {}",
                s.id,
                vs.join(","),
                st.join(","),
                s.title
            );
        }
        outln!("{} scenarios", corpus.len());
    }
    Ok(exit::SUCCESS)
}

fn explain(args: &ExplainArgs) -> Result<i32, Error> {
    let sources = if args.corpus.paths.is_empty() {
        corpus::embedded_sources()
    } else {
        corpus::read_sources(&args.corpus.paths)?
    };
    let (loaded, _) = corpus::parse_all(&sources);
    let Some(l) = loaded.iter().find(|l| l.scenario.id == args.id) else {
        return Err(Error::Usage(format!("no scenario with id `{}`", args.id)));
    };
    let s = &l.scenario;
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", s.id, s.title);
    let _ = writeln!(out, "file: {}", l.path);
    let vs: Vec<&str> = s.versions.iter().map(|v| v.key()).collect();
    let _ = writeln!(out, "versions: {}", vs.join(", "));
    if !s.requires.is_empty() {
        let r: Vec<&str> = s.requires.iter().map(|c| c.as_str()).collect();
        let _ = writeln!(out, "requires: {}", r.join(", "));
    }
    if s.exclusive {
        let _ = writeln!(out, "exclusive: runs alone");
    }
    if s.fixed_topics {
        let _ = writeln!(
            out,
            "fixed topics: never runs alongside another scenario with fixed topics"
        );
    }
    if s.delays_wills() {
        let _ = writeln!(
            out,
            "delayed wills: against an external broker, never runs alongside another scenario that leaves delayed wills"
        );
    }
    let _ = writeln!(out, "\nstatements:");
    for v in &s.versions {
        for st in s.statements.for_version(*v) {
            let text = catalogue::lookup(v.catalogue(), &st.id)
                .map(|c| format!("[{} {}] {}", c.section, c.actor, c.summary))
                .unwrap_or_else(|| "(not in the catalogue)".into());
            let _ = writeln!(
                out,
                "  {} {:<6} {:<16} {text}",
                v.key(),
                st.level.as_str().to_uppercase(),
                st.id
            );
        }
    }
    if let Some(n) = &s.notes {
        let _ = writeln!(out, "\nnotes: {}", n.trim());
    }
    let _ = writeln!(out, "\nsource:");
    if let Some((_, text)) = sources.iter().find(|(p, _)| *p == l.path) {
        for line in text.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    out!("{out}");
    Ok(exit::SUCCESS)
}

fn coverage_command(args: &ListArgs) -> Result<i32, Error> {
    let corpus = select(
        corpus::load(&args.corpus.paths)?,
        &args.filter,
        &Version::ALL,
    )?;
    let cov = coverage::compute(&corpus, &versions(&args.mqtt_version));
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&cov).unwrap_or_default());
        return Ok(exit::SUCCESS);
    }
    for c in &cov {
        print_part(c.version, &c.server, "wire-testable server statements");
        print_part(
            c.version,
            &c.client_violations,
            "client statements whose violation the server must act on",
        );
    }
    Ok(exit::SUCCESS)
}

/// One line of `coverage` per set of statements, then the ones no scenario cites.
fn print_part(version: Version, part: &coverage::Part, what: &str) {
    let pct = if part.total == 0 {
        0.0
    } else {
        100.0 * part.covered as f64 / part.total as f64
    };
    outln!(
        "MQTT {version}: {} of {} {what} checked ({pct:.1}%)",
        part.covered,
        part.total
    );
    if !part.uncovered.is_empty() {
        outln!("  not checked yet:");
        for id in &part.uncovered {
            let summary = catalogue::lookup(version.catalogue(), id)
                .map(|s| s.summary)
                .unwrap_or("");
            outln!("    {id:<16} {summary}");
        }
    }
}

fn lint(paths: &[std::path::PathBuf]) -> Result<i32, Error> {
    let sources = if paths.is_empty() {
        corpus::embedded_sources()
    } else {
        corpus::read_sources(paths)?
    };
    let (loaded, problems) = corpus::parse_all(&sources);
    for p in &problems {
        outln!("{p}");
    }
    outln!(
        "{} files, {} scenarios, {} problems",
        sources.len(),
        loaded.len(),
        problems.len()
    );
    Ok(if problems.is_empty() {
        exit::SUCCESS
    } else {
        exit::FAILURES
    })
}
