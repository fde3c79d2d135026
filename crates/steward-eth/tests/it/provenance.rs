//! Issue 16 item 7: real governance attacks rebuilt on anvil with OpenZeppelin contracts, and
//! the provenance flags (item 5) and DAO health (item 6) read from them: a one-block loan into
//! the snapshot block, Beanstalk's BIP-18 in one transaction, Build Finance's takeover by a
//! fresh holder above the usual turnout, a harmless-titled settings proposal that guts quorum
//! and voting period, and its benign look-alike, which must not be critical.

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol;
use alloy::sol_types::{SolCall, SolValue};
use steward_core::{Flag, kinds};
use steward_eth::decode::Decoder;
use steward_eth::testkit::{Anvil, Artifacts, Bravo, Dao, DaoConfig, ether};
use steward_eth::{
    GovernorKind, GovernorReader, HealthOptions, Provenance, ProvenanceOptions, Request, Rpc,
    dao_health, verify,
};

use crate::{action, balance, chain};

sol! {
    interface IProv {
        function transfer(address to, uint256 amount) external returns (bool);
        function approve(address spender, uint256 amount) external returns (bool);
        function balanceOf(address who) external view returns (uint256);
        function borrow(uint256 amount) external;
        function repay() external;
        function deposit(uint256 amount) external;
        function propose(address target, bytes data, string description) external returns (uint256);
        function vote(uint256 id) external;
        function attack(address pool, address silo, address gov, uint256 bip, uint256 amount) external;
        function mint(address to, uint256 amount) external;
        function transferOwnership(address newOwner) external;
        function owner() external view returns (address);
        function setVotingPeriod(uint32 newVotingPeriod) external;
        function updateQuorumNumerator(uint256 newQuorumNumerator) external;
    }
}

async fn deploy(
    anvil: &Anvil,
    art: &Artifacts,
    from: Address,
    name: &str,
    args: Vec<u8>,
) -> Address {
    let mut code = art.get(name).expect("artifact").bytecode.to_vec();
    code.extend(args);
    anvil.deploy(from, code.into()).await.expect("deploy")
}

async fn send(anvil: &Anvil, from: Address, to: Address, data: Vec<u8>) -> u64 {
    let tx = TransactionRequest::default()
        .with_from(from)
        .with_to(to)
        .with_input(Bytes::from(data))
        // anvil estimates gas in the latest block's context; a checkpoint written in the next
        // block costs more (a new slot), so estimates can run out: give plenty.
        .with_gas_limit(3_000_000);
    // A revert's reason, which the receipt does not carry.
    if let Err(e) = anvil.rpc().provider().call(tx.clone()).await {
        panic!("{to}: {e}");
    }
    anvil
        .send(tx)
        .await
        .expect("send")
        .block_number
        .expect("mined")
}

fn flags_of(p: &Provenance) -> Vec<(&str, bool)> {
    p.flags
        .iter()
        .map(|f| (f.kind.as_str(), f.is_critical()))
        .collect()
}

fn has(p: &Provenance, kind: &str, critical: bool) -> bool {
    p.flags
        .iter()
        .any(|f| f.kind == kind && f.is_critical() == critical)
}

/// A fresh account: no ether, no nonce, no code until now; unlocked on anvil.
async fn fresh_account(anvil: &Anvil, byte: u8) -> Address {
    let a = Address::repeat_byte(byte);
    let p = anvil.rpc().provider();
    let _: serde_json::Value = p
        .raw_request("anvil_impersonateAccount".into(), (a,))
        .await
        .expect("impersonate");
    let _: serde_json::Value = p
        .raw_request(
            "anvil_setBalance".into(),
            (a, U256::from(10u64).pow(U256::from(18u64))),
        )
        .await
        .expect("set balance");
    a
}

/// Two earlier proposals on which `voters` vote For: the DAO's usual turnout.
async fn history(anvil: &Anvil, dao: &Dao, voters: &[Address]) {
    for i in 0..2 {
        let desc = format!("# Routine grant {i}\n\nPay the docs team.");
        let pay = dao.treasury_transfer(anvil.accounts()[8], ether(1_000));
        let p = dao
            .propose(anvil, voters[0], &[pay], &desc)
            .await
            .expect("propose");
        anvil.mine(2).await.expect("mine");
        for v in voters {
            dao.vote(anvil, *v, p.id, 1, "").await.expect("vote");
        }
    }
}

const SMALL: ProvenanceOptions = ProvenanceOptions {
    window: 100,
    lookback: 5_000,
    max_voters: 100,
    recent_proposals: 10,
};

/// A borrower takes a loan in exactly the snapshot block and repays it in the next: its votes
/// count power it held in that block only. Flash-loan votes, a delegation spike and a voter
/// above the usual turnout, all critical.
#[tokio::test]
async fn a_loan_held_only_in_the_snapshot_block_is_critical() {
    let Some((anvil, art)) = chain("snapshot_block_loan").await else {
        return;
    };
    let cfg = DaoConfig {
        supply: ether(2_000_000),
        ..DaoConfig::default()
    };
    let dao = Dao::deploy(&anvil, &art, &cfg).await.expect("dao");
    anvil.mine(300).await.expect("mine");
    history(&anvil, &dao, &dao.voters).await;
    let pool = deploy(
        &anvil,
        &art,
        dao.deployer,
        "LoanPool",
        dao.token.abi_encode(),
    )
    .await;
    dao.transfer_tokens(&anvil, dao.deployer, pool, ether(1_000_000))
        .await
        .expect("fund pool");
    anvil.mine(150).await.expect("mine");

    let attacker = anvil.accounts()[6];
    dao.delegate(&anvil, attacker, attacker)
        .await
        .expect("delegate");
    let approve = IProv::approveCall {
        spender: pool,
        amount: U256::MAX,
    };
    send(&anvil, attacker, dao.token, approve.abi_encode()).await;
    let desc = "# Treasury rebalancing\n\nMove funds to the new operations wallet.";
    let p = dao
        .propose(
            &anvil,
            attacker,
            &[dao.treasury_transfer(attacker, ether(500_000))],
            desc,
        )
        .await
        .expect("propose");
    // anvil mines each transaction in its own block: the loan lands in the snapshot block.
    let borrowed_in = send(
        &anvil,
        attacker,
        pool,
        IProv::borrowCall {
            amount: ether(1_000_000),
        }
        .abi_encode(),
    )
    .await;
    let reader = dao.reader();
    assert_eq!(
        reader.proposal_snapshot(p.id).await.expect("snapshot"),
        borrowed_in
    );
    send(&anvil, attacker, pool, IProv::repayCall {}.abi_encode()).await;
    anvil.mine(1).await.expect("mine");
    dao.vote(&anvil, attacker, p.id, 1, "").await.expect("vote");
    anvil.mine(1).await.expect("mine");

    let prov = reader.provenance(p.id, &SMALL).await.expect("provenance");
    assert!(
        has(&prov, kinds::FLASH_LOAN_VOTES, true),
        "{:?}",
        prov.flags
    );
    assert!(
        has(&prov, kinds::DELEGATION_SPIKE, true),
        "{:?}",
        prov.flags
    );
    assert!(
        has(&prov, kinds::VOTE_CONCENTRATION, true),
        "{:?}",
        prov.flags
    );
    let flash = prov
        .flags
        .iter()
        .find(|f| f.kind == kinds::FLASH_LOAN_VOTES)
        .expect("flash");
    assert!(
        flash.detail.contains("1000000 votes")
            && flash.detail.contains(&format!("block {borrowed_in}")),
        "{}",
        flash.detail
    );
    assert_eq!(
        prov.facts.turnout.as_ref().map(|t| t.average),
        Some(ether(170_000))
    );

    // The honest voters of the same DAO, on an honest proposal: nothing critical.
    let pay = dao.treasury_transfer(anvil.accounts()[8], ether(1_000));
    let q = dao
        .propose(
            &anvil,
            dao.voters[0],
            &[pay],
            "# Routine grant 3\n\nPay the docs team.",
        )
        .await
        .expect("propose");
    anvil.mine(2).await.expect("mine");
    for v in &dao.voters {
        dao.vote(&anvil, *v, q.id, 1, "").await.expect("vote");
    }
    anvil.mine(1).await.expect("mine");
    let honest = reader.provenance(q.id, &SMALL).await.expect("provenance");
    assert!(
        honest.flags.iter().all(|f| !f.is_critical()),
        "{:?}",
        honest.flags
    );
}

/// Beanstalk BIP-18: power counted at the moment of the vote, and `emergencyCommit`. Before the
/// attack the fast path is a warning; after it, the flash-loan votes, the votes the token never
/// backed and the execution in the voting block are critical.
#[tokio::test]
async fn beanstalk_flash_loan_executed_in_one_transaction_is_critical() {
    let Some((anvil, art)) = chain("beanstalk_bip18").await else {
        return;
    };
    let rpc = anvil.rpc().clone();
    let acc = anvil.accounts().to_vec();
    let deployer = acc[0];
    let bean = deploy(
        &anvil,
        &art,
        deployer,
        "ShapeToken",
        ("Bean".to_owned(), "BEAN".to_owned(), ether(10_000_000)).abi_encode_params(),
    )
    .await;
    let silo = deploy(&anvil, &art, deployer, "BeanSilo", bean.abi_encode()).await;
    let gov = deploy(
        &anvil,
        &art,
        deployer,
        "BeanGovernance",
        (silo, U256::from(100u64)).abi_encode_params(),
    )
    .await;
    let pool = deploy(&anvil, &art, deployer, "LoanPool", bean.abi_encode()).await;
    for (to, n) in [
        (acc[1], 100_000),
        (acc[2], 100_000),
        (gov, 1_000_000),
        (pool, 5_000_000),
    ] {
        send(
            &anvil,
            deployer,
            bean,
            IProv::transferCall {
                to,
                amount: ether(n),
            }
            .abi_encode(),
        )
        .await;
    }
    for who in [acc[1], acc[2]] {
        let approve = IProv::approveCall {
            spender: silo,
            amount: U256::MAX,
        };
        send(&anvil, who, bean, approve.abi_encode()).await;
        send(
            &anvil,
            who,
            silo,
            IProv::depositCall {
                amount: ether(100_000),
            }
            .abi_encode(),
        )
        .await;
    }
    anvil.mine(20).await.expect("mine");
    let attacker = acc[7];
    let bip = IProv::proposeCall {
        target: bean,
        data: IProv::transferCall {
            to: attacker,
            amount: ether(1_000_000),
        }
        .abi_encode()
        .into(),
        description: "# BIP-18\n\nDonate to Ukraine.".into(),
    };
    send(&anvil, attacker, gov, bip.abi_encode()).await;
    let id = U256::from(1u64);
    anvil.mine(5).await.expect("mine");

    let kind = GovernorKind::detect(&rpc, gov).await.expect("detect");
    let reader = GovernorReader::new(rpc.clone(), gov, kind);
    let opts = ProvenanceOptions {
        window: 10,
        ..SMALL
    };
    let before = reader.provenance(id, &opts).await.expect("provenance");
    assert_eq!(
        flags_of(&before),
        vec![(kinds::FAST_EXECUTION, false)],
        "{:?}",
        before.flags
    );
    assert!(before.flags[0].detail.contains("emergencyCommit(uint256)"));

    let thief = deploy(&anvil, &art, attacker, "BeanAttacker", Vec::new()).await;
    let attack = IProv::attackCall {
        pool,
        silo,
        gov,
        bip: id,
        amount: ether(5_000_000),
    };
    send(&anvil, attacker, thief, attack.abi_encode()).await;
    assert_eq!(
        balance(&rpc, bean, attacker).await,
        ether(1_000_000),
        "the attack worked"
    );
    anvil.mine(2).await.expect("mine");

    let after = reader.provenance(id, &opts).await.expect("provenance");
    for kind in [
        kinds::FLASH_LOAN_VOTES,
        kinds::VOTES_ABOVE_SUPPLY,
        kinds::FAST_EXECUTION,
    ] {
        assert!(has(&after, kind, true), "{kind}: {:?}", after.flags);
    }
    let flash = after
        .flags
        .iter()
        .find(|f| f.kind == kinds::FLASH_LOAN_VOTES)
        .expect("flash");
    assert!(
        flash.detail.contains("inside its voting transaction"),
        "{}",
        flash.detail
    );
}

/// Build Finance: a fresh address buys more than the usual turnout, its small mint is voted
/// down, and it re-submits a bigger one that also hands it the token's mint control, voting
/// alone. Fresh voter, delegation spike, concentration (critical) and escalation (warn).
#[tokio::test]
async fn build_finance_takeover_by_one_fresh_holder_is_critical() {
    let Some((anvil, art)) = chain("build_finance").await else {
        return;
    };
    let dao = Dao::deploy(&anvil, &art, &DaoConfig::default())
        .await
        .expect("dao");
    let rpc = anvil.rpc().clone();
    let usdc = deploy(
        &anvil,
        &art,
        dao.deployer,
        "StewardUSDC",
        dao.timelock.abi_encode(),
    )
    .await;
    anvil.mine(300).await.expect("mine");
    history(&anvil, &dao, &dao.voters[1..]).await;
    anvil.mine(100).await.expect("mine");

    let attacker = fresh_account(&anvil, 0xbf).await;
    let small = [action(
        usdc,
        IProv::mintCall {
            to: attacker,
            amount: U256::from(10_000_000_000u64),
        }
        .abi_encode(),
    )];
    let small_desc = "# Liquidity incentives\n\nMint 10,000 USDC for LP rewards.";
    let first = dao
        .propose(&anvil, attacker, &small, small_desc)
        .await
        .expect("propose");
    anvil.mine(2).await.expect("mine");
    for v in &dao.voters {
        dao.vote(&anvil, *v, first.id, 0, "no").await.expect("vote");
    }
    anvil.mine(60).await.expect("mine");

    // It buys (here: is sold) 200,000 STW and votes with them.
    dao.transfer_tokens(&anvil, dao.deployer, attacker, ether(200_000))
        .await
        .expect("buy");
    dao.delegate(&anvil, attacker, attacker)
        .await
        .expect("delegate");
    let big = vec![
        action(
            usdc,
            IProv::mintCall {
                to: attacker,
                amount: U256::from(1_000_000_000_000u64),
            }
            .abi_encode(),
        ),
        action(
            usdc,
            IProv::transferOwnershipCall { newOwner: attacker }.abi_encode(),
        ),
    ];
    let big_desc = "# Liquidity incentives v2\n\nMint LP rewards and streamline minting.";
    let second = dao
        .propose(&anvil, attacker, &big, big_desc)
        .await
        .expect("propose");
    anvil.mine(2).await.expect("mine");
    dao.vote(&anvil, attacker, second.id, 1, "")
        .await
        .expect("vote");
    anvil.mine(1).await.expect("mine");

    let reader = dao.reader();
    let prov = reader
        .provenance(second.id, &SMALL)
        .await
        .expect("provenance");
    for kind in [kinds::VOTE_CONCENTRATION, kinds::FRESH_VOTER] {
        assert!(has(&prov, kind, true), "{kind}: {:?}", prov.flags);
    }
    // It delegated before proposing: a spike, but not gathered after the proposal was made.
    assert!(
        has(&prov, kinds::DELEGATION_SPIKE, false),
        "{:?}",
        prov.flags
    );
    assert!(
        has(&prov, kinds::ESCALATING_RESUBMISSION, false),
        "{:?}",
        prov.flags
    );

    // And it passes: the one holder takes the mint control.
    anvil.mine(60).await.expect("mine");
    dao.queue(&anvil, attacker, &big, big_desc)
        .await
        .expect("queue");
    dao.execute(&anvil, attacker, &big, big_desc)
        .await
        .expect("execute");
    let owner = rpc
        .provider()
        .call(
            TransactionRequest::default()
                .with_to(usdc)
                .with_input(Bytes::from(IProv::ownerCall {}.abi_encode())),
        )
        .await
        .expect("owner");
    assert_eq!(Address::from_slice(&owner[12..]), attacker);
}

/// A harmless title over a payload that sets the voting period to one block and quorum to
/// zero is critical; its look-alike (a day longer period, quorum 4% -> 5%) under the same title
/// raises no critical flag, from the payload or from the votes.
#[tokio::test]
async fn settings_gutted_under_a_harmless_title_are_critical_and_the_lookalike_is_not() {
    let Some((anvil, art)) = chain("settings_gutted").await else {
        return;
    };
    // A week's voting period and a 4-day timelock; the voting delay is one block so the test
    // need not mine a day of blocks (anvil takes over 30 s for 7,200 on a busy machine).
    let cfg = DaoConfig {
        voting_delay: 1,
        voting_period: 50_400,
        timelock_delay: 4 * 86_400,
        ..DaoConfig::default()
    };
    let dao = Dao::deploy(&anvil, &art, &cfg).await.expect("dao");
    anvil.mine(300).await.expect("mine");
    let rpc = anvil.rpc().clone();
    let decoder = Decoder::default();
    let title = "# Housekeeping: routine parameter update\n\nTidying up settings.";
    let settings = |period: u32, quorum: u64| {
        vec![
            action(
                dao.governor,
                IProv::setVotingPeriodCall {
                    newVotingPeriod: period,
                }
                .abi_encode(),
            ),
            action(
                dao.governor,
                IProv::updateQuorumNumeratorCall {
                    newQuorumNumerator: U256::from(quorum),
                }
                .abi_encode(),
            ),
        ]
    };
    let reader = dao.reader();
    for (name, actions, want_critical) in [
        ("gutted", settings(1, 0), true),
        ("look-alike", settings(57_600, 5), false),
    ] {
        let desc = format!("{title}\n\n({name})");
        let p = dao
            .propose(&anvil, dao.voters[0], &actions, &desc)
            .await
            .expect("propose");
        // The proposal as a reader sees it, then its payload and its votes.
        let scan = reader
            .proposals(p.block, Some(p.block))
            .await
            .expect("scan");
        let proposal = scan.items[0].as_ref().expect("proposal").clone();
        let text = format!("{}\n\n{}", proposal.title, proposal.body);
        let req = Request {
            actions: &proposal.actions,
            description: &text,
            executor: Some(dao.timelock),
            dao: vec![dao.governor, dao.timelock],
            // OpenZeppelin's onlyGovernance refuses a timelock call not queued through the
            // governor, so simulation only says "reverts"; the values are judged without it.
            simulate: false,
        };
        let report = verify(&decoder, Some(&rpc), &req).await.expect("verify");
        anvil.mine(2).await.expect("mine");
        for v in &dao.voters {
            dao.vote(&anvil, *v, p.id, 1, "").await.expect("vote");
        }
        anvil.mine(1).await.expect("mine");
        let prov = reader.provenance(p.id, &SMALL).await.expect("provenance");
        let critical: Vec<&Flag> = report
            .flags
            .iter()
            .chain(&prov.flags)
            .filter(|f| f.is_critical())
            .collect();
        if want_critical {
            let gov: Vec<&&Flag> = critical
                .iter()
                .filter(|f| f.kind == kinds::GOVERNANCE_CHANGE)
                .collect();
            assert_eq!(gov.len(), 2, "{name}: {:?}", report.flags);
        } else {
            assert!(critical.is_empty(), "{name}: {critical:?}");
            assert!(
                report
                    .flags
                    .iter()
                    .any(|f| f.kind == kinds::GOVERNANCE_CHANGE),
                "{name}: still a settings change to look at: {:?}",
                report.flags
            );
        }
    }
}

/// Bad input: a proposal id the governor does not know, an address that is not a governor,
/// and a node that does not answer, each a clear error naming what failed.
#[tokio::test]
async fn provenance_and_health_refuse_bad_input_clearly() {
    let Some((anvil, art)) = chain("provenance_bad_input").await else {
        return;
    };
    let dao = Dao::deploy(&anvil, &art, &DaoConfig::default())
        .await
        .expect("dao");
    let err = dao
        .reader()
        .provenance(U256::from(12345u64), &SMALL)
        .await
        .expect_err("unknown id");
    let msg = err.to_string();
    assert!(
        msg.contains("12345") && msg.contains(&format!("{}", dao.governor)),
        "{msg}"
    );

    let err = dao_health(anvil.rpc(), dao.token, &HealthOptions::default())
        .await
        .expect_err("a token is not a governor");
    assert!(err.to_string().contains(&format!("{}", dao.token)), "{err}");
    let eoa = anvil.accounts()[9];
    let err = dao_health(anvil.rpc(), eoa, &HealthOptions::default())
        .await
        .expect_err("no code");
    assert!(err.to_string().contains("no contract"), "{err}");

    let dead = Rpc::new("http://127.0.0.1:9/".parse().expect("url")).expect("rpc");
    let err = dao_health(&dead, dao.governor, &HealthOptions::default())
        .await
        .expect_err("dead node");
    assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
}

/// `dao_health` on the testkit DAO with two voted proposals: settings, supply, turnout, the
/// largest holder and delegate, the treasury and the attack cost.
#[tokio::test]
async fn dao_health_reads_settings_supply_turnout_and_attack_cost() {
    let Some((anvil, art)) = chain("dao_health").await else {
        return;
    };
    let cfg = DaoConfig {
        timelock_delay: 86_400,
        ..DaoConfig::default()
    };
    let dao = Dao::deploy(&anvil, &art, &cfg).await.expect("dao");
    history(&anvil, &dao, &dao.voters[1..]).await;
    let h = dao_health(
        anvil.rpc(),
        dao.governor,
        &HealthOptions {
            token_usd: Some(2.0),
            ..HealthOptions::default()
        },
    )
    .await
    .expect("health");
    assert_eq!(h.kind, "openzeppelin");
    assert_eq!(h.name.as_deref(), Some("StewardGovernor"));
    assert_eq!(h.voting_delay, Some(U256::from(1u64)));
    assert_eq!(h.voting_period, Some(U256::from(50u64)));
    assert_eq!(h.timelock, Some(dao.timelock));
    assert_eq!(h.timelock_delay, Some(U256::from(86_400u64)));
    assert_eq!(h.proposal_threshold, Some(U256::ZERO));
    assert_eq!(h.quorum, Some(ether(40_000)));
    assert_eq!(h.total_supply, Some(ether(1_000_000)));
    assert_eq!(h.circulating_supply, Some(ether(500_000)));
    assert_eq!(h.delegated_supply, Some(ether(500_000)));
    assert_eq!(h.treasury.tokens, Some(ether(500_000)));
    assert_eq!(h.treasury.eth, ether(100));
    assert_eq!(h.turnout.as_ref().map(|t| t.average), Some(ether(70_000)));
    let holder = h.largest_holder.as_ref().expect("holder");
    assert_eq!(
        (holder.address, holder.amount),
        (dao.deployer, ether(330_000))
    );
    let delegate = h.largest_delegate.as_ref().expect("delegate");
    assert_eq!(
        (delegate.address, delegate.amount),
        (dao.deployer, ether(330_000))
    );
    let attack = h.attack.as_ref().expect("attack");
    assert_eq!(
        (attack.votes_needed, attack.basis.as_str()),
        (ether(70_000), "turnout")
    );
    assert_eq!(attack.usd, Some(140_000.0));
    let ratio = attack.treasury_ratio.expect("ratio");
    assert!((ratio - 500.0 / 70.0).abs() < 1e-9, "{ratio}");
}

/// A GovernorBravo reads the same way: snapshot from `proposals(id).startBlock`, quorum from
/// `quorumVotes()`; honest votes raise nothing.
#[tokio::test]
async fn a_bravo_governor_is_checked_too() {
    let Some((anvil, art)) = chain("bravo_provenance").await else {
        return;
    };
    let dao = Dao::deploy(&anvil, &art, &DaoConfig::default())
        .await
        .expect("dao");
    anvil.mine(300).await.expect("mine");
    let bravo = Bravo::deploy(&anvil, &art, dao.token, 1, 50, ether(40_000))
        .await
        .expect("bravo");
    let pay = dao.treasury_transfer(anvil.accounts()[8], ether(1_000));
    let p = bravo
        .propose(&anvil, dao.voters[0], &[pay], "# Pay the docs team")
        .await
        .expect("propose");
    anvil.mine(2).await.expect("mine");
    for v in &dao.voters {
        bravo.vote(&anvil, *v, p.id, 1, "").await.expect("vote");
    }
    anvil.mine(1).await.expect("mine");
    let prov = bravo
        .reader()
        .provenance(p.id, &SMALL)
        .await
        .expect("provenance");
    assert_eq!(prov.facts.voters.len(), 3, "{:?}", prov.facts);
    assert_eq!(prov.facts.quorum, Some(ether(40_000)));
    assert_eq!(prov.facts.voters[0].at_snapshot, Some(ether(100_000)));
    assert!(
        prov.flags.iter().all(|f| !f.is_critical()),
        "{:?}",
        prov.flags
    );
}

/// A node in front of `upstream` that refuses `eth_getLogs` over more than `max` blocks (as
/// hosted nodes do), counting the refusals; everything else is passed through.
fn refusing_node(
    upstream: std::net::SocketAddr,
    max: u64,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let refused = std::sync::Arc::new(AtomicUsize::new(0));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let count = refused.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let count = count.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().expect("clone"));
                loop {
                    let (mut len, mut line, mut ok) = (0usize, String::new(), false);
                    while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                        ok = true;
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                        line.clear();
                    }
                    let mut body = vec![0u8; len];
                    if !ok || r.read_exact(&mut body).is_err() {
                        break;
                    }
                    let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                    let hex = |v: &serde_json::Value| {
                        u64::from_str_radix(
                            v.as_str().unwrap_or("0x0").trim_start_matches("0x"),
                            16,
                        )
                        .unwrap_or(0)
                    };
                    let reply = if req["method"] == "eth_getLogs"
                        && hex(&req["params"][0]["toBlock"])
                            .saturating_sub(hex(&req["params"][0]["fromBlock"]))
                            >= max
                    {
                        count.fetch_add(1, Ordering::SeqCst);
                        serde_json::json!({"jsonrpc": "2.0", "id": req["id"], "error":
                            {"code": -32005, "message": format!("block range too large (max {max})")}})
                        .to_string()
                    } else {
                        // Forward to anvil over a fresh connection.
                        let mut up = std::net::TcpStream::connect(upstream).expect("upstream");
                        let head = format!(
                            "POST / HTTP/1.1\r\nHost: {upstream}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        up.write_all(head.as_bytes()).expect("write");
                        up.write_all(&body).expect("write");
                        let mut raw = Vec::new();
                        up.read_to_end(&mut raw).expect("read");
                        let text = String::from_utf8_lossy(&raw).into_owned();
                        text.split_once("\r\n\r\n")
                            .map(|(_, b)| b.to_owned())
                            .unwrap_or_default()
                    };
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        reply.len()
                    );
                    if s.write_all(head.as_bytes())
                        .and_then(|_| s.write_all(reply.as_bytes()))
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
    });
    (url, refused)
}

/// A node that refuses log ranges over 64 blocks: the pages are halved until it answers, and
/// the facts are the same as read directly.
#[tokio::test]
async fn log_ranges_a_node_refuses_are_split_and_retried() {
    let Some((anvil, art)) = chain("provenance_refused_ranges").await else {
        return;
    };
    let dao = Dao::deploy(&anvil, &art, &DaoConfig::default())
        .await
        .expect("dao");
    anvil.mine(300).await.expect("mine");
    history(&anvil, &dao, &dao.voters).await;
    let pay = dao.treasury_transfer(anvil.accounts()[8], ether(1_000));
    let p = dao
        .propose(&anvil, dao.voters[0], &[pay], "# Routine grant 3")
        .await
        .expect("propose");
    anvil.mine(2).await.expect("mine");
    for v in &dao.voters {
        dao.vote(&anvil, *v, p.id, 1, "").await.expect("vote");
    }
    anvil.mine(1).await.expect("mine");
    let direct = dao.reader().provenance(p.id, &SMALL).await.expect("direct");
    let port = anvil.url().port().expect("port");
    let (url, refused) = refusing_node(([127, 0, 0, 1], port).into(), 64);
    let rpc = Rpc::new(url.parse().expect("url")).expect("rpc");
    let reader = GovernorReader::new(rpc, dao.governor, GovernorKind::OpenZeppelin);
    let split = reader.provenance(p.id, &SMALL).await.expect("split");
    assert!(
        refused.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the node refused nothing"
    );
    assert_eq!(split.facts, direct.facts);
    assert_eq!(split.facts.turnout.as_ref().map(|t| t.proposals), Some(2));
}
