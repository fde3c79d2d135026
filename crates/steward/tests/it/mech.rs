//! `steward mech`: the issue's vectors and every class of bad input through the real binary.

use std::path::Path;

use crate::{json, run, steward, temp_home};

fn mech(home: &Path, args: &[&str]) -> (i32, String, String) {
    run(steward(home).arg("mech").args(args))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

#[test]
fn mech_vectors_through_the_cli() {
    let (d, home) = temp_home();
    let c = write(
        d.path(),
        "c.csv",
        "donor,project,amount\na,x,1\nb,x,4\nc,x,9\n",
    );
    let (code, out, err) = mech(&home, &["qf", &c, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["data"]["projects"][0]["match"], 22.0);
    assert!(v["data"]["projects"][0].get("matched").is_none());

    // Paper COCM, groups [[a,b],[b,c]], contributions 10, 20, 0: 30 + 6.9487 = 36.9487.
    let c = write(d.path(), "p.csv", "donor,project,amount\na,x,10\nb,x,20\n");
    let k = write(
        d.path(),
        "k.csv",
        "donor,cluster,weight\na,g,1\nb,g,1\nb,h,1\n",
    );
    let (code, out, err) = mech(
        &home,
        &["cocm", &c, "--clusters", &k, "--form", "paper", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let m = json(&out)["data"]["projects"][0]["match"]
        .as_f64()
        .expect("match");
    // Donor c (in h, gave 0) is absent: b alone makes h's side, as c's 0 adds nothing.
    assert!((30.0 + m - 36.9487).abs() < 5e-5, "{m}");

    let (code, out, _) = mech(&home, &["lmsr", "--b", "100", "--buy", "100,0", "--json"]);
    assert_eq!(code, 0);
    let v = json(&out);
    assert_eq!(v["data"]["cost"], "62.011451");
    assert!((v["data"]["prices_after"][0].as_f64().expect("price") - 0.7311).abs() < 5e-5);

    let (_, out, _) = mech(&home, &["price", "--inbox", "10", "--json"]);
    assert_eq!(json(&out)["data"]["price"], 0.02);
    let (_, out, _) = mech(&home, &["price", "--inbox", "10", "--beta", "2", "--json"]);
    assert_eq!(json(&out)["data"]["price"], 0.04);

    let b = write(
        d.path(),
        "b.csv",
        "sender,recipient,amount,status\ns1,r,1,active\ns2,r,1,refunded\ns3,r,1,active\n",
    );
    let (code, out, _) = mech(&home, &["coqaf", &b, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json(&out)["data"]["recipients"][0]["qaf"], 9.0);

    // Snapshot quadratic: the figures snapshot.js 0.17.5 prints for the same votes.
    let s = write(
        d.path(),
        "s.json",
        r#"{"choices": 2, "votes": [{"choice": {"1": 1}, "balance": 100},
            {"choice": {"1": 1, "2": 1}, "balance": 100}, {"choice": {}, "balance": 5}]}"#,
    );
    let (code, out, _) = mech(&home, &["qv", "--snapshot", &s, "--json"]);
    assert_eq!(code, 0);
    let v = json(&out);
    assert_eq!(v["data"]["scores"][0], 170.71067811865476);
    assert_eq!(v["data"]["scores"][1], 29.289321881345252);
    assert_eq!(v["data"]["valid_votes"], 2);

    let (code, _, err) = mech(&home, &["qv", "--credits", "24", "--votes", "3,-4"]);
    assert_eq!(code, 1);
    assert!(err.contains("over the budget of 24"), "{err}");
}

#[test]
fn mech_bad_input_names_file_row_and_field() {
    let (d, home) = temp_home();
    let dir = d.path();
    let good = write(dir, "good.csv", "donor,project,amount\na,x,1\nb,x,4\n");
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![
                "qf".into(),
                write(dir, "neg.csv", "donor,project,amount\na,x,1\nb,x,-2\n"),
            ],
            "neg.csv row 3, field amount: -2 is negative".into(),
        ),
        (
            vec![
                "qf".into(),
                write(dir, "nan.csv", "donor,project,amount\na,x,NaN\n"),
            ],
            "nan.csv row 2, field amount: \"NaN\" is not a finite number".into(),
        ),
        (
            vec![
                "qf".into(),
                write(dir, "word.csv", "donor,project,amount\na,x,lots\n"),
            ],
            "word.csv row 2, field amount: \"lots\" is not a number".into(),
        ),
        (
            vec![
                "qf".into(),
                write(dir, "col.csv", "donor,project,amount,note\na,x,1,hi\n"),
            ],
            "col.csv header: unknown column \"note\"".into(),
        ),
        (
            vec![
                "qf".into(),
                write(dir, "empty.csv", "donor,project,amount\n"),
            ],
            "empty.csv: empty round".into(),
        ),
        (
            vec![
                "cocm".into(),
                good.clone(),
                "--clusters".into(),
                write(dir, "nocl.csv", "donor,cluster,weight\na,g,1\n"),
            ],
            "good.csv row 3, field donor: donor \"b\" is in no cluster of".into(),
        ),
        (
            vec![
                "cocm".into(),
                good.clone(),
                "--clusters".into(),
                write(
                    dir,
                    "lonely.csv",
                    "donor,cluster,weight\na,g,1\nb,g,1\nzed,h,1\n",
                ),
            ],
            "lonely.csv row 4, field cluster: cluster \"h\" has no donor who contributed".into(),
        ),
        (
            vec!["qf".into(), good.clone(), "--pool".into(), "0".into()],
            "--pool: 0 is not a positive amount".into(),
        ),
        (
            vec![
                "coqaf".into(),
                write(
                    dir,
                    "st.csv",
                    "sender,recipient,amount,status\ns,r,1,gone\n",
                ),
            ],
            "st.csv row 2, field status: \"gone\" is not one of".into(),
        ),
    ];
    for (args, want) in cases {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.push("--json");
        let (code, out, err) = mech(&home, &a);
        assert_eq!(code, 1, "{a:?}: {out} {err}");
        let v = json(&out);
        assert_eq!(v["ok"], false);
        let msg = v["error"]["message"].as_str().expect("message");
        assert!(msg.contains(&want), "{a:?}: {msg}");
        assert!(!err.contains("panicked"), "{err}");
    }

    // Duplicates are summed, and said (stderr and the JSON notes).
    let dup = write(
        dir,
        "dup.csv",
        "donor,project,amount\na,x,1\nb,x,4\na,x,3\n",
    );
    let (code, out, err) = mech(&home, &["qf", &dup, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["data"]["projects"][0]["contributions"], 8.0);
    assert!(
        v["data"]["notes"][0]["message"]
            .as_str()
            .expect("note")
            .contains("again (first at row 2); the amounts are summed"),
        "{v}"
    );
    assert!(err.contains("dup.csv row 4"), "{err}");
}
