//! `make bench` (mechanisms): pairwise CLR and COCM (Gitcoin form, harsh, project clusters) on
//! GR3 and on a synthetic sparse round, timed in-process; `scripts/bench-mech.sh` runs the numpy
//! implementation of the same formulas (bench/mech_numpy.py) on the same files and compares.
//!
//!   bench_mech gen-synth DIR [CONTRIBUTIONS PROJECTS DONORS]   writes DIR/{donor,project}.u32, amount.f64, meta.json
//!   bench_mech gen-gr3 DIR                                     GR3 (phantom counted) in the same format
//!   bench_mech run DIR pairwise|cocm [FIRST_K_PROJECTS]        prints JSON; writes DIR/out-rust-<mech>.f64
//!     (also cocm-direct, cocm-paper, cocm-paper-direct: the paper form, and every pair summed)

// A bench prints its figures.
#![allow(clippy::print_stdout)]

#[path = "support/gr3.rs"]
mod gr3;

use std::path::Path;
use std::time::Instant;

use steward_core::mech::cocm::{Form, Pairs, cocm_projects_with};
use steward_core::mech::{Clusters, Round, qf};

fn write_round(dir: &Path, round: &Round) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let (mut d, mut p, mut a) = (Vec::new(), Vec::new(), Vec::new());
    for proj in 0..round.projects().len() {
        let (donors, amounts) = round.project(proj);
        for (&x, &y) in donors.iter().zip(amounts) {
            d.extend_from_slice(&x.to_le_bytes());
            p.extend_from_slice(&(proj as u32).to_le_bytes());
            a.extend_from_slice(&y.to_le_bytes());
        }
    }
    let w =
        |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).map_err(|e| e.to_string());
    w("donor.u32", &d)?;
    w("project.u32", &p)?;
    w("amount.f64", &a)?;
    w(
        "meta.json",
        format!(
            "{{\"donors\": {}, \"projects\": {}, \"contributions\": {}}}",
            round.donors().len(),
            round.projects().len(),
            round.len()
        )
        .as_bytes(),
    )
}

/// Uniform donors and projects, amounts skewed like real rounds (most small, a few large).
fn synth(n: usize, projects: u32, donors: u32) -> Result<Round, String> {
    let mut s: u64 = 0x5eed_cafe;
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s >> 11
    };
    let triples = (0..n)
        .map(|_| {
            let d = (next() % u64::from(donors)) as u32;
            let p = (next() % u64::from(projects)) as u32;
            let u = (next() >> 11) as f64 / (1u64 << 42) as f64;
            (d, p, (1.0 + 200.0 * u * u * u * 100.0).round() / 100.0)
        })
        .collect();
    Round::new(
        (0..donors).map(|d| format!("d{d}")).collect(),
        (0..projects).map(|p| format!("p{p}")).collect(),
        triples,
    )
    .map_err(|e| e.to_string())
}

fn read_u32(path: &Path) -> Result<Vec<u32>, String> {
    let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(b.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn read_f64(path: &Path) -> Result<Vec<f64>, String> {
    let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(b.chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect())
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| {
        args.get(i)
            .map(String::as_str)
            .ok_or("usage: see the file's header")
    };
    match arg(1)? {
        "gen-synth" => {
            let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
            let r = synth(
                num(3, 1_000_000),
                num(4, 10_000) as u32,
                num(5, 100_000) as u32,
            )?;
            write_round(Path::new(arg(2)?), &r)
        }
        "gen-gr3" => write_round(Path::new(arg(2)?), &gr3::load(true)?.round),
        "run" => {
            let dir = Path::new(arg(2)?);
            let mech = arg(3)?;
            let donor = read_u32(&dir.join("donor.u32"))?;
            let project = read_u32(&dir.join("project.u32"))?;
            let amount = read_f64(&dir.join("amount.f64"))?;
            let meta = std::fs::read_to_string(dir.join("meta.json")).map_err(|e| e.to_string())?;
            let field = |k: &str| -> Result<usize, String> {
                let v: serde_json::Value =
                    serde_json::from_str(&meta).map_err(|e| e.to_string())?;
                v[k].as_u64()
                    .map(|x| x as usize)
                    .ok_or(format!("meta.json lacks {k}"))
            };
            let (nd, np) = (field("donors")?, field("projects")?);
            let triples: Vec<(u32, u32, f64)> = donor
                .iter()
                .zip(&project)
                .zip(&amount)
                .map(|((&d, &p), &a)| (d, p, a))
                .collect();
            let first: usize = args
                .get(4)
                .and_then(|s| s.parse().ok())
                .unwrap_or(np)
                .min(np);
            // Timed: building the sparse round (the CSR both ways) and the mechanism.
            let t = Instant::now();
            let round = Round::new(
                (0..nd).map(|d| d.to_string()).collect(),
                (0..np).map(|p| p.to_string()).collect(),
                triples,
            )
            .map_err(|e| e.to_string())?;
            let built = t.elapsed().as_secs_f64();
            let out = match mech {
                "pairwise" => qf::pairwise(&round, 25.0).map_err(|e| e.to_string())?,
                // `cocm` is what the script compares with numpy; the others time the paper form
                // and each form's reference (every pair summed) against it.
                "cocm" | "cocm-direct" | "cocm-paper" | "cocm-paper-direct" => {
                    let clusters = Clusters::projects(&round);
                    let only: Vec<usize> = (0..first).collect();
                    let form = if mech.starts_with("cocm-paper") {
                        Form::Paper
                    } else {
                        Form::Gitcoin { harsh: true }
                    };
                    let pairs = if mech.ends_with("-direct") {
                        Pairs::Direct
                    } else {
                        Pairs::Auto
                    };
                    cocm_projects_with(&round, &clusters, form, &only, pairs)
                        .map_err(|e| e.to_string())?
                }
                other => return Err(format!("unknown mechanism {other}")),
            };
            let secs = t.elapsed().as_secs_f64();
            let bytes: Vec<u8> = out.iter().flat_map(|x| x.to_le_bytes()).collect();
            std::fs::write(dir.join(format!("out-rust-{mech}.f64")), bytes)
                .map_err(|e| e.to_string())?;
            println!(
                "{{\"impl\": \"rust\", \"mech\": \"{mech}\", \"projects\": {}, \"seconds\": {secs:.4}, \"build_seconds\": {built:.4}, \"peak_rss_mb\": {:.1}, \"total\": {}}}",
                out.len(),
                peak_rss_mb(),
                out.iter().sum::<f64>()
            );
            Ok(())
        }
        other => Err(format!("unknown command {other}")),
    }
}
