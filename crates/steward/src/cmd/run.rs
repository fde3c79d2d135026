//! `steward run [--watch]`: sync -> decide -> ask or vote, once or as a loop.
//!
//! Each open proposal is decided once per content (a changed proposal is decided again). A
//! decision to vote is handed to casting, which is a dry run until `casting.enabled` is set; an
//! `ask` opens a question; a `skip` is recorded. Ctrl-C stops the loop between steps.

use std::fmt::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use steward_agent::decide::{DecideOptions, Engines};
use steward_agent::digest::Outcome;
use steward_agent::notify::Notifier;
use steward_agent::pipeline::has_sources;
use steward_agent::{Caster, Network, Pipeline, RoundOptions, RoundReport};
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

pub(crate) type Round = RoundReport;

pub(crate) fn run(ctx: &Ctx, out: &Output, args: &RunArgs) -> Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A second Ctrl-C falls through to the default handler.
        let _ = ctrlc_flag(stop);
    }
    // `bonds.forfeit`: the key is opened once, before the first round (a prompt, if any, now).
    let forfeiter = if args.watch {
        crate::cmd::bond::Forfeiter::from_ctx(ctx)?
    } else {
        None
    };
    // `bonds.auto_reply`: the same, for the key that answers bonded mail.
    let auto_replier = if args.watch {
        crate::cmd::bond::AutoReplier::from_ctx(ctx)?
    } else {
        None
    };
    // `market.auto`: the keystore password is read once, before the first round.
    let trader = if args.watch {
        crate::cmd::market::AutoTrader::from_ctx(ctx, args.no_llm)?
    } else {
        None
    };
    loop {
        let mut round = round(ctx, args)?;
        if let Some(f) = &forfeiter {
            f.round(&mut round);
        }
        if let Some(a) = &auto_replier {
            a.round(ctx, &mut round);
        }
        if let Some(t) = &trader {
            t.round(ctx, &mut round);
        }
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

/// [`round`] with the keystore password given instead of read from env or a prompt. The round
/// itself is `steward_agent::pipeline`; this spawns the model worker when there is something to
/// decide.
pub(crate) fn round_with(
    ctx: &Ctx,
    args: &RunArgs,
    password: Option<steward_eth::KeystorePassword>,
) -> Result<Round> {
    let (home, mut store) = ctx.open_store()?;
    let cfg = ctx.config(&home)?;
    let caster = match password {
        Some(p) => Caster::new(&home, &cfg, Some(p))?,
        None => crate::cmd::casting::caster(&home, &cfg)?,
    };
    let opts = RoundOptions {
        sync: !args.no_sync,
        decide: DecideOptions {
            policy: cfg.decide.policy(),
            seed: 0,
        },
    };
    let imap_passwords = if opts.sync && has_sources(&cfg) {
        crate::cmd::sync::imap_passwords(&cfg)?
    } else {
        Vec::new()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut pipeline = Pipeline::new(&mut store, &cfg, &home)?;
    let prepared = {
        let progress = crate::cmd::sync::Progress::new();
        rt.block_on(pipeline.prepare(&caster, &opts, &imap_passwords, &mut |m| {
            progress.show(m);
        }))?
    };
    let notifier = notifier(&cfg);
    let mut report = if prepared.synced.todo.is_empty() {
        prepared.report
    } else {
        decide(
            ctx,
            args,
            &cfg,
            &rt,
            &mut pipeline,
            &caster,
            prepared,
            &opts,
        )?
    };
    // Last, so questions this round opened are sent in it.
    match notifier {
        Ok(Some(n)) => {
            let now = jiff::Timestamp::now().as_second();
            rt.block_on(pipeline.notify(&n, now, &mut report));
        }
        Ok(None) => {}
        Err(e) => report.errors.push(format!(
            "notices not sent: {}",
            steward_agent::pipeline::chain(&e)
        )),
    }
    Ok(report)
}

/// The configured notify channels (none by default); the mail password comes from its variable.
pub(crate) fn notifier(
    cfg: &steward_agent::Config,
) -> Result<Option<Notifier>, steward_agent::notify::NotifyError> {
    let net = Network::from_config(cfg)
        .map_err(|e| steward_agent::notify::NotifyError::Config(e.to_string()))?;
    Notifier::from_config(cfg, &net, &|var| Ctx::getenv(var))
}

/// Spawns the model worker and decides on every proposal of `prepared`.
#[allow(clippy::too_many_arguments)]
fn decide(
    ctx: &Ctx,
    args: &RunArgs,
    cfg: &steward_agent::Config,
    rt: &tokio::runtime::Runtime,
    pipeline: &mut Pipeline<'_>,
    caster: &Caster,
    prepared: steward_agent::pipeline::Prepared,
    opts: &RoundOptions,
) -> Result<Round> {
    let worker = crate::cmd::model::spawn_worker(&crate::cmd::model::models_dir(ctx)?)?;
    let shared = worker.shared();
    let mut embedder = shared.clone();
    let mut generator = shared;
    let use_llm = cfg.decide.use_llm && !args.no_llm;
    let mut engines = Engines {
        embedder: &mut embedder,
        generator: use_llm.then_some(&mut generator as &mut dyn Generator),
    };
    Ok(rt.block_on(pipeline.decide_all(caster, prepared, &mut engines, &opts.decide)))
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
    for n in &r.notices {
        let _ = writeln!(s, "NOTICE  {n}");
    }
    for a in &r.answers_cast {
        let _ = writeln!(s, "YOUR ANSWER  {a}");
    }
    for a in &r.resumed {
        let _ = writeln!(s, "DECIDED EARLIER, CAST NOW  {a}");
    }
    let in_digest: std::collections::HashSet<&str> =
        r.digest.iter().map(|l| l.proposal.as_str()).collect();
    for o in &r.decided {
        // A skip in the digest is one line there, not a paragraph here.
        if o.action == DecisionAction::Skip && in_digest.contains(o.proposal.as_str()) {
            continue;
        }
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
    if let Some(q) = &r.questions {
        let _ = writeln!(
            s,
            "asked {} question(s){} of the {} this round allows ({} a round, {} a day, {} asked in the last 24 h before it)",
            q.asked,
            if q.critical > 0 {
                format!(" ({} critical, asked whatever the budget)", q.critical)
            } else {
                String::new()
            },
            q.allowed,
            q.per_round,
            q.per_day,
            q.opened_today
        );
        if q.judged > 0 {
            let _ = writeln!(
                s,
                "the local model read {} of them (only asked questions are read: its reading is shown to you, not pooled into votes)",
                q.judged
            );
        }
    }
    if !r.digest.is_empty() {
        let _ = writeln!(
            s,
            "DIGEST  {} proposal(s) neither voted nor asked:",
            r.digest.len()
        );
        let now = jiff::Timestamp::now().as_second();
        for l in &r.digest {
            let ends = l
                .deadline
                .map_or_else(String::new, |d| format!(", {}", time_left(d - now)));
            let _ = writeln!(
                s,
                "  - {}  [{}{}, leaning {} {:.2}{ends}]",
                l.title,
                l.why.words(),
                if l.outcome == Outcome::Abstained {
                    ", voted Abstain"
                } else {
                    ""
                },
                l.lean.as_deref().unwrap_or("-"),
                l.confidence
            );
        }
    }
    if r.decided.is_empty() {
        let _ = writeln!(
            s,
            "nothing new to decide ({} open proposal(s) unchanged)",
            r.unchanged
        );
    }
    for f in &r.forfeited {
        match (&f.tx, &f.error) {
            (Some(tx), _) => {
                let _ = writeln!(
                    s,
                    "FORFEITED  unanswered bond {} to you (tx {})",
                    f.message_id, tx.tx
                );
            }
            (None, e) => {
                let _ = writeln!(
                    s,
                    "  error: forfeiting bond {}: {}",
                    f.message_id,
                    e.as_deref().unwrap_or("?")
                );
            }
        }
    }
    for a in &r.auto_replied {
        if a.state == "replied" {
            let _ = writeln!(
                s,
                "AUTO-REPLIED  {} ({}), bond refunded (tx {})",
                a.sender,
                a.rule,
                a.tx.as_deref().unwrap_or("earlier")
            );
        }
    }
    for l in &r.market {
        match (&l.trade, &l.error) {
            (Some(t), _) => {
                let _ = writeln!(
                    s,
                    "MARKET  input {} traded for {} (tx {}): {}",
                    l.input, t.cost, t.tx, t.why
                );
            }
            (None, Some(e)) => {
                let _ = writeln!(s, "  error: market input {}: {e}", l.input);
            }
            (None, None) => {}
        }
    }
    for e in &r.errors {
        let _ = writeln!(s, "  error: {e}");
    }
    s.trim_end().to_owned()
}

/// Time left to a deadline, in a word or two.
fn time_left(secs: i64) -> String {
    match secs {
        ..=0 => "ended".to_owned(),
        1..3_600 => "ends within the hour".to_owned(),
        3_600..172_800 => format!("ends in {} h", secs / 3_600),
        _ => format!("ends in {} days", secs / 86_400),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use steward_agent::digest::{DigestLine, Unasked};
    use steward_agent::pipeline::QuestionBudget;

    #[test]
    fn a_digest_skip_is_one_line_and_the_budget_is_said() {
        let now = jiff::Timestamp::now().as_second();
        let mut r = RoundReport {
            questions: Some(QuestionBudget {
                per_round: 10,
                per_day: 10,
                allowed: 10,
                asked: 1,
                critical: 1,
                ..QuestionBudget::default()
            }),
            ..RoundReport::default()
        };
        r.decided.push(steward_agent::pipeline::Outcome {
            proposal: "p1".into(),
            title: "Grants batch 7".into(),
            decision_id: 1,
            action: DecisionAction::Skip,
            choice: Some("For".into()),
            confidence: 0.6,
            importance: 0.2,
            cast: None,
            why: "a long rationale".into(),
        });
        r.digest.push(DigestLine {
            proposal: "p1".into(),
            title: "Grants batch 7".into(),
            deadline: Some(now + 3 * 86_400 + 60),
            why: Unasked::PolicySkip,
            outcome: Outcome::Skipped,
            lean: Some("For".into()),
            confidence: 0.6,
            importance: 0.2,
            score: 0.3,
        });
        let text = render(&r);
        assert!(!text.contains("a long rationale"), "{text}");
        assert!(text.contains("DIGEST  1 proposal(s)"), "{text}");
        assert!(
            text.contains(
                "  - Grants batch 7  [unsure, low importance, leaning For 0.60, ends in 3 days]"
            ),
            "{text}"
        );
        assert!(text.contains("asked 1 question(s) (1 critical"), "{text}");
        assert_eq!(time_left(-5), "ended");
        assert_eq!(time_left(7_200), "ends in 2 h");
    }
}
