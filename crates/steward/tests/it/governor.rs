//! `steward sync` against a real anvil with real OpenZeppelin Governor contracts.

use steward_eth::testkit::{Anvil, Artifacts, Dao, DaoConfig, Tools, ether};

use crate::{PASS, json, run, steward, temp_home};

#[test]
fn sync_reads_a_real_governor_and_follows_its_state() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(
                steward_testing::Need::Anvil,
                "sync_reads_a_real_governor",
                why,
            );
            return;
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (anvil, dao, proposal) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = Artifacts::load(&tools).expect("contracts");
        let cfg = DaoConfig {
            voting_delay: 3,
            voting_period: 20,
            ..DaoConfig::default()
        };
        let dao = Dao::deploy(&anvil, &artifacts, &cfg).await.expect("deploy");
        let pay = dao.treasury_transfer(anvil.accounts()[7], ether(1000));
        let p = dao
            .propose(
                &anvil,
                dao.voters[0],
                &[pay],
                "# Pay the auditor\n\n1000 tokens to the auditor.",
            )
            .await
            .expect("propose");
        anvil.mine(4).await.expect("mine");
        dao.vote(&anvil, dao.voters[0], p.id, 1, "audits matter")
            .await
            .expect("vote");
        (anvil, dao, p)
    });

    let (_d, home) = temp_home();
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init"));
    assert_eq!(code, 0, "{err}");
    let governors = format!("{}#{:#x}@{}", anvil.url(), dao.governor, dao.deployed_at);
    let sync = || {
        let mut c = steward(&home);
        c.env("STEWARD_PASSPHRASE", PASS)
            .env("STEWARD_GOVERNORS", &governors)
            .args(["sync", "--json"]);
        c
    };
    let (code, out, err) = run(&mut sync());
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(
        (v["data"]["ingested"].as_u64(), v["data"]["votes"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );

    let id = proposal.id.to_string();
    let show = || {
        run(steward(&home)
            .env("STEWARD_PASSPHRASE", PASS)
            .args(["show", &id, "--json"]))
    };
    let (code, out, _) = show();
    assert_eq!(code, 0, "{out}");
    let v = json(&out);
    assert_eq!(v["data"]["proposal"]["title"], "Pay the auditor");
    assert_eq!(v["data"]["proposal"]["state"], "active");
    assert_eq!(
        v["data"]["proposal"]["actions"][0]["target"]
            .as_str()
            .map(str::to_lowercase),
        Some(format!("{:#x}", dao.token))
    );
    assert_eq!(v["data"]["votes"][0]["reason"], "audits matter");
    assert_eq!(v["data"]["votes"][0]["choice"], 1);

    // The vote ends: the next sync sees the new state without any new log.
    rt.block_on(anvil.mine(25)).expect("mine");
    let (code, out, err) = run(&mut sync());
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        json(&out)["data"]["ingested"],
        1,
        "the state change is an update"
    );
    let (_, out, _) = show();
    assert_eq!(json(&out)["data"]["proposal"]["state"], "succeeded");

    // A refused RPC host is a clear error naming the host and the key.
    let (code, _, err) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .env(
            "STEWARD_GOVERNORS",
            format!("http://rpc.example.org:8545#{:#x}", dao.governor),
        )
        .arg("sync"));
    assert_eq!(code, 1);
    assert!(
        err.contains("rpc.example.org") && err.contains("network.allow"),
        "{err}"
    );
}
