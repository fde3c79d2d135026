//! The consensus engine against the Polis math server's own output on four real pol.is
//! conversations (../shared/data/polis-math-reference, `math-pca2.json`), and over Polis's open
//! data. The measurements go to stderr for docs/consensus.md.
#![allow(clippy::print_stderr)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use steward_core::consensus::polis::{Sign, adjusted_rand, conversation_from_json};
use steward_core::consensus::{Analysis, RepfulFor, analyze};

const CONVERSATIONS: [&str; 4] = [
    "below-100-ptpts",
    "25ptpt-3gp-no-strict-with-meta",
    "50ptpt-3gp-strict-no-meta",
    "150ptpt-3gp-no-strict-no-meta",
];

fn reference_dir(test: &str) -> Option<PathBuf> {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/polis-math-reference"
    ));
    if p.is_dir() {
        Some(p)
    } else {
        steward_testing::skip(
            steward_testing::Need::Data,
            test,
            format_args!("{} is absent", p.display()),
        );
        None
    }
}

struct Case {
    name: &'static str,
    ours: Analysis,
    polis: Value,
}

fn load(dir: &std::path::Path, name: &'static str) -> Case {
    let read = |f: &str| std::fs::read_to_string(dir.join(name).join(f)).expect(f);
    let conv = conversation_from_json(
        &read("votes.json"),
        Some(&read("comments.json")),
        Sign::Detect,
    )
    .expect("parse");
    let ours = analyze(&conv).expect("analyze");
    let polis: Value = serde_json::from_str(&read("math-pca2.json")).expect("math json");
    Case { name, ours, polis }
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("id"))
        .collect()
}

fn jaccard(a: &BTreeSet<u64>, b: &BTreeSet<u64>) -> f64 {
    a.intersection(b).count() as f64 / a.union(b).count() as f64
}

/// Polis's groups as pid -> group id, through its base clusters.
fn polis_groups(p: &Value) -> BTreeMap<u64, u64> {
    let base = &p["base-clusters"];
    let bid: Vec<u64> = ids(&base["id"]);
    let members: Vec<Vec<u64>> = base["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(ids)
        .collect();
    let by_bid: BTreeMap<u64, &Vec<u64>> = bid.iter().copied().zip(members.iter()).collect();
    let mut out = BTreeMap::new();
    for g in p["group-clusters"].as_array().expect("groups") {
        let gid = g["id"].as_u64().expect("gid");
        for b in ids(&g["members"]) {
            for pid in by_bid[&b] {
                out.insert(*pid, gid);
            }
        }
    }
    out
}

fn our_groups(a: &Analysis) -> BTreeMap<u64, u64> {
    a.groups
        .iter()
        .flat_map(|g| g.members.iter().map(move |p| (*p, g.id as u64)))
        .collect()
}

fn ari(c: &Case) -> f64 {
    let theirs = polis_groups(&c.polis);
    let ours = our_groups(&c.ours);
    let common: Vec<u64> = theirs
        .keys()
        .filter(|p| ours.contains_key(p))
        .copied()
        .collect();
    let a: Vec<u64> = common.iter().map(|p| theirs[p]).collect();
    let b: Vec<u64> = common.iter().map(|p| ours[p]).collect();
    adjusted_rand(&a, &b)
}

/// Largest difference between our components and Polis's, each compared up to sign, over the
/// statements both have (Polis's `tids` order).
fn pca_diff(c: &Case) -> (f64, f64) {
    let tids = ids(&c.polis["tids"]);
    let col: BTreeMap<u64, usize> = c
        .ours
        .tids
        .iter()
        .enumerate()
        .map(|(i, t)| (*t, i))
        .collect();
    let center = c.polis["pca"]["center"].as_array().expect("center");
    // Polis's math reads agree as -1, so its centre is the negation of ours.
    let center_diff = tids
        .iter()
        .enumerate()
        .filter_map(|(k, t)| {
            col.get(t)
                .map(|&j| (c.ours.pca.center[j] + center[k].as_f64().expect("f")).abs())
        })
        .fold(0.0, f64::max);
    let mut comp_diff: f64 = 0.0;
    for (n, comp) in c.polis["pca"]["comps"]
        .as_array()
        .expect("comps")
        .iter()
        .enumerate()
    {
        let theirs: Vec<f64> = comp
            .as_array()
            .expect("comp")
            .iter()
            .map(|x| x.as_f64().expect("f"))
            .collect();
        let best = [1.0, -1.0]
            .iter()
            .map(|s| {
                tids.iter()
                    .enumerate()
                    .filter_map(|(k, t)| {
                        col.get(t)
                            .map(|&j| (s * c.ours.pca.comps[n][j] - theirs[k]).abs())
                    })
                    .fold(0.0, f64::max)
            })
            .fold(f64::INFINITY, f64::min);
        comp_diff = comp_diff.max(best);
    }
    (center_diff, comp_diff)
}

/// Our group id for each Polis group id, by largest membership overlap.
fn group_match(c: &Case) -> BTreeMap<u64, usize> {
    let theirs = polis_groups(&c.polis);
    let mut out = BTreeMap::new();
    for g in c.polis["group-clusters"].as_array().expect("groups") {
        let gid = g["id"].as_u64().expect("gid");
        let members: BTreeSet<u64> = theirs
            .iter()
            .filter(|(_, v)| **v == gid)
            .map(|(k, _)| *k)
            .collect();
        let best = c
            .ours
            .groups
            .iter()
            .max_by_key(|og| og.members.iter().filter(|p| members.contains(p)).count())
            .map(|og| og.id)
            .expect("a group");
        out.insert(gid, best);
    }
    out
}

/// (statements in Polis's repness lists, of those we list for the matching group, and the
/// largest difference in any reported statistic for the statements we share).
fn repness_agreement(c: &Case) -> (usize, usize, f64) {
    let matching = group_match(c);
    let (mut total, mut same, mut worst) = (0, 0, 0.0_f64);
    for (gid, list) in c.polis["repness"].as_object().expect("repness") {
        let ours = &c.ours.repness[matching[&gid.parse::<u64>().expect("gid")]];
        for r in list.as_array().expect("list") {
            total += 1;
            let tid = r["tid"].as_u64().expect("tid");
            let Some(o) = ours.iter().find(|o| o.tid == tid) else {
                continue;
            };
            let dir = if r["repful-for"] == "agree" {
                RepfulFor::Agree
            } else {
                RepfulFor::Disagree
            };
            if o.repful_for != dir {
                continue;
            }
            same += 1;
            for (ours, key) in [
                (o.p_success, "p-success"),
                (o.p_test, "p-test"),
                (o.repness, "repness"),
                (o.repness_test, "repness-test"),
            ] {
                worst = worst.max((ours - r[key].as_f64().expect(key)).abs());
            }
        }
    }
    (total, same, worst)
}

/// Largest relative difference of a per-statement number map (`key` in math-pca2.json).
fn per_tid_diff(c: &Case, key: &str, ours: &BTreeMap<u64, f64>) -> f64 {
    c.polis[key]
        .as_object()
        .expect(key)
        .iter()
        .filter_map(|(t, v)| {
            let theirs = v.as_f64()?;
            let o = ours.get(&t.parse::<u64>().ok()?)?;
            Some((o - theirs).abs() / theirs.abs().max(1e-12))
        })
        .fold(0.0, f64::max)
}

/// (agree, disagree) statement ids.
type Lists = (Vec<u64>, Vec<u64>);

fn consensus_lists(c: &Case) -> (Lists, Lists) {
    let theirs = |k: &str| {
        c.polis["consensus"][k]
            .as_array()
            .expect("list")
            .iter()
            .map(|x| x["tid"].as_u64().expect("tid"))
            .collect()
    };
    let ours = (
        c.ours.consensus_agree.iter().map(|x| x.tid).collect(),
        c.ours.consensus_disagree.iter().map(|x| x.tid).collect(),
    );
    ((theirs("agree"), theirs("disagree")), ours)
}

#[test]
fn reproduces_the_polis_math_server_on_real_conversations() {
    let Some(dir) = reference_dir("reproduces_the_polis_math_server_on_real_conversations") else {
        return;
    };
    for name in CONVERSATIONS {
        let c = load(&dir, name);
        let theirs_in: BTreeSet<u64> = ids(&c.polis["in-conv"]).into_iter().collect();
        let ours_in: BTreeSet<u64> = c.ours.in_conv.iter().copied().collect();
        let overlap = jaccard(&ours_in, &theirs_in);
        let ari = ari(&c);
        let (center_diff, comp_diff) = pca_diff(&c);
        let (rep_total, rep_same, rep_worst) = repness_agreement(&c);
        let (theirs_cons, ours_cons) = consensus_lists(&c);
        let gac = per_tid_diff(&c, "group-aware-consensus", &c.ours.group_aware_consensus);
        let prio = per_tid_diff(&c, "comment-priorities", &c.ours.comment_priorities);
        let extremity: BTreeMap<u64, f64> = ids(&c.polis["tids"])
            .into_iter()
            .zip(
                c.polis["pca"]["comment-extremity"]
                    .as_array()
                    .expect("ext")
                    .iter()
                    .map(|x| x.as_f64().expect("f")),
            )
            .collect();
        let ext = extremity
            .iter()
            .filter_map(|(t, e)| c.ours.comment_extremity.get(t).map(|o| (o - e).abs()))
            .fold(0.0, f64::max);
        eprintln!(
            "{}: group-aware consensus rel diff {gac:.2e}; comment priorities rel diff {prio:.2e}; extremity diff {ext:.2e}",
            c.name
        );
        eprintln!(
            "{}: in-conv overlap {overlap:.3} ({} vs {}); groups {} vs {}, ARI {ari:.3}; pca centre diff {center_diff:.2e}, comps diff {comp_diff:.2e}; repness {rep_same}/{rep_total} same (stat diff {rep_worst:.2e}); consensus polis {theirs_cons:?} ours {ours_cons:?}; silhouettes {:?}",
            c.name,
            ours_in.len(),
            theirs_in.len(),
            c.ours.groups.len(),
            c.polis["group-clusters"].as_array().expect("g").len(),
            c.ours.silhouettes,
        );
        // Polis keeps participants by replaying its runs; so do we (target: 95% overlap).
        assert!(overlap >= 0.95, "{name}: in-conv overlap {overlap}");
        // Same consensus statements, same order, everywhere.
        assert_eq!(theirs_cons, ours_cons, "{name}: consensus");
        // Comment priorities only depend on the clustered participants' totals and the PCA.
        if name == "50ptpt-3gp-strict-no-meta" {
            // Upstream: this export lacks votes the server saw (user-vote-counts 945 vs 941
            // in votes.json), which moves the centre of 4 statements and with it the components.
            assert!(
                center_diff < 0.05 && comp_diff < 0.05,
                "{name}: pca {center_diff} {comp_diff}"
            );
        } else {
            assert!(
                center_diff < 1e-3 && comp_diff < 1e-3,
                "{name}: pca {center_diff} {comp_diff}"
            );
            assert!(prio < 1e-9, "{name}: comment priorities {prio}");
        }
        match name {
            // One-shot k-means lands in a different local optimum from the server's, whose
            // groups come from years of incremental runs (ours has the lower within-group sum
            // of squares: 53.17 vs 53.58 on identical positions); docs/consensus.md.
            "25ptpt-3gp-no-strict-with-meta" => assert!(ari > 0.6, "{name}: ARI {ari}"),
            _ => {
                assert!(ari >= 0.9, "{name}: ARI {ari}");
                assert_eq!(rep_same, rep_total, "{name}: repness statements");
            }
        }
        if ari == 1.0 {
            assert!(
                rep_worst < 1e-6,
                "{name}: repness statistics differ by {rep_worst}"
            );
            assert!(gac < 1e-9, "{name}: group-aware consensus {gac}");
        }
    }
}

/// The engine over Polis's open data, against the group ids pol.is published. Prints the table
/// docs/consensus.md records; asserts that every conversation either clusters or says why not.
#[test]
fn runs_over_polis_open_data() {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/polis-opendata"
    ));
    if !p.is_dir() {
        steward_testing::skip(
            steward_testing::Need::Data,
            "runs_over_polis_open_data",
            format_args!("{} is absent", p.display()),
        );
        return;
    }
    use steward_core::consensus::Conversation;
    use steward_core::consensus::polis::{moderated_out_csv, parse_matrix_csv, parse_votes_csv};
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&p)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut analysed = 0;
    eprintln!(
        "| conversation | input | participants | clustered | groups (ours / published) | ARI vs published |"
    );
    for dir in dirs {
        let name = dir.file_name().expect("name").to_string_lossy().to_string();
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
        let matrix = read("participants-votes.csv")
            .map(|t| parse_matrix_csv(&t, "participants-votes.csv").expect("matrix"));
        let (votes, input) = match (read("votes.csv"), &matrix) {
            (Some(t), _) => (
                parse_votes_csv(&t, "votes.csv").expect("votes"),
                "votes.csv",
            ),
            (None, Some(m)) => (m.votes.clone(), "participants-votes.csv"),
            (None, None) => {
                eprintln!("| {name} | (no votes in the snapshot) | | | | |");
                continue;
            }
        };
        let mod_out = read("comments.csv")
            .map(|t| moderated_out_csv(&t, "comments.csv").expect("comments"))
            .unwrap_or_default();
        let conv = Conversation {
            votes,
            mod_out,
            ..Default::default()
        };
        let a = analyze(&conv).unwrap_or_else(|e| panic!("{name}: {e}"));
        analysed += 1;
        let published = matrix.map(|m| m.published_groups).unwrap_or_default();
        let ours = our_groups(&a);
        let common: Vec<u64> = published
            .keys()
            .filter(|k| ours.contains_key(k))
            .copied()
            .collect();
        let n_pub = published.values().collect::<BTreeSet<_>>().len();
        let ari = if common.is_empty() {
            "-".to_string()
        } else {
            let x: Vec<u64> = common.iter().map(|k| published[k]).collect();
            let y: Vec<u64> = common.iter().map(|k| ours[k]).collect();
            format!("{:.3} (over {})", adjusted_rand(&x, &y), common.len())
        };
        eprintln!(
            "| {name} | {input} | {} | {} | {} / {n_pub} | {ari} |",
            a.pids.len(),
            a.in_conv.len(),
            a.groups.len()
        );
    }
    assert!(analysed >= 15, "only {analysed} conversations analysed");
}
