//! Claims the other way round: every transfer the description promises ("AMOUNT TOKEN to
//! RECIPIENT", as bound in [`super::binding`]) is looked for in the decoded and simulated
//! effects. A promise the payload does not keep is a `mismatch` that names the claim and what
//! the payload does instead.
//!
//! [`super::binding_mismatches`] already flags a bound recipient paid another amount of the
//! same token, and a stated amount paid to another address; this module adds what it cannot
//! see, because it walks the effects and these leave none: a promise with no transfer of its
//! token at all (nothing moves, an allowance is granted instead, another asset moves), and a
//! promise an unreadable call could carry. Severity, so that benign texts stay quiet:
//!
//! - critical: the recipient is an address the text writes, every call decodes (or the
//!   payload was simulated), and no transfer of the stated token reaches it;
//! - warn: the recipient is a name or ENS name with no address written next to it ("the
//!   treasury Safe", `vitalik.eth`): who it is cannot be checked, and the detail says so;
//!   an unknown call that could carry the transfer, on a payload not simulated; a transfer
//!   whose token's symbol or decimals are unknown; or a model-only binding.
//!
//! Dollar amounts (`$750,000`) are valuations, not transfers, and are not promises; nor are
//! basis points, percentages, ranges or amounts in words (the candidates never hold them).

use alloy_primitives::{Address, U256};

use super::binding::{Binder, Binding};
use super::claims::{close, to_units};
use super::effects::{Effect, EffectKind, Tokens, dedupe, format_amount, short};
use super::value::Call;
use crate::flag::{Flag, Severity, kinds};

/// Actions a promise may be bound with: a transfer of some kind (an approval is not one).
/// `other` (no verb near the amount: "total 99,064,814 LDO from A to B") only warns.
const PROMISE_ACTIONS: &[&str] = &[
    "transfer", "pay", "grant", "stream", "donate", "fund", "mint", "other",
];

/// Units that are not an asset a payload moves.
const NOT_ASSETS: &[&str] = &[
    "USD", "BPS", "TOKENS", "TOKEN", "GWEI", "WEI", "FTE", "KB", "MB", "GB", "MIP", "AIP", "LIP",
    "EIP", "ERC", "SP",
];

/// One value movement in the effects, with its asset as far as it is known.
struct Move {
    /// Upper-case symbol; `None` when the token is not known.
    symbol: Option<String>,
    decimals: Option<u8>,
    to: Address,
    amount: U256,
    words: String,
}

fn moves(effects: &[Effect], tokens: &Tokens) -> Vec<Move> {
    let mut out = Vec::new();
    for e in effects {
        let (token, to, amount, via) = match &e.kind {
            EffectKind::TokenTransfer {
                token,
                to,
                amount,
                via,
                ..
            } => (*token, *to, *amount, via.as_deref()),
            EffectKind::Mint { token, to, amount } => (Some(*token), *to, *amount, None),
            EffectKind::EthTransfer { to, amount, .. } => {
                out.push(Move {
                    symbol: Some("ETH".into()),
                    decimals: Some(18),
                    to: *to,
                    amount: *amount,
                    words: format!("{} ETH", format_amount(*amount, 18)),
                });
                continue;
            }
            _ => continue,
        };
        let info = token.and_then(|t| tokens.get(&t));
        // Comptroller `_grantComp` names no token, but it only ever pays COMP (18 decimals).
        let (symbol, decimals) = match (info, via) {
            (Some(i), _) => (Some(i.symbol.to_uppercase()), Some(i.decimals)),
            (None, Some("_grantComp")) => (Some("COMP".to_owned()), Some(18)),
            _ => (None, None),
        };
        let words = match (&symbol, decimals) {
            (Some(s), Some(d)) => format!(
                "{} {}",
                format_amount(amount, d),
                info.map_or(s.as_str(), |i| i.symbol.as_str())
            ),
            _ => match token {
                Some(t) => format!(
                    "{amount} base units of token {} (decimals unknown)",
                    short(t)
                ),
                None => format!("{amount} base units (decimals unknown)"),
            },
        };
        out.push(Move {
            symbol,
            decimals,
            to,
            amount,
            words,
        });
    }
    out
}

/// Whether a movement is in the stated unit (`ETH` is also paid as WETH).
fn in_unit(m: &Move, unit: &str) -> bool {
    m.symbol
        .as_deref()
        .is_some_and(|s| s == unit || (unit == "ETH" && s == "WETH"))
}

/// The stated amount in whole tokens, or in base units as some texts write it
/// (`99064814814814816060000000 LDO`).
fn amount_fits(m: &Move, value: f64) -> bool {
    m.decimals
        .is_some_and(|d| close(value, to_units(m.amount, d)) || close(value, to_units(m.amount, 0)))
}

/// With the decimals unknown, the stated amount in any common number of decimals.
fn could_be(m: &Move, value: f64) -> bool {
    [18u8, 6, 8, 0]
        .iter()
        .any(|d| close(value, to_units(m.amount, *d)))
}

/// `mismatch` flags for the promises in `bindings` that the effects do not keep. `calls` are
/// the decoded actions (an unknown one could carry a promise), `simulated` whether the effects include a simulation (then an unknown call that moved
/// nothing did not carry it either).
pub fn unkept_promises(
    bindings: &[Binding],
    effects: &[Effect],
    tokens: &Tokens,
    calls: &[Call],
    simulated: bool,
) -> Vec<Flag> {
    let moved = moves(effects, tokens);
    let opaque: Vec<&Call> = calls
        .iter()
        .flat_map(Call::walk)
        .filter(|c| !c.known || c.error.is_some())
        .collect();
    let mut out = Vec::new();
    for b in bindings {
        let Some(a) = &b.amount else {
            continue;
        };
        let Some(unit) = a.amount.unit.as_deref() else {
            continue;
        };
        if !PROMISE_ACTIONS.contains(&b.action.as_str()) || NOT_ASSETS.contains(&unit) {
            continue;
        }
        let value = a.amount.value;
        let Some(r) = &b.recipient else {
            // An amount with a transfer verb and no recipient ("Transfer 1,000 COMP."): only
            // whether it moves at all can be checked, so this never goes past a warning.
            let some_moves = moved
                .iter()
                .any(|m| in_unit(m, unit) || (m.symbol.is_none() && could_be(m, value)));
            if !some_moves {
                let why = if !opaque.is_empty() && !simulated {
                    "no decoded call moves it, and the payload calls a function nobody can read that could".to_owned()
                } else {
                    format!(
                        "the payload {}",
                        instead(&moved, effects, tokens, unit, None)
                    )
                };
                out.push(Flag::new(
                    kinds::MISMATCH,
                    Severity::Warn,
                    format!(
                        "the description speaks of a {} of {} (no recipient named): {why}",
                        noun(&b.action),
                        a.text
                    ),
                ));
            }
            continue;
        };
        let claim = format!("the description promises {} to {}", a.text, r.text);
        // A model's binding, or an amount with no transfer verb near it, is not sure enough
        // to be critical.
        let model = b.by == Binder::Model;
        let unsure = model || b.action == "other";
        let sev = |s: Severity| if unsure { Severity::Warn } else { s };
        let by_model = if model {
            " (as bound by the local model)"
        } else {
            ""
        };
        let mut flag = |s: Severity, detail: String| {
            out.push(Flag::new(
                kinds::MISMATCH,
                sev(s),
                format!("{detail}{by_model}"),
            ));
        };
        let same: Vec<&Move> = moved.iter().filter(|m| in_unit(m, unit)).collect();
        if !r.resolved() {
            // A name or an ENS name without its address: the payload's recipient cannot be
            // tied to it, so this is never a pass and never more than a warning.
            let paid: Vec<String> = same
                .iter()
                .filter(|m| amount_fits(m, value))
                .map(|m| format!("{} to {}", m.words, short(m.to)))
                .collect();
            let what = if paid.is_empty() {
                format!(
                    "the payload {}",
                    instead(&moved, effects, tokens, unit, None)
                )
            } else {
                format!("the payload sends {}", paid.join(" and "))
            };
            flag(
                Severity::Warn,
                format!(
                    "{claim}, which it names without an address, so who receives it cannot be checked: {what}"
                ),
            );
            continue;
        }
        let to_r = |m: &&Move| r.is(m.to);
        // Kept, or another amount to the recipient / this amount elsewhere, which
        // binding_mismatches flags already.
        if same.iter().any(to_r) {
            continue;
        }
        // This amount paid to an address no binding gives it to: binding_mismatches names it.
        let promised_to = |m: &Move| {
            bindings.iter().any(|o| {
                o.recipient.as_ref().is_some_and(|x| x.is(m.to))
                    && o.amount.as_ref().is_some_and(|x| {
                        x.amount.unit.as_deref() == Some(unit) && close(x.amount.value, value)
                    })
            })
        };
        if same
            .iter()
            .any(|m| amount_fits(m, value) && !promised_to(m))
        {
            continue;
        }
        // A token of unknown symbol or decimals to the recipient: it may be the promise.
        if let Some(m) = moved.iter().find(|m| m.symbol.is_none() && r.is(m.to)) {
            if !could_be(m, value) {
                flag(
                    Severity::Warn,
                    format!(
                        "{claim}; the payload sends it {}: whether that is {} cannot be checked",
                        m.words, a.text
                    ),
                );
            }
            continue;
        }
        if !opaque.is_empty() && !simulated {
            let names: Vec<String> = opaque
                .iter()
                .take(3)
                .map(|c| {
                    format!(
                        "{} on {}",
                        c.selector.as_deref().unwrap_or("?"),
                        short(c.target)
                    )
                })
                .collect();
            flag(
                Severity::Warn,
                format!(
                    "{claim}; no decoded call sends it, and the payload calls a function nobody can read ({}) that could: not confirmed",
                    names.join(", ")
                ),
            );
            continue;
        }
        let sim = if simulated {
            ", not even in simulation"
        } else {
            ""
        };
        flag(
            Severity::Critical,
            format!(
                "{claim}, but the payload never sends it{sim}: it {}",
                instead(&moved, effects, tokens, unit, Some(r))
            ),
        );
    }
    dedupe(out)
}

fn noun(action: &str) -> &str {
    match action {
        "pay" => "payment",
        "fund" => "funding",
        "donate" => "donation",
        a => a,
    }
}

/// What the payload does with the stated asset, or with the recipient, in words.
fn instead(
    moved: &[Move],
    effects: &[Effect],
    tokens: &Tokens,
    unit: &str,
    r: Option<&super::binding::Recipient>,
) -> String {
    let mut parts: Vec<String> = moved
        .iter()
        .filter(|m| in_unit(m, unit) || r.is_some_and(|r| r.is(m.to)))
        .take(3)
        .map(|m| format!("sends {} to {}", m.words, short(m.to)))
        .collect();
    for e in effects {
        if let EffectKind::Approval {
            token,
            spender,
            amount,
            unlimited,
            ..
        } = &e.kind
        {
            let info = tokens.get(token);
            let ours = info.is_some_and(|i| i.symbol.eq_ignore_ascii_case(unit))
                || r.is_some_and(|r| r.is(*spender));
            if !ours || parts.len() >= 4 {
                continue;
            }
            let words = if *unlimited {
                "an unlimited allowance".to_owned()
            } else {
                match info {
                    Some(i) => format!(
                        "an allowance of {} {}",
                        format_amount(*amount, i.decimals),
                        i.symbol
                    ),
                    None => format!("an allowance of {amount} base units (decimals unknown)"),
                }
            };
            parts.push(format!("grants {} {words} instead", short(*spender)));
        }
    }
    if parts.is_empty() {
        format!("moves no {unit} at all")
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests;
