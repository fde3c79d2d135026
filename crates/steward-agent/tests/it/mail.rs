//! Mail: a real maildir and mbox, MIME variety, link resolution and dedupe with the hub.

use std::time::Duration;

use serde_json::json;
use steward_agent::sources::snapshot::HubClient;
use steward_agent::testkit::hub::MockHub;
use steward_agent::{Network, ingest_mail, sync_snapshot_space};
use steward_core::{Allowlist, Limits};

use crate::new_store;

const LINKED: &str = "Message-ID: <n1@snapshot.example>\r\nFrom: Snapshot <notify@snapshot.example>\r\nTo: me@example.org\r\nSubject: New proposal in s.eth: Fund audits\r\nDate: Mon, 20 Nov 2023 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nA new proposal is open: https://snapshot.org/#/s.eth/proposal/0xknown\r\n";

const FUTURE: &str = "Message-ID: <n2@snapshot.example>\r\nFrom: Snapshot <notify@snapshot.example>\r\nSubject: New proposal in s.eth: Later one\r\nDate: Tue, 21 Nov 2023 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>Vote on the r=E9sum=E9 <a href=3D\"https://snapshot.org/#/s.eth/proposal/0xfuture\">here</a>.</p>\r\n--b1--\r\n";

const NO_ID: &str = "From: someone@example.org\r\nSubject: no id\r\n\r\nbody\r\n";

fn hub_client(hub: &MockHub) -> HubClient {
    let http = Network::new(Allowlist::default(), Duration::from_secs(5))
        .http()
        .expect("client");
    HubClient::new(http, &hub.url)
}

fn proposal(id: &str, created: i64) -> serde_json::Value {
    json!({ "id": id, "title": id, "body": "b", "choices": ["For", "Against"], "created": created,
            "start": created, "end": created + 1000, "state": "active", "space": { "id": "s.eth" } })
}

#[tokio::test]
async fn mail_links_resolve_to_known_proposals_and_merge_with_later_ones() {
    let hub = MockHub::start(vec![proposal("0xknown", 100)], vec![])
        .await
        .expect("hub");
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = new_store(dir.path(), "pw");
    sync_snapshot_space(
        &mut store,
        &hub_client(&hub),
        "s.eth",
        100,
        &Limits::default(),
        150,
        |_| {},
    )
    .await
    .expect("sync");

    let maildir = dir.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("mkdir");
    }
    std::fs::write(maildir.join("cur/1:2,S"), LINKED).expect("write");
    std::fs::write(maildir.join("new/2"), FUTURE).expect("write");
    std::fs::write(maildir.join("new/3"), NO_ID).expect("write");

    let r = ingest_mail(&mut store, &maildir, &Limits::default()).expect("ingest");
    assert_eq!((r.linked, r.ingested), (1, 1), "{r:?}");
    let q: Vec<(&str, &str)> = r
        .quarantined
        .iter()
        .map(|q| (q.item.as_str(), q.field.as_str()))
        .collect();
    assert_eq!(q, [("new/3", "Message-ID")]);

    // The linked message is the known proposal.
    let known = store
        .proposal("mail:n1@snapshot.example")
        .expect("read")
        .expect("found");
    assert_eq!(known.key, "snapshot:s.eth:0xknown");
    // The other is a mail proposal for now, HTML and quoted-printable Latin-1 decoded.
    let future = store
        .proposal("mail:n2@snapshot.example")
        .expect("read")
        .expect("found");
    assert_eq!(future.key, "mail:n2@snapshot.example");
    assert!(
        future.proposal.body.contains("résumé"),
        "{}",
        future.proposal.body
    );
    assert_eq!(future.proposal.title, "New proposal in s.eth: Later one");

    // Reading the mailbox again changes nothing.
    let r = ingest_mail(&mut store, &maildir, &Limits::default()).expect("again");
    assert_eq!((r.ingested, r.duplicates), (0, 1));

    // The hub brings 0xfuture: one record, which the message now points at.
    hub.add_proposals(vec![proposal("0xfuture", 200)]);
    sync_snapshot_space(
        &mut store,
        &hub_client(&hub),
        "s.eth",
        100,
        &Limits::default(),
        250,
        |_| {},
    )
    .await
    .expect("sync");
    let merged = store
        .proposal("mail:n2@snapshot.example")
        .expect("read")
        .expect("found");
    assert_eq!(merged.key, "snapshot:s.eth:0xfuture");
    assert_eq!(
        store.counts().expect("counts").proposals,
        2,
        "no mail duplicate left behind"
    );
    store.verify_audit().expect("read").expect("intact");
}

#[test]
fn mbox_messages_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = new_store(dir.path(), "pw");
    let mbox = dir.path().join("inbox.mbox");
    let text = format!(
        "From notify@snapshot.example Mon Nov 20 10:00:00 2023\n{}\nFrom notify@snapshot.example Tue Nov 21 10:00:00 2023\n{}",
        LINKED.replace("\r\n", "\n"),
        FUTURE.replace("\r\n", "\n")
    );
    std::fs::write(&mbox, text).expect("write");
    let r = ingest_mail(&mut store, &mbox, &Limits::default()).expect("ingest");
    assert_eq!(r.ingested, 2, "{r:?}");
    assert!(r.quarantined.is_empty());
}

#[test]
fn tally_links_resolve_to_governor_proposals_and_merge_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = new_store(dir.path(), "pw");
    let gov = |id: &str| {
        json!({ "chainId": 42161, "governor": "0xf07DeD9dC292157749B6Fd268E37DF6EA38395B9", "proposalId": id,
                "proposer": "0x0000000000000000000000000000000000000001",
                "targets": ["0x0000000000000000000000000000000000000002"], "values": ["0"], "calldatas": ["0x"],
                "description": format!("# Proposal {id}"), "voteStart": 1, "voteEnd": 2 })
    };
    let file = dir.path().join("gov.json");
    std::fs::write(&file, gov("7716").to_string()).expect("write");
    steward_agent::ingest_file(&mut store, &file, &Limits::default(), 0).expect("ingest");

    let mail = |id: &str, proposal: &str| {
        format!(
            "Message-ID: <{id}@tally.example>\r\nFrom: Tally <n@tally.example>\r\nSubject: Vote now\r\n\r\nVote at https://www.tally.xyz/gov/arbitrum/proposal/{proposal} today.\r\n"
        )
    };
    let mbox = dir.path().join("tally.mbox");
    std::fs::write(
        &mbox,
        format!(
            "From x\n{}\nFrom y\n{}",
            mail("t1", "7716"),
            mail("t2", "9999")
        )
        .replace("\r\n", "\n"),
    )
    .expect("write");
    let r = ingest_mail(&mut store, &mbox, &Limits::default()).expect("mail");
    assert_eq!((r.linked, r.ingested), (1, 1), "{r:?}");
    let linked = store
        .proposal("mail:t1@tally.example")
        .expect("read")
        .expect("found");
    assert!(linked.key.ends_with(":7716"), "{}", linked.key);

    // The Governor proposal the second message named arrives: one record.
    std::fs::write(&file, gov("9999").to_string()).expect("write");
    steward_agent::ingest_file(&mut store, &file, &Limits::default(), 0).expect("ingest");
    let merged = store
        .proposal("mail:t2@tally.example")
        .expect("read")
        .expect("found");
    assert!(merged.key.ends_with(":9999"), "{}", merged.key);
    assert_eq!(store.counts().expect("counts").proposals, 2);
}
