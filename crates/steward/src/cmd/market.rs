//! `steward market list | quote | trade | settle`: trading in a suggestion market for the user
//! under `market.budget` and `market.daily_cap` (`steward_agent::market`, docs/economy.md).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use steward_agent::identity::IdentityContext;
use steward_agent::market::{self, SignedQuote, tokens};
use steward_agent::{Home, Keys, Network};

use crate::ctx::Ctx;
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum MarketCommand {
    /// The market's inputs: status, LMSR price of "accepted", pool, your shares
    List,
    /// The LMSR price of a trade; --sign (the sponsor's home) signs it for the trader
    Quote(QuoteArgs),
    /// Trade a sponsor-signed quote (a file from `market quote --sign --json`), within the
    /// budget and daily cap
    Trade(TradeArgs),
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
    #[arg(long, value_name = "FILE")]
    quote: PathBuf,
    /// Your probability that the sponsor accepts the input: the trade is refused unless it gains
    /// in expectation at it
    #[arg(long, value_name = "P")]
    probability: Option<f64>,
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

pub(crate) fn run(ctx: &Ctx, out: &Output, command: MarketCommand) -> Result<ExitCode> {
    let home = Home::open(&ctx.home_path()?)?;
    let cfg = ctx.config(&home)?;
    let keys = Keys::new(&home);
    let network = Network::from_config(&cfg)?;
    let signs = match &command {
        MarketCommand::List => false,
        MarketCommand::Quote(a) => a.sign,
        MarketCommand::Trade(_) | MarketCommand::Settle(_) => true,
    };
    // A trade past the limits is refused before the password is asked for.
    let quote_file = match &command {
        MarketCommand::Trade(a) => Some(read_quote(&a.quote)?),
        _ => None,
    };
    if let Some(q) = &quote_file {
        let spent = market::ledger(&home)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        market::check_limits(&cfg, &spent, now, q.cost)?;
    }
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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
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
        MarketCommand::Trade(a) => {
            let Some(q) = quote_file else {
                bail!("no quote");
            };
            let t = rt.block_on(market::trade(ictx, &q, a.probability))?;
            out.result(&t, || {
                format!(
                    "traded on input {} for {}: tx {} ({} gas); spent {} in all, {} in 24 h\n{}",
                    t.input, t.cost, t.tx, t.gas_used, t.spent_total, t.spent_24h, t.why
                )
            });
        }
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
