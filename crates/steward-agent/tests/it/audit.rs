use steward_agent::{AuditVerifyError, raw_connection};
use steward_core::{AuditRecord, ChainBreakKind};

use crate::{new_store, pass};

fn store_with(n: usize) -> (tempfile::TempDir, steward_agent::Home, steward_agent::Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (home, mut store) = new_store(dir.path(), "pw");
    for i in 0..n {
        store
            .audit(&AuditRecord::new("ingest", format!("p{i}")).input("body", format!("b{i}")))
            .expect("append");
    }
    (dir, home, store)
}

/// What an attacker who has the passphrase does: drop the guard triggers and edit rows.
fn tamper(home: &steward_agent::Home, sql: &str) {
    let conn = raw_connection(home, &pass("pw")).expect("raw");
    conn.execute_batch(&format!(
        "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete; {sql}"
    ))
    .expect("tamper");
}

#[test]
fn intact_log_verifies_and_reports_head() {
    let (_d, _home, store) = store_with(5);
    let r = store.verify_audit().expect("read").expect("intact");
    assert_eq!(r.entries, 5);
    assert_eq!(r.head.as_ref().map(|h| h.seq), Some(5));
    assert_eq!(r.anchored, r.head);
}

#[test]
fn the_log_refuses_ordinary_updates_and_deletes() {
    let (_d, home, store) = store_with(2);
    drop(store);
    let conn = raw_connection(&home, &pass("pw")).expect("raw");
    let err = conn
        .execute("UPDATE audit SET subject = 'x' WHERE seq = 1", [])
        .expect_err("guarded");
    assert!(err.to_string().contains("append-only"), "{err}");
    assert!(conn.execute("DELETE FROM audit WHERE seq = 2", []).is_err());
}

#[test]
fn each_kind_of_tampering_names_the_first_bad_entry() {
    let cases: &[(&str, u64, &str)] = &[
        (
            "UPDATE audit SET subject = 'p-evil' WHERE seq = 3",
            3,
            "altered",
        ),
        (
            "UPDATE audit SET detail = '{\"x\":1}' WHERE seq = 1",
            1,
            "altered",
        ),
        ("DELETE FROM audit WHERE seq = 2", 2, "missing"),
        ("DELETE FROM audit WHERE seq >= 5", 5, "truncated"),
    ];
    for (sql, first_bad, word) in cases {
        let (_d, home, store) = store_with(6);
        drop(store);
        tamper(&home, sql);
        let store = steward_agent::Store::open(&home, &pass("pw")).expect("open");
        let err = store.verify_audit().expect("read").expect_err(sql);
        assert_eq!(err.first_bad(), Some(*first_bad), "{sql}: {err}");
        assert!(err.to_string().contains(word), "{sql}: {err}");
    }
}

/// Rewrites entry `seq`'s detail and recomputes the plain SHA-256 chain from there to the end,
/// then the anchor: everything an attacker with the passphrase and `sha256sum` can do.
fn rewrite_with_plain_hashes(home: &steward_agent::Home, seq: usize, detail: &str) {
    let store = steward_agent::Store::open(home, &pass("pw")).expect("open");
    let mut entries = store.audit_entries(None).expect("entries");
    drop(store);
    let mut sql = String::new();
    entries[seq - 1].detail = detail.into();
    for i in seq - 1..entries.len() {
        if i > 0 {
            entries[i].prev = entries[i - 1].hash.clone();
        }
        entries[i].hash = entries[i].compute_hash();
        let e = &entries[i];
        sql.push_str(&format!(
            "UPDATE audit SET detail = '{}', prev = '{}', hash = '{}' WHERE seq = {};",
            e.detail, e.prev, e.hash, e.seq
        ));
    }
    tamper(home, &sql);
    let last = entries.last().expect("entries");
    std::fs::write(
        home.audit_anchor_path(),
        format!("{} {}\n", last.seq, last.hash),
    )
    .expect("anchor");
}

#[test]
fn a_rewrite_rehashed_with_plain_sha256_is_caught_at_the_rewritten_entry() {
    let (_d, home, store) = store_with(6);
    drop(store);
    rewrite_with_plain_hashes(&home, 3, r#"{"choice":"against"}"#);
    let store = steward_agent::Store::open(&home, &pass("pw")).expect("open");
    match store.verify_audit().expect("read") {
        Err(AuditVerifyError::Chain(b)) => {
            assert_eq!((b.seq, b.kind), (3, ChainBreakKind::Altered));
        }
        other => panic!("expected entry #3 altered, got {other:?}"),
    }
}

#[test]
fn an_unsigned_or_forged_anchor_is_refused() {
    for line in [
        // v1 form naming a keyed entry: what an attacker writes without the key.
        "3 {h}\n".to_owned(),
        format!("3 {{h}} 1 {}\n", "ab".repeat(32)),
        // A MAC over another keyed_from.
        "3 {h} 2 {m}\n".to_owned(),
    ] {
        let (_d, home, store) = store_with(3);
        let anchored = std::fs::read_to_string(home.audit_anchor_path()).expect("anchor");
        let f: Vec<&str> = anchored.split_whitespace().collect();
        assert_eq!(
            f.len(),
            4,
            "the anchor carries keyed_from and a MAC: {anchored}"
        );
        let line = line.replace("{h}", f[1]).replace("{m}", f[3]);
        std::fs::write(home.audit_anchor_path(), &line).expect("write");
        let err = store.verify_audit().expect("read").expect_err(&line);
        assert!(
            matches!(err, AuditVerifyError::AnchorForged { .. }),
            "{line}: {err:?}"
        );
        assert!(err.to_string().contains("audit.head"), "{err}");
    }
}

#[test]
fn a_store_from_before_keying_keeps_its_plain_entries_and_guards_them() {
    let (_d, home, store) = store_with(0);
    drop(store);
    // Build a v1 log as an older steward wrote it, with its v1 anchor and no marker.
    let mut entries: Vec<steward_core::AuditEntry> = Vec::new();
    for i in 0..3 {
        let r = AuditRecord::new("ingest", format!("old{i}"));
        entries.push(steward_core::AuditEntry::chain(
            entries.last(),
            format!("2026-01-01T00:00:0{i}Z"),
            &r,
        ));
    }
    let mut sql = String::from("DELETE FROM meta WHERE key = 'audit_keyed_from';");
    for e in &entries {
        sql.push_str(&format!(
            "INSERT INTO audit VALUES ({}, '{}', '{}', '{}', '{}', '{}', '{}', '{}');",
            e.seq, e.ts, e.kind, e.subject, e.inputs, e.detail, e.prev, e.hash
        ));
    }
    tamper(&home, &sql);
    std::fs::write(home.audit_anchor_path(), format!("3 {}\n", entries[2].hash)).expect("w");

    // The upgraded steward verifies the old log, then keys what it appends.
    let mut store = steward_agent::Store::open(&home, &pass("pw")).expect("open");
    store
        .verify_audit()
        .expect("read")
        .expect("legacy log verifies");
    store
        .audit(&AuditRecord::new("decision", "new"))
        .expect("append");
    store
        .verify_audit()
        .expect("read")
        .expect("mixed log verifies");
    drop(store);

    // A plain rewrite of an old entry now breaks the first keyed entry, which committed to it.
    rewrite_with_plain_hashes(&home, 2, r#"{"x":1}"#);
    let store = steward_agent::Store::open(&home, &pass("pw")).expect("open");
    match store.verify_audit().expect("read") {
        Err(AuditVerifyError::Chain(b)) => {
            assert_eq!((b.seq, b.kind), (4, ChainBreakKind::Altered));
        }
        other => panic!("expected entry #4 altered, got {other:?}"),
    }
}

#[test]
fn an_older_copy_of_store_and_anchor_is_caught_only_against_a_kept_head() {
    let (_d, home, store) = store_with(3);
    // Closed, so the WAL is checkpointed into the file being copied.
    drop(store);
    let files = ["steward.db", "steward.db.key", "audit.head"];
    let saved: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(home.root().join(f)).expect("read"))
        .collect();
    let mut store = steward_agent::Store::open(&home, &pass("pw")).expect("open");
    store
        .audit(&AuditRecord::new("signature", "p-vote"))
        .expect("append");
    let kept = store
        .verify_audit()
        .expect("read")
        .expect("intact")
        .head
        .expect("head");
    drop(store);
    for (f, b) in files.iter().zip(&saved) {
        std::fs::write(home.root().join(f), b).expect("restore");
    }
    let _ = std::fs::remove_file(home.root().join("steward.db-wal"));
    let store = steward_agent::Store::open(&home, &pass("pw")).expect("open");
    // Every local file is consistent again: nothing on this machine can tell (docs/audit.md).
    store
        .verify_audit()
        .expect("read")
        .expect("consistent copy");
    let err = store
        .verify_audit_expecting(Some(&kept))
        .expect("read")
        .expect_err("rolled back");
    assert!(
        matches!(
            err,
            AuditVerifyError::RolledBack {
                expected: 4,
                last: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.first_bad(), Some(4));
}

#[test]
fn a_damaged_page_is_reported_by_the_integrity_check() {
    let (_d, home, mut store) = store_with(0);
    for i in 0..200 {
        store
            .audit(
                &AuditRecord::new("ingest", format!("p{i}")).detail(serde_json::json!({
                    "text": "x".repeat(200)
                })),
            )
            .expect("append");
    }
    drop(store);
    let db = home.store_path();
    let mut bytes = std::fs::read(&db).expect("read");
    let pages = bytes.len() / 4096;
    assert!(pages > 4, "{pages} pages");
    // Flip bytes in the middle of the second-to-last page, past the header page.
    let at = (pages - 2) * 4096 + 1000;
    for b in &mut bytes[at..at + 16] {
        *b ^= 0x5a;
    }
    std::fs::write(&db, bytes).expect("write");
    let store = steward_agent::Store::open(&home, &pass("pw")).expect("open");
    let err = store.verify_audit().expect("read").expect_err("damaged");
    let msg = err.to_string();
    assert!(matches!(err, AuditVerifyError::Damaged { .. }), "{err:?}");
    assert!(
        msg.contains("cipher_integrity_check") && msg.contains("steward.db"),
        "{msg}"
    );
}

#[test]
fn entries_commit_with_their_transaction_or_not_at_all() {
    let (_d, _home, mut store) = store_with(1);
    let r: Result<(), steward_agent::Error> = store.transaction(|tx| {
        tx.audit(&AuditRecord::new("decision", "p1"))?;
        Err(steward_agent::Error::EmptyPassphrase) // any failure after the append
    });
    assert!(r.is_err());
    let rep = store.verify_audit().expect("read").expect("still intact");
    assert_eq!(rep.entries, 1, "the rolled-back entry must not be there");
    store
        .audit(&AuditRecord::new("decision", "p1"))
        .expect("append after rollback");
    assert_eq!(
        store.verify_audit().expect("read").expect("intact").entries,
        2
    );
}
