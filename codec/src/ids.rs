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

/// The rule a property's value must follow beyond its wire type; checked in one place
/// (`properties::check_number` and `check_text`) for validation and decoding alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValueRule {
    /// Any value of the type.
    Any,
    /// 0 or 1: a one-byte property above 1 is a Protocol Error (5.0 3.1.2.11.6, 3.1.2.11.7,
    /// 3.2.2.3.4 (Maximum QoS), 3.2.2.3.5, 3.2.2.3.11 to 3.2.2.3.13, 3.3.2.3.2).
    Flag,
    /// Not 0: Receive Maximum (3.1.2.11.3, 3.2.2.3.3), Maximum Packet Size (3.1.2.11.4,
    /// 3.2.2.3.6), Topic Alias (MQTT-3.3.2-8), Subscription Identifier (3.8.2.1.2).
    NonZero,
    /// A Topic Name, without wildcards: the Response Topic (MQTT-3.3.2-14).
    TopicName,
}

/// What the codec knows of one property identifier, from [`for_each_property!`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct PropertySpec {
    pub(crate) name: &'static str,
    pub(crate) ty: ValueType,
    pub(crate) rule: ValueRule,
    /// One [`PropertyContext::bit`] per context the property is allowed in.
    pub(crate) contexts: u16,
}

/// Calls `$callback!` with the table of MQTT 5.0 properties (5.0 2.2.2.2, table 2-4): the one
/// place each property is spelled out. The codec generates from it the identifiers
/// ([`PropertyId`]), their names, wire types, value rules and contexts, the `Property` enum,
/// its encoding and decoding, and the getters of `Properties`; the conformance crate its
/// scenario property keys.
///
/// A row is `Variant(fields) = id, CONSTANT, key, "Spec Name", type, rule, [contexts];`:
/// `key` is the snake-case name (a `Properties` getter, a scenario key), `type` a wire type
/// (`Byte`, `TwoByte`, `FourByte`, `VarInt`, `String`, `Binary`, `Pair`), `rule` one of
/// `Any`, `Flag`, `NonZero`, `TopicName`, and the contexts are `PropertyContext` variants.
/// The `single` group holds the properties read through a getter (the first one present);
/// the `list` group those a packet may carry several of, read as lists.
#[macro_export]
macro_rules! for_each_property {
    ($callback:ident) => {
        $callback! {
            single {
                /// 0x01: 0 unspecified bytes, 1 UTF-8 payload.
                PayloadFormatIndicator(value) = 0x01, PAYLOAD_FORMAT_INDICATOR,
                    payload_format_indicator, "Payload Format Indicator", Byte, Flag,
                    [Publish, Will];
                /// 0x02: lifetime of the message in seconds.
                MessageExpiryInterval(value) = 0x02, MESSAGE_EXPIRY_INTERVAL,
                    message_expiry_interval, "Message Expiry Interval", FourByte, Any,
                    [Publish, Will];
                /// 0x03: MIME-like content type of the payload.
                ContentType(value) = 0x03, CONTENT_TYPE, content_type, "Content Type", String,
                    Any, [Publish, Will];
                /// 0x08: topic for a response.
                ResponseTopic(value) = 0x08, RESPONSE_TOPIC, response_topic, "Response Topic",
                    String, TopicName, [Publish, Will];
                /// 0x09: data correlating a response with its request.
                CorrelationData(value) = 0x09, CORRELATION_DATA, correlation_data,
                    "Correlation Data", Binary, Any, [Publish, Will];
                /// 0x11: session lifetime in seconds after the connection closes.
                SessionExpiryInterval(value) = 0x11, SESSION_EXPIRY_INTERVAL,
                    session_expiry_interval, "Session Expiry Interval", FourByte, Any,
                    [Connect, ConnAck, Disconnect];
                /// 0x12: client identifier the server assigned.
                AssignedClientIdentifier(value) = 0x12, ASSIGNED_CLIENT_IDENTIFIER,
                    assigned_client_identifier, "Assigned Client Identifier", String, Any,
                    [ConnAck];
                /// 0x13: keep alive the server imposes.
                ServerKeepAlive(value) = 0x13, SERVER_KEEP_ALIVE, server_keep_alive,
                    "Server Keep Alive", TwoByte, Any, [ConnAck];
                /// 0x15: name of the enhanced authentication method.
                AuthenticationMethod(value) = 0x15, AUTHENTICATION_METHOD,
                    authentication_method, "Authentication Method", String, Any,
                    [Connect, ConnAck, Auth];
                /// 0x16: authentication method data.
                AuthenticationData(value) = 0x16, AUTHENTICATION_DATA, authentication_data,
                    "Authentication Data", Binary, Any, [Connect, ConnAck, Auth];
                /// 0x17: whether reason strings and user properties may be sent on failures.
                RequestProblemInformation(value) = 0x17, REQUEST_PROBLEM_INFORMATION,
                    request_problem_information, "Request Problem Information", Byte, Flag,
                    [Connect];
                /// 0x18: delay in seconds before the will is published.
                WillDelayInterval(value) = 0x18, WILL_DELAY_INTERVAL, will_delay_interval,
                    "Will Delay Interval", FourByte, Any, [Will];
                /// 0x19: whether the client asks for Response Information.
                RequestResponseInformation(value) = 0x19, REQUEST_RESPONSE_INFORMATION,
                    request_response_information, "Request Response Information", Byte, Flag,
                    [Connect];
                /// 0x1A: basis for response topics.
                ResponseInformation(value) = 0x1A, RESPONSE_INFORMATION, response_information,
                    "Response Information", String, Any, [ConnAck];
                /// 0x1C: another server to use.
                ServerReference(value) = 0x1C, SERVER_REFERENCE, server_reference,
                    "Server Reference", String, Any, [ConnAck, Disconnect];
                /// 0x1F: human-readable diagnostic.
                ReasonString(value) = 0x1F, REASON_STRING, reason_string, "Reason String",
                    String, Any, [ConnAck, Ack, SubAck, UnsubAck, Disconnect, Auth];
                /// 0x21: how many QoS 1/2 publications the sender will process at once.
                ReceiveMaximum(value) = 0x21, RECEIVE_MAXIMUM, receive_maximum,
                    "Receive Maximum", TwoByte, NonZero, [Connect, ConnAck];
                /// 0x22: highest topic alias the sender accepts.
                TopicAliasMaximum(value) = 0x22, TOPIC_ALIAS_MAXIMUM, topic_alias_maximum,
                    "Topic Alias Maximum", TwoByte, Any, [Connect, ConnAck];
                /// 0x23: alias standing for a topic name.
                TopicAlias(value) = 0x23, TOPIC_ALIAS, topic_alias, "Topic Alias", TwoByte,
                    NonZero, [Publish];
                /// 0x24: highest QoS the server supports (0 or 1; absent means 2).
                MaximumQoS(value) = 0x24, MAXIMUM_QOS, maximum_qos, "Maximum QoS", Byte, Flag,
                    [ConnAck];
                /// 0x25: whether retained messages are supported.
                RetainAvailable(value) = 0x25, RETAIN_AVAILABLE, retain_available,
                    "Retain Available", Byte, Flag, [ConnAck];
                /// 0x27: largest packet the sender will accept.
                MaximumPacketSize(value) = 0x27, MAXIMUM_PACKET_SIZE, maximum_packet_size,
                    "Maximum Packet Size", FourByte, NonZero, [Connect, ConnAck];
                /// 0x28: whether wildcard subscriptions are supported.
                WildcardSubscriptionAvailable(value) = 0x28, WILDCARD_SUBSCRIPTION_AVAILABLE,
                    wildcard_subscription_available, "Wildcard Subscription Available", Byte,
                    Flag, [ConnAck];
                /// 0x29: whether subscription identifiers are supported.
                SubscriptionIdentifierAvailable(value) = 0x29,
                    SUBSCRIPTION_IDENTIFIER_AVAILABLE, subscription_identifier_available,
                    "Subscription Identifier Available", Byte, Flag, [ConnAck];
                /// 0x2A: whether shared subscriptions are supported.
                SharedSubscriptionAvailable(value) = 0x2A, SHARED_SUBSCRIPTION_AVAILABLE,
                    shared_subscription_available, "Shared Subscription Available", Byte, Flag,
                    [ConnAck];
            }
            list {
                /// 0x0B: identifier of a subscription (1 to 268,435,455); a forwarded PUBLISH
                /// may carry several.
                SubscriptionIdentifier(value) = 0x0B, SUBSCRIPTION_IDENTIFIER,
                    subscription_identifiers, "Subscription Identifier", VarInt, NonZero,
                    [Publish, Subscribe];
                /// 0x26: an application-defined name/value pair.
                UserProperty(name, value) = 0x26, USER_PROPERTY, user_properties,
                    "User Property", Pair, Any,
                    [Connect, ConnAck, Publish, Will, Ack, Subscribe, SubAck, Unsubscribe,
                     UnsubAck, Disconnect, Auth];
            }
        }
    };
}

/// Generates the identifier constants, [`PropertyId::name`], [`PropertyId::ALL`] and the
/// [`TABLE`] from [`for_each_property!`].
macro_rules! property_ids {
    (single { $($single:tt)* } list { $($list:tt)* }) => {
        property_ids!(@rows $($single)* $($list)*);
    };
    (@rows $($(#[$doc:meta])* $variant:ident($($field:ident),+) = $id:literal, $cid:ident,
        $key:ident, $name:literal, $ty:ident, $rule:ident, [$($ctx:ident),*];)*) => {
        impl PropertyId {
            $(
                #[doc = concat!("`", stringify!($id), "` ", $name, ".")]
                pub const $cid: Self = Self($id);
            )*

            /// Every known property identifier, in the table's order.
            pub const ALL: &[Self] = &[$(Self::$cid),*];

            /// The spec's name for the property.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($id => Some($name),)*
                    _ => None,
                }
            }
        }

        /// The spec of each identifier, indexed by identifier: one load answers every
        /// question validation asks. Every known identifier is below 64.
        pub(crate) const TABLE: [Option<PropertySpec>; 64] = {
            let mut table = [None; 64];
            $(table[$id] = Some(PropertySpec {
                name: $name,
                ty: ValueType::$ty,
                rule: ValueRule::$rule,
                contexts: 0 $(| PropertyContext::$ctx.bit())*,
            });)*
            table
        };
    };
}

for_each_property!(property_ids);

impl PropertyId {
    /// Whether the property is allowed in `context`.
    pub fn is_allowed_in(self, context: PropertyContext) -> bool {
        self.contexts() & context.bit() != 0
    }

    #[inline]
    fn contexts(self) -> u16 {
        TABLE
            .get(usize::from(self.0))
            .copied()
            .flatten()
            .map_or(0, |spec| spec.contexts)
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
