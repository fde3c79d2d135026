//! `steward ingest file PATH...`: Snapshot proposal objects and Governor proposal JSON from files;
//! `steward ingest mail PATH...`: maildirs and mbox files.
//! With `[bonds]` set, mail passes the attention-bond gate first (held mail is not stored).
//! Exit 0 when every item was accepted, 6 when some were quarantined or bonds went unverified.

use std::fmt::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use steward_agent::bondgate::BondGate;
use steward_agent::{IngestReport, Network, ingest_file, ingest_mail_gated};

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
    let gate = match kind {
        Kind::Mail => BondGate::from_config(&cfg, &Network::from_config(&cfg)?)?,
        Kind::File => None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    for path in &args.paths {
        let r = match kind {
            Kind::File => ingest_file(&mut store, path, &cfg.limits(), now),
            Kind::Mail => rt.block_on(ingest_mail_gated(
                &mut store,
                path,
                &cfg.limits(),
                gate.as_ref(),
            )),
        }
        .with_context(|| format!("while ingesting {}", path.display()))?;
        total.merge(r);
    }
    let failed = !total.quarantined.is_empty() || !total.bond_errors.is_empty();
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
    if r.held > 0 {
        let _ = write!(
            s,
            "\n{} held by the attention-bond policy (`steward bond held`)",
            r.held
        );
    }
    for e in &r.bond_errors {
        let _ = write!(
            s,
            "\n  bonds unverified (held, nothing unpaid delivered): {e}"
        );
    }
    s
}
