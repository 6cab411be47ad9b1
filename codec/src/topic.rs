//! Topic Names and Topic Filters (3.1.1 and 5.0 section 4.7): validation, shared subscription
//! parsing and matching.
//!
//! The validated [`TopicName`] and [`TopicFilter`] types are what the broker and the
//! conformance runner share; packets themselves carry plain strings so that a test can encode a
//! forbidden topic.

use std::fmt;

use bytestring::ByteString;

/// What is wrong with a topic name or filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Zero length (MQTT-4.7.3-1).
    #[error("empty")]
    Empty,
    /// A `+` or `#` in a Topic Name (MQTT-3.3.2-2, 4.7.1-1 in 3.1.1 / 4.7.0-1 in 5.0).
    #[error("wildcard character in a topic name")]
    Wildcard,
    /// `#` not alone in the last level (3.1.1 MQTT-4.7.1-2, 5.0 MQTT-4.7.1-1).
    #[error("'#' is not the whole last level")]
    MisplacedMultiLevel,
    /// `+` not alone in its level (3.1.1 MQTT-4.7.1-3, 5.0 MQTT-4.7.1-2).
    #[error("'+' does not occupy a whole level")]
    MisplacedSingleLevel,
    /// U+0000 (MQTT-4.7.3-2).
    #[error("contains U+0000")]
    Null,
    /// `$share/` without a share name, with a wildcard in it, or without a filter (5.0 4.8.2).
    #[error("malformed shared subscription")]
    InvalidShare,
}

/// Checks a Topic Name: non-empty, no wildcards, no U+0000.
pub fn validate_name(name: &str) -> Result<(), TopicError> {
    validate_name_bytes(name.as_bytes())
}

/// Checks the bytes of a Topic Name for emptiness, wildcards and U+0000 (UTF-8 is checked
/// elsewhere), in one branch-free pass for the common case.
#[inline]
pub(crate) fn validate_name_bytes(name: &[u8]) -> Result<(), TopicError> {
    if name.is_empty() {
        return Err(TopicError::Empty);
    }
    let mut wild = 0u8;
    let mut zero = 0u8;
    for &b in name {
        wild |= u8::from(b == b'+') | u8::from(b == b'#');
        zero |= u8::from(b == 0);
    }
    if zero != 0 {
        return Err(TopicError::Null);
    }
    if wild != 0 {
        return Err(TopicError::Wildcard);
    }
    Ok(())
}

/// Checks a Topic Filter, including the `$share/{name}/{filter}` form.
pub fn validate_filter(filter: &str) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::Empty);
    }
    let inner = match parse_shared(filter) {
        Some(Ok((_, inner))) => inner,
        Some(Err(e)) => return Err(e),
        None => filter,
    };
    validate_plain_filter(inner)
}

fn validate_plain_filter(filter: &str) -> Result<(), TopicError> {
    let bytes = filter.as_bytes();
    // Most filters hold no wildcard and no U+0000: the vectorised check for a Topic Name
    // settles them; the rest take the level-aware pass below.
    if validate_name_bytes(bytes).is_ok() {
        return Ok(());
    }
    if bytes.is_empty() {
        return Err(TopicError::Empty);
    }
    // One pass, tracking the previous and next byte: a wildcard must fill its whole level, and
    // `#` must also be the last character.
    let mut prev = b'/';
    for (i, &b) in bytes.iter().enumerate() {
        let next = bytes.get(i + 1).copied().unwrap_or(b'/');
        match b {
            0 => return Err(TopicError::Null),
            b'#' if prev != b'/' || i + 1 != bytes.len() => {
                return Err(TopicError::MisplacedMultiLevel);
            }
            b'+' if prev != b'/' || next != b'/' => return Err(TopicError::MisplacedSingleLevel),
            _ => {}
        }
        prev = b;
    }
    Ok(())
}

/// Splits `$share/{name}/{filter}` into the share name and the filter.
///
/// `None` when the filter is not a shared subscription; an error when it starts with `$share/`
/// but the share name is empty or holds a wildcard, or no filter follows (5.0 section 4.8.2).
pub fn parse_shared(filter: &str) -> Option<Result<(&str, &str), TopicError>> {
    let rest = filter.strip_prefix("$share/")?;
    let Some((name, inner)) = rest.split_once('/') else {
        return Some(Err(TopicError::InvalidShare));
    };
    if name.is_empty() || name.contains(['+', '#']) || inner.is_empty() {
        return Some(Err(TopicError::InvalidShare));
    }
    Some(Ok((name, inner)))
}

/// Whether `filter` (not a `$share/` filter) matches `name` (section 4.7).
///
/// Filters starting with a wildcard do not match names starting with `$` (3.1.1 and 5.0
/// MQTT-4.7.2-1); `#` also matches its parent level; matching is byte-exact (MQTT-4.7.3-4).
pub fn matches(filter: &str, name: &str) -> bool {
    if name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut names = name.split('/');
    let mut filters = filter.split('/');
    loop {
        match (filters.next(), names.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(f), Some(n)) if f == n => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// A validated Topic Name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(ByteString);

impl TopicName {
    /// Validates `name`.
    pub fn new(name: impl Into<ByteString>) -> Result<Self, TopicError> {
        let name = name.into();
        validate_name(&name)?;
        Ok(Self(name))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The underlying shared string.
    pub fn into_inner(self) -> ByteString {
        self.0
    }
}

/// A validated Topic Filter, possibly a shared subscription.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter(ByteString);

impl TopicFilter {
    /// Validates `filter`.
    pub fn new(filter: impl Into<ByteString>) -> Result<Self, TopicError> {
        let filter = filter.into();
        validate_filter(&filter)?;
        Ok(Self(filter))
    }

    /// The filter as written, `$share/` prefix included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The share name, if this is a shared subscription.
    pub fn share_name(&self) -> Option<&str> {
        parse_shared(&self.0)
            .and_then(Result::ok)
            .map(|(name, _)| name)
    }

    /// The filter that topic names are matched against (without any `$share/{name}/`).
    pub fn pattern(&self) -> &str {
        parse_shared(&self.0)
            .and_then(Result::ok)
            .map_or(&self.0, |(_, inner)| inner)
    }

    /// Whether the filter holds `+` or `#`.
    pub fn has_wildcards(&self) -> bool {
        self.pattern().contains(['+', '#'])
    }

    /// Whether this filter matches `name`.
    pub fn matches(&self, name: &TopicName) -> bool {
        matches(self.pattern(), name.as_str())
    }
}

impl fmt::Debug for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_names() {
        assert_eq!(validate_name("a/b"), Ok(()));
        assert_eq!(validate_name("/"), Ok(()));
        assert_eq!(validate_name(""), Err(TopicError::Empty));
        assert_eq!(validate_name("a/+"), Err(TopicError::Wildcard));
        assert_eq!(validate_name("a/#"), Err(TopicError::Wildcard));
        assert_eq!(validate_name("a\0"), Err(TopicError::Null));
    }

    #[test]
    fn validates_filters() {
        for ok in [
            "#",
            "+",
            "a/#",
            "+/+",
            "/+",
            "a//b",
            "$share/g/a/#",
            "sport/+/player1",
        ] {
            assert_eq!(validate_filter(ok), Ok(()), "{ok}");
        }
        assert_eq!(validate_filter("a#"), Err(TopicError::MisplacedMultiLevel));
        assert_eq!(
            validate_filter("a/#/b"),
            Err(TopicError::MisplacedMultiLevel)
        );
        assert_eq!(validate_filter("a+"), Err(TopicError::MisplacedSingleLevel));
        assert_eq!(
            validate_filter("+a/b"),
            Err(TopicError::MisplacedSingleLevel)
        );
        assert_eq!(validate_filter("$share//a"), Err(TopicError::InvalidShare));
        assert_eq!(validate_filter("$share/g"), Err(TopicError::InvalidShare));
        assert_eq!(
            validate_filter("$share/g+/a"),
            Err(TopicError::InvalidShare)
        );
        assert_eq!(validate_filter("$share/g/"), Err(TopicError::InvalidShare));
    }

    #[test]
    fn matches_like_the_spec_examples() {
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking"
        ));
        assert!(matches("sport/#", "sport"));
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(!matches("#", "$SYS/x"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
        assert!(!matches("ACCOUNTS", "Accounts"));
    }

    #[test]
    fn splits_shared_filters() {
        let f = TopicFilter::new("$share/group/a/+").unwrap();
        assert_eq!(f.share_name(), Some("group"));
        assert_eq!(f.pattern(), "a/+");
        assert!(f.has_wildcards());
        assert!(f.matches(&TopicName::new("a/b").unwrap()));
    }
}
