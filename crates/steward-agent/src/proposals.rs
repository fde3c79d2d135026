//! Proposals, votes, sync cursors and quarantined items in the store.
//!
//! Every write goes through a [`Tx`], so an ingest, its audit entry and the sync cursor that
//! covers it commit together: a sync killed at any point resumes with no duplicates and no gaps.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use steward_core::{AuditRecord, Proposal, Source, Vote};

use crate::error::{Error, Result};
use crate::store::{Store, Tx, sql};

/// What storing a proposal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ingested {
    /// Not seen before.
    New,
    /// Seen before; its content or state changed.
    Updated,
    /// Seen before, identical: a duplicate.
    Unchanged,
}

/// An item a source could not accept, with enough to find it: the source, the item (its id, or
/// its position when it has no usable id) and the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{origin}: item {item}: field `{field}`: {error}")]
pub struct Quarantined {
    /// Where the item came from (`snapshot lido-snapshot.eth`, `file path.json`).
    #[serde(rename = "source")]
    pub origin: String,
    pub item: String,
    pub field: String,
    pub error: String,
}

/// A stored proposal with its bookkeeping.
#[derive(Debug, Clone, Serialize)]
pub struct StoredProposal {
    pub key: String,
    pub content_hash: String,
    pub first_seen: String,
    pub updated: String,
    pub proposal: Proposal,
}

/// Filters for [`Store::proposals`].
#[derive(Debug, Clone, Default)]
pub struct ProposalFilter {
    pub open_only: bool,
    pub space: Option<String>,
    pub limit: Option<u64>,
}

fn source_parts(p: &Proposal) -> (&'static str, String) {
    match &p.source {
        Source::Snapshot { space } => ("snapshot", space.clone()),
        Source::Governor { chain_id, governor } => {
            ("governor", format!("{chain_id}:{governor:#x}"))
        }
        Source::Mail { mailbox } => ("mail", mailbox.clone()),
        Source::File { path } => ("file", path.clone()),
    }
}

impl Tx<'_> {
    /// Stores `p` (insert or update) and audits what changed. Identical re-ingests change nothing
    /// and are not audited.
    pub fn upsert_proposal(&mut self, p: &Proposal) -> Result<Ingested> {
        let key = p.key();
        let hash = p.content_hash();
        let json = serde_json::to_string(p).unwrap_or_default();
        let existing: Option<(String, String)> = self
            .sql()
            .query_row(
                "SELECT content_hash, state FROM proposals WHERE key = ?1",
                [&key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql(self.path(), "reading a proposal"))?;
        let now = jiff::Timestamp::now().to_string();
        let (kind, space) = source_parts(p);
        let outcome = match &existing {
            None => {
                self.sql()
                    .execute(
                        "INSERT INTO proposals (key, source, space, id, title, state, start_ts, end_ts,
                         created_ts, content_hash, json, first_seen, updated)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
                        params![
                            key, kind, space, p.id, p.title, p.state.as_str(), p.start, p.end,
                            p.created, hash, json, now
                        ],
                    )
                    .map_err(sql(self.path(), "storing a proposal"))?;
                self.merge_mail_placeholder(&key, &key)?;
                if matches!(p.source, Source::Governor { .. }) {
                    // Mail links to Tally name the proposal by its on-chain id only.
                    self.merge_mail_placeholder(&format!("tally:{}", p.id), &key)?;
                }
                Ingested::New
            }
            Some((h, s)) if *h == hash && s == p.state.as_str() => return Ok(Ingested::Unchanged),
            Some(_) => {
                self.sql()
                    .execute(
                        "UPDATE proposals SET title = ?2, state = ?3, start_ts = ?4, end_ts = ?5,
                         created_ts = ?6, content_hash = ?7, json = ?8, updated = ?9 WHERE key = ?1",
                        params![key, p.title, p.state.as_str(), p.start, p.end, p.created, hash, json, now],
                    )
                    .map_err(sql(self.path(), "updating a proposal"))?;
                Ingested::Updated
            }
        };
        let content_changed = existing.as_ref().is_none_or(|(h, _)| *h != hash);
        self.audit(
            &AuditRecord::new("ingest", &key)
                .input("proposal", &json)
                .detail(serde_json::json!({
                    "outcome": outcome,
                    "content_hash": hash,
                    "content_changed": content_changed,
                    "state": p.state.as_str(),
                })),
        )?;
        Ok(outcome)
    }

    /// A message that linked to `key` before `key` was known was stored as a mail proposal with
    /// an alias `key -> mail:<id>`. Now that the real record exists, the mail record becomes an
    /// alias of it: one proposal, however many ways it was seen.
    fn merge_mail_placeholder(&mut self, link: &str, key: &str) -> Result<()> {
        let placeholder: Option<String> = self
            .sql()
            .query_row(
                "SELECT key FROM proposal_aliases WHERE alias = ?1 AND key LIKE 'mail:%'",
                [link],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql(self.path(), "finding a mail placeholder"))?;
        let Some(mail_key) = placeholder else {
            return Ok(());
        };
        let tx = self.sql();
        let path = self.path().to_path_buf();
        tx.execute("DELETE FROM proposal_aliases WHERE alias = ?1", [link])
            .and_then(|_| {
                tx.execute(
                    "UPDATE proposal_aliases SET key = ?1 WHERE key = ?2",
                    [key, &mail_key],
                )
            })
            .and_then(|_| tx.execute("DELETE FROM votes WHERE proposal_key = ?1", [&mail_key]))
            .and_then(|_| tx.execute("DELETE FROM proposals WHERE key = ?1", [&mail_key]))
            .and_then(|_| {
                tx.execute(
                    "INSERT OR REPLACE INTO proposal_aliases (alias, key) VALUES (?1, ?2)",
                    [&mail_key, key],
                )
            })
            .map_err(sql(&path, "merging a mail placeholder"))?;
        self.audit(
            &AuditRecord::new("merge", key).detail(serde_json::json!({ "alias": mail_key })),
        )?;
        Ok(())
    }

    /// Stores votes on a proposal; returns how many were new.
    pub fn insert_votes(&mut self, proposal_key: &str, votes: &[Vote]) -> Result<usize> {
        let mut stmt = self
            .sql()
            .prepare_cached(
                "INSERT OR IGNORE INTO votes (proposal_key, id, voter, created_ts, json)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(sql(self.path(), "storing votes"))?;
        let mut n = 0;
        for v in votes {
            let json = serde_json::to_string(v).unwrap_or_default();
            n += stmt
                .execute(params![proposal_key, v.id, v.voter, v.created, json])
                .map_err(sql(self.path(), "storing votes"))?;
        }
        Ok(n)
    }

    /// The stored proposal a mail link names: a key (`snapshot:<space>:<id>`), or `tally:<id>`,
    /// an on-chain proposal id on whichever Governor has it.
    pub fn resolve_link(&self, link: &str) -> Result<Option<String>> {
        let (sql_text, arg) = match link.strip_prefix("tally:") {
            Some(id) => (
                "SELECT key FROM proposals WHERE source = 'governor' AND id = ?1 LIMIT 1",
                id,
            ),
            None => ("SELECT key FROM proposals WHERE key = ?1", link),
        };
        self.sql()
            .query_row(sql_text, [arg], |r| r.get(0))
            .optional()
            .map_err(sql(self.path(), "resolving a link"))
    }

    pub fn has_proposal(&self, key: &str) -> Result<bool> {
        self.sql()
            .query_row("SELECT 1 FROM proposals WHERE key = ?1", [key], |_| Ok(()))
            .optional()
            .map(|o| o.is_some())
            .map_err(sql(self.path(), "finding a proposal"))
    }

    /// Records another name for a stored proposal (a link seen in mail, a forum URL).
    pub fn add_alias(&mut self, alias: &str, key: &str) -> Result<()> {
        self.sql()
            .execute(
                "INSERT OR IGNORE INTO proposal_aliases (alias, key) VALUES (?1, ?2)",
                [alias, key],
            )
            .map(|_| ())
            .map_err(sql(self.path(), "storing an alias"))
    }

    pub fn set_cursor(&mut self, source: &str, cursor: &str) -> Result<()> {
        self.sql()
            .execute(
                "INSERT INTO sync_cursors (source, cursor, updated) VALUES (?1, ?2, ?3)
                 ON CONFLICT(source) DO UPDATE SET cursor = excluded.cursor, updated = excluded.updated",
                params![source, cursor, jiff::Timestamp::now().to_string()],
            )
            .map(|_| ())
            .map_err(sql(self.path(), "advancing a sync cursor"))
    }

    pub fn quarantine(&mut self, q: &Quarantined) -> Result<()> {
        self.sql()
            .execute(
                "INSERT INTO quarantine (source, item, field, error, seen) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![q.origin, q.item, q.field, q.error, jiff::Timestamp::now().to_string()],
            )
            .map(|_| ())
            .map_err(sql(self.path(), "recording a quarantined item"))
    }
}

impl Store {
    pub fn cursor(&self, source: &str) -> Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT cursor FROM sync_cursors WHERE source = ?1",
                [source],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql(self.path(), "reading a sync cursor"))
    }

    /// A proposal by key, by alias, or by its bare source id when that is unambiguous.
    pub fn proposal(&self, id: &str) -> Result<Option<StoredProposal>> {
        let key: Option<String> = self
            .conn()
            .query_row(
                "SELECT key FROM proposals WHERE key = ?1
                 UNION ALL SELECT key FROM proposal_aliases WHERE alias = ?1
                 UNION ALL SELECT key FROM proposals WHERE id = ?1
                 LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql(self.path(), "finding a proposal"))?;
        let Some(key) = key else { return Ok(None) };
        self.conn()
            .query_row(
                "SELECT key, content_hash, first_seen, updated, json FROM proposals WHERE key = ?1",
                [&key],
                stored_row,
            )
            .optional()
            .map_err(sql(self.path(), "reading a proposal"))?
            .map(|row| self.decode(row))
            .transpose()
    }

    fn decode(
        &self,
        (key, content_hash, first_seen, updated, json): StoredRow,
    ) -> Result<StoredProposal> {
        let proposal = serde_json::from_str(&json).map_err(|e| Error::Corrupt {
            path: self.path().into(),
            reason: format!("proposal {key} does not parse: {e}"),
        })?;
        Ok(StoredProposal {
            key,
            content_hash,
            first_seen,
            updated,
            proposal,
        })
    }

    /// Stored proposals, newest first.
    pub fn proposals(&self, f: &ProposalFilter) -> Result<Vec<StoredProposal>> {
        let limit = f.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT key, content_hash, first_seen, updated, json FROM proposals
                 WHERE (?1 = 0 OR state IN ('pending', 'active'))
                   AND (?2 IS NULL OR space = ?2)
                 ORDER BY created_ts DESC, key LIMIT ?3",
            )
            .map_err(sql(self.path(), "listing proposals"))?;
        let rows = stmt
            .query_map(params![i64::from(f.open_only), f.space, limit], stored_row)
            .map_err(sql(self.path(), "listing proposals"))?;
        rows.map(|row| self.decode(row.map_err(sql(self.path(), "listing proposals"))?))
            .collect()
    }

    /// Votes stored for a proposal.
    pub fn votes(&self, proposal_key: &str) -> Result<Vec<Vote>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT json FROM votes WHERE proposal_key = ?1 ORDER BY created_ts, id")
            .map_err(sql(self.path(), "reading votes"))?;
        let rows = stmt
            .query_map([proposal_key], |r| r.get::<_, String>(0))
            .map_err(sql(self.path(), "reading votes"))?;
        let mut out = Vec::new();
        for row in rows {
            let json = row.map_err(sql(self.path(), "reading votes"))?;
            out.push(serde_json::from_str(&json).map_err(|e| Error::Corrupt {
                path: self.path().into(),
                reason: format!("a vote on {proposal_key} does not parse: {e}"),
            })?);
        }
        Ok(out)
    }

    /// Counts of stored rows, for reports and tests.
    pub fn counts(&self) -> Result<StoreCounts> {
        let q = |table: &str| -> Result<u64> {
            self.conn()
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .map(|n| u64::try_from(n).unwrap_or(0))
                .map_err(sql(self.path(), "counting rows"))
        };
        Ok(StoreCounts {
            proposals: q("proposals")?,
            votes: q("votes")?,
            quarantined: q("quarantine")?,
            audit: q("audit")?,
        })
    }
}

/// key, content_hash, first_seen, updated, json
type StoredRow = (String, String, String, String, String);

fn stored_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StoreCounts {
    pub proposals: u64,
    pub votes: u64,
    pub quarantined: u64,
    pub audit: u64,
}
