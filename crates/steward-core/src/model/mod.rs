//! A per-voter vote predictor: from one voter's past votes (and, when given, other voters'
//! votes) to calibrated probabilities per choice on a new proposal.
//!
//! Experts, each a distribution over the proposal's choices:
//! - the voter's recent base rate (exponential decay by position, `half_life` votes);
//! - the voter's long-run base rate;
//! - the voter's votes on similar past proposals (title embedding cosine when both proposals
//!   carry an embedding, else TF-IDF cosine of the titles);
//! - (live head only) the votes already cast on this proposal by the `top_peers` peers who agree
//!   most with the voter on the voter's own history (smoothed agreement rate);
//! - (live head only) what the visible peers' choices say about the voter's, learned from
//!   co-votes: `P(user = a | peer = b)` smoothed towards the voter's base rate, combined over the
//!   `top_peers` visible peers with the most co-votes (naive Bayes). Agreement rates alone cannot
//!   tell a peer whose rare Against means the voter's Against from one who always agrees on For.
//!
//! A conditional-logit combiner (one weight per expert's log-probability, one bias per choice
//! label) is fitted on the voter's history with leave-one-out expert features, so each training
//! row sees what a new proposal would see. Out-of-fold predictions (seeded k-fold) then pick and
//! fit a calibrator (identity, temperature, Platt or isotonic) by cross-validation. Two heads are
//! fitted: a blind one (no votes on the proposal visible) and, when peers voted on the history's
//! proposals, a live one used when votes on the proposal are visible.

mod calibration;
pub mod metrics;
mod text;

use std::collections::HashMap;

use serde::Serialize;

pub use calibration::Calibrator;
use calibration::{Sample, choose, fold_assignment, softmax, top};
use text::{Idf, dense_cosine, sparse_cosine};

/// What the model knows about a proposal. Outcome columns (winning choice, final scores) do not
/// belong here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProposalFeatures {
    /// A stable id (Snapshot proposal id, store key).
    pub id: String,
    /// The title (or any short text standing for the proposal).
    pub title: String,
    /// A time key: later proposals have larger values (timestamp, `order_rank`).
    pub order: f64,
    /// The choice labels, in the proposal's order.
    pub choices: Vec<String>,
    /// Optional text embedding (e.g. all-MiniLM-L6-v2, 384-d) of the title or body.
    pub embedding: Option<Vec<f32>>,
}

/// One of the user's past votes.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledVote {
    /// The proposal voted on.
    pub proposal: ProposalFeatures,
    /// The label chosen (matched to the proposal's choices case-insensitively).
    pub choice: String,
}

/// A vote by someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerVote<'a> {
    /// The peer (address or any id).
    pub voter: &'a str,
    /// The proposal's id, as in [`ProposalFeatures::id`].
    pub proposal_id: &'a str,
    /// The label chosen.
    pub choice: &'a str,
}

/// Knobs of the model; the defaults are the ones measured in docs/eval.md.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// Half-life, in votes, of the recent base rate.
    pub half_life: f64,
    /// How many of the most-agreeing peers' votes count in the live head.
    pub top_peers: usize,
    /// Folds for the out-of-fold predictions that fit the calibrator.
    pub folds: usize,
    /// Seed of the fold shuffles.
    pub seed: u64,
    /// Ridge strength pulling expert weights to 1 and biases to 0.
    pub l2: f64,
    /// Gradient steps of the combiner.
    pub iterations: usize,
    /// Whether the live head has the conditional-peer expert (`P(user | peer's choice)`).
    pub peer_conditionals: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            half_life: 10.0,
            top_peers: 10,
            folds: 5,
            seed: 0x5eed,
            l2: 1.0,
            iterations: 200,
            // Off: on the validation slices (docs/eval.md) it did not raise accuracy on the votes
            // cast nor catch more Against votes.
            peer_conditionals: false,
        }
    }
}

/// The model's answer for one proposal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The proposal's choices, in its order.
    pub choices: Vec<String>,
    /// Calibrated probability per choice (sums to 1).
    pub probabilities: Vec<f64>,
    /// Index of the most likely choice.
    pub choice: usize,
    /// Its probability.
    pub confidence: f64,
    /// Whether votes on this proposal were used (the live head).
    pub live: bool,
    /// How many of the user's past votes the model was fitted on.
    pub history: usize,
}

impl Prediction {
    /// The most likely choice's label.
    pub fn label(&self) -> &str {
        self.choices.get(self.choice).map_or("", String::as_str)
    }

    /// Log-linear pooling with another opinion over the same choices (e.g. a stance stated by
    /// the user, mapped to probabilities): `p_i ∝ p_i · q_i^weight`. Ignored when the lengths
    /// differ.
    pub fn pooled_with(&self, other: &[f64], weight: f64) -> Self {
        if other.len() != self.probabilities.len() {
            return self.clone();
        }
        let logs: Vec<f64> = self
            .probabilities
            .iter()
            .zip(other)
            .map(|(p, q)| p.max(1e-12).ln() + weight * q.max(1e-12).ln())
            .collect();
        let probabilities = softmax(&logs);
        let (choice, confidence) = top(&probabilities);
        Self {
            probabilities,
            choice,
            confidence,
            ..self.clone()
        }
    }
}

/// Errors of the vote model.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModelError {
    /// A proposal came without choices.
    #[error("proposal {id} has no choices")]
    NoChoices {
        /// The proposal's id.
        id: String,
    },
}

/// How a head combines the experts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Head {
    /// One weight per expert.
    pub weights: Vec<f64>,
    /// One bias per known label (see [`VoterModel::labels`]).
    pub biases: Vec<f64>,
    /// The calibrator picked by cross-validation.
    pub calibrator: Calibrator,
}

#[derive(Debug, Clone)]
struct Past {
    id: String,
    choices: Vec<String>,
    truth: usize,
    label: usize,
    tfidf: Vec<(String, f64)>,
    embedding: Option<Vec<f32>>,
}

/// A fitted model of one voter.
#[derive(Debug, Clone)]
pub struct VoterModel {
    cfg: ModelConfig,
    labels: Vec<String>,
    past: Vec<Past>,
    recency: Vec<f64>,
    idf: Idf,
    /// Peer -> (agreements, co-votes) over the history.
    agreement: HashMap<String, (f64, f64)>,
    /// Peer -> the peer's choice -> how often the user chose each label (by label index) on
    /// the history's proposals where the peer chose it.
    cond: HashMap<String, HashMap<String, Vec<f64>>>,
    blind: Head,
    live: Option<Head>,
}

/// Share of probability spread evenly over the choices after calibration.
const FLOOR: f64 = 0.005;

const BLIND_EXPERTS: usize = 3;
const LIVE_EXPERTS: usize = 5;

/// Pseudo-votes pulling `P(user | peer choice)` towards the user's base rate.
const COND_PRIOR: f64 = 2.0;

/// A vote visible on the proposal: the peer's agreement score, the peer and its choice.
#[derive(Debug, Clone, Copy)]
struct Seen<'a> {
    score: f64,
    peer: &'a str,
    choice: &'a str,
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

/// A proposal prepared for expert features.
struct Query<'a> {
    choices: &'a [String],
    tfidf: Vec<(String, f64)>,
    embedding: Option<&'a [f32]>,
}

/// A training or prediction row: log expert probabilities per choice, label index per choice.
#[derive(Debug, Clone)]
struct Row {
    logs: Vec<Vec<f64>>,
    labels: Vec<Option<usize>>,
    truth: usize,
}

impl VoterModel {
    /// Fits the model on the user's history and the votes of others (any proposals; those on the
    /// history's proposals give agreement rates and train the live head). Deterministic.
    pub fn fit(history: &[LabeledVote], peers: &[PeerVote<'_>], cfg: &ModelConfig) -> Self {
        let mut votes: Vec<&LabeledVote> = history
            .iter()
            .filter(|v| !v.choice.trim().is_empty())
            .collect();
        votes.sort_by(|a, b| {
            a.proposal
                .order
                .total_cmp(&b.proposal.order)
                .then_with(|| a.proposal.id.cmp(&b.proposal.id))
        });
        // One vote per proposal: the last one given wins.
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut uniq: Vec<&LabeledVote> = Vec::new();
        for v in votes {
            if let Some(&i) = seen.get(v.proposal.id.as_str()) {
                uniq[i] = v;
            } else {
                seen.insert(&v.proposal.id, uniq.len());
                uniq.push(v);
            }
        }
        let idf = Idf::new(uniq.iter().map(|v| v.proposal.title.as_str()));
        let mut labels: Vec<String> = Vec::new();
        let mut past = Vec::with_capacity(uniq.len());
        for v in &uniq {
            let label = norm(&v.choice);
            let mut choices: Vec<String> = v.proposal.choices.iter().map(|c| norm(c)).collect();
            let truth = match choices.iter().position(|c| *c == label) {
                Some(i) => i,
                None => {
                    choices.push(label.clone());
                    choices.len() - 1
                }
            };
            let li = match labels.iter().position(|l| *l == label) {
                Some(i) => i,
                None => {
                    labels.push(label.clone());
                    labels.len() - 1
                }
            };
            past.push(Past {
                id: v.proposal.id.clone(),
                choices,
                truth,
                label: li,
                tfidf: idf.vector(&v.proposal.title),
                embedding: v.proposal.embedding.clone(),
            });
        }
        let n = past.len();
        let recency: Vec<f64> = (0..n)
            .map(|i| 0.5f64.powf((n - 1 - i) as f64 / cfg.half_life.max(1e-3)))
            .collect();
        // Peers' votes on the history's proposals, and agreement rates.
        let index: HashMap<&str, usize> = past
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.as_str(), i))
            .collect();
        let mut on_past: Vec<Vec<(String, String)>> = vec![Vec::new(); n];
        let mut agreement: HashMap<String, (f64, f64)> = HashMap::new();
        let mut cond: HashMap<String, HashMap<String, Vec<f64>>> = HashMap::new();
        for pv in peers {
            if let Some(&i) = index.get(pv.proposal_id) {
                let c = norm(pv.choice);
                let e = agreement.entry(pv.voter.to_owned()).or_default();
                e.1 += 1.0;
                if c == labels[past[i].label] {
                    e.0 += 1.0;
                }
                let counts = cond
                    .entry(pv.voter.to_owned())
                    .or_default()
                    .entry(c.clone())
                    .or_insert_with(|| vec![0.0; labels.len()]);
                counts[past[i].label] += 1.0;
                on_past[i].push((pv.voter.to_owned(), c));
            }
        }
        let mut model = Self {
            cfg: cfg.clone(),
            labels,
            past,
            recency,
            idf,
            agreement,
            cond,
            blind: Head {
                weights: vec![1.0; BLIND_EXPERTS],
                biases: Vec::new(),
                calibrator: Calibrator::Identity,
            },
            live: None,
        };
        model.blind.biases = vec![0.0; model.labels.len()];
        // Leave-one-out rows.
        let mut blind_rows = Vec::with_capacity(n);
        let mut live_rows = Vec::new();
        for (i, seen) in on_past.iter().enumerate() {
            let p = &model.past[i];
            let q = Query {
                choices: &p.choices,
                tfidf: p.tfidf.clone(),
                embedding: p.embedding.as_deref(),
            };
            blind_rows.push(model.row(&q, Some(i), None, p.truth));
            if !seen.is_empty() {
                let own = &model.labels[p.label];
                let visible: Vec<Seen<'_>> = seen
                    .iter()
                    .map(|(peer, c)| {
                        let (a, m) = model.agreement.get(peer).copied().unwrap_or((0.0, 0.0));
                        // Leave this proposal out of the peer's agreement rate.
                        let a = a - if c == own { 1.0 } else { 0.0 };
                        Seen {
                            score: (a + 1.0) / (m - 1.0 + 3.0),
                            peer,
                            choice: c,
                        }
                    })
                    .collect();
                live_rows.push(model.row(&q, Some(i), Some(&visible), p.truth));
            }
        }
        model.blind = fit_head(&blind_rows, BLIND_EXPERTS, model.labels.len(), cfg);
        if live_rows.len() >= 2 * cfg.folds.max(2) {
            let experts = LIVE_EXPERTS - usize::from(!cfg.peer_conditionals);
            model.live = Some(fit_head(&live_rows, experts, model.labels.len(), cfg));
        }
        model
    }

    /// Predicts the user's vote on `proposal`. `visible` are votes already cast by others (only
    /// those on this proposal count; pass none in blind use).
    pub fn predict(
        &self,
        proposal: &ProposalFeatures,
        visible: &[PeerVote<'_>],
    ) -> Result<Prediction, ModelError> {
        if proposal.choices.is_empty() {
            return Err(ModelError::NoChoices {
                id: proposal.id.clone(),
            });
        }
        let choices: Vec<String> = proposal.choices.iter().map(|c| norm(c)).collect();
        let q = Query {
            choices: &choices,
            tfidf: self.idf.vector(&proposal.title),
            embedding: proposal.embedding.as_deref(),
        };
        let seen: Vec<(f64, &str, String)> = visible
            .iter()
            .filter(|v| v.proposal_id == proposal.id)
            .map(|v| (self.peer_score(v.voter), v.voter, norm(v.choice)))
            .collect();
        let (head, live) = match (&self.live, seen.is_empty()) {
            (Some(h), false) => (h, true),
            _ => (&self.blind, false),
        };
        let probabilities = if self.past.is_empty() {
            vec![1.0 / choices.len() as f64; choices.len()]
        } else {
            let visible: Vec<Seen<'_>> = seen
                .iter()
                .map(|(s, p, c)| Seen {
                    score: *s,
                    peer: p,
                    choice: c,
                })
                .collect();
            let row = self.row(&q, None, live.then_some(&visible[..]), 0);
            let k = choices.len() as f64;
            // A voter model is never certain: a floor of FLOOR/k under every choice.
            head.calibrator
                .apply(&head.probabilities(&row))
                .into_iter()
                .map(|x| (1.0 - FLOOR) * x + FLOOR / k)
                .collect()
        };
        let (choice, confidence) = top(&probabilities);
        Ok(Prediction {
            choices: proposal.choices.clone(),
            probabilities,
            choice,
            confidence,
            live,
            history: self.past.len(),
        })
    }

    /// The labels the user has used, in first-use order (the order of [`Head::biases`]).
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The blind head (no votes on the proposal visible).
    pub fn blind_head(&self) -> &Head {
        &self.blind
    }

    /// The live head, when peers' votes on the history allowed fitting one.
    pub fn live_head(&self) -> Option<&Head> {
        self.live.as_ref()
    }

    /// Peers by smoothed agreement rate with the user, highest first: (peer, rate, co-votes).
    pub fn peers_by_agreement(&self) -> Vec<(&str, f64, usize)> {
        let mut v: Vec<(&str, f64, usize)> = self
            .agreement
            .iter()
            .map(|(p, (a, m))| (p.as_str(), (a + 1.0) / (m + 3.0), *m as usize))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v
    }

    fn peer_score(&self, peer: &str) -> f64 {
        let (a, m) = self.agreement.get(peer).copied().unwrap_or((0.0, 0.0));
        (a + 1.0) / (m + 3.0)
    }

    /// How much a past vote counts for a query: `3·cos²` of the TF-IDF vectors, or `3·cos⁴` of
    /// the embeddings (sentence embeddings of titles sit closer together, so a sharper kernel).
    fn kernel(&self, q: &Query<'_>, p: &Past) -> f64 {
        match (q.embedding, p.embedding.as_deref()) {
            (Some(a), Some(b)) => 3.0 * dense_cosine(a, b).max(0.0).powi(4),
            _ => 3.0 * sparse_cosine(&q.tfidf, &p.tfidf).max(0.0).powi(2),
        }
    }

    /// Expert log-probabilities over `q.choices`, leaving out history item `skip`.
    fn row(
        &self,
        q: &Query<'_>,
        skip: Option<usize>,
        visible: Option<&[Seen<'_>]>,
        truth: usize,
    ) -> Row {
        let k = q.choices.len();
        let slot = |label: &str| q.choices.iter().position(|c| c == label);
        let mut recent = vec![0.5; k];
        let mut long = vec![0.5; k];
        let mut similar = vec![0.3; k];
        for (i, p) in self.past.iter().enumerate() {
            if Some(i) == skip {
                continue;
            }
            if let Some(j) = slot(&self.labels[p.label]) {
                recent[j] += self.recency[i];
                long[j] += 1.0;
                similar[j] += self.kernel(q, p);
            }
        }
        let mut experts = vec![recent, long, similar];
        if let Some(visible) = visible {
            let mut sorted: Vec<Seen<'_>> = visible.to_vec();
            sorted.sort_by(|a, b| {
                b.score
                    .total_cmp(&a.score)
                    .then_with(|| a.choice.cmp(b.choice))
            });
            let mut peers = vec![0.5; k];
            for v in sorted.iter().take(self.cfg.top_peers) {
                if let Some(j) = slot(v.choice) {
                    peers[j] += v.score;
                }
            }
            experts.push(peers);
            if self.cfg.peer_conditionals {
                experts.push(self.conditional(q, skip, visible));
            }
        }
        let logs = experts
            .into_iter()
            .map(|e| {
                let s: f64 = e.iter().sum();
                e.iter().map(|x| (x / s).ln()).collect()
            })
            .collect();
        let labels = q
            .choices
            .iter()
            .map(|c| self.labels.iter().position(|l| l == c))
            .collect();
        Row {
            logs,
            labels,
            truth,
        }
    }
}

impl VoterModel {
    /// The conditional-peer expert: the user's base rate times, for each of the `top_peers`
    /// visible peers with the most co-votes, `P(user | peer's choice) / P(user)`, each smoothed
    /// with [`COND_PRIOR`] pseudo-votes at the base rate. `skip` leaves a history row out.
    fn conditional(&self, q: &Query<'_>, skip: Option<usize>, visible: &[Seen<'_>]) -> Vec<f64> {
        let nl = self.labels.len();
        let own = skip.map(|i| self.past[i].label);
        let mut base = vec![1.0; nl];
        for (i, p) in self.past.iter().enumerate() {
            if Some(i) != skip {
                base[p.label] += 1.0;
            }
        }
        let total: f64 = base.iter().sum();
        let prior: Vec<f64> = base.iter().map(|b| b / total).collect();
        let mut peers: Vec<(f64, &str, &Vec<f64>)> = visible
            .iter()
            .filter_map(|v| {
                let counts = self.cond.get(v.peer)?.get(v.choice)?;
                let m = self.agreement.get(v.peer).map_or(0.0, |a| a.1);
                Some((m, v.peer, counts))
            })
            .collect();
        peers.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let mut lr = vec![0.0; nl];
        let used = peers.len().min(self.cfg.top_peers);
        for (_, _, counts) in peers.into_iter().take(self.cfg.top_peers) {
            let mut c = counts.clone();
            if let Some(l) = own {
                // The row's own vote is in the counts of every peer visible on it.
                c[l] = (c[l] - 1.0).max(0.0);
            }
            let n: f64 = c.iter().sum();
            for l in 0..nl {
                let p = (c[l] + COND_PRIOR * prior[l]) / (n + COND_PRIOR);
                lr[l] += p.ln() - prior[l].ln();
            }
        }
        // The peers' votes are far from independent (they follow each other): their mean
        // log-likelihood ratio, not the sum; the combiner's weight scales it.
        let logs: Vec<f64> = prior
            .iter()
            .zip(&lr)
            .map(|(p, r)| p.ln() + r / used.max(1) as f64)
            .collect();
        // Over the proposal's choices; a label the user never used gets a pseudo-vote's share.
        let floor = (0.5 / total).ln();
        let slots: Vec<f64> = q
            .choices
            .iter()
            .map(|c| {
                self.labels
                    .iter()
                    .position(|l| l == c)
                    .map_or(floor, |l| logs[l])
            })
            .collect();
        let max = slots.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        slots.iter().map(|x| (x - max).exp()).collect()
    }
}

impl Head {
    fn probabilities(&self, row: &Row) -> Vec<f64> {
        let k = row.labels.len();
        let z: Vec<f64> = (0..k)
            .map(|j| {
                let mut s: f64 = self
                    .weights
                    .iter()
                    .zip(&row.logs)
                    .map(|(w, e)| w * e[j])
                    .sum();
                if let Some(l) = row.labels[j] {
                    s += self.biases.get(l).copied().unwrap_or(0.0);
                }
                s
            })
            .collect();
        softmax(&z)
    }
}

/// Fits a head: the combiner on all rows, the calibrator on out-of-fold predictions.
fn fit_head(rows: &[Row], experts: usize, labels: usize, cfg: &ModelConfig) -> Head {
    let mut head = fit_combiner(rows, experts, labels, cfg);
    let folds = cfg.folds.max(2);
    if rows.len() >= 2 * folds {
        let assignment = fold_assignment(rows.len(), folds, cfg.seed);
        let mut samples: Vec<Sample> = Vec::with_capacity(rows.len());
        for f in 0..folds {
            let train: Vec<Row> = rows
                .iter()
                .zip(&assignment)
                .filter(|(_, a)| **a != f)
                .map(|(r, _)| r.clone())
                .collect();
            let h = fit_combiner(&train, experts, labels, cfg);
            for (r, a) in rows.iter().zip(&assignment) {
                if *a == f {
                    samples.push((h.probabilities(r), r.truth));
                }
            }
        }
        head.calibrator = choose(&samples, folds, cfg.seed ^ 0x9e37_79b9);
    }
    head
}

/// Conditional logit by full-batch gradient descent, ridge towards weights 1 and biases 0.
fn fit_combiner(rows: &[Row], experts: usize, labels: usize, cfg: &ModelConfig) -> Head {
    let mut head = Head {
        weights: vec![1.0; experts],
        biases: vec![0.0; labels],
        calibrator: Calibrator::Identity,
    };
    if rows.is_empty() {
        return head;
    }
    let n = rows.len() as f64;
    let lr = 0.5;
    for _ in 0..cfg.iterations {
        let mut gw = vec![0.0; experts];
        let mut gb = vec![0.0; labels];
        for r in rows {
            let p = head.probabilities(r);
            for (j, pj) in p.iter().enumerate() {
                let g = pj - if j == r.truth { 1.0 } else { 0.0 };
                for (e, gwe) in gw.iter_mut().enumerate() {
                    *gwe += g * r.logs[e][j];
                }
                if let Some(l) = r.labels[j] {
                    gb[l] += g;
                }
            }
        }
        for (w, g) in head.weights.iter_mut().zip(&gw) {
            *w -= lr * (g / n + cfg.l2 * (*w - 1.0) / n);
        }
        for (b, g) in head.biases.iter_mut().zip(&gb) {
            *b -= lr * (g / n + cfg.l2 * *b / n);
        }
    }
    head
}

/// SplitMix64: a small seeded generator for fold shuffles.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests;
