//! The real `steward` binary, run as a user would, against temporary homes.

// Tests say on stderr why they skip (missing shared data or tools).
#![allow(clippy::print_stderr)]

mod agent;
mod bond;
mod cli;
mod consensus;
mod dao;
mod decide;
mod demo;
mod governor;
mod inspect;
mod interview;
mod judge;
mod keys;
mod market;
mod market_auto;
mod mech;
mod soak;
mod sync;
mod terminal;
mod views;
mod vote;
mod web;
mod worker;
mod zk;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub(crate) const PASS: &str = "pass-5e1f-do-not-leak";

/// A command for the built binary with a clean, explicit environment.
pub(crate) fn steward(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_steward"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.parent().unwrap_or(home))
        .env("STEWARD_HOME", home)
        .stdin(Stdio::null());
    // The same folders `models_present` and the tools checks look at, also when the tests run
    // outside `make` (which exports both): otherwise the binary looks in the temporary home
    // and a test that found the models fails instead of running.
    for (key, default) in [
        (
            "STEWARD_MODELS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../models"),
        ),
        (
            "STEWARD_TOOLS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools/node_modules"),
        ),
    ] {
        c.env(key, std::env::var_os(key).unwrap_or_else(|| default.into()));
    }
    c
}

pub(crate) fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run steward");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

pub(crate) fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}"))
}

/// Imports anvil's dev account `i` into `home`'s keys, encrypted with `keystore_pw` (the
/// keystore file is written beside the home).
pub(crate) fn import_dev_key(home: &Path, i: usize, keystore_pw: &str) {
    let ks = home.with_extension(format!("key{i}.json"));
    let pw = steward_eth::KeystorePassword::new(keystore_pw.into()).expect("pw");
    let key = steward_eth::testkit::dev_key(i).expect("dev key");
    std::fs::write(
        &ks,
        steward_eth::encrypt_keystore(&key, &pw, steward_eth::Kdf::Light).expect("encrypt"),
    )
    .expect("write");
    let (code, out, err) = run(steward(home)
        .env("STEWARD_KEYSTORE_PASSWORD", keystore_pw)
        .args(["key", "import", "--json", "--keystore"])
        .arg(&ks));
    assert_eq!(code, 0, "{out}{err}");
}

/// A new home `dir/name` with anvil's dev account `i` as its key.
pub(crate) fn home_with_key(dir: &Path, name: &str, i: usize, keystore_pw: &str) -> PathBuf {
    let home = dir.join(name);
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init"));
    assert_eq!(code, 0, "{err}");
    import_dev_key(&home, i, keystore_pw);
    home
}

pub(crate) fn temp_home() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    (dir, home)
}

/// Whether the embedded models are installed (`make models`); says why a test skips otherwise.
pub(crate) fn models_present(test: &str) -> bool {
    let dir = std::env::var_os("STEWARD_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../models").into());
    let ok = steward_ml::spec(steward_ml::Role::Embedding)
        .files
        .iter()
        .chain(steward_ml::spec(steward_ml::Role::Generation).files)
        .all(|f| dir.join(f.path).is_file());
    if !ok {
        steward_testing::skip(
            steward_testing::Need::Models,
            test,
            format_args!("model files missing in {}", dir.display()),
        );
    }
    ok
}

/// One active single-choice Snapshot proposal object (For/Against/Abstain), as the hub returns
/// it, for `ingest file`.
pub(crate) fn snapshot_json(space: &str, id: &str, title: &str, body: &str) -> String {
    serde_json::json!({
        "id": id, "space": space, "title": title, "body": body,
        "choices": ["For", "Against", "Abstain"], "type": "single-choice",
        "start": 1_700_000_000, "end": 4_000_000_000_i64, "snapshot": "1", "state": "active",
        "author": "0x1111111111111111111111111111111111111111", "created": 1_700_000_000
    })
    .to_string()
}
