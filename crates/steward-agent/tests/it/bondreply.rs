//! The reply hook of attention bonds on a real anvil with the real escrow: the answer to a
//! bonded mail's question replies to its bond (the sender refunded less the fee), once; a
//! second answer finds it replied and sends nothing; plain mail has no bond to reply to.

use std::sync::Arc;

use steward_agent::bondgate::BondGate;
use steward_agent::bondreply::{BondReplier, Replied};
use steward_agent::bonds::{BOND_HEADER, message_id_of};
use steward_agent::{Config, Network, ProposalFilter, ingest_mail_gated};
use steward_eth::BondState;
use steward_eth::testkit::{Anvil, Artifacts, Bonds, BondsConfig, Tools, dev_key, usdc};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_a_bonded_mail_refunds_its_bond_once() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(
                steward_testing::Need::Anvil,
                "answering_a_bonded_mail_refunds_its_bond_once",
                why,
            );
            return;
        }
    };
    let anvil = Anvil::start(&tools).await.expect("anvil starts");
    let artifacts = Artifacts::load(&tools).expect("contracts compile");
    let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
        .await
        .expect("deploy");
    let esc = kit.escrow();
    let (sender, me) = (dev_key(1).expect("key"), dev_key(2).expect("key"));
    let mut c = Config::default();
    c.bonds.rpc = Some(anvil.url().to_string());
    c.bonds.chain_id = Some(31337);
    c.bonds.escrow = Some(kit.escrow.to_string());
    c.bonds.token = Some(kit.token.to_string());
    c.bonds.recipient = Some(me.address().to_string());
    c.bonds.price = Some(1.0);
    c.bonds.confirmations = 0;
    c.bonds.reply_on_answer = true;
    let net = Network::from_config(&c).expect("network");
    let gate = || {
        BondGate::from_config(&c, &net)
            .expect("gate")
            .expect("bonds on")
    };
    let id = message_id_of("paid@mail.test");
    esc.deposit(&sender, me.address(), id, usdc(2))
        .await
        .expect("deposit");
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = crate::new_store(dir.path(), "pw");
    let md = dir.path().join("Maildir");
    std::fs::create_dir_all(md.join("new")).expect("maildir");
    std::fs::create_dir_all(md.join("cur")).expect("maildir");
    for (label, bond) in [("paid", true), ("plain", false)] {
        let mut m = format!(
            "Message-ID: <{label}@mail.test>\r\nFrom: <s@mail.test>\r\nSubject: proposal {label}\r\n"
        );
        if bond {
            m.push_str(&format!("{BOND_HEADER}: 31337:{}:{id}\r\n", kit.escrow));
        }
        m.push_str("\r\nPlease fund the grants program for another quarter.\r\n");
        std::fs::write(md.join("new").join(label), m).expect("write");
    }
    ingest_mail_gated(&mut store, &md, &c.limits(), Some(&gate()))
        .await
        .expect("ingest");
    let keys: Vec<(String, String)> = store
        .proposals(&ProposalFilter {
            open_only: false,
            space: None,
            limit: None,
        })
        .expect("proposals")
        .into_iter()
        .map(|p| (p.proposal.id, p.key))
        .collect();
    let key_of = |label: &str| {
        keys.iter()
            .find(|(i, _)| i.contains(label))
            .map(|(_, k)| k.clone())
            .unwrap_or_else(|| panic!("{label} not stored: {keys:?}"))
    };

    let replier = Arc::new(BondReplier::new(gate(), me.clone()));
    let r = replier
        .on_answer(&mut store, &key_of("paid"))
        .await
        .expect("reply");
    // 2 USDC less the default 10% fee back to the sender.
    match &r {
        Some(Replied::Refunded { refund, .. }) => {
            assert_eq!(refund.as_deref(), Some("1800000"), "{r:?}");
        }
        other => panic!("not refunded: {other:?}"),
    }
    let b = esc.bonds(&[id], None).await.expect("bond");
    assert_eq!(b[0].state, BondState::Replied);
    // Answered again: nothing to refund, nothing sent.
    let r = replier
        .on_answer(&mut store, &key_of("paid"))
        .await
        .expect("again");
    assert_eq!(
        r,
        Some(Replied::NotOpen {
            state: "replied".into()
        })
    );
    // Plain mail: no bond, no line.
    let r = replier
        .on_answer(&mut store, &key_of("plain"))
        .await
        .expect("plain");
    assert_eq!(r, None);
    // The desk's hook says it in words (run on this runtime, as the desk's handler does).
    let hook = replier.clone().hook();
    let line = hook(&mut store, &key_of("paid")).expect("a line");
    assert!(line.contains("nothing to refund"), "{line}");
    let audit = store.audit_entries(Some(50)).expect("audit");
    assert!(audit.iter().any(|e| e.kind == "bond-reply"), "audited");
}
