//! `steward consensus summarize NAME`: summaries of common ground for a saved conversation, one
//! per opinion group and one for the consensus, each sentence citing the statements it rests on
//! (steward-agent::summaries, checked by steward-core::consensus::summary). Kept with the
//! conversation so the desk shows them.

use std::fmt::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use steward_agent::summaries::{ConversationSummaries, summarize};
use steward_agent::web::conversations::{check_name, load, save};
use steward_core::consensus::summary::Summary;
use steward_ml::Generator;

use crate::ctx::Ctx;
use crate::output::{Output, terminal_safe};

#[derive(Debug, Args)]
pub(crate) struct SummarizeArgs {
    /// The conversation saved with `steward consensus polis DIR --save NAME`
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
    /// Leave the local generation model out: the summaries are the statements themselves
    #[arg(long)]
    pub(crate) no_llm: bool,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, args: &SummarizeArgs) -> Result<ExitCode> {
    check_name(&args.name)?;
    let (home, mut store) = ctx.open_store()?;
    let cfg = ctx.config(&home)?;
    let Some(mut c) = load(&store, &args.name)? else {
        bail!(
            "no conversation {:?} saved (run `steward consensus polis DIR --save {}`)",
            args.name,
            args.name
        );
    };
    // The same engine selection as `decide` and `run`: the local model unless switched off.
    let sums = if cfg.decide.use_llm && !args.no_llm {
        let worker = crate::cmd::model::spawn_worker(&crate::cmd::model::models_dir(ctx)?)?;
        let mut g = worker.shared();
        summarize(Some(&mut g as &mut dyn Generator), &c)
    } else {
        summarize(None, &c)
    };
    c.summaries = Some(sums.clone());
    save(&mut store, &c)?;
    out.result(&sums, || human(&c.texts, &sums));
    Ok(ExitCode::SUCCESS)
}

fn cites(v: &[u64]) -> String {
    format!(
        "[{}]",
        v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
    )
}

fn one(s: &mut String, sum: &Summary) {
    let _ = writeln!(s, "{}:", sum.subject);
    for x in &sum.sentences {
        let _ = writeln!(s, "  {} {}", terminal_safe(&x.text), cites(&x.cites));
    }
    if let Some(n) = &sum.note {
        let _ = writeln!(s, "  ({})", terminal_safe(n));
    }
    if !sum.dropped.is_empty() {
        let _ = writeln!(
            s,
            "  ({} sentence(s) dropped by the checks)",
            sum.dropped.len()
        );
    }
}

fn human(texts: &std::collections::BTreeMap<u64, String>, r: &ConversationSummaries) -> String {
    let mut s = String::new();
    for g in r.all() {
        one(&mut s, g);
    }
    s.push_str("cruxes:");
    if r.cruxes.is_empty() {
        s.push_str(" none");
    }
    for t in &r.cruxes {
        let text = texts.get(t).map(String::as_str).unwrap_or("(no text)");
        let _ = write!(s, "\n  - [{t}] {}", terminal_safe(text));
    }
    s
}
