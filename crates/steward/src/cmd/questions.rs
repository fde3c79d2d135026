//! `steward questions [--all]`: what the agent is asking, with the context to answer well.

use std::fmt::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::ctx::Ctx;
use crate::output::Output;

#[derive(Debug, Args)]
pub(crate) struct QuestionsArgs {
    /// Also answered, expired and superseded questions
    #[arg(long)]
    pub(crate) all: bool,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, args: &QuestionsArgs) -> Result<ExitCode> {
    let (_home, store) = ctx.open_store()?;
    let now = jiff::Timestamp::now().as_second();
    let qs = store.questions(args.all, now)?;
    out.result(&qs, || {
        if qs.is_empty() {
            return "no open questions".into();
        }
        let mut s = String::new();
        for q in &qs {
            let c = &q.context;
            let _ = writeln!(s, "question {} [{}] {}", q.id, q.status, c.title);
            let _ = writeln!(s, "  proposal  {}", q.proposal);
            if let Some(d) = q.deadline {
                let when = jiff::Timestamp::from_second(d)
                    .map_or_else(|_| d.to_string(), |t| t.to_string());
                let _ = writeln!(s, "  deadline  {when}");
            }
            let _ = writeln!(s, "  choices   {}", c.choices.join(" | "));
            if let Some(l) = &c.lean {
                let _ = writeln!(s, "  lean      {l} ({:.0}%)", c.lean_probability * 100.0);
            }
            if !c.summary.is_empty() {
                let _ = writeln!(s, "  summary   {}", c.summary);
            }
            for a in &c.arguments_for {
                let _ = writeln!(s, "  for       {}: {}", a.author, a.excerpt);
            }
            for a in &c.arguments_against {
                let _ = writeln!(s, "  against   {}: {}", a.author, a.excerpt);
            }
            for t in &c.trusted {
                let _ = writeln!(s, "  trusted   {t}");
            }
            for p in &c.payload {
                let _ = writeln!(s, "  payload   {p}");
            }
            for f in &c.flags {
                let _ = writeln!(s, "  flag      {f}");
            }
            for h in &c.history {
                let _ = writeln!(s, "  yours     {h}");
            }
            let _ = writeln!(s, "  why       {}", c.why_asking);
            if let Some(a) = &q.answer {
                let _ = writeln!(
                    s,
                    "  answered  {a}{}",
                    q.reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                );
            } else {
                let _ = writeln!(
                    s,
                    "  answer    steward answer {} CHOICE [--reason TEXT]",
                    q.id
                );
            }
        }
        s.trim_end().to_owned()
    });
    Ok(ExitCode::SUCCESS)
}
