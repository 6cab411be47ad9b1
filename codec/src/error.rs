//! The codec's error type and its mapping to MQTT 5.0 reason codes.
//!
//! Every variant is something wrong with bytes a peer sent (or with a packet we were asked to
//! encode). "Not enough bytes yet" is not an error: see [`crate::framing::Decoded::Incomplete`].

use crate::ids::{PacketType, PropertyId};
use crate::reason::ReasonCode;
use crate::topic::TopicError;
use crate::version::ProtocolVersion;

/// Whose rule a bad packet broke, in the terms of MQTT 5.0 section 4.13.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The packet cannot be parsed according to the spec (reason code 0x81).
    Malformed,
    /// The packet parses but carries data the protocol does not allow (0x82, or a more
    /// specific code such as 0x90 Topic Name invalid).
    ProtocolError,
}

/// Everything that can be wrong with a packet on the wire.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The packet type nibble is 0, which is reserved.
    #[error("reserved packet type 0")]
    ReservedPacketType,
    /// A packet type that does not exist in the negotiated protocol version (AUTH before 5.0).
    #[error("{packet_type} does not exist in MQTT {version}")]
    PacketTypeNotInVersion {
        /// The type received.
        packet_type: PacketType,
        /// The negotiated version.
        version: ProtocolVersion,
    },
    /// The fixed-header flags differ from the values the spec fixes for this type.
    #[error("invalid fixed-header flags {flags:#06b} for {packet_type}")]
    InvalidFlags {
        /// The packet type.
        packet_type: PacketType,
        /// The low nibble received.
        flags: u8,
    },
    /// A Variable Byte Integer ran past four bytes.
    #[error("{field}: variable byte integer longer than 4 bytes")]
    MalformedVarInt {
        /// The field being read.
        field: &'static str,
    },
    /// A Variable Byte Integer used more bytes than its value needs.
    #[error("{field}: variable byte integer not minimally encoded")]
    NonMinimalVarInt {
        /// The field being read.
        field: &'static str,
    },
    /// The packet is larger than the receiver's maximum packet size.
    #[error("packet of {size} bytes exceeds the maximum of {max}")]
    PacketTooLarge {
        /// The size announced by the fixed header.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A field runs past the end of the packet.
    #[error("{field} runs past the end of the packet")]
    UnexpectedEof {
        /// The field being read.
        field: &'static str,
    },
    /// Bytes are left over after the last field of the packet.
    #[error("{count} bytes left over at the end of {packet_type}")]
    TrailingBytes {
        /// The packet type.
        packet_type: PacketType,
        /// How many bytes were left.
        count: usize,
    },
    /// A string is not well-formed UTF-8, or encodes a surrogate.
    #[error("{field} is not well-formed UTF-8")]
    InvalidUtf8 {
        /// The field being read.
        field: &'static str,
    },
    /// A string contains U+0000.
    #[error("{field} contains U+0000")]
    NullCharacter {
        /// The field being read.
        field: &'static str,
    },
    /// A packet identifier of 0 where a non-zero one is required.
    #[error("packet identifier 0 in {packet_type}")]
    ZeroPacketId {
        /// The packet type.
        packet_type: PacketType,
    },
    /// A PUBLISH with both QoS bits set.
    #[error("PUBLISH with QoS 3")]
    PublishQoS3,
    /// A 5.0 PUBLISH with QoS 0 and DUP set.
    #[error("PUBLISH with QoS 0 and DUP set")]
    DupOnQoS0,
    /// CONNECT carries a protocol name other than `MQTT` (or `MQIsdp` at level 3).
    #[error("unknown protocol name in CONNECT")]
    InvalidProtocolName,
    /// CONNECT carries a protocol level this codec does not speak.
    #[error("unsupported protocol level {level}")]
    UnsupportedProtocolLevel {
        /// The level received.
        level: u8,
    },
    /// The reserved bit 0 of the CONNECT flags is set.
    #[error("reserved CONNECT flag set")]
    ConnectReservedFlag,
    /// Will QoS 3 in CONNECT.
    #[error("will QoS 3 in CONNECT")]
    WillQoS3,
    /// Will QoS or Will Retain set while the Will Flag is 0.
    #[error("will QoS or retain set without the will flag")]
    WillFlagsWithoutWill,
    /// A 3.1.1 CONNECT with the password flag but not the user name flag.
    #[error("password flag without user name flag")]
    PasswordWithoutUsername,
    /// SUBSCRIBE or UNSUBSCRIBE without any topic filter.
    #[error("{packet_type} without any topic filter")]
    NoTopicFilters {
        /// The packet type.
        packet_type: PacketType,
    },
    /// Subscription options with reserved bits set.
    #[error("reserved subscription option bits set in {options:#010b}")]
    SubscriptionOptionsReserved {
        /// The options byte.
        options: u8,
    },
    /// A requested maximum QoS of 3 in SUBSCRIBE.
    #[error("subscription with QoS 3")]
    SubscriptionQoS3,
    /// Retain Handling 3 in SUBSCRIBE.
    #[error("retain handling 3")]
    RetainHandling3,
    /// No Local on a shared subscription.
    #[error("no local set on a shared subscription")]
    NoLocalOnSharedSubscription,
    /// A Topic Name that is not valid.
    #[error("invalid topic name: {0}")]
    InvalidTopicName(TopicError),
    /// A Topic Filter that is not valid.
    #[error("invalid topic filter: {0}")]
    InvalidTopicFilter(TopicError),
    /// A 5.0 PUBLISH with an empty topic and no Topic Alias.
    #[error("PUBLISH with an empty topic and no topic alias")]
    EmptyTopicWithoutAlias,
    /// A property identifier the spec does not define.
    #[error("unknown property identifier {id:#04x}")]
    UnknownProperty {
        /// The identifier received.
        id: u32,
    },
    /// A property that is not allowed in this packet.
    #[error("property {property} not allowed in {context}")]
    PropertyNotAllowed {
        /// The property.
        property: PropertyId,
        /// Where it was found.
        context: &'static str,
    },
    /// A single-valued property that appears more than once.
    #[error("property {property} included more than once")]
    DuplicateProperty {
        /// The property.
        property: PropertyId,
    },
    /// A 5.0 CONNECT with Authentication Data but no Authentication Method.
    #[error("authentication data without an authentication method")]
    AuthenticationDataWithoutMethod,
    /// A property value outside the range the spec allows.
    #[error("property {property} has the forbidden value {value}")]
    PropertyOutOfRange {
        /// The property.
        property: PropertyId,
        /// The value received.
        value: u32,
    },
    /// A reason code that this packet may not carry.
    #[error("reason code {code:#04x} not allowed in {packet_type}")]
    InvalidReasonCode {
        /// The packet type.
        packet_type: PacketType,
        /// The code received.
        code: u8,
    },
    /// CONNACK acknowledge flags with reserved bits set.
    #[error("reserved CONNACK flags set in {flags:#010b}")]
    ConnAckReservedFlags {
        /// The flags byte.
        flags: u8,
    },
    /// On encode: a string or binary field longer than 65,535 bytes.
    #[error("{field} is {len} bytes, longer than 65535")]
    FieldTooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// On encode: a packet whose remaining length does not fit a Variable Byte Integer.
    #[error("remaining length {len} exceeds 268435455")]
    RemainingLengthTooLarge {
        /// The remaining length the packet would need.
        len: usize,
    },
}

/// A decode error with what was known of the packet when it failed, so that a server can
/// choose its answer without reading the bytes again: a CONNECT refused for a bad field is
/// answered in the version its protocol level asks for (5.0 section 4.13; 3.1.1 MQTT-3.1.2-2).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct DecodeError {
    /// What was wrong.
    pub error: Error,
    /// The packet's type, unless its first byte carries the reserved type 0.
    pub packet_type: Option<PacketType>,
    /// The protocol level of a CONNECT, if the packet is one and its level byte had arrived
    /// (read whatever the error, even a bad protocol name or fixed header).
    pub connect_level: Option<u8>,
}

impl From<DecodeError> for Error {
    fn from(failure: DecodeError) -> Self {
        failure.error
    }
}

impl Error {
    /// The reason code a 5.0 receiver sends in DISCONNECT (or CONNACK) for this error.
    ///
    /// This is the one place that decides Malformed Packet against Protocol Error, as 5.0
    /// section 4.13 and each packet's text define them.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Self::PacketTooLarge { .. } => ReasonCode::PACKET_TOO_LARGE,
            Self::InvalidProtocolName | Self::UnsupportedProtocolLevel { .. } => {
                ReasonCode::UNSUPPORTED_PROTOCOL_VERSION
            }
            Self::InvalidTopicName(_) => ReasonCode::TOPIC_NAME_INVALID,
            Self::PropertyOutOfRange { property, .. } if *property == PropertyId::TOPIC_ALIAS => {
                ReasonCode::TOPIC_ALIAS_INVALID
            }
            // "It is a Protocol Error if the Maximum QoS field has the value 3" (5.0 3.8.3.1),
            // unlike 3.1.1, where it is malformed (MQTT-3.8.3-4). An empty Topic Name without
            // a Topic Alias parses fine but breaks 3.3.2.3.4: a Protocol Error, not 0x90,
            // which is for a well-formed name the receiver does not accept.
            Self::ZeroPacketId { .. }
            | Self::PacketTypeNotInVersion { .. }
            | Self::NoTopicFilters { .. }
            | Self::SubscriptionQoS3
            | Self::EmptyTopicWithoutAlias
            | Self::RetainHandling3
            | Self::NoLocalOnSharedSubscription
            | Self::DuplicateProperty { .. }
            | Self::AuthenticationDataWithoutMethod
            | Self::PropertyOutOfRange { .. } => ReasonCode::PROTOCOL_ERROR,
            Self::ReservedPacketType
            | Self::InvalidFlags { .. }
            | Self::MalformedVarInt { .. }
            | Self::NonMinimalVarInt { .. }
            | Self::UnexpectedEof { .. }
            | Self::TrailingBytes { .. }
            | Self::InvalidUtf8 { .. }
            | Self::NullCharacter { .. }
            | Self::PublishQoS3
            | Self::DupOnQoS0
            | Self::ConnectReservedFlag
            | Self::WillQoS3
            | Self::WillFlagsWithoutWill
            | Self::PasswordWithoutUsername
            | Self::SubscriptionOptionsReserved { .. }
            | Self::InvalidTopicFilter(_)
            | Self::UnknownProperty { .. }
            | Self::PropertyNotAllowed { .. }
            | Self::InvalidReasonCode { .. }
            | Self::ConnAckReservedFlags { .. }
            | Self::FieldTooLong { .. }
            | Self::RemainingLengthTooLarge { .. } => ReasonCode::MALFORMED_PACKET,
        }
    }

    /// The reason code for a DISCONNECT sent because of this error.
    ///
    /// [`Error::reason_code`] answers for CONNACK too, and 0x84 Unsupported Protocol Version (a
    /// CONNECT with a bad protocol name or level) exists only there: once connected, such a
    /// CONNECT is a Protocol Error (5.0 3.14.2.1 lists the codes a DISCONNECT may carry).
    pub fn disconnect_reason_code(&self) -> ReasonCode {
        let code = self.reason_code();
        if crate::reason::allowed::DISCONNECT.contains(&code.0) {
            code
        } else {
            ReasonCode::PROTOCOL_ERROR
        }
    }

    /// Malformed Packet or Protocol Error.
    pub fn kind(&self) -> ErrorKind {
        if self.reason_code() == ReasonCode::MALFORMED_PACKET {
            ErrorKind::Malformed
        } else {
            ErrorKind::ProtocolError
        }
    }

    /// The normative statement the bad packet breaks, in the numbering of `version`.
    pub fn statement(&self, version: ProtocolVersion) -> Option<&'static str> {
        let v5 = version.is_v5();
        let pick = |v3: &'static str, v5_id: &'static str| Some(if v5 { v5_id } else { v3 });
        match self {
            Self::InvalidFlags {
                packet_type: PacketType::Subscribe,
                ..
            } => pick("MQTT-3.8.1-1", "MQTT-3.8.1-1"),
            Self::InvalidFlags {
                packet_type: PacketType::Unsubscribe,
                ..
            } => pick("MQTT-3.10.1-1", "MQTT-3.10.1-1"),
            Self::InvalidFlags {
                packet_type: PacketType::PubRel,
                ..
            } => pick("MQTT-3.6.1-1", "MQTT-3.6.1-1"),
            Self::InvalidFlags {
                packet_type: PacketType::Disconnect,
                ..
            } => pick("MQTT-3.14.1-1", "MQTT-3.14.1-1"),
            Self::InvalidFlags {
                packet_type: PacketType::Auth,
                ..
            } if v5 => Some("MQTT-3.15.1-1"),
            Self::InvalidFlags { .. } => pick("MQTT-2.2.2-2", "MQTT-2.1.3-1"),
            Self::NonMinimalVarInt { .. } if v5 => Some("MQTT-1.5.5-1"),
            Self::InvalidUtf8 { .. } => pick("MQTT-1.5.3-1", "MQTT-1.5.4-1"),
            Self::NullCharacter { .. } => pick("MQTT-1.5.3-2", "MQTT-1.5.4-2"),
            Self::ZeroPacketId { .. } => pick("MQTT-2.3.1-1", "MQTT-2.2.1-3"),
            Self::PublishQoS3 => pick("MQTT-3.3.1-4", "MQTT-3.3.1-4"),
            Self::DupOnQoS0 => pick("MQTT-3.3.1-2", "MQTT-3.3.1-2"),
            Self::InvalidProtocolName => pick("MQTT-3.1.2-1", "MQTT-3.1.2-1"),
            Self::UnsupportedProtocolLevel { .. } => pick("MQTT-3.1.2-2", "MQTT-3.1.2-2"),
            Self::ConnectReservedFlag => pick("MQTT-3.1.2-3", "MQTT-3.1.2-3"),
            Self::WillQoS3 => pick("MQTT-3.1.2-14", "MQTT-3.1.2-12"),
            Self::WillFlagsWithoutWill => pick("MQTT-3.1.2-11", "MQTT-3.1.2-11"),
            Self::PasswordWithoutUsername if !v5 => Some("MQTT-3.1.2-22"),
            Self::NoTopicFilters {
                packet_type: PacketType::Subscribe,
            } => pick("MQTT-3.8.3-3", "MQTT-3.8.3-2"),
            Self::NoTopicFilters { .. } => pick("MQTT-3.10.3-2", "MQTT-3.10.3-2"),
            Self::SubscriptionOptionsReserved { .. } => pick("MQTT-3.8.3-4", "MQTT-3.8.3-5"),
            // 5.0 states QoS 3 in the options without a statement ID (3.8.3.1).
            Self::SubscriptionQoS3 if !v5 => Some("MQTT-3.8.3-4"),
            Self::NoLocalOnSharedSubscription if v5 => Some("MQTT-3.8.3-4"),
            Self::InvalidTopicName(TopicError::Wildcard) => pick("MQTT-3.3.2-2", "MQTT-3.3.2-2"),
            Self::InvalidTopicName(TopicError::Empty)
            | Self::InvalidTopicFilter(TopicError::Empty)
            | Self::EmptyTopicWithoutAlias => pick("MQTT-4.7.3-1", "MQTT-4.7.3-1"),
            Self::InvalidTopicFilter(TopicError::MisplacedMultiLevel) => {
                pick("MQTT-4.7.1-2", "MQTT-4.7.1-1")
            }
            Self::InvalidTopicFilter(TopicError::MisplacedSingleLevel) => {
                pick("MQTT-4.7.1-3", "MQTT-4.7.1-2")
            }
            Self::PropertyOutOfRange { property, .. } if *property == PropertyId::TOPIC_ALIAS => {
                Some("MQTT-3.3.2-8")
            }
            // 3.1.1 has no statement for the reserved CONNACK bits (its MQTT-3.2.2-1 is about
            // Session Present).
            Self::ConnAckReservedFlags { .. } if v5 => Some("MQTT-3.2.2-1"),
            _ => None,
        }
    }
}
