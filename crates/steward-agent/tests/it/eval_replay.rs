//! `steward eval votes --mode replay` (votes so far), the delegation baselines and the bad input
//! of issue 15, on small files and on the real on-chain votes (../shared/data).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use steward_agent::{EvalError, EvalMode, EvalOptions, EvalReport, eval_votes};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn run(o: &EvalOptions) -> Result<EvalReport, EvalError> {
    eval_votes(o, None, &mut |_, _| {}, None)
}

fn opts(train: PathBuf, mode: EvalMode, min_votes: usize) -> EvalOptions {
    let mut o = EvalOptions::new(train);
    o.mode = mode;
    o.min_votes = min_votes;
    o
}

const HEADER: &str = "voter,proposal_id,choice,timestamp\n";

/// "a" votes exactly as "b" on 60 proposals (b's choice flips by a rule titles do not show), one
/// hour apart. `b_first(i)` says whether b votes before a on proposal i. "c" always votes For,
/// before everyone, so replay always sees something.
fn follower(b_first: impl Fn(usize) -> bool) -> String {
    let mut s = String::from(HEADER);
    for i in 0..60 {
        let c = if (i * 7 + 3) % 5 < 2 {
            "Against"
        } else {
            "For"
        };
        let t0 = 1_700_000_000 + i as i64 * 86_400;
        let (ta, tb) = if b_first(i) {
            (t0 + 7200, t0 + 3600)
        } else {
            (t0 + 3600, t0 + 7200)
        };
        let _ = writeln!(s, "a,p{i},{c},{ta}");
        let _ = writeln!(s, "b,p{i},{c},{tb}");
        let _ = writeln!(s, "c,p{i},For,{t0}");
    }
    s
}

fn voter<'a>(r: &'a EvalReport, v: &str) -> &'a steward_agent::VoterReport {
    r.per_voter
        .iter()
        .find(|x| x.voter == v)
        .expect("voter evaluated")
}

/// Replay shows a test row only the votes cast before the voter's own: when "b" votes after
/// "a" on the test proposals, replay cannot copy b (final tallies, which show every vote, can).
/// On the old code (no replay; `live` showed final tallies) both runs would score alike.
#[test]
fn replay_sees_only_the_votes_cast_before_the_users_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let early = write(dir.path(), "early.csv", &follower(|_| true));
    let late = write(dir.path(), "late.csv", &follower(|i| i < 42));
    let acc = |file: &PathBuf, mode| {
        let r = run(&opts(file.clone(), mode, 50)).expect("eval runs");
        voter(&r, "a").forced_accuracy.expect("labelled")
    };
    let (seen, unseen) = (acc(&early, EvalMode::Replay), acc(&late, EvalMode::Replay));
    assert!(seen >= 0.95, "b votes first: {seen}");
    assert!(
        unseen <= 0.8,
        "b votes after a: replay must not see it ({unseen})"
    );
    let tallies = acc(&late, EvalMode::FinalTallies);
    assert!(tallies >= 0.95, "final tallies see b's vote: {tallies}");
}

/// `--before-end H` moves the cutoff to H hours before the proposal's end; a proposal without
/// an end time then shows nothing (counted, not guessed).
#[test]
fn before_end_hides_votes_cast_too_close_to_the_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let votes = write(dir.path(), "votes.csv", &follower(|_| true));
    // Each proposal ends 3 h after it opens (b votes at +1 h, a at +2 h); the last 5 have no
    // end time.
    let mut cat = String::from("proposal_id,title,body,end_ts\n");
    for i in 0..60 {
        let end = if i < 55 {
            (1_700_000_000 + i as i64 * 86_400 + 3 * 3600).to_string()
        } else {
            String::new()
        };
        let _ = writeln!(cat, "p{i},Proposal {i},,{end}");
    }
    write(dir.path(), "proposals.csv", &cat);
    let mut o = opts(votes, EvalMode::Replay, 50);
    o.before_end = Some(1.5);
    let near = run(&o).expect("eval runs");
    o.before_end = Some(2.5);
    let far = run(&o).expect("eval runs");
    let a = |r: &EvalReport| voter(r, "a").forced_accuracy.expect("labelled");
    // 13 of a's 18 test rows have an end and see b at 1.5 h; the 5 without one see nothing.
    assert!(a(&near) >= 0.85, "b voted 2 h before the end: {}", a(&near));
    assert!(
        a(&far) <= a(&near) - 0.15,
        "b voted after the cutoff: {} (near {})",
        a(&far),
        a(&near)
    );
    let rp = far.replay.expect("replay figures");
    assert_eq!(rp.before_end_hours, Some(2.5));
    // 18 test rows each for a, b and c; 5 of each voter's are on proposals without an end.
    assert_eq!(rp.rows_without_end, 15, "{rp:?}");
    assert_eq!(far.rows_without_body, far.n_test);
    // --before-end belongs to replay.
    o.mode = EvalMode::Blind;
    let e = run(&o).expect_err("needs replay");
    assert!(e.to_string().contains("--before-end"), "{e}");
}

/// Bad input: a missing, unparseable or post-deadline time is a skipped row naming file, line
/// and column; two votes of one voter at one time with different choices and nothing to order
/// them are both skipped; a re-vote replaces the earlier vote (the last counts); same-block
/// votes of others are never visible; replay without a `timestamp` column is an error.
#[test]
fn bad_times_revotes_and_ties_are_reported_or_handled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = follower(|_| true);
    s.push_str("a,p5,For,\n"); // line 182: no time
    s.push_str("a,p6,For,last tuesday\n"); // 183: not a time
    s.push_str("a,p70,For,1800000000\n"); // 184: after p70's end
    s.push_str("c,p71,For,1700000000\n"); // 185, 186: same time, different choices
    s.push_str("c,p71,Against,1700000000\n");
    // Earlier votes of b and a on p59 (before the ones above): replaced, the last counts.
    s.push_str("b,p59,Against,1705000000\n");
    s.push_str("a,p59,For,1705097600\n");
    write(
        dir.path(),
        "proposals.csv",
        "proposal_id,title,end_ts\np70,Late,1750000000\n",
    );
    let votes = write(dir.path(), "votes.csv", &s);
    let r = run(&opts(votes.clone(), EvalMode::Replay, 50)).expect("eval runs");
    let got: Vec<(u64, &str)> = r
        .skipped_rows
        .iter()
        .map(|e| (e.line, e.column.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (182, "timestamp"),
            (183, "timestamp"),
            (184, "timestamp"),
            (185, "timestamp"),
            (186, "timestamp"),
        ],
        "{:?}",
        r.skipped_rows
    );
    assert!(r.skipped_rows[0].file.ends_with("votes.csv"));
    assert!(
        r.skipped_rows[2]
            .message
            .contains("after proposal p70 ended")
    );
    assert!(r.skipped_rows[3].message.contains("no log_index"));
    assert_eq!(r.revotes_replaced, 2);
    assert_eq!(r.n_test, 54, "one vote per voter and proposal");
    // The same file without times in blind mode: a re-vote still counts once.
    let no_time = write(
        dir.path(),
        "notime.csv",
        "voter,proposal_id,choice\na,p1,For\na,p1,Against\n",
    );
    let e = run(&opts(no_time, EvalMode::Replay, 1)).expect_err("replay needs times");
    assert!(e.to_string().contains("`timestamp`"), "{e}");
}

/// A voter with no training votes is asked about every row, never voted for on a uniform guess
/// (the old code let the policy skip or vote them).
#[test]
fn a_test_voter_without_history_is_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let train = write(dir.path(), "train.csv", &follower(|_| true));
    let mut t = String::from(HEADER);
    for i in 0..25 {
        let _ = writeln!(t, "z,p{i},For,{}", 1_700_000_000 + i as i64 * 86_400 + 9000);
    }
    let test = write(dir.path(), "test.csv", &t);
    let mut o = opts(train, EvalMode::Replay, 20);
    o.test = Some(test);
    let r = run(&o).expect("eval runs");
    let z = voter(&r, "z");
    assert_eq!((z.n_train, z.n_test), (0, 25));
    assert_eq!(r.rows_without_history, 25);
    assert_eq!(r.policy.ask, 25, "{:?}", r.policy);
    assert_eq!(r.policy.vote, 0);
}

/// The delegation baselines: "a" copies "b", so b is a's best delegate and delegating to it
/// agrees on every test row; crowd_so_far is the majority of what was visible (none in blind).
#[test]
fn best_delegate_is_chosen_on_training_votes_and_followed_on_test_votes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let votes = write(dir.path(), "votes.csv", &follower(|_| true));
    let r = run(&opts(votes.clone(), EvalMode::Replay, 50)).expect("eval runs");
    let a = voter(&r, "a");
    assert_eq!(a.best_delegate.as_deref(), Some("b"));
    assert_eq!(a.delegate_agreement, Some(1.0));
    let d = r.baselines.best_delegate.expect("delegate figures");
    assert!((d.coverage - 1.0).abs() < 1e-9, "{d:?}");
    let crowd = r.baselines.crowd_so_far.expect("crowd figures");
    // c votes For first, so every row of a and b sees at least c.
    assert!(crowd.coverage > 0.6, "{crowd:?}");
    assert!(r.agent_minus_best_delegate.is_some());
    assert_eq!(
        r.voters_beating_delegate + r.voters_not_beating_delegate,
        r.n_voters
    );
    let blind = run(&opts(votes, EvalMode::Blind, 50)).expect("eval runs");
    assert!(blind.baselines.crowd_so_far.is_none());
    assert!(blind.baselines.best_delegate.is_some());
}

/// `--visible F` shows a seeded share of the other votes in final-tallies mode only.
#[test]
fn visible_fraction_is_seeded_and_only_for_final_tallies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let votes = write(dir.path(), "votes.csv", &follower(|_| true));
    let mut o = opts(votes, EvalMode::FinalTallies, 50);
    o.visible = Some(0.0);
    let none = run(&o).expect("eval runs");
    assert!(voter(&none, "a").forced_accuracy.expect("labelled") <= 0.8);
    o.visible = Some(1.0);
    let all = run(&o).expect("eval runs");
    assert!(voter(&all, "a").forced_accuracy.expect("labelled") >= 0.95);
    o.visible = Some(1.5);
    assert!(
        run(&o)
            .expect_err("range")
            .to_string()
            .contains("--visible")
    );
    o.visible = Some(0.5);
    o.mode = EvalMode::Replay;
    assert!(run(&o).expect_err("mode").to_string().contains("--visible"));
}

fn onchain() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/onchain-governor-votes/votes.csv"
    ));
    if p.is_file() {
        Some(p)
    } else {
        steward_testing::skip(
            steward_testing::Need::Data,
            "eval_replay",
            format_args!("{} is absent", p.display()),
        );
        None
    }
}

/// Floors on the real on-chain votes in replay (docs/eval.md has the figures and the issue's
/// targets, which these are not): the split is the measured one, the decisions stay
/// calibrated, and the re-votes and bodies are read.
#[test]
fn onchain_replay_floors() {
    let Some(votes) = onchain() else { return };
    let r = run(&opts(votes, EvalMode::Replay, 20)).expect("eval runs");
    eprintln!(
        "replay: forced {:?} auto {:?} @ {:.3} ece {:?} against {:?} delegate {:?} ({:.1} s)",
        r.forced_accuracy,
        r.auto_accuracy,
        r.coverage,
        r.ece,
        r.against,
        r.baselines.best_delegate,
        r.seconds
    );
    assert_eq!((r.n_test, r.n_voters), (894, 89));
    assert!(r.skipped_rows.is_empty(), "{:?}", r.skipped_rows);
    assert_eq!(r.revotes_replaced, 23);
    assert!(r.rows_without_body < 60, "{}", r.rows_without_body);
    let ece = r.ece.expect("labelled");
    assert!(ece <= 0.05, "ECE {ece:.3}");
    let auto = r.auto_accuracy.expect("votes cast");
    // Measured 0.961 @ 0.689 and 30 of 48 Against votes caught with dissent so far (0.959 @
    // 0.704 and 27 without: `dissent_so_far_catches_against_votes_on_chain`).
    assert!(
        auto >= 0.955 && r.coverage >= 0.65,
        "{auto:.3} @ {:.3}",
        r.coverage
    );
    let against = r.against.expect("Against votes");
    assert!(against.caught >= 0.6, "{against:?}");
    let d = r.baselines.best_delegate.expect("delegate");
    assert!(r.forced_accuracy.expect("labelled") >= d.agreement + 0.05);
    // On the rows the delegate voted, the agent (no question asked) is at least as right.
    assert!(
        d.agent_on_cast.expect("cast") >= d.accuracy_on_cast.expect("cast") - 0.005,
        "{d:?}"
    );
}

/// Dissent so far (`decide.dissent_share`) on the real on-chain votes: asking where a share of
/// the votes so far rejects what the agent would pass catches more of the user's Against votes
/// and makes the votes cast more accurate; with the rule off (the code before it) the same run
/// catches fewer. Probabilities, hence ECE, are the same.
#[test]
fn dissent_so_far_catches_against_votes_on_chain() {
    let Some(votes) = onchain() else { return };
    let on = run(&opts(votes.clone(), EvalMode::Replay, 20)).expect("eval runs");
    let mut o = opts(votes, EvalMode::Replay, 20);
    o.policy.dissent_share = 0.0;
    let off = run(&o).expect("eval runs");
    let caught = |r: &EvalReport| r.against.expect("Against votes").caught;
    assert!(
        caught(&on) >= caught(&off) + 0.05,
        "on {:?} off {:?}",
        on.against,
        off.against
    );
    assert!(
        on.auto_accuracy >= off.auto_accuracy,
        "{:?} {:?}",
        on.auto_accuracy,
        off.auto_accuracy
    );
    assert_eq!(on.ece, off.ece);
    assert_eq!(on.forced_accuracy, off.forced_accuracy);
}
