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
use crate::sources::forum::{self, ForumClient, TopicRef};
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
    /// Mail the attention-bond gate held (`[bonds]`; listed by `steward bond held`).
    #[serde(skip_serializing_if = "is_zero")]
    pub held: u64,
    /// The chain could not be read for bonded mail, which was held as `unverified`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bond_errors: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl IngestReport {
    fn count(&mut self, outcome: Ingested) {
        match outcome {
            Ingested::New | Ingested::Updated => self.ingested += 1,
            Ingested::Unchanged => self.duplicates += 1,
        }
    }

    /// Adds another source's counts and quarantined items to these.
    pub fn merge(&mut self, other: Self) {
        self.ingested += other.ingested;
        self.duplicates += other.duplicates;
        self.votes += other.votes;
        self.linked += other.linked;
        self.quarantined.extend(other.quarantined);
        self.held += other.held;
        self.bond_errors.extend(other.bond_errors);
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
        store_mail(tx, &mut r, &source, &mailbox, &raw, limits)?;
        Ok(r)
    })
}

/// Stores messages already read from `mailbox` (e.g. those `bonds::verify` let through), in one
/// transaction, as `ingest_mail` does.
pub fn ingest_mail_messages(
    store: &mut Store,
    mailbox: &str,
    raw: &[crate::sources::mail::RawMessage],
    limits: &Limits,
) -> Result<IngestReport> {
    let source = format!("mail {mailbox}");
    store.transaction(|tx| {
        let mut r = IngestReport::default();
        store_mail(tx, &mut r, &source, mailbox, raw, limits)?;
        Ok(r)
    })
}

/// `ingest mail` with the attention-bond gate: bonded mail is stored only when paid for, the
/// rest is held (crate::bondgate); without a gate, as [`ingest_mail`].
pub async fn ingest_mail_gated(
    store: &mut Store,
    path: &Path,
    limits: &Limits,
    gate: Option<&crate::bondgate::BondGate>,
) -> Result<IngestReport> {
    let Some(gate) = gate else {
        return ingest_mail(store, path, limits);
    };
    let raw = crate::sources::mail::read_mailbox(path).map_err(|source| Error::Io {
        path: path.into(),
        context: "reading the mailbox",
        source,
    })?;
    let mailbox = path.display().to_string();
    let source = format!("mail {mailbox}");
    let mut report = crate::bondgate::recheck_held(store, gate, limits).await?;
    let screened = gate.screen(&mailbox, &raw).await;
    let r = store.transaction(|tx| {
        let mut r = IngestReport::default();
        tx.store_screened(&mut r, &source, &mailbox, &screened, limits)?;
        Ok(r)
    })?;
    report.merge(r);
    Ok(report)
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

/// What a discussion sync did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiscussionReport {
    /// Forum topics checked (open proposals with a forum link).
    pub topics: u64,
    /// New posts stored.
    pub posts: u64,
    /// Topics that could not be read (a refused host, a 404, a forum that kept failing),
    /// reported as `{source, item, field, error}`; the other topics went on.
    pub failed: Vec<Quarantined>,
    /// Posts refused as malformed, also recorded in the store's quarantine table.
    pub quarantined: Vec<Quarantined>,
}

/// Refreshes the discussion of every open proposal with a forum link (its `discussion`, or a
/// Discourse topic link in its body): the topic's JSON, then only the posts not stored yet, in
/// chunks of [`forum::CHUNK`]. Each batch of posts commits on its own, with its audit entry.
/// One forum failing is reported in [`DiscussionReport::failed`] and the others go on; only the
/// store failing stops the sync.
pub async fn sync_discussions(
    store: &mut Store,
    client: &ForumClient,
    limits: &Limits,
    now: i64,
) -> Result<DiscussionReport> {
    let mut report = DiscussionReport::default();
    let open = store.proposals(&crate::ProposalFilter {
        open_only: true,
        space: None,
        limit: None,
    })?;
    for sp in open {
        if sp.proposal.end.is_some_and(|end| end <= now) {
            continue;
        }
        let Some(topic) =
            TopicRef::of_proposal(sp.proposal.discussion.as_deref(), &sp.proposal.body)
        else {
            continue;
        };
        report.topics += 1;
        if let Err(e) = sync_topic(store, client, &sp.key, &topic, limits, &mut report).await {
            match e {
                // The forum's fault or the network policy's: report it, go on.
                Error::Source { .. } | Error::Refused(_) | Error::Url { .. } | Error::Http(_) => {
                    let q = Quarantined {
                        origin: format!("forum {}", topic.host),
                        item: format!("topic {} (proposal {})", topic.topic_id, sp.key),
                        field: "(topic)".into(),
                        error: e.to_string(),
                    };
                    tracing::warn!("{q}");
                    report.failed.push(q);
                }
                // The store's: stop.
                other => return Err(other),
            }
        }
    }
    Ok(report)
}

/// The cursor of a topic: posts seen but not stored (malformed, or small actions), so a
/// refresh does not fetch them again.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
struct TopicCursor {
    skipped: std::collections::BTreeSet<u64>,
}

async fn sync_topic(
    store: &mut Store,
    client: &ForumClient,
    key: &str,
    t: &TopicRef,
    limits: &Limits,
    report: &mut DiscussionReport,
) -> Result<()> {
    let cursor_key = format!("forum:{key}:{}:{}", t.host, t.topic_id);
    let mut cursor: TopicCursor = match store.cursor(&cursor_key)? {
        None => TopicCursor::default(),
        Some(text) => serde_json::from_str(&text).map_err(|e| Error::Corrupt {
            path: store.path().into(),
            reason: format!("sync cursor {cursor_key} is {text:?}: {e}"),
        })?,
    };
    let mut known = store.discussion_post_ids(key, &t.host, t.topic_id)?;
    known.extend(cursor.skipped.iter().copied());
    let v = client.topic(t).await?;
    let topic = forum::parse_topic(&v, client.max_posts).map_err(|e| Error::Source {
        source_name: t.label(),
        message: format!("field `{}`: {}", e.field, e.message),
    })?;
    if topic.id != t.topic_id {
        return Err(Error::Source {
            source_name: t.label(),
            message: format!("the forum answered with topic {}", topic.id),
        });
    }
    let source = t.label();
    // The first chunk came with the topic; the rest by id.
    let first: Vec<&serde_json::Value> = topic
        .posts
        .iter()
        .filter(|p| p["id"].as_u64().is_none_or(|id| !known.contains(&id)))
        .collect();
    let in_first: std::collections::BTreeSet<u64> = topic
        .posts
        .iter()
        .filter_map(|p| p["id"].as_u64())
        .collect();
    let missing: Vec<u64> = topic
        .stream
        .iter()
        .copied()
        .filter(|id| !known.contains(id) && !in_first.contains(id))
        .collect();
    let mut store_batch =
        |store: &mut Store, batch: &[&serde_json::Value], cursor: &mut TopicCursor| {
            store.transaction(|tx| {
                let mut posts = Vec::with_capacity(batch.len());
                for (i, v) in batch.iter().enumerate() {
                    match forum::parse_post(v, &t.host, t.topic_id, limits.max_body_bytes) {
                        Ok(forum::Parsed::Post(p)) => posts.push(p),
                        Ok(forum::Parsed::Skip(id)) => {
                            cursor.skipped.insert(id);
                        }
                        Err(e) => {
                            let label = item_label(v, &["id"], &format!("#{i}"));
                            if let Some(id) = v["id"].as_u64() {
                                cursor.skipped.insert(id);
                            }
                            let q = Quarantined {
                                origin: source.clone(),
                                item: format!("post {label}"),
                                field: e.field,
                                error: e.message,
                            };
                            tracing::warn!("{q}");
                            tx.quarantine(&q)?;
                            report.quarantined.push(q);
                        }
                    }
                }
                report.posts += tx.insert_discussion_posts(key, &posts)? as u64;
                tx.set_cursor(
                    &cursor_key,
                    &serde_json::to_string(&*cursor).unwrap_or_default(),
                )?;
                Ok(())
            })
        };
    if !first.is_empty() {
        store_batch(store, &first, &mut cursor)?;
    }
    for chunk in missing.chunks(forum::CHUNK) {
        let posts = client.posts(t, chunk).await?;
        let batch: Vec<&serde_json::Value> = posts
            .iter()
            .filter(|p| p["id"].as_u64().is_none_or(|id| !known.contains(&id)))
            .collect();
        store_batch(store, &batch, &mut cursor)?;
    }
    Ok(())
}

/// Stores parsed mail messages: a message linking to a known proposal becomes an alias of it,
/// any other is a mail proposal (aliased by its links, so the hub's record replaces it later);
/// a message that does not parse is quarantined. Shared by `ingest_mail` and `sync_imap`.
pub(crate) fn store_mail(
    tx: &mut Tx<'_>,
    r: &mut IngestReport,
    source: &str,
    mailbox: &str,
    raw: &[crate::sources::mail::RawMessage],
    limits: &Limits,
) -> Result<()> {
    for m in raw {
        let item = match crate::sources::mail::parse_message(m, mailbox, limits) {
            Ok(item) => item,
            Err(e) => {
                quarantine(tx, r, source, m.label.clone(), e)?;
                continue;
            }
        };
        let mail_key = item.proposal.key();
        let mut known = None;
        for link in &item.links {
            if let Some(key) = tx.resolve_link(link)? {
                known = Some(key);
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
    Ok(())
}

/// Syncs one `[[imap]]` folder with the password from its `password_env` variable.
pub async fn sync_imap(
    store: &mut Store,
    net: &crate::Network,
    cfg: &crate::ImapConfig,
    limits: &Limits,
) -> Result<IngestReport> {
    let password =
        crate::sources::imap::ImapPassword::from_env(cfg).ok_or_else(|| Error::Imap {
            account: cfg.account(),
            message: format!("no password: set ${}", cfg.password_env),
        })?;
    sync_imap_with(store, net, cfg, &password, limits).await
}

/// Syncs one `[[imap]]` folder: the messages above the stored UID cursor (all of them when the
/// folder's UIDVALIDITY changed), stored as `ingest_mail` stores them, [`BATCH`] messages and
/// the cursor that covers them per transaction.
///
/// [`BATCH`]: crate::sources::imap::BATCH
pub async fn sync_imap_with(
    store: &mut Store,
    net: &crate::Network,
    cfg: &crate::ImapConfig,
    password: &crate::sources::imap::ImapPassword,
    limits: &Limits,
) -> Result<IngestReport> {
    sync_imap_gated(store, net, cfg, password, limits, None).await
}

/// [`sync_imap_with`] behind the attention-bond gate (`[bonds]`): each batch is screened before
/// it is stored, held mail is kept with its reason, and the UID cursor moves past both (held
/// mail that may still become deliverable is checked again from the store by the next sync).
pub async fn sync_imap_gated(
    store: &mut Store,
    net: &crate::Network,
    cfg: &crate::ImapConfig,
    password: &crate::sources::imap::ImapPassword,
    limits: &Limits,
    gate: Option<&crate::bondgate::BondGate>,
) -> Result<IngestReport> {
    use crate::sources::imap::{BATCH, ImapCursor, ImapFolder, cursor_key};
    let key = cursor_key(cfg);
    let saved: Option<ImapCursor> = match store.cursor(&key)? {
        None => None,
        Some(text) => Some(serde_json::from_str(&text).map_err(|e| Error::Corrupt {
            path: store.path().into(),
            reason: format!("sync cursor {key} is {text:?}: {e}"),
        })?),
    };
    let mut folder = ImapFolder::open(net, cfg, password).await?;
    let mut cursor = ImapCursor {
        uidvalidity: folder.uidvalidity,
        last_uid: 0,
    };
    match saved {
        Some(c) if c.uidvalidity == folder.uidvalidity => cursor.last_uid = c.last_uid,
        Some(c) => tracing::info!(
            "imap {}: UIDVALIDITY changed from {} to {}: reading the whole folder again",
            cfg.account(),
            c.uidvalidity,
            folder.uidvalidity
        ),
        None => {}
    }
    let uids = folder.uids_after(cursor.last_uid).await?;
    let mailbox = key.clone();
    let source = format!("mail {key}");
    let mut report = IngestReport::default();
    if saved != Some(cursor) && uids.is_empty() {
        store.transaction(|tx| {
            tx.set_cursor(&key, &serde_json::to_string(&cursor).unwrap_or_default())
        })?;
    }
    for chunk in uids.chunks(BATCH) {
        let raw = folder.fetch(chunk).await?;
        cursor.last_uid = chunk.last().copied().unwrap_or(cursor.last_uid);
        let screened = match gate {
            Some(g) => Some(g.screen(&mailbox, &raw).await),
            None => None,
        };
        let r = store.transaction(|tx| {
            let mut r = IngestReport::default();
            match &screened {
                Some(s) => tx.store_screened(&mut r, &source, &mailbox, s, limits)?,
                None => store_mail(tx, &mut r, &source, &mailbox, &raw, limits)?,
            }
            tx.set_cursor(&key, &serde_json::to_string(&cursor).unwrap_or_default())?;
            Ok(r)
        })?;
        report.merge(r);
    }
    folder.logout().await;
    Ok(report)
}
