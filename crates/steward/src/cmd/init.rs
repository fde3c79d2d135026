//! `steward init`: create the home, config.toml, the encrypted store and the first audit entry.
//! Running it again on a working home changes nothing.

use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;
use steward_agent::{Config, Home, Store};
use steward_core::AuditRecord;

use crate::ctx::Ctx;
use crate::output::Output;

#[derive(Debug, Serialize)]
pub(crate) struct Initialized {
    pub(crate) home: String,
    pub(crate) created: bool,
    pub(crate) store: String,
    pub(crate) config: String,
    pub(crate) audit_entries: u64,
}

pub(crate) fn run(ctx: &Ctx, out: &Output) -> Result<ExitCode> {
    let r = init(ctx)?;
    out.result(&r, || {
        if r.created {
            format!(
                "initialized {}\n  config  {}\n  store   {} (encrypted)",
                r.home, r.config, r.store
            )
        } else {
            format!("{} is already initialized; nothing changed", r.home)
        }
    });
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn init(ctx: &Ctx) -> Result<Initialized> {
    let path = ctx.home_path()?;
    let home = Home::create(&path)?;
    let config_path = home.config_path();
    // Owner-only: config.toml may hold RPC keys (an older init left it world-readable).
    if config_path.exists() {
        steward_agent::make_private(&config_path)
            .with_context(|| format!("making {} private", config_path.display()))?;
    } else {
        steward_agent::write_atomic(&config_path, Config::template().as_bytes())
            .with_context(|| format!("writing {}", config_path.display()))?;
    }
    // A bad config is reported now, not at the first sync.
    ctx.config(&home)?;
    let keys = home.keys_dir();
    create_private_dir(&keys).with_context(|| format!("creating {}", keys.display()))?;

    let created = !Store::exists(&home);
    let mut store = if created {
        let pass = Ctx::passphrase(true)?;
        let mut store = Store::create(&home, &pass)?;
        let config_text = std::fs::read(&config_path).unwrap_or_default();
        store.audit(
            &AuditRecord::new("init", path.display().to_string())
                .input("config.toml", &config_text)
                .detail(serde_json::json!({ "version": env!("CARGO_PKG_VERSION") })),
        )?;
        store
    } else {
        Store::open(&home, &Ctx::passphrase(false)?)?
    };
    let audit_entries = match store.verify_audit()? {
        Ok(r) => r.entries,
        Err(e) => return Err(e).context("the existing audit log does not verify"),
    };
    // Keep the borrow checker honest about `store` being used mutably above.
    let _ = &mut store;
    Ok(Initialized {
        home: path.display().to_string(),
        created,
        store: store.path().display().to_string(),
        config: config_path.display().to_string(),
        audit_entries,
    })
}

fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}
