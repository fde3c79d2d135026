//! `steward log`: the audit log; `steward log verify`: check the store's pages, the chain and its
//! anchor (and, with `--expect-head`, a head the user kept elsewhere).

use std::fmt::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
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
        Some(LogCommand::Verify { ref expect_head }) => {
            let expected = expect_head.as_deref().map(parse_head).transpose()?;
            #[derive(Serialize)]
            struct Verdict {
                intact: bool,
                entries: Option<u64>,
                head: Option<steward_agent::AuditHead>,
                first_bad: Option<u64>,
                error: Option<String>,
            }
            match store.verify_audit_expecting(expected.as_ref())? {
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

/// Parses `SEQ:HASH` as printed by `log verify` (`head #SEQ HASH` is accepted too).
fn parse_head(s: &str) -> Result<steward_agent::AuditHead> {
    let t = s
        .trim()
        .trim_start_matches("head")
        .trim()
        .trim_start_matches('#');
    let Some((seq, hash)) = t.split_once([':', ' ']) else {
        bail!("--expect-head {s:?}: expected SEQ:HASH");
    };
    let Ok(seq) = seq.trim().parse::<u64>() else {
        bail!("--expect-head {s:?}: the sequence number {seq:?} is not a number");
    };
    let hash = hash.trim().to_ascii_lowercase();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("--expect-head {s:?}: the hash must be 64 hex digits");
    }
    Ok(steward_agent::AuditHead { seq, hash })
}
