//! `steward eval votes`: score the decision path on real votes (docs/eval.md).

use std::fmt::Write as _;
use std::io::{BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use steward_agent::{
    EvalEngines, EvalMode, EvalOptions, EvalReport, eval_ask_curve, eval_votes_with,
};
use steward_core::{Judgement, ModelConfig};
use steward_ml::Embedder;

use crate::ctx::Ctx;
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum EvalCommand {
    /// Predict held-out votes of real voters and score the predictions
    Votes(VotesArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Mode {
    /// No vote on a test proposal is visible
    Blind,
    /// Every other voter's final vote on the test proposal is visible (as if the vote had
    /// closed: an optimistic upper bound; `live` is the old name)
    #[value(alias = "live")]
    FinalTallies,
    /// Only votes cast before the voter's own vote on the proposal are visible (needs a
    /// `timestamp` column)
    Replay,
}

#[derive(Debug, Args)]
pub(crate) struct VotesArgs {
    /// Votes to learn from (votes.csv schema; proposals.csv beside it is read when present)
    #[arg(long, value_name = "FILE")]
    pub(crate) train: std::path::PathBuf,
    /// Votes to predict; without it each voter's votes are split in time by order_rank.
    /// Without a `choice` column the run only predicts
    #[arg(long, value_name = "FILE")]
    pub(crate) test: Option<std::path::PathBuf>,
    /// Share of each voter's votes, oldest first, used for training (without --test)
    #[arg(long, default_value_t = 0.7)]
    pub(crate) split: f64,
    /// Only voters with at least this many votes are evaluated (the rest are peers)
    #[arg(long, default_value_t = 20)]
    pub(crate) min_votes: usize,
    /// Whether other voters' votes on the test proposal are visible
    #[arg(long, value_enum, default_value_t = Mode::Blind)]
    pub(crate) mode: Mode,
    /// Write one JSON line per test row: {voter, proposal_id, choice, probabilities, confidence, action}
    #[arg(long, value_name = "FILE")]
    pub(crate) predictions: Option<std::path::PathBuf>,
    /// Confidence at or above which the voter model alone would vote (its comparison figures;
    /// the decision path uses decide's policy)
    #[arg(long, default_value_t = 0.9)]
    pub(crate) threshold: f64,
    /// The policy's confidence needed to vote on the least important proposal (decide reads
    /// `decide.min_confidence_low`; the default is the same)
    #[arg(long, value_name = "P", default_value_t = steward_core::Policy::default().min_confidence_low)]
    pub(crate) min_confidence_low: f64,
    /// The policy's confidence needed to vote on the most important proposal
    /// (`decide.min_confidence_high`)
    #[arg(long, value_name = "P", default_value_t = steward_core::Policy::default().min_confidence_high)]
    pub(crate) min_confidence_high: f64,
    /// Ask instead of voting when at least this share of the visible votes (3 or more) rejects
    /// a proposal the decision leans to pass (`decide.dissent_share`; 0 turns it off)
    #[arg(long, value_name = "S", default_value_t = steward_core::Policy::default().dissent_share)]
    pub(crate) dissent_share: f64,
    /// Embed titles with the local MiniLM model (else TF-IDF title similarity)
    #[arg(long)]
    pub(crate) embed: bool,
    /// Statements and writing per voter (CSV: voter, kind, text); needs --embed
    #[arg(long, value_name = "FILE")]
    pub(crate) profile: Option<std::path::PathBuf>,
    /// Ask the local model for its judgement on each row, as decide does (slow: see --limit)
    #[arg(long)]
    pub(crate) llm: bool,
    /// Pooling weight of the local model's judgement (default: the decision path's)
    #[arg(long, value_name = "W")]
    pub(crate) llm_weight: Option<f64>,
    /// Replay: only votes cast at least this many hours before the proposal's end are visible
    #[arg(long, value_name = "HOURS")]
    pub(crate) before_end: Option<f64>,
    /// Final tallies: show each other vote with this probability (seeded), for data without
    /// vote times
    #[arg(long, value_name = "FRACTION")]
    pub(crate) visible: Option<f64>,
    /// Decide only a seeded sample of this many test rows
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<usize>,
    /// Add the conditional-peer expert (P(user | peer's choice), learned from co-votes) to the
    /// live head, to measure what it adds (off by default: docs/eval.md)
    #[arg(long)]
    pub(crate) peer_conditionals: bool,
    /// Let the agent ask about this share of the test proposals (picked as they arrive by what
    /// the answer would teach it, answered from the held votes and learned from at once), then
    /// score the rest
    #[arg(long, value_name = "F")]
    pub(crate) ask_budget: Option<f64>,
    /// Run the budgets 0, 5 %, 10 % and 20 % and print the attention curve
    #[arg(long, conflicts_with_all = ["ask_budget", "predictions"])]
    pub(crate) ask_curve: bool,
    /// The teach score (uncertainty x importance x distance to the questions already asked) a
    /// row needs to be asked (for choosing it on a validation slice)
    #[arg(long, value_name = "S", default_value_t = steward_agent::DEFAULT_ASK_THRESHOLD)]
    pub(crate) ask_threshold: f64,
    /// Seed of the cross-validation folds
    #[arg(long, default_value_t = ModelConfig::default().seed)]
    pub(crate) seed: u64,
    /// Also keep the report in the home's store, for the review desk's evaluation page
    #[arg(long)]
    pub(crate) save: bool,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, command: EvalCommand) -> Result<ExitCode> {
    match command {
        EvalCommand::Votes(args) => votes(ctx, out, &args),
    }
}

fn votes(ctx: &Ctx, out: &Output, args: &VotesArgs) -> Result<ExitCode> {
    let mut opts = EvalOptions::new(args.train.clone());
    opts.test.clone_from(&args.test);
    opts.split = args.split;
    opts.min_votes = args.min_votes;
    opts.mode = match args.mode {
        Mode::Blind => EvalMode::Blind,
        Mode::FinalTallies => EvalMode::FinalTallies,
        Mode::Replay => EvalMode::Replay,
    };
    opts.before_end = args.before_end;
    opts.visible = args.visible;
    opts.threshold = args.threshold;
    opts.model = ModelConfig {
        seed: args.seed,
        peer_conditionals: args.peer_conditionals,
        ..ModelConfig::default()
    };
    for (flag, v) in [
        ("--min-confidence-low", args.min_confidence_low),
        ("--min-confidence-high", args.min_confidence_high),
        ("--dissent-share", args.dissent_share),
    ] {
        anyhow::ensure!(
            (0.0..=1.0).contains(&v),
            "{flag} must be a probability from 0 to 1, got {v}"
        );
    }
    opts.policy.min_confidence_low = args.min_confidence_low;
    opts.policy.min_confidence_high = args.min_confidence_high;
    opts.policy.dissent_share = args.dissent_share;
    opts.profile.clone_from(&args.profile);
    opts.limit = args.limit;
    opts.ask_budget = args.ask_budget;
    opts.ask_threshold = args.ask_threshold;
    if let Some(w) = args.llm_weight {
        anyhow::ensure!(
            w.is_finite() && w >= 0.0,
            "--llm-weight must be a non-negative number, got {w}"
        );
        opts.weights.llm = w;
    }
    let worker = if args.embed || args.llm {
        let dir = crate::cmd::model::models_dir(ctx)?;
        Some(crate::cmd::model::spawn_worker(&dir)?)
    } else {
        None
    };
    let shared = worker.map(steward_ml::WorkerProcess::shared);
    let mut embedder = shared.clone();
    let mut generator = shared.filter(|_| args.llm);
    let mut embed_fn = |titles: &[String]| -> Result<Vec<Vec<f32>>, String> {
        match embedder.as_mut() {
            Some(e) => e.embed(titles).map_err(|e| e.to_string()),
            None => Ok(Vec::new()),
        }
    };
    let mut judge_fn = |r: &steward_agent::decide::ReadableProposal,
                        choices: &[String],
                        evidence: &[steward_core::Evidence]|
     -> Judgement {
        match generator.as_mut() {
            Some(g) => steward_agent::decide::judge(g, r, choices, evidence),
            None => Judgement::NotRun,
        }
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} voters [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut progress = |done: usize, total: usize| {
        if let Some(b) = &bar {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    };
    let mut file = match &args.predictions {
        Some(p) => Some(BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => None,
    };
    let engines = EvalEngines {
        embed: args.embed.then_some(&mut embed_fn as _),
        judge: args.llm.then_some(&mut judge_fn as _),
    };
    let report = if args.ask_curve {
        eval_ask_curve(&opts, engines, &mut progress)
    } else {
        eval_votes_with(
            &opts,
            engines,
            &mut progress,
            file.as_mut().map(|f| f as &mut dyn Write),
        )
    }
    .with_context(|| format!("while evaluating on {}", args.train.display()))?;
    if let Some(mut f) = file {
        f.flush().context("writing the predictions")?;
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for e in &report.skipped_rows {
        tracing::warn!("skipped {e}");
    }
    if args.save {
        let (_home, mut store) = ctx.open_store()?;
        save(&mut store, &args.train.display().to_string(), &report)?;
    }
    out.result(&report, || render(&report));
    Ok(ExitCode::SUCCESS)
}

/// Keeps `report` in the store for the review desk's Evaluation page, audited (`eval --save`,
/// and the demo).
pub(crate) fn save(
    store: &mut steward_agent::Store,
    source: &str,
    report: &EvalReport,
) -> Result<()> {
    let json = serde_json::to_string(report).context("encoding the report")?;
    store.transaction(|tx| {
        tx.set_meta(steward_agent::web::EVAL_META_KEY, &json)?;
        tx.audit(
            &steward_core::AuditRecord::new("eval", source)
                .input("report", json.as_bytes())
                .detail(serde_json::json!({
                    "forced_accuracy": report.forced_accuracy,
                    "ece": report.ece,
                    "n_test": report.n_test,
                })),
        )
    })?;
    Ok(())
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

pub(crate) fn render(r: &EvalReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} mode: {} test votes of {} voters ({} skipped rows, {:.1} s{})",
        r.mode.as_str(),
        r.n_test,
        r.n_voters,
        r.skipped_rows.len(),
        r.seconds,
        if r.embeddings {
            ", MiniLM title embeddings"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "decision path (decide's core and policy: vote at confidence >= {:.2} to {:.2} by importance):",
        r.policy.min_confidence_low, r.policy.min_confidence_high
    );
    let _ = writeln!(s, "forced accuracy   {}", pct(r.forced_accuracy));
    let _ = writeln!(
        s,
        "auto accuracy     {}  at coverage {:.3} (vote {}, ask {}, skip {})",
        pct(r.auto_accuracy),
        r.coverage,
        r.policy.vote,
        r.policy.ask,
        r.policy.skip
    );
    let _ = writeln!(s, "ECE               {}", pct(r.ece));
    let _ = writeln!(
        s,
        "local model       {} rows judged, {} failed, weight {}",
        r.llm.used, r.llm.failed, r.llm.weight
    );
    let _ = writeln!(
        s,
        "statements        {} statements, {} writing of {} voters; moved {} rows",
        r.text.statements, r.text.writing, r.text.voters, r.text.rows_matched
    );
    let vm = &r.voter_model;
    let _ = writeln!(
        s,
        "voter model alone forced {}, auto {} at coverage {:.3} (threshold {}), ECE {}",
        pct(vm.forced_accuracy),
        pct(vm.auto_accuracy),
        vm.coverage,
        vm.threshold,
        pct(vm.ece)
    );
    let _ = writeln!(
        s,
        "baselines         always-For {}, voter-majority {}",
        pct(r.baselines.always_for),
        pct(r.baselines.voter_majority)
    );
    for (name, d) in [
        ("best_delegate", r.baselines.best_delegate),
        ("crowd_so_far", r.baselines.crowd_so_far),
    ] {
        if let Some(d) = d {
            let _ = writeln!(
                s,
                "{name:<17} agreement {:.3} (accuracy {} on the {:.3} of rows it voted; agent forced {} there)",
                d.agreement,
                pct(d.accuracy_on_cast),
                d.coverage,
                pct(d.agent_on_cast)
            );
        }
    }
    if let Some(g) = r.agent_minus_best_delegate {
        let _ = writeln!(
            s,
            "agent - delegate  {g:+.3} at zero questions; {} voters above their delegate, {} not",
            r.voters_beating_delegate, r.voters_not_beating_delegate
        );
    }
    if let Some(a) = r.against {
        let _ = writeln!(
            s,
            "Against votes     {} : {} predicted Against, {} asked ({:.3} caught)",
            a.n, a.predicted, a.asked, a.caught
        );
    }
    if let Some(rp) = r.replay {
        let _ = writeln!(
            s,
            "replay            {:.1} votes visible per row, {} rows saw none, {} same-block votes hidden{}",
            rp.mean_visible,
            rp.rows_seeing_none,
            rp.same_time_hidden,
            rp.before_end_hours
                .map(|h| format!(
                    ", cutoff {h} h before the end ({} rows without an end saw none)",
                    rp.rows_without_end
                ))
                .unwrap_or_default()
        );
    }
    if let Some(a) = r.ask {
        let _ = writeln!(
            s,
            "asked to learn    {} of {} allowed ({:.3} of rows, budget {}, {} Against); votes cast {:.3} of all rows; figures above are on the rest",
            a.asked, a.allowed, a.asked_share, a.budget, a.against_asked, a.coverage_of_all
        );
    }
    if !r.ask_curve.is_empty() {
        let _ = writeln!(
            s,
            "attention curve (figures on the rows not asked; coverage over all rows)"
        );
        let _ = writeln!(
            s,
            "  budget  asked  forced  auto   coverage  Against caught  policy asks  ECE"
        );
        for p in &r.ask_curve {
            let _ = writeln!(
                s,
                "  {:>5.2}  {:.3}  {}   {}  {:.3}     {}           {:.3}        {}",
                p.budget,
                p.asked,
                pct(p.forced_accuracy),
                pct(p.auto_accuracy),
                p.coverage,
                pct(p.against_caught),
                p.policy_ask_rate,
                pct(p.ece)
            );
        }
    }
    let _ = writeln!(
        s,
        "input             {} re-votes replaced, {} rows without a body, {} rows of voters without history",
        r.revotes_replaced, r.rows_without_body, r.rows_without_history
    );
    if !r.reliability.is_empty() {
        let _ = writeln!(
            s,
            "reliability (confidence bin: n, mean confidence, accuracy)"
        );
        for b in &r.reliability {
            let _ = writeln!(
                s,
                "  [{:.1}, {:.1})  {:>5}  {:.3}  {:.3}",
                b.lo, b.hi, b.n, b.confidence, b.accuracy
            );
        }
    }
    s
}
