//! `steward proposals [--open] [--space S]`: the stored proposals, newest first.

use std::fmt::Write;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;
use steward_agent::ProposalFilter;

use crate::cli::ProposalsArgs;
use crate::ctx::Ctx;
use crate::output::Output;

#[derive(Serialize)]
struct Row<'a> {
    key: &'a str,
    id: &'a str,
    title: &'a str,
    state: &'a str,
    voting: &'a str,
    start: Option<i64>,
    end: Option<i64>,
    flags: usize,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, args: &ProposalsArgs) -> Result<ExitCode> {
    let (_home, store) = ctx.open_store()?;
    let list = store.proposals(&ProposalFilter {
        open_only: args.open,
        space: args.space.clone(),
        limit: args.limit,
    })?;
    let rows: Vec<Row<'_>> = list
        .iter()
        .map(|sp| Row {
            key: &sp.key,
            id: &sp.proposal.id,
            title: &sp.proposal.title,
            state: sp.proposal.state.as_str(),
            voting: sp.proposal.voting.as_str(),
            start: sp.proposal.start,
            end: sp.proposal.end,
            flags: sp.proposal.flags.len(),
        })
        .collect();
    out.result(&rows, || {
        let mut s = String::new();
        for r in &rows {
            let end = r
                .end
                .and_then(|e| jiff::Timestamp::from_second(e).ok())
                .map(|t| t.strftime("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(s, "{:<9} {:<10}  {}  {}", r.state, end, r.key, r.title);
        }
        if rows.is_empty() {
            s.push_str("no proposals");
        }
        s
    });
    Ok(ExitCode::SUCCESS)
}
