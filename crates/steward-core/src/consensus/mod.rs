//! A consensus engine with Polis's math (pol.is): who is clustered (`in-conv`), PCA to two
//! components with the sparsity-aware projection, base clusters (k-means, k = 100) and group
//! clusters over them (k = 2..5 by silhouette), representative statements per group, consensus
//! statements, group-aware consensus and comment priorities.
//!
//! Reimplemented from the published formulas (Polis's documentation and papers); docs/consensus.md
//! records how closely it reproduces the Polis math server on real conversations. Votes are in
//! Steward's convention, agree = +1; [`polis`] converts exports at the edge. Polis's own math
//! runs with agree = -1, so its PCA centre is the negation of ours (components match up to sign).

mod cluster;
mod common;
mod matrix;
mod pca;
pub mod polis;
mod repness;
pub mod summary;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

pub use common::{BLOC_MIN_MEMBERS, BLOC_MIN_VOTES, Bloc, CRUX_MIN_VOTES, Crux};
pub use matrix::{Conversation, VoteEvent, VoteMatrix, in_conv};
pub use pca::Pca;
pub use repness::{ConsensusComment, RepComment, RepfulFor, Tally, prop_test, two_prop_test};

/// Polis's number of base clusters.
pub const BASE_K: usize = 100;
/// The most groups Polis draws.
pub const MAX_GROUPS: usize = 5;

/// What can stop an analysis; every message names the input and the item at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsensusError {
    /// A value in the input is missing or malformed.
    #[error("{source_name}: {item}: field `{field}`: {reason}")]
    Input {
        source_name: String,
        item: String,
        field: String,
        reason: String,
    },
    /// The input is not JSON.
    #[error("{source_name}: not valid JSON")]
    Json {
        source_name: String,
        #[source]
        source: serde_json::Error,
    },
    /// The input is not CSV.
    #[error("{source_name}: not valid CSV")]
    Csv {
        source_name: String,
        #[source]
        source: csv::Error,
    },
    /// The votes' sign convention cannot be told from the statements' counts.
    #[error(
        "{source_name}: cannot tell whether agree is +1 or -1 (statement counts match neither convention); pass the sign explicitly"
    )]
    SignUnknown { source_name: String },
    #[error("the conversation has no votes")]
    Empty,
    #[error("only one participant voted (pid {pid}); groups need at least two")]
    SingleParticipant { pid: u64 },
    #[error("every vote is a pass: no statement separates anyone")]
    AllPass,
    /// Too little overlap to separate opinion groups from noise.
    #[error("too sparse to cluster: {reason}")]
    TooSparse { reason: String },
}

pub type Result<T, E = ConsensusError> = std::result::Result<T, E>;

/// A base cluster (participants close together on the map).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaseCluster {
    pub id: usize,
    pub members: Vec<u64>,
    pub center: [f64; 2],
}

/// An opinion group: a cluster of base clusters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub id: usize,
    pub members: Vec<u64>,
    pub base_clusters: Vec<usize>,
    pub center: [f64; 2],
}

/// Everything the engine computes for one conversation.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Every participant, in order of first vote.
    pub pids: Vec<u64>,
    /// The matrix columns: statements with at least one vote, ascending.
    pub tids: Vec<u64>,
    /// Participants kept in the clustering, ascending.
    pub in_conv: Vec<u64>,
    pub pca: Pca,
    /// Each participant's position on the two components, aligned with `pids`.
    pub projection: Vec<[f64; 2]>,
    pub base_clusters: Vec<BaseCluster>,
    pub groups: Vec<Group>,
    /// Silhouette of each candidate group count (k, score).
    pub silhouettes: Vec<(usize, f64)>,
    /// Representative statements, aligned with `groups`.
    pub repness: Vec<Vec<RepComment>>,
    pub consensus_agree: Vec<ConsensusComment>,
    pub consensus_disagree: Vec<ConsensusComment>,
    pub group_aware_consensus: BTreeMap<u64, f64>,
    pub comment_priorities: BTreeMap<u64, f64>,
    pub comment_extremity: BTreeMap<u64, f64>,
    /// Not Polis's: the statements that split the groups most (at most [`MAX_CRUXES`]).
    pub cruxes: Vec<Crux>,
    /// Not Polis's: participants who cast identical votes on many statements.
    pub blocs: Vec<Bloc>,
    /// Not Polis's: consensus statements with every bloc counted as one participant, so a
    /// coordinated bloc cannot make a statement "common ground" on its own.
    pub consensus_agree_one_per_bloc: Vec<ConsensusComment>,
    pub consensus_disagree_one_per_bloc: Vec<ConsensusComment>,
}

/// The most cruxes reported.
pub const MAX_CRUXES: usize = 10;

/// Runs the whole computation. Deterministic: the same votes give the same answer.
pub fn analyze(conv: &Conversation) -> Result<Analysis> {
    let m = VoteMatrix::build(&conv.votes)?;
    if m.pids.len() < 2 {
        return Err(ConsensusError::SingleParticipant { pid: m.pids[0] });
    }
    if conv.votes.iter().all(|e| e.value == 0) {
        return Err(ConsensusError::AllPass);
    }
    let n_cols = m.tids.len();
    let moderated_out: Vec<bool> = m
        .tids
        .iter()
        .map(|t| conv.mod_out.contains(t) || conv.meta.contains(t))
        .collect();
    let n_moderated = moderated_out.iter().filter(|x| **x).count();
    let admitted = in_conv(&conv.votes);

    let (center, centred) = pca::center(&m.rows, n_cols, &moderated_out);
    let comps = pca::components(&centred);
    let pca = Pca { center, comps };
    let projection: Vec<[f64; 2]> = m
        .rows
        .iter()
        .map(|r| pca::project(r, &moderated_out, n_moderated, &pca))
        .collect();

    // Clustered rows, in data (first-vote) order, which fixes k-means's starting points.
    let rows_in: Vec<usize> = (0..m.pids.len())
        .filter(|&i| admitted.contains(&m.pids[i]))
        .collect();
    check_density(&m, &rows_in, &moderated_out, &projection)?;
    let points: Vec<[f64; 2]> = rows_in.iter().map(|&i| projection[i]).collect();
    let mut base = cluster::kmeans(&points, None, BASE_K, 100);
    base.sort_by_key(|c| c.id);
    let base_clusters: Vec<BaseCluster> = base
        .iter()
        .map(|c| BaseCluster {
            id: c.id,
            members: sorted(c.members.iter().map(|&k| m.pids[rows_in[k]])),
            center: c.center,
        })
        .collect();

    let base_points: Vec<[f64; 2]> = base.iter().map(|c| c.center).collect();
    let weights: Vec<f64> = base.iter().map(|c| c.members.len() as f64).collect();
    let max_k = MAX_GROUPS.min(2 + base.len() / 12);
    let mut best: Option<(f64, Vec<cluster::Cluster>)> = None;
    let mut silhouettes = Vec::new();
    for k in 2..=max_k {
        // Polis asks for 100 group iterations under a key its k-means ignores, so 20 apply.
        let mut g = cluster::kmeans(&base_points, Some(&weights), k, 20);
        g.sort_by_key(|c| c.id);
        let s = cluster::silhouette(&base_points, &g);
        silhouettes.push((k, s));
        // Ties go to the larger k, as Polis's max-key over ascending k does.
        if best.as_ref().is_none_or(|(b, _)| s >= *b) {
            best = Some((s, g));
        }
    }
    let chosen = best.map(|(_, g)| g).unwrap_or_default();
    let row_of: BTreeMap<u64, usize> = m.pids.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let groups: Vec<Group> = chosen
        .iter()
        .enumerate()
        .map(|(gi, g)| Group {
            id: gi,
            members: sorted(
                g.members
                    .iter()
                    .flat_map(|&b| base_clusters[b].members.iter().copied()),
            ),
            base_clusters: g.members.iter().map(|&b| base_clusters[b].id).collect(),
            center: g.center,
        })
        .collect();

    // Tallies per group over the raw votes; repness reads moderated columns as zeroed, but
    // those are never eligible, so raw and zeroed give the same answer where it is used.
    let mut tallies = vec![vec![Tally::default(); n_cols]; groups.len()];
    for (gi, g) in groups.iter().enumerate() {
        for pid in &g.members {
            for &(j, v) in &m.rows[row_of[pid]] {
                tallies[gi][j as usize].add(v);
            }
        }
    }
    let eligible: Vec<bool> = moderated_out.iter().map(|x| !x).collect();
    let repness = repness::select_repness(&m.tids, &tallies, &eligible);
    // Consensus is over every participant, clustered or not, as Polis counts it.
    let mut totals = vec![Tally::default(); n_cols];
    for row in &m.rows {
        for &(j, v) in row {
            totals[j as usize].add(v);
        }
    }
    let (consensus_agree, consensus_disagree) =
        repness::select_consensus(&m.tids, &totals, &eligible);
    let cruxes = common::cruxes(&m.tids, &tallies, &eligible, MAX_CRUXES);
    let blocs = common::blocs(&m);
    let (consensus_agree_one_per_bloc, consensus_disagree_one_per_bloc) =
        repness::select_consensus(&m.tids, &common::totals_one_per_bloc(&m, &blocs), &eligible);
    let extremity = pca::comment_extremity(&pca);
    let mut group_aware_consensus = BTreeMap::new();
    let mut comment_priorities = BTreeMap::new();
    let mut comment_extremity = BTreeMap::new();
    for (j, &tid) in m.tids.iter().enumerate() {
        group_aware_consensus.insert(tid, repness::group_aware(&tallies, j));
        let mut grouped = Tally::default();
        for t in &tallies {
            grouped.a += t[j].a;
            grouped.d += t[j].d;
            grouped.s += t[j].s;
        }
        comment_priorities.insert(
            tid,
            repness::priority(conv.meta.contains(&tid), grouped, extremity[j]),
        );
        comment_extremity.insert(tid, extremity[j]);
    }
    Ok(Analysis {
        pids: m.pids,
        tids: m.tids,
        in_conv: admitted.into_iter().collect(),
        pca,
        projection,
        base_clusters,
        groups,
        silhouettes,
        repness,
        consensus_agree,
        consensus_disagree,
        group_aware_consensus,
        comment_priorities,
        comment_extremity,
        cruxes,
        blocs,
        consensus_agree_one_per_bloc,
        consensus_disagree_one_per_bloc,
    })
}

fn sorted(it: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut v: Vec<u64> = it.collect();
    v.sort_unstable();
    v
}

/// Minimum clustered participants who each voted on two or more live statements.
const MIN_OVERLAPPING: usize = 4;

/// Refuses to draw groups where the votes cannot support them: too few clustered participants
/// with overlapping votes, or everyone in (nearly) the same place.
fn check_density(
    m: &VoteMatrix,
    rows_in: &[usize],
    moderated_out: &[bool],
    projection: &[[f64; 2]],
) -> Result<()> {
    let overlapping = rows_in
        .iter()
        .filter(|&&i| {
            m.rows[i]
                .iter()
                .filter(|(j, v)| !moderated_out[*j as usize] && *v != 0)
                .count()
                >= 2
        })
        .count();
    if overlapping < MIN_OVERLAPPING {
        return Err(ConsensusError::TooSparse {
            reason: format!(
                "{overlapping} of {} clustered participants cast two or more agree/disagree votes on live statements; at least {MIN_OVERLAPPING} are needed",
                rows_in.len()
            ),
        });
    }
    let distinct: BTreeSet<(u64, u64)> = rows_in
        .iter()
        .map(|&i| {
            (
                (projection[i][0] * 1e9).round() as i64 as u64,
                (projection[i][1] * 1e9).round() as i64 as u64,
            )
        })
        .collect();
    if distinct.len() < 3 {
        return Err(ConsensusError::TooSparse {
            reason: format!(
                "the {} clustered participants sit at {} distinct positions; at least 3 are needed",
                rows_in.len(),
                distinct.len()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
