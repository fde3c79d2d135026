//! The audit log in the store, and its anchor file.
//!
//! Entries live in the encrypted store, chained by `steward_core`. After each commit the head
//! (seq and hash) is written to `audit.head` beside the store, so deleting the newest entries —
//! which a chain alone cannot reveal — is caught too. A crash between commit and anchor leaves
//! the store ahead of the anchor, which is fine; the store behind the anchor is not.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use steward_core::{AuditEntry, ChainBreak, verify_chain};

use crate::error::{Error, Result};
use crate::home::write_atomic;
use crate::store::{Store, sql};

/// The newest entry's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditHead {
    pub seq: u64,
    pub hash: String,
}

/// A log that checked out.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub entries: u64,
    pub head: Option<AuditHead>,
    pub anchored: Option<AuditHead>,
}

/// Why a log did not check out.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuditVerifyError {
    #[error("audit log broken: {0}")]
    Chain(ChainBreak),
    #[error(
        "audit log truncated: entry #{anchored} was recorded in audit.head but the log ends at #{last}; entries #{} onward were deleted", last + 1
    )]
    Truncated { anchored: u64, last: u64 },
    #[error("audit log rewritten: entry #{seq} differs from the hash recorded in audit.head")]
    AnchorMismatch { seq: u64 },
    #[error("audit anchor {path} is missing but the log has {entries} entries")]
    AnchorMissing { path: String, entries: u64 },
    #[error("audit anchor {path} is unreadable: {reason}")]
    AnchorUnreadable { path: String, reason: String },
    #[error("audit log entry #{seq} cannot be read: {reason}")]
    Unreadable { seq: i64, reason: String },
}

impl AuditVerifyError {
    /// The first bad entry, where one can be named.
    pub fn first_bad(&self) -> Option<u64> {
        match self {
            Self::Chain(b) => Some(b.seq),
            Self::Truncated { last, .. } => Some(last + 1),
            Self::AnchorMismatch { seq } => Some(*seq),
            Self::Unreadable { seq, .. } => u64::try_from(*seq).ok(),
            _ => None,
        }
    }
}

impl Store {
    /// All audit entries, oldest first (optionally only the newest `limit`).
    pub fn audit_entries(&self, limit: Option<u64>) -> Result<Vec<AuditEntry>> {
        let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT * FROM (SELECT seq, ts, kind, subject, inputs, detail, prev, hash
                 FROM audit ORDER BY seq DESC LIMIT ?1) ORDER BY seq",
            )
            .map_err(sql(self.path(), "reading the audit log"))?;
        let rows = stmt
            .query_map([limit], row_to_entry)
            .map_err(sql(self.path(), "reading the audit log"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql(self.path(), "reading the audit log"))
    }

    /// Checks the whole chain and the anchor. The outer error is a store failure; the inner one
    /// is what `steward log verify` reports.
    pub fn verify_audit(&self) -> Result<Result<AuditReport, AuditVerifyError>> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT seq, ts, kind, subject, inputs, detail, prev, hash FROM audit ORDER BY seq",
            )
            .map_err(sql(self.path(), "reading the audit log"))?;
        let mut rows = stmt
            .query([])
            .map_err(sql(self.path(), "reading the audit log"))?;
        let mut entries = Vec::new();
        while let Some(row) = rows
            .next()
            .map_err(sql(self.path(), "reading the audit log"))?
        {
            match row_to_entry(row) {
                Ok(e) => entries.push(e),
                Err(e) => {
                    let seq = row.get::<_, i64>(0).unwrap_or(-1);
                    return Ok(Err(AuditVerifyError::Unreadable {
                        seq,
                        reason: e.to_string(),
                    }));
                }
            }
        }
        let count = entries.len() as u64;
        let by_seq: std::collections::HashMap<u64, String> =
            entries.iter().map(|e| (e.seq, e.hash.clone())).collect();
        let head = match verify_chain(entries) {
            Ok(h) => h.map(|(seq, hash)| AuditHead { seq, hash }),
            Err(b) => return Ok(Err(AuditVerifyError::Chain(b))),
        };
        let anchored = match read_anchor(self.anchor_path()) {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        match (&anchored, &head) {
            (None, Some(_)) => {
                return Ok(Err(AuditVerifyError::AnchorMissing {
                    path: self.anchor_path().display().to_string(),
                    entries: count,
                }));
            }
            (Some(a), _) => match by_seq.get(&a.seq) {
                None => {
                    return Ok(Err(AuditVerifyError::Truncated {
                        anchored: a.seq,
                        last: head.as_ref().map_or(0, |h| h.seq),
                    }));
                }
                Some(h) if *h != a.hash => {
                    return Ok(Err(AuditVerifyError::AnchorMismatch { seq: a.seq }));
                }
                Some(_) => {}
            },
            (None, None) => {}
        }
        Ok(Ok(AuditReport {
            entries: count,
            head,
            anchored,
        }))
    }
}

fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
        ts: r.get(1)?,
        kind: r.get(2)?,
        subject: r.get(3)?,
        inputs: r.get(4)?,
        detail: r.get(5)?,
        prev: r.get(6)?,
        hash: r.get(7)?,
    })
}

pub(crate) fn last_entry(conn: &Connection, path: &Path) -> Result<Option<AuditEntry>> {
    conn.query_row(
        "SELECT seq, ts, kind, subject, inputs, detail, prev, hash FROM audit ORDER BY seq DESC LIMIT 1",
        [],
        row_to_entry,
    )
    .optional()
    .map_err(sql(path, "reading the audit head"))
}

pub(crate) fn write_anchor(path: &Path, head: &AuditEntry) -> Result<()> {
    write_atomic(path, format!("{} {}\n", head.seq, head.hash).as_bytes()).map_err(|source| {
        Error::Io {
            path: path.into(),
            context: "writing the audit anchor",
            source,
        }
    })
}

fn read_anchor(path: &Path) -> Result<Option<AuditHead>, AuditVerifyError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(AuditVerifyError::AnchorUnreadable {
                path: path.display().to_string(),
                reason: e.to_string(),
            });
        }
    };
    let bad = || AuditVerifyError::AnchorUnreadable {
        path: path.display().to_string(),
        reason: format!("expected `<seq> <hash>`, found {:?}", text.trim()),
    };
    let (seq, hash) = text.trim().split_once(' ').ok_or_else(bad)?;
    let seq = seq.parse().map_err(|_| bad())?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok(Some(AuditHead {
        seq,
        hash: hash.to_owned(),
    }))
}
