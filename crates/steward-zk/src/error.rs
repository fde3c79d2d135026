//! Errors: what went wrong making groups and proofs ([`Error`]), and why a signal does not
//! verify ([`Invalid`]). Messages name the values involved, never the identity's secret.

/// Building a group or a proof failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("tree depth {depth} is not supported: the proving keys cover depths 16, 20 and 30")]
    UnsupportedDepth { depth: usize },
    #[error(
        "group has {members} members, more than a depth-{depth} tree holds ({capacity}): use a deeper group"
    )]
    GroupTooLarge {
        members: usize,
        depth: usize,
        capacity: u64,
    },
    #[error("member {commitment} is listed twice (positions {first} and {second})")]
    DuplicateMember {
        commitment: String,
        first: usize,
        second: usize,
    },
    #[error("{what} {value:?}: {reason}")]
    BadField {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("identity {commitment} is not a member of the group (root {root}, {members} members)")]
    NotAMember {
        commitment: String,
        root: String,
        members: usize,
    },
    // getrandom's error is `std::error::Error` only with its `std` feature; shown instead.
    #[error("no randomness for a new identity: {0}")]
    Random(getrandom::Error),
    #[error("making the proof")]
    Prove(#[source] semaphore_rs::protocol::ProofError),
}

/// Why a signal is not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    #[error("the signal's {field} is malformed: {reason}")]
    Malformed { field: &'static str, reason: String },
    #[error("tree depth {depth} is not supported: the verifying keys cover depths 16, 20 and 30")]
    UnsupportedDepth { depth: usize },
    #[error("the proof's points are not on the curve")]
    NotOnCurve(#[source] semaphore_rs::protocol::ProofError),
    #[error(
        "the proof does not verify for root {root}, scope {scope:?} and this message (tampered, or made for other values)"
    )]
    Rejected { root: String, scope: String },
    #[error("the signal is for root {got}, but group {group} has root {expected}")]
    RootMismatch {
        group: String,
        expected: String,
        got: String,
    },
    #[error("verifying")]
    Verifier(#[source] semaphore_rs::protocol::ProofError),
}

impl Invalid {
    /// A short stable name for `--json` output.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "malformed",
            Self::UnsupportedDepth { .. } => "unsupported-depth",
            Self::NotOnCurve(_) => "not-on-curve",
            Self::Rejected { .. } => "rejected",
            Self::RootMismatch { .. } => "root-mismatch",
            Self::Verifier(_) => "verifier",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
