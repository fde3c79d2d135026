//! The values that pass between the round's stages, and the stage logic that needs no store,
//! network or model (unit-tested here).

use std::collections::HashMap;

use serde::Serialize;
use steward_core::{Decision, DecisionAction, Flag, Proposal, ProposalState};

use crate::inspect::Pin;
use crate::questions::{Question, QuestionStatus, plain_payload, question_context};
use crate::sources::forum::Post;
use crate::{CastOutcome, IntentState};

/// What one round did, as `steward run --json` prints it.
#[derive(Debug, Default, Serialize)]
pub struct RoundReport {
    pub synced: u64,
    /// Intents a crash left half-done, finished before anything else.
    pub reconciled: usize,
    pub decided: Vec<Outcome>,
    /// The user's answers cast in this round.
    pub answers_cast: Vec<String>,
    /// Votes the agent decided in an earlier round but never got out (a crash between the
    /// decision and the cast, or a send cut off), cast or re-sent in this one.
    pub resumed: Vec<String>,
    /// Code at a pinned target changed since it was inspected (critical).
    pub alerts: Vec<String>,
    /// Notices of open questions sent outside the desk (webhook, mail).
    pub notices: Vec<String>,
    /// The round's question budget and what it spent (`None` when nothing was decided).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub questions: Option<QuestionBudget>,
    /// Proposals neither voted nor asked about in this round, one line each.
    pub digest: Vec<crate::digest::DigestLine>,
    pub unchanged: usize,
    pub errors: Vec<String>,
    /// Unanswered attention bonds forfeited to the user this round (`bonds.forfeit`, `run --watch`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forfeited: Vec<crate::bondgate::Forfeit>,
    /// Bonded mail the agent answered on the user's behalf this round (`bonds.auto_reply`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auto_replied: Vec<crate::bondauto::AutoReply>,
    /// The suggestion market's inputs the agent looked at this round (`market.auto`, `run --watch`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub market: Vec<crate::market::auto::AutoLine>,
    /// Settled inputs whose winning shares `market.auto` redeemed this round.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub market_redeemed: Vec<crate::market::auto::Redeemed>,
}

/// The question budget of a round, as `steward run` reports it.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct QuestionBudget {
    pub per_round: u32,
    pub per_day: u32,
    /// Opened in the 24 hours before this round.
    pub opened_today: u32,
    /// What this round could open.
    pub allowed: u32,
    /// Opened in this round (critical ones included).
    pub asked: u32,
    /// Of them, critical (asked whatever the budget).
    pub critical: u32,
    /// Of them, questions to learn (the policy would have skipped).
    pub to_learn: u32,
    /// Of them, judged by the local model (only asked questions are: its reading is shown to
    /// the person who answers, never pooled into a vote).
    pub judged: u32,
    /// The policy would have asked, the budget did not allow it.
    pub over_budget: u32,
}

/// One proposal decided in a round.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub proposal: String,
    pub title: String,
    pub decision_id: i64,
    pub action: DecisionAction,
    pub choice: Option<String>,
    pub confidence: f64,
    pub importance: f64,
    /// What happened to a `vote`: `dry-run` until casting is enabled.
    pub cast: Option<String>,
    pub why: String,
}

/// After sync and the pin re-checks: what this round decides.
#[derive(Debug, Default)]
pub struct Synced {
    /// Open proposals not yet decided in their current content, or whose pinned code changed.
    pub todo: Vec<crate::StoredProposal>,
    /// Open proposals decided before and unchanged.
    pub unchanged: usize,
    /// `code-changed` flags by proposal key: they join the proposal's inspection flags.
    pub alerts: HashMap<String, Vec<Flag>>,
}

/// A proposal's payload, inspected.
#[derive(Debug, Clone, Default)]
pub struct Inspected {
    pub flags: Vec<Flag>,
    /// The payload in plain words, for the question.
    pub payload: Vec<String>,
    /// Code hashes pinned (and compared with earlier pins) by this inspection.
    pub pins: Vec<Pin>,
}

/// A decision, with the question it opens when it asks.
#[derive(Debug, Clone)]
pub struct Decided {
    pub key: String,
    pub decision: Decision,
    pub question: Option<serde_json::Value>,
    /// The payload in plain words, for a question the budget opens later.
    pub payload: Vec<String>,
    /// The digest line, when the round neither votes nor asks.
    pub digest: Option<crate::digest::DigestLine>,
}

/// What dispatch will do with a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Cast {
        choice: String,
    },
    /// A vote, but there is no key to sign it with.
    NoKey,
    /// A vote without a choice: nothing to cast.
    NoChoice,
    /// The question is already open (recorded with the decision).
    Ask,
    Skip,
}

/// What dispatch did.
#[derive(Debug)]
pub enum Dispatched {
    Cast(CastOutcome),
    CastFailed(String),
    NoKey,
    NoChoice,
    Asked,
    Skipped,
}

impl Dispatched {
    /// The `cast` line of the round's outcome (only a `vote` has one).
    pub fn cast_line(&self) -> Option<String> {
        match self {
            Dispatched::Cast(o) => Some(super::describe(o)),
            Dispatched::CastFailed(e) => Some(format!("not cast: {e}")),
            Dispatched::NoKey => {
                Some("not cast: no signing key (`steward key new` or `key import`)".into())
            }
            Dispatched::NoChoice | Dispatched::Asked | Dispatched::Skipped => None,
        }
    }
}

/// Only a `vote` is ever cast by the agent; `ask` waits for the user's answer.
pub fn plan(action: DecisionAction, choice: Option<&str>, has_key: bool) -> Plan {
    match (action, choice) {
        (DecisionAction::Vote, _) if !has_key => Plan::NoKey,
        (DecisionAction::Vote, Some(c)) => Plan::Cast {
            choice: c.to_owned(),
        },
        (DecisionAction::Vote, None) => Plan::NoChoice,
        (DecisionAction::Ask, _) => Plan::Ask,
        (DecisionAction::Skip, _) => Plan::Skip,
    }
}

/// The choice to cast again for a proposal whose decision in its current content is already
/// recorded: a `vote` whose cast never finished. Nothing when a vote counts or was settled
/// (`confirmed`, a `dry-run`, or a `failed` refusal, which is final); a `signed`/`submitted`
/// intent is re-sent as stored by casting, and one with nothing signed (`intent`, `abandoned`)
/// or no intent at all is cast afresh.
pub fn resume_choice<'d>(
    action: DecisionAction,
    choice: Option<&'d str>,
    intents: &[IntentState],
) -> Option<&'d str> {
    let settled = intents.iter().any(|s| {
        matches!(
            s,
            IntentState::Confirmed | IntentState::DryRun | IntentState::Failed
        )
    });
    (action == DecisionAction::Vote && !settled)
        .then_some(choice)
        .flatten()
}

/// Splits open proposals into those to decide (never decided in this content, or alerted) and
/// how many stay unchanged.
pub fn select_todo<T>(
    open: Vec<T>,
    key: impl Fn(&T) -> &str,
    decided: impl Fn(&T) -> bool,
    alerts: &HashMap<String, Vec<Flag>>,
) -> (Vec<T>, usize) {
    let n = open.len();
    let todo: Vec<T> = open
        .into_iter()
        .filter(|p| alerts.contains_key(key(p)) || !decided(p))
        .collect();
    let unchanged = n - todo.len();
    (todo, unchanged)
}

/// The answers the user gave, as (proposal, choice): only answered questions count.
pub fn answered(questions: Vec<Question>) -> Vec<(String, String)> {
    questions
        .into_iter()
        .filter(|q| q.status == QuestionStatus::Answered)
        .filter_map(|q| q.answer.map(|a| (q.proposal, a)))
        .collect()
}

/// The payload in plain words: each call, then each effect, addresses by name (`names`: the
/// user's address book and the DAO's contracts, then the built-in tokens), amounts with symbol
/// and decimals, each line once (docs/verify.md, "In words").
pub fn payload_words(
    report: &steward_eth::Report,
    names: &steward_core::verification::Names,
) -> Vec<String> {
    // Tokens the chain or the built-in table know are named by symbol, after the user's names.
    let mut tokens: steward_core::verification::Tokens = report.tokens.iter().cloned().collect();
    let used = report.effects.iter().filter_map(|e| match &e.kind {
        steward_core::verification::EffectKind::TokenTransfer { token, .. } => *token,
        steward_core::verification::EffectKind::Approval { token, .. }
        | steward_core::verification::EffectKind::Mint { token, .. } => Some(*token),
        _ => None,
    });
    steward_core::verification::with_known_tokens(&mut tokens, used);
    let mut names = names.clone();
    for (address, info) in &tokens {
        names.insert(*address, format!("{} token", info.symbol));
    }
    let mut words: Vec<String> = Vec::new();
    for a in &report.actions {
        let value = if a.value.is_zero() {
            String::new()
        } else {
            format!(
                " sending {} ETH",
                steward_core::verification::format_amount(a.value, 18)
            )
        };
        let line = format!("calls {} on {}{value}", a.function, names.of(a.target));
        if !words.contains(&line) {
            words.push(line);
        }
    }
    words.extend(steward_core::verification::effects_in_words(
        &report.effects,
        &tokens,
        &names,
    ));
    words
}

/// The question an `ask` opens: everything the user needs to answer.
pub fn question_for(
    d: &Decision,
    p: &Proposal,
    discussion: &[Post],
    payload: Vec<String>,
) -> Option<serde_json::Value> {
    (d.action == DecisionAction::Ask).then(|| {
        let payload = if payload.is_empty() {
            plain_payload(p)
        } else {
            payload
        };
        serde_json::to_value(question_context(d, p, discussion, payload)).unwrap_or_default()
    })
}

/// Why a question was asked in this round, in words for the desk and the rationale.
pub fn budget_reason(rank: usize, critical: bool, learn: bool, b: super::budget::Budget) -> String {
    if critical {
        return format!(
            "Asked whatever the budget: a critical flag always asks (question {rank} of this round)."
        );
    }
    let why = if learn {
        "to learn: the policy would skip it, but of what is left it is what an answer teaches most"
    } else {
        "it teaches most among this round's questions (uncertainty, importance, deadline)"
    };
    format!(
        "Asked as question {rank} of {} this round allows ({} a round, {} a day, {} already asked today): {why}.",
        b.allowed(),
        b.per_round,
        b.per_day,
        b.opened_today
    )
}

/// The core's rationale ends in its verdict, " So I ask you: …" or " So I skip it: …"; when the
/// budget overrides the verdict, the rationale says what the policy alone would have done, so
/// it never reads "I skip it" above "asked".
pub fn restate_verdict(rationale: &mut String, action: DecisionAction) {
    let (from, to) = match action {
        DecisionAction::Ask => (" So I ask you: ", " On its own the policy would ask you: "),
        DecisionAction::Skip => (" So I skip it: ", " On its own the policy would skip it: "),
        DecisionAction::Vote => return,
    };
    if let Some(i) = rationale.rfind(from) {
        rationale.replace_range(i..i + from.len(), to);
    }
}

/// Appends `why` to a question's `why_asking`.
pub fn add_why_asking(question: Option<&mut serde_json::Value>, why: &str) {
    if let Some(serde_json::Value::String(s)) = question.and_then(|q| q.get_mut("why_asking")) {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(why);
    }
}

/// A decision neither voted nor asked: skipped, or voted Abstain under
/// `decide.unasked = "abstain"` where the proposal offers Abstain and no engine failed; and its
/// digest line.
pub fn unasked(
    d: &mut Decision,
    deadline: Option<i64>,
    why: super::budget::Unasked,
    score: f64,
    action: crate::UnaskedAction,
    b: super::budget::Budget,
) -> crate::digest::DigestLine {
    let lean = d.choice.clone();
    restate_verdict(&mut d.rationale, d.action);
    let abstain = (action == crate::UnaskedAction::Abstain && d.failures.is_empty())
        .then(|| {
            d.choices
                .iter()
                .find(|c| c.trim().eq_ignore_ascii_case("abstain"))
                .cloned()
        })
        .flatten();
    let reason = match why {
        super::budget::Unasked::OverBudget => format!(
            "Not asked: the question budget ({} a round, {} a day, {} asked today before this round) went to questions that teach more; listed in the digest.",
            b.per_round, b.per_day, b.opened_today
        ),
        super::budget::Unasked::PolicySkip => {
            "Not asked: unsure and of low importance; listed in the digest.".to_owned()
        }
    };
    let outcome = match abstain {
        Some(label) => {
            d.action = DecisionAction::Vote;
            d.choice = Some(label);
            d.rationale.push_str(&format!(
                " {reason} Voted Abstain (decide.unasked = abstain)."
            ));
            crate::digest::Outcome::Abstained
        }
        None => {
            d.action = DecisionAction::Skip;
            d.rationale.push_str(&format!(" {reason}"));
            crate::digest::Outcome::Skipped
        }
    };
    crate::digest::DigestLine {
        proposal: d.proposal.clone(),
        title: d.title.clone(),
        deadline,
        why,
        outcome,
        lean,
        confidence: d.confidence,
        importance: d.importance,
        score,
    }
}

/// A round's line for a decided proposal.
pub fn outcome(d: &Decision, decision_id: i64, cast: Option<String>) -> Outcome {
    Outcome {
        proposal: d.proposal.clone(),
        title: d.title.clone(),
        decision_id,
        action: d.action,
        choice: d.choice.clone(),
        confidence: d.confidence,
        importance: d.importance,
        cast,
        why: d.rationale.clone(),
    }
}

/// When a proposal past its vote executes, in words.
pub fn when_executable(state: ProposalState, eta: Option<u64>) -> String {
    match eta {
        Some(eta) => format!("queued, executable from {}", timestamp(eta)),
        None if state == ProposalState::Queued => "queued".into(),
        None => format!("{}, not yet queued", state.as_str()),
    }
}

fn timestamp(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(|| format!("{secs} (unix time)"), |t| t.to_string())
}

/// Whether the local model `model` judged `d`: its reading is among the evidence, or it failed
/// (an error or an answer in the wrong shape).
pub fn judged_by(d: &Decision, model: &str) -> bool {
    d.evidence
        .iter()
        .any(|e| e.kind == steward_core::EvidenceKind::Model && e.id == model)
        || d.failures.iter().any(|f| match f {
            steward_core::EngineFailure::Generator { model: m, .. }
            | steward_core::EngineFailure::WrongShape { model: m, .. } => m == model,
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::questions::QuestionContext;

    #[test]
    fn only_a_vote_with_a_key_and_a_choice_is_cast() {
        assert_eq!(
            plan(DecisionAction::Vote, Some("For"), true),
            Plan::Cast {
                choice: "For".into()
            }
        );
        assert_eq!(plan(DecisionAction::Vote, Some("For"), false), Plan::NoKey);
        assert_eq!(plan(DecisionAction::Vote, None, true), Plan::NoChoice);
        assert_eq!(plan(DecisionAction::Ask, Some("For"), true), Plan::Ask);
        assert_eq!(plan(DecisionAction::Skip, Some("For"), true), Plan::Skip);
    }

    #[test]
    fn a_decided_vote_is_resumed_until_it_is_settled() {
        use IntentState as S;
        let vote = DecisionAction::Vote;
        let table: &[(&[IntentState], Option<&str>)] = &[
            // Killed between the decision and the intent: never cast.
            (&[], Some("For")),
            // Killed after the intent (reconciled to abandoned), nothing signed.
            (&[S::Abandoned], Some("For")),
            (&[S::Intent], Some("For")),
            // Signed, maybe sent: casting re-sends the stored bytes.
            (&[S::Signed], Some("For")),
            (&[S::Submitted], Some("For")),
            (&[S::Superseded, S::Abandoned], Some("For")),
            (&[S::Confirmed], None),
            (&[S::Abandoned, S::Confirmed], None),
            (&[S::DryRun], None),
            (&[S::Failed], None),
        ];
        for (states, want) in table {
            assert_eq!(
                resume_choice(vote, Some("For"), states),
                *want,
                "{states:?}"
            );
        }
        assert_eq!(resume_choice(DecisionAction::Ask, Some("For"), &[]), None);
        assert_eq!(resume_choice(DecisionAction::Skip, None, &[]), None);
        assert_eq!(resume_choice(vote, None, &[]), None);
    }

    #[test]
    fn todo_is_the_undecided_and_the_alerted() {
        let open = vec!["a", "b", "c", "d"];
        let decided = ["a", "b", "c"];
        let alerts = HashMap::from([("b".to_owned(), Vec::new())]);
        let (todo, unchanged) = select_todo(open, |k| k, |k| decided.contains(k), &alerts);
        assert_eq!(todo, ["b", "d"]);
        assert_eq!(unchanged, 2);
    }

    fn q(proposal: &str, status: QuestionStatus, answer: Option<&str>) -> Question {
        Question {
            id: 1,
            decision_id: 1,
            proposal: proposal.into(),
            created: String::new(),
            deadline: None,
            status,
            answer: answer.map(Into::into),
            reason: None,
            context: QuestionContext::default(),
        }
    }

    #[test]
    fn only_answered_questions_are_cast() {
        let qs = vec![
            q("open", QuestionStatus::Open, None),
            q("answered", QuestionStatus::Answered, Some("For")),
            // An answer left on a superseded or expired question is not the user's word now.
            q("superseded", QuestionStatus::Superseded, Some("Against")),
            q("expired", QuestionStatus::Expired, Some("Against")),
        ];
        assert_eq!(answered(qs), [("answered".to_owned(), "For".to_owned())]);
    }

    #[test]
    fn an_overridden_verdict_is_restated_as_the_policys() {
        let mut r = "Leaning For (41%). So I skip it: it matters little.".to_owned();
        restate_verdict(&mut r, DecisionAction::Skip);
        assert_eq!(
            r,
            "Leaning For (41%). On its own the policy would skip it: it matters little."
        );
        let mut r = "Leaning For. So I ask you: unsure.".to_owned();
        restate_verdict(&mut r, DecisionAction::Ask);
        assert!(
            r.contains("On its own the policy would ask you: unsure."),
            "{r}"
        );
        let mut r = "So I vote: sure.".to_owned();
        restate_verdict(&mut r, DecisionAction::Vote);
        assert_eq!(r, "So I vote: sure.");
    }

    #[test]
    fn execution_time_in_words() {
        assert_eq!(
            when_executable(ProposalState::Queued, Some(0)),
            "queued, executable from 1970-01-01T00:00:00Z"
        );
        assert_eq!(when_executable(ProposalState::Queued, None), "queued");
        assert!(
            when_executable(ProposalState::Succeeded, None).ends_with(", not yet queued"),
            "{}",
            when_executable(ProposalState::Succeeded, None)
        );
    }
}
