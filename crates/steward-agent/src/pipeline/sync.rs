//! Stage 0, sync: every configured source, then the forum discussions of open proposals.
//!
//! The caller brings what only a terminal can give: the IMAP passwords (from each entry's
//! variable or a prompt, never argv) and a place to show progress.

use steward_core::Address;

use super::{PipelineError, Result};
use crate::sources::forum::ForumClient;
use crate::sources::imap::ImapPassword;
use crate::sources::snapshot::HubClient;
use crate::{
    Config, DiscussionReport, IngestReport, Network, Store, sync_discussions, sync_governor,
    sync_imap_gated, sync_snapshot_space,
};

/// What one sync brought in.
#[derive(Debug, Default, serde::Serialize)]
pub struct SyncReport {
    pub ingest: IngestReport,
    pub discussions: DiscussionReport,
}

/// Whether the config names any source to sync.
pub fn has_sources(cfg: &Config) -> bool {
    !(cfg.snapshot.spaces.is_empty() && cfg.governors.is_empty() && cfg.imap.is_empty())
}

/// Syncs every configured source, then the forum discussions of open proposals.
/// `imap_passwords` go with `cfg.imap` in order; `progress` gets a line per step.
///
/// A source that fails stops the sync with an error naming it; a forum that fails is only
/// reported (in `discussions.failed`).
pub async fn sync_all(
    store: &mut Store,
    cfg: &Config,
    imap_passwords: &[ImapPassword],
    progress: &mut dyn FnMut(&str),
) -> Result<SyncReport> {
    if imap_passwords.len() != cfg.imap.len() {
        return Err(PipelineError::ImapPasswords {
            accounts: cfg.imap.len(),
            passwords: imap_passwords.len(),
        });
    }
    let net = Network::from_config(cfg)?;
    let hub = HubClient::new(net.http()?, &cfg.snapshot.hub);
    let limits = cfg.limits();
    let now = jiff::Timestamp::now().as_second();
    let mut total = IngestReport::default();
    for space in &cfg.snapshot.spaces {
        let r = sync_snapshot_space(
            store,
            &hub,
            space,
            cfg.snapshot.page_size,
            &limits,
            now,
            |p| {
                progress(&format!(
                    "snapshot {}: {} proposals, page {}",
                    p.space, p.items, p.pages
                ));
            },
        )
        .await
        .map_err(|source| PipelineError::Sync {
            what: format!("snapshot space {space}"),
            source: Box::new(source),
        })?;
        total.merge(r);
    }
    for g in &cfg.governors {
        let address: Address = g
            .address
            .parse()
            .map_err(|_| PipelineError::GovernorAddress {
                address: g.address.clone(),
            })?;
        progress(&format!("governor {address:#x}"));
        let what = || format!("governor {address:#x}");
        let rpc = net.rpc(&g.rpc).map_err(|source| PipelineError::Sync {
            what: what(),
            source: Box::new(source),
        })?;
        let kind = steward_eth::GovernorKind::detect(&rpc, address)
            .await
            .map_err(|source| PipelineError::Governor {
                governor: what(),
                source: Box::new(source),
            })?;
        let reader = steward_eth::GovernorReader::new(rpc, address, kind);
        let r = sync_governor(store, &reader, g.from_block)
            .await
            .map_err(|source| PipelineError::Sync {
                what: what(),
                source: Box::new(source),
            })?;
        total.merge(r);
    }
    // Bonded mail is checked on chain before it is stored (`[bonds]`, crate::bondgate).
    let gate = if cfg.imap.is_empty() {
        None
    } else {
        crate::bondgate::BondGate::from_config(cfg, &net)?
    };
    if let Some(g) = &gate {
        progress("held mail");
        let r = crate::bondgate::recheck_held(store, g, &limits)
            .await
            .map_err(|source| PipelineError::Sync {
                what: "held mail".into(),
                source: Box::new(source),
            })?;
        total.merge(r);
    }
    for (a, password) in cfg.imap.iter().zip(imap_passwords) {
        let account = a.account();
        progress(&format!("imap {account}"));
        let r = sync_imap_gated(store, &net, a, password, &limits, gate.as_ref())
            .await
            .map_err(|source| PipelineError::Sync {
                what: format!("imap {account}"),
                source: Box::new(source),
            })?;
        total.merge(r);
    }
    progress("forum discussions");
    let forum = ForumClient::new(net.http()?);
    let discussions = sync_discussions(store, &forum, &limits, now)
        .await
        .map_err(|source| PipelineError::Sync {
            what: "forum discussions".into(),
            source: Box::new(source),
        })?;
    total
        .quarantined
        .extend(discussions.quarantined.iter().cloned());
    Ok(SyncReport {
        ingest: total,
        discussions,
    })
}
