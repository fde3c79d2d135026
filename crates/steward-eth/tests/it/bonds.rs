//! The attention-bond escrow (`contracts/AttentionBonds.sol`) on anvil through
//! `steward_eth::BondEscrow`: every deposit refusal by name, fee math, the response window, the
//! same-block reply/forfeit race (automine off, two transactions, one block), and a property
//! test over random deposit/reply/forfeit/warp sequences whose invariant is "the escrow's token
//! balance == the sum of open bonds == totalOpen()".

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol;
use alloy::sol_types::SolCall;
use steward_eth::testkit::{Anvil, Bonds, BondsConfig, dev_key, usdc};
use steward_eth::{BondError, BondEscrow, BondState};

use crate::chain;

sol! {
    interface IRace {
        function reply(bytes32 messageId) external;
        function forfeit(bytes32 messageId) external;
    }
}

fn id(s: &str) -> B256 {
    keccak256(s.as_bytes())
}

fn refused(e: &BondError) -> &str {
    match e {
        BondError::Refused { reason, .. } => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn raw(anvil: &Anvil, method: &'static str, params: serde_json::Value) -> serde_json::Value {
    anvil
        .rpc()
        .provider()
        .raw_request(method.into(), params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

async fn now(anvil: &Anvil) -> u64 {
    let n = anvil.block_number().await.expect("block");
    anvil.rpc().block_timestamp(n).await.expect("timestamp")
}

async fn balance(esc: &BondEscrow, token: Address, who: Address) -> U256 {
    esc.token_balance(token, who).await.expect("balance")
}

#[tokio::test]
async fn deposit_refusals_are_named_and_take_nothing() {
    let Some((anvil, artifacts)) = chain("bond_deposit_refusals").await else {
        return;
    };
    let cfg = BondsConfig {
        approved: 4, // account 5 holds USDC but never approved the escrow
        ..BondsConfig::default()
    };
    let kit = Bonds::deploy(&anvil, &artifacts, &cfg)
        .await
        .expect("deploy");
    let esc = kit.escrow();
    let (sender, recipient, friend, poor) = (
        dev_key(1).expect("key"),
        dev_key(2).expect("key"),
        dev_key(3).expect("key"),
        dev_key(5).expect("key"),
    );
    let r = recipient.address();
    esc.set_price(&recipient, usdc(1)).await.expect("price");
    esc.set_whitelisted(&recipient, friend.address(), true)
        .await
        .expect("whitelist");
    assert_eq!(esc.price_of(r).await.expect("price"), usdc(1));
    let before = balance(&esc, kit.token, sender.address()).await;

    let cases: [(Address, B256, U256, &str); 6] = [
        (Address::ZERO, id("m0"), usdc(1), "ZeroRecipient"),
        (sender.address(), id("m1"), usdc(1), "SelfBond"),
        (r, id("m2"), U256::ZERO, "BelowMinimum"),
        (r, id("m3"), U256::from(9_999u64), "BelowMinimum"),
        (r, id("m4"), usdc(1) - U256::from(1u64), "BelowPrice"),
        (r, id("m5"), usdc(1), ""),
    ];
    for (to, mid, amount, want) in cases {
        let got = esc.deposit(&sender, to, mid, amount).await;
        if want.is_empty() {
            got.expect("a deposit at the price");
        } else {
            let e = got.expect_err(want);
            assert!(refused(&e).starts_with(want), "{want}: {e}");
        }
    }
    // The same message id again, from anyone: a duplicate.
    let e = esc
        .deposit(&friend, Address::repeat_byte(7), id("m5"), usdc(2))
        .await
        .expect_err("duplicate");
    assert!(refused(&e).starts_with("DuplicateMessage"), "{e}");
    // A whitelisted sender pays nothing: the escrow refuses their money.
    let e = esc
        .deposit(&friend, r, id("m6"), usdc(5))
        .await
        .expect_err("whitelisted");
    assert!(refused(&e).starts_with("SenderWhitelisted"), "{e}");
    // An allowance too small is named with both numbers before anything is simulated.
    let e = esc
        .deposit(&poor, r, id("m7"), usdc(1))
        .await
        .expect_err("allowance");
    assert!(
        matches!(e, BondError::AllowanceTooSmall { allowance, amount, .. } if allowance.is_zero() && amount == usdc(1)),
        "{e:?}"
    );
    assert_eq!(e.kind(), "allowance-too-small");
    // Only the one good deposit moved money.
    assert_eq!(
        balance(&esc, kit.token, sender.address()).await,
        before - usdc(1)
    );
    assert_eq!(balance(&esc, kit.token, kit.escrow).await, usdc(1));
    let s = esc.settings().await.expect("settings");
    assert_eq!(
        (s.total_open, s.fee_bps, s.token),
        (usdc(1), 1000, kit.token)
    );
    let bonds = esc.bonds(&[id("m5"), id("m4")], None).await.expect("bonds");
    assert_eq!(bonds[0].state, BondState::Open);
    assert_eq!(
        (bonds[0].sender, bonds[0].recipient, bonds[0].amount),
        (sender.address(), r, usdc(1))
    );
    assert_eq!(bonds[1].state, BondState::None);
}

#[tokio::test]
async fn reply_refunds_minus_the_fee_once_and_only_by_the_recipient_or_its_agent() {
    let Some((anvil, artifacts)) = chain("bond_reply_fee").await else {
        return;
    };
    let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
        .await
        .expect("deploy");
    let esc = kit.escrow();
    let (owner, sender, recipient, agent, stranger) = (
        dev_key(0).expect("key"),
        dev_key(1).expect("key"),
        dev_key(2).expect("key"),
        dev_key(3).expect("key"),
        dev_key(4).expect("key"),
    );
    let r = recipient.address();
    let s0 = balance(&esc, kit.token, sender.address()).await;
    let t0 = balance(&esc, kit.token, kit.treasury).await;

    // 10.000001 USDC at the default 10 %: the fee rounds down to 1.000000.
    let amount = usdc(10) + U256::from(1u64);
    esc.deposit(&sender, r, id("a"), amount)
        .await
        .expect("deposit");
    let e = esc.reply(&stranger, id("a")).await.expect_err("stranger");
    assert!(refused(&e).starts_with("NotRecipientOrAgent"), "{e}");
    let e = esc
        .reply(&agent, id("a"))
        .await
        .expect_err("not yet an agent");
    assert!(refused(&e).starts_with("NotRecipientOrAgent"), "{e}");
    esc.set_agent(&recipient, agent.address(), true)
        .await
        .expect("authorise");
    let tx = esc.reply(&agent, id("a")).await.expect("agent replies");
    assert_eq!(tx.fee, Some(usdc(1)));
    assert_eq!(tx.paid, Some(usdc(9) + U256::from(1u64)));
    assert_eq!(
        balance(&esc, kit.token, sender.address()).await,
        s0 - usdc(1)
    );
    assert_eq!(balance(&esc, kit.token, kit.treasury).await, t0 + usdc(1));
    // Replayed reply, and a forfeit of a replied bond: refused, nothing moves.
    let e = esc.reply(&recipient, id("a")).await.expect_err("replay");
    assert_eq!(
        refused(&e),
        format!(
            "NotOpen: the bond on message {} is already replied",
            id("a")
        )
    );
    let e = esc.forfeit(&stranger, id("a")).await.expect_err("forfeit");
    assert!(refused(&e).starts_with("NotOpen"), "{e}");
    let e = esc
        .reply(&recipient, id("nope"))
        .await
        .expect_err("unknown");
    assert!(refused(&e).starts_with("UnknownMessage"), "{e}");

    // The fee: at most 20 %, set by the owner only.
    let e = esc.set_fee(&owner, 2001).await.expect_err("too high");
    assert!(refused(&e).starts_with("FeeTooHigh"), "{e}");
    let e = esc.set_fee(&recipient, 500).await.expect_err("not owner");
    assert!(refused(&e).starts_with("OwnableUnauthorizedAccount"), "{e}");
    esc.set_fee(&owner, 2000).await.expect("20 %");
    esc.deposit(&sender, r, id("b"), usdc(5))
        .await
        .expect("deposit");
    let tx = esc.reply(&recipient, id("b")).await.expect("reply");
    assert_eq!((tx.paid, tx.fee), (Some(usdc(4)), Some(usdc(1))));
    assert_eq!(balance(&esc, kit.token, kit.escrow).await, U256::ZERO);
}

#[tokio::test]
async fn forfeit_pays_the_recipient_only_after_the_window() {
    let Some((anvil, artifacts)) = chain("bond_forfeit_window").await else {
        return;
    };
    let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
        .await
        .expect("deploy");
    let esc = kit.escrow();
    let (sender, recipient, anyone) = (
        dev_key(1).expect("key"),
        dev_key(2).expect("key"),
        dev_key(4).expect("key"),
    );
    let r = recipient.address();
    assert_eq!(esc.window_of(r).await.expect("window"), 7 * 86_400);
    for bad in [86_399u64, 30 * 86_400 + 1] {
        let e = esc.set_window(&recipient, bad).await.expect_err("range");
        assert!(refused(&e).starts_with("WindowOutOfRange"), "{e}");
    }
    esc.set_window(&recipient, 86_400).await.expect("one day");
    let r0 = balance(&esc, kit.token, r).await;
    esc.deposit(&sender, r, id("f"), usdc(3))
        .await
        .expect("deposit");
    let b = &esc.bonds(&[id("f")], None).await.expect("bond")[0];
    let t = now(&anvil).await;
    assert_eq!(b.deadline, t + 86_400);
    let e = esc.forfeit(&anyone, id("f")).await.expect_err("too early");
    assert!(refused(&e).starts_with("WindowOpen"), "{e}");

    anvil.increase_time(86_400 + 60).await.expect("warp");
    anvil.mine(1).await.expect("mine");
    let e = esc
        .reply(&recipient, id("f"))
        .await
        .expect_err("late reply");
    assert!(refused(&e).starts_with("WindowClosed"), "{e}");
    let tx = esc.forfeit(&anyone, id("f")).await.expect("forfeit");
    assert_eq!(tx.paid, Some(usdc(3)));
    assert_eq!(balance(&esc, kit.token, r).await, r0 + usdc(3));
    let e = esc.forfeit(&anyone, id("f")).await.expect_err("twice");
    assert!(refused(&e).starts_with("NotOpen"), "{e}");
}

/// Sends `call` from an unlocked account without waiting (automine is off).
async fn send_unmined(anvil: &Anvil, from: Address, to: Address, data: Vec<u8>) -> B256 {
    let tx = TransactionRequest::default()
        .with_from(from)
        .with_to(to)
        .with_input(Bytes::from(data))
        .with_gas_limit(200_000);
    *anvil
        .rpc()
        .provider()
        .send_transaction(tx)
        .await
        .expect("send")
        .tx_hash()
}

async fn succeeded(anvil: &Anvil, tx: B256) -> bool {
    anvil
        .rpc()
        .provider()
        .get_transaction_receipt(tx)
        .await
        .expect("receipt")
        .expect("mined")
        .status()
}

#[tokio::test]
async fn reply_racing_forfeit_in_one_block_has_one_winner_set_by_the_timestamp() {
    let Some((anvil, artifacts)) = chain("bond_same_block_race").await else {
        return;
    };
    let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
        .await
        .expect("deploy");
    let esc = kit.escrow();
    let (sender, recipient) = (dev_key(1).expect("key"), dev_key(2).expect("key"));
    let (r, anyone) = (recipient.address(), anvil.accounts()[4]);
    esc.deposit(&sender, r, id("x"), usdc(2))
        .await
        .expect("deposit");
    esc.deposit(&sender, r, id("y"), usdc(2))
        .await
        .expect("deposit");
    let bonds = esc.bonds(&[id("x"), id("y")], None).await.expect("bonds");
    let (dx, dy) = (bonds[0].deadline, bonds[1].deadline);
    raw(&anvil, "evm_setAutomine", serde_json::json!([false])).await;

    // Block at exactly x's deadline, the forfeit first in the block: the reply still wins.
    let reply = IRace::replyCall { messageId: id("x") }.abi_encode();
    let forfeit = IRace::forfeitCall { messageId: id("x") }.abi_encode();
    let f = send_unmined(&anvil, anyone, kit.escrow, forfeit).await;
    let p = send_unmined(&anvil, r, kit.escrow, reply).await;
    raw(&anvil, "evm_mine", serde_json::json!([dx])).await;
    assert!(succeeded(&anvil, p).await, "the reply wins at the deadline");
    assert!(!succeeded(&anvil, f).await, "the forfeit reverts");

    // One second past y's deadline, the reply first: the forfeit wins.
    let reply = IRace::replyCall { messageId: id("y") }.abi_encode();
    let forfeit = IRace::forfeitCall { messageId: id("y") }.abi_encode();
    let p = send_unmined(&anvil, r, kit.escrow, reply).await;
    let f = send_unmined(&anvil, anyone, kit.escrow, forfeit).await;
    raw(&anvil, "evm_mine", serde_json::json!([dy.max(dx) + 1])).await;
    assert!(!succeeded(&anvil, p).await, "the late reply reverts");
    assert!(succeeded(&anvil, f).await, "the forfeit wins");
    raw(&anvil, "evm_setAutomine", serde_json::json!([true])).await;

    let states: Vec<BondState> = esc
        .bonds(&[id("x"), id("y")], None)
        .await
        .expect("bonds")
        .iter()
        .map(|b| b.state)
        .collect();
    assert_eq!(states, [BondState::Replied, BondState::Forfeited]);
    assert_eq!(balance(&esc, kit.token, kit.escrow).await, U256::ZERO);
}

mod property {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        /// sender key 1..=4, recipient key 1..=4, amount in 0.005 USDC steps.
        Deposit {
            from: usize,
            to: usize,
            steps: u64,
        },
        /// the n-th message so far (mod count), by key 1..=4.
        Reply {
            nth: usize,
            by: usize,
        },
        Forfeit {
            nth: usize,
        },
        /// 25 h steps, so the clock never lands within hours of a 7-day deadline.
        Warp {
            steps: u64,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (1usize..=4, 1usize..=4, 0u64..400).prop_map(|(from, to, steps)| Op::Deposit { from, to, steps }),
            2 => (0usize..16, 1usize..=4).prop_map(|(nth, by)| Op::Reply { nth, by }),
            2 => (0usize..16).prop_map(|nth| Op::Forfeit { nth }),
            1 => (1u64..=4).prop_map(|steps| Op::Warp { steps }),
        ]
    }

    struct Model {
        recipient: Address,
        amount: U256,
        deadline: u64,
        open: bool,
    }

    async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
        let Some((anvil, artifacts)) = chain("bond_property_invariant").await else {
            return Ok(());
        };
        let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
            .await
            .expect("deploy");
        let esc = kit.escrow();
        let keys: Vec<_> = (0..=4).map(|i| dev_key(i).expect("key")).collect();
        let minimum = U256::from(10_000u64);
        let mut ids: Vec<(B256, Option<Model>)> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            let t = now(&anvil).await;
            match op {
                Op::Deposit { from, to, steps } => {
                    let mid = id(&format!("p{step}"));
                    let amount = U256::from(steps * 5_000);
                    let (s, r) = (keys[from].address(), keys[to].address());
                    let ok = s != r && amount >= minimum;
                    let got = esc.deposit(&keys[from], r, mid, amount).await;
                    prop_assert_eq!(
                        got.is_ok(),
                        ok,
                        "deposit {:?}: {:?}",
                        op_str(from, to, amount),
                        got.err()
                    );
                    ids.push((
                        mid,
                        ok.then(|| Model {
                            recipient: r,
                            amount,
                            deadline: t + 7 * 86_400,
                            open: true,
                        }),
                    ));
                }
                Op::Reply { nth, by } if !ids.is_empty() => {
                    let n = ids.len();
                    let (mid, m) = &mut ids[nth % n];
                    let who = keys[by].address();
                    let ok = m
                        .as_ref()
                        .is_some_and(|m| m.open && m.recipient == who && t < m.deadline);
                    let got = esc.reply(&keys[by], *mid).await;
                    prop_assert_eq!(got.is_ok(), ok, "reply: {:?}", got.err());
                    if ok && let Some(m) = m.as_mut() {
                        m.open = false;
                        let fee = m.amount / U256::from(10u64);
                        prop_assert_eq!(got.expect("ok").paid, Some(m.amount - fee));
                    }
                }
                Op::Forfeit { nth } if !ids.is_empty() => {
                    let n = ids.len();
                    let (mid, m) = &mut ids[nth % n];
                    let ok = m.as_ref().is_some_and(|m| m.open && t > m.deadline);
                    let got = esc.forfeit(&keys[0], *mid).await;
                    prop_assert_eq!(got.is_ok(), ok, "forfeit: {:?}", got.err());
                    if ok && let Some(m) = m.as_mut() {
                        m.open = false;
                    }
                }
                Op::Warp { steps } => {
                    anvil.increase_time(steps * 25 * 3600).await.expect("warp");
                    anvil.mine(1).await.expect("mine");
                }
                _ => {}
            }
            // The invariant, after every step.
            let open: U256 = ids
                .iter()
                .filter_map(|(_, m)| m.as_ref().filter(|m| m.open).map(|m| m.amount))
                .sum();
            let held = balance(&esc, kit.token, kit.escrow).await;
            let total = esc.settings().await.expect("settings").total_open;
            prop_assert_eq!(
                held,
                open,
                "escrow balance vs open bonds after step {}",
                step
            );
            prop_assert_eq!(total, open, "totalOpen vs open bonds after step {}", step);
        }
        Ok(())
    }

    fn op_str(from: usize, to: usize, amount: U256) -> String {
        format!("{from}->{to} {amount}")
    }

    proptest! {
        // Each case starts its own anvil: few cases, a dozen steps each.
        #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn escrowed_balance_equals_the_sum_of_open_bonds(ops in prop::collection::vec(op(), 4..16)) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(run(ops))?;
        }
    }
}
