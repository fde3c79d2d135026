//! A decision and the pure parts of making one: how important a proposal is, and the policy that
//! turns (confidence, importance, flags) into vote, ask or skip, and the pure decision core
//! ([`decide`]) that pools the evidence into a [`Decision`].

mod core;
#[cfg(test)]
mod core_tests;

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::{Flag, Proposal, Severity, U256};

/// What the agent does with a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionAction {
    /// Confident enough for the proposal's importance: cast the vote (if casting is on).
    Vote,
    /// Unsure and it matters, or a rule says a human must look: ask the user.
    Ask,
    /// Unsure and it does not matter much: leave it (or abstain, per config).
    Skip,
}

impl DecisionAction {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionAction::Vote => "vote",
            DecisionAction::Ask => "ask",
            DecisionAction::Skip => "skip",
        }
    }
}

pub use self::core::{
    DISSENT_OVER_USUAL, DecisionInput, DecisionProfile, EngineFailure, Gathered, HistoryModel,
    Judgement, JudgementConfidence, MODEL_MIN_VOTES, PastVote, PoolWeights, ProfileEntry,
    ProfileKind, STATEMENT_MATCH, WRITING_MATCH, conclude, cosine, decide, gather, peer_agreement,
    steering_flag, usual_dissent,
};

/// What a piece of evidence is; serialized as the kebab-case strings decisions always stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceKind {
    /// Something the user told Steward directly.
    Statement,
    /// A piece of the user's own writing.
    Writing,
    /// One of the user's past votes.
    Vote,
    /// The user's answer to a question on this proposal.
    Answer,
    /// The user's override of a decision on this proposal.
    Override,
    /// A visible vote of a peer the user trusts or agrees with.
    PeerVote,
    /// A model's reading: the per-voter vote model or the local language model.
    Model,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Statement => "statement",
            EvidenceKind::Writing => "writing",
            EvidenceKind::Vote => "vote",
            EvidenceKind::Answer => "answer",
            EvidenceKind::Override => "override",
            EvidenceKind::PeerVote => "peer-vote",
            EvidenceKind::Model => "model",
        }
    }
}

impl std::fmt::Display for EvidenceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// Comparisons with the stored strings, so readers of a decision's JSON and of the type agree.
impl PartialEq<str> for EvidenceKind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for EvidenceKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

// Readers that took the kind as text (`esc(&e.kind)`, `matches!(e.kind.as_str(), ..)`) keep
// working unchanged while the value itself is typed.
impl std::ops::Deref for EvidenceKind {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for EvidenceKind {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// One piece of evidence a decision rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// Where to find it: a profile item id, a proposal reference, a peer address.
    pub id: String,
    pub excerpt: String,
    /// How strongly it bears on this proposal (similarity or weight), 0..1.
    pub weight: f64,
    /// The choice it points to, when it points to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leans: Option<String>,
}

/// A model that took part in a decision, by file hash so the decision can be reproduced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelUse {
    pub id: String,
    pub file_sha256: Option<String>,
}

/// The whole decision, as `steward decide --json` prints it and the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The proposal's key.
    pub proposal: String,
    pub title: String,
    /// The most likely choice (a label of the proposal's choices); `None` when nothing is known.
    pub choice: Option<String>,
    /// The proposal's choices, in order.
    #[serde(default)]
    pub choices: Vec<String>,
    /// One probability per choice, in the proposal's order.
    pub probabilities: Vec<f64>,
    pub confidence: f64,
    pub importance: f64,
    pub action: DecisionAction,
    /// Why, for the user, citing the evidence.
    pub rationale: String,
    pub evidence: Vec<Evidence>,
    pub flags: Vec<Flag>,
    pub models: Vec<ModelUse>,
    pub seed: u64,
    /// Why this importance (one line per contribution).
    pub importance_reasons: Vec<String>,
    /// Engines that failed while deciding; any of them keeps the decision from voting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<EngineFailure>,
}

/// The thresholds of the vote/ask/skip policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Confidence needed to vote on an unimportant proposal (importance 0).
    pub min_confidence_low: f64,
    /// Confidence needed to vote on the most important proposal (importance 1).
    pub min_confidence_high: f64,
    /// From this importance up, an unsure decision asks; below it, it skips.
    pub ask_importance: f64,
    /// Dissent so far: when at least this share of the visible votes (3 or more) rejects a
    /// proposal the decision would let pass, the user may be one of them, so it asks instead of
    /// voting or skipping. 0 turns it off.
    #[serde(default = "default_dissent_share")]
    pub dissent_share: f64,
}

fn default_dissent_share() -> f64 {
    Policy::default().dissent_share
}

/// 0.85 at importance 0 was chosen on a validation slice of real delegate votes, never on the
/// eval's test rows: the smallest threshold at which the votes cast were at least 92% right in
/// both blind and live mode, rounded up (docs/eval.md, "Choosing the policy").
impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_confidence_low: 0.85,
            min_confidence_high: 0.95,
            ask_importance: 0.4,
            // Chosen on the on-chain replay validation slice (docs/eval.md, "Dissent so far").
            dissent_share: 0.2,
        }
    }
}

impl Policy {
    /// The confidence needed at `importance`: linear between the low and high thresholds.
    pub fn threshold(&self, importance: f64) -> f64 {
        let i = importance.clamp(0.0, 1.0);
        self.min_confidence_low + (self.min_confidence_high - self.min_confidence_low) * i
    }

    /// Vote, ask or skip, and why. `can_judge` is false when the profile has nothing that bears
    /// on the proposal (then the agent never votes). Critical flags always ask.
    pub fn act(
        &self,
        confidence: f64,
        importance: f64,
        flags: &[Flag],
        can_judge: bool,
    ) -> (DecisionAction, String) {
        if let Some(f) = flags.iter().find(|f| {
            f.severity == Severity::Critical && f.kind != crate::injection::PROMPT_INJECTION
        }) {
            return (
                DecisionAction::Ask,
                format!("a critical flag ({}) always needs you", f.kind),
            );
        }
        if !can_judge {
            return (
                DecisionAction::Ask,
                "I cannot judge this yet: nothing you told me or voted on bears on it".into(),
            );
        }
        let need = self.threshold(importance);
        if confidence >= need {
            (
                DecisionAction::Vote,
                format!(
                    "confidence {confidence:.2} is above the {need:.2} needed at importance {importance:.2}"
                ),
            )
        } else if importance >= self.ask_importance {
            (
                DecisionAction::Ask,
                format!(
                    "confidence {confidence:.2} is below the {need:.2} needed, and it matters (importance {importance:.2})"
                ),
            )
        } else {
            (
                DecisionAction::Skip,
                format!(
                    "confidence {confidence:.2} is below the {need:.2} needed, and it matters little (importance {importance:.2})"
                ),
            )
        }
    }
}

/// An amount of money a text or payload mentions, in rough US dollars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Amount {
    pub text: String,
    pub value: f64,
    pub unit: String,
    pub usd: f64,
}

fn re(p: &str) -> Regex {
    #[allow(clippy::expect_used)]
    Regex::new(p).expect("amount pattern compiles")
}

static AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(\$|usd\s?)?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s?(k|m|mm|mn|million|b|bn|billion|thousand)?\b\s?(\$?[a-z]{2,6})?",
    )
});

/// Order-of-magnitude prices for the tokens governance texts mention most. Importance needs a
/// scale (thousands or millions?), not a quote; there is no price feed offline.
const ROUGH_USD: &[(&str, f64)] = &[
    ("usd", 1.0),
    ("usdc", 1.0),
    ("usdt", 1.0),
    ("dai", 1.0),
    ("gho", 1.0),
    ("lusd", 1.0),
    ("frax", 1.0),
    ("eth", 3000.0),
    ("weth", 3000.0),
    ("steth", 3000.0),
    ("wsteth", 3500.0),
    ("btc", 60000.0),
    ("wbtc", 60000.0),
    ("arb", 1.0),
    ("op", 2.0),
    ("uni", 7.0),
    ("aave", 100.0),
    ("comp", 50.0),
    ("ldo", 2.0),
    ("ens", 20.0),
    ("mkr", 2000.0),
    ("crv", 0.5),
    ("gtc", 1.0),
    ("torn", 10.0),
];

/// Amounts of money in `text`: `$1.5M`, `500,000 ARB`, `2 million USDC`, `120k DAI`.
pub fn amounts(text: &str) -> Vec<Amount> {
    let mut out = Vec::new();
    for c in AMOUNT.captures_iter(text) {
        let dollar = c.get(1).is_some();
        let unit_raw = c
            .get(5)
            .map(|m| m.as_str().trim_start_matches('$').to_ascii_lowercase());
        let unit_price = unit_raw
            .as_deref()
            .and_then(|u| ROUGH_USD.iter().find(|(t, _)| *t == u).map(|(_, p)| *p));
        if !dollar && unit_price.is_none() {
            continue;
        }
        let digits = c.get(2).map_or("", |m| m.as_str()).replace(',', "");
        let frac = c.get(3).map_or("", |m| m.as_str());
        let Ok(mut value) = format!("{digits}{frac}").parse::<f64>() else {
            continue;
        };
        value *= match c.get(4).map(|m| m.as_str().to_ascii_lowercase()).as_deref() {
            Some("k" | "thousand") => 1e3,
            Some("m" | "mm" | "mn" | "million") => 1e6,
            Some("b" | "bn" | "billion") => 1e9,
            _ => 1.0,
        };
        let (unit, price) = match (unit_raw, unit_price) {
            (Some(u), Some(p)) => (u, p),
            _ => ("usd".to_owned(), 1.0),
        };
        out.push(Amount {
            text: c.get(0).map_or("", |m| m.as_str()).trim().to_owned(),
            value,
            unit,
            usd: value * price,
        });
    }
    out
}

static IRREVERSIBLE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(upgrade[sd]?|implementation|proxy|constitution(al)?|legal|waiver|indemnif\w*|liabilit\w*|permission[s]?|role[s]? (grant|revok)\w*|grant(s|ing)? (the )?role|ownership|transfer owner\w*|admin|security council|timelock (delay|change)|quorum|voting (period|delay)|emergency|mint(ing)?|burn(ing)?|token (unlock|emission|inflation)|treasury (transfer|migration)|sunset|deprecat\w*|selfdestruct|delegatecall)\b",
    )
});

/// The money a proposal puts at stake, in rough US dollars: the largest amount its text states,
/// or the ether its actions send, whichever is larger (order-of-magnitude prices, [`amounts`]).
pub fn value_at_stake(p: &Proposal) -> f64 {
    let text = amounts(&format!("{}\n{}", p.title, p.body))
        .iter()
        .map(|a| a.usd)
        .fold(0.0_f64, f64::max);
    let eth: U256 = p
        .actions
        .iter()
        .map(|a| a.value)
        .fold(U256::ZERO, |s, v| s.saturating_add(v));
    let wei: f64 = eth.to_string().parse().unwrap_or(f64::MAX);
    text.max(wei / 1e18 * 3000.0)
}

/// How important a proposal is, 0..1, with the reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    pub score: f64,
    pub reasons: Vec<String>,
}

/// Inputs to [`importance`] that need the profile or the store.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportanceInputs {
    /// How close the proposal is to what the user cares about (highest similarity to their
    /// statements and writing), 0..1.
    pub topic_similarity: f64,
    /// The margin between the two leading choices among visible votes (0 = tied, 1 = unanimous),
    /// when votes are visible.
    pub vote_margin: Option<f64>,
    /// Dissent so far: the visible votes rejecting a proposal the decision leans to pass, and
    /// all visible votes, when their share reached [`Policy::dissent_share`].
    pub dissent: Option<(usize, usize)>,
}

/// Value at stake (text and payload), irreversibility, flags, the user's topics, closeness.
/// Irreversible changes and critical flags are always important.
pub fn importance(
    p: &Proposal,
    text: &str,
    flags: &[Flag],
    inputs: ImportanceInputs,
) -> Importance {
    let mut score: f64 = 0.1;
    let mut reasons = Vec::new();

    let mut usd = amounts(text).iter().map(|a| a.usd).fold(0.0_f64, f64::max);
    let eth: U256 = p
        .actions
        .iter()
        .map(|a| a.value)
        .fold(U256::ZERO, |s, v| s.saturating_add(v));
    if !eth.is_zero() {
        let wei: f64 = eth.to_string().parse().unwrap_or(f64::MAX);
        usd = usd.max(wei / 1e18 * 3000.0);
    }
    if usd >= 1.0 {
        // $1k -> 0.1, $100k -> 0.35, $10M -> 0.6, $1B+ -> 0.85
        let s = ((usd.log10() - 3.0) / 8.0 * 0.75 + 0.1).clamp(0.0, 0.85);
        if s > score {
            score = s;
        }
        reasons.push(format!("about ${} at stake", human(usd)));
    }
    if let Some(m) = IRREVERSIBLE.find(text) {
        score = score.max(0.7);
        reasons.push(format!(
            "hard to undo: it mentions \"{}\"",
            m.as_str().to_lowercase()
        ));
    }
    if !p.actions.is_empty() {
        score = score.max(0.5);
        reasons.push(format!(
            "{} on-chain action(s) execute if it passes",
            p.actions.len()
        ));
    }
    for f in flags {
        if f.kind == crate::injection::PROMPT_INJECTION {
            // Injected text must not move the decision, importance included.
            continue;
        }
        match f.severity {
            Severity::Critical => {
                score = 1.0;
                reasons.push(format!("critical flag: {}", f.kind));
            }
            Severity::Warn => {
                score = (score + 0.15).min(1.0);
                reasons.push(format!("flag: {}", f.kind));
            }
            Severity::Info => {}
        }
    }
    if inputs.topic_similarity > 0.3 {
        let add = ((inputs.topic_similarity - 0.3) * 0.6).min(0.3);
        score = (score + add).min(1.0);
        reasons.push(format!(
            "close to what you care about (similarity {:.2})",
            inputs.topic_similarity
        ));
    }
    if let Some((against, seen)) = inputs.dissent {
        // The stakes of an unexpected Against: a vote cast For in the user's name where they
        // would have opposed it is the mistake that costs them most.
        score = (score + 0.3).min(1.0);
        reasons.push(format!(
            "{against} of the {seen} votes so far reject it: you may too"
        ));
    }
    if let Some(m) = inputs.vote_margin
        && m < 0.2
    {
        score = (score + 0.15).min(1.0);
        reasons.push(format!("the vote is close (margin {m:.2})"));
    }
    Importance {
        score: (score * 1000.0).round() / 1000.0,
        reasons,
    }
}

fn human(usd: f64) -> String {
    if usd >= 1e9 {
        format!("{:.1}B", usd / 1e9)
    } else if usd >= 1e6 {
        format!("{:.1}M", usd / 1e6)
    } else if usd >= 1e3 {
        format!("{:.0}k", usd / 1e3)
    } else {
        format!("{usd:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_found_with_units() {
        let a =
            amounts("Request: 500,000 ARB and $1.5M in USDC, plus 2 million USDC later; 12 ETH.");
        let usd: Vec<f64> = a.iter().map(|a| a.usd).collect();
        assert_eq!(
            usd,
            vec![500_000.0, 1_500_000.0, 2_000_000.0, 36_000.0],
            "{a:?}"
        );
        assert!(amounts("AIP-1.2 was voted in 2023 by 45 delegates").is_empty());
    }

    #[test]
    fn policy_thresholds() {
        let p = Policy::default();
        assert_eq!(p.act(0.9, 0.1, &[], true).0, DecisionAction::Vote);
        assert_eq!(p.act(0.9, 0.9, &[], true).0, DecisionAction::Ask);
        assert_eq!(p.act(0.5, 0.1, &[], true).0, DecisionAction::Skip);
        assert_eq!(p.act(0.99, 0.1, &[], false).0, DecisionAction::Ask);
        let crit = Flag::new("mismatch", Severity::Critical, "x");
        assert_eq!(p.act(0.99, 0.1, &[crit], true).0, DecisionAction::Ask);
        let inj = Flag::new(crate::injection::PROMPT_INJECTION, Severity::Critical, "x");
        assert_eq!(p.act(0.99, 0.1, &[inj], true).0, DecisionAction::Vote);
    }
}
