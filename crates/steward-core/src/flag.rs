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

    pub fn is_critical(&self) -> bool {
        self.severity == Severity::Critical
    }
}

/// The stable flag kinds (docs/flags.md lists each with its severity and meaning).
pub mod kinds {
    pub const BODY_TRUNCATED: &str = "body-truncated";
    pub const TITLE_TRUNCATED: &str = "title-truncated";
    pub const INVALID_UTF8: &str = "invalid-utf8";
    pub const TOKEN_TRANSFER: &str = "token-transfer";
    pub const ETH_TRANSFER: &str = "eth-transfer";
    pub const APPROVAL: &str = "approval";
    pub const UNLIMITED_APPROVAL: &str = "unlimited-approval";
    pub const MINT: &str = "mint";
    pub const UPGRADE: &str = "upgrade";
    pub const PERMISSION_CHANGE: &str = "permission-change";
    pub const GOVERNANCE_CHANGE: &str = "governance-change";
    pub const UNKNOWN_CALL: &str = "unknown-call";
    pub const BAD_CALLDATA: &str = "bad-calldata";
    pub const DELEGATECALL: &str = "delegatecall";
    pub const SELFDESTRUCT_CAPABLE: &str = "selfdestruct-capable";
    pub const UNVERIFIED_TARGET: &str = "unverified-target";
    pub const OUTSIDE_CONTROL: &str = "outside-control";
    pub const MISMATCH: &str = "mismatch";
    pub const CODE_CHANGED: &str = "code-changed";
    pub const SIMULATION_FAILED: &str = "simulation-failed";
    pub const INSPECTION_FAILED: &str = "inspection-failed";
    pub const PROMPT_INJECTION: &str = "prompt-injection";
    pub const CONTRADICTION: &str = "contradiction";
    // Voting-power provenance (docs/verify.md, "Voting-power provenance").
    pub const FLASH_LOAN_VOTES: &str = "flash-loan-votes";
    pub const VOTES_ABOVE_SUPPLY: &str = "votes-above-supply";
    pub const DELEGATION_SPIKE: &str = "delegation-spike";
    pub const FRESH_VOTER: &str = "fresh-voter";
    pub const VOTE_CONCENTRATION: &str = "vote-concentration";
    pub const ESCALATING_RESUBMISSION: &str = "escalating-resubmission";
    pub const FAST_EXECUTION: &str = "fast-execution";

    /// Every kind, for the docs check.
    pub const ALL: &[&str] = &[
        BODY_TRUNCATED,
        TITLE_TRUNCATED,
        INVALID_UTF8,
        TOKEN_TRANSFER,
        ETH_TRANSFER,
        APPROVAL,
        UNLIMITED_APPROVAL,
        MINT,
        UPGRADE,
        PERMISSION_CHANGE,
        GOVERNANCE_CHANGE,
        UNKNOWN_CALL,
        BAD_CALLDATA,
        DELEGATECALL,
        SELFDESTRUCT_CAPABLE,
        UNVERIFIED_TARGET,
        OUTSIDE_CONTROL,
        MISMATCH,
        CODE_CHANGED,
        SIMULATION_FAILED,
        INSPECTION_FAILED,
        PROMPT_INJECTION,
        CONTRADICTION,
        FLASH_LOAN_VOTES,
        VOTES_ABOVE_SUPPLY,
        DELEGATION_SPIKE,
        FRESH_VOTER,
        VOTE_CONCENTRATION,
        ESCALATING_RESUBMISSION,
        FAST_EXECUTION,
    ];
}

#[cfg(test)]
mod tests {
    #[test]
    fn docs_flags_md_lists_every_kind() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/flags.md");
        let doc = std::fs::read_to_string(path).expect("docs/flags.md");
        for k in super::kinds::ALL {
            assert!(
                doc.contains(&format!("| `{k}` |")),
                "docs/flags.md lacks `{k}`"
            );
        }
    }
}
