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

/// The centred matrix in compressed rows: row i's voted cells are `cols/vals[ptr[i]..ptr[i+1]]`,
/// each vote minus its column mean.
pub(crate) struct Centered {
    ptr: Vec<usize>,
    cols: Vec<u32>,
    vals: Vec<f64>,
    n_cols: usize,
}

const MAX_ITERS: usize = 5000;
const TOLERANCE: f64 = 1e-12;

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
    let mut c = Centered {
        ptr: vec![0],
        cols: Vec::new(),
        vals: Vec::new(),
        n_cols,
    };
    for row in rows {
        for &(j, v) in row {
            if !moderated_out[j as usize] {
                c.cols.push(j);
                c.vals.push(f64::from(v) - mean[j as usize]);
            }
        }
        c.ptr.push(c.cols.len());
    }
    (mean, c)
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `X^T X` applied to two vectors in one pass over the votes.
fn xtx2(data: &Centered, v: &[Vec<f64>; 2]) -> [Vec<f64>; 2] {
    let mut out = [vec![0.0; data.n_cols], vec![0.0; data.n_cols]];
    for r in 0..data.ptr.len() - 1 {
        let (cols, vals) = (
            &data.cols[data.ptr[r]..data.ptr[r + 1]],
            &data.vals[data.ptr[r]..data.ptr[r + 1]],
        );
        let (mut s0, mut s1) = (0.0, 0.0);
        for (&j, &x) in cols.iter().zip(vals) {
            s0 += x * v[0][j as usize];
            s1 += x * v[1][j as usize];
        }
        for (&j, &x) in cols.iter().zip(vals) {
            out[0][j as usize] += s0 * x;
            out[1][j as usize] += s1 * x;
        }
    }
    out
}

/// Gram-Schmidt on two vectors; a vector with nothing left becomes zero (rank < 2).
fn orthonormalize(w: &mut [Vec<f64>; 2]) {
    let n0 = norm(&w[0]);
    if n0 > 0.0 {
        w[0].iter_mut().for_each(|x| *x /= n0);
    }
    let c = dot(&w[0], &w[1]);
    let (a, b) = w.split_at_mut(1);
    for (y, x) in b[0].iter_mut().zip(&a[0]) {
        *y -= c * x;
    }
    let n1 = norm(&w[1]);
    if n1 > 1e-12 * n0.max(1.0) {
        w[1].iter_mut().for_each(|x| *x /= n1);
    } else {
        w[1].iter_mut().for_each(|x| *x = 0.0);
    }
}

/// The two leading components of the covariance: the fixed point of Polis's power iteration
/// with deflation. Both are iterated together (block power iteration) and separated by a 2x2
/// Rayleigh-Ritz step each round, so close leading eigenvalues cost few rounds; the start is
/// fixed, so the answer is reproducible.
pub(crate) fn components(data: &Centered) -> [Vec<f64>; 2] {
    let n = data.n_cols;
    let mut v = [
        (0..n)
            .map(|j| 1.0 + 0.01 * (j % 97) as f64)
            .collect::<Vec<f64>>(),
        (0..n)
            .map(|j| if j % 2 == 0 { 1.0 } else { -1.0 } * (1.0 + 0.01 * (j % 89) as f64))
            .collect::<Vec<f64>>(),
    ];
    orthonormalize(&mut v);
    for _ in 0..MAX_ITERS {
        let w = xtx2(data, &v);
        // Rayleigh-Ritz in span(v): H = V^T A V, rotate by its eigenvectors (largest first).
        let (h00, h01, h11) = (dot(&v[0], &w[0]), dot(&v[0], &w[1]), dot(&v[1], &w[1]));
        let theta = 0.5 * (2.0 * h01).atan2(h00 - h11);
        let (c, s) = (theta.cos(), theta.sin());
        let mut next = [
            w[0].iter()
                .zip(&w[1])
                .map(|(a, b)| c * a + s * b)
                .collect::<Vec<f64>>(),
            w[0].iter()
                .zip(&w[1])
                .map(|(a, b)| -s * a + c * b)
                .collect::<Vec<f64>>(),
        ];
        if norm(&next[0]) == 0.0 {
            return [vec![0.0; n], vec![0.0; n]];
        }
        orthonormalize(&mut next);
        let mut change: f64 = 0.0;
        for k in 0..2 {
            // Components are defined up to sign; compare aligned.
            let sign = if dot(&next[k], &v[k]) < 0.0 {
                -1.0
            } else {
                1.0
            };
            let d = next[k]
                .iter()
                .zip(&v[k])
                .map(|(a, b)| (sign * a - b).abs())
                .fold(0.0, f64::max);
            change = change.max(d);
            if sign < 0.0 {
                next[k].iter_mut().for_each(|x| *x = -*x);
            }
        }
        v = next;
        if change < TOLERANCE {
            break;
        }
    }
    v
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
