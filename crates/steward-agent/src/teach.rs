//! What an answer would teach the agent: the score that ranks questions, shared by the round's
//! question budget (`pipeline::budget`) and the eval's `--ask-budget` (`eval/ask.rs`), so that
//! what is measured is what runs.

use std::collections::{HashMap, HashSet};

/// The teach score a row needs before the agent spends a question on it. Chosen on the
/// validation slices, not the test rows (docs/eval.md, "Asking to learn").
pub const DEFAULT_ASK_THRESHOLD: f64 = 0.0;

/// Importance weighs the teach score from this floor (title-only rows have importance near 0
/// and must still be askable).
const IMPORTANCE_FLOOR: f64 = 0.5;

/// What an answer would teach: the decision's uncertainty (1 at uniform, 0 when sure) times
/// importance (from a floor) times the distance to the nearest row already asked.
pub fn teach_score(confidence: f64, choices: usize, importance: f64, novelty: f64) -> f64 {
    let k = choices.max(2) as f64;
    let uncertainty = ((1.0 - confidence) / (1.0 - 1.0 / k)).clamp(0.0, 1.0);
    let weight = IMPORTANCE_FLOOR + (1.0 - IMPORTANCE_FLOOR) * importance.clamp(0.0, 1.0);
    uncertainty * weight * novelty.clamp(0.0, 1.0)
}

/// Similarity between proposals, for spreading the questions over a batch: cosine of the
/// embeddings when both have one, else of IDF-weighted title words (so the shared words of a
/// grants round, "STIP Proposal Round 1", weigh little and the project's name much).
#[derive(Debug, Default)]
pub struct Similarity {
    vectors: HashMap<String, Vec<(String, f64)>>,
}

fn words(title: &str) -> HashSet<String> {
    title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

impl Similarity {
    /// From every proposal's (id, title): document frequencies over titles only.
    pub fn new<'a>(titles: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let docs: Vec<(&str, HashSet<String>)> =
            titles.into_iter().map(|(id, t)| (id, words(t))).collect();
        let n = docs.len().max(1) as f64;
        let mut df: HashMap<String, usize> = HashMap::new();
        for (_, ws) in &docs {
            for w in ws {
                *df.entry(w.clone()).or_default() += 1;
            }
        }
        let idf: HashMap<String, f64> = df
            .into_iter()
            .map(|(w, d)| (w, (n / d as f64).ln() + 1.0))
            .collect();
        let vectors = docs
            .into_iter()
            .map(|(id, ws)| {
                let mut v: Vec<(String, f64)> =
                    ws.into_iter().map(|w| (w.clone(), idf[&w])).collect();
                let norm = v.iter().map(|x| x.1 * x.1).sum::<f64>().sqrt().max(1e-12);
                v.iter_mut().for_each(|x| x.1 /= norm);
                v.sort_by(|a, b| a.0.cmp(&b.0));
                (id.to_owned(), v)
            })
            .collect();
        Similarity { vectors }
    }

    /// Cosine in [0, 1] of two proposals (0 when either is unknown).
    pub fn between(&self, a: &str, b: &str, emb: &HashMap<String, Vec<f32>>) -> f64 {
        if let (Some(x), Some(y)) = (emb.get(a), emb.get(b)) {
            let dot: f64 = x
                .iter()
                .zip(y)
                .map(|(p, q)| f64::from(*p) * f64::from(*q))
                .sum();
            let nx: f64 = x.iter().map(|p| f64::from(*p).powi(2)).sum::<f64>().sqrt();
            let ny: f64 = y.iter().map(|p| f64::from(*p).powi(2)).sum::<f64>().sqrt();
            return (dot / (nx * ny).max(1e-12)).clamp(0.0, 1.0);
        }
        let (Some(x), Some(y)) = (self.vectors.get(a), self.vectors.get(b)) else {
            return 0.0;
        };
        let (mut i, mut j, mut dot) = (0, 0, 0.0);
        while i < x.len() && j < y.len() {
            match x[i].0.cmp(&y[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    dot += x[i].1 * y[j].1;
                    i += 1;
                    j += 1;
                }
            }
        }
        dot.clamp(0.0, 1.0)
    }

    /// 1 minus the similarity to the nearest proposal in `asked` (1 when nothing was asked).
    pub fn novelty(&self, id: &str, asked: &[&str], emb: &HashMap<String, Vec<f32>>) -> f64 {
        1.0 - asked
            .iter()
            .map(|a| self.between(id, a, emb))
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_duplicate_titles_are_not_novel() {
        let s = Similarity::new([
            ("1", "Alpha STIP Proposal - Round 1"),
            ("2", "Beta STIP Proposal - Round 1"),
            ("3", "Alpha STIP Proposal - Round 1 (amended)"),
            ("4", "Gamma STIP Proposal - Round 1"),
        ]);
        let none = HashMap::new();
        assert!(s.novelty("3", &["1"], &none) < s.novelty("2", &["1"], &none));
        assert_eq!(s.novelty("2", &[], &none), 1.0);
        assert!(teach_score(0.5, 2, 0.0, 1.0) > teach_score(0.9, 2, 0.0, 1.0));
        assert!(teach_score(0.5, 2, 1.0, 1.0) > teach_score(0.5, 2, 0.0, 1.0));
    }
}
