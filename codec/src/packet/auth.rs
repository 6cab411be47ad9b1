//! AUTH (5.0 section 3.15): enhanced authentication exchange.

use bytes::BufMut;

use super::check_reason;
use super::disconnect::{encode_short_form, short_form_len};
use crate::error::Error;
use crate::ids::PacketType;
use crate::primitives::Reader;
use crate::properties::{self, Properties, PropertyContext};
use crate::reason::{ReasonCode, allowed};
use crate::version::ProtocolVersion;

/// An AUTH packet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auth {
    /// Success, Continue authentication or Re-authenticate.
    pub reason: ReasonCode,
    /// Authentication Method and Data, Reason String, User Properties.
    pub properties: Properties,
}

impl Auth {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, Error> {
        if r.is_empty() {
            return Ok(Self::default());
        }
        let reason = check_reason(r.u8("auth reason code")?, allowed::AUTH, PacketType::Auth)?;
        let properties = if r.is_empty() {
            Properties::new()
        } else {
            properties::decode(r, PropertyContext::Auth)?
        };
        Ok(Self { reason, properties })
    }

    pub(crate) fn body_len(&self) -> usize {
        short_form_len(ProtocolVersion::V5_0, self.reason, &self.properties)
    }

    pub(crate) fn encode_body(&self, buf: &mut impl BufMut) -> Result<(), Error> {
        encode_short_form(buf, ProtocolVersion::V5_0, self.reason, &self.properties)
    }
}
