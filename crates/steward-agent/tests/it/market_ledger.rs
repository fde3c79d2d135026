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
