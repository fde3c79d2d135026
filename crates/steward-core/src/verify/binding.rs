//! Which stated amount goes to which stated recipient: candidates found by rules, bound by rules
//! (`AMOUNT ... to RECIPIENT`) or by a model that may only pick among the candidates, and the
//! `mismatch` flags where a binding disagrees with the payload.
//!
//! The rules of [`super::mismatches`] check amounts and recipients separately: a text that names
//! both payees and both amounts passes even when the payload swaps them. A binding ties an amount
//! to a recipient, so the swap shows. Bindings only ever add flags; they never remove one.
//!
//! A model binds through [`binding_schema`]: every field is an enum of the candidates the rules
//! found in the text (plus `"none"`), so it cannot invent an amount or an address, and
//! [`model_bindings`] re-checks every value against the candidates and the text. Where a rule
//! binding and a model binding tie the same amount to different recipients, the rule binding
//! wins and the model's is dropped; a binding found only by the model raises a `warn`, not a
//! `critical`, because a small model binds wrongly more often than the pattern does.

use alloy_primitives::Address;
use serde::Serialize;

use super::claims::{
    Amount, close, explained, full_address, number, scale, short_address, to_units, unit_word,
    words,
};
use super::effects::{Effect, EffectKind, Origin, Tokens, dedupe, format_amount, short};
use crate::flag::{Flag, Severity, kinds};

/// Most candidates of each kind offered to a model (the grammar grows with them).
pub const MAX_CANDIDATES: usize = 12;
/// Most bindings a model may return.
pub const MAX_BINDINGS: usize = 6;
/// The kinds of action a binding can name.
pub const ACTIONS: &[&str] = &[
    "transfer", "pay", "grant", "stream", "donate", "fund", "mint", "approve", "other",
];
/// The enum value for "not stated".
pub const NONE: &str = "none";

/// An amount as written in the text, with its value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatedAmount {
    /// The words as written (`250,000 BEAN3CRV`, `$750,000`).
    pub text: String,
    #[serde(flatten)]
    pub amount: Amount,
    #[serde(skip)]
    at: usize,
}

/// A recipient as written: an address, a shortened address, an ENS name or a name after "to",
/// with the address written next to it when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipient {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Lower-case hex prefix and suffix of a shortened address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short: Option<(String, String)>,
    #[serde(skip)]
    at: usize,
}

impl Recipient {
    /// Whether this recipient is `a` (by its address, full or shortened).
    pub fn is(&self, a: Address) -> bool {
        if self.address == Some(a) {
            return true;
        }
        let hex = format!("{a:x}");
        self.short
            .as_ref()
            .is_some_and(|(p, s)| hex.starts_with(p.as_str()) && hex.ends_with(s.as_str()))
    }

    /// Whether the text ties this recipient to an address (full or shortened).
    pub fn resolved(&self) -> bool {
        self.address.is_some() || self.short.is_some()
    }
}

/// What the rules found that a claim can be made of.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Candidates {
    pub amounts: Vec<StatedAmount>,
    pub recipients: Vec<Recipient>,
}

/// Who bound a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Binder {
    Rules,
    Model,
}

/// One claim: an action, an amount and who receives it, each taken from the text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Binding {
    pub action: String,
    pub amount: Option<StatedAmount>,
    pub recipient: Option<Recipient>,
    pub by: Binder,
}

const NAME_STOP: &[&str] = &[
    "the",
    "a",
    "an",
    "be",
    "this",
    "that",
    "it",
    "its",
    "our",
    "their",
    "his",
    "her",
    "date",
    "time",
    "block",
    "end",
    "start",
    "zero",
    "and",
    "or",
    "whom",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The amounts and recipients stated in `text`.
pub fn candidates(text: &str) -> Candidates {
    let w = words(text);
    let mut c = Candidates::default();
    let clean = |t: &str| t.trim_end_matches(['.', ',']).to_owned();
    for (i, raw) in w.iter().enumerate() {
        let t = raw.trim_end_matches(['.', ',']);
        if let Some(a) = full_address(t) {
            push_recipient(&mut c, t, Some(a), None, i);
            continue;
        }
        if let Some(s) = short_address(t) {
            push_recipient(&mut c, t, None, Some(s), i);
            continue;
        }
        if is_ens(t) {
            // An ENS name written next to its address (`0xcBD7… tornadope.eth`).
            let near = [i.checked_sub(1), Some(i + 1)]
                .into_iter()
                .flatten()
                .filter_map(|j| w.get(j))
                .find_map(|n| full_address(n.trim_end_matches(['.', ','])));
            push_recipient(&mut c, t, near, None, i);
            continue;
        }
        if let Some((value, attached)) = number(t) {
            let next = w.get(i + 1).map(|n| clean(n));
            let mut text = clean(raw);
            let (value, unit_word_at) = match next.as_deref().map(scale) {
                Some(Some(m)) => {
                    text = format!("{text} {}", next.unwrap_or_default());
                    (value * m, i + 2)
                }
                _ => (value, i + 1),
            };
            // A unit written onto the number must look like one: `10ETH`, not `4th` or `12mos`.
            let suffix = t.trim_start_matches(|ch: char| {
                ch == '$' || ch.is_ascii_digit() || ch == ',' || ch == '.'
            });
            if attached.as_deref().is_some_and(|u| u != "USD")
                && scale(suffix).is_none()
                && !looks_like_unit(suffix)
            {
                continue;
            }
            let mut unit = attached;
            if unit.is_none()
                && let Some(u) = w.get(unit_word_at).map(|n| clean(n))
                && looks_like_unit(&u)
                && let Some(found) = unit_word(&u)
            {
                text = format!("{text} {u}");
                unit = Some(found);
            }
            // A bare number (a year, a count) is not an amount a payment can be bound to.
            if unit.is_some()
                && c.amounts.len() < MAX_CANDIDATES
                && !c.amounts.iter().any(|a| a.text == text)
            {
                c.amounts.push(StatedAmount {
                    text,
                    amount: Amount { value, unit },
                    at: i,
                });
            }
            continue;
        }
        // A name after "to" (`to Certora`, `to the goldCOMP vault`), with the address written
        // within the next few words.
        if t.eq_ignore_ascii_case("to") {
            let mut j = i + 1;
            while w
                .get(j)
                .is_some_and(|n| NAME_STOP.contains(&n.to_lowercase().as_str()))
            {
                j += 1;
            }
            let Some(name) = w.get(j).map(|n| clean(n)) else {
                continue;
            };
            let named = name.len() >= 2
                && name.chars().next().is_some_and(char::is_alphabetic)
                && name.chars().all(|ch| ch.is_alphanumeric() || ch == '-')
                && name.chars().any(char::is_uppercase);
            if !named {
                continue;
            }
            let mut address = None;
            let mut shortened = None;
            for n in w.iter().skip(j + 1).take(4) {
                let n = n.trim_end_matches(['.', ',']);
                if let Some(a) = full_address(n) {
                    address = Some(a);
                    break;
                }
                if let Some(s) = short_address(n) {
                    shortened = Some(s);
                    break;
                }
            }
            push_recipient(&mut c, &name, address, shortened, j);
        }
    }
    c
}

/// A token symbol as written (`COMP`, `BEAN3CRV`, `stETH`, `cUSDC`) or a common unit (`eth`,
/// `dollars`, `bps`); not an ordinary word (`via`, `Set`).
fn looks_like_unit(w: &str) -> bool {
    const LOWER: &[&str] = &[
        "eth", "ether", "wei", "gwei", "usd", "usdc", "usdt", "dai", "dollars", "bps", "tokens",
    ];
    if LOWER.contains(&w.to_lowercase().as_str()) {
        return true;
    }
    let upper = w.chars().filter(char::is_ascii_uppercase).count();
    let starts_lower = w.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    // All capitals (digits allowed), or a lower-case prefix on capitals (stETH).
    upper >= 2 && (starts_lower || !w.chars().skip(1).any(|c| c.is_ascii_lowercase()))
}

fn is_ens(t: &str) -> bool {
    t.len() > 4
        && t.to_lowercase().ends_with(".eth")
        && t.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '.')
}

fn push_recipient(
    c: &mut Candidates,
    text: &str,
    address: Option<Address>,
    short: Option<(String, String)>,
    at: usize,
) {
    if c.recipients.len() >= MAX_CANDIDATES || c.recipients.iter().any(|r| r.text == text) {
        return;
    }
    c.recipients.push(Recipient {
        text: text.to_owned(),
        address,
        short,
        at,
    });
}

/// Bindings by the pattern `AMOUNT [TOKEN] ... to RECIPIENT` within one clause: the first
/// recipient at most four words after a "to" that follows the amount, before the next amount or
/// the end of the sentence.
pub fn rule_bindings(text: &str, c: &Candidates) -> Vec<Binding> {
    let w = words(text);
    let mut out = Vec::new();
    for a in &c.amounts {
        let mut found = None;
        let mut to_at = a.at;
        for (j, t) in w.iter().enumerate().skip(a.at + 1).take(9) {
            if c.amounts.iter().any(|b| b.at == j) || new_block(text, w[j - 1], t) {
                break;
            }
            if t.eq_ignore_ascii_case("to") {
                to_at = j;
                found = c
                    .recipients
                    .iter()
                    .filter(|r| r.at > j && r.at <= j + 4)
                    .min_by_key(|r| r.at);
                break;
            }
            // The end of a sentence (a dot not inside a number).
            if t.ends_with(['.', ';']) && t.parse::<f64>().is_err() {
                break;
            }
        }
        if let Some(r) = found {
            out.push(Binding {
                action: action_near(&w, a.at, to_at),
                amount: Some(a.clone()),
                recipient: Some(r.clone()),
                by: Binder::Rules,
            });
        }
    }
    out
}

/// Amounts stated with a transfer verb just before them ("Transfer 1,000 COMP.") that no rule
/// binding ties to a recipient: claims with an amount and no recipient, so that
/// [`super::unkept_promises`] can look for them too.
pub fn unbound_transfers(text: &str, c: &Candidates, bound: &[Binding]) -> Vec<Binding> {
    let w = words(text);
    c.amounts
        .iter()
        .filter(|a| {
            !bound
                .iter()
                .any(|b| b.amount.as_ref().is_some_and(|x| x.text == a.text))
        })
        .filter_map(|a| {
            let action = action_near(&w, a.at, a.at);
            (action != "other" && action != "approve").then(|| Binding {
                action,
                amount: Some(a.clone()),
                recipient: None,
                by: Binder::Rules,
            })
        })
        .collect()
}

/// Whether a new paragraph, list item, table row or heading starts between two words of
/// `text` (a clause does not run across them: "Buffer Max: 20,000 DAI" on one list line and
/// "Address to stream to: 0x…" on the next are two statements).
fn new_block(text: &str, before: &str, word: &str) -> bool {
    let base = text.as_ptr() as usize;
    let from = before.as_ptr() as usize - base + before.len();
    let to = word.as_ptr() as usize - base;
    let Some(gap) = text.get(from..to) else {
        return false;
    };
    let mut lines = gap.split('\n');
    lines.next();
    let rest: Vec<&str> = lines.collect();
    if rest.is_empty() {
        return false;
    }
    // The word itself may begin the new line's marker (`- **Address**`), so look at what the
    // line holds before the word, and at the word's own first character.
    rest.len() > 1
        || rest.last().is_some_and(|l| {
            let l = l.trim_start();
            let head = if l.is_empty() { word } else { l };
            head.starts_with(['-', '*', '+', '#', '|', '>'])
                || head
                    .split_once('.')
                    .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        })
}

/// The action of an amount: a verb in the four words before it, else one between it and its
/// "to" ("2,760,000 DAI will be streamed to ...", "35950 DAI sent from the buffer to ...").
fn action_near(w: &[&str], at: usize, to_at: usize) -> String {
    let lo = at.saturating_sub(4);
    let before = w[lo..at.min(w.len())].iter().rev();
    let from = (at + 1).min(w.len());
    let after = w[from..to_at.clamp(from, w.len())].iter();
    before
        .chain(after)
        .find_map(|t| verb(&t.to_lowercase()))
        .unwrap_or("other")
        .to_owned()
}

/// The action a word names, in [`ACTIONS`]' terms (`sent`, `allocate`, `reimburse` are
/// transfers; `paid` is pay).
fn verb(t: &str) -> Option<&'static str> {
    if let Some(a) = ACTIONS
        .iter()
        .find(|a| **a != "other" && t.starts_with(&a[..a.len().min(5)]))
    {
        return Some(a);
    }
    const TRANSFERS: &[&str] = &[
        "send",
        "sent",
        "allocat",
        "distribut",
        "reimburs",
        "compensat",
        "moved",
    ];
    if TRANSFERS.iter().any(|p| t.starts_with(p)) {
        Some("transfer")
    } else if t == "paid" {
        Some("pay")
    } else {
        None
    }
}

/// The JSON schema a model binds through: a list of claims whose every field is an enum of the
/// candidates (plus `"none"`), so the model can only cite what the text says.
pub fn binding_schema(c: &Candidates) -> serde_json::Value {
    let mut amounts: Vec<&str> = c.amounts.iter().map(|a| a.text.as_str()).collect();
    amounts.push(NONE);
    let mut recipients: Vec<&str> = c.recipients.iter().map(|r| r.text.as_str()).collect();
    recipients.push(NONE);
    serde_json::json!({
        "type": "object",
        "properties": {
            "claims": {
                "type": "array",
                "maxItems": MAX_BINDINGS,
                "items": {
                    "type": "object",
                    "properties": {
                        "action": { "enum": ACTIONS },
                        "amount": { "enum": amounts },
                        "recipient": { "enum": recipients },
                    },
                    "required": ["action", "amount", "recipient"],
                    "additionalProperties": false,
                }
            }
        },
        "required": ["claims"],
        "additionalProperties": false,
    })
}

/// Folds text for the occurrence check: lower case, one space between words, brackets and
/// quotes dropped.
fn fold(s: &str) -> String {
    words(s).join(" ").to_lowercase()
}

/// The model's answer (matching [`binding_schema`]) as bindings. Every value must be one of the
/// candidates and occur in the text; a claim with neither an amount nor a recipient says
/// nothing and is dropped. Returns the bindings and, for each value refused, why.
pub fn model_bindings(
    text: &str,
    c: &Candidates,
    answer: &serde_json::Value,
) -> (Vec<Binding>, Vec<String>) {
    let folded = fold(text);
    let mut out = Vec::new();
    let mut refused = Vec::new();
    let Some(items) = answer.get("claims").and_then(|v| v.as_array()) else {
        refused.push("the answer has no claims list".into());
        return (out, refused);
    };
    for (i, item) in items.iter().take(MAX_BINDINGS).enumerate() {
        let field = |name: &str| item.get(name).and_then(|v| v.as_str()).unwrap_or(NONE);
        let action = field("action");
        let action = if ACTIONS.contains(&action) {
            action
        } else {
            refused.push(format!(
                "claim {i}: action {action:?} is not a known action"
            ));
            "other"
        };
        let amount = match field("amount") {
            NONE => None,
            a => match c.amounts.iter().find(|x| x.text == a) {
                Some(x) if folded.contains(&fold(&x.text)) => Some(x.clone()),
                _ => {
                    refused.push(format!("claim {i}: amount {a:?} is not in the text"));
                    None
                }
            },
        };
        let recipient = match field("recipient") {
            NONE => None,
            r => match c.recipients.iter().find(|x| x.text == r) {
                Some(x) if folded.contains(&fold(&x.text)) => Some(x.clone()),
                _ => {
                    refused.push(format!("claim {i}: recipient {r:?} is not in the text"));
                    None
                }
            },
        };
        if amount.is_none() && recipient.is_none() {
            continue;
        }
        let b = Binding {
            action: action.to_owned(),
            amount,
            recipient,
            by: Binder::Model,
        };
        if !out.contains(&b) {
            out.push(b);
        }
    }
    (out, refused)
}

/// Rule bindings plus the model's: a model binding of an amount the rules already bound to
/// another recipient is dropped (the rules win); every other model binding is added.
pub fn merge(rules: Vec<Binding>, model: Vec<Binding>) -> Vec<Binding> {
    let mut out = rules;
    for m in model {
        let conflicts = out.iter().any(|r| {
            r.by == Binder::Rules
                && r.amount.as_ref().map(|a| &a.text) == m.amount.as_ref().map(|a| &a.text)
                && m.amount.is_some()
        });
        let same = out.iter().any(|r| {
            r.amount.as_ref().map(|a| &a.text) == m.amount.as_ref().map(|a| &a.text)
                && r.recipient.as_ref().map(|x| &x.text) == m.recipient.as_ref().map(|x| &x.text)
        });
        if !conflicts && !same {
            out.push(m);
        }
    }
    out
}

/// `mismatch` flags where a binding disagrees with the payload: the amount bound to a recipient
/// is not what the payload sends it, or an amount the payload moves is bound to another
/// address. `via` are the payload's own targets (a stream contract the funds pass through is not
/// a different recipient). Critical when a rule binding disagrees, warn when only the model's.
pub fn binding_mismatches(
    bindings: &[Binding],
    effects: &[Effect],
    tokens: &Tokens,
    via: &[Address],
) -> Vec<Flag> {
    let payload: Vec<&Effect> = effects
        .iter()
        .filter(|e| e.origin == Origin::Payload)
        .collect();
    let mut out = Vec::new();
    for e in effects {
        if e.origin == Origin::Simulation && explained(e, &payload) {
            continue;
        }
        let (token, to, amount, verb) = match &e.kind {
            EffectKind::TokenTransfer {
                token, to, amount, ..
            } => (*token, *to, *amount, "sends"),
            EffectKind::Mint { token, to, amount } => (Some(*token), *to, *amount, "mints"),
            EffectKind::EthTransfer { to, amount, .. } => (None, *to, *amount, "sends"),
            _ => continue,
        };
        let eth = matches!(e.kind, EffectKind::EthTransfer { .. });
        let info = token.and_then(|t| tokens.get(&t));
        let symbol = if eth {
            Some("ETH".to_owned())
        } else {
            info.map(|i| i.symbol.to_uppercase())
        };
        let Some(symbol) = symbol else {
            // Without the token's symbol a stated amount cannot be compared.
            continue;
        };
        let decimals = if eth {
            18
        } else {
            info.map_or(18, |i| i.decimals)
        };
        let units = to_units(amount, decimals);
        // Some texts write the amount in base units.
        let raw = to_units(amount, 0);
        let words_moved = format!(
            "{} {}",
            format_amount(amount, decimals),
            info.map_or("ETH", |i| i.symbol.as_str())
        );
        let in_unit = |b: &&Binding| {
            b.amount
                .as_ref()
                .is_some_and(|a| a.amount.unit.as_deref() == Some(symbol.as_str()))
        };
        let fits = |b: &&Binding| {
            b.amount
                .as_ref()
                .is_some_and(|a| close(a.amount.value, units) || close(a.amount.value, raw))
        };
        let severity = |bs: &[&Binding]| {
            if bs.iter().any(|b| b.by == Binder::Rules) {
                Severity::Critical
            } else {
                Severity::Warn
            }
        };
        let by_model = |s: Severity| {
            if s == Severity::Warn {
                " (as bound by the local model)"
            } else {
                ""
            }
        };
        // What the text says this recipient gets.
        let to_it: Vec<&Binding> = bindings
            .iter()
            .filter(|b| b.recipient.as_ref().is_some_and(|r| r.is(to)))
            .filter(in_unit)
            .collect();
        if !to_it.is_empty() && !to_it.iter().any(fits) {
            let s = severity(&to_it);
            let stated: Vec<&str> = to_it
                .iter()
                .filter_map(|b| b.amount.as_ref().map(|a| a.text.as_str()))
                .collect();
            out.push(Flag::new(
                kinds::MISMATCH,
                s,
                format!(
                    "the description gives {} to {}, but the payload {verb} it {words_moved}{}",
                    stated.join(" and "),
                    short(to),
                    by_model(s)
                ),
            ));
            continue;
        }
        // Where the text says this amount goes.
        let elsewhere: Vec<&Binding> = bindings
            .iter()
            .filter(in_unit)
            .filter(fits)
            .filter(|b| {
                b.recipient
                    .as_ref()
                    .is_some_and(|r| r.resolved() && !r.is(to) && !via.iter().any(|v| r.is(*v)))
            })
            .collect();
        let also_here = bindings
            .iter()
            .filter(in_unit)
            .filter(fits)
            .any(|b| b.recipient.as_ref().is_some_and(|r| r.is(to)));
        if !elsewhere.is_empty() && !also_here {
            let s = severity(&elsewhere);
            let names: Vec<String> = elsewhere
                .iter()
                .filter_map(|b| b.recipient.as_ref().map(|r| r.text.clone()))
                .collect();
            out.push(Flag::new(
                kinds::MISMATCH,
                s,
                format!(
                    "the description gives {words_moved} to {}, but the payload {verb} it to {}{}",
                    names.join(" and "),
                    short(to),
                    by_model(s)
                ),
            ));
        }
    }
    dedupe(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::TokenInfo;
    use alloy_primitives::U256;

    fn a(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    fn usdc() -> Tokens {
        [(
            a(0xc0),
            TokenInfo {
                symbol: "USDC".into(),
                decimals: 6,
            },
        )]
        .into()
    }

    fn pay(to: Address, usdc: u64) -> Effect {
        Effect::payload(EffectKind::TokenTransfer {
            token: Some(a(0xc0)),
            from: None,
            to,
            amount: U256::from(usdc) * U256::from(1_000_000u64),
            via: None,
        })
    }

    #[test]
    fn candidates_are_amounts_addresses_ens_and_named_recipients() {
        let text = format!(
            "Donate 250,000 BEAN3CRV to Ukraine's address {}. Pay $750,000 to Certora ({}) and 1.5 million UNI to vitalik.eth; ping 0x0F11…e4c8.",
            a(1),
            a(2)
        );
        let c = candidates(&text);
        let amounts: Vec<&str> = c.amounts.iter().map(|x| x.text.as_str()).collect();
        assert_eq!(amounts, ["250,000 BEAN3CRV", "$750,000", "1.5 million UNI"]);
        let rs: Vec<(&str, Option<Address>)> = c
            .recipients
            .iter()
            .map(|r| (r.text.as_str(), r.address))
            .collect();
        assert_eq!(
            rs,
            [
                ("Ukraine", Some(a(1))),
                (a(1).to_checksum(None).as_str(), Some(a(1))),
                ("Certora", Some(a(2))),
                (a(2).to_checksum(None).as_str(), Some(a(2))),
                ("vitalik.eth", None),
                ("0x0F11…e4c8", None),
            ]
        );
        let b = rule_bindings(&text, &c);
        let pairs: Vec<(&str, &str, &str)> = b
            .iter()
            .map(|b| {
                (
                    b.action.as_str(),
                    b.amount.as_ref().map_or("", |x| x.text.as_str()),
                    b.recipient.as_ref().map_or("", |x| x.text.as_str()),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            [
                ("donate", "250,000 BEAN3CRV", "Ukraine"),
                ("pay", "$750,000", "Certora"),
                ("other", "1.5 million UNI", "vitalik.eth"),
            ]
        );
    }

    #[test]
    fn a_swap_of_two_payees_is_a_mismatch_the_separate_rules_miss() {
        let text = format!("Pay 5,000 USDC to {} and 200 USDC to {}.", a(1), a(2));
        let swapped = [pay(a(1), 200), pay(a(2), 5_000)];
        // The separate rules see both amounts and both recipients stated.
        assert!(super::super::mismatches(&text, &swapped, &usdc()).is_empty());
        let c = candidates(&text);
        let b = rule_bindings(&text, &c);
        let flags = binding_mismatches(&b, &swapped, &usdc(), &[]);
        assert_eq!(flags.len(), 2, "{flags:?}");
        assert!(flags.iter().all(|f| f.is_critical()), "{flags:?}");
        let right = [pay(a(1), 5_000), pay(a(2), 200)];
        assert!(binding_mismatches(&b, &right, &usdc(), &[]).is_empty());
    }

    #[test]
    fn model_answers_are_rechecked_and_never_override_rules() {
        let text = format!("Pay 5,000 USDC to {} and 200 USDC to {}.", a(1), a(2));
        let c = candidates(&text);
        let r1 = a(1).to_checksum(None);
        let r2 = a(2).to_checksum(None);
        let answer = serde_json::json!({"claims": [
            {"action": "pay", "amount": "5,000 USDC", "recipient": r2},
            {"action": "pay", "amount": "9 ETH", "recipient": "none"},
            {"action": "steal", "amount": "none", "recipient": "Mallory"},
            {"action": "pay", "amount": "none", "recipient": "none"},
        ]});
        let (m, refused) = model_bindings(&text, &c, &answer);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(refused.len(), 3, "{refused:?}");
        // The rules bound 5,000 USDC to the first address: the model's other binding is dropped.
        let merged = merge(rule_bindings(&text, &c), m.clone());
        assert_eq!(merged.len(), 2);
        assert!(merged.iter().all(|b| b.by == Binder::Rules));
        // Alone, a model binding only warns.
        let flags = binding_mismatches(&m, &[pay(a(1), 5_000)], &usdc(), &[]);
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert_eq!(flags[0].severity, Severity::Warn);
        assert!(flags[0].detail.contains(&r2), "{}", flags[0].detail);
        let _ = r1;
        // Garbage answers bind nothing.
        for bad in [
            serde_json::json!(null),
            serde_json::json!({"claims": "x"}),
            serde_json::json!({"claims": [1, {"amount": 3}]}),
        ] {
            assert!(model_bindings(&text, &c, &bad).0.is_empty());
        }
    }

    #[test]
    fn the_schema_lists_only_the_candidates() {
        let c = candidates("Send 10 ETH to Alice 0x1111111111111111111111111111111111111111.");
        let s = binding_schema(&c);
        let amounts = &s["properties"]["claims"]["items"]["properties"]["amount"]["enum"];
        assert_eq!(amounts, &serde_json::json!(["10 ETH", "none"]));
        let rs = &s["properties"]["claims"]["items"]["properties"]["recipient"]["enum"];
        assert_eq!(rs.as_array().map(Vec::len), Some(3), "{rs}");
    }
}
