//! Everything Ethereum for Steward, through alloy: providers, `sol!` bindings (Governor, ERC-20,
//! timelock), EIP-712 votes, transactions, keystore signers, calldata decoding and simulation.
//!
//! Today it owns reading on-chain Governors (OpenZeppelin 5.x and Compound GovernorBravo):
//! [`GovernorReader`] turns `ProposalCreated` logs into core [`Proposal`]s and `VoteCast` logs
//! into core [`Vote`]s, one `Result` per item so a bad log never stops a scan, over an [`Rpc`]
//! connection that names hosts but never URLs in its errors. With the `testkit` feature,
//! [`testkit`] starts anvil and deploys real OpenZeppelin contracts for tests (see
//! `docs/governor.md`).
//!
//! [`Proposal`]: steward_core::Proposal
//! [`Vote`]: steward_core::Vote

mod bindings;
pub mod bonds;
mod cast;
mod code;
mod contract;
pub mod decode;
mod erc8004;
mod error;
mod governor;
mod health;
mod keystore;
mod market;
mod provenance;
mod rpc;
mod send;
mod simulate;
mod snapshot;
mod validation;
mod verify;
pub mod zkgroups;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use bonds::{
    BondError, BondEscrow, BondResult, BondState, BondTx, ChainBond, Deposit, EscrowSettings,
    describe_bond_revert,
};
pub use cast::{
    BallotSignature, GovernorBallot, GovernorCaster, SignedVoteTx, VoteReceipt, describe_revert,
};
pub use code::{CodeFacts, Opcodes, Origin as CodeOrigin, scan_opcodes};
pub use erc8004::{
    AgentRecord, AgentRegistries, Feedback, FeedbackGiven, MAX_FEEDBACK_DECIMALS,
    MAX_WALLET_DEADLINE_SECS, Metadata, Mined, Registered, RegistryError, RegistryResult, Summary,
    describe_registry_revert, fixed_point, parse_fixed_point,
};
pub use error::{Error, ItemError, ItemRef, Result};
pub use governor::{
    ClockMode, DEFAULT_PAGE_BLOCKS, GOVERNOR_CHOICES, GovernorKind, GovernorReader, GovernorVote,
    Scan, choice_of_support, support_of_choice,
};
pub use health::{Attack, Health, HealthOptions, Holding, Treasury, dao_health};
pub use keystore::{
    Kdf, Key, KeystoreError, KeystorePassword, decrypt_keystore, encrypt_keystore, keystore_address,
};
pub use market::{
    InputMarket, InputStatus, MarketInfo, MarketQuote, Submission, SuggestionMarketClient,
    TradeLog, describe_market_revert, lmsr_cost, lmsr_price_yes,
};
pub use provenance::{Provenance, ProvenanceOptions};
pub use rpc::{DEFAULT_TIMEOUT, Rpc};

/// keccak256 of `bytes` (code hashes for pinning).
pub fn keccak(bytes: &[u8]) -> [u8; 32] {
    alloy::primitives::keccak256(bytes).0
}
pub use simulate::{
    ADMIN_SLOT, DELEGATE_SHIM, IMPLEMENTATION_SLOT, Simulation, Step, calldata_of, effect_of_log,
    effects_of_log, ether_of_trace, is_delegate_proposal, storage_of_diff,
};
pub use snapshot::{
    SNAPSHOT_DOMAIN_NAME, SNAPSHOT_DOMAIN_VERSION, SnapshotChoice, SnapshotEnvelope, SnapshotVote,
    SnapshotVoteType, VerifiedVote, VoteLayout, VoteLayoutOf, snapshot_domain,
    verify_snapshot_envelope,
};
pub use validation::{
    MAX_VALIDATION_RESPONSE, ValidationPosted, ValidationRegistry, ValidationStatus,
    describe_validation_revert,
};
pub use verify::{ActionReport, Report, Request, executor_of, verify};
pub use zkgroups::{
    ChainGroup, ChainSignal, ProofInputs, SemaphoreVerifier, SignalSent, StewardGroups,
    describe_groups_revert, signal_calldata,
};
