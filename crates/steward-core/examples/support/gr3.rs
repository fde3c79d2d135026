//! Gitcoin Grants Round 3 (../shared/data/gitcoin-gr3-qf) as a round, its same-IP clusters and
//! Gitcoin's own per-grant estimates. Shared by `examples/gr3.rs`, `examples/bench_mech.rs` and
//! the error-floor test.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use steward_core::mech::{Clusters, Round};

pub(crate) fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/gitcoin-gr3-qf")
}

pub(crate) struct Gr3 {
    pub(crate) round: Round,
    /// Same-IP clusters: each (hashed) IP a cluster, a profile's weight in it the amount given
    /// from it.
    pub(crate) ip_clusters: Clusters,
    /// Gitcoin's `estimated_round_3_clr_match_usd` per project of `round` (0 where none).
    pub(crate) estimate: Vec<f64>,
    pub(crate) titles: Vec<String>,
}

/// Reads the round; `phantom` also counts the phantom-funding rows as contributions.
pub(crate) fn load(phantom: bool) -> Result<Gr3, String> {
    let dir = dir();
    let read = |name: &str| {
        csv::Reader::from_path(dir.join(name))
            .map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    let mut grants = read("grants.csv")?;
    let h = grants.headers().map_err(|e| e.to_string())?.clone();
    let col = |h: &csv::StringRecord, n: &str| {
        h.iter()
            .position(|c| c == n)
            .ok_or(format!("no column {n}"))
    };
    let (gid, gtitle, gest) = (
        col(&h, "grant_id")?,
        col(&h, "title")?,
        col(&h, "estimated_round_3_clr_match_usd")?,
    );
    let mut projects = Vec::new();
    let mut titles = Vec::new();
    let mut estimate = Vec::new();
    let mut pindex = HashMap::new();
    for r in grants.records() {
        let r = r.map_err(|e| e.to_string())?;
        pindex.insert(r[gid].to_owned(), projects.len() as u32);
        projects.push(r[gid].to_owned());
        titles.push(r[gtitle].to_owned());
        estimate.push(r[gest].parse::<f64>().unwrap_or(0.0));
    }
    let mut contribs = read("contributions.csv")?;
    let h = contribs.headers().map_err(|e| e.to_string())?.clone();
    let (cg, ck, cp, ci, cv) = (
        col(&h, "grant_id")?,
        col(&h, "kind")?,
        col(&h, "profile_hash")?,
        col(&h, "ip_hash")?,
        col(&h, "value_usd")?,
    );
    let mut donors = Vec::new();
    let mut dindex: HashMap<String, u32> = HashMap::new();
    let mut ips = Vec::new();
    let mut iindex: HashMap<String, u32> = HashMap::new();
    let mut triples = Vec::new();
    let mut ip_triples = Vec::new();
    for r in contribs.records() {
        let r = r.map_err(|e| e.to_string())?;
        if &r[ck] != "onchain" && !phantom {
            continue;
        }
        let amount: f64 = r[cv]
            .parse()
            .map_err(|e| format!("value_usd {:?}: {e}", &r[cv]))?;
        if amount <= 0.0 {
            continue;
        }
        let p = *pindex
            .get(&r[cg])
            .ok_or(format!("unknown grant {}", &r[cg]))?;
        let next = donors.len() as u32;
        let d = *dindex.entry(r[cp].to_owned()).or_insert_with(|| {
            donors.push(r[cp].to_owned());
            next
        });
        let next = ips.len() as u32;
        let ip = *iindex.entry(r[ci].to_owned()).or_insert_with(|| {
            ips.push(r[ci].to_owned());
            next
        });
        triples.push((d, p, amount));
        ip_triples.push((d, ip, amount));
    }
    let n = donors.len();
    let round = Round::new(donors, projects, triples).map_err(|e| e.to_string())?;
    let ip_clusters = Clusters::new(ips, n, ip_triples).map_err(|e| e.to_string())?;
    Ok(Gr3 {
        round,
        ip_clusters,
        estimate,
        titles,
    })
}

/// Relative L1 error of `ours` (scaled to the estimates' total over `keep`) against the
/// estimates: Σ|ours_p − est_p| / Σ est_p over the kept projects.
pub(crate) fn l1_error(ours: &[f64], estimate: &[f64], keep: &[bool]) -> f64 {
    let sum: f64 = ours.iter().zip(keep).filter(|p| *p.1).map(|p| *p.0).sum();
    let total: f64 = estimate
        .iter()
        .zip(keep)
        .filter(|p| *p.1)
        .map(|p| *p.0)
        .sum();
    let err: f64 = ours
        .iter()
        .zip(estimate)
        .zip(keep)
        .filter(|p| *p.1)
        .map(|((o, e), _)| (o / sum * total - e).abs())
        .sum();
    err / total
}
