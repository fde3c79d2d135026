//! `steward decide ID | --file PATH`: how the user would vote, how sure, how important, and
//! whether to vote, ask or skip. Every decision is stored and audited; `ask` opens a question.

use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use steward_agent::Pipeline;
use steward_agent::decide::{DecideOptions, Engines};
use steward_core::{Decision, DecisionAction, Proposal};
use steward_ml::Generator;

use crate::ctx::Ctx;
use crate::output::Output;

#[derive(Debug, Args)]
pub(crate) struct DecideArgs {
    /// The proposal's key, alias or source id (see `steward proposals`)
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub(crate) id: Option<String>,
    /// Decide on a proposal read from a file (Snapshot object or Governor JSON) instead
    #[arg(long, value_name = "PATH")]
    pub(crate) file: Option<PathBuf>,
    /// Leave the local generation model out of this decision
    #[arg(long)]
    pub(crate) no_llm: bool,
    /// The seed recorded with the decision (generation is greedy; the seed names the run)
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, args: &DecideArgs) -> Result<ExitCode> {
    let (home, mut store) = ctx.open_store()?;
    let cfg = ctx.config(&home)?;
    let (key, proposal) = match (&args.id, &args.file) {
        (Some(id), _) => {
            let Some(sp) = store.proposal(id)? else {
                bail!("no proposal {id:?} in the store (see `steward proposals`)");
            };
            (sp.key, sp.proposal)
        }
        (None, Some(path)) => {
            let p = proposal_from_file(path, &cfg.limits())?;
            (p.key(), p)
        }
        (None, None) => bail!("give a proposal id or --file PATH"),
    };
    let worker = crate::cmd::model::spawn_worker(&crate::cmd::model::models_dir(ctx)?)?;
    let shared = worker.shared();
    let mut embedder = shared.clone();
    let mut generator = shared;
    let use_llm = cfg.decide.use_llm && !args.no_llm;
    let mut engines = Engines {
        embedder: &mut embedder,
        generator: use_llm.then_some(&mut generator as &mut dyn Generator),
    };
    let opts = DecideOptions {
        policy: cfg.decide.policy(),
        seed: args.seed,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut pipeline = Pipeline::new(&mut store, &cfg, &home)?;
    let (decided, id) = rt.block_on(pipeline.decide_one(&key, &proposal, &mut engines, &opts))?;
    let d = decided.decision;
    out.result(&d, || render(id, &d));
    Ok(ExitCode::SUCCESS)
}

fn proposal_from_file(path: &PathBuf, limits: &steward_core::Limits) -> Result<Proposal> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let now = jiff::Timestamp::now().as_second();
    let mut items = steward_agent::sources::file::parse_file(&bytes, limits, now).into_iter();
    match items.next() {
        Some(Ok(p)) => Ok(p),
        Some(Err((item, e))) => bail!("file {}: item {item}: {e}", path.display()),
        None => bail!("file {}: no proposal in it", path.display()),
    }
}

pub(crate) fn render(id: i64, d: &Decision) -> String {
    let mut s = format!("{}\n", d.title);
    let _ = writeln!(
        s,
        "decision {id}: {} {}  confidence {:.2}  importance {:.2}",
        d.action.as_str().to_uppercase(),
        d.choice.as_deref().unwrap_or("-"),
        d.confidence,
        d.importance
    );
    let _ = writeln!(s, "{}", d.rationale);
    for f in &d.flags {
        let _ = writeln!(s, "flag {:?} {}: {}", f.severity, f.kind, f.detail);
    }
    for e in d.evidence.iter().take(6) {
        let _ = writeln!(s, "  {} {} ({:.2}): {}", e.kind, e.id, e.weight, e.excerpt);
    }
    if d.action == DecisionAction::Ask {
        let _ = writeln!(
            s,
            "asked: see `steward questions`, answer with `steward answer`"
        );
    }
    s.trim_end().to_owned()
}
