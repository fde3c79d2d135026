//! `steward eval votes --ask-budget / --ask-curve` (issue 15 item 4): the agent asks about a
//! share of the test rows as they arrive, learns from each answer, and never reads a label it
//! did not ask for.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use steward_agent::{EvalEngines, EvalMode, EvalOptions, EvalReport, eval_ask_curve, eval_votes};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

/// Voter "u" votes on 28 "Motion" proposals, For or Against by a rule titles do not show (60 %
/// For), then Against on every "Gamma" grant (the last 12: the test rows), which the agent is
/// unsure of and would not vote. "w" is a second voter with
/// its own pattern. Titles alone cannot tell that Gamma goes Against; an answer can.
fn votes() -> String {
    let mut s = String::from("voter,proposal_id,choice,title,order_rank\n");
    for i in 0..40 {
        let (title, u) = if i < 28 {
            let c = if (i * 7 + 3) % 5 < 2 {
                "Against"
            } else {
                "For"
            };
            (format!("Motion {i}"), c)
        } else {
            (format!("Gamma {i} grant application round"), "Against")
        };
        let w = if i % 3 == 0 { "Against" } else { "For" };
        let _ = writeln!(s, "u,p{i},{u},{title},{i}");
        let _ = writeln!(s, "w,p{i},{w},{title},{i}");
    }
    s
}

fn opts(train: PathBuf, budget: Option<f64>) -> EvalOptions {
    let mut o = EvalOptions::new(train);
    o.mode = EvalMode::Blind;
    o.ask_budget = budget;
    o
}

/// Runs and returns the report and its prediction lines as (voter, proposal, action).
fn run(o: &EvalOptions) -> (EvalReport, Vec<(String, String, String)>) {
    let mut buf = Vec::new();
    let r = eval_votes(o, None, &mut |_, _| {}, Some(&mut buf)).expect("eval runs");
    let lines = String::from_utf8(buf)
        .expect("utf-8")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            let s = |k: &str| v[k].as_str().expect("field").to_owned();
            (s("voter"), s("proposal_id"), s("action"))
        })
        .collect();
    (r, lines)
}

fn u_forced(r: &EvalReport) -> f64 {
    r.per_voter
        .iter()
        .find(|v| v.voter == "u")
        .and_then(|v| v.forced_accuracy)
        .expect("u scored")
}

/// The answer is learned from at once: asking about the first Gamma grants makes the rest of
/// them right, where the agent without questions votes them For. On code that asked but did not
/// refit (or not at all), the rest stays wrong.
#[test]
fn answers_teach_the_rows_after_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let train = write(dir.path(), "votes.csv", &votes());
    let (none, _) = run(&opts(train.clone(), None));
    let (asked, lines) = run(&opts(train, Some(0.2)));
    let fig = asked.ask.expect("ask figures");
    // 24 test rows, 20 %: 4 questions (2 each), asked as the rows arrive.
    assert_eq!((fig.allowed, fig.asked), (4, 4), "{fig:?}");
    assert!(fig.asked_share <= 0.2);
    assert_eq!(lines.iter().filter(|l| l.2 == "asked").count(), 4);
    let (before, after) = (u_forced(&none), u_forced(&asked));
    assert!(
        before < 0.5,
        "without questions u's Gamma votes are guessed For: {before}"
    );
    assert!(after >= before + 0.4, "{before} -> {after}");
    // The asked rows are not scored: u's rest is 10 rows.
    let u = asked.per_voter.iter().find(|v| v.voter == "u").expect("u");
    assert_eq!(u.n_test, 12);
    assert_eq!(asked.policy.vote + asked.policy.ask + asked.policy.skip, 20);
}

/// No leakage: which rows are asked depends on the proposals and on the answers to earlier
/// questions, never on the labels of rows not asked. Changing every unasked test label (For <->
/// Against) must ask about exactly the same rows.
#[test]
fn unasked_labels_do_not_change_what_is_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let original = votes();
    let train = write(dir.path(), "votes.csv", &original);
    let o = opts(train, Some(0.2));
    let (_, lines) = run(&o);
    let asked: BTreeSet<(String, String)> = lines
        .iter()
        .filter(|l| l.2 == "asked")
        .map(|l| (l.0.clone(), l.1.clone()))
        .collect();
    let unasked: BTreeSet<(String, String)> = lines
        .iter()
        .filter(|l| l.2 != "asked")
        .map(|l| (l.0.clone(), l.1.clone()))
        .collect();
    assert!(!asked.is_empty() && !unasked.is_empty());
    let mut flipped = String::new();
    for (i, line) in original.lines().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        if i > 0 && unasked.contains(&(f[0].to_owned(), f[1].to_owned())) {
            let c = if f[2] == "For" { "Against" } else { "For" };
            let _ = writeln!(flipped, "{},{},{c},{},{}", f[0], f[1], f[3], f[4]);
        } else {
            let _ = writeln!(flipped, "{line}");
        }
    }
    assert_ne!(flipped, original);
    let dir2 = tempfile::tempdir().expect("tempdir");
    let (_, lines2) = run(&opts(write(dir2.path(), "votes.csv", &flipped), Some(0.2)));
    let asked2: BTreeSet<(String, String)> = lines2
        .iter()
        .filter(|l| l.2 == "asked")
        .map(|l| (l.0.clone(), l.1.clone()))
        .collect();
    assert_eq!(asked, asked2);
}

/// The curve runs the four budgets; bad budgets and unlabelled test files are refused.
#[test]
fn curve_and_bad_budgets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let train = write(dir.path(), "votes.csv", &votes());
    let r = eval_ask_curve(
        &opts(train.clone(), None),
        EvalEngines::default(),
        &mut |_, _| {},
    )
    .expect("curve");
    let budgets: Vec<f64> = r.ask_curve.iter().map(|p| p.budget).collect();
    assert_eq!(budgets, vec![0.0, 0.05, 0.10, 0.20]);
    assert_eq!(r.ask_curve[0].asked, 0.0);
    for p in &r.ask_curve {
        assert!(p.asked <= p.budget + 1e-9, "{p:?}");
    }
    let json = serde_json::to_value(&r).expect("json");
    assert!(
        json["ask_curve"][3]["against_caught"].is_number(),
        "{}",
        json["ask_curve"]
    );

    let err = eval_votes(&opts(train.clone(), Some(1.5)), None, &mut |_, _| {}, None)
        .expect_err("budget > 1");
    assert!(err.to_string().contains("--ask-budget"), "{err}");
    let test = write(
        dir.path(),
        "test.csv",
        "voter,proposal_id,title,order_rank\nu,q1,Gamma new,50\n",
    );
    let mut o = opts(train, Some(0.1));
    o.test = Some(test);
    let err = eval_votes(&o, None, &mut |_, _| {}, None).expect_err("no labels to answer from");
    assert!(err.to_string().contains("choice"), "{err}");
}
