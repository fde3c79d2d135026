//! Quadratic funding: plain CLR, Gitcoin's pairwise-bounded CLR, pool normalisation and a
//! per-project cap redistributed until no project exceeds it.

use super::{Result, Round, param};

/// Plain CLR subsidy per project: (Σ_i √c_ip)² − Σ_i c_ip.
pub fn plain(round: &Round) -> Vec<f64> {
    (0..round.projects().len())
        .map(|p| {
            let amounts = round.project(p).1;
            let root: f64 = amounts.iter().map(|c| c.sqrt()).sum();
            let sum: f64 = amounts.iter().sum();
            // (Σ√c)² − Σc is a sum of non-negative cross terms; rounding must not make it negative.
            (root * root - sum).max(0.0)
        })
        .collect()
}

/// The default bound of the pairwise coefficient (qf-calculator's `get_qf_matching` uses 0.1;
/// its `pairwise` function's own default is 0.01).
pub const PAIRWISE_M: f64 = 0.1;

/// Pairwise-bounded CLR subsidy per project:
/// Σ_{i<j} √(c_ip c_jp) · M / (M + P_ij), with P_ij = Σ_q √(c_iq c_jq) the pair's overlap over
/// all projects. Sparse: the work is Σ_i Σ_{q∋i} |donors of q|, with one donor-sized scratch row.
pub fn pairwise(round: &Round, m: f64) -> Result<Vec<f64>> {
    if !(m.is_finite() && m > 0.0) {
        return Err(param("M", format!("{m} is not a positive number")));
    }
    let n_donors = round.donors().len();
    let bp = &round.by_project;
    // √c aligned with the by-project rows, one flat array.
    let roots: Vec<f64> = bp.val.iter().map(|c| c.sqrt()).collect();
    let mut funding = vec![0.0; round.projects().len()];
    let mut overlap = vec![0.0f64; n_donors];
    // Donors are visited in ascending order and each project's donors ascend, so donor i sits
    // at next[q] in project q's row: its later co-donors follow it, with no search.
    let mut next: Vec<usize> = bp.start[..bp.start.len() - 1].to_vec();
    for i in 0..n_donors {
        let (projects, amounts) = round.donor(i);
        // P_ij for this donor's later co-donors j, then each pair's term once P is known, then
        // the scratch row cleared: three passes over the same pairs, nothing stored per pair.
        for (&q, &c) in projects.iter().zip(amounts) {
            let si = c.sqrt();
            let (from, to) = (next[q as usize] + 1, bp.start[q as usize + 1]);
            for (&j, &sj) in bp.idx[from..to].iter().zip(&roots[from..to]) {
                overlap[j as usize] += si * sj;
            }
        }
        for (&q, &c) in projects.iter().zip(amounts) {
            let si = c.sqrt();
            let (from, to) = (next[q as usize] + 1, bp.start[q as usize + 1]);
            let mut sum = 0.0;
            for (&j, &sj) in bp.idx[from..to].iter().zip(&roots[from..to]) {
                sum += si * sj * m / (m + overlap[j as usize]);
            }
            funding[q as usize] += sum;
        }
        for &q in projects {
            let (from, to) = (next[q as usize] + 1, bp.start[q as usize + 1]);
            for &j in &bp.idx[from..to] {
                overlap[j as usize] = 0.0;
            }
            next[q as usize] += 1;
        }
    }
    Ok(funding)
}

/// Scales subsidies so they sum to `pool` (qf-calculator's normalisation: shares of the total
/// subsidy, whether the total is above or below the pool). All-zero subsidies stay zero.
pub fn normalise(subsidies: &[f64], pool: f64) -> Result<Vec<f64>> {
    if !(pool.is_finite() && pool > 0.0) {
        return Err(param("--pool", format!("{pool} is not a positive amount")));
    }
    let total: f64 = subsidies.iter().sum();
    if total <= 0.0 {
        return Ok(vec![0.0; subsidies.len()]);
    }
    Ok(subsidies.iter().map(|s| s / total * pool).collect())
}

/// Caps each project at `cap` (a fraction of the pool, in (0, 1]) and hands what the capped
/// projects lose to the others in proportion to what they have, until none exceeds the cap.
/// When every project is capped the rest of the pool stays unallocated.
pub fn cap(matched: &[f64], cap: f64) -> Result<Vec<f64>> {
    if !(cap.is_finite() && cap > 0.0 && cap <= 1.0) {
        return Err(param("--cap", format!("{cap} is not a fraction in (0, 1]")));
    }
    let pool: f64 = matched.iter().sum();
    let limit = cap * pool;
    let mut out = matched.to_vec();
    let mut capped = vec![false; out.len()];
    // Each pass caps at least one more project or stops, so it ends within n passes.
    for _ in 0..=out.len() {
        let mut any = false;
        for (x, c) in out.iter_mut().zip(capped.iter_mut()) {
            if !*c && *x >= limit {
                *x = limit;
                *c = true;
                any = true;
            }
        }
        let fixed: f64 = out.iter().zip(&capped).filter(|p| *p.1).map(|p| *p.0).sum();
        let free: f64 = out
            .iter()
            .zip(&capped)
            .filter(|p| !*p.1)
            .map(|p| *p.0)
            .sum();
        if free <= 0.0 {
            break;
        }
        let scale = (pool - fixed) / free;
        for (x, c) in out.iter_mut().zip(&capped) {
            if !*c {
                *x *= scale;
            }
        }
        if !any && out.iter().zip(&capped).all(|(x, c)| *c || *x <= limit) {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round(rows: &[(u32, u32, f64)], donors: usize, projects: usize) -> Round {
        Round::new(
            (0..donors).map(|d| format!("d{d}")).collect(),
            (0..projects).map(|p| format!("p{p}")).collect(),
            rows.to_vec(),
        )
        .expect("valid")
    }

    #[test]
    fn plain_vectors() {
        // (1 + 2 + 3)² − 14 = 22.
        assert!((plain(&Round::single(&[1.0, 4.0, 9.0]).expect("valid"))[0] - 22.0).abs() < 1e-12);
        // One donor gets no match.
        assert_eq!(plain(&Round::single(&[100.0]).expect("valid"))[0], 0.0);
    }

    #[test]
    fn pairwise_vectors() {
        // Two donors, one project each, both 1: P = 1, term = 1 · M/(M + 1), counted once.
        let r = Round::single(&[1.0, 1.0]).expect("valid");
        let m = 0.1;
        assert!((pairwise(&r, m).expect("valid")[0] - m / (m + 1.0)).abs() < 1e-15);
        // The same pair on two projects: P = 2, each project gets M/(M + 2).
        let r = round(&[(0, 0, 1.0), (1, 0, 1.0), (0, 1, 1.0), (1, 1, 1.0)], 2, 2);
        let f = pairwise(&r, m).expect("valid");
        assert!((f[0] - m / (m + 2.0)).abs() < 1e-15 && (f[1] - f[0]).abs() < 1e-15);
        // As M grows the bound vanishes, leaving Σ_{i<j} √(c_i c_j) = 2 + 3 + 6: each pair once,
        // half of plain CLR's cross terms (Gitcoin's definition).
        let r = Round::single(&[1.0, 4.0, 9.0]).expect("valid");
        assert!((pairwise(&r, 1e12).expect("valid")[0] - 11.0).abs() < 1e-6);
        assert!(pairwise(&r, 0.0).is_err());
    }

    #[test]
    fn pool_and_cap() {
        let n = normalise(&[1.0, 3.0], 100.0).expect("valid");
        assert_eq!(n, vec![25.0, 75.0]);
        assert!(normalise(&[1.0], 0.0).is_err());
        // Cap 50%: 70 -> 50, the 20 goes to the others in proportion (20:10).
        let c = cap(&[70.0, 20.0, 10.0], 0.5).expect("valid");
        assert!((c[0] - 50.0).abs() < 1e-9);
        assert!((c[1] - 20.0 * 50.0 / 30.0).abs() < 1e-9);
        assert!((c[2] - 10.0 * 50.0 / 30.0).abs() < 1e-9);
        // Redistribution pushing a second project over the cap caps it too.
        let c = cap(&[60.0, 35.0, 5.0], 0.4).expect("valid");
        assert!((c[0] - 40.0).abs() < 1e-9 && (c[1] - 40.0).abs() < 1e-9);
        assert!((c[2] - 20.0).abs() < 1e-9);
        assert!(cap(&[1.0], 0.0).is_err());
    }

    fn arb_round() -> impl Strategy<Value = Vec<(u32, u32, f64)>> {
        prop::collection::vec((0u32..6, 0u32..3, 0.0f64..1000.0), 1..30)
    }

    proptest! {
        #[test]
        fn match_non_negative_and_monotone(rows in arb_round(), k in 0usize..30, extra in 0.0f64..500.0) {
            let r = round(&rows, 6, 3);
            let k = k % rows.len();
            let mut more = rows.clone();
            more[k].2 += extra;
            let r2 = round(&more, 6, 3);
            let (a, b) = (plain(&r), plain(&r2));
            for p in 0..3 {
                prop_assert!(a[p] >= 0.0);
                prop_assert!(b[p] >= a[p] - 1e-9 * (1.0 + a[p]));
            }
            let pw = pairwise(&r, PAIRWISE_M).expect("valid");
            for p in 0..3 {
                prop_assert!(pw[p] >= 0.0 && pw[p] <= a[p] / 2.0 + 1e-9 * (1.0 + a[p]));
            }
        }

        #[test]
        fn cap_conserves_and_caps(xs in prop::collection::vec(0.0f64..100.0, 1..12), c in 0.05f64..1.0) {
            let total: f64 = xs.iter().sum();
            let out = cap(&xs, c).expect("valid");
            let limit = c * total;
            prop_assert!(out.iter().all(|x| *x <= limit * (1.0 + 1e-9) + 1e-12));
            let sum: f64 = out.iter().sum();
            // All of the pool is handed out unless every project sits at the cap.
            if c * xs.iter().filter(|x| **x > 0.0).count() as f64 >= 1.0 {
                prop_assert!((sum - total).abs() <= 1e-9 * (1.0 + total));
            } else {
                prop_assert!(sum <= total * (1.0 + 1e-9));
            }
        }
    }
}
