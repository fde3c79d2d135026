//! `steward key new | import | list | address`: the signing keys in `<home>/keys/`.

use std::fmt::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;
use steward_agent::{Home, KeyInfo, Keys};
use steward_eth::Kdf;

use crate::cli::KeyCommand;
use crate::ctx::Ctx;
use crate::output::Output;

pub(crate) fn run(ctx: &Ctx, out: &Output, command: KeyCommand) -> Result<ExitCode> {
    let home = Home::open(&ctx.home_path()?)?;
    let cfg = ctx.config(&home)?;
    let keys = Keys::new(&home);
    match command {
        KeyCommand::New(args) => {
            let pw = Ctx::keystore_password(true)?;
            let kdf = if args.light_kdf {
                Kdf::Light
            } else {
                Kdf::Standard
            };
            let info = keys.create(&pw, kdf).context("creating a key")?;
            out.result(&info, || describe("created", &info));
        }
        KeyCommand::Import(args) => {
            let pw = Ctx::keystore_password(false)?;
            let info = keys
                .import(&args.keystore, &pw)
                .with_context(|| format!("importing {}", args.keystore.display()))?;
            out.result(&info, || describe("imported", &info));
        }
        KeyCommand::List => {
            let list = keys.list()?;
            out.result(&list, || {
                let mut s = String::new();
                if list.is_empty() {
                    let _ = writeln!(s, "no keys in {} (steward key new)", keys.dir().display());
                }
                for k in &list {
                    let mark = if k.default { "*" } else { " " };
                    let _ = writeln!(s, "{mark} {}  {}", k.address, k.file.display());
                }
                s
            });
        }
        KeyCommand::Address(args) => {
            let sel = args.key.as_deref().or(cfg.casting.key.as_deref());
            let address = keys.address_of(sel)?;
            #[derive(Serialize)]
            struct A {
                address: steward_core::Address,
            }
            out.result(&A { address }, || address.to_string());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(what: &str, k: &KeyInfo) -> String {
    format!(
        "{what} {}{}\n{}",
        k.address,
        if k.default { " (default)" } else { "" },
        k.file.display()
    )
}
