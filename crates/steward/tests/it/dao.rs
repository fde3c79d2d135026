//! `steward dao health`: the real binary on the testkit governor (settings, supply, turnout,
//! attack cost as JSON), and clear errors for an address that is not a governor and for a node
//! that does not answer.

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
