//! `steward agent register | show | feedback` on a real anvil with the ERC-8004 registries: one
//! home registers the agent, another rates it, and the first reads its reputation among its
//! trusted clients only; an empty trusted list and a self-rating are refused with clear errors.

use std::path::Path;
use std::process::Command;

use steward_eth::testkit::{AgentRegistryAddresses, Anvil, Artifacts, Tools, dev_key};

use crate::{json, run, steward, temp_home};

const KPW: &str = "agent-test-keystore-pw";

fn agent_cmd(home: &Path, anvil: &Anvil, reg: &AgentRegistryAddresses, trusted: &str) -> Command {
    let mut c = steward(home);
    c.env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .env("STEWARD_IDENTITY_RPC", anvil.url().as_str())
        .env("STEWARD_IDENTITY_REGISTRY", format!("{:#x}", reg.identity))
        .env(
            "STEWARD_IDENTITY_REPUTATION",
            format!("{:#x}", reg.reputation),
        )
        .env("STEWARD_IDENTITY_TRUSTED_CLIENTS", trusted)
        .env("STEWARD_IDENTITY_MAIL", "agent@example.org")
        .env("STEWARD_IDENTITY_BOND_PRICE", "http://127.0.0.1:8765/price");
    c
}

#[test]
fn agent_register_show_feedback_show_with_json() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(
                steward_testing::Need::Anvil,
                "agent_register_show_feedback_show_with_json",
                why,
            );
            return;
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (anvil, reg) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = Artifacts::load(&tools).expect("contracts");
        let reg = AgentRegistryAddresses::deploy(&anvil, &artifacts)
            .await
            .expect("deploy");
        (anvil, reg)
    });
    let (dir, _) = temp_home();
    let owner_home = crate::home_with_key(dir.path(), "owner", 0, KPW);
    let rater_home = crate::home_with_key(dir.path(), "rater", 1, KPW);
    let owner = format!("{:#x}", dev_key(0).expect("key").address());
    let rater = format!("{:#x}", dev_key(1).expect("key").address());

    // register
    let (code, out, err) =
        run(agent_cmd(&owner_home, &anvil, &reg, &rater).args(["agent", "register", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    let r = json(&out);
    assert_eq!(r["data"]["agent_id"], "1", "{out}");
    let services: Vec<&str> = r["data"]["registration"]["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(services, ["email", "web", "agentWallet", "bondPrice"]);
    eprintln!(
        "gas register {} + setAgentURI {}",
        r["data"]["register_gas"], r["data"]["uri_gas"]
    );
    // A second registration in the same registry from this home is refused.
    let (code, out, _) =
        run(agent_cmd(&owner_home, &anvil, &reg, &rater).args(["agent", "register", "--json"]));
    assert_ne!(code, 0);
    assert!(
        json(&out)["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already registered as agent 1"),
        "{out}"
    );

    // show: the registration file read back from chain, no ratings yet.
    let (code, out, err) =
        run(agent_cmd(&owner_home, &anvil, &reg, &rater).args(["agent", "show", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(
        v["data"]["owner"].as_str().map(str::to_lowercase),
        Some(owner.clone())
    );
    assert_eq!(v["data"]["registration"]["registrations"][0]["agentId"], 1);
    assert_eq!(
        v["data"]["registration"]["supportedTrust"],
        serde_json::json!(["reputation", "crypto-economic"])
    );
    assert_eq!(v["data"]["reputation"]["count"], 0);

    // An empty trusted list is an error, not everyone.
    let (code, out, _) =
        run(agent_cmd(&owner_home, &anvil, &reg, "").args(["agent", "show", "--json"]));
    assert_ne!(code, 0);
    let e = json(&out);
    assert_eq!(e["error"]["kind"], "identity", "{out}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("never from everyone"),
        "{out}"
    );

    // The owner cannot rate its own agent.
    let (code, out, _) = run(agent_cmd(&owner_home, &anvil, &reg, &rater)
        .args(["agent", "feedback", "1", "100", "--json"]));
    assert_ne!(code, 0);
    assert!(out.contains("SelfFeedback"), "{out}");

    // Another home rates it twice: the vector.
    for (value, tag) in [("100", "starred"), ("95.5", "starred")] {
        let (code, out, err) = run(agent_cmd(&rater_home, &anvil, &reg, &rater).args([
            "agent",
            "feedback",
            "1",
            value,
            "--tag1",
            tag,
            "--endpoint",
            "mailto:agent@example.org",
            "--json",
        ]));
        assert_eq!(code, 0, "{out}{err}");
        let f = json(&out);
        assert_eq!(f["data"]["value"], value);
        eprintln!("gas giveFeedback {}", f["data"]["gas_used"]);
    }
    // A bad value is refused before anything is signed.
    let (code, out, _) = run(agent_cmd(&rater_home, &anvil, &reg, &rater)
        .args(["agent", "feedback", "1", "ninety", "--json"]));
    assert_ne!(code, 0);
    assert!(out.contains("not a decimal number"), "{out}");

    // show again: 2 ratings from the trusted rater, mean 97 with 0 decimals.
    let (code, out, err) =
        run(agent_cmd(&owner_home, &anvil, &reg, &rater).args(["agent", "show", "1", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    let rep = &json(&out)["data"]["reputation"];
    assert_eq!(rep["count"], 2, "{out}");
    assert_eq!(rep["value"], "97");
    assert_eq!(rep["decimals"], 0);
    // Trusting someone else instead: the same ratings do not count.
    let (code, out, err) =
        run(agent_cmd(&owner_home, &anvil, &reg, &owner).args(["agent", "show", "1", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    let rep = &json(&out)["data"]["reputation"];
    assert_eq!(
        (rep["count"].clone(), rep["raters_total"].clone()),
        (0.into(), 1.into()),
        "{out}"
    );
    // The human form says the same.
    let (code, out, err) =
        run(agent_cmd(&owner_home, &anvil, &reg, &rater).args(["agent", "show"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("reputation: 97 from 2 rating(s)"), "{out}");
    assert!(!out.contains(KPW) && !err.contains(KPW));
}
