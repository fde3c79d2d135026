//! The desk's DAOs page (`/daos`): `steward dao health` for every governor the config follows,
//! read live through the network policy when the page is opened (docs/web.md).

use std::fmt::Write as _;

use steward_core::{Address, U256};
use steward_eth::{Health, HealthOptions};

use super::pages::{esc, page};
use crate::config::Config;
use crate::net::Network;

/// The governors the page reads, with their RPCs, and the network they are read through.
#[derive(Debug, Clone)]
pub(crate) struct DaoSources {
    network: Network,
    governors: Vec<(String, String)>,
}

impl DaoSources {
    pub(crate) fn from_config(config: &Config) -> crate::Result<Self> {
        Ok(Self {
            network: Network::from_config(config)?,
            governors: config
                .governors
                .iter()
                .map(|g| (g.address.clone(), g.rpc.clone()))
                .collect(),
        })
    }

    /// One result per governor: its health, or why it could not be read.
    pub(crate) async fn read(&self) -> Vec<(String, Result<Health, String>)> {
        let mut out = Vec::new();
        for (addr, rpc) in &self.governors {
            let r = async {
                let a: Address = addr
                    .parse()
                    .map_err(|e| format!("governor {addr:?} is not an address: {e}"))?;
                let rpc = self.network.rpc(rpc).map_err(|e| e.to_string())?;
                steward_eth::dao_health(&rpc, a, &HealthOptions::default())
                    .await
                    .map_err(|e| format!("governor {a}: {e}"))
            }
            .await;
            out.push((addr.clone(), r));
        }
        out
    }
}

fn tokens(v: Option<U256>, decimals: u8, sym: &str) -> String {
    let Some(v) = v else {
        return "unknown".into();
    };
    let unit = U256::from(10u64).pow(U256::from(decimals));
    let cents: u64 = ((v % unit) * U256::from(100u64) / unit).to();
    format!("{}.{cents:02} {}", v / unit, esc(sym))
}

fn num(v: Option<U256>) -> String {
    v.map_or_else(|| "unknown".into(), |v| v.to_string())
}

/// The page: one table per DAO, or the error that stopped its reading.
pub(crate) fn render(daos: &[(String, Result<Health, String>)]) -> String {
    let mut b = String::new();
    if daos.is_empty() {
        b.push_str("<p id=\"no-daos\">No governors configured (<code>[[governors]]</code> in config.toml).</p>");
    }
    for (addr, r) in daos {
        let h = match r {
            Ok(h) => h,
            Err(e) => {
                let _ = write!(
                    b,
                    "<section class=\"dao\"><h2>{}</h2><p class=\"err\">could not be read: {}</p></section>",
                    esc(addr),
                    esc(e)
                );
                continue;
            }
        };
        let d = h.decimals.unwrap_or(18);
        let sym = h.symbol.clone().unwrap_or_else(|| "tokens".into());
        let t = |v: Option<U256>| tokens(v, d, &sym);
        let unit = if h.clock == "timestamp" {
            "s"
        } else {
            "blocks"
        };
        let mut rows: Vec<(&str, String)> = vec![
            ("quorum", t(h.quorum)),
            ("voting delay", format!("{} {unit}", num(h.voting_delay))),
            ("voting period", format!("{} {unit}", num(h.voting_period))),
            ("timelock delay", format!("{} s", num(h.timelock_delay))),
            ("proposal threshold", t(h.proposal_threshold)),
            ("total supply", t(h.total_supply)),
            ("circulating supply", t(h.circulating_supply)),
            ("delegated supply", t(h.delegated_supply)),
            (
                "average turnout",
                h.turnout.as_ref().map_or_else(
                    || "unknown".into(),
                    |x| format!("{} over {} proposal(s)", t(Some(x.average)), x.proposals),
                ),
            ),
        ];
        for (label, x) in [
            ("largest holder", &h.largest_holder),
            ("largest delegate", &h.largest_delegate),
        ] {
            if let Some(x) = x {
                rows.push((label, format!("{} ({})", t(Some(x.amount)), x.address)));
            }
        }
        rows.push((
            "treasury",
            format!(
                "{} and {} ETH",
                t(h.treasury.tokens),
                tokens(Some(h.treasury.eth), 18, "")
            ),
        ));
        if let Some(a) = &h.attack {
            let mut s = format!(
                "{} needed (set by {})",
                t(Some(a.votes_needed)),
                esc(&a.basis)
            );
            if let Some(p) = a.percent_of_supply {
                let _ = write!(s, ", {p:.2}% of supply");
            }
            if let Some(r) = a.treasury_ratio {
                let _ = write!(s, "; the treasury holds {r:.1}× that");
            }
            rows.push(("cost of an attack", s));
        }
        let _ = write!(
            b,
            "<section class=\"dao\" id=\"dao-{:#x}\"><h2>{} <small>{} on chain {}</small></h2><table>",
            h.governor,
            esc(h.name.as_deref().unwrap_or("governor")),
            h.governor,
            h.chain_id
        );
        for (k, v) in rows {
            let _ = write!(b, "<tr><th>{k}</th><td>{v}</td></tr>");
        }
        b.push_str("</table>");
        for n in &h.notes {
            let _ = write!(b, "<p class=\"note\">{}</p>", esc(n));
        }
        b.push_str("</section>");
    }
    page("DAOs", None, &b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_eth::{Attack, Holding, Treasury};

    fn e(n: u64) -> U256 {
        U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
    }

    #[test]
    fn a_dao_reads_in_words_and_an_error_is_escaped() {
        let g = Address::repeat_byte(0x11);
        let h = Health {
            chain_id: 31337,
            governor: g,
            kind: "openzeppelin".into(),
            name: Some("StewardGovernor".into()),
            clock: "blocknumber".into(),
            token: Some(Address::repeat_byte(0x22)),
            symbol: Some("STW".into()),
            decimals: Some(18),
            quorum: Some(e(40_000)),
            quorum_numerator: Some(U256::from(4u64)),
            voting_delay: Some(U256::from(1u64)),
            voting_period: Some(U256::from(50u64)),
            timelock: Some(Address::repeat_byte(0x33)),
            timelock_delay: Some(U256::ZERO),
            proposal_threshold: Some(U256::ZERO),
            total_supply: Some(e(1_000_000)),
            delegated_supply: Some(e(500_000)),
            circulating_supply: Some(e(500_000)),
            turnout: None,
            largest_holder: Some(Holding {
                address: Address::repeat_byte(0x44),
                amount: e(330_000),
            }),
            largest_delegate: None,
            treasury: Treasury {
                address: Address::repeat_byte(0x33),
                eth: e(100),
                tokens: Some(e(500_000)),
                usd: None,
            },
            attack: Some(Attack {
                votes_needed: e(40_000),
                basis: "quorum".into(),
                percent_of_supply: Some(4.0),
                treasury_ratio: Some(12.5),
                usd: None,
            }),
            from_block: 0,
            to_block: 10,
            notes: vec!["no votes <yet>".into()],
        };
        let html = render(&[
            ("0x11".into(), Ok(h)),
            ("0xbad".into(), Err("rpc <host>: down".into())),
        ]);
        for want in [
            "40000.00 STW",
            "50 blocks",
            "330000.00 STW",
            "4.00% of supply",
            "12.5× that",
            "no votes &lt;yet&gt;",
            "could not be read: rpc &lt;host&gt;: down",
        ] {
            assert!(html.contains(want), "{want} in {html}");
        }
        assert!(render(&[]).contains("No governors configured"));
    }
}
