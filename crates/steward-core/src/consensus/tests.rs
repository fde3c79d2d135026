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

#[test]
fn cruxes_are_the_statements_that_split_the_groups() {
    let a = analyze(&two_blocs(40)).expect("analysis");
    let top: Vec<u64> = a.cruxes.iter().map(|c| c.tid).collect();
    assert!(!top.is_empty());
    // Statements 0..6 split the two blocs; 6 is agreed by both and is never a crux ahead of them.
    assert!(top.iter().take(6).all(|t| *t < 6), "{top:?}");
    assert!(a.cruxes[0].spread > 0.7, "{:?}", a.cruxes[0]);
    if let Some(c6) = a.cruxes.iter().find(|c| c.tid == 6) {
        assert!(c6.spread < 0.2, "{c6:?}");
    }
}

/// Twenty participants with their own mixed ballots, split on statement 7; then forty accounts
/// casting one identical ballot that agrees with everything.
fn honest_and_a_bloc(bloc: u64) -> Conversation {
    let mut votes = Vec::new();
    let mut t = 0;
    let mut x: u64 = 2112;
    for pid in 0..20u64 {
        for tid in 0..8u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let value = if tid == 7 {
                if pid % 2 == 0 { 1 } else { -1 }
            } else {
                [1, -1, 0][((x >> 33) % 3) as usize]
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
    for pid in 100..100 + bloc {
        for tid in 0..8u64 {
            t += 1;
            votes.push(VoteEvent {
                pid,
                tid,
                value: 1,
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
fn a_coordinated_bloc_is_found_and_cannot_make_common_ground_alone() {
    let a = analyze(&honest_and_a_bloc(40)).expect("analysis");
    assert_eq!(a.blocs.len(), 1, "{:?}", a.blocs);
    assert_eq!(a.blocs[0].members, (100..140).collect::<Vec<u64>>());
    assert_eq!(a.blocs[0].votes, 8);
    // Counted as forty, the bloc makes the split statement 7 look agreed on...
    let plain: Vec<u64> = a.consensus_agree.iter().map(|c| c.tid).collect();
    assert!(plain.contains(&7), "{plain:?}");
    // ...counted once, it does not.
    let one: Vec<u64> = a
        .consensus_agree_one_per_bloc
        .iter()
        .map(|c| c.tid)
        .collect();
    assert!(!one.contains(&7), "{one:?}");
    // Without a bloc there is none to find.
    let honest = analyze(&honest_and_a_bloc(0)).expect("analysis");
    assert!(honest.blocs.is_empty(), "{:?}", honest.blocs);
}

#[test]
fn the_consensus_summary_cannot_rest_on_what_only_a_bloc_agreed() {
    use super::summary::{SummaryInput, consensus_statements};
    let a = analyze(&honest_and_a_bloc(40)).expect("analysis");
    assert!(a.consensus_agree.iter().any(|c| c.tid == 7));
    let texts: BTreeMap<u64, String> = (0..8).map(|t| (t, format!("statement {t}"))).collect();
    let input = SummaryInput::new("consensus", &consensus_statements(&a), &texts);
    assert!(!input.allowed().contains(&7), "{:?}", input.allowed());
    let schema = input.schema().to_string();
    let cites = &input.schema()["properties"]["sentences"]["items"]["properties"]["cites"];
    assert!(
        !cites["items"]["enum"]
            .as_array()
            .expect("enum")
            .contains(&serde_json::json!(7)),
        "{schema}"
    );
}
