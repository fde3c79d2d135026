//! Reading Polis exports (text in, votes out; the caller reads the files): the API export
//! (`votes.json`, `comments.json`) and the participant x statement CSV of Polis's open data
//! (`participants-votes.csv`, `comments.csv`), which is also `steward consensus matrix`'s format.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::{ConsensusError, Conversation, Result, VoteEvent};

/// Which raw value means agree in a `votes.json`. Polis's database and math use agree = -1;
/// the exports checked in docs/consensus.md carry agree = +1, so the default is to tell from
/// the statements' own agree/disagree counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sign {
    #[default]
    Detect,
    /// Agree is +1.
    AgreePlus,
    /// Agree is -1 (Polis's internal convention).
    AgreeMinus,
}

fn bad(source_name: &str, item: String, field: &str, reason: impl Into<String>) -> ConsensusError {
    ConsensusError::Input {
        source_name: source_name.into(),
        item,
        field: field.into(),
        reason: reason.into(),
    }
}

/// A non-negative integer id, from a JSON number or numeric string.
fn id(v: Option<&Value>, source_name: &str, item: &str, field: &str) -> Result<u64> {
    match v {
        None | Some(Value::Null) => Err(bad(source_name, item.into(), field, "missing")),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15)
                    .map(|f| f as u64)
            })
            .ok_or_else(|| {
                bad(
                    source_name,
                    item.into(),
                    field,
                    format!("{n} is not a non-negative integer id"),
                )
            }),
        Some(Value::String(s)) => s.trim().parse::<u64>().map_err(|_| {
            bad(
                source_name,
                item.into(),
                field,
                format!("{s:?} is not a number"),
            )
        }),
        Some(other) => Err(bad(
            source_name,
            item.into(),
            field,
            format!("{other} is not a number"),
        )),
    }
}

fn field<'a>(obj: &'a serde_json::Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|n| obj.get(*n))
}

fn array<'a>(v: &'a Value, source_name: &str) -> Result<&'a Vec<Value>> {
    v.as_array().ok_or_else(|| {
        bad(
            source_name,
            "top level".into(),
            "-",
            "expected a JSON array",
        )
    })
}

/// The statements' moderation and the counts used to tell the sign convention.
#[derive(Debug, Clone, Default)]
pub struct Comments {
    pub mod_out: BTreeSet<u64>,
    pub meta: BTreeSet<u64>,
    /// (agree_count, disagree_count) as the export states them.
    pub counts: BTreeMap<u64, (u64, u64)>,
}

/// Parses `comments.json` (either the `tid`/`mod` or the `statement_id`/`moderated` spelling).
pub fn parse_comments_json(text: &str, source_name: &str) -> Result<Comments> {
    let v: Value = serde_json::from_str(text).map_err(|source| ConsensusError::Json {
        source_name: source_name.into(),
        source,
    })?;
    let mut out = Comments::default();
    for (i, c) in array(&v, source_name)?.iter().enumerate() {
        let item = format!("statement #{i}");
        let obj = c
            .as_object()
            .ok_or_else(|| bad(source_name, item.clone(), "-", "expected an object"))?;
        let tid = id(
            field(obj, &["tid", "statement_id"]),
            source_name,
            &item,
            "tid",
        )?;
        let moderated = match field(obj, &["mod", "moderated"]) {
            None | Some(Value::Null) => 0,
            Some(m) => m.as_i64().ok_or_else(|| {
                bad(
                    source_name,
                    item.clone(),
                    "mod",
                    format!("{m} is not -1, 0 or 1"),
                )
            })?,
        };
        if moderated == -1 {
            out.mod_out.insert(tid);
        }
        if obj.get("is_meta").and_then(Value::as_bool) == Some(true) {
            out.meta.insert(tid);
        }
        let count = |k: &str| obj.get(k).and_then(Value::as_u64);
        if let (Some(a), Some(d)) = (count("agree_count"), count("disagree_count")) {
            out.counts.insert(tid, (a, d));
        }
    }
    Ok(out)
}

/// A vote as exported, before the sign is settled.
#[derive(Debug, Clone, Copy)]
struct RawVote {
    pid: u64,
    tid: u64,
    value: i8,
    at: Option<i64>,
}

fn parse_votes_raw(text: &str, source_name: &str) -> Result<Vec<RawVote>> {
    let v: Value = serde_json::from_str(text).map_err(|source| ConsensusError::Json {
        source_name: source_name.into(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, x) in array(&v, source_name)?.iter().enumerate() {
        let item = format!("vote #{i}");
        let obj = x
            .as_object()
            .ok_or_else(|| bad(source_name, item.clone(), "-", "expected an object"))?;
        let pid = id(
            field(obj, &["pid", "participant_id"]),
            source_name,
            &item,
            "pid",
        )?;
        let tid = id(
            field(obj, &["tid", "statement_id"]),
            source_name,
            &item,
            "tid",
        )?;
        let value = match obj.get("vote") {
            Some(Value::Number(n))
                if n.as_f64()
                    .is_some_and(|f| f == -1.0 || f == 0.0 || f == 1.0) =>
            {
                n.as_f64().unwrap_or(0.0) as i8
            }
            Some(Value::String(s)) if matches!(s.trim(), "-1" | "0" | "1") => {
                s.trim().parse().unwrap_or(0)
            }
            Some(other) => {
                return Err(bad(
                    source_name,
                    item,
                    "vote",
                    format!("{other} is not -1, 0 or 1"),
                ));
            }
            None => return Err(bad(source_name, item, "vote", "missing")),
        };
        let at = match field(obj, &["modified", "created"]) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64().map(|f| f as i64),
            Some(Value::String(s)) => Some(s.trim().parse::<f64>().map_err(|_| {
                bad(
                    source_name,
                    item.clone(),
                    "modified",
                    format!("{s:?} is not a millisecond timestamp"),
                )
            })? as i64),
            Some(other) => {
                return Err(bad(
                    source_name,
                    item,
                    "modified",
                    format!("{other} is not a timestamp"),
                ));
            }
        };
        out.push(RawVote {
            pid,
            tid,
            value,
            at,
        });
    }
    Ok(out)
}

/// Tells the convention by which reading reproduces more of the statements' agree/disagree
/// counts (final votes only, the later of duplicates winning).
fn detect(raw: &[RawVote], comments: &Comments, source_name: &str) -> Result<i8> {
    let mut ordered: Vec<&RawVote> = raw.iter().collect();
    ordered.sort_by_key(|v| v.at.unwrap_or(i64::MIN));
    let mut last: HashMap<(u64, u64), i8> = HashMap::new();
    for v in ordered {
        last.insert((v.pid, v.tid), v.value);
    }
    let mut plus: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for ((_, tid), v) in last {
        let e = plus.entry(tid).or_default();
        match v {
            1 => e.0 += 1,
            -1 => e.1 += 1,
            _ => {}
        }
    }
    let (mut agree_plus, mut agree_minus) = (0, 0);
    for (tid, &(a, d)) in &comments.counts {
        let (p, m) = plus.get(tid).copied().unwrap_or_default();
        if (p, m) == (a, d) && (a, d) != (m, p) {
            agree_plus += 1;
        }
        if (m, p) == (a, d) && (a, d) != (p, m) {
            agree_minus += 1;
        }
    }
    match agree_plus.cmp(&agree_minus) {
        std::cmp::Ordering::Greater => Ok(1),
        std::cmp::Ordering::Less => Ok(-1),
        std::cmp::Ordering::Equal => Err(ConsensusError::SignUnknown {
            source_name: source_name.into(),
        }),
    }
}

/// Reads a Polis API export; `sign` says (or detects) which raw value is agree.
pub fn conversation_from_json(
    votes_json: &str,
    comments_json: Option<&str>,
    sign: Sign,
) -> Result<Conversation> {
    let raw = parse_votes_raw(votes_json, "votes.json")?;
    let comments = match comments_json {
        Some(t) => parse_comments_json(t, "comments.json")?,
        None => Comments::default(),
    };
    let agree = match sign {
        Sign::AgreePlus => 1,
        Sign::AgreeMinus => -1,
        Sign::Detect => detect(&raw, &comments, "votes.json")?,
    };
    let votes = raw
        .into_iter()
        .map(|r| VoteEvent {
            pid: r.pid,
            tid: r.tid,
            value: r.value * agree,
            at: r.at,
        })
        .collect();
    Ok(Conversation {
        votes,
        mod_out: comments.mod_out,
        meta: comments.meta,
    })
}

/// A participant x statement matrix read from CSV, with the groups Polis published if the file
/// has a `group-id` column.
#[derive(Debug, Clone, Default)]
pub struct MatrixCsv {
    pub votes: Vec<VoteEvent>,
    pub published_groups: BTreeMap<u64, u64>,
}

/// Polis open-data columns that describe a participant rather than a statement.
const META_COLUMNS: [&str; 6] = [
    "group-id",
    "n-comments",
    "n-votes",
    "n-agree",
    "n-disagree",
    "xid",
];

/// Parses `participant,<tid>,<tid>,...` rows with cells 1 (agree), -1 (disagree), 0 (pass) or
/// blank (not voted). Polis's `participants-votes.csv` reads as is (its extra columns are
/// recognised). A repeated participant row replaces the earlier one's cells, the later winning.
pub fn parse_matrix_csv(text: &str, source_name: &str) -> Result<MatrixCsv> {
    let csv_err = |source| ConsensusError::Csv {
        source_name: source_name.into(),
        source,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let header = rdr.headers().map_err(csv_err)?.clone();
    if header.is_empty() {
        return Err(ConsensusError::Empty);
    }
    // Column role: None for the participant and recognised metadata, Some(tid) for statements.
    let mut group_col = None;
    let mut cols: Vec<Option<u64>> = vec![None];
    for (c, name) in header.iter().enumerate().skip(1) {
        let name = name.trim();
        if name == "group-id" {
            group_col = Some(c);
            cols.push(None);
        } else if META_COLUMNS.contains(&name) {
            cols.push(None);
        } else {
            let tid = name.parse::<u64>().map_err(|_| {
                bad(
                    source_name,
                    "header".into(),
                    name,
                    "column is not a statement id (a non-negative integer)",
                )
            })?;
            cols.push(Some(tid));
        }
    }
    let mut out = MatrixCsv::default();
    let mut seen_rows: HashMap<u64, usize> = HashMap::new();
    for (r, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(csv_err)?;
        let item = format!("row {}", r + 2);
        let pid_text = rec.get(0).unwrap_or("").trim();
        let pid = pid_text.parse::<u64>().map_err(|_| {
            bad(
                source_name,
                item.clone(),
                header.get(0).unwrap_or("participant"),
                format!("{pid_text:?} is not a participant id"),
            )
        })?;
        if seen_rows.insert(pid, r).is_some() {
            out.votes.retain(|v| v.pid != pid);
        }
        if let Some(g) = group_col {
            let cell = rec.get(g).unwrap_or("").trim();
            if !cell.is_empty() {
                let gid = cell.parse::<u64>().map_err(|_| {
                    bad(
                        source_name,
                        item.clone(),
                        "group-id",
                        format!("{cell:?} is not a group id"),
                    )
                })?;
                out.published_groups.insert(pid, gid);
            }
        }
        for (c, role) in cols.iter().enumerate() {
            let Some(tid) = role else { continue };
            let cell = rec.get(c).unwrap_or("").trim();
            if cell.is_empty() {
                continue;
            }
            let value = match cell {
                "1" | "1.0" => 1,
                "-1" | "-1.0" => -1,
                "0" | "0.0" => 0,
                _ => {
                    return Err(bad(
                        source_name,
                        item,
                        &tid.to_string(),
                        format!("{cell:?} is not 1, -1, 0 or blank"),
                    ));
                }
            };
            // Row order stands in for time: a later row's vote is the later vote.
            out.votes.push(VoteEvent {
                pid,
                tid: *tid,
                value,
                at: None,
            });
        }
    }
    Ok(out)
}

/// The error for a CSV that cannot be read, naming its source.
fn csv_error(source_name: &str) -> impl Fn(csv::Error) -> ConsensusError + Copy + '_ {
    move |source| ConsensusError::Csv {
        source_name: source_name.into(),
        source,
    }
}

/// A CSV reader over `text` and the positions of the `names`d columns; a missing one is an error
/// naming it.
fn csv_with_columns<'t, const N: usize>(
    text: &'t str,
    source_name: &str,
    names: [&str; N],
) -> Result<(csv::Reader<&'t [u8]>, [usize; N])> {
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header = rdr.headers().map_err(csv_error(source_name))?.clone();
    let mut cols = [0; N];
    for (c, name) in cols.iter_mut().zip(names) {
        *c = header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(source_name, "header".into(), name, "column missing"))?;
    }
    Ok((rdr, cols))
}

/// Parses Polis's open-data vote log `votes.csv` (`timestamp,datetime,comment-id,voter-id,vote`,
/// agree = 1), keeping the times so `in-conv` can be replayed.
pub fn parse_votes_csv(text: &str, source_name: &str) -> Result<Vec<VoteEvent>> {
    let csv_err = csv_error(source_name);
    let (mut rdr, [at_col, tid_col, pid_col, vote_col]) = csv_with_columns(
        text,
        source_name,
        ["timestamp", "comment-id", "voter-id", "vote"],
    )?;
    let mut out = Vec::new();
    for (r, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(csv_err)?;
        let item = format!("row {}", r + 2);
        let num = |c: usize, name: &str| {
            let t = rec.get(c).unwrap_or("").trim();
            t.parse::<u64>().map_err(|_| {
                bad(
                    source_name,
                    item.clone(),
                    name,
                    format!("{t:?} is not a number"),
                )
            })
        };
        let at = num(at_col, "timestamp")? as i64;
        let tid = num(tid_col, "comment-id")?;
        let pid = num(pid_col, "voter-id")?;
        let cell = rec.get(vote_col).unwrap_or("").trim();
        let value = match cell {
            "1" => 1,
            "-1" => -1,
            "0" => 0,
            _ => {
                return Err(bad(
                    source_name,
                    item,
                    "vote",
                    format!("{cell:?} is not 1, -1 or 0"),
                ));
            }
        };
        out.push(VoteEvent {
            pid,
            tid,
            value,
            at: Some(at),
        });
    }
    Ok(out)
}

/// Statements rejected by moderation in Polis's open-data `comments.csv`.
pub fn moderated_out_csv(text: &str, source_name: &str) -> Result<BTreeSet<u64>> {
    let csv_err = csv_error(source_name);
    let (mut rdr, [tid_col, mod_col]) =
        csv_with_columns(text, source_name, ["comment-id", "moderated"])?;
    let mut out = BTreeSet::new();
    for (r, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(csv_err)?;
        let item = format!("row {}", r + 2);
        let tid_text = rec.get(tid_col).unwrap_or("").trim();
        let tid = tid_text.parse::<u64>().map_err(|_| {
            bad(
                source_name,
                item.clone(),
                "comment-id",
                format!("{tid_text:?} is not a number"),
            )
        })?;
        if rec.get(mod_col).unwrap_or("").trim() == "-1" {
            out.insert(tid);
        }
    }
    Ok(out)
}

/// The statements' text in Polis's open-data `comments.csv` (`comment-id`, `comment-body`).
pub fn comment_texts_csv(text: &str, source_name: &str) -> Result<BTreeMap<u64, String>> {
    let csv_err = csv_error(source_name);
    let (mut rdr, [tid_col, body_col]) =
        csv_with_columns(text, source_name, ["comment-id", "comment-body"])?;
    let mut out = BTreeMap::new();
    for (r, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(csv_err)?;
        let tid_text = rec.get(tid_col).unwrap_or("").trim();
        let tid = tid_text.parse::<u64>().map_err(|_| {
            bad(
                source_name,
                format!("row {}", r + 2),
                "comment-id",
                format!("{tid_text:?} is not a number"),
            )
        })?;
        out.insert(tid, rec.get(body_col).unwrap_or("").to_owned());
    }
    Ok(out)
}

/// Adjusted Rand index between two labelings of the same items (1 = identical partitions).
pub fn adjusted_rand(a: &[u64], b: &[u64]) -> f64 {
    let mut table: HashMap<(u64, u64), u64> = HashMap::new();
    let mut ra: HashMap<u64, u64> = HashMap::new();
    let mut rb: HashMap<u64, u64> = HashMap::new();
    for (x, y) in a.iter().zip(b) {
        *table.entry((*x, *y)).or_default() += 1;
        *ra.entry(*x).or_default() += 1;
        *rb.entry(*y).or_default() += 1;
    }
    let c2 = |n: u64| (n * n.saturating_sub(1)) as f64 / 2.0;
    let index: f64 = table.values().map(|&n| c2(n)).sum();
    let sa: f64 = ra.values().map(|&n| c2(n)).sum();
    let sb: f64 = rb.values().map(|&n| c2(n)).sum();
    let total = c2(a.len() as u64);
    let expected = sa * sb / total;
    let max = (sa + sb) / 2.0;
    if max == expected {
        1.0
    } else {
        (index - expected) / (max - expected)
    }
}
