//! `make bench` (consensus): times the engine; scripts/bench-consensus.sh runs red-dwarf on the
//! same files in the same run and compares.
//!
//! `bench_consensus gen N M DENSITY SEED FILE` writes a synthetic conversation as Polis's
//! open-data `votes.csv` (three latent opinion groups, each cell voted with probability DENSITY).
//! `bench_consensus run FILE|DIR GROUPS_OUT` analyses a `votes.csv` (or a Polis export folder)
//! and prints `{seconds, parse_seconds, participants, votes, clustered, groups, peak_rss_mib}`;
//! GROUPS_OUT gets `pid,group` lines for the comparison.
#![allow(clippy::print_stdout)]

use std::io::Write;
use std::time::Instant;

use steward_core::consensus::polis::{Sign, conversation_from_json, parse_votes_csv};
use steward_core::consensus::{Conversation, analyze};

/// SplitMix64: small, seeded, good enough to draw synthetic votes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn generate(n: u64, m: u64, density: f64, seed: u64, path: &str) -> std::io::Result<()> {
    let mut rng = Rng(seed);
    const GROUPS: usize = 3;
    // Each statement's agree probability per latent group.
    let p: Vec<[f64; GROUPS]> = (0..m)
        .map(|_| [rng.unit(), rng.unit(), rng.unit()])
        .collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "timestamp,datetime,comment-id,voter-id,vote")?;
    let mut t: u64 = 1_700_000_000_000;
    for pid in 0..n {
        let g = (rng.next() % GROUPS as u64) as usize;
        for tid in 0..m {
            if rng.unit() >= density {
                continue;
            }
            let r = rng.unit();
            let pa = p[tid as usize][g];
            // Agree with the group's probability; of the rest, 80% disagree and 20% pass.
            let vote = if r < pa {
                1
            } else if r < pa + (1.0 - pa) * 0.8 {
                -1
            } else {
                0
            };
            t += 1;
            writeln!(out, "{t},,{tid},{pid},{vote}")?;
        }
    }
    out.flush()
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn load(path: &str) -> Result<Conversation, Box<dyn std::error::Error>> {
    let p = std::path::Path::new(path);
    if p.is_dir() {
        let votes = std::fs::read_to_string(p.join("votes.json"))?;
        let comments = std::fs::read_to_string(p.join("comments.json")).ok();
        Ok(conversation_from_json(
            &votes,
            comments.as_deref(),
            Sign::Detect,
        )?)
    } else {
        let votes = parse_votes_csv(&std::fs::read_to_string(p)?, path)?;
        Ok(Conversation {
            votes,
            ..Default::default()
        })
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("gen") if args.len() == 6 => {
            generate(
                args[1].parse()?,
                args[2].parse()?,
                args[3].parse()?,
                args[4].parse()?,
                &args[5],
            )?;
            Ok(())
        }
        Some("run") if args.len() == 3 => {
            let t0 = Instant::now();
            let conv = load(&args[1])?;
            let parse_seconds = t0.elapsed().as_secs_f64();
            let t1 = Instant::now();
            let a = analyze(&conv)?;
            let seconds = t1.elapsed().as_secs_f64();
            let mut out = std::io::BufWriter::new(std::fs::File::create(&args[2])?);
            for g in &a.groups {
                for p in &g.members {
                    writeln!(out, "{p},{}", g.id)?;
                }
            }
            out.flush()?;
            println!(
                "{}",
                serde_json::json!({
                    "seconds": seconds,
                    "parse_seconds": parse_seconds,
                    "participants": a.pids.len(),
                    "votes": conv.votes.len(),
                    "clustered": a.in_conv.len(),
                    "groups": a.groups.len(),
                    "peak_rss_mib": peak_rss_mib(),
                })
            );
            Ok(())
        }
        _ => {
            Err("usage: bench_consensus gen N M DENSITY SEED FILE | run FILE|DIR GROUPS_OUT".into())
        }
    }
}
