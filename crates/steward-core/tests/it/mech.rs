//! Cross-checks: Snapshot's `quadratic` scoring against snapshot.js itself.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use steward_core::mech::qv::{SnapshotVote, snapshot_scores};
use steward_testing::{Need, skip};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// node and snapshot.js's CommonJS build from the lockfiled npm tools, or why not.
fn snapshot_js() -> Result<(PathBuf, PathBuf), String> {
    let dir = std::env::var_os("STEWARD_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("tools/node_modules"));
    let lib = dir.join("@snapshot-labs/snapshot.js/dist/snapshot.cjs.js");
    if !lib.is_file() {
        return Err(format!(
            "{} not found (run scripts/setup-tools.sh)",
            lib.display()
        ));
    }
    let node = std::env::var_os("STEWARD_NODE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH")?)
                .map(|d| d.join("node"))
                .find(|p| p.is_file())
        })
        .ok_or("node not found (STEWARD_NODE or PATH)")?;
    Ok((node, lib))
}

/// A small deterministic generator (no dependency, same cases every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Proposals with valid and invalid ballots: out-of-range and zero keys, negative and all-zero
/// weights, empty choices, zero power, fractional weights and powers of very different sizes.
fn cases() -> Vec<(usize, Vec<SnapshotVote>)> {
    let mut g = Lcg(0x5eed);
    let mut out = Vec::new();
    for case in 0..60 {
        let choices = 1 + g.below(6) as usize;
        let mut votes = Vec::new();
        for _ in 0..g.below(25) {
            let mut choice = BTreeMap::new();
            for _ in 0..g.below(4) + usize::from(case % 7 != 0) as u64 {
                let key = g.below(choices as u64 + 2) as u32;
                let w = match g.below(6) {
                    0 => 0.0,
                    1 => -1.0,
                    2 => g.below(1000) as f64 / 7.0,
                    _ => (1 + g.below(100)) as f64,
                };
                choice.insert(key, w);
            }
            let balance = match g.below(5) {
                0 => 0.0,
                1 => g.below(1_000_000_000) as f64 * 1e9 / 3.0,
                _ => g.below(100_000) as f64 / 13.0,
            };
            votes.push(SnapshotVote { choice, balance });
        }
        out.push((choices, votes));
    }
    out
}

#[test]
fn snapshot_quadratic_matches_snapshot_js_bit_for_bit() {
    let (node, lib) = match snapshot_js() {
        Ok(t) => t,
        Err(why) => {
            skip(
                Need::Anvil,
                "snapshot_quadratic_matches_snapshot_js_bit_for_bit",
                why,
            );
            return;
        }
    };
    let cases = cases();
    // Inputs as JSON numbers (Rust prints the shortest round-trip form, JS parses it exactly);
    // outputs back as strings, parsed here exactly.
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|(choices, votes)| {
            serde_json::json!({
                "choices": (0..*choices).map(|i| format!("c{i}")).collect::<Vec<_>>(),
                "votes": votes.iter().map(|v| serde_json::json!({
                    "choice": v.choice.iter().map(|(k, w)| (k.to_string(), *w)).collect::<BTreeMap<_, _>>(),
                    "balance": v.balance,
                    "scores": [v.balance],
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let script = format!(
        "const s = require({lib:?});
         let buf = ''; process.stdin.on('data', d => buf += d).on('end', () => {{
           const out = JSON.parse(buf).map(c => new s.utils.voting.quadratic(
             {{ choices: c.choices }}, c.votes, [{{}}], {{}}).getScores().map(String));
           process.stdout.write(JSON.stringify(out));
         }});",
        lib = lib.display().to_string()
    );
    let mut child = Command::new(node)
        .args(["-e", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&input).expect("json").as_bytes())
        .expect("write to node");
    let out = child.wait_with_output().expect("node runs");
    assert!(out.status.success(), "node failed");
    let theirs: Vec<Vec<String>> = serde_json::from_slice(&out.stdout).expect("node's JSON");
    assert_eq!(theirs.len(), cases.len());
    let mut nonzero = 0;
    for (n, ((choices, votes), js)) in cases.iter().zip(&theirs).enumerate() {
        let ours = snapshot_scores(*choices, votes);
        let js: Vec<f64> = js.iter().map(|s| s.parse().expect("a number")).collect();
        assert_eq!(ours.len(), js.len(), "case {n}");
        for (a, b) in ours.iter().zip(&js) {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "case {n}: ours {ours:?}, snapshot.js {js:?}"
            );
            nonzero += usize::from(*a != 0.0);
        }
    }
    assert!(
        nonzero > 50,
        "the cases exercise real scores ({nonzero} non-zero)"
    );
}

#[path = "../../examples/support/gr3.rs"]
mod gr3;

/// GR3: pairwise CLR reproduces Gitcoin's per-grant estimates to a relative L1 error of 0.1853
/// (M = 25, phantom funding counted; docs/mechanisms.md lists every difference), clearly better
/// than plain CLR (0.2396) on the same data, and COCM's singleton case is plain CLR there too.
#[test]
fn gr3_pairwise_reproduces_gitcoin_estimates_to_the_documented_floor() {
    let g = match gr3::load(true) {
        Ok(g) => g,
        Err(why) => {
            skip(
                Need::Data,
                "gr3_pairwise_reproduces_gitcoin_estimates_to_the_documented_floor",
                why,
            );
            return;
        }
    };
    use steward_core::mech::{Clusters, cocm, qf};
    let keep: Vec<bool> = g.estimate.iter().map(|e| *e > 0.0).collect();
    assert_eq!(keep.iter().filter(|k| **k).count(), 61);
    assert_eq!(
        g.round.len(),
        1_944,
        "distinct (profile, grant) pairs with money"
    );
    let pw = qf::pairwise(&g.round, 25.0).expect("pairwise");
    let err = gr3::l1_error(&pw, &g.estimate, &keep);
    assert!((err - 0.1853).abs() < 5e-4, "pairwise error {err}");
    let plain = qf::plain(&g.round);
    let plain_err = gr3::l1_error(&plain, &g.estimate, &keep);
    assert!(
        plain_err > err + 0.05,
        "plain {plain_err} vs pairwise {err}"
    );
    let groups: Vec<Vec<u32>> = (0..g.round.donors().len() as u32)
        .map(|d| vec![d])
        .collect();
    let single = Clusters::groups(&g.round, &groups).expect("groups");
    let co = cocm::cocm(&g.round, &single, cocm::Form::Gitcoin { harsh: true }).expect("cocm");
    for (a, b) in co.iter().zip(&plain) {
        assert!((a - b).abs() <= 1e-9 * (1.0 + b), "{a} vs {b}");
    }
}
