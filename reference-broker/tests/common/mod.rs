//! A minimal MQTT test client over loopback TCP, shared by the integration tests: it sends
//! packets through the codec and decodes what the broker answers, every wait bounded.

#![allow(
    dead_code,
    reason = "each test crate uses part of the helpers; an unused one is not an error"
)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use mqtt_codec::{Connect, Decoded, Decoder, Packet, ProtocolVersion, ReasonCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// How long a reply may take before the test fails (generous: the machine may be loaded).
pub(crate) const WAIT: Duration = Duration::from_secs(10);

pub(crate) struct Client {
    pub(crate) stream: TcpStream,
    pub(crate) buf: BytesMut,
    decoder: Decoder,
    version: ProtocolVersion,
}

impl Client {
    /// A client on `stream` speaking `version`, nothing sent yet.
    pub(crate) fn on(stream: TcpStream, version: ProtocolVersion) -> Self {
        Self {
            stream,
            buf: BytesMut::new(),
            decoder: Decoder::new(version),
            version,
        }
    }

    /// Opens a connection without sending anything.
    pub(crate) async fn open(addr: SocketAddr, version: ProtocolVersion) -> Self {
        let stream = timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("timed out connecting")
            .expect("connect");
        Self::on(stream, version)
    }

    /// Connects and returns the CONNACK's code.
    pub(crate) async fn connect_with(addr: SocketAddr, connect: Connect) -> (Self, ReasonCode) {
        let mut c = Self::open(addr, connect.protocol).await;
        c.send(connect).await;
        match c.recv().await {
            Some(Packet::ConnAck(ack)) => (c, ack.code),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Connects with a clean session and checks the CONNACK is a success.
    pub(crate) async fn connect(addr: SocketAddr, version: ProtocolVersion, id: &str) -> Self {
        let (c, code) = Self::connect_with(addr, Connect::new(version, id)).await;
        assert_eq!(code, ReasonCode::SUCCESS);
        c
    }

    pub(crate) async fn send(&mut self, p: impl Into<Packet>) {
        let bytes = p.into().to_bytes(self.version).unwrap();
        self.stream.write_all(&bytes).await.unwrap();
    }

    /// Waits for the broker to close the connection, reading and discarding what it sends.
    pub(crate) async fn closed_by_broker(&mut self) {
        let mut sink = [0u8; 4096];
        loop {
            match timeout(WAIT, self.stream.read(&mut sink)).await {
                Ok(Ok(0) | Err(_)) => return,
                Ok(Ok(_)) => {}
                Err(_) => panic!("the broker kept the connection open"),
            }
        }
    }

    /// The next packet, or `None` when the broker closed or reset the connection.
    pub(crate) async fn recv_or_close(&mut self) -> Option<Packet> {
        loop {
            if let Ok(Decoded::Packet(p)) = self.decoder.decode(&mut self.buf) {
                return Some(p);
            }
            match timeout(WAIT, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                Ok(_) => return None,
                Err(_) => panic!("timed out waiting for the broker"),
            }
        }
    }

    /// The next packet, or `None` when the broker closed the connection.
    pub(crate) async fn recv(&mut self) -> Option<Packet> {
        loop {
            if let Decoded::Packet(p) = self.decoder.decode(&mut self.buf).unwrap() {
                return Some(p);
            }
            let n = timeout(WAIT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("timed out waiting for the broker")
                .ok()?;
            if n == 0 {
                return None;
            }
        }
    }
}
