//! The user's profile: what they said (statements), what they wrote, how they and their peers
//! voted, their answers and overrides, and whom they trust. All in the encrypted store; every
//! change is audited.
//!
//! Importers parse into plain values first and write in one transaction, so a bad row is
//! reported (file, line, field) and never leaves half an import behind.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use steward_core::{AuditRecord, Stance, stance_of};

use crate::proposals::Quarantined;
use crate::store::{Store, Tx, sql};
use crate::{Error, Result};

/// The store's `profile_shareable` table: the items the user marked shareable (one element of
/// the store's MIGRATIONS).
pub(crate) const SHAREABLE_MIGRATION: &str = r#"
CREATE TABLE profile_shareable (
    item   INTEGER PRIMARY KEY REFERENCES profile_items (id),
    marked TEXT NOT NULL
) STRICT;
"#;

/// The kinds of profile item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// Something the user told Steward directly: it outranks everything else.
    Statement,
    /// A piece of the user's own writing (a paragraph of an imported file).
    Writing,
    /// The user's answer to one of the agent's questions.
    Answer,
    /// The user's override of one of the agent's decisions.
    Override,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Statement => "statement",
            ItemKind::Writing => "writing",
            ItemKind::Answer => "answer",
            ItemKind::Override => "override",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "statement" => ItemKind::Statement,
            "writing" => ItemKind::Writing,
            "answer" => ItemKind::Answer,
            "override" => ItemKind::Override,
            _ => return None,
        })
    }
}

/// One profile item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileItem {
    pub id: i64,
    pub kind: ItemKind,
    pub text: String,
    pub stance: Stance,
    pub origin: String,
    pub proposal_key: Option<String>,
    pub created: String,
}

/// A vote in the profile: the user's own or a peer's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoteRecord {
    pub voter: String,
    pub is_user: bool,
    pub proposal_ref: String,
    pub title: String,
    /// The choice label (`For`, `Against`, `Abstain`, or the proposal's own label).
    pub choice: String,
    pub reason: Option<String>,
    /// Time order: `order_rank`, or the vote's unix time.
    pub ord: Option<i64>,
    pub origin: String,
}

/// Whom the user trusts or ignores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    pub address: String,
    pub trust: String,
    pub note: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub added: usize,
    pub user_votes: usize,
    pub peer_votes: usize,
    pub skipped: usize,
    pub quarantined: Vec<Quarantined>,
}

impl Tx<'_> {
    /// Adds a profile item and audits it (the audit entry carries the item's hash, not its text:
    /// the user's private writing stays in the encrypted table only).
    pub fn add_profile_item(
        &mut self,
        kind: ItemKind,
        text: &str,
        origin: &str,
        proposal_key: Option<&str>,
    ) -> Result<i64> {
        let text = text.trim();
        self.add_profile_item_with_stance(kind, text, stance_of(text), origin, proposal_key)
    }

    /// Adds a piece of the user's writing with the stance [`writing_pieces`] gave it (its own,
    /// or its document's).
    pub fn add_writing(&mut self, piece: &WritingPiece, origin: &str) -> Result<i64> {
        self.add_profile_item_with_stance(
            ItemKind::Writing,
            piece.text.trim(),
            piece.stance,
            origin,
            None,
        )
    }

    fn add_profile_item_with_stance(
        &mut self,
        kind: ItemKind,
        text: &str,
        stance: Stance,
        origin: &str,
        proposal_key: Option<&str>,
    ) -> Result<i64> {
        self.sql()
            .execute(
                "INSERT INTO profile_items (kind, text, stance, origin, proposal_key, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    kind.as_str(),
                    text,
                    stance.as_str(),
                    origin,
                    proposal_key,
                    jiff::Timestamp::now().to_string()
                ],
            )
            .map_err(sql(self.path(), "adding a profile item"))?;
        let id = self.sql().last_insert_rowid();
        self.audit(
            &AuditRecord::new(format!("profile.{}", kind.as_str()), format!("item {id}"))
                .input("text", text)
                .detail(serde_json::json!({
                    "origin": origin,
                    "proposal": proposal_key,
                    "stance": stance.as_str(),
                })),
        )?;
        Ok(id)
    }

    /// Deactivates a profile item (kept for the audit trail; no longer used by decisions).
    pub fn forget_profile_item(&mut self, id: i64) -> Result<bool> {
        let n = self
            .sql()
            .execute(
                "UPDATE profile_items SET active = 0 WHERE id = ?1 AND active = 1",
                [id],
            )
            .map_err(sql(self.path(), "forgetting a profile item"))?;
        if n > 0 {
            self.audit(&AuditRecord::new("profile.forget", format!("item {id}")))?;
        }
        Ok(n > 0)
    }

    /// Marks a profile item shareable (or not): its text may then be quoted in the user's shared
    /// views and counts as public ([`crate::views`]). False when there is no such active item.
    pub fn set_shareable(&mut self, id: i64, shareable: bool) -> Result<bool> {
        let exists: bool = self
            .sql()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM profile_items WHERE id = ?1 AND active = 1)",
                [id],
                |r| r.get(0),
            )
            .map_err(sql(self.path(), "reading a profile item"))?;
        if !exists {
            return Ok(false);
        }
        let n = if shareable {
            self.sql().execute(
                "INSERT OR IGNORE INTO profile_shareable (item, marked) VALUES (?1, ?2)",
                params![id, jiff::Timestamp::now().to_string()],
            )
        } else {
            self.sql()
                .execute("DELETE FROM profile_shareable WHERE item = ?1", [id])
        }
        .map_err(sql(self.path(), "marking a profile item shareable"))?;
        if n > 0 {
            self.audit(
                &AuditRecord::new("profile.share", format!("item {id}"))
                    .detail(serde_json::json!({ "shareable": shareable })),
            )?;
        }
        Ok(true)
    }

    /// Inserts or replaces votes; returns how many rows changed.
    pub fn insert_profile_votes(&mut self, votes: &[VoteRecord]) -> Result<usize> {
        let mut n = 0;
        {
            let mut st = self
                .sql()
                .prepare_cached(
                    "INSERT INTO profile_votes
                       (voter, is_user, proposal_ref, title, choice, reason, ord, origin)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (voter, proposal_ref) DO UPDATE SET
                       is_user = excluded.is_user, title = excluded.title,
                       choice = excluded.choice, reason = excluded.reason,
                       ord = excluded.ord, origin = excluded.origin
                     WHERE profile_votes.choice IS NOT excluded.choice
                        OR profile_votes.reason IS NOT excluded.reason
                        OR profile_votes.is_user IS NOT excluded.is_user
                        OR profile_votes.title IS NOT excluded.title",
                )
                .map_err(sql(self.path(), "preparing profile votes"))?;
            for v in votes {
                n += st
                    .execute(params![
                        v.voter,
                        v.is_user,
                        v.proposal_ref,
                        v.title,
                        v.choice,
                        v.reason,
                        v.ord,
                        v.origin
                    ])
                    .map_err(sql(self.path(), "inserting profile votes"))?;
            }
        }
        Ok(n)
    }

    /// Marks a peer trusted or ignored.
    pub fn set_peer(&mut self, address: &str, trust: &str, note: Option<&str>) -> Result<()> {
        let address = address.trim().to_ascii_lowercase();
        if !matches!(trust, "trusted" | "ignored") {
            return Err(Error::Source {
                source_name: "profile peers".into(),
                message: format!("trust must be `trusted` or `ignored`, got {trust:?}"),
            });
        }
        self.sql()
            .execute(
                "INSERT INTO profile_peers (address, trust, note, updated) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (address) DO UPDATE SET trust = excluded.trust,
                   note = excluded.note, updated = excluded.updated",
                params![address, trust, note, jiff::Timestamp::now().to_string()],
            )
            .map_err(sql(self.path(), "setting a peer"))?;
        self.audit(
            &AuditRecord::new("profile.peer", address)
                .detail(serde_json::json!({ "trust": trust })),
        )?;
        Ok(())
    }

    /// Stores an embedding in the cache.
    pub fn put_embedding(&mut self, model: &str, text_sha256: &str, v: &[f32]) -> Result<()> {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.sql()
            .execute(
                "INSERT OR IGNORE INTO embeddings (model, text_sha256, vector) VALUES (?1, ?2, ?3)",
                params![model, text_sha256, bytes],
            )
            .map_err(sql(self.path(), "caching an embedding"))?;
        Ok(())
    }
}

fn item_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ProfileItem> {
    let kind: String = r.get(1)?;
    let stance: String = r.get(3)?;
    Ok(ProfileItem {
        id: r.get(0)?,
        kind: ItemKind::parse(&kind).unwrap_or(ItemKind::Writing),
        text: r.get(2)?,
        stance: Stance::parse(&stance).unwrap_or(Stance::Unknown),
        origin: r.get(4)?,
        proposal_key: r.get(5)?,
        created: r.get(6)?,
    })
}

fn vote_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VoteRecord> {
    Ok(VoteRecord {
        voter: r.get(0)?,
        is_user: r.get(1)?,
        proposal_ref: r.get(2)?,
        title: r.get(3)?,
        choice: r.get(4)?,
        reason: r.get(5)?,
        ord: r.get(6)?,
        origin: r.get(7)?,
    })
}

impl Store {
    /// Active profile items, oldest first.
    pub fn profile_items(&self) -> Result<Vec<ProfileItem>> {
        let mut st = self
            .conn()
            .prepare(
                "SELECT id, kind, text, stance, origin, proposal_key, created
                 FROM profile_items WHERE active = 1 ORDER BY id",
            )
            .map_err(sql(self.path(), "reading the profile"))?;
        st.query_map([], item_from_row)
            .and_then(|rows| rows.collect())
            .map_err(sql(self.path(), "reading the profile"))
    }

    /// The ids of the items the user marked shareable.
    pub fn shareable_items(&self) -> Result<std::collections::BTreeSet<i64>> {
        let mut st = self
            .conn()
            .prepare("SELECT item FROM profile_shareable ORDER BY item")
            .map_err(sql(self.path(), "reading the shareable items"))?;
        st.query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(sql(self.path(), "reading the shareable items"))
    }

    /// The user's votes (`is_user`) or peers' votes, in time order.
    pub fn profile_votes(&self, is_user: bool) -> Result<Vec<VoteRecord>> {
        let mut st = self
            .conn()
            .prepare(
                "SELECT voter, is_user, proposal_ref, title, choice, reason, ord, origin
                 FROM profile_votes WHERE is_user = ?1 ORDER BY ord, proposal_ref",
            )
            .map_err(sql(self.path(), "reading profile votes"))?;
        st.query_map([is_user], vote_from_row)
            .and_then(|rows| rows.collect())
            .map_err(sql(self.path(), "reading profile votes"))
    }

    /// Peers the user marked trusted or ignored.
    pub fn peers(&self) -> Result<Vec<Peer>> {
        let mut st = self
            .conn()
            .prepare("SELECT address, trust, note FROM profile_peers ORDER BY address")
            .map_err(sql(self.path(), "reading peers"))?;
        st.query_map([], |r| {
            Ok(Peer {
                address: r.get(0)?,
                trust: r.get(1)?,
                note: r.get(2)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(sql(self.path(), "reading peers"))
    }

    /// A cached embedding.
    pub fn embedding(&self, model: &str, text_sha256: &str) -> Result<Option<Vec<f32>>> {
        let bytes: Option<Vec<u8>> = self
            .conn()
            .query_row(
                "SELECT vector FROM embeddings WHERE model = ?1 AND text_sha256 = ?2",
                [model, text_sha256],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql(self.path(), "reading an embedding"))?;
        Ok(bytes.map(|b| {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        }))
    }
}

/// Agreement of each peer with the user over the proposals both voted on:
/// `(address, agreed, common)`, best first, peers with at least `min_common` shared votes.
pub fn peer_agreement(
    user: &[VoteRecord],
    peers: &[VoteRecord],
    min_common: usize,
) -> Vec<(String, usize, usize)> {
    let mine: HashMap<&str, &str> = user
        .iter()
        .map(|v| (v.proposal_ref.as_str(), v.choice.as_str()))
        .collect();
    let mut tally: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for v in peers {
        if let Some(c) = mine.get(v.proposal_ref.as_str()) {
            let e = tally.entry(v.voter.as_str()).or_default();
            e.1 += 1;
            if c.eq_ignore_ascii_case(&v.choice) {
                e.0 += 1;
            }
        }
    }
    let mut out: Vec<(String, usize, usize)> = tally
        .into_iter()
        .filter(|(_, (_, n))| *n >= min_common)
        .map(|(a, (k, n))| (a.to_owned(), k, n))
        .collect();
    // Laplace-smoothed agreement, so 3/3 does not outrank 48/50.
    out.sort_by(|a, b| {
        let ra = (a.1 as f64 + 1.0) / (a.2 as f64 + 2.0);
        let rb = (b.1 as f64 + 1.0) / (b.2 as f64 + 2.0);
        rb.total_cmp(&ra).then_with(|| a.0.cmp(&b.0))
    });
    out
}

// ---------------------------------------------------------------------------------------------
// Importers: parse first, write once.

/// Votes from a CSV like `arbitrum-snapshot-delegates/votes.csv` (`voter, proposal_id, choice,
/// title, order_rank`, optional `reason`). With `user`, that voter's rows are the user's and the
/// rest are peers'; without it, every row is the user's.
pub fn parse_votes_csv(
    path: &Path,
    data: &[u8],
    user: Option<&str>,
) -> (Vec<VoteRecord>, Vec<Quarantined>) {
    let origin = format!("file {}", path.display());
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(data);
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            bad.push(Quarantined {
                origin,
                item: "line 1".into(),
                field: "header".into(),
                error: e.to_string(),
            });
            return (out, bad);
        }
    };
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (Some(voter_i), Some(pid_i), Some(choice_i)) =
        (col("voter"), col("proposal_id"), col("choice"))
    else {
        bad.push(Quarantined {
            origin,
            item: "line 1".into(),
            field: "header".into(),
            error: format!(
                "needs columns voter, proposal_id and choice; found {}",
                headers.iter().collect::<Vec<_>>().join(", ")
            ),
        });
        return (out, bad);
    };
    let title_i = col("title");
    let ord_i = col("order_rank").or_else(|| col("created"));
    let reason_i = col("reason");
    let user = user.map(|u| u.trim().to_ascii_lowercase());
    for (n, rec) in rdr.records().enumerate() {
        let line = n + 2;
        let item = format!("line {line}");
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                bad.push(Quarantined {
                    origin: origin.clone(),
                    item,
                    field: "row".into(),
                    error: e.to_string(),
                });
                continue;
            }
        };
        let get = |i: usize| rec.get(i).unwrap_or("").trim();
        let voter = get(voter_i).to_ascii_lowercase();
        let pid = get(pid_i);
        let choice = get(choice_i);
        let field_err = if voter.is_empty() {
            Some(("voter", "empty".to_owned()))
        } else if pid.is_empty() {
            Some(("proposal_id", "empty".to_owned()))
        } else if choice.is_empty() {
            Some(("choice", "empty".to_owned()))
        } else if choice.len() > 1024 {
            Some(("choice", format!("{} bytes, over 1024", choice.len())))
        } else {
            None
        };
        if let Some((field, error)) = field_err {
            bad.push(Quarantined {
                origin: origin.clone(),
                item,
                field: field.into(),
                error,
            });
            continue;
        }
        let ord = match ord_i.map(get).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => match s.parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v as i64),
                _ => {
                    bad.push(Quarantined {
                        origin: origin.clone(),
                        item,
                        field: headers.get(ord_i.unwrap_or(0)).unwrap_or("order").into(),
                        error: format!("not a number: {s:?}"),
                    });
                    continue;
                }
            },
        };
        let is_user = user.as_deref().is_none_or(|u| u == voter);
        out.push(VoteRecord {
            voter: if user.is_none() { "me".into() } else { voter },
            is_user,
            proposal_ref: pid.to_owned(),
            title: title_i.map(get).unwrap_or_default().to_owned(),
            choice: choice.to_owned(),
            reason: reason_i
                .map(get)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            ord,
            origin: origin.clone(),
        });
    }
    (out, bad)
}

/// Votes as the Snapshot hub returns them (`{votes: [...]}`, `{data: {votes: [...]}}`, an array,
/// or JSON Lines), each with `voter`, `choice`, optional `reason`, `created`, and `proposal`
/// `{id, title, choices}` so the choice index can be named.
pub fn parse_votes_json(
    path: &Path,
    data: &[u8],
    user: Option<&str>,
) -> (Vec<VoteRecord>, Vec<Quarantined>) {
    let origin = format!("file {}", path.display());
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let items: Vec<serde_json::Value> = match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(serde_json::Value::Array(a)) => a,
        Ok(v) => match v
            .pointer("/data/votes")
            .or_else(|| v.get("votes"))
            .and_then(|v| v.as_array())
        {
            Some(a) => a.clone(),
            None => vec![v],
        },
        Err(_) => {
            let mut v = Vec::new();
            for (i, line) in data.split(|b| *b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match serde_json::from_slice(line) {
                    Ok(x) => v.push(x),
                    Err(e) => bad.push(Quarantined {
                        origin: origin.clone(),
                        item: format!("line {}", i + 1),
                        field: "json".into(),
                        error: e.to_string(),
                    }),
                }
            }
            v
        }
    };
    let user = user.map(|u| u.trim().to_ascii_lowercase());
    for (i, v) in items.iter().enumerate() {
        let item = v
            .get("id")
            .and_then(|x| x.as_str())
            .map_or_else(|| format!("#{i}"), str::to_owned);
        let q = |field: &str, error: String| Quarantined {
            origin: origin.clone(),
            item: item.clone(),
            field: field.into(),
            error,
        };
        let Some(voter) = v.get("voter").and_then(|x| x.as_str()) else {
            bad.push(q("voter", "missing or not a string".into()));
            continue;
        };
        let Some(prop) = v.get("proposal") else {
            bad.push(q("proposal", "missing".into()));
            continue;
        };
        let Some(pid) = prop
            .get("id")
            .and_then(|x| x.as_str())
            .or_else(|| prop.as_str())
        else {
            bad.push(q("proposal.id", "missing or not a string".into()));
            continue;
        };
        let choices: Vec<String> = prop
            .get("choices")
            .and_then(|c| c.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let choice = match v.get("choice") {
            Some(serde_json::Value::Number(n)) => match n.as_u64() {
                Some(k) if k >= 1 && (k as usize) <= choices.len() => {
                    choices[k as usize - 1].clone()
                }
                Some(k) if choices.is_empty() => k.to_string(),
                _ => {
                    bad.push(q(
                        "choice",
                        format!("{n} is not one of the {} choices", choices.len()),
                    ));
                    continue;
                }
            },
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => {
                bad.push(q("choice", "missing".into()));
                continue;
            }
        };
        let voter = voter.to_ascii_lowercase();
        let is_user = user.as_deref().is_none_or(|u| u == voter);
        out.push(VoteRecord {
            voter: if user.is_none() { "me".into() } else { voter },
            is_user,
            proposal_ref: pid.to_owned(),
            title: prop
                .get("title")
                .and_then(|t| t.as_str())
                .unwrap_or_default()
                .to_owned(),
            choice,
            reason: v
                .get("reason")
                .and_then(|r| r.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            ord: v.get("created").and_then(|c| c.as_i64()),
            origin: origin.clone(),
        });
    }
    (out, bad)
}

/// Splits the user's writing into paragraphs of at most about 800 characters, so each piece
/// embeds well, carries one stance, and can be quoted as evidence. Only very short paragraphs
/// (headings, one-liners) are merged into the next one.
pub fn chunk_writing(text: &str) -> Vec<String> {
    const MAX: usize = 800;
    const SHORT: usize = 120;
    let mut out: Vec<String> = Vec::new();
    let mut pending = String::new();
    for para in text.split("\n\n") {
        let para = para.split_whitespace().collect::<Vec<_>>().join(" ");
        if para.is_empty() {
            continue;
        }
        let mut cur = if pending.is_empty() {
            para
        } else {
            format!("{} {para}", std::mem::take(&mut pending))
        };
        if cur.len() < SHORT {
            pending = cur;
            continue;
        }
        // A wall of text: cut at sentence ends near the limit.
        while cur.len() > MAX {
            let cut = cur[..floor_char(&cur, MAX)]
                .rfind(". ")
                .map_or(floor_char(&cur, MAX), |i| i + 1);
            out.push(cur[..cut].trim().to_owned());
            cur = cur[cut..].trim_start().to_owned();
        }
        out.push(cur);
    }
    if !pending.is_empty() {
        out.push(pending);
    }
    out
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i.max(1).min(s.len())
}

/// A piece of the user's writing and the stance it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritingPiece {
    pub text: String,
    pub stance: Stance,
}

/// One document of the user's writing (a file, a chat message) in pieces ([`chunk_writing`]).
/// A rationale says how its author voted once ("We voted FOR…", "we do not support this
/// proposal") and argues in the other paragraphs, where praise and doubts are both counted as
/// leaning words; and the paragraph that names the proposal is often not the one with the
/// vote. So when the document's outright statements ([`steward_core::explicit_stance`]) agree,
/// every piece carries that stance; when they disagree or there are none (notes on many
/// proposals), each piece keeps its own ([`stance_of`]).
pub fn writing_pieces(doc: &str) -> Vec<WritingPiece> {
    let chunks = chunk_writing(doc);
    let mut stated = chunks
        .iter()
        .filter_map(|c| steward_core::explicit_stance(c));
    let document = stated.next().filter(|first| stated.all(|s| s == *first));
    chunks
        .into_iter()
        .map(|text| {
            let stance = document.unwrap_or_else(|| stance_of(&text));
            WritingPiece { text, stance }
        })
        .collect()
}

/// The user's writing from a file: plain text or markdown (one document), or a chat export (a
/// JSON array of messages with `text` or `content`, and `author`/`role`/`from`, each message a
/// document; with `author`, only that author's messages are the user's).
pub fn parse_writing(path: &Path, data: &[u8], author: Option<&str>) -> Result<Vec<WritingPiece>> {
    let text = String::from_utf8_lossy(data);
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(trimmed).map_err(|e| Error::Source {
            source_name: format!("file {}", path.display()),
            message: format!("not a chat export (JSON): {e}"),
        })?;
        let msgs = v
            .as_array()
            .or_else(|| v.get("messages").and_then(|m| m.as_array()))
            .ok_or_else(|| Error::Source {
                source_name: format!("file {}", path.display()),
                message: "a chat export is an array of messages or {messages: [...]}".into(),
            })?;
        let mut out = Vec::new();
        for m in msgs {
            let who = ["author", "role", "from", "user"]
                .iter()
                .find_map(|k| m.get(*k).and_then(|x| x.as_str()));
            if let (Some(a), Some(w)) = (author, who)
                && !a.eq_ignore_ascii_case(w)
            {
                continue;
            }
            if let Some(t) = ["text", "content", "body", "message"]
                .iter()
                .find_map(|k| m.get(*k).and_then(|x| x.as_str()))
            {
                out.extend(writing_pieces(t));
            }
        }
        return Ok(out);
    }
    Ok(writing_pieces(&text))
}

// ---------------------------------------------------------------------------------------------
// What Steward learned: topics, leanings, evidence, contradictions (`profile show`, the desk).

/// Governance topics the summary sorts things into; described so that an embedding finds them.
pub(crate) const TOPICS: &[(&str, &str)] = &[
    (
        "treasury and grants",
        "treasury spending, grants, funding programs, budgets, incentives paid from the DAO treasury",
    ),
    (
        "security and upgrades",
        "smart contract upgrades, audits, security council, bug bounties, risk",
    ),
    (
        "governance process",
        "governance rules, constitution, voting process, quorum, delegation, elections",
    ),
    (
        "token and fees",
        "tokenomics, token emissions, fee switch, staking, inflation, buybacks",
    ),
    (
        "ecosystem and growth",
        "partnerships, ecosystem growth, liquidity mining, marketing, gaming, adoption",
    ),
    (
        "operations and legal",
        "service providers, legal entity, foundation, compensation, operations",
    ),
];

#[derive(Debug, Clone, Serialize)]
pub struct Topic {
    pub topic: &'static str,
    pub leaning: String,
    pub for_count: usize,
    pub against_count: usize,
    pub abstain_count: usize,
    pub evidence: Vec<String>,
}

/// A summary of the profile.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub statements: usize,
    pub writing: usize,
    pub answers: usize,
    pub your_votes: usize,
    pub peer_votes: usize,
    pub topics: Vec<Topic>,
    pub contradictions: Vec<String>,
    pub items: Vec<ProfileItem>,
}

/// The [`TOPICS`]' descriptions embedded (through the store's cache), in the same order.
pub(crate) fn topic_vectors(
    store: &mut Store,
    embedder: &mut dyn steward_ml::Embedder,
) -> Result<Vec<Vec<f32>>> {
    let texts: Vec<String> = TOPICS.iter().map(|(_, d)| (*d).to_owned()).collect();
    crate::decide::embed_cached(store, embedder, &texts)
}

/// The topic whose description `v` is most similar to, if any is similar enough.
pub(crate) fn nearest_topic(topics: &[Vec<f32>], v: &[f32]) -> Option<usize> {
    topics
        .iter()
        .enumerate()
        .map(|(i, t)| (i, crate::decide::cosine(v, t)))
        .filter(|(_, s)| *s > 0.15)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// `mostly for`, `mostly against` or `mixed`, from the for, against and abstain counts.
pub(crate) fn leaning(f: usize, a: usize, ab: usize) -> &'static str {
    let total = (f + a + ab).max(1) as f64;
    if f as f64 / total >= 0.65 {
        "mostly for"
    } else if a as f64 / total >= 0.5 {
        "mostly against"
    } else {
        "mixed"
    }
}

/// Sorts the profile into governance topics by embedding similarity, with the leaning and the
/// evidence for each, and finds statements that contradict each other.
pub fn summarize(store: &mut Store, embedder: &mut dyn steward_ml::Embedder) -> Result<Summary> {
    use crate::decide::{ProfileSnapshot, cosine};
    let items = store.profile_items()?;
    let votes = store.profile_votes(true)?;
    let peers = store.profile_votes(false)?.len();
    let count = |k: ItemKind| items.iter().filter(|i| i.kind == k).count();
    let mut shown = Summary {
        statements: count(ItemKind::Statement),
        writing: count(ItemKind::Writing),
        answers: count(ItemKind::Answer) + count(ItemKind::Override),
        your_votes: votes.len(),
        peer_votes: peers,
        topics: Vec::new(),
        contradictions: Vec::new(),
        items: items.clone(),
    };
    if !items.is_empty() || !votes.is_empty() {
        let snap = ProfileSnapshot::load(store, embedder)?;
        let tv = topic_vectors(store, embedder)?;
        let nearest = |v: &[f32]| nearest_topic(&tv, v);
        let mut per: BTreeMap<usize, (usize, usize, usize, Vec<String>)> = BTreeMap::new();
        for (item, v) in &snap.items {
            if let Some(t) = nearest(v) {
                let e = per.entry(t).or_default();
                match item.stance {
                    Stance::For => e.0 += 1,
                    Stance::Against => e.1 += 1,
                    Stance::Abstain => e.2 += 1,
                    Stance::Unknown => {}
                }
                if e.3.len() < 3 {
                    e.3.push(format!(
                        "{} {}: {}",
                        item.kind.as_str(),
                        item.id,
                        crate::decide::short(&item.text, 100)
                    ));
                }
            }
        }
        for (vote, v) in &snap.user_votes {
            if let Some(t) = nearest(v) {
                let e = per.entry(t).or_default();
                match steward_core::stance_of_choice(&vote.choice) {
                    Stance::For => e.0 += 1,
                    Stance::Against => e.1 += 1,
                    Stance::Abstain => e.2 += 1,
                    Stance::Unknown => {}
                }
                if e.3.len() < 5 {
                    e.3.push(format!(
                        "voted {} on \"{}\"",
                        vote.choice,
                        crate::decide::short(&vote.title, 80)
                    ));
                }
            }
        }
        for (t, (f, a, ab, ev)) in per {
            let leaning = leaning(f, a, ab);
            shown.topics.push(Topic {
                topic: TOPICS[t].0,
                leaning: leaning.into(),
                for_count: f,
                against_count: a,
                abstain_count: ab,
                evidence: ev,
            });
        }
        // Statements that say opposite things about the same subject.
        let st: Vec<_> = snap
            .items
            .iter()
            .filter(|(i, _)| i.kind == ItemKind::Statement && i.stance != Stance::Unknown)
            .collect();
        for (i, (a, va)) in st.iter().enumerate() {
            for (b, vb) in &st[i + 1..] {
                if a.stance != b.stance && cosine(va, vb) >= 0.6 {
                    shown.contradictions.push(format!(
                        "statement {} ({}) and statement {} ({}) seem to disagree: \"{}\" / \"{}\"",
                        a.id,
                        a.stance.as_str(),
                        b.id,
                        b.stance.as_str(),
                        crate::decide::short(&a.text, 80),
                        crate::decide::short(&b.text, 80)
                    ));
                }
            }
        }
    }
    Ok(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_split_user_and_peers_and_name_bad_fields() {
        let data = b"voter,proposal_id,choice,title,order_rank\n0xAA,p1,For,Fund A,1\n0xbb,p1,Against,Fund A,1\n0xaa,,For,x,2\n0xaa,p2,For,Fund B,soon\n";
        let (votes, bad) = parse_votes_csv(Path::new("v.csv"), data, Some("0xaa"));
        assert_eq!(votes.len(), 2);
        assert!(votes[0].is_user && !votes[1].is_user);
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].item, "line 4");
        assert_eq!(bad[0].field, "proposal_id");
        assert_eq!(bad[1].field, "order_rank");
        assert!(bad[1].to_string().contains("v.csv"), "{}", bad[1]);
    }

    #[test]
    fn hub_votes_name_their_choice() {
        let data = br#"{"data":{"votes":[{"id":"v1","voter":"0xAA","choice":2,"reason":"too costly","created":5,"proposal":{"id":"p","title":"T","choices":["Yes","No"]}},{"id":"v2","voter":"0xaa","choice":9,"proposal":{"id":"q","choices":["Yes","No"]}}]}}"#;
        let (votes, bad) = parse_votes_json(Path::new("v.json"), data, None);
        assert_eq!(votes.len(), 1);
        assert_eq!(votes[0].choice, "No");
        assert_eq!(votes[0].reason.as_deref(), Some("too costly"));
        assert_eq!(bad[0].item, "v2");
        assert_eq!(bad[0].field, "choice");
    }

    #[test]
    fn writing_chunks_stay_small_and_keep_text() {
        let long = "A sentence here. ".repeat(200);
        let chunks = chunk_writing(&format!("short one\n\nshort two\n\n{long}"));
        assert!(chunks.iter().all(|c| c.len() <= 800));
        assert!(chunks[0].starts_with("short one short two A sentence"));
        let total: usize = chunks.iter().map(|c| c.matches("sentence").count()).sum();
        assert_eq!(total, 200);
    }

    #[test]
    fn a_rationale_states_its_vote_once_and_every_piece_carries_it() {
        let praise = "The team behind this event did commendable work last year and we are \
                      excited about the space; a strong presence at community events is valuable \
                      and we welcome it. "
            .repeat(3);
        let doc = format!(
            "{praise}\n\nThe package is excessive, so we do not support this proposal as it stands."
        );
        let pieces = writing_pieces(&doc);
        assert_eq!(pieces.len(), 2);
        // On its own the first piece reads as support...
        assert_eq!(stance_of(&pieces[0].text), Stance::For);
        // ...but the document says outright how its author voted.
        assert!(
            pieces.iter().all(|p| p.stance == Stance::Against),
            "{pieces:?}"
        );

        // Notes on two proposals, voted two ways: each piece keeps its own stance.
        let notes = format!(
            "{praise}We voted for the grants program.\n\nWe voted against the fee switch: too risky for now."
        );
        let stances: Vec<Stance> = writing_pieces(&notes).iter().map(|p| p.stance).collect();
        assert_eq!(stances, vec![Stance::For, Stance::Against]);
    }
}
