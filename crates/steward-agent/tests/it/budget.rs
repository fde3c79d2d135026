//! The question budget on real proposals (issue 15 item 5): a round over many open proposals
//! ends with at most the budget of questions and a digest listing every proposal it neither
//! voted nor asked; the day's budget carries over to the next round; the digest is in the store.

use std::path::Path;

use steward_agent::decide::{DecideOptions, Engines};
use steward_agent::digest::Outcome;
use steward_agent::profile::{ItemKind, VoteRecord};
use steward_agent::testkit::hub::load_daocensus;
use steward_agent::{
    Caster, Config, Pipeline, RoundOptions, RoundReport, Store, UnaskedAction, ingest_file,
};
use steward_core::{DecisionAction, Limits};
use steward_ml::{BertEmbedder, EngineInfo, GenerateRequest, Generation, Generator};

use crate::new_store;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

/// `n` real DAO Census proposals from `skip` on, round-robin over the DAOs, made open for a week.
fn open_proposals(n: usize, skip: usize, now: i64) -> Option<Vec<serde_json::Value>> {
    let census = Path::new(DATA).join("snapshot-daocensus");
    let mut daos: Vec<String> = std::fs::read_dir(&census)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("proposals.jsonl").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    daos.sort();
    let mut per_dao: Vec<_> = daos
        .iter()
        .map(|d| load_daocensus(&census, d, now).expect("load").into_iter())
        .collect();
    let mut all = Vec::new();
    while all.len() < n + skip {
        let before = all.len();
        for it in &mut per_dao {
            if let Some(mut v) = it.next() {
                v["state"] = "active".into();
                v["start"] = (now - 3_600).into();
                v["end"] = (now + 3 * 86_400).into();
                all.push(v);
            }
        }
        assert!(
            all.len() > before,
            "only {} proposals in the data",
            all.len()
        );
    }
    Some(all.into_iter().skip(skip).take(n).collect())
}

fn ingest(store: &mut Store, dir: &Path, name: &str, props: &[serde_json::Value], now: i64) {
    let file = dir.join(name);
    std::fs::write(
        &file,
        props.iter().map(|v| format!("{v}\n")).collect::<String>(),
    )
    .expect("write");
    ingest_file(store, &file, &Limits::default(), now).expect("ingest");
}

async fn round(
    store: &mut Store,
    home: &steward_agent::Home,
    cfg: &Config,
    emb: &mut BertEmbedder,
) -> RoundReport {
    round_with(store, home, cfg, emb, None).await
}

async fn round_with<'a>(
    store: &mut Store,
    home: &steward_agent::Home,
    cfg: &Config,
    emb: &'a mut BertEmbedder,
    generator: Option<&'a mut dyn Generator>,
) -> RoundReport {
    let caster = Caster::new(home, cfg, None).expect("caster");
    let opts = RoundOptions {
        sync: false,
        decide: DecideOptions {
            policy: cfg.decide.policy(),
            seed: 0,
        },
    };
    let mut pipeline = Pipeline::new(store, cfg, home).expect("pipeline");
    let prepared = pipeline
        .prepare(&caster, &opts, &[], &mut |_| {})
        .await
        .expect("prepare");
    let mut engines = Engines {
        embedder: emb,
        generator,
    };
    pipeline
        .decide_all(&caster, prepared, &mut engines, &opts.decide)
        .await
}

fn count(r: &RoundReport, a: DecisionAction) -> usize {
    r.decided.iter().filter(|o| o.action == a).count()
}

#[tokio::test]
async fn a_round_asks_at_most_its_budget_and_lists_the_rest_in_a_digest() {
    let test = "a_round_asks_at_most_its_budget_and_lists_the_rest_in_a_digest";
    let now = jiff::Timestamp::now().as_second();
    let Some(first) = open_proposals(40, 0, now) else {
        steward_testing::skip(
            steward_testing::Need::Data,
            test,
            format_args!("{DATA}/snapshot-daocensus is absent"),
        );
        return;
    };
    let Some(mut emb) = crate::decide::embedder(test) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (home, mut store) = new_store(dir.path(), "budget-pass");
    store
        .transaction(|tx| {
            tx.add_profile_item(
                ItemKind::Statement,
                "Treasury grants should have milestones and public reporting.",
                "test",
                None,
            )?;
            tx.add_profile_item(
                ItemKind::Statement,
                "I oppose new token emissions that dilute long-term holders.",
                "test",
                None,
            )
        })
        .expect("profile");
    ingest(&mut store, dir.path(), "first.jsonl", &first, now);
    let mut cfg = Config::default();
    cfg.decide.questions_per_round = 6;
    cfg.decide.questions_per_day = 9;

    let r = round(&mut store, &home, &cfg, &mut emb).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.decided.len(), 40);
    let q = r.questions.expect("budget");
    let asks = count(&r, DecisionAction::Ask);
    let votes = count(&r, DecisionAction::Vote);
    assert_eq!(asks as u32, q.asked);
    // A small profile is unsure of most of 40 proposals: the budget, not the policy, binds.
    assert_eq!((q.allowed, q.critical), (6, 0), "{q:?}");
    assert_eq!(asks, 6, "{q:?}");
    // Every proposal neither voted nor asked is in the digest, once.
    assert_eq!(r.digest.len(), 40 - asks - votes, "{q:?}");
    let mut keys: Vec<&str> = r.digest.iter().map(|l| l.proposal.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), r.digest.len());
    assert!(r.digest.iter().all(|l| l.outcome == Outcome::Skipped));
    // A verdict the budget overrode is restated: nothing asked says "I skip it", nothing in
    // the digest says "I ask you".
    for o in &r.decided {
        match o.action {
            DecisionAction::Ask => assert!(!o.why.contains("So I skip it"), "{}", o.why),
            DecisionAction::Skip => assert!(!o.why.contains("So I ask you"), "{}", o.why),
            DecisionAction::Vote => {}
        }
    }
    // ... and in the store, beside the decisions.
    assert_eq!(
        store.digest(now - 60).expect("digest").len(),
        r.digest.len()
    );
    // The open questions say why they were asked.
    let open = store.questions(false, now).expect("questions");
    assert_eq!(open.len(), 6);
    assert!(
        open.iter()
            .all(|q| q.context.why_asking.contains("this round allows")),
        "{:?}",
        open.iter()
            .map(|q| &q.context.why_asking)
            .collect::<Vec<_>>()
    );

    // The next round, with new proposals, has only what is left of the day: 9 - 6 = 3.
    let second = open_proposals(20, 40, now).expect("data");
    ingest(&mut store, dir.path(), "second.jsonl", &second, now);
    cfg.decide.unasked = UnaskedAction::Abstain;
    let r2 = round(&mut store, &home, &cfg, &mut emb).await;
    assert!(r2.errors.is_empty(), "{:?}", r2.errors);
    let q2 = r2.questions.expect("budget");
    assert_eq!((q2.opened_today, q2.allowed), (6, 3), "{q2:?}");
    assert_eq!(count(&r2, DecisionAction::Ask), 3);
    // Under `unasked = abstain`, a digest line on a proposal that offers Abstain is a vote for it.
    for line in &r2.digest {
        let o = r2
            .decided
            .iter()
            .find(|o| o.proposal == line.proposal)
            .expect("decided");
        if line.outcome == Outcome::Abstained {
            assert_eq!(o.action, DecisionAction::Vote);
            assert_eq!(
                o.choice.as_deref().map(str::to_lowercase).as_deref(),
                Some("abstain")
            );
        } else {
            assert_eq!(o.action, DecisionAction::Skip);
        }
    }
    assert!(
        r2.digest.iter().any(|l| l.outcome == Outcome::Abstained),
        "no proposal among 20 offered Abstain: {:?}",
        r2.digest.iter().map(|l| &l.title).collect::<Vec<_>>()
    );
}

/// A local model that fails every call, and counts the calls.
struct Counting(u32);

impl Generator for Counting {
    fn generate(
        &mut self,
        _: &GenerateRequest,
        _: &mut dyn FnMut(&str),
    ) -> steward_ml::Result<Generation> {
        self.0 += 1;
        Err(steward_ml::Error::Worker("engine crashed".into()))
    }
    fn info(&self) -> EngineInfo {
        EngineInfo {
            engine: "counting".into(),
            model: "counting".into(),
            sha256: None,
            context: None,
            confined: None,
        }
    }
}

/// Issue 14: the round asks the local model only about the questions it opens (its reading is
/// shown to the person who answers and is not pooled), so a round over many proposals costs a
/// few judgements, not one per proposal; a model that fails still leaves those questions asked.
#[tokio::test]
async fn a_round_asks_the_local_model_only_about_its_questions() {
    let test = "a_round_asks_the_local_model_only_about_its_questions";
    let now = jiff::Timestamp::now().as_second();
    let Some(props) = open_proposals(40, 0, now) else {
        steward_testing::skip(
            steward_testing::Need::Data,
            test,
            format_args!("{DATA}/snapshot-daocensus is absent"),
        );
        return;
    };
    let Some(mut emb) = crate::decide::embedder(test) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (home, mut store) = new_store(dir.path(), "judge-pass");
    // A vote history (12 earlier votes, mixed), so the voter model backs every decision and
    // the model has something to judge each proposal against.
    let votes: Vec<VoteRecord> = (0..12)
        .map(|i| VoteRecord {
            voter: "me".into(),
            is_user: true,
            proposal_ref: format!("old{i}"),
            title: format!("Earlier proposal number {i} on grants and fees"),
            choice: if i % 3 == 0 { "Against" } else { "For" }.into(),
            reason: None,
            ord: Some(i),
            origin: "test".into(),
        })
        .collect();
    store
        .transaction(|tx| tx.insert_profile_votes(&votes))
        .expect("votes");
    ingest(&mut store, dir.path(), "open.jsonl", &props, now);
    let mut cfg = Config::default();
    cfg.decide.questions_per_round = 5;
    cfg.decide.questions_per_day = 5;

    let mut model = Counting(0);
    let r = round_with(&mut store, &home, &cfg, &mut emb, Some(&mut model)).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let q = r.questions.expect("budget");
    assert_eq!(r.decided.len(), 40);
    // Called for the asked questions only, once each, and it judged some of them.
    assert_eq!(model.0, q.judged, "{q:?}");
    assert!(
        q.judged > 0 && q.judged <= q.asked,
        "{q:?} {:#?}",
        r.decided
            .iter()
            .filter(|o| o.action == DecisionAction::Ask)
            .map(|o| &o.why)
            .collect::<Vec<_>>()
    );
    assert_eq!(count(&r, DecisionAction::Ask) as u32, q.asked);
    // Its failure is on the questions it was asked about, which stay questions.
    let failed: Vec<_> = r
        .decided
        .iter()
        .filter(|o| o.why.contains("engine crashed"))
        .collect();
    assert_eq!(failed.len() as u32, q.judged);
    assert!(failed.iter().all(|o| o.action == DecisionAction::Ask));
}
