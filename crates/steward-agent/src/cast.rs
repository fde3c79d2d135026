//! Casting votes, never twice (docs/casting.md).
//!
//! Every vote, the user's (`steward vote`) or the agent's (`steward run`), goes through
//! [`cast_vote`]:
//!
//! 1. guardrails: a live intent or a vote already on the chain / hub stops it (a Snapshot vote
//!    change needs `change`), `casting.enabled = false` makes it a recorded dry run, and
//!    `casting.max_votes_per_day` and `casting.max_value_per_day` cap submissions;
//! 2. the intent is stored and audited (`cast_intents`, state `intent`) before anything is
//!    signed; a partial unique index allows one live intent per (proposal, voter);
//! 3. the vote is signed (Governor: simulated first, so a refusal is an error before signing)
//!    and the signed payload stored (`signed`) and audited;
//! 4. it is submitted (Governor transaction, Snapshot sequencer POST) and the result stored
//!    (`submitted`, then `confirmed` with the receipt) and audited.
//!
//! A crash anywhere leaves a live, unfinished intent. [`reconcile`] (run by [`cast_vote`] for
//! its proposal, and by callers at start-up for all) asks the chain (`hasVoted`, the
//! transaction by hash) or the hub (votes by voter on the proposal): a vote that is there is
//! `confirmed`; one that is not is `abandoned` and is never resubmitted by reconciliation.

use rusqlite::params;
use serde::Serialize;
use serde_json::{Value, json};
use steward_core::{Address, AuditRecord, Source, U256};
use steward_eth::{
    GOVERNOR_CHOICES, GovernorBallot, GovernorCaster, Key, KeystorePassword, SignedVoteTx,
    SnapshotChoice, SnapshotVote, SnapshotVoteType, support_of_choice,
};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::keys::Keys;
use crate::net::Network;
use crate::proposals::StoredProposal;
use crate::sources::snapshot::HubClient;
use crate::store::{Store, sql};

/// Who asked for the vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CastOrigin {
    /// The user, with `steward vote` (or answering a question).
    User,
    /// The agent's own decision (`steward run`).
    Agent,
}

impl CastOrigin {
    fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Agent => "agent",
        }
    }
}

/// How a [`cast_vote`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CastStatus {
    /// `casting.enabled` is false: recorded and audited, nothing signed or sent.
    DryRun,
    /// Submitted and confirmed (mined, or accepted by the sequencer).
    Confirmed,
    /// Submitted; not yet confirmed (the node has it pending).
    Pending,
    /// An earlier vote by this key on this proposal is already recorded or on the chain/hub;
    /// nothing was signed.
    AlreadyVoted,
}

/// The result of [`cast_vote`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CastOutcome {
    pub status: CastStatus,
    /// The `cast_intents` row.
    pub intent: i64,
    pub proposal_key: String,
    pub voter: Address,
    /// The choice as given, normalized (`For`, `2`, `1,3`, `{"1":2}`).
    pub choice: String,
    /// The Governor transaction hash.
    pub tx: Option<String>,
    pub block: Option<u64>,
    /// The sequencer's receipt id for a Snapshot vote.
    pub receipt: Option<String>,
    /// The signed (or, for a dry run, the unsigned) payload.
    pub payload: Value,
}

/// What [`cast_vote`] needs besides the store.
#[derive(Debug, Clone, Copy)]
pub struct CastContext<'a> {
    pub config: &'a Config,
    pub keys: &'a Keys,
    /// The keystore password; needed only when `casting.enabled` (a dry run never opens the key).
    pub password: Option<&'a KeystorePassword>,
    pub network: &'a Network,
}

/// One row of `cast_intents`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CastIntent {
    pub id: i64,
    pub proposal_key: String,
    /// `governor:<chain>:<address>` or `snapshot:<space>`.
    pub target: String,
    pub voter: String,
    pub choice: String,
    pub reason: String,
    pub origin: String,
    pub state: IntentState,
    pub tx: Option<String>,
    pub error: Option<String>,
    pub created_ts: i64,
}

/// Where a vote intent stands; stored in `cast_intents.state` as [`IntentState::as_str`].
///
/// `Intent`, `Signed`, `Submitted` and `Confirmed` are live: they hold the (proposal, voter)
/// slot (the partial unique index of [`MIGRATION`]). Nothing is signed in `Intent`, so it may be
/// abandoned and signed afresh; from `Signed` on the vote may have been sent, so it is only ever
/// re-sent as stored until it shows on the chain / hub (`Confirmed`) or can no longer land
/// (`Abandoned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntentState {
    /// Recorded, nothing signed yet.
    Intent,
    /// Signed and stored; it may or may not have been sent.
    Signed,
    /// Sent; the node has it, not yet mined.
    Submitted,
    /// On the chain, or accepted by the sequencer.
    Confirmed,
    /// Refused before it could count (nothing was counted).
    Failed,
    /// Never landed and never will (nothing signed, or the proposal ended / the nonce was used).
    Abandoned,
    /// `casting.enabled` was false: recorded only.
    DryRun,
    /// Replaced by a later Snapshot vote (a change).
    Superseded,
}

impl IntentState {
    /// Every state, in the order of the lifecycle.
    pub const ALL: [Self; 8] = [
        Self::Intent,
        Self::Signed,
        Self::Submitted,
        Self::Confirmed,
        Self::Failed,
        Self::Abandoned,
        Self::DryRun,
        Self::Superseded,
    ];

    /// The states holding the (proposal, voter) slot, as the unique index lists them.
    pub const LIVE: [Self; 4] = [Self::Intent, Self::Signed, Self::Submitted, Self::Confirmed];

    /// The stored string (unchanged since the table was created).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Intent => "intent",
            Self::Signed => "signed",
            Self::Submitted => "submitted",
            Self::Confirmed => "confirmed",
            Self::Failed => "failed",
            Self::Abandoned => "abandoned",
            Self::DryRun => "dry-run",
            Self::Superseded => "superseded",
        }
    }

    /// Holds the (proposal, voter) slot.
    pub fn is_live(self) -> bool {
        Self::LIVE.contains(&self)
    }

    /// Live but not settled: reconciliation has to look at the chain or the hub.
    pub fn is_unsettled(self) -> bool {
        matches!(self, Self::Intent | Self::Signed | Self::Submitted)
    }

    /// A signed payload exists and may have been sent: only ever re-sent as stored.
    pub fn may_be_sent(self) -> bool {
        matches!(self, Self::Signed | Self::Submitted)
    }
}

impl std::fmt::Display for IntentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for IntentState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| refuse(format!("unknown cast intent state {s:?}")))
    }
}

impl rusqlite::types::ToSql for IntentState {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for IntentState {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let s = v.as_str()?;
        s.parse()
            .map_err(|e: Error| rusqlite::types::FromSqlError::Other(Box::new(e)))
    }
}

/// `('intent','signed','submitted','confirmed')`, for SQL filters on live intents.
fn live_sql() -> String {
    let list: Vec<String> = IntentState::LIVE
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("({})", list.join(","))
}

/// The target of a vote, from the proposal's source.
#[derive(Debug, Clone)]
enum Target {
    Governor {
        chain_id: u64,
        governor: Address,
        proposal_id: U256,
        support: u8,
    },
    Snapshot {
        space: String,
        kind: SnapshotVoteType,
        choice: SnapshotChoice,
    },
}

impl Target {
    fn name(&self) -> String {
        match self {
            Self::Governor {
                chain_id, governor, ..
            } => format!("governor:{chain_id}:{governor:#x}"),
            Self::Snapshot { space, .. } => format!("snapshot:{space}"),
        }
    }
}

fn refuse(msg: impl Into<String>) -> Error {
    Error::Cast(msg.into())
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Parses `choice` for `proposal`: Governor `For`/`Against`/`Abstain` or 1-3; Snapshot as
/// [`SnapshotChoice::parse`] (indexes from 1, checked against the proposal's choices), or a
/// choice's name for single-choice and basic.
fn target_of(p: &StoredProposal, choice: &str) -> Result<(Target, String)> {
    let prop = &p.proposal;
    match &prop.source {
        Source::Governor { chain_id, governor } => {
            let c = choice.trim();
            let index = GOVERNOR_CHOICES
                .iter()
                .position(|n| n.eq_ignore_ascii_case(c))
                .or_else(|| c.parse::<usize>().ok().and_then(|n| n.checked_sub(1)))
                .filter(|i| *i < GOVERNOR_CHOICES.len())
                .ok_or_else(|| {
                    refuse(format!(
                        "choice {c:?} on governor proposal {}: expected For, Against, Abstain or 1-3",
                        p.key
                    ))
                })?;
            let support = support_of_choice(index)
                .ok_or_else(|| refuse(format!("choice {c:?} has no support value")))?;
            let proposal_id = U256::from_str_radix(&prop.id, 10)
                .map_err(|_| refuse(format!("proposal id {:?} is not a number", prop.id)))?;
            Ok((
                Target::Governor {
                    chain_id: *chain_id,
                    governor: *governor,
                    proposal_id,
                    support,
                },
                GOVERNOR_CHOICES[index].to_owned(),
            ))
        }
        Source::Snapshot { space } => {
            let kind: SnapshotVoteType = prop.voting;
            let by_name = prop
                .choices
                .iter()
                .position(|n| n.eq_ignore_ascii_case(choice.trim()))
                .filter(|_| {
                    matches!(
                        kind,
                        SnapshotVoteType::SingleChoice | SnapshotVoteType::Basic
                    )
                });
            let parsed = match by_name {
                Some(i) => SnapshotChoice::One(u32::try_from(i + 1).unwrap_or(u32::MAX)),
                None => SnapshotChoice::parse(kind, choice).map_err(|e| refuse(e.to_string()))?,
            };
            let n = prop.choices.len();
            let indexes: Vec<u32> = match &parsed {
                SnapshotChoice::One(i) => vec![*i],
                SnapshotChoice::Many(v) => v.clone(),
                SnapshotChoice::Weights(w) => w.keys().copied().collect(),
            };
            if let Some(bad) = indexes.iter().find(|i| **i as usize > n) {
                return Err(refuse(format!(
                    "choice {bad} on {}: the proposal has {n} choices",
                    p.key
                )));
            }
            let shown = match &parsed {
                SnapshotChoice::One(i) => i.to_string(),
                SnapshotChoice::Many(v) => v
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                SnapshotChoice::Weights(w) => serde_json::to_string(w).unwrap_or_default(),
            };
            Ok((
                Target::Snapshot {
                    space: space.clone(),
                    kind,
                    choice: parsed,
                },
                shown,
            ))
        }
        other => Err(refuse(format!(
            "proposal {} came from {other:?}: only Snapshot and Governor proposals can be voted on",
            p.key
        ))),
    }
}

/// The test hook: with `STEWARD_CAST_PAUSE_AT=<step>` (debug builds only) the process says
/// `steward: cast paused at <step>` on stderr and sleeps, so a test can kill -9 it there.
/// Steps: `after-decision` (the pipeline's dispatch: decision recorded, nothing cast),
/// `after-intent`, `after-sign`, `after-submit`; elsewhere `bond-after-mail`,
/// `market-after-send`, `zk-before-create` and the other names their callers pass.
pub fn pause_at(step: &str) {
    #[cfg(debug_assertions)]
    if std::env::var(crate::env::STEWARD_CAST_PAUSE_AT).is_ok_and(|s| s == step) {
        use std::io::Write;
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "steward: cast paused at {step}");
        let _ = e.flush();
        std::thread::sleep(std::time::Duration::from_secs(120));
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}

impl Store {
    /// The intents, newest first (all, or those of one proposal).
    pub fn cast_intents(&self, proposal_key: Option<&str>) -> Result<Vec<CastIntent>> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT id, proposal_key, target, voter, choice, reason, origin, state, tx, error, created_ts
                 FROM cast_intents WHERE ?1 IS NULL OR proposal_key = ?1 ORDER BY id DESC",
            )
            .map_err(sql(self.path(), "reading cast intents"))?;
        let rows = stmt
            .query_map([proposal_key], |r| {
                Ok(CastIntent {
                    id: r.get(0)?,
                    proposal_key: r.get(1)?,
                    target: r.get(2)?,
                    voter: r.get(3)?,
                    choice: r.get(4)?,
                    reason: r.get(5)?,
                    origin: r.get(6)?,
                    state: r.get(7)?,
                    tx: r.get(8)?,
                    error: r.get(9)?,
                    created_ts: r.get(10)?,
                })
            })
            .map_err(sql(self.path(), "reading cast intents"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql(self.path(), "reading cast intents"))
    }

    fn cast_change_of(&self, id: i64) -> Result<Option<i64>> {
        self.conn()
            .query_row(
                "SELECT change_of FROM cast_intents WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .map_err(sql(self.path(), "reading a cast intent"))
    }

    fn cast_payload(&self, id: i64) -> Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT payload FROM cast_intents WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .map_err(sql(self.path(), "reading a cast intent"))
    }

    fn live_intent(&self, key: &str, voter: &str) -> Result<Option<CastIntent>> {
        Ok(self
            .cast_intents(Some(key))?
            .into_iter()
            .find(|i| i.voter == voter && i.state.is_live()))
    }

    fn votes_in_last_day(&self) -> Result<u32> {
        let n: i64 = self
            .conn()
            .query_row(
                &format!(
                    "SELECT count(*) FROM cast_intents WHERE created_ts >= ?1
                     AND (state IN {} OR state = 'superseded')",
                    live_sql()
                ),
                [now() - 86_400],
                |r| r.get(0),
            )
            .map_err(sql(self.path(), "counting votes"))?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// The value at stake of the proposals voted on in the last 24 hours.
    fn value_in_last_day(&self) -> Result<f64> {
        let keys: Vec<String> = {
            let mut st = self
                .conn()
                .prepare(&format!(
                    "SELECT DISTINCT proposal_key FROM cast_intents WHERE created_ts >= ?1
                     AND (state IN {} OR state = 'superseded')",
                    live_sql()
                ))
                .map_err(sql(self.path(), "summing value at stake"))?;
            st.query_map([now() - 86_400], |r| r.get(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
                .map_err(sql(self.path(), "summing value at stake"))?
        };
        let mut total = 0.0;
        for k in keys {
            if let Some(sp) = self.proposal(&k)? {
                total += steward_core::value_at_stake(&sp.proposal);
            }
        }
        Ok(total)
    }

    /// Moves intent `id` to `state` with an audit entry, in one transaction.
    fn cast_step(
        &mut self,
        id: i64,
        state: IntentState,
        set: &[(&str, Option<String>)],
        audit: AuditRecord,
    ) -> Result<()> {
        self.transaction(|tx| {
            let path = tx.path().to_path_buf();
            tx.sql()
                .execute(
                    "UPDATE cast_intents SET state = ?2, updated_ts = ?3 WHERE id = ?1",
                    params![id, state, now()],
                )
                .map_err(sql(&path, "updating a cast intent"))?;
            for (col, v) in set {
                // Column names come from this module only.
                tx.sql()
                    .execute(
                        &format!("UPDATE cast_intents SET {col} = ?2 WHERE id = ?1"),
                        params![id, v],
                    )
                    .map_err(sql(&path, "updating a cast intent"))?;
            }
            tx.audit(&audit)?;
            Ok(())
        })
    }
}

/// Casts (or dry-runs) `choice` with `reason` on `proposal`, never twice (see the module docs).
/// `change` allows replacing an earlier Snapshot vote by the same key (Snapshot counts the
/// latest); a Governor vote can never be changed.
#[allow(clippy::too_many_lines)]
pub async fn cast_vote(
    store: &mut Store,
    ctx: CastContext<'_>,
    proposal: &StoredProposal,
    choice: &str,
    reason: &str,
    origin: CastOrigin,
    change: bool,
) -> Result<CastOutcome> {
    let (target, shown) = target_of(proposal, choice)?;
    if change && matches!(target, Target::Governor { .. }) {
        return Err(refuse(format!(
            "a Governor vote cannot be changed ({} is on chain)",
            proposal.key
        )));
    }
    let selector = ctx.config.casting.key.as_deref();
    let voter = ctx.keys.address_of(selector)?;
    let voter_s = format!("{voter:#x}");
    let key_name = proposal.key.clone();

    // Finish whatever a crash left for this proposal before deciding anything.
    reconcile_one(store, ctx, &key_name, &voter_s).await?;
    let previous = store.live_intent(&key_name, &voter_s)?;
    if let Some(prev) = &previous
        && !change
    {
        // A vote signed before a crash or a lost answer may be out there already: send the
        // same stored bytes again, never a new signature. A dry-run config sends nothing.
        if prev.state.may_be_sent() && ctx.config.casting.enabled {
            return resend(store, ctx, prev, voter).await;
        }
        return Ok(CastOutcome {
            status: if prev.state == IntentState::Confirmed {
                CastStatus::AlreadyVoted
            } else {
                CastStatus::Pending
            },
            intent: prev.id,
            proposal_key: key_name,
            voter,
            choice: prev.choice.clone(),
            tx: prev.tx.clone(),
            block: None,
            receipt: None,
            payload: Value::Null,
        });
    }
    if !proposal.proposal.state.is_open() {
        return Err(refuse(format!(
            "proposal {} is {}: voting is closed or not started",
            key_name,
            proposal.proposal.state.as_str()
        )));
    }

    let timestamp = u64::try_from(now()).unwrap_or(0);
    let unsigned = match &target {
        Target::Governor {
            chain_id,
            governor,
            proposal_id,
            support,
        } => {
            json!({ "chain_id": chain_id, "governor": governor, "proposal_id": proposal_id.to_string(), "support": support, "reason": reason })
        }
        Target::Snapshot {
            space,
            kind,
            choice,
        } => SnapshotVote {
            from: voter,
            space: space.clone(),
            timestamp,
            proposal: proposal.proposal.id.clone(),
            kind: *kind,
            choice: choice.clone(),
            reason: reason.to_owned(),
            app: "steward".into(),
            metadata: String::new(),
        }
        .typed_data()
        .map_err(|e| refuse(e.to_string()))?,
    };

    if !ctx.config.casting.enabled {
        let id = store.transaction(|tx| {
            let path = tx.path().to_path_buf();
            tx.sql()
                .execute(
                    "INSERT INTO cast_intents (proposal_key, target, voter, choice, reason, origin, state, payload, created_ts, updated_ts)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                    params![key_name, target.name(), voter_s, shown, reason, origin.as_str(), IntentState::DryRun, unsigned.to_string(), now()],
                )
                .map_err(sql(&path, "recording a dry run"))?;
            let id = tx.sql().last_insert_rowid();
            tx.audit(
                &AuditRecord::new("cast-dry-run", key_name.clone())
                    .input("payload", unsigned.to_string())
                    .detail(json!({ "intent": id, "voter": voter_s, "choice": shown, "reason": reason, "origin": origin.as_str(), "payload": unsigned, "why": "casting.enabled is false" })),
            )?;
            Ok(id)
        })?;
        return Ok(CastOutcome {
            status: CastStatus::DryRun,
            intent: id,
            proposal_key: key_name,
            voter,
            choice: shown,
            tx: None,
            block: None,
            receipt: None,
            payload: unsigned,
        });
    }

    let limit = ctx.config.casting.max_votes_per_day;
    let used = store.votes_in_last_day()?;
    if used >= limit {
        return Err(refuse(format!(
            "casting.max_votes_per_day is {limit} and {used} votes were cast in the last 24 hours; not casting on {key_name}"
        )));
    }
    let cap = ctx.config.casting.max_value_per_day;
    let stake = steward_core::value_at_stake(&proposal.proposal);
    let staked = store.value_in_last_day()?;
    if staked + stake > cap {
        return Err(refuse(format!(
            "casting.max_value_per_day is ${cap:.0}; {key_name} puts about ${stake:.0} at stake and ${staked:.0} was voted on in the last 24 hours; not casting"
        )));
    }
    // Snapshot: a vote already on the hub (from another client, or lost records) is not
    // overwritten unless asked.
    if let Target::Snapshot { .. } = &target
        && !change
        && hub_has_vote(ctx, &proposal.proposal.id, voter).await?
    {
        // Recorded as a failed intent (nothing signed), so the round's resume stage, which
        // retries decided votes without a settled intent, does not ask the hub again each round.
        let why = "the hub already shows a vote by this key; nothing signed";
        store.transaction(|tx| {
            let path = tx.path().to_path_buf();
            tx.sql()
                .execute(
                    "INSERT INTO cast_intents (proposal_key, target, voter, choice, reason, origin, state, payload, error, created_ts, updated_ts)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                    params![key_name, target.name(), voter_s, shown, reason, origin.as_str(), IntentState::Failed, unsigned.to_string(), why, now()],
                )
                .map_err(sql(&path, "recording the refused vote"))?;
            let id = tx.sql().last_insert_rowid();
            tx.audit(
                &AuditRecord::new("vote-refused", key_name.clone())
                    .detail(json!({ "intent": id, "voter": voter_s, "choice": shown, "origin": origin.as_str(), "why": why })),
            )
        })?;
        return Err(Error::AlreadyVoted {
            voter: voter_s,
            proposal: key_name,
        });
    }
    let password = ctx.password.ok_or_else(|| {
        refuse("casting is enabled but no keystore password was given (STEWARD_KEYSTORE_PASSWORD)")
    })?;
    let key = ctx.keys.open(selector, password)?;

    // 1. The intent, before anything is signed.
    let superseded = previous.as_ref().map(|p| p.id);
    let id = store.transaction(|tx| {
        let path = tx.path().to_path_buf();
        if let Some(old) = superseded {
            tx.sql()
                .execute(
                    "UPDATE cast_intents SET state = ?3, updated_ts = ?2 WHERE id = ?1",
                    params![old, now(), IntentState::Superseded],
                )
                .map_err(sql(&path, "superseding a vote"))?;
        }
        tx.sql()
            .execute(
                "INSERT INTO cast_intents (proposal_key, target, voter, choice, reason, origin, state, change_of, payload, created_ts, updated_ts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                params![key_name, target.name(), voter_s, shown, reason, origin.as_str(), IntentState::Intent, superseded, unsigned.to_string(), now()],
            )
            .map_err(sql(&path, "recording the vote intent"))?;
        let id = tx.sql().last_insert_rowid();
        tx.audit(
            &AuditRecord::new("vote-intent", key_name.clone())
                .input("payload", unsigned.to_string())
                .detail(json!({ "intent": id, "target": target.name(), "voter": voter_s, "choice": shown, "reason": reason, "origin": origin.as_str(), "replaces": superseded })),
        )?;
        Ok(id)
    })?;
    pause_at("after-intent");

    let outcome = match &target {
        Target::Governor {
            chain_id,
            governor,
            proposal_id,
            support,
        } => {
            cast_governor(
                store,
                ctx,
                &key,
                id,
                (
                    &key_name,
                    *chain_id,
                    *governor,
                    *proposal_id,
                    *support,
                    reason,
                ),
            )
            .await
        }
        Target::Snapshot {
            space,
            kind,
            choice,
        } => {
            let vote = SnapshotVote {
                from: voter,
                space: space.clone(),
                timestamp,
                proposal: proposal.proposal.id.clone(),
                kind: *kind,
                choice: choice.clone(),
                reason: reason.to_owned(),
                app: "steward".into(),
                metadata: String::new(),
            };
            cast_snapshot(store, ctx, &key, id, &key_name, &vote).await
        }
    };
    match outcome {
        Ok((status, tx, block, receipt, payload)) => Ok(CastOutcome {
            status,
            intent: id,
            proposal_key: key_name,
            voter,
            choice: shown,
            tx,
            block,
            receipt,
            payload,
        }),
        Err(Failure::Final(e)) => {
            store.cast_step(
                id,
                IntentState::Failed,
                &[("error", Some(e.to_string()))],
                AuditRecord::new("vote-failed", key_name.clone())
                    .detail(json!({ "intent": id, "error": e.to_string() })),
            )?;
            if let Some(old) = superseded {
                store.cast_step(
                    old,
                    IntentState::Confirmed,
                    &[],
                    AuditRecord::new("vote-restored", key_name.clone())
                        .detail(json!({ "intent": old, "because": id })),
                )?;
            }
            Err(e)
        }
        // Maybe sent: the intent stays live for reconciliation.
        Err(Failure::Unknown(e)) => Err(e),
    }
}

/// A failure after the intent: `Final` means nothing was (or can have been) counted;
/// `Unknown` means it may have been sent, so only reconciliation may settle it.
enum Failure {
    Final(Error),
    Unknown(Error),
}

type Done = (
    CastStatus,
    Option<String>,
    Option<u64>,
    Option<String>,
    Value,
);

fn eth(context: String) -> impl FnOnce(steward_eth::Error) -> Error {
    move |source| Error::Eth { context, source }
}

fn governor_caster(ctx: CastContext<'_>, governor: Address) -> Result<GovernorCaster> {
    let g = ctx.config.governor(governor).ok_or_else(|| {
        refuse(format!(
            "governor {governor} is not in [[governors]]: add it with its rpc to vote"
        ))
    })?;
    Ok(GovernorCaster::new(ctx.network.rpc(&g.rpc)?, governor))
}

async fn cast_governor(
    store: &mut Store,
    ctx: CastContext<'_>,
    key: &Key,
    id: i64,
    (key_name, chain_id, governor, proposal_id, support, reason): (
        &str,
        u64,
        Address,
        U256,
        u8,
        &str,
    ),
) -> Result<Done, Failure> {
    let caster = governor_caster(ctx, governor).map_err(Failure::Final)?;
    let ballot = GovernorBallot {
        proposal_id,
        support,
        reason: reason.to_owned(),
        params: None,
    };
    let tx = caster
        .prepare(key, &ballot, Some(chain_id))
        .await
        .map_err(eth(format!("voting on {key_name}")))
        .map_err(Failure::Final)?;
    let payload = json!({ "tx": tx.hash.to_string(), "raw": tx.raw.to_string(), "nonce": tx.nonce, "chain_id": tx.chain_id, "from": tx.from, "support": support, "reason": reason });
    store
        .cast_step(
            id,
            IntentState::Signed,
            &[
                ("tx", Some(tx.hash.to_string())),
                ("payload", Some(payload.to_string())),
            ],
            AuditRecord::new("signature", key_name.to_owned())
                .input("raw", tx.raw.as_ref())
                .detail(json!({ "intent": id, "what": "governor-vote", "payload": payload })),
        )
        .map_err(Failure::Unknown)?;
    pause_at("after-sign");
    send_governor(
        store,
        &caster,
        id,
        key_name,
        &tx,
        proposal_id,
        payload,
        false,
    )
    .await
}

/// Broadcasts the signed transaction `tx` (the first time, or again after a crash: the same
/// bytes, so the same hash and nonce) and waits for its receipt. On a resend, a node that
/// answers "nonce too low" for a transaction it does not know means the signed vote can never
/// be mined: the intent is `abandoned`.
#[allow(clippy::too_many_arguments)]
async fn send_governor(
    store: &mut Store,
    caster: &GovernorCaster,
    id: i64,
    key_name: &str,
    tx: &SignedVoteTx,
    proposal_id: U256,
    payload: Value,
    resend: bool,
) -> Result<Done, Failure> {
    if let Err(e) = caster.submit(tx).await {
        let nonce_used = e.to_string().to_ascii_lowercase().contains("nonce too low");
        if resend
            && nonce_used
            && !caster
                .has_voted(proposal_id, tx.from)
                .await
                .map_err(eth(format!("checking the vote on {key_name}")))
                .map_err(Failure::Unknown)?
            && !caster
                .tx_known(tx.hash)
                .await
                .map_err(eth(format!("checking the vote on {key_name}")))
                .map_err(Failure::Unknown)?
        {
            let why = format!(
                "the vote signed for {key_name} (transaction {}) can no longer be mined: nonce {} of {:#x} was used by another transaction",
                tx.hash, tx.nonce, tx.from
            );
            store
                .cast_step(
                    id,
                    IntentState::Abandoned,
                    &[("error", Some(why.clone()))],
                    AuditRecord::new("vote-abandoned", key_name.to_owned())
                        .detail(json!({ "intent": id, "tx": tx.hash.to_string(), "why": why })),
                )
                .map_err(Failure::Unknown)?;
            return Err(Failure::Final(refuse(format!(
                "{why}; run the vote again to sign a new one"
            ))));
        }
        // The node may or may not have it: leave it live for reconciliation and a resend.
        return Err(Failure::Unknown(eth(format!(
            "sending the vote on {key_name}"
        ))(e)));
    }
    pause_at("after-submit");
    store
        .cast_step(
            id,
            IntentState::Submitted,
            &[],
            AuditRecord::new("submission", key_name.to_owned()).detail(
                json!({ "intent": id, "tx": tx.hash.to_string(), "rpc": caster.rpc().host(), "resend": resend }),
            ),
        )
        .map_err(Failure::Unknown)?;
    match caster.wait_receipt(tx.hash, proposal_id).await {
        Ok(r) => {
            store
                .cast_step(
                    id,
                    IntentState::Confirmed,
                    &[],
                    AuditRecord::new("vote-confirmed", key_name.to_owned()).detail(
                        json!({ "intent": id, "tx": r.tx.to_string(), "block": r.block, "weight": r.weight.to_string(), "reason": r.reason }),
                    ),
                )
                .map_err(Failure::Unknown)?;
            Ok((
                CastStatus::Confirmed,
                Some(tx.hash.to_string()),
                Some(r.block),
                None,
                payload,
            ))
        }
        Err(e @ steward_eth::Error::VoteReverted { .. }) => {
            Err(Failure::Final(eth(format!("voting on {key_name}"))(e)))
        }
        Err(steward_eth::Error::Timeout { .. }) => Ok((
            CastStatus::Pending,
            Some(tx.hash.to_string()),
            None,
            None,
            payload,
        )),
        Err(e) => Err(Failure::Unknown(eth(format!(
            "waiting for the vote on {key_name}"
        ))(e))),
    }
}

async fn cast_snapshot(
    store: &mut Store,
    ctx: CastContext<'_>,
    key: &Key,
    id: i64,
    key_name: &str,
    vote: &SnapshotVote,
) -> Result<Done, Failure> {
    let env = vote
        .sign(key)
        .map_err(eth(format!("signing the vote on {key_name}")))
        .map_err(Failure::Final)?;
    let payload = serde_json::to_value(&env).unwrap_or(Value::Null);
    let hash = vote
        .signing_hash()
        .map(|h| h.to_string())
        .unwrap_or_default();
    // These bytes are stored, POSTed, and POSTed again verbatim after a crash.
    let body = payload.to_string();
    store
        .cast_step(
            id,
            IntentState::Signed,
            &[("payload", Some(body.clone()))],
            AuditRecord::new("signature", key_name.to_owned())
                .input("envelope", body.clone())
                .detail(json!({ "intent": id, "what": "snapshot-vote", "hash": hash, "envelope": payload })),
        )
        .map_err(Failure::Unknown)?;
    pause_at("after-sign");
    send_snapshot(store, ctx, id, key_name, body, false).await
}

/// POSTs the stored envelope `body` to the sequencer and records the receipt. On a resend a
/// refusal is not final: the first POST may have landed (a sequencer refusing a duplicate), so
/// the intent stays live until the hub shows the vote or the proposal ends.
async fn send_snapshot(
    store: &mut Store,
    ctx: CastContext<'_>,
    id: i64,
    key_name: &str,
    body: String,
    resend: bool,
) -> Result<Done, Failure> {
    let seq = &ctx.config.snapshot.sequencer;
    let receipt = match post_envelope(ctx, seq, body.clone()).await {
        Err(Failure::Final(e)) if resend => return Err(Failure::Unknown(e)),
        other => other?,
    };
    pause_at("after-submit");
    store
        .cast_step(
            id,
            IntentState::Confirmed,
            &[("tx", Some(receipt.clone()))],
            AuditRecord::new("submission", key_name.to_owned()).detail(
                json!({ "intent": id, "sequencer": host_of(seq), "receipt": receipt, "resend": resend }),
            ),
        )
        .map_err(Failure::Unknown)?;
    let payload = serde_json::from_str(&body).unwrap_or(Value::Null);
    Ok((CastStatus::Confirmed, None, None, Some(receipt), payload))
}

/// Sends again the vote that intent `prev` signed (its stored payload, byte for byte), after a
/// crash or a lost answer left it `signed` / `submitted`. Never signs.
async fn resend(
    store: &mut Store,
    ctx: CastContext<'_>,
    prev: &CastIntent,
    voter: Address,
) -> Result<CastOutcome> {
    let body = store.cast_payload(prev.id)?.ok_or_else(|| {
        refuse(format!(
            "intent {} on {} is {} but has no stored payload",
            prev.id, prev.proposal_key, prev.state
        ))
    })?;
    let payload: Value = serde_json::from_str(&body).map_err(|e| {
        refuse(format!(
            "intent {} on {}: the stored payload is not JSON: {e}",
            prev.id, prev.proposal_key
        ))
    })?;
    let key_name = prev.proposal_key.as_str();
    tracing::info!(intent = prev.id, proposal = key_name, state = %prev.state, "re-sending the stored vote");
    store.cast_step(
        prev.id,
        prev.state,
        &[],
        AuditRecord::new("vote-resent", key_name.to_owned())
            .detail(json!({ "intent": prev.id, "state": prev.state, "choice": prev.choice })),
    )?;
    let done = if prev.target.starts_with("governor:") {
        let (governor, proposal_id) = governor_target(prev)?;
        let field = |name: &str| {
            payload.get(name).ok_or_else(|| {
                refuse(format!(
                    "intent {} on {}: the stored transaction has no {name}",
                    prev.id, prev.proposal_key
                ))
            })
        };
        let bad = |name: &str| {
            refuse(format!(
                "intent {} on {}: the stored transaction's {name} is malformed",
                prev.id, prev.proposal_key
            ))
        };
        let tx = SignedVoteTx {
            hash: field("tx")?
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("tx"))?,
            from: voter,
            nonce: field("nonce")?.as_u64().ok_or_else(|| bad("nonce"))?,
            chain_id: field("chain_id")?.as_u64().ok_or_else(|| bad("chain_id"))?,
            // Only the raw bytes are broadcast; the fee fields are informational.
            gas_limit: 0,
            max_fee_per_gas: 0,
            max_priority_fee_per_gas: 0,
            raw: field("raw")?
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("raw"))?,
        };
        let caster = governor_caster(ctx, governor)?;
        send_governor(
            store,
            &caster,
            prev.id,
            key_name,
            &tx,
            proposal_id,
            payload,
            true,
        )
        .await
    } else {
        send_snapshot(store, ctx, prev.id, key_name, body, true).await
    };
    match done {
        Ok((status, tx, block, receipt, payload)) => Ok(CastOutcome {
            status,
            intent: prev.id,
            proposal_key: prev.proposal_key.clone(),
            voter,
            choice: prev.choice.clone(),
            tx,
            block,
            receipt,
            payload,
        }),
        Err(Failure::Final(e) | Failure::Unknown(e)) => Err(e),
    }
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// POSTs the envelope (JSON text); the sequencer's `id` on success. A refusal (4xx with its
/// `error_description`) is final; a transport failure or 5xx is unknown (it may have landed).
async fn post_envelope(ctx: CastContext<'_>, url: &str, body: String) -> Result<String, Failure> {
    let host = host_of(url);
    let http = ctx.network.http().map_err(Failure::Final)?;
    let req = http.post(url).map_err(Failure::Final)?;
    let resp = req
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            Failure::Unknown(refuse(format!("sending the vote to sequencer {host}: {e}")))
        })?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned());
    }
    let why = body
        .get("error_description")
        .or_else(|| body.get("error"))
        .map_or_else(|| format!("HTTP {status}"), ToString::to_string);
    let e = refuse(format!("sequencer {host} refused the vote: {why}"));
    if status.is_client_error() {
        Err(Failure::Final(e))
    } else {
        Err(Failure::Unknown(e))
    }
}

async fn hub_has_vote(ctx: CastContext<'_>, proposal: &str, voter: Address) -> Result<bool> {
    let hub = HubClient::new(ctx.network.http()?, &ctx.config.snapshot.hub);
    Ok(!hub
        .votes_by_voter(proposal, &voter.to_checksum(None))
        .await?
        .is_empty())
}

/// What reconciliation decided for one unfinished intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciled {
    pub intent: i64,
    pub proposal_key: String,
    /// `confirmed` (the vote is there), `submitted` (the node still has the transaction
    /// pending) or `abandoned` (nothing was signed, or the vote can no longer land).
    pub state: IntentState,
}

/// Settles every unfinished intent (a crash's leftovers) against the chain or the hub. Call at
/// start-up; [`cast_vote`] also does it for its own proposal. A signed vote that is not visible
/// yet stays live (the next [`cast_vote`] re-sends it) until its proposal ends.
pub async fn reconcile(store: &mut Store, ctx: CastContext<'_>) -> Result<Vec<Reconciled>> {
    let pending: Vec<CastIntent> = store
        .cast_intents(None)?
        .into_iter()
        .filter(|i| i.state.is_unsettled())
        .collect();
    let mut out = Vec::new();
    for i in pending {
        out.extend(reconcile_intent(store, ctx, &i).await?);
    }
    Ok(out)
}

async fn reconcile_one(
    store: &mut Store,
    ctx: CastContext<'_>,
    key: &str,
    voter: &str,
) -> Result<()> {
    let pending: Vec<CastIntent> = store
        .cast_intents(Some(key))?
        .into_iter()
        .filter(|i| i.voter == voter && i.state.is_unsettled())
        .collect();
    for i in pending {
        reconcile_intent(store, ctx, &i).await?;
    }
    Ok(())
}

/// The governor and proposal id of a `governor:` intent.
fn governor_target(i: &CastIntent) -> Result<(Address, U256)> {
    let bad = || refuse(format!("intent {}: bad target {:?}", i.id, i.target));
    let (_, addr) = i
        .target
        .strip_prefix("governor:")
        .and_then(|rest| rest.split_once(':'))
        .ok_or_else(bad)?;
    let governor: Address = addr.parse().map_err(|_| bad())?;
    let proposal_id = i
        .proposal_key
        .rsplit(':')
        .next()
        .and_then(|s| U256::from_str_radix(s, 10).ok())
        .ok_or_else(|| {
            refuse(format!(
                "intent {}: no proposal id in {}",
                i.id, i.proposal_key
            ))
        })?;
    Ok((governor, proposal_id))
}

/// Whether voting on the stored proposal `key` is over (so a signed vote not visible by now
/// never will be). A Snapshot proposal's `end` is a time; a Governor's is a block, so only
/// its state counts. An unknown proposal is not over: the intent stays live.
fn proposal_ended(store: &Store, key: &str, snapshot: bool) -> Result<bool> {
    Ok(store.proposal(key)?.is_some_and(|sp| {
        !sp.proposal.state.is_open() || (snapshot && sp.proposal.end.is_some_and(|e| e <= now()))
    }))
}

async fn reconcile_intent(
    store: &mut Store,
    ctx: CastContext<'_>,
    i: &CastIntent,
) -> Result<Option<Reconciled>> {
    let voter: Address = i.voter.parse().map_err(|_| {
        refuse(format!(
            "intent {}: voter {:?} is not an address",
            i.id, i.voter
        ))
    })?;
    let is_governor = i.target.starts_with("governor:");
    let (voted, pending, evidence) = if is_governor {
        let (governor, proposal_id) = governor_target(i)?;
        let caster = governor_caster(ctx, governor)?;
        let voted = caster
            .has_voted(proposal_id, voter)
            .await
            .map_err(eth(format!("reconciling the vote on {}", i.proposal_key)))?;
        let mut pending = false;
        if !voted && let Some(tx) = &i.tx {
            let hash: steward_core::B256 = tx
                .parse()
                .map_err(|_| refuse(format!("intent {}: bad tx hash {tx:?}", i.id)))?;
            pending = caster
                .tx_known(hash)
                .await
                .map_err(eth(format!("reconciling the vote on {}", i.proposal_key)))?;
        }
        (
            voted,
            pending,
            json!({ "hasVoted": voted, "tx_pending": pending }),
        )
    } else {
        let proposal_id = i.proposal_key.rsplit(':').next().unwrap_or_default();
        let hub = HubClient::new(ctx.network.http()?, &ctx.config.snapshot.hub);
        let votes = hub
            .votes_by_voter(proposal_id, &voter.to_checksum(None))
            .await?;
        // This intent's vote, not an earlier one by the same key: the hub's `created` is the
        // signed message's timestamp, with the same choice and reason.
        let payload: Value = store
            .cast_payload(i.id)?
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or(Value::Null);
        let msg = payload
            .pointer("/data/message")
            .or_else(|| payload.pointer("/message"))
            .cloned()
            .unwrap_or(Value::Null);
        // The hub answers weighted choices as objects; the message carries their JSON text.
        let norm = |c: &Value| match c {
            Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| c.clone()),
            other => other.clone(),
        };
        let mine = votes
            .iter()
            .filter(|v| {
                msg.get("timestamp").is_some()
                    && v.get("created").and_then(Value::as_i64)
                        == msg.get("timestamp").and_then(Value::as_i64)
                    && v.get("reason").and_then(Value::as_str).unwrap_or("")
                        == msg.get("reason").and_then(Value::as_str).unwrap_or("")
                    && norm(v.get("choice").unwrap_or(&Value::Null))
                        == norm(msg.get("choice").unwrap_or(&Value::Null))
            })
            .count();
        (
            mine > 0,
            false,
            json!({ "hub_votes": votes.len(), "matching_timestamp": mine }),
        )
    };
    let ended = !voted && !pending && proposal_ended(store, &i.proposal_key, !is_governor)?;
    let state = if voted {
        IntentState::Confirmed
    } else if pending {
        IntentState::Submitted
    } else if i.state == IntentState::Intent || ended {
        // Nothing was signed, or voting is over: this vote can never land.
        IntentState::Abandoned
    } else {
        // Signed and maybe sent (a hub can lag, a node can drop a transaction): it stays live
        // and the next cast re-sends the same bytes; never a second signature.
        IntentState::Signed
    };
    if state == i.state || (state == IntentState::Signed && i.state.may_be_sent()) {
        return Ok(None);
    }
    store.cast_step(
        i.id,
        state,
        &[],
        AuditRecord::new("vote-reconciled", i.proposal_key.clone()).detail(
            json!({ "intent": i.id, "was": i.state, "now": state, "evidence": evidence, "proposal_ended": ended }),
        ),
    )?;
    if state == IntentState::Abandoned
        && let Some(old) = store.cast_change_of(i.id)?
    {
        // The change never landed: the vote it replaced is the live one again.
        store.cast_step(
            old,
            IntentState::Confirmed,
            &[],
            AuditRecord::new("vote-restored", i.proposal_key.clone())
                .detail(json!({ "intent": old, "because": i.id })),
        )?;
    }
    Ok(Some(Reconciled {
        intent: i.id,
        proposal_key: i.proposal_key.clone(),
        state,
    }))
}

/// The migration creating the casting tables (one element of the store's MIGRATIONS).
pub(crate) const MIGRATION: &str = r#"
-- Vote intents (crates/steward-agent/src/cast.rs, docs/casting.md): written before signing,
-- advanced after each step, reconciled with the chain or the hub after a crash.
CREATE TABLE cast_intents (
    id           INTEGER PRIMARY KEY,
    proposal_key TEXT NOT NULL,
    target       TEXT NOT NULL,        -- governor:<chain>:<address> | snapshot:<space>
    voter        TEXT NOT NULL,        -- 0x address, lower case
    choice       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    origin       TEXT NOT NULL,        -- user | agent
    state        TEXT NOT NULL,        -- intent | signed | submitted | confirmed | failed | abandoned | dry-run | superseded
    change_of    INTEGER,              -- the intent this Snapshot vote replaces
    payload      TEXT,                 -- unsigned message, then the signed envelope / transaction
    tx           TEXT,                 -- Governor transaction hash, or the sequencer's receipt id
    error        TEXT,
    created_ts   INTEGER NOT NULL,
    updated_ts   INTEGER NOT NULL
) STRICT;
-- Never twice: one live intent per proposal and voter.
CREATE UNIQUE INDEX cast_intents_live ON cast_intents (proposal_key, voter)
    WHERE state IN ('intent', 'signed', 'submitted', 'confirmed');
CREATE INDEX cast_intents_created ON cast_intents (created_ts);
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn live_states_agree_with_the_unique_index() {
        let index = super::MIGRATION
            .split("WHERE state IN ")
            .nth(1)
            .and_then(|s| s.split(';').next())
            .unwrap_or_default()
            .replace([' ', '\n'], "");
        assert_eq!(index, super::live_sql());
    }
}
