//! Proposal sources. Each parses its own format into the core [`Proposal`]; one bad item is
//! quarantined with the source, the item and the field, and never stops the others.

pub mod file;
pub mod forum;
pub mod imap;
pub mod mail;
mod retry;
pub mod snapshot;

pub use retry::{Attempt, RetryPolicy};

use serde_json::{Map, Value};
use steward_core::{FieldError, Proposal, ProposalState};

/// Reading typed fields out of a JSON object, with errors that name the field.
pub(crate) struct Fields<'a> {
    obj: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(v: &'a Value) -> Result<Self, FieldError> {
        v.as_object().map(|obj| Self { obj }).ok_or_else(|| {
            FieldError::new(
                "(item)",
                format!("expected a JSON object, got {}", type_name(v)),
            )
        })
    }

    pub(crate) fn has(&self, field: &str) -> bool {
        self.obj.get(field).is_some_and(|v| !v.is_null())
    }

    pub(crate) fn raw(&self, field: &str) -> Option<&'a Value> {
        self.obj.get(field).filter(|v| !v.is_null())
    }

    pub(crate) fn str(&self, field: &str) -> Result<&'a str, FieldError> {
        self.opt_str(field)?
            .ok_or_else(|| FieldError::new(field, "is missing"))
    }

    pub(crate) fn opt_str(&self, field: &str) -> Result<Option<&'a str>, FieldError> {
        match self.raw(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(FieldError::new(
                field,
                format!("expected a string, got {}", type_name(v)),
            )),
        }
    }

    /// An integer given as a JSON number or a decimal string (the hub sends `snapshot` as a string).
    pub(crate) fn opt_i64(&self, field: &str) -> Result<Option<i64>, FieldError> {
        match self.raw(field) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| FieldError::new(field, format!("expected an integer, got {n}"))),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| FieldError::new(field, format!("expected an integer, got {s:?}"))),
            Some(v) => Err(FieldError::new(
                field,
                format!("expected an integer, got {}", type_name(v)),
            )),
        }
    }

    pub(crate) fn array(&self, field: &str) -> Result<&'a Vec<Value>, FieldError> {
        match self.raw(field) {
            Some(Value::Array(a)) => Ok(a),
            None => Err(FieldError::new(field, "is missing")),
            Some(v) => Err(FieldError::new(
                field,
                format!("expected an array, got {}", type_name(v)),
            )),
        }
    }

    /// An array of strings, refusing more than `max` before looking at each.
    pub(crate) fn strings(&self, field: &str, max: usize) -> Result<Vec<String>, FieldError> {
        let a = self.array(field)?;
        if a.len() > max {
            return Err(FieldError::new(
                field,
                format!("{} entries, limit {max}", a.len()),
            ));
        }
        a.iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                v => Err(FieldError::new(
                    format!("{field}[{i}]"),
                    format!("expected a string, got {}", type_name(v)),
                )),
            })
            .collect()
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The state implied by the voting window, for sources that do not say.
pub(crate) fn state_from_window(start: Option<i64>, end: Option<i64>, now: i64) -> ProposalState {
    match (start, end) {
        (Some(s), _) if now < s => ProposalState::Pending,
        (_, Some(e)) if now >= e => ProposalState::Closed,
        _ => ProposalState::Active,
    }
}

/// The title of an on-chain description: its first non-empty line without a leading `#`.
pub(crate) fn title_of(description: &str) -> String {
    description
        .lines()
        .map(|l| l.trim().trim_start_matches('#').trim())
        .find(|l| !l.is_empty())
        .unwrap_or("(untitled)")
        .to_owned()
}

/// The id a quarantined item is reported under: its own id when it has one, else its position.
pub(crate) fn item_label(v: &Value, id_fields: &[&str], position: &str) -> String {
    id_fields
        .iter()
        .find_map(|f| match v.get(f) {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| position.to_owned())
}

/// Keeps `p` only if it normalizes under the limits.
pub(crate) fn finish(p: Proposal, limits: &steward_core::Limits) -> Result<Proposal, FieldError> {
    p.normalize(limits)
}
