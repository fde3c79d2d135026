//! `steward vote ID CHOICE [--reason R] [--change]`: the user's own vote on a stored proposal,
//! through the same intent path as the agent's (`steward_agent::cast_vote`, docs/casting.md).

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use steward_agent::{CastContext, CastOrigin, CastStatus, Keys, Network, cast_vote};

use crate::cli::VoteArgs;
use crate::ctx::Ctx;
use crate::output::Output;

pub(crate) fn run(ctx: &Ctx, out: &Output, args: &VoteArgs) -> Result<ExitCode> {
    let (home, mut store) = ctx.open_store()?;
    let cfg = ctx.config(&home)?;
    let Some(sp) = store.proposal(&args.id)? else {
        bail!(
            "no proposal {:?} in the store (see `steward proposals`)",
            args.id
        );
    };
    let keys = Keys::new(&home);
    // A dry run never opens the key, so it asks for no password.
    let password = if cfg.casting.enabled {
        Some(Ctx::keystore_password(false)?)
    } else {
        None
    };
    let network = Network::from_config(&cfg)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let cctx = CastContext {
        config: &cfg,
        keys: &keys,
        password: password.as_ref(),
        network: &network,
    };
    let outcome = rt
        .block_on(cast_vote(
            &mut store,
            cctx,
            &sp,
            &args.choice,
            &args.reason,
            CastOrigin::User,
            args.change,
        ))
        .with_context(|| format!("voting on {}", sp.key))?;
    out.result(&outcome, || {
        let what = match outcome.status {
            CastStatus::DryRun => {
                "dry run (casting.enabled is false): recorded, not signed or sent"
            }
            CastStatus::Confirmed => "cast and confirmed",
            CastStatus::Pending => "sent; not yet confirmed",
            CastStatus::AlreadyVoted => "already voted: nothing sent",
        };
        let mut s = format!(
            "{} on {}: {what}\nvoter {}",
            outcome.choice, outcome.proposal_key, outcome.voter
        );
        if let Some(tx) = &outcome.tx {
            s.push_str(&format!("\ntx {tx}"));
        }
        if let Some(r) = &outcome.receipt {
            s.push_str(&format!("\nreceipt {r}"));
        }
        s
    });
    Ok(ExitCode::SUCCESS)
}
