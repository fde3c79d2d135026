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

/// The choices of every Governor proposal, in this order. A Governor vote's `support` value maps
/// to them as: support `1` = `For` (choice 0), support `0` = `Against` (choice 1), support `2` =
/// `Abstain` (choice 2) — GovernorCountingSimple's and Bravo's encoding. [`Vote::choice`] keeps
/// the raw `support` number; use [`choice_of_support`] and [`support_of_choice`] to convert.
pub const GOVERNOR_CHOICES: [&str; 3] = ["For", "Against", "Abstain"];

/// The `support` value for choice `index` of [`GOVERNOR_CHOICES`] (`For` → 1, `Against` → 0,
/// `Abstain` → 2).
pub fn support_of_choice(index: usize) -> Option<u8> {
    [1, 0, 2].get(index).copied()
}

/// The index into [`GOVERNOR_CHOICES`] for a `support` value (1 → 0, 0 → 1, 2 → 2); `None` for
/// other values (e.g. GovernorCountingFractional's 255).
pub fn choice_of_support(support: u8) -> Option<usize> {
    match support {
        1 => Some(0),
        0 => Some(1),
        2 => Some(2),
        _ => None,
    }
}
