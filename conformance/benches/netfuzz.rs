//! Network fuzzer throughput: sessions/s and packets/s of `mqtt-conformance fuzz` against the
//! in-process reference broker and against mosquitto, in the same run.
//!
//! Run with `cargo bench -p mqtt-conformance --bench netfuzz` (a plain `main`, no harness).
//! Each broker gets the same seed, jobs and duration (`NETFUZZ_BENCH_SECONDS`, default 20;
//! `NETFUZZ_BENCH_JOBS`, default 4). mosquitto is `/usr/sbin/mosquitto` (or
//! `NETFUZZ_BENCH_MOSQUITTO`), started on a free local port with a temporary configuration
//! (`listener PORT 127.0.0.1`, `allow_anonymous true`); without it its line says so and the
//! bench goes on. Findings are counted, not judged: the figures are the point. A session
//! waits for the broker to go quiet after every frame (40 ms, 250 ms after the last), so
//! sessions/s measures how fast the broker answers rather than how fast the fuzzer writes.
//!
//! Figures on a shared 2-core machine are noisy; compare the two lines of one run.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mqtt_conformance::netfuzz::{self, Options, findings::Report};
use mqtt_conformance::scenario::Version;
use mqtt_conformance::transport::{Target, TlsOptions};

const SEED: u64 = 0x6e66_6265_6e63;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn options(url: &str, out: PathBuf) -> Options {
    Options {
        target: Target::parse(url, &TlsOptions::default()).expect("a plain mqtt:// URL"),
        broker_cmd: None,
        duration: Duration::from_secs(env_number("NETFUZZ_BENCH_SECONDS", 20)),
        seed: SEED,
        jobs: usize::try_from(env_number("NETFUZZ_BENCH_JOBS", 4)).unwrap_or(4),
        versions: Version::ALL.to_vec(),
        out,
        step_timeout: Duration::from_secs(5),
        corpus: None,
        broker_pid: None,
    }
}

fn line(name: &str, r: &Report) {
    let s = r.seconds.max(0.001);
    println!(
        "{name:<20} {:>8.1} sessions/s {:>9.1} packets/s   {} sessions, {} packets in {:.1} s, \
         {} findings",
        r.sessions as f64 / s,
        r.packets as f64 / s,
        r.sessions,
        r.packets,
        r.seconds,
        r.findings.len()
    );
}

async fn fuzz(name: &str, url: &str, out: &Path) {
    match netfuzz::fuzz(&options(url, out.join(name)), &|_| {}).await {
        Ok(report) => line(name, &report),
        Err(e) => println!("{name:<20} not measured: {e}"),
    }
}

/// A port free a moment ago, for mosquitto to bind.
fn free_port() -> Option<u16> {
    Some(
        TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port(),
    )
}

/// Starts mosquitto on `port` with a temporary configuration in `dir`.
fn mosquitto(dir: &Path, port: u16) -> Result<Child, String> {
    let bin = std::env::var("NETFUZZ_BENCH_MOSQUITTO").unwrap_or("/usr/sbin/mosquitto".into());
    if !Path::new(&bin).exists() {
        return Err(format!("{bin} not found"));
    }
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
    )
    .map_err(|e| e.to_string())?;
    Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())
}

/// Waits (bounded) until something accepts connections on `port`.
async fn listening(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn bench(out: &Path) {
    let broker = mqtt_reference_broker::start(mqtt_reference_broker::Config {
        listen: "127.0.0.1:0".parse().expect("an address"),
        ..mqtt_reference_broker::Config::default()
    })
    .await
    .expect("the reference broker starts");
    let url = format!("mqtt://{}", broker.tcp_addr());
    fuzz("reference broker", &url, out).await;
    broker.shutdown().await;

    let Some(port) = free_port() else {
        println!("{:<20} not measured: no free port", "mosquitto");
        return;
    };
    match mosquitto(out, port) {
        Err(why) => println!("{:<20} not measured: {why}", "mosquitto"),
        Ok(mut child) => {
            if listening(port).await {
                fuzz("mosquitto", &format!("mqtt://127.0.0.1:{port}"), out).await;
            } else {
                println!(
                    "{:<20} not measured: it did not listen on {port}",
                    "mosquitto"
                );
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn main() {
    let out = std::env::temp_dir().join(format!("netfuzz-bench-{}", std::process::id()));
    std::fs::create_dir_all(&out).expect("a temporary folder");
    println!(
        "network fuzzer throughput: seed {SEED}, {} jobs, {} s per broker, both MQTT versions",
        env_number("NETFUZZ_BENCH_JOBS", 4),
        env_number("NETFUZZ_BENCH_SECONDS", 20)
    );
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(bench(&out));
    let _ = std::fs::remove_dir_all(&out);
}
