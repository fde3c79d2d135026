//! OpenZeppelin Governor 5: proposals, state, timing, quorum and votes read back.

use steward_core::{Proposal, ProposalState, Source};
use steward_eth::testkit::{Dao, DaoConfig, ether};
use steward_eth::{GOVERNOR_CHOICES, GovernorReader, choice_of_support};

use crate::chain;

async fn read_all(reader: &GovernorReader, from: u64) -> Vec<Proposal> {
    reader
        .proposals(from, None)
        .await
        .expect("scan")
        .items
        .into_iter()
        .map(|r| r.expect("every proposal decodes"))
        .collect()
}

#[tokio::test]
async fn oz_proposals_read_back_with_actions_state_timing_quorum_and_votes() {
    let Some((anvil, artifacts)) = chain("oz_proposals_read_back").await else {
        return;
    };
    let cfg = DaoConfig {
        voting_delay: 5,
        ..DaoConfig::default()
    };
    let dao = Dao::deploy(&anvil, &artifacts, &cfg).await.expect("deploy");
    let recipient = anvil.accounts()[7];
    let pay = dao.treasury_transfer(recipient, ether(1000));
    let eth = dao.eth_transfer(recipient, ether(3));
    let desc1 = "# Pay the auditor\n\nPays 1000 STW and 3 ETH to the auditor.\nSecond line.";
    let desc2 = "Top up the grants multisig\n\nOnly ether this time.";
    let actions1 = vec![pay.clone(), eth.clone()];
    let p1 = dao
        .propose(&anvil, dao.voters[0], &actions1, desc1)
        .await
        .expect("propose 1");
    let p2 = dao
        .propose(&anvil, dao.voters[1], std::slice::from_ref(&eth), desc2)
        .await
        .expect("propose 2");

    let reader = dao.reader();
    assert_eq!(reader.chain_id().await.expect("chain id"), 31337);
    let got = read_all(&reader, dao.deployed_at).await;
    assert_eq!(got.len(), 2, "{got:#?}");
    let a = &got[0];
    assert_eq!(a.id, p1.id.to_string());
    assert_eq!(
        a.source,
        Source::Governor {
            chain_id: 31337,
            governor: dao.governor
        }
    );
    assert_eq!(a.title, "Pay the auditor");
    assert_eq!(a.body, desc1);
    assert_eq!(a.actions, actions1);
    assert!(a.actions.iter().all(|x| x.signature.is_empty()));
    assert_eq!(a.author, Some(format!("{:#x}", dao.voters[0])));
    assert_eq!(a.choices, GOVERNOR_CHOICES);
    assert_eq!(a.state, ProposalState::Pending);
    // votingDelay 5 blocks, votingPeriod 50 blocks.
    assert_eq!(a.snapshot, Some(p1.block + 5));
    assert_eq!(
        reader.proposal_snapshot(p1.id).await.expect("snapshot"),
        p1.block + 5
    );
    assert_eq!(
        reader.proposal_deadline(p1.id).await.expect("deadline"),
        p1.block + 55
    );
    let created = anvil.rpc().block_timestamp(p1.block).await.expect("ts") as i64;
    assert_eq!(a.created, Some(created));
    let (start, end) = (a.start.expect("start"), a.end.expect("end"));
    assert!(start >= created && end > start, "{start} {end} {created}");
    let b = &got[1];
    assert_eq!(b.id, p2.id.to_string());
    assert_eq!(b.title, "Top up the grants multisig");
    assert_eq!(b.actions, vec![eth.clone()]);
    assert_eq!(b.author, Some(format!("{:#x}", dao.voters[1])));

    // Incremental: from the block after the first proposal only the second comes back, and
    // one-block pages give the same as one big page.
    let later = read_all(&reader, p1.block + 1).await;
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].id, p2.id.to_string());
    let paged = read_all(&dao.reader().with_page_blocks(1), dao.deployed_at).await;
    assert_eq!(paged, got);

    // Quorum is unknown until the snapshot has passed, then 4% of the supply.
    assert_eq!(reader.quorum(p1.id).await.expect("quorum"), None);
    anvil.mine(5).await.expect("mine");
    assert_eq!(
        reader.state(p1.id).await.expect("state"),
        ProposalState::Active
    );
    assert_eq!(
        reader.quorum(p1.id).await.expect("quorum"),
        Some(ether(40_000))
    );

    // Votes: for with a reason, against without, abstain.
    dao.vote(&anvil, dao.voters[0], p1.id, 1, "audit is overdue")
        .await
        .expect("vote for");
    dao.vote(&anvil, dao.voters[1], p1.id, 0, "")
        .await
        .expect("vote against");
    dao.vote(&anvil, dao.voters[2], p1.id, 2, "conflict of interest")
        .await
        .expect("vote abstain");
    let votes = reader.votes(dao.deployed_at, None).await.expect("votes");
    let votes: Vec<_> = votes
        .items
        .into_iter()
        .map(|v| v.expect("vote decodes"))
        .collect();
    assert_eq!(votes.len(), 3);
    let expect = [
        (dao.voters[0], 1u8, ether(100_000), Some("audit is overdue")),
        (dao.voters[1], 0, ether(50_000), None),
        (
            dao.voters[2],
            2,
            ether(20_000),
            Some("conflict of interest"),
        ),
    ];
    for (v, (voter, support, weight, reason)) in votes.iter().zip(expect) {
        assert_eq!(v.proposal_id, p1.id);
        assert_eq!(v.vote.voter, format!("{voter:#x}"));
        assert_eq!(v.vote.choice, serde_json::json!(support));
        assert_eq!(v.vote.power, weight.to_string());
        assert_eq!(v.vote.reason.as_deref(), reason);
        assert!(
            v.vote.id.starts_with("0x") && v.vote.id.contains(':'),
            "{}",
            v.vote.id
        );
        assert!(v.vote.created.is_some());
    }
    assert_eq!(
        choice_of_support(1).map(|i| GOVERNOR_CHOICES[i]),
        Some("For")
    );

    // After the deadline: p1 succeeded (100k for, 50k against, quorum 40k), p2 had no votes.
    anvil.mine(60).await.expect("mine");
    assert_eq!(
        reader.state(p1.id).await.expect("state"),
        ProposalState::Succeeded
    );
    assert_eq!(
        reader.state(p2.id).await.expect("state"),
        ProposalState::Defeated
    );

    // Queue and execute through the timelock; the treasury pays.
    dao.queue(&anvil, dao.deployer, &actions1, desc1)
        .await
        .expect("queue");
    assert_eq!(
        reader.state(p1.id).await.expect("state"),
        ProposalState::Queued
    );
    dao.execute(&anvil, dao.deployer, &actions1, desc1)
        .await
        .expect("execute");
    let done = read_all(&reader, dao.deployed_at).await;
    let states: Vec<_> = done.iter().map(|p| p.state).collect();
    assert_eq!(states, [ProposalState::Executed, ProposalState::Defeated]);
    // Now that the blocks are mined, start and end are their exact timestamps.
    let rpc = anvil.rpc();
    let start = rpc.block_timestamp(p1.block + 5).await.expect("ts") as i64;
    let end = rpc.block_timestamp(p1.block + 55).await.expect("ts") as i64;
    assert_eq!((done[0].start, done[0].end), (Some(start), Some(end)));
}
