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
