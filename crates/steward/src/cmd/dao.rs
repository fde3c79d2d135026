//! `steward dao health GOVERNOR --rpc URL [--json]`: one DAO's settings, supply, turnout, largest
//! holder and delegate, and the cost of an attack (docs/governor.md). Calls
//! `steward_agent::dao::dao_health` and prints.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use steward_agent::Config;
use steward_core::{Address, U256};
use steward_eth::{Health, HealthOptions};

use crate::ctx::Ctx;
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum DaoCommand {
    /// Quorum, delays, threshold, supply, turnout, largest holder and delegate, attack cost
    Health(HealthArgs),
}

#[derive(Debug, Args)]
pub(crate) struct HealthArgs {
    /// The governor's address (OpenZeppelin Governor or GovernorBravo)
    governor: Address,
    /// JSON-RPC of the chain (an archive node or anvil fork for past balances); its host must
    /// be in network.allow
    #[arg(long, value_name = "URL")]
    rpc: String,
    /// Blocks back from the latest to read proposals, votes, holders and delegates
    #[arg(long, value_name = "BLOCKS", default_value_t = 216_000)]
    lookback: u64,
    /// USD per whole governance token, to price the attack and the treasury
    #[arg(long, value_name = "USD")]
    token_price: Option<f64>,
    /// USD per ether, to price the treasury's ether
    #[arg(long, value_name = "USD")]
    eth_price: Option<f64>,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, c: DaoCommand) -> Result<ExitCode> {
    let DaoCommand::Health(args) = c;
    let root = ctx.home_path()?;
    let cfg = Config::load(&root.join("config.toml"), Ctx::getenv, &ctx.flags)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let opts = HealthOptions {
        lookback: args.lookback,
        token_usd: args.token_price,
        eth_usd: args.eth_price,
        ..HealthOptions::default()
    };
    let h = rt.block_on(steward_agent::dao::dao_health(
        &cfg,
        args.governor,
        &args.rpc,
        &opts,
    ))?;
    out.result(&h, || render(&h));
    Ok(ExitCode::SUCCESS)
}

/// `n` base units as whole tokens with two decimals.
fn tokens(n: U256, decimals: u8) -> String {
    let unit = U256::from(10u64).pow(U256::from(decimals));
    let whole = n / unit;
    let cents: u64 = ((n % unit) * U256::from(100u64) / unit).to();
    format!("{whole}.{cents:02}")
}

fn opt(v: Option<U256>) -> String {
    v.map_or_else(|| "unknown".to_owned(), |v| v.to_string())
}

fn render(h: &Health) -> String {
    let d = h.decimals.unwrap_or(18);
    let sym = h.symbol.clone().unwrap_or_else(|| "tokens".into());
    let amt = |v: Option<U256>| {
        v.map_or_else(
            || "unknown".to_owned(),
            |v| format!("{} {sym}", tokens(v, d)),
        )
    };
    let unit = if h.clock == "timestamp" {
        "s"
    } else {
        "blocks"
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} ({}) {} on chain {}",
        h.name.as_deref().unwrap_or("governor"),
        h.kind,
        h.governor,
        h.chain_id
    );
    let _ = writeln!(s, "quorum            {}", amt(h.quorum));
    let _ = writeln!(s, "voting delay      {} {unit}", opt(h.voting_delay));
    let _ = writeln!(s, "voting period     {} {unit}", opt(h.voting_period));
    let _ = writeln!(s, "timelock delay    {} s", opt(h.timelock_delay));
    let _ = writeln!(s, "proposal threshold {}", amt(h.proposal_threshold));
    let _ = writeln!(s, "total supply      {}", amt(h.total_supply));
    let _ = writeln!(s, "circulating       {}", amt(h.circulating_supply));
    let _ = writeln!(s, "delegated         {}", amt(h.delegated_supply));
    match &h.turnout {
        Some(t) => {
            let _ = writeln!(
                s,
                "average turnout   {} over {} proposal(s)",
                amt(Some(t.average)),
                t.proposals
            );
        }
        None => {
            let _ = writeln!(s, "average turnout   unknown (no votes in the window)");
        }
    }
    for (label, hold) in [
        ("largest holder", &h.largest_holder),
        ("largest delegate", &h.largest_delegate),
    ] {
        if let Some(x) = hold {
            let _ = writeln!(s, "{label:<17} {} with {}", x.address, amt(Some(x.amount)));
        }
    }
    let _ = writeln!(
        s,
        "treasury          {} holds {} and {} ETH",
        h.treasury.address,
        amt(h.treasury.tokens),
        tokens(h.treasury.eth, 18)
    );
    if let Some(a) = &h.attack {
        let _ = write!(
            s,
            "attack            {} needed (set by {})",
            amt(Some(a.votes_needed)),
            a.basis
        );
        if let Some(p) = a.percent_of_supply {
            let _ = write!(s, ", {p:.2}% of supply");
        }
        if let Some(usd) = a.usd {
            let _ = write!(s, ", about ${usd:.0}");
        }
        if let Some(r) = a.treasury_ratio {
            let _ = write!(s, "; the treasury holds {r:.1}x that in {sym}");
        }
        s.push('\n');
    }
    for n in &h.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}
