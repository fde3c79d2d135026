//! `steward vote ID CHOICE`: the user's own vote on a stored proposal, through the same intent
//! path as the agent's (steward_agent::cast).

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::VoteArgs;
use crate::ctx::Ctx;
use crate::output::Output;

pub(crate) fn run(_ctx: &Ctx, _out: &Output, _args: &VoteArgs) -> Result<ExitCode> {
    anyhow::bail!("not yet")
}
