//! A payload in plain words for people (the review desk, questions, notices): one line per
//! call and per effect, addresses by name where one is known (the DAO's own contracts, common
//! tokens, the user's address book), amounts with symbol and decimals, no raw JSON, and no line
//! twice (an effect the simulation saw again is said once).

use std::collections::HashMap;

use alloy_primitives::{Address, U256};

use super::effects::{Effect, EffectKind, Origin, Tokens, format_amount, short, token_amount};
use super::known_tokens::known_token;

/// Names for addresses, most specific first: what the caller inserted (the user's address book,
/// the DAO's contracts), then the built-in token table.
#[derive(Debug, Clone, Default)]
pub struct Names(HashMap<Address, String>);

impl Names {
    pub fn new() -> Self {
        Self::default()
    }

    /// Names `address`; an earlier name for it wins (insert the most trusted source first).
    pub fn insert(&mut self, address: Address, name: impl Into<String>) {
        self.0.entry(address).or_insert_with(|| name.into());
    }

    /// `Treasury (0x1234…abcd)` for a named address, `USDC token (0xA0b8…eB48)` for a known
    /// token, else the short address.
    pub fn of(&self, a: Address) -> String {
        match self
            .0
            .get(&a)
            .cloned()
            .or_else(|| known_token(a).map(|t| format!("{} token", t.symbol)))
        {
            Some(name) => format!("{name} ({})", short(a)),
            None => short(a),
        }
    }
}

fn eth(amount: U256) -> String {
    format!("{} ETH", format_amount(amount, 18))
}

/// Cuts a long hex word for a line: `0x0000…0001`.
fn word(s: &str) -> String {
    if s.len() > 14 {
        format!("{}…{}", &s[..6], &s[s.len() - 4..])
    } else {
        s.to_owned()
    }
}

/// One effect in words.
pub fn effect_words(e: &Effect, tokens: &Tokens, names: &Names) -> String {
    let n = |a: &Address| names.of(*a);
    let line = match &e.kind {
        EffectKind::TokenTransfer {
            token,
            from,
            to,
            amount,
            via,
        } => format!(
            "{} {}{} to {}{}",
            if via.as_deref() == Some("createStream") {
                "streams"
            } else {
                "sends"
            },
            token_amount(tokens, *token, *amount),
            from.map(|f| format!(" from {}", n(&f))).unwrap_or_default(),
            n(to),
            via.as_deref()
                .map(|v| format!(" (via {v})"))
                .unwrap_or_default()
        ),
        EffectKind::EthTransfer { from, to, amount } => format!(
            "sends {}{} to {}",
            eth(*amount),
            from.map(|f| format!(" from {}", n(&f))).unwrap_or_default(),
            n(to)
        ),
        EffectKind::Approval {
            token,
            spender,
            amount,
            unlimited,
            ..
        } => {
            if *unlimited {
                format!(
                    "lets {} spend all of {}, without limit",
                    n(spender),
                    n(token)
                )
            } else {
                format!(
                    "lets {} spend {}",
                    n(spender),
                    token_amount(tokens, Some(*token), *amount)
                )
            }
        }
        EffectKind::Mint { token, to, amount } => format!(
            "mints {} to {}",
            token_amount(tokens, Some(*token), *amount),
            n(to)
        ),
        EffectKind::Upgrade {
            proxy,
            implementation,
        } => match implementation {
            Some(i) => format!("replaces the code behind {} with {}", n(proxy), n(i)),
            None => format!("replaces code of {}", n(proxy)),
        },
        EffectKind::PermissionChange {
            contract,
            what,
            account,
        } => format!(
            "on {}: {what}{}",
            n(contract),
            account
                .map(|a| format!(" for {}", n(&a)))
                .unwrap_or_default()
        ),
        EffectKind::GovernanceChange {
            contract,
            setting,
            value,
        } => format!("sets {setting} of {} to {value}", n(contract)),
        EffectKind::SlotChange {
            contract,
            slot,
            before,
            after,
        } => format!(
            "writes storage slot {slot} of {} ({} to {})",
            n(contract),
            word(before),
            word(after)
        ),
        EffectKind::StorageWrite {
            contract, count, ..
        } => format!(
            "writes {count} storage slot{} of {}",
            if *count == 1 { "" } else { "s" },
            n(contract)
        ),
    };
    match e.origin {
        Origin::Payload => line,
        Origin::Simulation => format!("{line} (seen in simulation)"),
    }
}

/// Every effect in words, in order, each line once: a simulated effect that says what a payload
/// effect already said is left out.
pub fn effects_in_words(effects: &[Effect], tokens: &Tokens, names: &Names) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in effects {
        let line = effect_words(e, tokens, names);
        let plain = line.trim_end_matches(" (seen in simulation)");
        if !out
            .iter()
            .any(|l| l == &line || l.trim_end_matches(" (seen in simulation)") == plain)
        {
            out.push(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::TokenInfo;

    fn a(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    #[test]
    fn amounts_names_and_no_json() {
        let usdc: Address = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
            .parse()
            .expect("addr");
        let mut names = Names::new();
        names.insert(a(1), "Treasury");
        names.insert(a(1), "not this one");
        let tokens = Tokens::from([(
            a(9),
            TokenInfo {
                symbol: "STW".into(),
                decimals: 18,
            },
        )]);
        let e18 = U256::from(10u64).pow(U256::from(18u64));
        let lines = effects_in_words(
            &[
                Effect::payload(EffectKind::TokenTransfer {
                    token: Some(a(9)),
                    from: None,
                    to: a(1),
                    amount: U256::from(450_000u64) * e18,
                    via: None,
                }),
                // The same transfer seen again in simulation: said once.
                Effect::simulated(EffectKind::TokenTransfer {
                    token: Some(a(9)),
                    from: None,
                    to: a(1),
                    amount: U256::from(450_000u64) * e18,
                    via: None,
                }),
                Effect::payload(EffectKind::Approval {
                    token: usdc,
                    owner: None,
                    spender: a(2),
                    amount: U256::MAX,
                    unlimited: true,
                }),
                Effect::payload(EffectKind::TokenTransfer {
                    token: Some(a(3)),
                    from: None,
                    to: a(2),
                    amount: U256::from(5u64),
                    via: None,
                }),
                Effect::simulated(EffectKind::StorageWrite {
                    contract: a(4),
                    count: 1,
                    sample: Vec::new(),
                }),
            ],
            &tokens,
            &names,
        );
        assert_eq!(
            lines,
            [
                "sends 450,000 STW to Treasury (0x0101…0101)",
                "lets 0x0202…0202 spend all of USDC token (0xA0b8…eB48), without limit",
                "sends 5 base units of token 0x0303…0303 (decimals unknown) to 0x0202…0202",
                "writes 1 storage slot of 0x0404…0404 (seen in simulation)",
            ]
        );
        assert!(lines.iter().all(|l| !l.contains('{')));
    }
}
