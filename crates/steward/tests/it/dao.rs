//! `steward dao health`: the real binary on the testkit governor (settings, supply, turnout,
//! attack cost as JSON), and clear errors for an address that is not a governor and for a node
//! that does not answer.

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::sol;
use alloy::sol_types::{SolCall, SolValue};
use steward_eth::testkit::{Anvil, Artifacts, Dao, DaoConfig, Tools, ether};

use crate::{PASS, json, run, steward, temp_home};

#[test]
fn dao_health_json_on_the_testkit_governor() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(steward_testing::Need::Anvil, "dao_health_json", why);
            return;
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (anvil, dao) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = Artifacts::load(&tools).expect("contracts");
        let dao = Dao::deploy(&anvil, &artifacts, &DaoConfig::default())
            .await
            .expect("deploy");
        let pay = dao.treasury_transfer(anvil.accounts()[8], ether(1_000));
        let p = dao
            .propose(&anvil, dao.voters[0], &[pay], "# Pay the docs team")
            .await
            .expect("propose");
        anvil.mine(2).await.expect("mine");
        for v in &dao.voters {
            dao.vote(&anvil, *v, p.id, 1, "").await.expect("vote");
        }
        (anvil, dao)
    });
    let (_d, home) = temp_home();
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init"));
    assert_eq!(code, 0, "{err}");
    let url = anvil.url().to_string();
    let health = |addr: String, url: &str| {
        run(steward(&home).args([
            "dao",
            "health",
            &addr,
            "--rpc",
            url,
            "--token-price",
            "0.5",
            "--json",
        ]))
    };
    let (code, out, err) = health(format!("{:#x}", dao.governor), &url);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    let d = &v["data"];
    assert_eq!(d["kind"], "openzeppelin", "{d}");
    assert_eq!(d["quorum"], ether(40_000).to_string(), "{d}");
    assert_eq!(d["voting_delay"], "1");
    assert_eq!(d["voting_period"], "50");
    assert_eq!(d["timelock_delay"], "0");
    assert_eq!(d["proposal_threshold"], "0");
    assert_eq!(d["total_supply"], ether(1_000_000).to_string());
    assert_eq!(d["circulating_supply"], ether(500_000).to_string());
    assert_eq!(d["delegated_supply"], ether(500_000).to_string());
    assert_eq!(d["turnout"]["average"], ether(170_000).to_string(), "{d}");
    assert_eq!(
        d["largest_holder"]["address"],
        dao.deployer.to_string().to_lowercase()
    );
    assert_eq!(d["largest_delegate"]["amount"], ether(330_000).to_string());
    assert_eq!(d["treasury"]["tokens"], ether(500_000).to_string());
    assert_eq!(
        d["attack"]["votes_needed"],
        ether(170_000).to_string(),
        "{d}"
    );
    assert_eq!(d["attack"]["basis"], "turnout");
    assert_eq!(d["attack"]["usd"], 85_000.0);

    // The token is a contract but not a governor; a closed port is no node.
    // (--json errors come in the envelope on stdout.)
    let (code, out, err) = health(format!("{:#x}", dao.token), &url);
    let said = format!("{out}{err}");
    assert_ne!(code, 0, "{said}");
    assert!(said.contains(&dao.token.to_string()), "{said}");
    assert!(said.contains("neither an OpenZeppelin Governor"), "{said}");
    let (code, out, err) = health(format!("{:#x}", dao.governor), "http://127.0.0.1:9/");
    let said = format!("{out}{err}");
    assert_ne!(code, 0, "{said}");
    assert!(
        said.contains("127.0.0.1:9") && said.contains(&dao.governor.to_string()),
        "{said}"
    );
}

sol! {
    interface ILoan {
        function approve(address spender, uint256 amount) external returns (bool);
        function borrow(uint256 amount) external;
        function repay() external;
    }
}

async fn send(anvil: &Anvil, from: Address, to: Address, data: Vec<u8>) -> u64 {
    let tx = TransactionRequest::default()
        .with_from(from)
        .with_to(to)
        .with_input(Bytes::from(data))
        // anvil estimates in the latest block; a checkpoint in the next one costs more.
        .with_gas_limit(3_000_000);
    anvil
        .send(tx)
        .await
        .expect("send")
        .block_number
        .expect("mined")
}

/// `steward inspect --rpc` on a synced Governor proposal whose only For vote is power borrowed
/// into the snapshot block: the provenance report and a critical `flash-loan-votes` flag (exit 3).
#[test]
fn inspect_rpc_says_where_the_votes_came_from() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(steward_testing::Need::Anvil, "inspect_provenance", why);
            return;
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (anvil, dao, id) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let art = Artifacts::load(&tools).expect("contracts");
        let cfg = DaoConfig {
            supply: ether(2_000_000),
            ..DaoConfig::default()
        };
        let dao = Dao::deploy(&anvil, &art, &cfg).await.expect("deploy");
        let mut code = art.get("LoanPool").expect("pool").bytecode.to_vec();
        code.extend(dao.token.abi_encode());
        let pool = anvil.deploy(dao.deployer, code.into()).await.expect("pool");
        dao.transfer_tokens(&anvil, dao.deployer, pool, ether(1_000_000))
            .await
            .expect("fund");
        anvil.mine(300).await.expect("mine");
        let attacker = anvil.accounts()[6];
        dao.delegate(&anvil, attacker, attacker)
            .await
            .expect("delegate");
        let approve = ILoan::approveCall {
            spender: pool,
            amount: U256::MAX,
        };
        send(&anvil, attacker, dao.token, approve.abi_encode()).await;
        let pay = dao.treasury_transfer(attacker, ether(500_000));
        let p = dao
            .propose(&anvil, attacker, &[pay], "# Treasury rebalancing")
            .await
            .expect("propose");
        let borrow = ILoan::borrowCall {
            amount: ether(1_000_000),
        };
        send(&anvil, attacker, pool, borrow.abi_encode()).await;
        send(&anvil, attacker, pool, ILoan::repayCall {}.abi_encode()).await;
        anvil.mine(1).await.expect("mine");
        dao.vote(&anvil, attacker, p.id, 1, "").await.expect("vote");
        anvil.mine(1).await.expect("mine");
        (anvil, dao, p.id)
    });
    let (_d, home) = temp_home();
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init"));
    assert_eq!(code, 0, "{err}");
    let governors = format!("{}#{:#x}@{}", anvil.url(), dao.governor, dao.deployed_at);
    let (code, out, err) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_GOVERNORS", &governors)
        .args(["sync", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    let url = anvil.url().to_string();
    let (code, out, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).args([
        "inspect",
        &id.to_string(),
        "--rpc",
        &url,
        "--no-simulate",
        "--no-llm",
        "--json",
    ]));
    assert_eq!(code, 3, "{out}{err}");
    let v = json(&out);
    let d = &v["data"];
    let flash = d["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .find(|f| f["kind"] == "flash-loan-votes")
        .unwrap_or_else(|| panic!("no flash-loan-votes: {d}"));
    assert_eq!(flash["severity"], "critical");
    assert_eq!(
        d["provenance"]["voters"][0]["weight"],
        ether(1_000_000).to_string(),
        "{d}"
    );
    assert_eq!(d["provenance"]["voters"][0]["before"], "0", "{d}");
}
