//! Attention bonds, the agent's side (docs/economy.md): mail that carries an
//! `X-Steward-Bond: <chainId>:<escrow>:<messageId>` header is checked on chain before it reaches
//! the user, and the user's [`BondPolicy`] decides what is delivered and what is held.
//!
//! A bond pays for one message only: its `messageId` must be keccak256 of the message's own
//! `Message-ID` (as mail-parser reads it, without angle brackets), so one bond cannot be reused
//! for other mail. A bond counts when, read at `confirmations` blocks below the head (so a reorg
//! of the last blocks cannot un-pay a delivered message), it is on the configured chain and
//! escrow, the escrow holds the configured token, the recipient is the user, the amount is at
//! least the price, and it is still open. Everything else is held, with the reason.
//!
//! The price is the CO-QAF attention price of `steward_core::mech::coqaf` (p0·(1+α·D)^β, less
//! γ·reply rate for senders the user answers). Replies refund ([`reply`]); open bonds past their
//! window are forfeited to the user ([`forfeit_due`]). [`sender_scores`] shows per-sender QAF and
//! CO-QAF shares: splitting one stake over many bonds or many look-alike addresses gains nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use mail_parser::MessageParser;
use steward_core::mech::coqaf::{self, Bond, BondStatus, PriceParams};
use steward_core::{Address, B256, U256};
use steward_eth::{BondError, BondEscrow, BondState, BondTx, ChainBond, Key};

/// The header a bonded message carries.
pub const BOND_HEADER: &str = "X-Steward-Bond";

/// USDC base units per whole token.
pub const USDC_UNIT: u64 = 1_000_000;

/// The decimals every amount here assumes (`bonds.token` and the market's token are USDC-shaped);
/// a token whose `decimals()` differs is refused, never misread by a factor of 10^12.
pub const TOKEN_DECIMALS: u8 = 6;

/// What went wrong, in words that name the message and the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BondsError {
    /// A header or message that cannot be read.
    #[error("{message}, field {field}: {problem}")]
    Field {
        message: String,
        field: &'static str,
        problem: String,
    },
    /// The chain or the escrow.
    #[error("attention bonds: {context}")]
    Chain {
        context: String,
        #[source]
        source: Box<BondError>,
    },
    /// A parameter (price, flag) out of its domain.
    #[error("attention price: {0}")]
    Price(#[from] steward_core::mech::MechError),
    /// The configured token is not a 6-decimal one.
    #[error(
        "bonds.token {token} has {decimals} decimals, not {TOKEN_DECIMALS}: prices and amounts here are in {TOKEN_DECIMALS}-decimal units (USDC), so this token is refused"
    )]
    Decimals { token: Address, decimals: u8 },
}

impl BondsError {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Field { .. } => "bad-bond-reference",
            Self::Chain { source, .. } => source.kind(),
            Self::Price(_) => "bad-price",
            Self::Decimals { .. } => "bad-token",
        }
    }
}

fn chain(context: impl Into<String>) -> impl FnOnce(BondError) -> BondsError {
    let context = context.into();
    move |source| BondsError::Chain {
        context,
        source: Box::new(source),
    }
}

/// A bond reference as the header carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BondRef {
    pub chain_id: u64,
    pub escrow: Address,
    pub message_id: B256,
}

impl fmt::Display for BondRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.chain_id, self.escrow, self.message_id)
    }
}

impl BondRef {
    /// Parses `<chainId>:<escrow 0x…40 hex>:<messageId 0x…64 hex>`; `message` names the message
    /// in errors.
    pub fn parse(value: &str, message: &str) -> Result<Self, BondsError> {
        let bad = |problem: String| BondsError::Field {
            message: message.to_owned(),
            field: BOND_HEADER,
            problem,
        };
        let parts: Vec<&str> = value.trim().split(':').collect();
        let [chain, escrow, id] = parts[..] else {
            return Err(bad(format!(
                "{:?} is not <chainId>:<escrow>:<messageId>",
                short(value)
            )));
        };
        let chain_id = chain
            .parse::<u64>()
            .map_err(|_| bad(format!("chain id {:?} is not a number", short(chain))))?;
        let escrow = hex_exact::<20>(escrow)
            .map(Address::from)
            .ok_or_else(|| bad(format!("escrow {:?} is not a 0x address", short(escrow))))?;
        let message_id = hex_exact::<32>(id)
            .map(B256::from)
            .ok_or_else(|| bad(format!("message id {:?} is not 0x + 64 hex", short(id))))?;
        Ok(Self {
            chain_id,
            escrow,
            message_id,
        })
    }
}

fn hex_exact<const N: usize>(s: &str) -> Option<[u8; N]> {
    let h = s.strip_prefix("0x")?;
    if h.len() != 2 * N {
        return None;
    }
    hex::decode(h).ok()?.try_into().ok()
}

/// At most 80 characters of outside text in an error.
fn short(s: &str) -> String {
    s.chars().take(80).collect()
}

/// The on-chain message id of a mail's `Message-ID` (without angle brackets).
pub fn message_id_of(mail_message_id: &str) -> B256 {
    let id = mail_message_id.trim();
    let id = id
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(id);
    B256::from(steward_eth::keccak(id.as_bytes()))
}

/// One incoming message as the bond check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Where it came from (maildir name, `message N`), for errors.
    pub label: String,
    pub message_id: String,
    /// The From address, lower-cased.
    pub from: String,
    /// The header's value, if any.
    pub bond: Option<String>,
}

impl Incoming {
    /// Reads Message-ID, From and the bond header out of a raw RFC 5322 message.
    pub fn parse(label: &str, bytes: &[u8]) -> Result<Self, BondsError> {
        let bad = |field, problem: &str| BondsError::Field {
            message: label.to_owned(),
            field,
            problem: problem.to_owned(),
        };
        let msg = MessageParser::default()
            .parse(bytes)
            .ok_or_else(|| bad("(message)", "not an RFC 5322 message"))?;
        let message_id = msg
            .message_id()
            .ok_or_else(|| bad("Message-ID", "is missing"))?
            .to_owned();
        let from = msg
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let bond = msg
            .header(BOND_HEADER)
            .and_then(|h| h.as_text())
            .map(str::to_owned);
        Ok(Self {
            label: label.to_owned(),
            message_id,
            from,
            bond,
        })
    }
}

/// What the user lets through.
#[derive(Debug, Clone, PartialEq)]
pub struct BondPolicy {
    pub chain_id: u64,
    pub escrow: Address,
    /// The token bonds must be in (the escrow's `token()` must be this).
    pub token: Address,
    /// The user's address: the bonds' recipient.
    pub recipient: Address,
    /// The least amount delivered (token base units): the attention price.
    pub price: U256,
    /// From addresses that reach the user without a bond (lower-case).
    pub whitelist: BTreeSet<String>,
    /// Agents and delegates the user trusts: their mail passes too (lower-case).
    pub trusted_delegates: BTreeSet<String>,
    /// How deep a deposit must be before it counts (0: the head).
    pub confirmations: u64,
}

/// Why a message is delivered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Pass {
    Whitelisted,
    TrustedDelegate,
    Bonded {
        #[serde(with = "steward_eth::bonds::decimal")]
        amount: U256,
        deadline: u64,
    },
}

/// Why a message is held.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum Hold {
    /// No bond header, not whitelisted, not trusted.
    NoBond,
    /// The header does not parse.
    BadReference {
        problem: String,
    },
    /// The bond names another message (its id is not keccak256 of this Message-ID).
    OtherMessage {
        bond: B256,
        expected: B256,
    },
    WrongChain {
        chain_id: u64,
    },
    WrongEscrow {
        escrow: Address,
    },
    /// The escrow holds another token than the user's.
    WrongToken {
        token: Address,
    },
    /// No bond on chain for this id (at the confirmed block).
    UnknownBond,
    /// The deposit is younger than the confirmations asked.
    Unconfirmed,
    WrongRecipient {
        recipient: Address,
    },
    BelowPrice {
        #[serde(with = "steward_eth::bonds::decimal")]
        amount: U256,
        #[serde(with = "steward_eth::bonds::decimal")]
        price: U256,
    },
    /// Already replied or forfeited.
    NotOpen {
        state: BondState,
    },
}

/// The decision on one message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    Deliver(Pass),
    Hold(Hold),
}

impl Verdict {
    pub fn delivered(&self) -> bool {
        matches!(self, Self::Deliver(_))
    }
}

/// Checks every message against the policy and the chain: bonded messages in one batched read
/// (`bondsOf`) at the confirmed block, plus one read of the escrow's token.
pub async fn verify(
    escrow: &BondEscrow,
    policy: &BondPolicy,
    messages: &[Incoming],
) -> Result<Vec<Verdict>, BondsError> {
    verify_priced(escrow, policy, &BTreeMap::new(), messages).await
}

/// [`verify`] with a price per sender (their CO-QAF reply-rate discount, [`live_price`]): a
/// bond from a sender in `sender_prices` must reach that price instead of `policy.price`.
pub async fn verify_priced(
    escrow: &BondEscrow,
    policy: &BondPolicy,
    sender_prices: &BTreeMap<Address, U256>,
    messages: &[Incoming],
) -> Result<Vec<Verdict>, BondsError> {
    let mut verdicts: Vec<Option<Verdict>> = vec![None; messages.len()];
    let mut wanted: Vec<(usize, BondRef)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let v = &mut verdicts[i];
        if policy.whitelist.contains(&m.from) {
            *v = Some(Verdict::Deliver(Pass::Whitelisted));
        } else if policy.trusted_delegates.contains(&m.from) {
            *v = Some(Verdict::Deliver(Pass::TrustedDelegate));
        } else if let Some(h) = &m.bond {
            match BondRef::parse(h, &m.label) {
                Err(e) => {
                    let problem = match e {
                        BondsError::Field { problem, .. } => problem,
                        other => other.to_string(),
                    };
                    *v = Some(Verdict::Hold(Hold::BadReference { problem }));
                }
                Ok(r) => {
                    let expected = message_id_of(&m.message_id);
                    *v = if r.message_id != expected {
                        Some(Verdict::Hold(Hold::OtherMessage {
                            bond: r.message_id,
                            expected,
                        }))
                    } else if r.chain_id != policy.chain_id {
                        Some(Verdict::Hold(Hold::WrongChain {
                            chain_id: r.chain_id,
                        }))
                    } else if r.escrow != policy.escrow || escrow.address() != policy.escrow {
                        Some(Verdict::Hold(Hold::WrongEscrow { escrow: r.escrow }))
                    } else {
                        wanted.push((i, r));
                        None
                    };
                }
            }
        } else {
            *v = Some(Verdict::Hold(Hold::NoBond));
        }
    }
    if !wanted.is_empty() {
        let rpc = escrow.rpc();
        let (chain_id, head) = tokio::try_join!(rpc.chain_id(), rpc.block_number())
            .map_err(|e| chain("reading the chain id and head")(e.into()))?;
        if chain_id != policy.chain_id {
            // The node is on another chain than the policy names: nothing it says counts.
            for (i, _) in &wanted {
                verdicts[*i] = Some(Verdict::Hold(Hold::WrongChain { chain_id }));
            }
            wanted.clear();
        }
        let at = head.saturating_sub(policy.confirmations);
        let ids: Vec<B256> = wanted.iter().map(|(_, r)| r.message_id).collect();
        let (settings, confirmed, latest, decimals) = tokio::try_join!(
            escrow.settings(),
            escrow.bonds(&ids, Some(at)),
            async {
                if policy.confirmations == 0 {
                    Ok(Vec::new())
                } else {
                    escrow.bonds(&ids, None).await
                }
            },
            escrow.token_decimals(policy.token),
        )
        .map_err(chain(format!(
            "reading {} bonds from escrow {}",
            ids.len(),
            escrow.address()
        )))?;
        if decimals != TOKEN_DECIMALS {
            return Err(BondsError::Decimals {
                token: policy.token,
                decimals,
            });
        }
        for (k, (i, _)) in wanted.iter().enumerate() {
            let b = &confirmed[k];
            let at_head = latest.get(k).map(|l| l.state);
            let price = sender_prices
                .get(&b.sender)
                .copied()
                .unwrap_or(policy.price)
                .min(policy.price);
            verdicts[*i] = Some(Verdict::Hold(
                match judge(policy, price, settings.token, b) {
                    Ok(pass) => {
                        verdicts[*i] = Some(Verdict::Deliver(pass));
                        continue;
                    }
                    Err(Hold::UnknownBond) if at_head.is_some_and(|s| s != BondState::None) => {
                        Hold::Unconfirmed
                    }
                    Err(h) => h,
                },
            ));
        }
    }
    Ok(verdicts
        .into_iter()
        .map(|v| v.unwrap_or(Verdict::Hold(Hold::NoBond)))
        .collect())
}

fn judge(policy: &BondPolicy, price: U256, token: Address, b: &ChainBond) -> Result<Pass, Hold> {
    if token != policy.token {
        return Err(Hold::WrongToken { token });
    }
    if b.state == BondState::None {
        return Err(Hold::UnknownBond);
    }
    if b.recipient != policy.recipient {
        return Err(Hold::WrongRecipient {
            recipient: b.recipient,
        });
    }
    if b.amount < price {
        return Err(Hold::BelowPrice {
            amount: b.amount,
            price,
        });
    }
    if b.state != BondState::Open {
        return Err(Hold::NotOpen { state: b.state });
    }
    Ok(Pass::Bonded {
        amount: b.amount,
        deadline: b.deadline,
    })
}

/// The price shown to a sender, in token base units (6 decimals), rounded up: the CO-QAF
/// attention price for an inbox that received `inbox_7d` bonded messages in 7 days, less the
/// sender's discount for the share of their messages the user answered.
pub fn price_units(
    params: &PriceParams,
    inbox_7d: u64,
    reply_rate: f64,
) -> Result<U256, BondsError> {
    let usdc = params.sender_price(inbox_7d, reply_rate)?;
    // f64 -> base units; the price is a few USDC at most, far inside f64's exact integers.
    let units = (usdc * USDC_UNIT as f64 - 1e-6).ceil().max(0.0);
    Ok(U256::from(units as u64))
}

/// The window of the CO-QAF price's inbox count D.
pub const INBOX_WINDOW_SECS: u64 = 7 * 86_400;

/// D of the CO-QAF price: the bonded messages `recipient` received in the 7 days before the head
/// block's time (deposits to it, from `from_block` on). Block times never decrease, so the first
/// block of the window is found by binary search (about log2(head) reads), then one scan of
/// `Deposited` logs from it.
pub async fn inbox_7d(
    escrow: &BondEscrow,
    recipient: Address,
    from_block: u64,
) -> Result<u64, BondsError> {
    let start = window_start(escrow, from_block).await?;
    let n = escrow
        .deposits(start)
        .await
        .map_err(chain(format!("scanning deposits from block {start}")))?
        .into_iter()
        .filter(|d| d.recipient == recipient)
        .count();
    Ok(n as u64)
}

/// The live CO-QAF prices of `recipient`'s inbox (what the gate charges with `bonds.price`
/// unset).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LivePrice {
    /// D: bonded messages of the last 7 days.
    pub inbox_7d: u64,
    /// The price at D for a sender the user never answered.
    #[serde(with = "steward_eth::bonds::decimal")]
    pub price: U256,
    /// Senders the user answered: the price less γ·R, R their replied bonds over their settled
    /// ones (replied or forfeited).
    pub senders: BTreeMap<Address, U256>,
}

/// [`LivePrice`] from the chain: one `Deposited` scan from `from_block`, one batched read of
/// the recipient's bonds, and the binary search for the 7-day window's first block.
pub async fn live_price(
    escrow: &BondEscrow,
    recipient: Address,
    params: &PriceParams,
    from_block: u64,
) -> Result<LivePrice, BondsError> {
    let (start, deposits) = tokio::try_join!(window_start(escrow, from_block), async {
        escrow
            .deposits(from_block)
            .await
            .map_err(chain(format!("scanning deposits from block {from_block}")))
    })?;
    let mine: Vec<_> = deposits
        .into_iter()
        .filter(|d| d.recipient == recipient)
        .collect();
    let d = mine.iter().filter(|x| x.block >= start).count() as u64;
    let ids: Vec<B256> = mine.iter().map(|x| x.message_id).collect();
    let bonds = escrow
        .bonds(&ids, None)
        .await
        .map_err(chain(format!("reading {} bonds", ids.len())))?;
    let mut settled: BTreeMap<Address, (u64, u64)> = BTreeMap::new();
    for b in &bonds {
        let e = settled.entry(b.sender).or_default();
        match b.state {
            BondState::Replied => {
                e.0 += 1;
                e.1 += 1;
            }
            BondState::Forfeited => e.1 += 1,
            _ => {}
        }
    }
    let mut senders = BTreeMap::new();
    for (sender, (replied, total)) in settled {
        if replied > 0 {
            let rate = replied as f64 / total as f64;
            senders.insert(sender, price_units(params, d, rate)?);
        }
    }
    Ok(LivePrice {
        inbox_7d: d,
        price: price_units(params, d, 0.0)?,
        senders,
    })
}

/// The first block stamped within 7 days of the head block's time (from `from_block` on; the
/// head when none is).
async fn window_start(escrow: &BondEscrow, from_block: u64) -> Result<u64, BondsError> {
    let rpc = escrow.rpc();
    let head = rpc
        .block_number()
        .await
        .map_err(|e| chain("reading the head")(e.into()))?;
    let time = |n: u64| async move {
        rpc.block_timestamp(n)
            .await
            .map_err(|e| chain(format!("reading block {n}'s time"))(e.into()))
    };
    let cutoff = time(head).await?.saturating_sub(INBOX_WINDOW_SECS);
    // The first block stamped after the cutoff (head when none is older).
    let (mut lo, mut hi) = (from_block.min(head), head);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if time(mid).await? > cutoff {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(lo)
}

/// One sender's standing with the user: bonds, reply rate, and their part of the inbox's QAF and
/// CO-QAF (what the desk shows).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SenderScore {
    pub sender: String,
    pub bonds: usize,
    /// Whole USDC, counted bonds (open or refunded).
    pub bonded: f64,
    pub reply_rate: f64,
    /// The inbox's QAF and CO-QAF without this sender, subtracted from the totals.
    pub qaf_share: f64,
    pub coqaf_share: f64,
}

/// Per-sender scores for `recipient` over all known bonds (`bonds` may include other
/// recipients: CO-QAF needs every sender's recipient set).
pub fn sender_scores(bonds: &[Bond], recipient: &str) -> Vec<SenderScore> {
    let total = |bs: &[Bond]| {
        coqaf::coqaf(bs)
            .into_iter()
            .find(|a| a.recipient == recipient)
            .map_or((0.0, 0.0), |a| (a.qaf, a.coqaf))
    };
    let (qaf, co) = total(bonds);
    let senders: BTreeSet<&str> = bonds
        .iter()
        .filter(|b| b.recipient == recipient)
        .map(|b| b.sender.as_str())
        .collect();
    senders
        .into_iter()
        .map(|s| {
            let mine: Vec<&Bond> = bonds
                .iter()
                .filter(|b| b.recipient == recipient && b.sender == s)
                .collect();
            let others: Vec<Bond> = bonds.iter().filter(|b| b.sender != s).cloned().collect();
            let (q, c) = total(&others);
            let settled = mine
                .iter()
                .filter(|b| b.status != BondStatus::Active)
                .count();
            let replied = mine
                .iter()
                .filter(|b| b.status == BondStatus::Refunded)
                .count();
            SenderScore {
                sender: s.to_owned(),
                bonds: mine.len(),
                bonded: mine
                    .iter()
                    .filter(|b| b.status.counts())
                    .map(|b| b.amount)
                    .sum(),
                reply_rate: if settled == 0 {
                    0.0
                } else {
                    replied as f64 / settled as f64
                },
                qaf_share: qaf - q,
                coqaf_share: co - c,
            }
        })
        .collect()
}

/// The desk's view of `recipient`'s senders: every deposit on the escrow since `from_block`
/// (CO-QAF needs each sender's other recipients too), their states now, scored by
/// [`sender_scores`]. Senders are lower-case 0x addresses.
pub async fn chain_scores(
    escrow: &BondEscrow,
    recipient: Address,
    from_block: u64,
) -> Result<Vec<SenderScore>, BondsError> {
    let deposits = escrow
        .deposits(from_block)
        .await
        .map_err(chain(format!("scanning deposits from block {from_block}")))?;
    let ids: Vec<B256> = deposits.iter().map(|d| d.message_id).collect();
    let bonds = escrow
        .bonds(&ids, None)
        .await
        .map_err(chain(format!("reading {} bonds", ids.len())))?;
    let core: Vec<Bond> = bonds
        .iter()
        .filter(|b| b.state != BondState::None)
        .map(core_bond)
        .collect();
    Ok(sender_scores(
        &core,
        &recipient.to_string().to_ascii_lowercase(),
    ))
}

/// A chain bond in the core's terms (amounts in whole USDC), for [`sender_scores`].
pub fn core_bond(b: &ChainBond) -> Bond {
    Bond {
        sender: b.sender.to_string().to_ascii_lowercase(),
        recipient: b.recipient.to_string().to_ascii_lowercase(),
        amount: u64::try_from(b.amount).unwrap_or(u64::MAX) as f64 / USDC_UNIT as f64,
        status: match b.state {
            BondState::Open | BondState::None => BondStatus::Active,
            BondState::Replied => BondStatus::Refunded,
            BondState::Forfeited => BondStatus::Forfeited,
        },
    }
}

/// The user (or an agent they authorised on the escrow) answered `message_id`: refund the
/// sender, less the escrow's fee. A replayed reply is refused by the escrow, nothing moves.
pub async fn reply(escrow: &BondEscrow, key: &Key, message_id: B256) -> Result<BondTx, BondsError> {
    escrow
        .reply(key, message_id)
        .await
        .map_err(chain(format!("replying to message {message_id}")))
}

/// Open bonds for `policy.recipient` whose window has closed by `now` (unix seconds).
pub fn due(bonds: &[ChainBond], recipient: Address, now: u64) -> Vec<B256> {
    bonds
        .iter()
        .filter(|b| b.state == BondState::Open && b.recipient == recipient && now > b.deadline)
        .map(|b| b.message_id)
        .collect()
}

/// Forfeits every open bond among `ids` whose window has closed at the head block's time; one
/// result per forfeited id (a failure does not stop the others).
pub async fn forfeit_due(
    escrow: &BondEscrow,
    key: &Key,
    recipient: Address,
    ids: &[B256],
) -> Result<Vec<(B256, Result<BondTx, BondsError>)>, BondsError> {
    let rpc = escrow.rpc();
    let head = rpc
        .block_number()
        .await
        .map_err(|e| chain("reading the head")(e.into()))?;
    let now = rpc
        .block_timestamp(head)
        .await
        .map_err(|e| chain("reading the head's time")(e.into()))?;
    let bonds = escrow
        .bonds(ids, None)
        .await
        .map_err(chain("reading bonds to forfeit"))?;
    let mut out = Vec::new();
    for id in due(&bonds, recipient, now) {
        let r = escrow
            .forfeit(key, id)
            .await
            .map_err(chain(format!("forfeiting message {id}")));
        out.push((id, r));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str, r: &str, amount: f64) -> Bond {
        Bond {
            sender: s.into(),
            recipient: r.into(),
            amount,
            status: BondStatus::Active,
        }
    }

    #[test]
    fn bond_reference_parses_and_names_the_bad_field() {
        let id = message_id_of("<abc@example.org>");
        assert_eq!(id, B256::from(steward_eth::keccak(b"abc@example.org")));
        let v = format!("31337:{}:{id}", Address::repeat_byte(0x11));
        let r = BondRef::parse(&v, "new/1").expect("parses");
        assert_eq!((r.chain_id, r.message_id), (31337, id));
        assert_eq!(r.to_string().to_lowercase(), v.to_lowercase());
        for (bad, want) in [
            ("1:2", "is not <chainId>"),
            ("x:0x11:0x22", "chain id \"x\""),
            ("1:0x11:0x22", "escrow \"0x11\""),
            (&format!("1:{}:0x22", Address::ZERO), "message id \"0x22\""),
        ] {
            let e = BondRef::parse(bad, "new/1").expect_err(bad).to_string();
            assert!(e.starts_with("new/1, field X-Steward-Bond: "), "{e}");
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn incoming_reads_the_header() {
        let mail = b"Message-ID: <m1@x>\r\nFrom: Alice <ALICE@x.org>\r\nX-Steward-Bond: 1:0xab:0xcd\r\nSubject: hi\r\n\r\nbody\r\n";
        let m = Incoming::parse("new/1", mail).expect("parses");
        assert_eq!(m.message_id, "m1@x");
        assert_eq!(m.from, "alice@x.org");
        assert_eq!(m.bond.as_deref(), Some("1:0xab:0xcd"));
        let e = Incoming::parse("new/2", b"Subject: no id\r\n\r\nx").expect_err("no id");
        assert!(e.to_string().contains("Message-ID"), "{e}");
    }

    #[test]
    fn price_follows_the_coqaf_attention_price() {
        let p = PriceParams::default();
        // 0.01 USDC at an empty inbox, 0.02 at 10 messages, half for a sender always answered.
        assert_eq!(price_units(&p, 0, 0.0).expect("ok"), U256::from(10_000u64));
        assert_eq!(price_units(&p, 10, 0.0).expect("ok"), U256::from(20_000u64));
        assert_eq!(price_units(&p, 10, 1.0).expect("ok"), U256::from(10_000u64));
        assert!(price_units(&p, 10, 1.5).is_err());
    }

    #[test]
    fn splitting_a_stake_over_many_bonds_or_addresses_gains_nothing() {
        // Others: two independent senders with their own recipient sets.
        let base = vec![
            b("carol", "me", 1.0),
            b("carol", "x", 1.0),
            b("dave", "me", 1.0),
            b("dave", "y", 1.0),
        ];
        let score = |extra: Vec<Bond>| {
            let mut all = base.clone();
            all.extend(extra);
            coqaf::coqaf(&all)
                .into_iter()
                .find(|a| a.recipient == "me")
                .map(|a| (a.qaf, a.coqaf))
                .expect("me")
        };
        let one = score(vec![b("spam", "me", 4.0), b("spam", "z", 4.0)]);
        // The same sender, the same 4 USDC in four bonds: exactly the same scores.
        let four_bonds = score(
            (0..4)
                .flat_map(|_| [b("spam", "me", 1.0), b("spam", "z", 1.0)])
                .collect(),
        );
        assert!((one.0 - four_bonds.0).abs() < 1e-9 && (one.1 - four_bonds.1).abs() < 1e-9);
        // Four look-alike addresses (the same recipient set) of 1 USDC each: QAF rewards the
        // split, CO-QAF gives back no more than one sender's 4 USDC.
        let sybils = score(
            (0..4)
                .flat_map(|k| {
                    let s = format!("spam{k}");
                    [b(&s, "me", 1.0), b(&s, "z", 1.0)]
                })
                .collect(),
        );
        assert!(
            sybils.0 > one.0 + 1.0,
            "QAF rewards the split: {sybils:?} vs {one:?}"
        );
        assert!(
            sybils.1 <= one.1 + 1e-9,
            "CO-QAF does not: {sybils:?} vs {one:?}"
        );
        // And per sender: the four look-alikes' CO-QAF shares add up to no more than the one.
        let mut all = base.clone();
        all.extend((0..4).flat_map(|k| {
            let s = format!("spam{k}");
            [b(&s, "me", 1.0), b(&s, "z", 1.0)]
        }));
        let split: f64 = sender_scores(&all, "me")
            .iter()
            .filter(|s| s.sender.starts_with("spam"))
            .map(|s| s.coqaf_share)
            .sum();
        let mut all1 = base.clone();
        all1.extend([b("spam", "me", 4.0), b("spam", "z", 4.0)]);
        let whole = sender_scores(&all1, "me")
            .into_iter()
            .find(|s| s.sender == "spam")
            .expect("spam")
            .coqaf_share;
        assert!(split <= whole + 1e-9, "{split} vs {whole}");
    }

    #[test]
    fn due_lists_open_bonds_past_their_window_only() {
        let me = Address::repeat_byte(1);
        let mk = |n: u8, deadline, state, recipient| ChainBond {
            message_id: B256::repeat_byte(n),
            sender: Address::repeat_byte(9),
            recipient,
            amount: U256::from(1u64),
            deadline,
            state,
        };
        let bonds = [
            mk(1, 100, BondState::Open, me),
            mk(2, 200, BondState::Open, me),
            mk(3, 50, BondState::Replied, me),
            mk(4, 50, BondState::Open, Address::repeat_byte(2)),
        ];
        assert_eq!(due(&bonds, me, 100), Vec::<B256>::new());
        assert_eq!(due(&bonds, me, 101), vec![B256::repeat_byte(1)]);
    }
}
