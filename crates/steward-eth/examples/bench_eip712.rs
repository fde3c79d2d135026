//! `make bench` (eip712): Snapshot vote EIP-712 hash + sign + recover, per second, on the same
//! messages as `bench/eip712-ethers.js`. Prints one JSON object. Usage:
//! `bench_eip712 [N]` (default 3000 messages, one third of each layout).

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use alloy::primitives::B256;
use alloy::signers::SignerSync;
use alloy::signers::k256::ecdsa::VerifyingKey;
use alloy::signers::local::{PrivateKeySigner, Secp256k1Signer};
use steward_eth::{SnapshotChoice, SnapshotVote, SnapshotVoteType};

const SECRET: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

fn messages(n: usize, from: alloy::primitives::Address) -> Vec<SnapshotVote> {
    (0..n)
        .map(|i| {
            let (kind, choice) = match i % 3 {
                0 => (
                    SnapshotVoteType::SingleChoice,
                    SnapshotChoice::One(1 + (i % 4) as u32),
                ),
                1 => (
                    SnapshotVoteType::Approval,
                    SnapshotChoice::Many(vec![1, 2 + (i % 3) as u32]),
                ),
                _ => (
                    SnapshotVoteType::Weighted,
                    SnapshotChoice::parse(
                        SnapshotVoteType::Weighted,
                        &format!("{{\"1\":{},\"2\":1}}", 1 + i % 5),
                    )
                    .unwrap(),
                ),
            };
            SnapshotVote {
                from,
                space: "bench.eth".into(),
                timestamp: 1_763_800_000 + i as u64,
                proposal: format!("0x{i:064x}"),
                kind,
                choice,
                reason: format!("reason {i}"),
                app: "steward".into(),
                metadata: String::new(),
            }
        })
        .collect()
}

fn run(name: &str, msgs: &[SnapshotVote], mut f: impl FnMut(B256)) -> (String, f64) {
    // Warm up, then time the whole set.
    for m in msgs.iter().take(50) {
        f(m.signing_hash().unwrap());
    }
    let t = Instant::now();
    for m in msgs {
        f(m.signing_hash().unwrap());
    }
    (
        name.to_owned(),
        msgs.len() as f64 / t.elapsed().as_secs_f64(),
    )
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let bytes = B256::from_slice(&alloy::hex::decode(SECRET).unwrap());
    let k = PrivateKeySigner::from_bytes(&bytes).unwrap();
    let s = Secp256k1Signer::from_bytes(&bytes).unwrap();
    let me = k.address();
    let msgs = messages(n, me);
    let mut out = Vec::new();
    // What Steward does: Key::sign_hash (libsecp256k1) + Signature::recover_address_from_prehash
    // (libsecp256k1 through alloy's `secp256k1` feature).
    let key = steward_eth::Key::from_secret(&bytes.0).unwrap();
    out.push(run("steward", &msgs, |h| {
        let sig = key.sign_hash(&h).unwrap();
        assert_eq!(sig.recover_address_from_prehash(&h).unwrap(), me);
    }));
    out.push(run("alloy_secp256k1_signer", &msgs, |h| {
        let sig = s.sign_hash_sync(&h).unwrap();
        assert_eq!(sig.recover_address_from_prehash(&h).unwrap(), me);
    }));
    out.push(run("k256", &msgs, |h| {
        let sig = k.sign_hash_sync(&h).unwrap();
        let (rs, v) = (sig.to_k256().unwrap(), sig.recid());
        let vk = VerifyingKey::recover_from_prehash(h.as_slice(), &rs, v).unwrap();
        assert_eq!(alloy::primitives::Address::from_public_key(&vk), me);
    }));
    let fields: Vec<String> = out
        .iter()
        .map(|(n, r)| format!("\"{n}_ops_per_sec\": {r:.1}"))
        .collect();
    println!("{{\"messages\": {n}, {}}}", fields.join(", "));
}
