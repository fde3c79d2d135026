//! One file per subcommand.

pub(crate) mod agent;
pub(crate) mod answer;
pub(crate) mod bond;
pub(crate) mod casting;
mod config;
pub(crate) mod consensus;
mod consensus_summarize;
pub(crate) mod dao;
pub(crate) mod decide;
// The demo needs the test kit, which release builds leave out (Cargo.toml, feature `demo`).
#[cfg(feature = "demo")]
pub(crate) mod demo;
mod doctor;
pub(crate) mod eval;
mod ingest;
mod init;
mod inspect;
pub(crate) mod judge;
mod key;
mod log;
pub(crate) mod market;
pub(crate) mod mech;
pub(crate) mod model;
pub(crate) mod notify;
pub(crate) mod profile;
mod proposals;
pub(crate) mod questions;
pub(crate) mod run;
pub(crate) mod serve;
mod show;
mod sign;
mod sync;
pub(crate) mod views;
mod vote;
pub(crate) mod zk;
mod zk_chain;

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
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::run(ctx, out, &args),
        Command::Ingest(crate::cli::IngestCommand::File(args)) => {
            ingest::run(ctx, out, &args, ingest::Kind::File)
        }
        Command::Ingest(crate::cli::IngestCommand::Mail(args)) => {
            ingest::run(ctx, out, &args, ingest::Kind::Mail)
        }
        Command::Sync => sync::run(ctx, out),
        Command::Proposals(args) => proposals::run(ctx, out, &args),
        Command::Show(args) => show::run(ctx, out, &args),
        Command::Inspect(args) => inspect::run(ctx, out, &args),
        Command::Key(c) => key::run(ctx, out, c),
        Command::Sign(c) => sign::run(ctx, out, c),
        Command::Vote(args) => vote::run(ctx, out, &args),
        Command::Model(args) => model::run(ctx, out, args),
        Command::Run(args) => run::run(ctx, out, &args),
        Command::Serve(args) => serve::run(ctx, out, &args),
        Command::Profile(args) => profile::run(ctx, out, args),
        Command::Decide(args) => decide::run(ctx, out, &args),
        Command::Questions(args) => questions::run(ctx, out, &args),
        Command::Notify(c) => notify::run(ctx, out, c),
        Command::Views(c) => views::run(ctx, out, c),
        Command::Answer(args) => answer::run(ctx, out, &args, false),
        Command::Override(args) => answer::run(ctx, out, &args, true),
        Command::Eval(c) => eval::run(ctx, out, c),
        Command::Mech(c) => mech::run(out, c),
        Command::Bond(c) => bond::run(ctx, out, c),
        Command::Consensus(c) => consensus::run(ctx, out, c),
        Command::Agent(c) => agent::run(ctx, out, c),
        Command::Market(c) => market::run(ctx, out, c),
        Command::Zk(c) => zk::run(ctx, out, c),
        Command::Dao(c) => dao::run(ctx, out, c),
        Command::Judge(args) => judge::run(ctx, out, args),
        Command::ModelWorker(args) => model::worker(args),
    }
}
