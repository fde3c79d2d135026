//! Cold start as a user runs it (issue 15 item 5): `steward profile import votes --address`
//! finds the user's own past votes in the synced proposals and on the Snapshot hub, and
//! `steward profile interview` asks about the most contested proposals they have not voted on,
//! recording answers all or none.

use serde_json::{Value, json};
use steward_agent::testkit::hub::MockHub;

use crate::{PASS, json, models_present, run, steward, temp_home};

const SPACE: &str = "interview-test.eth";
/// The user's address, checksummed as the hub stores it.
const ME: &str = "0x5e1F00000000000000000000000000000000aBcD";

fn proposal(id: &str, title: &str, body: &str, open: bool, now: i64) -> Value {
    json!({
        "id": id, "title": title, "body": body, "choices": ["For", "Against", "Abstain"],
        "start": now - 10 * 86_400, "end": if open { now + 86_400 } else { now - 86_400 },
        "snapshot": "18000000", "state": if open { "active" } else { "closed" },
        "author": "0x0000000000000000000000000000000000000abc", "created": now - 10 * 86_400,
        "type": "single-choice", "space": { "id": SPACE }
    })
}

fn vote(id: &str, voter: &str, proposal: &str, choice: u32, created: i64) -> Value {
    json!({ "id": id, "voter": voter, "created": created, "choice": choice, "vp": 1.0,
            "reason": "", "proposal": { "id": proposal }, "space": { "id": SPACE } })
}

#[test]
fn import_own_votes_by_address_then_interview_on_the_most_contested() {
    let test = "import_own_votes_by_address_then_interview_on_the_most_contested";
    if !models_present(test) {
        return;
    }
    let now = jiff::Timestamp::now().as_second();
    let proposals = vec![
        proposal(
            "0xeven",
            "Fund a security audit of the bridge contracts",
            "Pays an auditor to review the bridge before the upgrade.",
            true,
            now,
        ),
        proposal(
            "0xlopsided",
            "Lower the swap fee to 0.25%",
            "Cuts the protocol's swap fee to stay competitive.",
            true,
            now,
        ),
        proposal(
            "0xgrants",
            "Renew the grants committee with a 2M budget",
            "Funds the grants committee for another year.",
            true,
            now,
        ),
        proposal(
            "0xquorum",
            "Change the quorum to 4%",
            "Lowers quorum so that proposals pass more easily.",
            false,
            now,
        ),
        proposal(
            "0xads",
            "Sponsor a marketing campaign",
            "Pays an agency for a marketing campaign.",
            false,
            now,
        ),
    ];
    let mut votes = Vec::new();
    // Twelve voters split 6/6 on the audit, 11/1 on the fee, 7/5 on the grants.
    for i in 0..12u32 {
        let voter = format!("0x{:040x}", i + 1);
        let t = now - 5 * 86_400 + i64::from(i);
        votes.push(vote(&format!("e{i}"), &voter, "0xeven", 1 + i % 2, t));
        votes.push(vote(
            &format!("l{i}"),
            &voter,
            "0xlopsided",
            if i == 0 { 2 } else { 1 },
            t,
        ));
        votes.push(vote(
            &format!("g{i}"),
            &voter,
            "0xgrants",
            if i < 7 { 1 } else { 2 },
            t,
        ));
    }
    // The user's own votes on the two closed proposals (the hub keeps them; sync does not,
    // it follows only open proposals' votes), the first changed later.
    votes.push(vote("me1", ME, "0xquorum", 1, now - 8 * 86_400));
    votes.push(vote("me1b", ME, "0xquorum", 2, now - 7 * 86_400));
    votes.push(vote("me2", ME, "0xads", 2, now - 8 * 86_400));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let hub = rt.block_on(MockHub::start(proposals, votes)).expect("hub");

    let (_d, home) = temp_home();
    let cmd = || {
        let mut c = steward(&home);
        c.env("STEWARD_PASSPHRASE", PASS)
            .env("STEWARD_SNAPSHOT_HUB", &hub.url)
            .env("STEWARD_SNAPSHOT_SPACES", SPACE);
        c
    };
    let (code, _, err) = run(cmd().arg("init"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(cmd().arg("sync"));
    assert_eq!(code, 0, "{out}{err}");

    // A malformed address is refused before anything is asked.
    let (code, _, err) = run(cmd().args(["profile", "import", "votes", "--address", "0x12"]));
    assert_ne!(code, 0);
    assert!(err.contains("0x12"), "{err}");

    let (code, out, err) = run(cmd().args([
        "--json",
        "profile",
        "import",
        "votes",
        "--address",
        &ME.to_lowercase(),
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let r = json(&out)["data"].clone();
    assert_eq!(r["from_hub"], 3, "{r}");
    assert_eq!(r["user_votes"], 2, "one vote per proposal, the latest: {r}");
    assert_eq!(r["added"], 2, "{r}");

    // The interview leaves out what the user voted on and starts with the most contested.
    let (code, out, err) = run(cmd().args(["--json", "profile", "interview", "--count", "3"]));
    assert_eq!(code, 0, "{out}{err}");
    let items = json(&out)["data"].as_array().expect("items").clone();
    let ids: Vec<&str> = items
        .iter()
        .map(|i| i["proposal"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(items.len(), 3, "{ids:?}");
    assert_eq!(ids[0], format!("snapshot:{SPACE}:0xeven"), "{items:#?}");
    assert!(
        !ids.iter()
            .any(|k| k.ends_with("0xquorum") || k.ends_with("0xads")),
        "{ids:?}"
    );
    assert_eq!(items[0]["voters"], 12);
    assert_eq!(items[0]["disagreement"], 1.0);
    let lopsided = items
        .iter()
        .find(|i| {
            i["proposal"]
                .as_str()
                .is_some_and(|k| k.ends_with("0xlopsided"))
        })
        .expect("lopsided among three");
    assert!(
        lopsided["disagreement"].as_f64().unwrap_or(1.0) < 0.5,
        "{lopsided}"
    );

    // Answers: all or none.
    let dir = home.parent().expect("parent");
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        json!({ format!("snapshot:{SPACE}:0xeven"): "For", format!("snapshot:{SPACE}:0xgrants"): "Maybe" }).to_string(),
    )
    .expect("write");
    let (code, out, err) = run(cmd().args(["profile", "interview", "--answers"]).arg(&bad));
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("0xgrants") && err.contains("Maybe"), "{err}");
    let good = dir.join("good.json");
    std::fs::write(
        &good,
        json!({ format!("snapshot:{SPACE}:0xeven"): "for", format!("snapshot:{SPACE}:0xgrants"): "Against" }).to_string(),
    )
    .expect("write");
    let (code, out, err) = run(cmd()
        .args(["--json", "profile", "interview", "--answers"])
        .arg(&good));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["data"]["recorded"], 2);
    // Answered ones are not asked again: the bad file recorded nothing, the good one both.
    let (code, out, err) = run(cmd().args(["--json", "profile", "interview", "--count", "5"]));
    assert_eq!(code, 0, "{out}{err}");
    let left: Vec<String> = json(&out)["data"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["proposal"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(left, [format!("snapshot:{SPACE}:0xlopsided")], "{left:?}");
}
