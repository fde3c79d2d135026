//! Confinement, proven in a child process (this test binary, re-executed): after `confine`, a
//! file outside the allowed set cannot be read and no socket, socket pair or io_uring can be
//! created, while the allowed file still can be read; and a thread that ran before `confine`
//! (here the harness' main thread: the test runs on a thread of its own) is reported.

use std::path::PathBuf;
use std::process::Command;

use steward_ml::{Confinement, ProbeReport};

const CHILD_ENV: &str = "STEWARD_ML_SANDBOX_CHILD";

/// Runs only in the child: confine to the allowed file, probe, print the result as JSON.
#[test]
#[ignore = "runs as the child of confinement_denies_other_files_and_sockets"]
fn sandbox_child() {
    let Some(spec) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let spec = PathBuf::from(spec);
    let allowed = spec.join("allowed.txt");
    let secret = spec.join("secret.txt");
    let confinement = steward_ml::confine(std::slice::from_ref(&allowed));
    let allowed_read = steward_ml::probe(Some(&allowed));
    let secret_read = steward_ml::probe(Some(&secret));
    let line = serde_json::json!({
        "confinement": confinement,
        "allowed": allowed_read,
        "secret": secret_read,
        "io_uring": io_uring(),
        "pid": std::process::id(),
    });
    // The parent reads this marker line from the harness' output.
    println!("SANDBOX-RESULT {line}");
}

/// Sets up an io_uring (whose operations would bypass a filter on `socket` and `connect`).
fn io_uring() -> String {
    match io_uring::IoUring::new(8) {
        Ok(_) => "ok".into(),
        Err(e) => format!("denied: {e}"),
    }
}

#[test]
fn confinement_denies_other_files_and_sockets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("allowed.txt"), "model weights").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "the user's store").unwrap();

    // Unconfined, both reads and a socket work: the probe itself is sound.
    let open = steward_ml::probe(Some(&dir.path().join("secret.txt")));
    assert_eq!(open.read.as_deref(), Some("ok"));
    assert_eq!(open.socket, "ok");
    assert_eq!(open.socketpair, "ok");
    let uring_open = io_uring();

    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sandbox::sandbox_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("SANDBOX-RESULT ").map(|(_, json)| json))
        .unwrap_or_else(|| {
            panic!(
                "no result from the child: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let confinement: Confinement = serde_json::from_value(v["confinement"].clone()).unwrap();
    let allowed: ProbeReport = serde_json::from_value(v["allowed"].clone()).unwrap();
    let secret: ProbeReport = serde_json::from_value(v["secret"].clone()).unwrap();

    // The harness' main thread ran before `confine`: Landlock does not bind it, and the report
    // must say so rather than call the process confined.
    let pid = v["pid"].as_u64().unwrap() as u32;
    assert!(
        confinement.threads_before.contains(&pid),
        "main thread {pid} not reported: {confinement:?}"
    );
    assert!(!confinement.is_confined(), "{}", confinement.summary());
    assert!(
        confinement
            .summary()
            .contains("threads started before confinement"),
        "{}",
        confinement.summary()
    );

    assert_eq!(
        allowed.read.as_deref(),
        Some("ok"),
        "the allowed file stays readable"
    );
    if confinement.landlock.starts_with("enforced") {
        let r = secret.read.unwrap();
        assert!(r.starts_with("denied"), "read of another file: {r}");
    } else {
        steward_testing::skip(
            steward_testing::Need::Sandbox,
            "landlock assertions",
            &confinement.landlock,
        );
    }
    if confinement.seccomp == "enforced" {
        assert!(
            secret.socket.starts_with("denied"),
            "socket: {}",
            secret.socket
        );
        assert!(
            secret.tcp_connect.starts_with("denied"),
            "tcp: {}",
            secret.tcp_connect
        );
        assert!(
            secret.socketpair.starts_with("denied"),
            "socketpair: {}",
            secret.socketpair
        );
        let uring = v["io_uring"].as_str().unwrap();
        if uring_open == "ok" {
            assert!(uring.starts_with("denied"), "io_uring: {uring}");
        } else {
            steward_testing::skip(
                steward_testing::Need::Sandbox,
                "io_uring assertion",
                format!("io_uring unavailable even unconfined ({uring_open})"),
            );
        }
    } else {
        steward_testing::skip(
            steward_testing::Need::Sandbox,
            "seccomp assertions",
            &confinement.seccomp,
        );
    }
    eprintln!("confinement: {}", confinement.summary());
}
