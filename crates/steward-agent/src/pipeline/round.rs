//! The stages that touch the store, the chain and the models, and the drivers that chain them.

use std::collections::HashMap;

use steward_core::{Flag, Proposal, Severity, Source};
use steward_ml::Generator;

use super::budget;
use super::stages::{
    self, Decided, Dispatched, Inspected, Plan, QuestionBudget, RoundReport, Synced,
};
use super::{Caster, PipelineError, Result, chain};
use crate::decide::{
    DecideOptions, Engines, ProfileSnapshot, ReadableProposal, decide_with, embed_cached,
    record_decision,
};
use crate::inspect::{InspectOptions, Inspector, changed_flags};
use crate::sources::imap::ImapPassword;
use crate::{CastOrigin, Config, Home, ProposalFilter, Store, StoredProposal};

/// Knobs of one round.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundOptions {
    /// Sync the configured sources first.
    pub sync: bool,
    pub decide: DecideOptions,
}

/// The round before any model is needed: the binary spawns the model worker only when there is
/// something to decide.
#[derive(Debug, Default)]
pub struct Prepared {
    pub synced: Synced,
    pub report: RoundReport,
}

/// One round's shared state: the store, the config, and one inspector for every proposal.
pub struct Pipeline<'a> {
    store: &'a mut Store,
    config: &'a Config,
    inspector: Inspector,
}

impl std::fmt::Debug for Pipeline<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").finish_non_exhaustive()
    }
}

impl<'a> Pipeline<'a> {
    /// Reads the home's ABIs once for the whole round.
    pub fn new(store: &'a mut Store, config: &'a Config, home: &Home) -> Result<Self> {
        Ok(Pipeline {
            inspector: Inspector::for_home(config, home)?,
            store,
            config,
        })
    }

    pub fn store(&mut self) -> &mut Store {
        self.store
    }

    /// Everything up to deciding: reconcile, sync, pin re-checks, the user's answers, and the
    /// proposals to decide.
    pub async fn prepare(
        &mut self,
        caster: &Caster,
        opts: &RoundOptions,
        imap_passwords: &[ImapPassword],
        progress: &mut dyn FnMut(&str),
    ) -> Result<Prepared> {
        let mut r = RoundReport {
            reconciled: caster.reconcile(self.store).await?,
            ..RoundReport::default()
        };
        if opts.sync && super::has_sources(self.config) {
            let s = super::sync_all(self.store, self.config, imap_passwords, progress).await?;
            r.synced = s.ingest.ingested;
            r.errors
                .extend(s.ingest.quarantined.iter().map(ToString::to_string));
            // Bonded mail held because the chain could not be read: said, never delivered.
            r.errors.extend(
                s.ingest
                    .bond_errors
                    .iter()
                    .map(|e| format!("bonds unverified, mail held: {e}")),
            );
        }
        let open = self.store.proposals(&ProposalFilter {
            open_only: true,
            space: None,
            limit: None,
        })?;
        // Code pinned when a proposal was inspected is re-read every round while the vote is
        // open: other code at a target (the Tornado Cash #20 pattern) is an alert, and the
        // proposal is decided again with the critical flag, which asks.
        let alerts = self.recheck_pins(&open, &mut r).await;
        // And again before execution: a vote already cast cannot be taken back, the alert says so.
        self.recheck_before_execution(&mut r).await;
        let open_keys: Vec<String> = open.iter().map(|sp| sp.key.clone()).collect();
        let store = &*self.store;
        let (todo, unchanged) = stages::select_todo(
            open,
            |sp| sp.key.as_str(),
            |sp| {
                store
                    .has_decision_for(&sp.key, &sp.content_hash)
                    .unwrap_or(false)
            },
            &alerts,
        );
        r.unchanged = unchanged;
        let decided: Vec<String> = open_keys
            .into_iter()
            .filter(|k| !todo.iter().any(|sp| &sp.key == k))
            .collect();
        self.resume_votes(caster, &decided, &mut r).await?;
        self.cast_answers(caster, &mut r).await?;
        Ok(Prepared {
            synced: Synced {
                todo,
                unchanged,
                alerts,
            },
            report: r,
        })
    }

    /// Inspect -> decide -> record -> dispatch for every proposal of `prepared`, with one profile
    /// snapshot for the round. One proposal that fails is an error line; the others go on.
    pub async fn decide_all(
        &mut self,
        caster: &Caster,
        prepared: Prepared,
        engines: &mut Engines<'_>,
        opts: &DecideOptions,
    ) -> RoundReport {
        let Prepared { synced, mut report } = prepared;
        if synced.todo.is_empty() {
            return report;
        }
        if let Err(e) = self.embed(&synced.todo, engines) {
            // Each proposal embeds its own texts again and fails alone.
            report
                .errors
                .push(format!("embedding the round's proposals: {}", chain(&e)));
        }
        let profile = match ProfileSnapshot::load(self.store, engines.embedder) {
            Ok(p) => p,
            Err(e) => {
                report
                    .errors
                    .push(format!("loading the profile: {}", chain(&e)));
                return report;
            }
        };
        // Inspect and decide every proposal first: the question budget ranks the round's
        // questions against each other before anything is stored. A crash before the record
        // stage loses only work; the next round decides these proposals again.
        //
        // The local model's judgement is not pooled (`PoolWeights::llm` is 0): it is context for
        // the person who answers. So this pass decides without it, and only the questions the
        // budget asks are judged (below): a round calls the model at most once per question,
        // not once per proposal (1,000 judgements would take over an hour on 2 cores).
        let judging = engines.generator.is_some();
        let mut round: Vec<(StoredProposal, Decided)> = Vec::with_capacity(synced.todo.len());
        let mut kept: Vec<Option<Inspected>> = Vec::with_capacity(synced.todo.len());
        for sp in synced.todo {
            let mut inspected = self.inspect(&sp.proposal, generator(engines)).await;
            if let Some(f) = synced.alerts.get(&sp.key) {
                inspected.flags.extend(f.iter().cloned());
            }
            let keep = judging.then(|| inspected.clone());
            let mut unjudged = Engines {
                embedder: &mut *engines.embedder,
                generator: None,
            };
            match self.decide(
                &sp.key,
                &sp.proposal,
                inspected,
                &profile,
                &mut unjudged,
                opts,
            ) {
                Ok(d) => {
                    round.push((sp, d));
                    kept.push(keep);
                }
                Err(e) => report.errors.push(format!("{}: {}", sp.key, chain(&e))),
            }
        }
        let (triage, budget) = self.triage(&round, engines, &mut report.errors);
        let judged = if judging {
            self.judge_asked(
                &mut round,
                kept,
                &triage,
                &profile,
                engines,
                opts,
                &mut report.errors,
            )
        } else {
            0
        };
        let mut questions = self.apply_budget(&mut round, &triage, budget);
        questions.judged = judged;
        report.questions = Some(questions);
        for (sp, decided) in round {
            let id = match self.record(&decided, &sp.proposal) {
                Ok(id) => id,
                Err(e) => {
                    report.errors.push(format!("{}: {}", sp.key, chain(&e)));
                    continue;
                }
            };
            let dispatched = self.dispatch(caster, &decided).await;
            if let Dispatched::CastFailed(e) = &dispatched {
                report.errors.push(format!("{}: casting: {e}", sp.key));
            }
            report.decided.push(stages::outcome(
                &decided.decision,
                id,
                dispatched.cast_line(),
            ));
            report.digest.extend(decided.digest);
        }
        report
    }

    /// Inspect -> decide -> record for one proposal (`steward decide`), stored or read from a
    /// file. Returns the decision and its id.
    pub async fn decide_one(
        &mut self,
        key: &str,
        p: &Proposal,
        engines: &mut Engines<'_>,
        opts: &DecideOptions,
    ) -> Result<(Decided, i64)> {
        let inspected = self.inspect(p, generator(engines)).await;
        let profile = ProfileSnapshot::load(self.store, engines.embedder).map_err(|source| {
            PipelineError::Decide {
                proposal: key.to_owned(),
                source: Box::new(source),
            }
        })?;
        let d = self.decide(key, p, inspected, &profile, engines, opts)?;
        let id = self.record(&d, p)?;
        Ok((d, id))
    }

    /// Embeds the texts `decide` reads of every proposal of the round, in batches: the embedder
    /// pads a batch longest first, which costs far less than one call per proposal. The vectors
    /// land in the store's cache, where `decide` finds them.
    pub fn embed(&mut self, todo: &[StoredProposal], engines: &mut Engines<'_>) -> Result<()> {
        let texts: Vec<String> = todo
            .iter()
            .flat_map(|sp| {
                let r = ReadableProposal::of(&sp.proposal);
                [r.embed_text(), r.title]
            })
            .collect();
        embed_cached(self.store, engines.embedder, &texts)?;
        Ok(())
    }

    /// Decodes every action and, for a Governor the config follows, reads code, simulates and
    /// pins code hashes through its RPC; binds the description's claims with the model when
    /// there is one. A payload that cannot be checked on chain gets a warning flag, one that
    /// cannot be decoded a critical flag: never a silent pass.
    pub async fn inspect(
        &mut self,
        p: &Proposal,
        generator: Option<&mut dyn Generator>,
    ) -> Inspected {
        if p.actions.is_empty() {
            return Inspected::default();
        }
        let rpc = match &p.source {
            Source::Governor { governor, .. } => {
                self.config.governor(*governor).map(|g| g.rpc.clone())
            }
            _ => None,
        };
        let opts = InspectOptions::default();
        let first = self
            .inspector
            .inspect(Some(self.store), p, rpc.as_deref(), opts)
            .await;
        let (inspection, note) = match first {
            Ok(i) => (Ok(i), None),
            // The chain could not be read: decode at least, and say so.
            Err(e) if rpc.is_some() => (
                self.inspector
                    .inspect(Some(self.store), p, None, opts)
                    .await,
                Some(Flag::new(
                    steward_core::kinds::INSPECTION_FAILED,
                    Severity::Warn,
                    format!("the payload could not be checked on chain: {e}"),
                )),
            ),
            Err(e) => (Err(e), None),
        };
        match inspection {
            Ok(mut i) => {
                if let Some(g) = generator {
                    i.bind_with_model(g);
                }
                let mut flags = i.report.flags.clone();
                flags.extend(note);
                Inspected {
                    flags,
                    payload: stages::payload_words(&i.report, &self.names(p, i.executor)),
                    pins: i.pins,
                }
            }
            Err(e) => Inspected {
                flags: vec![Flag::new(
                    steward_core::kinds::UNKNOWN_CALL,
                    Severity::Critical,
                    format!("the payload could not be decoded: {e}"),
                )],
                ..Inspected::default()
            },
        }
    }

    /// Names for the addresses of `p`'s payload: the user's address book first, then the
    /// proposal's own Governor and the timelock that executes for it.
    fn names(
        &self,
        p: &Proposal,
        executor: Option<steward_core::Address>,
    ) -> steward_core::verification::Names {
        let mut names = self.config.names();
        if let Source::Governor { governor, .. } = &p.source {
            names.insert(*governor, "the DAO's Governor");
            if let Some(e) = executor.filter(|e| e != governor) {
                names.insert(e, "the DAO's timelock");
            }
        }
        names
    }

    /// Decides on `p` over the round's profile snapshot, and builds the question of an `ask`.
    pub fn decide(
        &mut self,
        key: &str,
        p: &Proposal,
        inspected: Inspected,
        profile: &ProfileSnapshot,
        engines: &mut Engines<'_>,
        opts: &DecideOptions,
    ) -> Result<Decided> {
        let err = |source| PipelineError::Decide {
            proposal: key.to_owned(),
            source: Box::new(source),
        };
        let visible = self.store.votes(key).map_err(err)?;
        let d = decide_with(
            self.store,
            engines,
            key,
            p,
            &inspected.flags,
            profile,
            &visible,
            opts,
        )
        .map_err(err)?;
        let discussion = if d.action == steward_core::DecisionAction::Ask {
            self.store.discussion(key).unwrap_or_default()
        } else {
            Vec::new()
        };
        let question = stages::question_for(&d, p, &discussion, inspected.payload.clone());
        Ok(Decided {
            key: key.to_owned(),
            decision: d,
            question,
            payload: inspected.payload,
            digest: None,
        })
    }

    /// The question budget stage, first half: ranks the round's questions (`budget::triage`)
    /// against the budget left today. [`Pipeline::apply_budget`] acts on the ranking.
    pub fn triage(
        &mut self,
        round: &[(StoredProposal, Decided)],
        engines: &mut Engines<'_>,
        errors: &mut Vec<String>,
    ) -> (Vec<budget::Triage>, BudgetState) {
        let cfg = &self.config.decide;
        let now = jiff::Timestamp::now().as_second();
        let opened_today = match self.store.questions_opened_since(now - 24 * 3600) {
            Ok(n) => n,
            Err(e) => {
                // Unknown: spend nothing but critical questions rather than overspend.
                errors.push(format!("counting today's questions: {}", chain(&e)));
                cfg.questions_per_day
            }
        };
        let b = budget::Budget {
            per_round: cfg.questions_per_round,
            per_day: cfg.questions_per_day,
            opened_today,
            ask_to_learn: cfg.ask_to_learn,
        };
        // The embed stage embedded these very titles (sanitized, as `ReadableProposal` has
        // them): cache hits. Without them the spread falls back to title words.
        let titles: Vec<String> = round
            .iter()
            .map(|(sp, _)| steward_core::injection::sanitize(&sp.proposal.title).text)
            .collect();
        let embeddings: HashMap<String, Vec<f32>> =
            match embed_cached(self.store, engines.embedder, &titles) {
                Ok(v) => round.iter().map(|(sp, _)| sp.key.clone()).zip(v).collect(),
                Err(_) => HashMap::new(),
            };
        let similarity = crate::teach::Similarity::new(
            round
                .iter()
                .zip(&titles)
                .map(|((sp, _), t)| (sp.key.as_str(), t.as_str())),
        );
        let candidates: Vec<budget::Candidate> = round
            .iter()
            .map(|(sp, d)| budget::Candidate {
                key: sp.key.clone(),
                action: d.decision.action,
                confidence: d.decision.confidence,
                choices: d.decision.choices.len(),
                importance: d.decision.importance,
                critical: d
                    .decision
                    .flags
                    .iter()
                    .any(|f| f.severity == Severity::Critical),
                deadline: sp.proposal.end,
            })
            .collect();
        let triage = budget::triage(&candidates, b, &similarity, &embeddings, now);
        (
            triage,
            BudgetState {
                budget: b,
                opened_today,
            },
        )
    }

    /// The local model's judgement for the proposals `triage` asks about, so the person who
    /// answers sees it: each such proposal is decided again with the generator, from the same
    /// inspection and profile snapshot (the model is still only asked where something in the
    /// profile bears on the proposal). Returns how many the model judged, or failed to.
    /// `kept[i]` is the inspection of `round[i]`.
    #[allow(clippy::too_many_arguments)]
    pub fn judge_asked(
        &mut self,
        round: &mut [(StoredProposal, Decided)],
        kept: Vec<Option<Inspected>>,
        triage: &[budget::Triage],
        profile: &ProfileSnapshot,
        engines: &mut Engines<'_>,
        opts: &DecideOptions,
        errors: &mut Vec<String>,
    ) -> u32 {
        let Some(model) = engines.generator.as_deref().map(|g| g.info().model) else {
            return 0;
        };
        let mut judged = 0;
        for (((sp, d), t), inspected) in round.iter_mut().zip(triage).zip(kept) {
            let (budget::Triage::Ask { .. }, Some(inspected)) = (t, inspected) else {
                continue;
            };
            match self.decide(&sp.key, &sp.proposal, inspected, profile, engines, opts) {
                Ok(again) => {
                    judged += u32::from(stages::judged_by(&again.decision, &model));
                    *d = again;
                }
                // The unjudged decision stands; the question is still asked.
                Err(e) => errors.push(format!("{}: judging: {}", sp.key, chain(&e))),
            }
        }
        judged
    }

    /// The question budget stage, second half: keeps the questions `triage` allows, opens
    /// questions to learn with what is left, and turns every other unsure decision into a
    /// digest line (skipped, or voted Abstain by config).
    pub fn apply_budget(
        &mut self,
        round: &mut [(StoredProposal, Decided)],
        triage: &[budget::Triage],
        state: BudgetState,
    ) -> QuestionBudget {
        let cfg = &self.config.decide;
        let BudgetState {
            budget: b,
            opened_today,
        } = state;
        let mut report = QuestionBudget {
            per_round: b.per_round,
            per_day: b.per_day,
            opened_today,
            allowed: b.allowed(),
            ..QuestionBudget::default()
        };
        for ((sp, d), t) in round.iter_mut().zip(triage) {
            match *t {
                budget::Triage::Vote => {}
                budget::Triage::Ask {
                    rank,
                    critical,
                    learn,
                    ..
                } => {
                    report.asked += 1;
                    report.critical += u32::from(critical);
                    report.to_learn += u32::from(learn);
                    let why = stages::budget_reason(rank, critical, learn, b);
                    if learn {
                        stages::restate_verdict(&mut d.decision.rationale, d.decision.action);
                        d.decision.action = steward_core::DecisionAction::Ask;
                        let discussion = self.store.discussion(&sp.key).unwrap_or_default();
                        d.question = stages::question_for(
                            &d.decision,
                            &sp.proposal,
                            &discussion,
                            d.payload.clone(),
                        );
                    }
                    d.decision.rationale.push_str(&format!(" {why}"));
                    stages::add_why_asking(d.question.as_mut(), &why);
                }
                budget::Triage::Unasked { why, score } => {
                    report.over_budget += u32::from(why == budget::Unasked::OverBudget);
                    d.digest = Some(stages::unasked(
                        &mut d.decision,
                        sp.proposal.end,
                        why,
                        score,
                        cfg.unasked,
                        b,
                    ));
                    d.question = None;
                }
            }
        }
        report
    }

    /// Stores and audits the decision and opens its question, in one transaction.
    pub fn record(&mut self, d: &Decided, p: &Proposal) -> Result<i64> {
        record_decision(
            self.store,
            &d.decision,
            p,
            d.question.as_ref(),
            d.digest.as_ref(),
        )
        .map_err(|source| PipelineError::Record {
            proposal: d.key.clone(),
            source: Box::new(source),
        })
    }

    /// Casts a `vote` (a dry run until casting is enabled); an `ask` or `skip` is already done.
    pub async fn dispatch(&mut self, caster: &Caster, d: &Decided) -> Dispatched {
        match stages::plan(
            d.decision.action,
            d.decision.choice.as_deref(),
            caster.has_key(),
        ) {
            Plan::Cast { choice } => {
                // The decision is recorded, nothing is cast yet (the soak kills here).
                crate::cast::pause_at("after-decision");
                match caster
                    .cast(self.store, &d.key, &choice, CastOrigin::Agent)
                    .await
                {
                    Ok(o) => Dispatched::Cast(o),
                    Err(e) => Dispatched::CastFailed(chain(&e)),
                }
            }
            Plan::NoKey => Dispatched::NoKey,
            Plan::NoChoice => Dispatched::NoChoice,
            Plan::Ask => Dispatched::Asked,
            Plan::Skip => Dispatched::Skipped,
        }
    }

    /// Re-reads the code of every target pinned for the open Governor proposals of configured
    /// governors; returns the `code-changed` flags by proposal.
    pub async fn recheck_pins(
        &mut self,
        open: &[StoredProposal],
        r: &mut RoundReport,
    ) -> HashMap<String, Vec<Flag>> {
        let mut out = HashMap::new();
        for sp in open {
            let Source::Governor { governor, .. } = &sp.proposal.source else {
                continue;
            };
            let Some(rpc) = self.config.governor(*governor).map(|g| g.rpc.clone()) else {
                continue;
            };
            match self.inspector.recheck(self.store, &sp.key, &rpc).await {
                Ok(pins) => {
                    let flags = changed_flags(&pins);
                    if !flags.is_empty() {
                        for f in &flags {
                            r.alerts
                                .push(format!("{}: {}", sp.proposal.title, f.detail));
                        }
                        out.insert(sp.key.clone(), flags);
                    }
                }
                Err(e) => r.errors.push(format!(
                    "{}: re-checking pinned code: {}",
                    sp.key,
                    chain(&e)
                )),
            }
        }
        out
    }

    /// Re-reads the pinned code of Governor proposals past their vote that can still execute;
    /// other code is an alert naming when the proposal executes.
    pub async fn recheck_before_execution(&mut self, r: &mut RoundReport) {
        let config = self.config;
        let rpc_for = |governor| config.governor(governor).map(|g| g.rpc.clone());
        match self
            .inspector
            .recheck_before_execution(self.store, &rpc_for)
            .await
        {
            Ok(checked) => {
                for c in checked {
                    if let Some(n) = &c.note {
                        r.errors.push(format!("{}: reading its state: {n}", c.key));
                    }
                    let when = stages::when_executable(c.state, c.eta);
                    for f in changed_flags(&c.pins) {
                        r.alerts.push(format!(
                            "{} ({when}): {}; the vote is over, so stop it before execution (cancel, veto or guardian)",
                            c.title, f.detail
                        ));
                    }
                }
            }
            Err(e) => r.errors.push(format!(
                "re-checking pinned code before execution: {}",
                chain(&e)
            )),
        }
    }

    /// The notify stage: open questions reach the user outside the desk (a notice when opened,
    /// reminders before the deadline), each step once per channel. Runs last, so the questions
    /// this round opened are in it; `now` is unix seconds (a test's clock).
    pub async fn notify(
        &mut self,
        notifier: &crate::notify::Notifier,
        now: i64,
        r: &mut RoundReport,
    ) {
        let n = notifier.round(self.store, now).await;
        r.notices.extend(n.sent);
        r.errors.extend(n.errors);
    }

    /// Casts the votes decided in an earlier round whose cast never finished (`stages::
    /// resume_choice`): a crash between recording the decision and the cast, or after the
    /// intent, would otherwise leave a decided vote uncast for good, since the proposal is not
    /// decided again; a signed vote cut off mid-send is re-sent as stored. `decided`: open
    /// proposals whose current content has a decision.
    pub async fn resume_votes(
        &mut self,
        caster: &Caster,
        decided: &[String],
        r: &mut RoundReport,
    ) -> Result<()> {
        if !caster.has_key() {
            return Ok(());
        }
        for key in decided {
            let Some((_, d)) = self.store.latest_decision(key)? else {
                continue;
            };
            let states: Vec<crate::IntentState> = self
                .store
                .cast_intents(Some(key))?
                .iter()
                .map(|i| i.state)
                .collect();
            let Some(choice) = stages::resume_choice(d.action, d.choice.as_deref(), &states) else {
                continue;
            };
            match caster
                .cast(self.store, key, choice, CastOrigin::Agent)
                .await
            {
                Ok(c) => r
                    .resumed
                    .push(format!("{choice} on {key}: {}", super::describe(&c))),
                // Someone else's vote by this key: said once; the failed intent it left
                // settles the proposal for later rounds.
                Err(PipelineError::Cast { source, .. })
                    if matches!(*source, crate::Error::AlreadyVoted { .. }) =>
                {
                    r.resumed
                        .push(format!("{choice} on {key}: not sent: {source}"));
                }
                Err(e) => r
                    .errors
                    .push(format!("{key}: casting the decided vote: {}", chain(&e))),
            }
        }
        Ok(())
    }

    /// Casts the answers the user gave to questions on proposals still open, once each.
    pub async fn cast_answers(&mut self, caster: &Caster, r: &mut RoundReport) -> Result<()> {
        for (key, choice) in stages::answered(self.store.questions(true, 0)?) {
            let open = self
                .store
                .proposal(&key)?
                .is_some_and(|sp| sp.proposal.state.is_open());
            if !open || !caster.has_key() || Caster::already(self.store, &key)? {
                continue;
            }
            match caster
                .cast(self.store, &key, &choice, CastOrigin::User)
                .await
            {
                Ok(c) => r
                    .answers_cast
                    .push(format!("{choice} on {key}: {}", super::describe(&c))),
                Err(e) => r
                    .errors
                    .push(format!("{key}: casting your answer: {}", chain(&e))),
            }
        }
        Ok(())
    }
}

/// The engines' generator, reborrowed for one stage.
fn generator<'e>(engines: &'e mut Engines<'_>) -> Option<&'e mut dyn Generator> {
    match engines.generator.as_mut() {
        Some(g) => Some(&mut **g),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use steward_core::{Action, Address, Bytes, ProposalState, Source, U256, VotingType, kinds};

    use super::*;
    use crate::{GovernorConfig, Passphrase};

    /// A Governor proposal paying 1 token with an ERC-20 `transfer`.
    fn proposal(governor: Address) -> Proposal {
        let to = "00000000000000000000000000000000000000000000000000000000000a0d17";
        let amount = "0000000000000000000000000000000000000000000000000de0b6b3a7640000";
        let calldata: Bytes = format!("0xa9059cbb{to}{amount}").parse().expect("calldata");
        Proposal {
            source: Source::Governor {
                chain_id: 31_337,
                governor,
            },
            id: "1".into(),
            title: "Pay the auditors".into(),
            body: "Pays 1 token to the auditors.".into(),
            choices: vec!["For".into(), "Against".into(), "Abstain".into()],
            voting: VotingType::Basic,
            created: None,
            start: None,
            end: None,
            snapshot: None,
            author: None,
            discussion: None,
            state: ProposalState::Active,
            actions: vec![Action {
                target: Address::repeat_byte(0x70),
                value: U256::ZERO,
                signature: String::new(),
                calldata,
            }],
            flags: Vec::new(),
        }
    }

    // The decision core never votes on a proposal flagged `inspection-failed`; the pipeline's
    // inspect stage must raise exactly that kind when the chain cannot be read.
    #[tokio::test(flavor = "current_thread")]
    async fn a_payload_the_chain_cannot_check_is_flagged_inspection_failed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::create(&dir.path().join("home")).expect("home");
        let mut store =
            Store::create(&home, &Passphrase::new("pw".into()).expect("pass")).expect("store");
        // A loopback port nothing listens on: the RPC refuses at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let governor = Address::repeat_byte(0x60);
        let mut cfg = Config::default();
        cfg.governors.push(GovernorConfig {
            rpc: format!("http://127.0.0.1:{port}"),
            address: format!("{governor:#x}"),
            from_block: 0,
        });
        let mut pipeline = Pipeline::new(&mut store, &cfg, &home).expect("pipeline");
        let got = pipeline.inspect(&proposal(governor), None).await;
        let failed: Vec<&Flag> = got
            .flags
            .iter()
            .filter(|f| f.kind == kinds::INSPECTION_FAILED)
            .collect();
        assert_eq!(failed.len(), 1, "{:?}", got.flags);
        assert_eq!(failed[0].severity, Severity::Warn);
        // Decoded all the same, for the question.
        assert!(
            got.payload.iter().any(|w| w.contains("transfer")),
            "{:?}",
            got.payload
        );
    }
}

/// The budget a round's triage ran against, for [`Pipeline::apply_budget`].
#[derive(Debug, Clone, Copy)]
pub struct BudgetState {
    pub budget: budget::Budget,
    /// Questions opened in the 24 hours before the round.
    pub opened_today: u32,
}
