//! Steward's domain types and pure logic.
//!
//! This crate owns what can be decided without touching the world: the network allowlist
//! (is this host allowed?), the audit chain (what an entry commits to, and whether a sequence of
//! entries is intact), the normalized [`Proposal`] every source produces and its limits, the per-voter vote
//! model with its calibration and metrics ([`model`]), and the decision itself: the pure core
//! ([`decide`], [`gather`], [`conclude`]) that pools a profile snapshot's evidence and the models'
//! outputs into a [`Decision`], with importance and the policy that picks between voting, asking
//! and skipping; and the mechanisms ([`mech`]: QV, QF/COCM, CO-QAF, LMSR). No I/O, no async, no clocks: callers pass everything in,
//! which is what keeps every decision reproducible.

mod audit;
pub mod consensus;
mod decision;
mod flag;
pub mod injection;
pub mod mech;
pub mod model;
mod net;
pub mod privacy;
mod proposal;
mod stance;
mod verify;
mod vote;

pub use audit::{
    AUDIT_GENESIS, AuditEntry, AuditKey, AuditRecord, ChainBreak, ChainBreakKind, sha256_hex,
    verify_chain, verify_keyed_chain,
};
pub use decision::{
    Amount, DISSENT_OVER_USUAL, Decision, DecisionAction, DecisionInput, DecisionProfile,
    EngineFailure, Evidence, EvidenceKind, Gathered, HistoryModel, Importance, ImportanceInputs,
    Judgement, JudgementConfidence, MODEL_MIN_VOTES, ModelUse, PastVote, Policy, PoolWeights,
    ProfileEntry, ProfileKind, STATEMENT_MATCH, WRITING_MATCH, amounts, conclude, cosine, decide,
    gather, importance, peer_agreement, steering_flag, usual_dissent, value_at_stake,
};
pub use flag::{Flag, Severity, kinds};
pub use net::{Allowlist, AllowlistError, Refused, Rule};
pub use proposal::{
    Action, FieldError, Limits, Proposal, ProposalState, Source, VotingType, lossy_utf8,
};
pub use stance::{Stance, explicit_stance, stance_of, stance_of_choice};

pub use model::{
    Calibrator, LabeledVote, ModelConfig, ModelError, PeerVote, Prediction, ProposalFeatures,
    VoterModel,
};
pub use vote::{GOVERNOR_CHOICES, Vote, choice_of_support, support_of_choice};

/// Verification rules: decoded calls, effects, flags and description claims.
pub mod verification {
    pub use crate::verify::*;
}

/// Ethereum primitive types used in the domain types (alloy's, re-exported so every crate names
/// the same ones).
pub use alloy_primitives::{Address, B256, Bytes, U256};
