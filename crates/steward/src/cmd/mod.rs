//! One file per subcommand.

mod config;
mod demo;
mod doctor;
mod init;
mod log;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::Command;
use crate::ctx::Ctx;
use crate::output::Output;

pub(crate) fn run(ctx: &Ctx, out: &Output, command: Command) -> Result<ExitCode> {
    match command {
        Command::Init => init::run(ctx, out),
        Command::Doctor => doctor::run(ctx, out),
        Command::Log(args) => log::run(ctx, out, &args),
        Command::Config => config::run(ctx, out),
        Command::Demo => demo::run(ctx, out),
    }
}
