//! `steward agent register | show | feedback`: the agent's ERC-8004 identity and reputation
//! (`steward_agent::identity`, docs/economy.md). Parses, asks for the keystore password where a
//! transaction is signed, calls the agent, prints.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use steward_agent::identity::{self, FeedbackArgs, IdentityContext};
use steward_agent::{Home, Keys, Network};

use crate::ctx::Ctx;
use crate::output::{Output, terminal_safe};

#[derive(Debug, Subcommand)]
pub(crate) enum AgentCommand {
    /// Register this agent in the ERC-8004 identity registry ([identity] config), owned by the
    /// signing key, with a registration file listing its services and trust models
    Register,
    /// An agent (this home's by default): owner, wallet, registration file, and its reputation
    /// among identity.trusted_clients only
    Show(ShowArgs),
    /// Rate another agent in the reputation registry with the signing key
    Feedback(FeedbackCmd),
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The agent id [default: the one this home registered]
    agent_id: Option<String>,
    /// Identity only: do not read reputation (which needs identity.trusted_clients)
    #[arg(long)]
    no_reputation: bool,
}

#[derive(Debug, Args)]
pub(crate) struct FeedbackCmd {
    /// The agent rated
    agent_id: String,
    /// The rating as a decimal number: 100, 95.5, -3.2 (at most 18 decimals)
    #[arg(allow_hyphen_values = true)]
    value: String,
    /// What it measures (e.g. starred, uptime); summaries can filter on it
    #[arg(long, default_value = "")]
    tag1: String,
    #[arg(long, default_value = "")]
    tag2: String,
    /// The service rated (a URI)
    #[arg(long, default_value = "")]
    endpoint: String,
    /// An off-chain feedback file
    #[arg(long, default_value = "")]
    uri: String,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, command: AgentCommand) -> Result<ExitCode> {
    let home = Home::open(&ctx.home_path()?)?;
    let cfg = ctx.config(&home)?;
    let keys = Keys::new(&home);
    let network = Network::from_config(&cfg)?;
    let signs = matches!(command, AgentCommand::Register | AgentCommand::Feedback(_));
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
        AgentCommand::Register => {
            let r = rt.block_on(identity::register(ictx))?;
            out.result(&r, || {
                format!(
                    "registered agent {} in {}\nowner {}\ntx {} ({} gas), registration file tx {} ({} gas)",
                    r.agent_id,
                    r.agent_registry,
                    r.owner,
                    r.register_tx,
                    r.register_gas,
                    r.uri_tx,
                    r.uri_gas
                )
            });
        }
        AgentCommand::Show(args) => {
            let v = rt.block_on(identity::show(
                ictx,
                args.agent_id.as_deref(),
                !args.no_reputation,
            ))?;
            out.result(&v, || {
                let mut s = String::new();
                let _ = writeln!(s, "agent {} in {}", v.agent_id, v.agent_registry);
                let _ = writeln!(s, "owner  {}", v.owner);
                match v.wallet {
                    Some(w) => _ = writeln!(s, "wallet {w}"),
                    None => _ = writeln!(s, "wallet (none: cleared by a transfer)"),
                }
                if let Some(f) = &v.registration {
                    let name = f["name"].as_str().unwrap_or("?");
                    let _ = writeln!(s, "name   {}", terminal_safe(name));
                    for svc in f["services"].as_array().into_iter().flatten() {
                        let _ = writeln!(
                            s,
                            "  {:<12} {}",
                            terminal_safe(svc["name"].as_str().unwrap_or("?")),
                            terminal_safe(svc["endpoint"].as_str().unwrap_or("?"))
                        );
                    }
                    let trust: Vec<&str> = f["supportedTrust"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|t| t.as_str())
                        .collect();
                    let _ = writeln!(s, "trust  {}", terminal_safe(&trust.join(", ")));
                } else {
                    let _ = writeln!(s, "uri    {}", terminal_safe(&v.uri));
                }
                match &v.reputation {
                    Some(r) if r.count == 0 => _ = write!(
                        s,
                        "reputation: no ratings from your {} trusted client(s) ({} rater(s) in all, not counted)",
                        r.trusted_clients.len(),
                        r.raters_total
                    ),
                    Some(r) => _ = write!(
                        s,
                        "reputation: {} from {} rating(s) by your {} trusted client(s) ({} rater(s) in all)",
                        r.value,
                        r.count,
                        r.trusted_clients.len(),
                        r.raters_total
                    ),
                    None => _ = write!(s, "reputation: not read (--no-reputation)"),
                }
                s
            });
        }
        AgentCommand::Feedback(a) => {
            let args = FeedbackArgs {
                value: a.value,
                tag1: a.tag1,
                tag2: a.tag2,
                endpoint: a.endpoint,
                uri: a.uri,
            };
            let f = rt.block_on(identity::feedback(ictx, &a.agent_id, &args))?;
            out.result(&f, || {
                format!(
                    "rated agent {} {} as {} (feedback {})\ntx {} ({} gas)",
                    f.agent_id, f.value, f.client, f.index, f.tx, f.gas_used
                )
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}
