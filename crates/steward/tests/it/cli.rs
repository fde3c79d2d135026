use steward_agent::{Home, Passphrase, raw_connection};

use crate::{PASS, json, run, steward, temp_home};

fn init(home: &std::path::Path) {
    let (code, out, err) = run(steward(home).env("STEWARD_PASSPHRASE", PASS).arg("init"));
    assert_eq!(code, 0, "init failed:\n{out}\n{err}");
}

#[test]
fn init_doctor_log_verify_round_trip() {
    let (_d, home) = temp_home();
    init(&home);
    assert!(home.join("config.toml").is_file() && home.join("steward.db").is_file());

    // init again: nothing changes.
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["init", "--json"]));
    assert_eq!(code, 0);
    let v = json(&out);
    assert_eq!(v["data"]["created"], false);
    assert_eq!(v["data"]["audit_entries"], 1);

    let (code, out, err) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["doctor", "--json"]));
    let v = json(&out);
    assert_eq!(
        v["ok"].as_bool(),
        Some(code == 0),
        "envelope agrees with exit code\n{err}"
    );
    assert!(code == 0 || code == 3, "doctor exits 0 or 3, got {code}");
    let checks = v["data"]["checks"].as_array().expect("checks");
    let status = |name: &str| {
        checks
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["status"].as_str().unwrap_or("").to_owned())
            .unwrap_or_else(|| panic!("no check {name} in {v}"))
    };
    for name in ["home", "config", "store", "audit", "network"] {
        assert_eq!(status(name), "ok", "{name}: {v}");
    }
    for c in checks.iter().filter(|c| c["status"] == "fail") {
        assert!(c["fix"].is_string(), "a failing check names its fix: {c}");
    }

    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["log", "verify"]));
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("audit log intact: 1 entry,"), "{out}");
}

#[test]
fn log_verify_fails_after_tampering_and_names_the_entry() {
    let (_d, home) = temp_home();
    init(&home);
    // Add entries through the binary's own code path (init appends one), then edit the first.
    {
        let h = Home::open(&home).expect("home");
        let pass = Passphrase::new(PASS.into()).expect("pass");
        let conn = raw_connection(&h, &pass).expect("raw");
        conn.execute_batch(
            "DROP TRIGGER audit_no_update; UPDATE audit SET subject = '/elsewhere' WHERE seq = 1;",
        )
        .expect("tamper");
    }
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["log", "verify", "--json"]));
    assert_eq!(code, 3, "{out}");
    let v = json(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["data"]["intact"], false);
    assert_eq!(v["data"]["first_bad"], 1);
    assert!(
        v["data"]["error"]
            .as_str()
            .unwrap_or("")
            .contains("entry #1 was altered"),
        "{v}"
    );
}

#[test]
fn wrong_passphrase_exits_5_with_json_error() {
    let (_d, home) = temp_home();
    init(&home);
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", "nope")
        .args(["log", "--json"]));
    assert_eq!(code, 5);
    let v = json(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "wrong-passphrase");
    // The right one still works: nothing was damaged.
    let (code, _, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["log", "verify"]));
    assert_eq!(code, 0);
}

#[test]
fn a_second_process_gets_a_clear_lock_error() {
    let (_d, home) = temp_home();
    init(&home);
    let held = Home::open(&home).expect("this test process holds the home");
    let (code, out, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("log"));
    assert_eq!(code, 4, "{out}{err}");
    assert!(err.contains("in use by another steward process"), "{err}");
    assert!(
        err.contains(&std::process::id().to_string()),
        "names the holder: {err}"
    );
    drop(held);
    let (code, _, _) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("log"));
    assert_eq!(code, 0);
}

#[test]
fn malformed_config_names_file_line_and_key() {
    let (_d, home) = temp_home();
    init(&home);
    std::fs::write(
        home.join("config.toml"),
        "[network]\nallow = [\"loopback\"]\ntimeout_secs = -3\n",
    )
    .expect("write");
    let (code, out, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).args(["log"]));
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("config.toml line 3: key `network.timeout_secs`"),
        "{err}"
    );
}

#[test]
fn passphrase_never_reaches_output_or_logs() {
    let (_d, home) = temp_home();
    for args in [
        &["-vvv", "init"][..],
        &["-vvv", "doctor", "--json"],
        &["-vvv", "log"],
        &["-vvv", "log", "verify"],
    ] {
        let (_, out, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).args(args));
        assert!(
            !out.contains(PASS) && !err.contains(PASS),
            "{args:?} leaked the passphrase"
        );
    }
    // And it is not accepted as an argument at all.
    let (code, _, err) = run(steward(&home).args(["log", "--passphrase", PASS]));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn no_passphrase_without_a_terminal_is_a_clear_error() {
    let (_d, home) = temp_home();
    let (code, out, err) = run(steward(&home).arg("init"));
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("STEWARD_PASSPHRASE"), "{err}");
    assert!(!home.join("steward.db").exists(), "nothing half-made");
}

#[test]
fn errors_use_the_json_envelope() {
    let (_d, home) = temp_home();
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["log", "--json"]));
    assert_eq!(code, 1);
    let v = json(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "home-missing");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("steward init"),
        "{v}"
    );
}

#[test]
fn config_layers_through_the_binary() {
    let (_d, home) = temp_home();
    std::fs::create_dir_all(&home).expect("mkdir");
    std::fs::write(
        home.join("config.toml"),
        "[network]\nallow = [\"hub.snapshot.org\"]\ntimeout_secs = 7\n",
    )
    .expect("write");
    let (code, out, err) = run(steward(&home)
        .env("STEWARD_NETWORK_TIMEOUT_SECS", "9")
        .args([
            "config",
            "--json",
            "--set",
            "network.allow=loopback,10.0.0.0/8",
        ]));
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(
        v["data"]["network"]["allow"],
        serde_json::json!(["loopback", "10.0.0.0/8"])
    );
    assert_eq!(v["data"]["network"]["timeout_secs"], 9);
}

/// `steward eval votes` needs no home: a small votes file with one bad row, `--json` and
/// `--predictions`, through the real binary.
#[test]
fn eval_votes_reports_metrics_bad_rows_and_writes_predictions() {
    let (dir, home) = temp_home();
    let mut csv = String::from("voter,proposal_id,choice,title,order_rank\n");
    for i in 0..30 {
        let grant = i % 3 == 0;
        let title = if grant {
            "Grant for a team"
        } else {
            "Protocol upgrade"
        };
        let a = if grant { "Against" } else { "For" };
        csv.push_str(&format!("a,p{i},{a},{title} {i},{i}\n"));
        csv.push_str(&format!("b,p{i},For,{title} {i},{i}\n"));
    }
    csv.push_str("a,p77,For,Bad order,soon\n");
    let votes = dir.path().join("votes.csv");
    std::fs::write(&votes, csv).expect("write votes");
    let preds = dir.path().join("predictions.jsonl");
    let (code, out, err) = run(steward(&home).args([
        "eval",
        "votes",
        "--train",
        votes.to_str().expect("utf-8 path"),
        "--predictions",
        preds.to_str().expect("utf-8 path"),
        "--json",
    ]));
    assert_eq!(code, 0, "{out}\n{err}");
    let v = json(&out);
    let d = &v["data"];
    assert_eq!(d["n_voters"], 2);
    assert_eq!(d["n_test"], 18);
    for key in [
        "forced_accuracy",
        "auto_accuracy",
        "coverage",
        "ask_rate",
        "ece",
    ] {
        assert!(d[key].is_number(), "{key} in {d}");
    }
    assert!(d["baselines"]["always_for"].is_number());
    assert!(d["baselines"]["voter_majority"].is_number());
    assert!(d["reliability"].is_array() && d["per_voter"].is_array());
    assert_eq!(d["skipped_rows"][0]["line"], 62, "{d}");
    assert_eq!(d["skipped_rows"][0]["column"], "order_rank");
    assert!(err.contains("column order_rank"), "{err}");
    let lines = std::fs::read_to_string(&preds).expect("predictions");
    assert_eq!(lines.lines().count(), 18);
    let first = json(lines.lines().next().expect("a line"));
    for key in [
        "voter",
        "proposal_id",
        "choice",
        "probabilities",
        "confidence",
        "action",
    ] {
        assert!(!first[key].is_null(), "{key} in {first}");
    }
}

/// `--mode live` still works (scripts use it) and means final tallies; `--mode replay` reads vote
/// times; `--before-end` outside replay is refused with a message naming the flag.
#[test]
fn eval_votes_modes_final_tallies_alias_and_replay() {
    let (dir, home) = temp_home();
    let mut csv = String::from("voter,proposal_id,choice,timestamp\n");
    for i in 0..30 {
        let c = if i % 4 == 0 { "Against" } else { "For" };
        csv.push_str(&format!("a,p{i},{c},{}\n", 1_700_000_000 + i * 100));
        csv.push_str(&format!("b,p{i},{c},{}\n", 1_700_000_000 + i * 100 - 10));
    }
    let votes = dir.path().join("votes.csv");
    std::fs::write(&votes, csv).expect("write votes");
    let eval = |extra: &[&str]| {
        let mut c = steward(&home);
        c.args(["eval", "votes", "--json", "--train"])
            .arg(&votes)
            .args(extra);
        run(&mut c)
    };
    for (flag, mode) in [
        ("live", "final-tallies"),
        ("final-tallies", "final-tallies"),
        ("replay", "replay"),
    ] {
        let (code, out, err) = eval(&["--mode", flag]);
        assert_eq!(code, 0, "{out}\n{err}");
        let d = &json(&out)["data"];
        assert_eq!(d["mode"], mode, "{d}");
        assert!(
            d["baselines"]["best_delegate"]["agreement"].is_number(),
            "{d}"
        );
        assert_eq!(d["replay"].is_object(), mode == "replay", "{d}");
    }
    let (code, out, err) = eval(&["--mode", "blind", "--before-end", "24"]);
    assert_ne!(code, 0);
    let e = json(&out);
    let message = e["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("--before-end") && message.contains("--mode blind"),
        "{out}\n{err}"
    );
}

#[cfg(unix)]
#[test]
fn init_in_an_existing_open_directory_leaves_nothing_readable_by_others() {
    use std::os::unix::fs::PermissionsExt;
    let (_d, home) = temp_home();
    // An existing 0755 home with a world-readable config.toml from an older init.
    std::fs::create_dir_all(&home).expect("mkdir");
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    init(&home);
    std::fs::set_permissions(
        home.join("config.toml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    init(&home);
    let (code, out, err) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["log", "verify"]));
    assert_eq!(code, 0, "{out}{err}");

    fn walk(p: &std::path::Path, seen: &mut Vec<(std::path::PathBuf, u32)>) {
        let mode = std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        seen.push((p.to_path_buf(), mode));
        if p.is_dir() {
            for e in std::fs::read_dir(p).expect("read_dir") {
                walk(&e.expect("entry").path(), seen);
            }
        }
    }
    let mut seen = Vec::new();
    walk(&home, &mut seen);
    assert!(seen.len() >= 6, "{seen:?}");
    for (path, mode) in &seen {
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} is {mode:o}", path.display());
    }
}

#[test]
fn the_release_build_has_no_testkit() {
    // The test kit holds an RPC client that skips the network allowlist: only `--features demo`
    // may pull it in. Checked on the dependency graph cargo resolves for `cargo build --release`.
    let testkit_edges = |features: &[&str]| -> usize {
        let mut n = 0;
        for krate in ["steward-agent", "steward-eth"] {
            let out = std::process::Command::new(option_env!("CARGO").unwrap_or("cargo"))
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .args([
                    "tree",
                    "--locked",
                    "--offline",
                    "-p",
                    "steward",
                    "-e",
                    "normal,features",
                    "-i",
                    krate,
                ])
                .args(features)
                .output()
                .expect("cargo tree");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            n += String::from_utf8_lossy(&out.stdout)
                .matches("feature \"testkit\"")
                .count();
        }
        n
    };
    assert_eq!(
        testkit_edges(&[]),
        0,
        "the default build pulls in a testkit"
    );
    // The check sees testkit where it is: the demo build has it.
    assert!(testkit_edges(&["--features", "demo"]) >= 2);
}
