//! A strict, streaming MQTT 3.1, 3.1.1 and 5.0 packet codec.
//!
//! Every MQTT control packet starts with a fixed header:
//!
//! ```text
//!   bit    7   6   5   4   3   2   1   0
//! byte 1  [ packet type  ] [   flags    ]
//! byte 2… [ remaining length: 1 to 4 bytes, Variable Byte Integer ]
//! then    [ variable header and payload: exactly `remaining length` bytes ]
//! ```
//!
//! [`framing::Decoder`] cuts packets off a growing `BytesMut` and decodes them with every check
//! the specs ask of a receiver, each failure a distinct [`Error`] variant that maps to a 5.0
//! reason code ([`Error::reason_code`]) and, where there is one, the normative statement it
//! breaks ([`Error::statement`]). [`Packet::encode`] writes packets without validating them,
//! so a test can send what the spec forbids.
//!
//! ```
//! use bytes::BytesMut;
//! use mqtt_codec::{Decoded, Decoder, Packet, ProtocolVersion, Publish};
//!
//! let mut wire = BytesMut::new();
//! let publish = Packet::Publish(Publish::new("a/b", "hello"));
//! publish.encode(ProtocolVersion::V5_0, &mut wire).unwrap();
//!
//! let mut decoder = Decoder::new(ProtocolVersion::V5_0);
//! assert_eq!(decoder.decode(&mut wire).unwrap(), Decoded::Packet(publish));
//! ```
//!
//! No IO lives here; the optional `tokio` feature adds a `tokio_util::codec` adapter.

#![warn(missing_docs)]

#[cfg(feature = "arbitrary")]
mod arbitrary;
#[cfg(feature = "tokio")]
pub mod codec;
mod error;
pub mod framing;
#[doc(hidden)]
pub mod fuzzing;
mod header;
mod ids;
pub mod packet;
mod primitives;
pub mod properties;
mod reason;
pub mod topic;
pub mod varint;
mod version;

pub use bytes;
pub use bytestring::{self, ByteString};
pub use error::{DecodeError, Error, ErrorKind};
pub use framing::{Borrowed, Decoded, Decoder, MAX_PACKET_SIZE};
pub use header::FixedHeader;
pub use ids::PacketType;
pub use packet::{
    Auth, ConnAck, Connect, Disconnect, Packet, PubAck, PubComp, PubRec, PubRel, Publish,
    PublishRef, QoS, RetainHandling, SubAck, Subscribe, Subscription, SubscriptionOptions,
    UnsubAck, Unsubscribe, Will,
};
pub use properties::{Properties, Property, PropertyContext, PropertyId};
pub use reason::ReasonCode;
pub use topic::{TopicError, TopicFilter, TopicName};
pub use varint::MAX_VARINT;
pub use version::ProtocolVersion;
