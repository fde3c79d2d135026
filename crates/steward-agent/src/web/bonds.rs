//! The attention-bond section of the Activity page (`[bonds]`, docs/economy.md): the mail the
//! gate held, with the reason, and each sender's standing read from the escrow (bonds, reply
//! rate, share of the user's QAF and CO-QAF). Everything shown came from outside: escaped.

use std::fmt::Write;

use steward_core::Address;
use steward_eth::BondEscrow;

use super::pages::esc;
use crate::bondgate::HeldMail;
use crate::bonds::SenderScore;

/// What the desk needs to read the senders' scores.
#[derive(Debug)]
pub(crate) struct BondDesk {
    pub(crate) escrow: BondEscrow,
    pub(crate) recipient: Address,
    pub(crate) from_block: u64,
}

impl BondDesk {
    pub(crate) fn from_config(cfg: &crate::Config) -> crate::Result<Option<Self>> {
        let net = crate::Network::from_config(cfg)?;
        Ok(
            crate::bondgate::BondGate::from_config(cfg, &net)?.map(|g| Self {
                escrow: g.escrow().clone(),
                recipient: g.policy().recipient,
                from_block: cfg.bonds.from_block,
            }),
        )
    }

    pub(crate) async fn scores(&self) -> Result<Vec<SenderScore>, String> {
        crate::bonds::chain_scores(&self.escrow, self.recipient, self.from_block)
            .await
            .map_err(|e| e.to_string())
    }
}

/// The section: held mail (at most `MAX` rows), then the scores, or why they are missing.
pub(crate) fn section(
    held: &Result<Vec<HeldMail>, String>,
    scores: Option<&Result<Vec<SenderScore>, String>>,
) -> String {
    const MAX: usize = 200;
    let mut b = String::from("<h2 id=\"bonds\">Attention bonds</h2>");
    match held {
        Err(e) => {
            let _ = write!(
                b,
                "<p class=\"flag-critical\">Held mail unreadable: {}</p>",
                esc(e)
            );
        }
        Ok(h) if h.is_empty() => b.push_str("<p id=\"held-none\">No mail held.</p>"),
        Ok(h) => {
            let _ = write!(
                b,
                "<p>{} message(s) held: not paid for as the policy asks, never stored as proposals (<code>steward bond held</code>).</p>",
                h.len()
            );
            b.push_str("<table id=\"held\"><tr><th>held</th><th>reason</th><th>from</th><th>subject</th><th>mailbox</th></tr>");
            for m in h.iter().take(MAX) {
                let _ = write!(
                    b,
                    "<tr class=\"held\"><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"muted\">{} {}</td></tr>",
                    esc(&m.held),
                    esc(&m.reason),
                    esc(&m.from),
                    esc(&m.subject),
                    esc(&m.mailbox),
                    esc(&m.label)
                );
            }
            b.push_str("</table>");
        }
    }
    match scores {
        None => {}
        Some(Err(e)) => {
            let _ = write!(
                b,
                "<p class=\"flag-critical\" id=\"scores-error\">Senders' scores unavailable: {}</p>",
                esc(e)
            );
        }
        Some(Ok(s)) => {
            b.push_str("<table id=\"scores\"><tr><th>sender</th><th>bonds</th><th>bonded USDC</th><th>reply rate</th><th>QAF share</th><th>CO-QAF share</th></tr>");
            for r in s {
                let _ = write!(
                    b,
                    "<tr class=\"score\"><td><code>{}</code></td><td>{}</td><td>{:.6}</td><td>{:.2}</td><td>{:.4}</td><td>{:.4}</td></tr>",
                    esc(&r.sender),
                    r.bonds,
                    r.bonded,
                    r.reply_rate,
                    r.qaf_share,
                    r.coqaf_share
                );
            }
            b.push_str("</table><p class=\"muted\">CO-QAF discounts senders with the same recipients: splitting a stake over many bonds or look-alike addresses gains nothing.</p>");
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_mail_and_scores_are_escaped() {
        let h = HeldMail {
            mailbox: "/m<x>".into(),
            label: "new/1".into(),
            message_id: "a@b".into(),
            from: "<script>@x".into(),
            subject: "<img src=x onerror=alert(1)>".into(),
            reason: "no-bond".into(),
            detail: serde_json::Value::Null,
            held: "2026-01-01T00:00:00Z".into(),
            raw: Vec::new(),
        };
        let s = SenderScore {
            sender: "0x<b>".into(),
            bonds: 2,
            bonded: 1.5,
            reply_rate: 0.5,
            qaf_share: 1.0,
            coqaf_share: 0.5,
        };
        let html = section(&Ok(vec![h]), Some(&Ok(vec![s])));
        assert!(!html.contains("<script>") && !html.contains("<img") && !html.contains("<b>"));
        assert!(html.contains("&lt;img src=x"), "{html}");
        assert!(html.contains("<td>0.50</td>"), "{html}");
        let html = section(&Ok(Vec::new()), Some(&Err("rpc <down>".into())));
        assert!(html.contains("No mail held") && html.contains("rpc &lt;down&gt;"));
    }
}
