//! The variables of one scenario run, resolved before it starts: `{t}` (the run's topic
//! prefix), `{client}` and `{client:<name>}` (client ids unique to the run), and what a packet
//! of the acting client needs besides (its credentials, the captured packet ids).

use std::collections::HashMap;

use crate::error::HarnessError;
use crate::scenario::{IdRef, Scenario, Version};

/// Packet ids captured with `capture_id`.
pub type Captures = HashMap<String, u16>;

/// The names of one run: its tag and the client id of each client.
#[derive(Debug, Clone)]
pub struct Names {
    tag: String,
    ids: HashMap<String, String>,
}

impl Names {
    /// The names of `scenario` in the run tagged `tag`.
    pub fn new(scenario: &Scenario, tag: &str) -> Self {
        let mut ids = HashMap::new();
        let named = scenario.clients.keys().cloned();
        let acting = scenario.steps.iter().map(|s| s.client.clone());
        for name in named.chain(acting) {
            let id = client_id(tag, &name, scenario);
            ids.insert(name, id);
        }
        Self {
            tag: tag.to_owned(),
            ids,
        }
    }

    /// The client id of client `name`.
    pub fn client_id(&self, name: &str) -> String {
        self.ids
            .get(name)
            .cloned()
            .unwrap_or_else(|| default_client_id(&self.tag, name))
    }

    /// Substitutes the variables in `text` for the acting client `current`; anything else in
    /// braces is left as it is.
    pub fn subst(&self, text: &str, current: &str) -> String {
        if !text.contains('{') {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len() + 16);
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let var = &after[..end];
            match (var, var.strip_prefix("client:")) {
                ("t", _) => out.push_str(&topic_prefix(&self.tag)),
                ("client", _) => out.push_str(&self.client_id(current)),
                (_, Some(name)) => out.push_str(&self.client_id(name)),
                _ => {
                    out.push('{');
                    out.push_str(var);
                    out.push('}');
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// The topic prefix `{t}` of a run.
pub fn topic_prefix(tag: &str) -> String {
    format!("mqtt-conformance/{tag}")
}

/// The client id of client `name` in a run: the scenario's own when it gives one (itself
/// free of `{client...}`), else alphanumeric and at most 23 characters, the limit every 3.1.1
/// server must accept (MQTT-3.1.3-5).
fn client_id(tag: &str, name: &str, scenario: &Scenario) -> String {
    let given = scenario
        .clients
        .get(name)
        .and_then(|c| c.client_id.as_ref());
    match given {
        Some(id) if !id.contains("{client") => {
            // Only `{t}` can remain in it.
            id.replace("{t}", &topic_prefix(tag))
        }
        _ => default_client_id(tag, name),
    }
}

fn default_client_id(tag: &str, name: &str) -> String {
    let clean: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    let mut id = format!("mc{tag}{clean}");
    id.truncate(23);
    id
}

/// What a packet of the acting client needs from the run.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    /// The protocol version of the run.
    pub version: Version,
    /// The run's names.
    pub names: &'a Names,
    /// The acting client.
    pub client: &'a str,
    /// Credentials for its CONNECT (from the profile or the command line), unless the
    /// scenario says the client sends none.
    pub credentials: Option<&'a (String, Option<String>)>,
    /// Packet ids captured so far.
    pub captures: &'a Captures,
}

impl Vars<'_> {
    /// Substitutes the variables in `text`.
    pub fn subst(&self, text: &str) -> String {
        self.names.subst(text, self.client)
    }

    /// The acting client's id.
    pub fn client_id(&self) -> String {
        self.names.client_id(self.client)
    }

    /// A packet id, literal or captured.
    pub fn id(&self, id: &IdRef) -> Result<u16, HarnessError> {
        match id {
            IdRef::Literal(n) => Ok(*n),
            IdRef::Captured(name) => self
                .captures
                .get(name)
                .copied()
                .ok_or_else(|| HarnessError::NotCaptured(name.clone())),
        }
    }
}
