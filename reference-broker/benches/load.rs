//! Broker load: the reference broker and mosquitto under the same workloads, in one run.
//!
//! Run with `cargo bench -p mqtt-reference-broker --bench load` (a plain `main`, no harness).
//! It takes about two minutes on a 2-core machine.
//!
//! # Brokers
//!
//! - ours: the `mqtt-reference-broker` binary that cargo builds for this bench (in the target
//!   dir's `release/`), started as a child process with `--listen 127.0.0.1:PORT`, so that its
//!   resident memory can be read and it does not share this process's runtime. If the binary
//!   does not come up, the broker is started in-process with `mqtt_reference_broker::start` on a
//!   runtime of its own; memory is then reported as unmeasured.
//! - mosquitto: `/usr/sbin/mosquitto -c <config>` with a config holding only `listener PORT
//!   127.0.0.1` and `allow_anonymous true` (everything else at its defaults), started and
//!   killed by the bench. Without it, only ours is measured.
//!
//! Both listen on loopback only. Each broker runs alone: ours first, then mosquitto.
//!
//! # Workloads
//!
//! | workload      | publishers | subscribers | messages published  | deliveries |
//! |---------------|------------|-------------|---------------------|------------|
//! | fan-in  QoS 0 | 50         | 1           | 50 × 2,000          | 100,000    |
//! | fan-in  QoS 1 | 50         | 1           | 50 × 2,000          | 100,000    |
//! | fan-out QoS 0 | 1          | 50          | 2,000               | 100,000    |
//! | fan-out QoS 1 | 1          | 50          | 2,000               | 100,000    |
//!
//! MQTT 3.1.1, clean session, keep alive 0, one topic per workload (subscribers use the exact
//! topic name as their filter), 64-byte payloads. At QoS 1 the publishers publish at QoS 1 and
//! the subscribers subscribe at QoS 1, so both legs are acknowledged. The clients are this
//! file's own: tokio sockets, `mqtt_codec` encoding and decoding, `TCP_NODELAY`.
//!
//! Load is closed-loop, so that no broker is measured on how large a backlog it lets build
//! up: a publisher may be at most [`Workload::window`] messages ahead of the slowest subscriber
//! that receives its messages (and, at QoS 1, of its own PUBACKs). Within that window it writes
//! as fast as it can, in batches. The windows (10 per publisher fan-in, so 500 in flight; 200
//! fan-out, so 10,000 deliveries in flight) stay below mosquitto's default per-client queue of
//! 1,000 messages, so a correct broker drops nothing; a workload still stops after
//! [`WORKLOAD_TIMEOUT`], reporting what arrived.
//!
//! # Measurement
//!
//! Each payload carries the publisher's send time (nanoseconds since a common `Instant`), its
//! index and a sequence number. A subscriber takes the time once per socket read and records,
//! for every PUBLISH in that read, the difference: the latency from the publisher handing the
//! message to its socket to the subscriber reading it. msg/s is deliveries (PUBLISH packets
//! read by subscribers) divided by the time from releasing the publishers to the last delivery;
//! p50 and p99 are over every delivery. A short fan-in QoS 0 run before the workloads warms
//! each broker up and is not reported.
//!
//! Memory is VmRSS from `/proc/<pid>/status`, read on a fresh broker before and after opening
//! [`IDLE_CONNECTIONS`] connections that send CONNECT (keep alive 0), wait for CONNACK and then
//! stay silent; per connection is the difference divided by the count. Kernel socket buffers
//! are not in RSS. The fd limit is raised to its hard limit first (the brokers inherit it).
//!
//! The last lines are a table of both brokers side by side, with ours/mosquitto ratios and the
//! targets: at least mosquitto's throughput on every workload, at most its p99, and at most
//! twice its memory per idle connection.
//!
//! Clients and broker share the machine's cores, so absolute numbers mostly say how fast the
//! pair is; compare the brokers within one run.

use std::fmt;
use std::io::{self, Read as _};
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use mqtt_codec::{
    ConnAck, Connect, Decoded, Decoder, Packet, ProtocolVersion, PubAck, Publish, QoS, Subscribe,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Notify, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::timeout_at;

/// The protocol every client speaks.
const VERSION: ProtocolVersion = ProtocolVersion::V3_1_1;
/// Application payload size.
const PAYLOAD_LEN: usize = 64;
/// Idle connections opened for the memory measurement.
const IDLE_CONNECTIONS: usize = 10_000;
/// Idle connections being opened at once.
const CONNECT_CONCURRENCY: usize = 64;
/// The longest one workload may run before it is cut off.
const WORKLOAD_TIMEOUT: Duration = Duration::from_secs(20);
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
    /// Messages each publisher publishes.
    per_publisher: u64,
    /// How far a publisher may run ahead of its slowest subscriber (and of its PUBACKs).
    window: u64,
}

impl Workload {
    /// Deliveries expected at each subscriber.
    fn per_subscriber(&self) -> u64 {
        self.per_publisher * self.publishers as u64
    }

    /// Deliveries expected in total.
    fn deliveries(&self) -> u64 {
        self.per_subscriber() * self.subscribers as u64
    }
}

const FAN_IN: Workload = Workload {
    name: "fan-in 50→1",
    publishers: 50,
    subscribers: 1,
    qos: QoS::AtMostOnce,
    per_publisher: 2_000,
    window: 10,
};

const FAN_OUT: Workload = Workload {
    name: "fan-out 1→50",
    publishers: 1,
    subscribers: 50,
    qos: QoS::AtMostOnce,
    per_publisher: 2_000,
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

fn main() -> ExitCode {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < 2 * IDLE_CONNECTIONS as u64 + 1_000 => {
            println!("note: open-file limit is {limit}; the idle-connection test may fail");
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
    // Ctrl-C drops `run`, and with it the broker processes (each kills its child on drop).
    let result = runtime.block_on(async {
        tokio::select! {
            result = run() => result,
            _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
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
        "load: {} workloads × 100,000 deliveries, {PAYLOAD_LEN} B payloads, MQTT 3.1.1; \
         {IDLE_CONNECTIONS} idle connections for memory",
        WORKLOADS.len()
    );
    let mut reports = Vec::new();

    println!("\n== reference broker");
    match start_reference().await {
        Ok(broker) => reports.push(bench(broker).await?),
        Err(e) => println!("reference broker unavailable, not measured: {e}"),
    }

    println!("\n== mosquitto");
    if std::path::Path::new(MOSQUITTO).exists() {
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
            println!("  memory: unmeasured (broker runs in this process)");
            None
        }
    };
    run_workload(broker.addr, &WARM_UP).await?;
    let mut results = Vec::new();
    for workload in &WORKLOADS {
        let measured = run_workload(broker.addr, workload).await?;
        println!("  {measured}");
        results.push(measured);
        tokio::time::sleep(Duration::from_millis(200)).await;
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
    Process(ChildGuard),
    InProcess(InProcessBroker),
}

impl Broker {
    async fn stop(self) {
        if let Running::InProcess(broker) = self.running {
            broker.shutdown().await;
        }
    }
}

/// A child process, killed and reaped on drop; `cleanup` is removed afterwards.
struct ChildGuard {
    child: Child,
    cleanup: Option<PathBuf>,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(path) = &self.cleanup {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A loopback address no one listens on (the port is released just before the broker binds
/// it, a small race this bench accepts).
fn free_addr() -> io::Result<SocketAddr> {
    StdTcpListener::bind("127.0.0.1:0")?.local_addr()
}

async fn start_reference() -> Result<Broker, BoxError> {
    if std::env::var_os("DEV_OURS_IS_MOSQUITTO").is_some() {
        return start_mosquitto().await;
    } // DEV-STUB
    match start_reference_process().await {
        Ok(broker) => Ok(broker),
        Err(e) => {
            println!("binary {REFERENCE_BIN} unusable ({e}); starting the broker in-process");
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

async fn start_reference_process() -> Result<Broker, BoxError> {
    let addr = free_addr()?;
    let child = Command::new(REFERENCE_BIN)
        .arg("--listen")
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {REFERENCE_BIN}: {e}"))?;
    let mut guard = ChildGuard {
        child,
        cleanup: None,
    };
    wait_ready(addr, Some(&mut guard.child)).await?;
    // From here on its stderr is not read; a chatty broker must not block on a full pipe.
    drop(guard.child.stderr.take());
    Ok(Broker {
        label: "reference broker".into(),
        addr,
        pid: Some(guard.child.id()),
        running: Running::Process(guard),
    })
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
    let config = std::env::temp_dir().join(format!("load-bench-mosquitto-{}.conf", addr.port()));
    std::fs::write(
        &config,
        format!("listener {} 127.0.0.1\nallow_anonymous true\n", addr.port()),
    )?;
    let child = Command::new(MOSQUITTO)
        .arg("-c")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(e) => {
            let _ = std::fs::remove_file(&config);
            return Err(format!("cannot run {MOSQUITTO}: {e}").into());
        }
    };
    let mut guard = ChildGuard {
        child,
        cleanup: Some(config),
    };
    wait_ready(addr, Some(&mut guard.child)).await?;
    // mosquitto logs every connection to stderr; it must not block on a pipe no one reads.
    drop(guard.child.stderr.take());
    Ok(Broker {
        label: version,
        addr,
        pid: Some(guard.child.id()),
        running: Running::Process(guard),
    })
}

/// Waits until `addr` answers CONNECT with CONNACK, or `child` exits, or [`STARTUP_TIMEOUT`].
async fn wait_ready(addr: SocketAddr, mut child: Option<&mut Child>) -> Result<(), BoxError> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Some(child) = child.as_deref_mut()
            && let Some(status) = child.try_wait()?
        {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            let stderr = stderr.trim();
            return Err(
                format!("exited with {status} before accepting connections: {stderr}").into(),
            );
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

/// The reference broker on a runtime of its own, on its own threads, so that it does not
/// share this bench's runtime (it still shares the process).
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
                    // DEV-STUB
                    let _ = stop_rx;
                    let _ = addr_tx.send(Err("DEV: no in-process API yet".to_owned()));
                });
            })?;
        let addr = addr_rx
            .recv()
            .map_err(|_| "broker thread ended early")?
            .map_err(|e| format!("mqtt_reference_broker::start: {e}"))?;
        Ok(Self {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    async fn shutdown(mut self) {
        self.stop_and_join().await;
    }

    async fn stop_and_join(&mut self) {
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
        // Dropped without `shutdown` (an error or Ctrl-C): tell the thread, don't wait for it.
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
                return Err("broker closed the connection".into());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Workloads

/// What publishers and subscribers of one workload share.
struct Shared {
    /// Time zero for the timestamps in payloads.
    epoch: Instant,
    subscribers: usize,
    /// `received[p * subscribers + s]`: messages of publisher `p` that subscriber `s` has read.
    received: Vec<AtomicU64>,
    /// One per publisher, notified whenever its window may have moved.
    wake: Vec<Notify>,
}

impl Shared {
    /// How many of publisher `p`'s messages its slowest subscriber has read.
    fn slowest(&self, p: usize) -> u64 {
        self.received[p * self.subscribers..(p + 1) * self.subscribers]
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

/// One workload's outcome on one broker.
struct Measured {
    workload: Workload,
    delivered: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn complete(&self) -> bool {
        self.delivered == self.workload.deliveries()
    }

    fn label(&self) -> String {
        format!("{} QoS {}", self.workload.name, self.workload.qos.as_u8())
    }
}

impl fmt::Display for Measured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<20} {:>9} deliveries in {:>6.2} s: {:>9} msg/s, p50 {}, p99 {}",
            self.label(),
            self.delivered,
            self.elapsed.as_secs_f64(),
            thousands(self.rate()),
            ms(self.p50),
            ms(self.p99),
        )?;
        if !self.complete() {
            write!(
                f,
                "  INCOMPLETE: {} of {} arrived within {} s",
                self.delivered,
                self.workload.deliveries(),
                WORKLOAD_TIMEOUT.as_secs()
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

async fn run_workload(addr: SocketAddr, w: &Workload) -> Result<Measured, BoxError> {
    let topic = topic_of(w);
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        subscribers: w.subscribers,
        received: (0..w.publishers * w.subscribers)
            .map(|_| AtomicU64::new(0))
            .collect(),
        wake: (0..w.publishers).map(|_| Notify::new()).collect(),
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
    let deadline = tokio::time::Instant::from_std(start + WORKLOAD_TIMEOUT);
    let subscriber_tasks: Vec<JoinHandle<Result<Received, BoxError>>> = subscribers
        .into_iter()
        .enumerate()
        .map(|(s, client)| {
            tokio::spawn(subscribe_loop(client, s, Arc::clone(&shared), *w, deadline))
        })
        .collect();
    let publisher_tasks: Vec<JoinHandle<Result<PublisherDone, BoxError>>> = publishers
        .into_iter()
        .enumerate()
        .map(|(p, client)| tokio::spawn(publish_loop(client, p, Arc::clone(&shared), *w, deadline)))
        .collect();

    let mut latencies = Vec::with_capacity(usize::try_from(w.deliveries()).unwrap_or(0));
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
    let delivered = latencies.len() as u64;
    Ok(Measured {
        workload: *w,
        delivered,
        elapsed: last - start,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    })
}

fn percentile(sorted_nanos: &[u64], q: f64) -> Duration {
    if sorted_nanos.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted_nanos.len() as f64).ceil() as usize;
    Duration::from_nanos(sorted_nanos[rank.clamp(1, sorted_nanos.len()) - 1])
}

async fn subscribe_loop(
    mut client: Client,
    s: usize,
    shared: Arc<Shared>,
    w: Workload,
    deadline: tokio::time::Instant,
) -> Result<Received, BoxError> {
    let expected = w.per_subscriber();
    let mut latencies = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    let mut last = None;
    let mut acks = BytesMut::new();
    while (latencies.len() as u64) < expected {
        client.buf.reserve(64 * 1024);
        let read = match timeout_at(deadline, client.stream.read_buf(&mut client.buf)).await {
            Ok(read) => read?,
            Err(_) => break,
        };
        if read == 0 {
            return Err("broker closed a subscriber's connection".into());
        }
        let now = shared.now();
        while let Decoded::Packet(packet) = client.decoder.decode(&mut client.buf)? {
            let Packet::Publish(publish) = packet else {
                return Err(format!("subscriber got {packet:?}").into());
            };
            let (sent_at, p) = parse_payload(&publish.payload)?;
            latencies.push(now.saturating_sub(sent_at));
            shared.received[p * shared.subscribers + s].fetch_add(1, Ordering::Release);
            shared.wake[p].notify_one();
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
    deadline: tokio::time::Instant,
) -> Result<PublisherDone, BoxError> {
    let Client {
        stream,
        mut buf,
        mut decoder,
    } = client;
    let (mut reader, mut writer) = stream.into_split();
    let acked = Arc::new(AtomicU64::new(0));
    // At QoS 1 a task counts PUBACKs; the window also bounds unacknowledged PUBLISHes.
    let acks = (w.qos == QoS::AtLeastOnce).then(|| {
        let acked = Arc::clone(&acked);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
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
        })
    });

    let topic = topic_of(&w);
    let mut out = BytesMut::with_capacity(64 * 1024);
    let mut sent = 0u64;
    while sent < w.per_publisher {
        let wake = shared.wake[p].notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let mut floor = shared.slowest(p);
        if w.qos == QoS::AtLeastOnce {
            floor = floor.min(acked.load(Ordering::Acquire));
        }
        let allowed = (floor + w.window)
            .saturating_sub(sent)
            .min(w.per_publisher - sent);
        if allowed == 0 {
            if timeout_at(deadline, wake).await.is_err() {
                break;
            }
            continue;
        }
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
    Ok(PublisherDone {
        _writer: writer,
        acks,
    })
}

fn topic_of(w: &Workload) -> mqtt_codec::ByteString {
    let tag: String = w
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("load/{tag}/qos{}", w.qos.as_u8()).into()
}

/// Payload: send time (ns since the workload's epoch), publisher index, sequence number, then
/// zeros up to [`PAYLOAD_LEN`].
fn payload(sent_at: u64, publisher: usize, seq: u64) -> Bytes {
    let mut payload = BytesMut::with_capacity(PAYLOAD_LEN);
    payload.put_u64(sent_at);
    payload.put_u32(u32::try_from(publisher).unwrap_or(u32::MAX));
    payload.put_u64(seq);
    payload.resize(PAYLOAD_LEN, 0);
    payload.freeze()
}

fn parse_payload(payload: &[u8]) -> Result<(u64, usize), BoxError> {
    let field = |range: std::ops::Range<usize>| payload.get(range).ok_or("short payload");
    let sent_at = u64::from_be_bytes(field(0..8)?.try_into()?);
    let publisher = u32::from_be_bytes(field(8..12)?.try_into()?);
    Ok((sent_at, usize::try_from(publisher)?))
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
        .ok_or("empty VmRSS line")?
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
    let theirs_name = theirs.map_or("-", |r| r.broker.as_str());
    println!("ours: {}; theirs: {theirs_name}", ours.broker);
    println!(
        "{:<20} | {:>10} {:>10} {:>6} | {:>8} {:>8} | {:>8} {:>8} | {:>6} | target",
        "workload",
        "ours msg/s",
        "mosq msg/s",
        "ratio",
        "ours p50",
        "mosq p50",
        "ours p99",
        "mosq p99",
        "ratio",
    );
    println!("{}", "-".repeat(118));
    let mut misses = 0;
    for (i, mine) in ours.results.iter().enumerate() {
        let other = theirs.and_then(|t| t.results.get(i));
        let (rate, p50, p99, rate_ratio, p99_ratio, verdict) = match other {
            Some(other) => {
                let rate_ratio = mine.rate() / other.rate().max(1e-9);
                let p99_ratio = mine.p99.as_secs_f64() / other.p99.as_secs_f64().max(1e-9);
                let mut verdict = Vec::new();
                if rate_ratio < 1.0 || !mine.complete() {
                    verdict.push("MISS throughput");
                }
                if mine.p99 > other.p99 {
                    verdict.push("MISS p99");
                }
                if verdict.is_empty() {
                    verdict.push("ok");
                } else {
                    misses += 1;
                }
                (
                    thousands(other.rate()),
                    ms(other.p50),
                    ms(other.p99),
                    format!("{rate_ratio:.2}×"),
                    format!("{p99_ratio:.2}×"),
                    verdict.join(", "),
                )
            }
            None => (
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "no comparison".into(),
            ),
        };
        println!(
            "{:<20} | {:>10} {:>10} {:>6} | {:>8} {:>8} | {:>8} {:>8} | {:>6} | {verdict}",
            mine.label(),
            thousands(mine.rate()),
            rate,
            rate_ratio,
            ms(mine.p50),
            p50,
            ms(mine.p99),
            p99,
            p99_ratio,
        );
    }
    println!("{}", "-".repeat(118));
    println!(
        "{:<20} | {:>10} {:>10} | {:>10} {:>10} | {:>12} {:>12} | {:>6} | target",
        "idle memory",
        "ours before",
        "mosq before",
        "ours after",
        "mosq after",
        "ours B/conn",
        "mosq B/conn",
        "ratio",
    );
    let their_memory = theirs.and_then(|t| t.memory.as_ref());
    match (&ours.memory, their_memory) {
        (Some(mine), Some(other)) => {
            let ratio = mine.per_connection() / other.per_connection().max(1e-9);
            let verdict = if ratio <= 2.0 {
                "ok"
            } else {
                misses += 1;
                "MISS memory"
            };
            println!(
                "{:<20} | {:>10} {:>10} | {:>10} {:>10} | {:>12} {:>12} | {:>6} | {verdict}",
                format!("{IDLE_CONNECTIONS} connections"),
                mib(mine.before_kib),
                mib(other.before_kib),
                mib(mine.after_kib),
                mib(other.after_kib),
                thousands(mine.per_connection()),
                thousands(other.per_connection()),
                format!("{ratio:.2}×"),
            );
        }
        (mine, other) => {
            let show = |m: Option<&Memory>| {
                m.map_or(
                    ("unmeasured".to_owned(), String::new(), String::new()),
                    |m| {
                        (
                            mib(m.before_kib),
                            mib(m.after_kib),
                            thousands(m.per_connection()),
                        )
                    },
                )
            };
            let (mb, ma, mp) = show(mine.as_ref());
            let (ob, oa, op) = show(other);
            println!(
                "{:<20} | {mb:>10} {ob:>10} | {ma:>10} {oa:>10} | {mp:>12} {op:>12} | {:>6} | \
                 no comparison",
                format!("{IDLE_CONNECTIONS} connections"),
                "-",
            );
        }
    }
    println!(
        "targets: throughput ≥ 1.0× mosquitto, p99 ≤ mosquitto, memory per idle connection ≤ 2× \
         mosquitto"
    );
    if theirs.is_some() {
        println!(
            "{}",
            if misses == 0 {
                "all targets met".to_owned()
            } else {
                format!("{misses} row(s) miss a target")
            }
        );
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
