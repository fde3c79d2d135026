//! `steward demo`: the whole story on this machine, with nothing outside it.
//!
//! It starts a local anvil with an OpenZeppelin Governor + token + timelock, a loopback Snapshot
//! hub and sequencer; creates realistic proposals (one hides a treasury drain behind a
//! housekeeping description, one is truly ambiguous for the persona); loads a demo persona
//! (statements, writing, past votes written for the demo, `crates/steward/demo/`) and her key
//! (anvil's account 1, a token holder); runs `steward run` with casting on; prints what it voted,
//! what it asked and why; casts an anonymous vote (a Semaphore proof of membership counted by a
//! `StewardGroups` contract); and leaves the review desk running until Ctrl-C, which stops anvil
//! and the loopback servers with it. `--no-desk` stops after the run (tests).
//!
//! The demo home is recreated on every run; a directory without the demo marker is never
//! touched.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use serde_json::json;
use steward_agent::testkit::hub::MockHub;
use steward_agent::testkit::sequencer::MockSequencer;
use steward_agent::{Home, Keys, Passphrase, Store};
use steward_core::Address;
use steward_eth::testkit::{Anvil, Artifacts, Dao, DaoConfig, Tools, dev_key, ether};
use steward_eth::{Kdf, KeystorePassword, encrypt_keystore};

use crate::cmd::run::{Round, RunArgs};
use crate::ctx::Ctx;
use crate::output::Output;

const MARKER: &str = ".steward-demo";
const STATEMENTS: &str = include_str!("../../demo/persona-statements.txt");
const WRITING: &str = include_str!("../../demo/persona-writing.md");
const VOTES: &str = include_str!("../../demo/persona-votes.csv");
const SPACE: &str = "demo-dao.eth";

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Stop after the run instead of leaving the review desk open
    #[arg(long)]
    pub(crate) no_desk: bool,
}

#[derive(Debug, Serialize)]
struct Story {
    home: String,
    anvil: String,
    governor: Address,
    persona: Address,
    round: Round,
    on_chain: Vec<OnChain>,
    snapshot_votes: usize,
    /// The decision path evaluated on real votes, saved for the desk's Evaluation page.
    evaluation: DemoEval,
    /// The persona's anonymous vote on the ambiguous proposal, counted on chain.
    anonymous: Anonymous,
}

/// An anonymous vote: a Semaphore proof that one of the group's members voted, sent by an
/// account with no link to the persona, counted by a `StewardGroups` contract.
#[derive(Debug, Serialize)]
struct Anonymous {
    contract: Address,
    group_id: u64,
    members: usize,
    scope: String,
    message: String,
    nullifier: String,
    tx: String,
    sent_from: Address,
    /// The contract's count of `message` in `scope`.
    tally: String,
}

#[derive(Debug, Serialize)]
struct DemoEval {
    data: String,
    mode: String,
    n_test: usize,
    forced_accuracy: Option<f64>,
    auto_accuracy: Option<f64>,
    coverage: f64,
    /// (share asked, agreement on votes cast, coverage of all) per budget.
    attention: Vec<(f64, Option<f64>, f64)>,
    /// Why there is none, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: Option<String>,
}

#[derive(Debug, Serialize)]
struct OnChain {
    title: String,
    proposal_id: String,
    persona_voted: bool,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, args: &DemoArgs) -> Result<ExitCode> {
    let home_path = ctx.home_path()?;
    fresh_home(&home_path)?;
    let pass = Ctx::passphrase(false).context("the demo store's passphrase")?;
    let home = Home::create(&home_path)?;
    std::fs::write(
        home_path.join(MARKER),
        "made by `steward demo`; recreated on every run\n",
    )
    .context("marking the demo home")?;
    Store::create(&home, &pass)?;
    drop(home);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(story(ctx, out, args, &home_path, pass))
}

/// Removes a previous demo home; refuses anything else.
fn fresh_home(path: &Path) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    if !path.join(MARKER).is_file() {
        bail!(
            "{} exists and is not a demo home; point STEWARD_HOME at an empty directory for the demo",
            path.display()
        );
    }
    std::fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))
}

#[allow(clippy::too_many_lines)]
async fn story(
    ctx: &Ctx,
    out: &Output,
    args: &DemoArgs,
    home_path: &Path,
    pass: Passphrase,
) -> Result<ExitCode> {
    let step = |s: &str| tracing::warn!("demo: {s}");
    // The chain: anvil + OpenZeppelin Governor, token, timelock (the test harness's DAO).
    step("starting anvil and deploying the DAO (Governor + ERC20Votes + Timelock)");
    let tools = Tools::detect().map_err(|e| anyhow::anyhow!("{e} (run `make tools`)"))?;
    let anvil = Anvil::start(&tools)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let artifacts = Artifacts::load(&tools).map_err(|e| anyhow::anyhow!("{e}"))?;
    let dao = Dao::deploy(
        &anvil,
        &artifacts,
        &DaoConfig {
            voting_period: 5_000,
            ..DaoConfig::default()
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let persona = dao.voters[0];
    let accounts = anvil.accounts().to_vec();
    let auditor = accounts.get(5).copied().unwrap_or(Address::ZERO);
    let organisers = accounts.get(6).copied().unwrap_or(Address::ZERO);
    let drain_to: Address = "0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe"
        .parse()
        .unwrap_or(Address::ZERO);
    let proposals = [
        (
            "Fund a second security audit of the bridge",
            format!(
                "# Fund a second security audit of the bridge\n\nThis proposal pays 60,000 tokens from the treasury to the auditors at {auditor} for a second, independent audit of the bridge contracts. The full report will be published on the forum."
            ),
            dao.treasury_transfer(auditor, ether(60_000)),
        ),
        (
            "Refresh the delegate registry metadata",
            "# Refresh the delegate registry metadata\n\nHousekeeping: this updates the metadata of the delegate registry so that profiles show correctly. No funds move and nothing else changes.".to_owned(),
            dao.treasury_transfer(drain_to, ether(450_000)),
        ),
        (
            "Event sponsorship: a public goods hackathon",
            format!(
                "# Event sponsorship: a public goods hackathon\n\nThe treasury sponsors a hackathon with 25,000 tokens: the DAO's logo on the event's marketing, and prizes for teams that build open-source public goods tools. Paid to the organisers at {organisers}. Winners are chosen by a jury; there are no milestones."
            ),
            dao.treasury_transfer(organisers, ether(25_000)),
        ),
    ];
    step("proposing on the Governor: an audit, a hidden treasury drain, an ambiguous sponsorship");
    let mut on_chain = Vec::new();
    for (title, body, action) in &proposals {
        let p = dao
            .propose(&anvil, dao.deployer, std::slice::from_ref(action), body)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        on_chain.push((title.to_string(), p.id));
    }
    anvil.mine(2).await.map_err(|e| anyhow::anyhow!("{e}"))?;

    // Snapshot: a loopback hub with two proposals of the demo space, and a sequencer that checks
    // signatures as the real one does.
    let now = jiff::Timestamp::now().as_second();
    let hub_proposals = vec![
        snapshot_proposal(
            "0xdem0000000000000000000000000000000000000000000000000000000000001",
            "Increase staking emissions by 3% per year",
            "Mint 3% new tokens per year as staking rewards to attract stakers. Emissions start next month and dilute non-stakers.",
            now,
        ),
        snapshot_proposal(
            "0xdem0000000000000000000000000000000000000000000000000000000000002",
            "Rename the governance forum categories",
            "Rename the forum categories 'Proposals' and 'Discussion' to 'Votes' and 'Ideas'.",
            now,
        ),
    ];
    let hub = MockHub::start(hub_proposals, Vec::new()).await?;
    let seq = MockSequencer::start(Some(hub.votes_sink())).await?;

    step("loading the persona: statements, writing, past votes, her key");
    let keystore_password = match Ctx::getenv(steward_agent::env::STEWARD_KEYSTORE_PASSWORD) {
        Some(p) => KeystorePassword::new(p)?,
        None => KeystorePassword::new("steward-demo".into())?,
    };
    let config = format!(
        "[network]\nallow = [\"loopback\"]\n\n[snapshot]\nhub = \"{}\"\nspaces = [\"{SPACE}\"]\nsequencer = \"{}\"\n\n[casting]\nenabled = true\n\n[[governors]]\nrpc = \"{}\"\naddress = \"{:#x}\"\nfrom_block = {}\n",
        hub.url,
        seq.url,
        anvil.url(),
        dao.governor,
        dao.deployed_at
    );
    std::fs::write(home_path.join("config.toml"), config).context("writing the demo config")?;
    {
        let home = Home::open(home_path)?;
        let keys = Keys::new(&home);
        let key = dev_key(1).map_err(|e| anyhow::anyhow!("{e}"))?;
        let file = home_path.join("persona-keystore.json");
        std::fs::write(
            &file,
            encrypt_keystore(&key, &keystore_password, Kdf::Light)?,
        )
        .context("writing the persona's keystore")?;
        keys.import(&file, &keystore_password)?;
        std::fs::remove_file(&file).context("removing the temporary keystore")?;
        let mut store = Store::open(&home, &pass)?;
        store.transaction(|tx| {
            for s in STATEMENTS.lines().filter(|l| !l.trim().is_empty()) {
                tx.add_profile_item(steward_agent::profile::ItemKind::Statement, s, "demo", None)?;
            }
            for (i, chunk) in steward_agent::profile::chunk_writing(WRITING)
                .iter()
                .enumerate()
            {
                tx.add_profile_item(
                    steward_agent::profile::ItemKind::Writing,
                    chunk,
                    &format!("demo/persona-writing.md#{}", i + 1),
                    None,
                )?;
            }
            let (votes, bad) = steward_agent::profile::parse_votes_csv(
                Path::new("demo/persona-votes.csv"),
                VOTES.as_bytes(),
                None,
            );
            if let Some(b) = bad.first() {
                return Err(steward_agent::Error::Source {
                    source_name: "demo votes".into(),
                    message: b.to_string(),
                });
            }
            tx.insert_profile_votes(&votes)?;
            Ok(())
        })?;
    }

    step("steward run: sync, verify, decide, vote or ask");
    let round = tokio::task::block_in_place(|| {
        crate::cmd::run::round_with(
            ctx,
            &RunArgs {
                watch: false,
                interval: 0,
                no_sync: false,
                no_llm: false,
            },
            Some(KeystorePassword::allow_empty(
                Ctx::getenv(steward_agent::env::STEWARD_KEYSTORE_PASSWORD)
                    .unwrap_or_else(|| "steward-demo".into()),
            )),
        )
    })?;

    step("evaluating the decision path on real on-chain votes (replay, with the attention curve)");
    let evaluation = tokio::task::block_in_place(|| demo_eval(home_path, &pass))?;

    step(
        "an anonymous vote: a zero-knowledge proof of membership, counted on chain without saying who",
    );
    // On the proposal the agent was sure of (the audit, voted For above), this time unlinkable.
    let scope = on_chain
        .first()
        .map_or_else(|| "demo".to_owned(), |(_, id)| format!("governor:{id}"));
    let anonymous = anonymous_vote(&anvil, &artifacts, home_path, &pass, &scope).await?;

    let caster = steward_eth::GovernorCaster::new(anvil.rpc().clone(), dao.governor);
    let mut chain = Vec::new();
    for (title, id) in &on_chain {
        let voted = caster.has_voted(*id, persona).await.unwrap_or(false);
        chain.push(OnChain {
            title: title.clone(),
            proposal_id: id.to_string(),
            persona_voted: voted,
        });
    }
    let story = Story {
        home: home_path.display().to_string(),
        anvil: anvil.url().to_string(),
        governor: dao.governor,
        persona,
        snapshot_votes: seq.accepted().len(),
        round,
        on_chain: chain,
        evaluation,
        anonymous,
    };
    out.result(&story, || render(&story));
    if args.no_desk {
        return Ok(ExitCode::SUCCESS);
    }

    // The review desk, until Ctrl-C; anvil, the hub and the sequencer stop with it.
    let home = Home::open(home_path)?;
    let cfg = ctx.config(&home)?;
    let store = Store::open(&home, &pass)?;
    let caster = std::sync::Arc::new(steward_agent::Caster::new(
        &home,
        &cfg,
        Some(KeystorePassword::allow_empty(
            Ctx::getenv(steward_agent::env::STEWARD_KEYSTORE_PASSWORD)
                .unwrap_or_else(|| "steward-demo".into()),
        )),
    )?);
    let desk = crate::cmd::serve::desk(
        store,
        &cfg,
        home.config_path(),
        caster,
        &crate::cmd::model::models_dir(ctx)?,
    )?;
    let listener = tokio::net::TcpListener::bind(cfg.web.bind.as_str())
        .await
        .or(tokio::net::TcpListener::bind("127.0.0.1:0").await)
        .context("binding the review desk")?;
    let local = listener.local_addr()?;
    let url = desk.url(local);
    {
        use std::io::Write;
        let mut o = std::io::stdout().lock();
        let _ = writeln!(
            o,
            "\nReview desk: {url}\nOpen it to answer the questions above; Ctrl-C stops the desk, anvil and the loopback servers."
        );
        let _ = o.flush();
    }
    steward_agent::web::serve(desk, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    drop((hub, seq, anvil));
    Ok(ExitCode::SUCCESS)
}

/// The persona's Semaphore identity (kept in her store) among seven other members of a group on
/// a `StewardGroups` contract; her proof of membership votes `For` in `scope`, sent from anvil's
/// account 5, which has no link to her. The store records the identity, the group and the
/// signal, so the desk's Activity page shows them (docs/privacy.md).
async fn anonymous_vote(
    anvil: &Anvil,
    artifacts: &Artifacts,
    home_path: &Path,
    pass: &Passphrase,
    scope: &str,
) -> Result<Anonymous> {
    use steward_agent::zk::{NullifierSide, ZkGroup};
    use steward_zk::{Group, Identity, IdentitySecret};
    const MESSAGE: &str = "For";
    let tk = |e: steward_eth::testkit::TestkitError| anyhow::anyhow!("{e}");
    let zk = steward_eth::testkit::ZkContracts::deploy(anvil, artifacts)
        .await
        .map_err(tk)?;
    let admin = dev_key(0).map_err(tk)?;
    let secret = IdentitySecret::generate()?;
    let me = Identity::new(&secret);
    let mut members = Vec::new();
    for i in 0..8 {
        members.push(if i == 3 {
            me.commitment()
        } else {
            Identity::new(&IdentitySecret::generate()?).commitment()
        });
    }
    let (gid, _) = zk
        .client()
        .create_group(&admin, 16, admin.address())
        .await?;
    for m in &members {
        zk.client().add_member(&admin, gid, *m).await?;
    }
    let group = Group::new(16, members.clone())?;
    let signal = steward_zk::prove(&me, &group, scope, MESSAGE)?;
    let words = signal.words()?;
    let relayer = dev_key(5).map_err(tk)?;
    let sent = zk
        .client()
        .signal(
            &relayer,
            gid,
            &steward_eth::ChainSignal {
                root: words.root,
                nullifier: words.nullifier,
                scope: scope.to_owned(),
                message: MESSAGE.to_owned(),
                proof: words.proof,
            },
        )
        .await?;
    let tally = zk.client().tally(gid, scope, MESSAGE).await?;
    let home = Home::open(home_path)?;
    let mut store = Store::open(&home, pass)?;
    store.zk_set_identity(secret.expose(), &steward_zk::to_hex(&me.commitment()))?;
    store.zk_put_group(&ZkGroup {
        name: "demo-dao".into(),
        depth: 16,
        members: members.iter().map(steward_zk::to_hex).collect(),
    })?;
    store.zk_record_nullifier(
        NullifierSide::Proved,
        &signal.nullifier,
        scope,
        &signal.root,
        MESSAGE,
    )?;
    Ok(Anonymous {
        contract: zk.groups,
        group_id: u64::try_from(gid).context("group id")?,
        members: members.len(),
        scope: scope.to_owned(),
        message: MESSAGE.to_owned(),
        nullifier: signal.nullifier.clone(),
        tx: sent.mined.tx.to_string(),
        sent_from: relayer.address(),
        tally: tally.to_string(),
    })
}

/// The shared data's on-chain votes (Compound, Aave, Lido, Uniswap with their vote times), when
/// they are beside the checkout (`STEWARD_DEMO_DATA` names another folder).
fn demo_data() -> std::path::PathBuf {
    Ctx::getenv("STEWARD_DEMO_DATA").map_or_else(
        || std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")),
        std::path::PathBuf::from,
    )
}

/// `steward eval votes --mode replay --ask-curve --save` on the shared on-chain votes, so the
/// desk's Evaluation page is not empty; titles only (no model), as fast as the eval gets.
fn demo_eval(home: &Path, pass: &Passphrase) -> Result<DemoEval> {
    let votes = demo_data().join("onchain-governor-votes/votes.csv");
    if !votes.is_file() {
        return Ok(DemoEval {
            data: votes.display().to_string(),
            mode: "replay".into(),
            n_test: 0,
            forced_accuracy: None,
            auto_accuracy: None,
            coverage: 0.0,
            attention: Vec::new(),
            missing: Some(format!(
                "{} is absent: no evaluation saved (set STEWARD_DEMO_DATA to the shared data folder)",
                votes.display()
            )),
        });
    }
    let mut opts = steward_agent::EvalOptions::new(votes.clone());
    opts.mode = steward_agent::EvalMode::Replay;
    let report = steward_agent::eval_ask_curve(
        &opts,
        steward_agent::EvalEngines {
            embed: None,
            judge: None,
        },
        &mut |_, _| {},
    )
    .with_context(|| format!("evaluating on {}", votes.display()))?;
    let home = Home::open(home)?;
    let mut store = Store::open(&home, pass)?;
    crate::cmd::eval::save(&mut store, &votes.display().to_string(), &report)?;
    Ok(DemoEval {
        data: votes.display().to_string(),
        mode: report.mode.as_str().to_owned(),
        n_test: report.n_test,
        forced_accuracy: report.forced_accuracy,
        auto_accuracy: report.auto_accuracy,
        coverage: report.coverage,
        attention: report
            .ask_curve
            .iter()
            .map(|p| (p.asked, p.auto_accuracy, p.coverage))
            .collect(),
        missing: None,
    })
}

fn snapshot_proposal(id: &str, title: &str, body: &str, now: i64) -> serde_json::Value {
    json!({
        "id": id, "title": title, "body": body, "choices": ["For", "Against", "Abstain"],
        "start": now - 3_600, "end": now + 5 * 86_400, "snapshot": "1", "state": "active",
        "author": "0x00000000000000000000000000000000000d3e30", "created": now - 3_600,
        "type": "single-choice", "space": { "id": SPACE, "name": "Demo DAO" },
        "discussion": "", "scores": [], "scores_total": 0, "votes": 0, "quorum": 0
    })
}

fn render(s: &Story) -> String {
    let mut o = format!(
        "Steward demo: home {}, anvil {}, Governor {:#x}, persona {:#x}\n\n",
        s.home, s.anvil, s.governor, s.persona
    );
    o.push_str(&crate::cmd::run::render(&s.round));
    let _ = writeln!(o, "\n\nOn chain:");
    for c in &s.on_chain {
        let _ = writeln!(
            o,
            "  {}  {}",
            if c.persona_voted {
                "voted "
            } else {
                "not voted"
            },
            c.title
        );
    }
    let _ = write!(
        o,
        "Snapshot votes accepted by the sequencer: {}",
        s.snapshot_votes
    );
    let a = &s.anonymous;
    let _ = write!(
        o,
        "\n\nAnonymous vote: one of the {} members of group {} at {:#x} voted {:?} on {} (nullifier {}), sent from {:#x}, not the persona's address; the contract counts {} {:?}.",
        a.members,
        a.group_id,
        a.contract,
        a.message,
        a.scope,
        a.nullifier,
        a.sent_from,
        a.tally,
        a.message
    );
    let e = &s.evaluation;
    match &e.missing {
        Some(why) => {
            let _ = write!(o, "\n\nEvaluation: {why}");
        }
        None => {
            let f = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
            let _ = write!(
                o,
                "\n\nEvaluation ({} on {} test votes of {}): every vote decided {}, the votes it would cast {} at coverage {:.3}; saved for the desk's Evaluation page.\n  attention curve (share asked: agreement on votes cast @ coverage of all):",
                e.mode,
                e.n_test,
                e.data,
                f(e.forced_accuracy),
                f(e.auto_accuracy),
                e.coverage
            );
            for (asked, acc, cov) in &e.attention {
                let _ = write!(o, " {:.0}%: {} @ {cov:.3};", asked * 100.0, f(*acc));
            }
        }
    }
    o
}
