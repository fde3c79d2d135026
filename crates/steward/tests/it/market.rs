//! `steward market list | quote | trade | settle` on a real anvil with `SuggestionMarket` on a
//! 6-decimal USDC: the sponsor's home signs an LMSR quote, the trader's home trades it within
//! its budget, a trade past the budget or the daily cap is refused before signing, a quote above
//! the LMSR price is refused, and settling before the end is refused by the contract.

use std::path::Path;
use std::process::Command;

use alloy::primitives::B256;
use steward_eth::SuggestionMarketClient;
use steward_eth::testkit::{Anvil, Artifacts, MarketSetup, Tools, dev_key};

use crate::{PASS, json, run, steward, temp_home};

pub(crate) const KPW: &str = "market-test-keystore-pw";
const USDC: u128 = 1_000_000;

fn market_cmd(home: &Path, anvil: &Anvil, setup: &MarketSetup, budget: &str, cap: &str) -> Command {
    let mut c = steward(home);
    c.env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_MARKET_RPC", anvil.url().as_str())
        .env("STEWARD_MARKET_ADDRESS", format!("{:#x}", setup.market))
        .env("STEWARD_MARKET_BUDGET", budget)
        .env("STEWARD_MARKET_DAILY_CAP", cap);
    c
}

#[test]
fn market_list_quote_trade_within_limits_and_settle_before_end_refused() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(
                steward_testing::Need::Anvil,
                "market_list_quote_trade_within_limits_and_settle_before_end_refused",
                why,
            );
            return;
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let trader = dev_key(2).expect("key");
    let (anvil, setup) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = Artifacts::load(&tools).expect("contracts");
        let setup = MarketSetup::deploy(&anvil, &artifacts, 100 * USDC, 3600)
            .await
            .expect("deploy");
        let m = SuggestionMarketClient::new(anvil.rpc().clone(), setup.market);
        let id = m
            .submit(
                &dev_key(1).expect("key"),
                B256::repeat_byte(1),
                "ipfs://input",
            )
            .await
            .expect("submit");
        setup
            .fund_account(&anvil, setup.sponsor, 1_000 * USDC)
            .await
            .expect("sponsor money");
        m.fund(&dev_key(0).expect("key"), id).await.expect("fund");
        setup
            .fund_account(&anvil, trader.address(), 50 * USDC)
            .await
            .expect("trader money");
        (anvil, setup)
    });
    let (dir, _) = temp_home();
    let sponsor_home = crate::home_with_key(dir.path(), "sponsor", 0, KPW);
    let trader_home = crate::home_with_key(dir.path(), "trader", 2, KPW);
    let trader_addr = format!("{:#x}", trader.address());

    // list
    let (code, out, err) = run(
        market_cmd(&trader_home, &anvil, &setup, "100", "6").args(["market", "list", "--json"])
    );
    assert_eq!(code, 0, "{out}{err}");
    let l = json(&out);
    assert_eq!(l["data"]["inputs"][0]["status"], "open", "{out}");
    assert_eq!(l["data"]["inputs"][0]["price_accepted"], 0.5);
    assert_eq!(l["data"]["inputs"][0]["pool"], "69.314719");

    // The sponsor signs a quote for the trader: 10 accepted shares at the LMSR price.
    let quote_for = |shares: &str, file: &str| {
        let (code, out, err) = run(market_cmd(&sponsor_home, &anvil, &setup, "0", "0").args([
            "market",
            "quote",
            "0",
            "--accepted",
            shares,
            "--trader",
            &trader_addr,
            "--sign",
            "--json",
        ]));
        assert_eq!(code, 0, "{out}{err}");
        let path = dir.path().join(file);
        std::fs::write(&path, &out).expect("write quote");
        (json(&out), path)
    };
    let (q, q_file) = quote_for("10", "q1.json");
    assert_eq!(q["data"]["cost"], 5_124_948, "{q}");
    // Not the sponsor: it cannot sign.
    let (code, out, _) = run(market_cmd(&trader_home, &anvil, &setup, "100", "6").args([
        "market",
        "quote",
        "0",
        "--accepted",
        "10",
        "--sign",
        "--json",
    ]));
    assert_ne!(code, 0);
    assert!(out.contains("only the sponsor"), "{out}");

    // Past the budget: refused before anything is signed (no password needed, nothing sent).
    let (code, out, _) = run(market_cmd(&trader_home, &anvil, &setup, "3", "6")
        .env_remove("STEWARD_KEYSTORE_PASSWORD")
        .args(["market", "trade", "--quote"])
        .arg(&q_file)
        .arg("--json"));
    assert_ne!(code, 0);
    assert!(out.contains("market.budget is 3.000000"), "{out}");

    // A quote asking more than the LMSR price: refused.
    let mut dear = q["data"].clone();
    dear["cost"] = (5_124_948 + 1).into();
    let dear_file = dir.path().join("dear.json");
    std::fs::write(&dear_file, dear.to_string()).expect("write");
    let (code, out, _) = run(market_cmd(&trader_home, &anvil, &setup, "100", "6")
        .args(["market", "trade", "--quote"])
        .arg(&dear_file)
        .arg("--json"));
    assert_ne!(code, 0);
    assert!(out.contains("LMSR price"), "{out}");

    // At the user's probability 0.4 the trade loses in expectation: refused.
    let (code, out, _) = run(market_cmd(&trader_home, &anvil, &setup, "100", "6")
        .args(["market", "trade", "--probability", "0.4", "--quote"])
        .arg(&q_file)
        .arg("--json"));
    assert_ne!(code, 0);
    assert!(out.contains("on average"), "{out}");

    // Within the limits and worth it at 0.7: traded, and explained.
    let (code, out, err) = run(market_cmd(&trader_home, &anvil, &setup, "100", "6")
        .args(["market", "trade", "--probability", "0.7", "--quote"])
        .arg(&q_file)
        .arg("--json"));
    assert_eq!(code, 0, "{out}{err}");
    let t = json(&out);
    assert!(
        t["data"]["why"]
            .as_str()
            .unwrap_or_default()
            .contains("yours 0.700"),
        "{out}"
    );
    assert_eq!(t["data"]["cost"], "5.124948");
    assert_eq!(t["data"]["spent_24h"], "5.124948");
    eprintln!("gas market trade {}", t["data"]["gas_used"]);

    // Two more shares would pass the daily cap of 6: refused.
    let (_, q2_file) = quote_for("2", "q2.json");
    let (code, out, _) = run(market_cmd(&trader_home, &anvil, &setup, "100", "6")
        .args(["market", "trade", "--quote"])
        .arg(&q2_file)
        .arg("--json"));
    assert_ne!(code, 0);
    assert!(out.contains("market.daily_cap is 6.000000"), "{out}");

    let (code, out, err) = run(
        market_cmd(&trader_home, &anvil, &setup, "100", "6").args(["market", "list", "--json"])
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        json(&out)["data"]["inputs"][0]["mine_accepted"],
        "10.000000"
    );

    // Settling before the end: refused by the contract, in words.
    let (code, out, _) = run(market_cmd(&sponsor_home, &anvil, &setup, "0", "0").args([
        "market",
        "settle",
        "0",
        "--accepted",
        "--json",
    ]));
    assert_ne!(code, 0);
    assert!(out.contains("SettleBeforeEnd"), "{out}");
}

/// Two markets in one home: `--market NAME` picks `[[market.markets]]`'s, whose own budget
/// refuses a trade the overall budget allows (before any password), and an unknown name is an
/// error naming the known ones.
#[test]
fn market_picks_a_named_market_with_its_own_caps() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(
                steward_testing::Need::Anvil,
                "market_picks_a_named_market_with_its_own_caps",
                why,
            );
            return;
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let trader = dev_key(2).expect("key");
    let (anvil, first, grants) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = Artifacts::load(&tools).expect("contracts");
        let mut setups = Vec::new();
        for _ in 0..2 {
            let setup = MarketSetup::deploy(&anvil, &artifacts, 100 * USDC, 3600)
                .await
                .expect("deploy");
            let m = SuggestionMarketClient::new(anvil.rpc().clone(), setup.market);
            let id = m
                .submit(&dev_key(1).expect("key"), B256::repeat_byte(1), "ipfs://x")
                .await
                .expect("submit");
            setup
                .fund_account(&anvil, setup.sponsor, 1_000 * USDC)
                .await
                .expect("money");
            m.fund(&dev_key(0).expect("key"), id).await.expect("fund");
            setup
                .fund_account(&anvil, trader.address(), 50 * USDC)
                .await
                .expect("money");
            setups.push(setup);
        }
        let grants = setups.pop().expect("two");
        (anvil, setups.pop().expect("two"), grants)
    });
    let (dir, _) = temp_home();
    let sponsor_home = crate::home_with_key(dir.path(), "sponsor", 0, KPW);
    let trader_home = crate::home_with_key(dir.path(), "trader", 2, KPW);
    let named = format!(
        "[{{ name = \"grants\", address = \"{:#x}\", budget = 3 }}]",
        grants.market
    );
    let cmd = |home: &Path| {
        let mut c = market_cmd(home, &anvil, &first, "100", "100");
        c.env("STEWARD_MARKET_MARKETS", &named);
        c
    };
    let (code, out, err) =
        run(cmd(&trader_home).args(["market", "--market", "grants", "list", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        json(&out)["data"]["market"]["address"],
        format!("{:#x}", grants.market).as_str(),
        "{out}"
    );
    let (code, out, err) = run(cmd(&trader_home).args(["market", "list", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        json(&out)["data"]["market"]["address"],
        format!("{:#x}", first.market).as_str()
    );
    let (code, out, _) =
        run(cmd(&trader_home).args(["market", "--market", "nope", "list", "--json"]));
    assert_ne!(code, 0);
    assert!(out.contains("known: default, grants"), "{out}");

    let quote = |shares: &str, file: &str| {
        let (code, out, err) = run(cmd(&sponsor_home).args([
            "market",
            "--market",
            "grants",
            "quote",
            "0",
            "--accepted",
            shares,
            "--trader",
            &format!("{:#x}", trader.address()),
            "--sign",
            "--json",
        ]));
        assert_eq!(code, 0, "{out}{err}");
        let path = dir.path().join(file);
        std::fs::write(&path, &out).expect("write");
        path
    };
    // 10 shares cost 5.12: within market.budget 100, past grants' own 3. Refused, no password.
    let q10 = quote("10", "q10.json");
    let (code, out, _) = run(cmd(&trader_home)
        .env_remove("STEWARD_KEYSTORE_PASSWORD")
        .args(["market", "--market", "grants", "trade", "--quote"])
        .arg(&q10)
        .arg("--json"));
    assert_ne!(code, 0);
    assert!(
        out.contains("market \\\"grants\\\"") && out.contains("its budget is 3.000000"),
        "{out}"
    );
    // 4 shares (about 2.01) fit, and are traded in the grants market.
    let q4 = quote("4", "q4.json");
    let (code, out, err) = run(cmd(&trader_home)
        .args(["market", "--market", "grants", "trade", "--quote"])
        .arg(&q4)
        .arg("--json"));
    assert_eq!(code, 0, "{out}{err}");
    let (_, shares) = rt
        .block_on(
            SuggestionMarketClient::new(anvil.rpc().clone(), grants.market)
                .shares_of(0, trader.address()),
        )
        .expect("shares");
    assert_eq!(shares, 4 * USDC);
    // The same quote file against the default market is refused: it names another market.
    let (code, out, _) = run(cmd(&trader_home)
        .args(["market", "trade", "--quote"])
        .arg(&q4)
        .arg("--json"));
    assert_ne!(code, 0);
    assert!(out.contains("the quote is for market"), "{out}");
    // The desk: grants' own caps and what its trade left of them, the trade under its name.
    let (child, url) = crate::web::serve_desk_with(cmd(&trader_home));
    let page = crate::web::desk_page(&rt, &url, "/activity");
    drop(child);
    assert!(
        page.contains("Market <b>grants</b>: left <b>")
            && page.contains("of its budget 3.000000 and <b>none</b> of its daily cap none."),
        "{page}"
    );
    assert!(page.contains("<td>grants</td>"), "{page}");
}

/// A market whose token has 18 decimals is refused, naming the token and its decimals, before
/// anything is listed, priced or signed: a budget of 5 would otherwise be 5·10^-12 of it.
#[test]
fn a_market_on_an_18_decimal_token_is_refused() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(
                steward_testing::Need::Anvil,
                "a_market_on_an_18_decimal_token_is_refused",
                why,
            );
            return;
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (anvil, setup) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = Artifacts::load(&tools).expect("contracts");
        let owner = anvil.accounts()[0];
        let token = steward_eth::testkit::Bonds::deploy_18_decimal_token(
            &anvil,
            &artifacts,
            owner,
            steward_eth::testkit::usdc(1_000),
        )
        .await
        .expect("token");
        let setup = MarketSetup::deploy_on(&anvil, &artifacts, token, 100 * USDC, 3600)
            .await
            .expect("deploy");
        (anvil, setup)
    });
    let (dir, _) = temp_home();
    let home = crate::home_with_key(dir.path(), "trader", 2, KPW);
    for args in [
        &["market", "list", "--json"][..],
        &["market", "quote", "0", "--accepted", "1", "--json"][..],
    ] {
        let (code, out, _) = run(market_cmd(&home, &anvil, &setup, "5", "5").args(args));
        assert_ne!(code, 0, "{out}");
        assert!(
            out.contains("has 18 decimals, not 6")
                && out.to_lowercase().contains(&format!("{:#x}", setup.usdc)),
            "{out}"
        );
    }
}
