//! `make bench` (provenance): how long the voting-power provenance checks take over a
//! 10,000-block window of events on anvil (issue 16: under 2 s). Fills the window with token
//! transfers between 50 delegates (a `Transfer` and two `DelegateVotesChanged` each) and earlier
//! proposals with 50 votes each, then times `GovernorReader::provenance` on a proposal all 50
//! voted on. Prints one JSON object.
//!
//!   cargo run --release -p steward-eth --features testkit --example bench_provenance -- [TRANSFERS] [RUNS]

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use steward_eth::ProvenanceOptions;
use steward_eth::testkit::{Anvil, Artifacts, Dao, DaoConfig, Tools, ether};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let transfers: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let tools = Tools::detect().expect("npm tools (make setup)");
    let anvil = Anvil::start_with_args(&tools, &["--accounts", "52"])
        .await
        .unwrap();
    let art = Artifacts::load(&tools).unwrap();
    let cfg = DaoConfig {
        voter_balances: vec![ether(10_000); 50],
        // 50 votes mine 50 blocks.
        voting_period: 200,
        ..DaoConfig::default()
    };
    let dao = Dao::deploy(&anvil, &art, &cfg).await.unwrap();
    let start = anvil.block_number().await.unwrap();
    let window = 10_000u64;
    let gap = (window / transfers.max(1)).saturating_sub(1).max(1);
    let n = dao.voters.len();
    let mut votes = 0;
    for i in 0..transfers {
        let (a, b) = (
            dao.voters[i as usize % n],
            dao.voters[(i as usize * 7 + 1) % n],
        );
        dao.transfer_tokens(&anvil, a, b, ether(1)).await.unwrap();
        // Every fifth of the window, an earlier proposal everyone votes on.
        if i % (transfers / 4).max(1) == 0 {
            let pay = dao.treasury_transfer(anvil.accounts()[51], ether(1));
            let p = dao
                .propose(&anvil, dao.voters[0], &[pay], &format!("# Grant {i}"))
                .await
                .unwrap();
            anvil.mine(2).await.unwrap();
            for v in &dao.voters {
                dao.vote(&anvil, *v, p.id, 1, "").await.unwrap();
                votes += 1;
            }
        }
        anvil.mine(gap).await.unwrap();
    }
    let pay = dao.treasury_transfer(anvil.accounts()[51], ether(1));
    let p = dao
        .propose(&anvil, dao.voters[0], &[pay], "# The one measured")
        .await
        .unwrap();
    anvil.mine(2).await.unwrap();
    for v in &dao.voters {
        dao.vote(&anvil, *v, p.id, 1, "").await.unwrap();
        votes += 1;
    }
    anvil.mine(1).await.unwrap();
    let end = anvil.block_number().await.unwrap();
    let reader = dao.reader();
    let opts = ProvenanceOptions {
        window,
        lookback: window,
        ..ProvenanceOptions::default()
    };
    let mut ms = Vec::new();
    let mut flags = 0;
    let mut voters = 0;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let prov = reader.provenance(p.id, &opts).await.unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        flags = prov.flags.len();
        voters = prov.facts.voters.len();
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "blocks": end - start,
            "window": window,
            "transfers": transfers,
            "votes": votes,
            "voters_checked": voters,
            "flags": flags,
            "runs": ms.len(),
            "p50_ms": (ms[ms.len() / 2] * 10.0).round() / 10.0,
            "max_ms": (ms[ms.len() - 1] * 10.0).round() / 10.0,
        })
    );
}
