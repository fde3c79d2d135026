//! `steward sync`: incremental sync of every configured source, resumable after a crash.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use steward_agent::sources::imap::ImapPassword;
use steward_agent::{DiscussionReport, IngestReport};

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
    if total.quarantined.is_empty() && discussions.failed.is_empty() && total.bond_errors.is_empty()
    {
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

/// The IMAP passwords of `cfg.imap`, in order: each entry's variable, else asked on the
/// terminal before the sync starts; never from argv.
pub(crate) fn imap_passwords(cfg: &steward_agent::Config) -> Result<Vec<ImapPassword>> {
    let mut out = Vec::with_capacity(cfg.imap.len());
    for a in &cfg.imap {
        out.push(match ImapPassword::from_env(a) {
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
    Ok(out)
}

/// A spinner on a terminal, nothing when piped.
pub(crate) struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    pub(crate) fn new() -> Self {
        Progress(std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            b
        }))
    }

    pub(crate) fn show(&self, msg: &str) {
        if let Some(b) = &self.0 {
            b.set_message(msg.to_owned());
            b.tick();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// Syncs every configured source, then the forum discussions of open proposals
/// (`steward_agent::pipeline::sync_all`), with the passwords and a spinner from here.
fn sync_all(
    store: &mut steward_agent::Store,
    cfg: &steward_agent::Config,
) -> Result<(IngestReport, DiscussionReport)> {
    let passwords = imap_passwords(cfg)?;
    let progress = Progress::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let r = rt.block_on(steward_agent::pipeline::sync_all(
        store,
        cfg,
        &passwords,
        &mut |m| progress.show(m),
    ))?;
    Ok((r.ingest, r.discussions))
}
