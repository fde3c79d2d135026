//! Flags: what Steward noticed about a proposal, with a stable kebab-case kind (docs/flags.md).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warn,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flag {
    /// Stable kebab-case kind: `body-truncated`, `invalid-utf8`, `unknown-call`, ...
    pub kind: String,
    pub severity: Severity,
    /// One line in plain words.
    pub detail: String,
}

impl Flag {
    pub fn new(kind: impl Into<String>, severity: Severity, detail: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            severity,
            detail: detail.into(),
        }
    }
}
