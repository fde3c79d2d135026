//! IMAP over TLS against a real Dovecot on 127.0.0.1, started here with its own config, a
//! certificate made at test time, a passwd-file and a maildir, all in a temp dir. Skips (saying
//! why) when `dovecot` or `openssl` is not installed (`scripts/setup-apt.sh`).

use std::time::{Duration, Instant};

use steward_agent::sources::imap::{ImapCursor, ImapPassword, cursor_key};
use steward_agent::{
    ImapConfig, Network, ProposalFilter, Store, ingest_file, sync_imap, sync_imap_with,
};
use steward_core::{Allowlist, Limits};

use steward_agent::testkit::dovecot::{Dovecot, PASSWORD, USER};

use crate::new_store;

const LINKED: &str = "Message-ID: <n1@snapshot.example>\r\nFrom: Snapshot <notify@snapshot.example>\r\nTo: alice@example.org\r\nSubject: New proposal in s.eth: Fund audits\r\nDate: Mon, 20 Nov 2023 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nA new proposal is open: https://snapshot.org/#/s.eth/proposal/0xknown\r\n";

const HTML: &str = "Message-ID: <n2@snapshot.example>\r\nFrom: Snapshot <notify@snapshot.example>\r\nSubject: New proposal in s.eth: Later one\r\nDate: Tue, 21 Nov 2023 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVote on the plan.\r\n--b1\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>Vote on the r=E9sum=E9 <a href=3D\"https://snapshot.org/#/s.eth/proposal/0xfuture\">here</a>.</p>\r\n--b1--\r\n";

const NO_ID: &str = "From: someone@example.org\r\nSubject: no id\r\n\r\nbody\r\n";

const LATER: &str = "Message-ID: <n3@forum.example>\r\nFrom: Forum <digest@forum.example>\r\nSubject: [Temp Check] Treasury diversification\r\nDate: Wed, 22 Nov 2023 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDiscuss at https://forum.example/t/treasury/42\r\n";

fn net() -> Network {
    Network::new(Allowlist::default(), Duration::from_secs(20))
}

fn mail_proposals(store: &Store) -> usize {
    store
        .proposals(&ProposalFilter::default())
        .expect("list")
        .iter()
        .filter(|p| p.key.starts_with("mail:"))
        .count()
}

#[tokio::test]
async fn imap_syncs_new_messages_from_a_real_dovecot() {
    let Some(mut dv) = Dovecot::start() else {
        steward_testing::skip(
            steward_testing::Need::Dovecot,
            "imap",
            "Dovecot could not start (see above)",
        );
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = new_store(dir.path(), "pw");
    let limits = Limits::default();
    // A Snapshot proposal the first notification points at.
    let known = dir.path().join("known.json");
    std::fs::write(
        &known,
        r#"{"id": "0xknown", "title": "Fund audits", "body": "b", "choices": ["For", "Against"],
            "created": 100, "start": 100, "end": 1100, "state": "active", "space": {"id": "s.eth"}}"#,
    )
    .expect("write");
    ingest_file(&mut store, &known, &limits, 150).expect("ingest known");

    dv.deliver(LINKED);
    dv.deliver(HTML);
    dv.deliver(NO_ID);
    let cfg = dv.config();
    let pw = ImapPassword::new(PASSWORD.into());
    let r = sync_imap_with(&mut store, &net(), &cfg, &pw, &limits)
        .await
        .unwrap_or_else(|e| panic!("first sync: {e}\n{}", dv.log()));
    assert_eq!((r.linked, r.ingested, r.duplicates), (1, 1, 0), "{r:?}");
    let q: Vec<(&str, &str)> = r
        .quarantined
        .iter()
        .map(|q| (q.item.as_str(), q.field.as_str()))
        .collect();
    assert_eq!(q, [("uid 3", "Message-ID")]);
    assert_eq!(
        r.quarantined[0].origin, "mail imap:alice@127.0.0.1/INBOX",
        "{r:?}"
    );
    let linked = store
        .proposal("mail:n1@snapshot.example")
        .expect("read")
        .expect("found");
    assert_eq!(linked.key, "snapshot:s.eth:0xknown");
    let html = store
        .proposal("mail:n2@snapshot.example")
        .expect("read")
        .expect("found");
    assert_eq!(html.key, "mail:n2@snapshot.example");
    assert_eq!(html.proposal.title, "New proposal in s.eth: Later one");
    let cursor = store
        .cursor(&cursor_key(&cfg))
        .expect("cursor")
        .expect("set");
    let cursor: ImapCursor = serde_json::from_str(&cursor).expect("json");
    assert_eq!(cursor.last_uid, 3);

    // Nothing new: nothing fetched, nothing quarantined again.
    let r = sync_imap_with(&mut store, &net(), &cfg, &pw, &limits)
        .await
        .expect("idle sync");
    assert_eq!(
        (r.linked, r.ingested, r.duplicates, r.quarantined.len()),
        (0, 0, 0, 0)
    );

    // One new message, and the HTML one again (same Message-ID): one new record, no duplicate.
    dv.deliver(LATER);
    dv.deliver(HTML);
    let r = sync_imap_with(&mut store, &net(), &cfg, &pw, &limits)
        .await
        .expect("second sync");
    assert_eq!(
        (r.ingested, r.duplicates, r.quarantined.len()),
        (1, 1, 0),
        "{r:?}"
    );
    assert_eq!(mail_proposals(&store), 2);
    assert!(
        store
            .proposal("mail:n3@forum.example")
            .expect("read")
            .is_some()
    );

    // Over STARTTLS on the plain port: same folder, same cursor, nothing new.
    let starttls = ImapConfig {
        port: dv.plain_port,
        starttls: true,
        ..cfg.clone()
    };
    let r = sync_imap_with(&mut store, &net(), &starttls, &pw, &limits)
        .await
        .expect("starttls sync");
    assert_eq!((r.ingested, r.duplicates), (0, 0), "{r:?}");

    // UIDVALIDITY changed: the whole folder is read again, and dedupe keeps one record each.
    let stale =
        serde_json::json!({ "uidvalidity": cursor.uidvalidity.wrapping_add(1), "last_uid": 99 });
    store
        .transaction(|tx| tx.set_cursor(&cursor_key(&cfg), &stale.to_string()))
        .expect("set cursor");
    let r = sync_imap_with(&mut store, &net(), &cfg, &pw, &limits)
        .await
        .expect("re-read");
    assert_eq!((r.linked, r.ingested, r.duplicates), (1, 0, 3), "{r:?}");
    assert_eq!(mail_proposals(&store), 2);
    let after: ImapCursor = serde_json::from_str(
        &store
            .cursor(&cursor_key(&cfg))
            .expect("cursor")
            .expect("set"),
    )
    .expect("json");
    assert_eq!(
        after,
        ImapCursor {
            uidvalidity: cursor.uidvalidity,
            last_uid: 5
        }
    );

    // A wrong password names user@host, and not the password.
    let wrong = ImapPassword::new("not-the-Pa55word".into());
    let e = sync_imap_with(&mut store, &net(), &cfg, &wrong, &limits)
        .await
        .expect_err("wrong password");
    let msg = e.to_string();
    assert_eq!(e.kind(), "imap-login", "{msg}");
    assert!(msg.contains("alice@127.0.0.1"), "{msg}");
    assert!(!msg.contains("not-the-Pa55word") && !format!("{e:?}").contains("Pa55word"));

    // The test's self-signed certificate is not trusted without ca_file.
    let untrusted = ImapConfig {
        ca_file: None,
        ..cfg.clone()
    };
    let e = sync_imap_with(&mut store, &net(), &untrusted, &pw, &limits)
        .await
        .expect_err("untrusted certificate");
    let msg = e.to_string();
    assert_eq!(e.kind(), "imap", "{msg}");
    assert!(
        msg.contains("TLS handshake") && msg.contains("127.0.0.1"),
        "{msg}"
    );

    // Without its password variable, sync_imap says which variable to set.
    let e = sync_imap(&mut store, &net(), &cfg, &limits)
        .await
        .expect_err("no password");
    assert!(
        e.to_string()
            .contains("$STEWARD_TEST_IMAP_PASSWORD_NEVER_SET"),
        "{e}"
    );
    store.verify_audit().expect("read").expect("intact");
    eprintln!("imap test against dovecot: {:?}", started.elapsed());
}

#[tokio::test]
async fn imap_host_outside_the_allowlist_is_refused_before_connecting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = new_store(dir.path(), "pw");
    // An unroutable address: a connection attempt would hang until the timeout.
    let cfg = ImapConfig {
        host: "10.255.255.1".into(),
        port: 993,
        user: USER.into(),
        folder: "INBOX".into(),
        password_env: "STEWARD_IMAP_PASSWORD".into(),
        ca_file: None,
        starttls: false,
    };
    let started = Instant::now();
    let e = sync_imap_with(
        &mut store,
        &Network::new(Allowlist::default(), Duration::from_secs(30)),
        &cfg,
        &ImapPassword::new(PASSWORD.into()),
        &Limits::default(),
    )
    .await
    .expect_err("refused");
    assert_eq!(e.kind(), "network-refused", "{e}");
    assert!(e.to_string().contains("10.255.255.1"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(store.cursor(&cursor_key(&cfg)).expect("cursor").is_none());
}
