use super::polis::{Sign, adjusted_rand, conversation_from_json, parse_matrix_csv};
use super::*;

/// Two blocs that split on statements 0..6 and all agree on statement 6; a few cells skipped.
fn two_blocs(n: u64) -> Conversation {
    let mut votes = Vec::new();
    let mut t = 0;
    for pid in 0..n {
        let bloc: i8 = if pid % 2 == 0 { 1 } else { -1 };
        for tid in 0..7u64 {
            if (pid + tid) % 5 == 4 {
                continue;
            }
            let value = if tid == 6 {
                1
            } else if tid % 2 == 0 {
                bloc
            } else {
                -bloc
            };
            t += 1;
            votes.push(VoteEvent {
                pid,
                tid,
                value,
                at: Some(t),
            });
        }
    }
    Conversation {
        votes,
        ..Default::default()
    }
}

#[test]
fn two_blocs_become_two_groups_with_their_common_ground() {
    let a = analyze(&two_blocs(40)).expect("analysis");
    assert_eq!(a.groups.len(), 2, "{:?}", a.silhouettes);
    // Those who skipped a statement have 6 of 7 votes and stay out once 15 are in.
    assert!(
        a.in_conv.len() >= 15 && a.in_conv.len() < 40,
        "{}",
        a.in_conv.len()
    );
    let truth: Vec<u64> = a.in_conv.iter().map(|p| p % 2).collect();
    let ours: Vec<u64> = a
        .in_conv
        .iter()
        .map(|p| {
            a.groups
                .iter()
                .find(|g| g.members.contains(p))
                .expect("grouped")
                .id as u64
        })
        .collect();
    assert_eq!(adjusted_rand(&truth, &ours), 1.0);
    assert_eq!(a.consensus_agree.first().map(|c| c.tid), Some(6));
    // Statement 6 is agreed in both groups, so its group-aware consensus is the highest.
    let top = a
        .group_aware_consensus
        .iter()
        .max_by(|x, y| x.1.total_cmp(y.1))
        .map(|(t, _)| *t);
    assert_eq!(top, Some(6));
    for list in &a.repness {
        assert!(
            !list.is_empty() && list.iter().all(|r| r.tid != 6),
            "{list:?}"
        );
    }
}

#[test]
fn empty_single_participant_and_all_pass_are_refused() {
    assert!(matches!(
        analyze(&Conversation::default()),
        Err(ConsensusError::Empty)
    ));
    let one = Conversation {
        votes: vec![VoteEvent {
            pid: 7,
            tid: 0,
            value: 1,
            at: None,
        }],
        ..Default::default()
    };
    let e = analyze(&one).expect_err("one participant");
    assert!(
        matches!(e, ConsensusError::SingleParticipant { pid: 7 }),
        "{e}"
    );
    let mut pass = two_blocs(20);
    pass.votes.iter_mut().for_each(|v| v.value = 0);
    assert!(matches!(analyze(&pass), Err(ConsensusError::AllPass)));
}

#[test]
fn too_sparse_to_cluster_says_so_instead_of_drawing_groups() {
    // Thirty participants, each with one vote on a statement of their own: no overlap at all.
    let votes = (0..30)
        .map(|p| VoteEvent {
            pid: p,
            tid: p,
            value: 1,
            at: Some(p as i64),
        })
        .collect();
    let e = analyze(&Conversation {
        votes,
        ..Default::default()
    })
    .expect_err("sparse");
    assert!(matches!(e, ConsensusError::TooSparse { .. }), "{e}");
    assert!(e.to_string().contains("too sparse to cluster"), "{e}");
}

#[test]
fn a_later_vote_on_the_same_statement_wins_whatever_the_file_order() {
    let votes = r#"[
        {"pid": 1, "tid": 0, "vote": -1, "modified": "2000"},
        {"pid": 1, "tid": 0, "vote": 1, "modified": "1000"},
        {"pid": 2, "tid": 0, "vote": 1, "modified": "1500"}
    ]"#;
    let conv = conversation_from_json(votes, None, Sign::AgreePlus).expect("parse");
    let m = VoteMatrix::build(&conv.votes).expect("matrix");
    let row = m.pids.iter().position(|p| *p == 1).expect("pid 1");
    assert_eq!(m.rows[row], vec![(0, -1)]);
    assert_eq!(m.n_votes(), 2);
    // In a matrix file, a repeated participant row replaces the earlier one.
    let csv = parse_matrix_csv("participant,0,1\n1,1,1\n2,-1,\n1,,-1\n", "m.csv").expect("csv");
    let ones: Vec<_> = csv
        .votes
        .iter()
        .filter(|v| v.pid == 1)
        .map(|v| (v.tid, v.value))
        .collect();
    assert_eq!(ones, vec![(1, -1)]);
}

#[test]
fn ids_that_are_not_numbers_name_the_file_item_and_field() {
    let e = conversation_from_json(
        r#"[{"pid": 1, "tid": 0, "vote": 1}, {"pid": "abc", "tid": 0, "vote": 1}]"#,
        None,
        Sign::AgreePlus,
    )
    .expect_err("bad pid");
    assert_eq!(
        e.to_string(),
        r#"votes.json: vote #1: field `pid`: "abc" is not a number"#
    );
    let e = conversation_from_json(
        r#"[{"pid": 1, "tid": 0.5, "vote": 1}]"#,
        None,
        Sign::AgreePlus,
    )
    .expect_err("bad tid");
    assert!(
        e.to_string()
            .starts_with("votes.json: vote #0: field `tid`"),
        "{e}"
    );
    let e = conversation_from_json(
        r#"[{"pid": 1, "tid": 0, "vote": 2}]"#,
        None,
        Sign::AgreePlus,
    )
    .expect_err("bad vote");
    assert!(
        e.to_string().contains("field `vote`: 2 is not -1, 0 or 1"),
        "{e}"
    );
    let e = parse_matrix_csv("participant,0,x\n1,1,1\n", "m.csv").expect_err("bad header");
    assert!(e.to_string().starts_with("m.csv: header: field `x`"), "{e}");
    let e = parse_matrix_csv("participant,0\nbob,1\n", "m.csv").expect_err("bad row");
    assert_eq!(
        e.to_string(),
        r#"m.csv: row 2: field `participant`: "bob" is not a participant id"#
    );
    let e = conversation_from_json("{", None, Sign::AgreePlus).expect_err("json");
    assert_eq!(e.to_string(), "votes.json: not valid JSON");
}

#[test]
fn statements_nobody_voted_on_are_left_out_not_scored() {
    let mut conv = two_blocs(30);
    let comments = r#"[{"tid": 0, "mod": 1}, {"tid": 99, "mod": 1, "is_meta": false}]"#;
    let parsed = super::polis::parse_comments_json(comments, "comments.json").expect("comments");
    conv.mod_out = parsed.mod_out;
    let a = analyze(&conv).expect("analysis");
    assert!(!a.tids.contains(&99));
    assert!(!a.group_aware_consensus.contains_key(&99) && !a.comment_priorities.contains_key(&99));
    assert!(
        a.comment_priorities
            .values()
            .chain(a.group_aware_consensus.values())
            .all(|x| x.is_finite())
    );
}

#[test]
fn the_sign_convention_is_told_from_the_statement_counts() {
    let votes = r#"[{"pid": 1, "tid": 0, "vote": -1}, {"pid": 2, "tid": 0, "vote": -1}, {"pid": 3, "tid": 0, "vote": 1}]"#;
    let polis_style = r#"[{"tid": 0, "agree_count": 2, "disagree_count": 1}]"#;
    let conv = conversation_from_json(votes, Some(polis_style), Sign::Detect).expect("detected");
    assert_eq!(
        conv.votes.iter().filter(|v| v.value == 1).count(),
        2,
        "agree = -1 read as +1"
    );
    let e = conversation_from_json(
        votes,
        Some(r#"[{"tid": 0, "agree_count": 5, "disagree_count": 5}]"#),
        Sign::Detect,
    )
    .expect_err("undecidable");
    assert!(matches!(e, ConsensusError::SignUnknown { .. }), "{e}");
}

#[test]
fn moderated_out_statements_are_never_representative_or_consensus() {
    let mut conv = two_blocs(40);
    conv.mod_out.insert(6);
    let a = analyze(&conv).expect("analysis");
    assert!(a.consensus_agree.iter().all(|c| c.tid != 6));
    assert!(a.repness.iter().flatten().all(|r| r.tid != 6));
    assert_eq!(a.pca.center[6], 0.0);
}
