//! The tokio shell around the [`Engine`]: listeners (TCP, TLS, WebSocket) and one task that
//! owns the engine, feeds it what connections read, writes what it polls, and arms its next
//! timer.
//!
//! Nothing protocol-related happens here: the shell moves bytes, the engine decides.
//!
//! Plain TCP connections have no task of their own: the engine task reads and writes their
//! sockets itself, without waiting. Each socket's readiness wakes a small per-connection
//! waker that queues the connection for the engine task (`Ready`), which then reads what
//! is there into one shared scratch buffer and hands it to the engine, and writes what the
//! engine polls straight to the socket. An idle TCP connection therefore costs the socket's
//! registration, its waker and a map entry, and a message takes one task hop from the
//! publisher's socket to the subscriber's. TLS and WebSocket connections, whose streams need
//! an async task to drive them, have a task each that talks to the engine task over channels
//! (`Input`, `Output`).
//!
//! Backpressure, both ways, without the engine task ever waiting on a connection:
//!
//! - inbound, a TCP connection is read only while nothing waits to be written to it, at most
//!   a few buffers per turn; the channel from TLS and WebSocket tasks is bounded
//!   (`INPUT_CAPACITY`) and such a task waits for room before it reads more, so a flooding
//!   client is slowed by TCP;
//! - outbound, what is written is reported to the engine (`Engine::handle_written`), which
//!   counts the rest against `Limits::max_outbound_buffer`: past it, QoS 0 messages for that
//!   client are dropped and QoS 1/2 ones wait in its session queue (bounded by
//!   `max_queued_messages`). What the socket does not take at once waits in the connection's
//!   pending buffer (TCP) or channel (TLS, WebSocket), bounded by that budget plus the
//!   acknowledgements of what the client sent; a connection with output waiting is not read.

mod handshakes;
mod identity;
mod tls;
mod ws;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::collections::VecDeque;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::engine::{ConnId, Engine, Event};
use crate::error::Error;
use handshakes::{Handshakes, Ticket};

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
    let timeouts = Timeouts {
        handshake: config.limits.connect_timeout,
        write: config.limits.write_timeout,
    };
    tasks.push(tokio::spawn(run_engine(
        engine,
        (input_tx.clone(), input_rx),
        stop_rx.clone(),
    )));
    tasks.push(tokio::spawn(accept_loop(
        tcp,
        Transport::Tcp,
        timeouts,
        input_tx.clone(),
        stop_rx.clone(),
    )));
    let mut tls_addr = None;
    if let Some(tls_config) = &config.tls {
        let acceptor = tls::acceptor(tls_config, config.tls_client_ca.as_deref())?;
        let listener = bind(tls_config.listen).await?;
        tls_addr = listener.local_addr().ok();
        tasks.push(tokio::spawn(accept_loop(
            listener,
            Transport::Tls {
                acceptor,
                handshakes: Handshakes::new(config.limits.max_pending_connections),
            },
            timeouts,
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
            Transport::WebSocket {
                handshakes: Handshakes::new(config.limits.max_pending_connections),
            },
            timeouts,
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

/// What the accept loops and connection tasks tell the engine task.
#[derive(Debug)]
pub(crate) enum Input {
    /// A plain TCP connection, served by the engine task itself.
    Accepted(TcpStream),
    /// A TLS or WebSocket connection task asks for its handle and output channel.
    Open {
        reply: oneshot::Sender<(ConnId, mpsc::UnboundedReceiver<Output>)>,
        /// The user a verified TLS client certificate names (mTLS).
        identity: Option<String>,
    },
    Data(ConnId, Bytes),
    /// The verdict of an `Event::CheckPassword`.
    PasswordChecked(ConnId, bool),
    /// The connection task wrote this many bytes of `Output::Data` to its socket.
    Written(ConnId, usize),
    Closed(ConnId),
}

/// What the engine task tells a TLS or WebSocket connection task.
#[derive(Debug)]
pub(crate) enum Output {
    Data(Bytes),
    Close,
}

/// What a listener serves. TLS and WebSocket sockets handshake first, on a task of their
/// own, counted in the listener's `Handshakes`.
#[derive(Clone)]
enum Transport {
    Tcp,
    Tls {
        acceptor: tokio_rustls::TlsAcceptor,
        handshakes: Arc<Handshakes>,
    },
    WebSocket {
        handshakes: Arc<Handshakes>,
    },
}

/// How long a TLS handshake or WebSocket upgrade, and one write to a peer, may take.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) handshake: Duration,
    pub(crate) write: Duration,
}

/// The pause after a failed `accept()` (out of file descriptors, usually): retrying at once
/// would spin at full CPU while nothing can be accepted.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A listening socket, as the accept loop uses it: a trait so that its back-off can be
/// tested with a listener that fails.
pub(crate) trait Accept {
    type Stream;
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;
}

impl Accept for TcpListener {
    type Stream = TcpStream;
    fn accept(&self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + Send {
        TcpListener::accept(self)
    }
}

/// The next accepted socket, or `None` once `stop` changes. A failing `accept()` (out of
/// file descriptors, usually) is retried every [`ACCEPT_BACKOFF`], logged once per run of
/// failures: retrying at once would spin at full CPU while nothing can be accepted.
async fn next_socket<L: Accept>(
    listener: &L,
    stop: &mut watch::Receiver<bool>,
) -> Option<(L::Stream, SocketAddr)> {
    let mut failing = false;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return None,
        };
        match accepted {
            Ok(socket) => {
                if failing {
                    tracing::info!("accept works again");
                }
                return Some(socket);
            }
            Err(e) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(error = %e, "accept failed; retrying every 100 ms");
                }
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    _ = stop.changed() => return None,
                }
            }
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    transport: Transport,
    timeouts: Timeouts,
    input: mpsc::Sender<Input>,
    mut stop: watch::Receiver<bool>,
) {
    while let Some((stream, peer)) = next_socket(&listener, &mut stop).await {
        let _ = stream.set_nodelay(true);
        tracing::debug!(%peer, "accepted");
        let handshakes = match &transport {
            Transport::Tcp => {
                if input.send(Input::Accepted(stream)).await.is_err() {
                    return;
                }
                continue;
            }
            Transport::Tls { handshakes, .. } | Transport::WebSocket { handshakes } => {
                Arc::clone(handshakes)
            }
        };
        // The task waits for its ticket, so that it is counted before it handshakes.
        let (admit, admitted) = oneshot::channel();
        let task = tokio::spawn(handshake_then_serve(
            (stream, peer),
            transport.clone(),
            admitted,
            timeouts,
            (input.clone(), stop.clone()),
        ));
        let _ = admit.send(handshakes.admit(task.abort_handle()));
    }
}

/// Runs the TLS handshake or WebSocket upgrade of a new socket, then serves it; the ticket
/// is dropped (the handshake no longer counted) as soon as the handshake ends.
async fn handshake_then_serve(
    (stream, peer): (TcpStream, SocketAddr),
    transport: Transport,
    admitted: oneshot::Receiver<Ticket>,
    timeouts: Timeouts,
    (input, stop): (mpsc::Sender<Input>, watch::Receiver<bool>),
) {
    let Ok(ticket) = admitted.await else {
        return;
    };
    match transport {
        Transport::Tcp => {}
        Transport::Tls { acceptor, .. } => {
            let handshake = acceptor.accept(stream);
            let done = tokio::time::timeout(timeouts.handshake, handshake).await;
            drop(ticket);
            match done {
                Ok(Ok(tls)) => {
                    // Verified by rustls against the client CA, when one is set.
                    let identity = (tls.get_ref().1.peer_certificates())
                        .and_then(|certs| certs.first())
                        .and_then(|cert| identity::common_name(cert));
                    serve_stream(tls, identity, timeouts, input, stop).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "tls handshake failed"),
                Err(_) => tracing::debug!(%peer, "tls handshake timed out"),
            }
        }
        Transport::WebSocket { .. } => {
            let upgraded = ws::upgrade(stream, timeouts).await;
            drop(ticket);
            match upgraded {
                Some(ws) => ws::serve(ws, timeouts, input, stop).await,
                None => tracing::debug!(%peer, "websocket upgrade failed or timed out"),
            }
        }
    }
}

/// Registers a new TLS or WebSocket connection with the engine task.
pub(crate) async fn open(
    input: &mpsc::Sender<Input>,
    identity: Option<String>,
) -> Option<(ConnId, mpsc::UnboundedReceiver<Output>)> {
    let (reply, rx) = oneshot::channel();
    input.send(Input::Open { reply, identity }).await.ok()?;
    rx.await.ok()
}

/// Moves bytes between a (TLS) byte stream and the engine task until either side closes.
async fn serve_stream<S>(
    stream: S,
    identity: Option<String>,
    timeouts: Timeouts,
    input: mpsc::Sender<Input>,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some((id, mut out)) = open(&input, identity).await else {
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
                    // A peer that stops reading is dropped after the write timeout.
                    let written = tokio::time::timeout(timeouts.write, writer.write_all(&data));
                    if !matches!(written.await, Ok(Ok(()))) {
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

/// TCP connections whose sockets became ready, for the engine task to serve.
#[derive(Default)]
struct Ready {
    conns: Mutex<Vec<ConnId>>,
    notify: Notify,
}

/// One TCP connection's waker: its socket's readiness (either way) queues it on `Ready`.
struct ConnWaker {
    id: ConnId,
    /// Set while the connection is in `Ready::conns`, so that it is queued once.
    queued: AtomicBool,
    ready: Arc<Ready>,
}

impl Wake for ConnWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            if let Ok(mut conns) = self.ready.conns.lock() {
                conns.push(self.id);
            }
            self.ready.notify.notify_one();
        }
    }
}

/// A plain TCP connection, read and written by the engine task.
struct Direct {
    stream: TcpStream,
    waker: Arc<ConnWaker>,
    /// Output the socket has not taken yet; while there is some, the connection is not read.
    pending: BytesMut,
    /// The engine closed the connection: shut it down once `pending` is written.
    closing: bool,
}

/// How the engine task reaches a connection.
enum Peer {
    Direct(Direct),
    Task(mpsc::UnboundedSender<Output>),
}

/// Reads per TCP connection per turn before the others get theirs.
const READS_PER_TURN: usize = 4;
/// The shared read buffer's size.
const SCRATCH: usize = 64 * 1024;
/// A pending buffer larger than this is freed once written, so that a connection that was
/// once slow does not keep it while idle.
const KEEP_PENDING: usize = 4 * 1024;

/// The engine task: the engine, every connection's output, and the TCP sockets.
struct Shell {
    engine: Engine,
    conns: HashMap<ConnId, Peer>,
    ready: Arc<Ready>,
    scratch: Box<[u8]>,
    /// TCP connections the engine closed whose output has not drained, with the instant
    /// they are dropped anyway (`Limits::write_timeout`), earliest first.
    closing: VecDeque<(Instant, ConnId)>,
    /// Whether refusing a socket past the socket cap (`Shell::full`) has been logged.
    refused_logged: bool,
    /// For work done off the engine task (password checks) to report back.
    input: mpsc::Sender<Input>,
}

async fn run_engine(
    engine: Engine,
    (input_tx, mut input): (mpsc::Sender<Input>, mpsc::Receiver<Input>),
    mut stop: watch::Receiver<bool>,
) {
    let mut shell = Shell::new(engine, input_tx);
    let ready = Arc::clone(&shell.ready);
    loop {
        let linger = shell.closing.front().map(|(at, _)| *at);
        let deadline = [shell.engine.poll_timeout(), linger]
            .into_iter()
            .flatten()
            .min();
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
                shell.apply(msg, now);
                // Take whatever else is waiting before writing, to batch output.
                for _ in 0..256 {
                    match input.try_recv() {
                        Ok(msg) => shell.apply(msg, now),
                        Err(_) => break,
                    }
                }
            }
            () = ready.notify.notified() => shell.serve_ready(Instant::now()),
            () = sleep => {
                shell.engine.handle_timeout(Instant::now());
                shell.drop_lingering(Instant::now());
            }
            _ = stop.changed() => {
                shell.stop();
                return;
            }
        }
        shell.flush(Instant::now());
    }
}

impl Shell {
    fn new(engine: Engine, input: mpsc::Sender<Input>) -> Self {
        Self {
            engine,
            conns: HashMap::new(),
            ready: Arc::new(Ready::default()),
            scratch: vec![0; SCRATCH].into_boxed_slice(),
            closing: VecDeque::new(),
            refused_logged: false,
            input,
        }
    }

    fn apply(&mut self, msg: Input, now: Instant) {
        match msg {
            Input::Accepted(stream) => {
                if self.full() {
                    // Dropped unread: past the limit, even a CONNACK refusal costs too much.
                    return;
                }
                let id = self.engine.handle_connect(now);
                let waker = Arc::new(ConnWaker {
                    id,
                    queued: AtomicBool::new(false),
                    ready: Arc::clone(&self.ready),
                });
                // Served on the next turn: CONNECT may be there already.
                waker.wake_by_ref();
                let direct = Direct {
                    stream,
                    waker,
                    pending: BytesMut::new(),
                    closing: false,
                };
                self.conns.insert(id, Peer::Direct(direct));
            }
            Input::Open { reply, identity } => {
                if self.full() {
                    return;
                }
                let id = self.engine.handle_connect(now);
                if let Some(user) = identity {
                    self.engine.set_certificate_user(id, user);
                }
                let (tx, rx) = mpsc::unbounded_channel();
                if reply.send((id, rx)).is_ok() {
                    self.conns.insert(id, Peer::Task(tx));
                } else {
                    self.engine.handle_disconnect(id, now);
                }
            }
            Input::Data(id, data) => self.engine.handle_data(id, &data, now),
            Input::PasswordChecked(id, ok) => self.engine.handle_password_checked(id, ok, now),
            Input::Written(id, len) => self.engine.handle_written(id, len, now),
            Input::Closed(id) => {
                self.engine.handle_disconnect(id, now);
                self.conns.remove(&id);
            }
        }
    }

    /// Whether the broker holds as many sockets as the engine may: `max_connections`
    /// connected clients plus `max_pending_connections` waiting for CONNECT. The engine
    /// bounds both (the newest pending socket pushes out the oldest); what can pass them is
    /// closing sockets whose output has not drained, so a socket past the sum is not even
    /// served: a new client could only be refused anyway.
    fn full(&mut self) -> bool {
        let limits = self.engine.limits();
        let cap = (limits.max_connections).saturating_add(limits.max_pending_connections);
        let full = self.conns.len() >= cap;
        if full && !std::mem::replace(&mut self.refused_logged, true) {
            tracing::warn!(
                "refused: sockets past max_connections + max_pending_connections are closed \
                 unread (further ones are not logged)"
            );
        }
        full
    }

    /// Drops the closing TCP connections whose output did not drain within the write
    /// timeout: a peer that never reads must not hold its socket and buffer for ever.
    fn drop_lingering(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.closing.front() {
            if at > now {
                return;
            }
            self.closing.pop_front();
            if let Some(Peer::Direct(d)) = self.conns.get(&id) {
                if d.closing {
                    tracing::debug!(conn = id.as_u64(), "closing connection did not drain");
                    self.conns.remove(&id);
                }
            }
        }
    }

    /// Serves the TCP connections whose sockets became ready: writes what waits for them,
    /// then reads.
    fn serve_ready(&mut self, now: Instant) {
        let queued = match self.ready.conns.lock() {
            Ok(mut conns) => std::mem::take(&mut *conns),
            Err(_) => return,
        };
        for id in queued {
            let Some(Peer::Direct(d)) = self.conns.get_mut(&id) else {
                continue;
            };
            d.waker.queued.store(false, Ordering::Release);
            self.serve(id, now);
        }
    }

    /// Writes what waits for TCP connection `id`, then, if it all went, reads what is there.
    fn serve(&mut self, id: ConnId, now: Instant) {
        let Some(Peer::Direct(d)) = self.conns.get_mut(&id) else {
            return;
        };
        let waker = Waker::from(Arc::clone(&d.waker));
        let mut cx = Context::from_waker(&waker);
        match drive_write(d, &mut self.engine, id, &mut cx, now) {
            Err(_) => return self.dropped(id, now),
            Ok(false) => return,
            Ok(true) if d.closing => {
                shutdown(d);
                self.conns.remove(&id);
                return;
            }
            Ok(true) => {}
        }
        let mut reads = 0;
        loop {
            let Some(Peer::Direct(d)) = self.conns.get_mut(&id) else {
                return;
            };
            if d.closing || !d.pending.is_empty() {
                return;
            }
            match d.stream.poll_read_ready(&mut cx) {
                Poll::Pending => return,
                Poll::Ready(Err(_)) => return self.dropped(id, now),
                Poll::Ready(Ok(())) => {}
            }
            match d.stream.try_read(&mut self.scratch) {
                Ok(0) => return self.dropped(id, now),
                Ok(n) => {
                    self.engine.handle_data(id, &self.scratch[..n], now);
                    reads += 1;
                    if reads == READS_PER_TURN {
                        waker.wake_by_ref();
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return self.dropped(id, now),
            }
        }
    }

    /// The socket of TCP connection `id` failed or its peer closed it.
    fn dropped(&mut self, id: ConnId, now: Instant) {
        self.conns.remove(&id);
        self.engine.handle_disconnect(id, now);
    }

    /// Writes what the engine polls and carries out its events.
    fn flush(&mut self, now: Instant) {
        let mut failed = Vec::new();
        while let Some((id, data)) = self.engine.poll_transmit() {
            match self.conns.get_mut(&id) {
                Some(Peer::Task(tx)) => {
                    let _ = tx.send(Output::Data(data));
                }
                Some(Peer::Direct(d)) => {
                    if d.pending.is_empty() {
                        match d.stream.try_write(&data) {
                            Ok(n) => {
                                d.pending.extend_from_slice(&data[n..]);
                                self.engine.handle_written(id, n, now);
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                d.pending.extend_from_slice(&data);
                            }
                            Err(_) => {
                                failed.push(id);
                                continue;
                            }
                        }
                    } else {
                        d.pending.extend_from_slice(&data);
                    }
                    if !d.pending.is_empty() {
                        // Arms the socket's write readiness, which queues the connection.
                        let waker = Waker::from(Arc::clone(&d.waker));
                        let mut cx = Context::from_waker(&waker);
                        if drive_write(d, &mut self.engine, id, &mut cx, now).is_err() {
                            failed.push(id);
                        }
                    }
                }
                None => {}
            }
        }
        while let Some(event) = self.engine.poll_event() {
            match event {
                Event::CheckPassword { conn, check } => {
                    // The hash takes a fraction of a second: on the blocking pool, so that
                    // the engine task keeps serving everyone else meanwhile.
                    let input = self.input.clone();
                    tokio::task::spawn_blocking(move || {
                        let ok = check.verify();
                        let _ = input.blocking_send(Input::PasswordChecked(conn, ok));
                    });
                }
                Event::Close { conn } => match self.conns.get_mut(&conn) {
                    Some(Peer::Task(tx)) => {
                        let _ = tx.send(Output::Close);
                        self.conns.remove(&conn);
                    }
                    Some(Peer::Direct(d)) => {
                        d.closing = true;
                        if d.pending.is_empty() {
                            shutdown(d);
                            self.conns.remove(&conn);
                        } else if let Some(at) = now.checked_add(self.engine.limits().write_timeout)
                        {
                            self.closing.push_back((at, conn));
                        }
                    }
                    None => {}
                },
            }
        }
        for id in failed {
            self.dropped(id, now);
        }
    }

    /// Closes every connection: what TCP sockets take at once is written, then they are shut
    /// down; TLS and WebSocket tasks are told to close.
    fn stop(&mut self) {
        for (_, peer) in self.conns.drain() {
            match peer {
                Peer::Task(tx) => {
                    let _ = tx.send(Output::Close);
                }
                Peer::Direct(mut d) => {
                    while !d.pending.is_empty() {
                        match d.stream.try_write(&d.pending) {
                            Ok(n) if n > 0 => d.pending.advance(n),
                            _ => break,
                        }
                    }
                    shutdown(&d);
                }
            }
        }
    }
}

/// Writes `d.pending` until it is empty (`Ok(true)`) or the socket is full (`Ok(false)`, and
/// the socket's write readiness will wake `cx`), reporting what went to the engine.
fn drive_write(
    d: &mut Direct,
    engine: &mut Engine,
    id: ConnId,
    cx: &mut Context<'_>,
    now: Instant,
) -> io::Result<bool> {
    while !d.pending.is_empty() {
        match d.stream.poll_write_ready(cx) {
            Poll::Pending => return Ok(false),
            Poll::Ready(result) => result?,
        }
        match d.stream.try_write(&d.pending) {
            Ok(n) => {
                d.pending.advance(n);
                engine.handle_written(id, n, now);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    if d.pending.capacity() > KEEP_PENDING {
        d.pending = BytesMut::new();
    }
    Ok(true)
}

/// Sends FIN on a TCP connection the engine closed; the socket is closed when it is dropped.
fn shutdown(d: &Direct) {
    let _ = socket_shutdown(&d.stream);
}

fn socket_shutdown(stream: &TcpStream) -> io::Result<()> {
    // tokio's TcpStream shuts down only through `AsyncWrite`; a borrowed std socket does it
    // synchronously.
    let fd = std::os::fd::AsFd::as_fd(stream);
    let std = std::net::TcpStream::from(fd.try_clone_to_owned()?);
    std.shutdown(Shutdown::Write)
}

/// Messages waiting for the engine task before connection tasks stop reading: enough to keep
/// it busy between wake-ups (it takes up to 256 per turn), small enough to bound memory.
const INPUT_CAPACITY: usize = 4096;
