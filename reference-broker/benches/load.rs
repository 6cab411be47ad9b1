//! Broker load: the reference broker and mosquitto under the same workloads, in one run.
//!
//! Run with `cargo bench -p mqtt-reference-broker --bench load` (a plain `main`, no harness).
//! It takes about two minutes on a 2-core machine.
//!
//! # Brokers
//!
//! - ours: the `mqtt-reference-broker` binary that cargo builds for this bench (the target
//!   dir's `release/`), run as a child process with `--listen 127.0.0.1:PORT`, so that its
//!   resident memory can be read and it does not share this process's runtime. If the binary
//!   does not come up, the broker is started in-process with `mqtt_reference_broker::start` on
//!   a runtime and threads of its own, and its memory is reported as unmeasured.
//! - mosquitto: `/usr/sbin/mosquitto -c <config>` with a config of only `listener PORT
//!   127.0.0.1` and `allow_anonymous true`, everything else at its defaults. Without it, only
//!   ours is measured. Two of those defaults shape the comparison: `set_tcp_nodelay false`
//!   (Nagle's algorithm stays on for its client sockets, which costs it latency whenever
//!   nothing flows back to piggyback the ACK on: QoS 0 and fan-out) and
//!   `max_queued_messages 1000` (it drops messages beyond that, which it does at fan-in QoS 1).
//!   With `LOAD_MOSQUITTO_NODELAY=1` in the environment the config also says
//!   `set_tcp_nodelay true`.
//!
//! Each broker runs alone, ours first, on loopback only; each one's log goes to a temporary
//! file that is removed afterwards.
//!
//! # Workloads
//!
//! | workload      | publishers | subscribers | saturated: published | deliveries |
//! |---------------|------------|-------------|----------------------|------------|
//! | fan-in  QoS 0 | 50         | 1           | 50 × 10,000          | 500,000    |
//! | fan-in  QoS 1 | 50         | 1           | 50 × 10,000          | 500,000    |
//! | fan-out QoS 0 | 1          | 50          | 20,000               | 1,000,000  |
//! | fan-out QoS 1 | 1          | 50          | 20,000               | 1,000,000  |
//!
//! MQTT 3.1.1, clean session, keep alive 0, one topic per workload (subscribers use the exact
//! topic name as their filter), 64-byte payloads. At QoS 1 the publishers publish at QoS 1 and
//! the subscribers subscribe at QoS 1, so both legs are acknowledged. The clients are this
//! file's own: tokio sockets, `mqtt_codec` encoding and decoding, `TCP_NODELAY`.
//!
//! Each workload runs twice, on fresh connections:
//!
//! - saturated, for msg/s: closed loop, so that no broker is measured on how large a backlog
//!   it lets build up. A publisher may be at most [`Workload::window`] messages ahead of the
//!   slowest subscriber of its messages (and at QoS 1 of its own PUBACKs) and writes as fast as
//!   that allows, in batches: 10 per publisher fan-in (500 in flight), 200 fan-out (10,000
//!   deliveries in flight). "Ahead" counts from the highest sequence number a subscriber has
//!   seen, so a message a broker drops does not stall the loop;
//! - at a fixed rate, for latency: open loop, [`LATENCY_RATE`] deliveries per second (400
//!   PUBLISHes/s per publisher fan-in, 400/s fan-out) for [`LATENCY_SECONDS`], well below
//!   either broker's capacity, so that p50 and p99 say how long a message takes rather than
//!   how long the queue is.
//!
//! # Measurement
//!
//! Each payload carries the time the publisher encoded it (nanoseconds since a common
//! `Instant`), the publisher's index and a sequence number. A subscriber takes the time once
//! per socket read and records, for every PUBLISH in that read, the difference. msg/s is
//! deliveries (PUBLISH packets read by subscribers) divided by the time from releasing the
//! publishers to the last delivery; p50 and p99 are over every delivery of a phase. A phase
//! ends when every delivery has arrived, when every publisher's last message has, 1 s after
//! the publishers finish with nothing more arriving, or after [`PHASE_TIMEOUT`]; deliveries
//! that never arrive are reported as lost. A short fan-in run first warms each broker up and
//! is not reported.
//!
//! Memory is VmRSS from `/proc/<pid>/status`, read on the fresh broker before and after
//! opening [`IDLE_CONNECTIONS`] connections that send CONNECT (keep alive 0), wait for CONNACK
//! and then stay silent; per connection is the difference divided by the count. Kernel socket
//! buffers are not in RSS. The open-file limit is raised to its hard limit first; the brokers
//! inherit it.
//!
//! The last lines are a table of both brokers side by side with the ratios ours/mosquitto,
//! flagged against the targets: at least mosquitto's throughput on every workload with no
//! message lost, at most its p99, and at most twice its memory per idle connection.
//!
//! Clients and brokers share the machine's cores (and whatever else runs on it), so compare
//! the brokers within one run rather than numbers across machines.

use std::fmt;
use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use mqtt_codec::{
    ByteString, ConnAck, Connect, Decoded, Decoder, Packet, ProtocolVersion, PubAck, Publish, QoS,
    Subscribe,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Notify, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{MissedTickBehavior, timeout_at};

/// The protocol every client speaks.
const VERSION: ProtocolVersion = ProtocolVersion::V3_1_1;
/// Application payload size.
const PAYLOAD_LEN: usize = 64;
/// Deliveries per second in the fixed-rate (latency) phase.
const LATENCY_RATE: u64 = 20_000;
/// Length of the fixed-rate phase.
const LATENCY_SECONDS: u64 = 2;
/// Idle connections opened for the memory measurement.
const IDLE_CONNECTIONS: usize = 10_000;
/// Idle connections being opened at once.
const CONNECT_CONCURRENCY: usize = 64;
/// The longest one phase of a workload may run.
const PHASE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long subscribers wait for stragglers once every publisher has finished.
const QUIET: Duration = Duration::from_secs(1);
/// How long a broker may take to accept its first MQTT connection.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Where Debian installs mosquitto.
const MOSQUITTO: &str = "/usr/sbin/mosquitto";
/// The reference broker's binary, as cargo built it for this bench.
const REFERENCE_BIN: &str = env!("CARGO_BIN_EXE_mqtt-reference-broker");

/// Every error here ends the bench (or, while starting a broker, skips that broker).
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One load pattern: every publisher publishes to one topic that every subscriber subscribes to.
#[derive(Clone, Copy, Debug)]
struct Workload {
    name: &'static str,
    publishers: usize,
    subscribers: usize,
    qos: QoS,
    /// Messages each publisher publishes in the saturated phase.
    per_publisher: u64,
    /// How far a saturating publisher may run ahead of its slowest subscriber (and PUBACKs).
    window: u64,
}

impl Workload {
    fn label(&self) -> String {
        format!("{} QoS {}", self.name, self.qos.as_u8())
    }

    fn topic(&self) -> ByteString {
        let tag: String = self
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!("load/{tag}/qos{}", self.qos.as_u8()).into()
    }

    /// Subscriptions each PUBLISH is delivered to.
    fn fan(&self) -> u64 {
        (self.publishers * self.subscribers) as u64
    }
}

const FAN_IN: Workload = Workload {
    name: "fan-in 50→1",
    publishers: 50,
    subscribers: 1,
    qos: QoS::AtMostOnce,
    per_publisher: 10_000,
    window: 10,
};

const FAN_OUT: Workload = Workload {
    name: "fan-out 1→50",
    publishers: 1,
    subscribers: 50,
    qos: QoS::AtMostOnce,
    per_publisher: 20_000,
    window: 200,
};

const WORKLOADS: [Workload; 4] = [
    FAN_IN,
    Workload {
        qos: QoS::AtLeastOnce,
        ..FAN_IN
    },
    FAN_OUT,
    Workload {
        qos: QoS::AtLeastOnce,
        ..FAN_OUT
    },
];

/// Not reported: gets each broker's allocator and caches past their first messages.
const WARM_UP: Workload = Workload {
    name: "warm-up",
    per_publisher: 200,
    ..FAN_IN
};

/// How publishers pace themselves in one phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pace {
    /// Closed loop: as fast as [`Workload::window`] allows.
    Saturate,
    /// Open loop: [`LATENCY_RATE`] deliveries per second for [`LATENCY_SECONDS`].
    Fixed,
}

impl Pace {
    /// Messages each publisher of `w` publishes.
    fn per_publisher(self, w: &Workload) -> u64 {
        match self {
            Self::Saturate => w.per_publisher,
            Self::Fixed => LATENCY_RATE * LATENCY_SECONDS / w.fan(),
        }
    }
}

fn main() -> ExitCode {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < IDLE_CONNECTIONS as u64 + 1_000 => {
            println!("note: the open-file limit is {limit}; the idle-connection test may fail");
        }
        Ok(_) => {}
        Err(e) => println!("note: could not raise the open-file limit: {e}"),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("load: cannot build the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // A signal drops `run`, and with it the broker processes (each is killed on drop).
    let result = runtime.block_on(async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = run() => result,
            _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
            _ = terminate.recv() => Err("terminated".into()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), BoxError> {
    println!(
        "load: {} workloads, MQTT 3.1.1, {PAYLOAD_LEN} B payloads; saturated for msg/s, then \
         {} msg/s for latency; {IDLE_CONNECTIONS} idle connections for memory",
        WORKLOADS.len(),
        thousands(LATENCY_RATE as f64),
    );
    let mut reports = Vec::new();

    println!("\n== reference broker");
    match start_reference().await {
        Ok(broker) => reports.push(bench(broker).await?),
        Err(e) => println!("reference broker unavailable, not measured: {e}"),
    }

    println!("\n== mosquitto");
    if Path::new(MOSQUITTO).exists() {
        match start_mosquitto().await {
            Ok(broker) => reports.push(bench(broker).await?),
            Err(e) => println!("mosquitto did not start, not measured: {e}"),
        }
    } else {
        println!("{MOSQUITTO} is not installed (apt-get install mosquitto); only ours is measured");
    }

    print_summary(&reports);
    Ok(())
}

/// Everything measured on one broker.
struct Report {
    broker: String,
    memory: Option<Memory>,
    results: Vec<Measured>,
}

async fn bench(broker: Broker) -> Result<Report, BoxError> {
    println!("{} at {}", broker.label, broker.addr);
    let memory = match broker.pid {
        Some(pid) => {
            let memory = measure_idle(broker.addr, pid).await?;
            println!("  {memory}");
            // Let the broker tear the idle connections down before the load starts.
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some(memory)
        }
        None => {
            println!("  memory: unmeasured (the broker runs in this process)");
            None
        }
    };
    run_phase(broker.addr, &WARM_UP, Pace::Saturate).await?;
    let mut results = Vec::new();
    for workload in &WORKLOADS {
        let saturated = run_phase(broker.addr, workload, Pace::Saturate).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let fixed = run_phase(broker.addr, workload, Pace::Fixed).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let measured = Measured {
            workload: *workload,
            saturated,
            fixed,
        };
        println!("  {measured}");
        results.push(measured);
    }
    let label = broker.label.clone();
    broker.stop().await;
    Ok(Report {
        broker: label,
        memory,
        results,
    })
}

// ---------------------------------------------------------------------------------------------
// Brokers

/// A running broker, stopped on drop.
struct Broker {
    label: String,
    addr: SocketAddr,
    /// The process to read VmRSS of; `None` when the broker runs in this process.
    pid: Option<u32>,
    running: Running,
}

enum Running {
    /// Held for its `Drop`, which kills the process.
    Process {
        _child: ChildGuard,
    },
    InProcess(InProcessBroker),
}

impl Broker {
    async fn stop(self) {
        if let Running::InProcess(broker) = self.running {
            broker.shutdown().await;
        }
    }
}

/// A child process, killed and reaped on drop, after which `cleanup` files are removed.
struct ChildGuard {
    child: Child,
    cleanup: Vec<PathBuf>,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for path in &self.cleanup {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A loopback address no one listens on (the port is released just before the broker binds
/// it, a small race this bench accepts).
fn free_addr() -> io::Result<SocketAddr> {
    StdTcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// Spawns `command` with its output going to `log` and waits until it accepts MQTT
/// connections on `addr`; `cleanup` files are removed when the process is.
async fn spawn_broker(
    mut command: Command,
    addr: SocketAddr,
    log: PathBuf,
    mut cleanup: Vec<PathBuf>,
) -> Result<ChildGuard, BoxError> {
    cleanup.push(log.clone());
    let spawned = File::create(&log).and_then(|file| {
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
    });
    let child = match spawned {
        Ok(child) => child,
        Err(e) => {
            for path in &cleanup {
                let _ = std::fs::remove_file(path);
            }
            return Err(format!("cannot run {:?}: {e}", command.get_program()).into());
        }
    };
    let mut guard = ChildGuard { child, cleanup };
    if let Err(e) = wait_ready(addr, Some(&mut guard.child)).await {
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        let output = output.trim();
        return Err(if output.is_empty() {
            e
        } else {
            format!("{e}; its output: {output}").into()
        });
    }
    Ok(guard)
}

async fn start_reference() -> Result<Broker, BoxError> {
    let addr = free_addr()?;
    let mut command = Command::new(REFERENCE_BIN);
    command.arg("--listen").arg(addr.to_string());
    let log = std::env::temp_dir().join(format!("load-bench-reference-{}.log", addr.port()));
    match spawn_broker(command, addr, log, Vec::new()).await {
        Ok(guard) => Ok(Broker {
            label: "reference broker".into(),
            addr,
            pid: Some(guard.child.id()),
            running: Running::Process { _child: guard },
        }),
        Err(e) => {
            println!("{REFERENCE_BIN} did not come up ({e}); starting the broker in-process");
            let broker = InProcessBroker::start()?;
            let addr = broker.addr;
            wait_ready(addr, None).await?;
            Ok(Broker {
                label: "reference broker (in-process)".into(),
                addr,
                pid: None,
                running: Running::InProcess(broker),
            })
        }
    }
}

async fn start_mosquitto() -> Result<Broker, BoxError> {
    let addr = free_addr()?;
    let version = Command::new(MOSQUITTO)
        .arg("-h")
        .output()
        .ok()
        .and_then(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "mosquitto".into());
    let dir = std::env::temp_dir();
    let config = dir.join(format!("load-bench-mosquitto-{}.conf", addr.port()));
    let mut text = format!("listener {} 127.0.0.1\nallow_anonymous true\n", addr.port());
    let nodelay = std::env::var_os("LOAD_MOSQUITTO_NODELAY").is_some_and(|v| v == "1");
    if nodelay {
        text.push_str("set_tcp_nodelay true\n");
    }
    std::fs::write(&config, text)?;
    let mut command = Command::new(MOSQUITTO);
    command.arg("-c").arg(&config);
    let log = dir.join(format!("load-bench-mosquitto-{}.log", addr.port()));
    let guard = spawn_broker(command, addr, log, vec![config]).await?;
    let nagle = if nodelay {
        "set_tcp_nodelay true"
    } else {
        "defaults: Nagle on"
    };
    Ok(Broker {
        label: format!("{version} ({nagle})"),
        addr,
        pid: Some(guard.child.id()),
        running: Running::Process { _child: guard },
    })
}

/// Waits until `addr` answers CONNECT with CONNACK, or `child` exits, or [`STARTUP_TIMEOUT`].
async fn wait_ready(addr: SocketAddr, mut child: Option<&mut Child>) -> Result<(), BoxError> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Some(child) = child.as_deref_mut()
            && let Some(status) = child.try_wait()?
        {
            return Err(format!("it exited with {status}").into());
        }
        let probe = tokio::time::timeout(Duration::from_secs(2), Client::connect(addr, "probe"));
        match probe.await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) if Instant::now() > deadline => return Err(e),
            Err(_) if Instant::now() > deadline => return Err("no CONNACK in time".into()),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The reference broker on a runtime and threads of its own, so that it does not share this
/// bench's runtime (it does share the process, so its memory cannot be told apart).
struct InProcessBroker {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcessBroker {
    fn start() -> Result<Self, BoxError> {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("reference-broker".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = addr_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let config = mqtt_reference_broker::Config::default();
                    match mqtt_reference_broker::start(config).await {
                        Ok(handle) => {
                            let _ = addr_tx.send(Ok(handle.tcp_addr()));
                            let _ = stop_rx.await;
                            handle.shutdown().await;
                        }
                        Err(e) => {
                            let _ = addr_tx.send(Err(e.to_string()));
                        }
                    }
                });
            })?;
        let addr = addr_rx
            .recv()
            .map_err(|_| "the broker thread ended early")?
            .map_err(|e| format!("mqtt_reference_broker::start: {e}"))?;
        Ok(Self {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for InProcessBroker {
    fn drop(&mut self) {
        // Dropped without `shutdown` (an error or a signal): tell the thread, don't wait.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Client

/// A minimal MQTT client connection: a socket, a read buffer and the codec's decoder.
struct Client {
    stream: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
}

impl Client {
    /// Connects with a clean session and keep alive 0, and waits for a successful CONNACK.
    async fn connect(addr: SocketAddr, client_id: &str) -> Result<Self, BoxError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut client = Self {
            stream,
            buf: BytesMut::with_capacity(4096),
            decoder: Decoder::new(VERSION),
        };
        let mut connect = Connect::new(VERSION, client_id);
        connect.keep_alive = 0;
        client.send(&Packet::from(connect)).await?;
        match client.recv().await? {
            Packet::ConnAck(ConnAck { code, .. }) if code.is_success() => Ok(client),
            other => Err(format!("expected a successful CONNACK, got {other:?}").into()),
        }
    }

    async fn subscribe(&mut self, topic: &str, qos: QoS) -> Result<(), BoxError> {
        self.send(&Packet::Subscribe(Subscribe::single(1, topic, qos)))
            .await?;
        match self.recv().await? {
            Packet::SubAck(suback) if suback.codes.first().map(|c| c.0) == Some(qos.as_u8()) => {
                Ok(())
            }
            other => Err(format!("expected SUBACK granting {qos:?}, got {other:?}").into()),
        }
    }

    async fn send(&mut self, packet: &Packet) -> Result<(), BoxError> {
        let mut out = BytesMut::with_capacity(packet.encoded_len(VERSION));
        packet.encode(VERSION, &mut out)?;
        self.stream.write_all(&out).await?;
        Ok(())
    }

    async fn recv(&mut self) -> Result<Packet, BoxError> {
        loop {
            if let Decoded::Packet(packet) = self.decoder.decode(&mut self.buf)? {
                return Ok(packet);
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err("the broker closed the connection".into());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Phases

/// What publishers and subscribers of one phase share.
struct Shared {
    /// Time zero for the timestamps in payloads.
    epoch: Instant,
    subscribers: usize,
    /// `seen[p * subscribers + s]`: one past the highest sequence number of publisher `p`
    /// that subscriber `s` has read.
    seen: Vec<AtomicU64>,
    /// One per publisher, notified whenever its window may have moved.
    wake: Vec<Notify>,
    /// Publishers that have sent everything.
    publishers_done: AtomicUsize,
}

impl Shared {
    /// How far the slowest subscriber of publisher `p` has got.
    fn slowest(&self, p: usize) -> u64 {
        self.seen[p * self.subscribers..(p + 1) * self.subscribers]
            .iter()
            .map(|n| n.load(Ordering::Acquire))
            .min()
            .unwrap_or(0)
    }

    /// Nanoseconds since `epoch`.
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// One phase of one workload on one broker.
struct Phase {
    expected: u64,
    delivered: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.delivered)
    }
}

/// Both phases of one workload on one broker.
struct Measured {
    workload: Workload,
    saturated: Phase,
    fixed: Phase,
}

impl Measured {
    fn lost(&self) -> u64 {
        self.saturated.lost() + self.fixed.lost()
    }
}

impl fmt::Display for Measured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.saturated;
        write!(
            f,
            "{:<20} {:>7} in {:>5.2} s = {:>9} msg/s (p99 {:>9}) | at {} msg/s: p50 {:>8}, \
             p99 {:>8}",
            self.workload.label(),
            s.delivered,
            s.elapsed.as_secs_f64(),
            thousands(s.rate()),
            ms(s.p99),
            thousands(LATENCY_RATE as f64),
            ms(self.fixed.p50),
            ms(self.fixed.p99),
        )?;
        if self.lost() > 0 {
            write!(
                f,
                " | LOST {} of {} saturated, {} of {} at fixed rate",
                s.lost(),
                s.expected,
                self.fixed.lost(),
                self.fixed.expected
            )?;
        }
        Ok(())
    }
}

/// What one subscriber saw.
struct Received {
    latencies: Vec<u64>,
    last: Option<Instant>,
}

async fn run_phase(addr: SocketAddr, w: &Workload, pace: Pace) -> Result<Phase, BoxError> {
    let topic = w.topic();
    let per_publisher = pace.per_publisher(w);
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        subscribers: w.subscribers,
        seen: (0..w.publishers * w.subscribers)
            .map(|_| AtomicU64::new(0))
            .collect(),
        wake: (0..w.publishers).map(|_| Notify::new()).collect(),
        publishers_done: AtomicUsize::new(0),
    });

    let mut subscribers = Vec::with_capacity(w.subscribers);
    for s in 0..w.subscribers {
        let mut client = Client::connect(addr, &format!("{topic}/sub{s}")).await?;
        client.subscribe(&topic, w.qos).await?;
        subscribers.push(client);
    }
    let mut publishers = Vec::with_capacity(w.publishers);
    for p in 0..w.publishers {
        publishers.push(Client::connect(addr, &format!("{topic}/pub{p}")).await?);
    }

    let start = Instant::now();
    let deadline = tokio::time::Instant::from_std(start + PHASE_TIMEOUT);
    let subscriber_tasks: Vec<JoinHandle<Result<Received, BoxError>>> = subscribers
        .into_iter()
        .enumerate()
        .map(|(s, client)| {
            let shared = Arc::clone(&shared);
            tokio::spawn(subscribe_loop(
                client,
                s,
                shared,
                *w,
                per_publisher,
                deadline,
            ))
        })
        .collect();
    let publisher_tasks: Vec<JoinHandle<Result<PublisherDone, BoxError>>> = publishers
        .into_iter()
        .enumerate()
        .map(|(p, client)| {
            let shared = Arc::clone(&shared);
            tokio::spawn(publish_loop(
                client,
                p,
                shared,
                *w,
                pace,
                per_publisher,
                deadline,
            ))
        })
        .collect();

    let expected = per_publisher * w.fan();
    let mut latencies = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    let mut last = start;
    for task in subscriber_tasks {
        let received = task.await??;
        latencies.extend_from_slice(&received.latencies);
        last = last.max(received.last.unwrap_or(start));
    }
    // Publishers' connections stay open until every subscriber is done.
    let mut done = Vec::with_capacity(publisher_tasks.len());
    for task in publisher_tasks {
        done.push(task.await??);
    }
    drop(done);

    latencies.sort_unstable();
    Ok(Phase {
        expected,
        delivered: latencies.len() as u64,
        elapsed: last - start,
        p50: percentile(&latencies, 50),
        p99: percentile(&latencies, 99),
    })
}

/// The nearest-rank `percent`th percentile.
fn percentile(sorted_nanos: &[u64], percent: usize) -> Duration {
    let rank = (sorted_nanos.len() * percent).div_ceil(100);
    match rank.checked_sub(1).and_then(|i| sorted_nanos.get(i)) {
        Some(&nanos) => Duration::from_nanos(nanos),
        None => Duration::ZERO,
    }
}

async fn subscribe_loop(
    mut client: Client,
    s: usize,
    shared: Arc<Shared>,
    w: Workload,
    per_publisher: u64,
    deadline: tokio::time::Instant,
) -> Result<Received, BoxError> {
    let expected = per_publisher * w.publishers as u64;
    let mut latencies = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    let mut last = None;
    let mut last_activity = tokio::time::Instant::now();
    // Publishers whose last message has arrived.
    let mut finished = 0;
    let mut acks = BytesMut::new();
    while (latencies.len() as u64) < expected && finished < w.publishers {
        client.buf.reserve(64 * 1024);
        // Wake up now and then to see whether the publishers are done and all is quiet.
        let wake_at = deadline.min(tokio::time::Instant::now() + Duration::from_millis(100));
        let read = match timeout_at(wake_at, client.stream.read_buf(&mut client.buf)).await {
            Ok(read) => read?,
            Err(_) => {
                let all_sent = shared.publishers_done.load(Ordering::Acquire) == w.publishers;
                if wake_at == deadline || (all_sent && last_activity.elapsed() >= QUIET) {
                    break;
                }
                continue;
            }
        };
        if read == 0 {
            return Err("the broker closed a subscriber's connection".into());
        }
        let now = shared.now();
        last_activity = tokio::time::Instant::now();
        while let Decoded::Packet(packet) = client.decoder.decode(&mut client.buf)? {
            let Packet::Publish(publish) = packet else {
                return Err(format!("a subscriber got {packet:?}").into());
            };
            let (sent_at, p, seq) = parse_payload(&publish.payload)?;
            latencies.push(now.saturating_sub(sent_at));
            let seen = shared
                .seen
                .get(p * shared.subscribers + s)
                .ok_or("a payload names an unknown publisher")?;
            seen.fetch_max(seq + 1, Ordering::AcqRel);
            shared.wake[p].notify_one();
            if seq + 1 == per_publisher {
                finished += 1;
            }
            if publish.qos == QoS::AtLeastOnce {
                Packet::PubAck(PubAck::new(publish.packet_id)).encode(VERSION, &mut acks)?;
            }
        }
        last = Some(Instant::now());
        if !acks.is_empty() {
            client.stream.write_all(&acks).await?;
            acks.clear();
        }
    }
    Ok(Received { latencies, last })
}

/// A finished publisher's connection, kept open until the subscribers are done.
struct PublisherDone {
    _writer: OwnedWriteHalf,
    acks: Option<JoinHandle<()>>,
}

impl Drop for PublisherDone {
    fn drop(&mut self) {
        if let Some(acks) = &self.acks {
            acks.abort();
        }
    }
}

async fn publish_loop(
    client: Client,
    p: usize,
    shared: Arc<Shared>,
    w: Workload,
    pace: Pace,
    per_publisher: u64,
    deadline: tokio::time::Instant,
) -> Result<PublisherDone, BoxError> {
    let Client {
        stream,
        buf,
        decoder,
    } = client;
    let (reader, mut writer) = stream.into_split();
    let acked = Arc::new(AtomicU64::new(0));
    // At QoS 1 a task counts PUBACKs; the window also bounds unacknowledged PUBLISHes.
    let acks = (w.qos == QoS::AtLeastOnce).then(|| {
        let counter = (Arc::clone(&acked), Arc::clone(&shared), p);
        tokio::spawn(count_acks(reader, buf, decoder, counter))
    });

    let topic = w.topic();
    let mut out = BytesMut::with_capacity(64 * 1024);
    let mut sent = 0u64;
    // The fixed pace: publishers spread evenly over one period.
    let period = Duration::from_nanos(1_000_000_000 * w.fan() / LATENCY_RATE);
    let offset = period * u32::try_from(p).unwrap_or(0) / u32::try_from(w.publishers).unwrap_or(1);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    while sent < per_publisher {
        let allowed = match pace {
            Pace::Saturate => {
                let wake = shared.wake[p].notified();
                tokio::pin!(wake);
                wake.as_mut().enable();
                let mut floor = shared.slowest(p);
                if w.qos == QoS::AtLeastOnce {
                    floor = floor.min(acked.load(Ordering::Acquire));
                }
                let allowed = (floor + w.window).saturating_sub(sent);
                if allowed == 0 {
                    if timeout_at(deadline, wake).await.is_err() {
                        break;
                    }
                    continue;
                }
                allowed.min(per_publisher - sent)
            }
            Pace::Fixed => {
                if timeout_at(deadline, ticks.tick()).await.is_err() {
                    break;
                }
                1
            }
        };
        for _ in 0..allowed {
            let mut publish = Publish::new(topic.clone(), payload(shared.now(), p, sent));
            publish.qos = w.qos;
            if w.qos != QoS::AtMostOnce {
                // Identifiers 1..=65535 in turn; the window keeps far fewer than that in use.
                publish.packet_id = u16::try_from(sent % 65_535 + 1).unwrap_or(1);
            }
            Packet::Publish(publish).encode(VERSION, &mut out)?;
            sent += 1;
        }
        writer.write_all(&out).await?;
        out.clear();
    }
    shared.publishers_done.fetch_add(1, Ordering::AcqRel);
    Ok(PublisherDone {
        _writer: writer,
        acks,
    })
}

/// Counts the PUBACKs publisher `p` reads into `acked`, waking it after each read.
async fn count_acks(
    mut reader: tokio::net::tcp::OwnedReadHalf,
    mut buf: BytesMut,
    mut decoder: Decoder,
    (acked, shared, p): (Arc<AtomicU64>, Arc<Shared>, usize),
) {
    loop {
        buf.reserve(16 * 1024);
        match reader.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut n = 0;
        while let Ok(Decoded::Packet(packet)) = decoder.decode(&mut buf) {
            if let Packet::PubAck(_) = packet {
                n += 1;
            }
        }
        acked.fetch_add(n, Ordering::Release);
        shared.wake[p].notify_one();
    }
}

/// Payload: send time (ns since the phase's epoch), publisher index and sequence number, then
/// zeros up to [`PAYLOAD_LEN`].
fn payload(sent_at: u64, publisher: usize, seq: u64) -> Bytes {
    let mut payload = BytesMut::with_capacity(PAYLOAD_LEN);
    payload.put_u64(sent_at);
    payload.put_u32(u32::try_from(publisher).unwrap_or(u32::MAX));
    payload.put_u64(seq);
    payload.resize(PAYLOAD_LEN, 0);
    payload.freeze()
}

/// The send time, publisher index and sequence number of a payload.
fn parse_payload(payload: &[u8]) -> Result<(u64, usize, u64), BoxError> {
    let field = |range: std::ops::Range<usize>| payload.get(range).ok_or("short payload");
    let sent_at = u64::from_be_bytes(field(0..8)?.try_into()?);
    let publisher = u32::from_be_bytes(field(8..12)?.try_into()?);
    let seq = u64::from_be_bytes(field(12..20)?.try_into()?);
    Ok((sent_at, usize::try_from(publisher)?, seq))
}

// ---------------------------------------------------------------------------------------------
// Memory

/// VmRSS before and after opening the idle connections.
struct Memory {
    before_kib: u64,
    after_kib: u64,
}

impl Memory {
    fn per_connection(&self) -> f64 {
        self.after_kib.saturating_sub(self.before_kib) as f64 * 1024.0 / IDLE_CONNECTIONS as f64
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<20} RSS {} → {} with {IDLE_CONNECTIONS} idle connections: {} B per connection",
            "memory",
            mib(self.before_kib),
            mib(self.after_kib),
            thousands(self.per_connection()),
        )
    }
}

fn vm_rss_kib(pid: u32) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .ok_or("no VmRSS line")?;
    let kib = line
        .split_whitespace()
        .nth(1)
        .ok_or("an empty VmRSS line")?
        .parse()?;
    Ok(kib)
}

async fn measure_idle(addr: SocketAddr, pid: u32) -> Result<Memory, BoxError> {
    let before_kib = vm_rss_kib(pid)?;
    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut connecting = JoinSet::new();
    for n in 0..IDLE_CONNECTIONS {
        let permit = Arc::clone(&permits).acquire_owned().await?;
        connecting.spawn(async move {
            let client = Client::connect(addr, &format!("idle-{n}")).await;
            drop(permit);
            client
        });
    }
    let mut idle = Vec::with_capacity(IDLE_CONNECTIONS);
    while let Some(client) = connecting.join_next().await {
        idle.push(client?.map_err(|e| format!("idle connection {}: {e}", idle.len()))?);
    }
    // Give the broker a moment to finish whatever it does after CONNACK.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_kib = vm_rss_kib(pid)?;
    drop(idle);
    Ok(Memory {
        before_kib,
        after_kib,
    })
}

// ---------------------------------------------------------------------------------------------
// Summary

const RULE: usize = 124;

fn print_summary(reports: &[Report]) {
    println!();
    let (ours, theirs) = match reports {
        [ours, theirs] => (ours, Some(theirs)),
        [one] => (one, None),
        _ => {
            println!("nothing was measured");
            return;
        }
    };
    println!(
        "ours: {}; mosq: {}",
        ours.broker,
        theirs.map_or("not measured", |r| r.broker.as_str())
    );
    print_workload_header();
    let misses = print_workload_rows(ours, theirs) + print_memory_row(ours, theirs);
    println!("{}", "-".repeat(RULE));
    println!(
        "lost: deliveries that never arrived, over both phases; msg/s counts only those that did"
    );
    println!(
        "targets: msg/s ≥ 1.0× mosquitto with nothing lost, p99 ≤ mosquitto's, memory per idle \
         connection ≤ 2× mosquitto's"
    );
    if theirs.is_some() {
        if misses == 0 {
            println!("all targets met");
        } else {
            println!("{misses} row(s) miss a target");
        }
    }
}

/// The column headings of the workload rows.
fn print_workload_header() {
    println!(
        "{:<20} | {:^28} | {:^44} | {:^11} |",
        "",
        "saturated msg/s",
        format!("latency at {} msg/s", thousands(LATENCY_RATE as f64)),
        "lost",
    );
    println!(
        "{:<20} | {:>9} {:>9} {:>8} | {:>9} {:>9} | {:>9} {:>9} {:>6} | {:>5} {:>5} | target",
        "workload",
        "ours",
        "mosq",
        "ratio",
        "ours p50",
        "mosq p50",
        "ours p99",
        "mosq p99",
        "ratio",
        "ours",
        "mosq",
    );
    println!("{}", "-".repeat(RULE));
}

/// One row per workload, ours beside mosquitto's; how many miss a target.
fn print_workload_rows(ours: &Report, theirs: Option<&Report>) -> usize {
    let mut misses = 0;
    for (i, mine) in ours.results.iter().enumerate() {
        let other = theirs.and_then(|t| t.results.get(i));
        let dash = || "-".to_owned();
        let (rate, p50, p99, lost) = other.map_or((dash(), dash(), dash(), dash()), |o| {
            (
                thousands(o.saturated.rate()),
                ms(o.fixed.p50),
                ms(o.fixed.p99),
                o.lost().to_string(),
            )
        });
        let (rate_ratio, p99_ratio) = other.map_or((dash(), dash()), |o| {
            (
                ratio(mine.saturated.rate(), o.saturated.rate()),
                ratio(mine.fixed.p99.as_secs_f64(), o.fixed.p99.as_secs_f64()),
            )
        });
        let verdict = match other {
            Some(other) => {
                let mut verdict = Vec::new();
                if mine.saturated.rate() < other.saturated.rate() {
                    verdict.push("MISS throughput");
                }
                if mine.lost() > 0 {
                    verdict.push("MISS lost messages");
                }
                if mine.fixed.p99 > other.fixed.p99 {
                    verdict.push("MISS p99");
                }
                if verdict.is_empty() {
                    "ok".to_owned()
                } else {
                    misses += 1;
                    verdict.join(", ")
                }
            }
            None => "no comparison".to_owned(),
        };
        println!(
            "{:<20} | {:>9} {rate:>9} {rate_ratio:>8} | {:>9} {p50:>9} | {:>9} {p99:>9} \
             {p99_ratio:>6} | {:>5} {lost:>5} | {verdict}",
            mine.workload.label(),
            thousands(mine.saturated.rate()),
            ms(mine.fixed.p50),
            ms(mine.fixed.p99),
            mine.lost(),
        );
    }
    misses
}

/// The idle-connection memory row; 1 if it misses its target.
fn print_memory_row(ours: &Report, theirs: Option<&Report>) -> usize {
    let mut misses = 0;
    println!("{}", "-".repeat(RULE));
    println!(
        "{:<20} | {:>9} {:>9} | {:>9} {:>9} | {:>11} {:>11} {:>6} | target",
        "idle connections",
        "ours RSS",
        "mosq RSS",
        "ours RSS",
        "mosq RSS",
        "ours B/conn",
        "mosq B/conn",
        "ratio",
    );
    println!(
        "{:<20} | {:^19} | {:^19} | {:^30} |",
        "", "before", "after", "per connection"
    );
    let show = |m: Option<&Memory>| {
        m.map_or(
            ("unmeasured".to_owned(), "-".to_owned(), "-".to_owned()),
            |m| {
                (
                    mib(m.before_kib),
                    mib(m.after_kib),
                    thousands(m.per_connection()),
                )
            },
        )
    };
    let mine = ours.memory.as_ref();
    let other = theirs.and_then(|t| t.memory.as_ref());
    let (mb, ma, mp) = show(mine);
    let (ob, oa, op) = show(other);
    let (per_ratio, verdict) = match (mine, other) {
        (Some(mine), Some(other)) => {
            let verdict = if mine.per_connection() <= 2.0 * other.per_connection() {
                "ok"
            } else {
                misses += 1;
                "MISS memory"
            };
            (
                ratio(mine.per_connection(), other.per_connection()),
                verdict,
            )
        }
        _ => ("-".to_owned(), "no comparison"),
    };
    println!(
        "{:<20} | {mb:>9} {ob:>9} | {ma:>9} {oa:>9} | {mp:>11} {op:>11} {per_ratio:>6} | \
         {verdict}",
        format!("{IDLE_CONNECTIONS} idle"),
    );
    misses
}

fn ratio(ours: f64, theirs: f64) -> String {
    if theirs > 0.0 {
        format!("{:.2}×", ours / theirs)
    } else {
        "-".to_owned()
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A non-negative number rounded to an integer, with thousands separators.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
