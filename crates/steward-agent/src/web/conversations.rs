//! Conversations on the desk: a consensus analysis the user saved with `steward consensus polis
//! DIR --save NAME`, kept in the store's `meta` table under `consensus.NAME`, drawn as an opinion
//! map (SVG) with the groups' representative statements, consensus statements, cruxes and bloc
//! warnings. Statement text comes from the conversation's comments.json: it is untrusted and is
//! HTML-escaped everywhere it appears, the SVG included.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};
use steward_core::consensus::{Analysis, RepfulFor};

use super::pages::esc;
use crate::store::Store;
use crate::{Error, Result};

/// The `meta` key prefix of saved conversations (`consensus.NAME`).
pub const CONVERSATION_META_PREFIX: &str = "consensus.";

/// The most characters a saved conversation's name may have.
const MAX_NAME: usize = 64;

/// What the desk shows of one conversation: the analysis cut down to what is drawn and listed,
/// plus the statements' text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedConversation {
    pub name: String,
    /// Where it was read from (the folder given to the CLI).
    pub source: String,
    /// The user's own participant id in this conversation, if they said (`--me`).
    pub me: Option<u64>,
    pub n_statements: usize,
    /// Every participant's position; `group` is None for those Polis keeps out of the clustering.
    pub participants: Vec<Point>,
    pub groups: Vec<SavedGroup>,
    pub consensus_agree: Vec<u64>,
    pub consensus_disagree: Vec<u64>,
    pub cruxes: Vec<SavedCrux>,
    pub blocs: Vec<SavedBloc>,
    /// Consensus agree with each bloc counted once (shown beside a bloc warning).
    pub consensus_agree_one_per_bloc: Vec<u64>,
    /// Statement text by statement id (from comments.json; may be empty).
    pub texts: BTreeMap<u64, String>,
    /// The user's own votes (`--me`), by statement id, in Steward's convention: agree = 1,
    /// disagree = -1, pass = 0; the last vote on each statement. Published with the user's views
    /// as their Polis-style vote vector (`steward views publish`).
    #[serde(default)]
    pub my_votes: BTreeMap<u64, i8>,
    /// Consensus disagree with each bloc counted once (what the consensus summary may rest on).
    #[serde(default)]
    pub consensus_disagree_one_per_bloc: Vec<u64>,
    /// The summaries of common ground (`steward consensus summarize`); cleared when the analysis
    /// is saved again, since they rest on it.
    #[serde(default)]
    pub summaries: Option<crate::summaries::ConversationSummaries>,
}

/// The last vote of participant `me` on each statement (in time order, as the engine reads them).
pub fn votes_of(conv: &steward_core::consensus::Conversation, me: u64) -> BTreeMap<u64, i8> {
    let mut mine: Vec<&steward_core::consensus::VoteEvent> =
        conv.votes.iter().filter(|v| v.pid == me).collect();
    // Stable: votes without a time keep file order.
    mine.sort_by_key(|v| v.at.unwrap_or(i64::MIN));
    mine.into_iter().map(|v| (v.tid, v.value)).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub pid: u64,
    pub x: f64,
    pub y: f64,
    pub group: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedGroup {
    pub id: usize,
    pub size: usize,
    pub center: [f64; 2],
    pub repness: Vec<SavedRep>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedRep {
    pub tid: u64,
    /// true: the group agrees more than the rest; false: disagrees more.
    pub agree: bool,
    pub p_success: f64,
    pub repness: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedCrux {
    pub tid: u64,
    pub spread: f64,
    pub agree_by_group: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedBloc {
    pub size: usize,
    pub votes: usize,
}

fn bad(name: &str, message: String) -> Error {
    Error::Source {
        source_name: format!("conversation {name:?}"),
        message,
    }
}

/// Whether `name` may name a saved conversation (it is a URL path segment and a meta key).
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.chars().count() > MAX_NAME
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(bad(
            name,
            format!("name: use 1 to {MAX_NAME} letters, digits, '-', '_' or '.'"),
        ));
    }
    Ok(())
}

impl SavedConversation {
    /// Cuts `a` down to what the desk shows. `me` must be one of the conversation's participants.
    pub fn from_analysis(
        name: &str,
        source: &str,
        a: &Analysis,
        texts: BTreeMap<u64, String>,
        me: Option<u64>,
    ) -> Result<Self> {
        check_name(name)?;
        if let Some(pid) = me.filter(|p| !a.pids.contains(p)) {
            return Err(bad(
                name,
                format!("--me {pid}: no participant with that id voted"),
            ));
        }
        let group_of: BTreeMap<u64, usize> = a
            .groups
            .iter()
            .flat_map(|g| g.members.iter().map(move |p| (*p, g.id)))
            .collect();
        let participants = a
            .pids
            .iter()
            .zip(&a.projection)
            .map(|(pid, [x, y])| Point {
                pid: *pid,
                x: *x,
                y: *y,
                group: group_of.get(pid).copied(),
            })
            .collect();
        let groups = a
            .groups
            .iter()
            .zip(&a.repness)
            .map(|(g, reps)| SavedGroup {
                id: g.id,
                size: g.members.len(),
                center: g.center,
                repness: reps
                    .iter()
                    .map(|r| SavedRep {
                        tid: r.tid,
                        agree: r.repful_for == RepfulFor::Agree,
                        p_success: r.p_success,
                        repness: r.repness,
                    })
                    .collect(),
            })
            .collect();
        Ok(SavedConversation {
            name: name.to_owned(),
            source: source.to_owned(),
            me,
            n_statements: a.tids.len(),
            participants,
            groups,
            consensus_agree: a.consensus_agree.iter().map(|c| c.tid).collect(),
            consensus_disagree: a.consensus_disagree.iter().map(|c| c.tid).collect(),
            cruxes: a
                .cruxes
                .iter()
                .map(|c| SavedCrux {
                    tid: c.tid,
                    spread: c.spread,
                    agree_by_group: c.agree_by_group.clone(),
                })
                .collect(),
            blocs: a
                .blocs
                .iter()
                .map(|b| SavedBloc {
                    size: b.members.len(),
                    votes: b.votes,
                })
                .collect(),
            consensus_agree_one_per_bloc: a
                .consensus_agree_one_per_bloc
                .iter()
                .map(|c| c.tid)
                .collect(),
            texts,
            my_votes: BTreeMap::new(),
            consensus_disagree_one_per_bloc: a
                .consensus_disagree_one_per_bloc
                .iter()
                .map(|c| c.tid)
                .collect(),
            summaries: None,
        })
    }
}

/// The statements' text in a Polis comments.json (`tid` or `statement_id`; `txt` or `text`).
pub fn comment_texts(json: &str, source_name: &str) -> Result<BTreeMap<u64, String>> {
    let err = |message: String| Error::Source {
        source_name: source_name.to_owned(),
        message,
    };
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| err(format!("not valid JSON: {e}")))?;
    let items = v
        .as_array()
        .ok_or_else(|| err("expected an array of statements".into()))?;
    let mut out = BTreeMap::new();
    for (i, c) in items.iter().enumerate() {
        let Some(tid) = c
            .get("tid")
            .or_else(|| c.get("statement_id"))
            .and_then(serde_json::Value::as_u64)
        else {
            return Err(err(format!(
                "statement #{i}: field `tid`: missing or not a number"
            )));
        };
        if let Some(t) = c
            .get("txt")
            .or_else(|| c.get("text"))
            .and_then(serde_json::Value::as_str)
        {
            out.insert(tid, t.to_owned());
        }
    }
    Ok(out)
}

/// Keeps `c` in the store under its name (replacing one saved before), audited as `consensus`.
pub fn save(store: &mut Store, c: &SavedConversation) -> Result<()> {
    check_name(&c.name)?;
    let json = serde_json::to_string(c).map_err(|e| bad(&c.name, format!("encoding: {e}")))?;
    store.transaction(|tx| {
        tx.set_meta(&format!("{CONVERSATION_META_PREFIX}{}", c.name), &json)?;
        tx.audit(
            &steward_core::AuditRecord::new("consensus", c.name.clone())
                .input("analysis", json.as_bytes())
                .detail(serde_json::json!({
                    "source": c.source,
                    "participants": c.participants.len(),
                    "groups": c.groups.len(),
                })),
        )
        .map(|_| ())
    })
}

/// The saved conversations, by name.
pub fn list(store: &Store) -> Result<Vec<SavedConversation>> {
    let mut out = Vec::new();
    for (key, value) in store.meta_with_prefix(CONVERSATION_META_PREFIX)? {
        let name = &key[CONVERSATION_META_PREFIX.len()..];
        out.push(
            serde_json::from_str(&value)
                .map_err(|e| bad(name, format!("the saved analysis does not read: {e}")))?,
        );
    }
    Ok(out)
}

/// One saved conversation.
pub fn load(store: &Store, name: &str) -> Result<Option<SavedConversation>> {
    check_name(name)?;
    store
        .meta(&format!("{CONVERSATION_META_PREFIX}{name}"))?
        .map(|v| {
            serde_json::from_str(&v)
                .map_err(|e| bad(name, format!("the saved analysis does not read: {e}")))
        })
        .transpose()
}

/// Polis's group labels: A, B, C...
fn label(id: usize) -> String {
    char::from_u32(u32::try_from(id % 26).unwrap_or(0) + u32::from(b'A'))
        .unwrap_or('?')
        .to_string()
}

const COLOURS: [&str; 6] = [
    "#3b6fd8", "#e07b00", "#2e8b57", "#b03a9a", "#8a6d3b", "#4aa3a3",
];

fn colour(id: usize) -> &'static str {
    COLOURS[id % COLOURS.len()]
}

/// The range to draw for `v`, with a margin; a fixed one when there is nothing or one value.
fn bounds(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = v
        .filter(|x| x.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
    if lo > hi {
        (-1.0, 1.0)
    } else if hi - lo < 1e-9 {
        (lo - 1.0, hi + 1.0)
    } else {
        let m = (hi - lo) * 0.05;
        (lo - m, hi + m)
    }
}

const MW: f64 = 560.0;
const MH: f64 = 420.0;
const MPAD: f64 = 30.0;

/// The opinion map: every clustered participant a dot (class `ptpt`) on the two components,
/// coloured by group; each group's centre labelled; the user's own position ringed (`id="me"`).
/// Participants outside the clustering are not drawn (Polis does not place them either).
pub(crate) fn opinion_map(c: &SavedConversation) -> String {
    let me =
        c.me.and_then(|pid| c.participants.iter().find(|p| p.pid == pid));
    let shown: Vec<&Point> = c
        .participants
        .iter()
        .filter(|p| p.group.is_some())
        .collect();
    let xs = shown
        .iter()
        .map(|p| p.x)
        .chain(me.map(|p| p.x))
        .chain(c.groups.iter().map(|g| g.center[0]));
    let ys = shown
        .iter()
        .map(|p| p.y)
        .chain(me.map(|p| p.y))
        .chain(c.groups.iter().map(|g| g.center[1]));
    let (x0, x1) = bounds(xs);
    let (y0, y1) = bounds(ys);
    let px = |x: f64, y: f64| {
        (
            MPAD + (x - x0) / (x1 - x0) * (MW - 2.0 * MPAD),
            MH - MPAD - (y - y0) / (y1 - y0) * (MH - 2.0 * MPAD),
        )
    };
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"opinion-map\" width=\"{MW}\" height=\"{MH}\" viewBox=\"0 0 {MW} {MH}\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\"><title>Opinion map of {}</title><rect width=\"{MW}\" height=\"{MH}\" fill=\"#fff\" stroke=\"#dde1e8\"/>",
        esc(&c.name)
    );
    // The axes through the origin, where it is in view.
    if x0 < 0.0 && x1 > 0.0 {
        let (x, _) = px(0.0, 0.0);
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{MPAD}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#ddd\"/>",
            MH - MPAD
        );
    }
    if y0 < 0.0 && y1 > 0.0 {
        let (_, y) = px(0.0, 0.0);
        let _ = write!(
            s,
            "<line x1=\"{MPAD}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>",
            MW - MPAD
        );
    }
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">component 1</text><text x=\"12\" y=\"{}\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">component 2</text>",
        MW / 2.0,
        MH - 8.0,
        MH / 2.0,
        MH / 2.0
    );
    for p in &shown {
        let g = p.group.unwrap_or(0);
        let (x, y) = px(p.x, p.y);
        let _ = write!(
            s,
            "<circle class=\"ptpt\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{}\" fill-opacity=\"0.7\"><title>participant {} · group {}</title></circle>",
            colour(g),
            p.pid,
            label(g)
        );
    }
    for g in &c.groups {
        let (x, y) = px(g.center[0], g.center[1]);
        let _ = write!(
            s,
            "<g class=\"group-centre\"><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"11\" fill=\"#fff\" stroke=\"{col}\" stroke-width=\"2\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\" fill=\"{col}\">{}</text><title>group {} · {} participants</title></g>",
            y + 4.5,
            label(g.id),
            label(g.id),
            g.size,
            col = colour(g.id)
        );
    }
    if let Some(p) = me {
        let (x, y) = px(p.x, p.y);
        let _ = write!(
            s,
            "<g id=\"me\"><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"8\" fill=\"none\" stroke=\"#111\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"bold\">you</text><title>you (participant {})</title></g>",
            x + 10.0,
            y - 8.0,
            p.pid
        );
    }
    s.push_str("</svg>");
    s
}

fn statement(c: &SavedConversation, tid: u64) -> String {
    match c.texts.get(&tid) {
        Some(t) => format!(
            "<span class=\"tid\">#{tid}</span> <span class=\"stmt\">{}</span>",
            esc(t)
        ),
        None => format!("<span class=\"tid\">#{tid}</span> <span class=\"muted\">(no text)</span>"),
    }
}

fn list_of(c: &SavedConversation, id: &str, title: &str, tids: &[u64]) -> String {
    let mut b = format!("<div class=\"card\" id=\"{id}\"><h2>{title}</h2>");
    if tids.is_empty() {
        b.push_str("<p class=\"muted\">None.</p>");
    } else {
        b.push_str("<ul>");
        for t in tids {
            let _ = write!(b, "<li>{}</li>", statement(c, *t));
        }
        b.push_str("</ul>");
    }
    b.push_str("</div>");
    b
}

/// One summary: its sentences, each followed by its cites linking to the statements (listed at
/// the foot of the page with `id="s-N"`), and its note. Model text is escaped like statements.
fn summary_html(s: &steward_core::consensus::summary::Summary, id: &str) -> String {
    let mut b = format!(
        "<div class=\"summary{}\" id=\"{id}\">",
        if s.extractive { " extractive" } else { "" }
    );
    if !s.sentences.is_empty() {
        b.push_str("<p>");
        for x in &s.sentences {
            let cites: Vec<String> = x
                .cites
                .iter()
                .map(|t| format!("<a class=\"cite\" href=\"#s-{t}\">{t}</a>"))
                .collect();
            let _ = write!(
                b,
                "<span class=\"sentence\">{} [{}]</span> ",
                esc(&x.text),
                cites.join(", ")
            );
        }
        b.push_str("</p>");
    }
    let mut notes = Vec::new();
    if let Some(n) = &s.note {
        notes.push(esc(n));
    }
    if let Some(m) = &s.model {
        notes.push(format!("written by {}", esc(m)));
    }
    if !s.dropped.is_empty() {
        notes.push(format!(
            "{} sentence(s) dropped by the checks",
            s.dropped.len()
        ));
    }
    if !notes.is_empty() {
        let _ = write!(b, "<p class=\"muted\">{}</p>", notes.join(" · "));
    }
    b.push_str("</div>");
    b
}

/// The statements the summaries cite, each with its anchor (`s-N`).
fn cited_statements(c: &SavedConversation, x: &crate::summaries::ConversationSummaries) -> String {
    let cited: std::collections::BTreeSet<u64> = x
        .all()
        .flat_map(|s| s.sentences.iter().flat_map(|t| t.cites.iter().copied()))
        .collect();
    let mut b =
        "<div class=\"card\" id=\"cited\"><h2>Statements the summaries cite</h2><ul>".to_owned();
    for t in cited {
        let _ = write!(b, "<li id=\"s-{t}\">{}</li>", statement(c, t));
    }
    b.push_str("</ul></div>");
    b
}

/// The list of saved conversations.
pub(crate) fn index_page(cs: &[SavedConversation]) -> String {
    let mut b = String::new();
    if cs.is_empty() {
        b.push_str("<p class=\"muted\" id=\"no-conversations\">No conversation saved yet: run <code>steward consensus polis DIR --save NAME [--me PID]</code>.</p>");
    } else {
        b.push_str("<table id=\"conversations\"><tr><th>name</th><th>participants</th><th>groups</th><th>statements</th><th>source</th></tr>");
        for c in cs {
            let _ = write!(
                b,
                "<tr><td><a href=\"/conversations/{n}\">{n}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"muted\">{}</td></tr>",
                c.participants.len(),
                c.groups.len(),
                c.n_statements,
                esc(&c.source),
                n = esc(&c.name)
            );
        }
        b.push_str("</table>");
    }
    super::pages::page("Conversations", None, &b)
}

/// One conversation: the map, then the groups' statements, consensus, cruxes and blocs.
#[cfg(test)]
pub(crate) fn conversation_page(c: &SavedConversation, views: Option<&str>) -> String {
    conversation_page_with_form(c, views, None, None)
}

/// [`conversation_page`], with the form that edits the views draft when `csrf` is given (the
/// desk's session token) and `msg` on top.
pub(crate) fn conversation_page_with_form(
    c: &SavedConversation,
    views: Option<&str>,
    csrf: Option<&str>,
    msg: Option<&str>,
) -> String {
    let clustered = c.participants.iter().filter(|p| p.group.is_some()).count();
    let mut b = format!(
        "<p class=\"muted\">{} participants ({clustered} clustered), {} statements, {} groups · from {}</p>",
        c.participants.len(),
        c.n_statements,
        c.groups.len(),
        esc(&c.source)
    );
    for bl in &c.blocs {
        let _ = write!(
            b,
            "<p class=\"card flag-warn bloc\">Bloc warning: {} participants cast the same {} votes. Counted once, the consensus agree statements are: {}.</p>",
            bl.size,
            bl.votes,
            if c.consensus_agree_one_per_bloc.is_empty() {
                "none".to_owned()
            } else {
                c.consensus_agree_one_per_bloc
                    .iter()
                    .map(|t| format!("#{t}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
    let me_line = match c
        .me
        .and_then(|pid| c.participants.iter().find(|p| p.pid == pid))
    {
        Some(p) => format!(
            "You are participant {}{}.",
            p.pid,
            p.group
                .map(|g| format!(", in group {}", label(g)))
                .unwrap_or_else(|| " (not clustered)".into())
        ),
        None => "Mark yourself with <code>--me PID</code> when saving.".into(),
    };
    let _ = write!(
        b,
        "<div class=\"card\">{}<p class=\"muted\" id=\"me-line\">{me_line}</p></div>",
        opinion_map(c)
    );
    for g in &c.groups {
        let _ = write!(
            b,
            "<div class=\"card group\" id=\"group-{l}\"><h2 style=\"color:{col}\">Group {l} <span class=\"muted\">({n} participants)</span></h2>",
            l = label(g.id),
            col = colour(g.id),
            n = g.size
        );
        if g.repness.is_empty() {
            b.push_str("<p class=\"muted\">No representative statements.</p>");
        } else {
            b.push_str("<ul>");
            for r in &g.repness {
                let _ = write!(
                    b,
                    "<li><span class=\"pill {cls}\">{word} {pct:.0}%</span> {}</li>",
                    statement(c, r.tid),
                    cls = if r.agree { "vote" } else { "skip" },
                    word = if r.agree { "agree" } else { "disagree" },
                    pct = r.p_success * 100.0
                );
            }
            b.push_str("</ul>");
        }
        if let Some(s) = c.summaries.as_ref().and_then(|x| x.groups.get(g.id)) {
            b.push_str(&summary_html(s, &format!("summary-group-{}", label(g.id))));
        }
        b.push_str("</div>");
    }
    if let Some(x) = &c.summaries {
        let _ = write!(
            b,
            "<div class=\"card\"><h2>Summary of common ground</h2>{}</div>",
            summary_html(&x.consensus, "summary-consensus")
        );
    }
    b.push_str(&list_of(
        c,
        "consensus-agree",
        "Common ground: most agree",
        &c.consensus_agree,
    ));
    b.push_str(&list_of(
        c,
        "consensus-disagree",
        "Common ground: most disagree",
        &c.consensus_disagree,
    ));
    b.push_str("<div class=\"card\" id=\"cruxes\"><h2>Cruxes: what splits the groups</h2>");
    if c.cruxes.is_empty() {
        b.push_str("<p class=\"muted\">None.</p>");
    } else {
        b.push_str("<ul>");
        for x in &c.cruxes {
            let by: Vec<String> = x
                .agree_by_group
                .iter()
                .zip(&c.groups)
                .map(|(p, g)| format!("{} {:.0}%", label(g.id), p * 100.0))
                .collect();
            let _ = write!(
                b,
                "<li>{} <span class=\"muted\">agree: {}</span></li>",
                statement(c, x.tid),
                by.join(" · ")
            );
        }
        b.push_str("</ul>");
    }
    b.push_str("</div>");
    if let Some(x) = &c.summaries {
        b.push_str(&cited_statements(c, x));
    }
    // Beside the common ground: the user's own views, as last drafted (`views draft --save`).
    let _ = write!(
        b,
        "<div class=\"card\" id=\"my-views\"><h2>Your views (draft)</h2>{}</div>",
        match views {
            Some(v) => {
                let mut h = format!("<pre class=\"views\">{}</pre>", esc(v));
                // Edited here, the draft goes through the privacy filter again before it is kept.
                if let Some(token) = csrf {
                    let _ = write!(
                        h,
                        "<details id=\"edit-views\"><summary>Edit the draft</summary><form method=\"post\" action=\"/conversations/{}/views\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><textarea name=\"views\" rows=\"14\" cols=\"80\">{}</textarea><p><button type=\"submit\">Save the draft</button> <span class=\"muted\">Checked again for private items before it is kept.</span></p></form></details>",
                        esc(&c.name),
                        esc(token),
                        esc(v)
                    );
                }
                h
            }
            None => "<p class=\"muted\">Run <code>steward views draft --save</code> to show your draft here.</p>".to_owned(),
        }
    );
    super::pages::page(&format!("Conversation {}", c.name), msg, &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SavedConversation {
        SavedConversation {
            name: "t".into(),
            source: "dir".into(),
            me: Some(7),
            n_statements: 2,
            participants: vec![
                Point {
                    pid: 1,
                    x: -1.0,
                    y: 0.5,
                    group: Some(0),
                },
                Point {
                    pid: 2,
                    x: 1.0,
                    y: -0.5,
                    group: Some(1),
                },
                Point {
                    pid: 3,
                    x: 0.9,
                    y: -0.4,
                    group: Some(1),
                },
                // Out of the clustering: not drawn, but still the user's position.
                Point {
                    pid: 7,
                    x: 5.0,
                    y: 5.0,
                    group: None,
                },
            ],
            groups: vec![
                SavedGroup {
                    id: 0,
                    size: 1,
                    center: [-1.0, 0.5],
                    repness: vec![SavedRep {
                        tid: 0,
                        agree: true,
                        p_success: 0.9,
                        repness: 2.0,
                    }],
                },
                SavedGroup {
                    id: 1,
                    size: 2,
                    center: [0.95, -0.45],
                    repness: vec![],
                },
            ],
            consensus_agree: vec![1],
            consensus_disagree: vec![],
            cruxes: vec![],
            blocs: vec![],
            consensus_agree_one_per_bloc: vec![],
            texts: BTreeMap::from([
                (0, "<script>alert(1)</script>".to_owned()),
                (1, "Fund the commons & more".to_owned()),
            ]),
            my_votes: BTreeMap::from([(0, 1), (1, -1)]),
            consensus_disagree_one_per_bloc: vec![],
            summaries: None,
        }
    }

    #[test]
    fn map_draws_one_dot_per_clustered_participant_and_marks_the_user() {
        let c = sample();
        let svg = opinion_map(&c);
        assert_eq!(svg.matches("class=\"ptpt\"").count(), 3, "{svg}");
        assert_eq!(svg.matches("class=\"group-centre\"").count(), 2);
        assert!(svg.contains(">A</text>") && svg.contains(">B</text>"));
        assert!(svg.contains("id=\"me\"") && svg.contains("participant 7"));
        // Every coordinate is inside the frame, the user's far-off point included.
        for part in svg.split("cx=\"").skip(1) {
            let x: f64 = part[..part.find('"').expect("quote")]
                .parse()
                .expect("number");
            assert!((0.0..=MW).contains(&x), "{x}");
        }
        let mut no_me = c.clone();
        no_me.me = None;
        assert!(!opinion_map(&no_me).contains("id=\"me\""));
        // Nothing to draw still draws a frame, without NaN.
        no_me.participants.clear();
        no_me.groups.clear();
        let empty = opinion_map(&no_me);
        assert!(!empty.contains("NaN") && empty.ends_with("</svg>"));
    }

    #[test]
    fn page_escapes_statement_text() {
        let mut c = sample();
        c.name = "a<b".into();
        let html = conversation_page(&c, Some("# My views\n\n- I support <b>audits</b>"));
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(
            html.contains("I support &lt;b&gt;audits&lt;/b&gt;"),
            "{html}"
        );
        assert!(conversation_page(&c, None).contains("views draft --save"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("Fund the commons &amp; more"));
        assert!(!opinion_map(&c).contains("a<b"));
    }

    #[test]
    fn page_shows_summaries_escaped_with_cites_anchored() {
        use steward_core::consensus::summary::{Dropped, Sentence, Summary};
        let mut c = sample();
        let sum = |subject: &str, text: &str, cites: Vec<u64>| Summary {
            subject: subject.into(),
            allowed: cites.clone(),
            sentences: vec![Sentence {
                text: text.into(),
                cites,
            }],
            extractive: false,
            note: None,
            dropped: vec![Dropped {
                text: "x".into(),
                reason: "cites #9".into(),
            }],
            model: Some("SmolLM2".into()),
        };
        c.summaries = Some(crate::summaries::ConversationSummaries {
            groups: vec![
                sum("group A", "They <b>back</b> \"alert\" & more.", vec![0]),
                sum("group B", "Commons.", vec![1]),
            ],
            consensus: sum("consensus", "Most fund the commons.", vec![1]),
            cruxes: vec![],
        });
        let html = conversation_page(&c, None);
        assert!(html.contains("id=\"summary-group-A\""), "{html}");
        assert!(html.contains("id=\"summary-consensus\""));
        assert!(
            html.contains("They &lt;b&gt;back&lt;/b&gt; &quot;alert&quot; &amp; more."),
            "{html}"
        );
        assert!(!html.contains("<b>back"));
        assert!(html.contains("href=\"#s-0\""));
        assert!(html.contains("<li id=\"s-0\">") && html.contains("<li id=\"s-1\">"));
        assert!(html.contains("1 sentence(s) dropped"));
        assert!(!conversation_page(&sample(), None).contains("summary-consensus"));
    }

    #[test]
    fn names_and_texts_are_checked() {
        assert!(check_name("polis-150.v2").is_ok());
        for bad in ["", "a/b", "../x", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        let t = comment_texts(
            r#"[{"tid":3,"txt":"hi"},{"statement_id":4,"text":"yo"}]"#,
            "c",
        )
        .expect("texts");
        assert_eq!(t[&3], "hi");
        assert_eq!(t[&4], "yo");
        let e = comment_texts(r#"[{"txt":"no id"}]"#, "comments.json").expect_err("no tid");
        assert!(e.to_string().contains("statement #0"), "{e}");
    }
}
