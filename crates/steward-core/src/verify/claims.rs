//! What a description claims (addresses, amounts, kinds of action), extracted by rules, and the
//! `mismatch` flags where the payload does something the text does not state.

use std::str::FromStr;

use alloy_primitives::{Address, U256};
use serde::Serialize;

use super::effects::{Effect, EffectKind, Origin, Tokens, dedupe, format_amount, short};
use crate::flag::{Flag, Severity, kinds};

/// An amount the text states, in whole units (`1,791 COMP` is 1791 with unit `COMP`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Amount {
    pub value: f64,
    /// Upper-case unit as written (`COMP`, `ETH`, `USD` for `$`), if any.
    pub unit: Option<String>,
}

/// What a description says.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Claims {
    pub addresses: Vec<Address>,
    /// Shortened addresses (`0x0F11…e4c8`): lower-case hex prefix and suffix.
    pub short_addresses: Vec<(String, String)>,
    pub amounts: Vec<Amount>,
    /// The text speaks of moving funds (transfer, send, pay, fund, grant, stream, donate, ...).
    pub transfers: bool,
    pub upgrades: bool,
    pub permissions: bool,
    pub mints: bool,
}

impl Claims {
    /// Whether the text names `a`, in full or shortened.
    pub fn mentions(&self, a: Address) -> bool {
        if self.addresses.contains(&a) {
            return true;
        }
        let hex = format!("{a:x}");
        let hex = hex.trim_start_matches("0x");
        self.short_addresses
            .iter()
            .any(|(p, s)| hex.starts_with(p.as_str()) && hex.ends_with(s.as_str()))
    }
}

const TRANSFER_WORDS: &[&str] = &[
    "transfer",
    "send",
    "pay",
    "fund",
    "grant",
    "stream",
    "donat",
    "reimburs",
    "compensat",
    "withdraw",
    "sweep",
    "move",
    "allocat",
    "distribut",
    "deposit",
    "budget",
];
const UPGRADE_WORDS: &[&str] = &["upgrade", "implementation", "diamond", "facet", "new code"];
const PERMISSION_WORDS: &[&str] = &[
    "role",
    "owner",
    "admin",
    "permission",
    "guardian",
    "signer",
    "multisig",
    "access",
];

/// Extracts the claims of `text` by rules.
pub fn claims(text: &str) -> Claims {
    let lower = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let mut c = Claims {
        transfers: has(TRANSFER_WORDS),
        upgrades: has(UPGRADE_WORDS),
        permissions: has(PERMISSION_WORDS),
        mints: lower.contains("mint") || lower.contains("issue"),
        ..Claims::default()
    };
    let tokens = words(text);
    for (i, raw) in tokens.iter().enumerate() {
        let t = raw.trim_end_matches(['.', ',']);
        if let Some(a) = full_address(t) {
            c.addresses.push(a);
            continue;
        }
        if let Some(s) = short_address(t) {
            c.short_addresses.push(s);
            continue;
        }
        if let Some((value, attached)) = number(t) {
            let next = tokens.get(i + 1).map(|n| n.trim_end_matches(['.', ',']));
            let (value, next_unit) = match next.map(scale) {
                Some(Some(m)) => (
                    value * m,
                    tokens.get(i + 2).map(|n| n.trim_end_matches(['.', ','])),
                ),
                _ => (value, next),
            };
            let unit = attached.or_else(|| next_unit.and_then(unit_word));
            c.amounts.push(Amount { value, unit });
        }
    }
    c
}

/// The words of `text` as the rules read them: split at white space and brackets, quotes and
/// separators stripped (commas and dots kept: they belong to numbers).
pub(super) fn words(text: &str) -> Vec<&str> {
    text.split(|ch: char| ch.is_whitespace() || "()[]{}<>,;:\"'`*|".contains(ch) && ch != ',')
        .map(|t| t.trim_matches(|ch: char| "()[]{}<>;:\"'`*|!?".contains(ch)))
        .filter(|t| !t.is_empty())
        .collect()
}

pub(super) fn full_address(t: &str) -> Option<Address> {
    let h = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))?;
    if h.len() == 40 && h.chars().all(|c| c.is_ascii_hexdigit()) {
        Address::from_str(t).ok()
    } else {
        None
    }
}

pub(super) fn short_address(t: &str) -> Option<(String, String)> {
    let h = t.strip_prefix("0x")?;
    let (p, s) = h
        .split_once('…')
        .or_else(|| h.split_once("..."))
        .or_else(|| h.split_once(".."))?;
    let ok = |x: &str| x.len() >= 3 && x.len() < 40 && x.chars().all(|c| c.is_ascii_hexdigit());
    (ok(p) && ok(s)).then(|| (p.to_lowercase(), s.to_lowercase()))
}

/// `1,791` `16,722.408` `$750,000` `250k` `1.5M` `10ETH` -> (value, attached unit).
pub(super) fn number(t: &str) -> Option<(f64, Option<String>)> {
    let (t, dollar) = match t.strip_prefix('$') {
        Some(r) => (r, true),
        None => (t, false),
    };
    let end = t
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == ',' || *c == '.'))
        .map_or(t.len(), |(i, _)| i);
    let (num, rest) = t.split_at(end);
    let num = num.trim_end_matches(['.', ',']);
    if num.is_empty() || !num.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    // A thousands separator is a comma followed by three digits.
    let parts: Vec<&str> = num.split(',').collect();
    if parts.len() > 1
        && parts[1..]
            .iter()
            .any(|p| p.len() < 3 || !p[..3].chars().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let mut value: f64 = num.replace(',', "").parse().ok()?;
    let mut unit = dollar.then(|| "USD".to_owned());
    if !rest.is_empty() {
        match scale(rest) {
            Some(m) => value *= m,
            None => {
                if unit.is_none() {
                    unit = unit_word(rest);
                    unit.as_ref()?;
                } else {
                    return None;
                }
            }
        }
    }
    Some((value, unit))
}

pub(super) fn scale(w: &str) -> Option<f64> {
    match w.to_lowercase().as_str() {
        "k" | "thousand" => Some(1e3),
        "m" | "mm" | "million" => Some(1e6),
        "b" | "bn" | "billion" => Some(1e9),
        _ => None,
    }
}

pub(super) fn unit_word(w: &str) -> Option<String> {
    let ok = (2..=12).contains(&w.len())
        && w.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    ok.then(|| {
        let u = w.to_uppercase();
        if u == "DOLLARS" || u == "USD" {
            "USD".into()
        } else if u == "ETHER" {
            "ETH".into()
        } else {
            u
        }
    })
}

pub(super) fn close(a: f64, b: f64) -> bool {
    if a == 0.0 || b == 0.0 {
        return a == b;
    }
    ((a - b) / b).abs() <= 0.01
}

pub(super) fn to_units(amount: U256, decimals: u8) -> f64 {
    let v: f64 = amount.to_string().parse().unwrap_or(f64::MAX);
    v / 10f64.powi(i32::from(decimals))
}

/// `mismatch` flags: value moved that the description does not state, or a stated amount or
/// recipient that differs from the payload; and upgrades or permission changes the text never
/// speaks of. Simulated effects the payload already explains are not counted twice.
pub fn mismatches(text: &str, effects: &[Effect], tokens: &Tokens) -> Vec<Flag> {
    let c = claims(text);
    let lower = text.to_lowercase();
    let payload: Vec<&Effect> = effects
        .iter()
        .filter(|e| e.origin == Origin::Payload)
        .collect();
    let mut out = Vec::new();
    for e in effects {
        if e.origin == Origin::Simulation && explained(e, &payload) {
            continue;
        }
        match &e.kind {
            EffectKind::TokenTransfer {
                token, to, amount, ..
            } => value_moved(&c, tokens, "sends", *token, *to, *amount, &mut out),
            EffectKind::Mint { token, to, amount } => {
                value_moved(&c, tokens, "mints", Some(*token), *to, *amount, &mut out)
            }
            EffectKind::EthTransfer { to, amount, .. } => {
                eth_moved(&c, *to, *amount, &mut out);
            }
            EffectKind::Upgrade { proxy, .. } if !c.upgrades => out.push(Flag::new(
                kinds::MISMATCH,
                Severity::Critical,
                format!(
                    "replaces the code of {}, which the description never mentions",
                    short(*proxy)
                ),
            )),
            EffectKind::PermissionChange { contract, what, .. } if !c.permissions => {
                out.push(Flag::new(
                    kinds::MISMATCH,
                    Severity::Critical,
                    format!(
                        "changes control of {} ({what}), which the description never mentions",
                        short(*contract)
                    ),
                ))
            }
            EffectKind::PermissionChange { contract, what, .. } => {
                role_named_otherwise(&lower, *contract, what, &mut out)
            }
            _ => {}
        }
    }
    dedupe(out)
}

/// A role granted that the text does not name, where the text names another role: "grant the
/// proposer role" over a payload that grants `EXECUTOR_ROLE`.
fn role_named_otherwise(lower: &str, contract: Address, what: &str, out: &mut Vec<Flag>) {
    let Some(role) = super::governance::role_of(what) else {
        return;
    };
    if !what.ends_with(" granted") {
        return;
    }
    // A role is named by its constant, or by its word ("proposer", "executors") in a text that
    // speaks of roles: "grant the proposer and executor roles".
    let speaks_of_roles = lower.contains("role");
    let named = |r: &str| {
        let (full, base) = super::governance::role_words(r);
        lower.contains(&full)
            || (speaks_of_roles
                && lower
                    .split(|c: char| !c.is_alphanumeric())
                    .any(|w| w.starts_with(base.as_str())))
    };
    if named(role) {
        return;
    }
    let others: Vec<&str> = super::governance::ROLE_NAMES
        .iter()
        .copied()
        .filter(|r| *r != role && named(r))
        .collect();
    if let Some(other) = others.first() {
        out.push(Flag::new(
            kinds::MISMATCH,
            Severity::Critical,
            format!(
                "grants {role} on {}, but the description names {other}",
                short(contract)
            ),
        ));
    }
}

/// A simulated transfer that a payload effect already accounts for (same token and amount, or
/// same token and recipient).
pub(crate) fn explained(e: &Effect, payload: &[&Effect]) -> bool {
    match &e.kind {
        EffectKind::TokenTransfer {
            token, to, amount, ..
        } => payload.iter().any(|p| match &p.kind {
            EffectKind::TokenTransfer {
                token: t2,
                to: to2,
                amount: a2,
                ..
            } => (t2.is_none() || t2 == token) && (a2 == amount || to2 == to),
            EffectKind::Approval {
                token: t2,
                amount: a2,
                spender,
                ..
            } => Some(*t2) == *token && (a2 == amount || spender == to),
            EffectKind::Mint {
                token: t2,
                to: to2,
                amount: a2,
            } => Some(*t2) == *token && (a2 == amount || to2 == to),
            _ => false,
        }),
        EffectKind::EthTransfer { to, amount, .. } => payload.iter().any(|p| {
            matches!(&p.kind, EffectKind::EthTransfer { to: t2, amount: a2, .. } if t2 == to || a2 == amount)
        }),
        EffectKind::Upgrade { proxy, .. } => payload
            .iter()
            .any(|p| matches!(&p.kind, EffectKind::Upgrade { proxy: p2, .. } if p2 == proxy)),
        EffectKind::PermissionChange { contract, .. } | EffectKind::SlotChange { contract, .. } => {
            payload.iter().any(|p| match &p.kind {
                EffectKind::PermissionChange { contract: c2, .. } => c2 == contract,
                EffectKind::Upgrade { proxy, .. } => proxy == contract,
                _ => false,
            })
        }
        // Nothing in a payload says which slots a delegatecalled proposal writes.
        EffectKind::StorageWrite { .. } => false,
        _ => true,
    }
}

fn value_moved(
    c: &Claims,
    tokens: &Tokens,
    verb: &str,
    token: Option<Address>,
    to: Address,
    amount: U256,
    out: &mut Vec<Flag>,
) {
    let info = token.and_then(|t| tokens.get(&t));
    let symbol = info.map(|i| i.symbol.to_uppercase());
    let decimals = info.map_or(18, |i| i.decimals);
    let words = match info {
        Some(i) => format!("{} {}", format_amount(amount, i.decimals), i.symbol),
        // Never "0 tokens": without decimals the amount is only base units.
        None => super::effects::token_amount(tokens, token, amount),
    };
    check(
        c,
        verb,
        &words,
        symbol.as_deref(),
        to_units(amount, decimals),
        amount,
        to,
        out,
    );
}

fn eth_moved(c: &Claims, to: Address, amount: U256, out: &mut Vec<Flag>) {
    let words = format!("{} ETH", format_amount(amount, 18));
    check(
        c,
        "sends",
        &words,
        Some("ETH"),
        to_units(amount, 18),
        amount,
        to,
        out,
    );
}

#[allow(clippy::too_many_arguments)]
fn check(
    c: &Claims,
    verb: &str,
    words: &str,
    symbol: Option<&str>,
    units: f64,
    raw: U256,
    to: Address,
    out: &mut Vec<Flag>,
) {
    let raw_f: f64 = raw.to_string().parse().unwrap_or(f64::MAX);
    let unit_fits = |a: &Amount| match (&a.unit, symbol) {
        (None, _) => true,
        (Some(u), Some(s)) => u == s,
        (Some(u), None) => u != "USD",
    };
    let amount_stated = c
        .amounts
        .iter()
        .any(|a| unit_fits(a) && (close(a.value, units) || close(a.value, raw_f)));
    let same_unit: Vec<&Amount> = c
        .amounts
        .iter()
        .filter(|a| symbol.is_some() && a.unit.as_deref() == symbol)
        .collect();
    let recipient_stated = c.mentions(to);
    let named: Vec<String> = c.addresses.iter().map(|a| short(*a)).take(3).collect();
    let flag = |detail: String| Flag::new(kinds::MISMATCH, Severity::Critical, detail);
    if !amount_stated && !same_unit.is_empty() {
        let stated: Vec<String> = same_unit
            .iter()
            .take(3)
            .map(|a| format!("{} {}", a.value, a.unit.as_deref().unwrap_or("")))
            .collect();
        out.push(flag(format!(
            "the description states {} but the payload {verb} {words} to {}",
            stated.join(", "),
            short(to)
        )));
    } else if !amount_stated && !recipient_stated {
        let also = if named.is_empty() {
            String::new()
        } else {
            format!(" (it names {})", named.join(", "))
        };
        out.push(flag(format!(
            "the payload {verb} {words} to {}, which the description does not state{also}",
            short(to)
        )));
    } else if !recipient_stated && !named.is_empty() && c.transfers {
        out.push(flag(format!(
            "the payload {verb} {words} to {}, but the description names {}",
            short(to),
            named.join(", ")
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::TokenInfo;

    #[test]
    fn extracts_amounts_addresses_and_verbs() {
        let c = claims(
            "Stream 16,722.408 COMP ($750,000 at 44.85 USD) to Certora 0x0F11640BF66e2D9352d9c41434A5C6E597c5e4c8 via Sablier (0xCD18…8888); 250k USDC, 1.5 million UNI, 10ETH.",
        );
        let amounts: Vec<(f64, Option<&str>)> = c
            .amounts
            .iter()
            .map(|a| (a.value, a.unit.as_deref()))
            .collect();
        assert_eq!(
            amounts,
            [
                (16722.408, Some("COMP")),
                (750000.0, Some("USD")),
                (44.85, Some("USD")),
                (250000.0, Some("USDC")),
                (1.5e6, Some("UNI")),
                (10.0, Some("ETH")),
            ]
        );
        assert!(c.transfers && !c.upgrades);
        let certora: Address = "0x0F11640BF66e2D9352d9c41434A5C6E597c5e4c8"
            .parse()
            .expect("a");
        let sablier: Address = "0xCD18eAa163733Da39c232722cBC4E8940b1D8888"
            .parse()
            .expect("a");
        assert!(c.mentions(certora) && c.mentions(sablier));
        assert!(!c.mentions(Address::repeat_byte(7)));
    }

    fn transfer(to: Address, amount: U256, origin: Origin) -> Effect {
        Effect {
            kind: EffectKind::TokenTransfer {
                token: Some(Address::repeat_byte(0xc0)),
                from: None,
                to,
                amount,
                via: None,
            },
            origin,
        }
    }

    fn comp() -> Tokens {
        [(
            Address::repeat_byte(0xc0),
            TokenInfo {
                symbol: "COMP".into(),
                decimals: 18,
            },
        )]
        .into()
    }

    #[test]
    fn stated_transfers_pass_and_hidden_or_different_ones_are_critical() {
        let e18 = U256::from(10u64).pow(U256::from(18u64));
        let to = Address::repeat_byte(0x11);
        let other = Address::repeat_byte(0x22);
        let amount = U256::from(1791u64) * e18;
        let text_ok = format!("Grant 1,791 COMP to {to}.");
        let cases: Vec<(String, Effect, usize)> = vec![
            (text_ok.clone(), transfer(to, amount, Origin::Payload), 0),
            // The amount differs from the one stated.
            (
                text_ok.clone(),
                transfer(to, amount * U256::from(2u8), Origin::Payload),
                1,
            ),
            // Paid elsewhere than the address named.
            (
                format!("Grant 5 COMP to {other}."),
                transfer(to, amount, Origin::Payload),
                1,
            ),
            // Not stated at all.
            (
                "Update the fee to 0.3%.".into(),
                transfer(to, amount, Origin::Payload),
                1,
            ),
            // A simulated transfer the payload explains is not counted twice.
            (text_ok, transfer(to, amount, Origin::Simulation), 0),
        ];
        for (text, e, n) in cases {
            let payload: Vec<Effect> = if e.origin == Origin::Simulation {
                vec![transfer(to, amount, Origin::Payload), e]
            } else {
                vec![e]
            };
            let flags = mismatches(&text, &payload, &comp());
            assert_eq!(flags.len(), n, "{text}: {flags:?}");
            assert!(
                flags
                    .iter()
                    .all(|f| f.kind == kinds::MISMATCH && f.is_critical())
            );
        }
    }

    #[test]
    fn amounts_carry_symbol_and_decimals_or_say_base_units() {
        let to = Address::repeat_byte(0x11);
        let pay = |token: Address, amount: U256| {
            Effect::payload(EffectKind::TokenTransfer {
                token: Some(token),
                from: None,
                to,
                amount,
                via: None,
            })
        };
        // Unknown token, tiny amount: it used to read "0 tokens".
        let odd = Address::repeat_byte(0x99);
        let f = mismatches(
            "Update the fee.",
            &[pay(odd, U256::from(5u8))],
            &Tokens::new(),
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].detail
                .contains("5 base units of token 0x9999…9999 (decimals unknown)")
        );
        assert!(!f[0].detail.contains("0 tokens"), "{}", f[0].detail);
        // USDC from the built-in table: 6 decimals, no RPC needed.
        let usdc: Address = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
            .parse()
            .expect("a");
        let mut tokens = Tokens::new();
        crate::verify::with_known_tokens(&mut tokens, [usdc, odd]);
        assert_eq!(tokens.len(), 1);
        let amount = U256::from(250_000u64) * U256::from(1_000_000u64);
        let f = mismatches("Update the fee.", &[pay(usdc, amount)], &tokens);
        assert!(
            f[0].detail.contains("sends 250,000 USDC"),
            "{}",
            f[0].detail
        );
        // Stated in USDC, the same payload passes.
        let text = format!("Send 250k USDC to {to}.");
        assert!(mismatches(&text, &[pay(usdc, amount)], &tokens).is_empty());
        let flags = crate::verify::flags_of(&[], &[pay(odd, U256::from(5u8))], &Tokens::new());
        assert!(flags[0].detail.contains("(decimals unknown)"), "{flags:?}");
    }

    #[test]
    fn numbers_that_are_not_amounts_are_ignored() {
        let c = claims("Proposal #16, version 1.2.3, see 3,1 and x12");
        assert!(c.amounts.iter().all(|a| a.value == 16.0), "{:?}", c.amounts);
    }
}
