//! `steward consensus polis|matrix` as a user runs them: the shape of `--json`, and bad input
//! refused with the file, row and field named.

use std::path::PathBuf;

use crate::{json, run, steward, temp_home};

#[test]
fn consensus_polis_prints_groups_repness_and_consensus_of_a_real_conversation() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/polis-math-reference/below-100-ptpts"
    ));
    if !dir.is_dir() {
        steward_testing::skip(
            steward_testing::Need::Data,
            "consensus_polis",
            format_args!("{} is absent", dir.display()),
        );
        return;
    }
    let (_t, home) = temp_home();
    let (code, out, err) = run(steward(&home)
        .args(["--json", "consensus", "polis"])
        .arg(&dir));
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    let d = &v["data"];
    assert_eq!(d["in_conv"].as_array().expect("in_conv").len(), 23);
    assert_eq!(d["groups"].as_array().expect("groups").len(), 3);
    assert_eq!(d["pca"]["comps"].as_array().expect("comps").len(), 2);
    assert_eq!(
        d["consensus"]["agree"],
        serde_json::json!([26, 28, 32, 30, 18])
    );
    assert_eq!(d["consensus"]["disagree"], serde_json::json!([0]));
    let first = &d["repness"]["0"][0];
    for key in [
        "tid",
        "repful_for",
        "p_success",
        "p_test",
        "repness",
        "repness_test",
    ] {
        assert!(!first[key].is_null(), "repness lacks {key}: {first}");
    }
    assert!(d["group_aware_consensus"]["26"].as_f64().is_some());
    let (code, out, _) = run(steward(&home).args(["consensus", "polis"]).arg(&dir));
    assert_eq!(code, 0);
    assert!(out.contains("23 clustered into 3 groups"), "{out}");
}

#[test]
fn consensus_matrix_refuses_bad_input_naming_file_row_and_field() {
    let (t, home) = temp_home();
    let cases = [
        (
            "participant,0,1\n1,1,maybe\n",
            "row 2: field `1`: \"maybe\" is not 1, -1, 0 or blank",
        ),
        (
            "participant,0,one\n1,1,1\n",
            "header: field `one`: column is not a statement id",
        ),
        ("participant,0\n", "the conversation has no votes"),
        (
            "participant,0,1\n4,1,-1\n",
            "only one participant voted (pid 4)",
        ),
        ("participant,0,1\n1,0,0\n2,0,\n", "every vote is a pass"),
        (
            "participant,0,1,2,3\n1,1,,,\n2,,1,,\n3,,,-1,\n4,,,,1\n",
            "too sparse to cluster",
        ),
    ];
    for (i, (csv, want)) in cases.iter().enumerate() {
        let file = t.path().join(format!("m{i}.csv"));
        std::fs::write(&file, csv).expect("write");
        let (code, out, err) = run(steward(&home)
            .args(["--json", "consensus", "matrix"])
            .arg(&file));
        assert_eq!(code, 1, "{csv}: {out}{err}");
        let msg = json(&out)["error"]["message"]
            .as_str()
            .expect("message")
            .to_owned();
        assert!(msg.contains(want), "{csv}: {msg}");
        if want.starts_with("row") || want.starts_with("header") {
            assert!(msg.contains(&file.display().to_string()), "{msg}");
        }
    }
}

/// `consensus summarize NAME --no-llm --json` over a saved real conversation: one extractive
/// summary per group and one for the consensus, every sentence citing an allowed statement, the
/// cruxes listed, and the summaries kept with the conversation (saved again, they are cleared).
#[test]
fn consensus_summarize_no_llm_prints_extractive_cited_summaries_and_keeps_them() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/polis-math-reference/below-100-ptpts"
    ));
    if !dir.is_dir() {
        steward_testing::skip(
            steward_testing::Need::Data,
            "consensus_summarize",
            format_args!("{} is absent", dir.display()),
        );
        return;
    }
    let (_t, home) = temp_home();
    let st = |args: &[&str]| {
        let mut c = steward(&home);
        c.env("STEWARD_PASSPHRASE", crate::PASS).args(args);
        run(&mut c)
    };
    assert_eq!(st(&["init"]).0, 0);
    let (code, _, err) = st(&["consensus", "summarize", "ref"]);
    assert_ne!(code, 0);
    assert!(err.contains("no conversation \"ref\" saved"), "{err}");
    let d = dir.to_str().expect("utf8");
    let (code, before, err) = st(&["--json", "consensus", "polis", d, "--save", "ref"]);
    assert_eq!(code, 0, "{err}");
    let before = json(&before);
    let (code, out, err) = st(&["--json", "consensus", "summarize", "ref", "--no-llm"]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    let s = &v["data"];
    let groups = s["groups"].as_array().expect("groups");
    assert_eq!(
        groups.len(),
        before["data"]["groups"].as_array().expect("g").len()
    );
    for (i, g) in groups.iter().enumerate() {
        let reps: Vec<u64> = before["data"]["repness"][i.to_string()]
            .as_array()
            .expect("reps")
            .iter()
            .map(|r| r["tid"].as_u64().expect("tid"))
            .collect();
        assert_eq!(g["extractive"], true);
        assert!(
            g["note"].as_str().expect("note").contains("no model"),
            "{g}"
        );
        let sentences = g["sentences"].as_array().expect("sentences");
        assert!(!sentences.is_empty(), "{g}");
        for x in sentences {
            let cites = x["cites"].as_array().expect("cites");
            assert_eq!(cites.len(), 1);
            assert!(
                reps.contains(&cites[0].as_u64().expect("tid")),
                "{x} not in {reps:?}"
            );
        }
    }
    let agree = &before["data"]["consensus_one_per_bloc"]["agree"];
    let first = &s["consensus"]["sentences"][0]["cites"][0];
    assert_eq!(first, &agree[0], "{s}");
    assert_eq!(
        s["cruxes"],
        serde_json::json!(
            before["data"]["cruxes"]
                .as_array()
                .expect("cruxes")
                .iter()
                .map(|c| c["tid"].clone())
                .collect::<Vec<_>>()
        )
    );
    // Human output: sentences with their cited ids, then the cruxes.
    let (code, out, _) = st(&["consensus", "summarize", "ref", "--no-llm"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("group A:") && out.contains("consensus:"),
        "{out}"
    );
    assert!(out.contains(&format!("[{}]", agree[0])), "{out}");
    assert!(out.contains("cruxes:"), "{out}");
}
