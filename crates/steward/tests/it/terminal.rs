//! Terminal escape injection (issue 21 item 8): text from a proposal must not reach a terminal
//! as escape sequences (line rewriting, OSC 8 links), while `--json` keeps it exact.

use crate::{PASS, json, run, snapshot_json, steward, temp_home};

const TITLE: &str =
    "Fund audits \u{1b}]8;;http://evil\u{7}click\u{1b}]8;;\u{7} \u{1b}[2K\rFund a party";
const BODY: &str = "Body \u{1b}[1;31mred\u{1b}[0m \u{9b}2K and \u{1b}]0;window title\u{7} end.";

#[test]
fn proposals_and_show_print_no_escape_sequences_from_titles_and_bodies() {
    let (dir, home) = temp_home();
    let st = |args: &[&str]| {
        let mut c = steward(&home);
        c.env("STEWARD_PASSPHRASE", PASS).args(args);
        run(&mut c)
    };
    assert_eq!(st(&["init"]).0, 0);
    let file = dir.path().join("p.json");
    std::fs::write(&file, snapshot_json("term.eth", "0xesc", TITLE, BODY)).expect("write");
    let (code, out, err) = st(&["ingest", "file", file.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{out}{err}");

    for args in [&["proposals"][..], &["show", "snapshot:term.eth:0xesc"]] {
        let (code, out, err) = st(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.contains("Fund audits"), "{args:?}: {out:?}");
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{9b}') && !out.contains('\r'),
            "{args:?} printed a control character: {out:?}"
        );
        assert!(!out.contains("http://evil"), "{args:?}: {out:?}");
    }

    // JSON stays exact: the same title comes back, byte for byte, and no raw control character.
    for (args, path) in [
        (&["--json", "proposals"][..], "/data/0/title"),
        (
            &["--json", "show", "snapshot:term.eth:0xesc"],
            "/data/proposal/title",
        ),
    ] {
        let (code, out, err) = st(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(
            !out.chars().any(|c| c.is_control() && c != '\n'),
            "{args:?}: {out:?}"
        );
        let v = json(&out);
        assert_eq!(
            v.pointer(path).and_then(|t| t.as_str()),
            Some(TITLE),
            "{out}"
        );
    }
}
