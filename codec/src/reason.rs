//! Reason codes (MQTT 5.0 section 2.4) and the 3.1.1 CONNACK and SUBACK return codes.
//!
//! A newtype over the byte rather than a closed enum, so an unknown value survives a decode that
//! does not validate it and prints as hex.

use std::fmt;

/// An MQTT 5.0 reason code, or a 3.1.1 CONNACK / SUBACK return code.
/// The default is 0x00, Success.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ReasonCode(pub u8);

macro_rules! reason_codes {
    ($($name:ident = $value:literal, $text:literal;)*) => {
        impl ReasonCode {
            $(
                #[doc = concat!("`", stringify!($value), "` ", $text, ".")]
                pub const $name: Self = Self($value);
            )*

            /// The spec's name for this code, if it has one in 5.0.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)*
                    _ => None,
                }
            }
        }
    };
}

reason_codes! {
    SUCCESS = 0x00, "Success";
    GRANTED_QOS_1 = 0x01, "Granted QoS 1";
    GRANTED_QOS_2 = 0x02, "Granted QoS 2";
    DISCONNECT_WITH_WILL_MESSAGE = 0x04, "Disconnect with Will Message";
    NO_MATCHING_SUBSCRIBERS = 0x10, "No matching subscribers";
    NO_SUBSCRIPTION_EXISTED = 0x11, "No subscription existed";
    CONTINUE_AUTHENTICATION = 0x18, "Continue authentication";
    RE_AUTHENTICATE = 0x19, "Re-authenticate";
    UNSPECIFIED_ERROR = 0x80, "Unspecified error";
    MALFORMED_PACKET = 0x81, "Malformed Packet";
    PROTOCOL_ERROR = 0x82, "Protocol Error";
    IMPLEMENTATION_SPECIFIC_ERROR = 0x83, "Implementation specific error";
    UNSUPPORTED_PROTOCOL_VERSION = 0x84, "Unsupported Protocol Version";
    CLIENT_IDENTIFIER_NOT_VALID = 0x85, "Client Identifier not valid";
    BAD_USER_NAME_OR_PASSWORD = 0x86, "Bad User Name or Password";
    NOT_AUTHORIZED = 0x87, "Not authorized";
    SERVER_UNAVAILABLE = 0x88, "Server unavailable";
    SERVER_BUSY = 0x89, "Server busy";
    BANNED = 0x8A, "Banned";
    SERVER_SHUTTING_DOWN = 0x8B, "Server shutting down";
    BAD_AUTHENTICATION_METHOD = 0x8C, "Bad authentication method";
    KEEP_ALIVE_TIMEOUT = 0x8D, "Keep Alive timeout";
    SESSION_TAKEN_OVER = 0x8E, "Session taken over";
    TOPIC_FILTER_INVALID = 0x8F, "Topic Filter invalid";
    TOPIC_NAME_INVALID = 0x90, "Topic Name invalid";
    PACKET_IDENTIFIER_IN_USE = 0x91, "Packet Identifier in use";
    PACKET_IDENTIFIER_NOT_FOUND = 0x92, "Packet Identifier not found";
    RECEIVE_MAXIMUM_EXCEEDED = 0x93, "Receive Maximum exceeded";
    TOPIC_ALIAS_INVALID = 0x94, "Topic Alias invalid";
    PACKET_TOO_LARGE = 0x95, "Packet too large";
    MESSAGE_RATE_TOO_HIGH = 0x96, "Message rate too high";
    QUOTA_EXCEEDED = 0x97, "Quota exceeded";
    ADMINISTRATIVE_ACTION = 0x98, "Administrative action";
    PAYLOAD_FORMAT_INVALID = 0x99, "Payload format invalid";
    RETAIN_NOT_SUPPORTED = 0x9A, "Retain not supported";
    QOS_NOT_SUPPORTED = 0x9B, "QoS not supported";
    USE_ANOTHER_SERVER = 0x9C, "Use another server";
    SERVER_MOVED = 0x9D, "Server moved";
    SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E, "Shared Subscriptions not supported";
    CONNECTION_RATE_EXCEEDED = 0x9F, "Connection rate exceeded";
    MAXIMUM_CONNECT_TIME = 0xA0, "Maximum connect time";
    SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1, "Subscription Identifiers not supported";
    WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = 0xA2, "Wildcard Subscriptions not supported";
}

impl ReasonCode {
    /// `0x00` Normal disconnection (DISCONNECT).
    pub const NORMAL_DISCONNECTION: Self = Self(0x00);
    /// `0x00` Granted QoS 0 (SUBACK).
    pub const GRANTED_QOS_0: Self = Self(0x00);
    /// `0x80` Failure, the 3.1.1 SUBACK return code.
    pub const SUBACK_FAILURE_V3: Self = Self(0x80);

    /// 3.1.1 CONNACK `0x01`: unacceptable protocol version.
    pub const V3_UNACCEPTABLE_PROTOCOL_VERSION: Self = Self(0x01);
    /// 3.1.1 CONNACK `0x02`: identifier rejected.
    pub const V3_IDENTIFIER_REJECTED: Self = Self(0x02);
    /// 3.1.1 CONNACK `0x03`: server unavailable.
    pub const V3_SERVER_UNAVAILABLE: Self = Self(0x03);
    /// 3.1.1 CONNACK `0x04`: bad user name or password.
    pub const V3_BAD_USER_NAME_OR_PASSWORD: Self = Self(0x04);
    /// 3.1.1 CONNACK `0x05`: not authorized.
    pub const V3_NOT_AUTHORIZED: Self = Self(0x05);

    /// Whether the code reports success (below 0x80).
    pub fn is_success(self) -> bool {
        self.0 < 0x80
    }
}

impl fmt::Debug for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:02X}", self.0)
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "0x{:02X} {name}", self.0),
            None => write!(f, "0x{:02X}", self.0),
        }
    }
}

impl From<u8> for ReasonCode {
    fn from(value: u8) -> Self {
        Self(value)
    }
}

/// Which reason codes each MQTT 5.0 packet may carry (section 2.4 and each packet's table).
pub(crate) mod allowed {
    /// CONNACK (3.2.2.2).
    pub(crate) const CONNACK: &[u8] = &[
        0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95,
        0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
    ];
    /// PUBACK (3.4.2.1) and PUBREC (3.5.2.1).
    pub(crate) const PUBACK: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
    /// PUBREL (3.6.2.1) and PUBCOMP (3.7.2.1).
    pub(crate) const PUBREL: &[u8] = &[0x00, 0x92];
    /// SUBACK (3.9.3).
    pub(crate) const SUBACK: &[u8] = &[
        0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
    ];
    /// UNSUBACK (3.11.3).
    pub(crate) const UNSUBACK: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
    /// DISCONNECT (3.14.2.1).
    pub(crate) const DISCONNECT: &[u8] = &[
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94,
        0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
    ];
    /// AUTH (3.15.2.1).
    pub(crate) const AUTH: &[u8] = &[0x00, 0x18, 0x19];
    /// 3.1.1 CONNACK return codes (3.2.2.3).
    pub(crate) const CONNACK_V3: &[u8] = &[0x00, 0x01, 0x02, 0x03, 0x04, 0x05];
    /// 3.1.1 SUBACK return codes (3.9.3).
    pub(crate) const SUBACK_V3: &[u8] = &[0x00, 0x01, 0x02, 0x80];
}
