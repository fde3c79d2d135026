//! Calibration of a predictor's probabilities on the voter's own history: temperature scaling,
//! Platt scaling of the confidence, or isotonic regression of the confidence, picked by
//! cross-validation.

use serde::Serialize;

use super::Rng;

/// A fitted map from raw probabilities to calibrated ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Calibrator {
    /// Probabilities as they are.
    Identity,
    /// `p_i ∝ p_i^(1/t)`.
    Temperature {
        /// The temperature (> 1 softens, < 1 sharpens).
        t: f64,
    },
    /// The top probability becomes `σ(a·logit(p) + b)`; the others share the rest in proportion.
    Platt {
        /// Slope on the logit of the top probability.
        a: f64,
        /// Intercept.
        b: f64,
    },
    /// The top probability is mapped through a monotone step function fitted by
    /// pool-adjacent-violators (linear between the knots); the others share the rest.
    Isotonic {
        /// Knots: raw top probabilities, increasing.
        x: Vec<f64>,
        /// Calibrated values at the knots, non-decreasing.
        y: Vec<f64>,
    },
}

/// One training example for a calibrator: raw probabilities and the index of the true choice.
pub(crate) type Sample = (Vec<f64>, usize);

const EPS: f64 = 1e-6;

impl Calibrator {
    /// Short name: `identity`, `temperature`, `platt`, `isotonic`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Temperature { .. } => "temperature",
            Self::Platt { .. } => "platt",
            Self::Isotonic { .. } => "isotonic",
        }
    }

    /// Calibrated probabilities (same length, summing to 1).
    pub fn apply(&self, p: &[f64]) -> Vec<f64> {
        if p.len() < 2 {
            return p.to_vec();
        }
        match self {
            Self::Identity => p.to_vec(),
            Self::Temperature { t } => {
                let logs: Vec<f64> = p.iter().map(|x| x.max(1e-12).ln() / t).collect();
                softmax(&logs)
            }
            Self::Platt { a, b } => {
                let (i, c) = top(p);
                let z = a * logit(c) + b;
                with_top(p, i, sigmoid(z))
            }
            Self::Isotonic { x, y } => {
                let (i, c) = top(p);
                with_top(p, i, interpolate(x, y, c))
            }
        }
    }

    fn fit(kind: Kind, samples: &[Sample]) -> Self {
        match kind {
            Kind::Identity => Self::Identity,
            Kind::Temperature => Self::Temperature {
                t: fit_temperature(samples),
            },
            Kind::Platt => {
                let (a, b) = fit_platt(samples);
                Self::Platt { a, b }
            }
            Kind::Isotonic => {
                let (x, y) = fit_isotonic(samples);
                Self::Isotonic { x, y }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Identity,
    Temperature,
    Platt,
    Isotonic,
}

const KINDS: [Kind; 4] = [
    Kind::Identity,
    Kind::Temperature,
    Kind::Platt,
    Kind::Isotonic,
];

/// Picks the calibrator with the lowest cross-validated log loss of "the top choice is right"
/// against the calibrated confidence, then fits it on all samples. Deterministic for a seed.
pub(crate) fn choose(samples: &[Sample], folds: usize, seed: u64) -> Calibrator {
    if samples.len() < 2 * folds.max(2) {
        return Calibrator::Identity;
    }
    let assignment = fold_assignment(samples.len(), folds, seed);
    let mut best = (f64::INFINITY, Kind::Identity);
    for kind in KINDS {
        let mut loss = 0.0;
        for f in 0..folds {
            let train: Vec<Sample> = samples
                .iter()
                .zip(&assignment)
                .filter(|(_, a)| **a != f)
                .map(|(s, _)| s.clone())
                .collect();
            let cal = Calibrator::fit(kind, &train);
            for (s, a) in samples.iter().zip(&assignment) {
                if *a == f {
                    loss += confidence_loss(&cal.apply(&s.0), s.1);
                }
            }
        }
        // Ties keep the simpler calibrator (KINDS is ordered simplest first).
        if loss < best.0 - 1e-9 {
            best = (loss, kind);
        }
    }
    Calibrator::fit(best.1, samples)
}

/// Folds `0..folds` for `n` items: a seeded shuffle dealt round-robin.
pub(crate) fn fold_assignment(n: usize, folds: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(seed);
    for i in (1..n).rev() {
        let j = rng.below(i + 1);
        order.swap(i, j);
    }
    let mut a = vec![0; n];
    for (k, i) in order.into_iter().enumerate() {
        a[i] = k % folds.max(1);
    }
    a
}

/// Binary log loss of "the top choice is the true one" against the top probability.
fn confidence_loss(p: &[f64], truth: usize) -> f64 {
    let (i, c) = top(p);
    let c = c.clamp(1e-4, 1.0 - 1e-4);
    if i == truth { -c.ln() } else { -(1.0 - c).ln() }
}

pub(crate) fn top(p: &[f64]) -> (usize, f64) {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, x) in p.iter().enumerate() {
        if *x > best.1 {
            best = (i, *x);
        }
    }
    best
}

pub(crate) fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(EPS, 1.0 - EPS);
    (p / (1.0 - p)).ln()
}

/// Sets the top probability to `c` (kept the top, at least `1/k`), scaling the others to share
/// the rest in their old proportions.
fn with_top(p: &[f64], i: usize, c: f64) -> Vec<f64> {
    let k = p.len() as f64;
    let rest_old: f64 = 1.0 - p[i];
    let second = p
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, x)| *x)
        .fold(0.0, f64::max);
    // Keep i the top choice: c >= second * (1 - c) / rest_old.
    let floor = if rest_old > EPS {
        second / (rest_old + second)
    } else {
        1.0 / k
    };
    let c = c.clamp(floor.max(1.0 / k), 1.0 - EPS);
    p.iter()
        .enumerate()
        .map(|(j, x)| {
            if j == i {
                c
            } else if rest_old > EPS {
                x * (1.0 - c) / rest_old
            } else {
                (1.0 - c) / (k - 1.0)
            }
        })
        .collect()
}

fn fit_temperature(samples: &[Sample]) -> f64 {
    let nll = |t: f64| -> f64 {
        samples
            .iter()
            .map(|(p, y)| {
                let q = Calibrator::Temperature { t }.apply(p);
                -q[*y].max(1e-12).ln()
            })
            .sum()
    };
    // Golden-section search on log t in [ln 0.25, ln 8].
    let (mut lo, mut hi) = (0.25f64.ln(), 8.0f64.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let mut a = hi - g * (hi - lo);
    let mut b = lo + g * (hi - lo);
    let (mut fa, mut fb) = (nll(a.exp()), nll(b.exp()));
    for _ in 0..40 {
        if fa <= fb {
            hi = b;
            b = a;
            fb = fa;
            a = hi - g * (hi - lo);
            fa = nll(a.exp());
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + g * (hi - lo);
            fb = nll(b.exp());
        }
    }
    ((lo + hi) / 2.0).exp()
}

/// Logistic regression of correctness on the logit of the top probability (Newton's method,
/// a small ridge towards the identity map a = 1, b = 0).
fn fit_platt(samples: &[Sample]) -> (f64, f64) {
    let data: Vec<(f64, f64)> = samples
        .iter()
        .map(|(p, y)| {
            let (i, c) = top(p);
            (logit(c), if i == *y { 1.0 } else { 0.0 })
        })
        .collect();
    let (mut a, mut b) = (1.0f64, 0.0f64);
    let ridge = 1.0;
    for _ in 0..50 {
        let (mut ga, mut gb) = (ridge * (a - 1.0), ridge * b);
        let (mut haa, mut hab, mut hbb) = (ridge, 0.0, ridge);
        for (x, y) in &data {
            let q = sigmoid(a * x + b);
            let r = q - y;
            let w = q * (1.0 - q);
            ga += r * x;
            gb += r;
            haa += w * x * x;
            hab += w * x;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-12 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs() + db.abs() < 1e-9 {
            break;
        }
    }
    (a, b)
}

/// Pool-adjacent-violators on (top probability, correct), with one pseudo-observation at the
/// raw value in each block so that small blocks are not pushed to 0 or 1.
fn fit_isotonic(samples: &[Sample]) -> (Vec<f64>, Vec<f64>) {
    let mut pts: Vec<(f64, f64)> = samples
        .iter()
        .map(|(p, y)| {
            let (i, c) = top(p);
            (c, if i == *y { 1.0 } else { 0.0 })
        })
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Blocks: (sum x, sum y, weight).
    let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
    for (x, y) in pts {
        blocks.push((x, (y + x) / 2.0, 1.0));
        while blocks.len() > 1 {
            let n = blocks.len();
            let (a, b) = (blocks[n - 2], blocks[n - 1]);
            if a.1 / a.2 > b.1 / b.2 {
                blocks.pop();
                blocks[n - 2] = (a.0 + b.0, a.1 + b.1, a.2 + b.2);
            } else {
                break;
            }
        }
    }
    blocks
        .into_iter()
        .map(|(sx, sy, w)| (sx / w, sy / w))
        .unzip()
}

fn interpolate(x: &[f64], y: &[f64], v: f64) -> f64 {
    match (x.first(), x.last(), y.first(), y.last()) {
        (Some(&x0), Some(&xn), Some(&y0), Some(&yn)) => {
            if v <= x0 {
                return y0;
            }
            if v >= xn {
                return yn;
            }
            let k = x.partition_point(|xi| *xi <= v);
            let (xa, xb, ya, yb) = (x[k - 1], x[k], y[k - 1], y[k]);
            if xb - xa < 1e-12 {
                yb
            } else {
                ya + (yb - ya) * (v - xa) / (xb - xa)
            }
        }
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overconfident(n: usize) -> Vec<Sample> {
        // Says 0.95 for choice 0, but choice 0 is right only 60% of the time.
        (0..n)
            .map(|i| (vec![0.95, 0.04, 0.01], usize::from(i % 5 >= 3)))
            .collect()
    }

    #[test]
    fn every_calibrator_keeps_a_distribution_and_the_top_choice() {
        let samples = overconfident(50);
        for kind in KINDS {
            let cal = Calibrator::fit(kind, &samples);
            for p in [
                vec![0.95, 0.04, 0.01],
                vec![0.4, 0.35, 0.25],
                vec![1.0, 0.0, 0.0],
            ] {
                let q = cal.apply(&p);
                assert!((q.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{kind:?} {q:?}");
                assert_eq!(top(&q).0, top(&p).0, "{kind:?} {q:?}");
            }
        }
    }

    #[test]
    fn overconfidence_is_tempered_by_the_chosen_calibrator() {
        let samples = overconfident(60);
        let cal = choose(&samples, 5, 7);
        assert_ne!(cal, Calibrator::Identity);
        let c = top(&cal.apply(&[0.95, 0.04, 0.01])).1;
        assert!((c - 0.6).abs() < 0.12, "{} gives {c}", cal.name());
    }

    #[test]
    fn too_few_samples_keep_the_identity() {
        assert_eq!(choose(&overconfident(5), 5, 1), Calibrator::Identity);
    }

    proptest::proptest! {
        /// Whatever was fitted, a calibrator returns a distribution with the same top choice.
        #[test]
        fn calibrated_output_is_a_distribution_with_the_same_top(
            raw in proptest::collection::vec(0.001f64..1.0, 2..6),
            fit in proptest::collection::vec((proptest::collection::vec(0.001f64..1.0, 3), 0usize..3), 12..40),
        ) {
            let norm = |v: &[f64]| { let s: f64 = v.iter().sum(); v.iter().map(|x| x / s).collect::<Vec<f64>>() };
            let p = norm(&raw);
            let samples: Vec<Sample> = fit.iter().map(|(v, y)| (norm(v), *y)).collect();
            for kind in KINDS {
                let q = Calibrator::fit(kind, &samples).apply(&p);
                proptest::prop_assert!((q.iter().sum::<f64>() - 1.0).abs() < 1e-9);
                proptest::prop_assert!(q.iter().all(|x| (0.0..=1.0).contains(x)));
                proptest::prop_assert!((q[top(&p).0] - top(&q).1).abs() < 1e-12, "{kind:?} {p:?} -> {q:?}");
            }
        }
    }

    #[test]
    fn folds_are_balanced_and_seeded() {
        let a = fold_assignment(23, 5, 3);
        for f in 0..5 {
            let n = a.iter().filter(|x| **x == f).count();
            assert!((4..=5).contains(&n));
        }
        assert_eq!(a, fold_assignment(23, 5, 3));
        assert_ne!(a, fold_assignment(23, 5, 4));
    }
}
