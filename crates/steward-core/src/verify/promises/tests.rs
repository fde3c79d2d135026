use super::*;
use crate::verify::{
    TokenInfo, binding_mismatches, candidates, mismatches, rule_bindings, unbound_transfers,
};

fn a(n: u8) -> Address {
    Address::repeat_byte(n)
}

const COMP: u8 = 0xc0;

fn comp() -> Tokens {
    [(
        a(COMP),
        TokenInfo {
            symbol: "COMP".into(),
            decimals: 18,
        },
    )]
    .into()
}

fn units(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

fn pay(to: Address, amount: U256) -> Effect {
    Effect::payload(EffectKind::TokenTransfer {
        token: Some(a(COMP)),
        from: None,
        to,
        amount,
        via: None,
    })
}

fn unknown_call() -> Call {
    let mut c = Call::plain(a(0xee), U256::ZERO, None, 0);
    c.selector = Some("0xdeadbeef".into());
    c.known = false;
    c
}

/// The flags before this module (rule mismatches and binding mismatches) and after it.
fn flags(
    text: &str,
    effects: &[Effect],
    tokens: &Tokens,
    calls: &[Call],
    simulated: bool,
) -> (Vec<Flag>, Vec<Flag>) {
    let b = rule_bindings(text, &candidates(text));
    let via: Vec<Address> = calls
        .iter()
        .flat_map(Call::walk)
        .map(|c| c.target)
        .collect();
    let mut old = mismatches(text, effects, tokens);
    old.extend(binding_mismatches(&b, effects, tokens, &via));
    let mut new = old.clone();
    new.extend(unkept_promises(&b, effects, tokens, calls, simulated));
    (old, new)
}

fn critical(f: &[Flag]) -> Vec<&Flag> {
    f.iter()
        .filter(|f| f.kind == kinds::MISMATCH && f.is_critical())
        .collect()
}

fn promise() -> String {
    format!("Grant 1,791 COMP to {} for the audit.", a(0x11))
}

#[test]
fn a_promise_kept_raises_nothing() {
    let (_, new) = flags(
        &promise(),
        &[pay(a(0x11), units(1791))],
        &comp(),
        &[],
        false,
    );
    assert!(new.is_empty(), "{new:?}");
}

#[test]
fn paid_to_someone_else_or_a_tenth_is_critical_and_the_old_rules_already_saw_it() {
    // The gap analysis: binding_mismatches walks the effects, so a payment that exists but
    // goes elsewhere or is smaller was already caught; this module must not add a duplicate.
    for e in [
        pay(a(0x22), units(1791)),
        pay(a(0x11), units(1791) / U256::from(10u8)),
    ] {
        let (old, new) = flags(&promise(), &[e], &comp(), &[], false);
        assert_eq!(critical(&old).len(), critical(&new).len(), "{new:?}");
        assert!(!critical(&new).is_empty(), "{new:?}");
    }
}

#[test]
fn an_allowance_instead_of_the_promised_transfer_is_critical() {
    let approve = Effect::payload(EffectKind::Approval {
        token: a(COMP),
        owner: None,
        spender: a(0x22),
        amount: units(1791),
        unlimited: false,
    });
    let (old, new) = flags(&promise(), &[approve], &comp(), &[], false);
    assert!(critical(&old).is_empty(), "the old rules miss it: {old:?}");
    let c = critical(&new);
    assert_eq!(c.len(), 1, "{new:?}");
    assert!(
        c[0].detail.contains("promises 1,791 COMP"),
        "{}",
        c[0].detail
    );
    assert!(
        c[0].detail.contains("allowance of 1,791 COMP"),
        "{}",
        c[0].detail
    );
}

#[test]
fn a_promise_with_nothing_moving_is_critical_naming_what_the_payload_does() {
    // The payload moves another asset (ETH) to someone else, and no COMP at all.
    let eth = Effect::payload(EffectKind::EthTransfer {
        from: None,
        to: a(0x33),
        amount: units(5),
    });
    let (old, new) = flags(&promise(), &[eth], &comp(), &[], true);
    // The old rules flag the ether as unstated, but not the promise that is never kept.
    assert!(
        old.iter().all(|f| !f.detail.contains("promises")),
        "{old:?}"
    );
    let c: Vec<&Flag> = critical(&new)
        .into_iter()
        .filter(|f| f.detail.contains("promises 1,791 COMP"))
        .collect();
    assert_eq!(c.len(), 1, "{new:?}");
    assert!(c[0].detail.contains("moves no COMP"), "{}", c[0].detail);
    assert!(
        c[0].detail.contains("not even in simulation"),
        "{}",
        c[0].detail
    );
}

#[test]
fn an_unknown_call_that_could_carry_the_promise_says_so_without_a_false_critical() {
    let (old, new) = flags(&promise(), &[], &comp(), &[unknown_call()], false);
    assert!(
        old.is_empty(),
        "the old rules are silent on the claim: {old:?}"
    );
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(new[0].severity, Severity::Warn);
    assert!(new[0].detail.contains("0xdeadbeef"), "{}", new[0].detail);
    assert!(new[0].detail.contains("could"), "{}", new[0].detail);
    // Simulated, the unknown call ran and moved nothing: now it is critical.
    let (_, sim) = flags(&promise(), &[], &comp(), &[unknown_call()], true);
    assert_eq!(critical(&sim).len(), 1, "{sim:?}");
}

#[test]
fn a_recipient_named_by_ens_or_role_warns_that_it_cannot_be_checked() {
    for text in [
        "Transfer 1,791 COMP to the Treasury Safe.",
        "Transfer 1,791 COMP to compound-grants.eth.",
    ] {
        let (old, new) = flags(text, &[pay(a(0x22), units(1791))], &comp(), &[], false);
        assert!(
            critical(&old).is_empty() && critical(&new).is_empty(),
            "{new:?}"
        );
        let w: Vec<&Flag> = new
            .iter()
            .filter(|f| f.detail.contains("promises"))
            .collect();
        assert_eq!(w.len(), 1, "{text}: {new:?}");
        assert_eq!(w[0].severity, Severity::Warn);
        assert!(
            w[0].detail.contains("without an address"),
            "{}",
            w[0].detail
        );
        assert!(old.iter().all(|f| !f.detail.contains("without an address")));
    }
}

#[test]
fn unknown_decimals_are_not_compared_and_not_called_zero_tokens() {
    let odd = Effect::payload(EffectKind::TokenTransfer {
        token: Some(a(0x99)),
        from: None,
        to: a(0x11),
        amount: U256::from(12_345u64),
        via: None,
    });
    let (_, new) = flags(&promise(), &[odd], &comp(), &[], false);
    assert!(
        critical(&new)
            .iter()
            .all(|f| !f.detail.contains("promises")),
        "{new:?}"
    );
    let w = new
        .iter()
        .find(|f| f.detail.contains("promises"))
        .expect("a warning");
    assert!(w.detail.contains("12345 base units"), "{}", w.detail);
    assert!(w.detail.contains("decimals unknown"), "{}", w.detail);
    assert!(!w.detail.contains("0 tokens"), "{}", w.detail);
}

#[test]
fn amounts_in_words_ranges_percentages_and_dollars_are_not_promises() {
    let to = a(0x11);
    for text in [
        format!("Send one thousand COMP to {to}."),
        format!("Send 100-200 COMP to {to}."),
        format!("Send 5% of reserves to {to}."),
        format!("Send $750,000 to {to}, paid in COMP and USDC."),
        format!("Raise the fee by 25 bps to {to}."),
    ] {
        let b = rule_bindings(&text, &candidates(&text));
        let f = unkept_promises(&b, &[], &comp(), &[], true);
        assert!(f.is_empty(), "{text}: {f:?}");
    }
    // Two currencies in one text: each promise is looked for in its own asset.
    let text = format!("Pay 1,000 COMP to {to} and 2 ETH to {}.", a(0x44));
    let eth = Effect::payload(EffectKind::EthTransfer {
        from: None,
        to: a(0x44),
        amount: units(2),
    });
    let (_, new) = flags(
        &text,
        &[pay(to, units(1000)), eth.clone()],
        &comp(),
        &[],
        true,
    );
    assert!(new.is_empty(), "{new:?}");
    let (_, new) = flags(&text, &[eth], &comp(), &[], true);
    assert_eq!(critical(&new).len(), 1, "{new:?}");
}

#[test]
fn an_amount_with_a_transfer_verb_and_no_recipient_is_looked_for_and_only_warns() {
    let text = "Transfer 1,791 COMP to fund the audits.";
    let c = candidates(text);
    let bound = rule_bindings(text, &c);
    assert!(bound.is_empty(), "{bound:?}");
    let b = unbound_transfers(text, &c, &bound);
    assert_eq!(b.len(), 1, "{b:?}");
    let approve = Effect::payload(EffectKind::Approval {
        token: a(COMP),
        owner: None,
        spender: a(0x22),
        amount: units(1791),
        unlimited: false,
    });
    let f = unkept_promises(&b, &[approve], &comp(), &[], false);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].severity, Severity::Warn);
    assert!(
        f[0].detail.contains("transfer of 1,791 COMP"),
        "{}",
        f[0].detail
    );
    assert!(f[0].detail.contains("allowance"), "{}", f[0].detail);
    // The old rules said nothing: an approval is no value moved.
    assert!(mismatches(text, &[], &comp()).is_empty());
    // Moved, in whatever amount: the rule of `mismatches` judges the amount.
    assert!(unkept_promises(&b, &[pay(a(0x22), units(5))], &comp(), &[], false).is_empty());
    // "The treasury holds 10M COMP" has no transfer verb before the amount: no claim.
    let t2 = "The treasury holds 10M COMP today.";
    assert!(unbound_transfers(t2, &candidates(t2), &[]).is_empty());
}

#[test]
fn beanstalk_shape_names_the_promise_and_the_sweep() {
    // BIP-18: the text donates 250,000 BEAN3CRV to Ukraine; the diamond's init (an unknown
    // function, run by delegatecall) sweeps 800,000 to an EOA, seen only in simulation.
    let ukraine = a(0x16);
    let text = format!("Donate 250,000 BEAN3CRV to Ukraine's address {ukraine}.");
    let lp: Tokens = [(
        a(COMP),
        TokenInfo {
            symbol: "BEAN3CRV".into(),
            decimals: 18,
        },
    )]
    .into();
    let sweep = Effect::simulated(EffectKind::TokenTransfer {
        token: Some(a(COMP)),
        from: None,
        to: a(0x66),
        amount: units(800_000),
        via: None,
    });
    let (_, new) = flags(&text, &[sweep], &lp, &[unknown_call()], true);
    let p: Vec<&Flag> = critical(&new)
        .into_iter()
        .filter(|f| f.detail.contains("promises 250,000 BEAN3CRV to Ukraine"))
        .collect();
    assert_eq!(p.len(), 1, "{new:?}");
    assert!(
        p[0].detail.contains("sends 800,000 BEAN3CRV to 0x6666"),
        "{}",
        p[0].detail
    );
}

/// The real proposal texts, by set: (set, name, text).
fn real_texts(data: &std::path::Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for set in ["aave-aips", "lido-lips", "makerdao-mips"] {
        let dir = data.join("proposal-texts").join(set).join("md");
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            if let Ok(t) = std::fs::read_to_string(&f) {
                let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
                out.push((set.to_owned(), name.unwrap_or_default(), t));
            }
        }
    }
    // The on-chain Governor proposals (Compound, Uniswap, ...): one JSON object a line.
    if let Ok(lines) = std::fs::read_to_string(data.join("onchain-governor-votes/proposals.jsonl"))
    {
        for l in lines.lines() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(l) {
                let field = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
                out.push((
                    "onchain-governor-votes".into(),
                    field("proposal_id"),
                    format!("{}\n{}", field("title"), field("body")),
                ));
            }
        }
    }
    // Arbitrum: a CSV whose description field spans lines ("" escapes a quote).
    if let Ok(csv) =
        std::fs::read_to_string(data.join("proposal-texts/arbitrum-tally/tally_proposals.csv"))
    {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let (mut row, mut field, mut quoted) = (Vec::new(), String::new(), false);
        let mut chars = csv.chars().peekable();
        while let Some(ch) = chars.next() {
            match (ch, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                ('"', _) => quoted = !quoted,
                (',', false) => row.push(std::mem::take(&mut field)),
                ('\n', false) => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                _ => field.push(ch),
            }
        }
        for r in rows.iter().skip(1) {
            if r.len() > 2 {
                out.push((
                    "arbitrum-tally".into(),
                    r[1].clone(),
                    format!("{}\n{}", r[1], r[2]),
                ));
            }
        }
    }
    out
}

/// The payload a text describes, rebuilt from its own stated amounts and recipients: each bound
/// amount paid to its address in a token of that symbol (18 decimals).
fn rebuilt(text: &str) -> (Vec<Effect>, Tokens) {
    let b = rule_bindings(text, &candidates(text));
    let mut effects = Vec::new();
    let mut tokens = Tokens::new();
    for x in &b {
        let (Some(amt), Some(r)) = (&x.amount, &x.recipient) else {
            continue;
        };
        let Some(unit) = amt.amount.unit.as_deref() else {
            continue;
        };
        // A name without an address says nothing about who is paid, and a dollar amount is a
        // valuation: neither can be rebuilt.
        if NOT_ASSETS.contains(&unit) {
            continue;
        }
        let to = match (&r.address, &r.short) {
            (Some(a), _) => *a,
            (None, Some((p, s))) => {
                let hex = format!("{p}{}{s}", "0".repeat(40 - p.len() - s.len()));
                hex.parse().unwrap_or(Address::ZERO)
            }
            _ => continue,
        };
        let token = Address::from_word(alloy_primitives::keccak256(unit.as_bytes()));
        tokens.insert(
            token,
            TokenInfo {
                symbol: unit.to_owned(),
                decimals: 18,
            },
        );
        let Ok(raw) = format!("{:.0}", amt.amount.value * 1e18).parse::<U256>() else {
            continue;
        };
        effects.push(if unit == "ETH" {
            Effect::payload(EffectKind::EthTransfer {
                from: None,
                to,
                amount: raw,
            })
        } else {
            Effect::payload(EffectKind::TokenTransfer {
                token: Some(token),
                from: None,
                to,
                amount: raw,
                via: None,
            })
        });
    }
    (effects, tokens)
}

/// `cargo test -p steward-core --lib real_texts -- --nocapture` prints the table in
/// docs/verify.md ("Claims both ways").
#[test]
#[allow(clippy::print_stderr)] // the measured table goes to stderr
fn real_texts_promise_few_false_alarms() {
    let data = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    let texts = real_texts(data);
    if texts.is_empty() {
        steward_testing::skip(
            steward_testing::Need::Data,
            "real_texts_promise_few_false_alarms",
            format!("{} has no proposal texts", data.display()),
        );
        return;
    }
    let mut by_set: std::collections::BTreeMap<String, [usize; 6]> = Default::default();
    for (set, name, text) in &texts {
        let c = candidates(text);
        let b = rule_bindings(text, &c);
        let unbound = unbound_transfers(text, &c, &b);
        // A payload that does none of what the text promises (the worst case for a text).
        let mut all = b.clone();
        all.extend(unbound.iter().cloned());
        let none = unkept_promises(&all, &[], &Tokens::new(), &[], true);
        // The payload the text describes.
        let (effects, tokens) = rebuilt(text);
        let mut described = mismatches(text, &effects, &tokens);
        described.extend(binding_mismatches(&b, &effects, &tokens, &[]));
        described.extend(unkept_promises(&b, &effects, &tokens, &[], true));
        let row = by_set.entry(set.clone()).or_default();
        row[0] += 1;
        let crit = |f: &[Flag]| f.iter().any(Flag::is_critical);
        row[1] += usize::from(!none.is_empty());
        row[2] += usize::from(crit(&none));
        row[3] += usize::from(crit(&described));
        row[4] += usize::from(described.iter().any(|f| f.severity == Severity::Warn));
        // Amounts with a transfer verb and no recipient (not rebuilt: nobody to pay).
        row[5] += usize::from(unbound.iter().any(|x| {
            x.amount
                .as_ref()
                .and_then(|a| a.amount.unit.as_deref())
                .is_some_and(|u| !NOT_ASSETS.contains(&u))
        }));
        for f in none
            .iter()
            .chain(described.iter().filter(|f| f.is_critical()))
        {
            eprintln!("{set}\t{name}\t{:?}\t{}", f.severity, f.detail);
        }
    }
    eprintln!(
        "| set | texts | flagged if nothing is paid | critical if nothing is paid | critical on the payload described | warn on it | with an amount to no named recipient |"
    );
    let mut total = [0usize; 6];
    for (set, r) in &by_set {
        eprintln!(
            "| {set} | {} | {} | {} | {} | {} | {} |",
            r[0], r[1], r[2], r[3], r[4], r[5]
        );
        for i in 0..6 {
            total[i] += r[i];
        }
    }
    eprintln!(
        "| all | {} | {} | {} | {} | {} | {} |",
        total[0], total[1], total[2], total[3], total[4], total[5]
    );
    // The bound: at most 2% of benign proposals critical from the claims rules.
    assert!(total[3] * 50 <= total[0], "{total:?}");
}
