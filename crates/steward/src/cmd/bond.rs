//! `steward bond price | verify | deposit | reply | forfeit`: attention bonds (docs/economy.md).
//! `price` is the CO-QAF attention price; `verify` checks a mailbox's bonded messages on chain
//! against the user's policy; the rest send escrow transactions signed with a key from
//! `<home>/keys/`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use steward_agent::bonds::{self, BondPolicy, Incoming, Verdict};
use steward_agent::sources::mail::read_mailbox;
use steward_agent::{Home, IngestReport, Keys, Network, ingest_mail_messages};
use steward_core::mech::coqaf::PriceParams;
use steward_core::{Address, B256, U256};
use steward_eth::{BondEscrow, BondTx};

use crate::ctx::Ctx;
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum BondCommand {
    /// The attention price a sender pays: p0·(1 + α·D)^β, less γ·reply rate
    Price(PriceArgs),
    /// Check a maildir's or mbox's bonded messages on chain: deliver or hold, with the reason
    Verify(VerifyArgs),
    /// Stake a bond on a message (the sender)
    Deposit(DepositArgs),
    /// Reply to a bonded message: refund the sender less the fee (the recipient or its agent)
    Reply(MessageArgs),
    /// Forfeit an unanswered bond to its recipient (anyone, after the window)
    Forfeit(MessageArgs),
    /// Per-sender bonds, reply rate and share of the recipient's QAF and CO-QAF, from the chain
    Scores(ScoresArgs),
    /// Mail `sync` / `ingest mail` held under `[bonds]`, with the reason (newest first)
    Held,
    /// Answer the bonded mail `bonds.auto_reply` covers: acknowledge, then refund (one round)
    AutoReply,
}

#[derive(Debug, Args)]
pub(crate) struct ScoresArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The user's address (the bonds' recipient)
    #[arg(long)]
    recipient: Address,
    /// Scan deposits from this block (the escrow's deployment)
    #[arg(long, default_value_t = 0)]
    from_block: u64,
}

#[derive(Debug, Args)]
pub(crate) struct PriceArgs {
    /// Bonded messages the recipient received in the last 7 days (D)
    #[arg(long, default_value_t = 0)]
    inbox: u64,
    /// The share of this sender's messages the recipient answered (R_s, 0..1)
    #[arg(long, default_value_t = 0.0)]
    reply_rate: f64,
    #[arg(long, default_value_t = PriceParams::default().p0)]
    p0: f64,
    #[arg(long, default_value_t = PriceParams::default().alpha)]
    alpha: f64,
    #[arg(long, default_value_t = PriceParams::default().beta)]
    beta: f64,
    #[arg(long, default_value_t = PriceParams::default().gamma)]
    gamma: f64,
}

#[derive(Debug, Args)]
pub(crate) struct ChainArgs {
    /// JSON-RPC endpoint, checked against the network allowlist (default: bonds.rpc)
    #[arg(long)]
    rpc: Option<String>,
    /// The AttentionBonds escrow (default: bonds.escrow)
    #[arg(long)]
    escrow: Option<Address>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// A maildir (cur/ and new/) or an mbox file
    mailbox: PathBuf,
    #[command(flatten)]
    chain: ChainArgs,
    /// The chain the bonds must be on (default: bonds.chain_id)
    #[arg(long)]
    chain_id: Option<u64>,
    /// The token bonds must be in (default: bonds.token)
    #[arg(long)]
    token: Option<Address>,
    /// The user's address, the bonds' recipient (default: bonds.recipient)
    #[arg(long)]
    recipient: Option<Address>,
    /// The least bond delivered, in USDC (default: bonds.price, else the attention price at --inbox)
    #[arg(long)]
    price: Option<f64>,
    /// Bonded messages received in the last 7 days, for the default price [default: counted
    /// on chain, the recipient's deposits of the last 7 days from bonds.from_block]
    #[arg(long)]
    inbox: Option<u64>,
    /// From addresses delivered without a bond, comma-separated (default: bonds.whitelist)
    #[arg(long, value_delimiter = ',')]
    whitelist: Vec<String>,
    /// Trusted agents and delegates, delivered without a bond (default: bonds.trusted)
    #[arg(long, value_delimiter = ',')]
    trusted: Vec<String>,
    /// Blocks a deposit must be below the head before it counts (default: bonds.confirmations, 2)
    #[arg(long)]
    confirmations: Option<u64>,
    /// Store the delivered messages (as `ingest mail` does); held ones never reach the store
    #[arg(long)]
    ingest: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DepositArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The recipient's address
    #[arg(long)]
    to: Address,
    /// The message's Message-ID (hashed) or its 0x on-chain id
    #[arg(long)]
    message: String,
    /// USDC (6 decimals), e.g. 0.05
    #[arg(long)]
    amount: f64,
    /// Also approve the escrow for the amount first
    #[arg(long)]
    approve: bool,
    /// Key file or address in <home>/keys/ (default: the default key)
    #[arg(long)]
    key: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct MessageArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The message's Message-ID (hashed) or its 0x on-chain id
    message: String,
    #[arg(long)]
    key: Option<String>,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, command: BondCommand) -> Result<ExitCode> {
    match command {
        BondCommand::Price(a) => price(out, &a),
        BondCommand::Verify(a) => verify(ctx, out, &a),
        BondCommand::Deposit(a) => deposit(ctx, out, &a),
        BondCommand::Reply(a) => settle(ctx, out, &a, true),
        BondCommand::Forfeit(a) => settle(ctx, out, &a, false),
        BondCommand::Scores(a) => scores(ctx, out, &a),
        BondCommand::Held => held(ctx, out),
        BondCommand::AutoReply => auto_reply(ctx, out),
    }
}

fn params(a: &PriceArgs) -> PriceParams {
    PriceParams {
        p0: a.p0,
        alpha: a.alpha,
        beta: a.beta,
        gamma: a.gamma,
    }
}

fn usdc_units(amount: f64, flag: &str) -> Result<U256> {
    if !(0.0..=1e12).contains(&amount) {
        bail!("{flag}: {amount} is not a USDC amount");
    }
    Ok(U256::from((amount * bonds::USDC_UNIT as f64).round() as u64))
}

fn usdc_text(units: U256) -> String {
    let u = u128::try_from(units).unwrap_or(u128::MAX);
    format!("{}.{:06} USDC", u / 1_000_000, u % 1_000_000)
}

fn price(out: &Output, a: &PriceArgs) -> Result<ExitCode> {
    let units = bonds::price_units(&params(a), a.inbox, a.reply_rate)?;
    #[derive(Serialize)]
    struct P {
        inbox_7d: u64,
        reply_rate: f64,
        #[serde(with = "steward_eth::bonds::decimal")]
        units: U256,
        usdc: String,
    }
    let p = P {
        inbox_7d: a.inbox,
        reply_rate: a.reply_rate,
        units,
        usdc: usdc_text(units),
    };
    out.result(&p, || format!("{} ({} base units)", p.usdc, p.units));
    Ok(ExitCode::SUCCESS)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn escrow(ctx: &Ctx, chain: &ChainArgs) -> Result<(Home, BondEscrow)> {
    let home = Home::open(&ctx.home_path()?)?;
    let cfg = ctx.config(&home)?;
    // Flags win over [bonds]; config addresses were checked when it loaded.
    let Some(url) = chain.rpc.as_ref().or(cfg.bonds.rpc.as_ref()) else {
        bail!(
            "no RPC: pass --rpc or set bonds.rpc in {}",
            home.config_path().display()
        );
    };
    let escrow = match (chain.escrow, &cfg.bonds.escrow) {
        (Some(a), _) => a,
        (None, Some(a)) => a.parse().context("bonds.escrow")?,
        (None, None) => bail!(
            "no escrow: pass --escrow or set bonds.escrow in {}",
            home.config_path().display()
        ),
    };
    let rpc = Network::from_config(&cfg)?.rpc(url)?;
    Ok((home, BondEscrow::new(rpc, escrow)))
}

/// A flag, else the `[bonds]` key, else an error naming both.
fn flag_or<T: Clone>(flag: Option<T>, cfg: Option<T>, name: &str) -> Result<T> {
    flag.or(cfg).with_context(|| {
        format!(
            "pass --{} or set bonds.{} in config.toml",
            name.replace('_', "-"),
            name
        )
    })
}

fn cfg_address(v: &Option<String>, key: &str) -> Result<Option<Address>> {
    v.as_deref()
        .map(|a| a.parse::<Address>().with_context(|| format!("bonds.{key}")))
        .transpose()
}

fn verify(ctx: &Ctx, out: &Output, a: &VerifyArgs) -> Result<ExitCode> {
    let (home, esc) = escrow(ctx, &a.chain)?;
    let bc = ctx.config(&home)?.bonds;
    // The home's lock is taken again by --ingest.
    drop(home);
    let raw =
        read_mailbox(&a.mailbox).with_context(|| format!("reading {}", a.mailbox.display()))?;
    let mut messages = Vec::new();
    let mut parsed = Vec::new();
    let mut unreadable = Vec::new();
    for m in &raw {
        match Incoming::parse(&m.label, &m.bytes) {
            Ok(i) => {
                messages.push(i);
                parsed.push(m);
            }
            Err(e) => unreadable.push(e.to_string()),
        }
    }
    let recipient = flag_or(
        a.recipient,
        cfg_address(&bc.recipient, "recipient")?,
        "recipient",
    )?;
    let rt = runtime()?;
    // Without a price given, the live CO-QAF prices, each answered sender's discount included.
    let (price, sender_prices) = match (a.price, bc.price, a.inbox) {
        (Some(p), _, _) => (usdc_units(p, "--price")?, Default::default()),
        (None, Some(p), _) => (usdc_units(p, "bonds.price")?, Default::default()),
        (None, None, Some(d)) => (
            bonds::price_units(&PriceParams::default(), d, 0.0)?,
            Default::default(),
        ),
        (None, None, None) => {
            let live = rt.block_on(bonds::live_price(
                &esc,
                recipient,
                &PriceParams::default(),
                bc.from_block,
            ))?;
            (live.price, live.senders)
        }
    };
    let lower = |v: &[String], cfg: &[String]| -> BTreeSet<String> {
        let v = if v.is_empty() { cfg } else { v };
        v.iter().map(|s| s.trim().to_ascii_lowercase()).collect()
    };
    let policy = BondPolicy {
        chain_id: flag_or(a.chain_id, bc.chain_id, "chain_id")?,
        escrow: esc.address(),
        token: flag_or(a.token, cfg_address(&bc.token, "token")?, "token")?,
        recipient,
        price,
        whitelist: lower(&a.whitelist, &bc.whitelist),
        trusted_delegates: lower(&a.trusted, &bc.trusted),
        confirmations: a.confirmations.unwrap_or(bc.confirmations),
    };
    let verdicts = rt.block_on(bonds::verify_priced(
        &esc,
        &policy,
        &sender_prices,
        &messages,
    ))?;
    // Only what was paid for (or let through by the policy) reaches the store.
    let ingested = if a.ingest {
        let (home, mut store) = ctx.open_store()?;
        let cfg = ctx.config(&home)?;
        let delivered: Vec<_> = parsed
            .iter()
            .zip(&verdicts)
            .filter(|(_, v)| v.delivered())
            .map(|(m, _)| (*m).clone())
            .collect();
        let mailbox = a.mailbox.display().to_string();
        Some(
            ingest_mail_messages(&mut store, &mailbox, &delivered, &cfg.limits())
                .with_context(|| format!("while ingesting {mailbox}"))?,
        )
    } else {
        None
    };
    #[derive(Serialize)]
    struct Row<'a> {
        message: &'a str,
        label: &'a str,
        from: &'a str,
        #[serde(flatten)]
        verdict: &'a Verdict,
    }
    #[derive(Serialize)]
    struct Report<'a> {
        #[serde(with = "steward_eth::bonds::decimal")]
        price: U256,
        delivered: usize,
        held: usize,
        messages: Vec<Row<'a>>,
        unreadable: &'a [String],
        #[serde(skip_serializing_if = "Option::is_none")]
        ingested: Option<&'a IngestReport>,
    }
    let rows: Vec<Row<'_>> = messages
        .iter()
        .zip(&verdicts)
        .map(|(m, v)| Row {
            message: &m.message_id,
            label: &m.label,
            from: &m.from,
            verdict: v,
        })
        .collect();
    let delivered = verdicts.iter().filter(|v| v.delivered()).count();
    let report = Report {
        price,
        delivered,
        held: verdicts.len() - delivered,
        messages: rows,
        unreadable: &unreadable,
        ingested: ingested.as_ref(),
    };
    out.result(&report, || {
        let mut s = format!(
            "{} delivered, {} held (price {})\n",
            report.delivered,
            report.held,
            usdc_text(price)
        );
        for r in &report.messages {
            let what = serde_json::to_value(r.verdict)
                .map(|v| v.to_string())
                .unwrap_or_default();
            let _ = writeln!(s, "{}  {}  {}", r.label, r.from, what);
        }
        for u in &unreadable {
            let _ = writeln!(s, "unreadable: {u}");
        }
        if let Some(r) = &ingested {
            let _ = writeln!(s, "{}", crate::cmd::ingest::render(r));
        }
        s
    });
    Ok(ExitCode::SUCCESS)
}

fn message_id(s: &str) -> B256 {
    let t = s.trim();
    if t.len() == 66
        && let Ok(id) = t.parse::<B256>()
    {
        return id;
    }
    bonds::message_id_of(t)
}

pub(crate) fn open_key(home: &Home, sel: Option<&str>) -> Result<steward_eth::Key> {
    let pw = Ctx::keystore_password(false)?;
    Ok(Keys::new(home).open(sel, &pw)?)
}

fn show_tx(what: &str, id: B256, tx: &BondTx) -> String {
    let mut s = format!(
        "{what} on {id}: tx {} block {} gas {}",
        tx.tx, tx.block, tx.gas_used
    );
    if let Some(p) = tx.paid {
        let _ = write!(s, ", paid {}", usdc_text(p));
    }
    if let Some(f) = tx.fee {
        let _ = write!(s, ", fee {}", usdc_text(f));
    }
    s
}

fn deposit(ctx: &Ctx, out: &Output, a: &DepositArgs) -> Result<ExitCode> {
    let (home, esc) = escrow(ctx, &a.chain)?;
    let key = open_key(&home, a.key.as_deref())?;
    let amount = usdc_units(a.amount, "--amount")?;
    let id = message_id(&a.message);
    let rt = runtime()?;
    let tx = rt.block_on(async {
        if a.approve {
            let token = esc.settings().await?.token;
            esc.approve(&key, token, amount).await?;
        }
        esc.deposit(&key, a.to, id, amount).await
    })?;
    out.result(&tx, || show_tx("deposit", id, &tx));
    Ok(ExitCode::SUCCESS)
}

fn settle(ctx: &Ctx, out: &Output, a: &MessageArgs, reply: bool) -> Result<ExitCode> {
    let (home, esc) = escrow(ctx, &a.chain)?;
    let key = open_key(&home, a.key.as_deref())?;
    let id = message_id(&a.message);
    let rt = runtime()?;
    let tx = if reply {
        rt.block_on(bonds::reply(&esc, &key, id))?
    } else {
        rt.block_on(esc.forfeit(&key, id))?
    };
    out.result(&tx, || {
        show_tx(if reply { "reply" } else { "forfeit" }, id, &tx)
    });
    Ok(ExitCode::SUCCESS)
}

fn scores(ctx: &Ctx, out: &Output, a: &ScoresArgs) -> Result<ExitCode> {
    let (_, esc) = escrow(ctx, &a.chain)?;
    let scores = runtime()?.block_on(bonds::chain_scores(&esc, a.recipient, a.from_block))?;
    out.result(&scores, || {
        let mut s =
            String::from("sender  bonds  bonded USDC  reply rate  QAF share  CO-QAF share\n");
        for r in &scores {
            let _ = writeln!(
                s,
                "{}  {}  {:.6}  {:.2}  {:.4}  {:.4}",
                r.sender, r.bonds, r.bonded, r.reply_rate, r.qaf_share, r.coqaf_share
            );
        }
        s
    });
    Ok(ExitCode::SUCCESS)
}

fn held(ctx: &Ctx, out: &Output) -> Result<ExitCode> {
    let (_, store) = ctx.open_store()?;
    let held = store.held_mail()?;
    out.result(&held, || {
        let mut s = format!("{} held message(s)\n", held.len());
        for h in &held {
            let _ = writeln!(
                s,
                "{}  {}  {}  {}  {:?}  ({} {})",
                h.held, h.reason, h.from, h.message_id, h.subject, h.mailbox, h.label
            );
        }
        s
    });
    Ok(ExitCode::SUCCESS)
}

/// `run --watch` with `bonds.forfeit`: forfeits the user's unanswered bonds past their window
/// once per round, signed with `casting.key` (else the default key).
pub(crate) struct Forfeiter {
    gate: steward_agent::bondgate::BondGate,
    key: steward_eth::Key,
    from_block: u64,
}

impl Forfeiter {
    /// `None` unless `[bonds]` is set with `forfeit = true`.
    pub(crate) fn from_ctx(ctx: &Ctx) -> Result<Option<Self>> {
        let home = Home::open(&ctx.home_path()?)?;
        let cfg = ctx.config(&home)?;
        if !cfg.bonds.forfeit {
            return Ok(None);
        }
        let Some(gate) =
            steward_agent::bondgate::BondGate::from_config(&cfg, &Network::from_config(&cfg)?)?
        else {
            return Ok(None);
        };
        let key = open_key(&home, cfg.casting.key.as_deref())
            .context("opening the key that forfeits bonds (bonds.forfeit)")?;
        Ok(Some(Self {
            gate,
            key,
            from_block: cfg.bonds.from_block,
        }))
    }

    /// Forfeits what is due; a failure is the round's error, never the loop's end.
    pub(crate) fn round(&self, report: &mut steward_agent::RoundReport) {
        let r = runtime().and_then(|rt| {
            Ok(rt.block_on(steward_agent::bondgate::forfeit_round(
                &self.gate,
                &self.key,
                self.from_block,
            ))?)
        });
        match r {
            Ok(done) => report.forfeited.extend(done),
            Err(e) => report
                .errors
                .push(format!("forfeiting unanswered bonds: {e:#}")),
        }
    }
}

/// `bonds.auto_reply`: the agent answers covered bonded mail on the user's behalf, once per
/// `run --watch` round or once with `steward bond auto-reply` (steward_agent::bondauto).
pub(crate) struct AutoReplier(steward_agent::bondauto::AutoReplier);

impl AutoReplier {
    /// `None` unless `[bonds]` is set with `auto_reply = true`. Needs `[notify.mail]` (the
    /// server the acknowledgements go through) and the key the user authorised on the escrow.
    pub(crate) fn from_ctx(ctx: &Ctx) -> Result<Option<Self>> {
        let home = Home::open(&ctx.home_path()?)?;
        let cfg = ctx.config(&home)?;
        let Some(policy) = steward_agent::bondauto::AutoReplyPolicy::from_config(&cfg.bonds) else {
            return Ok(None);
        };
        let net = Network::from_config(&cfg)?;
        let Some(gate) = steward_agent::bondgate::BondGate::from_config(&cfg, &net)? else {
            return Ok(None);
        };
        let Some(m) = &cfg.notify.mail else {
            bail!(
                "bonds.auto_reply needs [notify.mail]: the SMTP server the acknowledgements are sent through"
            );
        };
        let mailer = steward_agent::notify::MailSender::new(&net, m, &|v| Ctx::getenv(v))?;
        let key = open_key(&home, cfg.casting.key.as_deref())
            .context("opening the key that replies to bonds (bonds.auto_reply)")?;
        Ok(Some(Self(steward_agent::bondauto::AutoReplier::new(
            gate,
            key,
            mailer,
            policy,
            cfg.bonds.from_block,
        ))))
    }

    pub(crate) fn once(&self, ctx: &Ctx) -> Result<steward_agent::bondauto::AutoReplyReport> {
        let (_, mut store) = ctx.open_store()?;
        Ok(runtime()?.block_on(self.0.round(&mut store))?)
    }

    /// One round in `run --watch`; a failure is the round's error, never the loop's end.
    pub(crate) fn round(&self, ctx: &Ctx, report: &mut steward_agent::RoundReport) {
        match self.once(ctx) {
            Ok(r) => {
                for a in &r.replies {
                    if let Some(e) = &a.error {
                        report
                            .errors
                            .push(format!("auto-reply to bond {}: {e}", a.bond));
                    }
                }
                report.auto_replied.extend(r.replies);
            }
            Err(e) => report.errors.push(format!("answering bonded mail: {e:#}")),
        }
    }
}

fn auto_reply(ctx: &Ctx, out: &Output) -> Result<ExitCode> {
    let Some(r) = AutoReplier::from_ctx(ctx)? else {
        bail!(
            "bonds.auto_reply is off: set it (and bonds.auto_reply_to or bonds.auto_reply_min) to let the agent answer"
        );
    };
    let report = r.once(ctx)?;
    out.result(&report, || {
        let mut s = String::new();
        for a in &report.replies {
            let _ = writeln!(
                s,
                "{}  {}  {} ({}){}",
                a.state,
                a.sender,
                a.proposal_key,
                a.rule,
                a.tx.as_deref()
                    .map(|t| format!(" tx {t}"))
                    .unwrap_or_default()
            );
        }
        let _ = write!(
            s,
            "{} answered, {} waiting for you",
            report.replies.len(),
            report.waiting
        );
        s
    });
    let failed = report.replies.iter().any(|a| a.error.is_some());
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
