//! `steward zk identity | group | prove | verify`: anonymous votes and signals with Semaphore
//! proofs (`steward_zk` for the cryptography, `steward_agent::zk` for what the store keeps;
//! docs/privacy.md). The binary is the only place the two meet, so the proving stack stays out
//! of the agent's build.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use steward_agent::Store;
use steward_agent::zk::{NullifierSide, ZkGroup};
use steward_core::AuditRecord;
use steward_zk::{Group, Identity, IdentitySecret, Invalid, Signal};

use crate::ctx::Ctx;
use crate::output::{Output, exit};

#[derive(Debug, Subcommand)]
pub(crate) enum ZkCommand {
    /// This home's Semaphore identity: `new` makes it, `show` prints its public commitment
    #[command(subcommand)]
    Identity(IdentityCommand),
    /// Named groups of identity commitments
    #[command(subcommand)]
    Group(GroupCommand),
    /// Prove membership of a group and signal a message under a scope (one signal per scope)
    Prove(ProveArgs),
    /// Check a signal file (exit 0 valid, 3 invalid); with --group, also its root
    Verify(VerifyArgs),
    /// Send a signal file to a StewardGroups contract (an anonymous vote, counted on chain)
    Signal(crate::cmd::zk_chain::SignalArgs),
    /// Count a StewardGroups contract's accepted signals per choice in a scope
    Tally(crate::cmd::zk_chain::TallyArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum IdentityCommand {
    /// Make the identity (its secret stays in the encrypted store)
    New,
    /// Print the identity's commitment
    Show,
}

#[derive(Debug, Subcommand)]
pub(crate) enum GroupCommand {
    /// Create a group or append members to it (commitments as 0x hex, in leaf order); with
    /// --contract, the group's members as a StewardGroups contract's events give them
    Add(GroupAddArgs),
    /// Print a group's Merkle root
    Root(GroupNameArgs),
    /// Put a stored group on a StewardGroups contract: create it there (this key is its admin)
    /// or append the members it lacks; the contract's root must then equal the stored one
    Publish(crate::cmd::zk_chain::PublishArgs),
}

#[derive(Debug, Args)]
pub(crate) struct GroupAddArgs {
    name: String,
    #[arg(required_unless_present = "contract", value_name = "COMMITMENT")]
    members: Vec<String>,
    /// Tree depth of a new group (16, 20 or 30): it holds at most 2^depth members
    #[arg(long, default_value_t = steward_zk::DEFAULT_DEPTH)]
    depth: usize,
    #[command(flatten)]
    chain: crate::cmd::zk_chain::GroupChainArgs,
}

#[derive(Debug, Args)]
pub(crate) struct GroupNameArgs {
    name: String,
}

#[derive(Debug, Args)]
pub(crate) struct ProveArgs {
    #[arg(long)]
    group: String,
    /// What the signal is about (a proposal id): one identity gets one nullifier per scope
    #[arg(long)]
    scope: String,
    /// The signal (a vote choice, a published view)
    #[arg(long)]
    message: String,
    /// Signal again in a scope this identity already used (it reveals the same nullifier, so
    /// verifiers see a double signal)
    #[arg(long)]
    again: bool,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// A signal: the JSON `zk prove --json` printed (its `data`, or the whole envelope)
    file: PathBuf,
    /// Also check the signal's root against this stored group
    #[arg(long)]
    group: Option<String>,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, command: ZkCommand) -> Result<ExitCode> {
    match command {
        ZkCommand::Identity(IdentityCommand::New) => identity_new(ctx, out),
        ZkCommand::Identity(IdentityCommand::Show) => identity_show(ctx, out),
        ZkCommand::Group(GroupCommand::Add(a)) if a.chain.contract.is_some() => {
            crate::cmd::zk_chain::group_add(ctx, out, &a.name, &a.chain)
        }
        ZkCommand::Group(GroupCommand::Add(a)) => group_add(ctx, out, &a),
        ZkCommand::Group(GroupCommand::Root(a)) => group_root(ctx, out, &a.name),
        ZkCommand::Group(GroupCommand::Publish(a)) => crate::cmd::zk_chain::publish(ctx, out, &a),
        ZkCommand::Prove(a) => prove(ctx, out, &a),
        ZkCommand::Verify(a) => verify(ctx, out, &a),
        ZkCommand::Signal(a) => crate::cmd::zk_chain::signal(ctx, out, &a),
        ZkCommand::Tally(a) => crate::cmd::zk_chain::tally(ctx, out, &a),
    }
}

#[derive(Serialize)]
struct CommitmentOut {
    commitment: String,
}

fn identity_new(ctx: &Ctx, out: &Output) -> Result<ExitCode> {
    let (_, mut store) = ctx.open_store()?;
    let secret = IdentitySecret::generate()?;
    let commitment = steward_zk::to_hex(&Identity::new(&secret).commitment());
    store.zk_set_identity(secret.expose(), &commitment)?;
    store.audit(&AuditRecord::new("zk-identity", &commitment))?;
    tracing::info!(%commitment, "zk identity created");
    out.result(
        &CommitmentOut {
            commitment: commitment.clone(),
        },
        || format!("{commitment}\n"),
    );
    Ok(ExitCode::SUCCESS)
}

fn identity_show(ctx: &Ctx, out: &Output) -> Result<ExitCode> {
    let (_, store) = ctx.open_store()?;
    let (_, commitment) = store
        .zk_identity()?
        .ok_or_else(|| anyhow!("this home has no zk identity: run `steward zk identity new`"))?;
    out.result(
        &CommitmentOut {
            commitment: commitment.clone(),
        },
        || format!("{commitment}\n"),
    );
    Ok(ExitCode::SUCCESS)
}

/// The stored identity, re-derived (and checked against the commitment stored with it).
fn load_identity(store: &Store) -> Result<Identity> {
    let (secret, commitment) = store
        .zk_identity()?
        .ok_or_else(|| anyhow!("this home has no zk identity: run `steward zk identity new`"))?;
    let secret = IdentitySecret::from_bytes(&secret.0)
        .ok_or_else(|| anyhow!("the stored zk identity secret is not 32 bytes"))?;
    let identity = Identity::new(&secret);
    if steward_zk::to_hex(&identity.commitment()) != commitment {
        bail!("the stored zk identity does not match its commitment {commitment}");
    }
    Ok(identity)
}

/// The stored group `name` with its tree.
fn load_group(store: &Store, name: &str) -> Result<Group> {
    let g = store
        .zk_group(name)?
        .ok_or_else(|| anyhow!("no zk group named {name:?}: add it with `steward zk group add`"))?;
    tree_of(&g).with_context(|| format!("rebuilding zk group {name}"))
}

fn tree_of(g: &ZkGroup) -> Result<Group> {
    let members = g
        .members
        .iter()
        .map(|m| steward_zk::parse_field("commitment", m))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Group::new(g.depth, members)?)
}

#[derive(Serialize)]
struct GroupOut<'a> {
    name: &'a str,
    depth: usize,
    members: usize,
    root: String,
}

fn group_add(ctx: &Ctx, out: &Output, a: &GroupAddArgs) -> Result<ExitCode> {
    let (_, mut store) = ctx.open_store()?;
    let mut g = store.zk_group(&a.name)?.unwrap_or(ZkGroup {
        name: a.name.clone(),
        depth: a.depth,
        members: Vec::new(),
    });
    for m in &a.members {
        // Stored in one spelling, so the same member cannot be added twice as two strings.
        let f = steward_zk::parse_field("commitment", m.trim())
            .with_context(|| format!("adding to zk group {}", a.name))?;
        g.members.push(steward_zk::to_hex(&f));
    }
    // Build the tree first: a group too large or with a duplicate is refused before any write.
    let tree = tree_of(&g).with_context(|| format!("adding to zk group {}", a.name))?;
    store.zk_put_group(&g)?;
    store.audit(
        &AuditRecord::new("zk-group", &a.name).detail(serde_json::json!({
            "members": g.members.len(),
            "depth": g.depth,
        })),
    )?;
    let o = GroupOut {
        name: &g.name,
        depth: g.depth,
        members: g.members.len(),
        root: steward_zk::to_hex(&tree.root()),
    };
    out.result(&o, || {
        format!(
            "group {}: {} member(s), depth {}, root {}\n",
            o.name, o.members, o.depth, o.root
        )
    });
    Ok(ExitCode::SUCCESS)
}

fn group_root(ctx: &Ctx, out: &Output, name: &str) -> Result<ExitCode> {
    let (_, store) = ctx.open_store()?;
    let tree = load_group(&store, name)?;
    let o = GroupOut {
        name,
        depth: tree.depth(),
        members: tree.members().len(),
        root: steward_zk::to_hex(&tree.root()),
    };
    out.result(&o, || format!("{}\n", o.root));
    Ok(ExitCode::SUCCESS)
}

fn prove(ctx: &Ctx, out: &Output, a: &ProveArgs) -> Result<ExitCode> {
    let (_, mut store) = ctx.open_store()?;
    let signal = signal(&mut store, &a.group, &a.scope, &a.message, a.again)?;
    out.result(&signal, || {
        serde_json::to_string_pretty(&signal).unwrap_or_default() + "\n"
    });
    Ok(ExitCode::SUCCESS)
}

/// This home's signal of `message` in `scope` as a member of `group`, its nullifier recorded;
/// a second signal in a scope is refused unless `again` (it reveals the same nullifier).
/// `zk prove` and `views publish --anonymous` signal through here.
pub(crate) fn signal(
    store: &mut Store,
    group: &str,
    scope: &str,
    message: &str,
    again: bool,
) -> Result<Signal> {
    let identity = load_identity(store)?;
    let tree = load_group(store, group)?;
    let nullifier = steward_zk::nullifier_of(&identity, scope);
    if let Some(used) = store.zk_nullifier(NullifierSide::Proved, &nullifier)?
        && !again
    {
        bail!(
            "this identity already signalled in scope {scope:?} ({:?} at {}); a second signal reveals the same nullifier {nullifier}: pass --again to send it anyway",
            used.message,
            used.at
        );
    }
    let signal = steward_zk::prove(&identity, &tree, scope, message)
        .with_context(|| format!("proving for zk group {group} in scope {scope:?}"))?;
    store.zk_record_nullifier(
        NullifierSide::Proved,
        &signal.nullifier,
        &signal.scope,
        &signal.root,
        &signal.message,
    )?;
    // The tamper-evident record of what this home signalled: the message by its hash only.
    store.audit(
        &AuditRecord::new("zk-signal", scope)
            .input("message", message)
            .detail(serde_json::json!({
                "group": group,
                "root": signal.root,
                "nullifier": signal.nullifier,
                "again": again,
            })),
    )?;
    Ok(signal)
}

#[derive(Serialize)]
struct VerifyOut<'a> {
    valid: bool,
    /// Why not, as a stable name (`rejected`, `root-mismatch`, `double-signal`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// The same signal was accepted before (verifying it again is not a second signal).
    seen_before: bool,
    group: Option<&'a str>,
    root: &'a str,
    nullifier: &'a str,
    scope: &'a str,
    message: &'a str,
}

fn verify(ctx: &Ctx, out: &Output, a: &VerifyArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&a.file)
        .with_context(|| format!("reading {}", a.file.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", a.file.display()))?;
    let v = v.get("data").cloned().unwrap_or(v);
    // An anonymous views export (`views publish --anonymous`) carries its signal in `zk`, and
    // the signal's message must be the hash of the export itself.
    let (signal, bound) = match v.get("zk") {
        Some(zk) => (zk.clone(), Some(crate::cmd::views::anonymous_message(&v)?)),
        None => (v, None),
    };
    let signal: Signal = serde_json::from_value(signal)
        .with_context(|| format!("{} is not a zk signal", a.file.display()))?;
    let (_, mut store) = ctx.open_store()?;
    let group = a
        .group
        .as_deref()
        .map(|name| load_group(&store, name).map(|g| (name, g)))
        .transpose()?;
    let mut report = VerifyOut {
        valid: false,
        kind: None,
        reason: None,
        seen_before: false,
        group: a.group.as_deref(),
        root: &signal.root,
        nullifier: &signal.nullifier,
        scope: &signal.scope,
        message: &signal.message,
    };
    if let Some(expected) = &bound
        && *expected != signal.message
    {
        let reason = format!(
            "the signal's message {} is not the hash of these views ({expected}): the export was changed after it was proved",
            signal.message
        );
        return Ok(invalid(out, report, "message-mismatch", reason));
    }
    let checked = steward_zk::verify(&signal).and_then(|()| {
        group
            .as_ref()
            .map_or(Ok(()), |(n, g)| signal.check_root(n, g))
    });
    if let Err(e) = checked {
        return Ok(invalid(out, report, e.kind(), e_chain(&e)));
    }
    // A valid proof whose nullifier already came with another signal in this scope is the same
    // member signalling twice.
    if let Some(prior) = store.zk_nullifier(NullifierSide::Verified, &signal.nullifier)? {
        if prior.message != signal.message || prior.root != signal.root.to_ascii_lowercase() {
            let reason = format!(
                "double signal: nullifier {} already signalled {:?} in scope {:?} at {}",
                signal.nullifier, prior.message, prior.scope, prior.at
            );
            return Ok(invalid(out, report, "double-signal", reason));
        }
        report.seen_before = true;
    } else {
        store.zk_record_nullifier(
            NullifierSide::Verified,
            &signal.nullifier,
            &signal.scope,
            &signal.root,
            &signal.message,
        )?;
    }
    report.valid = true;
    out.result(&report, || {
        let mut s = format!(
            "valid: a member of {} signalled {:?} in scope {:?}\n",
            report
                .group
                .map_or_else(|| format!("root {}", report.root), |g| format!("group {g}")),
            report.message,
            report.scope
        );
        if report.seen_before {
            let _ = writeln!(s, "(this signal was verified before)");
        }
        s
    });
    Ok(ExitCode::SUCCESS)
}

fn e_chain(e: &Invalid) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        let _ = write!(s, ": {inner}");
        src = inner.source();
    }
    s
}

fn invalid(
    out: &Output,
    mut report: VerifyOut<'_>,
    kind: &'static str,
    reason: String,
) -> ExitCode {
    report.kind = Some(kind);
    report.reason = Some(reason.clone());
    out.failed_result(&report, || format!("invalid: {reason}\n"));
    ExitCode::from(exit::CHECK_FAILED)
}
