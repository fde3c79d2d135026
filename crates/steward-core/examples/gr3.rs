//! Gitcoin Grants Round 3 reproduced: pairwise CLR against Gitcoin's own per-grant estimates,
//! then COCM with same-IP and project clusters, and the grants that move most.
//! `cargo run --release -p steward-core --example gr3` prints the tables in docs/mechanisms.md.

// An example prints its report.
#![allow(clippy::print_stdout)]

#[path = "support/gr3.rs"]
mod gr3;

use steward_core::mech::cocm::{Form, cocm};
use steward_core::mech::{Clusters, qf};

fn main() -> Result<(), String> {
    println!("## Pairwise CLR against Gitcoin's estimates\n");
    println!(
        "Relative L1 error Σ|ours − est| / Σ est over the 61 grants with an estimate, ours scaled to the estimates' total.\n"
    );
    println!("| M | on-chain only | with phantom funding |\n|---|---|---|");
    let on = gr3::load(false)?;
    let ph = gr3::load(true)?;
    let keep: Vec<bool> = on.estimate.iter().map(|e| *e > 0.0).collect();
    let mut best = (f64::INFINITY, 0.0, false);
    for m in [1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0] {
        let a = gr3::l1_error(
            &qf::pairwise(&on.round, m).map_err(|e| e.to_string())?,
            &on.estimate,
            &keep,
        );
        let b = gr3::l1_error(
            &qf::pairwise(&ph.round, m).map_err(|e| e.to_string())?,
            &ph.estimate,
            &keep,
        );
        println!("| {m} | {a:.4} | {b:.4} |");
        for (e, p) in [(a, false), (b, true)] {
            if e < best.0 {
                best = (e, m, p);
            }
        }
    }
    let a = gr3::l1_error(&qf::plain(&on.round), &on.estimate, &keep);
    let b = gr3::l1_error(&qf::plain(&ph.round), &ph.estimate, &keep);
    println!("| plain CLR | {a:.4} | {b:.4} |");
    let (err, m, phantom) = best;
    println!(
        "\nBest: M = {m}, phantom funding {}, error {err:.4}.\n",
        if phantom { "counted" } else { "left out" }
    );

    let g = if phantom { &ph } else { &on };
    let pw = qf::pairwise(&g.round, m).map_err(|e| e.to_string())?;
    let total: f64 = g.estimate.iter().sum();
    let scale = |v: &[f64]| -> Vec<f64> {
        let s: f64 = v.iter().zip(&keep).filter(|p| *p.1).map(|p| *p.0).sum();
        v.iter()
            .zip(&keep)
            .map(|(x, k)| if *k { x / s * total } else { 0.0 })
            .collect()
    };
    let ours = scale(&pw);
    let mut order: Vec<usize> = (0..ours.len()).filter(|&p| keep[p]).collect();
    order.sort_by(|&a, &b| {
        (ours[b] - g.estimate[b])
            .abs()
            .total_cmp(&(ours[a] - g.estimate[a]).abs())
    });
    println!(
        "Largest differences (USD):\n\n| grant | donors | Gitcoin estimate | pairwise CLR | difference |\n|---|---|---|---|---|"
    );
    let counts = g.round.counts();
    for &p in order.iter().take(8) {
        println!(
            "| {} {} | {} | {:.0} | {:.0} | {:+.0} |",
            g.round.projects()[p],
            g.titles[p].chars().take(32).collect::<String>(),
            counts[p],
            g.estimate[p],
            ours[p],
            ours[p] - g.estimate[p]
        );
    }

    println!("\n## COCM against plain CLR (its singleton case), both scaled to the same pool\n");
    let plain = scale(&qf::plain(&g.round));
    let breadth: Vec<f64> = (0..g.round.projects().len())
        .map(|p| {
            let ds = g.round.project(p).0;
            let n: usize = ds.iter().map(|&d| g.round.donor(d as usize).0.len()).sum();
            n as f64 / ds.len().max(1) as f64
        })
        .collect();
    let shared_ip: Vec<usize> = (0..g.round.projects().len())
        .map(|p| {
            // Donors of p who share one of their IPs with another profile.
            g.round
                .project(p)
                .0
                .iter()
                .filter(|&&d| ip_shared(&g.ip_clusters, d as usize))
                .count()
        })
        .collect();
    let variants: Vec<(&str, Vec<f64>)> = vec![
        (
            "Gitcoin form, project clusters, harsh",
            cocm(
                &g.round,
                &Clusters::projects(&g.round),
                Form::Gitcoin { harsh: true },
            )
            .map_err(|e| e.to_string())?,
        ),
        (
            "Gitcoin form, project clusters, soft",
            cocm(
                &g.round,
                &Clusters::projects(&g.round),
                Form::Gitcoin { harsh: false },
            )
            .map_err(|e| e.to_string())?,
        ),
        (
            "Gitcoin form, same-IP clusters, harsh",
            cocm(&g.round, &g.ip_clusters, Form::Gitcoin { harsh: true })
                .map_err(|e| e.to_string())?,
        ),
        (
            "paper form, same-IP groups",
            cocm(&g.round, &g.ip_clusters, Form::Paper).map_err(|e| e.to_string())?,
        ),
    ];
    for (name, v) in variants {
        let s = scale(&v);
        let err = gr3::l1_error(&v, &g.estimate, &keep);
        println!("### {name}\n\nL1 error against Gitcoin's estimates {err:.4}.\n");
        println!(
            "| grant | donors | their mean grants | shared-IP donors | plain CLR | COCM | change |\n|---|---|---|---|---|---|---|"
        );
        let mut order: Vec<usize> = (0..s.len()).filter(|&p| keep[p]).collect();
        order.sort_by(|&a, &b| (s[b] - plain[b]).abs().total_cmp(&(s[a] - plain[a]).abs()));
        for &p in order.iter().take(6) {
            println!(
                "| {} {} | {} | {:.1} | {} | {:.0} | {:.0} | {:+.0} |",
                g.round.projects()[p],
                g.titles[p].chars().take(32).collect::<String>(),
                counts[p],
                breadth[p],
                shared_ip[p],
                plain[p],
                s[p],
                s[p] - plain[p]
            );
        }
        println!();
    }
    Ok(())
}

/// Whether donor `d` shares an IP cluster with another donor.
fn ip_shared(ip: &Clusters, d: usize) -> bool {
    ip.of_donor(d)
        .0
        .iter()
        .any(|&c| ip.members(c as usize).0.len() > 1)
}
