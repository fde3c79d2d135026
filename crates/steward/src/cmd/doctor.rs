//! `steward doctor`: every check, what is missing and the command that fixes it.
//! Exit 0 when nothing fails, 3 when something does.

use std::fmt::Write;
use std::process::ExitCode;

use anyhow::Result;
use steward_agent::{Check, CheckStatus, Doctor};

use crate::ctx::Ctx;
use crate::output::{Output, exit};

pub(crate) fn run(ctx: &Ctx, out: &Output) -> Result<ExitCode> {
    let home = ctx.home_path()?;
    let pass = Ctx::passphrase_if_available();
    let mut report = Doctor::run(&home, Ctx::getenv, &ctx.flags, pass.as_ref());
    report.checks.push(sandbox_check(ctx));
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

/// Starts the model worker (it loads no model for this) and reports how it is confined:
/// Landlock and seccomp where the kernel has them, a warning where it does not.
pub(crate) fn sandbox_check(ctx: &Ctx) -> Check {
    let started =
        crate::cmd::model::models_dir(ctx).and_then(|d| crate::cmd::model::spawn_worker(&d));
    let (status, detail) = match started {
        Ok(w) => {
            let c = &w.worker_info().confinement;
            let status = if c.is_confined() {
                CheckStatus::Ok
            } else {
                CheckStatus::Warn
            };
            (status, c.summary())
        }
        Err(e) => (
            CheckStatus::Warn,
            format!("the model worker does not start: {e:#}"),
        ),
    };
    Check {
        name: "sandbox".into(),
        status,
        detail,
        fix: None,
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
