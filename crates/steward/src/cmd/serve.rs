//! `steward serve [--bind ADDR]`: the review desk on 127.0.0.1, its URL (with the access token)
//! printed once. Stops cleanly on Ctrl-C.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use steward_agent::web::{Desk, check_bind};

use crate::ctx::Ctx;
use crate::output::Output;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on [default: web.bind, 127.0.0.1:8765]; port 0 picks a free one
    #[arg(long, value_name = "ADDR")]
    pub(crate) bind: Option<String>,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, args: &ServeArgs) -> Result<ExitCode> {
    let (home, store) = ctx.open_store()?;
    let cfg = ctx.config(&home)?;
    let bind = args.bind.clone().unwrap_or_else(|| cfg.web.bind.clone());
    let addr: std::net::SocketAddr = bind
        .parse()
        .with_context(|| format!("--bind {bind:?} is not an IP:port address"))?;
    check_bind(addr, cfg.web.allow_remote)?;
    let caster = std::sync::Arc::new(crate::cmd::casting::caster(&home, &cfg)?);
    let desk = desk(
        store,
        &cfg,
        home.config_path(),
        caster,
        &crate::cmd::model::models_dir(ctx)?,
    )?;
    let desk = match reply_hook(&home, &cfg)? {
        Some(hook) => desk.with_reply_hook(hook),
        None => desk,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let local = listener.local_addr().context("reading the bound address")?;
        let url = desk.url(local);
        out.result(&serde_json::json!({ "url": url }), || {
            format!("Review desk: {url}\n(Ctrl-C stops it)")
        });
        let _ = std::io::stdout().flush();
        steward_agent::web::serve(desk, listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving the review desk")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The desk over `store`; answers and overrides on it are cast at once through `caster` (or
/// dry-run while casting is off).
pub(crate) fn desk(
    store: steward_agent::Store,
    cfg: &steward_agent::Config,
    config_file: std::path::PathBuf,
    caster: std::sync::Arc<steward_agent::Caster>,
    models_dir: &std::path::Path,
) -> Result<Desk> {
    let settings = serde_json::to_value(cfg).context("showing the settings")?;
    let hook = steward_agent::pipeline::desk_cast_hook(caster);
    let desk = Desk::with_config_file(store, config_file, settings, Some(hook))?
        .with_daos(cfg)?
        .with_bonds(cfg)?
        .with_market(cfg);
    // The profile page's learned topics need the embedder; without a worker the page still
    // lists the profile, and says nothing it cannot compute.
    Ok(match crate::cmd::model::spawn_worker(models_dir) {
        Ok(w) => desk.with_embedder(Box::new(w)),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "review desk without the model worker");
            desk
        }
    })
}

/// `bonds.reply_on_answer`: the key that replies is opened now (a prompt, if any, before the
/// desk starts), with the escrow of `[bonds]`.
fn reply_hook(
    home: &steward_agent::Home,
    cfg: &steward_agent::Config,
) -> Result<Option<steward_agent::bondreply::ReplyHook>> {
    if !cfg.bonds.reply_on_answer {
        return Ok(None);
    }
    let net = steward_agent::Network::from_config(cfg)?;
    let Some(gate) = steward_agent::bondgate::BondGate::from_config(cfg, &net)? else {
        return Ok(None);
    };
    let key = crate::cmd::bond::open_key(home, cfg.casting.key.as_deref())
        .context("opening the key that replies to bonds (bonds.reply_on_answer)")?;
    Ok(Some(
        std::sync::Arc::new(steward_agent::bondreply::BondReplier::new(gate, key)).hook(),
    ))
}
