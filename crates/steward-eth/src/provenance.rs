//! Voting-power provenance (docs/verify.md): where the votes on one Governor proposal came
//! from. Reads the governor's `ProposalCreated`, `VoteCast` and `ProposalExecuted` logs, the
//! voting token's checkpoints around the snapshot (`getPastVotes` at snapshot-1, snapshot,
//! snapshot+1 and the vote's own block), its `DelegateVotesChanged` and `Transfer` logs in the
//! window before the snapshot, the voters' accounts at the start of that window, and the
//! governor's code (emergency execution paths); steward-core's `provenance_flags` turns the
//! facts into flags. What cannot be read (no `token()`, a timestamp clock) is a note, never a
//! silent pass.

use std::collections::BTreeMap;

use alloy::eips::BlockId;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol;
use alloy::sol_types::{SolEvent, SolType};
use serde::Serialize;
use steward_core::verification::{
    DelegationGain, EarlierProposal, FAST_PATHS, PowerFacts, Turnout, VoterFacts, provenance_flags,
};
use steward_core::{Action, Flag, ProposalState, lossy_utf8};

use crate::bindings::{GovernorEvents, ProposalCreatedData, VoteCastData, VoteCastWithParamsData};
use crate::code::strip_metadata;
use crate::error::{Error, Result};
use crate::governor::{ClockMode, GovernorReader, paged_logs};
use crate::rpc::Rpc;

sol! {
    interface IVotesProbe {
        function token() external view returns (address);
        /// Compound's GovernorBravo names its token `comp()`; COMP-style tokens answer
        /// `getPriorVotes` instead of `getPastVotes`.
        function comp() external view returns (address);
        function getPriorVotes(address account, uint256 blockNumber) external view returns (uint96);
        function getPastVotes(address account, uint256 timepoint) external view returns (uint256);
        function getVotes(address account) external view returns (uint256);
        function getPastTotalSupply(uint256 timepoint) external view returns (uint256);
        function totalSupply() external view returns (uint256);
        function clock() external view returns (uint48);
    }

    interface ProvenanceEvents {
        event DelegateVotesChanged(address indexed delegate, uint256 previousVotes, uint256 newVotes);
        event Transfer(address indexed from, address indexed to, uint256 value);
        event ProposalExecuted(uint256 proposalId);
    }
}

/// How far to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvenanceOptions {
    /// Blocks before the snapshot searched for delegations, funding and fresh accounts
    /// (default 7,200: a day of 12 s blocks).
    pub window: u64,
    /// Blocks before the snapshot searched for earlier proposals and their turnout (default
    /// 216,000: about 30 days).
    pub lookback: u64,
    /// Voters examined, largest first (default 100).
    pub max_voters: usize,
    /// Earlier proposals averaged for the usual turnout (default 10).
    pub recent_proposals: usize,
}

impl Default for ProvenanceOptions {
    fn default() -> Self {
        Self {
            window: 7_200,
            lookback: 216_000,
            max_voters: 100,
            recent_proposals: 10,
        }
    }
}

/// The facts read and the flags they raise.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    #[serde(flatten)]
    pub facts: PowerFacts,
    pub flags: Vec<Flag>,
}

/// One `ProposalCreated`, decoded.
#[derive(Debug, Clone)]
pub(crate) struct Created {
    pub(crate) id: U256,
    pub(crate) proposer: Address,
    pub(crate) actions: Vec<Action>,
    pub(crate) block: u64,
}

/// One `VoteCast` / `VoteCastWithParams`, decoded.
#[derive(Debug, Clone)]
pub(crate) struct Cast {
    pub(crate) voter: Address,
    pub(crate) proposal: U256,
    pub(crate) support: u8,
    pub(crate) weight: U256,
    pub(crate) block: u64,
}

pub(crate) fn created_of(log: &Log) -> Option<Created> {
    let (id, proposer, targets, values, signatures, calldatas, _, _, _) =
        ProposalCreatedData::abi_decode_sequence(&log.data().data).ok()?;
    if values.len() != targets.len()
        || signatures.len() != targets.len()
        || calldatas.len() != targets.len()
    {
        return None;
    }
    let actions = targets
        .into_iter()
        .zip(values)
        .zip(signatures)
        .zip(calldatas)
        .map(|(((target, value), sig), calldata)| Action {
            target,
            value,
            signature: lossy_utf8("signature", &sig).0,
            calldata,
        })
        .collect();
    Some(Created {
        id,
        proposer,
        actions,
        block: log.block_number.unwrap_or_default(),
    })
}

pub(crate) fn cast_of(log: &Log) -> Option<Cast> {
    let topics = log.topics();
    if topics.len() != 2 || topics[1][..12].iter().any(|b| *b != 0) {
        return None;
    }
    let data = &log.data().data;
    let (proposal, support, weight) =
        if topics[0] == GovernorEvents::VoteCastWithParams::SIGNATURE_HASH {
            let (p, s, w, _, _) = VoteCastWithParamsData::abi_decode_sequence(data).ok()?;
            (p, s, w)
        } else {
            let (p, s, w, _) = VoteCastData::abi_decode_sequence(data).ok()?;
            (p, s, w)
        };
    Some(Cast {
        voter: Address::from_word(topics[1]),
        proposal,
        support: u8::try_from(support).ok()?,
        weight,
        block: log.block_number.unwrap_or_default(),
    })
}

/// Every 4-byte PUSH4 immediate in `code` (where Solidity's dispatcher keeps the selectors).
pub(crate) fn push4_selectors(code: &[u8]) -> Vec<[u8; 4]> {
    let code = strip_metadata(code);
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < code.len() {
        let op = code[i];
        if op == 0x63
            && let Some(s) = code.get(i + 1..i + 5)
        {
            out.push([s[0], s[1], s[2], s[3]]);
        }
        i += 1;
        if (0x60..=0x7f).contains(&op) {
            i += usize::from(op - 0x5f);
        }
    }
    out
}

pub(crate) fn selector(signature: &str) -> [u8; 4] {
    let h = keccak256(signature.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// Reads of the voting token, at a timepoint of the governor's clock.
pub(crate) struct TokenReads<'a> {
    pub(crate) rpc: &'a Rpc,
    pub(crate) token: Address,
    /// The token's clock now: `getPastVotes` answers only for timepoints before it.
    pub(crate) now: u64,
}

impl TokenReads<'_> {
    /// `getPastVotes(who, t)` for a past timepoint, `getVotes(who)` for now or later; `None`
    /// when the token does not answer.
    pub(crate) async fn votes(&self, who: Address, t: u64) -> Result<Option<U256>> {
        let r = if t < self.now {
            let call = IVotesProbe::getPastVotesCall {
                account: who,
                timepoint: U256::from(t),
            };
            let past = self
                .rpc
                .call(
                    self.token,
                    &call,
                    &format!("getPastVotes({who}, {t}) on token {}", self.token),
                )
                .await?;
            if past.is_ok() {
                past
            } else {
                let call = IVotesProbe::getPriorVotesCall {
                    account: who,
                    blockNumber: U256::from(t),
                };
                self.rpc
                    .call(
                        self.token,
                        &call,
                        &format!("getPriorVotes({who}, {t}) on token {}", self.token),
                    )
                    .await?
                    .map(U256::from)
            }
        } else {
            let call = IVotesProbe::getVotesCall { account: who };
            self.rpc
                .call(
                    self.token,
                    &call,
                    &format!("getVotes({who}) on token {}", self.token),
                )
                .await?
        };
        Ok(r.ok())
    }

    pub(crate) async fn supply(&self, t: u64) -> Result<Option<U256>> {
        let ctx = format!("total supply at {t} of token {}", self.token);
        let r = if t < self.now {
            let call = IVotesProbe::getPastTotalSupplyCall {
                timepoint: U256::from(t),
            };
            self.rpc.call(self.token, &call, &ctx).await?
        } else {
            self.rpc
                .call(self.token, &IVotesProbe::totalSupplyCall {}, &ctx)
                .await?
        };
        Ok(r.ok())
    }
}

/// The governor's voting token (`token()`, else Bravo's `comp()`), when it names one.
pub(crate) async fn token_of(reader: &GovernorReader) -> Result<Option<Address>> {
    let (rpc, g) = (reader.rpc(), reader.governor());
    if let Ok(t) = rpc
        .call(
            g,
            &IVotesProbe::tokenCall {},
            &format!("token() on governor {g}"),
        )
        .await?
        && t != Address::ZERO
    {
        return Ok(Some(t));
    }
    Ok(
        match rpc
            .call(
                g,
                &IVotesProbe::compCall {},
                &format!("comp() on governor {g}"),
            )
            .await?
        {
            Ok(t) if t != Address::ZERO => Some(t),
            _ => None,
        },
    )
}

/// The token's clock now (`clock()`, else the latest block).
pub(crate) async fn token_now(rpc: &Rpc, token: Address, latest: u64) -> Result<u64> {
    let ctx = format!("clock() on token {token}");
    Ok(
        match rpc.call(token, &IVotesProbe::clockCall {}, &ctx).await? {
            Ok(c) => c.to::<u64>(),
            Err(_) => latest,
        },
    )
}

/// The fast paths the governor's code contains (by selector).
pub(crate) async fn fast_paths(rpc: &Rpc, governor: Address) -> Result<Vec<String>> {
    let code = rpc.code_at(governor).await?;
    let sels = push4_selectors(&code);
    Ok(FAST_PATHS
        .iter()
        .filter(|s| sels.contains(&selector(s)))
        .map(|s| (*s).to_owned())
        .collect())
}

/// Whether `who` had no ether, no transactions and no code at `block`; `None` when the node
/// refuses state that old (a pruned, non-archive node: anvil keeps a few thousand blocks).
async fn account_fresh(rpc: &Rpc, who: Address, block: u64) -> Result<Option<bool>> {
    let at = BlockId::number(block);
    // The node's refusal is an answer ("not available"); a transport failure is an error.
    macro_rules! read {
        ($what:expr, $fut:expr) => {{
            let ctx = format!("{}({who}) at block {block}", $what);
            match rpc.timed(&ctx, $fut).await? {
                Ok(v) => v,
                Err(alloy::transports::RpcError::ErrorResp(_)) => return Ok(None),
                Err(e) => return Err(rpc.fail(&ctx, e)),
            }
        }};
    }
    let bal = read!("eth_getBalance", async {
        rpc.provider().get_balance(who).block_id(at).await
    });
    if !bal.is_zero() {
        return Ok(Some(false));
    }
    let nonce = read!("eth_getTransactionCount", async {
        rpc.provider().get_transaction_count(who).block_id(at).await
    });
    if nonce != 0 {
        return Ok(Some(false));
    }
    let code: Bytes = read!("eth_getCode", async {
        rpc.provider().get_code_at(who).block_id(at).await
    });
    Ok(Some(code.is_empty()))
}

impl GovernorReader {
    /// Where the votes on `proposal_id` came from, and the flags that raises. An id the
    /// governor does not know is an error naming it.
    pub async fn provenance(
        &self,
        proposal_id: U256,
        opts: &ProvenanceOptions,
    ) -> Result<Provenance> {
        let snapshot = self.proposal_snapshot(proposal_id).await?;
        let clock = self.clock_mode().await?;
        let rpc = self.rpc();
        let latest = rpc.block_number().await?;
        let mut f = PowerFacts {
            proposal: proposal_id.to_string(),
            snapshot,
            window: opts.window,
            ..PowerFacts::default()
        };
        // Log ranges are in blocks; a timestamp clock's snapshot is not a block.
        let block_clock = clock == ClockMode::BlockNumber;
        let snap_block = if block_clock {
            snapshot.min(latest)
        } else {
            f.notes.push(
                "the governor counts time in seconds: delegations, funding and fresh accounts were not checked"
                    .into(),
            );
            latest
        };
        let from = snap_block.saturating_sub(opts.lookback);
        let created: Vec<Created> = self
            .governor_logs(
                vec![GovernorEvents::ProposalCreated::SIGNATURE_HASH],
                "ProposalCreated",
                from,
                latest,
            )
            .await?
            .iter()
            .filter_map(created_of)
            .collect();
        let casts: Vec<Cast> = self
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
        let executed: Vec<u64> = self
            .governor_logs(
                vec![ProvenanceEvents::ProposalExecuted::SIGNATURE_HASH],
                "ProposalExecuted",
                from,
                latest,
            )
            .await?
            .iter()
            .filter(|l| {
                ProvenanceEvents::ProposalExecuted::decode_log_data(l.data())
                    .is_ok_and(|e| e.proposalId == proposal_id)
            })
            .filter_map(|l| l.block_number)
            .collect();

        let ours = created.iter().find(|c| c.id == proposal_id);
        match ours {
            Some(c) => {
                f.proposer = Some(c.proposer);
                f.created_block = Some(c.block);
                f.actions = c.actions.clone();
            }
            None => f.notes.push(format!(
                "no ProposalCreated log for proposal {proposal_id} in blocks {from}..={latest}: proposer and earlier proposals not checked"
            )),
        }
        let mine: Vec<&Cast> = casts.iter().filter(|c| c.proposal == proposal_id).collect();
        f.total_votes = mine
            .iter()
            .fold(U256::ZERO, |s, c| s.saturating_add(c.weight));
        for b in &executed {
            if mine.iter().any(|c| c.block == *b) || ours.is_some_and(|c| c.block == *b) {
                f.same_block_executions.push(*b);
            }
        }
        f.fast_paths = fast_paths(rpc, self.governor()).await?;

        // Usual turnout: total votes of the most recent other proposals.
        let mut per: BTreeMap<U256, (u64, U256)> = BTreeMap::new();
        for c in casts.iter().filter(|c| c.proposal != proposal_id) {
            let e = per.entry(c.proposal).or_insert((c.block, U256::ZERO));
            e.0 = e.0.min(c.block);
            e.1 = e.1.saturating_add(c.weight);
        }
        let mut recent: Vec<(u64, U256)> = per.into_values().collect();
        recent.sort_by_key(|(b, _)| std::cmp::Reverse(*b));
        recent.truncate(opts.recent_proposals);
        if !recent.is_empty() {
            let sum = recent
                .iter()
                .fold(U256::ZERO, |s, (_, w)| s.saturating_add(*w));
            f.turnout = Some(Turnout {
                proposals: recent.len(),
                average: sum / U256::from(recent.len()),
            });
        } else {
            f.notes.push(format!(
                "no votes on other proposals in blocks {from}..={latest}: usual turnout unknown"
            ));
        }

        // Earlier proposals of the same proposer that did not pass.
        if let Some(ours) = ours {
            for c in created
                .iter()
                .filter(|c| c.proposer == ours.proposer && c.id != ours.id && c.block <= ours.block)
            {
                let state = match self.state(c.id).await {
                    Ok(s) => s,
                    Err(Error::Reverted { .. } | Error::BadResponse { .. }) => continue,
                    Err(e) => return Err(e),
                };
                if matches!(
                    state,
                    ProposalState::Defeated | ProposalState::Canceled | ProposalState::Expired
                ) {
                    f.earlier.push(EarlierProposal {
                        id: c.id.to_string(),
                        outcome: state.as_str().to_owned(),
                        actions: c.actions.clone(),
                    });
                }
            }
        }

        let Some(token) = token_of(self).await? else {
            f.notes.push(
                "the governor names no voting token (token(), comp()): voters' power not checked"
                    .into(),
            );
            let flags = provenance_flags(&f);
            return Ok(Provenance { facts: f, flags });
        };
        f.token = Some(token);
        f.quorum = match self.quorum(proposal_id).await {
            Ok(q) => q,
            Err(Error::Reverted { detail, .. }) => {
                f.notes.push(format!("quorum could not be read: {detail}"));
                None
            }
            Err(e) => return Err(e),
        };
        let reads = TokenReads {
            rpc,
            token,
            now: token_now(rpc, token, latest).await?,
        };
        f.supply = reads.supply(snapshot).await?;

        // Voters, largest first (one entry per voter).
        let mut voters: BTreeMap<Address, &Cast> = BTreeMap::new();
        for c in &mine {
            voters.entry(c.voter).or_insert(c);
        }
        let mut voters: Vec<&Cast> = voters.into_values().collect();
        voters.sort_by_key(|c| std::cmp::Reverse(c.weight));
        if voters.len() > opts.max_voters {
            f.notes.push(format!(
                "{} voters; the largest {} were examined",
                voters.len(),
                opts.max_voters
            ));
            voters.truncate(opts.max_voters);
        }
        // The window in the clock's units (seconds at 12 s a block for a timestamp clock).
        let window_t = if block_clock {
            opts.window
        } else {
            opts.window.saturating_mul(12)
        };
        let window_start = snapshot.saturating_sub(window_t);
        let mut fresh_at = (block_clock && snapshot > opts.window).then_some(window_start);
        if block_clock && fresh_at.is_none() {
            f.notes.push(format!(
                "the chain is younger than the {}-block window: fresh accounts not checked",
                opts.window
            ));
        }
        for c in voters {
            let v = c.voter;
            let before = match snapshot.checked_sub(1) {
                Some(t) => reads.votes(v, t).await?,
                None => None,
            };
            let at_snapshot = if snapshot < reads.now {
                reads.votes(v, snapshot).await?
            } else {
                None
            };
            let after = reads.votes(v, snapshot + 1).await?;
            let in_block = if block_clock && c.block < reads.now {
                reads.votes(v, c.block).await?
            } else {
                None
            };
            let start = reads.votes(v, window_start).await?;
            let fresh = match fresh_at {
                Some(b) => match account_fresh(rpc, v, b).await? {
                    Some(f) => f,
                    None => {
                        f.notes.push(format!(
                            "the node has no account state at block {b} (not an archive node): fresh accounts not checked"
                        ));
                        fresh_at = None;
                        false
                    }
                },
                None => false,
            };
            f.voters.push(VoterFacts {
                voter: v,
                support: c.support,
                weight: c.weight,
                block: c.block,
                before,
                at_snapshot,
                after,
                in_block,
                window_start: start,
                fresh,
            });
        }

        if !f.voters.is_empty()
            && f.voters
                .iter()
                .all(|v| v.at_snapshot.is_none() && v.before.is_none())
        {
            f.notes.push(format!(
                "token {token} answers neither getPastVotes nor getPriorVotes: the voters' power around the snapshot was not checked"
            ));
        }
        if block_clock && snapshot <= latest {
            let lo = snapshot.saturating_sub(opts.window).saturating_add(1);
            let filter = Filter::new()
                .address(token)
                .event_signature(ProvenanceEvents::DelegateVotesChanged::SIGNATURE_HASH);
            let logs = paged_logs(
                rpc,
                self.page_blocks(),
                &filter,
                &format!("DelegateVotesChanged) of token {token}"),
                lo,
                snapshot,
            )
            .await?;
            let mut gains: BTreeMap<Address, DelegationGain> = BTreeMap::new();
            for l in &logs {
                let Ok(e) = ProvenanceEvents::DelegateVotesChanged::decode_log_data(l.data())
                else {
                    continue;
                };
                let b = l.block_number.unwrap_or_default();
                gains
                    .entry(e.delegate)
                    .and_modify(|g| {
                        g.to = e.newVotes;
                        g.last_block = b;
                    })
                    .or_insert(DelegationGain {
                        delegate: e.delegate,
                        from: e.previousVotes,
                        to: e.newVotes,
                        first_block: b,
                        last_block: b,
                    });
            }
            f.delegations = gains.into_values().filter(|g| g.to > g.from).collect();
            if let Some(p) = f.proposer {
                let filter = Filter::new()
                    .address(token)
                    .event_signature(ProvenanceEvents::Transfer::SIGNATURE_HASH)
                    .topic1(B256::from(p.into_word()));
                let logs = paged_logs(
                    rpc,
                    self.page_blocks(),
                    &filter,
                    &format!("Transfer from the proposer) of token {token}"),
                    lo,
                    snapshot,
                )
                .await?;
                for l in &logs {
                    if let Ok(e) = ProvenanceEvents::Transfer::decode_log_data(l.data())
                        && e.to != p
                        && !f.funded_by_proposer.contains(&e.to)
                    {
                        f.funded_by_proposer.push(e.to);
                    }
                }
            }
        }
        let flags = provenance_flags(&f);
        Ok(Provenance { facts: f, flags })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push4_immediates_are_found_and_push_data_skipped() {
        let sel = selector("emergencyCommit(uint256)");
        let mut code = vec![0x63];
        code.extend(sel);
        code.push(0x14);
        assert_eq!(push4_selectors(&code), vec![sel]);
        // The same bytes inside a PUSH32's data are not a PUSH4.
        let mut hidden = vec![0x7f, 0x63];
        hidden.extend(sel);
        hidden.extend([0u8; 27]);
        assert!(push4_selectors(&hidden).is_empty());
    }
}
