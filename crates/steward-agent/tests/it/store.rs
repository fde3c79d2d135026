use std::fs;

use steward_agent::{Error, Home, Store};
use steward_core::AuditRecord;

use crate::{new_store, pass};

const CANARY: &str = "canary-7f3a9c-I-oppose-treasury-spending-without-milestones";

fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).expect("read dir") {
        let p = e.expect("entry").path();
        if p.is_file() {
            out.extend(fs::read(&p).expect("read"));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_plaintext_reaches_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (home, mut store) = new_store(dir.path(), "correct horse");
    store
        .transaction(|tx| {
            tx.set_meta("canary", CANARY)?;
            tx.audit(
                &AuditRecord::new("statement", CANARY)
                    .detail(serde_json::json!({ "text": CANARY })),
            )
        })
        .expect("write");
    // While open, the WAL holds the newest pages: check it too, then again after close.
    assert!(
        !contains(&all_bytes(home.root()), CANARY.as_bytes()),
        "plaintext in store files while open"
    );
    drop(store);
    let bytes = all_bytes(home.root());
    assert!(
        !contains(&bytes, CANARY.as_bytes()),
        "plaintext in store files"
    );
    assert!(
        !contains(&bytes, b"SQLite format 3"),
        "the store must not be a plain SQLite file"
    );
    // And it is really there, for the right passphrase.
    let store = Store::open(&home, &pass("correct horse")).expect("reopen");
    assert_eq!(store.meta("canary").expect("read").as_deref(), Some(CANARY));
}

#[test]
fn wrong_passphrase_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (home, mut store) = new_store(dir.path(), "right");
    store.audit(&AuditRecord::new("init", "x")).expect("audit");
    drop(store);
    let before = all_bytes(home.root());
    let err = Store::open(&home, &pass("wrong")).expect_err("must refuse");
    assert!(matches!(err, Error::WrongPassphrase { .. }), "{err:?}");
    assert!(err.to_string().contains("wrong passphrase"), "{err}");
    // The lock file's pid is the only byte that may differ; compare store files only.
    let after = all_bytes(home.root());
    assert_eq!(before.len(), after.len());
    let db = home.store_path();
    let key = home.key_path();
    let snapshot = (fs::read(&db).expect("db"), fs::read(&key).expect("key"));
    let _ = Store::open(&home, &pass("wrong again"));
    assert_eq!(
        snapshot,
        (fs::read(&db).expect("db"), fs::read(&key).expect("key"))
    );
    Store::open(&home, &pass("right")).expect("right passphrase still opens");
}

#[test]
fn foreign_and_damaged_files_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::create(&dir.path().join("h")).expect("home");

    // Nothing there yet.
    let err = Store::open(&home, &pass("p")).expect_err("missing");
    assert!(matches!(err, Error::StoreMissing { .. }), "{err:?}");
    assert!(err.to_string().contains("steward init"), "{err}");

    // A plain SQLite database someone put at the store path.
    {
        let c = rusqlite::Connection::open(home.store_path()).expect("plain sqlite");
        c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .expect("write");
    }
    let err = Store::open(&home, &pass("p")).expect_err("foreign");
    assert!(matches!(err, Error::Foreign { .. }), "{err:?}");
    assert!(err.to_string().contains("unencrypted SQLite"), "{err}");
    fs::remove_file(home.store_path()).expect("rm");

    // A real store whose body was overwritten with junk.
    let store = Store::create(&home, &pass("p")).expect("create");
    drop(store);
    let mut bytes = fs::read(home.store_path()).expect("read");
    for b in bytes.iter_mut().take(4096) {
        *b ^= 0x5a;
    }
    fs::write(home.store_path(), &bytes).expect("corrupt");
    let err = Store::open(&home, &pass("p")).expect_err("corrupt");
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("steward.db"), "{err}");

    // A truncated file.
    fs::write(home.store_path(), b"abc").expect("truncate");
    let err = Store::open(&home, &pass("p")).expect_err("short");
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");

    // The key file mangled, next to a good store.
    fs::remove_file(home.store_path()).expect("rm");
    drop(Store::create(&home, &pass("p")).expect("create"));
    fs::write(home.key_path(), b"{ not json").expect("mangle");
    let err = Store::open(&home, &pass("p")).expect_err("bad key file");
    assert!(matches!(err, Error::KeyFile { .. }), "{err:?}");
    assert!(err.to_string().contains("steward.db.key"), "{err}");
    // ... and lost.
    fs::remove_file(home.key_path()).expect("rm key");
    let err = Store::open(&home, &pass("p")).expect_err("no key file");
    assert!(matches!(err, Error::KeyFile { .. }), "{err:?}");
}

#[test]
fn store_opens_with_documented_key_derivation() {
    // docs/store.md tells users how to open their store with any SQLCipher: Argon2id over the
    // passphrase with the key file's parameters, used as a raw key. Do exactly that here.
    let dir = tempfile::tempdir().expect("tempdir");
    let (home, mut store) = new_store(dir.path(), "pw");
    store
        .audit(&AuditRecord::new("init", "doc"))
        .expect("audit");
    drop(store);
    let kf: serde_json::Value =
        serde_json::from_slice(&fs::read(home.key_path()).expect("key file")).expect("json");
    let num = |k: &str| u32::try_from(kf[k].as_u64().expect(k)).expect(k);
    let params = argon2::Params::new(num("m_cost_kib"), num("t_cost"), num("p_cost"), Some(32))
        .expect("params");
    let salt = hex::decode(kf["salt"].as_str().expect("salt")).expect("hex");
    let mut key = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(b"pw", &salt, &mut key)
        .expect("derive");
    let conn = rusqlite::Connection::open(home.store_path()).expect("open");
    conn.pragma_update(None, "key", format!("x'{}'", hex::encode(key)))
        .expect("key");
    let kind: String = conn
        .query_row("SELECT kind FROM audit WHERE seq = 1", [], |r| r.get(0))
        .expect("query");
    assert_eq!(kind, "init");
}

#[test]
fn interrupted_create_is_replaced_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::create(&dir.path().join("h")).expect("home");
    // What a kill -9 in the middle of `create` leaves: a key file and a half-built temp db.
    fs::write(home.root().join("steward.db.creating"), b"partial").expect("partial");
    fs::write(home.key_path(), b"{}").expect("stale key");
    assert!(!Store::exists(&home));
    let store = Store::create(&home, &pass("p")).expect("create over leftovers");
    assert_eq!(
        store.schema_version().expect("version"),
        steward_agent::SCHEMA_VERSION
    );
    assert!(!home.root().join("steward.db.creating").exists());
}

#[test]
fn empty_passphrase_is_refused() {
    let err = steward_agent::Passphrase::new(String::new()).expect_err("empty");
    assert!(matches!(err, Error::EmptyPassphrase));
    let p = pass("hunter2");
    assert!(!format!("{p:?}").contains("hunter2"));
}

#[test]
fn a_key_file_asking_for_too_much_work_is_refused_naming_the_field() {
    // 4e9 KiB aborted the process on allocation; t_cost in the billions would run for days.
    let cases: &[(&str, u64, &str)] = &[
        ("m_cost_kib", 4_000_000_000, "m_cost_kib"),
        ("m_cost_kib", 3 * 1024 * 1024, "m_cost_kib"),
        ("t_cost", 4_000_000_000, "t_cost"),
        ("p_cost", 16_000_000, "p_cost"),
        // Each within its own bound, together too much: 2 GiB over 16 passes.
        ("t_cost", 16, "t_cost"),
    ];
    for (field, value, named) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let (home, store) = crate::new_store(dir.path(), "p");
        drop(store);
        let mut kf: serde_json::Value =
            serde_json::from_slice(&fs::read(home.key_path()).expect("key file")).expect("json");
        kf[*field] = serde_json::json!(value);
        if *value == 16 {
            kf["m_cost_kib"] = serde_json::json!(2 * 1024 * 1024);
        }
        fs::write(home.key_path(), kf.to_string()).expect("write");
        let t = std::time::Instant::now();
        let err = Store::open(&home, &pass("p")).expect_err("refused");
        let msg = err.to_string();
        assert!(
            msg.contains("steward.db.key") && msg.contains(&format!("field `{named}`")),
            "{field}={value}: {msg}"
        );
        assert!(
            t.elapsed().as_secs() < 2,
            "refused before deriving: {field}"
        );
    }
}
