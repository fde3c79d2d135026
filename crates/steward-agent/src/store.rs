//! The encrypted store: one SQLCipher database per home.
//!
//! The key is derived from the passphrase with Argon2id (parameters and salt in the plaintext
//! sidecar `steward.db.key`, with a check value), then handed to SQLCipher as a raw key, so the
//! whole file — tables, indexes, WAL — is AES-256 encrypted. The check value lets a wrong
//! passphrase be told apart from a damaged file without ever opening the database with the wrong
//! key. docs/store.md says why this design was chosen.

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use steward_core::{AuditEntry, AuditKey, AuditRecord};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::home::{Home, write_atomic};

/// `PRAGMA application_id` of a Steward store ("STWD").
const APPLICATION_ID: i32 = 0x5354_5744;

/// Schema migrations, applied in order; `PRAGMA user_version` is the number applied.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE audit (
    seq     INTEGER PRIMARY KEY,
    ts      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    subject TEXT NOT NULL,
    inputs  TEXT NOT NULL,
    detail  TEXT NOT NULL,
    prev    TEXT NOT NULL,
    hash    TEXT NOT NULL UNIQUE
) STRICT;

-- Append-only: the chain catches edits anyway, this stops accidental ones.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#,
    r#"
CREATE TABLE proposals (
    key          TEXT PRIMARY KEY,      -- Proposal::key(): source-native identity
    source       TEXT NOT NULL,         -- snapshot | governor | mail | file
    space        TEXT NOT NULL,         -- Snapshot space, `chain:governor`, mailbox or path
    id           TEXT NOT NULL,
    title        TEXT NOT NULL,
    state        TEXT NOT NULL,
    start_ts     INTEGER,
    end_ts       INTEGER,
    created_ts   INTEGER,
    content_hash TEXT NOT NULL,
    json         TEXT NOT NULL,         -- the whole normalized Proposal
    first_seen   TEXT NOT NULL,
    updated      TEXT NOT NULL
) STRICT;
CREATE INDEX proposals_space ON proposals (space, created_ts);
CREATE INDEX proposals_state ON proposals (state, end_ts);

-- Other names for a proposal (links in mail, forum URLs) so the same proposal seen twice is
-- one record.
CREATE TABLE proposal_aliases (
    alias TEXT PRIMARY KEY,
    key   TEXT NOT NULL REFERENCES proposals (key)
) STRICT;

CREATE TABLE votes (
    proposal_key TEXT NOT NULL REFERENCES proposals (key),
    id           TEXT NOT NULL,
    voter        TEXT NOT NULL,
    created_ts   INTEGER,
    json         TEXT NOT NULL,
    PRIMARY KEY (proposal_key, id)
) STRICT;

-- Where each incremental sync resumes; advanced in the same transaction as the items.
CREATE TABLE sync_cursors (
    source  TEXT PRIMARY KEY,
    cursor  TEXT NOT NULL,
    updated TEXT NOT NULL
) STRICT;

CREATE TABLE quarantine (
    seq    INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    item   TEXT NOT NULL,
    field  TEXT NOT NULL,
    error  TEXT NOT NULL,
    seen   TEXT NOT NULL
) STRICT;
"#,
    r#"
-- Forum posts of a proposal's discussion thread (crates/steward-agent/src/discussion.rs). No
-- foreign key on proposal_key: a mail placeholder proposal is deleted when the real one
-- arrives, and its discussion must not block that.
CREATE TABLE discussion_posts (
    proposal_key TEXT NOT NULL,
    host         TEXT NOT NULL,        -- the forum's host
    topic_id     INTEGER NOT NULL,
    post_id      INTEGER NOT NULL,
    post_number  INTEGER NOT NULL,
    author       TEXT NOT NULL,        -- username
    created_ts   INTEGER NOT NULL,
    reply_to     INTEGER,              -- post number replied to
    text         TEXT NOT NULL,
    stored       TEXT NOT NULL,
    PRIMARY KEY (proposal_key, host, topic_id, post_id)
) STRICT;
CREATE INDEX discussion_posts_order ON discussion_posts (proposal_key, host, topic_id, post_number);
"#,
    r#"
-- The user's profile, decisions and questions (profile.rs, decide.rs, questions.rs).
CREATE TABLE profile_items (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('statement', 'writing', 'answer', 'override')),
    text         TEXT NOT NULL,
    stance       TEXT NOT NULL,        -- for | against | abstain | unknown (stance.rs)
    origin       TEXT NOT NULL,        -- `cli`, a file path and chunk, a question id
    proposal_key TEXT,                 -- answers and overrides: the proposal they answer
    created      TEXT NOT NULL,
    active       INTEGER NOT NULL DEFAULT 1
) STRICT;
-- Votes: the user's own (is_user = 1) and peers' (is_user = 0), imported or learned.
CREATE TABLE profile_votes (
    voter        TEXT NOT NULL,        -- lowercase address, or `me`
    is_user      INTEGER NOT NULL,
    proposal_ref TEXT NOT NULL,        -- the source's proposal id or a store key
    title        TEXT NOT NULL,
    choice       TEXT NOT NULL,        -- the choice label
    reason       TEXT,
    ord          INTEGER,              -- time order (order_rank, created)
    origin       TEXT NOT NULL,
    PRIMARY KEY (voter, proposal_ref)
) STRICT;
CREATE INDEX profile_votes_user ON profile_votes (is_user, proposal_ref);
CREATE TABLE profile_peers (
    address TEXT PRIMARY KEY,          -- lowercase
    trust   TEXT NOT NULL CHECK (trust IN ('trusted', 'ignored')),
    note    TEXT,
    updated TEXT NOT NULL
) STRICT;
-- Embedding cache: the same text embedded by the same model once.
CREATE TABLE embeddings (
    model       TEXT NOT NULL,
    text_sha256 TEXT NOT NULL,
    vector      BLOB NOT NULL,         -- little-endian f32
    PRIMARY KEY (model, text_sha256)
) STRICT;
CREATE TABLE decisions (
    id           INTEGER PRIMARY KEY,
    proposal_key TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    created      TEXT NOT NULL,
    action       TEXT NOT NULL,
    choice       TEXT,
    confidence   REAL NOT NULL,
    importance   REAL NOT NULL,
    json         TEXT NOT NULL         -- the whole Decision
) STRICT;
CREATE INDEX decisions_proposal ON decisions (proposal_key, id);
CREATE TABLE questions (
    id           INTEGER PRIMARY KEY,
    decision_id  INTEGER NOT NULL REFERENCES decisions (id),
    proposal_key TEXT NOT NULL,
    created      TEXT NOT NULL,
    deadline     INTEGER,              -- unix seconds: the proposal's end
    status       TEXT NOT NULL CHECK (status IN ('open', 'answered', 'expired', 'superseded')),
    answer       TEXT,
    reason       TEXT,
    answered     TEXT,
    json         TEXT NOT NULL         -- the question's context (questions.rs)
) STRICT;
CREATE UNIQUE INDEX questions_one_open ON questions (proposal_key) WHERE status = 'open';
"#,
    r#"
-- Code hashes of a proposal's targets, pinned by `steward inspect` (crates/steward-agent/src/
-- inspect.rs) and re-checked before the deadline and before execution: a change is the
-- Tornado Cash #20 pattern (destroyed and redeployed with other code at the same address).
CREATE TABLE verify_pins (
    proposal_key TEXT NOT NULL,
    target       TEXT NOT NULL,        -- 0x address, lower-case
    code_hash    TEXT NOT NULL,        -- keccak256 of the runtime code (of nothing for no code)
    pinned_at    TEXT NOT NULL,
    checked_at   TEXT NOT NULL,
    PRIMARY KEY (proposal_key, target)
) STRICT;
"#,
    crate::cast::MIGRATION,
    crate::notify::MIGRATION,
    crate::profile::SHAREABLE_MIGRATION,
    crate::digest::MIGRATION,
    crate::bondgate::MIGRATION,
    // 11: the suggestion-market ledger (replaces <home>/market-ledger.json).
    crate::market::ledger::MIGRATION,
    // 12: the private-information judge's records.
    crate::judge::MIGRATION,
    // 13: anonymous signals (identity, groups, members, nullifiers).
    crate::zk::MIGRATION,
    // 14: auto-replies to bonded mail: their intents.
    crate::bondauto::MIGRATION,
    // 15: several markets per home: trades keep their market's name.
    crate::market::ledger::NAMES_MIGRATION,
];

/// The store passphrase. Zeroized on drop; never printed.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    pub fn new(s: String) -> Result<Self> {
        let p = Zeroizing::new(s);
        if p.is_empty() {
            return Err(Error::EmptyPassphrase);
        }
        Ok(Self(p))
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// The schema version a store has after all migrations.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The plaintext sidecar: how to derive the key, and a value to check it against.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: String,
    version: u32,
    kdf: String,
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
    salt: String,
    check: String,
}

const KEY_FILE_FORMAT: &str = "steward-store-key";

/// Upper bounds on what a key file may ask Argon2 for, so a crafted `steward.db.key` cannot
/// abort the process on allocation or spin for hours. Steward writes 64 MiB, t = 3, p = 1; these
/// allow 32x the memory (2 GiB) and far more passes than any sane setting.
const MAX_M_COST_KIB: u32 = 2 * 1024 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 16;
/// Memory x passes: 4 GiB-passes (21x the default's 192 MiB-passes), a few seconds.
const MAX_ARGON2_WORK_KIB: u64 = 4 * 1024 * 1024;

impl KeyFile {
    fn new(salt: [u8; 16]) -> Self {
        // OWASP's first Argon2id recommendation is 19 MiB / t=2; we spend more since this runs
        // once per command, not once per web request (about 0.3 s here).
        Self {
            format: KEY_FILE_FORMAT.into(),
            version: 1,
            kdf: "argon2id".into(),
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
            salt: hex::encode(salt),
            check: String::new(),
        }
    }

    fn derive(&self, path: &Path, pass: &Passphrase) -> Result<Zeroizing<[u8; 32]>> {
        let bad = |reason: String| Error::KeyFile {
            path: path.into(),
            reason,
        };
        if self.format != KEY_FILE_FORMAT || self.version != 1 || self.kdf != "argon2id" {
            return Err(bad(format!(
                "unsupported format {:?} version {} kdf {:?}",
                self.format, self.version, self.kdf
            )));
        }
        for (field, value, max) in [
            ("m_cost_kib", self.m_cost_kib, MAX_M_COST_KIB),
            ("t_cost", self.t_cost, MAX_T_COST),
            ("p_cost", self.p_cost, MAX_P_COST),
        ] {
            if value > max {
                return Err(bad(format!(
                    "field `{field}`: {value} is above the limit of {max}"
                )));
            }
        }
        if u64::from(self.m_cost_kib) * u64::from(self.t_cost) > MAX_ARGON2_WORK_KIB {
            return Err(bad(format!(
                "field `t_cost`: {} passes over {} KiB is above the limit of {MAX_ARGON2_WORK_KIB} KiB-passes",
                self.t_cost, self.m_cost_kib
            )));
        }
        let salt = hex::decode(&self.salt).map_err(|e| bad(format!("field `salt`: {e}")))?;
        let params = argon2::Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32))
            .map_err(|e| bad(format!("argon2 parameters: {e}")))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(pass.as_bytes(), &salt, key.as_mut())
            .map_err(|e| bad(format!("deriving the key: {e}")))?;
        Ok(key)
    }
}

fn check_value(key: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    h.update(b"steward store key check v1");
    h.update(key);
    hex::encode(h.finalize())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An open store. Holds the connection; the home's lock is held by [`Home`].
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    anchor: PathBuf,
    audit_key: AuditKey,
    /// The first audit entry with a keyed hash (meta `audit_keyed_from`).
    keyed_from: u64,
}

/// Meta key: the seq of the first keyed audit entry; entries below it are v1 (plain SHA-256).
const META_KEYED_FROM: &str = "audit_keyed_from";

impl Store {
    /// Whether a store file exists in `home`.
    pub fn exists(home: &Home) -> bool {
        home.store_path().exists()
    }

    /// Creates a new store. Fails if one exists; a half-made one (killed mid-create) is replaced.
    pub fn create(home: &Home, pass: &Passphrase) -> Result<Self> {
        let path = home.store_path();
        if path.exists() {
            return Err(Error::Io {
                path,
                context: "creating the store",
                source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "already exists"),
            });
        }
        let key_path = home.key_path();
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| Error::KeyFile {
            path: key_path.clone(),
            reason: format!("no randomness for the salt: {e}"),
        })?;
        let mut kf = KeyFile::new(salt);
        let key = kf.derive(&key_path, pass)?;
        kf.check = check_value(&key);
        let json = serde_json::to_vec_pretty(&kf).unwrap_or_default();
        write_atomic(&key_path, &json).map_err(|source| Error::Io {
            path: key_path.clone(),
            context: "writing the store key file",
            source,
        })?;

        // Build the database beside its final name and rename it in, so a kill leaves either
        // no store or a whole one.
        let tmp = path.with_extension("db.creating");
        let _ = std::fs::remove_file(&tmp);
        {
            let conn = Connection::open(&tmp).map_err(sql(&tmp, "creating the store"))?;
            // Owner-only before anything is written; SQLite gives -wal/-shm the same mode.
            crate::home::make_private(&tmp).map_err(|source| Error::Io {
                path: tmp.clone(),
                context: "making the store private",
                source,
            })?;
            apply_key(&conn, &key, &tmp)?;
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(sql(&tmp, "setting application_id"))?;
            migrate(&conn, &tmp)?;
        }
        std::fs::rename(&tmp, &path).map_err(|source| Error::Io {
            path: path.clone(),
            context: "moving the new store into place",
            source,
        })?;
        Self::open(home, pass)
    }

    /// Opens the store in `home` with `pass`.
    pub fn open(home: &Home, pass: &Passphrase) -> Result<Self> {
        let path = home.store_path();
        let header = match read_header(&path) {
            Ok(h) => h,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::StoreMissing {
                    path: home.root().into(),
                });
            }
            Err(source) => {
                return Err(Error::Io {
                    path,
                    context: "reading the store",
                    source,
                });
            }
        };
        if header.starts_with(b"SQLite format 3\0") {
            return Err(Error::Foreign {
                path,
                reason: "it is an unencrypted SQLite database".into(),
            });
        }
        if header.len() < 16 {
            return Err(Error::Corrupt {
                path,
                reason: format!("the file is only {} bytes long", header.len()),
            });
        }
        let key_path = home.key_path();
        let text = match std::fs::read_to_string(&key_path) {
            Ok(t) => t,
            Err(e) => {
                return Err(Error::KeyFile {
                    path: key_path,
                    reason: format!("cannot read it ({e}); without it the store cannot be opened"),
                });
            }
        };
        let kf: KeyFile = serde_json::from_str(&text).map_err(|e| Error::KeyFile {
            path: key_path.clone(),
            reason: format!("not valid: {e}"),
        })?;
        let key = kf.derive(&key_path, pass)?;
        if !constant_time_eq(check_value(&key).as_bytes(), kf.check.as_bytes()) {
            return Err(Error::WrongPassphrase {
                path: home.root().into(),
            });
        }

        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql(&path, "opening the store"))?;
        apply_key(&conn, &key, &path)?;
        // The right key on a file that will not decrypt: damaged, or swapped for another.
        let app_id: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(|e| Error::Corrupt {
                path: path.clone(),
                reason: format!("it does not decrypt with the right key ({e})"),
            })?;
        if app_id != APPLICATION_ID {
            return Err(Error::Foreign {
                path,
                reason: format!("application_id is {app_id:#x}, expected {APPLICATION_ID:#x}"),
            });
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql(&path, "enabling WAL"))?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sql(&path, "enabling foreign keys"))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql(&path, "setting synchronous"))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql(&path, "setting busy timeout"))?;
        migrate(&conn, &path)?;
        let keyed_from = keyed_from(&conn, &path)?;
        Ok(Self {
            conn,
            path,
            anchor: home.audit_anchor_path(),
            audit_key: AuditKey::derive(&key[..]),
            keyed_from,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn anchor_path(&self) -> &Path {
        &self.anchor
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn audit_key(&self) -> &AuditKey {
        &self.audit_key
    }

    pub(crate) fn keyed_from(&self) -> u64 {
        self.keyed_from
    }

    /// The schema version (number of migrations applied).
    pub fn schema_version(&self) -> Result<u32> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sql(&self.path, "reading user_version"))
    }

    /// Runs `f` in one transaction. Audit entries appended inside commit with the rest or not at
    /// all; the audit anchor file is advanced after the commit.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql(&path, "starting a transaction"))?;
        let mut t = Tx {
            tx,
            path: path.clone(),
            head: None,
            audit_key: &self.audit_key,
        };
        let out = f(&mut t)?;
        let head = t.head.take();
        t.tx.commit().map_err(sql(&path, "committing"))?;
        if let Some(h) = head {
            crate::audit::write_anchor(&self.anchor, &h, &self.audit_key, self.keyed_from)?;
        }
        Ok(out)
    }

    /// Appends one audit entry in its own transaction.
    pub fn audit(&mut self, record: &AuditRecord) -> Result<AuditEntry> {
        self.transaction(|tx| tx.audit(record))
    }

    /// Reads a value from the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(sql(&self.path, "reading meta"))
    }

    /// The `meta` entries whose key starts with `prefix`, by key.
    pub fn meta_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT key, value FROM meta WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
            )
            .map_err(sql(&self.path, "reading meta"))?;
        let rows = stmt
            .query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql(&self.path, "reading meta"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql(&self.path, "reading meta"))
    }
}

/// Test support: the raw connection of an unlocked store, with none of the agent's guards, so
/// tests can do what an attacker with the passphrase could (edit the audit log, say).
#[cfg(feature = "test-util")]
pub fn raw_connection(home: &Home, pass: &Passphrase) -> Result<Connection> {
    let store = Store::open(home, pass)?;
    Ok(store.conn)
}

/// A transaction on the store.
#[derive(Debug)]
pub struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
    path: PathBuf,
    head: Option<AuditEntry>,
    audit_key: &'a AuditKey,
}

impl Tx<'_> {
    pub(crate) fn sql(&self) -> &rusqlite::Transaction<'_> {
        &self.tx
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` to the audit chain.
    pub fn audit(&mut self, record: &AuditRecord) -> Result<AuditEntry> {
        let last = match self.head.take() {
            Some(h) => Some(h),
            None => crate::audit::last_entry(&self.tx, &self.path)?,
        };
        let ts = jiff::Timestamp::now().to_string();
        // Every entry appended now is keyed: keyed_from is at most the next seq (set at open).
        let e = AuditEntry::chain_keyed(last.as_ref(), ts, record, self.audit_key);
        self.tx
            .execute(
                "INSERT INTO audit (seq, ts, kind, subject, inputs, detail, prev, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![
                    e.seq as i64,
                    e.ts,
                    e.kind,
                    e.subject,
                    e.inputs,
                    e.detail,
                    e.prev,
                    e.hash
                ],
            )
            .map_err(sql(&self.path, "appending to the audit log"))?;
        self.head = Some(e.clone());
        Ok(e)
    }

    /// Sets a value in the `meta` table.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(|_| ())
            .map_err(sql(&self.path, "writing meta"))
    }
}

fn apply_key(conn: &Connection, key: &[u8; 32], path: &Path) -> Result<()> {
    let raw = Zeroizing::new(format!("x'{}'", hex::encode(key)));
    conn.pragma_update(None, "key", raw.as_str())
        .map_err(sql(path, "setting the key"))
}

/// Reads where the keyed chain starts; a store that predates it is keyed from its next entry on,
/// and its older entries keep their plain hashes (docs/audit.md: the versioned chain).
fn keyed_from(conn: &Connection, path: &Path) -> Result<u64> {
    let stored: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [META_KEYED_FROM],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql(path, "reading meta"))?;
    if let Some(v) = stored {
        return v.parse().map_err(|_| Error::Corrupt {
            path: path.into(),
            reason: format!("meta `{META_KEYED_FROM}` is {v:?}, not a number"),
        });
    }
    let next: i64 = conn
        .query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM audit", [], |r| {
            r.get(0)
        })
        .map_err(sql(path, "reading the audit head"))?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)",
        rusqlite::params![META_KEYED_FROM, next.to_string()],
    )
    .map_err(sql(path, "writing meta"))?;
    Ok(u64::try_from(next).unwrap_or(1))
}

fn migrate(conn: &Connection, path: &Path) -> Result<()> {
    let current: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
        .map_err(sql(path, "reading user_version"))?
        .try_into()
        .unwrap_or(usize::MAX);
    if current > MIGRATIONS.len() {
        return Err(Error::Foreign {
            path: path.into(),
            reason: format!(
                "schema version {current} is newer than this steward knows ({}): upgrade steward",
                MIGRATIONS.len()
            ),
        });
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(current) {
        // Each migration and its version bump commit together.
        let batch = format!("BEGIN; {m}; PRAGMA user_version = {}; COMMIT;", i + 1);
        conn.execute_batch(&batch).map_err(sql(path, "migrating"))?;
    }
    Ok(())
}

fn read_header(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(16);
    std::fs::File::open(path)?.take(16).read_to_end(&mut buf)?;
    Ok(buf)
}

pub(crate) fn sql(path: &Path, context: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Sqlite {
        path,
        context,
        source,
    }
}
