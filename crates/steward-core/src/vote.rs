//! Votes seen on a proposal: others' votes (evidence for later waves) and, later, the user's own.

use serde::{Deserialize, Serialize};

/// One vote as a source reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    /// The source's id for the vote: Snapshot's vote id, or `<tx hash>:<log index>` on chain.
    pub id: String,
    /// The voter's address, lower-case 0x hex.
    pub voter: String,
    /// The choice exactly as the source encodes it: a 1-based index for single-choice and basic
    /// Snapshot votes, an array for approval and ranked-choice, an object of index to weight for
    /// quadratic and weighted; for Governors, the `support` value (0 against, 1 for, 2 abstain).
    pub choice: serde_json::Value,
    /// Voting power as a decimal string (Snapshot's float `vp`, or a Governor's integer weight).
    pub power: String,
    pub reason: Option<String>,
    /// Unix seconds (Snapshot `created`; on chain, the block's timestamp when known).
    pub created: Option<i64>,
}
