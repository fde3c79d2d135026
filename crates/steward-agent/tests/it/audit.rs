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
        "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; {sql}"
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

#[test]
fn a_rehashed_edit_is_caught_at_the_next_link() {
    let (_d, home, store) = store_with(4);
    let entries = store.audit_entries(None).expect("entries");
    drop(store);
    // Rewrite entry 2 and give it a correct hash of its new content.
    let mut e = entries[1].clone();
    e.subject = "p-evil".into();
    e.hash = e.compute_hash();
    tamper(
        &home,
        &format!(
            "UPDATE audit SET subject = '{}', hash = '{}' WHERE seq = 2",
            e.subject, e.hash
        ),
    );
    let store = steward_agent::Store::open(&home, &pass("pw")).expect("open");
    match store.verify_audit().expect("read") {
        Err(AuditVerifyError::Chain(b)) => {
            assert_eq!((b.seq, b.kind), (3, ChainBreakKind::Relinked));
        }
        other => panic!("expected a relink break, got {other:?}"),
    }
}

#[test]
fn a_rewritten_tail_is_caught_by_the_anchor() {
    let (_d, home, store) = store_with(3);
    let entries = store.audit_entries(None).expect("entries");
    drop(store);
    // Replace the last entry with a consistently re-chained forgery: only the anchor knows.
    let mut e = entries[2].clone();
    e.subject = "forged".into();
    e.hash = e.compute_hash();
    tamper(
        &home,
        &format!(
            "UPDATE audit SET subject = 'forged', hash = '{}' WHERE seq = 3",
            e.hash
        ),
    );
    let store = steward_agent::Store::open(&home, &pass("pw")).expect("open");
    let err = store.verify_audit().expect("read").expect_err("anchor");
    assert!(
        matches!(err, AuditVerifyError::AnchorMismatch { seq: 3 }),
        "{err:?}"
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
