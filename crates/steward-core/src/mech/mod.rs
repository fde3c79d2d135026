//! Mechanisms: quadratic voting ([`qv`]), quadratic funding with plain and pairwise-bounded CLR
//! ([`qf`]), connection-oriented cluster match in the paper's and Gitcoin's forms ([`cocm`]),
//! CO-QAF and attention pricing ([`coqaf`]), and LMSR markets ([`lmsr`]); plus the CSV readers
//! their inputs come in ([`input`]). Pure functions of their inputs: the caller reads files.
//!
//! Funding functions return the *subsidy* per project (the match before pool normalisation),
//! never the project's direct contributions; [`qf::normalise`] and [`qf::cap`] turn subsidies
//! into a pool's split. The round is stored sparsely (compressed rows by project and by donor),
//! so a round of millions of contributions never needs a donor × project matrix.

pub mod cocm;
pub mod coqaf;
pub mod input;
pub mod lmsr;
pub mod qf;
pub mod qv;

use std::fmt;

/// What went wrong in a mechanism or its input. Input errors name the file, the row (the line
/// in the file, header = 1) and the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MechError {
    /// A value in an input row is unusable.
    #[error("{file} row {row}, field {field}: {problem}")]
    Field {
        file: String,
        row: u64,
        field: String,
        problem: String,
    },
    /// The header is missing, lacks a column, or has one nobody reads.
    #[error("{file} header: {problem}")]
    Header { file: String, problem: String },
    /// The CSV itself cannot be read.
    #[error("{file}: unreadable CSV")]
    Csv {
        file: String,
        #[source]
        source: csv::Error,
    },
    /// No contribution (or bond) with a positive amount.
    #[error("{file}: empty round (no row with a positive amount)")]
    Empty { file: String },
    /// A donor who contributed is in no cluster.
    #[error("{file} row {row}, field donor: donor {donor:?} is in no cluster of {clusters}")]
    DonorWithoutCluster {
        file: String,
        row: u64,
        donor: String,
        clusters: String,
    },
    /// A cluster none of whose members contributed.
    #[error("{file} row {row}, field cluster: cluster {cluster:?} has no donor who contributed")]
    ClusterWithoutDonors {
        file: String,
        row: u64,
        cluster: String,
    },
    /// A parameter (a flag, a market's state) is out of its domain.
    #[error("{name}: {problem}")]
    Param { name: String, problem: String },
}

/// Result of a mechanism or input function.
pub type Result<T, E = MechError> = std::result::Result<T, E>;

pub(crate) fn param(name: &str, problem: impl fmt::Display) -> MechError {
    MechError::Param {
        name: name.to_owned(),
        problem: problem.to_string(),
    }
}

/// Compressed rows: row `r` holds `idx[start[r]..start[r + 1]]` with values `val[..]`, its
/// columns ascending.
#[derive(Debug, Clone, Default)]
pub(crate) struct Csr {
    pub(crate) start: Vec<usize>,
    pub(crate) idx: Vec<u32>,
    pub(crate) val: Vec<f64>,
}

impl Csr {
    /// Builds from (row, col, value) triples sorted by (row, col) with no repeats.
    fn from_sorted(rows: usize, triples: &[(u32, u32, f64)]) -> Self {
        let mut start = vec![0usize; rows + 1];
        for &(r, _, _) in triples {
            start[r as usize + 1] += 1;
        }
        for r in 0..rows {
            start[r + 1] += start[r];
        }
        Self {
            start,
            idx: triples.iter().map(|t| t.1).collect(),
            val: triples.iter().map(|t| t.2).collect(),
        }
    }

    pub(crate) fn row(&self, r: usize) -> (&[u32], &[f64]) {
        let (a, b) = (self.start[r], self.start[r + 1]);
        (&self.idx[a..b], &self.val[a..b])
    }
}

/// Builds both orientations of a sparse matrix from triples (any order, repeats summed, zeros
/// dropped).
fn both_ways(rows: usize, cols: usize, mut triples: Vec<(u32, u32, f64)>) -> (Csr, Csr) {
    triples.sort_unstable_by_key(|t| (t.0, t.1));
    let mut merged: Vec<(u32, u32, f64)> = Vec::with_capacity(triples.len());
    for t in triples {
        match merged.last_mut() {
            Some(last) if last.0 == t.0 && last.1 == t.1 => last.2 += t.2,
            _ => merged.push(t),
        }
    }
    merged.retain(|t| t.2 > 0.0);
    let by_row = Csr::from_sorted(rows, &merged);
    let mut flipped: Vec<(u32, u32, f64)> = merged.iter().map(|t| (t.1, t.0, t.2)).collect();
    flipped.sort_unstable_by_key(|t| (t.0, t.1));
    let by_col = Csr::from_sorted(cols, &flipped);
    (by_row, by_col)
}

/// A funding round: who gave how much to which project, stored sparsely both ways.
#[derive(Debug, Clone)]
pub struct Round {
    donors: Vec<String>,
    projects: Vec<String>,
    /// project -> (donor, amount)
    by_project: Csr,
    /// donor -> (project, amount)
    by_donor: Csr,
}

impl Round {
    /// A round from `(donor, project, amount)` index triples into `donors` and `projects`.
    /// Repeated pairs are summed; zero amounts are no contribution. Amounts must be finite
    /// and non-negative, indices in range.
    pub fn new(
        donors: Vec<String>,
        projects: Vec<String>,
        contributions: Vec<(u32, u32, f64)>,
    ) -> Result<Self> {
        for (n, &(d, p, a)) in contributions.iter().enumerate() {
            if d as usize >= donors.len() || p as usize >= projects.len() {
                return Err(param(
                    "contributions",
                    format!("entry {n} names donor {d} or project {p} outside the round"),
                ));
            }
            if !a.is_finite() || a < 0.0 {
                return Err(param(
                    "contributions",
                    format!("entry {n} has amount {a}, expected a finite number >= 0"),
                ));
            }
        }
        let flipped: Vec<(u32, u32, f64)> = contributions
            .into_iter()
            .map(|(d, p, a)| (p, d, a))
            .collect();
        let (by_project, by_donor) = both_ways(projects.len(), donors.len(), flipped);
        Ok(Self {
            donors,
            projects,
            by_project,
            by_donor,
        })
    }

    /// A round of one project from a list of amounts, one donor each (for tests and examples).
    pub fn single(amounts: &[f64]) -> Result<Self> {
        let donors = (0..amounts.len()).map(|i| format!("d{i}")).collect();
        let triples = amounts
            .iter()
            .enumerate()
            .map(|(i, &a)| (i as u32, 0, a))
            .collect();
        Self::new(donors, vec!["p0".to_owned()], triples)
    }

    pub fn donors(&self) -> &[String] {
        &self.donors
    }

    pub fn projects(&self) -> &[String] {
        &self.projects
    }

    /// The donors of a project with their amounts, donors ascending.
    pub fn project(&self, p: usize) -> (&[u32], &[f64]) {
        self.by_project.row(p)
    }

    /// The projects of a donor with their amounts, projects ascending.
    pub fn donor(&self, d: usize) -> (&[u32], &[f64]) {
        self.by_donor.row(d)
    }

    /// Number of (donor, project) pairs with a positive amount.
    pub fn len(&self) -> usize {
        self.by_project.idx.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Direct contributions per project.
    pub fn totals(&self) -> Vec<f64> {
        (0..self.projects.len())
            .map(|p| self.project(p).1.iter().sum())
            .collect()
    }

    /// Contributors per project.
    pub fn counts(&self) -> Vec<usize> {
        (0..self.projects.len())
            .map(|p| self.project(p).0.len())
            .collect()
    }
}

/// Donor × cluster membership weights, aligned with a [`Round`]'s donors.
#[derive(Debug, Clone)]
pub struct Clusters {
    names: Vec<String>,
    /// donor -> (cluster, weight)
    by_donor: Csr,
    /// cluster -> (donor, weight)
    by_cluster: Csr,
}

impl Clusters {
    /// Clusters from `(donor, cluster, weight)` triples; repeats summed, zero weights dropped.
    /// Weights must be finite and non-negative.
    pub fn new(names: Vec<String>, donors: usize, triples: Vec<(u32, u32, f64)>) -> Result<Self> {
        for (n, &(d, c, w)) in triples.iter().enumerate() {
            if d as usize >= donors || c as usize >= names.len() {
                return Err(param(
                    "clusters",
                    format!("entry {n} names donor {d} or cluster {c} outside the round"),
                ));
            }
            if !w.is_finite() || w < 0.0 {
                return Err(param(
                    "clusters",
                    format!("entry {n} has weight {w}, expected a finite number >= 0"),
                ));
            }
        }
        let (by_donor, by_cluster) = both_ways(donors, names.len(), triples);
        Ok(Self {
            names,
            by_donor,
            by_cluster,
        })
    }

    /// Gitcoin's default: every project is a cluster, a donor's weight in it their amount.
    pub fn projects(round: &Round) -> Self {
        Self {
            names: round.projects.clone(),
            by_donor: round.by_donor.clone(),
            by_cluster: round.by_project.clone(),
        }
    }

    /// Every donor alone in a cluster of their own.
    pub fn singletons(round: &Round) -> Self {
        let n = round.donors.len();
        let triples = (0..n as u32).map(|d| (d, d, 1.0)).collect();
        Self::new(round.donors.clone(), n, triples).expect("indices in range")
    }

    /// Binary groups: `groups[g]` lists the donors in group `g`.
    pub fn groups(round: &Round, groups: &[Vec<u32>]) -> Result<Self> {
        let names = (0..groups.len()).map(|g| format!("g{g}")).collect();
        let triples = groups
            .iter()
            .enumerate()
            .flat_map(|(g, ds)| ds.iter().map(move |&d| (d, g as u32, 1.0)))
            .collect();
        Self::new(names, round.donors.len(), triples)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// A donor's clusters with their raw weights.
    pub fn of_donor(&self, d: usize) -> (&[u32], &[f64]) {
        self.by_donor.row(d)
    }

    /// A cluster's members with their raw weights.
    pub fn members(&self, c: usize) -> (&[u32], &[f64]) {
        self.by_cluster.row(c)
    }

    /// Index of the first donor who contributed yet is in no cluster, and of the first cluster
    /// none of whose members contributed.
    pub fn gaps(&self, round: &Round) -> (Option<usize>, Option<usize>) {
        let donor = (0..round.donors.len())
            .find(|&d| !round.donor(d).0.is_empty() && self.by_donor.row(d).0.is_empty());
        let cluster = (0..self.names.len()).find(|&c| {
            self.by_cluster
                .row(c)
                .0
                .iter()
                .all(|&d| round.donor(d as usize).0.is_empty())
        });
        (donor, cluster)
    }
}
