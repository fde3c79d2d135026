//! `bench:bonds`: gas of the attention-bond escrow's deposit, reply and forfeit on anvil, and the
//! time to verify 100 bonded messages (`steward_agent::bonds::verify`: one batched `bondsOf`
//! read plus the escrow's settings) against it. Prints one JSON object.
//!
//! Run: `cargo run -p steward-agent --example bench_bonds` (needs `make tools`).

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::collections::BTreeSet;
use std::time::Instant;

use steward_agent::bonds::{self, BOND_HEADER, BondPolicy, Incoming, message_id_of};
use steward_eth::testkit::{Anvil, Artifacts, Bonds, BondsConfig, Tools, dev_key, usdc};

fn mail(n: usize, header: &str) -> Incoming {
    let m = format!(
        "Message-ID: <bench{n}@mail.test>\r\nFrom: <s@mail.test>\r\n{BOND_HEADER}: {header}\r\n\r\nx\r\n"
    );
    Incoming::parse(&format!("bench{n}"), m.as_bytes()).expect("parses")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tools = Tools::detect()?;
    let anvil = Anvil::start(&tools).await?;
    let artifacts = Artifacts::load(&tools)?;
    let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default()).await?;
    let esc = kit.escrow();
    let (sender, me, anyone) = (dev_key(1)?, dev_key(2)?, dev_key(4)?);
    let id = |n: usize| message_id_of(&format!("<bench{n}@mail.test>"));

    // Gas: the first deposit to a recipient, later ones, a reply, a forfeit.
    let first = esc.deposit(&sender, me.address(), id(0), usdc(1)).await?;
    let mut later = Vec::new();
    let mut messages = vec![mail(0, &format!("31337:{}:{}", kit.escrow, id(0)))];
    for n in 1..100 {
        let tx = esc.deposit(&sender, me.address(), id(n), usdc(1)).await?;
        later.push(tx.gas_used);
        messages.push(mail(n, &format!("31337:{}:{}", kit.escrow, id(n))));
    }
    let policy = BondPolicy {
        chain_id: 31337,
        escrow: kit.escrow,
        token: kit.token,
        recipient: me.address(),
        price: usdc(1),
        whitelist: BTreeSet::new(),
        trusted_delegates: BTreeSet::new(),
        confirmations: 0,
    };
    let mut times = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let v = bonds::verify(&esc, &policy, &messages).await?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(v.iter().filter(|v| v.delivered()).count(), 100);
    }
    times.sort_by(f64::total_cmp);
    // The live price's D: the binary search over block times plus one Deposited scan.
    let mut inbox = Vec::new();
    let mut d = 0;
    for _ in 0..7 {
        let t = Instant::now();
        d = bonds::inbox_7d(&esc, me.address(), kit.deployed_at).await?;
        inbox.push(t.elapsed().as_secs_f64() * 1e3);
    }
    inbox.sort_by(f64::total_cmp);
    let live_price = bonds::price_units(&Default::default(), d, 0.0)?;
    // For comparison: the same 100 bonds read one call each, in turn (what batching saves).
    let ids: Vec<_> = (0..100).map(id).collect();
    let t = Instant::now();
    for i in &ids {
        esc.bonds(std::slice::from_ref(i), None).await?;
    }
    let one_by_one = t.elapsed().as_secs_f64() * 1e3;
    let reply = esc.reply(&me, id(0)).await?;
    anvil.increase_time(7 * 86_400 + 1).await?;
    anvil.mine(1).await?;
    let forfeit = esc.forfeit(&anyone, id(1)).await?;
    later.sort_unstable();
    let out = serde_json::json!({
        "bench": "bonds",
        "gas": {
            "deposit_first": first.gas_used,
            "deposit_median": later[later.len() / 2],
            "reply": reply.gas_used,
            "forfeit": forfeit.gas_used,
        },
        "verify_100_ms": { "median": times[times.len() / 2], "max": times[times.len() - 1] },
        "read_100_one_call_each_ms": one_by_one,
        "inbox_7d": { "count": d, "price_units": live_price.to_string(),
            "median_ms": inbox[inbox.len() / 2], "max_ms": inbox[inbox.len() - 1],
            "blocks": anvil.block_number().await? },
        "solc": artifacts.solc,
    });
    println!("{out}");
    Ok(())
}
