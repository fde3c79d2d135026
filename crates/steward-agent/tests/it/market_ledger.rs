//! The market ledger in the store: the caps are checked in the transaction that records the
//! intent (an unsettled intent's spend counts, so a crash after it can never let spend pass the
//! caps), one unsettled intent per market and trader, settling releases or keeps the spend, and
//! the old `market-ledger.json` is imported once and renamed.

use steward_agent::market::ledger::NewTrade;
use steward_agent::market::{Limits, TradeState};

use crate::new_store;

fn trade(cost: i128, trader: &str) -> NewTrade<'static> {
    NewTrade {
        market: "0x00000000000000000000000000000000000000aa".into(),
        input: 0,
        trader: trader.into(),
        nonce: 0,
        deadline: 100,
        delta_accepted: 1,
        delta_rejected: 0,
        cost,
        origin: "auto",
        why: serde_json::json!({ "text": "test" }),
    }
}

#[test]
fn intents_count_against_the_caps_until_settled_and_never_pass_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let (_home, mut store) = new_store(dir.path(), "p");
    let limits = Limits {
        budget: 10_000_000,
        daily_cap: 6_000_000,
    };
    let now = 1_000_000;
    // A table of (trader, cost, fits?): each trader has at most one intent open at a time, so
    // each is settled before its next.
    let a = store
        .market_record_intent(limits, &trade(4_000_000, "0xa"), now)
        .expect("fits");
    // An unsettled intent blocks the same trader on the same market...
    let e = store
        .market_record_intent(limits, &trade(1, "0xa"), now)
        .expect_err("pending");
    assert!(e.to_string().contains("not settled yet"), "{e}");
    // ...and its spend counts for everyone: 4 + 3 > 6.
    let e = store
        .market_record_intent(limits, &trade(3_000_000, "0xb"), now)
        .expect_err("cap");
    assert!(
        e.to_string().contains("market.daily_cap is 6.000000"),
        "{e}"
    );
    // Abandoned (its quote expired unused): the spend is released.
    store
        .market_settle(a, TradeState::Abandoned, None, Some("expired"), now)
        .expect("settle");
    assert_eq!(store.market_spent(now).expect("spent").day, 0);
    let b = store
        .market_record_intent(limits, &trade(6_000_000, "0xb"), now)
        .expect("fits now");
    store
        .market_settle(b, TradeState::Confirmed, Some("0xtx"), None, now)
        .expect("settle");
    // Settling twice changes nothing.
    store
        .market_settle(b, TradeState::Failed, None, Some("late"), now)
        .expect("no-op");
    assert_eq!(
        store.market_trades(10).expect("trades")[0].state,
        TradeState::Confirmed
    );
    let e = store
        .market_record_intent(limits, &trade(1, "0xc"), now + 3_600)
        .expect_err("cap");
    assert!(e.to_string().contains("market.daily_cap"), "{e}");
    // A day later the cap is free again, the budget is not: 6 + 5 > 10.
    let e = store
        .market_record_intent(limits, &trade(5_000_000, "0xc"), now + 90_000)
        .expect_err("budget");
    assert!(e.to_string().contains("market.budget is 10.000000"), "{e}");
    // A sell is recorded, never refused, and never refunds the caps.
    let s = store
        .market_record_intent(limits, &trade(-2_000_000, "0xc"), now + 90_000)
        .expect("sell");
    store
        .market_settle(s, TradeState::Confirmed, None, None, now + 90_000)
        .expect("settle");
    let spent = store.market_spent(now + 90_000).expect("spent");
    assert_eq!((spent.total, spent.day), (6_000_000, 0));
}

#[test]
fn the_old_ledger_file_is_imported_once_and_renamed() {
    let dir = tempfile::tempdir().expect("tmp");
    let (home, mut store) = new_store(dir.path(), "p");
    let file = home.root().join("market-ledger.json");
    assert_eq!(store.market_import_file(&home).expect("none"), None);
    std::fs::write(
        &file,
        r#"[{"ts": 1000, "market": "0x00000000000000000000000000000000000000aa", "input": 3, "units": 5124948, "tx": "0x01"}]"#,
    )
    .expect("write");
    assert_eq!(store.market_import_file(&home).expect("import"), Some(1));
    assert!(!file.exists());
    assert!(home.root().join("market-ledger.json.imported").exists());
    let spent = store.market_spent(1500).expect("spent");
    assert_eq!((spent.total, spent.day), (5_124_948, 5_124_948));
    // The same file back (a crash between the import and the rename): not counted twice.
    std::fs::copy(home.root().join("market-ledger.json.imported"), &file).expect("copy");
    assert_eq!(
        store.market_import_file(&home).expect("rename only"),
        Some(0)
    );
    assert_eq!(store.market_spent(1500).expect("spent").total, 5_124_948);
    // A broken file: a clear error, trading stays refused.
    std::fs::write(&file, "not json").expect("write");
    drop(store);
    let dir2 = tempfile::tempdir().expect("tmp");
    let (home2, mut store2) = new_store(dir2.path(), "p");
    std::fs::write(home2.root().join("market-ledger.json"), "not json").expect("write");
    let e = store2.market_import_file(&home2).expect_err("broken");
    assert!(e.to_string().contains("not a market ledger"), "{e}");
}

/// A trade mined but never settled in the ledger (the process killed after the send) is
/// reconciled as confirmed from its used nonce, and carries the transaction hash of its own
/// `Traded` event (before: none, and a note that it was unknown).
#[tokio::test]
async fn a_reconciled_trade_carries_its_transaction_hash() {
    use steward_core::B256;
    use steward_eth::SuggestionMarketClient;
    use steward_eth::testkit::{Anvil, Artifacts, MarketSetup, Tools, dev_key};
    const USDC: u128 = 1_000_000;
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(
                steward_testing::Need::Anvil,
                "a_reconciled_trade_carries_its_transaction_hash",
                why,
            );
            return;
        }
    };
    let anvil = Anvil::start(&tools).await.expect("anvil starts");
    let artifacts = Artifacts::load(&tools).expect("contracts compile");
    let setup = MarketSetup::deploy(&anvil, &artifacts, 100 * USDC, 3600)
        .await
        .expect("deploy");
    let m = SuggestionMarketClient::new(anvil.rpc().clone(), setup.market);
    let (sponsor, trader) = (dev_key(0).expect("key"), dev_key(2).expect("key"));
    setup
        .fund_account(&anvil, sponsor.address(), 1_000 * USDC)
        .await
        .expect("money");
    setup
        .fund_account(&anvil, trader.address(), 100 * USDC)
        .await
        .expect("money");
    for _ in 0..2 {
        let id = m
            .submit(&dev_key(1).expect("key"), B256::repeat_byte(7), "data:,x")
            .await
            .expect("submit");
        m.fund(&sponsor, id).await.expect("fund");
    }
    let dir = tempfile::tempdir().expect("tmp");
    let (_home, mut store) = new_store(dir.path(), "p");
    let limits = Limits {
        budget: 100 * USDC,
        daily_cap: 100 * USDC,
    };
    let market = format!("{:#x}", setup.market);
    let who = format!("{:#x}", trader.address());
    let deadline = m.chain_time().await.expect("time") + 600;
    // One trade of the same shape on each input: the first settled normally with its hash, the
    // second left as an intent after it was mined.
    let mut hashes = Vec::new();
    for input in [0u64, 1] {
        let q = m
            .price(input, trader.address(), 10 * USDC as i128, 0, deadline)
            .await
            .expect("price");
        let id = store
            .market_record_intent(
                limits,
                &NewTrade {
                    market: market.clone(),
                    input,
                    trader: who.clone(),
                    nonce: q.nonce,
                    deadline: q.deadline,
                    delta_accepted: q.delta_yes,
                    delta_rejected: q.delta_no,
                    cost: q.cost,
                    origin: "auto",
                    why: serde_json::json!({ "text": "test" }),
                },
                1_000,
            )
            .expect("intent");
        let sig = m.sign_quote(&sponsor, &q).await.expect("sign");
        let done = m.trade(&trader, &q, sig).await.expect("trade");
        if input == 0 {
            store
                .market_settle(
                    id,
                    TradeState::Confirmed,
                    Some(&done.tx.to_string()),
                    None,
                    1_000,
                )
                .expect("settle");
        }
        hashes.push((id, done.tx.to_string()));
    }
    let r = steward_agent::market::reconcile(&mut store, &m, trader.address(), 0)
        .await
        .expect("reconcile");
    assert_eq!(r, vec![(hashes[1].0, TradeState::Confirmed)]);
    let t = store
        .market_trades(10)
        .expect("trades")
        .into_iter()
        .find(|t| t.id == hashes[1].0)
        .expect("the trade");
    assert_eq!(t.state, TradeState::Confirmed);
    assert_eq!(t.tx.as_deref(), Some(hashes[1].1.as_str()), "{t:?}");
    assert_ne!(hashes[0].1, hashes[1].1);
}

/// Several markets: each trade counts against the overall caps and its own market's, summed by
/// the market's address; another market's spend never counts against a market's own cap.
#[test]
fn each_market_has_its_own_caps_within_the_overall_ones() {
    use steward_agent::market::MarketCaps;
    let dir = tempfile::tempdir().expect("tmp");
    let (_home, mut store) = new_store(dir.path(), "p");
    let overall = Limits {
        budget: 10_000_000,
        daily_cap: 10_000_000,
    };
    let grants = MarketCaps {
        name: "grants".into(),
        limits: Some(Limits {
            budget: 3_000_000,
            daily_cap: u128::MAX,
        }),
    };
    let now = 1_000_000;
    let on = |market: &str, trader: &str, cost: i128| NewTrade {
        market: market.into(),
        ..trade(cost, trader)
    };
    let (a, b) = (
        "0x00000000000000000000000000000000000000aa",
        "0x00000000000000000000000000000000000000bb",
    );
    // 2 in market a (no cap of its own), then market b ("grants", 3 of its own).
    let t = store
        .market_record_intent(overall, &on(a, "0x1", 2_000_000), now)
        .expect("fits");
    store
        .market_settle(t, TradeState::Confirmed, Some("0x01"), None, now)
        .expect("settle");
    let t = store
        .market_record_intent_in(overall, &grants, &on(b, "0x1", 2_500_000), now)
        .expect("fits its own cap: market a's 2 do not count");
    store
        .market_settle(t, TradeState::Confirmed, Some("0x02"), None, now)
        .expect("settle");
    // 2.5 + 1 > 3 in grants: refused, naming the market.
    let e = store
        .market_record_intent_in(overall, &grants, &on(b, "0x1", 1_000_000), now)
        .expect_err("grants' own cap");
    assert!(e.to_string().contains("market \"grants\""), "{e}");
    assert!(e.to_string().contains("its budget is 3.000000"), "{e}");
    assert_eq!(
        store.market_spent_in(b, now).expect("spent").total,
        2_500_000
    );
    assert_eq!(store.market_spent(now).expect("spent").total, 4_500_000);
    // The overall cap counts every market: 4.5 + 6 > 10 refused even in market a.
    let e = store
        .market_record_intent(overall, &on(a, "0x1", 6_000_000), now)
        .expect_err("overall");
    assert!(e.to_string().contains("market.budget is 10.000000"), "{e}");
}
