//! `steward answer ID CHOICE [--reason TEXT]` and `steward override KEY CHOICE [--reason TEXT]`:
//! the user's own choice, which closes the question and becomes profile data at once.

use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::Args;
use steward_agent::questions::{answer, override_decision};

use crate::ctx::Ctx;
use crate::output::{Output, exit};

#[derive(Debug, Args)]
pub(crate) struct AnswerArgs {
    /// The question's number, or the proposal's key for its newest question
    pub(crate) id: String,
    /// The choice: its label (case-insensitive) or its number, from 1
    pub(crate) choice: String,
    /// Why: kept with the answer and used as your writing
    #[arg(long)]
    pub(crate) reason: Option<String>,
}

pub(crate) fn run(
    ctx: &Ctx,
    out: &Output,
    args: &AnswerArgs,
    is_override: bool,
) -> Result<ExitCode> {
    let (_home, mut store) = ctx.open_store()?;
    let now = jiff::Timestamp::now().as_second();
    let r = if is_override {
        let key = store
            .proposal(&args.id)?
            .map(|sp| sp.key)
            .ok_or_else(|| anyhow!("no proposal {:?} in the store", args.id))?;
        override_decision(&mut store, &key, &args.choice, args.reason.as_deref())?
    } else {
        answer(
            &mut store,
            &args.id,
            &args.choice,
            args.reason.as_deref(),
            now,
        )?
    };
    match r {
        Ok(a) => {
            out.result(&a, || {
                format!(
                    "{} {} on {}: recorded; it counts in the next decision",
                    if is_override { "override" } else { "answer" },
                    a.choice,
                    a.proposal
                )
            });
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            // A refused answer is a clear message and exit 1, with nothing changed.
            out.error(&anyhow::Error::new(e));
            Ok(ExitCode::from(exit::ERROR))
        }
    }
}
