//! `steward sync`: incremental sync of every configured source, resumable after a crash.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use steward_agent::sources::imap::ImapPassword;
use steward_agent::sources::snapshot::HubClient;
use steward_agent::{DiscussionReport, sync_discussions};
use steward_agent::{IngestReport, Network, sync_governor, sync_imap_with, sync_snapshot_space};

use crate::cmd::ingest::render;
use crate::ctx::Ctx;
use crate::output::{Output, exit};

pub(crate) fn run(ctx: &Ctx, out: &Output) -> Result<ExitCode> {
    let (home, mut store) = ctx.open_store()?;
    let cfg = ctx.config(&home)?;
    let no_sources =
        cfg.snapshot.spaces.is_empty() && cfg.governors.is_empty() && cfg.imap.is_empty();
    // With no source configured there may still be open proposals (from `ingest file` or
    // mail) whose forum discussions need refreshing.
    let open = store.proposals(&steward_agent::ProposalFilter {
        open_only: true,
        space: None,
        limit: Some(1),
    })?;
    if no_sources && open.is_empty() {
        bail!(
            "no sources to sync: set snapshot.spaces, [[governors]] or [[imap]] in {}",
            home.config_path().display()
        );
    }
    let (total, discussions) = sync_all(&mut store, &cfg)?;
    #[derive(serde::Serialize)]
    struct Synced<'a> {
        #[serde(flatten)]
        report: &'a IngestReport,
        discussions: &'a DiscussionReport,
    }
    let data = Synced {
        report: &total,
        discussions: &discussions,
    };
    let human = || render_sync(&total, &discussions);
    if total.quarantined.is_empty() && discussions.failed.is_empty() {
        out.result(&data, human);
        Ok(ExitCode::SUCCESS)
    } else {
        out.failed_result(&data, human);
        Ok(ExitCode::from(exit::PARTIAL))
    }
}

pub(crate) fn render_sync(total: &IngestReport, discussions: &DiscussionReport) -> String {
    let mut s = render(total);
    if discussions.topics > 0 {
        s.push_str(&format!(
            "\n{} new discussion post(s) from {} forum topic(s)",
            discussions.posts, discussions.topics
        ));
    }
    for f in &discussions.failed {
        s.push_str(&format!("\n  forum failed: {f}"));
    }
    s
}

/// Syncs every configured source, then the forum discussions of open proposals.
pub(crate) fn sync_all(
    store: &mut steward_agent::Store,
    cfg: &steward_agent::Config,
) -> Result<(IngestReport, DiscussionReport)> {
    let net = Network::from_config(cfg)?;
    let http = net.http()?;
    let hub = HubClient::new(http, &cfg.snapshot.hub);
    let limits = cfg.limits();
    let now = jiff::Timestamp::now().as_second();
    // IMAP passwords from each entry's variable, else asked on the terminal before the sync
    // starts; never from argv.
    let mut imap_passwords = Vec::with_capacity(cfg.imap.len());
    for a in &cfg.imap {
        imap_passwords.push(match ImapPassword::from_env(a) {
            Some(p) => p,
            None if std::io::stdin().is_terminal() => ImapPassword::new(
                rpassword::prompt_password(format!("IMAP password for {}: ", a.account()))
                    .context("reading the IMAP password")?,
            ),
            None => bail!(
                "no IMAP password for {}: set ${} or run in a terminal to be asked",
                a.account(),
                a.password_env
            ),
        });
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        b
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut total = IngestReport::default();
    for space in &cfg.snapshot.spaces {
        let r = rt
            .block_on(sync_snapshot_space(
                store,
                &hub,
                space,
                cfg.snapshot.page_size,
                &limits,
                now,
                |p| {
                    if let Some(b) = &bar {
                        b.set_message(format!(
                            "snapshot {}: {} proposals, page {}",
                            p.space, p.items, p.pages
                        ));
                        b.tick();
                    }
                },
            ))
            .with_context(|| format!("while syncing snapshot space {space}"))?;
        total.ingested += r.ingested;
        total.duplicates += r.duplicates;
        total.votes += r.votes;
        total.quarantined.extend(r.quarantined);
    }
    for g in &cfg.governors {
        let address: steward_core::Address = g
            .address
            .parse()
            .with_context(|| format!("governor address {:?}", g.address))?;
        let r = rt
            .block_on(async {
                if let Some(b) = &bar {
                    b.set_message(format!("governor {address:#x}"));
                }
                let rpc = net.rpc(&g.rpc)?;
                let kind = steward_eth::GovernorKind::detect(&rpc, address)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let reader = steward_eth::GovernorReader::new(rpc, address, kind);
                anyhow::Ok(sync_governor(store, &reader, g.from_block).await?)
            })
            .with_context(|| format!("while syncing governor {address:#x}"))?;
        total.ingested += r.ingested;
        total.duplicates += r.duplicates;
        total.votes += r.votes;
        total.quarantined.extend(r.quarantined);
    }
    for (a, password) in cfg.imap.iter().zip(&imap_passwords) {
        let account = a.account();
        if let Some(b) = &bar {
            b.set_message(format!("imap {account}"));
        }
        let r = rt
            .block_on(sync_imap_with(store, &net, a, password, &limits))
            .with_context(|| format!("while syncing imap {account}"))?;
        total.ingested += r.ingested;
        total.duplicates += r.duplicates;
        total.linked += r.linked;
        total.quarantined.extend(r.quarantined);
    }
    // The forum discussions of open proposals: a forum that fails is reported, not fatal.
    if let Some(b) = &bar {
        b.set_message("forum discussions");
    }
    let forum = steward_agent::sources::forum::ForumClient::new(net.http()?);
    let discussions = rt
        .block_on(sync_discussions(store, &forum, &limits, now))
        .context("while syncing forum discussions")?;
    total
        .quarantined
        .extend(discussions.quarantined.iter().cloned());
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok((total, discussions))
}
