//! What the summaries of common ground rest on, beyond Polis's own outputs: the cruxes (the
//! statements that split the opinion groups most) and coordinated blocs (many participants
//! casting exactly the same votes), so a bloc is seen for what it is and counts once where
//! Steward summarises.

use std::collections::BTreeMap;

use serde::Serialize;

use super::matrix::VoteMatrix;
use super::repness::Tally;

/// A group's vote on a statement counts towards a crux only with at least this many votes.
pub const CRUX_MIN_VOTES: u32 = 3;
/// A bloc is at least this many participants with identical votes...
pub const BLOC_MIN_MEMBERS: usize = 3;
/// ...on at least this many statements (identical short ballots are common and innocent).
pub const BLOC_MIN_VOTES: usize = 5;

/// A statement the groups disagree on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Crux {
    pub tid: u64,
    /// Max minus min over the groups of the smoothed agree probability, (a + 1) / (s + 2).
    pub spread: f64,
    /// The smoothed agree probability per group, aligned with the groups.
    pub agree_by_group: Vec<f64>,
}

/// Participants who cast identical votes on many statements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bloc {
    /// Sorted participant ids.
    pub members: Vec<u64>,
    /// How many votes each member cast (all the same).
    pub votes: usize,
}

/// The statements that split the groups most, largest spread first (ties by id), at most `n`;
/// only statements every group voted on at least [`CRUX_MIN_VOTES`] times and `eligible`.
pub(super) fn cruxes(
    tids: &[u64],
    tallies: &[Vec<Tally>],
    eligible: &[bool],
    n: usize,
) -> Vec<Crux> {
    if tallies.len() < 2 {
        return Vec::new();
    }
    let mut out: Vec<Crux> = (0..tids.len())
        .filter(|&j| eligible.get(j).copied().unwrap_or(false))
        .filter(|&j| tallies.iter().all(|t| t[j].s >= CRUX_MIN_VOTES))
        .map(|j| {
            let p: Vec<f64> = tallies
                .iter()
                .map(|t| (f64::from(t[j].a) + 1.0) / (f64::from(t[j].s) + 2.0))
                .collect();
            let hi = p.iter().copied().fold(f64::MIN, f64::max);
            let lo = p.iter().copied().fold(f64::MAX, f64::min);
            Crux {
                tid: tids[j],
                spread: hi - lo,
                agree_by_group: p,
            }
        })
        .collect();
    out.sort_by(|a, b| b.spread.total_cmp(&a.spread).then(a.tid.cmp(&b.tid)));
    out.truncate(n);
    out
}

/// Groups of at least [`BLOC_MIN_MEMBERS`] participants whose votes (statement and value, passes
/// included) are identical and number at least [`BLOC_MIN_VOTES`]; largest first.
pub(super) fn blocs(m: &VoteMatrix) -> Vec<Bloc> {
    let mut by_ballot: BTreeMap<&[(u32, i8)], Vec<u64>> = BTreeMap::new();
    for (row, pid) in m.rows.iter().zip(&m.pids) {
        if row.len() >= BLOC_MIN_VOTES {
            by_ballot.entry(row.as_slice()).or_default().push(*pid);
        }
    }
    let mut out: Vec<Bloc> = by_ballot
        .into_iter()
        .filter(|(_, pids)| pids.len() >= BLOC_MIN_MEMBERS)
        .map(|(ballot, mut pids)| {
            pids.sort_unstable();
            Bloc {
                members: pids,
                votes: ballot.len(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.members
            .len()
            .cmp(&a.members.len())
            .then(a.members.cmp(&b.members))
    });
    out
}

/// Agree, disagree and seen counts per statement over all participants with every bloc counted
/// as one participant (its first member): what a summary may say "most people" about.
pub(super) fn totals_one_per_bloc(m: &VoteMatrix, blocs: &[Bloc]) -> Vec<Tally> {
    let extra: std::collections::HashSet<u64> = blocs
        .iter()
        .flat_map(|b| b.members.iter().skip(1).copied())
        .collect();
    let mut totals = vec![Tally::default(); m.tids.len()];
    for (row, pid) in m.rows.iter().zip(&m.pids) {
        if extra.contains(pid) {
            continue;
        }
        for &(j, v) in row {
            totals[j as usize].add(v);
        }
    }
    totals
}
