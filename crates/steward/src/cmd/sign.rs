//! `steward sign snapshot-vote`: a signed Snapshot vote envelope, printed and audited, never
//! sent.

use std::process::ExitCode;

use anyhow::{Context, Result};
use steward_agent::Keys;
use steward_core::AuditRecord;
use steward_eth::{SnapshotChoice, SnapshotVote, SnapshotVoteType};

use crate::cli::SignCommand;
use crate::ctx::Ctx;
use crate::output::Output;

pub(crate) fn run(ctx: &Ctx, out: &Output, command: SignCommand) -> Result<ExitCode> {
    let SignCommand::SnapshotVote(args) = command;
    let kind: SnapshotVoteType = args.kind.parse().map_err(anyhow::Error::msg)?;
    let choice = SnapshotChoice::parse(kind, &args.choice)?;
    let (home, mut store) = ctx.open_store()?;
    let cfg = ctx.config(&home)?;
    let keys = Keys::new(&home);
    let selector = args.key.as_deref().or(cfg.casting.key.as_deref());
    let pw = Ctx::keystore_password(false)?;
    let key = keys
        .open(selector, &pw)
        .context("opening the signing key")?;
    let timestamp = match args.timestamp {
        Some(t) => t,
        None => u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0),
    };
    let vote = SnapshotVote {
        from: key.address(),
        space: args.space,
        timestamp,
        proposal: args.proposal,
        kind,
        choice,
        reason: args.reason,
        app: args.app,
        metadata: String::new(),
    };
    let env = vote.sign(&key)?;
    let payload = serde_json::to_string(&env)?;
    store.audit(
        &AuditRecord::new(
            "signature",
            format!("snapshot:{}:{}", vote.space, vote.proposal),
        )
        .input("envelope", &payload)
        .detail(serde_json::json!({
            "what": "snapshot-vote",
            "sent": false,
            "hash": vote.signing_hash()?.to_string(),
            "envelope": &env,
        })),
    )?;
    out.result(&env, || {
        serde_json::to_string_pretty(&env).unwrap_or_default()
    });
    Ok(ExitCode::SUCCESS)
}
