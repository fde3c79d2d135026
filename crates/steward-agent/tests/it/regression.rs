//! Regression tests, each named after what broke.

use serde_json::json;
use steward_agent::decide::record_decision;
use steward_agent::sources::snapshot::parse_proposal;
use steward_agent::testkit::hub::MockHub;
use steward_agent::testkit::sequencer::MockSequencer;
use steward_agent::{
    CastContext, CastOrigin, Caster, Config, IntentState, Keys, Network, Pipeline, RoundOptions,
    cast_vote,
};
use steward_core::{Decision, Limits};
use steward_eth::{Kdf, KeystorePassword};

use crate::new_store;

fn states(store: &steward_agent::Store, key: &str) -> Vec<IntentState> {
    store
        .cast_intents(Some(key))
        .expect("intents")
        .into_iter()
        .map(|i| i.state)
        .collect()
}

/// Found by the crash soak (crates/steward/tests/it/soak.rs, issue 21): `steward run` recorded a
/// `vote` decision and then cast it; killed in between (or after the intent, or with the signed
/// envelope cut off mid-POST), the restarted round saw the proposal as decided in its content
/// and never cast it: 6 of 16 decided votes were lost in a 15-kill soak. The round now resumes a
/// decided vote whose cast never finished, re-sending a signed one as stored, once.
#[tokio::test]
async fn regression_a_vote_decided_before_a_kill_was_never_cast() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (home, mut store) = new_store(dir.path(), "store-pass");
    let keys = Keys::new(&home);
    let pw = KeystorePassword::new("kpw-kpw".into()).expect("pw");
    keys.create(&pw, Kdf::Light).expect("key");

    let now = jiff::Timestamp::now().as_second();
    let raw = |n: u8| {
        json!({
            "id": format!("0x5e1f{n:060x}"),
            "title": format!("Fund audit {n}"), "body": "Pays the auditors.",
            "choices": ["For", "Against", "Abstain"],
            "start": now - 60, "end": now + 86_400, "snapshot": "1", "state": "active",
            "author": "0x0000000000000000000000000000000000000abc", "created": now - 120,
            "type": "single-choice", "space": { "id": "steward-test.eth" }
        })
    };
    let hub = MockHub::start((1..=3).map(raw).collect(), vec![])
        .await
        .expect("hub");
    // No sink for now: the hub does not show what the sequencer took.
    let seq = MockSequencer::start(None).await.expect("sequencer");
    let mut cfg = Config::default();
    cfg.snapshot.hub = hub.url.clone();
    cfg.snapshot.sequencer = seq.url.clone();
    cfg.casting.enabled = true;
    let net = Network::from_config(&cfg).expect("network");

    let mut keys_of = Vec::new();
    for n in 1..=3 {
        let p = parse_proposal(&raw(n), None, &Limits::default(), now).expect("proposal");
        store
            .transaction(|tx| tx.upsert_proposal(&p))
            .expect("store");
        let d: Decision = serde_json::from_value(json!({
            "proposal": p.key(), "title": p.title, "choice": "For",
            "choices": ["For", "Against", "Abstain"], "probabilities": [0.95, 0.03, 0.02],
            "confidence": 0.95, "importance": 0.5, "action": "vote", "rationale": "audits",
            "evidence": [], "flags": [], "models": [], "seed": 0, "importance_reasons": []
        }))
        .expect("decision");
        // The decision is recorded; the process dies before dispatch casts it.
        record_decision(&mut store, &d, &p, None, None).expect("record");
        keys_of.push(p.key());
    }
    // The second one got further: signed, and the POST cut off (the sequencer never answers).
    seq.stall_next(1);
    let sp = store.proposal(&keys_of[1]).expect("read").expect("stored");
    let ctx = CastContext {
        config: &cfg,
        keys: &keys,
        password: Some(&pw),
        network: &net,
    };
    let cut = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        cast_vote(&mut store, ctx, &sp, "For", "", CastOrigin::Agent, false),
    )
    .await;
    assert!(cut.is_err(), "{cut:?}");
    assert_eq!(states(&store, &keys_of[1]), [IntentState::Signed]);
    // The third was refused for good (the sequencer does not know the proposal: a final 4xx),
    // which is not retried.
    seq.set_proposals(vec![
        format!("0x5e1f{:060x}", 1),
        format!("0x5e1f{:060x}", 2),
    ]);
    let sp = store.proposal(&keys_of[2]).expect("read").expect("stored");
    let refused = cast_vote(&mut store, ctx, &sp, "For", "", CastOrigin::Agent, false).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(states(&store, &keys_of[2]), [IntentState::Failed]);
    let cut_off = seq.received()[0].clone();
    assert_eq!(seq.received().len(), 2);

    // The restart's round, without syncing: the decided votes go out, the signed one as stored.
    let caster = Caster::new(
        &home,
        &cfg,
        Some(KeystorePassword::new("kpw-kpw".into()).expect("pw")),
    )
    .expect("caster");
    let opts = RoundOptions {
        sync: false,
        ..RoundOptions::default()
    };
    let prepared = {
        let mut pipeline = Pipeline::new(&mut store, &cfg, &home).expect("pipeline");
        pipeline
            .prepare(&caster, &opts, &[], &mut |_| {})
            .await
            .expect("prepare")
    };
    assert!(prepared.synced.todo.is_empty(), "nothing is decided again");
    assert_eq!(prepared.report.resumed.len(), 2, "{:?}", prepared.report);
    let got = seq.received();
    assert_eq!(
        got.len(),
        4,
        "two more: the first vote and the re-sent one: {got:?}"
    );
    assert_eq!(
        got.iter().filter(|b| **b == cut_off).count(),
        2,
        "the signed envelope re-sent byte for byte, never signed again"
    );
    assert_eq!(seq.accepted().len(), 2);
    assert_eq!(states(&store, &keys_of[0]), [IntentState::Confirmed]);
    assert_eq!(states(&store, &keys_of[1]), [IntentState::Confirmed]);
    assert_eq!(states(&store, &keys_of[2]), [IntentState::Failed]);

    // And once settled, another round sends nothing.
    let prepared = {
        let mut pipeline = Pipeline::new(&mut store, &cfg, &home).expect("pipeline");
        pipeline
            .prepare(&caster, &opts, &[], &mut |_| {})
            .await
            .expect("prepare")
    };
    assert!(prepared.report.resumed.is_empty(), "{:?}", prepared.report);
    assert_eq!(seq.received().len(), 4);
    store.verify_audit().expect("read").expect("verifies");
}
