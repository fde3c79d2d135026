//! `steward run [--watch]`: sync -> decide -> ask or vote, once or as a loop.
//!
//! Each open proposal is decided once per content (a changed proposal is decided again). A
//! decision to vote is handed to casting, which is a dry run until `casting.enabled` is set; an
//! `ask` opens a question; a `skip` is recorded. Ctrl-C stops the loop between steps.

use std::collections::HashMap;
use std::fmt::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use steward_agent::decide::{DecideOptions, Engines, decide, record_decision, verify_payload_with};
use steward_agent::questions::{plain_payload, question_context};
use steward_agent::{CastOrigin, ProposalFilter, Store};
use steward_core::DecisionAction;
use steward_ml::Generator;

use crate::ctx::Ctx;
use crate::output::Output;

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Keep going: sync and decide again every --interval seconds until Ctrl-C
    #[arg(long)]
    pub(crate) watch: bool,
    /// Seconds between rounds with --watch
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub(crate) interval: u64,
    /// Decide on what is stored without syncing first
    #[arg(long)]
    pub(crate) no_sync: bool,
    /// Leave the local generation model out of decisions
    #[arg(long)]
    pub(crate) no_llm: bool,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Round {
    pub(crate) synced: u64,
    /// Intents a crash left half-done, finished before anything else.
    pub(crate) reconciled: usize,
    pub(crate) decided: Vec<Outcome>,
    /// The user's answers cast in this round.
    pub(crate) answers_cast: Vec<String>,
    /// Code at a pinned target changed since it was inspected (critical).
    pub(crate) alerts: Vec<String>,
    pub(crate) unchanged: usize,
    pub(crate) errors: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Outcome {
    pub(crate) proposal: String,
    pub(crate) title: String,
    pub(crate) decision_id: i64,
    pub(crate) action: DecisionAction,
    pub(crate) choice: Option<String>,
    pub(crate) confidence: f64,
    pub(crate) importance: f64,
    /// What happened to a `vote`: `dry-run` until casting is enabled.
    pub(crate) cast: Option<String>,
    pub(crate) why: String,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, args: &RunArgs) -> Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A second Ctrl-C falls through to the default handler.
        let _ = ctrlc_flag(stop);
    }
    loop {
        let round = round(ctx, args)?;
        out.result(&round, || render(&round));
        if !args.watch {
            return Ok(ExitCode::SUCCESS);
        }
        let until = Instant::now() + Duration::from_secs(args.interval);
        while Instant::now() < until {
            if stop.load(Ordering::Relaxed) {
                // Interrupted between rounds: nothing is half-done.
                return Ok(ExitCode::SUCCESS);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// One round: sync, then decide on every open proposal not decided in its current content.
pub(crate) fn round(ctx: &Ctx, args: &RunArgs) -> Result<Round> {
    round_with(ctx, args, None)
}

/// [`round`] with the keystore password given instead of read from env or a prompt.
pub(crate) fn round_with(
    ctx: &Ctx,
    args: &RunArgs,
    password: Option<steward_eth::KeystorePassword>,
) -> Result<Round> {
    let (home, mut store) = ctx.open_store()?;
    let cfg = ctx.config(&home)?;
    let mut r = Round::default();
    let caster = match password {
        Some(p) => crate::cmd::casting::Caster::with_password(&home, &cfg, Some(p))?,
        None => crate::cmd::casting::Caster::new(&home, &cfg)?,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    r.reconciled = rt.block_on(caster.reconcile(&mut store))?;
    let has_sources =
        !(cfg.snapshot.spaces.is_empty() && cfg.governors.is_empty() && cfg.imap.is_empty());
    if !args.no_sync && has_sources {
        let (ingest, _discussions) = crate::cmd::sync::sync_all(&mut store, &cfg)?;
        r.synced = ingest.ingested;
        r.errors
            .extend(ingest.quarantined.iter().map(ToString::to_string));
    }
    let open = store.proposals(&ProposalFilter {
        open_only: true,
        space: None,
        limit: None,
    })?;
    // Code pinned when a proposal was inspected is re-read every round while the vote is open:
    // other code at a target (the Tornado Cash #20 pattern) is an alert, and the proposal is
    // decided again with the critical flag, which asks.
    let alerts = recheck_pins(&rt, &mut store, &cfg, &home, &open, &mut r);
    // And again before execution: proposals whose vote passed and that are queued (timelock
    // eta) or about to be. A vote already cast cannot be taken back: the alert says so.
    recheck_before_execution(&rt, &mut store, &cfg, &home, &mut r);
    let todo: Vec<_> = open
        .into_iter()
        .filter(|sp| {
            alerts.contains_key(&sp.key)
                || !store
                    .has_decision_for(&sp.key, &sp.content_hash)
                    .unwrap_or(false)
        })
        .collect();
    r.unchanged = store
        .proposals(&ProposalFilter {
            open_only: true,
            space: None,
            limit: None,
        })?
        .len()
        - todo.len();
    cast_answers(&rt, &caster, &mut store, &mut r)?;
    if todo.is_empty() {
        return Ok(r);
    }
    let worker = crate::cmd::model::spawn_worker(&crate::cmd::model::models_dir(ctx)?)?;
    let shared = worker.shared();
    let mut embedder = shared.clone();
    let mut generator = shared;
    let use_llm = cfg.decide.use_llm && !args.no_llm;
    let opts = DecideOptions {
        policy: cfg.decide.policy(),
        seed: 0,
    };
    for sp in todo {
        let mut verified = rt.block_on(verify_payload_with(
            &mut store,
            &cfg,
            &home,
            &sp.proposal,
            use_llm.then_some(&mut generator as &mut dyn Generator),
        ));
        let mut engines = Engines {
            embedder: &mut embedder,
            generator: use_llm.then_some(&mut generator as &mut dyn Generator),
        };
        if let Some(f) = alerts.get(&sp.key) {
            verified.0.extend(f.iter().cloned());
        }
        match decide_one(&mut store, &mut engines, &sp, verified, &opts) {
            Ok(mut o) => {
                // Only a `vote` is ever cast by the agent; `ask` waits for the user's answer.
                if o.action == DecisionAction::Vote && !caster.has_key() {
                    o.cast =
                        Some("not cast: no signing key (`steward key new` or `key import`)".into());
                } else if o.action == DecisionAction::Vote
                    && let Some(choice) = o.choice.clone()
                {
                    o.cast = Some(
                        match rt.block_on(caster.cast(
                            &mut store,
                            &sp.key,
                            &choice,
                            CastOrigin::Agent,
                        )) {
                            Ok(c) => crate::cmd::casting::describe(&c),
                            Err(e) => {
                                r.errors.push(format!("{}: casting: {e:#}", sp.key));
                                format!("not cast: {e:#}")
                            }
                        },
                    );
                }
                r.decided.push(o);
            }
            // One proposal that fails to decide never stops the others.
            Err(e) => r.errors.push(format!("{}: {e:#}", sp.key)),
        }
    }
    Ok(r)
}

fn decide_one(
    store: &mut Store,
    engines: &mut Engines<'_>,
    sp: &steward_agent::StoredProposal,
    (flags, payload): (Vec<steward_core::Flag>, Vec<String>),
    opts: &DecideOptions,
) -> Result<Outcome> {
    let p = &sp.proposal;
    let d = decide(store, engines, &sp.key, p, &flags, opts)
        .with_context(|| format!("while deciding on {}", sp.key))?;
    let question = (d.action == DecisionAction::Ask).then(|| {
        let discussion = store.discussion(&sp.key).unwrap_or_default();
        let payload = if payload.is_empty() {
            plain_payload(p)
        } else {
            payload
        };
        serde_json::to_value(question_context(&d, p, &discussion, payload)).unwrap_or_default()
    });
    let id = record_decision(store, &d, p, question.as_ref())?;
    Ok(Outcome {
        proposal: sp.key.clone(),
        title: d.title.clone(),
        decision_id: id,
        action: d.action,
        choice: d.choice.clone(),
        confidence: d.confidence,
        importance: d.importance,
        cast: None,
        why: d.rationale.clone(),
    })
}

/// Re-reads the code of every target pinned for the open Governor proposals of configured
/// governors; returns the `code-changed` flags by proposal.
fn recheck_pins(
    rt: &tokio::runtime::Runtime,
    store: &mut Store,
    cfg: &steward_agent::Config,
    home: &steward_agent::Home,
    open: &[steward_agent::StoredProposal],
    r: &mut Round,
) -> HashMap<String, Vec<steward_core::Flag>> {
    let mut out = HashMap::new();
    let inspector = match steward_agent::inspect::Inspector::for_home(cfg, home) {
        Ok(i) => i,
        Err(e) => {
            r.errors.push(format!("re-checking pinned code: {e:#}"));
            return out;
        }
    };
    for sp in open {
        let steward_core::Source::Governor { governor, .. } = &sp.proposal.source else {
            continue;
        };
        let Some(rpc) = cfg.governor(*governor).map(|g| g.rpc.clone()) else {
            continue;
        };
        match rt.block_on(inspector.recheck(store, &sp.key, &rpc)) {
            Ok(pins) => {
                let flags = steward_agent::inspect::changed_flags(&pins);
                if !flags.is_empty() {
                    for f in &flags {
                        r.alerts
                            .push(format!("{}: {}", sp.proposal.title, f.detail));
                    }
                    out.insert(sp.key.clone(), flags);
                }
            }
            Err(e) => r
                .errors
                .push(format!("{}: re-checking pinned code: {e:#}", sp.key)),
        }
    }
    out
}

/// Re-reads the pinned code of Governor proposals past their vote that can still execute;
/// other code is an alert naming when the proposal executes.
fn recheck_before_execution(
    rt: &tokio::runtime::Runtime,
    store: &mut Store,
    cfg: &steward_agent::Config,
    home: &steward_agent::Home,
    r: &mut Round,
) {
    let inspector = match steward_agent::inspect::Inspector::for_home(cfg, home) {
        Ok(i) => i,
        Err(e) => {
            r.errors
                .push(format!("re-checking pinned code before execution: {e:#}"));
            return;
        }
    };
    let rpc_for = |governor| cfg.governor(governor).map(|g| g.rpc.clone());
    match rt.block_on(inspector.recheck_before_execution(store, &rpc_for)) {
        Ok(checked) => {
            for c in checked {
                if let Some(n) = &c.note {
                    r.errors.push(format!("{}: reading its state: {n}", c.key));
                }
                let when = match c.eta {
                    Some(eta) => format!("queued, executable from {}", timestamp(eta)),
                    None if c.state == steward_core::ProposalState::Queued => "queued".into(),
                    None => format!("{}, not yet queued", c.state.as_str()),
                };
                for f in steward_agent::inspect::changed_flags(&c.pins) {
                    r.alerts.push(format!(
                        "{} ({when}): {}; the vote is over, so stop it before execution (cancel, veto or guardian)",
                        c.title, f.detail
                    ));
                }
            }
        }
        Err(e) => r
            .errors
            .push(format!("re-checking pinned code before execution: {e:#}")),
    }
}

fn timestamp(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(|| format!("{secs} (unix time)"), |t| t.to_string())
}

/// Casts the answers the user gave to questions on proposals still open, once each.
fn cast_answers(
    rt: &tokio::runtime::Runtime,
    caster: &crate::cmd::casting::Caster,
    store: &mut Store,
    r: &mut Round,
) -> Result<()> {
    let answered: Vec<(String, String)> = store
        .questions(true, 0)?
        .into_iter()
        .filter(|q| q.status == "answered")
        .filter_map(|q| q.answer.map(|a| (q.proposal, a)))
        .collect();
    for (key, choice) in answered {
        let open = store
            .proposal(&key)?
            .is_some_and(|sp| sp.proposal.state.is_open());
        if !open || !caster.has_key() || crate::cmd::casting::Caster::already(store, &key)? {
            continue;
        }
        match rt.block_on(caster.cast(store, &key, &choice, CastOrigin::User)) {
            Ok(c) => r.answers_cast.push(format!(
                "{choice} on {key}: {}",
                crate::cmd::casting::describe(&c)
            )),
            Err(e) => r.errors.push(format!("{key}: casting your answer: {e:#}")),
        }
    }
    Ok(())
}

pub(crate) fn render(r: &Round) -> String {
    let mut s = String::new();
    if r.synced > 0 {
        let _ = writeln!(s, "synced {} new proposal(s)", r.synced);
    }
    if r.reconciled > 0 {
        let _ = writeln!(
            s,
            "finished {} vote(s) a crash had left half-done",
            r.reconciled
        );
    }
    for a in &r.alerts {
        let _ = writeln!(s, "ALERT  {a}");
    }
    for a in &r.answers_cast {
        let _ = writeln!(s, "YOUR ANSWER  {a}");
    }
    for o in &r.decided {
        let verb = match o.action {
            DecisionAction::Vote => format!(
                "VOTE {} ({})",
                o.choice.as_deref().unwrap_or("-"),
                o.cast.as_deref().unwrap_or("")
            ),
            DecisionAction::Ask => format!("ASK  (leaning {})", o.choice.as_deref().unwrap_or("-")),
            DecisionAction::Skip => "SKIP".to_owned(),
        };
        let _ = writeln!(
            s,
            "{verb}  {}  [confidence {:.2}, importance {:.2}]\n    {}",
            o.title, o.confidence, o.importance, o.why
        );
    }
    if r.decided.is_empty() {
        let _ = writeln!(
            s,
            "nothing new to decide ({} open proposal(s) unchanged)",
            r.unchanged
        );
    }
    for e in &r.errors {
        let _ = writeln!(s, "  error: {e}");
    }
    s.trim_end().to_owned()
}

/// Sets `flag` on SIGINT/SIGTERM, from a small thread with its own runtime.
fn ctrlc_flag(flag: Arc<AtomicBool>) -> Result<()> {
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let _ = tokio::signal::ctrl_c().await;
            });
            flag.store(true, Ordering::Relaxed);
        })
        .context("starting the signal thread")?;
    Ok(())
}
