//! The tokio shell around the [`Engine`]: listeners (TCP, TLS, WebSocket), one task per
//! connection, and one task that owns the engine, feeds it what the connections read, writes
//! what it polls, and arms its next timer.
//!
//! Nothing protocol-related happens here: connection tasks move bytes, the engine decides.
//!
//! Backpressure, both ways, without the engine task ever waiting on a connection:
//!
//! - inbound, the channel into the engine task is bounded (`INPUT_CAPACITY`); a connection
//!   task waits for room before it reads more, so a flooding client is slowed by TCP;
//! - outbound, each connection task reports what it wrote (`Input::Written`) and the engine
//!   counts the rest against `Limits::max_outbound_buffer`: past it, QoS 0 messages for that
//!   client are dropped and QoS 1/2 ones wait in its session queue (bounded by
//!   `max_queued_messages`). The per-connection channel stays unbounded so the engine task
//!   never blocks on a slow client, but what it can hold is bounded by that budget plus the
//!   acknowledgements of what the client sent, and a connection task blocked writing reads
//!   nothing more.

mod tls;
mod ws;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::engine::{ConnId, Engine, Event};
use crate::error::Error;

/// A running broker. Dropping it leaves the broker running until the runtime ends; call
/// [`BrokerHandle::shutdown`] to stop it.
#[derive(Debug)]
pub struct BrokerHandle {
    tcp_addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    ws_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl BrokerHandle {
    /// The address of the plain TCP listener.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// The address of the TLS listener, if configured.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// The address of the WebSocket listener, if configured.
    pub fn ws_addr(&self) -> Option<SocketAddr> {
        self.ws_addr
    }

    /// Stops accepting, closes every connection and waits for the broker's tasks to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts the broker on the current tokio runtime and returns once every listener is bound.
pub async fn start(config: Config) -> Result<BrokerHandle, Error> {
    let (stop, stop_rx) = watch::channel(false);
    let (input_tx, input_rx) = mpsc::channel(INPUT_CAPACITY);
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })
    };
    let tcp = bind(config.listen).await?;
    let tcp_addr = tcp.local_addr().map_err(|source| Error::Bind {
        addr: config.listen,
        source,
    })?;
    let mut tasks = Vec::new();
    let engine = Engine::new(config.limits.clone());
    tasks.push(tokio::spawn(run_engine(engine, input_rx, stop_rx.clone())));
    tasks.push(tokio::spawn(accept_loop(
        tcp,
        Transport::Tcp,
        input_tx.clone(),
        stop_rx.clone(),
    )));
    let mut tls_addr = None;
    if let Some(tls_config) = &config.tls {
        let acceptor = tls::acceptor(tls_config)?;
        let listener = bind(tls_config.listen).await?;
        tls_addr = listener.local_addr().ok();
        tasks.push(tokio::spawn(accept_loop(
            listener,
            Transport::Tls(acceptor),
            input_tx.clone(),
            stop_rx.clone(),
        )));
    }
    let mut ws_addr = None;
    if let Some(addr) = config.websocket {
        let listener = bind(addr).await?;
        ws_addr = listener.local_addr().ok();
        tasks.push(tokio::spawn(accept_loop(
            listener,
            Transport::WebSocket,
            input_tx.clone(),
            stop_rx.clone(),
        )));
    }
    tracing::info!(%tcp_addr, ?tls_addr, ?ws_addr, "broker listening");
    Ok(BrokerHandle {
        tcp_addr,
        tls_addr,
        ws_addr,
        stop,
        tasks,
    })
}

/// What a connection task tells the engine task.
#[derive(Debug)]
pub(crate) enum Input {
    Open {
        reply: oneshot::Sender<(ConnId, mpsc::UnboundedReceiver<Output>)>,
    },
    Data(ConnId, Bytes),
    /// The connection task wrote this many bytes of `Output::Data` to its socket.
    Written(ConnId, usize),
    Closed(ConnId),
}

/// What the engine task tells a connection task.
#[derive(Debug)]
pub(crate) enum Output {
    Data(Bytes),
    Close,
}

#[derive(Clone)]
enum Transport {
    Tcp,
    Tls(tokio_rustls::TlsAcceptor),
    WebSocket,
}

async fn accept_loop(
    listener: TcpListener,
    transport: Transport,
    input: mpsc::Sender<Input>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let input = input.clone();
        let transport = transport.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            tracing::debug!(%peer, "accepted");
            match transport {
                Transport::Tcp => serve_stream(stream, input, stop).await,
                Transport::Tls(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls) => serve_stream(tls, input, stop).await,
                    Err(e) => tracing::debug!(%peer, error = %e, "tls handshake failed"),
                },
                Transport::WebSocket => ws::serve(stream, input, stop).await,
            }
        });
    }
}

/// Registers a new connection with the engine task.
pub(crate) async fn open(
    input: &mpsc::Sender<Input>,
) -> Option<(ConnId, mpsc::UnboundedReceiver<Output>)> {
    let (reply, rx) = oneshot::channel();
    input.send(Input::Open { reply }).await.ok()?;
    rx.await.ok()
}

/// Moves bytes between a byte stream and the engine until either side closes.
async fn serve_stream<S>(stream: S, input: mpsc::Sender<Input>, mut stop: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some((id, mut out)) = open(&input).await else {
        return;
    };
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    loop {
        tokio::select! {
            read = reader.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => {
                    let _ = input.send(Input::Closed(id)).await;
                    break;
                }
                Ok(_) => {
                    if input.send(Input::Data(id, buf.split().freeze())).await.is_err() {
                        break;
                    }
                    if buf.capacity() < 1024 {
                        buf.reserve(8 * 1024);
                    }
                }
            },
            msg = out.recv() => match msg {
                Some(Output::Data(data)) => {
                    if writer.write_all(&data).await.is_err() {
                        let _ = input.send(Input::Closed(id)).await;
                        break;
                    }
                    if input.send(Input::Written(id, data.len())).await.is_err() {
                        break;
                    }
                }
                Some(Output::Close) | None => {
                    let _ = writer.flush().await;
                    let _ = writer.shutdown().await;
                    break;
                }
            },
            _ = stop.changed() => break,
        }
    }
}

async fn run_engine(
    mut engine: Engine,
    mut input: mpsc::Receiver<Input>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conns: HashMap<ConnId, mpsc::UnboundedSender<Output>> = HashMap::new();
    loop {
        let deadline = engine.poll_timeout();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            msg = input.recv() => {
                let Some(msg) = msg else { return };
                let now = Instant::now();
                apply(&mut engine, &mut conns, msg, now);
                // Take whatever else is waiting before writing, to batch output.
                for _ in 0..256 {
                    match input.try_recv() {
                        Ok(msg) => apply(&mut engine, &mut conns, msg, now),
                        Err(_) => break,
                    }
                }
            }
            () = sleep => engine.handle_timeout(Instant::now()),
            _ = stop.changed() => {
                for tx in conns.values() {
                    let _ = tx.send(Output::Close);
                }
                return;
            }
        }
        flush(&mut engine, &mut conns);
    }
}

fn apply(
    engine: &mut Engine,
    conns: &mut HashMap<ConnId, mpsc::UnboundedSender<Output>>,
    msg: Input,
    now: Instant,
) {
    match msg {
        Input::Open { reply } => {
            let id = engine.handle_connect(now);
            let (tx, rx) = mpsc::unbounded_channel();
            if reply.send((id, rx)).is_ok() {
                conns.insert(id, tx);
            } else {
                engine.handle_disconnect(id, now);
            }
        }
        Input::Data(id, data) => engine.handle_data(id, &data, now),
        Input::Written(id, len) => engine.handle_written(id, len, now),
        Input::Closed(id) => {
            engine.handle_disconnect(id, now);
            conns.remove(&id);
        }
    }
}

fn flush(engine: &mut Engine, conns: &mut HashMap<ConnId, mpsc::UnboundedSender<Output>>) {
    while let Some((id, data)) = engine.poll_transmit() {
        if let Some(tx) = conns.get(&id) {
            let _ = tx.send(Output::Data(data));
        }
    }
    while let Some(event) = engine.poll_event() {
        match event {
            Event::Close { conn } => {
                if let Some(tx) = conns.remove(&conn) {
                    let _ = tx.send(Output::Close);
                }
            }
        }
    }
}

/// Messages waiting for the engine task before connection tasks stop reading: enough to keep
/// it busy between wake-ups (it takes up to 256 per turn), small enough to bound memory.
const INPUT_CAPACITY: usize = 4096;
