//! `steward notify test` sends a test notice through every configured channel; `steward notify
//! list` shows what was sent for each question (docs/questions.md).

use std::fmt::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde::Serialize;
use steward_agent::Config;

use crate::ctx::Ctx;
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum NotifyCommand {
    /// Send a test notice through every channel of [notify] (nothing private, nothing recorded)
    Test,
    /// The notices recorded per question, step and channel
    List,
}

#[derive(Debug, Serialize)]
struct TestLine {
    channel: String,
    ok: bool,
    error: Option<String>,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, c: NotifyCommand) -> Result<ExitCode> {
    match c {
        NotifyCommand::Test => test(ctx, out),
        NotifyCommand::List => list(ctx, out),
    }
}

fn test(ctx: &Ctx, out: &Output) -> Result<ExitCode> {
    // No store needed: the config alone says where notices go.
    let file = ctx.home_path()?.join("config.toml");
    let cfg = Config::load(&file, Ctx::getenv, &ctx.flags)?;
    let Some(n) = crate::cmd::run::notifier(&cfg).context("setting up [notify]")? else {
        bail!(
            "no notify channel configured: set notify.webhook or [notify.mail] (docs/questions.md)"
        );
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let now = jiff::Timestamp::now().as_second();
    let lines: Vec<TestLine> = rt
        .block_on(n.test(now))
        .into_iter()
        .map(|(channel, r)| TestLine {
            channel: channel.to_string(),
            ok: r.is_ok(),
            error: r.err().map(|e| steward_agent::pipeline::chain(&e)),
        })
        .collect();
    let human = || {
        let mut s = String::new();
        for l in &lines {
            let _ = match &l.error {
                None => writeln!(s, "{}: sent", l.channel),
                Some(e) => writeln!(s, "{}: FAILED: {e}", l.channel),
            };
        }
        s.trim_end().to_owned()
    };
    if lines.iter().all(|l| l.ok) {
        out.result(&lines, human);
        Ok(ExitCode::SUCCESS)
    } else {
        out.failed_result(&lines, human);
        Ok(ExitCode::FAILURE)
    }
}

fn list(ctx: &Ctx, out: &Output) -> Result<ExitCode> {
    let (_home, store) = ctx.open_store()?;
    let rows = store.notices()?;
    out.result(&rows, || {
        if rows.is_empty() {
            return "no notices".into();
        }
        let mut s = String::new();
        for r in &rows {
            let when = r
                .sent
                .and_then(|t| jiff::Timestamp::from_second(t).ok())
                .map(|t| t.to_string())
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "question {:<5} {:<20} {:<8} {:<8} {when}{}",
                r.question,
                r.step,
                r.channel,
                r.state,
                r.error
                    .as_deref()
                    .map(|e| format!("  last error: {e}"))
                    .unwrap_or_default()
            );
        }
        s.trim_end().to_owned()
    });
    Ok(ExitCode::SUCCESS)
}
