//! `steward log`: the audit log; `steward log verify`: check its chain and anchor.

use std::fmt::Write;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use crate::cli::{LogArgs, LogCommand};
use crate::ctx::Ctx;
use crate::output::{Output, exit};

pub(crate) fn run(ctx: &Ctx, out: &Output, args: &LogArgs) -> Result<ExitCode> {
    let (_home, store) = ctx.open_store()?;
    match args.command {
        None => {
            let entries = store.audit_entries(args.limit)?;
            out.result(&entries, || {
                let mut s = String::new();
                for e in &entries {
                    let _ = writeln!(
                        s,
                        "#{:<5} {}  {:<10} {}  {}",
                        e.seq,
                        e.ts,
                        e.kind,
                        e.subject,
                        &e.hash[..12]
                    );
                }
                if entries.is_empty() {
                    s.push_str("the audit log is empty");
                }
                s
            });
            Ok(ExitCode::SUCCESS)
        }
        Some(LogCommand::Verify) => {
            #[derive(Serialize)]
            struct Verdict {
                intact: bool,
                entries: Option<u64>,
                head: Option<steward_agent::AuditHead>,
                first_bad: Option<u64>,
                error: Option<String>,
            }
            match store.verify_audit()? {
                Ok(r) => {
                    let v = Verdict {
                        intact: true,
                        entries: Some(r.entries),
                        head: r.head.clone(),
                        first_bad: None,
                        error: None,
                    };
                    out.result(&v, || match &r.head {
                        Some(h) => format!(
                            "audit log intact: {} {}, head #{} {}",
                            r.entries,
                            if r.entries == 1 { "entry" } else { "entries" },
                            h.seq,
                            h.hash
                        ),
                        None => "audit log intact: no entries".into(),
                    });
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    let v = Verdict {
                        intact: false,
                        entries: None,
                        head: None,
                        first_bad: e.first_bad(),
                        error: Some(e.to_string()),
                    };
                    out.failed_result(&v, || format!("{e}"));
                    Ok(ExitCode::from(exit::CHECK_FAILED))
                }
            }
        }
    }
}
