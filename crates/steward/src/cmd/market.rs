//! `steward market list | quote | trade | quotes | settle`: trading in a suggestion market for
//! the user under `market.budget` and `market.daily_cap`, by hand (`--quote FILE`) or on the
//! agent's own judgement (`--auto`), and the sponsor's quote service (`steward_agent::market`,
//! docs/economy.md).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use steward_agent::identity::IdentityContext;
use steward_agent::market::{self, SignedQuote, tokens};
use steward_agent::{Home, Keys, Network};

use crate::ctx::Ctx;
use crate::output::Output;

/// `steward market [--market NAME] ...`.
#[derive(Debug, Args)]
pub(crate) struct MarketArgs {
    /// Which market: a name from [[market.markets]], or `default` (market.address)
    #[arg(long, global = true, value_name = "NAME")]
    market: Option<String>,
    #[command(subcommand)]
    command: MarketCommand,
}

/// The config with the market `name` in `[market]`'s place.
fn config_for(ctx: &Ctx, home: &Home, name: Option<&str>) -> Result<steward_agent::Config> {
    Ok(ctx.config(home)?.for_market(name)?)
}

#[derive(Debug, Subcommand)]
pub(crate) enum MarketCommand {
    /// The market's inputs: status, LMSR price of "accepted", pool, your shares
    List,
    /// The LMSR price of a trade; --sign (the sponsor's home) signs it for the trader
    Quote(QuoteArgs),
    /// Trade a sponsor-signed quote (a file from `market quote --sign --json`), or with --auto on
    /// the agent's own probability, within the budget and daily cap
    Trade(TradeArgs),
    /// The sponsor's quote service: signs LMSR quotes for market.quote_traders over HTTP
    Quotes(QuotesArgs),
    /// The sponsor's verdict on an input, after the market's end
    Settle(SettleArgs),
}

#[derive(Debug, Args)]
pub(crate) struct QuoteArgs {
    /// The input id
    input: u64,
    /// "Accepted" shares to buy (negative: sell), e.g. 10 or 2.5
    #[arg(long, default_value = "0", allow_hyphen_values = true)]
    accepted: String,
    /// "Rejected" shares to buy (negative: sell)
    #[arg(long, default_value = "0", allow_hyphen_values = true)]
    rejected: String,
    /// Who will trade [default: this home's key]
    #[arg(long, value_name = "ADDRESS")]
    trader: Option<String>,
    /// Sign the quote (this home's key must be the market's sponsor)
    #[arg(long)]
    sign: bool,
}

#[derive(Debug, Args)]
pub(crate) struct TradeArgs {
    /// A signed quote: the JSON `market quote --sign --json` printed (its `data`, or the whole
    /// envelope)
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "auto",
        conflicts_with = "auto"
    )]
    quote: Option<PathBuf>,
    /// Your probability that the sponsor accepts the input: the trade is refused unless it gains
    /// in expectation at it
    #[arg(long, value_name = "P", conflicts_with = "auto")]
    probability: Option<f64>,
    /// Trade every open input on the agent's own probability (the decision core's), with quotes
    /// from market.quote_url
    #[arg(long)]
    auto: bool,
    /// With --auto: show the trades it would make; nothing is asked, signed or recorded
    #[arg(long, requires = "auto")]
    dry_run: bool,
    /// With --auto: leave the local generation model out of the judgement
    #[arg(long, requires = "auto")]
    no_llm: bool,
}

#[derive(Debug, Args)]
pub(crate) struct QuotesArgs {
    /// Where to listen (loopback or a host you expose yourself)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8547")]
    listen: std::net::SocketAddr,
}

#[derive(Debug, Args)]
pub(crate) struct SettleArgs {
    /// The input id
    input: u64,
    /// The sponsor accepts the input (its "accepted" shares pay)
    #[arg(
        long,
        conflicts_with = "rejected",
        required_unless_present = "rejected"
    )]
    accepted: bool,
    /// The sponsor rejects it (its "rejected" shares pay)
    #[arg(long)]
    rejected: bool,
}

fn read_quote(path: &PathBuf) -> Result<SignedQuote> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the quote {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("quote {}: not JSON", path.display()))?;
    let v = v.get("data").cloned().unwrap_or(v);
    serde_json::from_value(v).with_context(|| format!("quote {}: not a quote", path.display()))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub(crate) fn run(ctx: &Ctx, out: &Output, args: MarketArgs) -> Result<ExitCode> {
    let name = args.market.as_deref();
    match args.command {
        MarketCommand::Trade(a) => trade(ctx, out, &a, name),
        MarketCommand::Quotes(a) => quotes(ctx, &a, name),
        other => run_other(ctx, out, other, name),
    }
}

/// The sponsor's quote service: the key is opened once, then the home is let go (the service
/// reads the chain only).
fn quotes(ctx: &Ctx, a: &QuotesArgs, name: Option<&str>) -> Result<ExitCode> {
    let (cfg, net, key) = {
        let home = Home::open(&ctx.home_path()?)?;
        let cfg = config_for(ctx, &home, name)?;
        let keys = Keys::new(&home);
        let password = Ctx::keystore_password(false)?;
        let key = keys.open(cfg.casting.key.as_deref(), &password)?;
        let net = Network::from_config(&cfg)?;
        (cfg, net, key)
    };
    let svc = steward_agent::market::quotes::QuoteService::from_config(&cfg, &net, key)?;
    let rt = runtime()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("listening on {}", a.listen))?;
        let at = listener
            .local_addr()
            .context("reading the listening address")?;
        // The test harness and the user read where it listens from this line.
        let _ = writeln!(
            std::io::stderr(),
            "steward: market quotes listening on http://{at} for {} trader(s)",
            svc.traders.len()
        );
        steward_agent::market::quotes::serve(listener, svc).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn trade(ctx: &Ctx, out: &Output, a: &TradeArgs, name: Option<&str>) -> Result<ExitCode> {
    let (home, mut store) = ctx.open_store()?;
    let cfg = config_for(ctx, &home, name)?;
    if let Some(n) = store.market_import_file(&home)? {
        let _ = writeln!(
            std::io::stderr(),
            "steward: imported {n} spend(s) from market-ledger.json into the store"
        );
    }
    let keys = Keys::new(&home);
    let network = Network::from_config(&cfg)?;
    let rt = runtime()?;
    if a.auto {
        return auto(ctx, out, a, &home, &mut store, &cfg, &keys, &network, &rt);
    }
    let Some(path) = &a.quote else {
        bail!("give --quote FILE or --auto");
    };
    let q = read_quote(path)?;
    // A trade past the limits is refused before the password is asked for.
    market::check_caps(&cfg, &store, q.market, q.cost)?;
    let password = Ctx::keystore_password(false)?;
    let ictx = IdentityContext {
        home: &home,
        config: &cfg,
        keys: &keys,
        password: Some(&password),
        network: &network,
    };
    let t = rt.block_on(market::trade(ictx, &mut store, &q, a.probability))?;
    out.result(&t, || {
        format!(
            "traded on input {} for {}: tx {} ({} gas); spent {} in all, {} in 24 h\n{}",
            t.input, t.cost, t.tx, t.gas_used, t.spent_total, t.spent_24h, t.why
        )
    });
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
fn auto(
    ctx: &Ctx,
    out: &Output,
    a: &TradeArgs,
    home: &Home,
    store: &mut steward_agent::Store,
    cfg: &steward_agent::Config,
    keys: &Keys,
    network: &Network,
    rt: &tokio::runtime::Runtime,
) -> Result<ExitCode> {
    let password = if a.dry_run {
        None
    } else {
        Some(Ctx::keystore_password(false)?)
    };
    let worker = crate::cmd::model::spawn_worker(&crate::cmd::model::models_dir(ctx)?)?;
    let shared = worker.shared();
    let mut embedder = shared.clone();
    let mut generator = shared;
    let use_llm = cfg.decide.use_llm && !a.no_llm;
    let mut engines = steward_agent::decide::Engines {
        embedder: &mut embedder,
        generator: use_llm.then_some(&mut generator as &mut dyn steward_ml::Generator),
    };
    let opts = steward_agent::decide::DecideOptions {
        policy: cfg.decide.policy(),
        seed: 0,
    };
    let ictx = IdentityContext {
        home,
        config: cfg,
        keys,
        password: password.as_ref(),
        network,
    };
    let r = rt.block_on(market::auto::auto_trade(
        ictx,
        store,
        &mut engines,
        &opts,
        a.dry_run,
    ))?;
    out.result(&r, || render_auto(&r));
    Ok(ExitCode::SUCCESS)
}

/// An auto round in words.
pub(crate) fn render_auto(r: &market::auto::AutoReport) -> String {
    use market::auto::Plan;
    let mut s = format!(
        "market {}{}: {} open input(s); left: {} of market.budget, {} of market.daily_cap\n",
        r.market,
        if r.dry_run {
            " (dry run: nothing traded)"
        } else {
            ""
        },
        r.lines.len(),
        r.budget_left,
        r.daily_left
    );
    for (id, st) in &r.reconciled {
        let _ = writeln!(s, "  trade #{id} from an earlier run: {}", st.as_str());
    }
    for l in &r.lines {
        let mine = l
            .probability
            .map_or_else(|| "unknown".to_owned(), |p| format!("{p:.3}"));
        let what = match (&l.trade, &l.plan, &l.error) {
            (_, _, Some(e)) => format!("error: {e}"),
            (Some(t), _, _) => format!("traded for {} (tx {}): {}", t.cost, t.tx, t.why),
            (
                None,
                Plan::Trade {
                    delta_accepted,
                    delta_rejected,
                    cost,
                    ..
                },
                _,
            ) => format!(
                "would trade {} accepted, {} rejected for {}",
                tokens(*delta_accepted),
                tokens(*delta_rejected),
                tokens(*cost)
            ),
            (None, Plan::Abstain { reason }, _) => format!("no trade: {reason}"),
        };
        let _ = writeln!(
            s,
            "{:>4}  P(accepted) {:.3}, mine {mine}  {what}",
            l.input, l.price
        );
    }
    for r in &r.redeemed {
        let _ = writeln!(
            s,
            "  input {} settled {}: {}",
            r.input,
            if r.accepted { "accepted" } else { "rejected" },
            match (&r.tx, &r.error) {
                (Some(tx), _) => format!("redeemed {} (tx {tx})", r.amount),
                (None, Some(e)) => format!("redeeming {} failed: {e}", r.amount),
                (None, None) => format!("would redeem {}", r.amount),
            }
        );
    }
    s
}

fn run_other(
    ctx: &Ctx,
    out: &Output,
    command: MarketCommand,
    name: Option<&str>,
) -> Result<ExitCode> {
    let home = Home::open(&ctx.home_path()?)?;
    let cfg = config_for(ctx, &home, name)?;
    let keys = Keys::new(&home);
    let network = Network::from_config(&cfg)?;
    let signs = match &command {
        MarketCommand::List => false,
        MarketCommand::Quote(a) => a.sign,
        MarketCommand::Settle(_) => true,
        MarketCommand::Trade(_) | MarketCommand::Quotes(_) => false,
    };
    let password = if signs {
        Some(Ctx::keystore_password(false)?)
    } else {
        None
    };
    let ictx = IdentityContext {
        home: &home,
        config: &cfg,
        keys: &keys,
        password: password.as_ref(),
        network: &network,
    };
    let rt = runtime()?;
    match command {
        MarketCommand::List => {
            let l = rt.block_on(market::list(ictx))?;
            out.result(&l, || {
                let mut s = format!(
                    "market {} (sponsor {}, b {}, ends {})\n",
                    l.market.address,
                    l.market.sponsor,
                    tokens(l.market.b as i128),
                    l.market.end_time
                );
                if l.inputs.is_empty() {
                    s.push_str("no inputs\n");
                }
                for i in &l.inputs {
                    let _ = writeln!(
                        s,
                        "{:>4}  {:<9}  P(accepted) {:.3}  pool {}  yours: {} accepted, {} rejected",
                        i.id,
                        format!("{:?}", i.status).to_lowercase(),
                        i.price_accepted,
                        i.pool,
                        i.mine_accepted,
                        i.mine_rejected
                    );
                }
                s
            });
        }
        MarketCommand::Quote(a) => {
            let accepted = market::parse_shares(&a.accepted)?;
            let rejected = market::parse_shares(&a.rejected)?;
            let trader = match &a.trader {
                Some(t) => Some(
                    t.parse()
                        .map_err(|_| anyhow::anyhow!("--trader {t:?} is not an address"))?,
                ),
                None => None,
            };
            let q = rt.block_on(market::quote(
                ictx, a.input, accepted, rejected, trader, a.sign,
            ))?;
            out.result(&q, || {
                format!(
                    "input {}: {} accepted, {} rejected for {} (LMSR){}",
                    q.input,
                    tokens(q.delta_accepted),
                    tokens(q.delta_rejected),
                    tokens(q.cost),
                    if q.signature.is_some() {
                        format!(", signed for {} until {}", q.trader, q.deadline)
                    } else {
                        String::new()
                    }
                )
            });
        }
        MarketCommand::Trade(_) | MarketCommand::Quotes(_) => bail!("handled above"),
        MarketCommand::Settle(a) => {
            let s = rt.block_on(market::settle(ictx, a.input, a.accepted))?;
            out.result(&s, || {
                format!(
                    "input {} settled: {}; tx {}",
                    s.input,
                    if s.accepted { "accepted" } else { "rejected" },
                    s.tx
                )
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `run --watch` with `[market] auto = true`: one auto round after each pipeline round.
pub(crate) struct AutoTrader {
    password: steward_eth::KeystorePassword,
    no_llm: bool,
}

impl AutoTrader {
    /// `None` unless `market.auto` is set. `no_llm`: `run --no-llm`.
    pub(crate) fn from_ctx(ctx: &Ctx, no_llm: bool) -> Result<Option<Self>> {
        let home = Home::open(&ctx.home_path()?)?;
        let cfg = ctx.config(&home)?;
        if !cfg.market.auto {
            return Ok(None);
        }
        let password = Ctx::keystore_password(false)
            .context("the key that trades in the market (market.auto)")?;
        // Checked now, not at the first trade: a wrong password stops the loop before it starts.
        Keys::new(&home).open(cfg.casting.key.as_deref(), &password)?;
        Ok(Some(Self {
            password,
            no_llm: no_llm || !cfg.decide.use_llm,
        }))
    }

    /// Trades what the agent's judgement and the caps allow, in every market (`default` and
    /// `[[market.markets]]`); a failure is the round's error, never the loop's end.
    pub(crate) fn round(&self, ctx: &Ctx, report: &mut steward_agent::RoundReport) {
        let names = (|| -> Result<Vec<String>> {
            let home = Home::open(&ctx.home_path()?)?;
            Ok(ctx.config(&home)?.market_names())
        })();
        let names = match names {
            Ok(n) => n,
            Err(e) => {
                report
                    .errors
                    .push(format!("trading in the suggestion markets: {e:#}"));
                return;
            }
        };
        for name in names {
            self.round_in(ctx, report, &name);
        }
    }

    fn round_in(&self, ctx: &Ctx, report: &mut steward_agent::RoundReport, name: &str) {
        let r = (|| -> Result<market::auto::AutoReport> {
            let (home, mut store) = ctx.open_store()?;
            let cfg = config_for(ctx, &home, Some(name))?;
            store.market_import_file(&home)?;
            let keys = Keys::new(&home);
            let network = Network::from_config(&cfg)?;
            let rt = runtime()?;
            let worker = crate::cmd::model::spawn_worker(&crate::cmd::model::models_dir(ctx)?)?;
            let shared = worker.shared();
            let mut embedder = shared.clone();
            let mut generator = shared;
            let mut engines = steward_agent::decide::Engines {
                embedder: &mut embedder,
                generator: (!self.no_llm)
                    .then_some(&mut generator as &mut dyn steward_ml::Generator),
            };
            let opts = steward_agent::decide::DecideOptions {
                policy: cfg.decide.policy(),
                seed: 0,
            };
            let ictx = IdentityContext {
                home: &home,
                config: &cfg,
                keys: &keys,
                password: Some(&self.password),
                network: &network,
            };
            Ok(rt.block_on(market::auto::auto_trade(
                ictx,
                &mut store,
                &mut engines,
                &opts,
                false,
            ))?)
        })();
        match r {
            Ok(r) => {
                report.market.extend(r.lines);
                for x in &r.redeemed {
                    if let Some(e) = &x.error {
                        report
                            .errors
                            .push(format!("redeeming market input {}: {e}", x.input));
                    }
                }
                report.market_redeemed.extend(r.redeemed);
            }
            Err(e) => report
                .errors
                .push(format!("trading in market {name:?}: {e:#}")),
        }
    }
}
