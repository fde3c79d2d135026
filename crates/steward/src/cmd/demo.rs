//! `steward demo`: the main job on the embedded defaults. In this wave it creates a home and
//! checks it; later waves add the anvil Governor, the persona, `steward run` and the review desk.

use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;
use steward_agent::Doctor;

use crate::cmd::{doctor, init};
use crate::ctx::Ctx;
use crate::output::{Output, exit};

pub(crate) fn run(ctx: &Ctx, out: &Output) -> Result<ExitCode> {
    let initialized = init::init(ctx)?;
    let pass = Ctx::passphrase_if_available();
    let mut report = Doctor::run(&ctx.home_path()?, Ctx::getenv, &ctx.flags, pass.as_ref());
    report.checks.push(doctor::sandbox_check(ctx));
    #[derive(Serialize)]
    struct Demo<'a> {
        init: &'a init::Initialized,
        doctor: &'a Doctor,
    }
    let data = Demo {
        init: &initialized,
        doctor: &report,
    };
    let human = || {
        format!(
            "home {} ({})\n\n{}",
            initialized.home,
            if initialized.created {
                "created"
            } else {
                "reused"
            },
            doctor::render(&report)
        )
    };
    if report.healthy() {
        out.result(&data, human);
        Ok(ExitCode::SUCCESS)
    } else {
        out.failed_result(&data, human);
        Ok(ExitCode::from(exit::CHECK_FAILED))
    }
}
