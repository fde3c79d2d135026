//! The Judgements section of the Activity page: what the private-information judge saw (the
//! documents' hashes and sizes, never their text) and what it said (docs/privacy.md). The
//! question and verdicts are the user's own text but are escaped like everything else.

use std::fmt::Write;

use super::pages::esc;
use crate::judge::JudgementRow;

/// The section (at most `MAX` judgements, newest first), or why they are missing.
pub(crate) fn section(rows: &Result<Vec<JudgementRow>, String>) -> String {
    const MAX: usize = 100;
    let mut b = String::from("<h2 id=\"judgements\">Judgements</h2>");
    let rows = match rows {
        Err(e) => {
            let _ = write!(
                b,
                "<p class=\"flag-critical\">Judgements unreadable: {}</p>",
                esc(e)
            );
            return b;
        }
        Ok(r) => r,
    };
    let _ = write!(
        b,
        "<p>{} judgement(s) by the private-information judge: it read the documents named by hash and could only answer with one of the declared verdicts (at most log2(k) bits each; repeats are counted).</p>",
        rows.len()
    );
    b.push_str("<table><tr><th>#</th><th>time</th><th>question</th><th>verdict</th><th>of</th><th>what it saw</th><th>commitment</th><th>asked</th><th>posted</th></tr>");
    for r in rows.iter().take(MAX) {
        let j = &r.judgement;
        let mut saw = String::new();
        for d in &j.inputs {
            let _ = write!(
                saw,
                "<code>{}</code> ({} bytes)<br>",
                esc(&d.sha256),
                d.bytes
            );
        }
        let _ = write!(
            saw,
            "model <code>{}</code>",
            esc(&j.model.sha256[..j.model.sha256.len().min(16)])
        );
        let posted = r
            .posted
            .as_ref()
            .and_then(|p| p["tx"].as_str())
            .map_or_else(String::new, |tx| format!("<code>{}</code>", esc(tx)));
        let _ = write!(
            b,
            "<tr class=\"judgement\"><td>{}</td><td>{}</td><td>{}</td><td><b>{}</b></td><td class=\"muted\">{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            r.id,
            esc(&r.created),
            esc(&j.question),
            esc(&j.verdict),
            esc(&j.verdicts.join(", ")),
            saw,
            esc(&j.commitment),
            r.same_commitment,
            posted
        );
    }
    b.push_str("</table>");
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::{JudgeModel, Judgement};

    #[test]
    fn judgements_show_hashes_and_the_verdict_escaped() {
        let row = JudgementRow {
            id: 3,
            created: "2026-01-01T00:00:00Z".into(),
            judgement: Judgement {
                question: "Is <script>alert(1)</script> late?".into(),
                verdicts: vec!["yes".into(), "no".into()],
                verdict: "no".into(),
                commitment: "ab".repeat(32),
                inputs: vec![steward_ml::judge::InputDigest {
                    sha256: "cd".repeat(32),
                    bytes: 42,
                }],
                model: JudgeModel {
                    file: "m.gguf".into(),
                    sha256: "ef".repeat(32),
                },
                template_sha256: "01".repeat(32),
                seed: 0,
            },
            same_commitment: 2,
            posted: Some(serde_json::json!({"tx": "0x<b>"})),
        };
        let html = section(&Ok(vec![row]));
        assert!(
            !html.contains("<script>") && !html.contains("<b>\""),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains(&"cd".repeat(32)) && html.contains("(42 bytes)"));
        assert!(html.contains("<b>no</b>") && html.contains("<td>2</td>"));
        assert!(html.contains("0x&lt;b&gt;"));
        let html = section(&Err("store <gone>".into()));
        assert!(html.contains("store &lt;gone&gt;"));
    }
}
