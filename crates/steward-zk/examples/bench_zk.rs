//! `make bench` (zk): Semaphore proof generation and verification at tree depth 20 (issue 20:
//! no slower than semaphore-rs's own bench here, 0.32 s prove, 4 ms verify). Prints one JSON
//! object; scripts/bench-zk.sh writes the BENCHMARKS.md section.
//!
//! Usage: `bench_zk [RUNS] [MEMBERS]`: RUNS proofs (default 5) in a group of MEMBERS (default
//! 1000). The first proof and verification load the proving key and witness graph (timed
//! apart as `load_ms`).
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use steward_zk::{Field, Group, Identity, IdentitySecret, prove, verify};

fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().map_or(5, |a| a.parse().expect("RUNS"));
    let members: u64 = args.next().map_or(1000, |a| a.parse().expect("MEMBERS"));
    let me = Identity::new(&IdentitySecret::generate().unwrap());
    let mut list: Vec<Field> = (1..members).map(Field::from).collect();
    list.push(me.commitment());
    let t = Instant::now();
    let group = Group::new(20, list).unwrap();
    let tree_ms = ms(t);

    let t = Instant::now();
    let first = prove(&me, &group, "warm-up", "load").unwrap();
    verify(&first).unwrap();
    let load_ms = ms(t);

    let (mut p, mut v) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let t = Instant::now();
        let s = prove(&me, &group, &format!("proposal-{i}"), "for").unwrap();
        p.push(ms(t));
        let t = Instant::now();
        verify(&s).unwrap();
        v.push(ms(t));
    }
    let (p50p, maxp) = p50_max(&mut p);
    let (p50v, maxv) = p50_max(&mut v);
    println!(
        "{{\"depth\": 20, \"members\": {members}, \"runs\": {runs}, \"threads\": {}, \"tree_ms\": {tree_ms:.1}, \"load_ms\": {load_ms:.1}, \"prove_p50_ms\": {p50p:.1}, \"prove_max_ms\": {maxp:.1}, \"verify_p50_ms\": {p50v:.2}, \"verify_max_ms\": {maxv:.2}}}",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn p50_max(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[v.len() - 1])
}
