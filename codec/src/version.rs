//! Protocol versions and the few places where the wire format differs between them.

use std::fmt;

/// The protocol level carried in CONNECT, and the wire format it selects.
///
/// MQTT 3.1 and 3.1.1 share one wire format apart from the CONNECT protocol name; MQTT 5.0 adds
/// properties and reason codes to most packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ProtocolVersion {
    /// MQTT 3.1: protocol name `MQIsdp`, level 3.
    V3_1,
    /// MQTT 3.1.1: protocol name `MQTT`, level 4.
    V3_1_1,
    /// MQTT 5.0: protocol name `MQTT`, level 5.
    V5_0,
}

impl ProtocolVersion {
    /// The protocol level byte of CONNECT.
    pub fn level(self) -> u8 {
        match self {
            Self::V3_1 => 3,
            Self::V3_1_1 => 4,
            Self::V5_0 => 5,
        }
    }

    /// The protocol name CONNECT carries at this level.
    pub fn protocol_name(self) -> &'static str {
        match self {
            Self::V3_1 => "MQIsdp",
            Self::V3_1_1 | Self::V5_0 => "MQTT",
        }
    }

    /// The version for a protocol level byte, if it is one this codec speaks.
    pub fn from_level(level: u8) -> Option<Self> {
        match level {
            3 => Some(Self::V3_1),
            4 => Some(Self::V3_1_1),
            5 => Some(Self::V5_0),
            _ => None,
        }
    }

    /// Whether packets carry MQTT 5.0 properties and reason codes.
    pub fn is_v5(self) -> bool {
        self == Self::V5_0
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V3_1 => "3.1",
            Self::V3_1_1 => "3.1.1",
            Self::V5_0 => "5.0",
        })
    }
}
