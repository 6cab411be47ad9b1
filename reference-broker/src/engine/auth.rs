//! Username/password checks, the per-user topic ACL, and the `challenge` enhanced
//! authentication method. Pure data: the password file is parsed here, read by the caller.
//!
//! # Password file
//!
//! ```text
//! # USER:pbkdf2-sha256:ITERATIONS:hex(SALT):hex(PBKDF2-HMAC-SHA256(password))
//! alice:pbkdf2-sha256:600000:9f3c...:5e88...
//! # topic USER read|write|readwrite FILTER
//! topic alice readwrite sensors/#
//! # rules for clients without a user name (when allow_anonymous is on)
//! topic $anonymous read public/#
//! ```
//!
//! `mqtt-reference-broker passwd USER` prints an entry ([`Users::entry`]). Passwords are
//! checked with PBKDF2-HMAC-SHA256 ([`PBKDF2_ITERATIONS`] rounds for new entries), compared in
//! constant time (`ring::pbkdf2::verify`), and an unknown user costs the same work as a known
//! one, so timing does not tell whether a user exists.
//!
//! The ACL fails closed: a user with no rule may use no topic, a rule naming a user the file
//! does not define is an error, and a subscription is allowed only if a read rule's filter
//! covers the whole subscribed filter (a `+` rule does not grant `#`).
//!
//! # The `challenge` method (5.0 enhanced authentication, section 4.12)
//!
//! CONNECT carries Authentication Method `challenge`; the server answers AUTH 0x18 with
//! Authentication Data `ping`; the client must answer AUTH 0x18 with data `pong`, and then gets
//! CONNACK 0x00 (anything else: CONNACK 0x87). Re-authentication (AUTH 0x19) runs the same
//! exchange and ends with AUTH 0x00.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::num::NonZeroU32;
use std::path::Path;

use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::Error;

/// The server's challenge in the `challenge` method.
pub const CHALLENGE: &[u8] = b"ping";
/// The answer the client must give.
pub const RESPONSE: &[u8] = b"pong";
/// PBKDF2-HMAC-SHA256 rounds for new password entries: OWASP's 2023 recommendation.
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// The `topic` rule user name that applies to clients without a user name.
pub const ANONYMOUS: &str = "$anonymous";

const SCHEME: &str = "pbkdf2-sha256";
const ALGORITHM: pbkdf2::Algorithm = pbkdf2::PBKDF2_HMAC_SHA256;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

/// What a user may do on a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Subscribe and receive.
    Read,
    /// Publish.
    Write,
}

#[derive(Clone, Debug)]
struct Credential {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

#[derive(Clone, Debug)]
struct Rule {
    filter: String,
    read: bool,
    write: bool,
}

#[derive(Clone, Debug)]
struct User {
    credential: Credential,
    rules: Vec<Rule>,
}

/// Users with hashed passwords and their topic rules.
#[derive(Clone, Debug)]
pub struct Users {
    users: HashMap<String, User>,
    /// Rules for clients without a user name.
    anonymous: Vec<Rule>,
    /// Checked against when the user is unknown, so that it costs the same work.
    decoy: Credential,
}

impl Default for Users {
    fn default() -> Self {
        let random = |len| random_bytes(len).unwrap_or_else(|| vec![0; len]);
        Self {
            users: HashMap::new(),
            anonymous: Vec::new(),
            decoy: Credential {
                iterations: iterations(PBKDF2_ITERATIONS),
                salt: random(SALT_LEN),
                hash: random(HASH_LEN),
            },
        }
    }
}

impl Users {
    /// Reads a password file (format in the module docs).
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigIo {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses the text of a password file. A malformed line, an unknown hash scheme or a rule
    /// for an undefined user is an error naming the line.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut users = Self::default();
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |m: String| Error::Config {
                line: n + 1,
                message: m,
            };
            if let Some(rest) = line.strip_prefix("topic ") {
                let (user, rule) = parse_rule(rest).map_err(|m| bad(m.to_owned()))?;
                rules.push((n + 1, user, rule));
                continue;
            }
            let (name, credential) = parse_entry(line).map_err(|m| bad(m.to_owned()))?;
            let user = User {
                credential,
                rules: Vec::new(),
            };
            if users.users.insert(name.to_owned(), user).is_some() {
                return Err(bad(format!("user {name} defined twice")));
            }
        }
        users.match_decoy();
        for (line, user, rule) in rules {
            if user == ANONYMOUS {
                users.anonymous.push(rule);
            } else if let Some(u) = users.users.get_mut(&user) {
                u.rules.push(rule);
            } else {
                return Err(Error::Config {
                    line,
                    message: format!("topic rule for user {user}, who is not defined"),
                });
            }
        }
        Ok(users)
    }

    /// Adds a user (for tests and programmatic setup), hashed with `iterations` rounds.
    pub fn add_with_iterations(&mut self, name: &str, password: &[u8], iterations: u32) {
        let credential = derive(password, iterations);
        let user = User {
            credential,
            rules: Vec::new(),
        };
        self.users.insert(name.to_owned(), user);
        self.match_decoy();
    }

    /// Gives the decoy credential the most rounds any user has, so that an unknown user
    /// costs at least what the slowest known one does.
    fn match_decoy(&mut self) {
        let most = self.users.values().map(|u| u.credential.iterations).max();
        self.decoy.iterations = most.unwrap_or(iterations(PBKDF2_ITERATIONS));
    }

    /// Adds a user with [`PBKDF2_ITERATIONS`] rounds.
    pub fn add(&mut self, name: &str, password: &[u8]) {
        self.add_with_iterations(name, password, PBKDF2_ITERATIONS);
    }

    /// Adds a topic rule for an existing user, or for [`ANONYMOUS`].
    pub fn allow(&mut self, name: &str, filter: &str, access: Access) {
        let rule = Rule {
            filter: filter.to_owned(),
            read: access == Access::Read,
            write: access == Access::Write,
        };
        if name == ANONYMOUS {
            self.anonymous.push(rule);
        } else if let Some(u) = self.users.get_mut(name) {
            u.rules.push(rule);
        }
    }

    /// Whether the password is right for the user. Constant time in the password, and the
    /// same work whether or not the user exists.
    pub fn check(&self, name: &str, password: &[u8]) -> bool {
        self.password_check(name, password).verify()
    }

    /// The work of checking `password` for `name`, to run away from the engine (it takes
    /// [`PBKDF2_ITERATIONS`] rounds): an unknown user is checked against the decoy.
    pub fn password_check(&self, name: &str, password: &[u8]) -> PasswordCheck {
        let user = self.users.get(name);
        PasswordCheck {
            credential: user.map_or(&self.decoy, |u| &u.credential).clone(),
            known: user.is_some(),
            password: password.to_vec(),
        }
    }

    /// Whether `user` (`None`: anonymous) may publish to `topic`, or receive a message
    /// published to it.
    pub(crate) fn allowed(&self, user: Option<&str>, topic: &str, access: Access) -> bool {
        self.rules(user).iter().any(|r| {
            let granted = match access {
                Access::Read => r.read,
                Access::Write => r.write,
            };
            granted && mqtt_codec::topic::matches(&r.filter, topic)
        })
    }

    /// Whether `user` may subscribe to `filter`: some read rule covers every topic the
    /// filter can match.
    pub(crate) fn may_subscribe(&self, user: Option<&str>, filter: &str) -> bool {
        (self.rules(user).iter()).any(|r| r.read && filter_covers(&r.filter, filter))
    }

    fn rules(&self, user: Option<&str>) -> &[Rule] {
        match user {
            None => &self.anonymous,
            Some(name) => self.users.get(name).map_or(&[], |u| &u.rules),
        }
    }

    /// A password file line for `name` with a fresh random salt and [`PBKDF2_ITERATIONS`]
    /// rounds; `None` if the system has no randomness to give.
    pub fn entry(name: &str, password: &[u8]) -> Option<String> {
        Self::entry_with_iterations(name, password, PBKDF2_ITERATIONS)
    }

    /// [`Users::entry`] with another number of rounds.
    pub fn entry_with_iterations(name: &str, password: &[u8], rounds: u32) -> Option<String> {
        let salt = random_bytes(SALT_LEN)?;
        let credential = derive_with_salt(password, rounds, salt);
        Some(format!(
            "{name}:{SCHEME}:{}:{}:{}",
            credential.iterations,
            hex(&credential.salt),
            hex(&credential.hash)
        ))
    }
}

/// One password to check: what [`crate::Event::CheckPassword`] hands the shell, which runs
/// [`PasswordCheck::verify`] off the engine's task and reports the result with
/// [`crate::Engine::handle_password_checked`].
#[derive(Clone)]
pub struct PasswordCheck {
    credential: Credential,
    known: bool,
    password: Vec<u8>,
}

impl std::fmt::Debug for PasswordCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("PasswordCheck")
            .field("known", &self.known)
            .finish_non_exhaustive()
    }
}

impl PartialEq for PasswordCheck {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for PasswordCheck {}

impl PasswordCheck {
    /// Whether the password is right: PBKDF2 at the credential's rounds, compared in constant
    /// time, the same work for an unknown user.
    pub fn verify(&self) -> bool {
        let c = &self.credential;
        let ok = pbkdf2::verify(ALGORITHM, c.iterations, &c.salt, &self.password, &c.hash);
        ok.is_ok() && self.known
    }
}

/// Whether every topic `filter` matches is matched by `rule` (both filters, section 4.7).
/// Walks both level by level: `#` in the rule covers the rest, `+` covers one level that is
/// not `#`, a name covers only itself; a rule starting with a wildcard covers no `$` topic
/// (MQTT-4.7.2-1).
pub(crate) fn filter_covers(rule: &str, filter: &str) -> bool {
    if filter.starts_with('$') && rule.starts_with(['+', '#']) {
        return false;
    }
    let mut rules = rule.split('/');
    let mut levels = filter.split('/');
    loop {
        match (rules.next(), levels.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(level)) if level != "#" => {}
            (Some(r), Some(level)) if r == level && r != "+" => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

fn parse_rule(rest: &str) -> Result<(String, Rule), &'static str> {
    let mut parts = rest.split_whitespace();
    let (Some(user), Some(access), Some(filter), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("expected: topic USER read|write|readwrite FILTER");
    };
    let (read, write) = match access {
        "read" => (true, false),
        "write" => (false, true),
        "readwrite" => (true, true),
        _ => return Err("access must be read, write or readwrite"),
    };
    if mqtt_codec::topic::validate_filter(filter).is_err() {
        return Err("not a valid topic filter");
    }
    let rule = Rule {
        filter: filter.to_owned(),
        read,
        write,
    };
    Ok((user.to_owned(), rule))
}

/// Parses `USER:pbkdf2-sha256:ITERATIONS:SALT:HASH`; the user name may itself hold `:`.
fn parse_entry(line: &str) -> Result<(&str, Credential), &'static str> {
    let mut parts = line.rsplitn(5, ':');
    let (Some(hash), Some(salt), Some(rounds), Some(scheme), Some(name)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err("expected USER:pbkdf2-sha256:ITERATIONS:SALT:HASH \
                    (make one with `mqtt-reference-broker passwd USER`)");
    };
    if scheme != SCHEME {
        return Err("unknown password scheme: only pbkdf2-sha256 is accepted");
    }
    let rounds = rounds.parse::<u32>().ok().and_then(NonZeroU32::new);
    let (Some(iterations), Some(salt), Some(hash)) = (rounds, unhex(salt), unhex(hash)) else {
        return Err("bad iterations, salt or hash");
    };
    if hash.len() != HASH_LEN {
        return Err("the hash must be 32 bytes (64 hex digits)");
    }
    Ok((
        name,
        Credential {
            iterations,
            salt,
            hash,
        },
    ))
}

fn iterations(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

fn derive(password: &[u8], rounds: u32) -> Credential {
    let salt = random_bytes(SALT_LEN).unwrap_or_else(|| vec![0; SALT_LEN]);
    derive_with_salt(password, rounds, salt)
}

fn derive_with_salt(password: &[u8], rounds: u32, salt: Vec<u8>) -> Credential {
    let iterations = iterations(rounds);
    let mut hash = vec![0; HASH_LEN];
    pbkdf2::derive(ALGORITHM, iterations, &salt, password, &mut hash);
    Credential {
        iterations,
        salt,
        hash,
    }
}

/// `len` bytes from the operating system's random source.
pub(crate) fn random_bytes(len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0; len];
    SystemRandom::new().fill(&mut out).ok()?;
    Some(out)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plus_rule_does_not_grant_hash() {
        assert!(filter_covers("a/+", "a/b"));
        assert!(filter_covers("a/+", "a/+"));
        assert!(!filter_covers("a/+", "a/#"));
        assert!(!filter_covers("a/+", "a/b/c"));
        assert!(!filter_covers("a/b", "a/+"));
        assert!(filter_covers("a/#", "a/#"));
        assert!(filter_covers("a/#", "a"));
        assert!(filter_covers("a/#", "a/+/c"));
        assert!(!filter_covers("#", "$SYS/x"));
        assert!(filter_covers("$SYS/#", "$SYS/x"));
        assert!(!filter_covers("a/+/c", "a/#"));
    }

    fn file(rules: &str) -> String {
        // Few rounds: the unoptimised test build is slow at 600,000.
        let entry = Users::entry_with_iterations("alice", b"secret", 2000).unwrap();
        format!("{entry}\n{rules}")
    }

    #[test]
    fn entries_round_trip_and_unknown_users_are_refused() {
        let users = Users::parse(&file("")).unwrap();
        assert!(users.check("alice", b"secret"));
        assert!(!users.check("alice", b"Secret"));
        assert!(!users.check("mallory", b"secret"));
    }

    #[test]
    fn a_rule_for_an_undefined_user_is_an_error_naming_its_line() {
        let err = Users::parse(&file("topic bob read x")).unwrap_err();
        assert!(matches!(err, Error::Config { line: 2, .. }), "{err}");
    }

    #[test]
    fn the_old_sha256_format_is_refused() {
        assert!(Users::parse("alice:s1:5e884898").is_err());
    }

    #[test]
    fn a_user_without_rules_gets_nothing_and_anonymous_only_its_own() {
        let users = Users::parse(&file("topic $anonymous read public/#")).unwrap();
        assert!(!users.allowed(Some("alice"), "a", Access::Write));
        assert!(!users.may_subscribe(Some("alice"), "#"));
        assert!(users.may_subscribe(None, "public/+"));
        assert!(!users.may_subscribe(None, "#"));
        assert!(!users.allowed(None, "public/x", Access::Write));
    }

    #[test]
    fn unknown_and_known_users_cost_the_same_rounds() {
        let users = Users::parse(&file("")).unwrap();
        let known = users.users.get("alice").map(|u| u.credential.iterations);
        assert_eq!(known, Some(users.decoy.iterations));
        assert_eq!(Users::default().decoy.iterations.get(), PBKDF2_ITERATIONS);
    }

    #[test]
    fn new_entries_use_the_modern_work_factor() {
        // One derivation at the full count (about a second unoptimised).
        let entry = Users::entry("carol", b"pw").unwrap();
        let (_, credential) = parse_entry(&entry).unwrap();
        assert_eq!(credential.iterations.get(), PBKDF2_ITERATIONS);
    }
}
