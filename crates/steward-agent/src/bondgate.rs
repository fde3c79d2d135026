//! The attention-bond gate in front of the mail sources (docs/economy.md, "In sync"): with
//! `[bonds]` set, every message `steward sync` (IMAP) or `ingest mail` reads passes
//! [`BondGate::screen`] before it is stored. Mail carrying `X-Steward-Bond` is stored only when
//! [`bonds::verify`] delivers it; the rest is kept in the `held_mail` table with the reason, never
//! as a proposal. Mail without the header is stored as before, unless `bonds.require` is set.
//!
//! Nothing unpaid is delivered when the chain cannot be read: the bonded messages of that batch
//! are held as `unverified` and the error is reported. Held messages whose reason can change with
//! time (`unverified`, `unconfirmed`) keep their raw bytes and are checked again by the next sync
//! ([`recheck_held`]).

use std::collections::BTreeSet;

use mail_parser::MessageParser;
use rusqlite::params;
use serde::Serialize;
use steward_core::mech::coqaf::PriceParams;
use steward_core::{Address, Limits};
use steward_eth::BondEscrow;

use crate::bonds::{self, BOND_HEADER, BondPolicy, Incoming, Verdict};
use crate::error::{Error, Result};
use crate::sources::mail::RawMessage;
use crate::store::{Store, Tx, sql};
use crate::{Config, IngestReport, Network};

/// Migration: held mail.
pub(crate) const MIGRATION: &str = r#"
-- Mail the attention-bond gate did not deliver (bondgate.rs): not a proposal, kept for review.
CREATE TABLE held_mail (
    id         INTEGER PRIMARY KEY,
    mailbox    TEXT NOT NULL,          -- the maildir/mbox path or the IMAP cursor key
    label      TEXT NOT NULL,          -- file name, `message N`, `uid N`
    message_id TEXT NOT NULL,          -- Message-ID without brackets ('' when missing)
    sender     TEXT NOT NULL,          -- From, lower-case
    subject    TEXT NOT NULL,
    reason     TEXT NOT NULL,          -- no-bond, below-price, ..., unverified
    detail     TEXT NOT NULL,          -- the verdict or the chain error, JSON
    raw        BLOB NOT NULL,          -- the message, to check again (unverified, unconfirmed)
    held       TEXT NOT NULL,
    UNIQUE (mailbox, message_id, label)
) STRICT;
"#;

/// Reasons that can change by themselves: checked again by the next sync.
const RETRY: [&str; 2] = ["unverified", "unconfirmed"];

/// One held message, as `steward bond held` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldMail {
    pub mailbox: String,
    pub label: String,
    pub message_id: String,
    pub from: String,
    pub subject: String,
    /// `no-bond`, `bad-reference`, `below-price`, ... (docs/economy.md), or `unverified`.
    pub reason: String,
    /// The whole verdict, or `{"error": ...}` for `unverified`.
    pub detail: serde_json::Value,
    /// When it was (last) held, RFC 3339.
    pub held: String,
    #[serde(skip)]
    pub raw: Vec<u8>,
}

/// What the gate decided for a batch.
#[derive(Debug, Default)]
pub struct Screened {
    pub deliver: Vec<RawMessage>,
    pub held: Vec<HeldMail>,
    /// The chain could not be read; the bonded messages were held as `unverified`.
    pub failure: Option<String>,
}

/// The user's `[bonds]` policy and the escrow it is checked against.
#[derive(Debug)]
pub struct BondGate {
    escrow: BondEscrow,
    policy: BondPolicy,
    require: bool,
    /// `bonds.price` unset: the CO-QAF price at the inbox's real 7-day count, computed for each
    /// batch (the parameters, and the block deposits are counted from).
    live_price: Option<(PriceParams, u64)>,
}

fn bad_config(key: &str, message: String) -> Error {
    Error::ConfigValue {
        origin: "config".into(),
        key: key.into(),
        message,
    }
}

impl BondGate {
    /// The gate of `cfg.bonds`, or `None` when bonds are off. The RPC passes the network
    /// allowlist.
    pub fn from_config(cfg: &Config, net: &Network) -> Result<Option<Self>> {
        let b = &cfg.bonds;
        let Some(escrow) = &b.escrow else {
            return Ok(None);
        };
        let address = |key: &str, v: Option<&String>| -> Result<Address> {
            let v = v.ok_or_else(|| bad_config(key, "must be set with bonds.escrow".into()))?;
            v.parse()
                .map_err(|_| bad_config(key, format!("{v:?} is not an address")))
        };
        let escrow = address("bonds.escrow", Some(escrow))?;
        let token = address("bonds.token", b.token.as_ref())?;
        let recipient = address("bonds.recipient", b.recipient.as_ref())?;
        let chain_id = b
            .chain_id
            .ok_or_else(|| bad_config("bonds.chain_id", "must be set with bonds.escrow".into()))?;
        let url = b
            .rpc
            .as_ref()
            .ok_or_else(|| bad_config("bonds.rpc", "must be set with bonds.escrow".into()))?;
        let price = match b.price {
            // Config checked the range; micro-USDC, rounded.
            Some(p) => steward_core::U256::from((p * bonds::USDC_UNIT as f64).round() as u64),
            // The floor until the first batch counts the inbox (D = 0).
            None => bonds::price_units(&PriceParams::default(), 0, 0.0)
                .map_err(|e| bad_config("bonds.price", e.to_string()))?,
        };
        let live_price = b
            .price
            .is_none()
            .then(|| (PriceParams::default(), b.from_block));
        let lower = |v: &[String]| -> BTreeSet<String> {
            v.iter().map(|s| s.trim().to_ascii_lowercase()).collect()
        };
        let policy = BondPolicy {
            chain_id,
            escrow,
            token,
            recipient,
            price,
            whitelist: lower(&b.whitelist),
            trusted_delegates: lower(&b.trusted),
            confirmations: b.confirmations,
        };
        Ok(Some(Self {
            escrow: BondEscrow::new(net.rpc(url)?, escrow),
            policy,
            require: b.require,
            live_price,
        }))
    }

    /// A gate over an escrow client already built (tests, benches), at the policy's price.
    pub fn new(escrow: BondEscrow, policy: BondPolicy, require: bool) -> Self {
        Self {
            escrow,
            policy,
            require,
            live_price: None,
        }
    }

    /// The price of each batch becomes the CO-QAF price at the inbox's 7-day count
    /// ([`bonds::inbox_7d`], deposits from `from_block`), as with `bonds.price` unset.
    pub fn with_live_price(mut self, params: PriceParams, from_block: u64) -> Self {
        self.live_price = Some((params, from_block));
        self
    }

    /// The policy for a batch now, and the senders' own prices: with the live price, D counted
    /// on chain and each answered sender's reply-rate discount ([`bonds::live_price`]).
    pub async fn policy_now(
        &self,
    ) -> std::result::Result<
        (
            BondPolicy,
            std::collections::BTreeMap<Address, steward_core::U256>,
        ),
        bonds::BondsError,
    > {
        let Some((params, from_block)) = &self.live_price else {
            return Ok((self.policy.clone(), Default::default()));
        };
        let live =
            bonds::live_price(&self.escrow, self.policy.recipient, params, *from_block).await?;
        Ok((
            BondPolicy {
                price: live.price,
                ..self.policy.clone()
            },
            live.senders,
        ))
    }

    pub fn policy(&self) -> &BondPolicy {
        &self.policy
    }

    /// The escrow client (on the allowlisted RPC).
    pub fn escrow(&self) -> &BondEscrow {
        &self.escrow
    }

    /// Decides every message of `raw` (read from `mailbox`): delivered ones to store, held ones
    /// with the reason. Never fails: a chain error holds the bonded messages as `unverified`.
    pub async fn screen(&self, mailbox: &str, raw: &[RawMessage]) -> Screened {
        let mut out = Screened::default();
        let mut asked: Vec<(usize, Incoming)> = Vec::new();
        for (i, m) in raw.iter().enumerate() {
            match Incoming::parse(&m.label, &m.bytes) {
                Ok(inc) => {
                    if inc.bond.is_some() || self.require {
                        asked.push((i, inc));
                    } else {
                        // No bond claimed and none required: today's behaviour.
                        out.deliver.push(m.clone());
                    }
                }
                Err(e) => {
                    // A bonded message must be readable to be paid for; any other broken
                    // message goes on to the mail source, which quarantines it.
                    if self.require || mentions_bond(&m.bytes) {
                        out.held.push(held(
                            mailbox,
                            m,
                            "bad-reference",
                            serde_json::json!({ "error": e.to_string() }),
                        ));
                    } else {
                        out.deliver.push(m.clone());
                    }
                }
            }
        }
        if asked.is_empty() {
            return out;
        }
        let incoming: Vec<Incoming> = asked.iter().map(|(_, m)| m.clone()).collect();
        let verdicts = match self.policy_now().await {
            Ok((policy, prices)) => {
                bonds::verify_priced(&self.escrow, &policy, &prices, &incoming).await
            }
            Err(e) => Err(e),
        };
        match verdicts {
            Ok(verdicts) => {
                for ((i, _), v) in asked.iter().zip(verdicts) {
                    let m = &raw[*i];
                    match &v {
                        Verdict::Deliver(_) => out.deliver.push(m.clone()),
                        Verdict::Hold(_) => {
                            let detail = serde_json::to_value(&v).unwrap_or_default();
                            let reason = detail["why"].as_str().unwrap_or("held").to_owned();
                            out.held.push(held(mailbox, m, &reason, detail));
                        }
                    }
                }
            }
            Err(e) => {
                let error = e.to_string();
                tracing::warn!("{mailbox}: bonded mail held unverified: {error}");
                for ((i, inc), _) in asked.iter().zip(&incoming) {
                    let m = &raw[*i];
                    // The policy's own lists need no chain.
                    if self.policy.whitelist.contains(&inc.from)
                        || self.policy.trusted_delegates.contains(&inc.from)
                    {
                        out.deliver.push(m.clone());
                    } else {
                        out.held.push(held(
                            mailbox,
                            m,
                            "unverified",
                            serde_json::json!({ "error": error }),
                        ));
                    }
                }
                out.failure = Some(format!("{mailbox}: {error}"));
            }
        }
        out
    }
}

/// Whether the raw header block names the bond header (for messages too broken to parse).
fn mentions_bond(bytes: &[u8]) -> bool {
    let head = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| bytes.windows(2).position(|w| w == b"\n\n"))
        .map_or(bytes, |end| &bytes[..end]);
    String::from_utf8_lossy(head)
        .to_ascii_lowercase()
        .contains(&BOND_HEADER.to_ascii_lowercase())
}

fn held(mailbox: &str, m: &RawMessage, reason: &str, detail: serde_json::Value) -> HeldMail {
    let msg = MessageParser::default().parse(&m.bytes);
    let (message_id, from, subject) = msg.as_ref().map_or_else(Default::default, |msg| {
        (
            msg.message_id().unwrap_or_default().to_owned(),
            msg.from()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .map(str::to_ascii_lowercase)
                .unwrap_or_default(),
            msg.subject()
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect(),
        )
    });
    HeldMail {
        mailbox: mailbox.to_owned(),
        label: m.label.clone(),
        message_id,
        from,
        subject,
        reason: reason.to_owned(),
        detail,
        held: String::new(),
        raw: m.bytes.clone(),
    }
}

impl Tx<'_> {
    /// Keeps (or updates) a held message.
    pub(crate) fn hold_mail(&mut self, h: &HeldMail) -> Result<()> {
        self.sql()
            .execute(
                "INSERT INTO held_mail (mailbox, label, message_id, sender, subject, reason,
                   detail, raw, held)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (mailbox, message_id, label) DO UPDATE SET
                   reason = excluded.reason, detail = excluded.detail, held = excluded.held",
                params![
                    h.mailbox,
                    h.label,
                    h.message_id,
                    h.from,
                    h.subject,
                    h.reason,
                    h.detail.to_string(),
                    h.raw,
                    jiff::Timestamp::now().to_string(),
                ],
            )
            .map_err(sql(self.path(), "holding a message"))?;
        Ok(())
    }

    /// A message once held and now delivered leaves the table.
    fn release_mail(&mut self, mailbox: &str, label: &str) -> Result<()> {
        self.sql()
            .execute(
                "DELETE FROM held_mail WHERE mailbox = ?1 AND label = ?2",
                params![mailbox, label],
            )
            .map_err(sql(self.path(), "releasing a held message"))?;
        Ok(())
    }

    /// Stores what the gate delivered (as the mail source would) and keeps what it held; the
    /// counts and any chain failure go to `r`.
    pub(crate) fn store_screened(
        &mut self,
        r: &mut IngestReport,
        source: &str,
        mailbox: &str,
        screened: &Screened,
        limits: &Limits,
    ) -> Result<()> {
        crate::sync::store_mail(self, r, source, mailbox, &screened.deliver, limits)?;
        for m in &screened.deliver {
            self.release_mail(mailbox, &m.label)?;
        }
        for h in &screened.held {
            self.hold_mail(h)?;
        }
        r.held += screened.held.len() as u64;
        r.bond_errors.extend(screened.failure.iter().cloned());
        Ok(())
    }
}

impl Store {
    /// Every held message, newest first.
    pub fn held_mail(&self) -> Result<Vec<HeldMail>> {
        let mut st = self
            .conn()
            .prepare(
                "SELECT mailbox, label, message_id, sender, subject, reason, detail, held, raw
                 FROM held_mail ORDER BY id DESC",
            )
            .map_err(sql(self.path(), "reading held mail"))?;
        st.query_map([], |r| {
            let detail: String = r.get(6)?;
            Ok(HeldMail {
                mailbox: r.get(0)?,
                label: r.get(1)?,
                message_id: r.get(2)?,
                from: r.get(3)?,
                subject: r.get(4)?,
                reason: r.get(5)?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                held: r.get(7)?,
                raw: r.get(8)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(sql(self.path(), "reading held mail"))
    }
}

/// Checks again the held messages whose reason can change (`unverified`, `unconfirmed`) and
/// stores those now delivered, each mailbox in one transaction.
pub async fn recheck_held(
    store: &mut Store,
    gate: &BondGate,
    limits: &Limits,
) -> Result<IngestReport> {
    let mut by_mailbox: std::collections::BTreeMap<String, Vec<RawMessage>> = Default::default();
    for h in store.held_mail()? {
        if RETRY.contains(&h.reason.as_str()) {
            by_mailbox.entry(h.mailbox).or_default().push(RawMessage {
                label: h.label,
                bytes: h.raw,
            });
        }
    }
    let mut report = IngestReport::default();
    for (mailbox, raw) in by_mailbox {
        let screened = gate.screen(&mailbox, &raw).await;
        let source = format!("mail {mailbox}");
        let r = store.transaction(|tx| {
            let mut r = IngestReport::default();
            tx.store_screened(&mut r, &source, &mailbox, &screened, limits)?;
            Ok(r)
        })?;
        // Those still held were counted when first held.
        report.merge(IngestReport { held: 0, ..r });
    }
    Ok(report)
}

/// One forfeit `run --watch` attempted: the bond, and the transaction or why it failed.
#[derive(Debug, Clone, Serialize)]
pub struct Forfeit {
    pub message_id: steward_core::B256,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx: Option<steward_eth::BondTx>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Forfeits to the user every open bond past its window (`bonds.forfeit`, once per `run --watch`
/// round): the escrow's deposits to `policy.recipient` since `from_block`, then
/// [`bonds::forfeit_due`], signed with `key`. One bond failing does not stop the others.
pub async fn forfeit_round(
    gate: &BondGate,
    key: &steward_eth::Key,
    from_block: u64,
) -> std::result::Result<Vec<Forfeit>, bonds::BondsError> {
    let me = gate.policy.recipient;
    let ids: Vec<steward_core::B256> = gate
        .escrow
        .deposits(from_block)
        .await
        .map_err(|source| bonds::BondsError::Chain {
            context: format!("scanning deposits from block {from_block}"),
            source: Box::new(source),
        })?
        .into_iter()
        .filter(|d| d.recipient == me)
        .map(|d| d.message_id)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(bonds::forfeit_due(&gate.escrow, key, me, &ids)
        .await?
        .into_iter()
        .map(|(message_id, r)| match r {
            Ok(tx) => Forfeit {
                message_id,
                tx: Some(tx),
                error: None,
            },
            Err(e) => Forfeit {
                message_id,
                tx: None,
                error: Some(e.to_string()),
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_message_naming_the_bond_header_is_noticed() {
        assert!(mentions_bond(
            b"From: a\r\nx-steward-bond: 1:2:3\r\n\r\nbody"
        ));
        assert!(!mentions_bond(
            b"From: a\r\n\r\nbody says X-Steward-Bond: but in the body"
        ));
    }
}
