//! `steward demo --no-desk`: the whole story as `make demo` runs it, checked by its outcomes.

use crate::{PASS, json, run, steward, temp_home};

#[test]
#[cfg_attr(
    not(feature = "demo"),
    ignore = "`steward demo` is behind the `demo` feature: run with --features steward/demo (make test does)"
)]
fn demo_votes_where_sure_asks_about_the_drain_and_the_ambiguous_one() {
    if let Err(why) = steward_eth::testkit::Tools::detect() {
        steward_testing::skip(steward_testing::Need::Anvil, "demo", why);
        return;
    }
    if !crate::models_present("demo") {
        return;
    }
    let (_d, home) = temp_home();
    let (code, out, err) =
        run(steward(&home)
            .env("STEWARD_PASSPHRASE", PASS)
            .args(["--json", "demo", "--no-desk"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let v = json(&out);
    let decided = v["data"]["round"]["decided"].as_array().expect("decided");
    let find = |needle: &str| {
        decided
            .iter()
            .find(|d| d["title"].as_str().is_some_and(|t| t.contains(needle)))
            .unwrap_or_else(|| panic!("no decision on {needle}: {out}"))
    };
    let audit = find("security audit");
    assert_eq!(audit["action"], "vote", "{audit}");
    assert!(
        audit["cast"]
            .as_str()
            .expect("cast")
            .contains("cast on chain"),
        "{audit}"
    );
    let drain = find("delegate registry");
    assert_eq!(drain["action"], "ask", "{drain}");
    assert!(
        drain["why"]
            .as_str()
            .expect("why")
            .contains("critical flag"),
        "{drain}"
    );
    assert_eq!(find("hackathon")["action"], "ask", "{out}");
    // The anonymous vote: counted once on chain, sent from an account that is not the persona's.
    let a = &v["data"]["anonymous"];
    assert_eq!(a["tally"], "1", "{a}");
    assert_eq!(a["members"], 8, "{a}");
    assert_ne!(a["sent_from"], v["data"]["persona"], "{a}");
    // The drain's question shows its payload in plain words: named, with amounts, no JSON.
    let (code, qs, err) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["--json", "questions"]));
    assert_eq!(code, 0, "{err}");
    let qs = json(&qs);
    let q = qs["data"]
        .as_array()
        .expect("questions")
        .iter()
        .find(|q| {
            q["context"]["title"]
                .as_str()
                .is_some_and(|t| t.contains("delegate registry"))
        })
        .unwrap_or_else(|| panic!("no question on the drain: {qs}"));
    let payload: Vec<&str> = q["context"]["payload"]
        .as_array()
        .expect("payload")
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert!(
        payload
            .iter()
            .any(|l| l.starts_with("sends 450,000 STW from the DAO's timelock (")),
        "{payload:?}"
    );
    assert!(payload.iter().all(|l| !l.contains('{')), "{payload:?}");
    assert!(
        payload
            .iter()
            .any(|l| l.starts_with("calls transfer(address,uint256) on STW token (")),
        "{payload:?}"
    );
    let mut once = payload.clone();
    once.dedup();
    assert_eq!(once.len(), payload.len(), "a line twice: {payload:?}");
    let emissions = find("emissions");
    assert_eq!(emissions["action"], "vote");
    assert_eq!(emissions["choice"], "Against");
    assert_eq!(v["data"]["snapshot_votes"], 1, "{out}");
    // The decision path evaluated on the shared on-chain votes and saved for the desk.
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/onchain-governor-votes/votes.csv"
    );
    if std::path::Path::new(data).is_file() {
        let e = &v["data"]["evaluation"];
        assert!(e["n_test"].as_u64().unwrap_or(0) > 100, "{e}");
        assert_eq!(e["mode"], "replay", "{e}");
        assert_eq!(e["attention"].as_array().map_or(0, Vec::len), 4, "{e}");
    } else {
        steward_testing::skip(
            steward_testing::Need::Data,
            "demo (its evaluation)",
            format_args!("{data} is absent"),
        );
    }
    let chain = v["data"]["on_chain"].as_array().expect("on_chain");
    let voted: Vec<bool> = chain.iter().map(|c| c["persona_voted"] == true).collect();
    assert_eq!(voted.iter().filter(|x| **x).count(), 1, "{out}");

    // A second run starts from a fresh demo home; a non-demo directory is never touched.
    let (code, _, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["demo", "--no-desk"]));
    assert_eq!(code, 0);
    let other = home.parent().expect("parent").join("not-a-demo");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::write(other.join("keep.txt"), "mine").expect("write");
    let (code, _, err) = run(steward(&other)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["demo", "--no-desk"]));
    assert_eq!(code, 1);
    assert!(err.contains("not a demo home"), "{err}");
    assert!(other.join("keep.txt").is_file());
}
