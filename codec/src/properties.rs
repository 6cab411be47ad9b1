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
use crate::ids::{PropertySpec, TABLE, ValueRule, ValueType};
use crate::primitives::{Cursor, Reader, binary_len, put_binary, validate_str};
use crate::varint;

/// The Rust type of one field of a value of wire type `$ty` (the field's name, if given, only
/// drives the repetition: a pair has two fields).
macro_rules! value_type {
    (Byte $($field:ident)?) => {
        u8
    };
    (TwoByte $($field:ident)?) => {
        u16
    };
    (FourByte $($field:ident)?) => {
        u32
    };
    (VarInt $($field:ident)?) => {
        u32
    };
    (String $($field:ident)?) => {
        ByteString
    };
    (Binary $($field:ident)?) => {
        Bytes
    };
    (Pair $($field:ident)?) => {
        ByteString
    };
}

/// The encoded size of a value (without the identifier).
macro_rules! value_len {
    // A fixed size: the value is not needed (`let _` marks it used).
    (Byte; $v:ident) => {{
        let _ = $v;
        1
    }};
    (TwoByte; $v:ident) => {{
        let _ = $v;
        2
    }};
    (FourByte; $v:ident) => {{
        let _ = $v;
        4
    }};
    (VarInt; $v:ident) => {
        varint::len(*$v)
    };
    (String; $v:ident) => {
        binary_len($v.as_bytes())
    };
    (Binary; $v:ident) => {
        binary_len($v)
    };
    (Pair; $k:ident, $v:ident) => {
        binary_len($k.as_bytes()) + binary_len($v.as_bytes())
    };
}

/// Writes a value (after the identifier). Nothing is checked but what cannot be encoded at
/// all: a test may build a value the spec forbids.
macro_rules! put_value {
    ($buf:ident, $id:expr, Byte; $v:ident) => {
        $buf.put_u8(*$v)
    };
    ($buf:ident, $id:expr, TwoByte; $v:ident) => {
        $buf.put_u16(*$v)
    };
    ($buf:ident, $id:expr, FourByte; $v:ident) => {
        $buf.put_u32(*$v)
    };
    ($buf:ident, $id:expr, VarInt; $v:ident) => {
        if *$v > varint::MAX_VARINT {
            return Err(Error::PropertyOutOfRange {
                property: $id,
                value: *$v,
            });
        } else {
            varint::write($buf, *$v)
        }
    };
    ($buf:ident, $id:expr, String; $v:ident) => {
        put_binary($buf, $v.as_bytes(), "property string")?
    };
    ($buf:ident, $id:expr, Binary; $v:ident) => {
        put_binary($buf, $v, "property binary data")?
    };
    ($buf:ident, $id:expr, Pair; $k:ident, $v:ident) => {{
        put_binary($buf, $k.as_bytes(), "user property name")?;
        put_binary($buf, $v.as_bytes(), "user property value")?;
    }};
}

/// Reads a value into the variables named, checking it by the property's rule (the same
/// check [`validate`] makes, see [`check_number`] and [`check_text`]).
macro_rules! read_value {
    ($r:ident, $id:expr, $name:literal, Byte, $rule:ident; $v:ident) => {
        let $v = $r.u8(FIELD)?;
        check_number($id, ValueRule::$rule, u32::from($v))?;
    };
    ($r:ident, $id:expr, $name:literal, TwoByte, $rule:ident; $v:ident) => {
        let $v = $r.u16(FIELD)?;
        check_number($id, ValueRule::$rule, u32::from($v))?;
    };
    ($r:ident, $id:expr, $name:literal, FourByte, $rule:ident; $v:ident) => {
        let $v = $r.u32(FIELD)?;
        check_number($id, ValueRule::$rule, $v)?;
    };
    ($r:ident, $id:expr, $name:literal, VarInt, $rule:ident; $v:ident) => {
        let $v = $r.varint($name)?;
        check_number($id, ValueRule::$rule, $v)?;
    };
    ($r:ident, $id:expr, $name:literal, String, $rule:ident; $v:ident) => {
        let $v = $r.string($name)?;
        check_text(ValueRule::$rule, $v.as_bytes())?;
    };
    ($r:ident, $id:expr, $name:literal, Binary, $rule:ident; $v:ident) => {
        let $v = $r.binary($name)?;
    };
    ($r:ident, $id:expr, $name:literal, Pair, $rule:ident; $k:ident, $v:ident) => {
        let $k = $r.string(PAIR_NAME)?;
        let $v = $r.string(PAIR_VALUE)?;
    };
}

/// Generates [`Property`], its encoding and decoding, and the getters of [`Properties`] from
/// the property table ([`for_each_property!`](crate::for_each_property)).
macro_rules! property_values {
    (single { $($single:tt)* } list { $($list:tt)* }) => {
        property_values!(@values $($single)* $($list)*);
        property_values!(@getters $($single)*);
    };
    (@values $($(#[$doc:meta])* $variant:ident($($field:ident),+) = $id:literal, $cid:ident,
        $key:ident, $name:literal, $ty:ident, $rule:ident, [$($ctx:ident),*];)*) => {
        /// One property with its value.
        #[derive(Clone, Debug, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Property {
            $($(#[$doc])* $variant($(value_type!($ty $field)),+),)*
        }

        impl Property {
            /// The property's identifier.
            pub fn id(&self) -> PropertyId {
                match self {
                    $(Self::$variant(..) => PropertyId::$cid,)*
                }
            }

            fn value_len(&self) -> usize {
                match self {
                    $(Self::$variant($($field),+) => value_len!($ty; $($field),+),)*
                }
            }

            fn encode(&self, buf: &mut impl BufMut) -> Result<(), Error> {
                buf.put_u8(self.id().0);
                match self {
                    $(Self::$variant($($field),+) => {
                        put_value!(buf, PropertyId::$cid, $ty; $($field),+)
                    })*
                }
                Ok(())
            }
        }

        /// Reads the value of property `id` (its identifier already read).
        fn decode_value(r: &mut Reader, id: PropertyId) -> Result<Property, Error> {
            match id {
                $(PropertyId::$cid => {
                    read_value!(r, id, $name, $ty, $rule; $($field),+);
                    Ok(Property::$variant($($field),+))
                })*
                _ => Err(Error::UnknownProperty { id: u32::from(id.0) }),
            }
        }
    };
    (@getters $($(#[$doc:meta])* $variant:ident($value:ident) = $id:literal, $cid:ident,
        $key:ident, $name:literal, $ty:ident, $rule:ident, [$($ctx:ident),*];)*) => {
        impl Properties {
            $(
                #[doc = concat!($name, ", if present.")]
                pub fn $key(&self) -> Option<value_type!($ty)> {
                    self.iter().find_map(|p| match p {
                        Property::$variant(v) => Some(v),
                        _ => None,
                    })
                }
            )*
        }
    };
}

crate::for_each_property!(property_values);

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
        let spec = usize::try_from(raw_id)
            .ok()
            .and_then(|i| TABLE.get(i))
            .copied()
            .flatten();
        let Some(spec) = spec else {
            return Err(Error::UnknownProperty { id: raw_id });
        };
        let id = PropertyId(u8::try_from(raw_id).unwrap_or_default());
        if spec.contexts & context.bit() == 0 {
            return Err(Error::PropertyNotAllowed {
                property: id,
                context: context.name(),
            });
        }
        // 5.0 2.2.2.2: "It is a Protocol Error to include any other than the User Property
        // and the Subscription Identifier (in PUBLISH) more than once."
        let repeatable = id == PropertyId::USER_PROPERTY
            || (id == PropertyId::SUBSCRIPTION_IDENTIFIER && context == PropertyContext::Publish);
        let bit = 1u64 << id.0;
        if seen & bit != 0 && !repeatable {
            return Err(Error::DuplicateProperty { property: id });
        }
        seen |= bit;
        validate_value(&mut c, id, spec)?;
    }
    Ok(Seen(seen))
}

/// Field names of a User Property's two strings, for errors.
const PAIR_NAME: &str = "user property name";
const PAIR_VALUE: &str = "user property value";
/// The field name of numeric values, for errors.
const FIELD: &str = "property value";

/// Checks one property value in place: what [`decode_value`] reads, without building it.
#[inline]
fn validate_value(c: &mut Cursor<'_>, id: PropertyId, spec: PropertySpec) -> Result<(), Error> {
    match spec.ty {
        ValueType::Byte => check_number(id, spec.rule, u32::from(c.u8(FIELD)?)),
        ValueType::TwoByte => check_number(id, spec.rule, u32::from(c.u16(FIELD)?)),
        ValueType::FourByte => check_number(id, spec.rule, c.u32(FIELD)?),
        ValueType::VarInt => check_number(id, spec.rule, c.varint(spec.name)?),
        ValueType::String => {
            let s = c.binary(spec.name)?;
            validate_str(s, spec.name)?;
            check_text(spec.rule, s)
        }
        ValueType::Binary => c.binary(spec.name).map(drop),
        ValueType::Pair => {
            validate_str(c.binary(PAIR_NAME)?, PAIR_NAME)?;
            validate_str(c.binary(PAIR_VALUE)?, PAIR_VALUE)
        }
    }
}

/// The value rule of a numeric property: the one check validation and decoding share.
#[inline]
fn check_number(id: PropertyId, rule: ValueRule, value: u32) -> Result<(), Error> {
    let bad = match rule {
        ValueRule::Flag => value > 1,
        ValueRule::NonZero => value == 0,
        ValueRule::Any | ValueRule::TopicName => false,
    };
    if bad {
        Err(Error::PropertyOutOfRange {
            property: id,
            value,
        })
    } else {
        Ok(())
    }
}

/// The value rule of a string property (already checked as UTF-8): the one check validation
/// and decoding share.
#[inline]
fn check_text(rule: ValueRule, value: &[u8]) -> Result<(), Error> {
    match rule {
        ValueRule::TopicName => {
            crate::topic::validate_name_bytes(value).map_err(Error::InvalidTopicName)
        }
        ValueRule::Any | ValueRule::Flag | ValueRule::NonZero => Ok(()),
    }
}
