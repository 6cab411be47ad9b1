//! SUBACK (section 3.9): one code per requested filter.

use bytes::BufMut;

use super::{check_reason, read_packet_id};
use crate::error::Error;
use crate::ids::PacketType;
use crate::primitives::Reader;
use crate::properties::{self, Properties, PropertyContext};
use crate::reason::{ReasonCode, allowed};
use crate::version::ProtocolVersion;

/// A SUBACK packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubAck {
    /// The packet identifier of the SUBSCRIBE.
    pub packet_id: u16,
    /// 5.0 properties.
    pub properties: Properties,
    /// One granted QoS or failure code per filter, in order.
    pub codes: Vec<ReasonCode>,
}

impl SubAck {
    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, Error> {
        let packet_id = read_packet_id(r, PacketType::SubAck)?;
        let properties = if version.is_v5() {
            properties::decode(r, PropertyContext::SubAck)?
        } else {
            Properties::new()
        };
        let list = if version.is_v5() {
            allowed::SUBACK
        } else {
            allowed::SUBACK_V3
        };
        let mut codes = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            codes.push(check_reason(
                r.u8("subscribe reason code")?,
                list,
                PacketType::SubAck,
            )?);
        }
        Ok(Self {
            packet_id,
            properties,
            codes,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        2 + if version.is_v5() {
            self.properties.encoded_len()
        } else {
            0
        } + self.codes.len()
    }

    pub(crate) fn encode_body(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<(), Error> {
        buf.put_u16(self.packet_id);
        if version.is_v5() {
            self.properties.encode(buf)?;
        }
        for code in &self.codes {
            buf.put_u8(code.0);
        }
        Ok(())
    }
}
