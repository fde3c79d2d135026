//! Scoring predictions: accuracy, expected calibration error with its reliability table, and
//! accuracy and coverage at a confidence threshold.

use serde::Serialize;

/// One scored prediction: its confidence (top probability) and whether the top choice was right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Top probability in [0, 1].
    pub confidence: f64,
    /// Whether the top choice was the true one.
    pub correct: bool,
}

/// One bin of a reliability table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReliabilityBin {
    /// Lower edge of the confidence bin (inclusive).
    pub lo: f64,
    /// Upper edge (exclusive, except for the last bin).
    pub hi: f64,
    /// Predictions in the bin.
    pub n: usize,
    /// Mean confidence in the bin.
    pub confidence: f64,
    /// Fraction right in the bin.
    pub accuracy: f64,
}

/// Accuracy and coverage of the predictions at or above a confidence threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Coverage {
    /// The threshold.
    pub threshold: f64,
    /// Fraction of predictions at or above it.
    pub coverage: f64,
    /// Accuracy among those; `None` when there are none.
    pub accuracy: Option<f64>,
}

/// Fraction right; `None` for no predictions.
pub fn accuracy(outcomes: &[Outcome]) -> Option<f64> {
    if outcomes.is_empty() {
        return None;
    }
    Some(outcomes.iter().filter(|o| o.correct).count() as f64 / outcomes.len() as f64)
}

/// A reliability table with `bins` equal-width confidence bins; empty bins are left out.
pub fn reliability(outcomes: &[Outcome], bins: usize) -> Vec<ReliabilityBin> {
    let bins = bins.max(1);
    let mut acc = vec![(0usize, 0.0f64, 0usize); bins];
    for o in outcomes {
        let c = o.confidence.clamp(0.0, 1.0);
        let k = ((c * bins as f64) as usize).min(bins - 1);
        acc[k].0 += 1;
        acc[k].1 += c;
        acc[k].2 += usize::from(o.correct);
    }
    acc.into_iter()
        .enumerate()
        .filter(|(_, (n, _, _))| *n > 0)
        .map(|(k, (n, sc, right))| ReliabilityBin {
            lo: k as f64 / bins as f64,
            hi: (k + 1) as f64 / bins as f64,
            n,
            confidence: sc / n as f64,
            accuracy: right as f64 / n as f64,
        })
        .collect()
}

/// Expected calibration error: the bin-size-weighted mean |accuracy - confidence| of a table.
pub fn ece(table: &[ReliabilityBin]) -> f64 {
    let total: usize = table.iter().map(|b| b.n).sum();
    if total == 0 {
        return 0.0;
    }
    table
        .iter()
        .map(|b| b.n as f64 / total as f64 * (b.accuracy - b.confidence).abs())
        .sum()
}

/// Accuracy and coverage at a confidence threshold.
pub fn coverage(outcomes: &[Outcome], threshold: f64) -> Coverage {
    let auto: Vec<Outcome> = outcomes
        .iter()
        .copied()
        .filter(|o| o.confidence >= threshold)
        .collect();
    Coverage {
        threshold,
        coverage: if outcomes.is_empty() {
            0.0
        } else {
            auto.len() as f64 / outcomes.len() as f64
        },
        accuracy: accuracy(&auto),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(confidence: f64, correct: bool) -> Outcome {
        Outcome {
            confidence,
            correct,
        }
    }

    #[test]
    fn table_of_metrics() {
        let xs = [o(0.95, true), o(0.92, true), o(0.55, false), o(0.51, true)];
        assert_eq!(accuracy(&xs), Some(0.75));
        assert_eq!(accuracy(&[]), None);
        let t = reliability(&xs, 10);
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].n, t[1].n), (2, 2));
        assert!((t[0].accuracy - 0.5).abs() < 1e-12);
        // |0.5 - 0.53| * 0.5 + |1.0 - 0.935| * 0.5
        assert!((ece(&t) - (0.03 * 0.5 + 0.065 * 0.5)).abs() < 1e-9);
        let c = coverage(&xs, 0.9);
        assert_eq!(c.coverage, 0.5);
        assert_eq!(c.accuracy, Some(1.0));
        assert_eq!(coverage(&xs, 0.99).accuracy, None);
        // Confidence 1.0 falls in the last bin.
        assert_eq!(reliability(&[o(1.0, true)], 10)[0].lo, 0.9);
    }
}
