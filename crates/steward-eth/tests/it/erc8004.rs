//! The ERC-8004 registries on a real anvil (`contracts/AgentIdentityRegistry.sol`,
//! `AgentReputationRegistry.sol`): the issue's summary vector, self-rating refused for the owner
//! and an operator, the agent wallet set only by a fresh signature from that wallet, and an empty
//! client list refused before any call. The gas of each call is printed for BENCHMARKS.md.

#![allow(clippy::print_stderr)]

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use steward_eth::testkit::{AgentRegistryAddresses, dev_key};
use steward_eth::{Feedback, Metadata, RegistryError, Summary};

use crate::chain;

fn rating(value: i128, decimals: u8) -> Feedback {
    Feedback {
        value,
        decimals,
        tag1: "starred".into(),
        endpoint: "mailto:agent@example.org".into(),
        ..Feedback::default()
    }
}

#[tokio::test]
async fn feedback_summarises_to_the_issue_vector_and_owners_cannot_rate_themselves() {
    let Some((anvil, artifacts)) = chain("erc8004_feedback_summary").await else {
        return;
    };
    let addrs = AgentRegistryAddresses::deploy(&anvil, &artifacts)
        .await
        .expect("deploy");
    let reg = addrs.client(&anvil);
    assert_eq!(
        reg.reputation_identity().await.expect("bound"),
        addrs.identity
    );
    let owner = dev_key(0).expect("key");
    let (alice, bob, operator) = (
        dev_key(1).expect("key"),
        dev_key(2).expect("key"),
        dev_key(3).expect("key"),
    );
    let r = reg
        .register(
            &owner,
            "data:application/json;base64,e30=",
            &[Metadata {
                key: "agentName".into(),
                value: Bytes::from_static(b"steward"),
            }],
        )
        .await
        .expect("register");
    assert_eq!(r.agent_id, U256::from(1));
    assert_eq!(r.owner, owner.address());
    eprintln!("gas register: {}", r.mined.gas_used);
    let rec = reg.agent(r.agent_id).await.expect("agent");
    assert_eq!(rec.uri, "data:application/json;base64,e30=");
    assert_eq!(
        rec.wallet,
        Some(owner.address()),
        "the wallet starts as the owner"
    );
    assert_eq!(
        reg.metadata(r.agent_id, "agentName")
            .await
            .expect("meta")
            .as_ref(),
        b"steward"
    );

    // The issue's vector: 100 (0 decimals) and 95.5 (955, 1 decimal) -> 2, 97, 0 decimals.
    let a = reg
        .give_feedback(&alice, r.agent_id, &rating(100, 0))
        .await
        .expect("alice rates");
    eprintln!("gas giveFeedback: {}", a.mined.gas_used);
    assert_eq!((a.client, a.index), (alice.address(), 1));
    reg.give_feedback(&bob, r.agent_id, &rating(955, 1))
        .await
        .expect("bob rates");
    let s = reg
        .summary(r.agent_id, &[alice.address(), bob.address()], "", "")
        .await
        .expect("summary");
    assert_eq!(
        s,
        Summary {
            count: 2,
            value: 97,
            decimals: 0
        }
    );
    // Only the named clients count; a tag filter applies.
    let only_bob = reg
        .summary(r.agent_id, &[bob.address()], "starred", "")
        .await
        .expect("summary");
    assert_eq!(
        (only_bob.count, only_bob.display_value()),
        (1, "95.5".into())
    );
    let none = reg
        .summary(r.agent_id, &[alice.address()], "uptime", "")
        .await
        .expect("summary");
    assert_eq!(none.count, 0);

    // The owner cannot rate its own agent, nor can an operator it approved.
    let e = reg
        .give_feedback(&owner, r.agent_id, &rating(100, 0))
        .await
        .expect_err("owner self-rating");
    assert!(matches!(e, RegistryError::Refused { .. }), "{e}");
    assert!(e.to_string().contains("SelfFeedback"), "{e}");
    let approve = steward_eth_approve_all(operator.address());
    anvil
        .send(
            TransactionRequest::default()
                .with_from(owner.address())
                .with_to(addrs.identity)
                .with_input(approve),
        )
        .await
        .expect("approve operator");
    let e = reg
        .give_feedback(&operator, r.agent_id, &rating(100, 0))
        .await
        .expect_err("operator self-rating");
    assert!(e.to_string().contains("SelfFeedback"), "{e}");
    // Nothing of the refused ratings was recorded.
    let clients = reg.clients(r.agent_id).await.expect("clients");
    assert_eq!(clients, vec![alice.address(), bob.address()]);

    // An unknown agent, and too many decimals, are refused with words.
    let e = reg
        .give_feedback(&alice, U256::from(99), &rating(1, 0))
        .await
        .expect_err("unknown agent");
    assert!(e.to_string().contains("UnknownAgent: no agent 99"), "{e}");
    let e = reg
        .give_feedback(&alice, r.agent_id, &rating(1, 19))
        .await
        .expect_err("decimals");
    assert!(matches!(e, RegistryError::BadInput { .. }), "{e}");
}

/// `setApprovalForAll(operator, true)` calldata.
fn steward_eth_approve_all(operator: Address) -> Bytes {
    alloy::sol! {
        function setApprovalForAll(address operator, bool approved) external;
    }
    setApprovalForAllCall {
        operator,
        approved: true,
    }
    .abi_encode()
    .into()
}

#[tokio::test]
async fn empty_client_list_is_refused_before_any_call() {
    let Some((anvil, artifacts)) = chain("erc8004_empty_clients").await else {
        return;
    };
    let addrs = AgentRegistryAddresses::deploy(&anvil, &artifacts)
        .await
        .expect("deploy");
    let reg = addrs.client(&anvil);
    let e = reg
        .summary(U256::from(1), &[], "", "")
        .await
        .expect_err("empty list");
    assert!(matches!(e, RegistryError::NoTrustedClients { .. }), "{e}");
    assert!(e.to_string().contains("never from everyone"), "{e}");
    // The contract refuses it too, for callers that are not this crate.
    alloy::sol! {
        function getSummary(uint256 agentId, address[] clientAddresses, string tag1, string tag2)
            external view returns (uint64, int128, uint8);
    }
    let call = getSummaryCall {
        agentId: U256::from(1),
        clientAddresses: vec![],
        tag1: String::new(),
        tag2: String::new(),
    };
    let e = anvil
        .rpc()
        .provider()
        .call(
            TransactionRequest::default()
                .with_to(addrs.reputation)
                .with_input(Bytes::from(call.abi_encode())),
        )
        .await
        .expect_err("contract refuses");
    let data = e
        .as_error_resp()
        .and_then(|p| p.as_revert_data())
        .expect("revert data");
    assert_eq!(
        steward_eth::describe_registry_revert(&data),
        "EmptyClientList: a summary needs a non-empty list of clients"
    );
    // A client named twice would count twice: refused.
    let owner = dev_key(0).expect("key");
    let alice = dev_key(1).expect("key");
    let r = reg.register(&owner, "", &[]).await.expect("register");
    reg.give_feedback(&alice, r.agent_id, &rating(5, 0))
        .await
        .expect("rate");
    let e = reg
        .summary(r.agent_id, &[alice.address(), alice.address()], "", "")
        .await
        .expect_err("duplicate");
    assert!(e.to_string().contains("DuplicateClient"), "{e}");
}

#[tokio::test]
async fn agent_wallet_needs_a_fresh_signature_from_that_wallet() {
    let Some((anvil, artifacts)) = chain("erc8004_agent_wallet").await else {
        return;
    };
    let addrs = AgentRegistryAddresses::deploy(&anvil, &artifacts)
        .await
        .expect("deploy");
    let reg = addrs.client(&anvil);
    let owner = dev_key(0).expect("key");
    let wallet = dev_key(4).expect("key");
    let stranger = dev_key(5).expect("key");
    let id = reg
        .register(&owner, "ipfs://agent", &[])
        .await
        .expect("register")
        .agent_id;
    let now = reg.chain_time().await.expect("time");

    // Signed by someone else than the wallet: refused.
    let forged = reg
        .sign_wallet_consent(&stranger, id, owner.address(), now + 60)
        .await
        .expect("sign");
    let e = reg
        .set_wallet(&owner, id, wallet.address(), now + 60, forged)
        .await
        .expect_err("wrong signer");
    assert!(e.to_string().contains("InvalidWalletSignature"), "{e}");

    // Signed for another owner: refused (the owner is in the message).
    let other_owner = reg
        .sign_wallet_consent(&wallet, id, stranger.address(), now + 60)
        .await
        .expect("sign");
    let e = reg
        .set_wallet(&owner, id, wallet.address(), now + 60, other_owner)
        .await
        .expect_err("wrong owner");
    assert!(e.to_string().contains("InvalidWalletSignature"), "{e}");

    // A deadline further than five minutes ahead: refused.
    let far = reg
        .sign_wallet_consent(&wallet, id, owner.address(), now + 3600)
        .await
        .expect("sign");
    let e = reg
        .set_wallet(&owner, id, wallet.address(), now + 3600, far)
        .await
        .expect_err("too far");
    assert!(e.to_string().contains("DeadlineTooFar"), "{e}");

    // Expired: the chain moved past the deadline.
    let sig = reg
        .sign_wallet_consent(&wallet, id, owner.address(), now + 60)
        .await
        .expect("sign");
    anvil.increase_time(120).await.expect("time");
    anvil.mine(1).await.expect("mine");
    let e = reg
        .set_wallet(&owner, id, wallet.address(), now + 60, sig.clone())
        .await
        .expect_err("expired");
    assert!(e.to_string().contains("SignatureExpired"), "{e}");

    // Only the owner (or an operator) may send it, even with a good signature.
    let now = reg.chain_time().await.expect("time");
    let sig = reg
        .sign_wallet_consent(&wallet, id, owner.address(), now + 60)
        .await
        .expect("sign");
    let e = reg
        .set_wallet(&stranger, id, wallet.address(), now + 60, sig.clone())
        .await
        .expect_err("not the owner");
    assert!(e.to_string().contains("NotAgentOperator"), "{e}");
    assert_eq!(
        reg.agent(id).await.expect("agent").wallet,
        Some(owner.address()),
        "nothing changed"
    );

    // The good one.
    let m = reg
        .set_wallet(&owner, id, wallet.address(), now + 60, sig)
        .await
        .expect("set wallet");
    eprintln!("gas setAgentWallet: {}", m.gas_used);
    assert_eq!(
        reg.agent(id).await.expect("agent").wallet,
        Some(wallet.address())
    );
    let meta = reg.metadata(id, "agentWallet").await.expect("meta");
    assert_eq!(meta.as_ref(), wallet.address().as_slice());
    // agentWallet cannot be set as plain metadata.
    let e = reg
        .register(
            &owner,
            "",
            &[Metadata {
                key: "agentWallet".into(),
                value: Bytes::from(stranger.address().to_vec()),
            }],
        )
        .await
        .expect_err("reserved");
    assert!(e.to_string().contains("reserved"), "{e}");
}
