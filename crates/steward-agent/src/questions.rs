//! Questions: when the agent is unsure and it matters, it asks with everything the user needs —
//! a neutral summary, the strongest arguments each way from the forum discussion, what trusted
//! delegates said or voted, the payload in plain words, what in the user's own history bears on
//! it, the deadline and the agent's current lean. Answers and overrides become profile data at
//! once (a user vote and an answer item), in the same transaction that closes the question.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use steward_core::{AuditRecord, Decision, Proposal, Stance, stance_of};

use crate::decide::ReadableProposal;
use crate::profile::{ItemKind, VoteRecord};
use crate::sources::forum::Post;
use crate::store::{Store, Tx, sql};
use crate::{Error, Result};

/// A question as `steward questions` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Question {
    pub id: i64,
    pub decision_id: i64,
    pub proposal: String,
    pub created: String,
    pub deadline: Option<i64>,
    pub status: QuestionStatus,
    pub answer: Option<String>,
    pub reason: Option<String>,
    pub context: QuestionContext,
}

/// Where a question stands. Stored as its lower-case name (the `questions.status` CHECK
/// constraint lists the same four); `Expired` is also how an open question past its deadline
/// reads, though the row stays `open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionStatus {
    Open,
    Answered,
    Expired,
    Superseded,
}

impl QuestionStatus {
    pub const ALL: [QuestionStatus; 4] = [
        QuestionStatus::Open,
        QuestionStatus::Answered,
        QuestionStatus::Expired,
        QuestionStatus::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QuestionStatus::Open => "open",
            QuestionStatus::Answered => "answered",
            QuestionStatus::Expired => "expired",
            QuestionStatus::Superseded => "superseded",
        }
    }

    /// The status a reader sees at `now`: an open question past its deadline is expired.
    pub fn at(self, deadline: Option<i64>, now: i64) -> Self {
        if self == QuestionStatus::Open && deadline.is_some_and(|d| d < now) {
            QuestionStatus::Expired
        } else {
            self
        }
    }
}

impl std::fmt::Display for QuestionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown question status {0:?} (expected open, answered, expired or superseded)")]
pub struct UnknownQuestionStatus(pub String);

impl std::str::FromStr for QuestionStatus {
    type Err = UnknownQuestionStatus;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        QuestionStatus::ALL
            .into_iter()
            .find(|q| q.as_str() == s)
            .ok_or_else(|| UnknownQuestionStatus(s.to_owned()))
    }
}

impl rusqlite::types::ToSql for QuestionStatus {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for QuestionStatus {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        v.as_str()?
            .parse()
            .map_err(|e| rusqlite::types::FromSqlError::Other(Box::new(e)))
    }
}

// String views, so code that still compares or prints the status as text (the desk's pages)
// keeps working while it moves to the enum.
impl std::ops::Deref for QuestionStatus {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<&str> for QuestionStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A name that is not a status reads as `Superseded`: closed, never answerable and never cast.
impl From<&str> for QuestionStatus {
    fn from(s: &str) -> Self {
        s.parse().unwrap_or(QuestionStatus::Superseded)
    }
}

/// What the user sees to answer well.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QuestionContext {
    pub title: String,
    pub choices: Vec<String>,
    /// Extracted, not generated: the proposal's own opening sentences.
    pub summary: String,
    pub arguments_for: Vec<Argument>,
    pub arguments_against: Vec<Argument>,
    /// Votes and posts of delegates the user trusts or agrees with.
    pub trusted: Vec<String>,
    /// The payload in plain words.
    pub payload: Vec<String>,
    /// What in the user's own history bears on it.
    pub history: Vec<String>,
    pub flags: Vec<String>,
    pub lean: Option<String>,
    pub lean_probability: f64,
    pub why_asking: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Argument {
    pub author: String,
    pub excerpt: String,
}

/// Builds a question's context from the decision, the proposal and its discussion.
pub fn question_context(
    d: &Decision,
    p: &Proposal,
    discussion: &[Post],
    payload: Vec<String>,
) -> QuestionContext {
    let r = ReadableProposal::of(p);
    let summary = opening(&r.body, 3, 500);
    let mut arguments_for = Vec::new();
    let mut arguments_against = Vec::new();
    // Forum posts are untrusted text too: sanitized before they are quoted.
    for post in discussion {
        let text = steward_core::injection::sanitize(&post.text).text;
        let arg = Argument {
            author: post.author.clone(),
            excerpt: opening(&text, 2, 280),
        };
        match stance_of(&text) {
            Stance::For if arguments_for.len() < 3 => arguments_for.push(arg),
            Stance::Against if arguments_against.len() < 3 => arguments_against.push(arg),
            _ => {}
        }
    }
    let trusted = d
        .evidence
        .iter()
        .filter(|e| e.kind == "peer-vote")
        .map(|e| e.excerpt.clone())
        .collect();
    let history = d
        .evidence
        .iter()
        .filter(|e| matches!(e.kind.as_str(), "statement" | "writing" | "vote" | "answer"))
        .take(6)
        .map(|e| format!("{} ({}): {}", e.kind, e.id, e.excerpt))
        .collect();
    QuestionContext {
        title: r.title,
        choices: p.choices.clone(),
        summary,
        arguments_for,
        arguments_against,
        trusted,
        payload,
        history,
        flags: d
            .flags
            .iter()
            .map(|f| format!("{:?} {}: {}", f.severity, f.kind, f.detail).to_lowercase())
            .collect(),
        lean: d.choice.clone(),
        lean_probability: d.confidence,
        why_asking: d.rationale.clone(),
    }
}

/// The payload in plain words, before decoding is available for a call.
pub fn plain_payload(p: &Proposal) -> Vec<String> {
    p.actions
        .iter()
        .map(|a| {
            let f = if a.signature.is_empty() {
                a.calldata.get(..4).map_or_else(
                    || "a plain transfer".to_owned(),
                    |s| format!("function 0x{}", hex::encode(s)),
                )
            } else {
                a.signature.clone()
            };
            format!("calls {f} on {} sending {} wei", a.target, a.value)
        })
        .collect()
}

/// The first `sentences` sentences of `text`, at most `max` characters.
pub(crate) fn opening(text: &str, sentences: usize, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for (i, ch) in text.char_indices() {
        out.push(ch);
        if matches!(ch, '.' | '!' | '?')
            && text[i + ch.len_utf8()..].starts_with(char::is_whitespace)
        {
            count += 1;
            if count >= sentences {
                break;
            }
        }
        if out.len() >= max {
            out.push_str("...");
            break;
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Tx<'_> {
    pub(crate) fn insert_decision(
        &mut self,
        d: &Decision,
        content_hash: &str,
        json: &str,
    ) -> Result<i64> {
        self.sql()
            .execute(
                "INSERT INTO decisions
                   (proposal_key, content_hash, created, action, choice, confidence, importance, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    d.proposal,
                    content_hash,
                    jiff::Timestamp::now().to_string(),
                    d.action.as_str(),
                    d.choice,
                    d.confidence,
                    d.importance,
                    json
                ],
            )
            .map_err(sql(self.path(), "storing a decision"))?;
        Ok(self.sql().last_insert_rowid())
    }

    /// Opens a question, superseding an open one on the same proposal.
    pub(crate) fn open_question(
        &mut self,
        decision_id: i64,
        proposal_key: &str,
        deadline: Option<i64>,
        context: &serde_json::Value,
    ) -> Result<i64> {
        self.sql()
            .execute(
                "UPDATE questions SET status = ?2 WHERE proposal_key = ?1 AND status = ?3",
                params![
                    proposal_key,
                    QuestionStatus::Superseded,
                    QuestionStatus::Open
                ],
            )
            .map_err(sql(self.path(), "superseding a question"))?;
        self.sql()
            .execute(
                "INSERT INTO questions (decision_id, proposal_key, created, deadline, status, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    decision_id,
                    proposal_key,
                    jiff::Timestamp::now().to_string(),
                    deadline,
                    QuestionStatus::Open,
                    context.to_string()
                ],
            )
            .map_err(sql(self.path(), "opening a question"))?;
        let id = self.sql().last_insert_rowid();
        self.audit(
            &AuditRecord::new("question", proposal_key)
                .input("context", context.to_string())
                .detail(serde_json::json!({ "question_id": id, "decision_id": decision_id })),
        )?;
        Ok(id)
    }
}

fn question_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Question, String)> {
    let json: String = r.get(9)?;
    let q = Question {
        id: r.get(0)?,
        decision_id: r.get(1)?,
        proposal: r.get(2)?,
        created: r.get(3)?,
        deadline: r.get(4)?,
        status: r.get(5)?,
        answer: r.get(6)?,
        reason: r.get(7)?,
        // Written by this module from a QuestionContext; an unreadable one shows empty.
        context: serde_json::from_str(&json).unwrap_or_default(),
    };
    Ok((q, json))
}

const QUESTION_COLUMNS: &str =
    "id, decision_id, proposal_key, created, deadline, status, answer, reason, answered, json";

impl Store {
    /// Questions, newest first; only open ones unless `all`. Open questions past their deadline
    /// are reported as expired.
    pub fn questions(&self, all: bool, now: i64) -> Result<Vec<Question>> {
        let q = format!(
            "SELECT {QUESTION_COLUMNS} FROM questions {} ORDER BY id DESC",
            if all { "" } else { "WHERE status = ?1" }
        );
        let mut st = self
            .conn()
            .prepare(&q)
            .map_err(sql(self.path(), "reading questions"))?;
        let rows: Vec<(Question, String)> = if all {
            st.query_map([], question_from_row)
        } else {
            st.query_map([QuestionStatus::Open], question_from_row)
        }
        .and_then(|r| r.collect())
        .map_err(sql(self.path(), "reading questions"))?;
        Ok(rows
            .into_iter()
            .map(|(mut q, _)| {
                q.status = q.status.at(q.deadline, now);
                q
            })
            .collect())
    }

    /// A question by id, or the open question on a proposal (by key).
    pub fn question(&self, id: &str) -> Result<Option<Question>> {
        let row = if let Ok(n) = id.parse::<i64>() {
            self.conn()
                .query_row(
                    &format!("SELECT {QUESTION_COLUMNS} FROM questions WHERE id = ?1"),
                    [n],
                    question_from_row,
                )
                .optional()
        } else {
            self.conn()
                .query_row(
                    &format!(
                        "SELECT {QUESTION_COLUMNS} FROM questions WHERE proposal_key = ?1 ORDER BY id DESC LIMIT 1"
                    ),
                    [id],
                    question_from_row,
                )
                .optional()
        }
        .map_err(sql(self.path(), "reading a question"))?;
        Ok(row.map(|(q, _)| q))
    }

    /// The newest decision on a proposal.
    pub fn latest_decision(&self, proposal_key: &str) -> Result<Option<(i64, Decision)>> {
        let row: Option<(i64, String)> = self
            .conn()
            .query_row(
                "SELECT id, json FROM decisions WHERE proposal_key = ?1 ORDER BY id DESC LIMIT 1",
                [proposal_key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql(self.path(), "reading a decision"))?;
        Ok(row.and_then(|(id, j)| serde_json::from_str(&j).ok().map(|d| (id, d))))
    }

    /// One decision by id.
    pub fn decision(&self, id: i64) -> Result<Option<Decision>> {
        let j: Option<String> = self
            .conn()
            .query_row("SELECT json FROM decisions WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql(self.path(), "reading a decision"))?;
        Ok(j.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Decisions, newest first.
    pub fn decisions(&self, limit: u64) -> Result<Vec<(i64, Decision)>> {
        let mut st = self
            .conn()
            .prepare("SELECT id, json FROM decisions ORDER BY id DESC LIMIT ?1")
            .map_err(sql(self.path(), "reading decisions"))?;
        let rows: Vec<(i64, String)> = st
            .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|r| r.collect())
            .map_err(sql(self.path(), "reading decisions"))?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, j)| serde_json::from_str(&j).ok().map(|d| (id, d)))
            .collect())
    }
}

/// Why an answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("no question {0:?} (see `steward questions --all`)")]
    NoQuestion(String),
    #[error("question {id} was already {status}{}", answer.as_deref().map(|a| format!(" with {a:?}")).unwrap_or_default())]
    Closed {
        id: i64,
        status: QuestionStatus,
        answer: Option<String>,
    },
    #[error("question {id} expired: voting on {proposal} ended")]
    Expired { id: i64, proposal: String },
    #[error("{choice:?} is not a choice of {proposal}; choices: {}", choices.join(", "))]
    BadChoice {
        choice: String,
        proposal: String,
        choices: Vec<String>,
    },
}

/// The choice label `input` names among `choices`: the label (case-insensitive) or its 1-based
/// number.
pub fn resolve_choice(input: &str, choices: &[String]) -> Option<String> {
    let t = input.trim();
    if let Some(c) = choices.iter().find(|c| c.trim().eq_ignore_ascii_case(t)) {
        return Some(c.clone());
    }
    t.parse::<usize>()
        .ok()
        .filter(|k| *k >= 1 && *k <= choices.len())
        .map(|k| choices[k - 1].clone())
}

/// What an answer did.
#[derive(Debug, Clone, Serialize)]
pub struct Answered {
    pub question: i64,
    pub proposal: String,
    pub choice: String,
    pub profile_item: i64,
}

/// Answers question `id` (a number, or a proposal key for its newest question). Exactly one
/// answer wins: the question is closed with `status = 'open'` as the condition, so a second tab
/// or process answering at the same time gets [`AnswerError::Closed`].
pub fn answer(
    store: &mut Store,
    id: &str,
    choice: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<std::result::Result<Answered, AnswerError>> {
    let Some(q) = store.question(id)? else {
        return Ok(Err(AnswerError::NoQuestion(id.to_owned())));
    };
    if q.status != QuestionStatus::Open {
        return Ok(Err(AnswerError::Closed {
            id: q.id,
            status: q.status,
            answer: q.answer,
        }));
    }
    if q.deadline.is_some_and(|d| d < now) {
        return Ok(Err(AnswerError::Expired {
            id: q.id,
            proposal: q.proposal,
        }));
    }
    let Some(label) = resolve_choice(choice, &q.context.choices) else {
        return Ok(Err(AnswerError::BadChoice {
            choice: choice.to_owned(),
            proposal: q.proposal,
            choices: q.context.choices,
        }));
    };
    store.transaction(|tx| {
        let n = tx
            .sql()
            .execute(
                "UPDATE questions SET status = ?5, answer = ?1, reason = ?2, answered = ?3
                 WHERE id = ?4 AND status = ?6",
                params![
                    label,
                    reason,
                    jiff::Timestamp::now().to_string(),
                    q.id,
                    QuestionStatus::Answered,
                    QuestionStatus::Open
                ],
            )
            .map_err(sql(tx.path(), "answering a question"))?;
        if n == 0 {
            return Ok(Err(AnswerError::Closed {
                id: q.id,
                status: QuestionStatus::Answered,
                answer: None,
            }));
        }
        let item = record_user_choice(
            tx,
            ItemKind::Answer,
            &q.proposal,
            &q.context.title,
            &label,
            reason,
            &format!("question {}", q.id),
        )?;
        tx.audit(
            &AuditRecord::new("answer", &q.proposal).detail(serde_json::json!({
                "question_id": q.id,
                "choice": label,
                "profile_item": item,
            })),
        )?;
        Ok(Ok(Answered {
            question: q.id,
            proposal: q.proposal.clone(),
            choice: label.clone(),
            profile_item: item,
        }))
    })
}

/// Records the user's own choice on a proposal (an answer or an override) as a profile item and
/// as the user's vote, so the next decision uses it at once.
pub fn record_user_choice(
    tx: &mut Tx<'_>,
    kind: ItemKind,
    proposal_key: &str,
    title: &str,
    choice: &str,
    reason: Option<&str>,
    origin: &str,
) -> Result<i64> {
    let text = match reason {
        Some(r) => format!("{choice} on \"{title}\": {r}"),
        None => format!("{choice} on \"{title}\""),
    };
    let item = tx.add_profile_item(kind, &text, origin, Some(proposal_key))?;
    tx.insert_profile_votes(&[VoteRecord {
        voter: "me".into(),
        is_user: true,
        proposal_ref: proposal_key.to_owned(),
        title: title.to_owned(),
        choice: choice.to_owned(),
        reason: reason.map(str::to_owned),
        ord: Some(jiff::Timestamp::now().as_second()),
        origin: origin.to_owned(),
    }])?;
    Ok(item)
}

/// Overrides the newest decision on a proposal with the user's own choice.
pub fn override_decision(
    store: &mut Store,
    proposal_key: &str,
    choice: &str,
    reason: Option<&str>,
) -> Result<std::result::Result<Answered, AnswerError>> {
    let Some((decision_id, d)) = store.latest_decision(proposal_key)? else {
        return Err(Error::Source {
            source_name: "override".into(),
            message: format!("no decision on {proposal_key} (see `steward decide`)"),
        });
    };
    let Some(sp) = store.proposal(proposal_key)? else {
        return Err(Error::Source {
            source_name: "override".into(),
            message: format!("no proposal {proposal_key} in the store"),
        });
    };
    let Some(label) = resolve_choice(choice, &sp.proposal.choices) else {
        return Ok(Err(AnswerError::BadChoice {
            choice: choice.to_owned(),
            proposal: proposal_key.to_owned(),
            choices: sp.proposal.choices,
        }));
    };
    store.transaction(|tx| {
        let item = record_user_choice(
            tx,
            ItemKind::Override,
            &sp.key,
            &d.title,
            &label,
            reason,
            &format!("decision {decision_id}"),
        )?;
        // An open question on the proposal is settled by the override.
        tx.sql()
            .execute(
                "UPDATE questions SET status = ?5, answer = ?1, reason = ?2, answered = ?3
                 WHERE proposal_key = ?4 AND status = ?6",
                params![
                    label,
                    reason,
                    jiff::Timestamp::now().to_string(),
                    sp.key,
                    QuestionStatus::Answered,
                    QuestionStatus::Open
                ],
            )
            .map_err(sql(tx.path(), "closing a question"))?;
        tx.audit(
            &AuditRecord::new("override", &sp.key).detail(serde_json::json!({
                "decision_id": decision_id,
                "was": d.choice,
                "choice": label,
                "profile_item": item,
            })),
        )?;
        Ok(Ok(Answered {
            question: 0,
            proposal: sp.key.clone(),
            choice: label.clone(),
            profile_item: item,
        }))
    })
}

impl Store {
    /// Whether a decision was already made on this exact content of the proposal.
    pub fn has_decision_for(&self, proposal_key: &str, content_hash: &str) -> Result<bool> {
        self.conn()
            .query_row(
                "SELECT 1 FROM decisions WHERE proposal_key = ?1 AND content_hash = ?2 LIMIT 1",
                [proposal_key, content_hash],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(sql(self.path(), "reading decisions"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_sql_and_json() {
        let db = rusqlite::Connection::open_in_memory().expect("sqlite");
        for s in QuestionStatus::ALL {
            let back: QuestionStatus = db
                .query_row("SELECT ?1", [s], |r| r.get(0))
                .expect("round trip");
            assert_eq!(back, s);
            let text: String = db.query_row("SELECT ?1", [s], |r| r.get(0)).expect("text");
            assert_eq!(text, s.as_str());
            assert_eq!(
                serde_json::to_value(s).expect("json"),
                serde_json::json!(s.as_str())
            );
        }
    }

    #[test]
    fn an_unknown_status_in_the_store_is_an_error_naming_it() {
        let db = rusqlite::Connection::open_in_memory().expect("sqlite");
        let e = db
            .query_row("SELECT 'pending'", [], |r| r.get::<_, QuestionStatus>(0))
            .expect_err("not a status");
        assert!(e.to_string().contains("\"pending\""), "{e}");
    }

    #[test]
    fn an_open_question_past_its_deadline_reads_expired() {
        assert_eq!(
            QuestionStatus::Open.at(Some(10), 11),
            QuestionStatus::Expired
        );
        assert_eq!(QuestionStatus::Open.at(Some(10), 10), QuestionStatus::Open);
        assert_eq!(QuestionStatus::Open.at(None, 11), QuestionStatus::Open);
        assert_eq!(
            QuestionStatus::Answered.at(Some(10), 11),
            QuestionStatus::Answered
        );
    }
}
