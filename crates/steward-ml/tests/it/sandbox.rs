//! Confinement, proven in a child process (this test binary, re-executed): after `confine`, a
//! file outside the allowed set cannot be read and no socket can be created, while the allowed
//! file still can be read.

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
    });
    // The parent reads this marker line from the harness' output.
    println!("SANDBOX-RESULT {line}");
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

    assert_eq!(
        allowed.read.as_deref(),
        Some("ok"),
        "the allowed file stays readable"
    );
    if confinement.landlock == "enforced" {
        let r = secret.read.unwrap();
        assert!(r.starts_with("denied"), "read of another file: {r}");
    } else {
        eprintln!("SKIP landlock assertions: {}", confinement.landlock);
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
    } else {
        eprintln!("SKIP seccomp assertions: {}", confinement.seccomp);
    }
    eprintln!("confinement: {}", confinement.summary());
}
