//! CONNACK (section 3.2): the server's answer to CONNECT.

use bytes::BufMut;

use super::check_reason;
use crate::error::Error;
use crate::ids::PacketType;
use crate::primitives::Reader;
use crate::properties::{self, Properties, PropertyContext};
use crate::reason::{ReasonCode, allowed};
use crate::version::ProtocolVersion;

/// A CONNACK packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnAck {
    /// Session Present.
    pub session_present: bool,
    /// The 5.0 reason code, or the 3.1.1 return code.
    pub code: ReasonCode,
    /// 5.0 properties.
    pub properties: Properties,
}

impl ConnAck {
    /// A CONNACK with the given code and no properties.
    pub fn new(session_present: bool, code: ReasonCode) -> Self {
        Self {
            session_present,
            code,
            properties: Properties::new(),
        }
    }

    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, Error> {
        let flags = r.u8("connect acknowledge flags")?;
        // Bits 7-1 are reserved (3.1.1 3.2.2.1, 5.0 3.2.2.1).
        if flags & 0xfe != 0 {
            return Err(Error::ConnAckReservedFlags { flags });
        }
        let code = r.u8("connect reason code")?;
        let list = if version.is_v5() {
            allowed::CONNACK
        } else {
            allowed::CONNACK_V3
        };
        let code = check_reason(code, list, PacketType::ConnAck)?;
        let properties = if version.is_v5() {
            properties::decode(r, PropertyContext::ConnAck)?
        } else {
            Properties::new()
        };
        Ok(Self {
            session_present: flags & 0x01 != 0,
            code,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        2 + if version.is_v5() {
            self.properties.encoded_len()
        } else {
            0
        }
    }

    pub(crate) fn encode_body(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<(), Error> {
        buf.put_u8(u8::from(self.session_present));
        buf.put_u8(self.code.0);
        if version.is_v5() {
            self.properties.encode(buf)?;
        }
        Ok(())
    }
}
