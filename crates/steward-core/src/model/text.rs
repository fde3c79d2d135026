//! Title similarity: TF-IDF over lower-cased alphanumeric tokens, and cosine of embeddings.

use std::collections::HashMap;

/// Lower-cased alphanumeric tokens of a text.
pub(crate) fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Document frequencies over a set of titles, for IDF weights.
#[derive(Debug, Clone, Default)]
pub(crate) struct Idf {
    df: HashMap<String, u32>,
    docs: u32,
}

impl Idf {
    pub(crate) fn new<'a>(titles: impl IntoIterator<Item = &'a str>) -> Self {
        let mut idf = Self::default();
        for t in titles {
            let mut seen: Vec<String> = tokens(t);
            seen.sort();
            seen.dedup();
            for w in seen {
                *idf.df.entry(w).or_default() += 1;
            }
            idf.docs += 1;
        }
        idf
    }

    /// A unit-length sparse TF-IDF vector, sorted by token.
    pub(crate) fn vector(&self, title: &str) -> Vec<(String, f64)> {
        let mut tf: HashMap<String, u32> = HashMap::new();
        for w in tokens(title) {
            *tf.entry(w).or_default() += 1;
        }
        let n = f64::from(self.docs) + 1.0;
        let mut v: Vec<(String, f64)> = tf
            .into_iter()
            .map(|(w, c)| {
                let df = f64::from(self.df.get(&w).copied().unwrap_or(0)) + 1.0;
                let weight = (1.0 + f64::from(c).ln()) * ((n / df).ln() + 1.0);
                (w, weight)
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let norm = v.iter().map(|(_, x)| x * x).sum::<f64>().sqrt();
        if norm > 0.0 {
            for (_, x) in &mut v {
                *x /= norm;
            }
        }
        v
    }
}

/// Cosine of two unit-length sparse vectors sorted by token.
pub(crate) fn sparse_cosine(a: &[(String, f64)], b: &[(String, f64)]) -> f64 {
    let (mut i, mut j, mut s) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                s += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    s
}

/// Cosine similarity of two dense vectors; 0 when either is zero or their lengths differ.
pub(crate) fn dense_cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_titles_score_higher_than_unrelated_ones() {
        let titles = [
            "Arrakis Finance STIP Proposal - Round 1",
            "Frax Finance STIP Proposal - Round 1",
            "AIP: ArbOS Version 20 Atlas",
            "Arbitrum as official sponsor of Ethereum Mexico 2023",
        ];
        let idf = Idf::new(titles);
        let v: Vec<_> = titles.iter().map(|t| idf.vector(t)).collect();
        assert!(sparse_cosine(&v[0], &v[1]) > 0.5);
        assert!(sparse_cosine(&v[0], &v[2]) < 0.1);
        assert!((sparse_cosine(&v[0], &v[0]) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn dense_cosine_handles_mismatched_and_zero_vectors() {
        assert!((dense_cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-9);
        assert_eq!(dense_cosine(&[1.0], &[1.0, 0.0]), 0.0);
        assert_eq!(dense_cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}
