//! Snapshot votes through the intent path against a loopback hub and a loopback sequencer that
//! verifies signatures: dry run by default, one vote, no second vote, a change only when asked,
//! a sequencer outage reconciled through the hub, the daily limit, forged envelopes refused.

use serde_json::json;
use steward_agent::sources::snapshot::parse_proposal;
use steward_agent::testkit::hub::MockHub;
use steward_agent::testkit::sequencer::MockSequencer;
use steward_agent::{CastContext, CastOrigin, CastStatus, Config, Keys, Network, cast_vote};
use steward_core::Limits;
use steward_eth::{Kdf, KeystorePassword};

use crate::new_store;

#[tokio::test]
async fn snapshot_votes_are_cast_once_changed_only_when_asked_and_reconciled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (home, mut store) = new_store(dir.path(), "store-pass");
    let keys = Keys::new(&home);
    let pw = KeystorePassword::new("kpw-kpw".into()).expect("pw");
    let me = keys.create(&pw, Kdf::Light).expect("key").address;

    let now = jiff::Timestamp::now().as_second();
    let raw = json!({
        "id": "0x5e1f000000000000000000000000000000000000000000000000000000000001",
        "title": "Fund three teams", "body": "Split the grant.", "choices": ["Alpha", "Beta", "Gamma"],
        "start": now - 60, "end": now + 86_400, "snapshot": "18000000", "state": "active",
        "author": "0x0000000000000000000000000000000000000abc", "created": now - 120,
        "type": "weighted", "space": { "id": "steward-test.eth" }
    });
    let p = parse_proposal(&raw, None, &Limits::default(), now).expect("proposal");
    store
        .transaction(|tx| tx.upsert_proposal(&p))
        .expect("store");
    let sp = store.proposal(&p.key()).expect("read").expect("stored");

    let hub = MockHub::start(vec![raw.clone()], vec![])
        .await
        .expect("hub");
    let seq = MockSequencer::start(Some(hub.votes_sink()))
        .await
        .expect("sequencer");
    let mut cfg = Config::default();
    cfg.snapshot.hub = hub.url.clone();
    cfg.snapshot.sequencer = seq.url.clone();
    let net = Network::from_config(&cfg).expect("network");

    // Off by default: a dry run, nothing sent, no password needed.
    let ctx = CastContext {
        config: &cfg,
        keys: &keys,
        password: None,
        network: &net,
    };
    let out = cast_vote(
        &mut store,
        ctx,
        &sp,
        r#"{"1":2,"3":1}"#,
        "",
        CastOrigin::Agent,
        false,
    )
    .await
    .expect("dry run");
    assert_eq!(out.status, CastStatus::DryRun);
    assert!(seq.accepted().is_empty());

    cfg.casting.enabled = true;
    let ctx = CastContext {
        config: &cfg,
        keys: &keys,
        password: Some(&pw),
        network: &net,
    };
    let out = cast_vote(
        &mut store,
        ctx,
        &sp,
        r#"{"3":1,"1":2}"#,
        "Alpha first",
        CastOrigin::User,
        false,
    )
    .await
    .expect("vote");
    assert_eq!(out.status, CastStatus::Confirmed, "{out:?}");
    assert_eq!(out.choice, r#"{"1":2,"3":1}"#);
    assert_eq!(seq.accepted().len(), 1);
    assert_eq!(
        seq.accepted()[0]["data"]["message"]["choice"],
        r#"{"1":2,"3":1}"#
    );
    let proposal_id = sp.proposal.id.clone();
    let sink = hub.votes_sink();
    assert_eq!(sink.count(&proposal_id, &format!("{me:#x}")), 1);

    // Not twice.
    let out = cast_vote(
        &mut store,
        ctx,
        &sp,
        r#"{"2":1}"#,
        "",
        CastOrigin::Agent,
        false,
    )
    .await
    .expect("second");
    assert_eq!(out.status, CastStatus::AlreadyVoted);
    assert_eq!(seq.accepted().len(), 1);

    // A change, asked for explicitly.
    let out = cast_vote(
        &mut store,
        ctx,
        &sp,
        r#"{"2":1}"#,
        "changed my mind",
        CastOrigin::User,
        true,
    )
    .await
    .expect("change");
    assert_eq!(out.status, CastStatus::Confirmed);
    assert_eq!(seq.accepted().len(), 2);
    let states: Vec<String> = store
        .cast_intents(Some(&sp.key))
        .expect("intents")
        .into_iter()
        .map(|i| i.state)
        .collect();
    assert_eq!(states, ["confirmed", "superseded", "dry-run"]);

    // The sequencer is down mid-submission: an error, the intent left for reconciliation; the
    // next attempt asks the hub (no vote from that attempt there), abandons it and votes once.
    let out = cast_vote(
        &mut store,
        ctx,
        &sp,
        r#"{"1":1}"#,
        "third",
        CastOrigin::User,
        true,
    )
    .await
    .expect("third");
    assert_eq!(out.status, CastStatus::Confirmed);
    seq.fail_next(1);
    let e = cast_vote(
        &mut store,
        ctx,
        &sp,
        r#"{"3":1}"#,
        "fourth",
        CastOrigin::User,
        true,
    )
    .await
    .expect_err("sequencer down");
    assert!(e.to_string().contains("503"), "{e}");
    let open: Vec<_> = store
        .cast_intents(Some(&sp.key))
        .expect("intents")
        .into_iter()
        .filter(|i| i.state == "signed")
        .collect();
    assert_eq!(open.len(), 1, "the maybe-sent vote stays live");
    // The hub has this key's earlier votes but none with the fourth's timestamp: the leftover
    // is abandoned, the third stays the live vote, nothing is sent.
    let out = cast_vote(
        &mut store,
        ctx,
        &sp,
        r#"{"3":1}"#,
        "fourth",
        CastOrigin::User,
        false,
    )
    .await
    .expect("after outage");
    assert_eq!(out.status, CastStatus::AlreadyVoted);
    assert_eq!(seq.accepted().len(), 3);
    assert!(
        store
            .cast_intents(Some(&sp.key))
            .expect("intents")
            .iter()
            .any(|i| i.state == "abandoned")
    );

    // The sequencer refuses the vote (it does not know the proposal): a clear error, the intent
    // `failed`, the replaced vote restored as the live one.
    seq.set_proposals(vec!["0xsomething-else".into()]);
    let e = cast_vote(
        &mut store,
        ctx,
        &sp,
        r#"{"2":3}"#,
        "refused",
        CastOrigin::User,
        true,
    )
    .await
    .expect_err("refused");
    assert!(
        e.to_string()
            .contains("refused the vote: \"unknown proposal"),
        "{e}"
    );
    let intents = store.cast_intents(Some(&sp.key)).expect("intents");
    assert_eq!(intents[0].state, "failed");
    assert_eq!(
        intents.iter().filter(|i| i.state == "confirmed").count(),
        1,
        "{intents:?}"
    );
    seq.set_proposals(Vec::new());

    // The daily limit.
    let mut tight = cfg.clone();
    tight.casting.max_votes_per_day = 1;
    let ctx2 = CastContext {
        config: &tight,
        keys: &keys,
        password: Some(&pw),
        network: &net,
    };
    let e = cast_vote(
        &mut store,
        ctx2,
        &sp,
        r#"{"1":1}"#,
        "",
        CastOrigin::Agent,
        true,
    )
    .await
    .expect_err("limit");
    assert!(e.to_string().contains("max_votes_per_day"), "{e}");
    // The daily value limit: this proposal states no amount, so any cap above what was already
    // voted on today lets it through, and a cap of zero refuses it with the numbers.
    let mut poor = cfg.clone();
    poor.casting.max_value_per_day = 0.0;
    let mut p2 = sp.clone();
    p2.proposal.body = "Split a grant of $250,000 between the three teams.".into();
    let ctx3 = CastContext {
        config: &poor,
        keys: &keys,
        password: Some(&pw),
        network: &net,
    };
    let e = cast_vote(
        &mut store,
        ctx3,
        &p2,
        r#"{"1":1}"#,
        "",
        CastOrigin::Agent,
        true,
    )
    .await
    .expect_err("value limit");
    assert!(
        e.to_string().contains("max_value_per_day") && e.to_string().contains("250000"),
        "{e}"
    );

    // A forged envelope (reason changed after signing) is refused as the real sequencer would.
    let mut forged = seq.accepted()[0].clone();
    forged["data"]["message"]["reason"] = json!("not what was signed");
    let resp = reqwest::Client::new()
        .post(&seq.url)
        .json(&forged)
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "client_error");
    assert!(
        seq.refused().iter().any(|r| r.contains("wrong signature")),
        "{:?}",
        seq.refused()
    );
    assert_eq!(seq.accepted().len(), 3);

    // Every step is in the audit log, and the chain verifies.
    let kinds: Vec<String> = store
        .audit_entries(None)
        .expect("audit")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for k in [
        "cast-dry-run",
        "vote-intent",
        "signature",
        "submission",
        "vote-reconciled",
    ] {
        assert!(kinds.iter().any(|x| x == k), "no {k} in {kinds:?}");
    }
    store.verify_audit().expect("read").expect("verifies");
}
