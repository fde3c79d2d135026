//! Ingest orchestration: files, and incremental sync of Snapshot spaces.
//!
//! Each page of items is stored in one transaction together with the cursor that covers it, so
//! a sync killed at any point resumes where the last committed page ended: no duplicates (keys
//! are unique and re-ingests are no-ops) and no gaps (the cursor never passes an uncommitted
//! item).

use std::path::Path;

use serde::Serialize;
use steward_core::{FieldError, Limits};

use crate::error::{Error, Result};
use crate::proposals::{Ingested, Quarantined};
use crate::sources::snapshot::{Cursor, HubClient, parse_proposal, parse_vote};
use crate::sources::{file, item_label};
use crate::store::{Store, Tx};

/// What an ingest or sync did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    /// New or changed proposals stored.
    pub ingested: u64,
    /// Proposals seen again unchanged.
    pub duplicates: u64,
    /// New votes stored.
    pub votes: u64,
    /// Messages that pointed at a proposal already stored (recorded as aliases of it).
    pub linked: u64,
    pub quarantined: Vec<Quarantined>,
}

impl IngestReport {
    fn count(&mut self, outcome: Ingested) {
        match outcome {
            Ingested::New | Ingested::Updated => self.ingested += 1,
            Ingested::Unchanged => self.duplicates += 1,
        }
    }

    fn merge(&mut self, other: Self) {
        self.ingested += other.ingested;
        self.duplicates += other.duplicates;
        self.votes += other.votes;
        self.linked += other.linked;
        self.quarantined.extend(other.quarantined);
    }
}

fn quarantine(
    tx: &mut Tx<'_>,
    report: &mut IngestReport,
    source: &str,
    item: String,
    e: FieldError,
) -> Result<()> {
    let q = Quarantined {
        origin: source.to_owned(),
        item,
        field: e.field,
        error: e.message,
    };
    tracing::warn!("{q}");
    tx.quarantine(&q)?;
    report.quarantined.push(q);
    Ok(())
}

/// `steward ingest file PATH`: every item of the file in one transaction.
pub fn ingest_file(
    store: &mut Store,
    path: &Path,
    limits: &Limits,
    now: i64,
) -> Result<IngestReport> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.into(),
        context: "reading the proposal file",
        source,
    })?;
    let source = format!("file {}", path.display());
    let items = file::parse_file(&bytes, limits, now);
    store.transaction(|tx| {
        let mut report = IngestReport::default();
        for item in items {
            match item {
                Ok(p) => report.count(tx.upsert_proposal(&p)?),
                Err((label, e)) => quarantine(tx, &mut report, &source, label, e)?,
            }
        }
        Ok(report)
    })
}

/// `steward ingest mail PATH`: a maildir or mbox, every message in one transaction.
pub fn ingest_mail(store: &mut Store, path: &Path, limits: &Limits) -> Result<IngestReport> {
    let raw = crate::sources::mail::read_mailbox(path).map_err(|source| Error::Io {
        path: path.into(),
        context: "reading the mailbox",
        source,
    })?;
    let mailbox = path.display().to_string();
    let source = format!("mail {mailbox}");
    store.transaction(|tx| {
        let mut r = IngestReport::default();
        for m in &raw {
            let item = match crate::sources::mail::parse_message(m, &mailbox, limits) {
                Ok(item) => item,
                Err(e) => {
                    quarantine(tx, &mut r, &source, m.label.clone(), e)?;
                    continue;
                }
            };
            let mail_key = item.proposal.key();
            let mut known = None;
            for link in &item.links {
                if tx.has_proposal(link)? {
                    known = Some(link.clone());
                    break;
                }
            }
            match known {
                Some(key) => {
                    tx.add_alias(&mail_key, &key)?;
                    r.linked += 1;
                }
                None => {
                    r.count(tx.upsert_proposal(&item.proposal)?);
                    // When the hub brings the linked proposal, it replaces this record.
                    for link in &item.links {
                        tx.add_alias(link, &mail_key)?;
                    }
                }
            }
        }
        Ok(r)
    })
}

/// Progress of a sync, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub space: &'a str,
    pub pages: u64,
    pub items: u64,
}

/// Syncs one Snapshot space: its proposals from the stored cursor on, then the votes on its open
/// proposals.
pub async fn sync_snapshot_space(
    store: &mut Store,
    hub: &HubClient,
    space: &str,
    page_size: u32,
    limits: &Limits,
    now: i64,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<IngestReport> {
    let mut report = IngestReport::default();
    let cursor_key = format!("snapshot:proposals:{space}");
    let source = format!("snapshot {space}");
    let mut cursor = load_cursor(store, &cursor_key)?;
    let (mut pages, mut items) = (0u64, 0u64);
    loop {
        let page = hub.proposals_page(space, cursor, page_size).await?;
        let n = page.len();
        let next = cursor.advance(
            page.iter()
                .map(|v| v["created"].as_i64().unwrap_or(cursor.created)),
        );
        let page_report = store.transaction(|tx| {
            let mut r = IngestReport::default();
            for (i, v) in page.iter().enumerate() {
                match parse_proposal(v, Some(space), limits, now) {
                    Ok(p) => r.count(tx.upsert_proposal(&p)?),
                    Err(e) => {
                        let label = item_label(v, &["id"], &format!("#{}", items + i as u64));
                        quarantine(tx, &mut r, &source, label, e)?;
                    }
                }
            }
            tx.set_cursor(
                &cursor_key,
                &serde_json::to_string(&next).unwrap_or_default(),
            )?;
            Ok(r)
        })?;
        report.merge(page_report);
        cursor = next;
        pages += 1;
        items += n as u64;
        progress(Progress {
            space,
            pages,
            items,
        });
        if n < page_size as usize {
            break;
        }
    }
    // Others' votes on the space's open proposals.
    let open = store.proposals(&crate::ProposalFilter {
        open_only: true,
        space: Some(space.to_owned()),
        limit: None,
    })?;
    for sp in open {
        let votes_key = format!("snapshot:votes:{}", sp.key);
        let mut cursor = load_cursor(store, &votes_key)?;
        loop {
            let page = hub.votes_page(&sp.proposal.id, cursor, page_size).await?;
            let n = page.len();
            let next = cursor.advance(
                page.iter()
                    .map(|v| v["created"].as_i64().unwrap_or(cursor.created)),
            );
            let r = store.transaction(|tx| {
                let mut r = IngestReport::default();
                let mut good = Vec::with_capacity(page.len());
                for v in &page {
                    match parse_vote(v) {
                        Ok(vote) => good.push(vote),
                        Err(e) => {
                            let label = item_label(v, &["id"], "vote");
                            quarantine(
                                tx,
                                &mut r,
                                &format!("{source} votes on {}", sp.proposal.id),
                                label,
                                e,
                            )?;
                        }
                    }
                }
                r.votes += tx.insert_votes(&sp.key, &good)? as u64;
                tx.set_cursor(
                    &votes_key,
                    &serde_json::to_string(&next).unwrap_or_default(),
                )?;
                Ok(r)
            })?;
            report.merge(r);
            cursor = next;
            if n < page_size as usize {
                break;
            }
        }
    }
    Ok(report)
}

fn load_cursor(store: &Store, key: &str) -> Result<Cursor> {
    match store.cursor(key)? {
        None => Ok(Cursor::default()),
        Some(text) => serde_json::from_str(&text).map_err(|e| Error::Corrupt {
            path: store.path().into(),
            reason: format!("sync cursor {key} is {text:?}: {e}"),
        }),
    }
}

/// Syncs one on-chain Governor: new `ProposalCreated` and `VoteCast` logs from the stored block
/// cursor on, and the current state of its proposals that are still open.
pub async fn sync_governor(
    store: &mut Store,
    reader: &steward_eth::GovernorReader,
    from_block: u64,
) -> Result<IngestReport> {
    let chain_id = reader.chain_id().await.map_err(|e| eth_err(reader, &e))?;
    let governor = reader.governor();
    let cursor_key = format!("governor:{chain_id}:{governor:#x}");
    let source = format!("governor {governor:#x} on chain {chain_id}");
    let from = match store.cursor(&cursor_key)? {
        Some(c) => c.parse().map_err(|_| Error::Corrupt {
            path: store.path().into(),
            reason: format!("sync cursor {cursor_key} is {c:?}"),
        })?,
        None => from_block,
    };
    let proposals = reader
        .proposals(from, None)
        .await
        .map_err(|e| eth_err(reader, &e))?;
    // Votes up to the same block, so the cursor covers both.
    let votes = reader
        .votes(from, Some(proposals.to_block))
        .await
        .map_err(|e| eth_err(reader, &e))?;
    // States of stored proposals that were open: they move on without new logs.
    let mut refreshed = Vec::new();
    let prefix = format!("{chain_id}:{governor:#x}");
    for sp in store.proposals(&crate::ProposalFilter {
        open_only: true,
        space: Some(prefix.clone()),
        limit: None,
    })? {
        let Ok(id) = sp.proposal.id.parse::<steward_core::U256>() else {
            continue;
        };
        let state = reader.state(id).await.map_err(|e| eth_err(reader, &e))?;
        if state != sp.proposal.state {
            let mut p = sp.proposal;
            p.state = state;
            refreshed.push(p);
        }
    }
    let next = proposals.next_from();
    store.transaction(|tx| {
        let mut r = IngestReport::default();
        for item in proposals.items {
            match item {
                Ok(p) => r.count(tx.upsert_proposal(&p)?),
                Err(e) => {
                    let item = e.item.to_string();
                    quarantine(tx, &mut r, &source, item, e.error)?;
                }
            }
        }
        for p in &refreshed {
            r.count(tx.upsert_proposal(p)?);
        }
        let mut by_proposal: std::collections::BTreeMap<String, Vec<steward_core::Vote>> =
            Default::default();
        for item in votes.items {
            match item {
                Ok(v) => by_proposal
                    .entry(format!("governor:{prefix}:{}", v.proposal_id))
                    .or_default()
                    .push(v.vote),
                Err(e) => {
                    let item = e.item.to_string();
                    quarantine(tx, &mut r, &source, item, e.error)?;
                }
            }
        }
        for (key, votes) in by_proposal {
            // Votes on proposals created before `from_block` have nothing to attach to.
            if tx.has_proposal(&key)? {
                r.votes += tx.insert_votes(&key, &votes)? as u64;
            }
        }
        tx.set_cursor(&cursor_key, &next.to_string())?;
        Ok(r)
    })
}

fn eth_err(reader: &steward_eth::GovernorReader, e: &steward_eth::Error) -> Error {
    Error::Source {
        source_name: format!("governor {:#x}", reader.governor()),
        message: e.to_string(),
    }
}
