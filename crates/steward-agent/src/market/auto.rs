//! Trading on the agent's own judgement (`steward market trade --auto`, and a step of `steward
//! run --watch` with `[market] auto = true`): for each open input, the edge between the agent's
//! probability ([`super::judge_input`]) and the market's LMSR price; when it is at least
//! `market.min_edge`, the trade that moves the price to the agent's probability (the trade a
//! risk-neutral trader gains most by under LMSR: the size follows the edge), cut to what the
//! budget and the daily cap leave (shared among the inputs worth a trade in proportion to their
//! edge). Above the price it buys "accepted"; below it sells the
//! "accepted" shares it holds, else buys "rejected". Unknown probability: no trade. The quote is
//! the sponsor's, from `market.quote_url`; everything is recorded with its `why`.

use serde::Serialize;
use steward_core::Address;
use steward_eth::{InputStatus, lmsr_cost, lmsr_price_yes};

use super::quotes::{QuoteRequest, request_quote};
use super::{
    Limits, Spent, TradeDone, Why, chain_error, check_quote, client, execute, judge_trade,
    market_error, open_key, reconcile, tokens, unix_now,
};
use crate::decide::{DecideOptions, Engines, ProfileSnapshot};
use crate::error::Result;
use crate::identity::IdentityContext;
use crate::store::Store;

/// Share amounts are whole hundredths: a trade of dust is not worth its gas.
pub const STEP: u128 = 10_000;

/// What to do on one input.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "plan", rename_all = "kebab-case")]
pub enum Plan {
    Abstain {
        reason: String,
    },
    Trade {
        delta_accepted: i128,
        delta_rejected: i128,
        /// Token units (negative: the trader is paid).
        cost: i128,
        expected_gain: f64,
    },
}

fn abstain(reason: impl Into<String>) -> Plan {
    Plan::Abstain {
        reason: reason.into(),
    }
}

/// The trade on an input with liquidity `b` and shares (`q_yes`, `q_no`) that moves its price
/// to `p`, for a trader holding `held_yes` accepted shares, costing at most `most` units; or why
/// none. Pure: the property tests drive it.
pub fn plan_trade(
    b: u128,
    q_yes: u128,
    q_no: u128,
    held_yes: u128,
    p: f64,
    min_edge: f64,
    most: u128,
) -> Plan {
    if !(0.0..=1.0).contains(&p) {
        return abstain(format!("probability {p} is not between 0 and 1"));
    }
    let price = lmsr_price_yes(b, q_yes, q_no);
    let edge = p - price;
    if edge.abs() < min_edge {
        return abstain(format!(
            "edge {edge:+.3} is below market.min_edge {min_edge:.3}"
        ));
    }
    // The share difference at which the LMSR price is p: q_yes - q_no = b·ln(p / (1 - p)).
    let pc = p.clamp(0.02, 0.98);
    let target = b as f64 * (pc / (1.0 - pc)).ln();
    let now = q_yes as f64 - q_no as f64;
    let steps = |x: f64| -> u128 { ((x.max(0.0) as u128) / STEP) * STEP };
    let (side_yes, amount, sell) = if edge > 0.0 {
        (true, steps(target - now), false)
    } else if held_yes > 0 {
        (true, steps(now - target).min(held_yes / STEP * STEP), true)
    } else {
        (false, steps(now - target), false)
    };
    let deltas = |a: u128| -> (i128, i128) {
        let a = a as i128;
        match (side_yes, sell) {
            (true, false) => (a, 0),
            (true, true) => (-a, 0),
            (false, _) => (0, a),
        }
    };
    let cost_of = |a: u128| {
        let (dy, dn) = deltas(a);
        lmsr_cost(b, q_yes, q_no, dy, dn).ok()
    };
    if amount == 0 {
        return abstain("the trade toward my probability is under 0.01 shares");
    }
    let Some(mut cost) = cost_of(amount) else {
        return abstain("the LMSR cannot price this trade");
    };
    let mut amount = amount;
    if cost > 0 && cost as u128 > most {
        // The largest amount (in steps) whose cost fits what the caps leave; cost rises with it.
        let (mut lo, mut hi) = (0u128, amount / STEP);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            match cost_of(mid * STEP) {
                Some(c) if c <= most as i128 => lo = mid,
                _ => hi = mid - 1,
            }
        }
        if lo == 0 {
            return abstain(format!(
                "the caps leave {}: not enough for 0.01 shares",
                tokens(most as i128)
            ));
        }
        amount = lo * STEP;
        cost = cost_of(amount).unwrap_or(i128::MAX);
    }
    let (dy, dn) = deltas(amount);
    let expected_gain = p * dy as f64 + (1.0 - p) * dn as f64 - cost as f64;
    if expected_gain <= 0.0 {
        return abstain("no gain in expectation after rounding");
    }
    Plan::Trade {
        delta_accepted: dy,
        delta_rejected: dn,
        cost,
        expected_gain,
    }
}

/// One input of an auto round.
#[derive(Debug, Clone, Serialize)]
pub struct AutoLine {
    /// The market (several per home: `run --watch` reports them together).
    pub market: Address,
    pub input: u64,
    /// The market's probability of "accepted".
    pub price: f64,
    /// The agent's; `None`: unknown (no trade).
    pub probability: Option<f64>,
    pub judgement: String,
    pub plan: Plan,
    /// The trade made (not in a dry run).
    pub trade: Option<TradeDone>,
    pub error: Option<String>,
}

/// An auto round.
#[derive(Debug, Clone, Serialize)]
pub struct AutoReport {
    pub market: Address,
    pub dry_run: bool,
    pub lines: Vec<AutoLine>,
    /// Intents of earlier runs settled from the chain first.
    pub reconciled: Vec<(i64, super::TradeState)>,
    /// Settled inputs whose winning shares the agent redeemed (or, in a dry run, would).
    pub redeemed: Vec<Redeemed>,
    pub budget_left: String,
    pub daily_left: String,
}

/// Winning shares of a settled input, redeemed.
#[derive(Debug, Clone, Serialize)]
pub struct Redeemed {
    pub input: u64,
    pub accepted: bool,
    /// What the winning shares pay, in tokens.
    pub amount: String,
    /// `None` in a dry run, or when it failed.
    pub tx: Option<String>,
    pub error: Option<String>,
}

/// Redeems `trader`'s winning shares of settled input `id`, if it holds any (with `key`; without
/// one, a dry run, only says what it would redeem). Audited as `market-redeem`. A failure is the
/// line's error: the shares stay redeemable and the next round tries again.
async fn redeem_settled(
    store: &mut Store,
    m: &steward_eth::SuggestionMarketClient,
    key: Option<&steward_eth::Key>,
    trader: Address,
    id: u64,
    accepted: bool,
) -> Result<Option<Redeemed>> {
    // A failed read is this input's line, not the round's: the trades above were made.
    let (rejected, yes) = match m.shares_of(id, trader).await {
        Ok(s) => s,
        Err(e) => {
            return Ok(Some(Redeemed {
                input: id,
                accepted,
                amount: "unknown".into(),
                tx: None,
                error: Some(format!("reading shares of input {id}: {e}")),
            }));
        }
    };
    let winning = if accepted { yes } else { rejected };
    if winning == 0 {
        return Ok(None);
    }
    let mut line = Redeemed {
        input: id,
        accepted,
        amount: tokens(winning as i128),
        tx: None,
        error: None,
    };
    let Some(key) = key else {
        return Ok(Some(line));
    };
    match m.redeem(key, id).await {
        Ok((paid, mined)) => {
            let tx = mined.tx.to_string();
            line.amount = tokens(paid as i128);
            store.audit(
                &steward_core::AuditRecord::new(
                    "market-redeem",
                    format!("market:{:#x}:{id}", m.address()),
                )
                .detail(serde_json::json!({
                    "input": id, "accepted": accepted, "paid": paid.to_string(), "tx": tx,
                })),
            )?;
            line.tx = Some(tx);
        }
        Err(e) => line.error = Some(e.to_string()),
    }
    Ok(Some(line))
}

/// Plans (and, unless `dry_run`, makes) the agent's trades on every open input.
pub async fn auto_trade(
    ctx: IdentityContext<'_>,
    store: &mut Store,
    engines: &mut Engines<'_>,
    opts: &DecideOptions,
    dry_run: bool,
) -> Result<AutoReport> {
    let m = client(&ctx)?;
    super::check_decimals(&m).await?;
    let trader = ctx.keys.address_of(ctx.config.casting.key.as_deref())?;
    let key = if dry_run {
        None
    } else {
        if ctx.config.market.quote_url.is_none() {
            return Err(market_error(
                "market.quote_url is not set: the sponsor's quote service signs every trade",
            ));
        }
        Some(open_key(&ctx)?)
    };
    let reconciled = if dry_run {
        Vec::new()
    } else {
        reconcile(store, &m, trader, ctx.config.market.from_block).await?
    };
    let info = m.info().await.map_err(chain_error("reading the market"))?;
    let subs = m
        .submissions(ctx.config.market.from_block)
        .await
        .map_err(chain_error("reading the market's inputs"))?;
    let profile = ProfileSnapshot::load(store, engines.embedder)?;
    let limits = Limits::of(ctx.config);
    // First every open input is judged; then what the caps leave is shared among the inputs
    // worth a trade in proportion to their edge, so the first input cannot take it all.
    enum Item {
        Done(AutoLine),
        Judged {
            line: AutoLine,
            q: (u128, u128),
            p: f64,
            held: u128,
            evidence: Vec<String>,
        },
    }
    let mut items = Vec::new();
    let mut settled = Vec::new();
    for id in 0..info.inputs {
        let state = m
            .input(id)
            .await
            .map_err(chain_error(format!("reading input {id}")))?;
        if matches!(state.status, InputStatus::Accepted | InputStatus::Rejected) {
            settled.push((id, state.status == InputStatus::Accepted));
        }
        if state.status != InputStatus::Open {
            continue;
        }
        let price = lmsr_price_yes(info.b, state.q_yes, state.q_no);
        let mut line = AutoLine {
            market: m.address(),
            input: id,
            price,
            probability: None,
            judgement: String::new(),
            plan: abstain(""),
            trade: None,
            error: None,
        };
        let text = match subs.iter().find(|s| s.id == id) {
            None => Err(format!(
                "no Submitted event for input {id} from block {} (market.from_block)",
                ctx.config.market.from_block
            )),
            Some(s) => super::judge::input_text(ctx.network, &s.uri, s.content_hash).await,
        };
        let text = match text {
            Ok(t) => t,
            Err(e) => {
                line.plan = abstain(format!("cannot read the input: {e}"));
                items.push(Item::Done(line));
                continue;
            }
        };
        let key_name = format!("market:{:#x}:{id}", m.address());
        let j = super::judge_input(store, engines, &profile, &key_name, &text, opts)?;
        line.probability = j.probability;
        line.judgement = j.why.clone();
        let Some(p) = j.probability else {
            line.plan = abstain("probability unknown: nothing in your profile bears on it");
            items.push(Item::Done(line));
            continue;
        };
        let held = m
            .shares_of(id, trader)
            .await
            .map_err(chain_error(format!("reading shares of input {id}")))?
            .1;
        items.push(Item::Judged {
            line,
            q: (state.q_yes, state.q_no),
            p,
            held,
            evidence: j.evidence,
        });
    }
    let min_edge = ctx.config.market.min_edge;
    let edge_of = |line: &AutoLine, p: f64| {
        let e = (p - line.price).abs();
        if e >= min_edge { e } else { 0.0 }
    };
    let total_edge: f64 = items
        .iter()
        .map(|i| match i {
            Item::Judged { line, p, .. } => edge_of(line, *p),
            Item::Done(_) => 0.0,
        })
        .sum();
    // The overall caps and this market's own, whichever leaves less.
    let caps = super::MarketCaps::of(ctx.config);
    let here = format!("{:#x}", m.address());
    let market_left = |store: &Store, planned: u128| -> Result<u128> {
        let s = store.market_spent_in(&here, unix_now())?;
        Ok(caps
            .left(Spent {
                total: s.total + planned,
                day: s.day + planned,
            })
            .most())
    };
    let pot = limits
        .left(store.market_spent(unix_now())?)
        .most()
        .min(market_left(store, 0)?);
    // A dry run spends nothing, but plans as if each planned buy had been made.
    let mut planned = 0u128;
    let mut lines = Vec::new();
    for item in items {
        let (mut line, (q_yes, q_no), p, held, evidence) = match item {
            Item::Done(line) => {
                lines.push(line);
                continue;
            }
            Item::Judged {
                line,
                q,
                p,
                held,
                evidence,
            } => (line, q, p, held, evidence),
        };
        let id = line.input;
        let share = if total_edge > 0.0 {
            (pot as f64 * edge_of(&line, p) / total_edge).floor() as u128
        } else {
            0
        };
        let spent = store.market_spent(unix_now())?;
        let left = limits.left(Spent {
            total: spent.total + planned,
            day: spent.day + planned,
        });
        line.plan = plan_trade(
            info.b,
            q_yes,
            q_no,
            held,
            p,
            min_edge,
            left.most().min(share).min(market_left(store, planned)?),
        );
        let Plan::Trade {
            delta_accepted,
            delta_rejected,
            cost,
            expected_gain,
        } = line.plan.clone()
        else {
            lines.push(line);
            continue;
        };
        if dry_run {
            planned += u128::try_from(cost).unwrap_or(0);
            lines.push(line);
            continue;
        }
        let Some(key) = key.as_ref() else {
            continue;
        };
        let url = ctx.config.market.quote_url.as_deref().unwrap_or_default();
        let made = async {
            let q = request_quote(
                ctx.network,
                url,
                &QuoteRequest {
                    input: id,
                    trader,
                    delta_accepted,
                    delta_rejected,
                },
            )
            .await?;
            if q.input != id
                || q.trader != trader
                || q.delta_accepted != delta_accepted
                || q.delta_rejected != delta_rejected
            {
                return Err(market_error(format!(
                    "the quote service answered a different trade than asked for input {id}"
                )));
            }
            let (signature, price_now) = check_quote(&m, &q).await?;
            // The quote's cost, not the planned one: refused unless it still gains.
            let gain = judge_trade(p, q.delta_accepted, q.delta_rejected, q.cost)?;
            let evidence: Vec<String> = evidence.iter().take(3).cloned().collect();
            let what = match (q.delta_accepted.signum(), q.delta_rejected.signum()) {
                (1, _) => format!("buys {} accepted", tokens(q.delta_accepted)),
                (-1, _) => format!("sells {} accepted", tokens(-q.delta_accepted)),
                _ => format!("buys {} rejected", tokens(q.delta_rejected)),
            };
            let why = Why {
                market_price: price_now,
                probability: Some(p),
                source: "the decision core (docs/decide.md)".into(),
                evidence: evidence.clone(),
                cost: tokens(q.cost),
                expected_gain: Some(tokens(gain.floor() as i128)),
                budget_left: String::new(),
                daily_left: String::new(),
                text: format!(
                    "market P(accepted) {price_now:.3}, mine {p:.3} ({}): {what} for {}, expected gain {} (planned {})",
                    if evidence.is_empty() {
                        "no excerpt".to_owned()
                    } else {
                        evidence.join("; ")
                    },
                    tokens(q.cost),
                    tokens(gain.floor() as i128),
                    tokens(expected_gain.floor() as i128)
                ),
            };
            execute(ctx.config, store, &m, key, &q, signature, why, "auto").await
        }
        .await;
        match made {
            Ok(t) => line.trade = Some(t),
            Err(e) => line.error = Some(e.to_string()),
        }
        lines.push(line);
    }
    let mut redeemed = Vec::new();
    for (id, accepted) in settled {
        redeemed.extend(redeem_settled(store, &m, key.as_ref(), trader, id, accepted).await?);
    }
    let spent = store.market_spent(unix_now())?;
    let left = limits.left(Spent {
        total: spent.total + planned,
        day: spent.day + planned,
    });
    Ok(AutoReport {
        market: m.address(),
        dry_run,
        lines,
        reconciled,
        redeemed,
        budget_left: tokens(left.budget as i128),
        daily_left: tokens(left.day as i128),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const B: u128 = 100_000_000;

    #[test]
    fn buys_above_the_price_sells_or_bets_against_below_and_abstains_near_it() {
        let most = 1_000_000_000;
        // At 0.5, a probability of 0.8 buys accepted up to the price 0.8.
        let Plan::Trade {
            delta_accepted,
            delta_rejected,
            cost,
            ..
        } = plan_trade(B, 0, 0, 0, 0.8, 0.05, most)
        else {
            panic!("should trade")
        };
        assert!(delta_accepted > 0 && delta_rejected == 0 && cost > 0);
        let after = lmsr_price_yes(B, delta_accepted as u128, 0);
        assert!((after - 0.8).abs() < 0.001, "{after}");
        // Below the price: holding accepted shares, it sells them (and is paid).
        let Plan::Trade {
            delta_accepted,
            cost,
            ..
        } = plan_trade(B, 50_000_000, 0, 5_000_000, 0.3, 0.05, most)
        else {
            panic!("should sell")
        };
        assert_eq!(delta_accepted, -5_000_000);
        assert!(cost < 0);
        // Holding none, it buys "rejected".
        let Plan::Trade {
            delta_accepted,
            delta_rejected,
            ..
        } = plan_trade(B, 0, 0, 0, 0.2, 0.05, most)
        else {
            panic!("should bet against")
        };
        assert!(delta_accepted == 0 && delta_rejected > 0);
        // Within the edge: nothing.
        assert!(matches!(
            plan_trade(B, 0, 0, 0, 0.53, 0.05, most),
            Plan::Abstain { .. }
        ));
        // Caps leave nothing: nothing.
        assert!(matches!(
            plan_trade(B, 0, 0, 0, 0.9, 0.05, 0),
            Plan::Abstain { .. }
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// A planned buy never costs more than the caps leave, and always gains in expectation.
        #[test]
        fn a_planned_trade_never_passes_the_caps(
            q_yes in 0u128..300_000_000,
            q_no in 0u128..300_000_000,
            held in 0u128..50_000_000,
            p in 0.0f64..=1.0,
            most in 0u128..40_000_000,
        ) {
            match plan_trade(B, q_yes, q_no, held, p, 0.05, most) {
                Plan::Trade { delta_accepted, delta_rejected, cost, expected_gain } => {
                    prop_assert!(cost <= most as i128, "cost {cost} > most {most}");
                    prop_assert!(expected_gain > 0.0);
                    prop_assert!(-delta_accepted <= held as i128, "sells more than held");
                    let price = lmsr_price_yes(B, q_yes, q_no);
                    // Toward the probability, never away from it.
                    if p > price { prop_assert!(delta_accepted > 0 && delta_rejected == 0); }
                    else { prop_assert!(delta_accepted <= 0); }
                }
                Plan::Abstain { .. } => {}
            }
        }
    }
}
