//! The reply hook of attention bonds (issue 19 item 3, docs/economy.md): when the user answers,
//! on the desk, the question about a mail that came in bonded, the agent sends the escrow's
//! `reply` for it, which refunds the sender less the fee. Only with `[bonds]` set and
//! `bonds.reply_on_answer = true` (the user's permission; off by default), signed with
//! `casting.key` or the default key, which must be `bonds.recipient` or an agent it authorised.
//!
//! The bond is found from the stored proposal alone: a mail proposal's id is its Message-ID,
//! and a bond's `messageId` is keccak256 of it ([`crate::bonds::message_id_of`]). Only an open
//! bond to the user is replied to; anything else is said, and nothing is sent.

use std::sync::Arc;

use steward_core::{AuditRecord, Source};
use steward_eth::{BondState, Key};

use crate::bondgate::BondGate;
use crate::bonds::message_id_of;
use crate::error::Result;
use crate::store::Store;

/// Called after an answer is recorded on the desk, with the proposal's key: a line for the page
/// when the proposal is a bonded mail, `None` otherwise.
pub type ReplyHook = Arc<dyn Fn(&mut Store, &str) -> Option<String> + Send + Sync>;

/// What answering a bonded mail did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Replied {
    /// Refunded: the reply's transaction and what the sender got back (token units).
    Refunded { tx: String, refund: Option<String> },
    /// A bond, but not one to reply to (already replied, forfeited, or to someone else).
    NotOpen { state: String },
}

/// The escrow and the key that replies.
#[derive(Debug)]
pub struct BondReplier {
    gate: BondGate,
    key: Key,
}

impl BondReplier {
    pub fn new(gate: BondGate, key: Key) -> Self {
        Self { gate, key }
    }

    /// Replies to the bond of the mail behind `proposal_key`, if it is one with a bond. `None`:
    /// not a mail, or no bond on its Message-ID.
    pub async fn on_answer(
        &self,
        store: &mut Store,
        proposal_key: &str,
    ) -> Result<Option<Replied>> {
        let Some(sp) = store.proposal(proposal_key)? else {
            return Ok(None);
        };
        if !matches!(sp.proposal.source, Source::Mail { .. }) {
            return Ok(None);
        }
        let id = message_id_of(&sp.proposal.id);
        let bonds =
            self.gate
                .escrow()
                .bonds(&[id], None)
                .await
                .map_err(|e| crate::Error::Source {
                    source_name: "bonds".into(),
                    message: format!("reading the bond of {}: {e}", sp.proposal.id),
                })?;
        let Some(b) = bonds.into_iter().next() else {
            return Ok(None);
        };
        if b.state == BondState::None {
            return Ok(None);
        }
        if b.state != BondState::Open || b.recipient != self.gate.policy().recipient {
            return Ok(Some(Replied::NotOpen {
                state: format!("{:?}", b.state).to_lowercase(),
            }));
        }
        let tx = crate::bonds::reply(self.gate.escrow(), &self.key, id)
            .await
            .map_err(|e| crate::Error::Source {
                source_name: "bonds".into(),
                message: e.to_string(),
            })?;
        let hash = tx.tx.to_string();
        store.audit(
            &AuditRecord::new("bond-reply", proposal_key).detail(serde_json::json!({
                "message_id": id.to_string(), "tx": hash, "why": "the user answered it on the desk",
            })),
        )?;
        Ok(Some(Replied::Refunded {
            tx: hash,
            refund: tx.paid.map(|p| p.to_string()),
        }))
    }

    /// The desk's hook: runs [`Self::on_answer`] on the server's runtime.
    pub fn hook(self: Arc<Self>) -> ReplyHook {
        Arc::new(move |store, key| {
            let me = self.clone();
            // The handler runs on the multi-threaded runtime: block this worker, not the others.
            let r = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(me.on_answer(store, key))
            });
            match r {
                Ok(None) => None,
                Ok(Some(Replied::Refunded { tx, .. })) => Some(format!(
                    "The sender's attention bond was refunded (tx {tx})."
                )),
                Ok(Some(Replied::NotOpen { state })) => {
                    Some(format!("Its attention bond is {state}: nothing to refund."))
                }
                Err(e) => Some(format!("The attention bond was not refunded: {e}")),
            }
        })
    }
}
