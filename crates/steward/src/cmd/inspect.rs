//! `steward inspect ID | --file PATH [--rpc URL] [--no-simulate] [--recheck]`: what a proposal's
//! payload does, with flags (docs/verify.md, docs/flags.md).

use std::fmt::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use steward_agent::inspect::{
    InspectOptions, Inspection, Inspector, abis_dir, changed_flags, nothing_to_bind,
};
use steward_agent::{Config, sources::file::parse_file};
use steward_core::Limits;

use crate::cli::InspectArgs;
use crate::ctx::Ctx;
use crate::output::{Output, exit};

pub(crate) fn run(ctx: &Ctx, out: &Output, args: &InspectArgs) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let opts = InspectOptions {
        simulate: !args.no_simulate,
    };
    let (cfg, mut inspection) = if let Some(path) = &args.file {
        // A file needs no store: nothing is pinned. The home's ABIs are used when it has some.
        let root = ctx.home_path()?;
        let cfg = Config::load(&root.join("config.toml"), Ctx::getenv, &ctx.flags)?;
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let now = jiff::Timestamp::now().as_second();
        let mut items = parse_file(&bytes, &Limits::default(), now);
        if items.len() != 1 {
            bail!(
                "{} holds {} proposals; inspect takes a file with one",
                path.display(),
                items.len()
            );
        }
        let proposal = items
            .pop()
            .into_iter()
            .flatten()
            .next()
            .ok_or_else(|| anyhow::anyhow!("{}: not a proposal", path.display()))
            .or_else(
                |e| match parse_file(&bytes, &Limits::default(), now).pop() {
                    Some(Err((item, field))) => {
                        bail!("{}: item {item}: {field}", path.display())
                    }
                    _ => Err(e),
                },
            )?;
        let inspector = Inspector::new(&cfg, &abis_dir(&root))?;
        let i = rt.block_on(inspector.inspect(None, &proposal, args.rpc.as_deref(), opts))?;
        (cfg, i)
    } else {
        let id = args.id.as_deref().unwrap_or_default();
        let (home, mut store) = ctx.open_store()?;
        let cfg = ctx.config(&home)?;
        let Some(sp) = store.proposal(id)? else {
            bail!("no proposal {id:?} in the store (see `steward proposals`)");
        };
        let inspector = Inspector::for_home(&cfg, &home)?;
        if args.recheck {
            let rpc = args.rpc.as_deref().unwrap_or_default();
            let pins = rt.block_on(inspector.recheck(&mut store, &sp.key, rpc))?;
            if pins.is_empty() {
                bail!(
                    "nothing pinned for {}: run `steward inspect {id} --rpc URL` first",
                    sp.key
                );
            }
            let flags = changed_flags(&pins);
            #[derive(serde::Serialize)]
            struct Recheck<'a> {
                key: &'a str,
                pins: &'a [steward_agent::inspect::Pin],
                flags: &'a [steward_core::Flag],
            }
            let r = Recheck {
                key: &sp.key,
                pins: &pins,
                flags: &flags,
            };
            let human = || {
                let mut s = String::new();
                for p in &pins {
                    let _ = writeln!(
                        s,
                        "{} {}  pinned {}",
                        if p.changed { "CHANGED" } else { "same   " },
                        p.target,
                        p.pinned_at
                    );
                }
                for f in &flags {
                    let _ = writeln!(s, "critical {}: {}", f.kind, f.detail);
                }
                s
            };
            if flags.is_empty() {
                out.result(&r, human);
                return Ok(ExitCode::SUCCESS);
            }
            out.failed_result(&r, human);
            return Ok(ExitCode::from(exit::CHECK_FAILED));
        }
        let i = rt.block_on(inspector.inspect(
            Some(&mut store),
            &sp.proposal,
            args.rpc.as_deref(),
            opts,
        ))?;
        (cfg, i)
    };
    // The local model binds the stated amounts to the stated recipients; it only adds flags.
    let idle = nothing_to_bind(&inspection.claims.candidates, &inspection.claims.bindings);
    if !cfg.decide.use_llm || args.no_llm {
        inspection
            .claims
            .notes
            .push("claims bound by rules only (--no-llm)".into());
    } else if let Some(why) = idle {
        inspection.claims.notes.push(why.into());
    } else {
        match crate::cmd::model::spawn_worker(&crate::cmd::model::models_dir(ctx)?) {
            Ok(worker) => {
                let mut g = worker.shared();
                inspection.bind_with_model(&mut g);
            }
            Err(e) => inspection
                .claims
                .notes
                .push(format!("claims bound by rules only: {e:#}")),
        }
    }
    let human = || render(&inspection);
    if inspection.has_critical() {
        out.failed_result(&inspection, human);
        Ok(ExitCode::from(exit::CHECK_FAILED))
    } else {
        out.result(&inspection, human);
        Ok(ExitCode::SUCCESS)
    }
}

fn render(i: &Inspection) -> String {
    let r = &i.report;
    let mut s = format!("{}\n", i.key);
    for (n, a) in r.actions.iter().enumerate() {
        let _ = writeln!(s, "action {n}  {} value {}", a.target, a.value);
        for c in a.decoded.walk() {
            let pad = "  ".repeat(c.depth + 1);
            let how = if c.delegate { "delegatecall " } else { "" };
            let what = match &c.error {
                Some(e) => format!("undecodable: {e}"),
                None if !c.known => format!("unknown {}", c.label()),
                None => c.label(),
            };
            let _ = writeln!(s, "{pad}{how}{} {what}", c.target);
        }
    }
    if let Some(sim) = &r.simulation {
        let ok = sim.steps.iter().filter(|s| s.ok).count();
        let _ = writeln!(
            s,
            "simulated as {} from block {}: {ok}/{} actions ran",
            sim.executor,
            sim.block,
            r.actions.len()
        );
    }
    if r.flags.is_empty() {
        s.push_str("no flags\n");
    }
    for f in &r.flags {
        let sev = match f.severity {
            steward_core::Severity::Critical => "CRITICAL",
            steward_core::Severity::Warn => "warn    ",
            steward_core::Severity::Info => "info    ",
        };
        let _ = writeln!(s, "{sev} {}: {}", f.kind, f.detail);
    }
    for p in &i.pins {
        let _ = writeln!(
            s,
            "pin      {} {}{}",
            p.target,
            &p.now.to_string()[..18],
            if p.changed { "  CHANGED" } else { "" }
        );
    }
    if let Some(p) = &i.provenance {
        let _ = writeln!(
            s,
            "voting power: {} voter(s) checked around snapshot {}",
            p.facts.voters.len(),
            p.facts.snapshot
        );
        for n in &p.facts.notes {
            let _ = writeln!(s, "  not checked: {n}");
        }
    }
    s
}
