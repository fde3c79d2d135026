//! Governor votes signed with a local key on a real anvil + OpenZeppelin 5 Governor: counted,
//! `hasVoted`, the reason in `VoteCast`, a second vote refused before signing, a vote on a
//! pending proposal refused with its state named, and `castVoteBySig` through a relayer.

use alloy::primitives::{Bytes, U256};
use steward_eth::testkit::{Dao, DaoConfig, dev_key, ether};
use steward_eth::{Error, GovernorBallot, GovernorCaster};

use crate::chain;

#[tokio::test]
async fn governor_vote_is_counted_with_its_reason_and_never_twice() {
    let Some((anvil, artifacts)) = chain("governor_vote_is_counted").await else {
        return;
    };
    let cfg = DaoConfig {
        voting_delay: 2,
        ..DaoConfig::default()
    };
    let dao = Dao::deploy(&anvil, &artifacts, &cfg).await.expect("deploy");
    let voter = dev_key(1).expect("key");
    assert_eq!(
        voter.address(),
        dao.voters[0],
        "dev key 1 is anvil's account 1"
    );
    let pay = dao.treasury_transfer(anvil.accounts()[7], ether(10));
    let p = dao
        .propose(&anvil, dao.voters[1], &[pay], "# Pay\n\nten tokens")
        .await
        .expect("propose");
    let caster = GovernorCaster::new(anvil.rpc().clone(), dao.governor);
    let ballot = GovernorBallot {
        proposal_id: p.id,
        support: 1,
        reason: "Audited; the amount is right.".into(),
        params: None,
    };

    // Pending: refused before anything is signed, the state named.
    let e = caster
        .prepare(&voter, &ballot, Some(31337))
        .await
        .expect_err("pending");
    assert!(matches!(e, Error::VoteRefused { .. }), "{e}");
    assert!(e.to_string().contains("is Pending"), "{e}");
    // The wrong chain: refused.
    let e = caster
        .prepare(&voter, &ballot, Some(1))
        .await
        .expect_err("chain");
    assert!(
        matches!(
            e,
            Error::ChainMismatch {
                expected: 1,
                got: 31337,
                ..
            }
        ),
        "{e}"
    );

    anvil.mine(3).await.expect("mine");
    assert!(
        !caster
            .has_voted(p.id, voter.address())
            .await
            .expect("hasVoted")
    );
    let tx = caster
        .prepare(&voter, &ballot, Some(31337))
        .await
        .expect("prepare");
    assert_eq!(tx.from, voter.address());
    // Nothing is sent by prepare.
    assert!(
        !caster
            .has_voted(p.id, voter.address())
            .await
            .expect("hasVoted")
    );
    let hash = caster.submit(&tx).await.expect("submit");
    assert_eq!(hash, tx.hash);
    // Sending the same bytes again (a retry after a crash) is not a second vote.
    let again = caster.submit(&tx).await;
    assert!(
        again.is_ok()
            || again
                .as_ref()
                .is_err_and(|e| e.to_string().contains("nonce")),
        "{again:?}"
    );
    let r = caster.wait_receipt(hash, p.id).await.expect("receipt");
    assert_eq!(r.reason, ballot.reason);
    assert_eq!(r.weight, ether(100_000));
    assert!(
        caster
            .has_voted(p.id, voter.address())
            .await
            .expect("hasVoted")
    );
    let (against, for_, abstain) = caster.proposal_votes(p.id).await.expect("votes");
    assert_eq!(
        (against, for_, abstain),
        (U256::ZERO, ether(100_000), U256::ZERO)
    );

    // The reader sees the same vote, with the reason.
    let votes = dao
        .reader()
        .votes(dao.deployed_at, None)
        .await
        .expect("scan votes");
    let v = votes.items.into_iter().flatten().next().expect("one vote");
    assert_eq!(v.vote.reason.as_deref(), Some(ballot.reason.as_str()));

    // A second vote is refused, clearly, before signing.
    let e = caster
        .prepare(&voter, &ballot, None)
        .await
        .expect_err("second vote");
    assert!(e.to_string().contains("GovernorAlreadyCastVote"), "{e}");
    assert_eq!(e.kind(), "vote-refused");

    // castVoteBySig and ExtendedBallot: voter 2 signs, account 0 relays.
    let v2 = dev_key(2).expect("key");
    let plain = GovernorBallot {
        proposal_id: p.id,
        support: 0,
        reason: String::new(),
        params: None,
    };
    let sig = caster.sign_ballot(&v2, &plain).await.expect("sign ballot");
    assert_eq!(sig.signature.len(), 65);
    anvil
        .send(
            alloy::rpc::types::TransactionRequest::default()
                .from(anvil.accounts()[0])
                .to(dao.governor)
                .input(sig.calldata.clone().into()),
        )
        .await
        .expect("relayed castVoteBySig");
    assert!(
        caster
            .has_voted(p.id, v2.address())
            .await
            .expect("hasVoted")
    );
    let (against, _, _) = caster.proposal_votes(p.id).await.expect("votes");
    assert_eq!(against, ether(50_000));

    let v3 = dev_key(3).expect("key");
    let ext = GovernorBallot {
        proposal_id: p.id,
        support: 2,
        reason: "abstaining by signature".into(),
        params: Some(Bytes::new()),
    };
    let sig = caster.sign_ballot(&v3, &ext).await.expect("sign extended");
    anvil
        .send(
            alloy::rpc::types::TransactionRequest::default()
                .from(anvil.accounts()[0])
                .to(dao.governor)
                .input(sig.calldata.into()),
        )
        .await
        .expect("relayed castVoteWithReasonAndParamsBySig");
    let (_, _, abstain) = caster.proposal_votes(p.id).await.expect("votes");
    assert_eq!(abstain, ether(20_000));
}
