//! CONNECT (3.1.1 and 5.0 section 3.1): the first packet a client sends.

use bytes::{BufMut, Bytes};
use bytestring::ByteString;

use super::QoS;
use crate::error::Error;
use crate::ids::PacketType;
use crate::primitives::{Reader, binary_len, put_binary};
use crate::properties::{self, Properties, PropertyContext, PropertyId};
use crate::topic;
use crate::varint::{self, VarInt};
use crate::version::ProtocolVersion;

/// A CONNECT packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect {
    /// The protocol version, which also sets the protocol name and level on the wire.
    pub protocol: ProtocolVersion,
    /// Clean Session (3.1.1) or Clean Start (5.0).
    pub clean_start: bool,
    /// Keep Alive in seconds; 0 turns it off.
    pub keep_alive: u16,
    /// 5.0 properties.
    pub properties: Properties,
    /// The client identifier; may be empty.
    pub client_id: ByteString,
    /// The will message, if the Will Flag is set.
    pub will: Option<Will>,
    /// The user name, if the User Name Flag is set.
    pub username: Option<ByteString>,
    /// The password, if the Password Flag is set.
    pub password: Option<Bytes>,
}

/// The will message of a CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Will {
    /// Will Topic.
    pub topic: ByteString,
    /// Will Payload.
    pub payload: Bytes,
    /// Will QoS.
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// 5.0 Will Properties.
    pub properties: Properties,
}

impl Connect {
    /// The protocol level byte of the CONNECT at the front of `bytes`, as soon as it has
    /// arrived; `None` if `bytes` does not start with a CONNECT or the level is not there yet.
    ///
    /// Nothing else is checked (not the fixed-header flags, not the protocol name): a server
    /// refusing a bad CONNECT answers in the version its level asks for, 5.0 CONNACK with a
    /// reason code from level 5 up (5.0 section 4.13), and a 3.1.1 CONNACK 0x01 for an unknown
    /// level below (MQTT-3.1.2-2).
    pub fn peek_level(bytes: &[u8]) -> Option<u8> {
        let (&first, rest) = bytes.split_first()?;
        if PacketType::from_nibble(first >> 4)? != PacketType::Connect {
            return None;
        }
        let VarInt::Value(_, length_len) = varint::read(rest, "remaining length").ok()? else {
            return None;
        };
        // The protocol name is a two-byte length and that many bytes; the level follows it.
        let name = rest.get(length_len..)?;
        let name_len = usize::from(u16::from_be_bytes([*name.first()?, *name.get(1)?]));
        name.get(2 + name_len).copied()
    }

    /// A CONNECT with the given version and client id, clean start, keep alive 60 and nothing
    /// else set.
    pub fn new(protocol: ProtocolVersion, client_id: impl Into<ByteString>) -> Self {
        Self {
            protocol,
            clean_start: true,
            keep_alive: 60,
            properties: Properties::new(),
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
        }
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, Error> {
        let protocol = decode_protocol(r)?;
        let flags = Flags::decode(r.u8("connect flags")?, protocol)?;
        let keep_alive = r.u16("keep alive")?;
        let properties = if protocol.is_v5() {
            properties::decode(r, PropertyContext::Connect)?
        } else {
            Properties::new()
        };
        // "It is a Protocol Error to include Authentication Data if there is no Authentication
        // Method" (5.0 3.1.2.11.10).
        if properties.contains(PropertyId::AUTHENTICATION_DATA)
            && !properties.contains(PropertyId::AUTHENTICATION_METHOD)
        {
            return Err(Error::AuthenticationDataWithoutMethod);
        }
        let client_id = r.string("client identifier")?;
        let will = if flags.will {
            Some(decode_will(r, protocol, flags)?)
        } else {
            None
        };
        let username = if flags.username {
            Some(r.string("user name")?)
        } else {
            None
        };
        let password = if flags.password {
            Some(r.binary("password")?)
        } else {
            None
        };
        Ok(Self {
            protocol,
            clean_start: flags.clean_start,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }

    fn connect_flags(&self) -> u8 {
        let mut flags = 0;
        if self.clean_start {
            flags |= 0x02;
        }
        if let Some(will) = &self.will {
            flags |= 0x04 | will.qos.as_u8() << 3;
            if will.retain {
                flags |= 0x20;
            }
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        flags
    }

    pub(crate) fn body_len(&self) -> usize {
        let v5 = self.protocol.is_v5();
        let mut len = binary_len(self.protocol.protocol_name().as_bytes()) + 1 + 1 + 2;
        if v5 {
            len += self.properties.encoded_len();
        }
        len += binary_len(self.client_id.as_bytes());
        if let Some(will) = &self.will {
            if v5 {
                len += will.properties.encoded_len();
            }
            len += binary_len(will.topic.as_bytes()) + binary_len(&will.payload);
        }
        if let Some(username) = &self.username {
            len += binary_len(username.as_bytes());
        }
        if let Some(password) = &self.password {
            len += binary_len(password);
        }
        len
    }

    pub(crate) fn encode_body(&self, buf: &mut impl BufMut) -> Result<(), Error> {
        let v5 = self.protocol.is_v5();
        put_binary(
            buf,
            self.protocol.protocol_name().as_bytes(),
            "protocol name",
        )?;
        buf.put_u8(self.protocol.level());
        buf.put_u8(self.connect_flags());
        buf.put_u16(self.keep_alive);
        if v5 {
            self.properties.encode(buf)?;
        }
        put_binary(buf, self.client_id.as_bytes(), "client identifier")?;
        if let Some(will) = &self.will {
            if v5 {
                will.properties.encode(buf)?;
            }
            put_binary(buf, will.topic.as_bytes(), "will topic")?;
            put_binary(buf, &will.payload, "will payload")?;
        }
        if let Some(username) = &self.username {
            put_binary(buf, username.as_bytes(), "user name")?;
        }
        if let Some(password) = &self.password {
            put_binary(buf, password, "password")?;
        }
        Ok(())
    }
}

/// Reads the protocol name and level. The name is read as raw bytes: an unknown name is
/// reported as such, not as bad UTF-8.
fn decode_protocol(r: &mut Reader) -> Result<ProtocolVersion, Error> {
    let name = r.binary("protocol name")?;
    let level = r.u8("protocol level")?;
    match (&name[..], ProtocolVersion::from_level(level)) {
        (b"MQTT", Some(v @ (ProtocolVersion::V3_1_1 | ProtocolVersion::V5_0)))
        | (b"MQIsdp", Some(v @ ProtocolVersion::V3_1)) => Ok(v),
        (b"MQTT" | b"MQIsdp", _) => Err(Error::UnsupportedProtocolLevel { level }),
        _ => Err(Error::InvalidProtocolName),
    }
}

/// The Connect Flags byte, checked.
#[derive(Clone, Copy)]
struct Flags {
    clean_start: bool,
    will: bool,
    will_qos: u8,
    will_retain: bool,
    password: bool,
    username: bool,
}

impl Flags {
    fn decode(flags: u8, protocol: ProtocolVersion) -> Result<Self, Error> {
        // The reserved flag must be 0 (MQTT-3.1.2-3).
        if flags & 0x01 != 0 {
            return Err(Error::ConnectReservedFlag);
        }
        let f = Self {
            clean_start: flags & 0x02 != 0,
            will: flags & 0x04 != 0,
            will_qos: (flags >> 3) & 0x03,
            will_retain: flags & 0x20 != 0,
            password: flags & 0x40 != 0,
            username: flags & 0x80 != 0,
        };
        // Will QoS 3 is malformed (3.1.1 MQTT-3.1.2-14, 5.0 MQTT-3.1.2-12).
        if f.will_qos == 3 {
            return Err(Error::WillQoS3);
        }
        // Without the Will Flag, Will QoS and Will Retain must be 0 (3.1.1 MQTT-3.1.2-13/15,
        // 5.0 MQTT-3.1.2-11/13).
        if !f.will && (f.will_qos != 0 || f.will_retain) {
            return Err(Error::WillFlagsWithoutWill);
        }
        // 3.1.1 forbids a password without a user name (MQTT-3.1.2-22); 5.0 allows it.
        if f.password && !f.username && !protocol.is_v5() {
            return Err(Error::PasswordWithoutUsername);
        }
        Ok(f)
    }
}

/// Reads the will's properties (5.0), topic and payload.
fn decode_will(r: &mut Reader, protocol: ProtocolVersion, flags: Flags) -> Result<Will, Error> {
    let properties = if protocol.is_v5() {
        properties::decode(r, PropertyContext::Will)?
    } else {
        Properties::new()
    };
    let topic = r.string("will topic")?;
    topic::validate_name(&topic).map_err(Error::InvalidTopicName)?;
    let payload = r.binary("will payload")?;
    Ok(Will {
        topic,
        payload,
        qos: QoS::from_u8(flags.will_qos).unwrap_or_default(),
        retain: flags.will_retain,
        properties,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_level_reads_the_level_once_it_is_there() {
        let wire = crate::Packet::from(Connect::new(ProtocolVersion::V5_0, "c"))
            .to_bytes(ProtocolVersion::V5_0)
            .unwrap();
        // 0x10, remaining length, 0x00 0x04 "MQTT", then the level at index 8.
        assert_eq!(Connect::peek_level(&wire), Some(5));
        assert_eq!(Connect::peek_level(&wire[..9]), Some(5));
        assert_eq!(Connect::peek_level(&wire[..8]), None);
        // Flags are not checked; another packet type has no level.
        let mut bad_flags = wire.to_vec();
        bad_flags[0] = 0x1f;
        assert_eq!(Connect::peek_level(&bad_flags), Some(5));
        assert_eq!(
            Connect::peek_level(&[0x30, 0x06, 0, 4, b'M', b'Q', b'T', b'T']),
            None
        );
        assert_eq!(Connect::peek_level(&[0x10, 0x04, 0, 0, 7]), Some(7));
    }
}
