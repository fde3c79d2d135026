//! Trading in a suggestion market for the user (docs/economy.md): listing the inputs with their
//! LMSR price, quoting a trade with steward-core's LMSR (and, in the sponsor's home, signing the
//! quote, also as a service: [`quotes`]), trading a sponsor-signed quote under the user's budget
//! and daily cap, trading on the agent's own judgement ([`auto`], [`judge_input`]), and settling
//! (the sponsor). One function per `steward market` command.
//!
//! Limits are checked before anything is signed, in the store's ledger ([`ledger`]): a trade is
//! recorded as an intent in the transaction that checks `market.budget` and `market.daily_cap`,
//! then sent, then settled; an intent a crash left is reconciled against the chain
//! ([`reconcile`]) before the next trade. A quote whose cost is not the LMSR price at the
//! market's current state is refused too: the agent never pays more than the mechanism's price,
//! whoever signed it.

pub mod auto;
pub mod judge;
pub mod ledger;
pub mod quotes;

pub use judge::{InputJudgement, judge_input};
pub use ledger::{Left, Limits, MarketCaps, Spent, TradeRecord, TradeState};

use serde::{Deserialize, Serialize};
use steward_core::{Address, Bytes};
use steward_eth::{MarketQuote, RegistryError, SuggestionMarketClient, lmsr_cost, lmsr_price_yes};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::identity::IdentityContext;
use crate::store::Store;

/// Token units per token: the market's token is USDC-shaped (6 decimals).
pub const UNITS: u128 = 1_000_000;

/// How long a signed quote stays valid.
pub const QUOTE_SECS: u64 = 300;

/// One input as `steward market list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct InputLine {
    pub id: u64,
    pub status: steward_eth::InputStatus,
    pub submitter: Address,
    /// The LMSR's probability that the sponsor accepts the input.
    pub price_accepted: f64,
    pub q_accepted: String,
    pub q_rejected: String,
    pub pool: String,
    /// The user's shares.
    pub mine_accepted: String,
    pub mine_rejected: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MarketList {
    pub market: steward_eth::MarketInfo,
    pub inputs: Vec<InputLine>,
}

/// A quote as passed from the sponsor's home to the trader's (`--quote FILE`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignedQuote {
    pub market: Address,
    pub input: u64,
    pub trader: Address,
    pub delta_accepted: i128,
    pub delta_rejected: i128,
    pub q_accepted: u128,
    pub q_rejected: u128,
    /// Token units the trader pays (negative: is paid).
    pub cost: i128,
    pub nonce: u64,
    pub deadline: u64,
    /// The sponsor's signature; `None` for an unsigned quote.
    pub signature: Option<Bytes>,
}

impl SignedQuote {
    pub(crate) fn of(market: Address, q: &MarketQuote, signature: Option<Bytes>) -> Self {
        Self {
            market,
            input: q.input,
            trader: q.trader,
            delta_accepted: q.delta_yes,
            delta_rejected: q.delta_no,
            q_accepted: q.q_yes,
            q_rejected: q.q_no,
            cost: q.cost,
            nonce: q.nonce,
            deadline: q.deadline,
            signature,
        }
    }

    pub(crate) fn quote(&self) -> MarketQuote {
        MarketQuote {
            input: self.input,
            trader: self.trader,
            delta_yes: self.delta_accepted,
            delta_no: self.delta_rejected,
            q_yes: self.q_accepted,
            q_no: self.q_rejected,
            cost: self.cost,
            nonce: self.nonce,
            deadline: self.deadline,
        }
    }
}

/// Whether a trade is worth its cost at the user's probability `p` that the sponsor accepts the
/// input: the expected payout p·Δaccepted + (1 − p)·Δrejected against the cost, in token units.
/// Returns the expected gain, or a refusal that explains the numbers.
pub fn judge_trade(p: f64, delta_accepted: i128, delta_rejected: i128, cost: i128) -> Result<f64> {
    if !(0.0..=1.0).contains(&p) {
        return Err(market_error(format!(
            "probability {p} is not between 0 and 1"
        )));
    }
    let expected = p * delta_accepted as f64 + (1.0 - p) * delta_rejected as f64;
    let gain = expected - cost as f64;
    if gain < 0.0 {
        return Err(market_error(format!(
            "trade refused: at your probability {p:.3} of acceptance it pays {} on average and costs {}",
            tokens(expected.round() as i128),
            tokens(cost)
        )));
    }
    Ok(gain)
}

/// A trade made.
#[derive(Debug, Clone, Serialize)]
pub struct TradeDone {
    pub input: u64,
    /// The ledger's record.
    pub trade: i64,
    /// Why: the price, the probability (when known) and the expected gain, in words.
    pub why: String,
    pub detail: Why,
    pub cost: String,
    pub tx: String,
    pub gas_used: u64,
    pub spent_total: String,
    pub spent_24h: String,
}

/// A settlement made.
#[derive(Debug, Clone, Serialize)]
pub struct Settled {
    pub input: u64,
    pub accepted: bool,
    pub tx: String,
}

pub(crate) fn market_error(msg: impl Into<String>) -> Error {
    Error::Identity(msg.into())
}

pub(crate) fn chain_error(context: impl Into<String>) -> impl FnOnce(RegistryError) -> Error {
    let context = context.into();
    move |source| Error::Registry {
        context,
        source: Box::new(source),
    }
}

/// `units` as a token amount ("5.124948").
pub fn tokens(units: i128) -> String {
    steward_eth::fixed_point(units, 6)
}

pub(crate) fn to_units(amount: f64) -> u128 {
    // Budgets are whole cents or so; rounding down keeps the limit a limit.
    (amount * UNITS as f64).floor().max(0.0) as u128
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Refuses a trade costing `cost` units that would pass the budget or the daily cap, given what
/// is spent (the CLI's check before the keystore password is asked for; the binding check is
/// [`Store::market_record_intent`]'s, in the transaction that records the trade).
pub fn check_limits(config: &Config, spent: Spent, cost: i128) -> Result<()> {
    Limits::of(config).check(spent, cost)
}

/// [`check_limits`] over the store, with the chosen market's own caps too (`market`: its
/// address; the spend of that market is summed by it).
pub fn check_caps(config: &Config, store: &Store, market: Address, cost: i128) -> Result<()> {
    let now = unix_now();
    Limits::of(config).check(store.market_spent(now)?, cost)?;
    MarketCaps::of(config).check(store.market_spent_in(&addr(market), now)?, cost)
}

pub(crate) fn client(ctx: &IdentityContext<'_>) -> Result<SuggestionMarketClient> {
    client_of(ctx.config, ctx.network)
}

/// Refuses a market whose token does not have the 6 decimals every amount here is in
/// ([`UNITS`]): a budget of 5 would otherwise be 5·10^-12 of an 18-decimal token.
pub async fn check_decimals(m: &SuggestionMarketClient) -> Result<()> {
    let (token, d) = m
        .token_decimals()
        .await
        .map_err(chain_error("reading the market token's decimals"))?;
    if d != crate::bonds::TOKEN_DECIMALS {
        return Err(market_error(format!(
            "market {}: its token {token} has {d} decimals, not {}: budgets, caps and prices here are in {}-decimal units (USDC), so this market is refused",
            m.address(),
            crate::bonds::TOKEN_DECIMALS,
            crate::bonds::TOKEN_DECIMALS
        )));
    }
    Ok(())
}

/// The market of `market.rpc` and `market.address`.
pub(crate) fn client_of(
    config: &Config,
    network: &crate::Network,
) -> Result<SuggestionMarketClient> {
    let rpc =
        config.market.rpc.as_deref().ok_or_else(|| {
            market_error("market.rpc is not set: the chain of the suggestion market")
        })?;
    let address = config
        .market
        .address
        .as_deref()
        .ok_or_else(|| market_error("market.address is not set: the SuggestionMarket contract"))?
        .parse()
        .map_err(|_| market_error("market.address is not an address"))?;
    Ok(SuggestionMarketClient::new(network.rpc(rpc)?, address))
}

pub(crate) fn open_key(ctx: &IdentityContext<'_>) -> Result<steward_eth::Key> {
    let password = ctx.password.ok_or_else(|| {
        market_error("no keystore password was given (STEWARD_KEYSTORE_PASSWORD)")
    })?;
    ctx.keys.open(ctx.config.casting.key.as_deref(), password)
}

/// Every input with its price and the user's shares.
pub async fn list(ctx: IdentityContext<'_>) -> Result<MarketList> {
    let m = client(&ctx)?;
    check_decimals(&m).await?;
    let info = m.info().await.map_err(chain_error("reading the market"))?;
    let me = ctx.keys.address_of(ctx.config.casting.key.as_deref()).ok();
    let mut inputs = Vec::new();
    for id in 0..info.inputs {
        let i = m
            .input(id)
            .await
            .map_err(chain_error(format!("reading input {id}")))?;
        let (no, yes) = match me {
            Some(a) => m
                .shares_of(id, a)
                .await
                .map_err(chain_error(format!("reading shares of input {id}")))?,
            None => (0, 0),
        };
        inputs.push(InputLine {
            id,
            status: i.status,
            submitter: i.submitter,
            price_accepted: lmsr_price_yes(info.b, i.q_yes, i.q_no),
            q_accepted: tokens(i.q_yes as i128),
            q_rejected: tokens(i.q_no as i128),
            pool: tokens(i.pool as i128),
            mine_accepted: tokens(yes as i128),
            mine_rejected: tokens(no as i128),
        });
    }
    Ok(MarketList {
        market: info,
        inputs,
    })
}

/// Parses a share amount ("10", "-2.5") into token units.
pub fn parse_shares(s: &str) -> Result<i128> {
    match steward_eth::parse_fixed_point(s) {
        Some((v, d)) if d <= 6 => v
            .checked_mul(10i128.pow(u32::from(6 - d)))
            .ok_or_else(|| market_error(format!("share amount {s:?} is too large"))),
        _ => Err(market_error(format!(
            "share amount {s:?} is not a number with at most 6 decimals"
        ))),
    }
}

/// The LMSR price of a trade by `trader` (default: the user) at the market's current state;
/// with `sign`, signed by this home's key, which must be the sponsor's.
pub async fn quote(
    ctx: IdentityContext<'_>,
    input: u64,
    accepted: i128,
    rejected: i128,
    trader: Option<Address>,
    sign: bool,
) -> Result<SignedQuote> {
    if accepted == 0 && rejected == 0 {
        return Err(market_error("a trade needs a non-zero amount of shares"));
    }
    let m = client(&ctx)?;
    check_decimals(&m).await?;
    let trader = match trader {
        Some(t) => t,
        None => ctx.keys.address_of(ctx.config.casting.key.as_deref())?,
    };
    let now = m
        .chain_time()
        .await
        .map_err(chain_error("reading the chain time"))?;
    let q = m
        .price(input, trader, accepted, rejected, now + QUOTE_SECS)
        .await
        .map_err(chain_error(format!("pricing input {input}")))?;
    let signature = if sign {
        let key = open_key(&ctx)?;
        let info = m.info().await.map_err(chain_error("reading the market"))?;
        if key.address() != info.sponsor {
            return Err(market_error(format!(
                "only the sponsor {} signs quotes; this key is {}",
                info.sponsor,
                key.address()
            )));
        }
        Some(
            m.sign_quote(&key, &q)
                .await
                .map_err(chain_error("signing the quote"))?,
        )
    } else {
        None
    };
    Ok(SignedQuote::of(m.address(), &q, signature))
}

/// Why a trade was made, as the ledger keeps it and the desk shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Why {
    /// The market's probability of "accepted" before the trade.
    pub market_price: f64,
    /// The probability the trade was judged at (the agent's, or the user's `--probability`).
    pub probability: Option<f64>,
    /// Where that probability came from: the user, or the decision core's evidence.
    pub source: String,
    /// The evidence behind the agent's probability (excerpts, strongest first).
    #[serde(default)]
    pub evidence: Vec<String>,
    /// Token amounts ("5.124948").
    pub cost: String,
    pub expected_gain: Option<String>,
    /// What is left under market.budget and market.daily_cap after this trade.
    pub budget_left: String,
    pub daily_left: String,
    /// All of it in words.
    pub text: String,
}

/// The market's price of a quote's trade at its current state, after refusing a quote for
/// another market, an unsigned one, or one asking more than the LMSR price.
pub(crate) async fn check_quote(
    m: &SuggestionMarketClient,
    q: &SignedQuote,
) -> Result<(Bytes, f64)> {
    if q.market != m.address() {
        return Err(market_error(format!(
            "the quote is for market {}, market.address is {}",
            q.market,
            m.address()
        )));
    }
    let signature = q
        .signature
        .clone()
        .ok_or_else(|| market_error("the quote is not signed by the sponsor"))?;
    let info = m.info().await.map_err(chain_error("reading the market"))?;
    let state = m
        .input(q.input)
        .await
        .map_err(chain_error(format!("reading input {}", q.input)))?;
    let fair = lmsr_cost(
        info.b,
        state.q_yes,
        state.q_no,
        q.delta_accepted,
        q.delta_rejected,
    )
    .map_err(|e| market_error(format!("pricing the quote: {e}")))?;
    if q.cost > fair {
        return Err(market_error(format!(
            "the quote asks {} but the LMSR price at the market's current state is {}; refused",
            tokens(q.cost),
            tokens(fair)
        )));
    }
    Ok((signature, lmsr_price_yes(info.b, state.q_yes, state.q_no)))
}

/// Trades a sponsor-signed quote with the user's key, after checking the market, the trader,
/// the LMSR price and the budget and daily cap. Records the trade in the store's ledger.
pub async fn trade(
    ctx: IdentityContext<'_>,
    store: &mut Store,
    q: &SignedQuote,
    probability: Option<f64>,
) -> Result<TradeDone> {
    let m = client(&ctx)?;
    check_decimals(&m).await?;
    let (signature, price) = check_quote(&m, q).await?;
    let (gain, text) = match probability {
        Some(p) => {
            let gain = judge_trade(p, q.delta_accepted, q.delta_rejected, q.cost)?;
            (
                Some(gain),
                format!(
                    "market P(accepted) {price:.3}, yours {p:.3}: pays {} for an expected gain of {}",
                    tokens(q.cost),
                    tokens(gain.floor() as i128)
                ),
            )
        }
        None => (
            None,
            format!(
                "market P(accepted) {price:.3}: pays {} at the LMSR price (no probability given)",
                tokens(q.cost)
            ),
        ),
    };
    let why = Why {
        market_price: price,
        probability,
        source: if probability.is_some() {
            "yours (--probability)".into()
        } else {
            "none given".into()
        },
        evidence: Vec::new(),
        cost: tokens(q.cost),
        expected_gain: gain.map(|g| tokens(g.floor() as i128)),
        budget_left: String::new(),
        daily_left: String::new(),
        text,
    };
    check_caps(ctx.config, store, q.market, q.cost)?;
    let key = open_key(&ctx)?;
    execute(ctx.config, store, &m, &key, q, signature, why, "user").await
}

fn addr(a: Address) -> String {
    format!("{a:#x}")
}

/// Records `q` as an intent (the caps checked in the same transaction), sends it, and settles
/// the record: confirmed when mined, failed when refused or reverted; any other error leaves the
/// intent for [`reconcile`] (the transaction may be out there).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn execute(
    config: &Config,
    store: &mut Store,
    m: &SuggestionMarketClient,
    key: &steward_eth::Key,
    q: &SignedQuote,
    signature: Bytes,
    mut why: Why,
    origin: &str,
) -> Result<TradeDone> {
    if key.address() != q.trader {
        return Err(market_error(format!(
            "the quote is for trader {}, this key is {}",
            q.trader,
            key.address()
        )));
    }
    reconcile(store, m, q.trader, config.market.from_block).await?;
    let limits = Limits::of(config);
    let caps = MarketCaps::of(config);
    let now = unix_now();
    let spent = store.market_spent(now)?;
    limits.check(spent, q.cost)?;
    caps.check(store.market_spent_in(&addr(q.market), now)?, q.cost)?;
    let spend = u128::try_from(q.cost).unwrap_or(0);
    let after = limits.left(Spent {
        total: spent.total + spend,
        day: spent.day + spend,
    });
    why.budget_left = tokens(after.budget as i128);
    why.daily_left = tokens(after.day as i128);
    let why_json = serde_json::to_value(&why).unwrap_or_default();
    let id = store.market_record_intent_in(
        limits,
        &caps,
        &ledger::NewTrade {
            market: addr(q.market),
            input: q.input,
            trader: addr(q.trader),
            nonce: q.nonce,
            deadline: q.deadline,
            delta_accepted: q.delta_accepted,
            delta_rejected: q.delta_rejected,
            cost: q.cost,
            origin,
            why: why_json,
        },
        now,
    )?;
    // The test hook a kill -9 test stops at: recorded, nothing sent.
    crate::cast::pause_at("market-after-intent");
    match m.trade(key, &q.quote(), signature).await {
        Ok(done) => {
            // The other kill -9 point: mined, not yet settled in the ledger.
            crate::cast::pause_at("market-after-send");
            let tx = done.tx.to_string();
            store.market_settle(id, TradeState::Confirmed, Some(&tx), None, unix_now())?;
            let spent = store.market_spent(unix_now())?;
            Ok(TradeDone {
                input: q.input,
                trade: id,
                why: why.text.clone(),
                detail: why,
                cost: tokens(q.cost),
                tx,
                gas_used: done.gas_used,
                spent_total: tokens(spent.total as i128),
                spent_24h: tokens(spent.day as i128),
            })
        }
        Err(e @ (RegistryError::Refused { .. } | RegistryError::Reverted { .. })) => {
            let msg = e.to_string();
            store.market_settle(id, TradeState::Failed, None, Some(&msg), unix_now())?;
            Err(chain_error(format!("trading on input {}", q.input))(e))
        }
        Err(e) => Err(market_error(format!(
            "trading on input {}: {e}; trade #{id} stays recorded as an intent (its spend counts) and is reconciled against the chain before the next trade",
            q.input
        ))),
    }
}

/// Settles the intents a crash or a lost answer left for `trader` on `m`, from the chain: the
/// quote's nonce used means the trade (or one the same key signed elsewhere, which spent too)
/// landed; an expired quote with its nonce unused can never land, and its spend is released.
/// An intent still within its deadline stays (and blocks the next trade on this market).
/// A confirmed intent gets its transaction hash from the trader's `Traded` events since
/// `from_block`: the first one of the same input, shares and cost that no other trade in the
/// ledger already names.
pub async fn reconcile(
    store: &mut Store,
    m: &SuggestionMarketClient,
    trader: Address,
    from_block: u64,
) -> Result<Vec<(i64, TradeState)>> {
    let intents = store.market_intents(&addr(m.address()), &addr(trader))?;
    if intents.is_empty() {
        return Ok(Vec::new());
    }
    let nonce = m
        .nonce(trader)
        .await
        .map_err(chain_error("reading the trader's quote nonce"))?;
    let chain_now = m
        .chain_time()
        .await
        .map_err(chain_error("reading the chain time"))?;
    let confirmed = intents.iter().any(|t| t.nonce.is_some_and(|n| nonce > n));
    // Only read the logs when some intent landed.
    let (logs, mut known) = if confirmed {
        (
            m.trades_by(trader, from_block)
                .await
                .map_err(chain_error("reading the trader's trades"))?,
            store.market_known_txs(&addr(m.address()), &addr(trader))?,
        )
    } else {
        Default::default()
    };
    let mut out = Vec::new();
    for t in intents {
        let state = match (t.nonce, t.deadline) {
            (Some(n), _) if nonce > n => TradeState::Confirmed,
            (Some(_), Some(d)) if chain_now > d => TradeState::Abandoned,
            _ => continue,
        };
        let tx = (state == TradeState::Confirmed)
            .then(|| {
                logs.iter().find(|l| {
                    l.input == t.input
                        && l.delta_yes == t.delta_accepted
                        && l.delta_no == t.delta_rejected
                        && l.cost == i128::from(t.cost)
                        && !known.contains(&l.tx.to_string())
                })
            })
            .flatten()
            .map(|l| l.tx.to_string());
        let note = match (state, &tx) {
            (TradeState::Confirmed, Some(_)) => {
                "reconciled: the quote's nonce is used on chain; the transaction is its Traded event's"
            }
            (TradeState::Confirmed, None) => {
                "reconciled: the quote's nonce is used on chain, but no Traded event of this trade was found (signed elsewhere?)"
            }
            _ => "reconciled: the quote expired unused; it can never land",
        };
        if let Some(h) = &tx {
            known.insert(h.clone());
        }
        store.market_settle(t.id, state, tx.as_deref(), Some(note), unix_now())?;
        out.push((t.id, state));
    }
    Ok(out)
}

/// The sponsor's verdict on an input (only after the market's end).
pub async fn settle(ctx: IdentityContext<'_>, input: u64, accepted: bool) -> Result<Settled> {
    let m = client(&ctx)?;
    let key = open_key(&ctx)?;
    let done = m
        .settle(&key, input, accepted)
        .await
        .map_err(chain_error(format!("settling input {input}")))?;
    Ok(Settled {
        input,
        accepted,
        tx: done.tx.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_and_daily_cap_refuse_before_signing() {
        let mut cfg = Config::default();
        let spent = |total, day| Spent { total, day };
        // Nothing configured: all trading stops.
        let e = check_limits(&cfg, spent(0, 0), 1).expect_err("zero budget");
        assert!(e.to_string().contains("market.budget"), "{e}");
        cfg.market.budget = 10.0;
        cfg.market.daily_cap = 6.0;
        check_limits(&cfg, spent(0, 0), 5_124_948).expect("fits");
        // Over the daily cap within 24 hours, not after.
        let e = check_limits(&cfg, spent(5_124_948, 5_124_948), 1_000_000).expect_err("cap");
        assert!(
            e.to_string().contains("market.daily_cap is 6.000000"),
            "{e}"
        );
        check_limits(&cfg, spent(5_124_948, 0), 1_000_000).expect("a day later");
        // The budget counts every day.
        let e = check_limits(&cfg, spent(5_124_948, 0), 5_000_000).expect_err("budget");
        assert!(e.to_string().contains("market.budget is 10.000000"), "{e}");
        // A sell is never refused.
        check_limits(&cfg, spent(5_124_948, 5_124_948), -3).expect("sell");
    }

    #[test]
    fn a_trade_is_made_only_when_the_users_probability_beats_its_cost() {
        // 10 accepted shares for 5.124948: worth it at p = 0.7 (7.0 expected), not at 0.4.
        let gain = judge_trade(0.7, 10_000_000, 0, 5_124_948).expect("worth it");
        assert!((gain - 1_875_052.0).abs() < 1.0, "{gain}");
        let e = judge_trade(0.4, 10_000_000, 0, 5_124_948).expect_err("not worth it");
        assert!(e.to_string().contains("pays 4.000000 on average"), "{e}");
        assert!(judge_trade(1.5, 1, 0, 0).is_err());
    }

    #[test]
    fn share_amounts_parse_to_token_units() {
        assert_eq!(parse_shares("10").expect("10"), 10_000_000);
        assert_eq!(parse_shares("-2.5").expect("-2.5"), -2_500_000);
        assert!(parse_shares("0.0000001").is_err());
        assert!(parse_shares("ten").is_err());
    }
}
