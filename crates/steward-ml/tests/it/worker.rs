//! The worker process end to end: this test binary re-executed as the worker (the `steward`
//! binary does the same through its hidden `model-worker` subcommand).

use std::process::Command;

use steward_ml::{Embedder, GenerateRequest, Generator, JsonSchema, Role, WorkerProcess};

use crate::models_for;

const CHILD_ENV: &str = "STEWARD_ML_WORKER_CHILD";

#[test]
#[ignore = "runs as the child of the worker tests"]
fn worker_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    steward_ml::serve_worker(std::path::Path::new(&dir), true, stdin, stdout).unwrap();
}

fn spawn(dir: &std::path::Path) -> WorkerProcess {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "worker::worker_child",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ])
    .env(CHILD_ENV, dir);
    WorkerProcess::spawn(cmd).unwrap()
}

#[test]
fn confined_worker_serves_models_but_not_the_disk_or_the_network() {
    let Some(dir) = models_for(
        Role::Embedding,
        "confined_worker_serves_models_but_not_the_disk_or_the_network",
    ) else {
        return;
    };
    if models_for(
        Role::Generation,
        "confined_worker_serves_models_but_not_the_disk_or_the_network",
    )
    .is_none()
    {
        return;
    }
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "the user's store").unwrap();
    let mut w = spawn(&dir);
    let conf = w.worker_info().confinement.clone();
    assert_ne!(w.worker_info().pid, std::process::id());

    // Loads happen inside the sandbox: the model files are readable there.
    let v = Embedder::embed(&mut w, &["a proposal".to_owned()]).unwrap();
    assert_eq!(v[0].len(), 384);
    let schema = JsonSchema::parse(
        r#"{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}"#,
    )
    .unwrap();
    let mut streamed = String::new();
    let g = w
        .generate(
            &GenerateRequest {
                schema: Some(schema),
                max_tokens: 16,
                ..GenerateRequest::new("Is the sky blue? Answer in JSON.")
            },
            &mut |p| streamed.push_str(p),
        )
        .unwrap();
    assert!(g.json.as_ref().unwrap()["ok"].is_boolean(), "{g:?}");
    assert_eq!(
        streamed, g.text,
        "pieces stream across the process boundary"
    );
    assert_eq!(g.engine.confined.as_deref(), Some(conf.summary().as_str()));

    // A batch crosses the boundary as one request; each answer streams under its own index and
    // a bad request fails alone.
    let mut bad = GenerateRequest::new("x");
    bad.max_tokens = 0;
    let reqs = vec![
        GenerateRequest {
            max_tokens: 8,
            ..GenerateRequest::new("Name a colour.")
        },
        bad,
        GenerateRequest {
            max_tokens: 8,
            ..GenerateRequest::new("Name a fruit.")
        },
    ];
    let mut streams = vec![String::new(); 3];
    let outs = w.generate_batch(&reqs, &mut |i, p| streams[i].push_str(p));
    assert_eq!(outs.len(), 3);
    let a = outs[0].as_ref().unwrap();
    let c = outs[2].as_ref().unwrap();
    assert!(
        outs[1]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("max_tokens"),
        "{outs:?}"
    );
    assert_eq!(
        (streams[0].as_str(), streams[2].as_str()),
        (a.text.as_str(), c.text.as_str())
    );
    assert!(!a.text.is_empty() && a.text != c.text, "{outs:?}");
    assert_eq!(a.engine.confined.as_deref(), Some(conf.summary().as_str()));

    let report = w.probe(Some(secret.path()), None).unwrap();
    if conf.landlock.starts_with("enforced") {
        assert!(
            report.read.as_deref().unwrap().starts_with("denied"),
            "{report:?}"
        );
    } else {
        steward_testing::skip(
            steward_testing::Need::Sandbox,
            "worker landlock assertion",
            &conf.landlock,
        );
    }
    if conf.seccomp == "enforced" {
        assert!(report.socket.starts_with("denied"), "{report:?}");
    } else {
        steward_testing::skip(
            steward_testing::Need::Sandbox,
            "worker seccomp assertion",
            &conf.seccomp,
        );
    }
}

#[test]
fn worker_reports_bad_requests_and_missing_models_as_errors() {
    let empty = tempfile::tempdir().unwrap();
    let mut w = spawn(empty.path());
    let err = Embedder::embed(&mut w, &["x".to_owned()]).unwrap_err();
    assert!(err.to_string().contains("make models"), "{err}");
    // The worker survives an error and keeps answering.
    assert!(w.probe(None, None).is_ok());
}
