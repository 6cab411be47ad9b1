//! Username/password checks, the per-user topic ACL, and the `challenge` enhanced
//! authentication method. Pure data: the password file is parsed here, read by the caller.
//!
//! # Password file
//!
//! ```text
//! # user:salt:hex(SHA-256(salt || password))
//! alice:s1:5e884898...
//! # topic USER read|write|readwrite FILTER  (a user with no rule may use every topic)
//! topic alice readwrite sensors/#
//! ```
//!
//! [`hash_password`] produces the third field.
//!
//! # The `challenge` method (5.0 enhanced authentication, section 4.12)
//!
//! CONNECT carries Authentication Method `challenge`; the server answers AUTH 0x18 with
//! Authentication Data `ping`; the client must answer AUTH 0x18 with data `pong`, and then gets
//! CONNACK 0x00 (anything else: CONNACK 0x87). Re-authentication (AUTH 0x19) runs the same
//! exchange and ends with AUTH 0x00.

use std::collections::HashMap;
use std::path::Path;

use crate::error::Error;

/// The server's challenge in the `challenge` method.
pub const CHALLENGE: &[u8] = b"ping";
/// The answer the client must give.
pub const RESPONSE: &[u8] = b"pong";

/// What a user may do on a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Subscribe and receive.
    Read,
    /// Publish.
    Write,
}

#[derive(Clone, Debug)]
struct User {
    salt: String,
    hash: String,
    rules: Vec<(String, bool, bool)>,
}

/// Users with hashed passwords and their topic rules.
#[derive(Clone, Debug, Default)]
pub struct Users {
    users: HashMap<String, User>,
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

    /// Parses the text of a password file.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut users = Self::default();
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |m: &str| Error::Config {
                line: n + 1,
                message: m.to_owned(),
            };
            if let Some(rest) = line.strip_prefix("topic ") {
                let mut parts = rest.split_whitespace();
                let (Some(user), Some(access), Some(filter)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad("expected: topic USER read|write|readwrite FILTER"));
                };
                let (r, w) = match access {
                    "read" => (true, false),
                    "write" => (false, true),
                    "readwrite" => (true, true),
                    _ => return Err(bad("access must be read, write or readwrite")),
                };
                rules.push((user.to_owned(), filter.to_owned(), r, w));
                continue;
            }
            let mut parts = line.splitn(3, ':');
            let (Some(name), Some(salt), Some(hash)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("expected user:salt:hash"));
            };
            users.users.insert(
                name.to_owned(),
                User {
                    salt: salt.to_owned(),
                    hash: hash.to_ascii_lowercase(),
                    rules: Vec::new(),
                },
            );
        }
        for (user, filter, r, w) in rules {
            if let Some(u) = users.users.get_mut(&user) {
                u.rules.push((filter, r, w));
            }
        }
        Ok(users)
    }

    /// Adds a user (for tests and programmatic setup).
    pub fn add(&mut self, name: &str, password: &[u8]) {
        let salt = format!("{}", self.users.len() + 1);
        let hash = hash_password(&salt, password);
        self.users.insert(
            name.to_owned(),
            User {
                salt,
                hash,
                rules: Vec::new(),
            },
        );
    }

    /// Adds a topic rule for an existing user.
    pub fn allow(&mut self, name: &str, filter: &str, access: Access) {
        if let Some(u) = self.users.get_mut(name) {
            let (r, w) = (access == Access::Read, access == Access::Write);
            u.rules.push((filter.to_owned(), r, w));
        }
    }

    /// Whether the password is right for the user.
    pub fn check(&self, name: &str, password: &[u8]) -> bool {
        self.users.get(name).is_some_and(|u| {
            let computed = hash_password(&u.salt, password);
            // Constant time is not a goal of a reference broker; equality is enough.
            computed == u.hash
        })
    }

    /// Whether `user` may access `topic` (a name for Write, a filter for Read).
    pub(crate) fn allowed(&self, user: Option<&str>, topic: &str, access: Access) -> bool {
        let Some(u) = user.and_then(|n| self.users.get(n)) else {
            return true;
        };
        if u.rules.is_empty() {
            return true;
        }
        u.rules.iter().any(|(filter, r, w)| {
            let ok = match access {
                Access::Read => *r,
                Access::Write => *w,
            };
            ok && (filter == topic || mqtt_codec::topic::matches(filter, topic))
        })
    }
}

/// Hex SHA-256 of `salt || password`, the password file's third field.
pub fn hash_password(salt: &str, password: &[u8]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(salt.as_bytes());
    ctx.update(password);
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
