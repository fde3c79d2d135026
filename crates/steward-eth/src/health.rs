//! A DAO's health at a glance (`steward dao health`, docs/governor.md): its settings read from
//! the governor and timelock, the voting token's supply and how much of it is delegated, the
//! usual turnout, the largest holder and delegate, and what an attack costs: the votes needed to
//! pass a proposal at the usual turnout, against the treasury those votes would control. In the
//! spirit of Blockful's anticapture dashboard. A getter a contract does not answer is a note
//! naming the contract and the function; a node that fails is an error naming both.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol;
use alloy::sol_types::{SolCall, SolEvent};
use serde::Serialize;
use steward_core::verification::Turnout;

use crate::bindings::{GovernorEvents, IGovernorBravo, IGovernorOz};
use crate::error::Result;
use crate::governor::{ClockMode, GovernorKind, GovernorReader, paged_logs};
use crate::provenance::{ProvenanceEvents, cast_of, token_of};
use crate::rpc::Rpc;

sol! {
    interface IHealthProbe {
        function proposalThreshold() external view returns (uint256);
        function quorumNumerator() external view returns (uint256);
        function timelock() external view returns (address);
        function getMinDelay() external view returns (uint256);
        function delay() external view returns (uint256);
        function symbol() external view returns (string);
        function decimals() external view returns (uint8);
        function totalSupply() external view returns (uint256);
        function balanceOf(address who) external view returns (uint256);
        function getVotes(address who) external view returns (uint256);
    }
}

/// How far back to read logs, and optional prices for the attack cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthOptions {
    /// Blocks back from the latest searched for proposals, votes, holders and delegates
    /// (default 216,000: about 30 days).
    pub lookback: u64,
    /// Proposals averaged for the turnout (default 10).
    pub recent_proposals: usize,
    /// USD per whole governance token, to price the attack and the treasury.
    pub token_usd: Option<f64>,
    /// USD per ether, to price the treasury's ether.
    pub eth_usd: Option<f64>,
}

impl Default for HealthOptions {
    fn default() -> Self {
        Self {
            lookback: 216_000,
            recent_proposals: 10,
            token_usd: None,
            eth_usd: None,
        }
    }
}

/// An address and an amount (votes or tokens, in base units).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holding {
    pub address: Address,
    #[serde(serialize_with = "dec")]
    pub amount: U256,
}

/// What the executor (timelock, else the governor) holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Treasury {
    pub address: Address,
    #[serde(serialize_with = "dec")]
    pub eth: U256,
    /// Its balance of the governance token.
    #[serde(serialize_with = "dec_opt")]
    pub tokens: Option<U256>,
    /// Priced with the given prices.
    pub usd: Option<f64>,
}

/// The cost of passing a proposal against the usual voters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attack {
    /// Votes needed: the larger of quorum and the average turnout (enough to outvote everyone
    /// who usually votes, and to reach quorum).
    #[serde(serialize_with = "dec")]
    pub votes_needed: U256,
    /// `quorum` or `turnout`: which of the two set it.
    pub basis: String,
    /// Percent of the total supply.
    pub percent_of_supply: Option<f64>,
    /// The treasury's governance tokens divided by the votes needed (above 1: an attack pays
    /// for itself in the DAO's own token).
    pub treasury_ratio: Option<f64>,
    /// Priced with `--token-price`.
    pub usd: Option<f64>,
}

/// Everything `steward dao health` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub chain_id: u64,
    pub governor: Address,
    /// `openzeppelin` or `bravo`.
    pub kind: String,
    pub name: Option<String>,
    /// `blocknumber` or `timestamp`: the unit of delay and period.
    pub clock: String,
    pub token: Option<Address>,
    pub symbol: Option<String>,
    pub decimals: Option<u8>,
    #[serde(serialize_with = "dec_opt")]
    pub quorum: Option<U256>,
    #[serde(serialize_with = "dec_opt")]
    pub quorum_numerator: Option<U256>,
    #[serde(serialize_with = "dec_opt")]
    pub voting_delay: Option<U256>,
    #[serde(serialize_with = "dec_opt")]
    pub voting_period: Option<U256>,
    pub timelock: Option<Address>,
    /// Seconds.
    #[serde(serialize_with = "dec_opt")]
    pub timelock_delay: Option<U256>,
    #[serde(serialize_with = "dec_opt")]
    pub proposal_threshold: Option<U256>,
    #[serde(serialize_with = "dec_opt")]
    pub total_supply: Option<U256>,
    /// Votes held by every delegate seen in the window (delegated supply).
    #[serde(serialize_with = "dec_opt")]
    pub delegated_supply: Option<U256>,
    /// Total supply less what the treasury and the governor hold.
    #[serde(serialize_with = "dec_opt")]
    pub circulating_supply: Option<U256>,
    pub turnout: Option<Turnout>,
    pub largest_holder: Option<Holding>,
    pub largest_delegate: Option<Holding>,
    pub treasury: Treasury,
    pub attack: Option<Attack>,
    /// Blocks read.
    pub from_block: u64,
    pub to_block: u64,
    /// Getters that did not answer, and limits of what was read.
    pub notes: Vec<String>,
}

fn dec<S: serde::Serializer>(v: &U256, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

fn dec_opt<S: serde::Serializer>(v: &Option<U256>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&v.to_string()),
        None => s.serialize_none(),
    }
}

/// Base units to whole tokens, as a float (for ratios and prices only).
fn whole(n: U256, decimals: u8) -> f64 {
    let s: f64 = n.to_string().parse().unwrap_or(f64::MAX);
    s / 10f64.powi(i32::from(decimals))
}

/// Calls `c` on `to`; a revert or a missing function is a note naming both, `None`.
async fn getter<C: SolCall>(
    rpc: &Rpc,
    to: Address,
    c: &C,
    what: &str,
    notes: &mut Vec<String>,
) -> Result<Option<C::Return>> {
    match rpc.call(to, c, &format!("{what} on {to}")).await? {
        Ok(v) => Ok(Some(v)),
        Err(why) => {
            notes.push(format!(
                "{what} on {to} did not answer: {}",
                rpc.scrub(&why)
            ));
            Ok(None)
        }
    }
}

/// Reads the health of the governor at `governor`: not a contract, or neither an OpenZeppelin
/// Governor nor a GovernorBravo, is an error naming the address.
pub async fn dao_health(rpc: &Rpc, governor: Address, opts: &HealthOptions) -> Result<Health> {
    let kind = GovernorKind::detect(rpc, governor).await?;
    let reader = GovernorReader::new(rpc.clone(), governor, kind);
    let chain_id = rpc.chain_id().await?;
    let latest = rpc.block_number().await?;
    let clock = reader.clock_mode().await?;
    let mut notes = Vec::new();
    let n = &mut notes;

    let name = getter(rpc, governor, &IGovernorOz::nameCall {}, "name()", n).await?;
    let voting_delay = getter(
        rpc,
        governor,
        &IGovernorOz::votingDelayCall {},
        "votingDelay()",
        n,
    )
    .await?;
    let voting_period = getter(
        rpc,
        governor,
        &IGovernorOz::votingPeriodCall {},
        "votingPeriod()",
        n,
    )
    .await?;
    let proposal_threshold = getter(
        rpc,
        governor,
        &IHealthProbe::proposalThresholdCall {},
        "proposalThreshold()",
        n,
    )
    .await?;
    let (quorum, quorum_numerator) = match kind {
        GovernorKind::OpenZeppelin => {
            // quorum(t) answers only for a past timepoint.
            let now = match rpc
                .call(governor, &IGovernorOz::clockCall {}, "clock()")
                .await?
            {
                Ok(c) => c.to::<u64>(),
                Err(_) => latest,
            };
            let q = getter(
                rpc,
                governor,
                &IGovernorOz::quorumCall {
                    timepoint: U256::from(now.saturating_sub(1)),
                },
                "quorum(clock() - 1)",
                n,
            )
            .await?;
            let num = rpc
                .call(
                    governor,
                    &IHealthProbe::quorumNumeratorCall {},
                    "quorumNumerator()",
                )
                .await?
                .ok();
            (q, num)
        }
        GovernorKind::Bravo => (
            getter(
                rpc,
                governor,
                &IGovernorBravo::quorumVotesCall {},
                "quorumVotes()",
                n,
            )
            .await?,
            None,
        ),
    };
    let timelock = match rpc
        .call(governor, &IHealthProbe::timelockCall {}, "timelock()")
        .await?
    {
        Ok(t) if t != Address::ZERO => Some(t),
        _ => {
            n.push(format!(
                "governor {governor} has no timelock(): proposals execute from the governor itself"
            ));
            None
        }
    };
    let timelock_delay = match timelock {
        Some(t) => {
            match rpc
                .call(t, &IHealthProbe::getMinDelayCall {}, "getMinDelay()")
                .await?
            {
                Ok(d) => Some(d),
                Err(_) => {
                    getter(
                        rpc,
                        t,
                        &IHealthProbe::delayCall {},
                        "getMinDelay() and delay()",
                        n,
                    )
                    .await?
                }
            }
        }
        None => Some(U256::ZERO),
    };
    let treasury_addr = timelock.unwrap_or(governor);

    let token = token_of(&reader).await?;
    let ctx_eth = format!("eth_getBalance({treasury_addr})");
    let eth = rpc
        .timed(&ctx_eth, async {
            rpc.provider().get_balance(treasury_addr).await
        })
        .await?
        .map_err(|e| rpc.fail(&ctx_eth, e))?;
    let from = latest.saturating_sub(opts.lookback);

    // Turnout over the most recent proposals with votes.
    let casts: Vec<_> = reader
        .governor_logs(
            vec![
                GovernorEvents::VoteCast::SIGNATURE_HASH,
                GovernorEvents::VoteCastWithParams::SIGNATURE_HASH,
            ],
            "VoteCast",
            from,
            latest,
        )
        .await?
        .iter()
        .filter_map(cast_of)
        .collect();
    let mut per: BTreeMap<U256, (u64, U256)> = BTreeMap::new();
    for c in &casts {
        let e = per.entry(c.proposal).or_insert((c.block, U256::ZERO));
        e.0 = e.0.min(c.block);
        e.1 = e.1.saturating_add(c.weight);
    }
    let mut recent: Vec<(u64, U256)> = per.into_values().collect();
    recent.sort_by_key(|(b, _)| std::cmp::Reverse(*b));
    recent.truncate(opts.recent_proposals);
    let turnout = (!recent.is_empty()).then(|| {
        let sum = recent
            .iter()
            .fold(U256::ZERO, |s, (_, w)| s.saturating_add(*w));
        Turnout {
            proposals: recent.len(),
            average: sum / U256::from(recent.len()),
        }
    });
    if turnout.is_none() {
        n.push(format!(
            "no votes in blocks {from}..={latest}: turnout unknown, the attack is priced at quorum"
        ));
    }

    let mut symbol = None;
    let mut decimals = None;
    let mut total_supply = None;
    let mut delegated_supply = None;
    let mut circulating_supply = None;
    let mut largest_holder = None;
    let mut largest_delegate = None;
    let mut treasury_tokens = None;
    if let Some(t) = token {
        symbol = getter(rpc, t, &IHealthProbe::symbolCall {}, "symbol()", n).await?;
        decimals = getter(rpc, t, &IHealthProbe::decimalsCall {}, "decimals()", n).await?;
        total_supply = getter(
            rpc,
            t,
            &IHealthProbe::totalSupplyCall {},
            "totalSupply()",
            n,
        )
        .await?;
        let balance = |who: Address| async move {
            rpc.call(
                t,
                &IHealthProbe::balanceOfCall { who },
                &format!("balanceOf({who})"),
            )
            .await
            .map(|r| r.ok())
        };
        treasury_tokens = balance(treasury_addr).await?;
        let gov_tokens = if treasury_addr == governor {
            U256::ZERO
        } else {
            balance(governor).await?.unwrap_or_default()
        };
        circulating_supply = total_supply.map(|s| {
            s.saturating_sub(treasury_tokens.unwrap_or_default())
                .saturating_sub(gov_tokens)
        });

        // Holders: everyone who received tokens in the window, read now.
        let transfers = paged_logs(
            rpc,
            reader.page_blocks(),
            &Filter::new()
                .address(t)
                .event_signature(ProvenanceEvents::Transfer::SIGNATURE_HASH),
            &format!("Transfer) of token {t}"),
            from,
            latest,
        )
        .await?;
        let mut holders = BTreeSet::new();
        for l in &transfers {
            if let Ok(e) = ProvenanceEvents::Transfer::decode_log_data(l.data()) {
                holders.insert(e.to);
            }
        }
        holders.remove(&Address::ZERO);
        const MAX_READS: usize = 500;
        if holders.len() > MAX_READS {
            n.push(format!(
                "{} holders in the window; the first {MAX_READS} by address were read",
                holders.len()
            ));
        }
        for h in holders.into_iter().take(MAX_READS) {
            // The treasury and the governor are the DAO, not a holder that could attack it.
            if h == treasury_addr || h == governor {
                continue;
            }
            if let Some(b) = balance(h).await?
                && largest_holder
                    .as_ref()
                    .is_none_or(|x: &Holding| b > x.amount)
            {
                largest_holder = Some(Holding {
                    address: h,
                    amount: b,
                });
            }
        }

        let changes = paged_logs(
            rpc,
            reader.page_blocks(),
            &Filter::new()
                .address(t)
                .event_signature(ProvenanceEvents::DelegateVotesChanged::SIGNATURE_HASH),
            &format!("DelegateVotesChanged) of token {t}"),
            from,
            latest,
        )
        .await?;
        let mut delegates: BTreeMap<Address, U256> = BTreeMap::new();
        for l in &changes {
            if let Ok(e) = ProvenanceEvents::DelegateVotesChanged::decode_log_data(l.data()) {
                delegates.insert(e.delegate, e.newVotes);
            }
        }
        if !delegates.is_empty() {
            let sum = delegates
                .values()
                .fold(U256::ZERO, |s, v| s.saturating_add(*v));
            delegated_supply = Some(sum);
            largest_delegate = delegates
                .iter()
                .max_by_key(|(_, v)| **v)
                .map(|(a, v)| Holding {
                    address: *a,
                    amount: *v,
                });
            if from > 0 {
                n.push(format!(
                    "delegated supply counts delegates active in blocks {from}..={latest}"
                ));
            }
        }
    } else {
        n.push(format!(
            "governor {governor} names no voting token (token(), comp()): supply, holders and delegates not read"
        ));
    }

    let dec = decimals.unwrap_or(18);
    let treasury_usd = match (opts.eth_usd, opts.token_usd) {
        (None, None) => None,
        (e, t) => Some(
            e.map_or(0.0, |p| whole(eth, 18) * p)
                + t.map_or(0.0, |p| whole(treasury_tokens.unwrap_or_default(), dec) * p),
        ),
    };
    let attack = match (quorum, &turnout) {
        (None, None) => None,
        (q, t) => {
            let q = q.unwrap_or_default();
            let avg = t.as_ref().map(|t| t.average).unwrap_or_default();
            let (votes_needed, basis) = if avg > q {
                (avg, "turnout")
            } else {
                (q, "quorum")
            };
            Some(Attack {
                votes_needed,
                basis: basis.to_owned(),
                percent_of_supply: total_supply
                    .filter(|s| !s.is_zero())
                    .map(|s| whole(votes_needed, 0) / whole(s, 0) * 100.0),
                treasury_ratio: treasury_tokens
                    .filter(|_| !votes_needed.is_zero())
                    .map(|tt| whole(tt, 0) / whole(votes_needed, 0)),
                usd: opts.token_usd.map(|p| whole(votes_needed, dec) * p),
            })
        }
    };
    Ok(Health {
        chain_id,
        governor,
        kind: match kind {
            GovernorKind::OpenZeppelin => "openzeppelin",
            GovernorKind::Bravo => "bravo",
        }
        .to_owned(),
        name,
        clock: match clock {
            ClockMode::BlockNumber => "blocknumber",
            ClockMode::Timestamp => "timestamp",
        }
        .to_owned(),
        token,
        symbol,
        decimals,
        quorum,
        quorum_numerator,
        voting_delay,
        voting_period,
        timelock,
        timelock_delay,
        proposal_threshold,
        total_supply,
        delegated_supply,
        circulating_supply,
        turnout,
        largest_holder,
        largest_delegate,
        treasury: Treasury {
            address: treasury_addr,
            eth,
            tokens: treasury_tokens,
            usd: treasury_usd,
        },
        attack,
        from_block: from,
        to_block: latest,
        notes,
    })
}
