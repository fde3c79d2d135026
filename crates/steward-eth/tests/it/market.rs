//! Suggestion markets on anvil (`contracts/SuggestionMarket.sol` on the 6-decimal
//! `StewardUSDC`): the sponsor funds an input with exactly ceil(b·ln 2), a trade priced by
//! steward-core's LMSR and signed by the sponsor settles for that cost, forged and replayed
//! quotes are refused, settling before the end is refused, and after settlement the winner
//! redeems one token unit per share while the sponsor loses at most its funding.

#![allow(clippy::print_stderr)]

use alloy::primitives::B256;
use steward_eth::testkit::{MarketSetup, dev_key};
use steward_eth::{InputStatus, RegistryError, SuggestionMarketClient};

use crate::chain;

const USDC: u128 = 1_000_000;

#[tokio::test]
async fn suggestion_market_funds_trades_settles_and_redeems() {
    let Some((anvil, artifacts)) = chain("suggestion_market").await else {
        return;
    };
    let b = 100 * USDC;
    let setup = MarketSetup::deploy(&anvil, &artifacts, b, 3600)
        .await
        .expect("deploy");
    let m = SuggestionMarketClient::new(anvil.rpc().clone(), setup.market);
    let sponsor = dev_key(0).expect("key");
    let (alice, bob) = (dev_key(1).expect("key"), dev_key(2).expect("key"));
    let info = m.info().await.expect("info");
    // ceil(100 USDC · ln 2) = 69.314719 USDC: the LMSR maker's worst-case loss, no more.
    assert_eq!(info.funding_per_input, 69_314_719);
    let core_bound = steward_core::mech::lmsr::Market::new(2, b as f64)
        .expect("market")
        .max_loss();
    assert_eq!(info.funding_per_input, core_bound.ceil() as u128);

    let id = m
        .submit(&alice, B256::repeat_byte(7), "ipfs://proposal-edit")
        .await
        .expect("submit");
    assert_eq!(
        m.input(id).await.expect("input").status,
        InputStatus::Submitted
    );
    // Only the sponsor funds.
    let e = m.fund(&alice, id).await.expect_err("not the sponsor");
    assert!(e.to_string().contains("NotSponsor"), "{e}");
    setup
        .fund_account(&anvil, sponsor.address(), 1_000 * USDC)
        .await
        .expect("sponsor money");
    let sponsor_start = setup.balance(&anvil, sponsor.address()).await.expect("bal");
    m.fund(&sponsor, id).await.expect("fund");
    assert_eq!(m.input(id).await.expect("input").pool, 69_314_719);

    // Bob buys 10 "accepted" shares at the core LMSR price, signed by the sponsor.
    setup
        .fund_account(&anvil, bob.address(), 50 * USDC)
        .await
        .expect("bob money");
    let now = m.info().await.expect("info").end_time - 3600;
    let q = m
        .price(id, bob.address(), 10 * USDC as i128, 0, now + 600)
        .await
        .expect("price");
    assert_eq!(q.cost, 5_124_948, "100·ln((e^0.1 + 1)/2) USDC, rounded up");
    // A quote Bob signs himself is refused; nothing moves.
    let forged = m.sign_quote(&bob, &q).await.expect("sign");
    let e = m.trade(&bob, &q, forged).await.expect_err("forged");
    assert!(e.to_string().contains("BadQuoteSignature"), "{e}");
    let sig = m.sign_quote(&sponsor, &q).await.expect("sign");
    let done = m.trade(&bob, &q, sig.clone()).await.expect("trade");
    eprintln!("gas trade (buy): {}", done.gas_used);
    assert_eq!(
        setup.balance(&anvil, bob.address()).await.expect("bal"),
        50 * USDC - 5_124_948
    );
    assert_eq!(
        m.shares_of(id, bob.address()).await.expect("shares"),
        (0, 10 * USDC)
    );
    // The same quote again: the state and nonce moved, so the signature no longer matches.
    let e = m.trade(&bob, &q, sig).await.expect_err("replay");
    assert!(e.to_string().contains("BadQuoteSignature"), "{e}");
    // Selling more than held is refused.
    let over = m
        .price(id, bob.address(), -(11 * USDC as i128), 0, now + 600)
        .await;
    if let Ok(over) = over {
        let sig = m.sign_quote(&sponsor, &over).await.expect("sign");
        let e = m.trade(&bob, &over, sig).await.expect_err("oversell");
        assert!(e.to_string().contains("NotEnoughShares"), "{e}");
    }

    // Settling before the end is refused.
    let e = m.settle(&sponsor, id, true).await.expect_err("early");
    assert!(matches!(e, RegistryError::Refused { .. }), "{e}");
    assert!(e.to_string().contains("SettleBeforeEnd"), "{e}");

    anvil.increase_time(3601).await.expect("time");
    anvil.mine(1).await.expect("mine");
    // Trading after the end is refused.
    let late = m
        .price(id, bob.address(), USDC as i128, 0, now + 7200)
        .await
        .expect("price");
    let sig = m.sign_quote(&sponsor, &late).await.expect("sign");
    let e = m.trade(&bob, &late, sig).await.expect_err("late");
    assert!(e.to_string().contains("MarketEnded"), "{e}");

    m.settle(&sponsor, id, true).await.expect("settle");
    let (paid, _) = m.redeem(&bob, id).await.expect("redeem");
    assert_eq!(paid, 10 * USDC, "one token unit per accepted share");
    let e = m.redeem(&bob, id).await.expect_err("twice");
    assert!(e.to_string().contains("NothingToRedeem"), "{e}");
    // The sponsor lost what the market maker lost, never more than its funding.
    let sponsor_end = setup.balance(&anvil, sponsor.address()).await.expect("bal");
    let loss = sponsor_start - sponsor_end;
    assert_eq!(loss, 10 * USDC - 5_124_948);
    assert!(loss <= info.funding_per_input);
    assert_eq!(m.input(id).await.expect("input").pool, 0);
}
