//! GovernorBravo-shaped proposals, and logs a reader must survive.

use alloy::primitives::{Address, Bytes, U256};
use alloy::sol_types::SolValue;
use steward_core::ProposalState;
use steward_eth::testkit::{Bravo, Dao, DaoConfig, bravo_action, encode_proposal_created, ether};
use steward_eth::{GovernorKind, ItemRef};

use crate::chain;

#[tokio::test]
async fn bravo_proposals_keep_signature_and_args_and_bad_logs_are_item_errors() {
    let Some((anvil, artifacts)) = chain("bravo_proposals").await else {
        return;
    };
    let dao = Dao::deploy(&anvil, &artifacts, &DaoConfig::default())
        .await
        .expect("deploy dao");
    let bravo = Bravo::deploy(&anvil, &artifacts, dao.token, 10, 20, ether(30_000))
        .await
        .expect("deploy bravo");
    assert_eq!(
        GovernorKind::detect(anvil.rpc(), bravo.governor)
            .await
            .expect("detect"),
        GovernorKind::Bravo
    );
    assert_eq!(
        GovernorKind::detect(anvil.rpc(), dao.governor)
            .await
            .expect("detect"),
        GovernorKind::OpenZeppelin
    );
    let who = dao.voters[0];
    let recipient = anvil.accounts()[8];
    let transfer = bravo_action(
        dao.token,
        U256::ZERO,
        "transfer(address,uint256)",
        (recipient, ether(5)).abi_encode_params(),
    );
    let pay_eth = bravo_action(recipient, ether(1), "", Vec::new());
    let first = bravo
        .propose(
            &anvil,
            who,
            &[transfer.clone(), pay_eth.clone()],
            "# Bravo one\n\nPay 5 STW.",
        )
        .await
        .expect("propose");

    // Mismatched arrays: two targets, one value.
    let mismatched = encode_proposal_created(
        U256::from(99),
        who,
        vec![recipient, recipient],
        vec![U256::ZERO],
        vec![String::new(), String::new()],
        vec![Bytes::new(), Bytes::new()],
        U256::from(1),
        U256::from(2),
        "mismatched",
    );
    bravo
        .emit_raw_proposal_created(&anvil, who, mismatched)
        .await
        .expect("emit mismatched");
    // Not ABI at all.
    bravo
        .emit_raw_proposal_created(&anvil, who, Bytes::from(vec![1, 2, 3]))
        .await
        .expect("emit garbage");
    // Well-formed, but the governor never heard of proposal 77.
    let unknown = encode_proposal_created(
        U256::from(77),
        who,
        vec![recipient],
        vec![U256::ZERO],
        vec![String::new()],
        vec![Bytes::new()],
        U256::from(1),
        U256::from(2),
        "ghost",
    );
    bravo
        .emit_raw_proposal_created(&anvil, who, unknown)
        .await
        .expect("emit ghost");
    let second = bravo
        .propose(
            &anvil,
            dao.voters[1],
            std::slice::from_ref(&pay_eth),
            "Bravo two",
        )
        .await
        .expect("propose 2");

    let reader = bravo.reader();
    let scan = reader
        .proposals(bravo.deployed_at, None)
        .await
        .expect("scan");
    assert_eq!(scan.items.len(), 5, "{:#?}", scan.items);

    let p1 = scan.items[0].as_ref().expect("first proposal");
    assert_eq!(p1.id, first.id.to_string());
    assert_eq!(p1.title, "Bravo one");
    assert_eq!(p1.actions, vec![transfer, pay_eth.clone()]);
    assert_eq!(p1.actions[0].signature, "transfer(address,uint256)");
    assert_eq!(
        p1.actions[0].calldata.len(),
        64,
        "arguments only, no selector"
    );
    assert_eq!(p1.snapshot, Some(first.block + 10));
    assert_eq!(p1.state, ProposalState::Pending);

    let e = scan.items[1].as_ref().expect_err("mismatched arrays");
    assert_eq!(e.field(), "values");
    assert_eq!(e.item, ItemRef::Proposal("99".into()));
    let msg = e.to_string();
    assert!(
        msg.contains("proposal 99") && msg.contains("`values`"),
        "{msg}"
    );
    assert!(msg.contains(&bravo.governor.to_string()), "{msg}");

    let e = scan.items[2].as_ref().expect_err("garbage");
    assert_eq!(e.field(), "data");
    assert!(matches!(e.item, ItemRef::Log { .. }), "{e}");

    let e = scan.items[3].as_ref().expect_err("ghost");
    assert_eq!(e.field(), "state");
    assert_eq!(e.item, ItemRef::Proposal("77".into()));

    let p2 = scan.items[4]
        .as_ref()
        .expect("second proposal after the bad ones");
    assert_eq!(p2.id, second.id.to_string());
    assert_eq!(p2.actions, vec![pay_eth]);

    // Timing, quorum and votes, Bravo-style.
    assert_eq!(
        reader.proposal_snapshot(first.id).await.expect("start"),
        first.block + 10
    );
    assert_eq!(
        reader.proposal_deadline(first.id).await.expect("end"),
        first.block + 30
    );
    assert_eq!(
        reader.quorum(first.id).await.expect("quorum"),
        Some(ether(30_000))
    );
    anvil.mine(10).await.expect("mine");
    assert_eq!(
        reader.state(first.id).await.expect("state"),
        ProposalState::Active
    );
    bravo
        .vote(&anvil, dao.voters[0], first.id, 1, "bravo reason")
        .await
        .expect("vote");
    bravo
        .vote(&anvil, dao.voters[1], first.id, 0, "")
        .await
        .expect("vote");
    let votes: Vec<_> = reader
        .votes(bravo.deployed_at, None)
        .await
        .expect("votes")
        .items
        .into_iter()
        .map(|v| v.expect("vote"))
        .collect();
    assert_eq!(votes.len(), 2);
    assert_eq!(votes[0].vote.voter, format!("{:#x}", dao.voters[0]));
    assert_eq!(votes[0].vote.choice, serde_json::json!(1));
    assert_eq!(votes[0].vote.power, ether(100_000).to_string());
    assert_eq!(votes[0].vote.reason.as_deref(), Some("bravo reason"));
    assert_eq!(votes[1].vote.choice, serde_json::json!(0));
    assert_eq!(votes[1].vote.reason, None);

    // Invalid UTF-8 in a description is replaced and flagged, not refused (the log re-uses the
    // first proposal's id, so the governor knows it; deduplication is the caller's).
    let raw = (
        first.id,
        who,
        vec![recipient],
        vec![U256::ZERO],
        vec![String::new()],
        vec![Bytes::new()],
        U256::from(1),
        U256::from(2),
        Bytes::from(b"# Caf\xe9\n\nbody".to_vec()),
    )
        .abi_encode_params();
    let r = bravo
        .emit_raw_proposal_created(&anvil, who, raw.into())
        .await
        .expect("emit latin-1");
    let scan = reader
        .proposals(r.block_number.expect("mined"), None)
        .await
        .expect("scan");
    let p = scan.items[0].as_ref().expect("accepted with a flag");
    assert_eq!(p.title, "Caf\u{fffd}");
    assert!(
        p.flags.iter().any(|f| f.kind == "invalid-utf8"),
        "{:?}",
        p.flags
    );

    // A governor that is not a contract at all.
    let err = GovernorKind::detect(anvil.rpc(), Address::repeat_byte(0x42))
        .await
        .expect_err("no code");
    assert!(err.to_string().contains("no contract"), "{err}");
}
