//! Server-rendered pages. Everything that came from outside (proposal text, forum posts, the
//! user's own writing) is HTML-escaped; nothing is ever inserted raw.

use std::fmt::Write;

use steward_core::{AuditEntry, Decision, DecisionAction};

use crate::StoredProposal;
use crate::audit::{AuditReport, AuditVerifyError};
use crate::profile::{Peer, ProfileItem, VoteRecord};
use crate::questions::Question;

pub(crate) const CSS: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
nav{background:#1d2330;padding:.6em 1.2em}nav a{color:#e8ecf3;margin-right:1.2em;text-decoration:none}
main{max-width:980px;margin:1.2em auto;padding:0 1em}h1{font-size:1.4em}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:1em 1.2em;margin:.8em 0}
.msg{background:#e7f6ea;border:1px solid #9fd3aa;padding:.6em 1em;border-radius:6px}
.flag-critical{color:#a40000;font-weight:600}.flag-warn{color:#9a5b00}.flag-info{color:#555}
.muted{color:#667}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e3e6ec;padding:.35em .5em;text-align:left;vertical-align:top}
.pill{display:inline-block;padding:0 .5em;border-radius:9px;background:#eef;font-size:.85em}
.vote{background:#e3f4e6}.ask{background:#fff1d6}.skip{background:#eee}
form.inline{display:inline}button{padding:.3em .9em}textarea{width:100%;min-height:3em}";

pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

pub(crate) fn page(title: &str, msg: Option<&str>, body: &str) -> String {
    let msg = msg
        .map(|m| format!("<p class=\"msg\" id=\"msg\">{}</p>", esc(m)))
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · Steward</title><link rel=\"stylesheet\" href=\"/style.css\"></head><body><nav><a href=\"/questions\">Questions</a><a href=\"/decisions\">Decisions</a><a href=\"/proposals\">Proposals</a><a href=\"/profile\">Profile</a><a href=\"/evaluation\">Evaluation</a><a href=\"/conversations\">Conversations</a><a href=\"/daos\">DAOs</a><a href=\"/activity\">Activity</a><a href=\"/settings\">Settings</a></nav><main><h1>{t}</h1>{msg}{body}</main></body></html>",
        t = esc(title)
    )
}

pub(crate) fn message(title: &str, text: &str) -> String {
    page(
        title,
        None,
        &format!(
            "<p id=\"message\">{}</p><p><a href=\"/questions\">Back to questions</a></p>",
            esc(text)
        ),
    )
}

fn when(ts: Option<i64>) -> String {
    ts.and_then(|t| jiff::Timestamp::from_second(t).ok())
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(csrf)
    )
}

pub(crate) fn questions(
    qs: &[Question],
    digest: &[crate::digest::DigestLine],
    msg: Option<&str>,
) -> String {
    let mut b = String::new();
    let open: Vec<&Question> = qs.iter().filter(|q| q.status == "open").collect();
    if open.is_empty() {
        b.push_str("<p class=\"muted\" id=\"no-questions\">No open questions.</p>");
    }
    for q in &open {
        let _ = write!(
            b,
            "<div class=\"card question\" id=\"q{id}\"><a href=\"/questions/{id}\"><b>{title}</b></a><br><span class=\"muted\">deadline {dl} · leaning {lean} ({p:.0}%)</span></div>",
            id = q.id,
            title = esc(&q.context.title),
            dl = when(q.deadline),
            lean = esc(q.context.lean.as_deref().unwrap_or("-")),
            p = q.context.lean_probability * 100.0
        );
    }
    let closed: Vec<&Question> = qs.iter().filter(|q| q.status != "open").take(50).collect();
    if !closed.is_empty() {
        b.push_str("<h2>Earlier</h2><table>");
        for q in closed {
            let _ = write!(
                b,
                "<tr><td><a href=\"/questions/{}\">{}</a></td><td>{}</td><td>{}</td></tr>",
                q.id,
                esc(&q.context.title),
                esc(&q.status),
                esc(q.answer.as_deref().unwrap_or(""))
            );
        }
        b.push_str("</table>");
    }
    // The digest: what the question budget (or the policy) left unasked, one line each.
    if !digest.is_empty() {
        let _ = write!(
            b,
            "<h2 id=\"digest\">Not asked (last 7 days)</h2><p class=\"muted\">{} proposal(s) the agent neither voted nor asked about: over the question budget (<code>decide.questions_per_round</code>, <code>decide.questions_per_day</code>) or unsure and of low importance. Answer any of them with <code>steward vote</code>.</p><table>",
            digest.len()
        );
        for l in digest {
            let _ = write!(
                b,
                "<tr class=\"digest\"><td>{}</td><td>{}</td><td>leaning {} ({:.0}%)</td><td>ends {}</td><td>{}</td></tr>",
                esc(&l.title),
                l.why.words(),
                esc(l.lean.as_deref().unwrap_or("-")),
                l.confidence * 100.0,
                when(l.deadline),
                l.outcome.as_str()
            );
        }
        b.push_str("</table>");
    }
    page("Questions", msg, &b)
}

pub(crate) fn question(q: &Question, csrf: &str, msg: Option<&str>) -> String {
    let c = &q.context;
    let mut b = format!(
        "<div class=\"card\"><p><span class=\"pill\">{status}</span> proposal <code>{key}</code> · deadline {dl}</p><p><b>Summary.</b> {sum}</p><p><b>My lean:</b> {lean} ({p:.0}%)</p><p class=\"muted\">{why}</p></div>",
        status = esc(&q.status),
        key = esc(&q.proposal),
        dl = when(q.deadline),
        sum = esc(&c.summary),
        lean = esc(c.lean.as_deref().unwrap_or("-")),
        p = c.lean_probability * 100.0,
        why = esc(&c.why_asking)
    );
    let list = |title: &str, items: &[String]| -> String {
        if items.is_empty() {
            return String::new();
        }
        let mut s = format!("<div class=\"card\"><b>{}</b><ul>", esc(title));
        for i in items {
            let _ = write!(s, "<li>{}</li>", esc(i));
        }
        s.push_str("</ul></div>");
        s
    };
    let args = |v: &[crate::questions::Argument]| -> Vec<String> {
        v.iter()
            .map(|a| format!("{}: {}", a.author, a.excerpt))
            .collect()
    };
    b.push_str(&list(
        "Arguments for (from the forum)",
        &args(&c.arguments_for),
    ));
    b.push_str(&list(
        "Arguments against (from the forum)",
        &args(&c.arguments_against),
    ));
    b.push_str(&list("People you trust", &c.trusted));
    b.push_str(&list("What it does on-chain", &c.payload));
    let flags: Vec<String> = c.flags.clone();
    if !flags.is_empty() {
        b.push_str("<div class=\"card\"><b>Flags</b><ul>");
        for f in &flags {
            let class = if f.starts_with("critical") {
                "flag-critical"
            } else if f.starts_with("warn") {
                "flag-warn"
            } else {
                "flag-info"
            };
            let _ = write!(b, "<li class=\"{class}\">{}</li>", esc(f));
        }
        b.push_str("</ul></div>");
    }
    b.push_str(&list("From your own history", &c.history));
    if q.status == "open" {
        let _ = write!(
            b,
            "<form class=\"card\" id=\"answer\" method=\"post\" action=\"/questions/{}/answer\">{}<b>Your answer</b><br>",
            q.id,
            csrf_field(csrf)
        );
        // Nothing is preselected, the lean included: one careless click must not vote.
        for (i, ch) in c.choices.iter().enumerate() {
            let _ = write!(
                b,
                "<label><input type=\"radio\" name=\"choice\" value=\"{v}\" id=\"choice-{i}\" required> {v}</label><br>",
                v = esc(ch),
            );
        }
        b.push_str("<label>Why (optional; it teaches me)<textarea name=\"reason\" id=\"reason\"></textarea></label><button type=\"submit\" id=\"submit\">Answer</button></form>");
    } else if let Some(a) = &q.answer {
        let _ = write!(
            b,
            "<p class=\"card\" id=\"answered\">Answered <b>{}</b>{}</p>",
            esc(a),
            q.reason
                .as_deref()
                .map(|r| format!(": {}", esc(r)))
                .unwrap_or_default()
        );
    }
    page(&c.title, msg, &b)
}

pub(crate) fn decisions(ds: &[(i64, Decision)], csrf: &str, msg: Option<&str>) -> String {
    let mut b = String::from(
        "<p><img src=\"/plots/decisions.svg\" alt=\"decisions by confidence and importance\" width=\"480\" height=\"320\"> <img src=\"/plots/reliability.svg\" alt=\"how my leans matched your answers\" width=\"480\" height=\"320\"></p>",
    );
    if ds.is_empty() {
        b.push_str("<p class=\"muted\">No decisions yet: run <code>steward run</code>.</p>");
    }
    for (id, d) in ds {
        let class = match d.action {
            DecisionAction::Vote => "vote",
            DecisionAction::Ask => "ask",
            DecisionAction::Skip => "skip",
        };
        let _ = write!(
            b,
            "<div class=\"card {class}\" id=\"d{id}\"><b>{title}</b> <span class=\"pill\">{act} {choice}</span><br><span class=\"muted\">confidence {c:.2} · importance {i:.2} · <code>{key}</code></span><p>{why}</p>",
            title = esc(&d.title),
            act = d.action.as_str(),
            choice = esc(d.choice.as_deref().unwrap_or("")),
            c = d.confidence,
            i = d.importance,
            key = esc(&d.proposal),
            why = esc(&d.rationale)
        );
        if !d.evidence.is_empty() {
            b.push_str("<details><summary>Evidence</summary><ul>");
            for e in d.evidence.iter().take(8) {
                let _ = write!(
                    b,
                    "<li>{} {} ({:.2}): {}</li>",
                    esc(&e.kind),
                    esc(&e.id),
                    e.weight,
                    esc(&e.excerpt)
                );
            }
            b.push_str("</ul></details>");
        }
        let _ = write!(
            b,
            "<form class=\"inline override\" method=\"post\" action=\"/decisions/{}/override\">{}<select name=\"choice\" required><option value=\"\">choose…</option>",
            esc(&urlenc_path(&d.proposal)),
            csrf_field(csrf)
        );
        // The empty first option is what a browser shows selected, so no choice is preselected
        // and `required` makes the user pick one.
        for ch in &d.choices {
            let _ = write!(b, "<option value=\"{v}\">{v}</option>", v = esc(ch));
        }
        b.push_str("</select> <input name=\"reason\" placeholder=\"why\"> <button type=\"submit\">Override</button></form></div>");
    }
    page("Decisions", msg, &b)
}

fn urlenc_path(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(crate) fn proposals(
    ps: &[StoredProposal],
    space: Option<&str>,
    state: Option<&str>,
    flag: Option<&str>,
) -> String {
    let mut b = format!(
        "<form method=\"get\" action=\"/proposals\" class=\"card\">DAO <input name=\"space\" value=\"{}\"> state <select name=\"state\"><option value=\"\">any</option><option value=\"open\"{}>open</option></select> flag <input name=\"flag\" value=\"{}\"> <button>Filter</button></form><table><tr><th>title</th><th>source</th><th>state</th><th>ends</th><th>flags</th></tr>",
        esc(space.unwrap_or("")),
        if state == Some("open") {
            " selected"
        } else {
            ""
        },
        esc(flag.unwrap_or(""))
    );
    for sp in ps {
        let p = &sp.proposal;
        let flags: Vec<String> = p
            .flags
            .iter()
            .map(|f| {
                format!(
                    "<span class=\"flag-{}\">{}</span>",
                    format!("{:?}", f.severity).to_lowercase(),
                    esc(&f.kind)
                )
            })
            .collect();
        let _ = write!(
            b,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.title),
            esc(&sp.key),
            p.state.as_str(),
            when(p.end),
            flags.join(" ")
        );
    }
    b.push_str("</table>");
    page("Proposals", None, &b)
}

/// The cold-start interview: one card per proposal with its choices as radio buttons; a choice
/// left empty is not answered.
pub(crate) fn interview(
    items: &[crate::interview::InterviewItem],
    csrf: &str,
    msg: Option<&str>,
) -> String {
    let mut b = String::from(
        "<p class=\"muted\">Past proposals of the DAOs you follow on which voters disagreed most, spread over topics. Your answers count as your votes at once; leave one empty to skip it.</p>",
    );
    if items.is_empty() {
        b.push_str("<p class=\"muted\" id=\"no-interview\">Nothing left to ask.</p>");
        return page("Interview", msg, &b);
    }
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/profile/interview\" id=\"interview\">{}",
        csrf_field(csrf)
    );
    for (i, it) in items.iter().enumerate() {
        let split = esc(&it.split_words());
        let _ = write!(
            b,
            "<div class=\"card interview-item\"><b>{}</b> <span class=\"muted\">{} · {}</span><p>{}</p><p class=\"muted\">Voters: {split}</p>",
            esc(&it.title),
            esc(&it.dao),
            esc(it.topic.as_deref().unwrap_or("no topic")),
            esc(&it.summary)
        );
        for c in &it.choices {
            let _ = write!(
                b,
                "<label><input type=\"radio\" name=\"answer{i}\" value=\"{}\"> {}</label> ",
                esc(c),
                esc(c)
            );
        }
        let _ = write!(
            b,
            "<input type=\"hidden\" name=\"key{i}\" value=\"{}\"></div>",
            esc(&it.proposal)
        );
    }
    b.push_str("<button type=\"submit\">Record my answers</button></form>");
    page("Interview", msg, &b)
}

pub(crate) fn profile(
    items: &[ProfileItem],
    votes: &[VoteRecord],
    peers: &[Peer],
    summary: Option<&crate::profile::Summary>,
    csrf: &str,
    msg: Option<&str>,
) -> String {
    let mut b = format!(
        "<p><a href=\"/profile/interview\">Take the interview</a>: a few past proposals to answer, so I learn how you vote.</p><form class=\"card\" method=\"post\" action=\"/profile/say\" id=\"say\">{}<b>Tell me what you think</b><textarea name=\"text\" placeholder=\"I oppose treasury spending without milestones\"></textarea><button type=\"submit\">Add statement</button></form>",
        csrf_field(csrf)
    );
    if let Some(sum) = summary {
        b.push_str("<h2>What I learned</h2>");
        if sum.topics.is_empty() {
            b.push_str(
                "<p class=\"muted\">Nothing yet: add statements, writing or your votes.</p>",
            );
        }
        for t in &sum.topics {
            let _ = write!(
                b,
                "<div class=\"card topic\"><b>{}</b>: {} <span class=\"muted\">(for {}, against {}, abstain {})</span><ul>",
                esc(t.topic),
                esc(&t.leaning),
                t.for_count,
                t.against_count,
                t.abstain_count
            );
            for e in &t.evidence {
                let _ = write!(b, "<li>{}</li>", esc(e));
            }
            b.push_str("</ul></div>");
        }
        for c in &sum.contradictions {
            let _ = write!(b, "<p class=\"flag-warn\">Contradiction: {}</p>", esc(c));
        }
    }
    b.push_str("<h2>Statements, writing, answers</h2><table>");
    for i in items.iter().rev().take(200) {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><form class=\"inline\" method=\"post\" action=\"/profile/forget\">{}<input type=\"hidden\" name=\"id\" value=\"{}\"><button>Forget</button></form></td></tr>",
            i.id,
            i.kind.as_str(),
            i.stance.as_str(),
            esc(&i.text),
            csrf_field(csrf),
            i.id
        );
    }
    b.push_str("</table>");
    let _ = write!(b, "<h2>Your votes ({})</h2><table>", votes.len());
    for v in votes.iter().rev().take(100) {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td class=\"muted\">{}</td></tr>",
            esc(&v.choice),
            esc(&v.title),
            esc(v.reason.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</table><h2>Peers</h2><ul>");
    for p in peers {
        let _ = write!(
            b,
            "<li><code>{}</code> {}</li>",
            esc(&p.address),
            esc(&p.trust)
        );
    }
    b.push_str("</ul>");
    page("Profile", msg, &b)
}

pub(crate) fn activity(
    entries: &[AuditEntry],
    verdict: &Result<AuditReport, AuditVerifyError>,
    // Sections of other subsystems (attention bonds), already escaped.
    extra: &str,
) -> String {
    let mut b = match verdict {
        Ok(r) => format!(
            "<p class=\"msg\" id=\"verified\">Audit log verified: {} entries, hash chain and anchor intact.</p>",
            r.entries
        ),
        Err(e) => format!(
            "<p class=\"flag-critical\" id=\"verified\">Audit log does NOT verify: {}</p>",
            esc(&e.to_string())
        ),
    };
    b.push_str(extra);
    b.push_str(
        "<table><tr><th>#</th><th>time</th><th>kind</th><th>subject</th><th>detail</th></tr>",
    );
    for e in entries.iter().rev() {
        let _ = write!(
            b,
            "<tr class=\"audit\"><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td class=\"muted\">{}</td></tr>",
            e.seq,
            esc(&e.ts),
            esc(&e.kind),
            esc(&e.subject),
            esc(&e.detail)
        );
    }
    b.push_str("</table>");
    page("Activity", None, &b)
}

pub(crate) fn settings(
    s: &serde_json::Value,
    editable: bool,
    csrf: &str,
    msg: Option<&str>,
) -> String {
    let mut b = String::new();
    if editable {
        let num = |sec: &str, k: &str| {
            s[sec][k]
                .as_f64()
                .map_or_else(String::new, |x| x.to_string())
        };
        let _ = write!(
            b,
            "<form class=\"card\" method=\"post\" action=\"/settings\" id=\"settings\">{}<b>Policy and casting</b><table><tr><td>confidence to vote at importance 0</td><td><input name=\"decide.min_confidence_low\" value=\"{}\"></td></tr><tr><td>confidence to vote at importance 1</td><td><input name=\"decide.min_confidence_high\" value=\"{}\"></td></tr><tr><td>ask from importance</td><td><input name=\"decide.ask_importance\" value=\"{}\"></td></tr><tr><td>questions a round at most (the rest go to the digest)</td><td><input name=\"decide.questions_per_round\" value=\"{}\"></td></tr><tr><td>questions a day at most</td><td><input name=\"decide.questions_per_day\" value=\"{}\"></td></tr><tr><td>ask when this share of the visible votes rejects what it would pass (0: off)</td><td><input name=\"decide.dissent_share\" value=\"{}\"></td></tr><tr><td>casting on (off: every vote is a recorded dry run)</td><td><input type=\"checkbox\" name=\"casting.enabled\" id=\"casting-enabled\"{}></td></tr><tr><td>votes per day at most</td><td><input name=\"casting.max_votes_per_day\" value=\"{}\"></td></tr><tr><td>value at stake per day at most ($)</td><td><input name=\"casting.max_value_per_day\" value=\"{}\"></td></tr></table><button type=\"submit\" id=\"save\">Save to config.toml</button></form>",
            csrf_field(csrf),
            num("decide", "min_confidence_low"),
            num("decide", "min_confidence_high"),
            num("decide", "ask_importance"),
            num("decide", "questions_per_round"),
            num("decide", "questions_per_day"),
            num("decide", "dissent_share"),
            if s["casting"]["enabled"].as_bool() == Some(true) {
                " checked"
            } else {
                ""
            },
            num("casting", "max_votes_per_day"),
            num("casting", "max_value_per_day"),
        );
    }
    let pretty = serde_json::to_string_pretty(s).unwrap_or_default();
    let _ = write!(
        b,
        "<p>The effective configuration (defaults &lt; config.toml &lt; STEWARD_* &lt; --set; sources and the network allowlist are changed in <code>config.toml</code>, docs/config.md).</p><pre class=\"card\">{}</pre>",
        esc(&pretty)
    );
    page("Settings", msg, &b)
}

pub(crate) fn evaluation(r: Option<&serde_json::Value>) -> String {
    let Some(r) = r else {
        return page(
            "Evaluation",
            None,
            "<p class=\"muted\" id=\"no-eval\">No evaluation saved yet: run <code>steward eval votes --train votes.csv --save</code>.</p>",
        );
    };
    let f = |v: &serde_json::Value| {
        v.as_f64()
            .map_or_else(|| "-".to_owned(), |x| format!("{x:.3}"))
    };
    let mut b = format!(
        "<div class=\"card\" id=\"eval\"><table><tr><th>mode</th><td>{mode}</td><th>test votes</th><td>{n}</td><th>voters</th><td>{v}</td></tr><tr><th>forced accuracy</th><td>{fa}</td><th>auto accuracy</th><td>{aa}</td><th>coverage</th><td>{cov}</td></tr><tr><th>ECE</th><td>{ece}</td><th>always-For</th><td>{af}</td><th>voter-majority</th><td>{vm}</td></tr></table></div><p><img src=\"/plots/eval-reliability.svg\" alt=\"reliability\" width=\"480\" height=\"320\"> <img src=\"/plots/eval-over-time.svg\" alt=\"agreement over time\" width=\"480\" height=\"320\"></p>",
        mode = esc(r["mode"].as_str().unwrap_or("-")),
        n = r["n_test"],
        v = r["n_voters"],
        fa = f(&r["forced_accuracy"]),
        aa = f(&r["auto_accuracy"]),
        cov = f(&r["coverage"]),
        ece = f(&r["ece"]),
        af = f(&r["baselines"]["always_for"]),
        vm = f(&r["baselines"]["voter_majority"]),
    );
    // Delegation baselines, when the eval had them (issue 15 item 2).
    let (bd, crowd) = (
        &r["baselines"]["best_delegate"]["agreement"],
        &r["baselines"]["crowd_so_far"]["agreement"],
    );
    if bd.is_number() || crowd.is_number() {
        let _ = write!(
            b,
            "<p id=\"delegation\">Delegating instead, at zero questions (share of all test votes it would have cast as you did): the best delegate {}, the crowd so far {}.</p>",
            f(bd),
            f(crowd)
        );
    }
    if let Some(curve) = r["ask_curve"].as_array().filter(|c| !c.is_empty()) {
        b.push_str("<h2 id=\"attention\">Attention curve</h2><p class=\"muted\">What asking buys: the agent asks about a share of the proposals (picked by what the answer teaches), learns from each answer, and votes the rest (docs/eval.md).</p><table><tr><th>asked</th><th>agreement on votes cast</th><th>coverage</th><th>Against caught</th><th>forced accuracy</th></tr>");
        for p in curve {
            let _ = write!(
                b,
                "<tr class=\"curve\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                f(&p["asked"]),
                f(&p["auto_accuracy"]),
                f(&p["coverage"]),
                f(&p["against_caught"]),
                f(&p["forced_accuracy"])
            );
        }
        b.push_str("</table><p><img src=\"/plots/eval-attention.svg\" alt=\"attention curve\" width=\"480\" height=\"320\"></p>");
    }
    page("Evaluation", None, &b)
}
