//! PCA to two components by power iteration, as Polis does it, on the mean-imputed matrix.
//!
//! Imputing a missing vote with its statement's mean and then centring makes every missing cell
//! exactly zero, so the centred matrix is as sparse as the votes and `X^T X v` costs one pass
//! over the votes. The second component is found on the matrix with the first factored out.

use serde::Serialize;

/// Centre and components, one entry per matrix column (statement).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Pca {
    pub center: Vec<f64>,
    pub comps: [Vec<f64>; 2],
}

/// The centred matrix: per row, (column, vote - column mean) for the voted cells.
pub(crate) struct Centered {
    pub rows: Vec<Vec<(u32, f64)>>,
    pub n_cols: usize,
}

const MAX_ITERS: usize = 5000;
const TOLERANCE: f64 = 1e-13;

/// `moderated_out[j]` columns are zeroed for everyone (Polis's moderation), so they carry no
/// variance and a zero centre.
pub(crate) fn center(
    rows: &[Vec<(u32, i8)>],
    n_cols: usize,
    moderated_out: &[bool],
) -> (Vec<f64>, Centered) {
    let mut sum = vec![0.0; n_cols];
    let mut count = vec![0usize; n_cols];
    for row in rows {
        for &(j, v) in row {
            sum[j as usize] += f64::from(v);
            count[j as usize] += 1;
        }
    }
    let mean: Vec<f64> = (0..n_cols)
        .map(|j| {
            if moderated_out[j] || count[j] == 0 {
                0.0
            } else {
                sum[j] / count[j] as f64
            }
        })
        .collect();
    let centred = rows
        .iter()
        .map(|row| {
            row.iter()
                .filter(|(j, _)| !moderated_out[*j as usize])
                .map(|&(j, v)| (j, f64::from(v) - mean[j as usize]))
                .collect()
        })
        .collect();
    (
        mean,
        Centered {
            rows: centred,
            n_cols,
        },
    )
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `X'^T X' v` where `X' = X (I - p p^T)` for each already-found unit component `p`.
fn xtx(data: &Centered, found: &[Vec<f64>], v: &[f64]) -> Vec<f64> {
    let deflate = |w: &mut Vec<f64>| {
        for p in found {
            let c = dot(p, w);
            for (wi, pi) in w.iter_mut().zip(p) {
                *wi -= c * pi;
            }
        }
    };
    let mut v = v.to_vec();
    deflate(&mut v);
    let mut out = vec![0.0; data.n_cols];
    for row in &data.rows {
        let s: f64 = row.iter().map(|&(j, x)| x * v[j as usize]).sum();
        if s != 0.0 {
            for &(j, x) in row {
                out[j as usize] += s * x;
            }
        }
    }
    deflate(&mut out);
    out
}

/// The two leading components. Starts from a fixed vector and iterates to convergence (Polis
/// runs 100 iterations from its previous answer, which amounts to the same fixed point).
pub(crate) fn components(data: &Centered) -> [Vec<f64>; 2] {
    let n = data.n_cols;
    let mut found: Vec<Vec<f64>> = Vec::with_capacity(2);
    for k in 0..2 {
        // Deterministic, not orthogonal to any likely component: 1, 1.01, 1.02, ...
        let mut v: Vec<f64> = (0..n).map(|j| 1.0 + 0.01 * ((j + k) % 97) as f64).collect();
        let n0 = norm(&v);
        v.iter_mut().for_each(|x| *x /= n0);
        for _ in 0..MAX_ITERS {
            let w = xtx(data, &found, &v);
            let len = norm(&w);
            if len == 0.0 {
                v = vec![0.0; n];
                break;
            }
            let next: Vec<f64> = w.iter().map(|x| x / len).collect();
            let change = next
                .iter()
                .zip(&v)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            v = next;
            if change < TOLERANCE {
                break;
            }
        }
        found.push(v);
    }
    let second = found.pop().unwrap_or_default();
    let first = found.pop().unwrap_or_default();
    [first, second]
}

/// Polis's sparsity-aware projection: the dot product over the cells a participant voted,
/// scaled by sqrt(statements / votes) so that sparse voters are not pulled to the centre.
/// `n_votes` counts moderated-out columns as voted, as Polis's zeroed columns do.
pub(crate) fn project(
    row: &[(u32, i8)],
    moderated_out: &[bool],
    n_moderated: usize,
    pca: &Pca,
) -> [f64; 2] {
    let mut p = [0.0; 2];
    let mut n_votes = n_moderated;
    for &(j, v) in row {
        let j = j as usize;
        if moderated_out[j] {
            continue;
        }
        n_votes += 1;
        let x = f64::from(v) - pca.center[j];
        p[0] += x * pca.comps[0][j];
        p[1] += x * pca.comps[1][j];
    }
    let n_cols = pca.center.len() as f64;
    let scale = (n_cols / n_votes.max(1) as f64).sqrt();
    [p[0] * scale, p[1] * scale]
}

/// How far a lone agree on each statement lands from the centre (Polis's comment extremity).
pub(crate) fn comment_extremity(pca: &Pca) -> Vec<f64> {
    let scale = (pca.center.len() as f64).sqrt();
    (0..pca.center.len())
        .map(|j| {
            let x = 1.0 - pca.center[j];
            scale * x.abs() * (pca.comps[0][j].powi(2) + pca.comps[1][j].powi(2)).sqrt()
        })
        .collect()
}
