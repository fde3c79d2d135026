//! Questions reach the user outside the desk: a notice when a question opens and reminders as
//! its deadline nears, by webhook (POST JSON) or mail (SMTP), each through [`crate::Network`].
//!
//! Escalation is a pure function of (question status, deadline, now, reminder offsets): the
//! question is at the latest step whose time has come ([`current_step`]). Each (question, step,
//! channel) is sent at most once as a step: the row in `notices` is written as an intent
//! (`pending`) before sending and marked `sent` after, so a crash between the two leaves a
//! pending row that the next round sends again with the same notice id and Message-ID
//! (at-least-once; the receiver can drop the repeat by that id). Steps a later one made moot (the
//! `opened` notice of a question first seen 1 h before its deadline) are recorded `covered`,
//! never sent: one round sends at most one notice per question and channel.
//!
//! Privacy: a [`Notice`] is built only from the fields `notify.include` allows ([`Field`]); the
//! question's history, the decision's evidence and rationale, the user's writing and keys are
//! not fields and so cannot be sent.

mod send;

use std::collections::HashSet;

use rusqlite::params;
use serde::Serialize;
use steward_core::{AuditRecord, Proposal, Source};

use crate::config::Config;
use crate::net::Network;
use crate::questions::{Question, QuestionStatus};
use crate::store::{Store, sql};

pub use send::{MailSender, WebhookSender, webhook_secret, webhook_signature};

/// The store's `notices` table (one element of the store's MIGRATIONS).
pub(crate) const MIGRATION: &str = r#"
-- One row per (question, escalation step, channel): written `pending` before the notice is sent
-- and `sent` after (crates/steward-agent/src/notify/); `covered` for a step a later one made moot.
CREATE TABLE notices (
    question_id INTEGER NOT NULL REFERENCES questions (id),
    step        TEXT NOT NULL,         -- 'opened' or 'reminder-<seconds before the deadline>s'
    channel     TEXT NOT NULL CHECK (channel IN ('webhook', 'mail')),
    state       TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'covered')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    created     INTEGER NOT NULL,      -- unix seconds of the round that recorded it
    sent        INTEGER,               -- unix seconds, once sent
    error       TEXT,                  -- the last failure, while pending
    PRIMARY KEY (question_id, step, channel)
) STRICT;
"#;

/// The JSON schema name of a notice.
pub const SCHEMA: &str = "steward.notice/1";

/// Where a notice goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Webhook,
    Mail,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Mail => "mail",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A step of a question's escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// The question is open.
    Opened,
    /// The deadline is `before` seconds away (or less).
    Reminder { before: i64 },
}

impl Step {
    /// The stored name: `opened`, `reminder-86400s`.
    pub fn key(self) -> String {
        match self {
            Step::Opened => "opened".into(),
            Step::Reminder { before } => format!("reminder-{before}s"),
        }
    }

    fn parse(s: &str) -> Option<Self> {
        if s == "opened" {
            return Some(Step::Opened);
        }
        s.strip_prefix("reminder-")?
            .strip_suffix('s')?
            .parse()
            .ok()
            .map(|before| Step::Reminder { before })
    }

    /// When the step comes, for a question closing at `deadline`.
    fn at(self, deadline: Option<i64>) -> i64 {
        match (self, deadline) {
            (Step::Reminder { before }, Some(d)) => d.saturating_sub(before),
            _ => i64::MIN,
        }
    }
}

/// The step a question is at, at `now`: the latest whose time has come. `None` when there is
/// nothing to say: the question is answered, superseded or past its deadline.
pub fn current_step(
    status: QuestionStatus,
    deadline: Option<i64>,
    now: i64,
    reminders: &[i64],
) -> Option<Step> {
    if status.at(deadline, now) != QuestionStatus::Open {
        return None;
    }
    let Some(d) = deadline else {
        return Some(Step::Opened);
    };
    Some(
        reminders
            .iter()
            .copied()
            .filter(|before| d.saturating_sub(*before) <= now)
            .min()
            .map_or(Step::Opened, |before| Step::Reminder { before }),
    )
}

/// What one channel does for one question this round: send `send`, and record `covered` (earlier
/// steps never sent) as said by it. `None` when `current` was already sent (or covered).
pub fn plan(
    current: Step,
    deadline: Option<i64>,
    reminders: &[i64],
    done: &HashSet<Step>,
) -> Option<(Step, Vec<Step>)> {
    if done.contains(&current) {
        return None;
    }
    let when = current.at(deadline);
    let mut covered: Vec<Step> = std::iter::once(Step::Opened)
        .chain(reminders.iter().map(|&before| Step::Reminder { before }))
        .filter(|s| *s != current && s.at(deadline) <= when && !done.contains(s))
        .collect();
    covered.dedup();
    Some((current, covered))
}

/// A field a notice may carry. Anything not listed here (the question's history, the trusted
/// delegates' lines, the decision's rationale and evidence, the profile, keys) is never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Title,
    /// The DAO: Snapshot space or Governor (`mail`/`file` for those sources: their paths and
    /// mailboxes are the user's).
    Space,
    Deadline,
    /// The agent's lean and its confidence.
    Lean,
    /// How to answer: the `steward answer` command and the desk's page.
    Command,
    Choices,
    /// The proposal's own opening sentences (public text).
    Summary,
    /// The payload's flags (public facts about the proposal).
    Flags,
}

impl Field {
    pub const ALL: [Field; 8] = [
        Field::Title,
        Field::Space,
        Field::Deadline,
        Field::Lean,
        Field::Command,
        Field::Choices,
        Field::Summary,
        Field::Flags,
    ];
    /// `notify.include`'s default.
    pub const DEFAULT: [Field; 5] = [
        Field::Title,
        Field::Space,
        Field::Deadline,
        Field::Lean,
        Field::Command,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Space => "space",
            Field::Deadline => "deadline",
            Field::Lean => "lean",
            Field::Command => "command",
            Field::Choices => "choices",
            Field::Summary => "summary",
            Field::Flags => "flags",
        }
    }

    /// Parses `notify.include`; the error names the entry and, for private data, says so.
    pub fn parse_all(names: &[String]) -> Result<Vec<Field>, crate::InvalidValue> {
        Self::parse_all_str(names).map_err(crate::InvalidValue)
    }

    fn parse_all_str(names: &[String]) -> Result<Vec<Field>, String> {
        const PRIVATE: &[&str] = &[
            "history",
            "writing",
            "statements",
            "evidence",
            "why",
            "rationale",
            "trusted",
            "arguments",
            "profile",
            "keys",
        ];
        let allowed = || {
            Field::ALL
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        names
            .iter()
            .map(|n| {
                let n = n.trim();
                Field::ALL
                    .into_iter()
                    .find(|f| f.name() == n)
                    .ok_or_else(|| {
                        if PRIVATE.contains(&n) {
                            format!("{n:?} is private and never sent; allowed: {}", allowed())
                        } else {
                            format!("unknown field {n:?}; allowed: {}", allowed())
                        }
                    })
            })
            .collect()
    }
}

/// Parses `notify.reminders` ("24h", "2h 30m") into seconds before the deadline.
pub fn parse_reminders(list: &[String]) -> Result<Vec<i64>, crate::InvalidValue> {
    parse_reminders_str(list).map_err(crate::InvalidValue)
}

fn parse_reminders_str(list: &[String]) -> Result<Vec<i64>, String> {
    list.iter()
        .map(|r| {
            r.trim()
                .parse::<jiff::SignedDuration>()
                .ok()
                .map(|d| d.as_secs())
                .filter(|s| *s > 0)
                .ok_or_else(|| {
                    format!("{r:?} is not a positive duration (like \"24h\" or \"2h 30m\")")
                })
        })
        .collect()
}

/// What a notice says: only the allowed fields, each `None` when not included.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    pub schema: &'static str,
    /// Stable across retries of the same step: `steward-q<question>-<step>`.
    pub id: String,
    pub question: i64,
    /// `opened` or `reminder`.
    pub step: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_deadline_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub space: Option<String>,
    /// RFC 3339, UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lean: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<Vec<String>>,
}

impl Notice {
    /// The notice for `q` at `step`, holding only `include`.
    pub fn build(
        q: &Question,
        proposal: Option<&Proposal>,
        step: Step,
        include: &[Field],
        desk: Option<&str>,
    ) -> Self {
        let has = |f: Field| include.contains(&f);
        let c = &q.context;
        Notice {
            schema: SCHEMA,
            id: format!("steward-q{}-{}", q.id, step.key()),
            question: q.id,
            step: match step {
                Step::Opened => "opened",
                Step::Reminder { .. } => "reminder",
            },
            before_deadline_secs: match step {
                Step::Reminder { before } => Some(before),
                Step::Opened => None,
            },
            title: has(Field::Title).then(|| c.title.clone()),
            space: proposal.filter(|_| has(Field::Space)).map(space_of),
            deadline: q
                .deadline
                .filter(|_| has(Field::Deadline))
                .and_then(|d| jiff::Timestamp::from_second(d).ok())
                .map(|t| t.to_string()),
            lean: c.lean.clone().filter(|_| has(Field::Lean)),
            confidence: (has(Field::Lean) && c.lean.is_some()).then_some(c.lean_probability),
            command: has(Field::Command).then(|| {
                let choice = c.choices.first().map_or("CHOICE", String::as_str);
                format!(
                    "steward answer {} {:?}  (choices: {})",
                    q.id,
                    choice,
                    c.choices.join(" | ")
                )
            }),
            desk: desk
                .filter(|_| has(Field::Command))
                .map(|d| format!("{d}/questions/{}", q.id)),
            choices: has(Field::Choices).then(|| c.choices.clone()),
            summary: has(Field::Summary).then(|| c.summary.clone()),
            flags: has(Field::Flags).then(|| c.flags.clone()),
        }
    }

    /// The mail subject.
    pub fn subject(&self) -> String {
        let what = self
            .title
            .clone()
            .unwrap_or_else(|| format!("question {}", self.question));
        match self.before_deadline_secs {
            Some(s) => format!("Steward reminder, {} left: {what}", span(s)),
            None => format!("Steward asks: {what}"),
        }
    }

    /// The mail body, plain text.
    pub fn text(&self) -> String {
        let mut s = match self.before_deadline_secs {
            Some(b) => format!(
                "Question {} is still open and voting closes in {} or less.\n\n",
                self.question,
                span(b)
            ),
            None => format!(
                "Steward is not sure how you would vote and asks you (question {}).\n\n",
                self.question
            ),
        };
        let mut line = |k: &str, v: &str| s.push_str(&format!("{k:<11}{v}\n"));
        if let Some(t) = &self.title {
            line("Proposal", t);
        }
        if let Some(v) = &self.space {
            line("DAO", v);
        }
        if let Some(v) = &self.deadline {
            line("Deadline", v);
        }
        if let Some(v) = &self.lean {
            line(
                "Leaning",
                &format!("{v} ({:.0}%)", self.confidence.unwrap_or(0.0) * 100.0),
            );
        }
        if let Some(v) = &self.choices {
            line("Choices", &v.join(" | "));
        }
        if let Some(v) = &self.flags {
            for f in v {
                line("Flag", f);
            }
        }
        if let Some(v) = &self.summary {
            s.push_str(&format!("\n{v}\n"));
        }
        if let Some(v) = &self.command {
            s.push_str(&format!("\nAnswer with:\n  {v}\n"));
        }
        if let Some(v) = &self.desk {
            s.push_str(&format!("or on the review desk: {v}\n"));
        }
        s
    }
}

/// `86400` -> `24h`, `9000` -> `2h 30m`.
fn span(secs: i64) -> String {
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    match (h, m) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m}m"),
    }
}

/// The DAO a proposal belongs to, as a notice names it.
fn space_of(p: &Proposal) -> String {
    match &p.source {
        Source::Snapshot { space } => space.clone(),
        Source::Governor { chain_id, governor } => {
            format!("governor {governor:#x} on chain {chain_id}")
        }
        // A mailbox or a path is the user's own: not named.
        Source::Mail { .. } => "mail".into(),
        Source::File { .. } => "file".into(),
    }
}

/// Errors of notices; each names the channel and the host, never a URL's path or a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    #[error("notify {channel} to {host}: refused by the allowlist")]
    Refused {
        channel: Channel,
        host: String,
        #[source]
        source: Box<crate::Error>,
    },
    #[error("notify {channel} to {host}: {what}")]
    Send {
        channel: Channel,
        host: String,
        what: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("notify mail: no password for {user}: {why}")]
    Password { user: String, why: String },
    #[error("notify: {0}")]
    Config(String),
}

/// One configured channel.
#[derive(Debug)]
pub enum Sender {
    Webhook(WebhookSender),
    Mail(MailSender),
}

impl Sender {
    pub fn channel(&self) -> Channel {
        match self {
            Sender::Webhook(_) => Channel::Webhook,
            Sender::Mail(_) => Channel::Mail,
        }
    }

    pub async fn send(&self, n: &Notice, now: i64) -> Result<(), NotifyError> {
        match self {
            Sender::Webhook(w) => w.send(n).await,
            Sender::Mail(m) => m.send(n, now).await,
        }
    }
}

/// What a notify stage did.
#[derive(Debug, Default, Serialize)]
pub struct NotifyReport {
    /// One line per notice sent: `webhook: question 3 opened`.
    pub sent: Vec<String>,
    pub errors: Vec<String>,
}

/// The configured channels, the fields they may carry and the reminder offsets.
#[derive(Debug)]
pub struct Notifier {
    senders: Vec<Sender>,
    include: Vec<Field>,
    reminders: Vec<i64>,
    desk: Option<String>,
}

impl Notifier {
    /// The notifier of `cfg`, or `None` when no channel is configured. `secret` reads the
    /// environment (the mail password's variable).
    pub fn from_config(
        cfg: &Config,
        net: &Network,
        secret: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, NotifyError> {
        let n = &cfg.notify;
        let mut senders = Vec::new();
        if let Some(url) = &n.webhook {
            let key = secret(crate::env::STEWARD_NOTIFY_WEBHOOK_SECRET)
                .map(|s| send::webhook_secret(&s))
                .transpose()?;
            senders.push(Sender::Webhook(WebhookSender::new(net, url, key)?));
        }
        if let Some(m) = &n.mail {
            senders.push(Sender::Mail(MailSender::new(net, m, secret)?));
        }
        if senders.is_empty() {
            return Ok(None);
        }
        // The desk's page, when it has a fixed address.
        let desk = cfg
            .web
            .bind
            .parse::<std::net::SocketAddr>()
            .ok()
            .filter(|a| a.port() != 0)
            .map(|a| format!("http://{a}"));
        Ok(Some(Self::new(
            senders,
            Field::parse_all(&n.include).map_err(|e| NotifyError::Config(e.0))?,
            parse_reminders(&n.reminders).map_err(|e| NotifyError::Config(e.0))?,
            desk,
        )))
    }

    pub fn new(
        senders: Vec<Sender>,
        include: Vec<Field>,
        reminders: Vec<i64>,
        desk: Option<String>,
    ) -> Self {
        Self {
            senders,
            include,
            reminders,
            desk,
        }
    }

    pub fn channels(&self) -> Vec<Channel> {
        self.senders.iter().map(Sender::channel).collect()
    }

    /// The notify stage of a round, at `now` (unix seconds): for every open question and every
    /// channel, the step due and not yet sent, recorded before and after sending.
    pub async fn round(&self, store: &mut Store, now: i64) -> NotifyReport {
        let mut r = NotifyReport::default();
        let questions = match store.questions(false, now) {
            Ok(q) => q,
            Err(e) => {
                r.errors.push(format!(
                    "notify: reading questions: {}",
                    crate::pipeline::chain(&e)
                ));
                return r;
            }
        };
        for q in questions {
            let Some(current) = current_step(q.status, q.deadline, now, &self.reminders) else {
                continue;
            };
            let proposal = store
                .proposal(&q.proposal)
                .ok()
                .flatten()
                .map(|sp| sp.proposal);
            let notice = Notice::build(
                &q,
                proposal.as_ref(),
                current,
                &self.include,
                self.desk.as_deref(),
            );
            for sender in &self.senders {
                let channel = sender.channel();
                if let Err(e) = self
                    .one(store, sender, &q, current, &notice, now, &mut r)
                    .await
                {
                    r.errors.push(format!(
                        "notify {channel}: question {}: {}",
                        q.id,
                        crate::pipeline::chain(&e)
                    ));
                }
            }
        }
        r
    }

    #[allow(clippy::too_many_arguments)]
    async fn one(
        &self,
        store: &mut Store,
        sender: &Sender,
        q: &Question,
        current: Step,
        notice: &Notice,
        now: i64,
        r: &mut NotifyReport,
    ) -> crate::Result<()> {
        let channel = sender.channel();
        let done = store.notices_done(q.id, channel)?;
        let Some((step, covered)) = plan(current, q.deadline, &self.reminders, &done) else {
            return Ok(());
        };
        // The intent first: a crash after sending leaves it pending, and the next round sends
        // the same notice again (same id) rather than losing it.
        store.transaction(|tx| {
            for c in &covered {
                tx.sql()
                    .execute(
                        "INSERT INTO notices (question_id, step, channel, state, created)
                         VALUES (?1, ?2, ?3, 'covered', ?4)
                         ON CONFLICT DO UPDATE SET state = 'covered', error = NULL",
                        params![q.id, c.key(), channel.as_str(), now],
                    )
                    .map_err(sql(tx.path(), "recording a covered notice"))?;
            }
            tx.sql()
                .execute(
                    "INSERT INTO notices (question_id, step, channel, state, attempts, created)
                     VALUES (?1, ?2, ?3, 'pending', 1, ?4)
                     ON CONFLICT DO UPDATE SET attempts = attempts + 1",
                    params![q.id, step.key(), channel.as_str(), now],
                )
                .map_err(sql(tx.path(), "recording a notice before sending"))?;
            Ok(())
        })?;
        match sender.send(notice, now).await {
            Ok(()) => {
                store.transaction(|tx| {
                    tx.sql()
                        .execute(
                            "UPDATE notices SET state = 'sent', sent = ?4, error = NULL
                             WHERE question_id = ?1 AND step = ?2 AND channel = ?3",
                            params![q.id, step.key(), channel.as_str(), now],
                        )
                        .map_err(sql(tx.path(), "recording a notice as sent"))?;
                    tx.audit(
                        &AuditRecord::new("notice", &q.proposal).detail(serde_json::json!({
                            "question_id": q.id,
                            "step": step.key(),
                            "channel": channel.as_str(),
                            "id": notice.id,
                        })),
                    )?;
                    Ok(())
                })?;
                r.sent
                    .push(format!("{channel}: question {} {}", q.id, step.key()));
            }
            Err(e) => {
                let msg = crate::pipeline::chain(&e);
                store.transaction(|tx| {
                    tx.sql()
                        .execute(
                            "UPDATE notices SET error = ?4
                             WHERE question_id = ?1 AND step = ?2 AND channel = ?3",
                            params![q.id, step.key(), channel.as_str(), msg],
                        )
                        .map_err(sql(tx.path(), "recording a failed notice"))?;
                    Ok(())
                })?;
                r.errors
                    .push(format!("question {} {}: {msg}", q.id, step.key()));
            }
        }
        Ok(())
    }

    /// Sends a test notice through every channel (`steward notify test`); nothing is recorded.
    pub async fn test(&self, now: i64) -> Vec<(Channel, Result<(), NotifyError>)> {
        let notice = Notice {
            schema: SCHEMA,
            id: format!("steward-test-{now}"),
            question: 0,
            step: "test",
            before_deadline_secs: None,
            title: Some("Steward test notice".into()),
            space: None,
            deadline: None,
            lean: None,
            confidence: None,
            command: Some("steward questions".into()),
            desk: self.desk.clone(),
            choices: None,
            summary: None,
            flags: None,
        };
        let mut out = Vec::new();
        for s in &self.senders {
            out.push((s.channel(), s.send(&notice, now).await));
        }
        out
    }
}

/// A notice row, as `steward notify list` and the tests read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeRow {
    pub question: i64,
    pub step: String,
    pub channel: String,
    pub state: String,
    pub attempts: i64,
    pub sent: Option<i64>,
    pub error: Option<String>,
}

impl Store {
    /// Steps already sent or covered for a question on a channel.
    fn notices_done(&self, question: i64, channel: Channel) -> crate::Result<HashSet<Step>> {
        let mut st = self
            .conn()
            .prepare(
                "SELECT step FROM notices
                 WHERE question_id = ?1 AND channel = ?2 AND state IN ('sent', 'covered')",
            )
            .map_err(sql(self.path(), "reading notices"))?;
        let steps: Vec<String> = st
            .query_map(params![question, channel.as_str()], |r| r.get(0))
            .and_then(|r| r.collect())
            .map_err(sql(self.path(), "reading notices"))?;
        Ok(steps.iter().filter_map(|s| Step::parse(s)).collect())
    }

    /// Every notice row, oldest question first.
    pub fn notices(&self) -> crate::Result<Vec<NoticeRow>> {
        let mut st = self
            .conn()
            .prepare(
                "SELECT question_id, step, channel, state, attempts, sent, error FROM notices
                 ORDER BY question_id, created, step, channel",
            )
            .map_err(sql(self.path(), "reading notices"))?;
        st.query_map([], |r| {
            Ok(NoticeRow {
                question: r.get(0)?,
                step: r.get(1)?,
                channel: r.get(2)?,
                state: r.get(3)?,
                attempts: r.get(4)?,
                sent: r.get(5)?,
                error: r.get(6)?,
            })
        })
        .and_then(|r| r.collect())
        .map_err(sql(self.path(), "reading notices"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;

    #[test]
    fn the_current_step_is_the_latest_whose_time_has_come() {
        let d = Some(100 * H);
        let rem = [24 * H, 2 * H];
        let open = QuestionStatus::Open;
        let cases = [
            (open, d, 0, Some(Step::Opened)),
            (open, d, 76 * H - 1, Some(Step::Opened)),
            (open, d, 76 * H, Some(Step::Reminder { before: 24 * H })),
            (open, d, 98 * H, Some(Step::Reminder { before: 2 * H })),
            (open, d, 100 * H, Some(Step::Reminder { before: 2 * H })),
            (open, d, 100 * H + 1, None),
            (open, None, 1_000 * H, Some(Step::Opened)),
            (QuestionStatus::Answered, d, 0, None),
            (QuestionStatus::Superseded, d, 0, None),
        ];
        for (status, deadline, now, want) in cases {
            assert_eq!(
                current_step(status, deadline, now, &rem),
                want,
                "{status} {deadline:?} at {now}"
            );
        }
    }

    #[test]
    fn a_late_step_covers_the_earlier_ones_never_sent() {
        let d = Some(100 * H);
        let rem = [24 * H, 2 * H];
        let two = Step::Reminder { before: 2 * H };
        let day = Step::Reminder { before: 24 * H };
        // First seen an hour before the deadline: one notice, the others covered.
        let (send, covered) = plan(two, d, &rem, &HashSet::new()).expect("due");
        assert_eq!(send, two);
        assert_eq!(covered, vec![Step::Opened, day]);
        // Already sent: nothing.
        assert_eq!(plan(two, d, &rem, &HashSet::from([two])), None);
        // The day reminder after the opened notice covers nothing.
        let (_, covered) = plan(day, d, &rem, &HashSet::from([Step::Opened])).expect("due");
        assert!(covered.is_empty());
    }

    #[test]
    fn steps_round_trip_through_their_names() {
        for s in [Step::Opened, Step::Reminder { before: 86_400 }] {
            assert_eq!(Step::parse(&s.key()), Some(s));
        }
        assert_eq!(Step::parse("reminder-xs"), None);
    }

    #[test]
    fn include_refuses_private_data_by_name() {
        let e = Field::parse_all(&["title".into(), "writing".into()]).expect_err("private");
        assert!(e.0.contains("\"writing\" is private"), "{e}");
        let e = Field::parse_all(&["titel".into()]).expect_err("unknown");
        assert!(e.0.contains("unknown field \"titel\""), "{e}");
        assert_eq!(
            parse_reminders(&["24h".into(), "2h 30m".into()]),
            Ok(vec![86_400, 9_000])
        );
        assert!(parse_reminders(&["soon".into()]).is_err());
        assert!(parse_reminders(&["0s".into()]).is_err());
    }
}
