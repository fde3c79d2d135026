//! The digest: every proposal a round neither voted nor asked about, one line each, so that a
//! question the budget cut is listed where the user can scan it, never dropped in silence
//! (issue 15 item 5; the budget itself is `pipeline::budget`). A line is stored in the same
//! transaction as its decision: a crash between the two cannot lose it.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::store::{Store, Tx, sql};

/// Migration: the digest table.
pub(crate) const MIGRATION: &str = r#"
-- Proposals a round neither voted nor asked about (digest.rs, pipeline/budget.rs).
CREATE TABLE digest (
    id           INTEGER PRIMARY KEY,
    decision_id  INTEGER NOT NULL REFERENCES decisions (id),
    proposal_key TEXT NOT NULL,
    title        TEXT NOT NULL,
    created      TEXT NOT NULL,
    created_unix INTEGER NOT NULL,
    deadline     INTEGER,              -- unix seconds: the proposal's end
    why          TEXT NOT NULL CHECK (why IN ('over-budget', 'policy-skip')),
    outcome      TEXT NOT NULL CHECK (outcome IN ('skipped', 'abstained')),
    lean         TEXT,
    confidence   REAL NOT NULL,
    importance   REAL NOT NULL,
    score        REAL NOT NULL         -- what an answer would have taught (pipeline/budget.rs)
) STRICT;
CREATE INDEX digest_created ON digest (created_unix);
"#;

/// Why a proposal was neither voted nor asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unasked {
    /// The policy would ask, but the budget was spent on questions that teach more.
    OverBudget,
    /// The policy skips it (unsure and unimportant) and it was not picked to learn from.
    PolicySkip,
}

impl Unasked {
    pub fn as_str(self) -> &'static str {
        match self {
            Unasked::OverBudget => "over-budget",
            Unasked::PolicySkip => "policy-skip",
        }
    }

    /// In words, for the digest's readers.
    pub fn words(self) -> &'static str {
        match self {
            Unasked::OverBudget => "over the question budget",
            Unasked::PolicySkip => "unsure, low importance",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Unasked::OverBudget, Unasked::PolicySkip]
            .into_iter()
            .find(|u| u.as_str() == s)
    }
}

/// What the agent did with a digest proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Skipped,
    /// Voted Abstain under `decide.unasked = "abstain"`.
    Abstained,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Skipped => "skipped",
            Outcome::Abstained => "abstained",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Outcome::Skipped, Outcome::Abstained]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// One line of the digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestLine {
    pub proposal: String,
    pub title: String,
    /// The proposal's end, unix seconds.
    pub deadline: Option<i64>,
    pub why: Unasked,
    pub outcome: Outcome,
    /// The agent's lean, with its confidence.
    pub lean: Option<String>,
    pub confidence: f64,
    pub importance: f64,
    /// What an answer would have taught (the budget's ranking score).
    pub score: f64,
}

/// A text column's value as the enum it names. The table's CHECK constraints keep both columns
/// to those values; anything else is a damaged store.
fn column<T>(v: Option<T>, index: usize) -> rusqlite::Result<T> {
    v.ok_or_else(|| {
        rusqlite::Error::InvalidColumnType(index, "digest".into(), rusqlite::types::Type::Text)
    })
}

impl Tx<'_> {
    pub(crate) fn insert_digest(&mut self, decision_id: i64, line: &DigestLine) -> Result<()> {
        let now = jiff::Timestamp::now();
        self.sql()
            .execute(
                "INSERT INTO digest (decision_id, proposal_key, title, created, created_unix,
                   deadline, why, outcome, lean, confidence, importance, score)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    decision_id,
                    line.proposal,
                    line.title,
                    now.to_string(),
                    now.as_second(),
                    line.deadline,
                    line.why.as_str(),
                    line.outcome.as_str(),
                    line.lean,
                    line.confidence,
                    line.importance,
                    line.score,
                ],
            )
            .map_err(sql(self.path(), "storing a digest line"))?;
        Ok(())
    }
}

impl Store {
    /// Digest lines written at or after `since` (unix seconds), newest first.
    pub fn digest(&self, since: i64) -> Result<Vec<DigestLine>> {
        let mut st = self
            .conn()
            .prepare(
                "SELECT proposal_key, title, deadline, why, outcome, lean, confidence, importance,
                        score
                 FROM digest WHERE created_unix >= ?1 ORDER BY id DESC",
            )
            .map_err(sql(self.path(), "reading the digest"))?;
        st.query_map([since], |r| {
            let why: String = r.get(3)?;
            let outcome: String = r.get(4)?;
            Ok(DigestLine {
                proposal: r.get(0)?,
                title: r.get(1)?,
                deadline: r.get(2)?,
                why: column(Unasked::parse(&why), 3)?,
                outcome: column(Outcome::parse(&outcome), 4)?,
                lean: r.get(5)?,
                confidence: r.get(6)?,
                importance: r.get(7)?,
                score: r.get(8)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(sql(self.path(), "reading the digest"))
    }

    /// Questions opened at or after `since` (unix seconds), whatever became of them since: the
    /// day's question budget counts what reached the user, answered or not.
    pub fn questions_opened_since(&self, since: i64) -> Result<u32> {
        let mut st = self
            .conn()
            .prepare("SELECT created FROM questions ORDER BY id DESC")
            .map_err(sql(self.path(), "counting questions"))?;
        let created: Vec<String> = st
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(sql(self.path(), "counting questions"))?;
        // Newest first: stop at the first one older than `since`.
        let n = created
            .iter()
            .map(|c| c.parse::<jiff::Timestamp>().map_or(0, |t| t.as_second()))
            .take_while(|t| *t >= since)
            .count();
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}
