//! The `steward` command line: parses, installs logging, runs one subcommand, maps the result to
//! output and an exit code. The work happens in `steward-agent`.

mod cli;
mod cmd;
mod ctx;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_tracing(cli.global.verbose, cli.global.quiet);
    let out = output::Output::new(cli.global.json);
    let ctx = ctx::Ctx::new(cli.global);
    match cmd::run(&ctx, &out, cli.command) {
        Ok(code) => code,
        Err(err) => out.error(&err),
    }
}

/// Logs go to stderr; `RUST_LOG` wins over `-v`/`-q`.
fn init_tracing(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env(steward_agent::env::RUST_LOG)
        .unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
