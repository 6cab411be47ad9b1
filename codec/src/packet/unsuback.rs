//! UNSUBACK (section 3.11): in 5.0 one reason code per filter; in 3.1.1 just the identifier.

use bytes::BufMut;

use super::{check_reason, read_packet_id};
use crate::error::Error;
use crate::ids::PacketType;
use crate::primitives::Reader;
use crate::properties::{self, Properties, PropertyContext};
use crate::reason::{ReasonCode, allowed};
use crate::version::ProtocolVersion;

/// An UNSUBACK packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsubAck {
    /// The packet identifier of the UNSUBSCRIBE.
    pub packet_id: u16,
    /// 5.0 properties.
    pub properties: Properties,
    /// 5.0: one reason code per filter; empty in 3.1.1.
    pub codes: Vec<ReasonCode>,
}

impl UnsubAck {
    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, Error> {
        let packet_id = read_packet_id(r, PacketType::UnsubAck)?;
        if !version.is_v5() {
            return Ok(Self {
                packet_id,
                properties: Properties::new(),
                codes: Vec::new(),
            });
        }
        let properties = properties::decode(r, PropertyContext::UnsubAck)?;
        let mut codes = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            let code = r.u8("unsubscribe reason code")?;
            codes.push(check_reason(code, allowed::UNSUBACK, PacketType::UnsubAck)?);
        }
        Ok(Self {
            packet_id,
            properties,
            codes,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        if version.is_v5() {
            2 + self.properties.encoded_len() + self.codes.len()
        } else {
            2
        }
    }

    pub(crate) fn encode_body(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<(), Error> {
        buf.put_u16(self.packet_id);
        if version.is_v5() {
            self.properties.encode(buf)?;
            for code in &self.codes {
                buf.put_u8(code.0);
            }
        }
        Ok(())
    }
}
