//! Reading on-chain Governors: OpenZeppelin Governor 5.x and Compound GovernorBravo.
//!
//! Proposals come from `ProposalCreated` logs, read in pages of blocks; each log becomes one
//! `Result<Proposal, ItemError>`, so one malformed or odd log never stops the rest. The state,
//! snapshot and deadline of each proposal are read from the contract (OpenZeppelin may extend a
//! deadline after creation); times are converted from the governor's clock to unix seconds.
//! Others' votes come from `VoteCast` / `VoteCastWithParams` logs.

use std::collections::HashMap;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::{SolEvent, SolType};
use steward_core::{
    Action, FieldError, Flag, Limits, Proposal, ProposalState, Source, Vote, VotingType, lossy_utf8,
};
use tokio::sync::OnceCell;

use crate::bindings::{
    GovernorEvents, IGovernorBravo, IGovernorOz, ProposalCreatedData, VoteCastData,
    VoteCastWithParamsData,
};
use crate::error::{Error, ItemError, ItemRef, Result};
use crate::rpc::Rpc;

pub use steward_core::{GOVERNOR_CHOICES, choice_of_support, support_of_choice};

/// Blocks per `eth_getLogs` request unless set with [`GovernorReader::with_page_blocks`]; halved
/// automatically while the node refuses a range.
pub const DEFAULT_PAGE_BLOCKS: u64 = 10_000;

/// Seconds per block assumed when the chain's own rate cannot be measured (Ethereum mainnet).
const FALLBACK_SECS_PER_BLOCK: f64 = 12.0;

/// Which Governor dialect a contract speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GovernorKind {
    /// OpenZeppelin Governor (4.x and 5.x): `proposalSnapshot`, `proposalDeadline`,
    /// `quorum(timepoint)`, ERC-6372 clock; calldata carries selectors, signatures are empty.
    OpenZeppelin,
    /// Compound GovernorBravo: `proposals(id)`, `quorumVotes()`, block numbers; each action may
    /// carry a function signature with arguments-only calldata.
    Bravo,
}

impl GovernorKind {
    /// Asks the contract: OpenZeppelin answers `proposalSnapshot(0)`, Bravo `quorumVotes()`.
    pub async fn detect(rpc: &Rpc, address: Address) -> Result<Self> {
        if rpc.code_at(address).await?.is_empty() {
            return Err(Error::NotAContract {
                host: rpc.host().to_owned(),
                address,
                chain_id: rpc.chain_id().await?,
            });
        }
        let oz = IGovernorOz::proposalSnapshotCall {
            proposalId: U256::ZERO,
        };
        if rpc
            .call(address, &oz, &format!("proposalSnapshot(0) on {address}"))
            .await?
            .is_ok()
        {
            return Ok(Self::OpenZeppelin);
        }
        let bravo = IGovernorBravo::quorumVotesCall {};
        if rpc
            .call(address, &bravo, &format!("quorumVotes() on {address}"))
            .await?
            .is_ok()
        {
            return Ok(Self::Bravo);
        }
        Err(Error::UnknownGovernor {
            host: rpc.host().to_owned(),
            address,
        })
    }
}

/// What a Governor's timepoints count (ERC-6372 `CLOCK_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClockMode {
    /// Block numbers (OpenZeppelin's default, and always for Bravo).
    BlockNumber,
    /// Unix seconds (`mode=timestamp`).
    Timestamp,
}

/// The result of reading one block range: one entry per log, good or bad, in chain order.
#[derive(Debug)]
pub struct Scan<T> {
    pub items: Vec<Result<T, ItemError>>,
    /// First block read.
    pub from_block: u64,
    /// Last block read (inclusive); below `from_block` when there was nothing to read yet.
    pub to_block: u64,
}

impl<T> Scan<T> {
    /// Where the next incremental scan starts.
    pub fn next_from(&self) -> u64 {
        if self.to_block < self.from_block {
            self.from_block
        } else {
            self.to_block.saturating_add(1)
        }
    }
}

/// A vote seen on chain: the core [`Vote`] plus the proposal it is for.
#[derive(Debug, Clone, PartialEq)]
pub struct GovernorVote {
    pub proposal_id: U256,
    /// `choice` is the `support` number (see [`GOVERNOR_CHOICES`]); `power` the weight.
    pub vote: Vote,
    pub block: u64,
    /// `params` of `VoteCastWithParams` (empty for `VoteCast`).
    pub params: Bytes,
}

/// Reads one Governor contract.
#[derive(Debug)]
pub struct GovernorReader {
    rpc: Rpc,
    governor: Address,
    kind: GovernorKind,
    limits: Limits,
    page_blocks: u64,
    chain_id: OnceCell<u64>,
    clock_mode: OnceCell<ClockMode>,
}

impl GovernorReader {
    pub fn new(rpc: Rpc, governor: Address, kind: GovernorKind) -> Self {
        Self {
            rpc,
            governor,
            kind,
            limits: Limits::default(),
            page_blocks: DEFAULT_PAGE_BLOCKS,
            chain_id: OnceCell::new(),
            clock_mode: OnceCell::new(),
        }
    }

    /// Limits applied to every proposal (default: [`Limits::default`]).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Blocks per `eth_getLogs` request (at least 1).
    pub fn with_page_blocks(mut self, blocks: u64) -> Self {
        self.page_blocks = blocks.max(1);
        self
    }

    pub fn governor(&self) -> Address {
        self.governor
    }

    pub fn kind(&self) -> GovernorKind {
        self.kind
    }

    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    /// The chain id, asked once.
    pub async fn chain_id(&self) -> Result<u64> {
        self.chain_id
            .get_or_try_init(|| self.rpc.chain_id())
            .await
            .copied()
    }

    /// The governor's clock: `CLOCK_MODE()` for OpenZeppelin (block numbers when it has none,
    /// as before 4.9), always block numbers for Bravo.
    pub async fn clock_mode(&self) -> Result<ClockMode> {
        self.clock_mode
            .get_or_try_init(|| async {
                if self.kind == GovernorKind::Bravo {
                    return Ok(ClockMode::BlockNumber);
                }
                let ctx = format!("CLOCK_MODE() on governor {}", self.governor);
                let mode = self
                    .rpc
                    .call(self.governor, &IGovernorOz::CLOCK_MODECall {}, &ctx)
                    .await?;
                Ok(match mode {
                    Ok(m) if m.contains("mode=timestamp") => ClockMode::Timestamp,
                    _ => ClockMode::BlockNumber,
                })
            })
            .await
            .copied()
    }

    /// Proposals created in blocks `from_block..=to_block` (to the latest block when `None`).
    pub async fn proposals(
        &self,
        from_block: u64,
        to_block: Option<u64>,
    ) -> Result<Scan<Proposal>> {
        let chain_id = self.chain_id().await?;
        let latest = self.rpc.block_number().await?;
        let to = to_block.map_or(latest, |t| t.min(latest));
        let logs = self
            .logs(
                vec![GovernorEvents::ProposalCreated::SIGNATURE_HASH],
                "ProposalCreated",
                from_block,
                to,
            )
            .await?;
        let mut timeline = Timeline::new(latest);
        let mut items = Vec::with_capacity(logs.len());
        for log in &logs {
            items.push(self.proposal_from_log(chain_id, log, &mut timeline).await?);
        }
        Ok(Scan {
            items,
            from_block,
            to_block: to,
        })
    }

    /// Votes cast in blocks `from_block..=to_block` (to the latest block when `None`), on every
    /// proposal of this governor.
    pub async fn votes(
        &self,
        from_block: u64,
        to_block: Option<u64>,
    ) -> Result<Scan<GovernorVote>> {
        let chain_id = self.chain_id().await?;
        let latest = self.rpc.block_number().await?;
        let to = to_block.map_or(latest, |t| t.min(latest));
        let logs = self
            .logs(
                vec![
                    GovernorEvents::VoteCast::SIGNATURE_HASH,
                    GovernorEvents::VoteCastWithParams::SIGNATURE_HASH,
                ],
                "VoteCast",
                from_block,
                to,
            )
            .await?;
        let mut timeline = Timeline::new(latest);
        let mut items = Vec::with_capacity(logs.len());
        for log in &logs {
            items.push(self.vote_from_log(chain_id, log, &mut timeline).await?);
        }
        Ok(Scan {
            items,
            from_block,
            to_block: to,
        })
    }

    /// The proposal's state now.
    pub async fn state(&self, proposal_id: U256) -> Result<ProposalState> {
        let ctx = format!("state(proposal {proposal_id})");
        let n = self
            .call_or_revert(
                &IGovernorOz::stateCall {
                    proposalId: proposal_id,
                },
                &ctx,
            )
            .await?;
        ProposalState::from_governor(n).ok_or_else(|| self.bad(&ctx, format!("unknown state {n}")))
    }

    /// The timepoint (in the governor's clock) whose voting power counts. For Bravo, the
    /// proposal's `startBlock`.
    pub async fn proposal_snapshot(&self, proposal_id: U256) -> Result<u64> {
        match self.kind {
            GovernorKind::OpenZeppelin => {
                let ctx = format!("proposalSnapshot(proposal {proposal_id})");
                let v = self
                    .call_or_revert(
                        &IGovernorOz::proposalSnapshotCall {
                            proposalId: proposal_id,
                        },
                        &ctx,
                    )
                    .await?;
                self.known_timepoint(&ctx, v)
            }
            GovernorKind::Bravo => {
                let ctx = format!("proposals(proposal {proposal_id}).startBlock");
                let p = self.bravo_proposal(proposal_id, &ctx).await?;
                self.known_timepoint(&ctx, p.startBlock)
            }
        }
    }

    /// The last timepoint (in the governor's clock) at which votes are accepted. For Bravo, the
    /// proposal's `endBlock`.
    pub async fn proposal_deadline(&self, proposal_id: U256) -> Result<u64> {
        match self.kind {
            GovernorKind::OpenZeppelin => {
                let ctx = format!("proposalDeadline(proposal {proposal_id})");
                let v = self
                    .call_or_revert(
                        &IGovernorOz::proposalDeadlineCall {
                            proposalId: proposal_id,
                        },
                        &ctx,
                    )
                    .await?;
                self.known_timepoint(&ctx, v)
            }
            GovernorKind::Bravo => {
                let ctx = format!("proposals(proposal {proposal_id}).endBlock");
                let p = self.bravo_proposal(proposal_id, &ctx).await?;
                self.known_timepoint(&ctx, p.endBlock)
            }
        }
    }

    /// When a queued proposal can execute (the timelock's eta, in seconds); `None` when it is
    /// not queued or the governor has no timelock.
    pub async fn proposal_eta(&self, proposal_id: U256) -> Result<Option<u64>> {
        let eta = match self.kind {
            GovernorKind::OpenZeppelin => {
                let ctx = format!("proposalEta(proposal {proposal_id})");
                self.call_or_revert(
                    &IGovernorOz::proposalEtaCall {
                        proposalId: proposal_id,
                    },
                    &ctx,
                )
                .await?
            }
            GovernorKind::Bravo => {
                let ctx = format!("proposals(proposal {proposal_id}).eta");
                self.bravo_proposal(proposal_id, &ctx).await?.eta
            }
        };
        Ok((!eta.is_zero()).then(|| u64::try_from(eta).unwrap_or(u64::MAX)))
    }

    /// The votes needed for quorum: OpenZeppelin `quorum(proposalSnapshot(id))`, Bravo
    /// `quorumVotes()`. `None` while an OpenZeppelin proposal's snapshot is still in the future
    /// (the token cannot tell past supply for a timepoint that has not passed).
    pub async fn quorum(&self, proposal_id: U256) -> Result<Option<U256>> {
        match self.kind {
            GovernorKind::OpenZeppelin => {
                let snapshot = self.proposal_snapshot(proposal_id).await?;
                let clock_ctx = format!("clock() for proposal {proposal_id}");
                let now = match self
                    .rpc
                    .call(self.governor, &IGovernorOz::clockCall {}, &clock_ctx)
                    .await?
                {
                    Ok(c) => c.to::<u64>(),
                    // Before ERC-6372 (OpenZeppelin < 4.9) the clock is the block number.
                    Err(_) => self.rpc.block_number().await?,
                };
                if snapshot >= now {
                    return Ok(None);
                }
                let ctx = format!("quorum({snapshot}) for proposal {proposal_id}");
                let q = self
                    .call_or_revert(
                        &IGovernorOz::quorumCall {
                            timepoint: U256::from(snapshot),
                        },
                        &ctx,
                    )
                    .await?;
                Ok(Some(q))
            }
            GovernorKind::Bravo => {
                let ctx = format!("quorumVotes() for proposal {proposal_id}");
                Ok(Some(
                    self.call_or_revert(&IGovernorBravo::quorumVotesCall {}, &ctx)
                        .await?,
                ))
            }
        }
    }

    // --- internals ---

    async fn bravo_proposal(
        &self,
        proposal_id: U256,
        ctx: &str,
    ) -> Result<IGovernorBravo::proposalsReturn> {
        self.call_or_revert(
            &IGovernorBravo::proposalsCall {
                proposalId: proposal_id,
            },
            ctx,
        )
        .await
    }

    async fn call_or_revert<C: alloy::sol_types::SolCall>(
        &self,
        call: &C,
        ctx: &str,
    ) -> Result<C::Return> {
        self.rpc
            .call(self.governor, call, ctx)
            .await?
            .map_err(|detail| Error::Reverted {
                host: self.rpc.host().to_owned(),
                governor: self.governor,
                context: ctx.to_owned(),
                detail: self.rpc.scrub(&detail),
            })
    }

    fn known_timepoint(&self, ctx: &str, v: U256) -> Result<u64> {
        if v.is_zero() {
            return Err(self.bad(ctx, "0: the governor does not know this proposal".into()));
        }
        u64::try_from(v).map_err(|_| self.bad(ctx, format!("{v} does not fit a timepoint")))
    }

    fn bad(&self, ctx: &str, detail: String) -> Error {
        Error::BadResponse {
            host: self.rpc.host().to_owned(),
            context: format!("governor {}: {ctx}", self.governor),
            detail,
        }
    }

    /// `eth_getLogs` of this governor over `from..=to` in pages, halving the page while the node
    /// refuses it.
    async fn logs(&self, topics: Vec<B256>, what: &str, from: u64, to: u64) -> Result<Vec<Log>> {
        let filter = Filter::new().address(self.governor).event_signature(topics);
        let what = format!("{what}) of governor {}", self.governor);
        paged_logs(&self.rpc, self.page_blocks, &filter, &what, from, to).await
    }

    /// Logs of this governor with these event signatures (for provenance and health checks).
    pub(crate) async fn governor_logs(
        &self,
        topics: Vec<B256>,
        what: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<Log>> {
        self.logs(topics, what, from, to).await
    }

    pub(crate) fn page_blocks(&self) -> u64 {
        self.page_blocks
    }

    fn item_error(&self, chain_id: u64, item: ItemRef, field: &str, message: String) -> ItemError {
        ItemError {
            chain_id,
            governor: self.governor,
            item,
            error: FieldError::new(field, message),
        }
    }

    /// One ProposalCreated log: `Err` only for failures that stop the scan (RPC down).
    async fn proposal_from_log(
        &self,
        chain_id: u64,
        log: &Log,
        timeline: &mut Timeline,
    ) -> Result<Result<Proposal, ItemError>> {
        let block = log.block_number.unwrap_or_default();
        let at = ItemRef::Log {
            block,
            index: log.log_index.unwrap_or_default(),
        };
        let fail = |item: ItemRef, field: &str, message: String| {
            Ok(Err(self.item_error(chain_id, item, field, message)))
        };
        if log.topics().len() != 1 {
            return fail(
                at,
                "topics",
                format!("{} topics, ProposalCreated has 1", log.topics().len()),
            );
        }
        let (
            id,
            proposer,
            targets,
            values,
            signatures,
            calldatas,
            vote_start,
            vote_end,
            description,
        ) = match ProposalCreatedData::abi_decode_sequence(&log.data().data) {
            Ok(d) => d,
            Err(e) => {
                return fail(
                    at,
                    "data",
                    format!("does not decode as ProposalCreated: {e}"),
                );
            }
        };
        let item = ItemRef::Proposal(id.to_string());
        for (field, len) in [
            ("values", values.len()),
            ("signatures", signatures.len()),
            ("calldatas", calldatas.len()),
        ] {
            if len != targets.len() {
                return fail(
                    item,
                    field,
                    format!("{len} entries for {} targets", targets.len()),
                );
            }
        }
        let mut flags: Vec<Flag> = Vec::new();
        let mut actions = Vec::with_capacity(targets.len());
        for (i, (((target, value), signature), calldata)) in targets
            .into_iter()
            .zip(values)
            .zip(signatures)
            .zip(calldatas)
            .enumerate()
        {
            if signature.len() > MAX_SIGNATURE_BYTES {
                return fail(
                    item,
                    &format!("signatures[{i}]"),
                    format!("is {} bytes, limit {MAX_SIGNATURE_BYTES}", signature.len()),
                );
            }
            let (signature, flag) = lossy_utf8(&format!("signatures[{i}]"), &signature);
            flags.extend(flag);
            actions.push(Action {
                target,
                value,
                signature,
                calldata,
            });
        }
        let (body, flag) = lossy_utf8("description", &description);
        flags.extend(flag);

        let state = match self
            .rpc
            .call(
                self.governor,
                &IGovernorOz::stateCall { proposalId: id },
                &format!("state(proposal {id})"),
            )
            .await?
        {
            Ok(n) => match ProposalState::from_governor(n) {
                Some(s) => s,
                None => return fail(item, "state", format!("unknown state {n}")),
            },
            Err(e) => {
                return fail(
                    item,
                    "state",
                    format!("state() reverted: {}", self.rpc.scrub(&e)),
                );
            }
        };

        // Timepoints: the contract's current answer for OpenZeppelin (a deadline may have been
        // extended since the event), the event's for Bravo (fixed at creation).
        let (snapshot, deadline) = match self.kind {
            GovernorKind::OpenZeppelin => {
                let s = self
                    .rpc
                    .call(
                        self.governor,
                        &IGovernorOz::proposalSnapshotCall { proposalId: id },
                        &format!("proposalSnapshot(proposal {id})"),
                    )
                    .await?;
                let d = self
                    .rpc
                    .call(
                        self.governor,
                        &IGovernorOz::proposalDeadlineCall { proposalId: id },
                        &format!("proposalDeadline(proposal {id})"),
                    )
                    .await?;
                match (s, d) {
                    (Ok(s), Ok(d)) => (s, d),
                    (Err(e), _) => {
                        return fail(
                            item,
                            "snapshot",
                            format!("proposalSnapshot() reverted: {}", self.rpc.scrub(&e)),
                        );
                    }
                    (_, Err(e)) => {
                        return fail(
                            item,
                            "deadline",
                            format!("proposalDeadline() reverted: {}", self.rpc.scrub(&e)),
                        );
                    }
                }
            }
            GovernorKind::Bravo => (vote_start, vote_end),
        };
        let Ok(snapshot) = u64::try_from(snapshot) else {
            return fail(item, "voteStart", format!("{snapshot} is not a timepoint"));
        };
        let Ok(deadline) = u64::try_from(deadline) else {
            return fail(item, "voteEnd", format!("{deadline} is not a timepoint"));
        };
        let (start, end, snapshot_block) = match self.clock_mode().await? {
            ClockMode::BlockNumber => {
                let Some(start) = timeline.timestamp(&self.rpc, snapshot).await? else {
                    return fail(
                        item,
                        "voteStart",
                        format!("block {snapshot} is too far in the future"),
                    );
                };
                let Some(end) = timeline.timestamp(&self.rpc, deadline).await? else {
                    return fail(
                        item,
                        "voteEnd",
                        format!("block {deadline} is too far in the future"),
                    );
                };
                (start, end, Some(snapshot))
            }
            ClockMode::Timestamp => {
                let (Ok(start), Ok(end)) = (i64::try_from(snapshot), i64::try_from(deadline))
                else {
                    return fail(
                        item,
                        "voteEnd",
                        format!("timestamp {deadline} is out of range"),
                    );
                };
                (start, end, None)
            }
        };
        let created = match log.block_timestamp {
            Some(t) => i64::try_from(t).ok(),
            None => timeline.timestamp(&self.rpc, block).await?,
        };

        let proposal = Proposal {
            source: Source::Governor {
                chain_id,
                governor: self.governor,
            },
            id: id.to_string(),
            title: title_of(&body),
            body,
            choices: GOVERNOR_CHOICES.iter().map(|c| (*c).to_owned()).collect(),
            voting: VotingType::Basic,
            created,
            start: Some(start),
            end: Some(end),
            snapshot: snapshot_block,
            author: Some(format!("{proposer:#x}")),
            discussion: None,
            state,
            actions,
            flags,
        };
        Ok(proposal.normalize(&self.limits).map_err(|error| ItemError {
            chain_id,
            governor: self.governor,
            item,
            error,
        }))
    }

    /// One VoteCast / VoteCastWithParams log.
    async fn vote_from_log(
        &self,
        chain_id: u64,
        log: &Log,
        timeline: &mut Timeline,
    ) -> Result<Result<GovernorVote, ItemError>> {
        let block = log.block_number.unwrap_or_default();
        let index = log.log_index.unwrap_or_default();
        let at = ItemRef::Log { block, index };
        let fail = |item: ItemRef, field: &str, message: String| {
            Ok(Err(self.item_error(chain_id, item, field, message)))
        };
        let topics = log.topics();
        if topics.len() != 2 {
            return fail(
                at,
                "topics",
                format!("{} topics, VoteCast has 2", topics.len()),
            );
        }
        if topics[1][..12].iter().any(|b| *b != 0) {
            return fail(at, "voter", "indexed voter is not an address".into());
        }
        let voter = Address::from_word(topics[1]);
        let data = &log.data().data;
        let decoded = if topics[0] == GovernorEvents::VoteCastWithParams::SIGNATURE_HASH {
            VoteCastWithParamsData::abi_decode_sequence(data)
        } else {
            VoteCastData::abi_decode_sequence(data).map(|(p, s, w, r)| (p, s, w, r, Bytes::new()))
        };
        let (proposal_id, support, weight, reason, params) = match decoded {
            Ok(d) => d,
            Err(e) => return fail(at, "data", format!("does not decode as VoteCast: {e}")),
        };
        let item = ItemRef::Vote {
            proposal: proposal_id.to_string(),
            voter,
        };
        let Ok(support) = u8::try_from(support) else {
            return fail(item, "support", format!("{support} is not a uint8"));
        };
        let (reason, _) = lossy_utf8("reason", &reason);
        let created = match log.block_timestamp {
            Some(t) => i64::try_from(t).ok(),
            None => timeline.timestamp(&self.rpc, block).await?,
        };
        let id = match log.transaction_hash {
            Some(tx) => format!("{tx:#x}:{index}"),
            None => format!("block {block}:{index}"),
        };
        Ok(Ok(GovernorVote {
            proposal_id,
            vote: Vote {
                id,
                voter: format!("{voter:#x}"),
                choice: serde_json::Value::from(support),
                power: weight.to_string(),
                reason: (!reason.is_empty()).then_some(reason),
                created,
            },
            block,
            params,
        }))
    }
}

/// `eth_getLogs` of `filter` (its address and topics) over `from..=to` in pages of `page`
/// blocks, halving the page while the node refuses a range; a one-block range refused is an
/// error naming `what` and the blocks.
pub(crate) async fn paged_logs(
    rpc: &Rpc,
    page: u64,
    filter: &Filter,
    what: &str,
    from: u64,
    to: u64,
) -> Result<Vec<Log>> {
    let mut out = Vec::new();
    let mut start = from;
    let mut page = page.max(1);
    while start <= to {
        let end = start.saturating_add(page - 1).min(to);
        let f = filter.clone().from_block(start).to_block(end);
        let ctx = format!("eth_getLogs({what} in blocks {start}..={end}");
        match rpc.logs(&f, &ctx).await? {
            Ok(logs) => {
                out.extend(logs.into_iter().filter(|l| !l.removed));
                if end == u64::MAX {
                    break;
                }
                start = end + 1;
            }
            Err(msg) if page > 1 => {
                tracing::debug!(host = rpc.host(), %msg, page, "node refused a log range; halving");
                page /= 2;
            }
            Err(msg) => {
                return Err(Error::Rpc {
                    host: rpc.host().to_owned(),
                    context: ctx,
                    detail: rpc.scrub(&msg),
                });
            }
        }
    }
    Ok(out)
}

/// Longest Bravo function signature accepted (real ones are well under 200 bytes).
const MAX_SIGNATURE_BYTES: usize = 1024;

/// The first non-empty line of the description, without a leading Markdown `# `.
fn title_of(description: &str) -> String {
    let line = description
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    line.trim_start_matches('#').trim().to_owned()
}

/// Block number → unix seconds, for one scan: exact for mined blocks (cached), estimated for
/// future ones from the chain's recent block rate.
#[derive(Debug)]
struct Timeline {
    latest: u64,
    cache: HashMap<u64, u64>,
    secs_per_block: Option<f64>,
}

impl Timeline {
    fn new(latest: u64) -> Self {
        Self {
            latest,
            cache: HashMap::new(),
            secs_per_block: None,
        }
    }

    async fn mined(&mut self, rpc: &Rpc, block: u64) -> Result<u64> {
        if let Some(t) = self.cache.get(&block) {
            return Ok(*t);
        }
        let t = rpc.block_timestamp(block).await?;
        self.cache.insert(block, t);
        Ok(t)
    }

    /// `None` when the estimate does not fit an `i64`.
    async fn timestamp(&mut self, rpc: &Rpc, block: u64) -> Result<Option<i64>> {
        if block <= self.latest {
            return Ok(i64::try_from(self.mined(rpc, block).await?).ok());
        }
        let latest_ts = self.mined(rpc, self.latest).await?;
        let rate = match self.secs_per_block {
            Some(r) => r,
            None => {
                let span = self.latest.min(10_000);
                let r = if span == 0 {
                    FALLBACK_SECS_PER_BLOCK
                } else {
                    let old = self.mined(rpc, self.latest - span).await?;
                    let r = latest_ts.saturating_sub(old) as f64 / span as f64;
                    if r > 0.0 { r } else { FALLBACK_SECS_PER_BLOCK }
                };
                self.secs_per_block = Some(r);
                r
            }
        };
        let est = latest_ts as f64 + (block - self.latest) as f64 * rate;
        Ok((est < i64::MAX as f64).then_some(est as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_first_line() {
        for (desc, title) in [
            ("# Fund the thing\n\nbody", "Fund the thing"),
            ("Plain title\nmore", "Plain title"),
            ("\n\n  ## Spaced  \nx", "Spaced"),
            ("", ""),
        ] {
            assert_eq!(title_of(desc), title, "{desc:?}");
        }
    }

    #[test]
    fn support_and_choices_map_both_ways() {
        for (i, name) in GOVERNOR_CHOICES.iter().enumerate() {
            let s = support_of_choice(i).expect(name);
            assert_eq!(choice_of_support(s), Some(i));
        }
        assert_eq!(support_of_choice(0), Some(1)); // For
        assert_eq!(choice_of_support(0), Some(1)); // Against
        assert_eq!(choice_of_support(255), None);
        assert_eq!(support_of_choice(3), None);
    }

    #[test]
    fn scan_cursor_moves_past_what_was_read() {
        let s: Scan<()> = Scan {
            items: vec![],
            from_block: 10,
            to_block: 20,
        };
        assert_eq!(s.next_from(), 21);
        let empty: Scan<()> = Scan {
            items: vec![],
            from_block: 10,
            to_block: 9,
        };
        assert_eq!(empty.next_from(), 10);
    }
}
