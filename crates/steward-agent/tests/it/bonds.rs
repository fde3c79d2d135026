//! Attention bonds, the agent's side, against a real anvil and the real escrow
//! (`contracts/AttentionBonds.sol`): every way a bonded message can fail to be paid for is held
//! with its reason; a reorg between deposit and delivery delivers nothing unpaid; a reply refunds
//! and unanswered bonds are forfeited on schedule; 100 bonded messages verify in under a second.

use std::collections::BTreeSet;
use std::time::Instant;

use steward_agent::bonds::{
    self, BOND_HEADER, BondPolicy, Hold, Incoming, Pass, Verdict, message_id_of,
};
use steward_core::{Address, B256, U256};
use steward_eth::BondState;
use steward_eth::testkit::{Anvil, Artifacts, Bonds, BondsConfig, Tools, dev_key, usdc};

async fn chain(test: &str) -> Option<(Anvil, std::sync::Arc<Artifacts>)> {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(steward_testing::Need::Anvil, test, why);
            return None;
        }
    };
    let anvil = Anvil::start(&tools).await.expect("anvil starts");
    let artifacts = Artifacts::load(&tools).expect("contracts compile");
    Some((anvil, artifacts))
}

/// A message as the mail source reads it, with or without a bond header.
fn mail(label: &str, from: &str, header: Option<String>) -> Incoming {
    let mut m = format!("Message-ID: <{label}@mail.test>\r\nFrom: <{from}>\r\nSubject: hi\r\n");
    if let Some(h) = header {
        m.push_str(&format!("{BOND_HEADER}: {h}\r\n"));
    }
    m.push_str("\r\nplease read this\r\n");
    Incoming::parse(label, m.as_bytes()).expect("parses")
}

fn id(label: &str) -> B256 {
    message_id_of(&format!("<{label}@mail.test>"))
}

fn header(escrow: Address, message: B256) -> Option<String> {
    Some(format!("31337:{escrow}:{message}"))
}

fn policy(kit: &Bonds, recipient: Address, confirmations: u64) -> BondPolicy {
    BondPolicy {
        chain_id: 31337,
        escrow: kit.escrow,
        token: kit.token,
        recipient,
        price: usdc(1),
        whitelist: BTreeSet::from(["friend@mail.test".to_owned()]),
        trusted_delegates: BTreeSet::from(["delegate@agents.test".to_owned()]),
        confirmations,
    }
}

fn hold(v: &Verdict) -> &Hold {
    match v {
        Verdict::Hold(h) => h,
        Verdict::Deliver(p) => panic!("delivered: {p:?}"),
    }
}

#[tokio::test]
async fn only_mail_paid_for_on_chain_reaches_the_user() {
    let Some((anvil, artifacts)) = chain("bonded_mail_verified").await else {
        return;
    };
    let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
        .await
        .expect("deploy");
    let esc = kit.escrow();
    let (sender, me, other) = (
        dev_key(1).expect("key"),
        dev_key(2).expect("key"),
        dev_key(3).expect("key"),
    );
    let e = kit.escrow;
    // On chain: a good bond, a cheap one, one for someone else, one already replied.
    esc.deposit(&sender, me.address(), id("good"), usdc(2))
        .await
        .expect("good");
    esc.deposit(
        &sender,
        me.address(),
        id("cheap"),
        usdc(1) / U256::from(2u64),
    )
    .await
    .expect("cheap");
    esc.deposit(&sender, other.address(), id("elsewhere"), usdc(2))
        .await
        .expect("elsewhere");
    esc.deposit(&sender, me.address(), id("answered"), usdc(2))
        .await
        .expect("answered");
    bonds::reply(&esc, &me, id("answered"))
        .await
        .expect("reply");
    // A second escrow over another token: its bonds are not in the user's money.
    let fake = Bonds::deploy_token(&anvil, &artifacts, kit.owner)
        .await
        .expect("token");
    let fake_escrow = Bonds::deploy_escrow(&anvil, &artifacts, fake, kit.owner, U256::ZERO)
        .await
        .expect("escrow");

    let messages = vec![
        mail("good", "stranger@mail.test", header(e, id("good"))),
        mail("friend", "friend@mail.test", None),
        mail("delegate", "delegate@agents.test", None),
        mail("plain", "stranger@mail.test", None),
        // Points at the good bond, but is another message: a bond pays for one message only.
        mail("reuse", "stranger@mail.test", header(e, id("good"))),
        mail("cheap", "stranger@mail.test", header(e, id("cheap"))),
        mail(
            "elsewhere",
            "stranger@mail.test",
            header(e, id("elsewhere")),
        ),
        mail("unknown", "stranger@mail.test", header(e, id("unknown"))),
        mail("answered", "stranger@mail.test", header(e, id("answered"))),
        mail("garbled", "stranger@mail.test", Some("31337:nope".into())),
        mail(
            "chain",
            "stranger@mail.test",
            Some(format!("1:{e}:{}", id("chain"))),
        ),
        mail(
            "escrow",
            "stranger@mail.test",
            header(fake_escrow, id("escrow")),
        ),
    ];
    let p = policy(&kit, me.address(), 0);
    let v = bonds::verify(&esc, &p, &messages).await.expect("verify");
    assert!(
        matches!(&v[0], Verdict::Deliver(Pass::Bonded { amount, .. }) if *amount == usdc(2)),
        "{:?}",
        v[0]
    );
    assert_eq!(v[1], Verdict::Deliver(Pass::Whitelisted));
    assert_eq!(v[2], Verdict::Deliver(Pass::TrustedDelegate));
    assert_eq!(hold(&v[3]), &Hold::NoBond);
    assert!(
        matches!(hold(&v[4]), Hold::OtherMessage { .. }),
        "{:?}",
        v[4]
    );
    assert_eq!(
        hold(&v[5]),
        &Hold::BelowPrice {
            amount: usdc(1) / U256::from(2u64),
            price: usdc(1)
        }
    );
    assert_eq!(
        hold(&v[6]),
        &Hold::WrongRecipient {
            recipient: other.address()
        }
    );
    assert_eq!(hold(&v[7]), &Hold::UnknownBond);
    assert_eq!(
        hold(&v[8]),
        &Hold::NotOpen {
            state: BondState::Replied
        }
    );
    assert!(
        matches!(hold(&v[9]), Hold::BadReference { problem } if problem.contains("<chainId>:<escrow>:<messageId>")),
        "{:?}",
        v[9]
    );
    assert_eq!(hold(&v[10]), &Hold::WrongChain { chain_id: 1 });
    assert_eq!(
        hold(&v[11]),
        &Hold::WrongEscrow {
            escrow: fake_escrow
        }
    );

    // The user's policy names the fake escrow but their own token: every bond there is held.
    let fake_esc = steward_eth::BondEscrow::new(anvil.rpc().clone(), fake_escrow);
    let p2 = BondPolicy {
        escrow: fake_escrow,
        ..p.clone()
    };
    let v = bonds::verify(&fake_esc, &p2, &messages[11..])
        .await
        .expect("verify");
    assert_eq!(hold(&v[0]), &Hold::WrongToken { token: fake });
}

#[tokio::test]
async fn a_reorg_between_deposit_and_delivery_delivers_nothing_unpaid() {
    let Some((anvil, artifacts)) = chain("bond_reorg").await else {
        return;
    };
    let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
        .await
        .expect("deploy");
    let esc = kit.escrow();
    let (sender, me) = (dev_key(1).expect("key"), dev_key(2).expect("key"));
    let m = vec![mail(
        "r1",
        "stranger@mail.test",
        header(kit.escrow, id("r1")),
    )];

    // At the head (no confirmations) the deposit counts, until a reorg drops its block.
    esc.deposit(&sender, me.address(), id("r1"), usdc(2))
        .await
        .expect("deposit");
    let head = policy(&kit, me.address(), 0);
    assert!(bonds::verify(&esc, &head, &m).await.expect("verify")[0].delivered());
    anvil.reorg(1).await.expect("reorg");
    let v = bonds::verify(&esc, &head, &m).await.expect("verify");
    assert_eq!(hold(&v[0]), &Hold::UnknownBond, "the deposit is gone");

    // With two confirmations a fresh deposit waits; a reorg of the last block takes it away
    // before it was ever delivered; a deposit two blocks deep is delivered.
    let deep = policy(&kit, me.address(), 2);
    esc.deposit(&sender, me.address(), id("r1"), usdc(2))
        .await
        .expect("deposit again");
    let v = bonds::verify(&esc, &deep, &m).await.expect("verify");
    assert_eq!(hold(&v[0]), &Hold::Unconfirmed);
    anvil.reorg(1).await.expect("reorg");
    let v = bonds::verify(&esc, &deep, &m).await.expect("verify");
    assert_eq!(hold(&v[0]), &Hold::UnknownBond);
    esc.deposit(&sender, me.address(), id("r1"), usdc(2))
        .await
        .expect("deposit a third time");
    anvil.mine(2).await.expect("mine");
    let v = bonds::verify(&esc, &deep, &m).await.expect("verify");
    assert!(v[0].delivered(), "{:?}", v[0]);
}

#[tokio::test]
async fn replies_refund_and_silence_is_forfeited_on_schedule() {
    let Some((anvil, artifacts)) = chain("bond_reply_forfeit_schedule").await else {
        return;
    };
    let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
        .await
        .expect("deploy");
    let esc = kit.escrow();
    let (sender, me, agent) = (
        dev_key(1).expect("key"),
        dev_key(2).expect("key"),
        dev_key(3).expect("key"),
    );
    esc.set_agent(&me, agent.address(), true)
        .await
        .expect("agent");
    for m in ["q1", "q2", "q3"] {
        esc.deposit(&sender, me.address(), id(m), usdc(10))
            .await
            .expect("deposit");
    }
    // The agent answers q1 for the user: 9 USDC back to the sender.
    let tx = bonds::reply(&esc, &agent, id("q1")).await.expect("reply");
    assert_eq!(tx.paid, Some(usdc(9)));
    // A replayed reply is refused; nothing moves.
    let e = bonds::reply(&esc, &agent, id("q1"))
        .await
        .expect_err("replay");
    let source = std::error::Error::source(&e).map(ToString::to_string);
    assert!(
        source.as_deref().is_some_and(|s| s.contains("NotOpen")),
        "{e}: {source:?}"
    );
    assert_eq!(e.kind(), "bond-refused");
    let ids = [id("q1"), id("q2"), id("q3")];
    // Nothing is due inside the window.
    let done = bonds::forfeit_due(&esc, &agent, me.address(), &ids)
        .await
        .expect("none due");
    assert!(done.is_empty());
    anvil.increase_time(7 * 86_400 + 1).await.expect("warp");
    anvil.mine(1).await.expect("mine");
    let before = esc
        .token_balance(kit.token, me.address())
        .await
        .expect("bal");
    let done = bonds::forfeit_due(&esc, &agent, me.address(), &ids)
        .await
        .expect("due");
    let forfeited: Vec<B256> = done
        .iter()
        .map(|(i, r)| {
            assert!(r.is_ok(), "{r:?}");
            *i
        })
        .collect();
    assert_eq!(forfeited, vec![id("q2"), id("q3")]);
    assert_eq!(
        esc.token_balance(kit.token, me.address())
            .await
            .expect("bal"),
        before + usdc(20)
    );
    assert_eq!(
        esc.token_balance(kit.token, kit.escrow).await.expect("bal"),
        U256::ZERO
    );
}

#[tokio::test]
async fn one_hundred_bonded_messages_verify_in_under_a_second() {
    let Some((anvil, artifacts)) = chain("bond_verify_100").await else {
        return;
    };
    let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
        .await
        .expect("deploy");
    let esc = kit.escrow();
    let me = dev_key(2).expect("key");
    let senders: Vec<_> = [1, 3, 4, 5]
        .iter()
        .map(|&i| dev_key(i).expect("key"))
        .collect();
    let mut messages = Vec::new();
    for n in 0..100 {
        let label = format!("bulk{n}");
        esc.deposit(&senders[n % 4], me.address(), id(&label), usdc(1))
            .await
            .expect("deposit");
        messages.push(mail(
            &label,
            "stranger@mail.test",
            header(kit.escrow, id(&label)),
        ));
    }
    let p = policy(&kit, me.address(), 0);
    let t = Instant::now();
    let v = bonds::verify(&esc, &p, &messages).await.expect("verify");
    let took = t.elapsed();
    assert_eq!(v.iter().filter(|v| v.delivered()).count(), 100);
    eprintln!(
        "bonds: verified 100 bonded messages in {:.1} ms",
        took.as_secs_f64() * 1e3
    );
    assert!(took.as_secs_f64() < 1.0, "{took:?}");
}

#[tokio::test]
async fn sender_scores_read_from_the_chain_show_reply_rates_and_coqaf_shares() {
    let Some((anvil, artifacts)) = chain("bond_chain_scores").await else {
        return;
    };
    let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
        .await
        .expect("deploy");
    let esc = kit.escrow();
    let (a, b, me) = (
        dev_key(1).expect("key"),
        dev_key(3).expect("key"),
        dev_key(2).expect("key"),
    );
    for (who, m) in [(&a, "s1"), (&a, "s2"), (&b, "s3")] {
        esc.deposit(who, me.address(), id(m), usdc(4))
            .await
            .expect("deposit");
    }
    bonds::reply(&esc, &me, id("s1")).await.expect("reply");
    let scores = bonds::chain_scores(&esc, me.address(), kit.deployed_at)
        .await
        .expect("scores");
    let low = |k: &steward_eth::Key| k.address().to_string().to_ascii_lowercase();
    let sa = scores.iter().find(|s| s.sender == low(&a)).expect("a");
    let sb = scores.iter().find(|s| s.sender == low(&b)).expect("b");
    assert_eq!(
        (sa.bonds, sa.reply_rate, sa.bonded),
        (2, 1.0, 8.0),
        "{sa:?}"
    );
    assert_eq!(
        (sb.bonds, sb.reply_rate, sb.bonded),
        (1, 0.0, 4.0),
        "{sb:?}"
    );
    // Both bonded only the user: full overlap, so CO-QAF halves each share of QAF's.
    assert!(
        sa.coqaf_share < sa.qaf_share && sb.coqaf_share < sb.qaf_share,
        "{scores:?}"
    );
}

/// A `bonds.token` with 18 decimals is refused with the reason, never read as if it had 6 (a
/// 1e12-fold mispricing): verify fails, so the gate holds the bonded mail `unverified`.
#[tokio::test]
async fn a_token_without_6_decimals_is_refused_not_misread() {
    let Some((anvil, artifacts)) = chain("a_token_without_6_decimals_is_refused_not_misread").await
    else {
        return;
    };
    let owner = anvil.accounts()[0];
    let token = Bonds::deploy_18_decimal_token(&anvil, &artifacts, owner, usdc(1_000_000))
        .await
        .expect("token");
    let escrow = Bonds::deploy_escrow(&anvil, &artifacts, token, owner, U256::from(1u64))
        .await
        .expect("escrow");
    let esc = steward_eth::BondEscrow::new(anvil.rpc().clone(), escrow);
    let me = dev_key(2).expect("key").address();
    let policy = BondPolicy {
        chain_id: 31337,
        escrow,
        token,
        recipient: me,
        price: usdc(1),
        whitelist: BTreeSet::new(),
        trusted_delegates: BTreeSet::new(),
        confirmations: 0,
    };
    let msgs = [mail("m1", "s@mail.test", header(escrow, id("m1")))];
    let e = bonds::verify(&esc, &policy, &msgs)
        .await
        .expect_err("18 decimals");
    assert_eq!(e.kind(), "bad-token");
    assert!(e.to_string().contains("has 18 decimals, not 6"), "{e}");
}
