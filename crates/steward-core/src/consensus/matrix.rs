//! The vote matrix: one sparse row per participant, the later of two votes on the same cell
//! winning, and Polis's rule for who is "in the conversation" (clustered).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use super::{ConsensusError, Result};

/// A multiply-rotate hasher for integer ids: the default SipHash dominates the cost of a
/// replay over millions of votes, and these keys come from the user's own files.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;
type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

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
        let col: IdMap<u64, u32> = tids
            .iter()
            .enumerate()
            .map(|(i, t)| (*t, i as u32))
            .collect();
        let mut row_of: IdMap<u64, usize> = IdMap::default();
        let mut pids = Vec::new();
        let mut rows: Vec<Vec<(u32, i8)>> = Vec::new();
        for e in ordered {
            let r = *row_of.entry(e.pid).or_insert_with(|| {
                pids.push(e.pid);
                rows.push(Vec::new());
                pids.len() - 1
            });
            rows[r].push((col[&e.tid], e.value));
        }
        for row in &mut rows {
            // Stable sort keeps time order within a cell; keep its last vote.
            row.sort_by_key(|c| c.0);
            let mut kept: Vec<(u32, i8)> = Vec::with_capacity(row.len());
            for &c in row.iter() {
                match kept.last_mut() {
                    Some(last) if last.0 == c.0 => *last = c,
                    _ => kept.push(c),
                }
            }
            *row = kept;
        }
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
    // Per participant (dense index): distinct statements voted so far.
    let mut index: IdMap<u64, usize> = IdMap::default();
    let mut count: Vec<usize> = Vec::new();
    let mut cells: IdSet<(usize, u64)> = IdSet::default();
    let mut first_seen: Vec<u64> = Vec::new();
    let mut tids: IdSet<u64> = IdSet::default();
    let mut admitted: BTreeSet<u64> = BTreeSet::new();
    let mut i = 0;
    while i < ordered.len() {
        let at = ordered[i].at;
        let mut touched = Vec::new();
        // One update per timestamp (or once for untimed input).
        while i < ordered.len() && (ordered[i].at == at && at.is_some() || at.is_none()) {
            let e = ordered[i];
            let p = *index.entry(e.pid).or_insert_with(|| {
                first_seen.push(e.pid);
                count.push(0);
                count.len() - 1
            });
            if cells.insert((p, e.tid)) {
                count[p] += 1;
            }
            tids.insert(e.tid);
            touched.push(p);
            i += 1;
        }
        let threshold = MIN_VOTES.min(tids.len());
        // Counts only grow at a participant's own votes and the threshold only rises, so
        // checking the voters of this update is the same as checking everyone.
        let candidates: Vec<usize> = if at.is_none() {
            (0..count.len()).collect()
        } else {
            touched
        };
        for p in candidates {
            if count[p] >= threshold {
                admitted.insert(first_seen[p]);
            }
        }
        if admitted.len() < GREEDY_N {
            let mut rest: Vec<usize> = (0..first_seen.len())
                .filter(|&p| !admitted.contains(&first_seen[p]))
                .collect();
            // Stable: ties keep first-vote order.
            rest.sort_by_key(|&p| std::cmp::Reverse(count[p]));
            let room = GREEDY_N - admitted.len();
            admitted.extend(rest.into_iter().take(room).map(|p| first_seen[p]));
        }
    }
    admitted
}
