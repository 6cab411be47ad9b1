//! UNSUBSCRIBE (section 3.10): topic filters to remove.

use bytes::BufMut;
use bytestring::ByteString;

use super::read_packet_id;
use crate::error::Error;
use crate::ids::PacketType;
use crate::primitives::{Reader, binary_len, put_binary};
use crate::properties::{self, Properties, PropertyContext};
use crate::topic;
use crate::version::ProtocolVersion;

/// An UNSUBSCRIBE packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsubscribe {
    /// The packet identifier (non-zero).
    pub packet_id: u16,
    /// 5.0 properties.
    pub properties: Properties,
    /// The filters, at least one.
    pub filters: Vec<ByteString>,
}

impl Unsubscribe {
    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, Error> {
        let packet_id = read_packet_id(r, PacketType::Unsubscribe)?;
        let properties = if version.is_v5() {
            properties::decode(r, PropertyContext::Unsubscribe)?
        } else {
            Properties::new()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = r.string("topic filter")?;
            topic::validate_filter(&filter).map_err(Error::InvalidTopicFilter)?;
            filters.push(filter);
        }
        // At least one filter (MQTT-3.10.3-2).
        if filters.is_empty() {
            return Err(Error::NoTopicFilters {
                packet_type: PacketType::Unsubscribe,
            });
        }
        Ok(Self {
            packet_id,
            properties,
            filters,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        2 + if version.is_v5() {
            self.properties.encoded_len()
        } else {
            0
        } + self
            .filters
            .iter()
            .map(|f| binary_len(f.as_bytes()))
            .sum::<usize>()
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
        for f in &self.filters {
            put_binary(buf, f.as_bytes(), "topic filter")?;
        }
        Ok(())
    }
}
