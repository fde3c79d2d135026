//! `steward inspect`: decoded actions, simulated effects and flags from the real binary, code
//! pins re-checked after the code at a target changes, and `--file` without a store.

use alloy::providers::Provider;
use steward_eth::testkit::{Anvil, Artifacts, Dao, DaoConfig, Tools, ether};

use crate::{PASS, json, run, steward, temp_home};

#[test]
fn inspect_flags_a_hidden_transfer_pins_code_and_catches_a_code_change() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(
                steward_testing::Need::Anvil,
                "inspect_flags_a_hidden_transfer",
                why,
            );
            return;
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (anvil, dao, proposal) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = Artifacts::load(&tools).expect("contracts");
        let dao = Dao::deploy(&anvil, &artifacts, &DaoConfig::default())
            .await
            .expect("deploy");
        let pay = dao.treasury_transfer(anvil.accounts()[9], ether(100_000));
        let p = dao
            .propose(
                &anvil,
                dao.voters[0],
                &[pay],
                "# Fee update\n\nSet the swap fee to 30 bps.",
            )
            .await
            .expect("propose");
        (anvil, dao, p)
    });
    let attacker = anvil.accounts()[9];
    let (_d, home) = temp_home();
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init"));
    assert_eq!(code, 0, "{err}");
    let governors = format!("{}#{:#x}@{}", anvil.url(), dao.governor, dao.deployed_at);
    let (code, out, err) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_GOVERNORS", &governors)
        .args(["sync", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    let id = proposal.id.to_string();
    let url = anvil.url().to_string();
    let inspect = |extra: &[&str]| {
        let mut c = steward(&home);
        c.env("STEWARD_PASSPHRASE", PASS)
            .args(["inspect", &id, "--rpc", &url, "--json"])
            .args(extra);
        run(&mut c)
    };
    let (code, out, err) = inspect(&[]);
    assert_eq!(code, 3, "a critical flag exits 3: {out}{err}");
    let v = json(&out);
    let d = &v["data"];
    assert_eq!(
        d["actions"][0]["function"], "transfer(address,uint256)",
        "{d}"
    );
    assert_eq!(
        d["actions"][0]["args"][0]["value"],
        attacker.to_checksum(None)
    );
    let flags = d["flags"].as_array().expect("flags");
    let mismatch = flags
        .iter()
        .find(|f| f["kind"] == "mismatch")
        .expect("mismatch");
    assert_eq!(mismatch["severity"], "critical");
    assert!(
        mismatch["detail"]
            .as_str()
            .unwrap_or("")
            .contains("100,000 STW"),
        "{mismatch}"
    );
    assert!(
        d["effects"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["origin"] == "simulation"))
    );
    assert_eq!(d["pins"].as_array().map(Vec::len), Some(1), "{d}");

    // Same code: the re-check passes.
    let (code, out, _) = inspect(&["--recheck"]);
    assert_eq!(code, 0, "{out}");
    // Other code at the token's address (as after a metamorphic redeploy): critical.
    rt.block_on(async {
        let _: serde_json::Value = anvil
            .rpc()
            .provider()
            .raw_request("anvil_setCode".into(), (dao.token, "0x6080604052600080fd"))
            .await
            .expect("setCode");
    });
    let (code, out, _) = inspect(&["--recheck"]);
    assert_eq!(code, 3, "{out}");
    let v = json(&out);
    assert_eq!(v["data"]["flags"][0]["kind"], "code-changed", "{v}");
    assert_eq!(v["data"]["flags"][0]["severity"], "critical");
    let (_, log, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["log", "--json"]));
    assert!(
        log.contains("code-changed") && log.contains("code-pinned"),
        "{log}"
    );
}

#[test]
fn inspect_file_needs_no_store_and_reads_user_abis() {
    let (_d, home) = temp_home();
    std::fs::create_dir_all(home.join("abis")).expect("abis");
    let dir = tempfile::tempdir().expect("dir");
    let file = |name: &str, calldata: &str| {
        let p = dir.path().join(name);
        let v = serde_json::json!({
            "chainId": 1, "governor": "0x5efda50f22d34F262c29268506C5Fa42cB56A1Ce",
            "proposalId": "20", "proposer": "0x592340957ebc9e4afb0e9af221d06fdddf789de9",
            "targets": ["0x77777FeDdddFfC19Ff86DB637967013e6C6A116C"], "values": ["0"],
            "signatures": [""], "calldatas": [calldata],
            "description": "# Set the fee\n\nSet the fee to 30 bps.",
            "voteStart": 1700000000, "voteEnd": 1700600000
        });
        std::fs::write(&p, v.to_string()).expect("write");
        p
    };
    // setFee(uint256) with 30.
    let set_fee = format!("0x69fe0e2d{:064x}", 30);
    let p = file("fee.json", &set_fee);
    let inspect = |p: &std::path::Path| {
        run(steward(&home)
            .args(["inspect", "--file"])
            .arg(p)
            .arg("--json"))
    };
    let (code, out, err) = inspect(&p);
    assert_eq!(code, 3, "unknown selector fails closed: {out}{err}");
    assert!(out.contains("unknown-call"), "{out}");
    std::fs::write(
        home.join("abis/fees.txt"),
        "# the fee setter\nsetFee(uint256)\n",
    )
    .expect("abi");
    let (code, out, err) = inspect(&p);
    assert_eq!(code, 0, "known now: {out}{err}");
    assert_eq!(
        json(&out)["data"]["actions"][0]["function"],
        "setFee(uint256)"
    );
    let short = file("short.json", "0xa905");
    let (code, out, _) = inspect(&short);
    assert_eq!(code, 3);
    assert!(
        out.contains("bad-calldata") && out.contains("shorter than a 4-byte selector"),
        "{out}"
    );
}

/// `steward run` re-reads pinned code every round: other code at a target is an alert, and the
/// proposal is decided again with the critical flag (so it asks).
#[test]
fn run_alerts_when_pinned_code_changes_and_asks_again() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(
                steward_testing::Need::Anvil,
                "run_alerts_when_pinned_code_changes",
                why,
            );
            return;
        }
    };
    if !crate::models_present("run_alerts_when_pinned_code_changes") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (anvil, dao) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = Artifacts::load(&tools).expect("contracts");
        let dao = Dao::deploy(&anvil, &artifacts, &DaoConfig::default())
            .await
            .expect("deploy");
        let to = anvil.accounts()[8];
        let pay = dao.treasury_transfer(to, ether(1_000));
        dao.propose(
            &anvil,
            dao.voters[0],
            &[pay],
            &format!(
                "# Pay the auditors\n\nSends 1,000 STW from the treasury to {to} for the audit."
            ),
        )
        .await
        .expect("propose");
        anvil.mine(2).await.expect("mine");
        (anvil, dao)
    });
    let (_d, home) = temp_home();
    assert_eq!(
        run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init")).0,
        0
    );
    let governors = format!("{}#{:#x}@{}", anvil.url(), dao.governor, dao.deployed_at);
    let st = |args: &[&str]| {
        let mut c = steward(&home);
        c.env("STEWARD_PASSPHRASE", PASS)
            .env("STEWARD_GOVERNORS", &governors)
            .args(args);
        run(&mut c)
    };
    let (code, out, err) = st(&["--json", "run", "--no-llm"]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(
        v["data"]["decided"].as_array().map(Vec::len),
        Some(1),
        "{v}"
    );
    assert_eq!(v["data"]["alerts"].as_array().map(Vec::len), Some(0), "{v}");
    // Same code: nothing to decide again.
    let (_, out, _) = st(&["--json", "run", "--no-llm"]);
    assert_eq!(
        json(&out)["data"]["decided"].as_array().map(Vec::len),
        Some(0),
        "{out}"
    );
    rt.block_on(async {
        let _: serde_json::Value = anvil
            .rpc()
            .provider()
            .raw_request("anvil_setCode".into(), (dao.token, "0x6080604052600080fd"))
            .await
            .expect("setCode");
    });
    let (code, out, err) = st(&["--json", "run", "--no-llm"]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    let alerts = v["data"]["alerts"].to_string();
    assert!(alerts.contains("code"), "{v}");
    let decided = &v["data"]["decided"][0];
    assert_eq!(decided["action"], "ask", "{v}");
    assert!(
        decided["why"]
            .as_str()
            .unwrap_or("")
            .contains("code-changed"),
        "{v}"
    );
}

/// After the vote, `steward run` re-checks the pins of a queued proposal before it executes: other
/// code at a target is an alert that names the timelock's eta.
#[test]
fn run_rechecks_pins_of_a_queued_proposal_before_execution() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(
                steward_testing::Need::Anvil,
                "run_rechecks_pins_of_a_queued_proposal",
                why,
            );
            return;
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let text = "# Pay the auditors\n\nSends 1,000 STW from the treasury for the audit.";
    let (anvil, dao, proposal, actions) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = Artifacts::load(&tools).expect("contracts");
        let dao = Dao::deploy(&anvil, &artifacts, &DaoConfig::default())
            .await
            .expect("deploy");
        let actions = vec![dao.treasury_transfer(anvil.accounts()[8], ether(1_000))];
        let p = dao
            .propose(&anvil, dao.voters[0], &actions, text)
            .await
            .expect("propose");
        anvil.mine(2).await.expect("mine");
        (anvil, dao, p, actions)
    });
    let (_d, home) = temp_home();
    assert_eq!(
        run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init")).0,
        0
    );
    let governors = format!("{}#{:#x}@{}", anvil.url(), dao.governor, dao.deployed_at);
    let url = anvil.url().to_string();
    let id = proposal.id.to_string();
    let st = |args: &[&str]| {
        let mut c = steward(&home);
        c.env("STEWARD_PASSPHRASE", PASS)
            .env("STEWARD_GOVERNORS", &governors)
            .args(args);
        run(&mut c)
    };
    let (code, out, err) = st(&["--json", "sync"]);
    assert_eq!(code, 0, "{out}{err}");
    // Inspected (and pinned) while the vote is open.
    let (_, out, err) = st(&["--json", "inspect", &id, "--rpc", &url, "--no-llm"]);
    assert_eq!(
        json(&out)["data"]["pins"].as_array().map(Vec::len),
        Some(1),
        "{out}{err}"
    );
    // The vote passes and the proposal is queued in the timelock.
    rt.block_on(async {
        for v in &dao.voters {
            dao.vote(&anvil, *v, proposal.id, 1, "")
                .await
                .expect("vote");
        }
        anvil.mine(55).await.expect("mine");
        dao.queue(&anvil, dao.voters[0], &actions, text)
            .await
            .expect("queue");
    });
    let (code, out, err) = st(&["--json", "run", "--no-llm"]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["data"]["alerts"].as_array().map(Vec::len), Some(0), "{v}");
    assert_eq!(v["data"]["errors"].as_array().map(Vec::len), Some(0), "{v}");
    let (_, out, _) = st(&["--json", "proposals"]);
    assert!(
        out.contains("queued"),
        "the stored state follows the chain: {out}"
    );
    rt.block_on(async {
        let _: serde_json::Value = anvil
            .rpc()
            .provider()
            .raw_request("anvil_setCode".into(), (dao.token, "0x6080604052600080fd"))
            .await
            .expect("setCode");
    });
    let (code, out, err) = st(&["--json", "run", "--no-llm"]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    let alerts = v["data"]["alerts"].to_string();
    assert!(
        alerts.contains("changed since it was pinned") && alerts.contains("(queued"),
        "{v}"
    );
    let (_, log, _) = st(&["log", "--json"]);
    assert!(log.contains("code-changed"), "{log}");
}

/// `inspect` binds the stated amounts to the stated recipients with the local model in the
/// confined worker; every binding cites the text, and `--no-llm` keeps to the rules.
#[test]
fn inspect_binds_claims_with_the_local_model() {
    if !crate::models_present("inspect_binds_claims_with_the_local_model") {
        return;
    }
    let (_d, home) = temp_home();
    let dir = tempfile::tempdir().expect("dir");
    let alice = "0x1111111111111111111111111111111111111111";
    let bob = "0x2222222222222222222222222222222222222222";
    // transfer(alice, 12,000e18)
    let calldata = format!(
        "0xa9059cbb{:0>64}{:064x}",
        &alice[2..],
        12_000u128 * 10u128.pow(18)
    );
    let p = dir.path().join("grants.json");
    let v = serde_json::json!({
        "chainId": 1, "governor": "0x5efda50f22d34F262c29268506C5Fa42cB56A1Ce",
        "proposalId": "3", "proposer": "0x592340957ebc9e4afb0e9af221d06fdddf789de9",
        "targets": ["0x6B175474E89094C44Da98b954EedeAC495271d0F"], "values": ["0"],
        "signatures": [""], "calldatas": [calldata],
        "description": format!("# Grants round 3\n\nAlice {alice} gets 12,000 DAI, Bob {bob} gets 8,000 DAI."),
        "voteStart": 1700000000, "voteEnd": 1700600000
    });
    std::fs::write(&p, v.to_string()).expect("write");
    let inspect = |extra: &[&str]| {
        let mut c = steward(&home);
        c.args(["inspect", "--file"])
            .arg(&p)
            .arg("--json")
            .args(extra);
        run(&mut c)
    };
    let (_, out, err) = inspect(&[]);
    let v = json(&out);
    let claims = &v["data"]["claims"];
    assert!(
        claims["model"]
            .as_str()
            .is_some_and(|m| m.contains("SmolLM2")),
        "{claims}{err}"
    );
    let amounts: Vec<&str> = claims["candidates"]["amounts"]
        .as_array()
        .expect("amounts")
        .iter()
        .filter_map(|a| a["text"].as_str())
        .collect();
    assert_eq!(amounts, ["12,000 DAI", "8,000 DAI"]);
    for b in claims["bindings"].as_array().expect("bindings") {
        assert_eq!(b["by"], "model", "{b}");
        let cited = b["amount"]["text"].as_str().unwrap_or("");
        assert!(cited.is_empty() || amounts.contains(&cited), "{b}");
    }
    let (_, out, _) = inspect(&["--no-llm"]);
    let v = json(&out);
    assert!(v["data"]["claims"]["model"].is_null(), "{v}");
    assert!(
        v["data"]["claims"]["notes"]
            .to_string()
            .contains("--no-llm"),
        "{v}"
    );
}
