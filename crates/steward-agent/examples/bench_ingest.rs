//! `make bench` (ingest): the 13k real proposals of ../shared/data/snapshot-daocensus, once
//! through `ingest file` and once through a Snapshot sync from the loopback hub, each into a
//! fresh encrypted store. Prints one JSON object with the timings and the peak RSS.
//!
//! Run: `cargo run --release -p steward-agent --features testkit --example bench_ingest -- ../shared/data`

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use steward_agent::sources::snapshot::HubClient;
use steward_agent::testkit::hub::{MockHub, daocensus_space, load_daocensus};
use steward_agent::{Home, Network, Passphrase, Store, ingest_file, sync_snapshot_space};
use steward_core::{Allowlist, Limits};

fn store(dir: &std::path::Path, name: &str) -> (Home, Store) {
    let home = Home::create(&dir.join(name)).expect("home");
    let store =
        Store::create(&home, &Passphrase::new("bench".into()).expect("pass")).expect("store");
    (home, store)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let data = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "../shared/data".into()),
    );
    let census = data.join("snapshot-daocensus");
    let now = jiff::Timestamp::now().as_second();
    let mut daos: Vec<String> = std::fs::read_dir(&census)
        .expect("snapshot-daocensus")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("proposals.jsonl").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    daos.sort();
    let mut all = Vec::new();
    for dao in &daos {
        all.extend(load_daocensus(&census, dao, now).expect("load"));
    }
    let n = all.len();
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = Limits::default();

    // Through `ingest file` (JSON Lines, as the hub returns the objects).
    let file = dir.path().join("all.jsonl");
    std::fs::write(
        &file,
        all.iter().map(|v| format!("{v}\n")).collect::<String>(),
    )
    .expect("write");
    let (_h1, mut s1) = store(dir.path(), "file");
    let t = Instant::now();
    let r = ingest_file(&mut s1, &file, &limits, now).expect("ingest");
    let file_secs = t.elapsed().as_secs_f64();
    assert_eq!(r.ingested as usize + r.quarantined.len(), n);

    // Through the loopback hub, one space after another, pages of 1000.
    let hub = MockHub::start(all, vec![]).await.expect("hub");
    let http = Network::new(Allowlist::default(), Duration::from_secs(60))
        .http()
        .expect("client");
    let client = HubClient::new(http, &hub.url);
    let (_h2, mut s2) = store(dir.path(), "hub");
    let t = Instant::now();
    let mut synced = 0;
    for dao in &daos {
        let r = sync_snapshot_space(
            &mut s2,
            &client,
            &daocensus_space(dao),
            1000,
            &limits,
            now,
            |_| {},
        )
        .await
        .expect("sync");
        synced += r.ingested + r.quarantined.len() as u64;
    }
    let hub_secs = t.elapsed().as_secs_f64();
    assert_eq!(synced as usize, n);

    println!(
        "{}",
        serde_json::json!({
            "proposals": n,
            "ingest_file_secs": (file_secs * 100.0).round() / 100.0,
            "ingest_file_per_sec": (n as f64 / file_secs).round(),
            "hub_sync_secs": (hub_secs * 100.0).round() / 100.0,
            "hub_sync_per_sec": (n as f64 / hub_secs).round(),
            "hub_requests": hub.requests(),
            "peak_rss_mib": peak_rss_kib() / 1024,
        })
    );
}
