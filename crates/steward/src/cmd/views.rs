//! `steward views draft`: the user's positions, with their reasons, in a form they can share
//! (docs/views.md). Built locally from the profile through the privacy filter; nothing is sent.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use steward_agent::views::draft;

use crate::ctx::Ctx;
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum ViewsCommand {
    /// Draft your views per topic from the profile, private items removed, for you to review
    Draft {
        /// Only the topic whose name contains this (e.g. "treasury")
        #[arg(long, value_name = "T")]
        topic: Option<String>,
    },
}

pub(crate) fn run(ctx: &Ctx, out: &Output, command: ViewsCommand) -> Result<ExitCode> {
    let ViewsCommand::Draft { topic } = command;
    let (_home, mut store) = ctx.open_store()?;
    let worker = crate::cmd::model::spawn_worker(&crate::cmd::model::models_dir(ctx)?)?;
    let mut embedder = worker.shared();
    let d = draft(&mut store, &mut embedder, topic.as_deref())?;
    out.result(&d, || d.markdown().trim_end().to_owned());
    Ok(ExitCode::SUCCESS)
}
