//! A scripted fake broker on a loopback port, for runner behaviours the reference broker never
//! shows: hangs, silence, death mid-run, flakiness.
//!
//! It frames packets properly and hands each one to a behaviour closure, which picks a
//! [`Reply`]; [`Reply::Answer`] gives the minimal well-behaved answer (CONNACK, PUBACK, PUBREC,
//! PUBCOMP, SUBACK, PINGRESP).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// One packet the fake broker received, with what it knows of the connection.
#[derive(Debug)]
pub(crate) struct Seen<'a> {
    /// Protocol level of the connection's CONNECT (4 = 3.1.1, 5 = 5.0; 0 before it).
    pub(crate) level: u8,
    /// Client id of the connection's CONNECT.
    pub(crate) client_id: &'a str,
    /// Packet type (high nibble of the first byte).
    pub(crate) kind: u8,
    /// Flags (low nibble).
    pub(crate) flags: u8,
    /// The packet after the fixed header.
    pub(crate) body: &'a [u8],
}

impl Seen<'_> {
    /// The topic of a PUBLISH.
    pub(crate) fn topic(&self) -> &str {
        if self.kind != 3 || self.body.len() < 2 {
            return "";
        }
        let n = usize::from(u16::from_be_bytes([self.body[0], self.body[1]]));
        self.body
            .get(2..2 + n)
            .and_then(|t| std::str::from_utf8(t).ok())
            .unwrap_or("")
    }
}

/// What the fake broker does with a packet.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// The minimal well-behaved answer (nothing for packets that need none).
    Answer,
    /// These bytes.
    Send(Vec<u8>),
    /// Nothing; keep reading.
    Silent,
    /// These bytes, then never read this connection again (but keep it open).
    SendThenDeaf(Vec<u8>),
    /// These bytes, then close this connection.
    SendThenClose(Vec<u8>),
    /// Close this connection.
    Close,
    /// Wait this long (reading nothing meanwhile), then send these bytes.
    SendAfter(std::time::Duration, Vec<u8>),
    /// These bytes, then (reading nothing meanwhile) wait this long and close the connection.
    SendThenCloseAfter(Vec<u8>, std::time::Duration),
    /// The whole broker wedges: every connection, open or new, is accepted and read but never
    /// answered again (a deadlocked broker, the hardest death to notice).
    Wedge,
    /// The whole broker dies: the listener and every connection close (a crashed process).
    Crash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Serving,
    Wedged,
    Crashed,
}

type Behaviour = dyn Fn(&Seen<'_>) -> Reply + Send + Sync;

/// A running fake broker; stops when dropped.
pub(crate) struct Fake {
    /// Its loopback address.
    pub(crate) addr: SocketAddr,
    mode: watch::Sender<Mode>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.mode.send(Mode::Crashed);
    }
}

impl Fake {
    /// Starts a fake broker on `127.0.0.1:0` that asks `behave` about every packet.
    pub(crate) async fn start(behave: impl Fn(&Seen<'_>) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, mut watch_mode) = watch::channel(Mode::Serving);
        let behave: Arc<Behaviour> = Arc::new(behave);
        let tx = mode.clone();
        tokio::spawn(async move {
            loop {
                let sock = tokio::select! {
                    r = listener.accept() => match r {
                        Ok((s, _)) => s,
                        Err(_) => continue,
                    },
                    r = watch_mode.changed() => {
                        if r.is_err() || *watch_mode.borrow() == Mode::Crashed {
                            return;
                        }
                        continue;
                    }
                };
                tokio::spawn(serve(sock, behave.clone(), tx.clone()));
            }
        });
        Self { addr, mode }
    }
}

async fn serve(mut sock: TcpStream, behave: Arc<Behaviour>, mode: watch::Sender<Mode>) {
    let mut watch_mode = mode.subscribe();
    let mut buf: Vec<u8> = Vec::new();
    let mut level = 0u8;
    let mut client_id = String::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            r = sock.read(&mut chunk) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            r = watch_mode.changed() => {
                if r.is_err() || *watch_mode.borrow() == Mode::Crashed {
                    return;
                }
                continue;
            }
        };
        if *watch_mode.borrow() == Mode::Wedged {
            continue;
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Some((first, body, used)) = frame(&buf) {
            let body = body.to_vec();
            buf.drain(..used);
            let kind = first >> 4;
            if kind == 1 {
                (level, client_id) = connect_fields(&body);
            }
            let seen = Seen {
                level,
                client_id: &client_id,
                kind,
                flags: first & 0x0F,
                body: &body,
            };
            let reply = match behave(&seen) {
                Reply::Answer => answer(&seen),
                r => r,
            };
            match reply {
                Reply::Answer | Reply::Silent => {}
                Reply::Send(bytes) => {
                    if sock.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                Reply::SendThenDeaf(bytes) => {
                    let _ = sock.write_all(&bytes).await;
                    while watch_mode.changed().await.is_ok() {
                        if *watch_mode.borrow() == Mode::Crashed {
                            return;
                        }
                    }
                    return;
                }
                Reply::SendThenClose(bytes) => {
                    let _ = sock.write_all(&bytes).await;
                    return;
                }
                Reply::Close => return,
                Reply::SendAfter(d, bytes) => {
                    tokio::time::sleep(d).await;
                    if sock.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                Reply::SendThenCloseAfter(bytes, d) => {
                    let _ = sock.write_all(&bytes).await;
                    tokio::time::sleep(d).await;
                    return;
                }
                Reply::Wedge => {
                    let _ = mode.send(Mode::Wedged);
                    buf.clear();
                    break;
                }
                Reply::Crash => {
                    let _ = mode.send(Mode::Crashed);
                    return;
                }
            }
        }
    }
}

/// The well-behaved answer to a packet, as `Reply::Send`, or `Reply::Close` for DISCONNECT.
fn answer(p: &Seen<'_>) -> Reply {
    let v5 = p.level == 5;
    let id = |at: usize| {
        p.body
            .get(at..at + 2)
            .map(<[u8]>::to_vec)
            .unwrap_or(vec![0, 0])
    };
    match p.kind {
        1 if v5 => Reply::Send(vec![0x20, 0x03, 0x00, 0x00, 0x00]),
        1 => Reply::Send(vec![0x20, 0x02, 0x00, 0x00]),
        3 => {
            let qos = (p.flags >> 1) & 3;
            let at = 2 + p.topic().len();
            match qos {
                1 => Reply::Send([vec![0x40, 0x02], id(at)].concat()),
                2 => Reply::Send([vec![0x50, 0x02], id(at)].concat()),
                _ => Reply::Silent,
            }
        }
        6 => Reply::Send([vec![0x70, 0x02], id(0)].concat()),
        8 => {
            // One "granted QoS 0" per filter: walk the (length, filter, options) triples.
            let mut at = 2;
            if v5 {
                let (len, n) = vbi(&p.body[2..]).unwrap_or((0, 1));
                at += n + len;
            }
            let mut codes = Vec::new();
            while let Some(l) = p.body.get(at..at + 2) {
                at += 2 + usize::from(u16::from_be_bytes([l[0], l[1]])) + 1;
                codes.push(0u8);
            }
            let mut body = id(0);
            if v5 {
                body.push(0);
            }
            body.extend(codes);
            Reply::Send([vec![0x90, u8::try_from(body.len()).unwrap()], body].concat())
        }
        12 => Reply::Send(vec![0xD0, 0x00]),
        14 => Reply::Close,
        _ => Reply::Silent,
    }
}

/// One complete packet at the start of `buf`: first byte, body, bytes used.
fn frame(buf: &[u8]) -> Option<(u8, &[u8], usize)> {
    let first = *buf.first()?;
    let (len, n) = vbi(&buf[1..])?;
    let end = 1 + n + len;
    (buf.len() >= end).then(|| (first, &buf[1 + n..end], end))
}

/// A Variable Byte Integer: value and bytes used.
fn vbi(b: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, byte) in b.iter().take(4).enumerate() {
        value |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Protocol level and client id of a CONNECT body.
fn connect_fields(body: &[u8]) -> (u8, String) {
    let name_len = body
        .get(0..2)
        .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let level = body.get(2 + name_len).copied().unwrap_or(0);
    // level, flags, keep alive.
    let mut at = 2 + name_len + 4;
    if level == 5 {
        let (len, n) = body.get(at..).and_then(vbi).unwrap_or((0, 1));
        at += n + len;
    }
    let id = body
        .get(at..at + 2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .and_then(|n| body.get(at + 2..at + 2 + n))
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    (level, id)
}
