//! A tokio-util `Decoder`/`Encoder` over [`crate::framing::Decoder`], for the broker's and the
//! conformance client's sockets.

use bytes::BytesMut;

use crate::error::Error;
use crate::framing::{Decoded, Decoder};
use crate::packet::Packet;
use crate::version::ProtocolVersion;

/// What can go wrong on a framed MQTT stream: the socket, or the bytes on it.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The transport failed.
    #[error("transport: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent a bad packet, or a packet could not be encoded.
    #[error("packet: {0}")]
    Packet(#[from] Error),
}

/// MQTT framing for `tokio_util::codec::Framed`.
#[derive(Clone, Debug)]
pub struct MqttCodec {
    decoder: Decoder,
}

impl MqttCodec {
    /// A codec for `version` (see [`Decoder::new`]).
    pub fn new(version: ProtocolVersion) -> Self {
        Self {
            decoder: Decoder::new(version),
        }
    }

    /// The underlying decoder, to change the version or the maximum packet size.
    pub fn decoder_mut(&mut self) -> &mut Decoder {
        &mut self.decoder
    }

    /// The underlying decoder.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }
}

impl tokio_util::codec::Decoder for MqttCodec {
    type Item = Packet;
    type Error = StreamError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, StreamError> {
        match self.decoder.decode(src)? {
            Decoded::Packet(packet) => Ok(Some(packet)),
            Decoded::Incomplete => Ok(None),
        }
    }
}

impl tokio_util::codec::Encoder<Packet> for MqttCodec {
    type Error = StreamError;

    fn encode(&mut self, packet: Packet, dst: &mut BytesMut) -> Result<(), StreamError> {
        dst.reserve(packet.encoded_len(self.decoder.version()));
        packet.encode(self.decoder.version(), dst)?;
        Ok(())
    }
}
