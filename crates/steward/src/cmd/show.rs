//! `steward show ID`: one proposal, its actions, flags and the votes seen on it.

use std::fmt::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::cli::ShowArgs;
use crate::ctx::Ctx;
use crate::output::Output;

pub(crate) fn run(ctx: &Ctx, out: &Output, args: &ShowArgs) -> Result<ExitCode> {
    let (_home, store) = ctx.open_store()?;
    let Some(sp) = store.proposal(&args.id)? else {
        bail!(
            "no proposal {:?} in the store (see `steward proposals`)",
            args.id
        );
    };
    let votes = store.votes(&sp.key)?;
    let discussion = store.discussion(&sp.key)?;
    #[derive(Serialize)]
    struct Shown<'a> {
        #[serde(flatten)]
        stored: &'a steward_agent::StoredProposal,
        votes: &'a [steward_core::Vote],
        discussion: &'a [steward_agent::DiscussionPost],
    }
    out.result(
        &Shown {
            stored: &sp,
            votes: &votes,
            discussion: &discussion,
        },
        || {
            let p = &sp.proposal;
            let mut s = format!(
                "{}\n{}\n",
                p.title,
                "=".repeat(p.title.chars().count().min(80))
            );
            let _ = writeln!(s, "key       {}", sp.key);
            let _ = writeln!(s, "state     {}   voting {}", p.state.as_str(), p.voting);
            let _ = writeln!(s, "choices   {}", p.choices.join(" | "));
            if let Some(a) = &p.author {
                let _ = writeln!(s, "author    {a}");
            }
            if let Some(d) = &p.discussion {
                let _ = writeln!(s, "discuss   {d}");
            }
            for (i, a) in p.actions.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "action {i}  {} value {} {} {}",
                    a.target, a.value, a.signature, a.calldata
                );
            }
            for f in &p.flags {
                let _ = writeln!(s, "flag      {:?} {}: {}", f.severity, f.kind, f.detail);
            }
            let _ = writeln!(s, "votes     {} seen", votes.len());
            if let Some(first) = discussion.first() {
                let _ = writeln!(
                    s,
                    "discussion {} post(s), {} topic {}",
                    discussion.len(),
                    first.host,
                    first.topic_id
                );
                for p in discussion.iter().take(3) {
                    let date = jiff::Timestamp::from_second(p.created)
                        .map(|t| t.strftime("%Y-%m-%d").to_string())
                        .unwrap_or_default();
                    let line = p.text.split_whitespace().collect::<Vec<_>>().join(" ");
                    let short: String = line.chars().take(100).collect();
                    let more = if short.len() < line.len() { "…" } else { "" };
                    let _ = writeln!(s, "  #{} {} {date}: {short}{more}", p.post_number, p.author);
                }
                if discussion.len() > 3 {
                    let _ = writeln!(s, "  … {} more", discussion.len() - 3);
                }
            }
            let _ = write!(s, "\n{}", p.body);
            s
        },
    );
    Ok(ExitCode::SUCCESS)
}
