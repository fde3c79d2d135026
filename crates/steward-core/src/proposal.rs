//! The normalized proposal: one shape for whatever a source sends.
//!
//! Sources (Snapshot, Governors, mail, files) parse their own formats and build a [`Proposal`];
//! [`Proposal::normalize`] then applies the limits every proposal must meet, so a 100k-choice or
//! 50 MB proposal is refused or truncated in one place, the same way for all sources.

use std::fmt;
use std::str::FromStr;

use alloy_primitives::{Address, Bytes, U256};
use serde::{Deserialize, Serialize};

use crate::flag::{Flag, Severity};

/// Where a proposal comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    /// A Snapshot space, e.g. `lido-snapshot.eth`.
    Snapshot { space: String },
    /// An on-chain Governor (OpenZeppelin or Compound Bravo).
    Governor { chain_id: u64, governor: Address },
    /// A mailbox (maildir or mbox path, or IMAP `user@host/folder`).
    Mail { mailbox: String },
    /// A file given to `steward ingest file`.
    File { path: String },
}

/// Snapshot's six voting types; on-chain Governors vote `basic` (For / Against / Abstain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VotingType {
    SingleChoice,
    Approval,
    Quadratic,
    RankedChoice,
    Weighted,
    Basic,
}

impl VotingType {
    pub const ALL: [Self; 6] = [
        Self::SingleChoice,
        Self::Approval,
        Self::Quadratic,
        Self::RankedChoice,
        Self::Weighted,
        Self::Basic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SingleChoice => "single-choice",
            Self::Approval => "approval",
            Self::Quadratic => "quadratic",
            Self::RankedChoice => "ranked-choice",
            Self::Weighted => "weighted",
            Self::Basic => "basic",
        }
    }
}

impl FromStr for VotingType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown voting type {s:?} (expected one of single-choice, approval, quadratic, ranked-choice, weighted, basic)"
                )
            })
    }
}

impl fmt::Display for VotingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lifecycle state, the union of Snapshot's and OpenZeppelin Governor's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProposalState {
    Pending,
    Active,
    Closed,
    Canceled,
    Defeated,
    Succeeded,
    Queued,
    Expired,
    Executed,
}

impl ProposalState {
    /// Whether votes can still be cast.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Active)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Closed => "closed",
            Self::Canceled => "canceled",
            Self::Defeated => "defeated",
            Self::Succeeded => "succeeded",
            Self::Queued => "queued",
            Self::Expired => "expired",
            Self::Executed => "executed",
        }
    }

    /// OpenZeppelin `IGovernor.ProposalState` (also Bravo's, which adds nothing we need).
    pub fn from_governor(n: u8) -> Option<Self> {
        Some(match n {
            0 => Self::Pending,
            1 => Self::Active,
            2 => Self::Canceled,
            3 => Self::Defeated,
            4 => Self::Succeeded,
            5 => Self::Queued,
            6 => Self::Expired,
            7 => Self::Executed,
            _ => return None,
        })
    }
}

impl FromStr for ProposalState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase()))
            .map_err(|_| format!("unknown proposal state {s:?}"))
    }
}

/// One call an on-chain proposal makes when executed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Action {
    pub target: Address,
    pub value: U256,
    /// Bravo-style function signature (`transfer(address,uint256)`); empty for OpenZeppelin,
    /// whose calldata carries the selector.
    pub signature: String,
    pub calldata: Bytes,
}

/// A proposal from any source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub source: Source,
    /// The source's own id: Snapshot's proposal id, the Governor's proposalId (decimal), a mail
    /// Message-ID.
    pub id: String,
    pub title: String,
    pub body: String,
    pub choices: Vec<String>,
    pub voting: VotingType,
    /// Unix seconds.
    pub created: Option<i64>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// The block whose balances count (Snapshot `snapshot`, Governor `proposalSnapshot`).
    pub snapshot: Option<u64>,
    pub author: Option<String>,
    pub discussion: Option<String>,
    pub state: ProposalState,
    pub actions: Vec<Action>,
    /// What normalization had to do (truncation, replaced bytes).
    #[serde(default)]
    pub flags: Vec<Flag>,
}

/// Limits every proposal is held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_title_bytes: usize,
    pub max_choices: usize,
    pub max_choice_bytes: usize,
    pub max_actions: usize,
    pub max_calldata_bytes: usize,
    pub max_id_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            max_title_bytes: 1024,
            max_choices: 1000,
            max_choice_bytes: 1024,
            max_actions: 256,
            max_calldata_bytes: 1 << 20,
            max_id_bytes: 256,
        }
    }
}

/// A field that cannot be accepted. Sources add the source and item to make the full message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl Proposal {
    /// The identity used for dedupe across sources and runs.
    pub fn key(&self) -> String {
        match &self.source {
            Source::Snapshot { space } => format!("snapshot:{space}:{}", self.id),
            Source::Governor { chain_id, governor } => {
                format!("governor:{chain_id}:{governor:#x}:{}", self.id)
            }
            Source::Mail { .. } => format!("mail:{}", self.id),
            Source::File { .. } => format!("file:{}", self.id),
        }
    }

    /// SHA-256 (hex) of what the proposal says — not of its state, which changes as it runs.
    pub fn content_hash(&self) -> String {
        #[derive(Serialize)]
        struct Content<'a> {
            key: String,
            title: &'a str,
            body: &'a str,
            choices: &'a [String],
            voting: VotingType,
            start: Option<i64>,
            end: Option<i64>,
            snapshot: Option<u64>,
            author: Option<&'a str>,
            discussion: Option<&'a str>,
            actions: &'a [Action],
        }
        let c = Content {
            key: self.key(),
            title: &self.title,
            body: &self.body,
            choices: &self.choices,
            voting: self.voting,
            start: self.start,
            end: self.end,
            snapshot: self.snapshot,
            author: self.author.as_deref(),
            discussion: self.discussion.as_deref(),
            actions: &self.actions,
        };
        crate::sha256_hex(serde_json::to_vec(&c).unwrap_or_default())
    }

    /// Applies `limits`: refuses what cannot be a real proposal, truncates an oversized body
    /// (flagged), and checks the fields relate sensibly.
    pub fn normalize(mut self, limits: &Limits) -> Result<Self, FieldError> {
        if self.id.trim().is_empty() {
            return Err(FieldError::new("id", "is empty"));
        }
        if self.id.len() > limits.max_id_bytes {
            return Err(FieldError::new(
                "id",
                format!("is {} bytes, limit {}", self.id.len(), limits.max_id_bytes),
            ));
        }
        if self.title.len() > limits.max_title_bytes {
            let cut = floor_char_boundary(&self.title, limits.max_title_bytes);
            self.title.truncate(cut);
            self.flags.push(Flag::new(
                "title-truncated",
                Severity::Info,
                format!("title cut to {cut} bytes"),
            ));
        }
        if self.body.len() > limits.max_body_bytes {
            let original = self.body.len();
            let cut = floor_char_boundary(&self.body, limits.max_body_bytes);
            self.body.truncate(cut);
            self.flags.push(Flag::new(
                "body-truncated",
                Severity::Warn,
                format!(
                    "body of {original} bytes cut to {cut} (limit {})",
                    limits.max_body_bytes
                ),
            ));
        }
        if self.choices.len() > limits.max_choices {
            return Err(FieldError::new(
                "choices",
                format!(
                    "{} choices, limit {}",
                    self.choices.len(),
                    limits.max_choices
                ),
            ));
        }
        if let Some((i, c)) = self
            .choices
            .iter()
            .enumerate()
            .find(|(_, c)| c.len() > limits.max_choice_bytes)
        {
            return Err(FieldError::new(
                format!("choices[{i}]"),
                format!("is {} bytes, limit {}", c.len(), limits.max_choice_bytes),
            ));
        }
        if self.choices.is_empty() {
            return Err(FieldError::new("choices", "no choices to vote on"));
        }
        if self.voting == VotingType::Basic && !(2..=3).contains(&self.choices.len()) {
            return Err(FieldError::new(
                "choices",
                format!(
                    "basic voting has 2 or 3 choices (For, Against, Abstain), got {}",
                    self.choices.len()
                ),
            ));
        }
        if self.actions.len() > limits.max_actions {
            return Err(FieldError::new(
                "actions",
                format!(
                    "{} actions, limit {}",
                    self.actions.len(),
                    limits.max_actions
                ),
            ));
        }
        if let Some((i, a)) = self
            .actions
            .iter()
            .enumerate()
            .find(|(_, a)| a.calldata.len() > limits.max_calldata_bytes)
        {
            return Err(FieldError::new(
                format!("actions[{i}].calldata"),
                format!(
                    "is {} bytes, limit {}",
                    a.calldata.len(),
                    limits.max_calldata_bytes
                ),
            ));
        }
        if let (Some(s), Some(e)) = (self.start, self.end)
            && e < s
        {
            return Err(FieldError::new(
                "end",
                format!("ends ({e}) before it starts ({s})"),
            ));
        }
        Ok(self)
    }
}

/// Decodes bytes as UTF-8, replacing invalid sequences; the flag says where it happened.
pub fn lossy_utf8(field: &str, bytes: &[u8]) -> (String, Option<Flag>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), None),
        Err(e) => (
            String::from_utf8_lossy(bytes).into_owned(),
            Some(Flag::new(
                "invalid-utf8",
                Severity::Warn,
                format!(
                    "{field}: invalid UTF-8 at byte {} replaced with U+FFFD",
                    e.valid_up_to()
                ),
            )),
        ),
    }
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn sample() -> Proposal {
        Proposal {
            source: Source::Snapshot {
                space: "lido-snapshot.eth".into(),
            },
            id: "0xabc".into(),
            title: "Fund the thing".into(),
            body: "We ask for 250,000 LDO.".into(),
            choices: vec!["For".into(), "Against".into()],
            voting: VotingType::SingleChoice,
            created: Some(1),
            start: Some(10),
            end: Some(20),
            snapshot: Some(123),
            author: Some("0x0000000000000000000000000000000000000001".into()),
            discussion: None,
            state: ProposalState::Active,
            actions: vec![],
            flags: vec![],
        }
    }

    #[test]
    fn content_hash_ignores_state_but_not_content() {
        let a = sample();
        let mut b = a.clone();
        b.state = ProposalState::Closed;
        assert_eq!(a.content_hash(), b.content_hash());
        b.body.push('!');
        assert_ne!(a.content_hash(), b.content_hash());
    }

    #[test]
    fn limits_refuse_absurd_proposals_and_name_the_field() {
        let l = Limits::default();
        type Edit = Box<dyn Fn(&mut Proposal)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|p| p.choices = vec!["x".into(); 100_000]),
                "choices",
            ),
            (Box::new(|p| p.choices = vec![]), "choices"),
            (Box::new(|p| p.choices[1] = "y".repeat(5000)), "choices[1]"),
            (Box::new(|p| p.id = String::new()), "id"),
            (Box::new(|p| p.end = Some(1)), "end"),
            (
                Box::new(|p| {
                    p.voting = VotingType::Basic;
                    p.choices = vec!["a".into(); 7];
                }),
                "choices",
            ),
        ];
        for (edit, field) in cases {
            let mut p = sample();
            edit(&mut p);
            let err = p.normalize(&l).expect_err(field);
            assert_eq!(err.field, field);
        }
    }

    #[test]
    fn oversized_body_is_truncated_on_a_char_boundary_and_flagged() {
        let l = Limits {
            max_body_bytes: 10,
            ..Limits::default()
        };
        let mut p = sample();
        p.body = "ééééééééé".into(); // 18 bytes
        let p = p.normalize(&l).expect("accepted");
        assert_eq!(p.body, "ééééé");
        assert_eq!(p.flags[0].kind, "body-truncated");
    }

    #[test]
    fn lossy_utf8_flags_the_offset() {
        let (s, flag) = lossy_utf8("body", b"ok\xffok");
        assert_eq!(s, "ok\u{fffd}ok");
        assert!(flag.expect("flag").detail.contains("byte 2"));
        assert!(lossy_utf8("body", b"fine").1.is_none());
    }

    #[test]
    fn voting_types_round_trip() {
        for t in VotingType::ALL {
            assert_eq!(t.as_str().parse::<VotingType>(), Ok(t));
            assert_eq!(serde_json::to_value(t).expect("json"), t.as_str());
        }
        assert!("plurality".parse::<VotingType>().is_err());
    }

    proptest! {
        #[test]
        fn normalize_never_panics_and_respects_the_body_limit(body in ".{0,400}", limit in 1usize..300) {
            let l = Limits { max_body_bytes: limit, ..Limits::default() };
            let mut p = sample();
            p.body = body;
            let p = p.normalize(&l).expect("only the body varies");
            prop_assert!(p.body.len() <= limit);
        }
    }
}
