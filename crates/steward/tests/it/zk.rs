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
        let page = crate::web::desk_page(&rt, &url, "/activity");
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

/// `zk group add --contract` and `zk signal` against the generated contracts on anvil: the
/// group read from events has the contract's root, a vote is counted once, a second one is
/// refused by the contract, and an unknown group, the wrong contract and a root mismatch are
/// clear errors that store nothing.
#[test]
fn zk_group_from_contract_and_signal_on_chain() {
    use alloy::network::TransactionBuilder;
    use alloy::primitives::{Bytes, U256};
    use alloy::rpc::types::TransactionRequest;
    use steward_eth::testkit::{Anvil, Artifacts, Tools, ZkContracts, dev_key};

    const KPW: &str = "zk-chain-keystore-pw";
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(steward_testing::Need::Anvil, "zk_chain_cli", why);
            return;
        }
    };
    let (dir, _) = temp_home();
    let (alice, a) = new_home(dir.path(), "alice");
    let (bob, b) = new_home(dir.path(), "bob");
    // Alice pays gas from an account that is not her identity's (any funded key will do).
    crate::import_dev_key(&alice, 5, KPW);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (anvil, c, artifacts, gid) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = Artifacts::load(&tools).expect("contracts");
        let c = ZkContracts::deploy(&anvil, &artifacts)
            .await
            .expect("deploy");
        let admin = dev_key(0).expect("key");
        let (gid, _) = c
            .client()
            .create_group(&admin, 16, anvil.accounts()[0])
            .await
            .expect("createGroup");
        for m in [&b, &a] {
            let m = steward_zk::parse_field("commitment", m).expect("field");
            c.client().add_member(&admin, gid, m).await.expect("add");
        }
        (anvil, c, artifacts, gid)
    });
    assert_eq!(gid, U256::from(1));
    let rpc = anvil.url().to_string();
    let contract = c.groups.to_string();
    let chain = |extra: &[&str]| {
        let mut args = vec!["--rpc", rpc.as_str()];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };

    // The group from the contract: stored with the contract's root.
    let mut args = vec![
        "group",
        "add",
        "board",
        "--contract",
        &contract,
        "--group-id",
        "1",
        "--json",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    args.extend(chain(&[]));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = zk(&alice, &argv);
    assert_eq!(code, 0, "{out}{err}");
    let g = json(&out)["data"].clone();
    let chain_root = rt
        .block_on(c.client().group(gid))
        .expect("getGroup")
        .expect("group")
        .root;
    assert_eq!(
        g["root"].as_str(),
        Some(steward_zk::to_hex(&chain_root).as_str())
    );
    assert_eq!(
        (g["members"].as_u64(), g["depth"].as_u64()),
        (Some(2), Some(16))
    );
    let (code, out, _) = zk(&alice, &["group", "root", "board"]);
    assert_eq!(
        (code, out.trim()),
        (0, steward_zk::to_hex(&chain_root).as_str())
    );

    // Prove, then send: counted once.
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
    let file = dir.path().join("signal.json");
    std::fs::write(&file, &out).expect("write");
    let file_s = file.display().to_string();
    let payer = dev_key(5).expect("key").address().to_string();
    // Without --key nothing is sent: the default key may be the user's known address.
    let (code, _, err) = run(crate::steward(&alice)
        .env("STEWARD_PASSPHRASE", crate::PASS)
        .args([
            "zk",
            "signal",
            &file_s,
            "--rpc",
            &rpc,
            "--contract",
            &contract,
        ])
        .args(["--group-id", "1"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--key"), "{err}");
    let send = |file: &str, group: &str| {
        run(crate::steward(&alice)
            .env("STEWARD_PASSPHRASE", crate::PASS)
            .env("STEWARD_KEYSTORE_PASSWORD", KPW)
            .args(["zk", "signal", file, "--rpc", &rpc, "--contract", &contract])
            .args(["--key", &payer, "--group-id", group, "--json"]))
    };
    let (code, out, err) = send(&file_s, "1");
    assert_eq!(code, 0, "{out}{err}");
    let sent = json(&out)["data"].clone();
    assert_eq!(
        sent["from"].as_str(),
        Some(dev_key(5).expect("key").address().to_string().as_str())
    );
    assert!(
        sent["gas_used"].as_u64().is_some_and(|g| g > 200_000),
        "{sent}"
    );
    let tally = rt
        .block_on(c.client().tally(gid, "prop-1", "for"))
        .expect("tally");
    assert_eq!(tally, U256::from(1));
    let (code, out, err) = zk(
        &alice,
        &[
            "tally",
            "--rpc",
            &rpc,
            "--contract",
            &contract,
            "--group-id",
            "1",
            "--scope",
            "prop-1",
            "for",
            "against",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let t = json(&out)["data"]["counts"].clone();
    assert_eq!(
        (t[0]["votes"].as_str(), t[1]["votes"].as_str()),
        (Some("1"), Some("0")),
        "{t}"
    );
    // Bob votes through a relayer: his home prints the call, nothing signed, and another
    // account (anvil's 7, not Bob's) sends it; the contract counts it all the same.
    let (code, out, err) = zk(
        &bob,
        &[
            "group",
            "add",
            "board",
            "--rpc",
            &rpc,
            "--contract",
            &contract,
            "--group-id",
            "1",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = zk(
        &bob,
        &[
            "prove",
            "--group",
            "board",
            "--scope",
            "prop-1",
            "--message",
            "against",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let bob_file = dir.path().join("bob-signal.json");
    std::fs::write(&bob_file, &out).expect("write");
    let (code, out, err) = zk(
        &bob,
        &[
            "signal",
            &bob_file.display().to_string(),
            "--contract",
            &contract,
            "--group-id",
            "1",
            "--calldata",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let d = json(&out)["data"].clone();
    assert_eq!(d["to"].as_str(), Some(contract.as_str()));
    let data: Bytes = d["data"].as_str().expect("data").parse().expect("hex");
    rt.block_on(
        anvil.send(
            TransactionRequest::default()
                .with_from(anvil.accounts()[7])
                .with_to(c.groups)
                .with_input(data),
        ),
    )
    .expect("the relayer's transaction");
    let against = rt
        .block_on(c.client().tally(gid, "prop-1", "against"))
        .expect("tally");
    assert_eq!(against, U256::from(1));
    // The same signal again: the contract refuses the nullifier; nothing is mined.
    let (code, out, err) = send(&file_s, "1");
    assert_eq!(code, 1);
    let err = out + &err;
    assert!(err.contains("NullifierUsed"), "{err}");
    // An unknown group id.
    let (code, out, err) = send(&file_s, "99");
    assert_eq!(code, 1);
    let err = out + &err;
    assert!(err.contains("has no group 99"), "{err}");
    // A tampered file is refused before anything is sent.
    let mut v = json(&std::fs::read_to_string(&file).expect("read"));
    v["data"]["message"] = "against".into();
    let bad = dir.path().join("tampered.json");
    std::fs::write(&bad, v.to_string()).expect("write");
    let (code, out, err) = send(&bad.display().to_string(), "1");
    assert_eq!(code, 1);
    let err = out + &err;
    assert!(err.contains("does not verify"), "{err}");

    // Reading a group: an unknown id, the wrong contract, a root that does not match.
    let read = |contract: &str, id: &str| {
        zk(
            &alice,
            &[
                "group",
                "add",
                "other",
                "--rpc",
                &rpc,
                "--contract",
                contract,
                "--group-id",
                id,
            ],
        )
    };
    let (code, _, err) = read(&contract, "7");
    assert_eq!(code, 1);
    assert!(err.contains("has no group 7"), "{err}");
    let (code, _, err) = read(&c.verifier.to_string(), "1");
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "getGroup refused: reverted with no reason (is this a StewardGroups contract?)"
        ),
        "{err}"
    );
    let liar = rt.block_on(async {
        let owner = anvil.accounts()[0];
        let liar = anvil
            .deploy(
                owner,
                artifacts
                    .get("GroupsRootLiar")
                    .expect("liar")
                    .bytecode
                    .clone(),
            )
            .await
            .expect("deploy");
        let mut call = vec![0u8; 4];
        call.copy_from_slice(&alloy::primitives::keccak256("add(uint256)")[..4]);
        call.extend(U256::from(5).to_be_bytes::<32>());
        anvil
            .send(
                TransactionRequest::default()
                    .with_from(owner)
                    .with_to(liar)
                    .with_input(Bytes::from(call)),
            )
            .await
            .expect("add");
        liar
    });
    let (code, _, err) = read(&liar.to_string(), "1");
    assert_eq!(code, 1);
    assert!(
        err.contains("zk group other") && err.contains("but the contract's root is 0x0000000000000000000000000000000000000000000000000000000000003039"),
        "{err}"
    );
    let (code, _, err) = zk(&alice, &["group", "root", "other"]);
    assert_eq!(code, 1, "nothing stored: {err}");

    // The audit log: the group with its contract, one signal sent (the refused ones are not).
    let (code, out, err) = run(crate::steward(&alice)
        .env("STEWARD_PASSPHRASE", crate::PASS)
        .args(["log", "--json"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("\"zk-signal-sent\"").count(), 1, "{out}");
    assert!(out.contains(sent["tx"].as_str().expect("tx")), "{out}");
    assert!(out.contains(&contract), "{out}");
    assert!(
        !out.contains("\"for\""),
        "the message is in the log by its hash only: {out}"
    );
}

/// `zk group publish`: a group kept at home goes on chain (created, this key its admin), members
/// added later are appended and nothing twice, another home reads the same root from the
/// contract; a key that is not the admin and a chain group that is not the stored one's prefix
/// are refused with nothing sent.
#[test]
fn zk_group_published_on_chain_matches_the_stored_group() {
    use steward_eth::testkit::{Anvil, Artifacts, Tools, ZkContracts, dev_key};

    const KPW: &str = "zk-publish-keystore-pw";
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(steward_testing::Need::Anvil, "zk_group_publish", why);
            return;
        }
    };
    let (dir, _) = temp_home();
    let (alice, a) = new_home(dir.path(), "alice");
    let (bob, b) = new_home(dir.path(), "bob");
    let (_, c3) = new_home(dir.path(), "carol");
    crate::import_dev_key(&alice, 4, KPW);
    crate::import_dev_key(&bob, 3, KPW);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (anvil, c) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = Artifacts::load(&tools).expect("contracts");
        let c = ZkContracts::deploy(&anvil, &artifacts)
            .await
            .expect("deploy");
        (anvil, c)
    });
    let rpc = anvil.url().to_string();
    let contract = c.groups.to_string();
    let publish = |home: &Path, extra: &[&str]| {
        run(crate::steward(home)
            .env("STEWARD_PASSPHRASE", PASS)
            .env("STEWARD_KEYSTORE_PASSWORD", KPW)
            .args(["zk", "group", "publish", "board", "--rpc", &rpc])
            .args(["--contract", &contract, "--json"])
            .args(extra))
    };
    let (code, _, err) = zk(&alice, &["group", "add", "board", &a, &b]);
    assert_eq!(code, 0, "{err}");
    let (_, local_root, _) = zk(&alice, &["group", "root", "board"]);

    // Created with both members; the contract's root is the stored one.
    let (code, out, err) = publish(&alice, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let d = json(&out)["data"].clone();
    assert_eq!(
        (
            d["created"].as_bool(),
            d["added"].as_u64(),
            d["root"].as_str()
        ),
        (Some(true), Some(2), Some(local_root.trim())),
        "{d}"
    );
    let gid = d["group_id"].as_u64().expect("group id").to_string();
    let chain = rt
        .block_on(c.client().group(alloy::primitives::U256::from(1)))
        .expect("getGroup")
        .expect("group");
    assert_eq!(chain.admin, dev_key(4).expect("key").address());

    // Again, with no id: the home remembers the group, nothing to add, nothing created. A third
    // member stored later: only it is sent.
    let (code, out, err) = publish(&alice, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let d = json(&out)["data"].clone();
    assert_eq!(
        (
            d["created"].as_bool(),
            d["added"].as_u64(),
            d["group_id"].to_string()
        ),
        (Some(false), Some(0), gid.clone()),
        "{d}"
    );
    let (code, _, err) = zk(&alice, &["group", "add", "board", &c3]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = publish(&alice, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let d = json(&out)["data"].clone();
    assert_eq!(
        (
            d["added"].as_u64(),
            d["members"].as_u64(),
            d["txs"].as_array().map(Vec::len)
        ),
        (Some(1), Some(3), Some(1)),
        "{d}"
    );
    let (_, local_root, _) = zk(&alice, &["group", "root", "board"]);
    assert_eq!(d["root"].as_str(), Some(local_root.trim()));

    // Killed while creating a group for another name: the rerun does not create a second one
    // blindly, it says where the id is; --new creates one.
    let (code, _, err) = zk(&alice, &["group", "add", "council", &a]);
    assert_eq!(code, 0, "{err}");
    let mut paused_run = crate::steward(&alice);
    paused_run
        .env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .env("STEWARD_CAST_PAUSE_AT", "zk-before-create")
        .args(["zk", "group", "publish", "council", "--rpc", &rpc])
        .args(["--contract", &contract])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = crate::web::Killed(paused_run.spawn().expect("spawn"));
    let paused = std::io::BufRead::lines(std::io::BufReader::new(
        child.0.stderr.take().expect("stderr"),
    ))
    .map_while(Result::ok)
    .any(|l| l.contains("paused at zk-before-create"));
    assert!(paused, "never paused");
    child.0.kill().expect("kill -9");
    let _ = child.0.wait();
    let council = |extra: &[&str]| {
        run(crate::steward(&alice)
            .env("STEWARD_PASSPHRASE", PASS)
            .env("STEWARD_KEYSTORE_PASSWORD", KPW)
            .args(["zk", "group", "publish", "council", "--rpc", &rpc])
            .args(["--contract", &contract, "--json"])
            .args(extra))
    };
    let (code, out, err) = council(&[]);
    assert_eq!(code, 1, "{out}");
    let err = out + &err;
    assert!(
        err.contains("stopped while creating the group") && err.contains("--new"),
        "{err}"
    );
    let (code, out, err) = council(&["--new"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["data"]["group_id"].as_u64(), Some(2), "{out}");

    // Bob reads it from the contract and gets the same root.
    let (code, out, err) = zk(
        &bob,
        &[
            "group",
            "add",
            "board",
            "--rpc",
            &rpc,
            "--contract",
            &contract,
            "--group-id",
            &gid,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (_, bob_root, _) = zk(&bob, &["group", "root", "board"]);
    assert_eq!(bob_root.trim(), local_root.trim());

    // Bob's key is not the group's admin: refused before anything is sent.
    let (code, out, err) = publish(&bob, &["--group-id", &gid]);
    assert_eq!(code, 1, "{out}");
    let err = out + &err;
    assert!(err.contains("is administered by"), "{err}");
    // A stored group with the members in another order is not the chain's prefix.
    let (code, out, err) = run(crate::steward(&alice)
        .env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .args(["zk", "group", "add", "swapped", &b, &a]));
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(crate::steward(&alice)
        .env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .args(["zk", "group", "publish", "swapped", "--rpc", &rpc])
        .args(["--contract", &contract, "--group-id", &gid]));
    assert_eq!(code, 1, "{out}");
    let err = out + &err;
    assert!(
        err.contains("not the stored group's first ones in order"),
        "{err}"
    );
    let size = rt
        .block_on(c.client().group(alloy::primitives::U256::from(1)))
        .expect("getGroup")
        .expect("group")
        .size;
    assert_eq!(size, 3, "nothing was sent by the refused runs");
    // An unknown group.
    let (code, out, err) = publish(&alice, &["--group-id", "42"]);
    assert_eq!(code, 1);
    assert!((out + &err).contains("has no group 42"));
    let (code, _, err) = zk(
        &alice,
        &[
            "group",
            "publish",
            "nope",
            "--rpc",
            &rpc,
            "--contract",
            &contract,
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("no zk group named \"nope\""), "{err}");
    // The runs that finished are in the log (board: three; council: one), the refused ones not.
    let (code, out, _) = run(steward(&alice)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["log", "--json"]));
    assert_eq!(code, 0);
    assert_eq!(out.matches("\"zk-group-published\"").count(), 4, "{out}");
}
