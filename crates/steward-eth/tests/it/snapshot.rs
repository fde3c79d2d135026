//! Snapshot votes against Snapshot's own client: our envelopes verify with snapshot.js
//! `utils.verify` and ethers v6 `verifyTypedData` (hashes equal), and the envelopes snapshot.js
//! `Client712.vote` builds for all six voting types verify with ours. Fixed hash vectors pin
//! each layout.

use std::io::Write;
use std::process::{Command, Stdio};

use alloy::primitives::b256;
use serde_json::{Value, json};
use steward_eth::{
    Key, SnapshotChoice, SnapshotEnvelope, SnapshotVote, SnapshotVoteType, VoteLayout,
    VoteLayoutOf, verify_snapshot_envelope,
};

use crate::tools_or_skip;

/// anvil's account 1 (a well-known test key).
const SECRET: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const PROPOSAL: &str = "0x9c3a3bd4bbc7a59b0a3e09b9a2f0d7d3bcd8a0c2b0a1e8ee8bdad4f2d6f2b9a1";

fn key() -> Key {
    let s: [u8; 32] = alloy::hex::decode(SECRET)
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    Key::from_secret(&s).expect("key")
}

const CASES: [(SnapshotVoteType, &str); 6] = [
    (SnapshotVoteType::SingleChoice, "2"),
    (SnapshotVoteType::Basic, "1"),
    (SnapshotVoteType::Approval, "1,3"),
    (SnapshotVoteType::RankedChoice, "3,1,2"),
    (SnapshotVoteType::Weighted, r#"{"1":2,"3":1}"#),
    (SnapshotVoteType::Quadratic, r#"{"2":0.5,"1":4}"#),
];

fn vote(kind: SnapshotVoteType, choice: &str, reason: &str) -> SnapshotVote {
    SnapshotVote {
        from: key().address(),
        space: "steward-test.eth".into(),
        timestamp: 1_763_800_000,
        proposal: PROPOSAL.into(),
        kind,
        choice: SnapshotChoice::parse(kind, choice).expect("choice"),
        reason: reason.into(),
        app: "steward".into(),
        metadata: String::new(),
    }
}

#[test]
fn fixed_hash_vectors_per_layout() {
    // Computed with ethers v6 `TypedDataEncoder.hash` from hand-written types and messages (the
    // test below checks every type live as well).
    let got: Vec<_> = [CASES[0], CASES[2], CASES[4]]
        .iter()
        .map(|(k, c)| vote(*k, c, "Looks right").signing_hash().expect("hash"))
        .collect();
    assert_eq!(
        got,
        [
            b256!("0xb4354d5a2ba89536cc33745b88edafdc55f1bba852ae71d271c5a5ba6788bf2b"),
            b256!("0xb1bb8e5364618047c9be3a4ccbafb195bc2d92706900a2b9b61e294dcc6b756d"),
            b256!("0x5ef307aabf2aebaed73071d09df21eb06ea3c0049ce659442af981e7432a4a83"),
        ]
    );
}

#[test]
fn snapshot_js_and_ethers_verify_ours_and_we_verify_theirs() {
    let Some(tools) = tools_or_skip("snapshot_js_and_ethers_verify_ours") else {
        return;
    };
    let key = key();
    let ours: Vec<(SnapshotVote, SnapshotEnvelope)> = CASES
        .iter()
        .map(|(k, c)| {
            let v = vote(*k, c, "Ünïcode reason, \"quoted\"");
            let e = v.sign(&key).expect("sign");
            (v, e)
        })
        .collect();
    let theirs: Vec<Value> = CASES
        .iter()
        .map(|(k, c)| {
            let choice = match SnapshotChoice::parse(*k, c).expect("choice") {
                SnapshotChoice::One(n) => json!(n),
                SnapshotChoice::Many(v) => json!(v),
                SnapshotChoice::Weights(w) => json!(w),
            };
            json!({
                "type": k.as_str(), "space": "steward-test.eth", "proposal": PROPOSAL,
                "choice": choice, "reason": "from snapshot.js", "app": "snapshot",
                "timestamp": 1_763_800_123u64,
            })
        })
        .collect();
    let input = json!({
        "key": format!("0x{SECRET}"),
        "ours": ours.iter().map(|(_, e)| e).collect::<Vec<_>>(),
        "theirs": theirs,
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/snapshot_interop.js");
    let mut child = Command::new(&tools.node)
        .arg(script)
        .env("NODE_PATH", &tools.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("node runs");
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).expect("json from node");

    let want_address = key.address().to_checksum(None);
    for (i, (v, e)) in ours.iter().enumerate() {
        let r = &got["ours"][i];
        assert_eq!(r["ethers"], want_address.as_str(), "{}: {r}", v.kind);
        assert_eq!(r["snapshot"], true, "{}: {r}", v.kind);
        let hash = v.signing_hash().expect("hash").to_string();
        assert_eq!(r["hash"], hash.as_str(), "{}", v.kind);
        assert_eq!(r["snapshot_hash"], hash.as_str(), "{}", v.kind);
        assert_eq!(e.address, want_address);
    }
    for (i, (k, c)) in CASES.iter().enumerate() {
        let env: SnapshotEnvelope =
            serde_json::from_value(got["theirs"][i].clone()).expect("envelope shape");
        let checked = verify_snapshot_envelope(&env).unwrap_or_else(|e| panic!("{k}: {e}"));
        assert_eq!(checked.signer, key.address(), "{k}");
        assert_eq!(checked.vote.kind.layout(), k.layout(), "{k}");
        assert_eq!(
            checked.vote.choice,
            SnapshotChoice::parse(*k, c).expect("choice"),
            "{k}"
        );
        assert_eq!(checked.vote.metadata, "{}");
        // Their data is exactly what we build for the same vote.
        let mut same = vote(*k, c, "from snapshot.js");
        same.app = "snapshot".into();
        same.timestamp = 1_763_800_123;
        assert_eq!(env.data, same.typed_data().expect("data"), "{k}");
        assert_eq!(
            env.sig,
            same.sign(&key).expect("sign").sig,
            "{k}: RFC 6979 signatures are deterministic"
        );
        assert_eq!(
            env.data["types"],
            k.layout().types_json(),
            "{k}: layout {:?}",
            VoteLayout::Uint32
        );
    }
}
