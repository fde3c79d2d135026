//! Snapshot votes through the intent path against a loopback hub and a loopback sequencer that
//! verifies signatures: dry run by default, one vote, no second vote, a change only when asked,
//! a sequencer outage followed by a resend of the same envelope, the daily limit, forged
//! envelopes refused; and a vote cut off mid-POST (a crash) with a hub that does not show it yet:
//! it stays live and is re-sent byte for byte, never signed again, until its proposal ends.

use serde_json::json;
use steward_agent::sources::snapshot::parse_proposal;
use steward_agent::testkit::hub::MockHub;
use steward_agent::testkit::sequencer::MockSequencer;
use steward_agent::{
    CastContext, CastOrigin, CastStatus, Config, Keys, Network, cast_vote, reconcile,
};
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
        .map(|i| i.state.as_str().to_owned())
        .collect();
    assert_eq!(states, ["confirmed", "superseded", "dry-run"]);

    // The sequencer is down mid-submission: an error, the intent left live; the next attempt
    // (whatever it asks for) sends the same signed envelope again, never a new signature.
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
        .filter(|i| i.state.as_str() == "signed")
        .collect();
    assert_eq!(open.len(), 1, "the maybe-sent vote stays live");
    let out = cast_vote(
        &mut store,
        ctx,
        &sp,
        r#"{"2":1}"#,
        "a different decision",
        CastOrigin::Agent,
        false,
    )
    .await
    .expect("after outage");
    assert_eq!(out.status, CastStatus::Confirmed, "{out:?}");
    assert_eq!(out.choice, r#"{"3":1}"#, "the signed vote, not the new ask");
    assert_eq!(seq.accepted().len(), 4);
    let got = seq.received();
    assert_eq!(
        got[got.len() - 1],
        got[got.len() - 2],
        "the same bytes again"
    );
    assert_eq!(seq.accepted()[3]["data"]["message"]["reason"], "fourth");

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
    assert_eq!(intents[0].state.as_str(), "failed");
    assert_eq!(
        intents
            .iter()
            .filter(|i| i.state.as_str() == "confirmed")
            .count(),
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
    assert_eq!(seq.accepted().len(), 4);

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
        "vote-resent",
    ] {
        assert!(kinds.iter().any(|x| x == k), "no {k} in {kinds:?}");
    }
    store.verify_audit().expect("read").expect("verifies");
}

/// issue 21 item 1: a vote cut off during the POST (the future dropped, as a crash drops it)
/// with a hub that does not show posted votes yet. Reconciliation keeps it live while the
/// proposal is open, the next call re-sends the stored envelope byte for byte (never a second
/// signature, whatever it is asked), and only once the proposal has ended is it abandoned.
#[tokio::test]
async fn a_snapshot_vote_cut_off_mid_post_is_resent_as_signed_never_signed_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (home, mut store) = new_store(dir.path(), "store-pass");
    let keys = Keys::new(&home);
    let pw = KeystorePassword::new("kpw-kpw".into()).expect("pw");
    keys.create(&pw, Kdf::Light).expect("key");

    let now = jiff::Timestamp::now().as_second();
    let proposal = |id: &str, end: i64, state: &str| {
        json!({
            "id": id, "title": "Renew the grant", "body": "One more year.",
            "choices": ["For", "Against", "Abstain"], "start": now - 60, "end": end,
            "snapshot": "18000000", "state": state,
            "author": "0x0000000000000000000000000000000000000abc", "created": now - 120,
            "type": "single-choice", "space": { "id": "steward-test.eth" }
        })
    };
    let id1 = "0x5e1f000000000000000000000000000000000000000000000000000000000011";
    let id2 = "0x5e1f000000000000000000000000000000000000000000000000000000000012";
    let mut stored = Vec::new();
    for raw in [
        proposal(id1, now + 86_400, "active"),
        proposal(id2, now + 86_400, "active"),
    ] {
        let p = parse_proposal(&raw, None, &Limits::default(), now).expect("proposal");
        store
            .transaction(|tx| tx.upsert_proposal(&p))
            .expect("store");
        stored.push(store.proposal(&p.key()).expect("read").expect("stored"));
    }
    let hub = MockHub::start(
        vec![
            proposal(id1, now + 86_400, "active"),
            proposal(id2, now + 86_400, "active"),
        ],
        vec![],
    )
    .await
    .expect("hub");
    // No sink: the hub never shows what the sequencer took (it lags behind it).
    let seq = MockSequencer::start(None).await.expect("sequencer");
    let mut cfg = Config::default();
    cfg.snapshot.hub = hub.url.clone();
    cfg.snapshot.sequencer = seq.url.clone();
    cfg.casting.enabled = true;
    let net = Network::from_config(&cfg).expect("network");
    let ctx = CastContext {
        config: &cfg,
        keys: &keys,
        password: Some(&pw),
        network: &net,
    };
    let states = |store: &steward_agent::Store, key: &str| -> Vec<String> {
        store
            .cast_intents(Some(key))
            .expect("intents")
            .into_iter()
            .map(|i| i.state.as_str().to_owned())
            .collect()
    };

    // The sequencer takes the POST and never answers; the call is dropped mid-request.
    seq.stall_next(1);
    let cut = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        cast_vote(
            &mut store,
            ctx,
            &stored[0],
            "For",
            "first",
            CastOrigin::Agent,
            false,
        ),
    )
    .await;
    assert!(cut.is_err(), "the POST was cut off: {cut:?}");
    assert_eq!(seq.received().len(), 1);
    assert_eq!(states(&store, &stored[0].key), ["signed"]);

    // Start-up reconciliation: no vote on the hub, but the proposal is open and the vote may
    // have landed: it stays live.
    let r = reconcile(&mut store, ctx).await.expect("reconcile");
    assert!(r.is_empty(), "{r:?}");
    assert_eq!(states(&store, &stored[0].key), ["signed"]);

    // A later second and another decision: the stored envelope goes out again, unchanged.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let out = cast_vote(
        &mut store,
        ctx,
        &stored[0],
        "Against",
        "second thoughts",
        CastOrigin::Agent,
        false,
    )
    .await
    .expect("resend");
    assert_eq!(out.status, CastStatus::Confirmed, "{out:?}");
    assert_eq!(out.choice, "1", "the vote that was signed");
    let got = seq.received();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], got[1], "one signature, sent twice byte for byte");
    assert_eq!(states(&store, &stored[0].key), ["confirmed"]);
    // And again: settled, nothing sent.
    let out = cast_vote(
        &mut store,
        ctx,
        &stored[0],
        "Against",
        "third",
        CastOrigin::Agent,
        false,
    )
    .await
    .expect("third call");
    assert_eq!(out.status, CastStatus::AlreadyVoted);
    assert_eq!(seq.received().len(), 2);

    // The second proposal: cut off the same way, then the proposal ends with no vote visible:
    // only now is the intent abandoned (it can no longer be counted).
    seq.stall_next(1);
    let cut = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        cast_vote(
            &mut store,
            ctx,
            &stored[1],
            "Abstain",
            "",
            CastOrigin::Agent,
            false,
        ),
    )
    .await;
    assert!(cut.is_err(), "{cut:?}");
    let r = reconcile(&mut store, ctx).await.expect("reconcile");
    assert!(r.is_empty(), "{r:?}");
    let ended = parse_proposal(
        &proposal(id2, now - 1, "closed"),
        None,
        &Limits::default(),
        now,
    )
    .expect("proposal");
    store
        .transaction(|tx| tx.upsert_proposal(&ended))
        .expect("store");
    let r = reconcile(&mut store, ctx).await.expect("reconcile");
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(states(&store, &stored[1].key), ["abandoned"]);
    assert_eq!(seq.received().len(), 3, "nothing re-sent once it ended");
    store.verify_audit().expect("read").expect("verifies");
}

/// A vote by the same key that Steward did not send (another client, or records lost) is on
/// the hub: nothing is signed, the refusal is typed and recorded as a failed intent, so the
/// round's resume stage settles the proposal instead of asking the hub and logging an error
/// every round; `--change` still replaces it.
#[tokio::test]
async fn a_vote_already_on_the_hub_is_refused_once_and_settles_the_proposal() {
    use steward_agent::pipeline::stages::resume_choice;
    use steward_core::DecisionAction;

    let dir = tempfile::tempdir().expect("tempdir");
    let (home, mut store) = new_store(dir.path(), "store-pass");
    let keys = Keys::new(&home);
    let pw = KeystorePassword::new("kpw-kpw".into()).expect("pw");
    let me = keys.create(&pw, Kdf::Light).expect("key").address;

    let now = jiff::Timestamp::now().as_second();
    let id = "0x5e1f0000000000000000000000000000000000000000000000000000000000aa";
    let raw = json!({
        "id": id, "title": "Raise the cap", "body": "Raise it.", "choices": ["For", "Against", "Abstain"],
        "start": now - 60, "end": now + 86_400, "snapshot": "18000000", "state": "active",
        "author": "0x0000000000000000000000000000000000000abc", "created": now - 120,
        "type": "single-choice", "space": { "id": "steward-test.eth" }
    });
    let p = parse_proposal(&raw, None, &Limits::default(), now).expect("proposal");
    store
        .transaction(|tx| tx.upsert_proposal(&p))
        .expect("store");
    let sp = store.proposal(&p.key()).expect("read").expect("stored");
    let elsewhere = json!({ "id": "v-other-client", "voter": me.to_checksum(None), "created": now - 30,
        "choice": 2, "vp": 1.0, "reason": "", "proposal": { "id": id } });
    let hub = MockHub::start(vec![raw], vec![elsewhere])
        .await
        .expect("hub");
    let seq = MockSequencer::start(Some(hub.votes_sink()))
        .await
        .expect("sequencer");
    let mut cfg = Config::default();
    cfg.snapshot.hub = hub.url.clone();
    cfg.snapshot.sequencer = seq.url.clone();
    cfg.casting.enabled = true;
    let net = Network::from_config(&cfg).expect("network");
    let ctx = CastContext {
        config: &cfg,
        keys: &keys,
        password: Some(&pw),
        network: &net,
    };

    let err = cast_vote(&mut store, ctx, &sp, "1", "", CastOrigin::Agent, false)
        .await
        .expect_err("already voted");
    assert_eq!(err.kind(), "already-voted", "{err}");
    assert!(err.to_string().contains("--change"), "{err}");
    assert!(seq.accepted().is_empty(), "nothing sent");
    let intents = store.cast_intents(Some(&sp.key)).expect("intents");
    let states: Vec<_> = intents.iter().map(|i| i.state).collect();
    assert_eq!(
        states.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        ["failed"]
    );
    // The resume stage has nothing left to do on this proposal.
    assert_eq!(
        resume_choice(DecisionAction::Vote, Some("1"), &states),
        None
    );

    // Asked for explicitly, the change goes out (and counts on the hub).
    let out = cast_vote(&mut store, ctx, &sp, "1", "", CastOrigin::User, true)
        .await
        .expect("change");
    assert_eq!(out.status, CastStatus::Confirmed, "{out:?}");
    assert_eq!(seq.accepted().len(), 1);
}
