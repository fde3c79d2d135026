//! `steward market trade --auto` on a real anvil with the real embedder, quotes from the
//! sponsor's `steward market quotes` service: the agent buys "accepted" on an input its user's
//! statements support, bets against one they oppose, never trades an input nothing bears on
//! (probability unknown), never spends past the daily cap, trades nothing in a dry run, explains
//! each trade on the desk, and a kill -9 between the recorded intent and the send never spends
//! twice (the intent counts until reconciled from the chain).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use alloy::primitives::{Address, B256};
use steward_eth::SuggestionMarketClient;
use steward_eth::testkit::{Anvil, MarketSetup, dev_key};

use crate::market::KPW;
use crate::web::Killed;
use crate::{PASS, json, models_present, run, steward, temp_home};

const USDC: u128 = 1_000_000;

const FOR_TEXT: &str = "Fund security audits of our contracts\nThe DAO pays two independent firms for security audits of our contracts before the upgrade.";
const AGAINST_TEXT: &str = "Spend treasury funds on conference sponsorships\nThe DAO sponsors three conferences this year from treasury funds.";
const UNKNOWN_TEXT: &str = "Repaint the office kitchen walls green\nThe kitchen in the shared office gets a new coat of paint.";

fn trader_cmd(home: &Path, daily_cap: &str) -> Command {
    let mut c = steward(home);
    c.env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_MARKET_DAILY_CAP", daily_cap);
    c
}

fn auto(home: &Path, daily_cap: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let mut c = trader_cmd(home, daily_cap);
    c.args(["--json", "market", "trade", "--auto", "--no-llm"])
        .args(extra);
    let (code, out, err) = run(&mut c);
    let v = if out.trim().is_empty() {
        serde_json::Value::Null
    } else {
        json(&out)
    };
    (code, v, format!("{out}{err}"))
}

fn traded_units(r: &serde_json::Value) -> Vec<(u64, i128)> {
    r["data"]["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter(|l| !l["trade"].is_null())
        .map(|l| {
            let cost = l["trade"]["detail"]["cost"].as_str().expect("cost");
            (
                l["input"].as_u64().expect("input"),
                steward_agent::market::parse_shares(cost).expect("cost units"),
            )
        })
        .collect()
}

#[test]
fn auto_trade_follows_its_probability_within_the_caps_and_survives_kill_9() {
    let test = "auto_trade_follows_its_probability_within_the_caps_and_survives_kill_9";
    let tools = match steward_eth::testkit::Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(steward_testing::Need::Anvil, test, why);
            return;
        }
    };
    if !models_present(test) {
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let trader = dev_key(2).expect("key");
    let (anvil, setup, m) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = steward_eth::testkit::Artifacts::load(&tools).expect("contracts");
        let setup = MarketSetup::deploy(&anvil, &artifacts, 100 * USDC, 3600)
            .await
            .expect("deploy");
        let m = SuggestionMarketClient::new(anvil.rpc().clone(), setup.market);
        setup
            .fund_account(&anvil, setup.sponsor, 1_000 * USDC)
            .await
            .expect("sponsor money");
        for text in [FOR_TEXT, AGAINST_TEXT, UNKNOWN_TEXT] {
            let id = m
                .submit(
                    &dev_key(1).expect("key"),
                    B256::from(steward_eth::keccak(text.as_bytes())),
                    &steward_agent::market::judge::data_uri_of(text),
                )
                .await
                .expect("submit");
            m.fund(&dev_key(0).expect("key"), id).await.expect("fund");
        }
        // An input whose URI does not hash to its content hash is never judged.
        let id = m
            .submit(
                &dev_key(1).expect("key"),
                B256::repeat_byte(7),
                &steward_agent::market::judge::data_uri_of(FOR_TEXT),
            )
            .await
            .expect("submit");
        m.fund(&dev_key(0).expect("key"), id).await.expect("fund");
        setup
            .fund_account(&anvil, trader.address(), 50 * USDC)
            .await
            .expect("trader money");
        (anvil, setup, m)
    });
    let (dir, _) = temp_home();
    let sponsor_home = crate::home_with_key(dir.path(), "sponsor", 0, KPW);
    let trader_home = crate::home_with_key(dir.path(), "trader", 2, KPW);
    let trader_addr = format!("{:#x}", trader.address());

    // The sponsor's quote service, for this trader only, at most 50 tokens a quote.
    let mut svc = steward(&sponsor_home);
    svc.env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .env("STEWARD_MARKET_RPC", anvil.url().as_str())
        .env("STEWARD_MARKET_ADDRESS", format!("{:#x}", setup.market))
        .env("STEWARD_MARKET_QUOTE_TRADERS", &trader_addr)
        .env("STEWARD_MARKET_QUOTE_MAX", "50")
        .args(["market", "quotes", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut svc = Killed(svc.spawn().expect("quotes"));
    let mut lines = BufReader::new(svc.0.stderr.take().expect("stderr")).lines();
    let quote_url = loop {
        let line = lines.next().expect("quotes exited").expect("read");
        if let Some(at) = line.split("listening on ").nth(1) {
            break at.split_whitespace().next().expect("url").to_owned();
        }
    };
    // Keep reading its stderr so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});

    // Refusals: a trader not allowed, an amount above quote_max.
    rt.block_on(async {
        let c = reqwest::Client::new();
        let ask = |trader: String, shares: i128| {
            c.post(format!("{quote_url}/quote"))
                .json(&serde_json::json!({"input": 0, "trader": trader, "delta_accepted": shares, "delta_rejected": 0}))
                .send()
        };
        let r = ask(format!("{:#x}", Address::repeat_byte(9)), USDC as i128)
            .await
            .expect("ask");
        assert_eq!(r.status(), 403);
        let r = ask(trader_addr.clone(), 60 * USDC as i128)
            .await
            .expect("ask");
        assert_eq!(r.status(), 422);
        assert!(
            r.text().await.expect("body").contains("market.quote_max"),
            "over the cap"
        );
    });

    std::fs::write(
        trader_home.join("config.toml"),
        format!(
            "[market]\nrpc = \"{}\"\naddress = \"{:#x}\"\nbudget = 100.0\ndaily_cap = 6.0\nquote_url = \"{quote_url}\"\nmin_edge = 0.05\n",
            anvil.url(),
            setup.market
        ),
    )
    .expect("config");
    for s in [
        "I support security audits of our contracts",
        "I oppose spending treasury funds on conference sponsorships",
    ] {
        let (code, out, err) = run(trader_cmd(&trader_home, "6").args(["profile", "say", s]));
        assert_eq!(code, 0, "{out}{err}");
    }
    let balance = |who: Address| rt.block_on(setup.balance(&anvil, who)).expect("balance");
    let start = balance(trader.address());

    // Dry run: the plan, nothing asked, signed or recorded.
    let t0 = std::time::Instant::now();
    let (code, r, all) = auto(&trader_home, "6", &["--dry-run"]);
    eprintln!(
        "market auto dry run, 4 inputs (worker start included): {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(code, 0, "{all}");
    let l = r["data"]["lines"].as_array().expect("lines");
    assert_eq!(l.len(), 4, "{all}");
    assert!(l[0]["probability"].as_f64().expect("p0") > 0.55, "{all}");
    assert_eq!(l[0]["plan"]["plan"], "trade", "{all}");
    assert!(
        l[0]["plan"]["delta_accepted"].as_i64().expect("buy") > 0,
        "{all}"
    );
    assert!(l[1]["probability"].as_f64().expect("p1") < 0.45, "{all}");
    assert_eq!(l[1]["plan"]["plan"], "trade", "{all}");
    assert_eq!(l[1]["plan"]["delta_accepted"], 0, "{all}");
    assert!(
        l[1]["plan"]["delta_rejected"].as_i64().expect("against") > 0,
        "{all}"
    );
    // Nothing bears on the kitchen: probability unknown, no trade.
    assert!(l[2]["probability"].is_null(), "{all}");
    assert_eq!(l[2]["plan"]["plan"], "abstain", "{all}");
    assert!(
        l[3]["plan"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("content hash"),
        "{all}"
    );
    assert!(traded_units(&r).is_empty());
    assert_eq!(balance(trader.address()), start, "a dry run trades nothing");
    assert_eq!(rt.block_on(m.nonce(trader.address())).expect("nonce"), 0);

    // For real, daily cap 6: it buys "accepted" on input 0 and bets against input 1, in all at
    // most 6 tokens.
    let (code, r, all) = auto(&trader_home, "6", &[]);
    assert_eq!(code, 0, "{all}");
    let t = traded_units(&r);
    assert!(t.iter().any(|(i, _)| *i == 0), "{all}");
    assert!(t.iter().all(|(i, _)| *i < 2), "only inputs 0 and 1: {all}");
    let spent: i128 = t.iter().map(|(_, c)| c).sum();
    assert!(spent > 0 && spent <= 6 * USDC as i128, "{spent} {all}");
    for l in r["data"]["lines"].as_array().expect("lines") {
        if !l["trade"].is_null() {
            eprintln!(
                "gas market auto trade input {}: {}",
                l["input"], l["trade"]["gas_used"]
            );
        }
    }
    let why = r["data"]["lines"][0]["trade"]["why"].as_str().expect("why");
    assert!(
        why.contains("mine 0.") && why.contains("security audits"),
        "{why}"
    );
    let (_, accepted) = rt
        .block_on(m.shares_of(0, trader.address()))
        .expect("shares");
    assert!(accepted > 0);
    assert_eq!(
        start - balance(trader.address()),
        spent as u128,
        "what the chain took is what the ledger recorded"
    );

    // Again: the daily cap leaves little or nothing; never past it.
    let (code, r, all) = auto(&trader_home, "6", &[]);
    assert_eq!(code, 0, "{all}");
    let spent2: i128 = traded_units(&r).iter().map(|(_, c)| c).sum();
    assert!(
        spent + spent2 <= 6 * USDC as i128,
        "{spent} + {spent2}: {all}"
    );
    assert_eq!(start - balance(trader.address()), (spent + spent2) as u128);

    // kill -9 between the recorded intent and the send, with a larger cap.
    let mut c = trader_cmd(&trader_home, "20");
    c.args(["--json", "market", "trade", "--auto", "--no-llm"])
        .env("STEWARD_CAST_PAUSE_AT", "market-after-intent")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = Killed(c.spawn().expect("spawn"));
    let err = BufReader::new(child.0.stderr.take().expect("stderr"));
    let mut seen = Vec::new();
    for line in err.lines() {
        let line = line.expect("read");
        let paused = line.contains("cast paused at market-after-intent");
        seen.push(line);
        if paused {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l.contains("paused at")),
        "never paused: {seen:?}"
    );
    child.0.kill().expect("kill -9");
    let _ = child.0.wait();
    let before = balance(trader.address());
    let nonce = rt.block_on(m.nonce(trader.address())).expect("nonce");
    // Next run: the intent may still land (its quote is valid), so the market waits for it;
    // nothing is sent.
    let (code, r, all) = auto(&trader_home, "20", &[]);
    assert_eq!(code, 0, "{all}");
    assert!(traded_units(&r).is_empty(), "{all}");
    assert!(all.contains("not settled yet"), "{all}");
    assert_eq!(
        rt.block_on(m.nonce(trader.address())).expect("nonce"),
        nonce
    );
    assert_eq!(balance(trader.address()), before);
    // Past the quote's deadline it can never land: abandoned, its spend released, and the
    // agent trades again, once.
    rt.block_on(async {
        anvil.increase_time(400).await.expect("time");
        anvil.mine(1).await.expect("mine");
    });
    let (code, r, all) = auto(&trader_home, "20", &[]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(r["data"]["reconciled"][0][1], "abandoned", "{all}");
    let spent3: i128 = traded_units(&r).iter().map(|(_, c)| c).sum();
    assert!(spent3 > 0, "{all}");
    assert!(spent + spent2 + spent3 <= 20 * USDC as i128);
    assert_eq!(
        start - balance(trader.address()),
        (spent + spent2 + spent3) as u128
    );

    // `run --watch` with market.auto: an auto round after the pipeline's round, in its report.
    let round = first_watch_round(trader_cmd(&trader_home, "30"));
    let watched: Vec<&serde_json::Value> = round["data"]["market"]
        .as_array()
        .unwrap_or_else(|| panic!("no market lines: {round}"))
        .iter()
        .filter(|l| !l["trade"].is_null())
        .collect();
    assert!(!watched.is_empty(), "{round}");
    let spent4: i128 = watched
        .iter()
        .map(|l| {
            steward_agent::market::parse_shares(
                l["trade"]["detail"]["cost"].as_str().expect("cost"),
            )
            .expect("units")
        })
        .sum();
    assert!(spent + spent2 + spent3 + spent4 <= 30 * USDC as i128);
    assert_eq!(
        start - balance(trader.address()),
        (spent + spent2 + spent3 + spent4) as u128
    );

    // The desk explains each trade and the caps left, escaped.
    let (child, url) = crate::web::serve_desk(&trader_home);
    let page = crate::web::desk_page(&rt, &url, "/activity");
    drop(child);
    drop(svc);
    assert!(page.contains("id=\"markets\""), "{page}");
    assert!(page.contains("id=\"caps\""), "{page}");
    assert!(page.contains("of market.daily_cap 6.000000"), "{page}");
    assert!(page.contains("mine 0."), "{page}");
    assert!(page.contains("abandoned"), "{page}");
    assert!(page.contains("security audits of our contracts"), "{page}");

    // After the end the sponsor settles every input (the first accepted, the rest rejected);
    // the next `run --watch` round with market.auto redeems the agent's winning shares.
    rt.block_on(async {
        anvil.increase_time(4_000).await.expect("time");
        anvil.mine(1).await.expect("mine");
        let sponsor = dev_key(0).expect("key");
        for id in 0..4u64 {
            m.settle(&sponsor, id, id == 0).await.expect("settle");
        }
    });
    let winning: u128 = (0..4u64)
        .map(|id| {
            let (no, yes) = rt
                .block_on(m.shares_of(id, trader.address()))
                .expect("shares");
            if id == 0 { yes } else { no }
        })
        .sum();
    assert!(winning > 0, "the agent holds winning shares");
    let before = balance(trader.address());
    let round = first_watch_round(trader_cmd(&trader_home, "30"));
    let redeemed = round["data"]["market_redeemed"]
        .as_array()
        .unwrap_or_else(|| panic!("nothing redeemed: {round}"));
    assert!(redeemed.iter().all(|r| r["tx"].is_string()), "{round}");
    assert_eq!(balance(trader.address()) - before, winning, "{round}");
    for id in 0..4u64 {
        let (no, yes) = rt
            .block_on(m.shares_of(id, trader.address()))
            .expect("shares");
        assert_eq!(if id == 0 { yes } else { no }, 0, "input {id} redeemed");
    }
    // Nothing left to redeem: the next round redeems nothing.
    let (code, r, all) = auto(&trader_home, "30", &[]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(
        r["data"]["redeemed"].as_array().map(Vec::len),
        Some(0),
        "{all}"
    );
}

/// The first round `run --watch` prints (with `market.auto` on), then the process is killed.
fn first_watch_round(mut cmd: std::process::Command) -> serde_json::Value {
    cmd.env("STEWARD_MARKET_AUTO", "true")
        .args([
            "--json",
            "run",
            "--watch",
            "--no-sync",
            "--no-llm",
            "--interval",
            "3600",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Killed(cmd.spawn().expect("run --watch"));
    let mut reader = BufReader::new(child.0.stdout.take().expect("stdout"));
    let mut text = String::new();
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "run printed: {text}"
        );
        text.push_str(&line);
        if let Ok(v) = serde_json::from_str(&text) {
            return v;
        }
    }
}
