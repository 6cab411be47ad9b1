//! MQTT 5.0 properties (section 2.2.2): identifiers, the [`Property`] values, and the ordered
//! [`Properties`] list a packet carries.
//!
//! The list keeps properties in wire order and may hold anything, duplicates included, so a
//! test can encode a packet the spec forbids; `decode` is where the rules are enforced: known
//! identifier, allowed in this packet, at most once where single-valued, value in range.

use std::fmt;

use bytes::{BufMut, Bytes};
use bytestring::ByteString;

use crate::error::Error;
pub use crate::ids::{PropertyContext, PropertyId};
use crate::ids::{TABLE, ValueType};
use crate::primitives::{Cursor, Reader, binary_len, put_binary, validate_str};
use crate::varint;

/// One property with its value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Property {
    /// 0x01: 0 unspecified bytes, 1 UTF-8 payload.
    PayloadFormatIndicator(u8),
    /// 0x02: lifetime of the message in seconds.
    MessageExpiryInterval(u32),
    /// 0x03: MIME-like content type of the payload.
    ContentType(ByteString),
    /// 0x08: topic for a response.
    ResponseTopic(ByteString),
    /// 0x09: data correlating a response with its request.
    CorrelationData(Bytes),
    /// 0x0B: identifier of a subscription (1 to 268,435,455).
    SubscriptionIdentifier(u32),
    /// 0x11: session lifetime in seconds after the connection closes.
    SessionExpiryInterval(u32),
    /// 0x12: client identifier the server assigned.
    AssignedClientIdentifier(ByteString),
    /// 0x13: keep alive the server imposes.
    ServerKeepAlive(u16),
    /// 0x15: name of the enhanced authentication method.
    AuthenticationMethod(ByteString),
    /// 0x16: authentication method data.
    AuthenticationData(Bytes),
    /// 0x17: whether reason strings and user properties may be sent on failures.
    RequestProblemInformation(u8),
    /// 0x18: delay in seconds before the will is published.
    WillDelayInterval(u32),
    /// 0x19: whether the client asks for Response Information.
    RequestResponseInformation(u8),
    /// 0x1A: basis for response topics.
    ResponseInformation(ByteString),
    /// 0x1C: another server to use.
    ServerReference(ByteString),
    /// 0x1F: human-readable diagnostic.
    ReasonString(ByteString),
    /// 0x21: how many QoS 1/2 publications the sender will process at once.
    ReceiveMaximum(u16),
    /// 0x22: highest topic alias the sender accepts.
    TopicAliasMaximum(u16),
    /// 0x23: alias standing for a topic name.
    TopicAlias(u16),
    /// 0x24: highest QoS the server supports (0 or 1; absent means 2).
    MaximumQoS(u8),
    /// 0x25: whether retained messages are supported.
    RetainAvailable(u8),
    /// 0x26: an application-defined name/value pair.
    UserProperty(ByteString, ByteString),
    /// 0x27: largest packet the sender will accept.
    MaximumPacketSize(u32),
    /// 0x28: whether wildcard subscriptions are supported.
    WildcardSubscriptionAvailable(u8),
    /// 0x29: whether subscription identifiers are supported.
    SubscriptionIdentifierAvailable(u8),
    /// 0x2A: whether shared subscriptions are supported.
    SharedSubscriptionAvailable(u8),
}

impl Property {
    /// The property's identifier.
    pub fn id(&self) -> PropertyId {
        match self {
            Self::PayloadFormatIndicator(_) => PropertyId::PAYLOAD_FORMAT_INDICATOR,
            Self::MessageExpiryInterval(_) => PropertyId::MESSAGE_EXPIRY_INTERVAL,
            Self::ContentType(_) => PropertyId::CONTENT_TYPE,
            Self::ResponseTopic(_) => PropertyId::RESPONSE_TOPIC,
            Self::CorrelationData(_) => PropertyId::CORRELATION_DATA,
            Self::SubscriptionIdentifier(_) => PropertyId::SUBSCRIPTION_IDENTIFIER,
            Self::SessionExpiryInterval(_) => PropertyId::SESSION_EXPIRY_INTERVAL,
            Self::AssignedClientIdentifier(_) => PropertyId::ASSIGNED_CLIENT_IDENTIFIER,
            Self::ServerKeepAlive(_) => PropertyId::SERVER_KEEP_ALIVE,
            Self::AuthenticationMethod(_) => PropertyId::AUTHENTICATION_METHOD,
            Self::AuthenticationData(_) => PropertyId::AUTHENTICATION_DATA,
            Self::RequestProblemInformation(_) => PropertyId::REQUEST_PROBLEM_INFORMATION,
            Self::WillDelayInterval(_) => PropertyId::WILL_DELAY_INTERVAL,
            Self::RequestResponseInformation(_) => PropertyId::REQUEST_RESPONSE_INFORMATION,
            Self::ResponseInformation(_) => PropertyId::RESPONSE_INFORMATION,
            Self::ServerReference(_) => PropertyId::SERVER_REFERENCE,
            Self::ReasonString(_) => PropertyId::REASON_STRING,
            Self::ReceiveMaximum(_) => PropertyId::RECEIVE_MAXIMUM,
            Self::TopicAliasMaximum(_) => PropertyId::TOPIC_ALIAS_MAXIMUM,
            Self::TopicAlias(_) => PropertyId::TOPIC_ALIAS,
            Self::MaximumQoS(_) => PropertyId::MAXIMUM_QOS,
            Self::RetainAvailable(_) => PropertyId::RETAIN_AVAILABLE,
            Self::UserProperty(..) => PropertyId::USER_PROPERTY,
            Self::MaximumPacketSize(_) => PropertyId::MAXIMUM_PACKET_SIZE,
            Self::WildcardSubscriptionAvailable(_) => PropertyId::WILDCARD_SUBSCRIPTION_AVAILABLE,
            Self::SubscriptionIdentifierAvailable(_) => {
                PropertyId::SUBSCRIPTION_IDENTIFIER_AVAILABLE
            }
            Self::SharedSubscriptionAvailable(_) => PropertyId::SHARED_SUBSCRIPTION_AVAILABLE,
        }
    }

    fn value_len(&self) -> usize {
        match self {
            Self::PayloadFormatIndicator(_)
            | Self::RequestProblemInformation(_)
            | Self::RequestResponseInformation(_)
            | Self::MaximumQoS(_)
            | Self::RetainAvailable(_)
            | Self::WildcardSubscriptionAvailable(_)
            | Self::SubscriptionIdentifierAvailable(_)
            | Self::SharedSubscriptionAvailable(_) => 1,
            Self::ServerKeepAlive(_)
            | Self::ReceiveMaximum(_)
            | Self::TopicAliasMaximum(_)
            | Self::TopicAlias(_) => 2,
            Self::MessageExpiryInterval(_)
            | Self::SessionExpiryInterval(_)
            | Self::WillDelayInterval(_)
            | Self::MaximumPacketSize(_) => 4,
            Self::SubscriptionIdentifier(v) => varint::len(*v),
            Self::ContentType(s)
            | Self::ResponseTopic(s)
            | Self::AssignedClientIdentifier(s)
            | Self::AuthenticationMethod(s)
            | Self::ResponseInformation(s)
            | Self::ServerReference(s)
            | Self::ReasonString(s) => binary_len(s.as_bytes()),
            Self::CorrelationData(b) | Self::AuthenticationData(b) => binary_len(b),
            Self::UserProperty(k, v) => binary_len(k.as_bytes()) + binary_len(v.as_bytes()),
        }
    }

    fn encode(&self, buf: &mut impl BufMut) -> Result<(), Error> {
        buf.put_u8(self.id().0);
        match self {
            Self::PayloadFormatIndicator(v)
            | Self::RequestProblemInformation(v)
            | Self::RequestResponseInformation(v)
            | Self::MaximumQoS(v)
            | Self::RetainAvailable(v)
            | Self::WildcardSubscriptionAvailable(v)
            | Self::SubscriptionIdentifierAvailable(v)
            | Self::SharedSubscriptionAvailable(v) => buf.put_u8(*v),
            Self::ServerKeepAlive(v)
            | Self::ReceiveMaximum(v)
            | Self::TopicAliasMaximum(v)
            | Self::TopicAlias(v) => buf.put_u16(*v),
            Self::MessageExpiryInterval(v)
            | Self::SessionExpiryInterval(v)
            | Self::WillDelayInterval(v)
            | Self::MaximumPacketSize(v) => buf.put_u32(*v),
            Self::SubscriptionIdentifier(v) => {
                if *v > varint::MAX_VARINT {
                    return Err(Error::PropertyOutOfRange {
                        property: PropertyId::SUBSCRIPTION_IDENTIFIER,
                        value: *v,
                    });
                }
                varint::write(buf, *v);
            }
            Self::ContentType(s)
            | Self::ResponseTopic(s)
            | Self::AssignedClientIdentifier(s)
            | Self::AuthenticationMethod(s)
            | Self::ResponseInformation(s)
            | Self::ServerReference(s)
            | Self::ReasonString(s) => put_binary(buf, s.as_bytes(), "property string")?,
            Self::CorrelationData(b) | Self::AuthenticationData(b) => {
                put_binary(buf, b, "property binary data")?;
            }
            Self::UserProperty(k, v) => {
                put_binary(buf, k.as_bytes(), "user property name")?;
                put_binary(buf, v.as_bytes(), "user property value")?;
            }
        }
        Ok(())
    }
}

/// The properties of one packet, in wire order.
///
/// A decoded list keeps the bytes it was decoded from, already validated, and parses a property
/// only when asked for it: a broker that forwards a PUBLISH re-encodes those bytes as they
/// were, and decoding costs no allocation and one reference count however many properties
/// there are. A list built in code holds [`Property`] values; the first change to a decoded
/// list turns it into one.
#[derive(Clone, Default)]
pub struct Properties {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// Built in code (or changed after decoding).
    List(Vec<Property>),
    /// The validated property bytes of a decoded packet, without the length prefix.
    Wire(Bytes),
}

impl Default for Repr {
    fn default() -> Self {
        Self::List(Vec::new())
    }
}

macro_rules! getters {
    ($($(#[$doc:meta])* $fn:ident -> $ty:ty, $variant:ident;)*) => {
        impl Properties {
            $(
                $(#[$doc])*
                pub fn $fn(&self) -> Option<$ty> {
                    self.iter().find_map(|p| match p {
                        Property::$variant(v) => Some(v),
                        _ => None,
                    })
                }
            )*
        }
    };
}

getters! {
    /// Payload Format Indicator, if present.
    payload_format_indicator -> u8, PayloadFormatIndicator;
    /// Message Expiry Interval, if present.
    message_expiry_interval -> u32, MessageExpiryInterval;
    /// Content Type, if present.
    content_type -> ByteString, ContentType;
    /// Response Topic, if present.
    response_topic -> ByteString, ResponseTopic;
    /// Correlation Data, if present.
    correlation_data -> Bytes, CorrelationData;
    /// Session Expiry Interval, if present.
    session_expiry_interval -> u32, SessionExpiryInterval;
    /// Assigned Client Identifier, if present.
    assigned_client_identifier -> ByteString, AssignedClientIdentifier;
    /// Server Keep Alive, if present.
    server_keep_alive -> u16, ServerKeepAlive;
    /// Authentication Method, if present.
    authentication_method -> ByteString, AuthenticationMethod;
    /// Authentication Data, if present.
    authentication_data -> Bytes, AuthenticationData;
    /// Request Problem Information, if present.
    request_problem_information -> u8, RequestProblemInformation;
    /// Will Delay Interval, if present.
    will_delay_interval -> u32, WillDelayInterval;
    /// Request Response Information, if present.
    request_response_information -> u8, RequestResponseInformation;
    /// Response Information, if present.
    response_information -> ByteString, ResponseInformation;
    /// Server Reference, if present.
    server_reference -> ByteString, ServerReference;
    /// Reason String, if present.
    reason_string -> ByteString, ReasonString;
    /// Receive Maximum, if present.
    receive_maximum -> u16, ReceiveMaximum;
    /// Topic Alias Maximum, if present.
    topic_alias_maximum -> u16, TopicAliasMaximum;
    /// Topic Alias, if present.
    topic_alias -> u16, TopicAlias;
    /// Maximum QoS, if present.
    maximum_qos -> u8, MaximumQoS;
    /// Retain Available, if present.
    retain_available -> u8, RetainAvailable;
    /// Maximum Packet Size, if present.
    maximum_packet_size -> u32, MaximumPacketSize;
    /// Wildcard Subscription Available, if present.
    wildcard_subscription_available -> u8, WildcardSubscriptionAvailable;
    /// Subscription Identifier Available, if present.
    subscription_identifier_available -> u8, SubscriptionIdentifierAvailable;
    /// Shared Subscription Available, if present.
    shared_subscription_available -> u8, SharedSubscriptionAvailable;
}

impl Properties {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether there are no properties.
    pub fn is_empty(&self) -> bool {
        match &self.repr {
            Repr::List(list) => list.is_empty(),
            Repr::Wire(bytes) => bytes.is_empty(),
        }
    }

    /// The number of properties.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::List(list) => list.len(),
            Repr::Wire(_) => self.iter().count(),
        }
    }

    /// Appends a property (no check: see the module docs).
    pub fn push(&mut self, property: Property) {
        self.list_mut().push(property);
    }

    /// Appends a property and returns the list, for building packets inline.
    pub fn with(mut self, property: Property) -> Self {
        self.push(property);
        self
    }

    /// The properties in wire order.
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::List(list) => Iter(IterRepr::List(list.iter())),
            Repr::Wire(bytes) => Iter(IterRepr::Wire(Reader::new(bytes.clone()))),
        }
    }

    /// The properties as a vector.
    pub fn to_vec(&self) -> Vec<Property> {
        self.iter().collect()
    }

    /// The first property with this identifier.
    pub fn get(&self, id: PropertyId) -> Option<Property> {
        self.iter().find(|p| p.id() == id)
    }

    /// Whether a property with this identifier is present.
    pub fn contains(&self, id: PropertyId) -> bool {
        self.iter().any(|p| p.id() == id)
    }

    /// User properties, in order.
    pub fn user_properties(&self) -> impl Iterator<Item = (ByteString, ByteString)> + '_ {
        self.iter().filter_map(|p| match p {
            Property::UserProperty(k, v) => Some((k, v)),
            _ => None,
        })
    }

    /// Subscription identifiers, in order (a forwarded PUBLISH may carry several).
    pub fn subscription_identifiers(&self) -> impl Iterator<Item = u32> + '_ {
        self.iter().filter_map(|p| match p {
            Property::SubscriptionIdentifier(v) => Some(v),
            _ => None,
        })
    }

    /// Removes every property with this identifier.
    pub fn remove(&mut self, id: PropertyId) {
        self.list_mut().retain(|p| p.id() != id);
    }

    /// Replaces the properties with this identifier by `property`, appended at the end.
    pub fn set(&mut self, property: Property) {
        self.remove(property.id());
        self.push(property);
    }

    /// The size of the property list without its length prefix.
    pub fn body_len(&self) -> usize {
        match &self.repr {
            Repr::List(list) => list.iter().map(|p| 1 + p.value_len()).sum(),
            Repr::Wire(bytes) => bytes.len(),
        }
    }

    /// The size of the list with its Variable Byte Integer length prefix.
    pub fn encoded_len(&self) -> usize {
        let body = self.body_len();
        varint::len(u32::try_from(body).unwrap_or(u32::MAX)) + body
    }

    /// Writes the length prefix and the properties.
    pub fn encode(&self, buf: &mut impl BufMut) -> Result<(), Error> {
        let body = self.body_len();
        let len = u32::try_from(body)
            .ok()
            .filter(|&l| l <= varint::MAX_VARINT)
            .ok_or(Error::RemainingLengthTooLarge { len: body })?;
        varint::write(buf, len);
        match &self.repr {
            Repr::List(list) => {
                for property in list {
                    property.encode(buf)?;
                }
            }
            Repr::Wire(bytes) => buf.put_slice(bytes),
        }
        Ok(())
    }

    /// Wraps property bytes that [`validate`] accepted.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        if bytes.is_empty() {
            Self::new()
        } else {
            Self {
                repr: Repr::Wire(bytes),
            }
        }
    }

    fn list_mut(&mut self) -> &mut Vec<Property> {
        if let Repr::Wire(_) = self.repr {
            self.repr = Repr::List(self.to_vec());
        }
        match &mut self.repr {
            Repr::List(list) => list,
            // Just replaced by a list above.
            Repr::Wire(_) => unreachable!("wire form converted to a list"),
        }
    }
}

/// An iterator over [`Properties`], yielding each property by value.
#[derive(Debug)]
pub struct Iter<'a>(IterRepr<'a>);

#[derive(Debug)]
enum IterRepr<'a> {
    List(std::slice::Iter<'a, Property>),
    Wire(Reader),
}

impl Iterator for Iter<'_> {
    type Item = Property;

    fn next(&mut self) -> Option<Property> {
        match &mut self.0 {
            IterRepr::List(iter) => iter.next().cloned(),
            IterRepr::Wire(r) => {
                if r.is_empty() {
                    return None;
                }
                // The bytes were validated when the packet was decoded, so this cannot fail;
                // if it somehow did, ending the iteration is the safe answer.
                let id = u8::try_from(r.varint("property identifier").ok()?).ok()?;
                decode_value(r, PropertyId(id)).ok()
            }
        }
    }
}

impl PartialEq for Properties {
    fn eq(&self, other: &Self) -> bool {
        match (&self.repr, &other.repr) {
            (Repr::Wire(a), Repr::Wire(b)) => a == b,
            _ => self.iter().eq(other.iter()),
        }
    }
}

impl Eq for Properties {}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl From<Vec<Property>> for Properties {
    fn from(list: Vec<Property>) -> Self {
        Self {
            repr: Repr::List(list),
        }
    }
}

impl FromIterator<Property> for Properties {
    fn from_iter<T: IntoIterator<Item = Property>>(iter: T) -> Self {
        Self {
            repr: Repr::List(iter.into_iter().collect()),
        }
    }
}

impl<'a> IntoIterator for &'a Properties {
    type Item = Property;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Reads a property length and the properties it covers, enforcing every rule of 5.0 2.2.2.
///
/// The properties are validated in one pass over the bytes, without building values; the
/// result keeps the validated bytes (see [`Properties`]).
pub(crate) fn decode(reader: &mut Reader, context: PropertyContext) -> Result<Properties, Error> {
    let len = reader.varint("property length")?;
    if len == 0 {
        return Ok(Properties::new());
    }
    let bytes = reader.take(len as usize, "properties")?;
    validate(&bytes, context)?;
    Ok(Properties::from_validated(bytes))
}

/// [`decode`] from a slice: the validated bytes are copied (they are short, and a copy costs
/// less than a shared slice's reference counting).
pub(crate) fn decode_slice(
    c: &mut Cursor<'_>,
    context: PropertyContext,
) -> Result<Properties, Error> {
    let len = c.varint("property length")?;
    if len == 0 {
        return Ok(Properties::new());
    }
    let bytes = c.take(len as usize, "properties")?;
    validate(bytes, context)?;
    Ok(Properties::from_validated(Bytes::copy_from_slice(bytes)))
}

/// The set of property identifiers seen by [`validate`], one bit per identifier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Seen(u64);

impl Seen {
    pub(crate) fn contains(self, id: PropertyId) -> bool {
        id.0 < 64 && self.0 & (1 << id.0) != 0
    }
}

/// Validates the bytes of a property list (without its length prefix) for `context`.
pub(crate) fn validate(bytes: &[u8], context: PropertyContext) -> Result<Seen, Error> {
    let mut c = Cursor::new(bytes);
    // Every known identifier is below 64, so one bit each records what was seen.
    let mut seen: u64 = 0;
    while let Some(&first) = c.first() {
        // Every known identifier takes one byte; anything longer is read in full only to be
        // named in the error.
        let raw_id = if first < 0x80 {
            c.take(1, "property identifier")?;
            u32::from(first)
        } else {
            c.varint("property identifier")?
        };
        let (ty, contexts) = usize::try_from(raw_id)
            .ok()
            .and_then(|i| TABLE.get(i))
            .copied()
            .unwrap_or((None, 0));
        let id = PropertyId(u8::try_from(raw_id).unwrap_or_default());
        let Some(ty) = ty else {
            return Err(Error::UnknownProperty { id: raw_id });
        };
        if contexts & context.bit() == 0 {
            return Err(Error::PropertyNotAllowed {
                property: id,
                context: context.name(),
            });
        }
        let repeatable = id == PropertyId::USER_PROPERTY
            || (id == PropertyId::SUBSCRIPTION_IDENTIFIER && context == PropertyContext::Publish);
        let bit = 1u64 << id.0;
        if seen & bit != 0 && !repeatable {
            return Err(Error::DuplicateProperty { property: id });
        }
        seen |= bit;
        validate_value(&mut c, id, ty)?;
    }
    Ok(Seen(seen))
}

/// Checks one property value in place: the rules of [`decode_value`] without building it.
#[inline]
fn validate_value(c: &mut Cursor<'_>, id: PropertyId, ty: ValueType) -> Result<(), Error> {
    const FIELD: &str = "property value";
    let out_of_range = |value: u32| Error::PropertyOutOfRange {
        property: id,
        value,
    };
    match ty {
        ValueType::Byte => {
            let v = c.u8(FIELD)?;
            // Every one-byte property is a 0/1 flag, Maximum QoS included (see decode_value).
            if v > 1 {
                return Err(out_of_range(u32::from(v)));
            }
        }
        ValueType::TwoByte => {
            let v = c.u16(FIELD)?;
            if v == 0 && (id == PropertyId::RECEIVE_MAXIMUM || id == PropertyId::TOPIC_ALIAS) {
                return Err(out_of_range(0));
            }
        }
        ValueType::FourByte => {
            let v = c.u32(FIELD)?;
            if v == 0 && id == PropertyId::MAXIMUM_PACKET_SIZE {
                return Err(out_of_range(0));
            }
        }
        ValueType::VarInt => {
            if c.varint("subscription identifier")? == 0 {
                return Err(out_of_range(0));
            }
        }
        ValueType::String => {
            let field = string_field(id);
            let s = c.binary(field)?;
            validate_str(s, field)?;
            if id == PropertyId::RESPONSE_TOPIC {
                // The Response Topic is a Topic Name: no wildcards (MQTT-3.3.2-14).
                crate::topic::validate_name_bytes(s).map_err(Error::InvalidTopicName)?;
            }
        }
        ValueType::Binary => {
            c.binary(FIELD)?;
        }
        ValueType::Pair => {
            validate_str(c.binary("user property name")?, "user property name")?;
            validate_str(c.binary("user property value")?, "user property value")?;
        }
    }
    Ok(())
}

fn string_field(id: PropertyId) -> &'static str {
    match id {
        PropertyId::CONTENT_TYPE => "content type",
        PropertyId::RESPONSE_TOPIC => "response topic",
        PropertyId::ASSIGNED_CLIENT_IDENTIFIER => "assigned client identifier",
        PropertyId::AUTHENTICATION_METHOD => "authentication method",
        PropertyId::RESPONSE_INFORMATION => "response information",
        PropertyId::SERVER_REFERENCE => "server reference",
        PropertyId::REASON_STRING => "reason string",
        _ => "property string",
    }
}

fn decode_value(r: &mut Reader, id: PropertyId) -> Result<Property, Error> {
    const FIELD: &str = "property value";
    let out_of_range = |value: u32| Error::PropertyOutOfRange {
        property: id,
        value,
    };
    // A flag byte above 1 is a Protocol Error for every one-byte property (5.0 3.1.2.11, 3.2.2.3,
    // 3.3.2.3.2); Maximum QoS likewise may only be 0 or 1 (3.2.2.3.4).
    let flag = |r: &mut Reader| {
        let v = r.u8(FIELD)?;
        if v > 1 {
            Err(out_of_range(u32::from(v)))
        } else {
            Ok(v)
        }
    };
    // Receive Maximum, Maximum Packet Size, Topic Alias and Subscription Identifier may not be
    // 0 (5.0 3.1.2.11.3, 3.1.2.11.4, MQTT-3.3.2-8, 3.8.2.1.2).
    let non_zero_u16 = |r: &mut Reader| {
        let v = r.u16(FIELD)?;
        if v == 0 { Err(out_of_range(0)) } else { Ok(v) }
    };
    Ok(match id {
        PropertyId::PAYLOAD_FORMAT_INDICATOR => Property::PayloadFormatIndicator(flag(r)?),
        PropertyId::MESSAGE_EXPIRY_INTERVAL => Property::MessageExpiryInterval(r.u32(FIELD)?),
        PropertyId::CONTENT_TYPE => Property::ContentType(r.string("content type")?),
        PropertyId::RESPONSE_TOPIC => {
            let topic = r.string("response topic")?;
            // The Response Topic is a Topic Name: no wildcards (MQTT-3.3.2-14).
            crate::topic::validate_name(&topic).map_err(Error::InvalidTopicName)?;
            Property::ResponseTopic(topic)
        }
        PropertyId::CORRELATION_DATA => Property::CorrelationData(r.binary("correlation data")?),
        PropertyId::SUBSCRIPTION_IDENTIFIER => {
            let v = r.varint("subscription identifier")?;
            if v == 0 {
                return Err(out_of_range(0));
            }
            Property::SubscriptionIdentifier(v)
        }
        PropertyId::SESSION_EXPIRY_INTERVAL => Property::SessionExpiryInterval(r.u32(FIELD)?),
        PropertyId::ASSIGNED_CLIENT_IDENTIFIER => {
            Property::AssignedClientIdentifier(r.string("assigned client identifier")?)
        }
        PropertyId::SERVER_KEEP_ALIVE => Property::ServerKeepAlive(r.u16(FIELD)?),
        PropertyId::AUTHENTICATION_METHOD => {
            Property::AuthenticationMethod(r.string("authentication method")?)
        }
        PropertyId::AUTHENTICATION_DATA => {
            Property::AuthenticationData(r.binary("authentication data")?)
        }
        PropertyId::REQUEST_PROBLEM_INFORMATION => Property::RequestProblemInformation(flag(r)?),
        PropertyId::WILL_DELAY_INTERVAL => Property::WillDelayInterval(r.u32(FIELD)?),
        PropertyId::REQUEST_RESPONSE_INFORMATION => Property::RequestResponseInformation(flag(r)?),
        PropertyId::RESPONSE_INFORMATION => {
            Property::ResponseInformation(r.string("response information")?)
        }
        PropertyId::SERVER_REFERENCE => Property::ServerReference(r.string("server reference")?),
        PropertyId::REASON_STRING => Property::ReasonString(r.string("reason string")?),
        PropertyId::RECEIVE_MAXIMUM => Property::ReceiveMaximum(non_zero_u16(r)?),
        PropertyId::TOPIC_ALIAS_MAXIMUM => Property::TopicAliasMaximum(r.u16(FIELD)?),
        PropertyId::TOPIC_ALIAS => Property::TopicAlias(non_zero_u16(r)?),
        PropertyId::MAXIMUM_QOS => Property::MaximumQoS(flag(r)?),
        PropertyId::RETAIN_AVAILABLE => Property::RetainAvailable(flag(r)?),
        PropertyId::USER_PROPERTY => {
            let key = r.string("user property name")?;
            let value = r.string("user property value")?;
            Property::UserProperty(key, value)
        }
        PropertyId::MAXIMUM_PACKET_SIZE => {
            let v = r.u32(FIELD)?;
            if v == 0 {
                return Err(out_of_range(0));
            }
            Property::MaximumPacketSize(v)
        }
        PropertyId::WILDCARD_SUBSCRIPTION_AVAILABLE => {
            Property::WildcardSubscriptionAvailable(flag(r)?)
        }
        PropertyId::SUBSCRIPTION_IDENTIFIER_AVAILABLE => {
            Property::SubscriptionIdentifierAvailable(flag(r)?)
        }
        PropertyId::SHARED_SUBSCRIPTION_AVAILABLE => {
            Property::SharedSubscriptionAvailable(flag(r)?)
        }
        _ => {
            return Err(Error::UnknownProperty {
                id: u32::from(id.0),
            });
        }
    })
}
