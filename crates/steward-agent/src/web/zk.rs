//! The Anonymous signals section of the Activity page (issue 20 item 3, docs/privacy.md): the
//! groups this home holds with how many members a signal in each hides among, the signals its
//! identity sent (scope, root, nullifier, message) and those it accepted from others. The
//! identity's secret is never read here; messages are the signals' own public text, escaped.

use std::fmt::Write;

use super::pages::esc;
use crate::zk::{NullifierSide, ZkGroupSize, ZkSignalRow};

/// Below this many members a group is flagged as hiding little.
const SMALL_GROUP: usize = 10;
/// Signals shown at most.
pub(crate) const MAX: usize = 100;

/// `0x1234…abcd` for a long hex value; the full value is in the title.
fn short(hex: &str) -> String {
    if hex.len() <= 14 {
        return format!("<code>{}</code>", esc(hex));
    }
    format!(
        "<code title=\"{}\">{}…{}</code>",
        esc(hex),
        esc(&hex[..8]),
        esc(&hex[hex.len() - 4..])
    )
}

/// The section, or why it is missing.
pub(crate) fn section(
    groups: &Result<Vec<ZkGroupSize>, String>,
    signals: &Result<Vec<ZkSignalRow>, String>,
) -> String {
    let mut b = String::from("<h2 id=\"zk\">Anonymous signals</h2>");
    let (groups, signals) = match (groups, signals) {
        (Ok(g), Ok(s)) => (g, s),
        (Err(e), _) | (_, Err(e)) => {
            let _ = write!(
                b,
                "<p class=\"flag-critical\">Anonymous signals unreadable: {}</p>",
                esc(e)
            );
            return b;
        }
    };
    b.push_str(
        "<p>A signal proves membership of a group without saying which member sent it; the \
         nullifier is the same for every signal of one identity in one scope, so a second one is \
         seen. The message, the scope, the time and the group's size are not hidden \
         (docs/privacy.md).</p>",
    );
    if !groups.is_empty() {
        b.push_str("<table><tr><th>group</th><th>depth</th><th>members (anonymity set)</th></tr>");
        for g in groups {
            let warn = if g.members < SMALL_GROUP {
                format!(
                    " <span class=\"flag-warning\">small: a signal hides among {} only</span>",
                    g.members
                )
            } else {
                String::new()
            };
            let _ = write!(
                b,
                "<tr class=\"zk-group\"><td>{}</td><td>{}</td><td>{}{}</td></tr>",
                esc(&g.name),
                g.depth,
                g.members,
                warn
            );
        }
        b.push_str("</table>");
    }
    for (side, title) in [
        (NullifierSide::Proved, "Sent by this home's identity"),
        (NullifierSide::Verified, "Accepted from members"),
    ] {
        let rows: Vec<_> = signals.iter().filter(|r| r.side == side).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = write!(
            b,
            "<h3>{title} ({})</h3><table><tr><th>time</th><th>scope</th><th>message</th><th>root</th><th>nullifier</th></tr>",
            rows.len()
        );
        for r in rows {
            let s = &r.signal;
            let message: String = s.message.chars().take(120).collect();
            let cut = if message.len() < s.message.len() {
                "…"
            } else {
                ""
            };
            let _ = write!(
                b,
                "<tr class=\"zk-signal\"><td>{}</td><td><code>{}</code></td><td>{}{}</td><td>{}</td><td>{}</td></tr>",
                esc(&s.at),
                esc(&s.scope),
                esc(&message),
                cut,
                short(&s.root),
                short(&s.nullifier)
            );
        }
        b.push_str("</table>");
    }
    if groups.is_empty() && signals.is_empty() {
        b.push_str(
            "<p class=\"muted\">No groups and no signals yet (<code>steward zk</code>).</p>",
        );
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zk::UsedNullifier;

    fn row(side: NullifierSide, scope: &str, message: &str) -> ZkSignalRow {
        ZkSignalRow {
            side,
            signal: UsedNullifier {
                nullifier: format!("0x{}", "ab".repeat(32)),
                scope: scope.into(),
                root: format!("0x{}", "cd".repeat(32)),
                message: message.into(),
                at: "2026-12-07T08:00:00Z".into(),
            },
        }
    }

    #[test]
    fn signals_show_scope_message_and_nullifier_escaped_and_small_groups_flagged() {
        let groups = vec![
            ZkGroupSize {
                name: "board<i>".into(),
                depth: 16,
                members: 3,
            },
            ZkGroupSize {
                name: "dao".into(),
                depth: 20,
                members: 500,
            },
        ];
        let signals = vec![
            row(NullifierSide::Proved, "prop-1", "for <script>"),
            row(NullifierSide::Verified, "prop-2", &"x".repeat(300)),
        ];
        let html = section(&Ok(groups), &Ok(signals));
        assert!(
            html.contains("board&lt;i&gt;") && !html.contains("board<i>"),
            "{html}"
        );
        assert!(html.contains("a signal hides among 3 only"), "{html}");
        assert_eq!(html.matches("small:").count(), 1, "{html}");
        assert!(html.contains("Sent by this home's identity (1)"), "{html}");
        assert!(html.contains("Accepted from members (1)"), "{html}");
        assert!(
            html.contains("for &lt;script&gt;") && !html.contains("<script>"),
            "{html}"
        );
        assert!(html.contains(&format!("title=\"0x{}\"", "ab".repeat(32))));
        assert!(html.contains(&format!("{}…", "x".repeat(120))), "{html}");
        assert!(!html.contains(&"x".repeat(121)), "{html}");
        let html = section(&Err("store <gone>".into()), &Ok(vec![]));
        assert!(html.contains("store &lt;gone&gt;"), "{html}");
        let html = section(&Ok(vec![]), &Ok(vec![]));
        assert!(html.contains("No groups and no signals yet"), "{html}");
    }
}
