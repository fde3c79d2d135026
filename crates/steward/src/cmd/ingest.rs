//! `steward ingest file PATH...`: Snapshot proposal objects and Governor proposal JSON from files;
//! `steward ingest mail PATH...`: maildirs and mbox files.
//! Exit 0 when every item was accepted, 6 when some were quarantined.

use std::fmt::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use steward_agent::{IngestReport, ingest_file, ingest_mail};

use crate::cli::IngestArgs;
use crate::ctx::Ctx;
use crate::output::{Output, exit};

#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    File,
    Mail,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, args: &IngestArgs, kind: Kind) -> Result<ExitCode> {
    let (home, mut store) = ctx.open_store()?;
    let cfg = ctx.config(&home)?;
    let now = jiff::Timestamp::now().as_second();
    let mut total = IngestReport::default();
    for path in &args.paths {
        let r = match kind {
            Kind::File => ingest_file(&mut store, path, &cfg.limits(), now),
            Kind::Mail => ingest_mail(&mut store, path, &cfg.limits()),
        }
        .with_context(|| format!("while ingesting {}", path.display()))?;
        total.merge(r);
    }
    let failed = !total.quarantined.is_empty();
    let human = || render(&total);
    if failed {
        out.failed_result(&total, human);
        Ok(ExitCode::from(exit::PARTIAL))
    } else {
        out.result(&total, human);
        Ok(ExitCode::SUCCESS)
    }
}

pub(crate) fn render(r: &IngestReport) -> String {
    let mut s = format!(
        "{} ingested, {} duplicate(s), {} quarantined",
        r.ingested,
        r.duplicates,
        r.quarantined.len()
    );
    if r.linked > 0 {
        let _ = write!(s, ", {} linked to known proposals", r.linked);
    }
    if r.votes > 0 {
        let _ = write!(s, ", {} vote(s)", r.votes);
    }
    for q in &r.quarantined {
        let _ = write!(s, "\n  quarantined: {q}");
    }
    s
}
