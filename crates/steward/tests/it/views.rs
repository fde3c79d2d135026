//! `steward views draft` against the canary suite: the user's private writing is real delegate
//! and DRep rationales (../shared/data) with canaries planted in them in many phrasings (a
//! person's name, e-mail, wallet, amount, date, phone, a secret phrase, a private URL); the same
//! canaries sit in statements and a peer note. No canary may reach the draft (text or JSON),
//! its log lines, or its errors; the reasons that carry no secret must still be there. The
//! reviewed draft publishes signed by the user's key; edited back in, a canary stops it.

use serde_json::Value;

use crate::{PASS, models_present, run, snapshot_json, steward, temp_home};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

/// Every canary, lower case, as it must never appear.
const CANARIES: &[&str] = &[
    "dana",
    "whitfield",
    "quietmail",
    "7a3b9c",
    "48,500",
    "48500",
    "march 3",
    "2025-03-03",
    "7946",
    "amber falcon",
    "harbor lantern",
    "notes.example",
    "7f3k",
    "hollow oak",
];

/// Planted into the rationales, one phrasing per piece, cycling.
const PHRASINGS: &[&str] = &[
    "I discussed this with Dana Whitfield before voting.",
    "Whitfield's view (dana.whitfield@quietmail.org) was that the budget is too loose.",
    "Reach D. Whitfield at dana.whitfield (at) quietmail (dot) org if this needs a second look.",
    "My cold wallet 0x7a3b9c0000000000000000000000000000c0ffee would take the 48,500 USDC.",
    "We agreed on March 3rd, 2025 to revisit; call +44 20 7946 0958.",
    "The vault passphrase is amber falcon seventeen river harbor lantern, do not share.",
    "Private notes: https://notes.example.net/p/7f3k and notes.example.net/p/7f3k/raw",
    "Meeting on 2025-03-03 at Hollow Oak Partners about a $48,500 grant.",
];

fn rationales() -> Option<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    let arb = std::fs::read_to_string(format!("{DATA}/arbitrum-forum-rationales/rationales.jsonl"))
        .ok()?;
    for line in arb.lines().take(14) {
        let v: Value = serde_json::from_str(line).ok()?;
        let choice = match v["vote"].as_str()? {
            s if s.starts_with("For") => "For",
            "Against" => "Against",
            _ => "Abstain",
        };
        out.push((
            v["proposal_title"].as_str()?.to_owned(),
            choice.to_owned(),
            v["rationale"].as_str()?.to_owned(),
        ));
    }
    let ada =
        std::fs::read_to_string(format!("{DATA}/cardano-drep-rationales/votes.jsonl")).ok()?;
    for line in ada.lines().take(14) {
        let v: Value = serde_json::from_str(line).ok()?;
        let choice = match v["vote"].as_str()? {
            "Yes" => "For",
            "No" => "Against",
            _ => "Abstain",
        };
        out.push((
            v["title"].as_str()?.to_owned(),
            choice.to_owned(),
            v["rationale"].as_str()?.to_owned(),
        ));
    }
    Some(out)
}

#[test]
fn no_canary_reaches_the_draft_its_json_or_its_logs() {
    let Some(pieces) = rationales() else {
        steward_testing::skip(
            steward_testing::Need::Data,
            "no_canary_reaches_the_draft_its_json_or_its_logs",
            format_args!("the rationales in {DATA} are absent"),
        );
        return;
    };
    if !models_present("no_canary_reaches_the_draft_its_json_or_its_logs") {
        return;
    }
    let (dir, home) = temp_home();
    let st = |args: &[&str]| {
        let mut c = steward(&home);
        c.env("STEWARD_PASSPHRASE", PASS).args(args);
        run(&mut c)
    };
    assert_eq!(st(&["init"]).0, 0);

    // Public: the proposals themselves, and the user's votes on them.
    let proposals: Vec<String> = pieces
        .iter()
        .enumerate()
        .map(|(i, (title, _, _))| {
            snapshot_json(
                "views.eth",
                &format!("0x{i:02x}"),
                title,
                "The proposal as published.",
            )
        })
        .collect();
    let pfile = dir.path().join("proposals.jsonl");
    std::fs::write(&pfile, proposals.join("\n")).expect("write");
    assert_eq!(st(&["ingest", "file", pfile.to_str().expect("utf8")]).0, 0);
    let mut csv = String::from("voter,proposal_id,choice,title,order_rank\n");
    for (i, (title, choice, _)) in pieces.iter().enumerate() {
        csv.push_str(&format!(
            "0xaa,0x{i:02x},{choice},\"{}\",{i}\n",
            title.replace('"', "'")
        ));
    }
    let vfile = dir.path().join("votes.csv");
    std::fs::write(&vfile, csv).expect("write");
    let (code, _, err) = st(&["profile", "import", "votes", vfile.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");

    // Private: the writing, with canaries planted in every piece.
    let mut writing = String::new();
    for (i, (_, _, rationale)) in pieces.iter().enumerate() {
        let canary = PHRASINGS[i % PHRASINGS.len()];
        writing.push_str(&format!("{rationale} {canary}\n\n"));
    }
    let wfile = dir.path().join("writing.md");
    std::fs::write(&wfile, writing).expect("write");
    let (code, _, err) = st(&[
        "profile",
        "import",
        "writing",
        wfile.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{err}");

    // Private too: statements and a note that repeat canaries next to real opinions.
    for s in [
        "I support funding security audits of the bridge, as Dana Whitfield argued.",
        "I oppose grants above $48,500 without milestones; dana.whitfield@quietmail.org agrees.",
        "I support the security council elections; see https://notes.example.net/p/7f3k.",
        "I oppose treasury spending decided on March 3rd, 2025 at Hollow Oak Partners.",
        "I support shielded voting for elections; amber falcon seventeen river harbor lantern.",
    ] {
        assert_eq!(st(&["profile", "say", s]).0, 0);
    }
    let (code, _, err) = st(&[
        "profile",
        "trust",
        "0x7a3b9c0000000000000000000000000000c0ffee",
        "--note",
        "Dana Whitfield's cold wallet",
    ]);
    assert_eq!(code, 0, "{err}");

    let (code, text, text_err) = st(&["-vv", "views", "draft"]);
    assert_eq!(code, 0, "{text_err}");
    let (code, json_out, json_err) = st(&["--json", "-vv", "views", "draft"]);
    assert_eq!(code, 0, "{json_err}");
    let (code, saved, saved_err) = st(&["views", "draft", "--save"]);
    assert_eq!(code, 0, "{saved_err}");
    assert_eq!(saved, text, "a saved draft is the same draft");
    let (code, topic_out, topic_err) = st(&["--json", "views", "draft", "--topic", "security"]);
    assert_eq!(code, 0, "{topic_err}");

    for (what, s) in [
        ("draft", &text),
        ("draft log", &text_err),
        ("json draft", &json_out),
        ("json log", &json_err),
        ("topic draft", &topic_out),
        ("saved draft log", &saved_err),
        ("topic log", &topic_err),
    ] {
        let lower = s.to_lowercase();
        for c in CANARIES {
            assert!(!lower.contains(c), "canary {c:?} in the {what}:\n{s}");
        }
    }

    // Not an empty filter: the positions and the reasons without secrets are there.
    let d = &crate::json(&json_out)["data"];
    let positions = d["positions"].as_array().expect("positions");
    assert!(!positions.is_empty(), "{json_out}");
    let reasons: Vec<&str> = positions
        .iter()
        .flat_map(|p| p["reasons"].as_array().into_iter().flatten())
        .filter_map(|r| r["text"].as_str())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("funding security audits of the bridge")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("without milestones")),
        "{reasons:?}"
    );
    assert!(d["removed"].as_u64().unwrap_or(0) >= 5, "{json_out}");
    assert!(d["writing_counted"].as_u64().unwrap_or(0) > 0, "{json_out}");
    // Traceable: every position names what it rests on.
    assert!(
        positions
            .iter()
            .all(|p| !p["rests_on"].as_array().expect("rests_on").is_empty())
    );
    // Publish: the draft as reviewed is signed with the user's key (EIP-191); anyone recovers
    // the author from the export alone.
    let kpw = "views-kpw-1";
    let key = |args: &[&str]| {
        let mut c = steward(&home);
        c.env("STEWARD_PASSPHRASE", PASS)
            .env("STEWARD_KEYSTORE_PASSWORD", kpw)
            .args(args);
        run(&mut c)
    };
    let (code, made, err) = key(&["--json", "key", "new", "--light-kdf"]);
    assert_eq!(code, 0, "{err}");
    let author = crate::json(&made)["data"]["address"]
        .as_str()
        .expect("address")
        .to_lowercase();
    let reviewed = dir.path().join("views.md");
    std::fs::write(&reviewed, &text).expect("write");
    // A Polis conversation the user took part in, saved with `--me`: their votes go out with the
    // views, signed, as the vote vector.
    let conv = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/polis-math-reference/25ptpt-3gp-no-strict-with-meta"
    );
    let (code, _, err) = key(&["consensus", "polis", conv, "--save", "ref25", "--me", "1"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = key(&[
        "--json",
        "views",
        "publish",
        reviewed.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let path = crate::json(&out)["data"]["path"]
        .as_str()
        .expect("path")
        .to_owned();
    let export: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("export")).expect("json");
    assert_eq!(export["author"].as_str(), Some(author.as_str()));
    assert_eq!(export["views"].as_str(), Some(text.as_str()));
    let votes = export["votes"].as_array().expect("votes");
    assert!(!votes.is_empty(), "{export}");
    assert!(
        votes.iter().all(|v| v["conversation"] == "ref25"
            && [-1, 0, 1].contains(&v["vote"].as_i64().unwrap_or(9))),
        "{votes:?}"
    );
    assert!(
        !export.to_string().contains("polis-math-reference"),
        "the local folder leaked"
    );
    let signed = serde_json::json!({
        "kind": export["kind"], "version": export["version"], "author": export["author"],
        "created": export["created"], "views": export["views"], "votes": export["votes"],
    })
    .to_string();
    let sig: alloy::primitives::Signature = export["signature"]
        .as_str()
        .expect("signature")
        .parse()
        .expect("a signature");
    let signer = sig
        .recover_address_from_msg(signed.as_bytes())
        .expect("recover");
    assert_eq!(format!("{signer:#x}"), author);
    for c in CANARIES {
        assert!(
            !export.to_string().to_lowercase().contains(c),
            "canary {c:?} exported"
        );
    }

    // Edited back in, a private item stops the export, and the error names the line, not it.
    let edited = format!(
        "{text}

As Dana Whitfield told me at hollow oak partners.
"
    );
    std::fs::write(&reviewed, &edited).expect("write");
    let (code, out, err) = key(&["views", "publish", reviewed.to_str().expect("utf8")]);
    assert_ne!(code, 0, "{out}");
    let line = edited.lines().count();
    assert!(err.contains(&format!("line(s) {line}")), "{err}");
    for c in CANARIES {
        assert!(
            !err.to_lowercase().contains(c),
            "canary {c:?} in the refusal: {err}"
        );
    }

    // Writing the user marks shareable may be quoted; until then a quote of it stops the export.
    let shared_text = "Shared reflection: the grants council should publish quarterly milestone reports before any renewal vote.";
    let sfile = dir.path().join("shared.md");
    std::fs::write(&sfile, shared_text).expect("write");
    let (code, _, err) = st(&[
        "profile",
        "import",
        "writing",
        sfile.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, shown, err) = st(&["--json", "profile", "show"]);
    assert_eq!(code, 0, "{err}");
    let shown = crate::json(&shown);
    let item = shown["data"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| {
            i["origin"]
                .as_str()
                .is_some_and(|o| o.contains("shared.md"))
        })
        .and_then(|i| i["id"].as_i64())
        .expect("the shared piece");
    let quoting = format!(
        "{text}\n\nAs I wrote: the grants council should publish quarterly milestone reports.\n"
    );
    std::fs::write(&reviewed, &quoting).expect("write");
    let (code, out, _) = key(&["views", "publish", reviewed.to_str().expect("utf8")]);
    assert_ne!(code, 0, "a quote of unshared writing was published: {out}");
    let (code, _, err) = st(&["profile", "share", &item.to_string()]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = key(&["views", "publish", reviewed.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, _) = st(&["profile", "share", "999999"]);
    assert_ne!(code, 0, "an unknown item is an error");

    let t = &crate::json(&topic_out)["data"];
    assert!(
        t["positions"]
            .as_array()
            .expect("positions")
            .iter()
            .all(|p| p["topic"].as_str().is_some_and(|s| s.contains("security"))),
        "{topic_out}"
    );
}
