//! The on-chain half of `steward zk` (`contracts/StewardGroups.sol`, docs/privacy.md):
//! `zk group add NAME --rpc URL --contract ADDR --group-id N` reads a group's members from the
//! contract's events, builds the tree here and stores it only when its root is the contract's;
//! `zk signal FILE --rpc URL --contract ADDR --group-id N` sends a signal `zk prove` made (a
//! vote: scope the proposal, message the choice) from one of this home's keys; `zk tally`
//! reads the contract's count per choice. The RPC goes through the network allowlist like
//! every other chain command.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde::Serialize;
use steward_agent::zk::ZkGroup;
use steward_agent::{Home, Network};
use steward_core::{Address, AuditRecord, U256};
use steward_eth::{ChainSignal, StewardGroups};
use steward_zk::{Group, Signal};

use crate::ctx::Ctx;
use crate::output::Output;

/// Where a group lives on chain (`zk group add NAME --contract ...`).
#[derive(Debug, Args)]
pub(crate) struct GroupChainArgs {
    /// JSON-RPC endpoint of the group contract's chain, checked against network.allow
    #[arg(long, requires = "contract")]
    pub(crate) rpc: Option<String>,
    /// A StewardGroups contract: the members come from its MemberAdded events instead of the
    /// command line, and the tree built from them must have the contract's root
    #[arg(long, requires_all = ["rpc", "group_id"], conflicts_with_all = ["members", "depth"])]
    pub(crate) contract: Option<Address>,
    /// The group's id in the contract
    #[arg(long, requires = "contract")]
    pub(crate) group_id: Option<u64>,
    /// The first block to read events from (the contract's deployment block is enough)
    #[arg(long, default_value_t = 0, requires = "contract")]
    pub(crate) from_block: u64,
}

#[derive(Debug, Args)]
pub(crate) struct SignalArgs {
    /// A signal: the JSON `zk prove --json` printed (its `data`, or the whole envelope)
    file: PathBuf,
    /// JSON-RPC endpoint, checked against network.allow
    #[arg(long, required_unless_present = "calldata")]
    rpc: Option<String>,
    /// The StewardGroups contract
    #[arg(long)]
    contract: Address,
    /// Print the transaction (`{to, data}`) for a relayer or another wallet to send, instead of
    /// sending it: nothing is signed and no RPC is used
    #[arg(long, conflicts_with_all = ["rpc", "key"])]
    calldata: bool,
    /// The group's id in the contract (the signal's root must be one this group has had)
    #[arg(long)]
    group_id: u64,
    /// Key file or address in <home>/keys/ that sends and pays for the transaction. Its address
    /// is public, so there is no default: name one not linked to you (docs/privacy.md)
    #[arg(long, required_unless_present = "calldata")]
    key: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TallyArgs {
    /// JSON-RPC endpoint, checked against network.allow
    #[arg(long)]
    rpc: String,
    /// The StewardGroups contract
    #[arg(long)]
    contract: Address,
    /// The group's id in the contract
    #[arg(long)]
    group_id: u64,
    /// The scope (the proposal) the votes were cast in
    #[arg(long)]
    scope: String,
    /// The choices (messages) to count
    #[arg(required = true, value_name = "CHOICE")]
    choices: Vec<String>,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn client(ctx: &Ctx, home: &Home, rpc: &str, contract: Address) -> Result<StewardGroups> {
    let cfg = ctx.config(home)?;
    let rpc = Network::from_config(&cfg)?.rpc(rpc)?;
    Ok(StewardGroups::new(rpc, contract))
}

#[derive(Serialize)]
struct ChainGroupOut<'a> {
    name: &'a str,
    depth: usize,
    members: usize,
    root: String,
    contract: String,
    group_id: u64,
    /// The stored group had other members, now replaced by the contract's.
    replaced: bool,
}

/// `zk group add NAME --rpc URL --contract ADDR --group-id N`.
pub(crate) fn group_add(
    ctx: &Ctx,
    out: &Output,
    name: &str,
    c: &GroupChainArgs,
) -> Result<ExitCode> {
    let (Some(rpc), Some(contract), Some(group_id)) = (&c.rpc, c.contract, c.group_id) else {
        bail!("zk group {name}: --contract needs --rpc and --group-id");
    };
    let (home, mut store) = ctx.open_store()?;
    let groups = client(ctx, &home, rpc, contract)?;
    let gid = U256::from(group_id);
    let rt = runtime()?;
    let (chain, members) = rt
        .block_on(async {
            let g = groups.group(gid).await?.ok_or_else(|| {
                anyhow!("the contract has no group {group_id} (is {contract} the StewardGroups contract, and the id right?)")
            })?;
            let members = groups.members(gid, c.from_block, g.size).await?;
            Ok::<_, anyhow::Error>((g, members))
        })
        .with_context(|| format!("reading zk group {name} from group {group_id} at {contract}"))?;
    let tree = Group::new(chain.depth, members.clone())
        .with_context(|| format!("zk group {name} from group {group_id} at {contract}"))?;
    let (local, onchain) = (
        steward_zk::to_hex(&tree.root()),
        steward_zk::to_hex(&chain.root),
    );
    if local != onchain {
        bail!(
            "zk group {name}: the {} member(s) in group {group_id}'s events at {contract} make root {local}, but the contract's root is {onchain}; nothing stored",
            members.len()
        );
    }
    let g = ZkGroup {
        name: name.to_owned(),
        depth: chain.depth,
        members: members.iter().map(steward_zk::to_hex).collect(),
    };
    let replaced = store
        .zk_group(name)?
        .is_some_and(|old| old.members != g.members || old.depth != g.depth);
    store.zk_put_group(&g)?;
    store.audit(
        &AuditRecord::new("zk-group", name).detail(serde_json::json!({
            "members": g.members.len(),
            "depth": g.depth,
            "contract": contract.to_string(),
            "group_id": group_id,
            "root": onchain,
        })),
    )?;
    let o = ChainGroupOut {
        name,
        depth: g.depth,
        members: g.members.len(),
        root: onchain,
        contract: contract.to_string(),
        group_id,
        replaced,
    };
    out.result(&o, || {
        format!(
            "group {}: {} member(s), depth {}, root {} (group {} at {}, root checked){}\n",
            o.name,
            o.members,
            o.depth,
            o.root,
            o.group_id,
            o.contract,
            if o.replaced {
                "; replaced the stored members"
            } else {
                ""
            }
        )
    });
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct CalldataOut {
    to: String,
    data: String,
    group_id: u64,
    nullifier: String,
}

#[derive(Serialize)]
struct SignalOut {
    contract: String,
    group_id: u64,
    scope: String,
    message: String,
    root: String,
    nullifier: String,
    from: String,
    tx: String,
    block: u64,
    gas_used: u64,
}

/// `zk signal FILE --rpc URL --contract ADDR --group-id N`.
pub(crate) fn signal(ctx: &Ctx, out: &Output, a: &SignalArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&a.file)
        .with_context(|| format!("reading {}", a.file.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", a.file.display()))?;
    let v = v.get("data").cloned().unwrap_or(v);
    let signal: Signal = serde_json::from_value(v)
        .with_context(|| format!("{} is not a zk signal", a.file.display()))?;
    // A signal that does not verify here would only burn gas there.
    steward_zk::verify(&signal)
        .with_context(|| format!("not sending {}: it does not verify", a.file.display()))?;
    let words = signal.words()?;
    let gid = U256::from(a.group_id);
    let chain_signal = ChainSignal {
        root: words.root,
        nullifier: words.nullifier,
        scope: signal.scope.clone(),
        message: signal.message.clone(),
        proof: words.proof,
    };
    let Some(rpc) = &a.rpc else {
        let o = CalldataOut {
            to: a.contract.to_string(),
            data: steward_eth::signal_calldata(gid, &chain_signal)
                .iter()
                .fold(String::from("0x"), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                }),
            group_id: a.group_id,
            nullifier: signal.nullifier.clone(),
        };
        out.result(&o, || format!("to {}\ndata {}\n", o.to, o.data));
        return Ok(ExitCode::SUCCESS);
    };
    let (home, mut store) = ctx.open_store()?;
    let groups = client(ctx, &home, rpc, a.contract)?;
    let key = crate::cmd::bond::open_key(&home, a.key.as_deref())?;
    let from = key.address();
    let rt = runtime()?;
    let sent = rt
        .block_on(async {
            let g = groups.group(gid).await?.ok_or_else(|| {
                anyhow!(
                    "the contract has no group {} (is {} the StewardGroups contract?)",
                    a.group_id,
                    a.contract
                )
            })?;
            if g.depth != signal.depth {
                bail!(
                    "the signal was proved for a depth-{} tree but group {} is depth {}",
                    signal.depth,
                    a.group_id,
                    g.depth
                );
            }
            Ok(groups.signal(&key, gid, &chain_signal).await?)
        })
        .with_context(|| {
            format!(
                "sending the signal in scope {:?} to group {} at {}",
                signal.scope, a.group_id, a.contract
            )
        })?;
    store.audit(
        &AuditRecord::new("zk-signal-sent", &signal.scope)
            .input("message", &signal.message)
            .detail(serde_json::json!({
                "contract": a.contract.to_string(),
                "group_id": a.group_id,
                "root": signal.root,
                "nullifier": signal.nullifier,
                "from": from.to_string(),
                "tx": sent.mined.tx.to_string(),
            })),
    )?;
    let o = SignalOut {
        contract: a.contract.to_string(),
        group_id: a.group_id,
        scope: signal.scope.clone(),
        message: signal.message.clone(),
        root: signal.root.clone(),
        nullifier: signal.nullifier.clone(),
        from: from.to_string(),
        tx: sent.mined.tx.to_string(),
        block: sent.mined.block,
        gas_used: sent.mined.gas_used,
    };
    out.result(&o, || {
        format!(
            "signalled {:?} in scope {:?} to group {} at {}: tx {} (block {}, {} gas, sent from {})\n",
            o.message, o.scope, o.group_id, o.contract, o.tx, o.block, o.gas_used, o.from
        )
    });
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct TallyOut {
    contract: String,
    group_id: u64,
    scope: String,
    /// Accepted signals per choice, in the order asked.
    counts: Vec<ChoiceCount>,
}

#[derive(Serialize)]
struct ChoiceCount {
    choice: String,
    votes: String,
}

/// `zk tally --rpc URL --contract ADDR --group-id N --scope S CHOICE...`: the contract's count
/// of accepted signals per choice (read only).
pub(crate) fn tally(ctx: &Ctx, out: &Output, a: &TallyArgs) -> Result<ExitCode> {
    let home = Home::open(&ctx.home_path()?)?;
    let groups = client(ctx, &home, &a.rpc, a.contract)?;
    let gid = U256::from(a.group_id);
    let rt = runtime()?;
    let counts = rt
        .block_on(async {
            if groups.group(gid).await?.is_none() {
                bail!(
                    "the contract has no group {} (is {} the StewardGroups contract?)",
                    a.group_id,
                    a.contract
                );
            }
            let mut counts = Vec::with_capacity(a.choices.len());
            for c in &a.choices {
                let n = groups.tally(gid, &a.scope, c).await?;
                counts.push(ChoiceCount {
                    choice: c.clone(),
                    votes: n.to_string(),
                });
            }
            Ok(counts)
        })
        .with_context(|| {
            format!(
                "reading the tally of scope {:?} in group {} at {}",
                a.scope, a.group_id, a.contract
            )
        })?;
    let o = TallyOut {
        contract: a.contract.to_string(),
        group_id: a.group_id,
        scope: a.scope.clone(),
        counts,
    };
    out.result(&o, || {
        let mut s = format!(
            "scope {:?}, group {} at {}:\n",
            o.scope, o.group_id, o.contract
        );
        for c in &o.counts {
            let _ = writeln!(s, "  {:?}: {}", c.choice, c.votes);
        }
        s
    });
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// The stored group to publish
    name: String,
    /// JSON-RPC endpoint, checked against network.allow
    #[arg(long)]
    rpc: String,
    /// The StewardGroups contract
    #[arg(long)]
    contract: Address,
    /// An existing group to append to (this key must be its admin). Without it, the group this
    /// home published NAME to on this contract before, else a new one
    #[arg(long)]
    group_id: Option<u64>,
    /// Create a new group even though NAME was published to this contract before
    #[arg(long, conflicts_with = "group_id")]
    new: bool,
    /// Key file or address in <home>/keys/ that administers the group and pays (default: the
    /// default key)
    #[arg(long)]
    key: Option<String>,
    /// The first block to read the group's events from
    #[arg(long, default_value_t = 0)]
    from_block: u64,
}

#[derive(Serialize)]
struct PublishOut {
    name: String,
    contract: String,
    group_id: u64,
    created: bool,
    /// Members appended by this run (the others were on chain already).
    added: usize,
    members: usize,
    root: String,
    txs: Vec<String>,
}

/// `zk group publish NAME --rpc URL --contract ADDR [--group-id N]`: the stored group on chain.
/// Members already there must be the stored group's first ones, in order (leaf order is part of
/// the root); the rest are appended one transaction each, so a rerun after a crash adds only
/// what is missing.
pub(crate) fn publish(ctx: &Ctx, out: &Output, a: &PublishArgs) -> Result<ExitCode> {
    let (home, mut store) = ctx.open_store()?;
    let stored = store
        .zk_group(&a.name)?
        .ok_or_else(|| anyhow!("no zk group named {:?} (zk group add)", a.name))?;
    let members = stored
        .members
        .iter()
        .map(|m| steward_zk::parse_field("commitment", m))
        .collect::<std::result::Result<Vec<_>, _>>()
        .with_context(|| format!("zk group {}", a.name))?;
    let local_root = steward_zk::to_hex(&Group::new(stored.depth, members.clone())?.root());
    let groups = client(ctx, &home, &a.rpc, a.contract)?;
    let key = crate::cmd::bond::open_key(&home, a.key.as_deref())?;
    // Where NAME went on this contract: "creating" while a createGroup may be in flight, then
    // the group's id, so a rerun appends to that group instead of creating another.
    let meta_key = format!("zk.published.{:#x}.{}", a.contract, a.name);
    let known = match (a.group_id, a.new, store.meta(&meta_key)?) {
        (Some(g), _, _) => Some(g),
        (None, true, _) | (None, false, None) => None,
        (None, false, Some(v)) if v == "creating" => bail!(
            "an earlier `zk group publish {}` to {} stopped while creating the group, so its id is unknown here: find the GroupCreated event with admin {} on the contract and pass its id with --group-id (or --new to create another group)",
            a.name,
            a.contract,
            key.address()
        ),
        (None, false, Some(v)) => Some(v.parse::<u64>().with_context(|| {
            format!(
                "the store's record of where group {} was published ({meta_key}) reads {v:?}",
                a.name
            )
        })?),
    };
    if known.is_none() {
        remember(&mut store, &meta_key, "creating")?;
    }
    let rt = runtime()?;
    let what = || {
        format!(
            "publishing zk group {} to {}{}",
            a.name,
            a.contract,
            known.map_or(String::new(), |g| format!(" (group {g})"))
        )
    };
    let (gid, created, added, root, txs) = rt
        .block_on(async {
            let mut txs = Vec::new();
            let (gid, created) = match known {
                Some(g) => (U256::from(g), false),
                None => {
                    steward_agent::cast::pause_at("zk-before-create");
                    let (gid, mined) = groups
                        .create_group(&key, stored.depth, key.address())
                        .await?;
                    txs.push(mined.tx.to_string());
                    // Kept before any member is sent: a failure below leaves a group to resume.
                    let id = u64::try_from(gid)
                        .context("the contract returned a group id above 2^64")?;
                    remember(&mut store, &meta_key, &id.to_string())?;
                    tracing::info!(group_id = id, contract = %a.contract, name = %a.name, "created the group on chain");
                    (gid, true)
                }
            };
            let g = groups.group(gid).await?.ok_or_else(|| {
                anyhow!("the contract has no group {gid} (is {} the StewardGroups contract?)", a.contract)
            })?;
            if g.depth != stored.depth {
                bail!("group {gid} on chain has depth {}, the stored group {}", g.depth, stored.depth);
            }
            if g.admin != key.address() {
                bail!("group {gid} is administered by {}, not by the key {}", g.admin, key.address());
            }
            let there = groups.members(gid, a.from_block, g.size).await?;
            if !members.starts_with(&there) {
                bail!(
                    "group {gid} on chain holds {} member(s) that are not the stored group's first ones in order; nothing sent",
                    there.len()
                );
            }
            for m in &members[there.len()..] {
                txs.push(groups.add_member(&key, gid, *m).await?.tx.to_string());
            }
            let root = groups
                .group(gid)
                .await?
                .map(|g| steward_zk::to_hex(&g.root))
                .unwrap_or_default();
            Ok((gid, created, members.len() - there.len(), root, txs))
        })
        .with_context(what)?;
    let group_id = u64::try_from(gid).context("the contract returned a group id above 2^64")?;
    remember(&mut store, &meta_key, &group_id.to_string())?;
    if root != local_root {
        bail!(
            "zk group {}: after publishing, group {group_id} at {} has root {root}, the stored group {local_root}",
            a.name,
            a.contract
        );
    }
    store.audit(
        &AuditRecord::new("zk-group-published", &a.name).detail(serde_json::json!({
            "contract": a.contract.to_string(),
            "group_id": group_id,
            "created": created,
            "added": added,
            "members": members.len(),
            "root": root,
            "txs": txs,
        })),
    )?;
    let o = PublishOut {
        name: a.name.clone(),
        contract: a.contract.to_string(),
        group_id,
        created,
        added,
        members: members.len(),
        root,
        txs,
    };
    out.result(&o, || {
        format!(
            "group {}: {} group {} at {}, {} member(s) added, {} in all, root {} (checked)\n",
            o.name,
            if o.created { "created" } else { "updated" },
            o.group_id,
            o.contract,
            o.added,
            o.members,
            o.root
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// Keeps `value` under `key` in the store's `meta` table.
fn remember(store: &mut steward_agent::Store, key: &str, value: &str) -> Result<()> {
    store.transaction(|tx| tx.set_meta(key, value))?;
    Ok(())
}
