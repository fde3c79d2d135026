//! The suggestion-market section of the Activity page (`[market]`, docs/economy.md): every
//! trade the ledger holds with its `why` (the market's price, the probability and where it came
//! from, the evidence, the expected gain, the caps left), and what `market.budget` and
//! `market.daily_cap` leave now. The why quotes input-derived text: everything is escaped.

use std::fmt::Write;

use super::pages::esc;
use crate::market::{Left, Limits, MarketCaps, TradeRecord, Why, tokens};

/// The section: the caps left, then the trades (at most `MAX`), newest first.
pub(crate) fn section(
    trades: &Result<Vec<TradeRecord>, String>,
    limits: Limits,
    left: Option<Left>,
    markets: &[(MarketCaps, Option<Left>)],
) -> String {
    const MAX: usize = 200;
    let mut b = String::from("<h2 id=\"markets\">Markets</h2>");
    match left {
        Some(l) => {
            let _ = write!(
                b,
                "<p id=\"caps\">Left: <b>{}</b> of market.budget {} and <b>{}</b> of market.daily_cap {} (the last 24 hours).</p>",
                tokens(l.budget as i128),
                tokens(limits.budget as i128),
                tokens(l.day as i128),
                tokens(limits.daily_cap as i128)
            );
        }
        None => b.push_str(
            "<p class=\"flag-critical\" id=\"caps\">What the caps leave is unreadable.</p>",
        ),
    }
    // `[[market.markets]]` with caps of their own, within the overall ones.
    for (m, left) in markets {
        let Some(l) = m.limits else { continue };
        // A cap the market does not set is u128::MAX, and so is nothing to show as left.
        let cap = |v: u128| {
            if v == u128::MAX {
                "none".to_owned()
            } else {
                tokens(v as i128)
            }
        };
        let left_of = |left: u128, of: u128| {
            if of == u128::MAX {
                "none".to_owned()
            } else {
                tokens(left as i128)
            }
        };
        match left {
            Some(left) => {
                let _ = write!(
                    b,
                    "<p class=\"market-caps\">Market <b>{}</b>: left <b>{}</b> of its budget {} and <b>{}</b> of its daily cap {}.</p>",
                    esc(&m.name),
                    left_of(left.budget, l.budget),
                    cap(l.budget),
                    left_of(left.day, l.daily_cap),
                    cap(l.daily_cap)
                );
            }
            None => {
                let _ = write!(
                    b,
                    "<p class=\"flag-critical market-caps\">Market <b>{}</b>: what its caps leave is unreadable.</p>",
                    esc(&m.name)
                );
            }
        }
    }
    let trades = match trades {
        Err(e) => {
            let _ = write!(
                b,
                "<p class=\"flag-critical\">Market trades unreadable: {}</p>",
                esc(e)
            );
            return b;
        }
        Ok(t) if t.is_empty() => {
            b.push_str("<p id=\"trades-none\">No market trades yet.</p>");
            return b;
        }
        Ok(t) => t,
    };
    b.push_str("<table id=\"trades\"><tr><th>#</th><th>market</th><th>input</th><th>state</th><th>shares</th><th>cost</th><th>why</th></tr>");
    for t in trades.iter().take(MAX) {
        let why: Option<Why> = serde_json::from_value(t.why.clone()).ok();
        let shares = match (t.delta_accepted, t.delta_rejected) {
            (0, 0) => "-".to_owned(),
            (a, 0) => format!("{} accepted", tokens(a)),
            (0, r) => format!("{} rejected", tokens(r)),
            (a, r) => format!("{} accepted, {} rejected", tokens(a), tokens(r)),
        };
        let mut w = String::new();
        match &why {
            Some(y) => {
                let _ = write!(
                    w,
                    "<span class=\"why\">{}</span><br><span class=\"muted\">price {:.3}, probability {} ({}), expected gain {}, left after: {} budget, {} today</span>",
                    esc(&y.text),
                    y.market_price,
                    y.probability
                        .map_or_else(|| "none".to_owned(), |p| format!("{p:.3}")),
                    esc(&y.source),
                    esc(y.expected_gain.as_deref().unwrap_or("-")),
                    esc(&y.budget_left),
                    esc(&y.daily_left)
                );
                if !y.evidence.is_empty() {
                    w.push_str("<ul class=\"evidence\">");
                    for e in &y.evidence {
                        let _ = write!(w, "<li>{}</li>", esc(e));
                    }
                    w.push_str("</ul>");
                }
            }
            None => w.push_str(&esc(&t.why.to_string())),
        }
        if let Some(e) = &t.error {
            let _ = write!(w, "<br><span class=\"muted\">{}</span>", esc(e));
        }
        let _ = write!(
            b,
            "<tr class=\"trade\"><td>{}</td><td>{}</td><td><code>{}</code> #{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t.id,
            esc(&t.market_name),
            esc(&t.market),
            t.input,
            t.state.as_str(),
            esc(&shares),
            tokens(i128::from(t.cost)),
            w
        );
    }
    b.push_str("</table>");
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::TradeState;

    #[test]
    fn trades_and_their_why_are_escaped() {
        let why = Why {
            market_price: 0.5,
            probability: Some(0.8),
            source: "the decision core".into(),
            evidence: vec!["you said <script>alert(1)</script>".into()],
            cost: "1.000000".into(),
            expected_gain: Some("0.300000".into()),
            budget_left: "9.000000".into(),
            daily_left: "5.000000".into(),
            text: "buys <img src=x onerror=alert(1)>".into(),
        };
        let t = TradeRecord {
            id: 1,
            market: "0xabc".into(),
            input: 0,
            trader: "0xdef".into(),
            nonce: Some(0),
            deadline: Some(1),
            delta_accepted: 2_000_000,
            delta_rejected: 0,
            cost: 1_000_000,
            spend: 1_000_000,
            state: TradeState::Confirmed,
            origin: "auto".into(),
            why: serde_json::to_value(&why).expect("json"),
            tx: None,
            error: None,
            created_ts: 0,
            updated_ts: 0,
            market_name: "grants<b>".into(),
        };
        let limits = Limits {
            budget: 10_000_000,
            daily_cap: 6_000_000,
        };
        let html = section(
            &Ok(vec![t]),
            limits,
            Some(Left {
                budget: 9_000_000,
                day: 5_000_000,
            }),
            &[
                (
                    MarketCaps {
                        name: "grants<b>".into(),
                        limits: Some(Limits {
                            budget: 4_000_000,
                            daily_cap: u128::MAX,
                        }),
                    },
                    Some(Left {
                        budget: 3_000_000,
                        day: u128::MAX - 1_000_000,
                    }),
                ),
                (MarketCaps::default(), None),
            ],
        );
        assert!(
            !html.contains("<script>") && !html.contains("<img"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(
            html.contains("<b>9.000000</b> of market.budget 10.000000"),
            "{html}"
        );
        assert!(html.contains("2.000000 accepted"), "{html}");
        assert!(
            html.contains("Market <b>grants&lt;b&gt;</b>: left <b>3.000000</b> of its budget 4.000000 and <b>none</b> of its daily cap none."),
            "{html}"
        );
        assert_eq!(html.matches("class=\"market-caps\"").count(), 1, "{html}");
        assert!(html.contains("<td>grants&lt;b&gt;</td>"), "{html}");
    }
}
