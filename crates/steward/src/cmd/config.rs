//! `steward config`: the effective configuration after all layers.

use std::process::ExitCode;

use anyhow::Result;
use steward_agent::Config;

use crate::ctx::Ctx;
use crate::output::Output;

pub(crate) fn run(ctx: &Ctx, out: &Output) -> Result<ExitCode> {
    // No lock: reading config must work while another steward runs.
    let file = ctx.home_path()?.join("config.toml");
    let cfg = Config::load(&file, Ctx::getenv, &ctx.flags)?;
    out.result(&cfg, || toml::to_string_pretty(&cfg).unwrap_or_default());
    Ok(ExitCode::SUCCESS)
}
