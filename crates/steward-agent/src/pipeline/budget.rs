//! The question budget (issue 15 items 4-5): a round asks at most `decide.questions_per_round`
//! questions and a day at most `decide.questions_per_day`. Everything the agent neither votes
//! nor asks lands in the round's digest: one line each, never dropped in silence.
//!
//! Pure: the round (`round.rs`) gives each decision as a [`Candidate`], the budget left and the
//! similarity between proposals; [`triage`] says what becomes of each.
//!
//! - A vote stays a vote; the budget never touches it.
//! - A question with a critical flag is always asked (docs/flags.md: critical always asks); it
//!   counts against the budget but is never cut by it.
//! - The policy's other questions come next, best first by what the answer would teach
//!   ([`crate::teach::teach_score`], the score the eval's `--ask-budget` uses) times urgency
//!   (a proposal that ends sooner cannot wait for a later round).
//! - Budget left over goes to questions *to learn*: proposals the policy would skip, ranked the
//!   same way, when `decide.ask_to_learn` is on and the score reaches the eval's threshold.
//! - Each pick lowers the novelty of the proposals like it, so a batch of near-identical
//!   proposals (a grants round) spends one question, not ten.

use std::collections::HashMap;

use serde::Serialize;
use steward_core::DecisionAction;

pub use crate::digest::Unasked;
use crate::teach::{DEFAULT_ASK_THRESHOLD, Similarity, teach_score};

/// One decision of the round, as the budget sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub key: String,
    pub action: DecisionAction,
    pub confidence: f64,
    pub choices: usize,
    pub importance: f64,
    /// A critical flag: the question is always asked.
    pub critical: bool,
    /// The proposal's end, unix seconds.
    pub deadline: Option<i64>,
}

/// How many questions this round may open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Budget {
    pub per_round: u32,
    pub per_day: u32,
    /// Questions opened in the last 24 hours, before this round.
    pub opened_today: u32,
    /// Spend what is left on questions to learn.
    pub ask_to_learn: bool,
}

impl Budget {
    /// Questions this round may open (critical ones go beyond it).
    pub fn allowed(&self) -> u32 {
        self.per_round
            .min(self.per_day.saturating_sub(self.opened_today))
    }
}

/// What becomes of one decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Triage {
    /// A vote: untouched.
    Vote,
    /// Asked. `rank` is its place among the round's questions (1 = first), `learn` is true for a
    /// proposal the policy would have skipped.
    Ask {
        rank: usize,
        score: f64,
        critical: bool,
        learn: bool,
    },
    /// Not asked: into the digest.
    Unasked { why: Unasked, score: f64 },
}

/// Urgency in [0.5, 1]: 1 when the proposal ends now, 0.5 a week or more away (or no end).
pub fn urgency(deadline: Option<i64>, now: i64) -> f64 {
    let Some(end) = deadline else { return 0.5 };
    let hours_left = (end - now).max(0) as f64 / 3600.0;
    0.5 + 0.5 * (1.0 - hours_left / (7.0 * 24.0)).clamp(0.0, 1.0)
}

/// Decides, for every candidate in order, whether it is voted, asked or listed in the digest.
/// `similarity` and `embeddings` (by key) spread the questions; `now` is unix seconds.
pub fn triage(
    candidates: &[Candidate],
    budget: Budget,
    similarity: &Similarity,
    embeddings: &HashMap<String, Vec<f32>>,
    now: i64,
) -> Vec<Triage> {
    let mut out: Vec<Option<Triage>> = vec![None; candidates.len()];
    let mut picked: Vec<&str> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        match c.action {
            DecisionAction::Vote => out[i] = Some(Triage::Vote),
            DecisionAction::Ask if c.critical => {
                picked.push(&c.key);
                out[i] = Some(Triage::Ask {
                    rank: picked.len(),
                    score: 1.0,
                    critical: true,
                    learn: false,
                });
            }
            _ => {}
        }
    }
    let allowed = budget.allowed() as usize;
    // Two passes: the policy's own questions, then questions to learn. In each, the best score
    // with novelty against everything picked so far, until the budget is spent.
    for (pass, action) in [(0, DecisionAction::Ask), (1, DecisionAction::Skip)] {
        if pass == 1 && !budget.ask_to_learn {
            break;
        }
        loop {
            if picked.len() >= allowed {
                break;
            }
            let best = candidates
                .iter()
                .enumerate()
                .filter(|(i, c)| out[*i].is_none() && c.action == action)
                .map(|(i, c)| (i, score(c, &picked, similarity, embeddings, now)))
                .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)));
            let Some((i, s)) = best else { break };
            if pass == 1 && s < DEFAULT_ASK_THRESHOLD.max(f64::MIN_POSITIVE) {
                // Nothing left to learn from (a sure skip teaches nothing).
                break;
            }
            picked.push(&candidates[i].key);
            out[i] = Some(Triage::Ask {
                rank: picked.len(),
                score: s,
                critical: false,
                learn: pass == 1,
            });
        }
    }
    candidates
        .iter()
        .zip(out)
        .map(|(c, t)| {
            t.unwrap_or_else(|| Triage::Unasked {
                why: if c.action == DecisionAction::Ask {
                    Unasked::OverBudget
                } else {
                    Unasked::PolicySkip
                },
                score: score(c, &picked, similarity, embeddings, now),
            })
        })
        .collect()
}

fn score(
    c: &Candidate,
    picked: &[&str],
    similarity: &Similarity,
    embeddings: &HashMap<String, Vec<f32>>,
    now: i64,
) -> f64 {
    let novelty = similarity.novelty(&c.key, picked, embeddings);
    teach_score(c.confidence, c.choices, c.importance, novelty) * urgency(c.deadline, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const DAY: i64 = 86_400;

    fn c(key: &str, action: DecisionAction, confidence: f64, importance: f64) -> Candidate {
        Candidate {
            key: key.into(),
            action,
            confidence,
            choices: 2,
            importance,
            critical: false,
            deadline: Some(NOW + 3 * DAY),
        }
    }

    fn budget(per_round: u32) -> Budget {
        Budget {
            per_round,
            per_day: 100,
            opened_today: 0,
            ask_to_learn: true,
        }
    }

    fn run(cands: &[Candidate], b: Budget, titles: &[(&str, &str)]) -> Vec<Triage> {
        let sim = Similarity::new(titles.iter().copied());
        triage(cands, b, &sim, &HashMap::new(), NOW)
    }

    fn asked(t: &[Triage]) -> usize {
        t.iter().filter(|t| matches!(t, Triage::Ask { .. })).count()
    }

    #[test]
    fn never_more_questions_than_the_budget_and_every_other_one_is_listed() {
        use DecisionAction::*;
        let cands: Vec<Candidate> = (0..30)
            .map(|i| {
                let action = [Ask, Skip, Vote][i % 3];
                c(&format!("p{i}"), action, 0.5 + i as f64 / 100.0, 0.6)
            })
            .collect();
        let titles: Vec<(String, String)> = (0..30)
            .map(|i| (format!("p{i}"), format!("Topic {i} unique{i}")))
            .collect();
        let titles: Vec<(&str, &str)> = titles.iter().map(|(a, b)| (&a[..], &b[..])).collect();
        for per_round in [0, 1, 5, 10, 40] {
            let t = run(&cands, budget(per_round), &titles);
            assert_eq!(t.len(), 30);
            assert_eq!(
                asked(&t),
                (per_round as usize).min(20),
                "budget {per_round}"
            );
            // Votes are untouched; nothing else is lost: it is asked or unasked.
            for (c, t) in cands.iter().zip(&t) {
                assert_eq!(c.action == Vote, *t == Triage::Vote);
            }
            // The policy's own questions are served before questions to learn.
            let learn = t
                .iter()
                .filter(|t| matches!(t, Triage::Ask { learn: true, .. }))
                .count();
            let over = t
                .iter()
                .filter(|t| {
                    matches!(
                        t,
                        Triage::Unasked {
                            why: Unasked::OverBudget,
                            ..
                        }
                    )
                })
                .count();
            assert!(learn == 0 || over == 0, "budget {per_round}: {t:?}");
        }
    }

    #[test]
    fn the_day_budget_caps_the_round() {
        let b = Budget {
            per_round: 10,
            per_day: 10,
            opened_today: 7,
            ask_to_learn: false,
        };
        assert_eq!(b.allowed(), 3);
        let cands: Vec<Candidate> = (0..6)
            .map(|i| c(&format!("p{i}"), DecisionAction::Ask, 0.6, 0.8))
            .collect();
        let t = run(&cands, b, &[]);
        assert_eq!(asked(&t), 3);
        let spent = Budget {
            opened_today: 12,
            ..b
        };
        assert_eq!(spent.allowed(), 0);
    }

    #[test]
    fn a_critical_question_is_asked_even_when_the_budget_is_spent() {
        let mut crit = c("crit", DecisionAction::Ask, 0.9, 1.0);
        crit.critical = true;
        let cands = vec![c("a", DecisionAction::Ask, 0.5, 0.9), crit];
        let t = run(&cands, budget(0), &[]);
        assert!(matches!(t[1], Triage::Ask { critical: true, .. }));
        assert!(matches!(
            t[0],
            Triage::Unasked {
                why: Unasked::OverBudget,
                ..
            }
        ));
        // With room for one, the critical question takes it.
        let t = run(&cands, budget(1), &[]);
        assert_eq!(asked(&t), 1);
    }

    #[test]
    fn the_most_uncertain_and_the_soonest_are_asked_first() {
        let mut late = c("late", DecisionAction::Ask, 0.55, 0.8);
        late.deadline = Some(NOW + 30 * DAY);
        let cands = vec![
            c("sure", DecisionAction::Ask, 0.9, 0.8),
            c("unsure", DecisionAction::Ask, 0.55, 0.8),
            late,
        ];
        let titles = [
            ("sure", "Alpha budget"),
            ("unsure", "Beta upgrade"),
            ("late", "Gamma grants"),
        ];
        let t = run(&cands, budget(1), &titles);
        assert!(matches!(t[1], Triage::Ask { rank: 1, .. }), "{t:?}");
        assert!(urgency(Some(NOW), NOW) > urgency(Some(NOW + 3 * DAY), NOW));
        assert_eq!(urgency(None, NOW), 0.5);
        assert_eq!(urgency(Some(NOW + 30 * DAY), NOW), 0.5);
    }

    #[test]
    fn a_batch_of_look_alikes_spends_one_question() {
        let titles = [
            ("g1", "STIP Round 1: Alpha Protocol"),
            ("g2", "STIP Round 1: Alpha Protocol (amended)"),
            ("g3", "STIP Round 1: Alpha Protocol v2"),
            ("u", "Security Council election rules"),
        ];
        let cands = vec![
            c("g1", DecisionAction::Ask, 0.55, 0.8),
            c("g2", DecisionAction::Ask, 0.55, 0.8),
            c("g3", DecisionAction::Ask, 0.55, 0.8),
            c("u", DecisionAction::Ask, 0.70, 0.8),
        ];
        let t = run(&cands, budget(2), &titles);
        // The second question goes to the different proposal, though it is surer.
        assert!(matches!(t[3], Triage::Ask { rank: 2, .. }), "{t:?}");
    }

    #[test]
    fn without_ask_to_learn_a_skip_stays_a_skip() {
        let cands = vec![c("s", DecisionAction::Skip, 0.5, 0.1)];
        let mut b = budget(5);
        b.ask_to_learn = false;
        assert!(matches!(
            run(&cands, b, &[])[0],
            Triage::Unasked {
                why: Unasked::PolicySkip,
                ..
            }
        ));
        b.ask_to_learn = true;
        assert!(matches!(
            run(&cands, b, &[])[0],
            Triage::Ask { learn: true, .. }
        ));
        // A sure skip teaches nothing: never asked to learn.
        let sure = vec![c("s", DecisionAction::Skip, 1.0, 0.1)];
        assert!(matches!(run(&sure, b, &[])[0], Triage::Unasked { .. }));
    }
}
