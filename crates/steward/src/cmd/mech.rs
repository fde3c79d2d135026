//! `steward mech`: the mechanisms on CSV inputs (docs/mechanisms.md). Reads the files, calls
//! `steward_core::mech`, prints.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use steward_core::mech::{cocm, coqaf, input, lmsr, qf, qv};

use crate::output::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum MechCommand {
    /// Quadratic voting: what credits buy, what votes cost, whether a ballot fits a budget
    Qv(QvArgs),
    /// Quadratic funding (plain or pairwise-bounded CLR) of a contributions CSV
    Qf(QfArgs),
    /// Connection-oriented cluster match of a contributions CSV
    Cocm(CocmArgs),
    /// QAF and CO-QAF per recipient of a bonds CSV (sender,recipient,amount,status)
    Coqaf(CoqafArgs),
    /// The price of a recipient's attention: p0·(1 + α·D)^β, per sender with a reply discount
    Price(PriceArgs),
    /// An LMSR market: prices, and what a trade costs (rounded against the trader)
    Lmsr(LmsrArgs),
}

#[derive(Debug, Args)]
pub(crate) struct QvArgs {
    /// Credits available
    #[arg(long, required_unless_present = "snapshot")]
    credits: Option<u128>,
    /// Score a Snapshot `quadratic` proposal as snapshot.js does: a JSON file
    /// `{"choices": N, "votes": [{"choice": {"1": 2, "3": 1}, "balance": 100}]}`
    #[arg(long, value_name = "FILE", conflicts_with_all = ["credits", "votes"])]
    snapshot: Option<PathBuf>,
    /// Votes per option, comma-separated (e.g. 3,-2,1); checked against the credits
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    votes: Vec<i64>,
}

#[derive(Debug, Args)]
pub(crate) struct PoolArgs {
    /// Matching pool: also print each project's share of it (`matched`)
    #[arg(long, value_name = "AMOUNT")]
    pool: Option<f64>,
    /// Cap per project, as a fraction of the pool (e.g. 0.1); the excess is redistributed
    #[arg(long, value_name = "FRACTION", requires = "pool")]
    cap: Option<f64>,
}

#[derive(Debug, Args)]
pub(crate) struct QfArgs {
    /// Contributions CSV: donor,project,amount
    contributions: PathBuf,
    /// Gitcoin's pairwise-bounded CLR instead of plain CLR
    #[arg(long)]
    pairwise: bool,
    /// The pairwise bound M
    #[arg(long, default_value_t = qf::PAIRWISE_M, requires = "pairwise")]
    m: f64,
    #[command(flatten)]
    pool: PoolArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum FormArg {
    /// Miller, Weyl, Erichsen's binary-group form (needs --clusters)
    Paper,
    /// gitcoinco/qf-calculator's Markov form
    Gitcoin,
}

#[derive(Debug, Args)]
pub(crate) struct CocmArgs {
    /// Contributions CSV: donor,project,amount
    contributions: PathBuf,
    /// Clusters CSV: donor,cluster,weight [default: the projects, weighted by amount]
    #[arg(long, value_name = "FILE")]
    clusters: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = FormArg::Gitcoin)]
    form: FormArg,
    /// Gitcoin form: drop connected money entirely (qf-calculator's default) instead of
    /// square-rooting it
    #[arg(long)]
    harsh: bool,
    #[command(flatten)]
    pool: PoolArgs,
}

#[derive(Debug, Args)]
pub(crate) struct CoqafArgs {
    /// Bonds CSV: sender,recipient,amount,status (active, refunded, forfeited, expired)
    bonds: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct PriceArgs {
    /// Messages in the recipient's inbox over the last 7 days (D)
    #[arg(long)]
    inbox: u64,
    /// Base price p0
    #[arg(long, default_value_t = 0.01)]
    p0: f64,
    #[arg(long, default_value_t = 0.1)]
    alpha: f64,
    #[arg(long, default_value_t = 1.0)]
    beta: f64,
    #[arg(long, default_value_t = 0.5)]
    gamma: f64,
    /// The sender's reply rate R in [0, 1]: also print that sender's price
    #[arg(long)]
    reply_rate: Option<f64>,
}

#[derive(Debug, Args)]
pub(crate) struct LmsrArgs {
    /// Number of outcomes
    #[arg(long, default_value_t = 2)]
    outcomes: usize,
    /// Liquidity b, in money (decimal)
    #[arg(long, conflicts_with = "funding", required_unless_present = "funding")]
    b: Option<String>,
    /// Funding, in money (decimal): b = funding / ln n
    #[arg(long)]
    funding: Option<String>,
    /// Outstanding shares per outcome (decimal, comma-separated) [default: none]
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    shares: Vec<String>,
    /// Shares to buy per outcome (negative sells), decimal, comma-separated
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    buy: Vec<String>,
    /// Decimal places of the money and share units
    #[arg(long, default_value_t = 6)]
    decimals: u32,
}

pub(crate) fn run(out: &Output, command: MechCommand) -> Result<ExitCode> {
    match command {
        MechCommand::Qv(a) => run_qv(out, &a),
        MechCommand::Qf(a) => run_qf(out, &a),
        MechCommand::Cocm(a) => run_cocm(out, &a),
        MechCommand::Coqaf(a) => run_coqaf(out, &a),
        MechCommand::Price(a) => run_price(out, &a),
        MechCommand::Lmsr(a) => run_lmsr(out, &a),
    }?;
    Ok(ExitCode::SUCCESS)
}

fn read(path: &Path) -> Result<(String, String)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("while reading {}", path.display()))?;
    Ok((path.display().to_string(), text))
}

#[derive(Serialize)]
struct QvOut {
    credits: u128,
    max_votes_one_option: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    spent: Option<u128>,
    #[serde(skip_serializing_if = "Option::is_none")]
    left: Option<u128>,
}

#[derive(serde::Deserialize)]
struct SnapshotIn {
    choices: usize,
    votes: Vec<qv::SnapshotVote>,
}

fn run_snapshot(out: &Output, path: &Path) -> Result<()> {
    let (file, text) = read(path)?;
    let input: SnapshotIn = serde_json::from_str(&text)
        .with_context(|| format!("{file}: expected {{\"choices\": N, \"votes\": [{{\"choice\": {{...}}, \"balance\": X}}]}}"))?;
    #[derive(Serialize)]
    struct R {
        scores: Vec<f64>,
        valid_votes: usize,
        votes: usize,
    }
    let r = R {
        scores: qv::snapshot_scores(input.choices, &input.votes),
        valid_votes: input
            .votes
            .iter()
            .filter(|v| qv::snapshot_valid(&v.choice, input.choices))
            .count(),
        votes: input.votes.len(),
    };
    out.result(&r, || {
        let mut s = String::new();
        for (i, x) in r.scores.iter().enumerate() {
            let _ = writeln!(s, "choice {}: {x}", i + 1);
        }
        let _ = writeln!(s, "{} of {} votes valid", r.valid_votes, r.votes);
        s
    });
    Ok(())
}

fn run_qv(out: &Output, a: &QvArgs) -> Result<()> {
    if let Some(path) = &a.snapshot {
        return run_snapshot(out, path);
    }
    let credits = a.credits.context("--credits is required")?;
    let spent = if a.votes.is_empty() {
        None
    } else {
        Some(qv::spend(&a.votes, credits)?)
    };
    let r = QvOut {
        credits,
        max_votes_one_option: qv::votes_for(credits),
        spent,
        left: spent.map(|s| credits - s),
    };
    out.result(&r, || {
        let mut s = format!(
            "{} credits buy at most {} votes on one option\n",
            r.credits, r.max_votes_one_option
        );
        if let (Some(sp), Some(l)) = (r.spent, r.left) {
            let _ = writeln!(s, "ballot costs {sp} credits, {l} left");
        }
        s
    });
    Ok(())
}

#[derive(Serialize)]
struct ProjectOut {
    project: String,
    contributors: usize,
    contributions: f64,
    #[serde(rename = "match")]
    subsidy: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    matched: Option<f64>,
}

#[derive(Serialize)]
struct FundingOut {
    mechanism: String,
    projects: Vec<ProjectOut>,
    total_match: f64,
    notes: Vec<input::Note>,
}

fn funding_out(
    mechanism: String,
    round: &input::RoundInput,
    subsidy: &[f64],
    pool: &PoolArgs,
    notes: Vec<input::Note>,
) -> Result<FundingOut> {
    let matched = match pool.pool {
        Some(p) => {
            let n = qf::normalise(subsidy, p)?;
            Some(match pool.cap {
                Some(c) => qf::cap(&n, c)?,
                None => n,
            })
        }
        None => None,
    };
    let r = &round.round;
    let (totals, counts) = (r.totals(), r.counts());
    let projects = (0..r.projects().len())
        .map(|p| ProjectOut {
            project: r.projects()[p].clone(),
            contributors: counts[p],
            contributions: totals[p],
            subsidy: subsidy[p],
            matched: matched.as_ref().map(|m| m[p]),
        })
        .collect();
    Ok(FundingOut {
        mechanism,
        projects,
        total_match: subsidy.iter().sum(),
        notes,
    })
}

fn print_funding(out: &Output, f: &FundingOut) {
    for n in &f.notes {
        tracing::warn!("{}", n);
    }
    out.result(f, || {
        let mut s = format!("{}\n", f.mechanism);
        let _ = writeln!(
            s,
            "{:<32} {:>6} {:>14} {:>14} {:>14}",
            "project", "donors", "contributions", "match", "matched"
        );
        for p in &f.projects {
            let matched = p
                .matched
                .map_or_else(|| "-".to_owned(), |m| format!("{m:.2}"));
            let _ = writeln!(
                s,
                "{:<32} {:>6} {:>14.2} {:>14.4} {:>14}",
                p.project, p.contributors, p.contributions, p.subsidy, matched
            );
        }
        let _ = writeln!(s, "total match {:.4}", f.total_match);
        s
    });
}

fn run_qf(out: &Output, a: &QfArgs) -> Result<()> {
    check_pool(&a.pool)?;
    let (file, text) = read(&a.contributions)?;
    let round = input::contributions(&file, &text)?;
    let (name, subsidy) = if a.pairwise {
        (
            format!("pairwise CLR (M = {})", a.m),
            qf::pairwise(&round.round, a.m)?,
        )
    } else {
        ("plain CLR".to_owned(), qf::plain(&round.round))
    };
    let notes = round.notes.clone();
    let f = funding_out(name, &round, &subsidy, &a.pool, notes)?;
    print_funding(out, &f);
    Ok(())
}

/// The pool and cap are checked before any file is read: a zero pool is an error, never a
/// silent division.
fn check_pool(p: &PoolArgs) -> Result<()> {
    if let Some(pool) = p.pool {
        qf::normalise(&[1.0], pool)?;
    }
    if let Some(c) = p.cap {
        qf::cap(&[1.0], c)?;
    }
    Ok(())
}

fn run_cocm(out: &Output, a: &CocmArgs) -> Result<()> {
    check_pool(&a.pool)?;
    let (file, text) = read(&a.contributions)?;
    let round = input::contributions(&file, &text)?;
    let mut notes = round.notes.clone();
    let clusters = match &a.clusters {
        Some(path) => {
            let (cfile, ctext) = read(path)?;
            let (c, n) = input::clusters(&cfile, &ctext, &round)?;
            notes.extend(n);
            c
        }
        None => {
            if matches!(a.form, FormArg::Paper) {
                bail!("--form paper needs --clusters FILE (donor,cluster,weight)");
            }
            steward_core::mech::Clusters::projects(&round.round)
        }
    };
    let form = match a.form {
        FormArg::Paper => cocm::Form::Paper,
        FormArg::Gitcoin => cocm::Form::Gitcoin { harsh: a.harsh },
    };
    let subsidy = cocm::cocm(&round.round, &clusters, form)?;
    let name = match form {
        cocm::Form::Paper => "COCM, paper form".to_owned(),
        cocm::Form::Gitcoin { harsh } => {
            format!(
                "COCM, Gitcoin form ({})",
                if harsh { "harsh" } else { "soft" }
            )
        }
    };
    let f = funding_out(name, &round, &subsidy, &a.pool, notes)?;
    print_funding(out, &f);
    Ok(())
}

fn run_coqaf(out: &Output, a: &CoqafArgs) -> Result<()> {
    let (file, text) = read(&a.bonds)?;
    let bonds = input::bonds(&file, &text)?;
    #[derive(Serialize)]
    struct R {
        recipients: Vec<coqaf::Attention>,
    }
    let r = R {
        recipients: coqaf::coqaf(&bonds),
    };
    out.result(&r, || {
        let mut s = format!(
            "{:<32} {:>7} {:>12} {:>12} {:>12}\n",
            "recipient", "senders", "bonded", "QAF", "CO-QAF"
        );
        for x in &r.recipients {
            let _ = writeln!(
                s,
                "{:<32} {:>7} {:>12.4} {:>12.4} {:>12.4}",
                x.recipient, x.senders, x.bonded, x.qaf, x.coqaf
            );
        }
        s
    });
    Ok(())
}

fn run_price(out: &Output, a: &PriceArgs) -> Result<()> {
    let p = coqaf::PriceParams {
        p0: a.p0,
        alpha: a.alpha,
        beta: a.beta,
        gamma: a.gamma,
    };
    #[derive(Serialize)]
    struct R {
        params: coqaf::PriceParams,
        inbox_7d: u64,
        price: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        reply_rate: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        sender_price: Option<f64>,
    }
    let r = R {
        params: p,
        inbox_7d: a.inbox,
        price: p.price(a.inbox)?,
        reply_rate: a.reply_rate,
        sender_price: a
            .reply_rate
            .map(|rr| p.sender_price(a.inbox, rr))
            .transpose()?,
    };
    out.result(&r, || {
        let mut s = format!("price {:.6}\n", r.price);
        if let Some(sp) = r.sender_price {
            let _ = writeln!(s, "sender price {sp:.6}");
        }
        s
    });
    Ok(())
}

fn units(values: &[String], decimals: u32, signed: bool, flag: &str) -> Result<Vec<i128>> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            lmsr::parse_units(v, decimals, signed)
                .map_err(|e| anyhow::anyhow!("{flag} value {}: {e}", i + 1))
        })
        .collect()
}

fn run_lmsr(out: &Output, a: &LmsrArgs) -> Result<()> {
    if a.decimals > 18 {
        bail!("--decimals: {} is more than 18", a.decimals);
    }
    let d = a.decimals;
    let mut m = match (&a.b, &a.funding) {
        (Some(b), _) => {
            let b = units(std::slice::from_ref(b), d, false, "--b")?[0];
            lmsr::Market::new(a.outcomes, b as f64)?
        }
        (None, Some(f)) => {
            let f = units(std::slice::from_ref(f), d, false, "--funding")?[0];
            lmsr::Market::funded(a.outcomes, f)?
        }
        (None, None) => bail!("give --b or --funding"),
    };
    if !a.shares.is_empty() {
        m = m.with_shares(units(&a.shares, d, true, "--shares")?)?;
    }
    #[derive(Serialize)]
    struct R {
        b: String,
        max_loss: String,
        prices: Vec<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cost: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        prices_after: Option<Vec<f64>>,
    }
    let fmt = |x: f64| lmsr::format_units(x.ceil() as i128, d);
    let prices = m.prices();
    let (cost, after) = if a.buy.is_empty() {
        (None, None)
    } else {
        let delta = units(&a.buy, d, true, "--buy")?;
        let paid = m.trade(&delta)?;
        (Some(lmsr::format_units(paid, d)), Some(m.prices()))
    };
    let r = R {
        b: fmt(m.b()),
        max_loss: fmt(m.max_loss()),
        prices,
        cost,
        prices_after: after,
    };
    out.result(&r, || {
        let p = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.4}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut s = format!(
            "b {}, max loss {}\nprices {}\n",
            r.b,
            r.max_loss,
            p(&r.prices)
        );
        if let (Some(c), Some(pa)) = (&r.cost, &r.prices_after) {
            let _ = writeln!(s, "trade costs {c}\nprices after {}", p(pa));
        }
        s
    });
    Ok(())
}
