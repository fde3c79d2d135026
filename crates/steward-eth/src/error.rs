//! steward-eth's errors: [`Error`] for what stops a whole call (the RPC is down, times out, or
//! answers nonsense), [`ItemError`] for one proposal or vote that cannot be accepted while the
//! rest of the scan goes on.
//!
//! Messages name the RPC by host (and port) only — never the full URL, which often carries an
//! API key in its path — and name the governor and proposal involved.

use std::fmt;

use steward_core::{Address, FieldError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The RPC URL cannot be used.
    #[error("invalid rpc url {url}: {reason}")]
    Url { url: String, reason: String },
    /// The HTTP client could not be built.
    #[error("building the http client for rpc {host}: {source}")]
    Client {
        host: String,
        #[source]
        source: reqwest::Error,
    },
    /// The request failed in transport (connection refused, reset, TLS, HTTP status) or the node
    /// answered with an error to a request that is not a contract call.
    #[error("rpc {host}: {context}: {detail}")]
    Rpc {
        host: String,
        context: String,
        detail: String,
    },
    /// No answer within the deadline.
    #[error("rpc {host}: {context}: no answer within {secs} s")]
    Timeout {
        host: String,
        context: String,
        secs: u64,
    },
    /// A contract call reverted where a revert is not an answer about one item.
    #[error("rpc {host}: governor {governor}: {context} reverted: {detail}")]
    Reverted {
        host: String,
        governor: Address,
        context: String,
        detail: String,
    },
    /// The node or the contract answered something that cannot be right.
    #[error("rpc {host}: {context}: unexpected answer: {detail}")]
    BadResponse {
        host: String,
        context: String,
        detail: String,
    },
    /// The address has no code.
    #[error("rpc {host}: no contract at {address} on chain {chain_id}")]
    NotAContract {
        host: String,
        address: Address,
        chain_id: u64,
    },
    /// The contract answers neither OpenZeppelin Governor's nor GovernorBravo's calls.
    #[error(
        "rpc {host}: {address} is neither an OpenZeppelin Governor (proposalSnapshot) nor a GovernorBravo (quorumVotes)"
    )]
    UnknownGovernor { host: String, address: Address },
    /// The governor refused the vote (the revert decoded: already voted, not active, ...).
    /// Nothing was mined.
    #[error("governor {governor}: vote on proposal {proposal} refused: {reason}")]
    VoteRefused {
        governor: Address,
        proposal: String,
        /// The decoded custom error, e.g. `GovernorAlreadyCastVote(0x..)`.
        reason: String,
    },
    /// The vote transaction was mined but reverted.
    #[error(
        "governor {governor}: vote transaction {tx} on proposal {proposal} reverted in block {block}"
    )]
    VoteReverted {
        governor: Address,
        proposal: String,
        tx: String,
        block: u64,
    },
    /// The node serves another chain than the one the vote is for.
    #[error("rpc {host}: chain id {got}, expected {expected}")]
    ChainMismatch {
        host: String,
        expected: u64,
        got: u64,
    },
    /// Signing failed (the key could not sign this payload).
    #[error("signing {what}: {detail}")]
    Signing { what: String, detail: String },
    /// An EIP-712 message that cannot be built from the input (a bad choice, a bad address).
    #[error("{what}: {detail}")]
    BadMessage { what: String, detail: String },
}

impl Error {
    /// A stable kebab-case name for error envelopes.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Url { .. } => "bad-url",
            Self::Client { .. } => "http",
            Self::Rpc { .. } => "rpc",
            Self::Timeout { .. } => "rpc-timeout",
            Self::Reverted { .. } => "reverted",
            Self::BadResponse { .. } => "rpc-bad-response",
            Self::NotAContract { .. } => "not-a-contract",
            Self::UnknownGovernor { .. } => "unknown-governor",
            Self::VoteRefused { .. } => "vote-refused",
            Self::VoteReverted { .. } => "vote-reverted",
            Self::ChainMismatch { .. } => "chain-mismatch",
            Self::Signing { .. } => "signing",
            Self::BadMessage { .. } => "bad-message",
        }
    }
}

/// Which item an [`ItemError`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ItemRef {
    /// The proposal id (decimal), once the log decoded far enough to have one.
    Proposal(String),
    /// A vote by `voter` on `proposal` (decimal id).
    Vote { proposal: String, voter: Address },
    /// A log that did not decode: where it is.
    Log { block: u64, index: u64 },
}

impl fmt::Display for ItemRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Proposal(id) => write!(f, "proposal {id}"),
            Self::Vote { proposal, voter } => write!(f, "vote by {voter} on proposal {proposal}"),
            Self::Log { block, index } => write!(f, "log {index} of block {block}"),
        }
    }
}

/// One proposal or vote that cannot be accepted; the others in the same scan still come through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("governor {governor} on chain {chain_id}, {item}: {error}")]
pub struct ItemError {
    pub chain_id: u64,
    pub governor: Address,
    pub item: ItemRef,
    /// The field and what is wrong with it (`signatures`, `data`, `state`, `choices`, ...).
    pub error: FieldError,
}

impl ItemError {
    /// The field at fault.
    pub fn field(&self) -> &str {
        &self.error.field
    }
}
