//! The audit log in the store, and its anchor file.
//!
//! Entries live in the encrypted store, chained by `steward_core`. After each commit the head
//! (seq and hash) is written to `audit.head` beside the store, so deleting the newest entries —
//! which a chain alone cannot reveal — is caught too. A crash between commit and anchor leaves
//! the store ahead of the anchor, which is fine; the store behind the anchor is not.
//!
//! Entries from `keyed_from` on (meta key `audit_keyed_from`, set when a store is first opened by
//! a steward that keys the chain) carry HMAC hashes under the store's [`AuditKey`], and the
//! anchor carries a MAC of the head, so neither can be rewritten without the store key.
//! docs/audit.md says what this does and does not detect.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use steward_core::{AuditEntry, AuditKey, ChainBreak, verify_keyed_chain};

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
    #[error(
        "audit anchor {path} is not signed by this store's key ({reason}): it was written by someone else or copied from another store"
    )]
    AnchorForged { path: String, reason: String },
    #[error(
        "audit log rolled back: the head you expected, entry #{expected} {hash}, is not in the log (it ends at #{last})"
    )]
    RolledBack {
        expected: u64,
        hash: String,
        last: u64,
    },
    #[error("store {path} is damaged: cipher_integrity_check reported {}", problems.join("; "))]
    Damaged { path: String, problems: Vec<String> },
    #[error(
        "audit marker `audit_keyed_from` is {keyed_from}, after the log's end (#{last}): the store's meta table was edited"
    )]
    BadMarker { keyed_from: u64, last: u64 },
}

impl AuditVerifyError {
    /// The first bad entry, where one can be named.
    pub fn first_bad(&self) -> Option<u64> {
        match self {
            Self::Chain(b) => Some(b.seq),
            Self::Truncated { last, .. } => Some(last + 1),
            Self::AnchorMismatch { seq } => Some(*seq),
            Self::Unreadable { seq, .. } => u64::try_from(*seq).ok(),
            Self::RolledBack { last, .. } => Some(last + 1),
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

    /// Checks every page of the store (`PRAGMA cipher_integrity_check`: each page's HMAC and
    /// that it decrypts); returns the problems found, empty when the file is intact.
    pub fn integrity_problems(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn()
            .prepare("PRAGMA cipher_integrity_check")
            .map_err(sql(self.path(), "checking the store's integrity"))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(sql(self.path(), "checking the store's integrity"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql(self.path(), "checking the store's integrity"))
    }

    /// Checks the store's pages, the whole chain and the anchor. The outer error is a store
    /// failure; the inner one is what `steward log verify` reports.
    pub fn verify_audit(&self) -> Result<Result<AuditReport, AuditVerifyError>> {
        self.verify_audit_expecting(None)
    }

    /// [`Store::verify_audit`], and also requires `expected` (a head the user kept elsewhere,
    /// from an earlier `steward log verify`) to be in the log: the one way to catch the store and
    /// its anchor both replaced by an older copy.
    pub fn verify_audit_expecting(
        &self,
        expected: Option<&AuditHead>,
    ) -> Result<Result<AuditReport, AuditVerifyError>> {
        let problems = self.integrity_problems()?;
        if !problems.is_empty() {
            return Ok(Err(AuditVerifyError::Damaged {
                path: self.path().display().to_string(),
                problems,
            }));
        }
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
        let keyed_from = self.keyed_from();
        let last = entries.last().map_or(0, |e| e.seq);
        if keyed_from > last + 1 {
            return Ok(Err(AuditVerifyError::BadMarker { keyed_from, last }));
        }
        let head = match verify_keyed_chain(entries, self.audit_key(), keyed_from) {
            Ok(h) => h.map(|(seq, hash)| AuditHead { seq, hash }),
            Err(b) => return Ok(Err(AuditVerifyError::Chain(b))),
        };
        let anchor_path = self.anchor_path().display().to_string();
        let anchored = match read_anchor(self.anchor_path()) {
            Ok(None) => None,
            Ok(Some((a, mac))) => {
                let forged = |reason: &str| AuditVerifyError::AnchorForged {
                    path: anchor_path.clone(),
                    reason: reason.into(),
                };
                match mac {
                    // Written before this store's chain was keyed: only then is no MAC right.
                    None if a.seq < keyed_from => {}
                    None => return Ok(Err(forged("it has no MAC"))),
                    Some((from, _)) if from != keyed_from => {
                        return Ok(Err(forged("its keyed_from differs from the store's")));
                    }
                    Some((from, mac)) => {
                        if !self.audit_key().check_head_mac(a.seq, &a.hash, from, &mac) {
                            return Ok(Err(forged("its MAC does not match")));
                        }
                    }
                }
                Some(a)
            }
            Err(e) => return Ok(Err(e)),
        };
        if let Some(x) = expected
            && by_seq.get(&x.seq) != Some(&x.hash)
        {
            return Ok(Err(AuditVerifyError::RolledBack {
                expected: x.seq,
                hash: x.hash.clone(),
                last,
            }));
        }
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

/// Writes `<seq> <hash> <keyed_from> <mac>`: the head and its MAC under the audit key.
pub(crate) fn write_anchor(
    path: &Path,
    head: &AuditEntry,
    key: &AuditKey,
    keyed_from: u64,
) -> Result<()> {
    let mac = key.head_mac(head.seq, &head.hash, keyed_from);
    let line = format!("{} {} {keyed_from} {mac}\n", head.seq, head.hash);
    write_atomic(path, line.as_bytes()).map_err(|source| Error::Io {
        path: path.into(),
        context: "writing the audit anchor",
        source,
    })
}

/// The MAC part of an anchor: (keyed_from, mac); None for a v1 anchor (`<seq> <hash>`).
type AnchorMac = Option<(u64, String)>;

fn read_anchor(path: &Path) -> Result<Option<(AuditHead, AnchorMac)>, AuditVerifyError> {
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
        reason: format!(
            "expected `<seq> <hash> <keyed_from> <mac>`, found {:?}",
            text.trim()
        ),
    };
    let is_hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let fields: Vec<&str> = text.split_whitespace().collect();
    let (seq, hash, mac) = match fields[..] {
        [seq, hash] => (seq, hash, None),
        [seq, hash, from, mac] if is_hex64(mac) => (
            seq,
            hash,
            Some((from.parse().map_err(|_| bad())?, mac.to_owned())),
        ),
        _ => return Err(bad()),
    };
    let seq = seq.parse().map_err(|_| bad())?;
    if !is_hex64(hash) {
        return Err(bad());
    }
    Ok(Some((
        AuditHead {
            seq,
            hash: hash.to_owned(),
        },
        mac,
    )))
}
