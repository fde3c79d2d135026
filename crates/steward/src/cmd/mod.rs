//! One file per subcommand.

mod config;
mod demo;
mod doctor;
mod ingest;
mod init;
mod key;
mod log;
pub(crate) mod model;
mod proposals;
mod show;
mod sign;
mod sync;
mod vote;

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
        Command::Ingest(crate::cli::IngestCommand::File(args)) => {
            ingest::run(ctx, out, &args, ingest::Kind::File)
        }
        Command::Ingest(crate::cli::IngestCommand::Mail(args)) => {
            ingest::run(ctx, out, &args, ingest::Kind::Mail)
        }
        Command::Sync => sync::run(ctx, out),
        Command::Proposals(args) => proposals::run(ctx, out, &args),
        Command::Show(args) => show::run(ctx, out, &args),
        Command::Key(c) => key::run(ctx, out, c),
        Command::Sign(c) => sign::run(ctx, out, c),
        Command::Vote(args) => vote::run(ctx, out, &args),
        Command::Model(args) => model::run(ctx, out, args),
        Command::ModelWorker(args) => model::worker(args),
    }
}
