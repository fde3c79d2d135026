//! `steward zk`: two homes, one group, real Semaphore proofs. A member proves, another home
//! verifies against the group; a second proof in the same scope is refused unless `--again`,
//! and the verifier then rejects it as a double signal. Tampered files, another group's root,
//! an identity missing from the group and a group too large for its depth are clear errors.

use std::path::Path;

use crate::{PASS, json, run, steward, temp_home};

fn zk(home: &Path, args: &[&str]) -> (i32, String, String) {
    run(steward(home)
        .env("STEWARD_PASSPHRASE", PASS)
        .arg("zk")
        .args(args))
}

fn new_home(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let home = dir.join(name);
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = zk(&home, &["identity", "new", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let c = json(&out)["data"]["commitment"]
        .as_str()
        .expect("commitment")
        .to_owned();
    (home, c)
}

#[test]
fn zk_prove_verify_double_signal_and_bad_input() {
    let (dir, _) = temp_home();
    let (alice, a) = new_home(dir.path(), "alice");
    let (bob, b) = new_home(dir.path(), "bob");
    let (carol, _) = new_home(dir.path(), "carol");

    // identity show prints the same commitment; a second `identity new` keeps the first.
    let (code, out, _) = zk(&alice, &["identity", "show", "--json"]);
    assert_eq!(
        (code, json(&out)["data"]["commitment"].as_str()),
        (0, Some(a.as_str()))
    );
    let (code, _, err) = zk(&alice, &["identity", "new"]);
    assert_eq!(code, 1);
    assert!(err.contains("already has a zk identity"), "{err}");

    // Both homes hold the same group (depth 16) and agree on its root.
    let mut roots = Vec::new();
    for home in [&alice, &bob] {
        let (code, out, err) = zk(home, &["group", "add", "board", "--depth", "16", &a, &b]);
        assert_eq!(code, 0, "{out}{err}");
        let (code, out, _) = zk(home, &["group", "root", "board"]);
        assert_eq!(code, 0);
        roots.push(out.trim().to_owned());
    }
    assert_eq!(roots[0], roots[1]);
    assert!(
        roots[0].starts_with("0x") && roots[0].len() == 66,
        "{}",
        roots[0]
    );

    // Alice signals; Bob verifies against his copy of the group.
    let (code, out, err) = zk(
        &alice,
        &[
            "prove",
            "--group",
            "board",
            "--scope",
            "prop-1",
            "--message",
            "for",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let signal = json(&out)["data"].clone();
    assert_eq!(signal["root"].as_str(), Some(roots[0].as_str()));
    assert_eq!(
        (
            signal["scope"].as_str(),
            signal["message"].as_str(),
            signal["depth"].as_u64()
        ),
        (Some("prop-1"), Some("for"), Some(16))
    );
    assert_eq!(signal["proof"].as_array().map(Vec::len), Some(8));
    let nullifier = signal["nullifier"].as_str().expect("nullifier").to_owned();
    // The identity's secret (read from the store itself) never reaches the output or the logs.
    let secret = stored_secret(&alice);
    let (code, vout, verr) = zk(&alice, &["-vvv", "identity", "show"]);
    assert_eq!(code, 0);
    for text in [&out, &err, &vout, &verr] {
        assert!(!text.contains(&secret), "the zk secret leaked:\n{text}");
    }
    let file = dir.path().join("signal.json");
    std::fs::write(&file, &out).expect("write");
    let f = file.to_str().expect("utf-8");
    let (code, out, err) = zk(&bob, &["verify", f, "--group", "board", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["data"]["valid"], true);
    // Verifying the same signal again is not a second signal.
    let (code, out, _) = zk(&bob, &["verify", f, "--json"]);
    assert_eq!(
        (code, json(&out)["data"]["seen_before"].as_bool()),
        (0, Some(true))
    );

    // A second proof in the same scope is refused unless --again ...
    let again = [
        "prove",
        "--group",
        "board",
        "--scope",
        "prop-1",
        "--message",
        "against",
        "--json",
    ];
    let (code, out, _) = zk(&alice, &again);
    assert_eq!(code, 1);
    let msg = json(&out)["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        msg.contains("already signalled in scope \"prop-1\"") && msg.contains("--again"),
        "{msg}"
    );
    // ... and with --again the verifier sees the same nullifier: a double signal, exit 3.
    let (code, out, err) = zk(&alice, &[&again[..], &["--again"]].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        json(&out)["data"]["nullifier"].as_str(),
        Some(nullifier.as_str())
    );
    let second = dir.path().join("second.json");
    std::fs::write(&second, &out).expect("write");
    let (code, out, _) = zk(&bob, &["verify", second.to_str().expect("utf-8"), "--json"]);
    assert_eq!(code, 3, "{out}");
    let d = &json(&out)["data"];
    assert_eq!(
        (d["valid"].as_bool(), d["kind"].as_str()),
        (Some(false), Some("double-signal"))
    );
    // Another scope is a new nullifier.
    let (code, out, err) = zk(
        &alice,
        &[
            "prove",
            "--group",
            "board",
            "--scope",
            "prop-2",
            "--message",
            "for",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_ne!(
        json(&out)["data"]["nullifier"].as_str(),
        Some(nullifier.as_str())
    );

    // The desks: Alice's lists the two scopes she signalled in, Bob's the signal he accepted,
    // each with its nullifier; the secret is on neither page.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for (home, want) in [
        (&alice, "Sent by this home's identity (2)"),
        (&bob, "Accepted from members (1)"),
    ] {
        let (child, url) = crate::web::serve_desk(home);
        let (base, token) = url.split_once("/?token=").expect("token url");
        let page = rt.block_on(async {
            let cookie = crate::web::session_cookie(base, token).await;
            reqwest::Client::new()
                .get(format!("{base}/activity"))
                .header("Cookie", cookie)
                .send()
                .await
                .expect("activity")
                .text()
                .await
                .expect("body")
        });
        drop(child);
        assert!(page.contains("id=\"zk\"") && page.contains(want), "{page}");
        assert!(
            page.contains(&format!("title=\"{nullifier}\""))
                && page.contains("<code>prop-1</code>"),
            "{page}"
        );
        assert!(page.contains("a signal hides among 2 only"), "{page}");
        assert!(!page.contains(&secret), "the zk secret reached the desk");
    }

    // Tampered: a changed message, a changed proof coordinate.
    let mut t = signal.clone();
    t["message"] = "against".into();
    let (code, out) = verify_value(&bob, dir.path(), &t, &[]);
    assert_eq!(
        (code, json(&out)["data"]["kind"].as_str()),
        (3, Some("rejected")),
        "{out}"
    );
    let mut t = signal.clone();
    let c = t["proof"][2].as_str().expect("coordinate").to_owned();
    t["proof"][2] = format!(
        "{}{}",
        &c[..c.len() - 1],
        if c.ends_with('0') { '1' } else { '0' }
    )
    .into();
    let (code, out) = verify_value(&bob, dir.path(), &t, &[]);
    assert_eq!(code, 3, "{out}");
    // Another group's root: a valid proof, but not of membership in Bob's `council`.
    let (code, _, _) = zk(&bob, &["group", "add", "council", "--depth", "16", &b]);
    assert_eq!(code, 0);
    let (code, out) = verify_value(&bob, dir.path(), &signal, &["--group", "council"]);
    let d = &json(&out)["data"];
    assert_eq!(
        (code, d["kind"].as_str()),
        (3, Some("root-mismatch")),
        "{out}"
    );
    // Not a signal at all: a plain error, exit 1.
    std::fs::write(&file, "{\"proof\": 1}").expect("write");
    let (code, _, err) = zk(&bob, &["verify", f]);
    assert_eq!(code, 1);
    assert!(err.contains("is not a zk signal"), "{err}");

    // Carol is in no group of hers: proving is refused, and nothing is recorded.
    let (code, _, _) = zk(&carol, &["group", "add", "board", "--depth", "16", &a, &b]);
    assert_eq!(code, 0);
    let (code, _, err) = zk(
        &carol,
        &[
            "prove",
            "--group",
            "board",
            "--scope",
            "prop-1",
            "--message",
            "for",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("is not a member of the group"), "{err}");
    // Unknown group, bad commitment, duplicate member: clear errors, nothing stored.
    let (code, _, err) = zk(
        &carol,
        &["prove", "--group", "nope", "--scope", "s", "--message", "m"],
    );
    assert!(
        code == 1 && err.contains("no zk group named \"nope\""),
        "{err}"
    );
    let (code, _, err) = zk(&carol, &["group", "add", "board", "0x12zz"]);
    assert!(code == 1 && err.contains("commitment \"0x12zz\""), "{err}");
    let (code, _, err) = zk(&carol, &["group", "add", "board", &a]);
    assert!(
        code == 1 && err.contains("listed twice (positions 0 and 2)"),
        "{err}"
    );
    let (code, out, _) = zk(&carol, &["group", "root", "board", "--json"]);
    assert_eq!((code, json(&out)["data"]["members"].as_u64()), (0, Some(2)));
}

/// The identity's secret as hex, read straight from the store.
fn stored_secret(home: &Path) -> String {
    let h = steward_agent::Home::open(home).expect("home");
    let pass = steward_agent::Passphrase::new(PASS.into()).expect("pass");
    let conn = steward_agent::raw_connection(&h, &pass).expect("raw");
    let bytes: Vec<u8> = conn
        .query_row("SELECT secret FROM zk_identity", [], |r| r.get(0))
        .expect("secret");
    assert_eq!(bytes.len(), 32);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn verify_value(home: &Path, dir: &Path, v: &serde_json::Value, extra: &[&str]) -> (i32, String) {
    let p = dir.join("tampered.json");
    std::fs::write(&p, v.to_string()).expect("write");
    let (code, out, _) = zk(
        home,
        &[&["verify", p.to_str().expect("utf-8"), "--json"][..], extra].concat(),
    );
    (code, out)
}

#[test]
fn zk_group_too_large_for_its_depth_is_refused_whole() {
    let (dir, _) = temp_home();
    let (home, a) = new_home(dir.path(), "h");
    // 65,536 distinct commitments and this identity's: one past a depth-16 tree's leaves.
    let many: Vec<String> = (1..=65_536u32).map(|i| format!("0x{i:x}")).collect();
    let mut args = vec!["group", "add", "big", "--depth", "16", &a];
    args.extend(many.iter().map(String::as_str));
    let (code, _, err) = zk(&home, &args);
    assert_eq!(code, 1);
    assert!(
        err.contains("group has 65537 members, more than a depth-16 tree holds (65536)"),
        "{err}"
    );
    // Nothing was stored.
    let (code, _, err) = zk(&home, &["group", "root", "big"]);
    assert!(
        code == 1 && err.contains("no zk group named \"big\""),
        "{err}"
    );
}

/// `views publish --anonymous`: the reviewed views go out with a Semaphore signal bound to
/// their hash instead of a signature; another member's home verifies it against the group,
/// a changed export is refused, and a second publication needs `--again`.
#[test]
fn views_published_anonymously_verify_and_cannot_be_changed() {
    let (dir, _) = temp_home();
    let (alice, a) = new_home(dir.path(), "alice");
    let (bob, b) = new_home(dir.path(), "bob");
    for home in [&alice, &bob] {
        let (code, out, err) = zk(home, &["group", "add", "board", &a, &b]);
        assert_eq!(code, 0, "{out}{err}");
    }
    let draft = dir.path().join("views.md");
    std::fs::write(
        &draft,
        "## Treasury\n\n- I support independent security audits.\n",
    )
    .expect("draft");
    let export = dir.path().join("views.anonymous.json");
    let publish = |again: bool| {
        let mut c = steward(&alice);
        c.env("STEWARD_PASSPHRASE", PASS)
            .args(["--json", "views", "publish"])
            .arg(&draft)
            .args(["--anonymous", "board", "--out"])
            .arg(&export);
        if again {
            c.arg("--again");
        }
        run(&mut c)
    };
    let (code, out, err) = publish(false);
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(&export).expect("export");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["author"].as_str(), Some("anonymous"));
    assert!(v.get("signature").is_none(), "{v}");
    // No address and no commitment of Alice's in what she shares.
    assert!(!text.contains(&a[2..]), "{text}");

    let path = export.to_str().expect("utf8");
    let (code, out, err) = zk(&bob, &["verify", path, "--group", "board", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["data"]["scope"].as_str(), Some("steward-views"));

    // Changing the views after the proof breaks the binding.
    let changed = text.replace("I support", "I oppose");
    assert_ne!(changed, text);
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, changed).expect("write");
    let (code, out, _) = zk(
        &bob,
        &["verify", tampered.to_str().expect("utf8"), "--json"],
    );
    assert_eq!(code, 3, "{out}");
    assert_eq!(
        json(&out)["data"]["kind"].as_str(),
        Some("message-mismatch")
    );

    // One publication per identity unless --again (which shows the same nullifier).
    let (code, out, err) = publish(false);
    assert_eq!(code, 1);
    assert!(
        format!("{out}{err}").contains("already signalled"),
        "{out}{err}"
    );
    let (code, out, err) = publish(true);
    assert_eq!(code, 0, "{out}{err}");
    let again: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).expect("export")).expect("json");
    assert_eq!(again["zk"]["nullifier"], v["zk"]["nullifier"]);

    // Both signals are in Alice's audit log (the message by its hash), and the chain holds.
    let (code, out, err) = run(steward(&alice)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["log", "--json"]));
    assert_eq!(code, 0, "{err}");
    let signals = out.matches("\"zk-signal\"").count();
    assert_eq!(signals, 2, "{out}");
    let (code, out, err) = run(steward(&alice)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["log", "verify"]));
    assert_eq!(code, 0, "{out}{err}");
}
