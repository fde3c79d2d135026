//! The vote matrix: one sparse row per participant, the later of two votes on the same cell
//! winning, and Polis's rule for who is "in the conversation" (clustered).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::{ConsensusError, Result};

/// One vote, already in Steward's sign convention (agree = +1, disagree = -1, pass = 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoteEvent {
    pub pid: u64,
    pub tid: u64,
    pub value: i8,
    /// Milliseconds; `None` for inputs without time (a plain matrix), which then keep file order.
    pub at: Option<i64>,
}

/// What the engine takes: the votes, plus the statements moderated out (rejected or meta),
/// which Polis keeps as columns but zeroes and never reports as representative or consensus.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    pub votes: Vec<VoteEvent>,
    pub mod_out: BTreeSet<u64>,
    pub meta: BTreeSet<u64>,
}

/// Participants x statements, sparse. Rows are in order of first vote and columns sorted by id,
/// so the engine is deterministic for a given input.
#[derive(Debug, Clone)]
pub struct VoteMatrix {
    pub pids: Vec<u64>,
    pub tids: Vec<u64>,
    /// Per row: (column index, vote) sorted by column; the raw votes, before moderation.
    pub rows: Vec<Vec<(u32, i8)>>,
}

impl VoteMatrix {
    /// Builds the matrix; events are ordered by time (stable, so equal or missing times keep
    /// input order) and a later vote on the same cell replaces the earlier one, as in Polis.
    pub fn build(events: &[VoteEvent]) -> Result<Self> {
        if events.is_empty() {
            return Err(ConsensusError::Empty);
        }
        let ordered = time_order(events);
        let tids: Vec<u64> = events
            .iter()
            .map(|e| e.tid)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let col: HashMap<u64, u32> = tids
            .iter()
            .enumerate()
            .map(|(i, t)| (*t, i as u32))
            .collect();
        let mut row_of: HashMap<u64, usize> = HashMap::new();
        let mut pids = Vec::new();
        let mut cells: Vec<BTreeMap<u32, i8>> = Vec::new();
        for e in ordered {
            let r = *row_of.entry(e.pid).or_insert_with(|| {
                pids.push(e.pid);
                cells.push(BTreeMap::new());
                pids.len() - 1
            });
            cells[r].insert(col[&e.tid], e.value);
        }
        let rows = cells.into_iter().map(|m| m.into_iter().collect()).collect();
        Ok(Self { pids, tids, rows })
    }

    pub fn n_votes(&self) -> usize {
        self.rows.iter().map(Vec::len).sum()
    }
}

fn time_order(events: &[VoteEvent]) -> Vec<&VoteEvent> {
    let mut ordered: Vec<&VoteEvent> = events.iter().collect();
    ordered.sort_by_key(|e| e.at.unwrap_or(i64::MIN));
    ordered
}

/// Polis admits a participant once they have voted on min(7, statements so far) statements,
/// tops the set up to 15 with the most active voters while it is smaller, and never removes
/// anyone. Replaying the votes in time order (one update per distinct timestamp) reproduces
/// what the server accumulated over its runs; without times this is one update at the end.
pub fn in_conv(events: &[VoteEvent]) -> BTreeSet<u64> {
    const MIN_VOTES: usize = 7;
    const GREEDY_N: usize = 15;
    let ordered = time_order(events);
    let mut voted: HashMap<u64, HashSet<u64>> = HashMap::new();
    let mut first_seen: Vec<u64> = Vec::new();
    let mut tids: HashSet<u64> = HashSet::new();
    let mut admitted: BTreeSet<u64> = BTreeSet::new();
    let mut i = 0;
    while i < ordered.len() {
        let at = ordered[i].at;
        let mut touched = Vec::new();
        // One update per timestamp (or once for untimed input).
        while i < ordered.len() && (ordered[i].at == at && at.is_some() || at.is_none()) {
            let e = ordered[i];
            let set = voted.entry(e.pid).or_insert_with(|| {
                first_seen.push(e.pid);
                HashSet::new()
            });
            set.insert(e.tid);
            tids.insert(e.tid);
            touched.push(e.pid);
            i += 1;
        }
        let threshold = MIN_VOTES.min(tids.len());
        // Counts only grow at a participant's own votes and the threshold only rises, so
        // checking the voters of this update is the same as checking everyone.
        let candidates: Vec<u64> = if at.is_none() {
            first_seen.clone()
        } else {
            touched
        };
        for pid in candidates {
            if voted[&pid].len() >= threshold {
                admitted.insert(pid);
            }
        }
        if admitted.len() < GREEDY_N {
            let mut rest: Vec<u64> = first_seen
                .iter()
                .copied()
                .filter(|p| !admitted.contains(p))
                .collect();
            // Stable: ties keep first-vote order.
            rest.sort_by_key(|p| std::cmp::Reverse(voted[p].len()));
            let room = GREEDY_N - admitted.len();
            admitted.extend(rest.into_iter().take(room));
        }
    }
    admitted
}
