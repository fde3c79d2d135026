//! `eval_votes` on the real Arbitrum delegate votes (../shared/data), and on small files with
//! bad rows, a separate test file and a test file without labels.

use std::io::Write as _;
use std::path::PathBuf;

use steward_agent::{
    EvalEngines, EvalError, EvalMode, EvalOptions, EvalReport, eval_votes, eval_votes_with,
};
use steward_core::{EngineFailure, Judgement};

fn data() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/arbitrum-snapshot-delegates/votes.csv"
    ));
    if p.is_file() {
        Some(p)
    } else {
        steward_testing::skip(
            steward_testing::Need::Data,
            "eval",
            format_args!("{} is absent", p.display()),
        );
        None
    }
}

/// What blind mode must add to voter-majority (see docs/eval.md for why 0.05 is out of reach).
const BLIND_MARGIN: f64 = 0.02;

fn opts(train: PathBuf, test: Option<PathBuf>, mode: EvalMode) -> EvalOptions {
    let mut o = EvalOptions::new(train);
    o.test = test;
    o.mode = mode;
    o
}

fn run(o: &EvalOptions) -> Result<EvalReport, EvalError> {
    eval_votes(o, None, &mut |_, _| {}, None)
}

/// The regression gate of issue 5, on the split the issue measured (3,673 test votes of 156
/// voters): live mode beats each voter's own majority by 5 points; blind mode, which cannot see
/// any vote on a test proposal and has only its title (docs/eval.md: even the majority of all
/// votes on the proposal scores 0.70 here), by BLIND_MARGIN; both stay calibrated.
#[test]
fn real_votes_beat_voter_majority_by_five_points() {
    let Some(votes) = data() else { return };
    for mode in [EvalMode::Blind, EvalMode::FinalTallies] {
        let r = run(&opts(votes.clone(), None, mode)).expect("eval runs");
        eprintln!(
            "{mode:?}: forced {:?} auto {:?} coverage {:.3} ece {:?} majority {:?} ({:.1} s)",
            r.forced_accuracy,
            r.auto_accuracy,
            r.coverage,
            r.ece,
            r.baselines.voter_majority,
            r.seconds
        );
        assert_eq!((r.n_test, r.n_voters), (3673, 156));
        let majority = r.baselines.voter_majority.expect("labelled");
        assert!(
            (majority - 0.656).abs() < 0.001,
            "voter-majority {majority}"
        );
        let always = r.baselines.always_for.expect("labelled");
        assert!((always - 0.558).abs() < 0.001, "always-For {always}");
        let forced = r.forced_accuracy.expect("labelled");
        let margin = match mode {
            EvalMode::Blind => BLIND_MARGIN,
            _ => 0.05,
        };
        assert!(
            forced >= majority + margin,
            "{mode:?}: forced accuracy {forced:.3} is below voter-majority {majority:.3} + {margin}"
        );
        let ece = r.ece.expect("labelled");
        assert!(ece <= 0.05, "{mode:?}: ECE {ece:.3}");
    }
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    let mut f = std::fs::File::create(&p).expect("create");
    f.write_all(text.as_bytes()).expect("write");
    p
}

/// 3 voters x 30 proposals; "a" copies "b" except on grants, where "a" is against.
fn synthetic(rows_with_errors: bool) -> String {
    let mut s = String::from("voter,proposal_id,choice,title,order_rank,winning_choice\n");
    for i in 0..30 {
        let grant = i % 3 == 0;
        let title = if grant {
            format!("Grant for team {i}")
        } else {
            format!("Upgrade {i}")
        };
        let b = if i % 4 == 0 { "Against" } else { "For" };
        let a = if grant { "Against" } else { b };
        // The winning_choice column lies; it must never be read.
        for (v, c) in [("a", a), ("b", b), ("c", "For")] {
            s.push_str(&format!("{v},p{i},{c},\"{title}\",{i},Abstain\n"));
        }
    }
    if rows_with_errors {
        s.push_str("a,p99,For,Late,not-a-number,For\n");
        s.push_str(",p98,For,No voter,5,For\n");
    }
    s
}

#[test]
fn bad_rows_are_reported_with_file_line_and_column_and_the_rest_is_scored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let train = write(dir.path(), "votes.csv", &synthetic(true));
    let mut o = opts(train, None, EvalMode::Blind);
    o.min_votes = 25;
    let r = run(&o).expect("eval runs");
    assert_eq!(r.skipped_rows.len(), 2, "{:?}", r.skipped_rows);
    let e = &r.skipped_rows[0];
    assert!(e.file.ends_with("votes.csv"));
    assert_eq!((e.line, e.column.as_str()), (92, "order_rank"));
    assert_eq!(
        (r.skipped_rows[1].line, r.skipped_rows[1].column.as_str()),
        (93, "voter")
    );
    // Each of the 3 voters: 30 votes, 21 train, 9 test.
    assert_eq!((r.n_voters, r.n_test), (3, 27));
    assert!(r.forced_accuracy.expect("labelled") > 0.5);
}

#[test]
fn a_test_file_without_choices_only_predicts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let train = write(dir.path(), "votes.csv", &synthetic(false));
    let test = write(
        dir.path(),
        "test.csv",
        "voter,proposal_id,title,order_rank\na,p100,Grant for team X,100\na,p101,Upgrade X,101\n",
    );
    let mut predictions = Vec::new();
    let r = eval_votes(
        &opts(train, Some(test), EvalMode::Blind),
        None,
        &mut |_, _| {},
        Some(&mut predictions),
    )
    .expect("eval runs");
    assert_eq!(r.forced_accuracy, None);
    assert_eq!(r.n_test, 2);
    let lines: Vec<serde_json::Value> = String::from_utf8(predictions)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["proposal_id"], "p100");
    assert_eq!(lines[0]["choice"], "Against", "{}", lines[0]);
    assert_eq!(lines[1]["choice"], "For", "{}", lines[1]);
    for l in &lines {
        let sum: f64 = l["probabilities"]
            .as_object()
            .expect("object")
            .values()
            .map(|v| v.as_f64().expect("number"))
            .sum();
        assert!((sum - 1.0).abs() < 1e-9);
        assert!(["vote", "ask", "skip"].contains(&l["action"].as_str().expect("action")));
    }
}

#[test]
fn live_mode_sees_other_voters_votes_and_blind_mode_does_not() {
    // "a" votes like "b" on every proposal, and "b" flips a coin by title: only live mode can
    // know; blind mode must not be better than the base rate.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = String::from("voter,proposal_id,choice,title,order_rank\n");
    for i in 0..60 {
        let c = if (i * 7 + 3) % 5 < 2 {
            "Against"
        } else {
            "For"
        };
        for v in ["a", "b"] {
            s.push_str(&format!("{v},p{i},{c},Proposal {i},{i}\n"));
        }
    }
    // Only "a" is evaluated; "b" is a peer whose votes on a's test proposals are in the train
    // file (a separate test file holds a's late votes).
    let (train_rows, test_rows): (Vec<&str>, Vec<&str>) = s.lines().skip(1).partition(|l| {
        !(l.starts_with("a,")
            && l.split(',')
                .nth(4)
                .is_some_and(|o| o.parse::<u32>().is_ok_and(|o| o >= 40)))
    });
    let header = "voter,proposal_id,choice,title,order_rank\n";
    let train = write(
        dir.path(),
        "train.csv",
        &format!("{header}{}\n", train_rows.join("\n")),
    );
    let test = write(
        dir.path(),
        "test.csv",
        &format!("{header}{}\n", test_rows.join("\n")),
    );
    let live = run(&opts(
        train.clone(),
        Some(test.clone()),
        EvalMode::FinalTallies,
    ))
    .expect("live");
    let blind = run(&opts(train, Some(test), EvalMode::Blind)).expect("blind");
    assert_eq!(live.n_test, 20);
    assert!(live.forced_accuracy.expect("labelled") >= 0.95, "{live:?}");
    assert!(blind.forced_accuracy.expect("labelled") <= 0.8, "{blind:?}");
}

#[test]
fn missing_columns_and_bad_options_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let train = write(dir.path(), "votes.csv", "voter,choice\na,For\n");
    let e = run(&opts(train.clone(), None, EvalMode::Blind)).expect_err("no proposal_id");
    assert!(e.to_string().contains("no `proposal_id` column"), "{e}");
    let mut o = opts(train, None, EvalMode::Blind);
    o.split = 1.5;
    assert!(run(&o).expect_err("split").to_string().contains("--split"));
}

/// The eval decides with `decide`'s policy: every row is voted, asked or skipped, and the voter
/// model alone is reported beside it on the same rows.
#[test]
fn the_eval_runs_the_decision_policy_and_reports_the_voter_model_beside_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let train = write(dir.path(), "votes.csv", &synthetic(false));
    let mut o = opts(train, None, EvalMode::Blind);
    o.min_votes = 25;
    let r = run(&o).expect("eval runs");
    let p = r.policy;
    assert_eq!(p.vote + p.ask + p.skip, r.n_test, "{p:?}");
    assert_eq!(r.llm.used, 0);
    // No text and no local model: the decision's probabilities are the voter model's.
    assert_eq!(r.forced_accuracy, r.voter_model.forced_accuracy);
    assert!((r.coverage - p.vote as f64 / r.n_test as f64).abs() < 1e-9);
    // A stricter policy casts fewer votes.
    o.policy.min_confidence_low = 1.0;
    o.policy.min_confidence_high = 1.0;
    let strict = run(&o).expect("eval runs");
    assert_eq!(strict.policy.vote, 0, "{:?}", strict.policy);
    assert_eq!(strict.auto_accuracy, None);
}

#[test]
fn limit_decides_a_seeded_sample() {
    let dir = tempfile::tempdir().expect("tempdir");
    let train = write(dir.path(), "votes.csv", &synthetic(false));
    let mut o = opts(train, None, EvalMode::Blind);
    o.min_votes = 25;
    o.limit = Some(10);
    let a = run(&o).expect("eval runs");
    let b = run(&o).expect("eval runs");
    assert_eq!(a.n_test, 10);
    assert_eq!(a.forced_accuracy, b.forced_accuracy);
    let per: usize = a.per_voter.iter().map(|v| v.n_test).sum();
    assert_eq!(per, 10);
}

/// A local model that fails, or answers in the wrong shape, never lets the eval's decisions
/// vote: the same rule as `decide`.
#[test]
fn a_failing_local_model_keeps_the_eval_from_voting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let train = write(dir.path(), "votes.csv", &synthetic(false));
    let mut o = opts(train, None, EvalMode::Blind);
    o.min_votes = 25;
    let base = run(&o).expect("eval runs");
    assert!(base.policy.vote > 0, "{:?}", base.policy);
    let mut crashing = |_: &steward_agent::decide::ReadableProposal,
                        _: &[String],
                        _: &[steward_core::Evidence]| {
        Judgement::Failed(EngineFailure::Generator {
            model: "m".into(),
            message: "crashed".into(),
        })
    };
    let r = eval_votes_with(
        &o,
        EvalEngines {
            embed: None,
            judge: Some(&mut crashing),
        },
        &mut |_, _| {},
        None,
    )
    .expect("eval runs");
    assert_eq!(r.policy.vote, 0, "{:?}", r.policy);
    assert_eq!(r.llm.failed, r.n_test);
    assert_eq!(r.forced_accuracy, base.forced_accuracy);
}

/// A profile file needs embeddings; bad rows in it name file, line and column.
#[test]
fn a_profile_without_embeddings_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let train = write(dir.path(), "votes.csv", &synthetic(false));
    let profile = write(
        dir.path(),
        "profile.csv",
        "voter,kind,text\na,statement,I oppose grants\n",
    );
    let mut o = opts(train, None, EvalMode::Blind);
    o.min_votes = 25;
    o.profile = Some(profile);
    let e = run(&o).expect_err("needs --embed");
    assert!(matches!(e, EvalError::ProfileNeedsEmbeddings { .. }), "{e}");
    assert!(e.to_string().contains("profile.csv"), "{e}");
}

/// Statements reach the eval's decisions, as they reach `decide`'s: a voter whose history says
/// For on everything but who states opposition to marketing spending is predicted Against on
/// marketing proposals only with the statement. Uses the real embedded MiniLM.
#[test]
fn statements_move_the_evals_decisions_like_decides() {
    let dir_models = std::env::var_os("STEWARD_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models")));
    if let Some(f) = steward_ml::spec(steward_ml::Role::Embedding)
        .files
        .iter()
        .find(|f| !dir_models.join(f.path).is_file())
    {
        steward_testing::skip(
            steward_testing::Need::Models,
            "statements_move_the_evals_decisions_like_decides",
            format_args!("{} is missing", dir_models.join(f.path).display()),
        );
        return;
    }
    // The files are there: a loader that fails now is a bug, not a skip.
    let mut emb = steward_ml::BertEmbedder::embedded(&dir_models).expect("load MiniLM");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = String::from("voter,proposal_id,choice,title,order_rank\n");
    // "a" votes For on three audits in four and Against on the rest; the marketing proposals
    // come only in a's test rows (the last quarter), where a votes Against.
    for i in 0..40 {
        let marketing = i >= 30 && i % 2 == 0;
        let title = if marketing {
            format!("Treasury-funded marketing campaign with influencers, wave {i}")
        } else {
            format!("Fund the security audit of core contracts, round {i}")
        };
        let a = if marketing || i % 4 == 1 {
            "Against"
        } else {
            "For"
        };
        let b = if i % 5 == 0 { "Against" } else { "For" };
        s.push_str(&format!("a,p{i},{a},\"{title}\",{i}\n"));
        s.push_str(&format!("b,p{i},{b},\"{title}\",{i}\n"));
    }
    let train = write(dir.path(), "votes.csv", &s);
    let profile = write(
        dir.path(),
        "profile.csv",
        "voter,kind,text\na,statement,I oppose treasury spending on marketing campaigns with influencers\n",
    );
    let mut o = opts(train, None, EvalMode::Blind);
    o.min_votes = 30;
    o.split = 0.75;
    let mut embed = |t: &[String]| -> Result<Vec<Vec<f32>>, String> {
        use steward_ml::Embedder as _;
        emb.embed(t).map_err(|e| e.to_string())
    };
    let without = eval_votes(&o, Some(&mut embed), &mut |_, _| {}, None).expect("eval runs");
    o.profile = Some(profile);
    let with = eval_votes(&o, Some(&mut embed), &mut |_, _| {}, None).expect("eval runs");
    assert_eq!(
        (with.text.voters, with.text.statements),
        (1, 1),
        "{:?}",
        with.text
    );
    assert!(with.text.rows_matched >= 5, "{:?}", with.text);
    let (a0, a1) = (
        without.per_voter[0].forced_accuracy.expect("labelled"),
        with.per_voter[0].forced_accuracy.expect("labelled"),
    );
    assert!(
        a1 >= a0 + 0.3,
        "voter a: {a0:.2} without the statement, {a1:.2} with it"
    );
}
