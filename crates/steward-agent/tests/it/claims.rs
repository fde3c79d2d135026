//! Claims of a description bound to the payload: rules alone, rules plus the rule binder, and
//! rules plus the embedded model (SmolLM2-135M) or a user's OpenAI-compatible server, over the
//! real incident texts and look-alike proposals. The table is in docs/verify.md.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Instant;

use steward_agent::inspect::{model_claims, nothing_to_bind};
use steward_core::verification::{
    Binder, Binding, Effect, EffectKind, TokenInfo, Tokens, binding_mismatches, candidates, merge,
    mismatches, rule_bindings, unkept_promises,
};
use steward_core::{Address, Flag, U256};
use steward_ml::{Generator, LlamaGenerator, LlamaOptions, OpenAiBackend, OpenAiConfig};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

fn addr(n: u8) -> Address {
    Address::repeat_byte(n)
}

const USDC: u8 = 0xa1;
const DAI: u8 = 0xa2;
const STW: u8 = 0xa3;
const COMP: u8 = 0xa4;
const LP: u8 = 0xa5;
/// Ether has no token address.
const ETH: u8 = 0;

fn tokens() -> Tokens {
    [
        (USDC, "USDC", 6),
        (DAI, "DAI", 18),
        (STW, "STW", 18),
        (COMP, "COMP", 18),
        (LP, "BEAN3CRV", 18),
    ]
    .into_iter()
    .map(|(a, s, d)| {
        (
            addr(a),
            TokenInfo {
                symbol: s.into(),
                decimals: d,
            },
        )
    })
    .collect()
}

/// `units` whole tokens (or ether) of `token` to `to`, as the payload does.
fn pay(token: u8, to: Address, units: f64) -> Effect {
    let decimals = tokens().get(&addr(token)).map_or(18, |i| i.decimals);
    let milli = U256::from((units * 1000.0).round() as u128);
    let amount = milli * U256::from(10u64).pow(U256::from(decimals)) / U256::from(1000u64);
    Effect::payload(if token == ETH {
        EffectKind::EthTransfer {
            from: None,
            to,
            amount,
        }
    } else {
        EffectKind::TokenTransfer {
            token: Some(addr(token)),
            from: None,
            to,
            amount,
            via: None,
        }
    })
}

/// One text with the payload's value movements, whether a mismatch must be found, and the
/// (amount, recipient) pairs a correct binding gives (a recipient by its address when the text
/// gives one, else by its name).
struct Case {
    name: String,
    text: String,
    effects: Vec<Effect>,
    via: Vec<Address>,
    mismatch: bool,
    pairs: Vec<(&'static str, String)>,
}

fn incidents() -> Option<serde_json::Value> {
    let p = PathBuf::from(DATA).join("onchain-governance-incidents/incidents.json");
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

fn corpus() -> Vec<Case> {
    let mut out = Vec::new();
    let inc = incidents();
    let (a, b) = (addr(0x11), addr(0x22));
    let attacker = addr(0x99);
    // Tornado Cash #20: the real description; the payload moves no value itself.
    if let Some(d) = inc
        .as_ref()
        .and_then(|v| v[0]["proposal_description_json"].as_str())
        && let Ok(d) = serde_json::from_str::<serde_json::Value>(d)
    {
        out.push(Case {
            name: "tornado-20 (real text)".into(),
            text: format!(
                "{}\n\n{}",
                d["title"].as_str().unwrap_or(""),
                d["description"].as_str().unwrap_or("")
            ),
            effects: vec![],
            via: vec![],
            mismatch: false,
            pairs: vec![],
        });
    }
    // Beanstalk BIP-18: a donation in words, the whole LP swept to the proposer in the payload.
    let ukraine: Address = "0x165CD37b4C644C2921454429E7F9358d18A45e14"
        .parse()
        .expect("address");
    out.push(Case {
        name: "beanstalk-bip18".into(),
        text: format!(
            "BIP-18: Ukraine donation\n\nDonate 250,000 BEAN3CRV to Ukraine's address {ukraine}."
        ),
        effects: vec![pay(LP, attacker, 800_000.0)],
        via: vec![],
        mismatch: true,
        pairs: vec![("250,000 BEAN3CRV", format!("{ukraine:?}"))],
    });
    // goldCOMP: the real fixture amount and recipient.
    let vault: Address = "0x9c9dC2110240391d4BEe41203bDFbD19c279B429"
        .parse()
        .expect("address");
    out.push(Case {
        name: "goldcomp".into(),
        text: format!("Grant 1,791 COMP to the goldCOMP vault {vault} so the DAO earns yield."),
        effects: vec![pay(COMP, vault, 1791.0)],
        via: vec![],
        mismatch: false,
        pairs: vec![("1,791 COMP", format!("{vault:?}"))],
    });
    // Certora: the real rationale text, amounts and addresses.
    let certora: Address = "0x0F11640BF66e2D9352d9c41434A5C6E597c5e4c8"
        .parse()
        .expect("address");
    let sablier: Address = "0xCD18eAa163733Da39c232722cBC4E8940b1D8888"
        .parse()
        .expect("address");
    if let Some(t) = inc
        .as_ref()
        .and_then(|v| v[3]["rationale_in_source"].as_str())
    {
        out.push(Case {
            name: "certora-stream (real text)".into(),
            text: format!("Certora formal verification, 6 months\n\n{t}"),
            effects: vec![pay(COMP, certora, 16_722.408)],
            via: vec![addr(COMP), sablier],
            mismatch: false,
            pairs: vec![
                ("16,722.408 COMP", format!("{certora:?}")),
                ("$750,000", format!("{certora:?}")),
            ],
        });
    }
    // Synthetify: ten look-alike fee updates, one also paying 100,000 STW to an outsider.
    for i in 0..10u32 {
        out.push(Case {
            name: format!("synthetify-{i}"),
            text: format!(
                "Synthetify parameter update {i}\n\nSet the swap fee to {} bps.",
                30 + i
            ),
            effects: if i == 7 {
                vec![pay(STW, attacker, 100_000.0)]
            } else {
                vec![]
            },
            via: vec![],
            mismatch: i == 7,
            pairs: vec![],
        });
    }
    // Two payees, in several phrasings; each paid right, then swapped.
    let phrasings: [(&str, &str, u8, f64, f64); 5] = [
        (
            "Pay 5,000 USDC to the auditor {a} and 200 USDC to the bug reporter {b}.",
            "to-pattern",
            USDC,
            5_000.0,
            200.0,
        ),
        (
            "The auditor ({a}) receives 5,000 USDC and the bug reporter ({b}) receives 200 USDC.",
            "receives",
            USDC,
            5_000.0,
            200.0,
        ),
        (
            "Grants round 3: Alice {a} gets 12,000 DAI, Bob {b} gets 8,000 DAI.",
            "gets",
            DAI,
            12_000.0,
            8_000.0,
        ),
        (
            "Send 40 ETH to the Safe {a}; the remaining 10 ETH goes to {b}.",
            "goes-to",
            ETH,
            40.0,
            10.0,
        ),
        // Amounts and payees in opposite orders: binding by position is wrong here.
        (
            "Payouts of 5,000 USDC and 200 USDC: the bug reporter {b} gets the smaller one, the auditor {a} the larger one.",
            "larger-smaller",
            USDC,
            5_000.0,
            200.0,
        ),
    ];
    let amounts = |t: &str| -> Vec<&'static str> {
        match t {
            "to-pattern" | "receives" | "larger-smaller" => vec!["5,000 USDC", "200 USDC"],
            "gets" => vec!["12,000 DAI", "8,000 DAI"],
            _ => vec!["40 ETH", "10 ETH"],
        }
    };
    for (tpl, name, token, x, y) in phrasings {
        let text = tpl
            .replace("{a}", &a.to_checksum(None))
            .replace("{b}", &b.to_checksum(None));
        let am = amounts(name);
        let pairs = vec![(am[0], format!("{a:?}")), (am[1], format!("{b:?}"))];
        out.push(Case {
            name: format!("two-payees {name}"),
            text: text.clone(),
            effects: vec![pay(token, a, x), pay(token, b, y)],
            via: vec![],
            mismatch: false,
            pairs: pairs.clone(),
        });
        out.push(Case {
            name: format!("two-payees {name} swapped"),
            text,
            effects: vec![pay(token, a, y), pay(token, b, x)],
            via: vec![],
            mismatch: true,
            pairs,
        });
    }
    out
}

fn key(b: &Binding) -> Option<(String, String)> {
    let a = b.amount.as_ref()?;
    let r = b.recipient.as_ref()?;
    Some((
        a.text.clone(),
        r.address
            .map_or_else(|| r.text.clone(), |x| format!("{x:?}")),
    ))
}

#[derive(Default, Debug)]
struct Tally {
    /// Bindings made, correct ones, and expected pairs found.
    made: usize,
    right: usize,
    found: usize,
    /// Mismatch cases caught (any severity), critical among them, and false alarms.
    caught: usize,
    caught_critical: usize,
    false_alarms: usize,
    false_critical: usize,
}

fn tally(t: &mut Tally, c: &Case, bindings: &[Binding], flags: &[Flag]) {
    let keys: Vec<(String, String)> = bindings.iter().filter_map(key).collect();
    let want: Vec<(String, String)> = c
        .pairs
        .iter()
        .map(|(a, r)| ((*a).to_owned(), r.clone()))
        .collect();
    t.made += keys.len();
    t.right += keys.iter().filter(|k| want.contains(k)).count();
    t.found += want.iter().filter(|w| keys.contains(w)).count();
    let m: Vec<&Flag> = flags.iter().filter(|f| f.kind == "mismatch").collect();
    let crit = m.iter().any(|f| f.is_critical());
    if c.mismatch {
        t.caught += usize::from(!m.is_empty());
        t.caught_critical += usize::from(crit);
    } else {
        t.false_alarms += usize::from(!m.is_empty());
        t.false_critical += usize::from(crit);
    }
}

/// Runs the corpus through rules, rules + rule binder, and (with `g`) rules + both binders.
/// Returns the tallies and, for each case, whether a rules+binder finding was lost with the
/// model (never allowed).
fn run(mut g: Option<&mut dyn Generator>) -> (Vec<(&'static str, Tally)>, Vec<String>, f64) {
    let cases = corpus();
    let toks = tokens();
    let (mut rules, mut bound, mut model) = (Tally::default(), Tally::default(), Tally::default());
    let mut promised = Tally::default();
    let mut lost = Vec::new();
    let mut model_ms = 0.0;
    for c in &cases {
        let base = mismatches(&c.text, &c.effects, &toks);
        tally(&mut rules, c, &[], &base);
        let cand = candidates(&c.text);
        let rb = rule_bindings(&c.text, &cand);
        let mut with_rules = base.clone();
        with_rules.extend(binding_mismatches(&rb, &c.effects, &toks, &c.via));
        tally(&mut bound, c, &rb, &with_rules);
        // Both ways: the stated transfers looked for in the effects (no calls: all decoded).
        let mut both = with_rules.clone();
        both.extend(unkept_promises(&rb, &c.effects, &toks, &[], false));
        tally(&mut promised, c, &rb, &both);
        if let Some(g) = g.as_deref_mut() {
            let started = Instant::now();
            let mb = if nothing_to_bind(&cand, &rb).is_some() {
                Vec::new()
            } else {
                match model_claims(g, &c.text, &cand) {
                    Ok((b, _refused)) => b,
                    Err(e) => {
                        eprintln!("{}: the model failed: {e}", c.name);
                        Vec::new()
                    }
                }
            };
            model_ms += started.elapsed().as_secs_f64() * 1e3;
            let merged = merge(rb.clone(), mb);
            let only: Vec<Binding> = merged
                .iter()
                .filter(|b| b.by == Binder::Model)
                .cloned()
                .collect();
            let mut all = with_rules.clone();
            all.extend(binding_mismatches(&only, &c.effects, &toks, &c.via));
            for f in &with_rules {
                if !all.contains(f) {
                    lost.push(format!("{}: {}", c.name, f.detail));
                }
            }
            let shown: Vec<String> = merged
                .iter()
                .map(|b| {
                    format!(
                        "{:?}:{}→{}",
                        b.by,
                        b.amount.as_ref().map_or("none", |a| a.text.as_str()),
                        b.recipient.as_ref().map_or("none", |r| r.text.as_str())
                    )
                })
                .collect();
            eprintln!("{:<30} {}", c.name, shown.join("; "));
            tally(&mut model, c, &merged, &all);
        }
    }
    let mut out = vec![
        ("rules", rules),
        ("rules + rule binder", bound),
        ("rules + rule binder + promises", promised),
    ];
    if g.is_some() {
        out.push(("rules + rule binder + model", model));
    }
    (out, lost, model_ms)
}

fn table(rows: &[(&'static str, Tally)]) -> String {
    let cases = corpus();
    let bad = cases.iter().filter(|c| c.mismatch).count();
    let good = cases.len() - bad;
    let pairs: usize = cases.iter().map(|c| c.pairs.len()).sum();
    let mut s = format!(
        "| extractor | bindings made | correct | expected pairs found (of {pairs}) | mismatches caught (of {bad}) | of them critical | false alarms (of {good}) | of them critical |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n"
    );
    for (name, t) in rows {
        s.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} |\n",
            t.made, t.right, t.found, t.caught, t.caught_critical, t.false_alarms, t.false_critical
        ));
    }
    s
}

#[test]
fn rules_and_rule_binder_on_the_corpus() {
    let (rows, _, _) = run(None);
    eprintln!("{}", table(&rows));
    let (rules, bound) = (&rows[0].1, &rows[1].1);
    // The separate rules miss every swap of two stated payees; the binder catches the ones
    // written as `AMOUNT to RECIPIENT`, and raises no false alarm.
    assert!(bound.caught > rules.caught, "{rules:?} {bound:?}");
    assert_eq!(bound.false_alarms, 0, "{bound:?}");
    assert_eq!(rules.false_alarms, 0, "{rules:?}");
    assert_eq!(
        bound.right, bound.made,
        "every rule binding is right: {bound:?}"
    );
    // Looking for the promises in the payload adds no false alarm on the benign cases.
    let promised = &rows[2].1;
    assert_eq!(promised.false_alarms, 0, "{promised:?}");
    assert!(promised.caught >= bound.caught, "{promised:?}");
}

fn models_dir() -> PathBuf {
    std::env::var_os("STEWARD_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models")))
}

/// The embedded SmolLM2-135M binds under the enum grammar; its bindings never remove a rule
/// finding. Prints the table of docs/verify.md.
#[test]
fn model_binds_claims_and_never_removes_a_rule_finding() {
    let dir = models_dir();
    if let Some(f) = steward_ml::spec(steward_ml::Role::Generation)
        .files
        .iter()
        .find(|f| !dir.join(f.path).is_file())
    {
        steward_testing::skip(
            steward_testing::Need::Models,
            "model_binds_claims",
            format_args!("{} is missing", dir.join(f.path).display()),
        );
        return;
    }
    // The files are there: a loader that fails now is a bug, not a skip.
    let mut g = LlamaGenerator::embedded(&dir, &LlamaOptions::default())
        .expect("the embedded generation model loads");
    let model = g.info().model;
    let (rows, lost, ms) = run(Some(&mut g));
    eprintln!(
        "model {model}, {} cases, {:.0} ms of model time\n{}",
        corpus().len(),
        ms,
        table(&rows)
    );
    assert!(lost.is_empty(), "the model removed rule findings: {lost:?}");
    let (bound, with_model) = (&rows[1].1, &rows[3].1);
    assert!(
        with_model.caught >= bound.caught && with_model.caught_critical >= bound.caught_critical
    );
    // A model-only binding never raises a critical flag by itself.
    assert_eq!(
        with_model.false_critical, bound.false_critical,
        "{with_model:?}"
    );
}

/// A fake OpenAI-compatible server: answers every chat completion with `answer(request)`.
fn fake_server(answer: fn(&serde_json::Value) -> String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut r = BufReader::new(conn.try_clone().expect("clone"));
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            if r.read_exact(&mut body).is_err() {
                continue;
            }
            let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let content = answer(&req);
            let resp = serde_json::json!({
                "choices": [{"message": {"content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10}
            })
            .to_string();
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{resp}",
                resp.len()
            );
        }
    });
    url
}

fn backend(url: String) -> OpenAiBackend {
    OpenAiBackend::new(
        reqwest::Client::new(),
        OpenAiConfig {
            base_url: url,
            model: "bigger-local-model".into(),
            embedding_model: None,
            embedding_dim: 0,
        },
    )
    .expect("backend")
}

/// A bigger model behind an OpenAI-compatible server gets the same enum schema; its bindings go
/// through the same re-check, and an answer outside the schema binds nothing.
#[test]
fn an_openai_compatible_server_binds_through_the_same_schema() {
    let text = format!(
        "The auditor ({}) receives 5,000 USDC and the bug reporter ({}) receives 200 USDC.",
        addr(0x11).to_checksum(None),
        addr(0x22).to_checksum(None)
    );
    let c = candidates(&text);
    // A server that binds right: it reads the candidates from the schema it was sent.
    let url = fake_server(|req| {
        let items = &req["response_format"]["json_schema"]["schema"]["properties"]["claims"]["items"]
            ["properties"];
        let amounts = items["amount"]["enum"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let rs = items["recipient"]["enum"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        serde_json::json!({"claims": [
            {"action": "pay", "amount": amounts[0], "recipient": rs[0]},
            {"action": "pay", "amount": amounts[1], "recipient": rs[1]},
        ]})
        .to_string()
    });
    let mut g = backend(url);
    let (b, refused) = model_claims(&mut g, &text, &c).expect("bindings");
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(b.len(), 2, "{b:?}");
    assert!(b.iter().all(|b| b.by == Binder::Model));
    let swapped = [pay(USDC, addr(0x11), 200.0), pay(USDC, addr(0x22), 5_000.0)];
    assert!(
        mismatches(&text, &swapped, &tokens()).is_empty(),
        "rules miss it"
    );
    let flags = binding_mismatches(&b, &swapped, &tokens(), &[]);
    assert_eq!(flags.len(), 2, "{flags:?}");
    // A server that invents a value: the schema check refuses the answer.
    let url = fake_server(|_| {
        r#"{"claims":[{"action":"pay","amount":"9 ETH","recipient":"none"}]}"#.into()
    });
    let err = model_claims(&mut backend(url), &text, &c).expect_err("outside the schema");
    assert!(
        err.contains("9 ETH") || err.contains("enum") || err.contains("amount"),
        "{err}"
    );
}
