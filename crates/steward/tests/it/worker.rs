//! The model worker as the binary starts it (`steward model-worker`): every thread confined (no
//! file outside the models, no socket, no TCP connection to a listening loopback port, no
//! io_uring), no secret in its environment, no file held open outside the models directory, and an
//! unconfined worker refused unless the user chose it (issue 21, items 3-5).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use steward_ml::{Embedder, GenerateRequest, Generator, WorkerProcess};

use crate::{PASS, json, models_present, run, steward, temp_home};

const KEYSTORE_PASS: &str = "keystore-9c2d-do-not-leak";

fn models_dir() -> PathBuf {
    std::env::var_os("STEWARD_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../models").into())
}

/// `Seccomp:` and `NoNewPrivs:` of one task, from its `/proc/<pid>/task/<tid>/status`.
fn task_status(task: &Path) -> (String, String) {
    let status = std::fs::read_to_string(task.join("status")).expect("task status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    (field("Seccomp:"), field("NoNewPrivs:"))
}

#[test]
fn regression_every_worker_thread_is_confined_and_no_file_outside_the_models_is_open() {
    if !models_present("regression_every_worker_thread_is_confined") {
        return;
    }
    let dir = models_dir();
    let (_tmp, home) = temp_home();
    std::fs::create_dir_all(&home).expect("home");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_steward"));
    // HOME points at an empty directory: ONNX Runtime's telemetry database would appear there.
    cmd.env("HOME", &home)
        .arg("model-worker")
        .arg("--models-dir")
        .arg(&dir)
        .stderr(Stdio::null());
    let mut w = WorkerProcess::spawn(cmd).expect("worker");
    let info = w.worker_info().clone();
    assert!(info.confinement.is_confined(), "{:?}", info.confinement);
    assert_eq!(
        info.confinement.threads_before,
        Vec::<u32>::new(),
        "threads ran before Landlock"
    );

    // Start both engines, so that their threads exist.
    let v = Embedder::embed(&mut w, &["a proposal".to_owned()]).expect("embed");
    assert_eq!(v[0].len(), 384);
    w.generate(
        &GenerateRequest {
            max_tokens: 4,
            ..GenerateRequest::new("Say yes.")
        },
        &mut |_| {},
    )
    .expect("generate");

    let proc_dir = PathBuf::from(format!("/proc/{}", info.pid));
    let tasks: Vec<PathBuf> = std::fs::read_dir(proc_dir.join("task"))
        .expect("tasks")
        .map(|e| e.expect("task").path())
        .collect();
    assert!(
        tasks.len() > 1,
        "the engines started no thread: {tasks:?} (nothing was checked)"
    );
    for task in &tasks {
        // 2: a seccomp filter is installed; NoNewPrivs comes with it.
        assert_eq!(
            task_status(task),
            ("2".to_owned(), "1".to_owned()),
            "{}",
            task.display()
        );
    }

    // A thread started now inherits Landlock: it cannot read outside the models.
    let secret = home.join("secret.txt");
    std::fs::write(&secret, "the user's store").expect("write");
    // Nor reach a listening loopback port, nor set up an io_uring (whose operations would
    // open sockets past the filter).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let listen = listener.local_addr().expect("addr");
    let report = w.probe(Some(&secret), Some(listen)).expect("probe");
    for (what, r) in [
        ("read", report.read.as_deref()),
        ("thread read", report.thread_read.as_deref()),
        ("socket", Some(report.socket.as_str())),
        ("socketpair", Some(report.socketpair.as_str())),
        ("tcp", Some(report.tcp_connect.as_str())),
        ("io_uring", Some(report.io_uring.as_str())),
    ] {
        let r = r.expect("answered");
        assert!(r.starts_with("denied"), "{what}: {r}");
    }
    // A connection would wait in the backlog whether or not anyone accepts it.
    assert_eq!(
        listener.accept().map(drop).map_err(|e| e.kind()),
        Err(std::io::ErrorKind::WouldBlock),
        "the worker connected to {listen}"
    );
    // The same probe from this (unconfined) process does connect: the check can fail.
    let open = steward_ml::probe(None, Some(listen));
    assert_eq!(open.tcp_connect, "ok");
    assert!(
        listener.accept().is_ok(),
        "the unconfined probe did not connect"
    );
    if open.io_uring != "ok" {
        steward_testing::skip(
            steward_testing::Need::Sandbox,
            "worker io_uring assertion",
            format!("io_uring unavailable even unconfined ({})", open.io_uring),
        );
    }

    // No file is held open outside the models directory (ONNX Runtime's telemetry database
    // in ~/.cache was, read-write).
    for fd in std::fs::read_dir(proc_dir.join("fd")).expect("fds") {
        let fd = fd.expect("fd").path();
        let Ok(target) = std::fs::read_link(&fd) else {
            continue;
        };
        let outside =
            target.is_absolute() && !target.starts_with(&dir) && target != Path::new("/dev/null");
        assert!(
            !outside || !opened_by_worker(&fd),
            "{} -> {}",
            fd.display(),
            target.display()
        );
    }
    assert!(
        !home.join(".cache").exists(),
        "the worker wrote under HOME/.cache"
    );
}

/// Whether an fd is one the worker opened, not one the test harness leaked into it: an
/// inherited fd is one the harness itself has open under the same number and target.
fn opened_by_worker(fd: &Path) -> bool {
    let ours = Path::new("/proc/self/fd").join(fd.file_name().expect("fd number"));
    std::fs::read_link(&ours).ok() != std::fs::read_link(fd).ok()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The pids of `pid`'s children.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
    {
        let list = std::fs::read_to_string(task.expect("task").path().join("children"))
            .unwrap_or_default();
        out.extend(
            list.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    out
}

#[test]
fn regression_the_worker_inherits_neither_passphrase_nor_keystore_password() {
    let (_tmp, home) = temp_home();
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init"));
    assert_eq!(code, 0, "{err}");
    // The desk keeps its worker while it runs; the models need not be there for it to start.
    let mut serve = steward(&home);
    serve
        .env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_KEYSTORE_PASSWORD", KEYSTORE_PASS)
        .args(["--json", "serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Killed(serve.spawn().expect("serve"));
    let mut reader = BufReader::new(child.0.stdout.take().expect("stdout"));
    let mut text = String::new();
    while serde_json::from_str::<serde_json::Value>(&text).is_err() {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "serve printed: {text}"
        );
        text.push_str(&line);
    }
    let workers: Vec<u32> = children(child.0.id())
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains("model-worker"))
                .unwrap_or(false)
        })
        .collect();
    assert_eq!(workers.len(), 1, "serve's workers: {workers:?}");
    let environ = std::fs::read(format!("/proc/{}/environ", workers[0])).expect("environ");
    let environ = String::from_utf8_lossy(&environ);
    // The parent really had them, so their absence is the worker's doing.
    let parent = std::fs::read(format!("/proc/{}/environ", child.0.id())).expect("environ");
    assert!(String::from_utf8_lossy(&parent).contains(PASS));
    for secret in [
        "STEWARD_PASSPHRASE",
        PASS,
        "STEWARD_KEYSTORE_PASSWORD",
        KEYSTORE_PASS,
    ] {
        assert!(
            !environ.contains(secret),
            "worker environment holds {secret}: {environ:?}"
        );
    }
}

#[test]
fn regression_an_unconfined_worker_is_refused_unless_the_user_allows_it() {
    let (_tmp, home) = temp_home();
    // No models: past the confinement check, `embed` fails on the missing files instead.
    let empty = tempfile::tempdir().expect("tempdir");
    let embed = |extra: &[&str], skip: Option<&str>| {
        let mut c = steward(&home);
        c.env("STEWARD_MODELS_DIR", empty.path());
        if let Some(skip) = skip {
            c.env("STEWARD_TEST_SKIP_CONFINEMENT", skip);
        }
        c.args(extra).args(["model", "embed", "a proposal"]);
        run(&mut c)
    };

    for layer in ["landlock", "seccomp"] {
        let (code, out, err) = embed(&[], Some(layer));
        assert_ne!(code, 0, "{out}");
        assert!(err.contains("could not confine itself"), "{err}");
        assert!(
            err.contains(&format!("{layer}: unavailable: skipped")),
            "{err}"
        );
        assert!(err.contains("--set models.allow_unconfined=true"), "{err}");

        // The user's explicit choice lets it run (and fail on the missing models instead).
        let (code, _, err) = embed(&["--set", "models.allow_unconfined=true"], Some(layer));
        assert_ne!(code, 0);
        assert!(!err.contains("could not confine itself"), "{err}");
        assert!(err.contains("make models"), "{err}");
    }

    // Confined, nothing is refused.
    let (_, _, err) = embed(&[], None);
    assert!(!err.contains("could not confine itself"), "{err}");
    assert!(err.contains("make models"), "{err}");

    // `model info` still starts it, to report what is missing.
    let mut c = steward(&home);
    c.env("STEWARD_MODELS_DIR", empty.path())
        .env("STEWARD_TEST_SKIP_CONFINEMENT", "seccomp")
        .args(["--json", "model", "info"]);
    let (code, out, err) = run(&mut c);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(
        v["data"]["worker"]["confinement"]["seccomp"], "unavailable: skipped (test hook)",
        "{v}"
    );
}
