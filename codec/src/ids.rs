//! The identifiers the rest of the codec names: packet types and MQTT 5.0 property
//! identifiers, with each property's value type and the packets it may appear in.
//!
//! A leaf: nothing here depends on another module of the crate, so the error type, the fixed
//! header and the property codec can all name these without importing one another.

use std::fmt;

/// The packet type in the high nibble of the first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PacketType {
    /// 1: client request to connect.
    Connect,
    /// 2: connect acknowledgement.
    ConnAck,
    /// 3: publish message.
    Publish,
    /// 4: QoS 1 acknowledgement.
    PubAck,
    /// 5: QoS 2 delivery, part 1.
    PubRec,
    /// 6: QoS 2 delivery, part 2.
    PubRel,
    /// 7: QoS 2 delivery, part 3.
    PubComp,
    /// 8: subscribe request.
    Subscribe,
    /// 9: subscribe acknowledgement.
    SubAck,
    /// 10: unsubscribe request.
    Unsubscribe,
    /// 11: unsubscribe acknowledgement.
    UnsubAck,
    /// 12: ping request.
    PingReq,
    /// 13: ping response.
    PingResp,
    /// 14: disconnect notification.
    Disconnect,
    /// 15: authentication exchange (5.0 only).
    Auth,
}

impl PacketType {
    /// The type for the high nibble of a first byte; 0 is reserved.
    #[inline]
    pub fn from_nibble(nibble: u8) -> Option<Self> {
        Some(match nibble {
            1 => Self::Connect,
            2 => Self::ConnAck,
            3 => Self::Publish,
            4 => Self::PubAck,
            5 => Self::PubRec,
            6 => Self::PubRel,
            7 => Self::PubComp,
            8 => Self::Subscribe,
            9 => Self::SubAck,
            10 => Self::Unsubscribe,
            11 => Self::UnsubAck,
            12 => Self::PingReq,
            13 => Self::PingResp,
            14 => Self::Disconnect,
            15 => Self::Auth,
            _ => return None,
        })
    }

    /// The high nibble of the first byte.
    pub fn nibble(self) -> u8 {
        match self {
            Self::Connect => 1,
            Self::ConnAck => 2,
            Self::Publish => 3,
            Self::PubAck => 4,
            Self::PubRec => 5,
            Self::PubRel => 6,
            Self::PubComp => 7,
            Self::Subscribe => 8,
            Self::SubAck => 9,
            Self::Unsubscribe => 10,
            Self::UnsubAck => 11,
            Self::PingReq => 12,
            Self::PingResp => 13,
            Self::Disconnect => 14,
            Self::Auth => 15,
        }
    }

    /// The flags every packet but PUBLISH must carry (3.1.1 2.2.2, 5.0 2.1.3).
    #[inline]
    pub fn required_flags(self) -> Option<u8> {
        match self {
            Self::Publish => None,
            Self::PubRel | Self::Subscribe | Self::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "CONNECT",
            Self::ConnAck => "CONNACK",
            Self::Publish => "PUBLISH",
            Self::PubAck => "PUBACK",
            Self::PubRec => "PUBREC",
            Self::PubRel => "PUBREL",
            Self::PubComp => "PUBCOMP",
            Self::Subscribe => "SUBSCRIBE",
            Self::SubAck => "SUBACK",
            Self::Unsubscribe => "UNSUBSCRIBE",
            Self::UnsubAck => "UNSUBACK",
            Self::PingReq => "PINGREQ",
            Self::PingResp => "PINGRESP",
            Self::Disconnect => "DISCONNECT",
            Self::Auth => "AUTH",
        })
    }
}

/// A property identifier. A newtype, so unknown identifiers can be named and printed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PropertyId(pub u8);

/// Where a property list sits, which decides the properties it may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropertyContext {
    /// CONNECT properties.
    Connect,
    /// CONNACK properties.
    ConnAck,
    /// PUBLISH properties.
    Publish,
    /// The Will Properties in the CONNECT payload.
    Will,
    /// PUBACK, PUBREC, PUBREL and PUBCOMP properties.
    Ack,
    /// SUBSCRIBE properties.
    Subscribe,
    /// SUBACK properties.
    SubAck,
    /// UNSUBSCRIBE properties.
    Unsubscribe,
    /// UNSUBACK properties.
    UnsubAck,
    /// DISCONNECT properties.
    Disconnect,
    /// AUTH properties.
    Auth,
}

impl PropertyContext {
    pub(crate) const fn bit(self) -> u16 {
        1 << (self as u16)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Connect => "CONNECT",
            Self::ConnAck => "CONNACK",
            Self::Publish => "PUBLISH",
            Self::Will => "will properties",
            Self::Ack => "PUBACK/PUBREC/PUBREL/PUBCOMP",
            Self::Subscribe => "SUBSCRIBE",
            Self::SubAck => "SUBACK",
            Self::Unsubscribe => "UNSUBSCRIBE",
            Self::UnsubAck => "UNSUBACK",
            Self::Disconnect => "DISCONNECT",
            Self::Auth => "AUTH",
        }
    }
}

/// The wire type of a property's value (5.0 table 2-4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValueType {
    Byte,
    TwoByte,
    FourByte,
    VarInt,
    String,
    Binary,
    Pair,
}

macro_rules! properties {
    ($($name:ident = $id:literal, $text:literal, $ty:ident, [$($ctx:ident),*];)*) => {
        impl PropertyId {
            $(
                #[doc = concat!("`", stringify!($id), "` ", $text, ".")]
                pub const $name: Self = Self($id);
            )*

            /// The spec's name for the property.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($id => Some($text),)*
                    _ => None,
                }
            }

        }

        /// Value type and allowed contexts per identifier, indexed by identifier: one load
        /// answers both questions while validating. Every known identifier is below 64.
        pub(crate) const TABLE: [(Option<ValueType>, u16); 64] = {
            let mut table = [(None, 0); 64];
            $(table[$id] = (Some(ValueType::$ty), 0 $(| PropertyContext::$ctx.bit())*);)*
            table
        };
    };
}

properties! {
    PAYLOAD_FORMAT_INDICATOR = 0x01, "Payload Format Indicator", Byte, [Publish, Will];
    MESSAGE_EXPIRY_INTERVAL = 0x02, "Message Expiry Interval", FourByte, [Publish, Will];
    CONTENT_TYPE = 0x03, "Content Type", String, [Publish, Will];
    RESPONSE_TOPIC = 0x08, "Response Topic", String, [Publish, Will];
    CORRELATION_DATA = 0x09, "Correlation Data", Binary, [Publish, Will];
    SUBSCRIPTION_IDENTIFIER = 0x0B, "Subscription Identifier", VarInt, [Publish, Subscribe];
    SESSION_EXPIRY_INTERVAL = 0x11, "Session Expiry Interval", FourByte, [Connect, ConnAck, Disconnect];
    ASSIGNED_CLIENT_IDENTIFIER = 0x12, "Assigned Client Identifier", String, [ConnAck];
    SERVER_KEEP_ALIVE = 0x13, "Server Keep Alive", TwoByte, [ConnAck];
    AUTHENTICATION_METHOD = 0x15, "Authentication Method", String, [Connect, ConnAck, Auth];
    AUTHENTICATION_DATA = 0x16, "Authentication Data", Binary, [Connect, ConnAck, Auth];
    REQUEST_PROBLEM_INFORMATION = 0x17, "Request Problem Information", Byte, [Connect];
    WILL_DELAY_INTERVAL = 0x18, "Will Delay Interval", FourByte, [Will];
    REQUEST_RESPONSE_INFORMATION = 0x19, "Request Response Information", Byte, [Connect];
    RESPONSE_INFORMATION = 0x1A, "Response Information", String, [ConnAck];
    SERVER_REFERENCE = 0x1C, "Server Reference", String, [ConnAck, Disconnect];
    REASON_STRING = 0x1F, "Reason String", String,
        [ConnAck, Ack, SubAck, UnsubAck, Disconnect, Auth];
    RECEIVE_MAXIMUM = 0x21, "Receive Maximum", TwoByte, [Connect, ConnAck];
    TOPIC_ALIAS_MAXIMUM = 0x22, "Topic Alias Maximum", TwoByte, [Connect, ConnAck];
    TOPIC_ALIAS = 0x23, "Topic Alias", TwoByte, [Publish];
    MAXIMUM_QOS = 0x24, "Maximum QoS", Byte, [ConnAck];
    RETAIN_AVAILABLE = 0x25, "Retain Available", Byte, [ConnAck];
    USER_PROPERTY = 0x26, "User Property", Pair,
        [Connect, ConnAck, Publish, Will, Ack, Subscribe, SubAck, Unsubscribe, UnsubAck,
         Disconnect, Auth];
    MAXIMUM_PACKET_SIZE = 0x27, "Maximum Packet Size", FourByte, [Connect, ConnAck];
    WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28, "Wildcard Subscription Available", Byte, [ConnAck];
    SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29, "Subscription Identifier Available", Byte,
        [ConnAck];
    SHARED_SUBSCRIPTION_AVAILABLE = 0x2A, "Shared Subscription Available", Byte, [ConnAck];
}

impl PropertyId {
    /// Whether the property is allowed in `context`.
    pub fn is_allowed_in(self, context: PropertyContext) -> bool {
        self.contexts() & context.bit() != 0
    }

    #[inline]
    fn contexts(self) -> u16 {
        TABLE.get(usize::from(self.0)).map_or(0, |entry| entry.1)
    }
}

impl fmt::Debug for PropertyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PropertyId({:#04x})", self.0)
    }
}

impl fmt::Display for PropertyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({:#04x})", self.0),
            None => write!(f, "{:#04x}", self.0),
        }
    }
}
