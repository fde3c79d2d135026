//! Where a proposal's voting power came from (issue 16 item 5): the pure rules over facts that
//! steward-eth reads from the chain ([`PowerFacts`]), turned into flags. Beanstalk's BIP-18
//! (flash-borrowed power, executed in one transaction), Build Finance (one fresh holder above the
//! usual turnout passing a mint-control proposal) and Tornado Cash #20 (votes without tokens
//! behind them) are the shapes. Thresholds are documented in docs/verify.md.

use std::fmt::Write;

use alloy_primitives::{Address, U256};
use serde::Serialize;

use crate::{Action, Flag, Severity, kinds};

/// What one voter's power looked like around the snapshot. Powers are the voting token's
/// `getPastVotes` (None where the token does not answer or the timepoint has not passed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoterFacts {
    pub voter: Address,
    /// Governor `support`: 0 against, 1 for, 2 abstain.
    pub support: u8,
    /// The weight the governor counted (VoteCast).
    #[serde(serialize_with = "dec")]
    pub weight: U256,
    /// Block of the vote.
    pub block: u64,
    /// Power at the snapshot minus one, at the snapshot, and at the snapshot plus one (or now).
    #[serde(serialize_with = "dec_opt")]
    pub before: Option<U256>,
    #[serde(serialize_with = "dec_opt")]
    pub at_snapshot: Option<U256>,
    #[serde(serialize_with = "dec_opt")]
    pub after: Option<U256>,
    /// Power at the end of the vote's own block (a flash loan leaves nothing there).
    #[serde(serialize_with = "dec_opt")]
    pub in_block: Option<U256>,
    /// Power at the start of the window before the snapshot.
    #[serde(serialize_with = "dec_opt")]
    pub window_start: Option<U256>,
    /// No ether, no transactions and no code at the start of the window: created or funded
    /// within it.
    pub fresh: bool,
}

/// A delegate's votes changing by delegation in the window before the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DelegationGain {
    pub delegate: Address,
    #[serde(serialize_with = "dec")]
    pub from: U256,
    #[serde(serialize_with = "dec")]
    pub to: U256,
    pub first_block: u64,
    pub last_block: u64,
}

/// The DAO's usual turnout: total votes per proposal over recent proposals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Turnout {
    pub proposals: usize,
    #[serde(serialize_with = "dec")]
    pub average: U256,
}

/// An earlier proposal of the same proposer that did not pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EarlierProposal {
    pub id: String,
    /// `defeated`, `canceled` or `expired`.
    pub outcome: String,
    #[serde(skip)]
    pub actions: Vec<Action>,
}

/// Everything read about one proposal's voting power.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PowerFacts {
    pub proposal: String,
    /// The snapshot timepoint (block, or seconds for a timestamp clock).
    pub snapshot: u64,
    /// The voting token (`token()` of the governor), when it names one.
    pub token: Option<Address>,
    #[serde(serialize_with = "dec_opt")]
    pub quorum: Option<U256>,
    /// The token's total supply at the snapshot.
    #[serde(serialize_with = "dec_opt")]
    pub supply: Option<U256>,
    /// Blocks before the snapshot searched for delegations, funding and fresh accounts.
    pub window: u64,
    pub proposer: Option<Address>,
    /// Block of the proposal's `ProposalCreated`, when found.
    pub created_block: Option<u64>,
    pub voters: Vec<VoterFacts>,
    /// All votes cast on the proposal (every voter, not only those examined).
    #[serde(serialize_with = "dec")]
    pub total_votes: U256,
    pub delegations: Vec<DelegationGain>,
    pub turnout: Option<Turnout>,
    /// Addresses the proposer sent voting tokens to in the window.
    pub funded_by_proposer: Vec<Address>,
    #[serde(skip)]
    pub actions: Vec<Action>,
    pub earlier: Vec<EarlierProposal>,
    /// Functions of the governor that execute without a voting period (`emergencyCommit`).
    pub fast_paths: Vec<String>,
    /// Blocks in which this proposal was executed in the same block its votes were cast.
    pub same_block_executions: Vec<u64>,
    /// What could not be checked, in words.
    pub notes: Vec<String>,
}

/// Functions that let a proposal execute without waiting out a voting period or timelock, by
/// signature (their selectors are looked for in the governor's code).
pub const FAST_PATHS: &[&str] = &[
    "emergencyCommit(uint32)",
    "emergencyCommit(uint256)",
    "fastTrack(uint256)",
    "emergencyExecute(uint256)",
    "executeEmergency(uint256)",
];

/// A voter below this share of quorum (1/100) is not examined: dust cannot move a vote.
const DUST_DIVISOR: u64 = 100;

fn dec<S: serde::Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

fn dec_opt<S: serde::Serializer>(v: &Option<U256>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&v.to_string()),
        None => s.serialize_none(),
    }
}

fn short(a: &Address) -> String {
    let h = format!("{a:#x}");
    format!("{}…{}", &h[..6], &h[h.len() - 4..])
}

/// `n` in whole tokens when it is a round 18-decimal amount's scale, else base units.
fn votes(n: U256) -> String {
    let unit = U256::from(10u64).pow(U256::from(18u64));
    if n >= unit {
        let whole = n / unit;
        let frac: u64 = ((n % unit) * U256::from(100u64) / unit).to();
        if frac == 0 {
            format!("{whole} votes")
        } else {
            format!("{whole}.{frac:02} votes")
        }
    } else {
        format!("{n} vote units")
    }
}

fn half(w: U256) -> U256 {
    w / U256::from(2u64)
}

fn lt_half(x: Option<U256>, w: U256) -> bool {
    x.is_some_and(|x| x < half(w))
}

/// The flags the facts raise (docs/flags.md): `flash-loan-votes`, `votes-above-supply`,
/// `delegation-spike`, `fresh-voter`, `vote-concentration`, `escalating-resubmission`,
/// `fast-execution`.
pub fn provenance_flags(f: &PowerFacts) -> Vec<Flag> {
    let mut out = Vec::new();
    let dust = f
        .quorum
        .map(|q| q / U256::from(DUST_DIVISOR))
        .unwrap_or(U256::ZERO);
    let big = |v: &&VoterFacts| !v.weight.is_zero() && v.weight >= dust;
    let pct_q = |n: U256| match f.quorum {
        Some(q) if !q.is_zero() => {
            let p = n.saturating_mul(U256::from(100u64)) / q;
            format!(", {p}% of quorum")
        }
        _ => String::new(),
    };

    for v in f.voters.iter().filter(big) {
        let w = v.weight;
        // Power present at the snapshot but neither just before nor just after it.
        let snapshot_only = v.at_snapshot.is_some_and(|s| s >= half(w))
            && lt_half(v.before, w)
            && lt_half(v.after, w);
        // Power counted by the governor that is gone by the end of the voting block and was
        // not there before: it existed inside the voting transaction only.
        let in_tx_only = lt_half(v.in_block, w) && lt_half(v.before, w) && lt_half(v.after, w);
        if snapshot_only {
            out.push(Flag::new(
                kinds::FLASH_LOAN_VOTES,
                Severity::Critical,
                format!(
                    "{} voted with {} it held only in the snapshot block {} ({} the block before, {} after{}): power borrowed and returned at once",
                    short(&v.voter),
                    votes(w),
                    f.snapshot,
                    votes(v.before.unwrap_or_default()),
                    votes(v.after.unwrap_or_default()),
                    pct_q(w),
                ),
            ));
        } else if in_tx_only {
            out.push(Flag::new(
                kinds::FLASH_LOAN_VOTES,
                Severity::Critical,
                format!(
                    "{} voted with {} that existed only inside its voting transaction in block {} (none before the snapshot, {} at the end of that block{}): a flash loan",
                    short(&v.voter),
                    votes(w),
                    v.block,
                    votes(v.in_block.unwrap_or_default()),
                    pct_q(w),
                ),
            ));
        }
        // Counted weight the token's checkpoints do not back (1% slack for rounding).
        if let Some(s) = v.at_snapshot
            && w > s
                .saturating_add(s / U256::from(100u64))
                .saturating_add(U256::from(1u64))
        {
            out.push(Flag::new(
                kinds::VOTES_ABOVE_SUPPLY,
                Severity::Critical,
                format!(
                    "{} was counted {} but held {} at the snapshot {}: votes the token does not back",
                    short(&v.voter),
                    votes(w),
                    votes(s),
                    f.snapshot
                ),
            ));
        }
        if v.fresh {
            let alone = f.quorum.is_some_and(|q| !q.is_zero() && w >= q);
            out.push(Flag::new(
                kinds::FRESH_VOTER,
                if alone {
                    Severity::Critical
                } else {
                    Severity::Warn
                },
                format!(
                    "{} had no ether, no transactions and no code {} blocks before the snapshot, and voted with {}{}{}",
                    short(&v.voter),
                    f.window,
                    votes(w),
                    pct_q(w),
                    if alone { ": it reaches quorum alone" } else { "" }
                ),
            ));
        }
    }

    let total = f
        .voters
        .iter()
        .fold(U256::ZERO, |s, v| s.saturating_add(v.weight));
    let total = total.max(f.total_votes);
    if let Some(supply) = f.supply
        && total > supply
    {
        out.push(Flag::new(
            kinds::VOTES_ABOVE_SUPPLY,
            Severity::Critical,
            format!(
                "{} were cast, more than the token's supply of {} at the snapshot",
                votes(total),
                votes(supply)
            ),
        ));
    }

    // Delegation spikes, measured against quorum (or 4% of supply when quorum is unknown).
    let yardstick = f
        .quorum
        .filter(|q| !q.is_zero())
        .or(f.supply.map(|s| s / U256::from(25u64)));
    if let Some(q) = yardstick {
        for d in &f.delegations {
            let gain = d.to.saturating_sub(d.from);
            if gain.is_zero() || gain < q / U256::from(4u64) {
                continue;
            }
            let used = f
                .voters
                .iter()
                .any(|v| v.voter == d.delegate && v.support == 1);
            // Power gathered once the proposal was public, for this vote: the attack shape. A
            // delegation before it (a DAO's launch, a delegate campaign) only warns.
            let after_proposal = f.created_block.is_some_and(|c| d.last_block > c);
            let sev = if gain >= q && used && after_proposal {
                Severity::Critical
            } else {
                Severity::Warn
            };
            out.push(Flag::new(
                kinds::DELEGATION_SPIKE,
                sev,
                format!(
                    "{} gained {} by delegation in blocks {}..{}, within {} blocks before the snapshot{}{}{}",
                    short(&d.delegate),
                    votes(gain),
                    d.first_block,
                    d.last_block,
                    f.window,
                    pct_q(gain),
                    if after_proposal { ", after the proposal was made" } else { "" },
                    if used { ", and voted For with it" } else { "" }
                ),
            ));
        }
    }

    // One voter, or the proposer and those it funded, above the usual turnout.
    if let Some(t) = &f.turnout
        && !t.average.is_zero()
    {
        for v in f
            .voters
            .iter()
            .filter(|v| v.support == 1 && v.weight > t.average)
        {
            let recent = v.fresh || lt_half(v.window_start, v.weight);
            out.push(Flag::new(
                kinds::VOTE_CONCENTRATION,
                if recent { Severity::Critical } else { Severity::Warn },
                format!(
                    "{} alone voted For with {}, more than the DAO's usual turnout of {} (average of {} recent proposal(s)){}",
                    short(&v.voter),
                    votes(v.weight),
                    votes(t.average),
                    t.proposals,
                    if recent {
                        ", with power gained shortly before the snapshot"
                    } else {
                        ": an established holder can pass proposals alone"
                    }
                ),
            ));
        }
        if let Some(p) = f.proposer {
            let members: Vec<&VoterFacts> = f
                .voters
                .iter()
                .filter(|v| {
                    v.support == 1 && (v.voter == p || f.funded_by_proposer.contains(&v.voter))
                })
                .collect();
            let sum = members
                .iter()
                .fold(U256::ZERO, |s, v| s.saturating_add(v.weight));
            let funded = members.iter().any(|v| v.voter != p);
            if funded && members.len() > 1 && sum > t.average {
                let mut who = String::new();
                for m in &members {
                    let _ = write!(
                        who,
                        "{}{}",
                        if who.is_empty() { "" } else { ", " },
                        short(&m.voter)
                    );
                }
                out.push(Flag::new(
                    kinds::VOTE_CONCENTRATION,
                    Severity::Critical,
                    format!(
                        "the proposer and addresses it funded in the window ({who}) voted For with {}, more than the usual turnout of {}",
                        votes(sum),
                        votes(t.average)
                    ),
                ));
            }
        }
    }

    for e in &f.earlier {
        if let Some(why) = escalates(&e.actions, &f.actions) {
            out.push(Flag::new(
                kinds::ESCALATING_RESUBMISSION,
                Severity::Warn,
                format!(
                    "the proposer's earlier proposal {} was {}; this one makes the same calls {why}",
                    e.id, e.outcome
                ),
            ));
        }
    }

    for p in &f.fast_paths {
        out.push(Flag::new(
            kinds::FAST_EXECUTION,
            Severity::Warn,
            format!(
                "the governor has {p}: a proposal can execute in the transaction that votes for it, with no voting period or timelock (Beanstalk BIP-18)"
            ),
        ));
    }
    for b in &f.same_block_executions {
        out.push(Flag::new(
            kinds::FAST_EXECUTION,
            Severity::Critical,
            format!("the proposal was executed in block {b}, the block its votes were cast in"),
        ));
    }
    out
}

/// The 4-byte selector and the 32-byte argument words of an OpenZeppelin-style action.
fn call_of(a: &Action) -> (Address, [u8; 4], Vec<U256>) {
    let data: &[u8] = &a.calldata;
    let (sel, args): ([u8; 4], &[u8]) = if a.signature.is_empty() {
        match data.split_first_chunk::<4>() {
            Some((s, rest)) => (*s, rest),
            None => ([0; 4], data),
        }
    } else {
        let h = alloy_primitives::keccak256(a.signature.as_bytes());
        ([h[0], h[1], h[2], h[3]], data)
    };
    let words = args.chunks(32).map(U256::from_be_slice).collect();
    (a.target, sel, words)
}

/// Whether `now` re-submits `earlier` bigger: every call of the earlier proposal (target and
/// function) is made again, and the new one adds calls, sends more ether, or passes a larger
/// number in the same argument of the same call. Returns how, in words.
pub fn escalates(earlier: &[Action], now: &[Action]) -> Option<String> {
    if earlier.is_empty() || now.is_empty() {
        return None;
    }
    let old: Vec<_> = earlier.iter().map(call_of).collect();
    let new: Vec<_> = now.iter().map(call_of).collect();
    for (t, s, _) in &old {
        if !new.iter().any(|(t2, s2, _)| t2 == t && s2 == s) {
            return None;
        }
    }
    let eth = |a: &[Action]| a.iter().fold(U256::ZERO, |s, a| s.saturating_add(a.value));
    if eth(now) > eth(earlier) {
        return Some(format!(
            "and sends more ether ({} wei, was {} wei)",
            eth(now),
            eth(earlier)
        ));
    }
    for (t, s, w) in &old {
        for (t2, s2, w2) in &new {
            if t2 != t || s2 != s || w2.len() != w.len() {
                continue;
            }
            for (i, (a, b)) in w.iter().zip(w2).enumerate() {
                // A word of 150..160 bits is an address (amounts are far smaller): another
                // recipient is not an escalation.
                let is_addr = |x: &U256| (150..=160).contains(&x.bit_len());
                if b > a && !is_addr(a) && !is_addr(b) {
                    return Some(format!(
                        "with a larger argument {i} to {} ({b}, was {a})",
                        short(t)
                    ));
                }
            }
        }
    }
    if new.len() > old.len() {
        return Some(format!("and adds {} more action(s)", new.len() - old.len()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(n: u64) -> U256 {
        U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
    }

    fn addr(b: u8) -> Address {
        Address::repeat_byte(b)
    }

    fn voter(b: u8, w: u64) -> VoterFacts {
        VoterFacts {
            voter: addr(b),
            support: 1,
            weight: e(w),
            block: 20,
            before: Some(e(w)),
            at_snapshot: Some(e(w)),
            after: Some(e(w)),
            in_block: Some(e(w)),
            window_start: Some(e(w)),
            fresh: false,
        }
    }

    fn facts(voters: Vec<VoterFacts>) -> PowerFacts {
        PowerFacts {
            proposal: "1".into(),
            snapshot: 10,
            quorum: Some(e(40_000)),
            supply: Some(e(1_000_000)),
            window: 7_200,
            voters,
            ..PowerFacts::default()
        }
    }

    fn kinds_of(f: &[Flag]) -> Vec<(&str, bool)> {
        f.iter()
            .map(|f| (f.kind.as_str(), f.is_critical()))
            .collect()
    }

    #[test]
    fn an_established_voter_raises_nothing() {
        let mut f = facts(vec![voter(1, 100_000), voter(2, 50_000)]);
        f.turnout = Some(Turnout {
            proposals: 2,
            average: e(170_000),
        });
        assert!(
            provenance_flags(&f).is_empty(),
            "{:?}",
            provenance_flags(&f)
        );
    }

    #[test]
    fn power_held_only_in_the_snapshot_block_is_a_critical_flash_loan() {
        let mut v = voter(1, 1_000_000);
        v.before = Some(U256::ZERO);
        v.after = Some(U256::ZERO);
        v.window_start = Some(U256::ZERO);
        let got = provenance_flags(&facts(vec![v]));
        assert!(
            kinds_of(&got).contains(&(kinds::FLASH_LOAN_VOTES, true)),
            "{got:?}"
        );
        assert!(
            got[0].detail.contains("only in the snapshot block 10"),
            "{}",
            got[0].detail
        );
    }

    #[test]
    fn power_only_inside_the_voting_transaction_is_critical_and_unbacked() {
        let mut v = voter(1, 1_000_000);
        (v.before, v.at_snapshot, v.after, v.in_block) = (
            Some(U256::ZERO),
            Some(U256::ZERO),
            Some(U256::ZERO),
            Some(U256::ZERO),
        );
        let got = provenance_flags(&facts(vec![v]));
        let k = kinds_of(&got);
        assert!(k.contains(&(kinds::FLASH_LOAN_VOTES, true)), "{got:?}");
        assert!(k.contains(&(kinds::VOTES_ABOVE_SUPPLY, true)), "{got:?}");
    }

    #[test]
    fn votes_above_supply_are_critical() {
        let mut f = facts(vec![voter(1, 700_000), voter(2, 400_000)]);
        f.supply = Some(e(1_000_000));
        let got = provenance_flags(&f);
        assert!(
            got.iter().any(|g| g.kind == kinds::VOTES_ABOVE_SUPPLY
                && g.detail.contains("more than the token's supply")),
            "{got:?}"
        );
    }

    #[test]
    fn delegation_spikes_are_measured_against_quorum() {
        let gain = |to: u64| DelegationGain {
            delegate: addr(1),
            from: U256::ZERO,
            to: e(to),
            first_block: 5,
            last_block: 9,
        };
        for (to, voted, created, want) in [
            (5_000, true, 1, None),          // under a quarter of quorum
            (20_000, true, 1, Some(false)),  // a warning
            (60_000, false, 1, Some(false)), // above quorum, unused
            (60_000, true, 9, Some(false)),  // above quorum, voted with, before the proposal
            (60_000, true, 1, Some(true)),   // above quorum, after the proposal, voted with
        ] {
            let mut f = facts(if voted { vec![voter(1, to)] } else { vec![] });
            f.created_block = Some(created);
            f.delegations = vec![gain(to)];
            let got: Vec<bool> = provenance_flags(&f)
                .iter()
                .filter(|g| g.kind == kinds::DELEGATION_SPIKE)
                .map(Flag::is_critical)
                .collect();
            assert_eq!(got.first().copied(), want, "{to} {voted} {created}");
        }
    }

    #[test]
    fn a_voter_above_usual_turnout_is_critical_only_with_recent_power() {
        let mut whale = voter(1, 150_000);
        let mut f = facts(vec![whale.clone()]);
        f.turnout = Some(Turnout {
            proposals: 2,
            average: e(70_000),
        });
        let got = provenance_flags(&f);
        assert_eq!(
            kinds_of(&got),
            vec![(kinds::VOTE_CONCENTRATION, false)],
            "{got:?}"
        );
        whale.window_start = Some(U256::ZERO);
        whale.fresh = true;
        f.voters = vec![whale];
        let got = provenance_flags(&f);
        let k = kinds_of(&got);
        assert!(k.contains(&(kinds::VOTE_CONCENTRATION, true)), "{got:?}");
        assert!(k.contains(&(kinds::FRESH_VOTER, true)), "{got:?}");
    }

    #[test]
    fn the_proposer_and_those_it_funded_count_as_one() {
        let mut f = facts(vec![voter(1, 40_000), voter(2, 40_000)]);
        f.turnout = Some(Turnout {
            proposals: 3,
            average: e(70_000),
        });
        f.proposer = Some(addr(1));
        assert!(provenance_flags(&f).is_empty());
        f.funded_by_proposer = vec![addr(2)];
        let got = provenance_flags(&f);
        assert_eq!(
            kinds_of(&got),
            vec![(kinds::VOTE_CONCENTRATION, true)],
            "{got:?}"
        );
    }

    fn mint(to: Address, n: u64) -> Action {
        let mut data = vec![0x40, 0xc1, 0x0f, 0x19]; // mint(address,uint256)
        data.extend_from_slice(&to.into_word().0);
        data.extend_from_slice(&e(n).to_be_bytes::<32>());
        Action {
            target: addr(9),
            value: U256::ZERO,
            signature: String::new(),
            calldata: data.into(),
        }
    }

    #[test]
    fn escalation_is_the_same_calls_with_more() {
        let a = addr(7);
        assert!(escalates(&[mint(a, 10_000)], &[mint(a, 1_000_000)]).is_some());
        assert!(escalates(&[mint(a, 10_000)], &[mint(a, 10_000)]).is_none());
        assert!(escalates(&[mint(a, 10_000)], &[mint(a, 5_000)]).is_none());
        // Another recipient is not an escalation by itself.
        assert!(escalates(&[mint(a, 10_000)], &[mint(addr(8), 10_000)]).is_none());
        let mut other = mint(a, 1_000_000);
        other.target = addr(3);
        assert!(escalates(&[mint(a, 10_000)], &[other]).is_none());
        let two = [mint(a, 10_000), mint(addr(8), 1)];
        assert!(escalates(&[mint(a, 10_000)], &two).is_some());
    }

    #[test]
    fn fast_paths_warn_and_same_block_execution_is_critical() {
        let mut f = facts(vec![]);
        f.fast_paths = vec!["emergencyCommit(uint256)".into()];
        assert_eq!(
            kinds_of(&provenance_flags(&f)),
            vec![(kinds::FAST_EXECUTION, false)]
        );
        f.same_block_executions = vec![42];
        assert!(kinds_of(&provenance_flags(&f)).contains(&(kinds::FAST_EXECUTION, true)));
    }
}
