//! The generated contracts on a real anvil: a proof Steward makes verifies in
//! `StewardSemaphoreVerifier` unchanged and tampering, another root or another scope is refused;
//! `StewardGroups` keeps the same root as steward-zk for the same members (read back from its
//! events), counts a vote, refuses a double signal, a root of another group and bad input. The
//! gas of verify and signal is printed as `bench:zkchain` lines for BENCHMARKS.md.

#![allow(clippy::print_stderr)]

use std::sync::Arc;

use steward_eth::testkit::{Anvil, Artifacts, Tools, ZkContracts, dev_key};
use steward_eth::{ChainSignal, ProofInputs, RegistryError, SemaphoreVerifier, StewardGroups};
use steward_zk::{Field, Group, Identity, IdentitySecret, Signal, prove};

fn identity(byte: u8) -> Identity {
    Identity::new(&IdentitySecret::from_bytes(&[byte; 32]).expect("32 bytes"))
}

async fn chain(test: &str) -> Option<(Anvil, Arc<Artifacts>)> {
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

fn inputs(s: &Signal) -> ProofInputs {
    let w = s.words().expect("words");
    ProofInputs {
        root: w.root,
        nullifier: w.nullifier,
        signal_hash: w.signal_hash,
        scope_hash: w.scope_hash,
        proof: w.proof,
        depth: s.depth,
    }
}

fn chain_signal(s: &Signal) -> ChainSignal {
    let w = s.words().expect("words");
    ChainSignal {
        root: w.root,
        nullifier: w.nullifier,
        scope: s.scope.clone(),
        message: s.message.clone(),
        proof: w.proof,
    }
}

/// A group of `ids` created on chain by account 0 and filled in order.
async fn on_chain_group(zk: &StewardGroups, anvil: &Anvil, depth: usize, ids: &[Field]) -> Field {
    let admin = dev_key(0).expect("key");
    let (gid, _) = zk
        .create_group(&admin, depth, anvil.accounts()[0])
        .await
        .expect("createGroup");
    for m in ids {
        zk.add_member(&admin, gid, *m).await.expect("addMember");
    }
    gid
}

fn refused(e: RegistryError, starts: &str) {
    match &e {
        RegistryError::Refused { reason, .. } if reason.starts_with(starts) => {}
        other => panic!("expected a {starts} refusal, got {other}"),
    }
}

#[tokio::test]
async fn a_steward_proof_verifies_on_chain_and_votes_once() {
    let Some((anvil, artifacts)) = chain("zk_chain_proof").await else {
        return;
    };
    let c = ZkContracts::deploy(&anvil, &artifacts)
        .await
        .expect("deploy");
    let zk = c.client();
    let verifier = SemaphoreVerifier::new(anvil.rpc().clone(), c.verifier);
    let (me, a, b) = (identity(1), identity(2), identity(3));
    let members = vec![a.commitment(), me.commitment(), b.commitment()];
    let gid = on_chain_group(zk, &anvil, 20, &members).await;
    let local = Group::new(20, members.clone()).expect("group");
    let g = zk.group(gid).await.expect("getGroup").expect("exists");
    assert_eq!((g.depth, g.size, g.root), (20, 3, local.root()));

    let s = prove(&me, &local, "proposal-7", "for").expect("prove");
    let p = inputs(&s);
    assert!(verifier.verify(&p).await.expect("verifyProof"), "valid");
    let verify_gas = verifier
        .verify_gas(&p)
        .await
        .expect("gas")
        .expect("accepted");

    // Tampered, another root, another scope, another message: refused (false, not a revert).
    let mut t = p.clone();
    t.proof[7] ^= Field::from(1);
    assert!(!verifier.verify(&t).await.expect("call"), "tampered");
    let mut t = p.clone();
    t.proof.swap(0, 6);
    t.proof.swap(1, 7);
    assert!(!verifier.verify(&t).await.expect("call"), "swapped points");
    let other_root = Group::new(20, vec![a.commitment(), me.commitment()])
        .expect("group")
        .root();
    for (what, t) in [
        (
            "root",
            ProofInputs {
                root: other_root,
                ..p.clone()
            },
        ),
        (
            "scope",
            ProofInputs {
                scope_hash: p.scope_hash + Field::from(1),
                ..p.clone()
            },
        ),
        (
            "message",
            ProofInputs {
                signal_hash: p.signal_hash + Field::from(1),
                ..p.clone()
            },
        ),
        (
            "nullifier",
            ProofInputs {
                nullifier: p.nullifier + Field::from(1),
                ..p.clone()
            },
        ),
        (
            "depth",
            ProofInputs {
                depth: 16,
                ..p.clone()
            },
        ),
    ] {
        assert!(!verifier.verify(&t).await.expect("call"), "another {what}");
    }
    // An input at or above the field modulus is refused, not reduced.
    let mut t = p.clone();
    t.root = p.root
        + Field::from_str_radix(
            "30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001",
            16,
        )
        .expect("r");
    assert!(!verifier.verify(&t).await.expect("call"), "root + r");
    refused(
        verifier
            .verify(&ProofInputs {
                depth: 17,
                ..p.clone()
            })
            .await
            .expect_err("depth 17"),
        "UnsupportedDepth",
    );

    // The vote: counted once; the same member's second signal in the scope reverts.
    let voter = dev_key(4).expect("key");
    let sent = zk
        .signal(&voter, gid, &chain_signal(&s))
        .await
        .expect("signal");
    assert_eq!(sent.nullifier, p.nullifier);
    assert_eq!(
        zk.tally(gid, "proposal-7", "for").await.expect("tally"),
        Field::from(1)
    );
    assert_eq!(
        zk.tally(gid, "proposal-7", "against").await.expect("tally"),
        Field::ZERO
    );
    assert!(zk.nullifier_used(gid, p.nullifier).await.expect("used"));
    // Resent (by anyone, from any account): the nullifier is spent.
    refused(
        zk.signal(&voter, gid, &chain_signal(&s))
            .await
            .expect_err("double signal"),
        "NullifierUsed",
    );
    // A proof relabelled with another message or scope than it was made for: InvalidProof;
    // then sent as made, it counts.
    let theirs = prove(&a, &local, "proposal-7", "against").expect("prove");
    let mut forged = chain_signal(&theirs);
    forged.message = "for".into();
    refused(
        zk.signal(&voter, gid, &forged)
            .await
            .expect_err("relabelled"),
        "InvalidProof",
    );
    let mut forged = chain_signal(&theirs);
    forged.scope = "proposal-9".into();
    refused(
        zk.signal(&voter, gid, &forged).await.expect_err("rescoped"),
        "InvalidProof",
    );
    zk.signal(&voter, gid, &chain_signal(&theirs))
        .await
        .expect("second voter");
    assert_eq!(
        zk.tally(gid, "proposal-7", "against").await.expect("tally"),
        Field::from(1)
    );
    assert_eq!(
        zk.tally(gid, "proposal-7", "for").await.expect("tally"),
        Field::from(1)
    );

    // A root of another group (a valid proof there) is not this group's root.
    let other = on_chain_group(zk, &anvil, 20, &[b.commitment(), me.commitment()]).await;
    let other_local = Group::new(20, vec![b.commitment(), me.commitment()]).expect("group");
    let elsewhere = prove(&me, &other_local, "proposal-10", "for").expect("prove");
    refused(
        zk.signal(&voter, gid, &chain_signal(&elsewhere))
            .await
            .expect_err("root of another group"),
        "UnknownRoot",
    );
    let there = zk
        .signal(&voter, other, &chain_signal(&elsewhere))
        .await
        .expect("valid in its own group");

    eprintln!(
        "bench:zkchain depth=20 verifyProof_gas={verify_gas} signal_gas={} signal_gas_other_group={}",
        sent.mined.gas_used, there.mined.gas_used
    );
}

#[tokio::test]
async fn the_contract_keeps_steward_zks_root_and_its_events_give_the_members() {
    let Some((anvil, artifacts)) = chain("zk_chain_root").await else {
        return;
    };
    let c = ZkContracts::deploy(&anvil, &artifacts)
        .await
        .expect("deploy");
    let zk = c.client();
    let admin = dev_key(0).expect("key");
    for depth in steward_zk::DEPTHS {
        let (gid, _) = zk
            .create_group(&admin, depth, anvil.accounts()[0])
            .await
            .expect("createGroup");
        let empty = Group::new(depth, vec![]).expect("group");
        let g = zk.group(gid).await.expect("getGroup").expect("exists");
        assert_eq!(g.root, empty.root(), "empty depth-{depth} root");
        let mut members = Vec::new();
        let mut gas = Vec::new();
        for i in 1..=5u8 {
            let m = identity(i).commitment();
            members.push(m);
            let mined = zk.add_member(&admin, gid, m).await.expect("addMember");
            gas.push(mined.gas_used);
            let local = Group::new(depth, members.clone()).expect("group");
            let g = zk.group(gid).await.expect("getGroup").expect("exists");
            assert_eq!(g.root, local.root(), "depth {depth}, {i} members");
            assert!(zk.is_root(gid, local.root()).await.expect("isRoot"));
        }
        let read = zk
            .members(gid, c.deployed_at, 5)
            .await
            .expect("members from events");
        assert_eq!(read, members, "depth {depth}");
        eprintln!(
            "bench:zkchain depth={depth} addMember_gas_first={} addMember_gas_min={} addMember_gas_max={}",
            gas[0],
            gas.iter().min().copied().unwrap_or_default(),
            gas.iter().max().copied().unwrap_or_default()
        );
    }
}

#[tokio::test]
async fn bad_input_is_refused_in_words() {
    let Some((anvil, artifacts)) = chain("zk_chain_bad_input").await else {
        return;
    };
    let c = ZkContracts::deploy(&anvil, &artifacts)
        .await
        .expect("deploy");
    let zk = c.client();
    let admin = dev_key(0).expect("key");
    let stranger = dev_key(3).expect("key");
    // An unknown group id: `None` to read, a refusal to write.
    assert_eq!(zk.group(Field::from(99)).await.expect("getGroup"), None);
    refused(
        zk.add_member(&admin, Field::from(99), Field::from(5))
            .await
            .expect_err("unknown group"),
        "UnknownGroup",
    );
    refused(
        zk.create_group(&admin, 17, anvil.accounts()[0])
            .await
            .expect_err("depth 17"),
        "UnsupportedDepth",
    );
    let (gid, _) = zk
        .create_group(&admin, 16, anvil.accounts()[0])
        .await
        .expect("createGroup");
    refused(
        zk.add_member(&stranger, gid, Field::from(5))
            .await
            .expect_err("not the admin"),
        "NotGroupAdmin",
    );
    refused(
        zk.add_member(&admin, gid, Field::ZERO)
            .await
            .expect_err("zero leaf"),
        "BadCommitment",
    );
    zk.add_member(&admin, gid, Field::from(5))
        .await
        .expect("add");
    refused(
        zk.add_member(&admin, gid, Field::from(5))
            .await
            .expect_err("duplicate"),
        "DuplicateMember",
    );
    // Fewer events than members (as from a start block after the group began): refused.
    let late_start = anvil.block_number().await.expect("block") + 1;
    let e = zk
        .members(gid, late_start, 1)
        .await
        .expect_err("events missing");
    assert!(e.to_string().contains("1 members but 0 MemberAdded"), "{e}");
    // The wrong contract: the verifier answers no getGroup.
    let wrong = StewardGroups::new(anvil.rpc().clone(), c.verifier);
    let e = wrong
        .group(Field::from(1))
        .await
        .expect_err("wrong contract");
    assert!(matches!(e, RegistryError::Refused { .. }), "{e}");
    // No contract at all.
    let nothing = StewardGroups::new(anvil.rpc().clone(), anvil.accounts()[9]);
    let e = nothing.group(Field::from(1)).await.expect_err("no code");
    assert!(e.to_string().contains("no code answers getGroup"), "{e}");
}
