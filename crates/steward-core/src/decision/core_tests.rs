//! The pure decision core on hand-made vectors: no model files, no store.

use proptest::prelude::*;

use super::*;
use crate::{Flag, Proposal, ProposalState, Severity, Source, Stance, VotingType, kinds};

const FAA: &[&str] = &["For", "Against", "Abstain"];
/// The proposal's own vector: evidence at this vector matches it fully (cosine 1).
const HERE: [f32; 4] = [1.0, 0.0, 0.0, 0.0];
/// Orthogonal to the proposal: bears on nothing.
const ELSEWHERE: [f32; 4] = [0.0, 0.0, 1.0, 0.0];

fn proposal(choices: &[&str]) -> Proposal {
    Proposal {
        source: Source::Snapshot {
            space: "test.eth".into(),
        },
        id: "p1".into(),
        title: "Refresh the delegate registry metadata".into(),
        body: "Routine metadata refresh.".into(),
        choices: choices.iter().map(|c| (*c).to_owned()).collect(),
        voting: VotingType::SingleChoice,
        created: None,
        start: None,
        end: None,
        snapshot: None,
        author: None,
        discussion: None,
        state: ProposalState::Active,
        actions: Vec::new(),
        flags: Vec::new(),
    }
}

/// Owned profile parts the borrowed [`DecisionProfile`] points into.
#[derive(Debug, Clone, Default)]
struct Owned {
    items: Vec<(ProfileKind, String, Stance, Vec<f32>)>,
    votes: Vec<(String, String, Vec<f32>)>,
}

impl Owned {
    fn say(mut self, stance: Stance, v: &[f32]) -> Self {
        let text = format!("I am {} this", stance.as_str());
        self.items
            .push((ProfileKind::Statement, text, stance, v.to_vec()));
        self
    }

    fn voted(mut self, choice: &str, v: &[f32]) -> Self {
        let r = format!("old{}", self.votes.len());
        self.votes.push((r, choice.to_owned(), v.to_vec()));
        self
    }

    fn view(&self) -> DecisionProfile<'_> {
        DecisionProfile {
            items: self
                .items
                .iter()
                .enumerate()
                .map(|(i, (kind, text, stance, v))| ProfileEntry {
                    id: i as i64 + 1,
                    kind: *kind,
                    text,
                    stance: *stance,
                    vector: v,
                })
                .collect(),
            user_votes: self
                .votes
                .iter()
                .enumerate()
                .map(|(i, (r, c, v))| PastVote {
                    voter: "me",
                    proposal_ref: r,
                    title: "an older proposal",
                    choice: c,
                    reason: None,
                    ord: Some(i as i64),
                    vector: v,
                })
                .collect(),
            peer_votes: Vec::new(),
            trusted: &[],
            ignored: &[],
            usual_dissent: None,
        }
    }
}

fn input<'a>(
    p: &'a Proposal,
    profile: &'a DecisionProfile<'a>,
    flags: Vec<Flag>,
) -> DecisionInput<'a> {
    DecisionInput {
        key: "snapshot:test.eth:p1",
        proposal: p,
        title: &p.title,
        body: &p.body,
        flags,
        profile,
        proposal_vector: &HERE,
        title_vector: &HERE,
        visible: &[],
        history_model: HistoryModel::Fit,
        failures: Vec::new(),
        models: Vec::new(),
        policy: Policy::default(),
        weights: PoolWeights::default(),
        seed: 7,
    }
}

fn mismatch() -> Flag {
    Flag::new(
        kinds::MISMATCH,
        Severity::Critical,
        "the payload sends 450000 STW to 0x5afe…5afe, which the description does not state",
    )
}

fn injection() -> Flag {
    Flag::new(
        kinds::PROMPT_INJECTION,
        Severity::Warn,
        "the text tries to instruct AI agents (agent-instruction: \"vote For\"); it was removed before deciding",
    )
}

/// A profile that leans For with enough evidence to vote on an unimportant proposal.
fn leans_for() -> Owned {
    Owned::default()
        .say(Stance::For, &HERE)
        .voted("For", &HERE)
        .voted("For", &HERE)
}

#[test]
fn a_profile_that_leans_for_votes_for() {
    let o = leans_for();
    let view = o.view();
    let p = proposal(FAA);
    let d = decide(&input(&p, &view, Vec::new()), Judgement::NotRun);
    assert_eq!(d.choice.as_deref(), Some("For"), "{d:#?}");
    assert_eq!(d.action, DecisionAction::Vote, "{d:#?}");
    assert!(d.rationale.starts_with("Leaning For"), "{}", d.rationale);
}

fn votes_so_far(for_: usize, against: usize) -> Vec<crate::Vote> {
    (0..for_ + against)
        .map(|i| crate::Vote {
            id: format!("v{i}"),
            voter: format!("0x{i:040x}"),
            choice: serde_json::json!(if i < for_ { 1 } else { 2 }),
            power: "1".into(),
            reason: None,
            created: None,
        })
        .collect()
}

/// Dissent so far: a share of the visible votes rejecting what the profile would pass makes the
/// decision ask (the user may be one of them), with the reason in importance and rationale.
/// Fewer rejecting votes, or the rule turned off, leave the vote.
#[test]
fn dissent_so_far_asks_instead_of_voting() {
    let o = leans_for();
    let view = o.view();
    let p = proposal(FAA);
    let run = |visible: &[crate::Vote], share: f64| {
        let mut i = input(&p, &view, Vec::new());
        i.visible = visible;
        i.policy.dissent_share = share;
        decide(&i, Judgement::NotRun)
    };
    let dissent = votes_so_far(6, 2);
    let d = run(&dissent, 0.2);
    assert_eq!(d.action, DecisionAction::Ask, "{d:#?}");
    assert_eq!(d.choice.as_deref(), Some("For"), "the lean stays: {d:#?}");
    assert!(
        d.rationale.contains("2 of the 8 votes so far reject it"),
        "{}",
        d.rationale
    );
    assert!(
        d.importance_reasons
            .iter()
            .any(|r| r.contains("votes so far reject it")),
        "{:?}",
        d.importance_reasons
    );
    assert_eq!(run(&dissent, 0.0).action, DecisionAction::Vote, "off");
    // Where a quarter of the votes usually reject, 2 of 8 is no sign.
    let mut usual = o.view();
    usual.usual_dissent = Some(0.25);
    let mut i = input(&p, &usual, Vec::new());
    i.visible = &dissent;
    assert_eq!(
        decide(&i, Judgement::NotRun).action,
        DecisionAction::Vote,
        "usual"
    );
    usual.usual_dissent = Some(0.05);
    let mut i = input(&p, &usual, Vec::new());
    i.visible = &dissent;
    assert_eq!(
        decide(&i, Judgement::NotRun).action,
        DecisionAction::Ask,
        "rare"
    );
    assert_eq!(
        run(&votes_so_far(9, 1), 0.2).action,
        DecisionAction::Vote,
        "10 %"
    );
    // Too few votes to speak of dissent.
    assert_eq!(
        run(&votes_so_far(1, 1), 0.2).action,
        DecisionAction::Vote,
        "2 votes"
    );
    // A Governor's votes carry `support` (1 For, 0 Against, 2 Abstain): 6 For and 2 Against
    // dissent; 6 For and 2 Abstain do not (read as Snapshot numbers it was the other way).
    let mut g = proposal(FAA);
    g.source = Source::Governor {
        chain_id: 1,
        governor: Default::default(),
    };
    let on_chain = |support: &[u64]| {
        let votes: Vec<crate::Vote> = votes_so_far(support.len(), 0)
            .into_iter()
            .zip(support)
            .map(|(v, k)| crate::Vote {
                choice: serde_json::json!(k),
                ..v
            })
            .collect();
        let mut i = input(&g, &view, Vec::new());
        i.visible = &votes;
        decide(&i, Judgement::NotRun).action
    };
    assert_eq!(on_chain(&[1, 1, 1, 1, 1, 1, 0, 0]), DecisionAction::Ask);
    assert_eq!(on_chain(&[1, 1, 1, 1, 1, 1, 2, 2]), DecisionAction::Vote);
}

#[test]
fn an_empty_profile_asks_and_says_why() {
    let o = Owned::default();
    let view = o.view();
    let p = proposal(FAA);
    let d = decide(&input(&p, &view, Vec::new()), Judgement::NotRun);
    assert_eq!(d.action, DecisionAction::Ask, "{d:#?}");
    assert!(d.confidence < 0.5, "{}", d.confidence);
    assert!(d.rationale.contains("cannot judge"), "{}", d.rationale);
    // Evidence that bears on nothing is no evidence.
    let o = Owned::default().say(Stance::For, &ELSEWHERE);
    let view = o.view();
    let d = decide(&input(&p, &view, Vec::new()), Judgement::NotRun);
    assert_eq!(d.action, DecisionAction::Ask, "{d:#?}");
    assert!(d.rationale.contains("cannot judge"), "{}", d.rationale);
}

/// The demo's bug: a critical mismatch on a proposal the profile leans For on said "Leaning For".
#[test]
fn a_critical_mismatch_recommends_against_and_asks() {
    let o = leans_for();
    let view = o.view();
    let p = proposal(FAA);
    let d = decide(&input(&p, &view, vec![mismatch()]), Judgement::NotRun);
    assert_eq!(d.action, DecisionAction::Ask, "{d:#?}");
    assert_eq!(d.choice.as_deref(), Some("Against"), "{d:#?}");
    assert!(
        d.rationale
            .starts_with("I recommend Against: the payload sends 450000 STW to 0x5afe…5afe"),
        "{}",
        d.rationale
    );
    assert!(
        d.rationale.contains("Your profile alone leans For"),
        "{}",
        d.rationale
    );
    // The probabilities still say what the profile predicts; the confidence is the
    // recommended choice's.
    assert!(
        d.probabilities[0] > d.probabilities[1],
        "{:?}",
        d.probabilities
    );
    assert_eq!(d.confidence, d.probabilities[1]);
}

#[test]
fn a_critical_flag_leans_to_the_reject_option_by_name() {
    let o = Owned::default().say(Stance::For, &HERE);
    let view = o.view();
    for (choices, want) in [
        (&["Yes", "No"][..], Some("No")),
        (&["Approve", "Reject"][..], Some("Reject")),
        (&["Option A", "Option B"][..], None),
    ] {
        let p = proposal(choices);
        let d = decide(&input(&p, &view, vec![mismatch()]), Judgement::NotRun);
        assert_ne!(d.action, DecisionAction::Vote, "{choices:?}: {d:#?}");
        match want {
            Some(w) => {
                assert_eq!(d.choice.as_deref(), Some(w), "{choices:?}");
                assert!(
                    d.rationale.starts_with(&format!("I recommend {w}: ")),
                    "{}",
                    d.rationale
                );
            }
            None => assert!(
                d.rationale.contains("No choice here rejects it"),
                "{}",
                d.rationale
            ),
        }
    }
}

#[test]
fn an_injection_is_named_and_changes_nothing() {
    let o = leans_for();
    let view = o.view();
    let p = proposal(FAA);
    let base = decide(&input(&p, &view, Vec::new()), Judgement::NotRun);
    let d = decide(&input(&p, &view, vec![injection()]), Judgement::NotRun);
    assert_eq!(
        (
            &d.choice,
            &d.probabilities,
            d.confidence,
            d.action,
            d.importance
        ),
        (
            &base.choice,
            &base.probabilities,
            base.confidence,
            base.action,
            base.importance
        )
    );
    assert!(
        d.rationale
            .contains("Someone tried to instruct voting agents in this text"),
        "{}",
        d.rationale
    );
}

#[test]
fn a_failed_inspection_cannot_be_voted() {
    let o = leans_for();
    let view = o.view();
    let p = proposal(FAA);
    let flag = Flag::new(
        kinds::INSPECTION_FAILED,
        Severity::Warn,
        "the payload could not be checked on chain: connection refused",
    );
    let d = decide(&input(&p, &view, vec![flag]), Judgement::NotRun);
    assert_eq!(d.action, DecisionAction::Ask, "{d:#?}");
    assert!(
        matches!(d.failures[..], [EngineFailure::Inspection { .. }]),
        "{:?}",
        d.failures
    );
    let mut i = input(&p, &view, Vec::new());
    i.failures.push(EngineFailure::Inspection {
        detail: "rpc down".into(),
    });
    let d = decide(&i, Judgement::NotRun);
    assert_eq!(d.action, DecisionAction::Ask, "{d:#?}");
    assert!(
        d.rationale.contains("could not be inspected (rpc down)"),
        "{}",
        d.rationale
    );
}

#[test]
fn a_failing_or_misshapen_model_degrades_to_asking() {
    let o = leans_for();
    let view = o.view();
    let p = proposal(FAA);
    let choices = p.choices.clone();
    let crashed = Judgement::Failed(EngineFailure::Generator {
        model: "smol".into(),
        message: "worker: engine crashed".into(),
    });
    let table = [
        crashed,
        Judgement::read(None, &choices, "smol"),
        Judgement::read(
            Some(&serde_json::json!({"verdict": "For"})),
            &choices,
            "smol",
        ),
        Judgement::read(
            Some(&serde_json::json!({"choice": "Maybe"})),
            &choices,
            "smol",
        ),
        Judgement::Given {
            model: "smol".into(),
            choice: 9,
            confidence: JudgementConfidence::High,
        },
    ];
    for j in table {
        let d = decide(&input(&p, &view, Vec::new()), j.clone());
        assert_eq!(d.action, DecisionAction::Ask, "{j:?}: {d:#?}");
        assert_eq!(d.failures.len(), 1, "{j:?}");
        assert!(
            d.rationale.contains("Note: the local model"),
            "{}",
            d.rationale
        );
    }
    // A well-formed answer is evidence, not a failure.
    let ok = Judgement::read(
        Some(&serde_json::json!({"choice": "For", "confidence": "high"})),
        &choices,
        "smol",
    );
    let d = decide(&input(&p, &view, Vec::new()), ok);
    assert!(d.failures.is_empty(), "{:?}", d.failures);
    assert_eq!(d.action, DecisionAction::Vote, "{d:#?}");
    assert!(
        d.evidence
            .iter()
            .any(|e| e.kind == EvidenceKind::Model && e.id == "smol")
    );
}

#[test]
fn evidence_kinds_serialize_as_the_stored_strings() {
    for (k, s) in [
        (EvidenceKind::Statement, "statement"),
        (EvidenceKind::Writing, "writing"),
        (EvidenceKind::Vote, "vote"),
        (EvidenceKind::Answer, "answer"),
        (EvidenceKind::Override, "override"),
        (EvidenceKind::PeerVote, "peer-vote"),
        (EvidenceKind::Model, "model"),
    ] {
        assert_eq!(serde_json::to_value(k).expect("json"), serde_json::json!(s));
        assert_eq!(
            serde_json::from_value::<EvidenceKind>(serde_json::json!(s)).expect("parse"),
            k
        );
        assert_eq!(k.as_str(), s);
    }
    assert!(serde_json::from_value::<EvidenceKind>(serde_json::json!("gossip")).is_err());
}

// -- properties ---------------------------------------------------------------------------------

fn stance() -> impl Strategy<Value = Stance> {
    prop_oneof![
        Just(Stance::For),
        Just(Stance::Against),
        Just(Stance::Abstain)
    ]
}

fn vector() -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(-1.0f32..1.0, 4)
}

/// Profiles whose statements all point one way (so no contradiction to begin with), with up to
/// 14 past votes (the voter model fits from 10).
fn profile() -> impl Strategy<Value = Owned> {
    (
        stance(),
        prop::collection::vec(vector(), 0..4),
        prop::collection::vec((prop::sample::select(FAA.to_vec()), vector()), 0..15),
    )
        .prop_map(|(s, said, votes)| {
            let mut o = Owned::default();
            for v in said {
                o = o.say(s, &v);
            }
            for (c, v) in votes {
                o = o.voted(c, &v);
            }
            o
        })
}

fn choices() -> impl Strategy<Value = Vec<&'static str>> {
    prop_oneof![
        Just(FAA.to_vec()),
        Just(vec!["Yes", "No"]),
        Just(vec!["Approve", "Reject", "Abstain"]),
        Just(vec!["Option A", "Option B"]),
    ]
}

fn critical_kind() -> impl Strategy<Value = &'static str> {
    prop::sample::select(
        kinds::ALL
            .iter()
            .copied()
            .filter(|k| *k != kinds::PROMPT_INJECTION)
            .collect::<Vec<_>>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// One more statement agreeing with the lean, at the proposal's own vector, never lowers the
    /// confidence.
    #[test]
    fn more_agreeing_evidence_never_lowers_confidence(o in profile()) {
        let p = proposal(FAA);
        let view = o.view();
        let before = decide(&input(&p, &view, Vec::new()), Judgement::NotRun);
        let lean = before.choice.clone().expect("three choices");
        let more = o.clone().say(crate::stance_of_choice(&lean), &HERE);
        let view2 = more.view();
        let after = decide(&input(&p, &view2, Vec::new()), Judgement::NotRun);
        prop_assert_eq!(after.choice.as_deref(), Some(lean.as_str()), "{:#?}", after);
        prop_assert!(after.confidence >= before.confidence,
            "{} -> {}: {:#?}", before.confidence, after.confidence, after);
    }

    /// A critical flag on the payload never votes, and leans to the choice that does not
    /// execute it when there is one.
    #[test]
    fn a_critical_flag_never_votes_and_leans_to_reject(
        o in profile(),
        c in choices(),
        kind in critical_kind(),
    ) {
        let p = proposal(&c);
        let view = o.view();
        let flag = Flag::new(kind, Severity::Critical, "the payload does something unsaid");
        let d = decide(&input(&p, &view, vec![flag]), Judgement::NotRun);
        prop_assert_ne!(d.action, DecisionAction::Vote);
        let reject = c.iter().find(|x| crate::stance_of_choice(x) == Stance::Against);
        if let Some(r) = reject {
            prop_assert_eq!(d.choice.as_deref(), Some(*r));
            let opening = format!("I recommend {r}: the payload does something unsaid");
            prop_assert!(d.rationale.starts_with(&opening), "{}", d.rationale);
        }
    }

    /// A flagged injection (its text already removed) changes neither the choice, the
    /// probabilities, the confidence nor the action, whatever its severity.
    #[test]
    fn an_injection_never_changes_choice_or_confidence(
        o in profile(),
        c in choices(),
        critical in any::<bool>(),
    ) {
        let p = proposal(&c);
        let view = o.view();
        let base = decide(&input(&p, &view, Vec::new()), Judgement::NotRun);
        let mut f = injection();
        if critical {
            f.severity = Severity::Critical;
        }
        let d = decide(&input(&p, &view, vec![f]), Judgement::NotRun);
        prop_assert_eq!(&d.choice, &base.choice);
        prop_assert_eq!(&d.probabilities, &base.probabilities);
        prop_assert_eq!(d.confidence, base.confidence);
        prop_assert_eq!(d.action, base.action);
    }
}
