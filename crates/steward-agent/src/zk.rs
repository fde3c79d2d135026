//! The store's side of anonymous signals (docs/privacy.md): the Semaphore identity's secret,
//! named groups and their members, and the nullifiers already used. The cryptography lives in
//! `steward-zk`, which only the binary links, so this module holds bytes and hex strings and
//! never depends on the proving stack. The secret sits in the SQLCipher store like every other
//! secret there (the whole file is encrypted), and leaves it only through [`ZkSecret`], whose
//! `Debug` is redacted.

use std::fmt;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::store::{Store, sql};

/// Migration: identity, groups, members, nullifiers.
pub(crate) const MIGRATION: &str = r#"
-- Anonymous signals (zk.rs, docs/privacy.md). One identity per home.
CREATE TABLE zk_identity (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    secret     BLOB NOT NULL,          -- 32 bytes the identity is derived from
    commitment TEXT NOT NULL,          -- 0x hex, public
    created    TEXT NOT NULL
) STRICT;
CREATE TABLE zk_groups (
    name    TEXT PRIMARY KEY,
    depth   INTEGER NOT NULL CHECK (depth IN (16, 20, 30)),
    created TEXT NOT NULL
) STRICT;
CREATE TABLE zk_members (
    group_name TEXT NOT NULL REFERENCES zk_groups (name),
    position   INTEGER NOT NULL,       -- the leaf index: order is part of the root
    commitment TEXT NOT NULL,
    PRIMARY KEY (group_name, position),
    UNIQUE (group_name, commitment)
) STRICT;
-- 'proved': scopes this home's identity signalled in; 'verified': signals accepted from anyone.
CREATE TABLE zk_nullifiers (
    side      TEXT NOT NULL CHECK (side IN ('proved', 'verified')),
    nullifier TEXT NOT NULL,
    scope     TEXT NOT NULL,
    root      TEXT NOT NULL,
    message   TEXT NOT NULL,
    at        TEXT NOT NULL,
    PRIMARY KEY (side, nullifier)
) STRICT;
"#;

/// The identity secret as stored. Zeroized on drop; never printed.
pub struct ZkSecret(pub Zeroizing<Vec<u8>>);

impl fmt::Debug for ZkSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ZkSecret(<redacted>)")
    }
}

/// A named group as stored: depth and commitments in leaf order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZkGroup {
    pub name: String,
    pub depth: usize,
    pub members: Vec<String>,
}

/// Which side a nullifier was used on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullifierSide {
    /// This home's identity signalled in the scope.
    Proved,
    /// A signal from someone was accepted.
    Verified,
}

impl NullifierSide {
    fn as_str(self) -> &'static str {
        match self {
            Self::Proved => "proved",
            Self::Verified => "verified",
        }
    }
}

/// A nullifier already recorded, with the signal it came with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsedNullifier {
    pub nullifier: String,
    pub scope: String,
    pub root: String,
    pub message: String,
    pub at: String,
}

fn zk_error(message: String) -> Error {
    Error::Zk(message)
}

impl Store {
    /// The identity's secret and commitment, if one was made.
    pub fn zk_identity(&self) -> Result<Option<(ZkSecret, String)>> {
        self.conn()
            .query_row(
                "SELECT secret, commitment FROM zk_identity WHERE id = 1",
                [],
                |r| Ok((ZkSecret(Zeroizing::new(r.get(0)?)), r.get(1)?)),
            )
            .optional()
            .map_err(sql(self.path(), "reading the zk identity"))
    }

    /// Keeps a new identity; refused when one exists (its nullifiers would change, so a second
    /// identity could signal again in every scope the first one used).
    pub fn zk_set_identity(&mut self, secret: &[u8], commitment: &str) -> Result<()> {
        if let Some((_, existing)) = self.zk_identity()? {
            return Err(zk_error(format!(
                "this home already has a zk identity (commitment {existing}); it is kept"
            )));
        }
        self.conn()
            .execute(
                "INSERT INTO zk_identity (id, secret, commitment, created) VALUES (1, ?1, ?2, ?3)",
                params![secret, commitment, jiff::Timestamp::now().to_string()],
            )
            .map_err(sql(self.path(), "storing the zk identity"))?;
        Ok(())
    }

    /// The group `name`, or `None`.
    pub fn zk_group(&self, name: &str) -> Result<Option<ZkGroup>> {
        let depth: Option<i64> = self
            .conn()
            .query_row("SELECT depth FROM zk_groups WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql(self.path(), "reading a zk group"))?;
        let Some(depth) = depth else {
            return Ok(None);
        };
        let mut st = self
            .conn()
            .prepare("SELECT commitment FROM zk_members WHERE group_name = ?1 ORDER BY position")
            .map_err(sql(self.path(), "reading zk group members"))?;
        let members = st
            .query_map([name], |r| r.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(sql(self.path(), "reading zk group members"))?;
        Ok(Some(ZkGroup {
            name: name.into(),
            depth: depth as usize,
            members,
        }))
    }

    /// Stores `group` whole (members appended to an existing group keep their positions), in
    /// one transaction. The caller has already built its tree, so size and duplicates are
    /// checked before anything is written.
    pub fn zk_put_group(&mut self, group: &ZkGroup) -> Result<()> {
        let old = self.zk_group(&group.name)?;
        if let Some(old) = &old {
            if old.depth != group.depth {
                return Err(zk_error(format!(
                    "group {} has depth {}, not {}",
                    group.name, old.depth, group.depth
                )));
            }
            if !group.members.starts_with(&old.members) {
                return Err(zk_error(format!(
                    "group {}: members can only be appended (leaf order is part of the root)",
                    group.name
                )));
            }
        }
        let keep = old.as_ref().map_or(0, |o| o.members.len());
        self.transaction(|tx| {
            let path = tx.path().to_path_buf();
            if old.is_none() {
                tx.sql()
                    .execute(
                        "INSERT INTO zk_groups (name, depth, created) VALUES (?1, ?2, ?3)",
                        params![
                            group.name,
                            group.depth as i64,
                            jiff::Timestamp::now().to_string()
                        ],
                    )
                    .map_err(sql(&path, "storing a zk group"))?;
            }
            for (i, m) in group.members.iter().enumerate().skip(keep) {
                tx.sql()
                    .execute(
                        "INSERT INTO zk_members (group_name, position, commitment) VALUES (?1, ?2, ?3)",
                        params![group.name, i as i64, m],
                    )
                    .map_err(sql(&path, "storing a zk group member"))?;
            }
            Ok(())
        })
    }

    /// The signal recorded under `nullifier` on `side`, if any.
    pub fn zk_nullifier(
        &self,
        side: NullifierSide,
        nullifier: &str,
    ) -> Result<Option<UsedNullifier>> {
        self.conn()
            .query_row(
                "SELECT nullifier, scope, root, message, at FROM zk_nullifiers
                 WHERE side = ?1 AND nullifier = ?2",
                params![side.as_str(), nullifier.to_ascii_lowercase()],
                |r| {
                    Ok(UsedNullifier {
                        nullifier: r.get(0)?,
                        scope: r.get(1)?,
                        root: r.get(2)?,
                        message: r.get(3)?,
                        at: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(sql(self.path(), "reading zk nullifiers"))
    }

    /// Records a used nullifier (the latest signal wins on the prover's side with `--again`).
    pub fn zk_record_nullifier(
        &mut self,
        side: NullifierSide,
        nullifier: &str,
        scope: &str,
        root: &str,
        message: &str,
    ) -> Result<()> {
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO zk_nullifiers (side, nullifier, scope, root, message, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    side.as_str(),
                    nullifier.to_ascii_lowercase(),
                    scope,
                    root.to_ascii_lowercase(),
                    message,
                    jiff::Timestamp::now().to_string()
                ],
            )
            .map_err(sql(self.path(), "recording a zk nullifier"))?;
        Ok(())
    }
}

/// A named group as the desk lists it: how many members a signal in it hides among.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZkGroupSize {
    pub name: String,
    pub depth: usize,
    pub members: usize,
}

/// A recorded signal and the side it was recorded on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkSignalRow {
    pub side: NullifierSide,
    pub signal: UsedNullifier,
}

impl Store {
    /// Every named group with its size, by name.
    pub fn zk_groups(&self) -> Result<Vec<ZkGroupSize>> {
        let mut st = self
            .conn()
            .prepare(
                "SELECT g.name, g.depth, COUNT(m.commitment) FROM zk_groups g
                 LEFT JOIN zk_members m ON m.group_name = g.name
                 GROUP BY g.name ORDER BY g.name",
            )
            .map_err(sql(self.path(), "listing zk groups"))?;
        st.query_map([], |r| {
            Ok(ZkGroupSize {
                name: r.get(0)?,
                depth: r.get::<_, i64>(1)? as usize,
                members: r.get::<_, i64>(2)? as usize,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(sql(self.path(), "listing zk groups"))
    }

    /// The latest `limit` signals recorded on either side, newest first.
    pub fn zk_signals(&self, limit: usize) -> Result<Vec<ZkSignalRow>> {
        let mut st = self
            .conn()
            .prepare(
                "SELECT side, nullifier, scope, root, message, at FROM zk_nullifiers
                 ORDER BY at DESC, rowid DESC LIMIT ?1",
            )
            .map_err(sql(self.path(), "listing zk signals"))?;
        st.query_map([limit as i64], |r| {
            let side: String = r.get(0)?;
            Ok(ZkSignalRow {
                side: if side == "proved" {
                    NullifierSide::Proved
                } else {
                    NullifierSide::Verified
                },
                signal: UsedNullifier {
                    nullifier: r.get(1)?,
                    scope: r.get(2)?,
                    root: r.get(3)?,
                    message: r.get(4)?,
                    at: r.get(5)?,
                },
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(sql(self.path(), "listing zk signals"))
    }
}
