//! The command line, as clap derive types. Nothing here runs anything.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// MQTT 3.1.1 and 5.0 conformance suite for brokers.
///
/// Exit codes: 0 no failures, 1 failures, 2 the run could not be done.
#[derive(Debug, Parser)]
#[command(name = "mqtt-conformance", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios against a broker (by default the in-process reference broker).
    Run(Box<RunArgs>),
    /// List scenarios: id, versions, statements and title.
    List(ListArgs),
    /// Show a scenario and the statements it checks.
    Explain(ExplainArgs),
    /// Spec coverage: wire-testable server statements checked by some scenario.
    Coverage(ListArgs),
    /// Validate scenario files (syntax, fields, statement ids, unique ids).
    Lint(CorpusArgs),
    /// Print the JSON schema of scenario files.
    Schema,
    /// Discover what a broker offers and print a draft profile (YAML).
    Probe(ProbeArgs),
    /// Certify a list of brokers: the matrix as HTML, JSON, JUnit per broker and Markdown.
    Certify(CertifyArgs),
    /// Fuzz a broker over the network; findings become reproducer scenarios.
    Fuzz(FuzzArgs),
}

/// Arguments of `fuzz`.
#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// Broker URL: mqtt://host:port, mqtts://, ws://host:port/path, wss://.
    #[arg(long, value_name = "URL")]
    pub broker: String,
    /// Start the broker with this shell command (own process group, output in DIR/broker.log)
    /// and restart it after each death or wedge; stop it at the end.
    #[arg(long, value_name = "COMMAND")]
    pub broker_cmd: Option<String>,
    /// How long to generate sessions (e.g. 30s, 10m); minimising a finding may add to it.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub duration: std::time::Duration,
    /// The seed (default: random, printed in the summary and report.json).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Sessions at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Only this version (repeatable); default both, in turn.
    #[arg(long = "mqtt-version", value_name = "VERSION", value_parser = ["3.1.1", "5.0"])]
    pub mqtt_version: Vec<String>,
    /// Output folder: report.json, findings/*.yaml, findings/*.transcript.txt, broker.log.
    #[arg(long, value_name = "DIR", default_value = "fuzz-out")]
    pub out: PathBuf,
    /// Transcripts recorded by `run --record DIR`: half the sessions replay one of them with
    /// field-aware mutations (topics, flags, ids, properties, lengths, order).
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// The broker's process id (Linux): its resident memory and open descriptors are read
    /// from /proc after each round; growth that stays is a finding.
    #[arg(long, value_name = "PID")]
    pub broker_pid: Option<u32>,
    /// CA certificates (PEM) to trust for mqtts:// and wss://.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Accept any server certificate.
    #[arg(long)]
    pub insecure: bool,
    /// Multiply every timeout (for slow brokers or machines).
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    pub timeout_scale: f64,
}

/// Arguments of `certify`.
#[derive(Debug, Args)]
pub struct CertifyArgs {
    /// The broker list (YAML; see scenarios/brokers/).
    #[arg(value_name = "BROKERS.yaml")]
    pub list: PathBuf,
    /// Output folder: index.html, matrix.json, matrix.schema.json, NAME.junit.xml, summary.md.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Only these brokers of the list (repeatable).
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    /// Scenario files or folders; replace the built-in corpus.
    #[arg(long = "scenarios", value_name = "PATH")]
    pub scenarios: Vec<PathBuf>,
    /// Only scenarios whose id matches this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub filter: Vec<String>,
    /// Scenario runs at once, per broker (a broker's `jobs` in the list caps it).
    #[arg(long, default_value_t = 32)]
    pub jobs: usize,
    /// Seed of the run order (default: random).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Multiply every timeout (on top of each broker's own `timeout_scale`).
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    pub timeout_scale: f64,
}

/// Arguments of `probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Broker URL: mqtt://host:port, mqtts://, ws://host:port/path, wss://.
    #[arg(long, value_name = "URL")]
    pub broker: String,
    /// User name for every CONNECT (overrides the URL's).
    #[arg(long)]
    pub username: Option<String>,
    /// Password for every CONNECT.
    #[arg(long)]
    pub password: Option<String>,
    /// CA certificates (PEM) to trust for mqtts:// and wss://.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate chain (PEM).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Accept any server certificate.
    #[arg(long)]
    pub insecure: bool,
    /// Multiply every timeout (for slow brokers or machines).
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    pub timeout_scale: f64,
}

/// Where scenarios come from.
#[derive(Debug, Args)]
pub struct CorpusArgs {
    /// Scenario files or folders; replace the built-in corpus.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Arguments of `list` and `coverage`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Corpus.
    #[command(flatten)]
    pub corpus: CorpusArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Only scenarios whose id matches this glob (e.g. 'qos2-*'); repeatable.
    #[arg(long, value_name = "GLOB")]
    pub filter: Vec<String>,
    /// Only this version.
    #[arg(long = "mqtt-version", value_name = "VERSION", value_parser = ["3.1", "3.1.1", "5.0"])]
    pub mqtt_version: Vec<String>,
}

/// Arguments of `explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The scenario id.
    pub id: String,
    /// Corpus.
    #[command(flatten)]
    pub corpus: CorpusArgs,
}

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Corpus.
    #[command(flatten)]
    pub corpus: CorpusArgs,
    /// Broker URL: mqtt://host:port, mqtts://, ws://host:port/path, wss://; default: the
    /// reference broker, started in-process on a free port.
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// Start the broker with this shell command (own process group, output in the temporary
    /// folder) and wait for the --broker port; after a death, restart it and re-run the
    /// suspects one at a time to name the scenario that kills it; stop it at the end.
    #[arg(long, value_name = "COMMAND", requires = "broker")]
    pub broker_cmd: Option<String>,
    /// Broker profile: a file, or a built-in name (reference, mosquitto).
    #[arg(long, value_name = "FILE|NAME")]
    pub profile: Option<String>,
    /// User name for every CONNECT (overrides the URL and the profile).
    #[arg(long)]
    pub username: Option<String>,
    /// Password for every CONNECT.
    #[arg(long)]
    pub password: Option<String>,
    /// CA certificates (PEM) to trust for mqtts:// and wss://.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate chain (PEM).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Accept any server certificate.
    #[arg(long)]
    pub insecure: bool,
    /// Only scenarios whose id matches this glob (e.g. 'qos2-*'); repeatable.
    #[arg(long, value_name = "GLOB")]
    pub filter: Vec<String>,
    /// Only this version (repeatable); default 3.1.1 and 5.0 (3.1 runs only when asked for).
    #[arg(long = "mqtt-version", value_name = "VERSION", value_parser = ["3.1", "3.1.1", "5.0"])]
    pub mqtt_version: Vec<String>,
    /// Scenario runs at once (they mostly wait on the network, so many more than cores).
    #[arg(long, default_value_t = 32)]
    pub jobs: usize,
    /// Run each scenario N times; differing outcomes are reported as flaky.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: usize,
    /// Seed of the run order (default: random, printed in the summary).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Multiply every timeout (for slow brokers or machines).
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    pub timeout_scale: f64,
    /// Ignore the profile's deviations and fail on non-strict results (certification).
    #[arg(long)]
    pub strict: bool,
    /// Write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Record every packet sent and received: one JSON-lines transcript per scenario and
    /// version under DIR/AREA/ID.VERSION.jsonl (fuzz/seeds turns them into fuzz seeds).
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// Colour: auto (only on a terminal), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print every result, not only the ones that need attention.
    #[arg(long, short)]
    pub verbose: bool,
}

/// When to colour terminal output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Only when stdout is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}
