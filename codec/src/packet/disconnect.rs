//! DISCONNECT (section 3.14): empty in 3.1.1; in 5.0 a reason code and properties, both
//! optional (remaining length 0 means Normal disconnection).

use bytes::BufMut;

use super::check_reason;
use crate::error::Error;
use crate::ids::PacketType;
use crate::primitives::Reader;
use crate::properties::{self, Properties, PropertyContext};
use crate::reason::{ReasonCode, allowed};
use crate::version::ProtocolVersion;

/// A DISCONNECT packet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Disconnect {
    /// 5.0 reason code.
    pub reason: ReasonCode,
    /// 5.0 properties.
    pub properties: Properties,
}

impl Disconnect {
    /// A DISCONNECT with `reason` and no properties.
    pub fn new(reason: ReasonCode) -> Self {
        Self {
            reason,
            properties: Properties::new(),
        }
    }

    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, Error> {
        if !version.is_v5() || r.is_empty() {
            return Ok(Self::default());
        }
        let code = r.u8("disconnect reason code")?;
        let reason = check_reason(code, allowed::DISCONNECT, PacketType::Disconnect)?;
        let properties = if r.is_empty() {
            Properties::new()
        } else {
            properties::decode(r, PropertyContext::Disconnect)?
        };
        Ok(Self { reason, properties })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        short_form_len(version, self.reason, &self.properties)
    }

    pub(crate) fn encode_body(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<(), Error> {
        encode_short_form(buf, version, self.reason, &self.properties)
    }
}

/// The size of a reason code and properties that may both be left out (DISCONNECT, AUTH).
pub(crate) fn short_form_len(
    version: ProtocolVersion,
    reason: ReasonCode,
    properties: &Properties,
) -> usize {
    if !version.is_v5() || (reason == ReasonCode::SUCCESS && properties.is_empty()) {
        0
    } else if properties.is_empty() {
        1
    } else {
        1 + properties.encoded_len()
    }
}

/// Writes the shortest form that carries `reason` and `properties`.
pub(crate) fn encode_short_form(
    buf: &mut impl BufMut,
    version: ProtocolVersion,
    reason: ReasonCode,
    properties: &Properties,
) -> Result<(), Error> {
    match short_form_len(version, reason, properties) {
        0 => {}
        1 => buf.put_u8(reason.0),
        _ => {
            buf.put_u8(reason.0);
            properties.encode(buf)?;
        }
    }
    Ok(())
}
