//! `steward doctor`: every check, what is missing and the command that fixes it.
//! Exit 0 when nothing fails, 3 when something does.

use std::fmt::Write;
use std::process::ExitCode;

use anyhow::Result;
use steward_agent::{CheckStatus, Doctor};

use crate::ctx::Ctx;
use crate::output::{Output, exit};

pub(crate) fn run(ctx: &Ctx, out: &Output) -> Result<ExitCode> {
    let home = ctx.home_path()?;
    let pass = Ctx::passphrase_if_available();
    let report = Doctor::run(&home, Ctx::getenv, &ctx.flags, pass.as_ref());
    let healthy = report.healthy();
    let human = || render(&report);
    if healthy {
        out.result(&report, human);
        Ok(ExitCode::SUCCESS)
    } else {
        out.failed_result(&report, human);
        Ok(ExitCode::from(exit::CHECK_FAILED))
    }
}

pub(crate) fn render(report: &Doctor) -> String {
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    let mut s = format!("steward doctor: {}\n", report.home.display());
    for c in &report.checks {
        let tag = match c.status {
            CheckStatus::Ok => "ok",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "FAIL",
            CheckStatus::Skip => "skip",
        };
        let _ = writeln!(s, "  {tag:<4}  {:<width$}  {}", c.name, c.detail);
        if let Some(fix) = &c.fix {
            let _ = writeln!(s, "        {:<width$}  fix: {fix}", "");
        }
    }
    let failed = report
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .count();
    if failed == 0 {
        s.push_str("all checks passed");
    } else {
        let _ = write!(s, "{failed} check(s) failed");
    }
    s
}
