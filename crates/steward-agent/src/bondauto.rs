//! The agent answers bonded mail on the user's behalf (issue 19 item 3, docs/economy.md), only
//! where the user allowed it: `[bonds] auto_reply = true` and the sender covered by
//! `auto_reply_to` (`trusted`, `whitelisted`, or the sender's address) or the bond at least
//! `auto_reply_min`. Everything else waits for the user.
//!
//! The answer is a fixed acknowledgement ([`acknowledgement`]) built from facts the agent may
//! state and nothing else: that the message was received, when, and that the user will see it.
//! It takes the sender's own subject and the delivery time as its only inputs, so nothing of the
//! user's writing, profile or answers can reach it. Then the escrow's `reply(messageId)`, signed
//! with the agent key the user authorised on the escrow (`setAgent`), refunds the bond.
//!
//! Exactly once: the intent is a row of `bond_auto_replies` written before the mail is sent
//! (a unique bond id), marked `mailed` after it, `replied` after the chain took the reply. A
//! process killed between the mail and the chain finds the row on the next round and only
//! replies on chain; the escrow refuses a second reply anyway. A kill between the intent and the
//! mail leaves the row too: the mail is never sent twice, at the price of maybe not at all.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use steward_core::{AuditRecord, B256, Proposal, U256};
use steward_eth::{BondState, Key};

use crate::bondgate::BondGate;
use crate::bonds::{self, message_id_of};
use crate::config::BondsConfig;
use crate::error::{Error, Result};
use crate::notify::MailSender;
use crate::store::{Store, sql};

/// The migration: the auto-replies' intents (one element of the store's MIGRATIONS).
pub(crate) const MIGRATION: &str = r#"
-- Bonded mail the agent answered on the user's behalf (bondauto.rs, docs/economy.md): the row
-- is written before the acknowledgement is mailed, so a kill -9 never mails or replies twice.
CREATE TABLE bond_auto_replies (
    bond         TEXT PRIMARY KEY,     -- the bond's message id, 0x keccak256 of the Message-ID
    proposal_key TEXT NOT NULL,        -- the stored mail (mail:<Message-ID>)
    sender       TEXT NOT NULL,        -- From, lower case
    rule         TEXT NOT NULL,        -- what in bonds.auto_reply_* allowed it
    reply_id     TEXT NOT NULL,        -- the acknowledgement's Message-ID
    state        TEXT NOT NULL CHECK (state IN ('intent', 'mailed', 'replied', 'failed')),
    tx           TEXT,
    error        TEXT,
    created      TEXT NOT NULL,
    updated      TEXT NOT NULL
) STRICT;
"#;

/// Who the user lets the agent answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AutoReplyPolicy {
    /// Senders named one by one (lower case).
    pub senders: BTreeSet<String>,
    /// Senders in `bonds.trusted`.
    pub trusted: bool,
    /// Senders in `bonds.whitelist`.
    pub whitelisted: bool,
    /// Any bond at least this (token units).
    pub min: Option<U256>,
}

impl AutoReplyPolicy {
    /// The policy of `[bonds]`, `None` when `auto_reply` is off.
    pub fn from_config(b: &BondsConfig) -> Option<Self> {
        if !b.auto_reply {
            return None;
        }
        let mut p = Self::default();
        for e in &b.auto_reply_to {
            match e.trim().to_ascii_lowercase().as_str() {
                "trusted" => p.trusted = true,
                "whitelisted" => p.whitelisted = true,
                a => {
                    p.senders.insert(a.to_owned());
                }
            }
        }
        // Config checked the range; token units, rounded.
        p.min = b
            .auto_reply_min
            .map(|m| U256::from((m * bonds::USDC_UNIT as f64).round() as u64));
        Some(p)
    }

    /// The rule that covers `sender`'s bond of `amount`, or `None`: the user answers it.
    pub fn covers(
        &self,
        bonds: &bonds::BondPolicy,
        sender: &str,
        amount: U256,
    ) -> Option<&'static str> {
        let s = sender.trim().to_ascii_lowercase();
        if s.is_empty() {
            return None;
        }
        if self.senders.contains(&s) {
            Some("sender")
        } else if self.trusted && bonds.trusted_delegates.contains(&s) {
            Some("trusted")
        } else if self.whitelisted && bonds.whitelist.contains(&s) {
            Some("whitelisted")
        } else if self.min.is_some_and(|m| amount >= m) {
            Some("amount")
        } else {
            None
        }
    }
}

/// The acknowledgement: (subject, body). Its only inputs are the sender's own subject and the
/// time the message reached the user; the text is otherwise fixed.
pub fn acknowledgement(their_subject: &str, received: &str) -> (String, String) {
    // The sender's subject, as one short line: no control characters, no header tricks.
    let subject: String = their_subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    let subject = subject.trim();
    let re = if subject.is_empty() {
        "Re: your message".to_owned()
    } else if subject.to_ascii_lowercase().starts_with("re:") {
        subject.to_owned()
    } else {
        format!("Re: {subject}")
    };
    let body = format!(
        "This is an automatic acknowledgement, sent with the recipient's permission by their \
         agent (Steward).\n\n\
         Your message was received on {received} and has been delivered to the recipient. They \
         will see it the next time they review their mail.\n\n\
         The attention bond you placed on it is refunded by this reply, less the escrow's fee.\n\n\
         This acknowledgement says nothing about the recipient's view of your message.\n"
    );
    (re, body)
}

/// One auto-reply, as the round reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AutoReply {
    pub bond: B256,
    pub proposal_key: String,
    pub sender: String,
    pub rule: String,
    /// `replied`, `mailed` (the chain reply to come), `failed`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx: Option<String>,
    /// What the sender got back (token units).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AutoReplyReport {
    pub replies: Vec<AutoReply>,
    /// Open bonds on delivered mail the policy does not cover: they wait for the user.
    pub waiting: usize,
}

/// A stored row.
#[derive(Debug, Clone)]
struct Row {
    proposal_key: String,
    sender: String,
    rule: String,
    state: String,
}

/// The escrow, the authorised key, the mail server and the user's policy.
#[derive(Debug)]
pub struct AutoReplier {
    gate: BondGate,
    key: Key,
    mailer: MailSender,
    policy: AutoReplyPolicy,
    from_block: u64,
}

fn chain_err(what: String) -> impl FnOnce(steward_eth::BondError) -> Error {
    move |e| Error::Source {
        source_name: "bonds".into(),
        message: format!("{what}: {e}"),
    }
}

impl AutoReplier {
    pub fn new(
        gate: BondGate,
        key: Key,
        mailer: MailSender,
        policy: AutoReplyPolicy,
        from_block: u64,
    ) -> Self {
        Self {
            gate,
            key,
            mailer,
            policy,
            from_block,
        }
    }

    /// One round: finishes what an earlier round left (`intent`, `mailed`), then answers every
    /// open bond to the user on delivered mail the policy covers.
    pub async fn round(&self, store: &mut Store) -> Result<AutoReplyReport> {
        let me = self.gate.policy().recipient;
        let escrow = self.gate.escrow();
        let ids: Vec<B256> = escrow
            .deposits(self.from_block)
            .await
            .map_err(chain_err(format!(
                "scanning deposits from block {}",
                self.from_block
            )))?
            .into_iter()
            .filter(|d| d.recipient == me)
            .map(|d| d.message_id)
            .collect();
        let mut report = AutoReplyReport::default();
        if ids.is_empty() {
            return Ok(report);
        }
        let chain = escrow
            .bonds(&ids, None)
            .await
            .map_err(chain_err(format!("reading {} bonds", ids.len())))?;
        let rows = store.auto_reply_rows()?;
        let mail = store.mail_by_bond()?;
        for b in chain {
            if let Some(row) = rows.get(&b.message_id) {
                // An earlier round's: the mail went out (or may have); only the chain is left.
                if row.state == "intent" || row.state == "mailed" {
                    report
                        .replies
                        .push(self.finish(store, b.message_id, row, b.state).await?);
                }
                continue;
            }
            if b.state != BondState::Open || b.recipient != me {
                continue;
            }
            // Only mail the gate delivered is in the store: a held message is never answered.
            let Some(sp) = mail.get(&b.message_id) else {
                continue;
            };
            let sender = sp.author.clone().unwrap_or_default().to_ascii_lowercase();
            let Some(rule) = self.policy.covers(self.gate.policy(), &sender, b.amount) else {
                report.waiting += 1;
                continue;
            };
            report
                .replies
                .push(self.answer(store, b.message_id, sp, &sender, rule).await?);
        }
        Ok(report)
    }

    async fn answer(
        &self,
        store: &mut Store,
        bond: B256,
        p: &MailProposal,
        sender: &str,
        rule: &str,
    ) -> Result<AutoReply> {
        let domain = self.mailer.from().email.domain().to_owned();
        let reply_id = format!("<bond-reply.{}@{domain}>", hex::encode(bond.as_slice()));
        let row = Row {
            proposal_key: p.key.clone(),
            sender: sender.to_owned(),
            rule: rule.to_owned(),
            state: "intent".into(),
        };
        if !store.auto_reply_intent(bond, &row, &reply_id)? {
            // Another process took it between our read and now.
            return Ok(report_line(bond, &row, "taken", None, None, None));
        }
        let to: lettre::message::Mailbox = match sender.parse() {
            Ok(m) => m,
            Err(e) => {
                let error = format!("the sender {sender:?} is not a mail address: {e}");
                return self.fail(store, bond, &row, error);
            }
        };
        let (subject, body) = acknowledgement(&p.subject, &p.received);
        if let Err(e) = self
            .mailer
            .send_to(
                &to,
                &subject,
                body,
                &reply_id,
                Some(&format!("<{}>", p.message_id)),
                true,
            )
            .await
        {
            // Not mailed: the intent is dropped so the next round tries again (the bond stays
            // open meanwhile; a sender the policy covers should not lose it to a mail outage).
            let error = format!("mailing the acknowledgement (tried again next round): {e}");
            store.auto_reply_forget(bond)?;
            store.audit(
                &AuditRecord::new("bond-auto-reply", &row.proposal_key).detail(serde_json::json!({
                    "bond": bond.to_string(), "sender": row.sender, "rule": row.rule,
                    "state": "retry", "error": error,
                })),
            )?;
            return Ok(report_line(bond, &row, "retry", None, None, Some(error)));
        }
        crate::cast::pause_at("bond-after-mail");
        store.auto_reply_update(bond, "mailed", None, None)?;
        self.finish(
            store,
            bond,
            &Row {
                state: "mailed".into(),
                ..row
            },
            BondState::Open,
        )
        .await
    }

    /// The chain's part: reply if the bond is still open, else record what became of it.
    async fn finish(
        &self,
        store: &mut Store,
        bond: B256,
        row: &Row,
        state: BondState,
    ) -> Result<AutoReply> {
        match state {
            BondState::Open => {}
            BondState::Replied => {
                // Replied by someone (the desk, an earlier run whose record was lost): done.
                store.auto_reply_update(bond, "replied", None, None)?;
                self.audit(store, bond, row, None, None)?;
                return Ok(report_line(bond, row, "replied", None, None, None));
            }
            other => {
                let error = format!("the bond is {} on chain", other.name());
                return self.fail(store, bond, row, error);
            }
        }
        match bonds::reply(self.gate.escrow(), &self.key, bond).await {
            Ok(tx) => {
                let hash = tx.tx.to_string();
                let refund = tx.paid.map(|p| p.to_string());
                store.auto_reply_update(bond, "replied", Some(&hash), None)?;
                self.audit(store, bond, row, Some(&hash), refund.as_deref())?;
                Ok(report_line(bond, row, "replied", Some(hash), refund, None))
            }
            // Left `mailed`: the next round tries the chain again (and only the chain).
            Err(e) => Ok(report_line(
                bond,
                row,
                "mailed",
                None,
                None,
                Some(e.to_string()),
            )),
        }
    }

    fn fail(&self, store: &mut Store, bond: B256, row: &Row, error: String) -> Result<AutoReply> {
        store.auto_reply_update(bond, "failed", None, Some(&error))?;
        store.audit(
            &AuditRecord::new("bond-auto-reply", &row.proposal_key).detail(serde_json::json!({
                "bond": bond.to_string(), "sender": row.sender, "rule": row.rule,
                "state": "failed", "error": error,
            })),
        )?;
        Ok(report_line(bond, row, "failed", None, None, Some(error)))
    }

    fn audit(
        &self,
        store: &mut Store,
        bond: B256,
        row: &Row,
        tx: Option<&str>,
        refund: Option<&str>,
    ) -> Result<()> {
        store.audit(
            &AuditRecord::new("bond-auto-reply", &row.proposal_key).detail(serde_json::json!({
                "bond": bond.to_string(), "sender": row.sender, "rule": row.rule,
                "state": "replied", "tx": tx, "refund": refund,
                "why": format!("bonds.auto_reply covers it ({})", row.rule),
            })),
        )?;
        Ok(())
    }
}

fn report_line(
    bond: B256,
    row: &Row,
    state: &str,
    tx: Option<String>,
    refund: Option<String>,
    error: Option<String>,
) -> AutoReply {
    AutoReply {
        bond,
        proposal_key: row.proposal_key.clone(),
        sender: row.sender.clone(),
        rule: row.rule.clone(),
        state: state.to_owned(),
        tx,
        refund,
        error,
    }
}

/// A stored mail, as the acknowledgement needs it.
#[derive(Debug, Clone)]
struct MailProposal {
    key: String,
    message_id: String,
    author: Option<String>,
    subject: String,
    /// When it reached the store (RFC 3339, UTC).
    received: String,
}

impl Store {
    /// Stored mail by the bond id its Message-ID would carry.
    fn mail_by_bond(&self) -> Result<BTreeMap<B256, MailProposal>> {
        let mut st = self
            .conn()
            .prepare("SELECT key, first_seen, json FROM proposals WHERE source = 'mail'")
            .map_err(sql(self.path(), "reading stored mail"))?;
        let rows: Vec<(String, String, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect())
            .map_err(sql(self.path(), "reading stored mail"))?;
        let mut out = BTreeMap::new();
        for (key, first_seen, json) in rows {
            let p: Proposal = serde_json::from_str(&json).map_err(|e| Error::Corrupt {
                path: self.path().into(),
                reason: format!("proposal {key} does not parse: {e}"),
            })?;
            let received = first_seen
                .parse::<jiff::Timestamp>()
                .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or(first_seen);
            out.insert(
                message_id_of(&p.id),
                MailProposal {
                    key,
                    message_id: p.id,
                    author: p.author,
                    subject: p.title,
                    received,
                },
            );
        }
        Ok(out)
    }

    fn auto_reply_rows(&self) -> Result<BTreeMap<B256, Row>> {
        let mut st = self
            .conn()
            .prepare("SELECT bond, proposal_key, sender, rule, state FROM bond_auto_replies")
            .map_err(sql(self.path(), "reading auto-replies"))?;
        let rows: Vec<(String, Row)> = st
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    Row {
                        proposal_key: r.get(1)?,
                        sender: r.get(2)?,
                        rule: r.get(3)?,
                        state: r.get(4)?,
                    },
                ))
            })
            .and_then(|rows| rows.collect())
            .map_err(sql(self.path(), "reading auto-replies"))?;
        rows.into_iter()
            .map(|(id, row)| {
                let bond = id.parse::<B256>().map_err(|_| Error::Corrupt {
                    path: self.path().into(),
                    reason: format!("bond_auto_replies: {id:?} is not a bond id"),
                })?;
                Ok((bond, row))
            })
            .collect()
    }

    /// Records the intent; `false` when the bond already has a row.
    fn auto_reply_intent(&mut self, bond: B256, row: &Row, reply_id: &str) -> Result<bool> {
        self.transaction(|tx| {
            let now = jiff::Timestamp::now().to_string();
            let n = tx
                .sql()
                .execute(
                    "INSERT INTO bond_auto_replies (bond, proposal_key, sender, rule, reply_id,
                       state, created, updated)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'intent', ?6, ?6)
                     ON CONFLICT (bond) DO NOTHING",
                    params![
                        bond.to_string(),
                        row.proposal_key,
                        row.sender,
                        row.rule,
                        reply_id,
                        now
                    ],
                )
                .map_err(sql(tx.path(), "recording an auto-reply"))?;
            Ok(n == 1)
        })
    }

    /// Drops a bond's intent whose acknowledgement was never mailed.
    fn auto_reply_forget(&mut self, bond: B256) -> Result<()> {
        self.transaction(|tx| {
            tx.sql()
                .execute(
                    "DELETE FROM bond_auto_replies WHERE bond = ?1 AND state = 'intent'",
                    [bond.to_string()],
                )
                .map_err(sql(tx.path(), "dropping an auto-reply intent"))?;
            Ok(())
        })
    }

    fn auto_reply_update(
        &mut self,
        bond: B256,
        state: &str,
        tx_hash: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        self.transaction(|tx| {
            tx.sql()
                .execute(
                    "UPDATE bond_auto_replies SET state = ?2, tx = coalesce(?3, tx), error = ?4,
                       updated = ?5 WHERE bond = ?1",
                    params![
                        bond.to_string(),
                        state,
                        tx_hash,
                        error,
                        jiff::Timestamp::now().to_string()
                    ],
                )
                .map_err(sql(tx.path(), "updating an auto-reply"))?;
            Ok(())
        })
    }

    /// The auto-reply state of `bond`, if it has one (tests, `bond auto-reply --json`).
    pub fn auto_reply_state(&self, bond: B256) -> Result<Option<(String, Option<String>)>> {
        self.conn()
            .query_row(
                "SELECT state, tx FROM bond_auto_replies WHERE bond = ?1",
                [bond.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql(self.path(), "reading an auto-reply"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_core::Address;

    fn policy() -> bonds::BondPolicy {
        bonds::BondPolicy {
            chain_id: 1,
            escrow: Address::ZERO,
            token: Address::ZERO,
            recipient: Address::ZERO,
            price: U256::ZERO,
            whitelist: ["w@x.org".to_owned()].into(),
            trusted_delegates: ["t@x.org".to_owned()].into(),
            confirmations: 0,
        }
    }

    #[test]
    fn the_policy_covers_only_what_the_user_named() {
        let cfg = |to: &[&str], min: Option<f64>| BondsConfig {
            auto_reply: true,
            auto_reply_to: to.iter().map(|s| (*s).to_owned()).collect(),
            auto_reply_min: min,
            ..BondsConfig::default()
        };
        assert_eq!(AutoReplyPolicy::from_config(&BondsConfig::default()), None);
        let one = U256::from(1_000_000u64);
        let p = AutoReplyPolicy::from_config(&cfg(&["A@x.org"], None)).expect("on");
        assert_eq!(p.covers(&policy(), "a@x.org", one), Some("sender"));
        assert_eq!(p.covers(&policy(), "t@x.org", one), None);
        assert_eq!(p.covers(&policy(), "", one), None);
        let p = AutoReplyPolicy::from_config(&cfg(&["trusted", "whitelisted"], None)).expect("on");
        assert_eq!(p.covers(&policy(), "t@x.org", one), Some("trusted"));
        assert_eq!(p.covers(&policy(), "W@x.org", one), Some("whitelisted"));
        assert_eq!(p.covers(&policy(), "b@x.org", one), None);
        let p = AutoReplyPolicy::from_config(&cfg(&[], Some(2.5))).expect("on");
        assert_eq!(
            p.covers(&policy(), "b@x.org", U256::from(2_500_000u64)),
            Some("amount")
        );
        assert_eq!(
            p.covers(&policy(), "b@x.org", U256::from(2_499_999u64)),
            None
        );
    }

    #[test]
    fn the_acknowledgement_is_the_template_and_one_clean_subject_line() {
        let (s, b) = acknowledgement("Hello\r\nBcc: x@y.org", "2026-12-07 07:00 UTC");
        assert_eq!(s, "Re: Hello  Bcc: x@y.org");
        assert!(b.contains("received on 2026-12-07 07:00 UTC"), "{b}");
        assert!(b.contains("refunded"), "{b}");
        assert_eq!(acknowledgement("RE: x", "t").0, "RE: x");
        assert_eq!(acknowledgement("", "t").0, "Re: your message");
    }
}
