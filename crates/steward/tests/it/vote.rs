//! `steward vote` on a real anvil + OpenZeppelin Governor: a dry run by default, a real vote
//! when enabled, and `kill -9` between the steps (the debug-build hook
//! `STEWARD_CAST_PAUSE_AT=<step>` holds the process there) followed by a restart that
//! reconciles with the chain and never votes twice.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use steward_eth::testkit::{Anvil, Artifacts, Dao, DaoConfig, Tools, dev_key, ether};
use steward_eth::{GovernorCaster, Kdf, KeystorePassword, encrypt_keystore};

use crate::{PASS, json, run, steward, temp_home};

const KPW: &str = "vote-test-keystore-pw";

fn vote_cmd(home: &Path, governors: &str, enabled: bool) -> Command {
    let mut c = steward(home);
    c.env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .env("STEWARD_GOVERNORS", governors)
        .env(
            "STEWARD_CASTING_ENABLED",
            if enabled { "true" } else { "false" },
        );
    c
}

/// Runs `steward vote` paused at `step`, waits until it says so, and kills it with SIGKILL.
fn vote_killed_at(home: &Path, governors: &str, key: &str, step: &str) {
    let mut c = vote_cmd(home, governors, true);
    c.env("STEWARD_CAST_PAUSE_AT", step)
        .args(["vote", key, "For", "--reason", "killed mid-way", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn steward vote");
    let stderr = child.stderr.take().expect("stderr");
    let mut seen = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("stderr line");
        let done = line.contains(&format!("cast paused at {step}"));
        seen.push(line);
        if done {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l.contains("cast paused at")),
        "steward never reached {step}: {seen:?}"
    );
    child.kill().expect("kill -9"); // SIGKILL on Unix
    let _ = child.wait();
}

#[test]
fn vote_dry_run_then_kill_9_between_steps_never_votes_twice() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(
                steward_testing::Need::Anvil,
                "vote_dry_run_then_kill_9_between_steps_never_votes_twice",
                why,
            );
            return;
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (anvil, dao, p1, p2, p3) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = Artifacts::load(&tools).expect("contracts");
        let dao = Dao::deploy(&anvil, &artifacts, &DaoConfig::default())
            .await
            .expect("deploy");
        let pay = dao.treasury_transfer(anvil.accounts()[7], ether(5));
        let p1 = dao
            .propose(
                &anvil,
                dao.voters[1],
                std::slice::from_ref(&pay),
                "# One\n\nfirst",
            )
            .await
            .expect("propose");
        let p2 = dao
            .propose(
                &anvil,
                dao.voters[1],
                std::slice::from_ref(&pay),
                "# Two\n\nsecond",
            )
            .await
            .expect("propose");
        let p3 = dao
            .propose(&anvil, dao.voters[1], &[pay], "# Three\n\nthird")
            .await
            .expect("propose");
        anvil.mine(3).await.expect("mine");
        (anvil, dao, p1, p2, p3)
    });
    let (dir, home) = temp_home();
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init"));
    assert_eq!(code, 0, "{err}");
    // The voter's key (anvil account 1) as a keystore, imported as a user would.
    let key = dev_key(1).expect("dev key");
    let ks = dir.path().join("voter.json");
    let pw = KeystorePassword::new(KPW.into()).expect("pw");
    std::fs::write(
        &ks,
        encrypt_keystore(&key, &pw, Kdf::Light).expect("encrypt"),
    )
    .expect("write");
    let (code, out, err) = run(steward(&home)
        .env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .args(["key", "import", "--json", "--keystore"])
        .arg(&ks));
    assert_eq!(code, 0, "{out}{err}");
    let governors = format!("{}#{:#x}@{}", anvil.url(), dao.governor, dao.deployed_at);
    let (code, out, err) = run(vote_cmd(&home, &governors, false).args(["sync", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    let k1 = format!("governor:31337:{:#x}:{}", dao.governor, p1.id);
    let k2 = format!("governor:31337:{:#x}:{}", dao.governor, p2.id);
    let caster = GovernorCaster::new(anvil.rpc().clone(), dao.governor);
    let has_voted = |id| {
        rt.block_on(caster.has_voted(id, key.address()))
            .expect("hasVoted")
    };
    let vote_count = || {
        rt.block_on(dao.reader().votes(dao.deployed_at, None))
            .expect("votes")
            .items
            .into_iter()
            .flatten()
            .filter(|v| v.vote.voter == format!("{:#x}", key.address()))
            .count()
    };

    // Off by default: a dry run, recorded, nothing on chain, no password needed.
    let (code, out, err) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_GOVERNORS", &governors)
        .args(["vote", &k1, "For", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["data"]["status"], "dry-run", "{out}");
    assert!(!has_voted(p1.id));

    // Killed after the transaction was sent but before it was recorded: the restart finds the
    // vote on chain and sends nothing.
    vote_killed_at(&home, &governors, &k1, "after-submit");
    assert!(has_voted(p1.id), "the transaction went out before the kill");
    let (code, out, err) =
        run(vote_cmd(&home, &governors, true).args(["vote", &k1, "For", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["data"]["status"], "already-voted", "{out}");
    assert_eq!(vote_count(), 1);

    // Killed after signing, before sending (issue 21 item 1): the restart sees no vote, keeps
    // the signed intent live and broadcasts the SAME signed transaction (its hash recorded at
    // signing), whatever the new call asks (Against); never a second signature. One VoteCast,
    // For.
    vote_killed_at(&home, &governors, &k2, "after-sign");
    assert!(!has_voted(p2.id));

    let (code, out, err) = run(vote_cmd(&home, &governors, true).args([
        "vote",
        &k2,
        "Against",
        "--reason",
        "second try",
        "--json",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["data"]["status"], "confirmed", "{v}");
    assert!(
        v["data"]["tx"]
            .as_str()
            .is_some_and(|t| t.starts_with("0x")),
        "{v}"
    );
    assert_eq!(v["data"]["choice"], "For", "the vote that was signed: {v}");
    assert!(has_voted(p2.id));
    assert_eq!(vote_count(), 2);
    let on_p2: Vec<serde_json::Value> = rt
        .block_on(dao.reader().votes(dao.deployed_at, None))
        .expect("votes")
        .items
        .into_iter()
        .flatten()
        .filter(|v| v.proposal_id == p2.id && v.vote.voter == format!("{:#x}", key.address()))
        .map(|v| v.vote.choice)
        .collect();
    assert_eq!(
        on_p2,
        [serde_json::json!(1)],
        "one VoteCast on p2, For (support 1)"
    );
    // And again: nothing sent.
    let (code, out, _) =
        run(vote_cmd(&home, &governors, true).args(["vote", &k2, "For", "--json"]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(json(&out)["data"]["status"], "already-voted");
    assert_eq!(vote_count(), 2);

    // Killed right after the intent was recorded, before signing: the same, once.
    let k3 = format!("governor:31337:{:#x}:{}", dao.governor, p3.id);
    vote_killed_at(&home, &governors, &k3, "after-intent");
    assert!(!has_voted(p3.id));
    let (code, out, err) =
        run(vote_cmd(&home, &governors, true).args(["vote", &k3, "Abstain", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["data"]["status"], "confirmed", "{out}");
    assert_eq!(vote_count(), 3);

    // The audit log has every step, and the chain still verifies.
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["log", "--json"]));
    assert_eq!(code, 0);
    let log = json(&out);
    let kinds: Vec<&str> = log["data"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for k in [
        "cast-dry-run",
        "vote-intent",
        "signature",
        "submission",
        "vote-confirmed",
        "vote-reconciled",
    ] {
        assert!(kinds.contains(&k), "no {k} in {kinds:?}");
    }
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["log", "verify", "--json"]));
    assert_eq!(code, 0, "{out}");
}
