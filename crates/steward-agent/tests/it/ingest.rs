//! Ingestion end to end: files and a Snapshot sync against the loopback hub serving real
//! proposal records from ../shared/data/snapshot-daocensus.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use steward_agent::sources::snapshot::HubClient;
use steward_agent::testkit::hub::{Fault, MockHub, load_daocensus};
use steward_agent::{Network, ProposalFilter, ingest_file, sync_snapshot_space};
use steward_core::{Allowlist, Limits};

use crate::new_store;

const NOW: i64 = 1_800_000_000;

fn shared_data() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    if p.is_dir() {
        Some(p)
    } else {
        steward_testing::skip(
            steward_testing::Need::Data,
            "ingest",
            format_args!("{} is absent", p.display()),
        );
        None
    }
}

fn lido(data: &std::path::Path) -> Vec<Value> {
    load_daocensus(&data.join("snapshot-daocensus"), "lido", NOW).expect("lido proposals")
}

fn hub_client(hub: &MockHub) -> HubClient {
    let http = Network::new(Allowlist::default(), Duration::from_secs(5))
        .http()
        .expect("client");
    let mut c = HubClient::new(http, &hub.url);
    c.retry.backoff = Duration::from_millis(10);
    c
}

#[test]
fn file_ingest_reports_quarantines_and_dedupes() {
    let Some(data) = shared_data() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = new_store(dir.path(), "pw");
    let mut items = lido(&data);
    let n_good = items.len() as u64;
    items.push(json!({ "id": "bad-choices", "choices": vec!["x"; 100_000], "space": { "id": "lido-snapshot.eth" } }));
    items.push(json!({ "id": "bad-type", "choices": ["a"], "type": "plurality", "space": { "id": "lido-snapshot.eth" } }));
    let file = dir.path().join("proposals.jsonl");
    let text: String = items.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(&file, text + "{ not json\n").expect("write");

    let r = ingest_file(&mut store, &file, &Limits::default(), NOW).expect("ingest");
    assert_eq!(r.ingested, n_good);
    assert_eq!(r.duplicates, 0);
    let q: Vec<(&str, &str)> = r
        .quarantined
        .iter()
        .map(|q| (q.item.as_str(), q.field.as_str()))
        .collect();
    assert_eq!(
        q,
        [
            ("bad-choices", "choices"),
            ("bad-type", "type"),
            (&*format!("line {}", n_good + 3), "(json)")
        ]
    );
    assert!(
        r.quarantined
            .iter()
            .all(|q| q.origin.contains("proposals.jsonl"))
    );

    // Again: all duplicates, nothing new in the audit log.
    let audit_before = store.counts().expect("counts").audit;
    let r = ingest_file(&mut store, &file, &Limits::default(), NOW).expect("again");
    assert_eq!((r.ingested, r.duplicates), (0, n_good));
    assert_eq!(store.counts().expect("counts").audit, audit_before);
    assert_eq!(store.counts().expect("counts").proposals, n_good);
    store.verify_audit().expect("read").expect("intact");
}

#[tokio::test]
async fn snapshot_sync_pages_retries_and_resumes() {
    let Some(data) = shared_data() else { return };
    let proposals = lido(&data);
    let total = proposals.len() as u64;
    let hub = MockHub::start(proposals, vec![]).await.expect("hub");
    hub.push_fault(Fault::RateLimit { retry_after: 1 });
    hub.push_fault(Fault::Status(502));
    hub.push_fault(Fault::Truncated);
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = new_store(dir.path(), "pw");
    let client = hub_client(&hub);
    let limits = Limits::default();

    let mut pages = 0;
    let r = sync_snapshot_space(
        &mut store,
        &client,
        "lido-snapshot.eth",
        40,
        &limits,
        NOW,
        |p| pages = p.pages,
    )
    .await
    .expect("sync");
    assert_eq!(r.ingested, total, "every real Lido proposal arrives");
    assert!(r.quarantined.is_empty(), "{:?}", r.quarantined);
    assert_eq!(
        pages,
        total.div_ceil(40) + u64::from(total.is_multiple_of(40))
    );
    assert!(
        hub.rejected().is_empty(),
        "the hub refused our queries: {:?}",
        hub.rejected()
    );

    // A later sync finds nothing new and asks for one page only.
    let before = hub.requests();
    let r = sync_snapshot_space(
        &mut store,
        &client,
        "lido-snapshot.eth",
        40,
        &limits,
        NOW,
        |_| {},
    )
    .await
    .expect("resync");
    assert_eq!(
        (r.ingested, r.duplicates),
        (0, 0),
        "the cursor skips what it has seen"
    );
    assert_eq!(hub.requests() - before, 1);

    // New proposals, two sharing the last second, arrive on the next sync with no gap.
    let t = NOW - 100;
    hub.add_proposals(vec![
        open_proposal("0xnew1", t),
        open_proposal("0xnew2", t),
        open_proposal("0xnew3", t + 1),
    ]);
    let r = sync_snapshot_space(
        &mut store,
        &client,
        "lido-snapshot.eth",
        2,
        &limits,
        NOW,
        |_| {},
    )
    .await
    .expect("incremental");
    assert_eq!(r.ingested, 3);
    assert_eq!(store.counts().expect("counts").proposals, total + 3);
}

#[tokio::test]
async fn votes_on_open_proposals_are_ingested_and_bad_items_quarantined() {
    let hub = MockHub::start(
        vec![
            open_proposal("0xopen", NOW - 50),
            json!({ "id": "0xbad", "title": "t", "choices": "For", "created": NOW - 40, "space": { "id": "s.eth" } }),
        ],
        (0..25)
            .map(|i| {
                json!({ "id": format!("v{i}"), "voter": format!("0x{i:040x}"), "created": NOW - 30 + i,
                        "choice": 1 + (i % 2), "vp": 10.5, "reason": if i == 0 { "I like it" } else { "" },
                        "proposal": { "id": "0xopen" } })
            })
            .chain([json!({ "id": "vbad", "created": NOW, "choice": 1, "proposal": { "id": "0xopen" } })])
            .collect(),
    )
    .await
    .expect("hub");
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = new_store(dir.path(), "pw");
    let r = sync_snapshot_space(
        &mut store,
        &hub_client(&hub),
        "s.eth",
        10,
        &Limits::default(),
        NOW,
        |_| {},
    )
    .await
    .expect("sync");
    assert_eq!(r.ingested, 1);
    assert_eq!(r.votes, 25);
    let q: Vec<(&str, &str)> = r
        .quarantined
        .iter()
        .map(|q| (q.item.as_str(), q.field.as_str()))
        .collect();
    assert_eq!(q, [("0xbad", "choices"), ("vbad", "voter")]);
    let open = store
        .proposals(&ProposalFilter {
            open_only: true,
            ..Default::default()
        })
        .expect("list");
    let votes = store.votes(&open[0].key).expect("votes");
    assert_eq!(votes.len(), 25);
    assert_eq!(votes[0].reason.as_deref(), Some("I like it"));
}

#[tokio::test]
async fn the_mock_hub_refuses_what_the_real_one_refuses() {
    let hub = MockHub::start(vec![], vec![]).await.expect("hub");
    let http = reqwest::Client::new();
    for (query, expect) in [
        (
            "{ proposals(first: 10) { id nope } }",
            "Cannot query field \"nope\" on type \"Proposal\"",
        ),
        (
            "{ proposals(first: 5000) { id } }",
            "must not be greater than 1000",
        ),
        ("{ spaces { id } }", "Cannot query field \"spaces\""),
        (
            "query Q($n: Int!) { proposals(first: $n) { id } }",
            "was not provided",
        ),
        ("{ proposals(first: $x) { id } }", "is not defined"),
        ("{ proposals { space } }", "must have a selection"),
    ] {
        let resp = http
            .post(&hub.url)
            .json(&json!({ "query": query }))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 400, "{query}");
        let body: Value = resp.json().await.expect("json");
        let msg = body["errors"][0]["message"].as_str().unwrap_or("");
        assert!(msg.contains(expect), "{query}: {msg}");
    }
}

#[tokio::test]
async fn a_hub_that_keeps_failing_is_a_clear_error() {
    let hub = MockHub::start(vec![open_proposal("0x1", NOW)], vec![])
        .await
        .expect("hub");
    for _ in 0..3 {
        hub.push_fault(Fault::Status(503));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = new_store(dir.path(), "pw");
    let mut client = hub_client(&hub);
    client.retry.max_attempts = 3;
    let err = sync_snapshot_space(
        &mut store,
        &client,
        "s.eth",
        10,
        &Limits::default(),
        NOW,
        |_| {},
    )
    .await
    .expect_err("gives up");
    let msg = err.to_string();
    assert!(
        msg.contains("127.0.0.1") && msg.contains("503") && msg.contains("3 attempts"),
        "{msg}"
    );
    assert_eq!(
        store.counts().expect("counts").proposals,
        0,
        "nothing half-written"
    );
    // A Retry-After longer than the limit fails instead of stalling.
    hub.push_fault(Fault::RateLimit { retry_after: 3600 });
    let err = sync_snapshot_space(
        &mut store,
        &client,
        "s.eth",
        10,
        &Limits::default(),
        NOW,
        |_| {},
    )
    .await
    .expect_err("too long");
    assert!(err.to_string().contains("Retry-After 3600"), "{err}");
}

fn open_proposal(id: &str, created: i64) -> Value {
    json!({
        "id": id, "title": format!("Proposal {id}"), "body": "Body", "choices": ["For", "Against"],
        "start": created, "end": NOW + 86_400, "snapshot": "18000000", "state": "active",
        "author": "0x0000000000000000000000000000000000000abc", "created": created,
        "type": "single-choice", "discussion": "https://research.lido.fi/t/1",
        "space": { "id": if id == "0xopen" { "s.eth" } else if id.starts_with("0xnew") { "lido-snapshot.eth" } else { "s.eth" } }
    })
}
