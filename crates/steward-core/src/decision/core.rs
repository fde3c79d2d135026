//! The pure decision: (proposal, flags, profile snapshot with its vectors, visible votes, model
//! outputs, policy, seed) -> [`Decision`].
//!
//! No store and no engines: the agent embeds the texts and asks the local model, then calls
//! [`gather`] (the evidence, which is also what the model is shown) and [`conclude`] (pooling,
//! flags, policy); `steward eval votes` calls the same two functions on its test rows, so what is
//! measured is what decides (docs/decide.md, docs/eval.md).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{
    Decision, DecisionAction, Evidence, EvidenceKind, ImportanceInputs, ModelUse, Policy,
    importance,
};
use crate::model::{LabeledVote, ModelConfig, PeerVote, Prediction, ProposalFeatures, VoterModel};
use crate::{Flag, Proposal, Severity, Stance, Vote, kinds, stance_of_choice};

/// Similarity from which a statement applies to a proposal (all-MiniLM-L6-v2 cosine).
pub const STATEMENT_MATCH: f64 = 0.42;
/// Similarity from which a piece of writing bears on a proposal.
pub const WRITING_MATCH: f64 = 0.30;
/// From this many votes of their own, the user's history goes through the fitted voter model.
pub const MODEL_MIN_VOTES: usize = 10;
const HISTORY_K: usize = 8;
/// A side with at least this share of the strongest side's weight makes a contradiction.
const CONTRADICTION_SHARE: f64 = 0.2;
/// The local model is asked only about proposals with this many choices.
const JUDGED_CHOICES: std::ops::RangeInclusive<usize> = 2..=32;

/// How much each kind of evidence weighs, in votes' worth of pseudo-counts over a uniform prior.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PoolWeights {
    /// A fully matching statement.
    pub statement: f64,
    /// A fully matching piece of writing.
    pub writing: f64,
    /// The user's own answer or override on this very proposal.
    pub answer: f64,
    /// The local model's judgement at `high` confidence (`medium` 0.6 of it, `low` 0.3). Zero
    /// by default: the judgement is shown as evidence but not pooled (docs/eval.md).
    pub llm: f64,
    /// How strongly statements, writing, answers and the model pool onto the voter model's
    /// prediction (the exponent of log-linear pooling).
    pub text_pool: f64,
}

impl Default for PoolWeights {
    fn default() -> Self {
        PoolWeights {
            statement: 24.0,
            writing: 6.0,
            answer: 30.0,
            // Zero until a measurement shows the local model helps: on 260 sampled eval rows it
            // moved forced accuracy by one row either way (docs/eval.md).
            llm: 0.0,
            text_pool: 1.5,
        }
    }
}

/// What a profile item is, as far as the decision cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileKind {
    Statement,
    Writing,
    Answer,
    Override,
}

/// One profile item with its embedding.
#[derive(Debug, Clone, Copy)]
pub struct ProfileEntry<'a> {
    pub id: i64,
    pub kind: ProfileKind,
    pub text: &'a str,
    pub stance: Stance,
    pub vector: &'a [f32],
}

/// One past vote (the user's, with the embedding of its title, or a peer's, without).
#[derive(Debug, Clone, Copy)]
pub struct PastVote<'a> {
    pub voter: &'a str,
    pub proposal_ref: &'a str,
    pub title: &'a str,
    pub choice: &'a str,
    pub reason: Option<&'a str>,
    /// Time order (rank or unix time).
    pub ord: Option<i64>,
    pub vector: &'a [f32],
}

/// The profile a decision reads: borrowed, so one snapshot serves a whole round.
#[derive(Debug, Clone, Default)]
pub struct DecisionProfile<'a> {
    pub items: Vec<ProfileEntry<'a>>,
    pub user_votes: Vec<PastVote<'a>>,
    pub peer_votes: Vec<PastVote<'a>>,
    /// Peer addresses (lower-case) the user trusts.
    pub trusted: &'a [String],
    /// Peer addresses (lower-case) the user ignores.
    pub ignored: &'a [String],
    /// The share of rejecting votes (Against, No ...) others usually cast on the proposals the
    /// user voted on ([`usual_dissent`]); dissent so far must be well above it to ask.
    pub usual_dissent: Option<f64>,
}

/// Dissent so far must reach this multiple of the usual share of rejecting votes: where a
/// quarter of the votes reject most proposals (contested grant rounds), 20 % says nothing.
pub const DISSENT_OVER_USUAL: f64 = 3.0;

/// The share of others' votes that reject, on the proposals the user voted on (None without
/// any such vote).
pub fn usual_dissent(user_votes: &[PastVote<'_>], peer_votes: &[PastVote<'_>]) -> Option<f64> {
    let mine: std::collections::HashSet<&str> = user_votes.iter().map(|v| v.proposal_ref).collect();
    let (mut reject, mut seen) = (0usize, 0usize);
    for v in peer_votes.iter().filter(|v| mine.contains(v.proposal_ref)) {
        seen += 1;
        reject += usize::from(stance_of_choice(v.choice) == Stance::Against);
    }
    (seen > 0).then(|| reject as f64 / seen as f64)
}

impl DecisionProfile<'_> {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.user_votes.is_empty()
    }
}

/// Where the per-voter vote model's prediction comes from.
#[derive(Debug, Clone, Default)]
pub enum HistoryModel {
    /// Fitted here on the profile's votes when there are [`MODEL_MIN_VOTES`] of them.
    #[default]
    Fit,
    /// Already made by the caller (the eval fits one model per voter, not one per row).
    Given(Prediction),
    /// Not used: history and peers pool as pseudo-counts.
    Off,
}

/// An engine that failed while gathering a decision's inputs. Any of them means the decision
/// never votes on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum EngineFailure {
    /// The local model errored (crashed worker, timeout, refused request).
    #[error("the local model failed ({message}); deciding without it")]
    Generator { model: String, message: String },
    /// The local model answered, but not with one of the proposal's choices.
    #[error("the local model {model} answered in the wrong shape ({detail}); deciding without it")]
    WrongShape { model: String, detail: String },
    /// The payload could not be inspected (decoded, read on chain or simulated).
    #[error("the payload could not be inspected ({detail})")]
    Inspection { detail: String },
}

/// How sure the local model said it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JudgementConfidence {
    Low,
    Medium,
    High,
}

impl JudgementConfidence {
    /// `high` and `medium` as said; anything else (missing included) is `low`.
    pub fn parse(s: &str) -> Self {
        match s {
            "high" => JudgementConfidence::High,
            "medium" => JudgementConfidence::Medium,
            _ => JudgementConfidence::Low,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JudgementConfidence::Low => "low",
            JudgementConfidence::Medium => "medium",
            JudgementConfidence::High => "high",
        }
    }

    /// The share of [`PoolWeights::llm`] a judgement at this confidence carries.
    pub fn weight(self) -> f64 {
        match self {
            JudgementConfidence::Low => 0.3,
            JudgementConfidence::Medium => 0.6,
            JudgementConfidence::High => 1.0,
        }
    }
}

/// The local model's judgement on a proposal, as the decision receives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// No model, or it was not asked (nothing to judge from, or too many choices).
    NotRun,
    /// The model's answer: an index into the proposal's choices.
    Given {
        model: String,
        choice: usize,
        confidence: JudgementConfidence,
    },
    /// The model failed or answered in the wrong shape.
    Failed(EngineFailure),
}

impl Judgement {
    /// Reads the model's JSON answer (`{"choice": <label>, "confidence": "low|medium|high"}`);
    /// anything else is a [`EngineFailure::WrongShape`].
    pub fn read(json: Option<&serde_json::Value>, choices: &[String], model: &str) -> Judgement {
        let wrong = |detail: String| {
            Judgement::Failed(EngineFailure::WrongShape {
                model: model.to_owned(),
                detail,
            })
        };
        let Some(json) = json else {
            return wrong("the model returned no JSON".into());
        };
        let Some(c) = json.get("choice").and_then(|c| c.as_str()) else {
            return wrong("no choice in the model's answer".into());
        };
        let Some(choice) = choices.iter().position(|x| x == c) else {
            return wrong(format!("the model chose {c:?}, not a choice"));
        };
        let confidence = JudgementConfidence::parse(
            json.get("confidence")
                .and_then(|c| c.as_str())
                .unwrap_or("low"),
        );
        Judgement::Given {
            model: model.to_owned(),
            choice,
            confidence,
        }
    }
}

/// Everything one decision is made from.
#[derive(Debug, Clone)]
pub struct DecisionInput<'a> {
    /// The proposal's key (`Proposal::key`).
    pub key: &'a str,
    /// The proposal: choices, actions and its own flags are read from it; its raw title and
    /// body are not (see `title`, `body`).
    pub proposal: &'a Proposal,
    /// The sanitized title and body (`injection::sanitize`).
    pub title: &'a str,
    pub body: &'a str,
    /// Flags beyond the proposal's own: the sanitizer's and the payload verification's.
    pub flags: Vec<Flag>,
    pub profile: &'a DecisionProfile<'a>,
    /// The embedding of the title with the body's opening, and of the title alone.
    pub proposal_vector: &'a [f32],
    pub title_vector: &'a [f32],
    /// Votes visible on this proposal.
    pub visible: &'a [Vote],
    pub history_model: HistoryModel,
    /// Engines that failed before the decision (an inspection that could not run).
    pub failures: Vec<EngineFailure>,
    /// The models that took part, for reproduction.
    pub models: Vec<ModelUse>,
    pub policy: Policy,
    pub weights: PoolWeights,
    pub seed: u64,
}

/// The evidence gathered for a decision, before the local model's judgement is pooled in.
#[derive(Debug, Clone)]
pub struct Gathered {
    evidence: Vec<Evidence>,
    /// What the user said, wrote and answered (and the model), as pseudo-counts over 1.
    counts: Vec<f64>,
    /// History and peers, as pseudo-counts (used when the voter model is not).
    hist_counts: Vec<f64>,
    flags: Vec<Flag>,
    can_judge: bool,
    /// The voter model will carry history (given, or enough votes to fit one).
    model_backed: bool,
    contradiction: bool,
    topic_similarity: f64,
    vote_margin: Option<f64>,
    /// Visible votes per choice (head count).
    tallies: Vec<f64>,
}

impl Gathered {
    /// The evidence so far, in the order found (statements and writing first).
    pub fn evidence(&self) -> &[Evidence] {
        &self.evidence
    }

    /// Whether the local model should be asked: something bears on the proposal (evidence, or
    /// the voter model's history), and it has a judgeable number of choices.
    pub fn wants_judgement(&self) -> bool {
        (self.can_judge || self.model_backed) && JUDGED_CHOICES.contains(&self.counts.len())
    }

    /// Whether the profile has anything that bears on the proposal.
    pub fn can_judge(&self) -> bool {
        self.can_judge
    }
}

/// The first critical flag about what the proposal would execute: every critical flag except a
/// prompt injection, which is about the text, not the payload.
pub fn steering_flag(flags: &[Flag]) -> Option<&Flag> {
    flags
        .iter()
        .find(|f| f.severity == Severity::Critical && f.kind != kinds::PROMPT_INJECTION)
}

/// The index of the choice that does not execute the proposal (Against, No, Reject ...).
fn reject_choice(choices: &[String]) -> Option<usize> {
    choices
        .iter()
        .position(|c| stance_of_choice(c) == Stance::Against)
}

/// [`gather`] then [`conclude`].
pub fn decide(input: &DecisionInput<'_>, judgement: Judgement) -> Decision {
    conclude(input, gather(input), judgement)
}

/// Gathers the evidence: statements and writing that bear on the proposal (and whether they
/// contradict), the user's answer on it, their nearest past votes and base rate, and the visible
/// votes of peers they trust or agree with.
pub fn gather(input: &DecisionInput<'_>) -> Gathered {
    let p = input.proposal;
    let key = input.key;
    let w = &input.weights;
    // The proposal as a whole, and its title alone: a short statement or a past vote's title
    // often matches the title better than the title and body together.
    let sim_to = |v: &[f32]| {
        cosine(input.proposal_vector, v).max(if input.title.is_empty() {
            0.0
        } else {
            cosine(input.title_vector, v)
        })
    };
    let n = p.choices.len();
    let by_stance = choice_index(&p.choices);
    let mut counts = vec![1.0f64; n];
    let mut evidence: Vec<Evidence> = Vec::new();
    let mut flags: Vec<Flag> = p.flags.clone();
    flags.extend(input.flags.iter().cloned());
    let mut can_judge = false;
    let mut topic_similarity = 0.0f64;

    // Statements and writing that bear on the proposal, with the choice each points to.
    let mut matched_statements: Vec<(&ProfileEntry<'_>, f64, Option<usize>)> = Vec::new();
    let mut matched_writing: Vec<(&ProfileEntry<'_>, f64, usize)> = Vec::new();
    for item in &input.profile.items {
        let sim = sim_to(item.vector);
        if matches!(item.kind, ProfileKind::Statement | ProfileKind::Writing) {
            topic_similarity = topic_similarity.max(sim);
        }
        let target = by_stance.get(&item.stance).copied();
        match item.kind {
            ProfileKind::Statement if sim >= STATEMENT_MATCH && item.stance != Stance::Unknown => {
                matched_statements.push((item, sim, target));
            }
            ProfileKind::Writing if sim >= WRITING_MATCH && item.stance != Stance::Unknown => {
                if let Some(i) = target {
                    matched_writing.push((item, sim, i));
                }
            }
            _ => {}
        }
    }
    // What the user said and wrote, by the choice it points to. When it points two ways with
    // real weight on both, that is surfaced and asked, not averaged away. The fixed default
    // weights decide contradictions even when pooling weights are zeroed (the eval), so a
    // contradiction is the same fact either way.
    let d = PoolWeights::default();
    let mut weight_by_choice: HashMap<usize, f64> = HashMap::new();
    for (_, sim, t) in &matched_statements {
        if let Some(i) = t {
            *weight_by_choice.entry(*i).or_default() +=
                d.statement * strength(*sim, STATEMENT_MATCH);
        }
    }
    // Writing is looser than a statement: only a close match can contradict.
    for (_, sim, i) in matched_writing
        .iter()
        .filter(|(_, s, _)| *s >= STATEMENT_MATCH)
    {
        *weight_by_choice.entry(*i).or_default() += d.writing * strength(*sim, WRITING_MATCH);
    }
    let strongest = weight_by_choice.values().copied().fold(0.0, f64::max);
    // Two or more choices with real weight (equal weights included) contradict.
    let contradiction = weight_by_choice
        .values()
        .filter(|w| **w > 0.0 && **w >= CONTRADICTION_SHARE * strongest)
        .count()
        > 1;
    if contradiction {
        let ids: Vec<String> = matched_statements
            .iter()
            .filter(|(_, _, t)| t.is_some())
            .map(|(i, _, _)| format!("statement #{} ({})", i.id, i.stance.as_str()))
            .chain(
                matched_writing
                    .iter()
                    .map(|(i, _, _)| format!("writing #{} ({})", i.id, i.stance.as_str())),
            )
            .collect();
        flags.push(Flag::new(
            kinds::CONTRADICTION,
            Severity::Warn,
            format!(
                "what you said and wrote points both ways here ({}); tell me which holds",
                ids.join(", ")
            ),
        ));
    }
    for (item, sim, i) in &matched_writing {
        if !contradiction {
            counts[*i] += w.writing * strength(*sim, WRITING_MATCH);
            can_judge = true;
        }
        evidence.push(item_evidence(
            EvidenceKind::Writing,
            item,
            *sim,
            p,
            Some(*i),
        ));
    }
    for (item, sim, target) in &matched_statements {
        match target {
            Some(i) if !contradiction => {
                counts[*i] += w.statement * strength(*sim, STATEMENT_MATCH);
                can_judge = true;
                evidence.push(item_evidence(
                    EvidenceKind::Statement,
                    item,
                    *sim,
                    p,
                    Some(*i),
                ));
            }
            _ => evidence.push(item_evidence(EvidenceKind::Statement, item, *sim, p, None)),
        }
    }

    // The user's own answer or override on this very proposal settles it.
    for v in &input.profile.user_votes {
        if (v.proposal_ref == key || v.proposal_ref == p.id)
            && let Some(i) = label_index(&p.choices, &by_stance, v.choice)
        {
            counts[i] += w.answer;
            can_judge = true;
            evidence.push(Evidence {
                kind: EvidenceKind::Answer,
                id: v.proposal_ref.to_owned(),
                excerpt: format!(
                    "you chose {}{}",
                    v.choice,
                    v.reason
                        .map(|r| format!(": {}", short(r, 160)))
                        .unwrap_or_default()
                ),
                weight: 1.0,
                leans: Some(p.choices[i].clone()),
            });
        }
    }

    // The user's nearest past votes.
    let mut near: Vec<(&PastVote<'_>, f64)> = input
        .profile
        .user_votes
        .iter()
        .filter(|v| v.proposal_ref != key && v.proposal_ref != p.id)
        .map(|v| (v, sim_to(v.vector)))
        .filter(|(_, s)| *s > 0.25)
        .collect();
    near.sort_by(|a, b| b.1.total_cmp(&a.1));
    near.truncate(HISTORY_K);
    // History and peers: pseudo-counts here; replaced by the fitted voter model when the user
    // has enough votes of their own (in `conclude`).
    let mut hist_counts = vec![0.0f64; n];
    let mut history_weight = 0.0;
    for (v, sim) in &near {
        if let Some(i) = label_index(&p.choices, &by_stance, v.choice) {
            let s = strength(*sim, 0.25);
            hist_counts[i] += s;
            history_weight += s;
            evidence.push(Evidence {
                kind: EvidenceKind::Vote,
                id: v.proposal_ref.to_owned(),
                excerpt: format!("you voted {} on \"{}\"", v.choice, short(v.title, 120)),
                weight: round3(*sim),
                leans: Some(p.choices[i].clone()),
            });
        }
    }
    if history_weight > 0.5 {
        can_judge = true;
    }
    // The user's own base rate, lightly: a voter who votes For 80% of the time.
    let user_total = input.profile.user_votes.len();
    if user_total >= 5 {
        let mut base = vec![0.0f64; n];
        for v in &input.profile.user_votes {
            if let Some(i) = label_index(&p.choices, &by_stance, v.choice) {
                base[i] += 1.0;
            }
        }
        for (c, b) in hist_counts.iter_mut().zip(&base) {
            *c += 2.0 * b / user_total as f64;
        }
    }

    // Peers: trusted ones, and those who agree with the user most, when their votes are visible.
    let agreeing: HashMap<String, f64> =
        peer_agreement(&input.profile.user_votes, &input.profile.peer_votes, 5)
            .into_iter()
            .map(|(a, k, m)| (a, (k as f64 + 1.0) / (m as f64 + 2.0)))
            .filter(|(_, r)| *r >= 0.7)
            .take(20)
            .collect();
    let mut peer_weight = 0.0;
    let mut tallies = vec![0.0f64; n];
    for vote in input.visible {
        let who = vote.voter.to_ascii_lowercase();
        if let Some(i) = vote_choice_index(&vote.choice, p) {
            tallies[i] += 1.0;
            if input.profile.ignored.contains(&who) {
                continue;
            }
            let trust = if input.profile.trusted.contains(&who) {
                Some(0.85)
            } else {
                agreeing.get(&who).copied()
            };
            if let Some(r) = trust {
                let pw = (r - 0.5) * 2.0;
                hist_counts[i] += pw;
                peer_weight += pw;
                evidence.push(Evidence {
                    kind: EvidenceKind::PeerVote,
                    id: who.clone(),
                    excerpt: format!(
                        "{} voted {} (agrees with you {:.0}% of the time)",
                        short_addr(&who),
                        p.choices[i],
                        r * 100.0
                    ),
                    weight: round3(r),
                    leans: Some(p.choices[i].clone()),
                });
            }
        }
    }
    if peer_weight >= 1.0 {
        can_judge = true;
    }
    let model_backed = n >= 2
        && match &input.history_model {
            HistoryModel::Given(pred) => pred.probabilities.len() == n,
            HistoryModel::Fit => input.profile.user_votes.len() >= MODEL_MIN_VOTES,
            HistoryModel::Off => false,
        };
    Gathered {
        evidence,
        counts,
        hist_counts,
        flags,
        can_judge,
        model_backed,
        contradiction,
        topic_similarity,
        vote_margin: margin(&tallies),
        tallies,
    }
}

/// Pools the gathered evidence and the local model's judgement into probabilities, weighs
/// importance, applies the policy, lets critical flags steer the lean, and writes the rationale.
pub fn conclude(input: &DecisionInput<'_>, gathered: Gathered, judgement: Judgement) -> Decision {
    let p = input.proposal;
    let n = p.choices.len();
    let Gathered {
        mut evidence,
        mut counts,
        hist_counts,
        flags,
        mut can_judge,
        model_backed: _,
        contradiction,
        topic_similarity,
        vote_margin,
        tallies,
    } = gathered;
    let mut failures = input.failures.clone();
    // An inspection that could not run is an engine failure, whatever else the flags say.
    failures.extend(
        flags
            .iter()
            .filter(|f| f.kind == kinds::INSPECTION_FAILED)
            .map(|f| EngineFailure::Inspection {
                detail: f.detail.clone(),
            }),
    );

    match judgement {
        Judgement::NotRun => {}
        Judgement::Given {
            model,
            choice,
            confidence,
        } if choice < n => {
            let w = input.weights.llm * confidence.weight();
            counts[choice] += w;
            evidence.push(Evidence {
                kind: EvidenceKind::Model,
                id: model,
                excerpt: format!(
                    "the local model reads it as {} ({})",
                    p.choices[choice],
                    confidence.as_str()
                ),
                weight: w,
                leans: Some(p.choices[choice].clone()),
            });
        }
        Judgement::Given { model, choice, .. } => failures.push(EngineFailure::WrongShape {
            model,
            detail: format!("choice {choice} of {n}"),
        }),
        Judgement::Failed(f) => failures.push(f),
    }

    let prediction = match &input.history_model {
        HistoryModel::Fit => voter_model_prediction(input),
        HistoryModel::Given(pred) if pred.probabilities.len() == n => Some(pred.clone()),
        HistoryModel::Given(_) | HistoryModel::Off => None,
    };
    // The lean is read from the unrounded probabilities (rounding to three decimals can tie);
    // the decision shows them rounded.
    let raw: Vec<f64> = if n == 0 {
        Vec::new()
    } else if let Some(pred) = prediction {
        // The calibrated per-voter model (docs/eval.md) carries history and peers; what the user
        // said, wrote or answered is pooled on top, and outranks it.
        let text_total: f64 = counts.iter().sum();
        let q: Vec<f64> = counts.iter().map(|c| c / text_total).collect();
        let has_text = counts.iter().any(|c| *c > 1.0);
        evidence.push(Evidence {
            kind: EvidenceKind::Model,
            id: "voter-model".into(),
            excerpt: format!(
                "your vote model (history{}) says {} ({:.0}%)",
                if pred.live {
                    " and peers' votes on it"
                } else {
                    ""
                },
                p.choices[pred.choice],
                pred.confidence * 100.0
            ),
            weight: round3(pred.confidence),
            leans: Some(p.choices[pred.choice].clone()),
        });
        let pooled = if has_text {
            pred.pooled_with(&q, input.weights.text_pool)
        } else {
            pred
        };
        can_judge = true;
        pooled.probabilities
    } else {
        let both: Vec<f64> = counts
            .iter()
            .zip(&hist_counts)
            .map(|(a, b)| a + b)
            .collect();
        let total: f64 = both.iter().sum();
        both.iter().map(|c| c / total).collect()
    };
    let probabilities: Vec<f64> = raw.iter().map(|x| round3(*x)).collect();
    let (lean, lean_p) =
        raw.iter().enumerate().fold(
            (None, 0.0),
            |(bi, bp), (i, &q)| {
                if q > bp { (Some(i), q) } else { (bi, bp) }
            },
        );
    let dissent = dissent(
        &tallies,
        lean,
        &p.choices,
        input.policy.dissent_share,
        input.profile.usual_dissent,
    );
    let imp = importance(
        p,
        &format!("{}\n{}", input.title, input.body),
        &flags,
        ImportanceInputs {
            topic_similarity,
            vote_margin,
            dissent,
        },
    );
    let (mut action, mut why) = input
        .policy
        .act(lean_p, imp.score, &flags, can_judge && n > 0);
    if let Some((against, seen)) = dissent
        && action != DecisionAction::Ask
    {
        // Most of the user's Against votes come where others already voted Against; a vote For
        // there is the costliest mistake, so only the user can say (docs/eval.md).
        action = DecisionAction::Ask;
        why = format!(
            "{against} of the {seen} votes so far reject it, against my lean: only you can say whether you are one of them"
        );
    }
    if contradiction {
        action = DecisionAction::Ask;
        // The policy's reason would be "nothing bears on it" (contradicting views are not
        // counted), which is the opposite of what happened.
        if steering_flag(&flags).is_none() {
            why = "only you can say which of your views holds here".into();
        }
    }
    if action == DecisionAction::Vote && !failures.is_empty() {
        // A failing engine degrades to asking, never to a vote.
        action = DecisionAction::Ask;
        why = format!(
            "{why}, but an engine failed ({}), so a person must look",
            failures
                .iter()
                .map(failure_name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // A critical flag on the payload steers the lean to the choice that does not execute it,
    // and is never voted on (the policy already asks; this holds whatever the policy says).
    let steer = steering_flag(&flags);
    let mut rejects = false;
    let (choice_idx, confidence) = match steer {
        Some(_) => {
            if action == DecisionAction::Vote {
                action = DecisionAction::Ask;
            }
            match reject_choice(&p.choices) {
                Some(r) => {
                    rejects = true;
                    (Some(r), raw.get(r).copied().unwrap_or(0.0))
                }
                None => (lean, lean_p),
            }
        }
        None => (lean, lean_p),
    };
    let choice = choice_idx.map(|i| p.choices[i].clone());
    let lean_label = lean.map(|i| p.choices[i].as_str());
    let rationale = rationale(&Said {
        choice: choice.as_deref(),
        rejects,
        lean: lean_label.map(|l| (l, lean_p)),
        confidence,
        action,
        why: &why,
        evidence: &evidence,
        failures: &failures,
        contradiction,
        flags: &flags,
    });
    evidence.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    Decision {
        proposal: input.key.to_owned(),
        title: p.title.clone(),
        choice,
        choices: p.choices.clone(),
        probabilities,
        confidence: round3(confidence),
        importance: imp.score,
        action,
        rationale,
        evidence,
        flags,
        models: input.models.clone(),
        seed: input.seed,
        importance_reasons: imp.reasons,
        failures,
    }
}

fn failure_name(f: &EngineFailure) -> &'static str {
    match f {
        EngineFailure::Generator { .. } => "the local model",
        EngineFailure::WrongShape { .. } => "the local model's answer",
        EngineFailure::Inspection { .. } => "the payload inspection",
    }
}

/// The fitted per-voter model's prediction, when the user has enough votes.
fn voter_model_prediction(input: &DecisionInput<'_>) -> Option<Prediction> {
    let (profile, key, p) = (input.profile, input.key, input.proposal);
    if profile.user_votes.len() < MODEL_MIN_VOTES || p.choices.len() < 2 {
        return None;
    }
    let default_choices = || vec!["For".to_owned(), "Against".to_owned(), "Abstain".to_owned()];
    let history: Vec<LabeledVote> = profile
        .user_votes
        .iter()
        .filter(|v| v.proposal_ref != key && v.proposal_ref != p.id)
        .map(|v| {
            let mut choices = default_choices();
            if !choices.iter().any(|c| c.eq_ignore_ascii_case(v.choice)) {
                choices.push(v.choice.to_owned());
            }
            LabeledVote {
                proposal: ProposalFeatures {
                    id: v.proposal_ref.to_owned(),
                    title: v.title.to_owned(),
                    order: v.ord.unwrap_or(0) as f64,
                    choices,
                    embedding: None,
                },
                choice: v.choice.to_owned(),
            }
        })
        .collect();
    if history.len() < MODEL_MIN_VOTES {
        return None;
    }
    let peers: Vec<PeerVote<'_>> = profile
        .peer_votes
        .iter()
        .filter(|v| !profile.ignored.iter().any(|i| i == v.voter))
        .map(|v| PeerVote {
            voter: v.voter,
            proposal_id: v.proposal_ref,
            choice: v.choice,
        })
        .collect();
    let model = VoterModel::fit(&history, &peers, &ModelConfig::default());
    let last = history.iter().map(|h| h.proposal.order).fold(0.0, f64::max);
    let labels: Vec<(String, String)> = input
        .visible
        .iter()
        .filter_map(|v| {
            vote_choice_index(&v.choice, p)
                .map(|i| (v.voter.to_ascii_lowercase(), p.choices[i].clone()))
        })
        .collect();
    let seen: Vec<PeerVote<'_>> = labels
        .iter()
        .map(|(voter, choice)| PeerVote {
            voter,
            proposal_id: key,
            choice,
        })
        .collect();
    let features = ProposalFeatures {
        id: key.to_owned(),
        title: input.title.to_owned(),
        order: last + 1.0,
        choices: p.choices.clone(),
        embedding: None,
    };
    model.predict(&features, &seen).ok()
}

/// Peers by how often they voted like the user, on at least `min_common` shared proposals:
/// `(address, agreeing, shared)`, most agreeing first (Laplace-smoothed, so 3/3 does not outrank
/// 48/50).
pub fn peer_agreement(
    user: &[PastVote<'_>],
    peers: &[PastVote<'_>],
    min_common: usize,
) -> Vec<(String, usize, usize)> {
    let mine: HashMap<&str, &str> = user.iter().map(|v| (v.proposal_ref, v.choice)).collect();
    let mut tally: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for v in peers {
        if let Some(c) = mine.get(v.proposal_ref) {
            let e = tally.entry(v.voter).or_default();
            e.1 += 1;
            if c.eq_ignore_ascii_case(v.choice) {
                e.0 += 1;
            }
        }
    }
    let mut out: Vec<(String, usize, usize)> = tally
        .into_iter()
        .filter(|(_, (_, n))| *n >= min_common)
        .map(|(a, (k, n))| (a.to_owned(), k, n))
        .collect();
    out.sort_by(|a, b| {
        let ra = (a.1 as f64 + 1.0) / (a.2 as f64 + 2.0);
        let rb = (b.1 as f64 + 1.0) / (b.2 as f64 + 2.0);
        rb.total_cmp(&ra).then_with(|| a.0.cmp(&b.0))
    });
    out
}

/// Cosine similarity; 0 for vectors of different length or zero norm.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut d, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        d += f64::from(*x) * f64::from(*y);
        na += f64::from(*x) * f64::from(*x);
        nb += f64::from(*y) * f64::from(*y);
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        d / (na.sqrt() * nb.sqrt())
    }
}

/// Where each stance lands among the proposal's choices.
fn choice_index(choices: &[String]) -> HashMap<Stance, usize> {
    let mut m = HashMap::new();
    for (i, c) in choices.iter().enumerate() {
        let s = stance_of_choice(c);
        if s != Stance::Unknown {
            m.entry(s).or_insert(i);
        }
    }
    m
}

/// The index of `label` among `choices`: the same label (case-insensitive), else the same stance.
fn label_index(
    choices: &[String],
    by_stance: &HashMap<Stance, usize>,
    label: &str,
) -> Option<usize> {
    choices
        .iter()
        .position(|c| c.trim().eq_ignore_ascii_case(label.trim()))
        .or_else(|| by_stance.get(&stance_of_choice(label)).copied())
}

/// A visible vote's choice as an index: Snapshot's 1-based number, or a Governor's `support`
/// (1 For, 0 Against, 2 Abstain, for the choices `For, Against, Abstain` in that order:
/// [`crate::GOVERNOR_CHOICES`]). Read as Snapshot numbers, Against votes were dropped and
/// Abstain counted as Against.
fn vote_choice_index(choice: &serde_json::Value, p: &Proposal) -> Option<usize> {
    let n = p.choices.len();
    let k = match choice {
        serde_json::Value::Number(k) => k.as_u64().and_then(|k| usize::try_from(k).ok())?,
        _ => return None,
    };
    let i = match p.source {
        crate::Source::Governor { .. } => crate::choice_of_support(u8::try_from(k).ok()?)?,
        _ => k.checked_sub(1)?,
    };
    (i < n).then_some(i)
}

/// Dissent so far: `(rejecting, seen)` when at least `share` of 3 or more visible votes chose the
/// rejecting choice (Against, No ...), at least [`DISSENT_OVER_USUAL`] times the `usual` share
/// where known, and the lean is another choice. `share` 0 turns it off.
fn dissent(
    tallies: &[f64],
    lean: Option<usize>,
    choices: &[String],
    share: f64,
    usual: Option<f64>,
) -> Option<(usize, usize)> {
    let reject = reject_choice(choices)?;
    let seen: f64 = tallies.iter().sum();
    let against = tallies.get(reject).copied().unwrap_or(0.0);
    let over_usual = usual.is_none_or(|u| against >= DISSENT_OVER_USUAL * u * seen);
    (share > 0.0
        && seen >= 3.0
        && lean.is_some_and(|l| l != reject)
        && against >= share * seen
        && over_usual)
        .then_some((against as usize, seen as usize))
}

fn margin(tallies: &[f64]) -> Option<f64> {
    let total: f64 = tallies.iter().sum();
    if total < 3.0 {
        return None;
    }
    let mut t = tallies.to_vec();
    t.sort_by(|a, b| b.total_cmp(a));
    Some((t[0] - t.get(1).copied().unwrap_or(0.0)) / total)
}

fn strength(sim: f64, floor: f64) -> f64 {
    ((sim - floor) / (0.75 - floor) * 0.7 + 0.3).clamp(0.0, 1.0)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn item_evidence(
    kind: EvidenceKind,
    item: &ProfileEntry<'_>,
    sim: f64,
    p: &Proposal,
    i: Option<usize>,
) -> Evidence {
    Evidence {
        kind,
        id: format!("item {}", item.id),
        excerpt: short(item.text, 200),
        weight: round3(sim),
        leans: i.map(|i| p.choices[i].clone()),
    }
}

/// `s` cut to `max` characters, with `...` when cut.
fn short(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

fn short_addr(a: &str) -> String {
    if a.len() > 12 && a.starts_with("0x") && a.is_ascii() {
        format!("{}...{}", &a[..6], &a[a.len() - 4..])
    } else {
        a.to_owned()
    }
}

/// What the rationale is written from.
struct Said<'a> {
    /// The recommended choice (the non-executing one when a critical flag steers).
    choice: Option<&'a str>,
    /// Whether a critical flag steered `choice` to the option that rejects the proposal.
    rejects: bool,
    /// What the evidence alone leans to, and how strongly.
    lean: Option<(&'a str, f64)>,
    confidence: f64,
    action: DecisionAction,
    why: &'a str,
    evidence: &'a [Evidence],
    failures: &'a [EngineFailure],
    contradiction: bool,
    flags: &'a [Flag],
}

fn rationale(r: &Said<'_>) -> String {
    let mut s = String::new();
    // A critical flag opens the rationale, in plain words, before anything the profile says.
    if let Some(f) = steering_flag(r.flags) {
        let more = r
            .flags
            .iter()
            .filter(|g| g.is_critical() && g.kind != kinds::PROMPT_INJECTION)
            .count()
            - 1;
        let more = if more > 0 {
            format!(" ({more} more critical flag(s) below)")
        } else {
            String::new()
        };
        match (r.rejects, r.choice, r.lean) {
            (true, Some(c), Some((l, lp))) if c != l => {
                let _ = write!(
                    s,
                    "I recommend {c}: {}{more}. Your profile alone leans {l} ({:.0}%).",
                    f.detail,
                    lp * 100.0
                );
            }
            (true, Some(c), _) => {
                let _ = write!(
                    s,
                    "I recommend {c}: {}{more}. Your profile leans the same way ({:.0}%).",
                    f.detail,
                    r.confidence * 100.0
                );
            }
            (_, _, lean) => {
                let _ = write!(
                    s,
                    "Look before anything passes: {}{more}. No choice here rejects it",
                    f.detail
                );
                match lean {
                    Some((l, lp)) => {
                        let _ = write!(s, "; your profile leans {l} ({:.0}%).", lp * 100.0);
                    }
                    None => s.push('.'),
                }
            }
        }
    } else {
        match r.choice {
            Some(c) => {
                let _ = write!(s, "Leaning {c} ({:.0}%).", r.confidence * 100.0);
            }
            None => s.push_str("No choice to lean to."),
        }
    }
    if let Some(f) = r.flags.iter().find(|f| f.kind == kinds::PROMPT_INJECTION) {
        let _ = write!(
            s,
            " Someone tried to instruct voting agents in this text ({}); I ignored it, and it changes nothing below.",
            f.detail
        );
    }
    let evidence = r.evidence;
    if let Some(e) = evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Statement && e.leans.is_some())
    {
        let _ = write!(
            s,
            " You said: \"{}\" ({}, similarity {:.2}).",
            e.excerpt, e.id, e.weight
        );
    }
    if let Some(e) = evidence
        .iter()
        .find(|e| matches!(e.kind, EvidenceKind::Answer | EvidenceKind::Override))
    {
        let _ = write!(s, " You answered: \"{}\".", e.excerpt);
    }
    if let Some(e) = evidence.iter().find(|e| e.kind == EvidenceKind::Writing) {
        let _ = write!(s, " You wrote: \"{}\" ({}).", short(&e.excerpt, 140), e.id);
    }
    let votes: Vec<&Evidence> = evidence
        .iter()
        .filter(|e| e.kind == EvidenceKind::Vote)
        .collect();
    if !votes.is_empty() {
        let mut by: BTreeMap<&str, usize> = BTreeMap::new();
        for v in &votes {
            *by.entry(v.leans.as_deref().unwrap_or("?")).or_default() += 1;
        }
        let parts: Vec<String> = by.iter().map(|(c, k)| format!("{c} {k}")).collect();
        let _ = write!(
            s,
            " On the {} most similar proposals you voted: {} (nearest: {}).",
            votes.len(),
            parts.join(", "),
            votes[0].excerpt
        );
    }
    if let Some(e) = evidence.iter().find(|e| e.id == "voter-model") {
        let _ = write!(s, " Calibrated on your past votes, {}.", e.excerpt);
    }
    let peers: Vec<&Evidence> = evidence
        .iter()
        .filter(|e| e.kind == EvidenceKind::PeerVote)
        .collect();
    if let Some(e) = peers.first() {
        let _ = write!(
            s,
            " {} peer(s) you agree with have voted; e.g. {}.",
            peers.len(),
            e.excerpt
        );
    }
    if r.contradiction {
        s.push_str(" What you said and wrote points both ways here, so I am asking.");
    }
    for f in r.failures {
        let _ = write!(s, " Note: {f}.");
    }
    let _ = write!(
        s,
        " So I {}: {}.",
        match r.action {
            DecisionAction::Vote => "vote",
            DecisionAction::Ask => "ask you",
            DecisionAction::Skip => "skip it",
        },
        r.why
    );
    s
}
