//! Confinement, proven in a child process (this test binary, re-executed): after `confine`, a
//! file outside the allowed set cannot be read, no socket, socket pair or io_uring can be
//! created and a listening loopback port is not connected to, while the allowed file still can
//! be read; and a thread that ran before `confine` (here the harness' main thread: the test runs
//! on a thread of its own) is reported.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Command;

use steward_ml::{Confinement, ProbeReport};

const CHILD_ENV: &str = "STEWARD_ML_SANDBOX_CHILD";
/// The listening address the child tries to connect to.
const LISTEN_ENV: &str = "STEWARD_ML_SANDBOX_LISTEN";

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
    let listen: Option<SocketAddr> = std::env::var(LISTEN_ENV).ok().map(|a| a.parse().unwrap());
    let confinement = steward_ml::confine(std::slice::from_ref(&allowed));
    let allowed_read = steward_ml::probe(Some(&allowed), None);
    let secret_read = steward_ml::probe(Some(&secret), listen);
    let line = serde_json::json!({
        "confinement": confinement,
        "allowed": allowed_read,
        "secret": secret_read,
        "pid": std::process::id(),
    });
    // The parent reads this marker line from the harness' output.
    println!("SANDBOX-RESULT {line}");
}

#[test]
fn confinement_denies_other_files_and_sockets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("allowed.txt"), "model weights").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "the user's store").unwrap();

    // A real listener on loopback; the confined child must not reach it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let listen = listener.local_addr().unwrap();

    // Unconfined, both reads, a socket and the connection work: the probe itself is sound.
    let open = steward_ml::probe(Some(&dir.path().join("secret.txt")), Some(listen));
    assert_eq!(open.read.as_deref(), Some("ok"));
    assert_eq!(open.socket, "ok");
    assert_eq!(open.socketpair, "ok");
    assert_eq!(open.tcp_connect, "ok");
    assert!(
        listener.accept().is_ok(),
        "the unconfined probe did not connect"
    );
    let uring_open = open.io_uring.clone();

    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sandbox::sandbox_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .env(LISTEN_ENV, listen.to_string())
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
        // The handshake completes in the kernel's backlog without an accept: a connection made
        // by the (now exited) child would be waiting here.
        assert_eq!(
            listener.accept().map(drop).map_err(|e| e.kind()),
            Err(std::io::ErrorKind::WouldBlock),
            "the confined child connected to {listen}"
        );
        let uring = &secret.io_uring;
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
