//! `make bench` (round): one round of the pipeline (`steward run --no-sync --no-llm`) over N
//! real proposals of ../shared/data/snapshot-daocensus, made open, in a fresh encrypted store
//! with a small profile; the real embedder (all-MiniLM-L6-v2 on ONNX Runtime, in process), no
//! generator (`STEWARD_BENCH_LLM=1`: the local model too). Prints one JSON object with the
//! timings.
//!
//! Run: `cargo run --release -p steward-agent --features testkit --example bench_round -- \
//!   ../shared/data 1000` with `STEWARD_MODELS_DIR` naming the models (default `models`).

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Instant;

use steward_agent::decide::{DecideOptions, Engines};
use steward_agent::profile::ItemKind;
use steward_agent::testkit::hub::load_daocensus;
use steward_agent::{Caster, Config, Home, Passphrase, Pipeline, RoundOptions, Store, ingest_file};
use steward_core::{DecisionAction, Limits};

/// A small profile: what one delegate might have written about themselves.
const STATEMENTS: &[&str] = &[
    "I support funding independent security audits of core contracts.",
    "I oppose new token emissions that dilute long-term holders.",
    "Treasury grants should have milestones and public reporting.",
    "I favour lowering fees when it keeps the protocol competitive.",
    "I vote against proposals that move treasury funds without a clear budget.",
    "Public goods funding is worth it when the results are open source.",
    "I prefer gradual parameter changes over large sudden ones.",
    "Delegates should disclose conflicts of interest before voting.",
    "Partnerships are fine when the DAO keeps control of its treasury.",
    "I oppose paying for marketing campaigns without measurable goals.",
];
const WRITING: &str = "A DAO's treasury belongs to its members, and every payment out of it \
    should say what it buys, who receives it and how the result will be checked. I have voted \
    for audits, for open-source tooling and for grants with milestones; I have voted against \
    emissions that reward short-term farmers and against budgets without reporting.";

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

/// CPU seconds this process used (user + system): the machine may be shared.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the state.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    ticks as f64 / 100.0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let data = PathBuf::from(args.next().unwrap_or_else(|| "../shared/data".into()));
    let n: usize = args
        .next()
        .map_or(200, |s| s.parse().expect("N: a number of proposals"));
    let models =
        PathBuf::from(std::env::var_os("STEWARD_MODELS_DIR").unwrap_or_else(|| "models".into()));
    let census = data.join("snapshot-daocensus");
    let now = jiff::Timestamp::now().as_second();
    let mut daos: Vec<String> = std::fs::read_dir(&census)
        .expect("snapshot-daocensus")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("proposals.jsonl").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    daos.sort();
    // Round-robin over the DAOs, so that N proposals are a mix of them.
    let mut per_dao: Vec<_> = daos
        .iter()
        .map(|d| load_daocensus(&census, d, now).expect("load").into_iter())
        .collect();
    let mut picked = Vec::with_capacity(n);
    while picked.len() < n {
        let before = picked.len();
        for it in &mut per_dao {
            if picked.len() == n {
                break;
            }
            if let Some(mut v) = it.next() {
                // Open for the next week: the round decides on open proposals only.
                v["state"] = "active".into();
                v["start"] = (now - 3_600).into();
                v["end"] = (now + 7 * 86_400).into();
                picked.push(v);
            }
        }
        assert!(
            picked.len() > before,
            "only {} proposals in the data",
            picked.len()
        );
    }
    // The user's own earlier votes (as `steward profile import votes` stores them): twelve more
    // proposals of the data, mixed For and Against, so the voter model backs each decision and
    // the round's questions are ones the local model is asked about.
    let mut earlier = Vec::new();
    while earlier.len() < 12 {
        let before = earlier.len();
        earlier.extend(per_dao.iter_mut().filter_map(|it| it.next()));
        assert!(
            earlier.len() > before,
            "not enough proposals for the vote history"
        );
    }
    let history: Vec<steward_agent::profile::VoteRecord> = earlier
        .into_iter()
        .take(12)
        .enumerate()
        .map(|(i, v)| steward_agent::profile::VoteRecord {
            voter: "me".into(),
            is_user: true,
            proposal_ref: format!("earlier-{i}"),
            title: v["title"].as_str().unwrap_or_default().to_owned(),
            choice: if i % 3 == 0 { "Against" } else { "For" }.into(),
            reason: None,
            ord: Some(i as i64),
            origin: "bench".into(),
        })
        .collect();

    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::create(&dir.path().join("home")).expect("home");
    let mut store =
        Store::create(&home, &Passphrase::new("bench".into()).expect("pass")).expect("store");
    let file = dir.path().join("open.jsonl");
    std::fs::write(
        &file,
        picked.iter().map(|v| format!("{v}\n")).collect::<String>(),
    )
    .expect("write");
    let r = ingest_file(&mut store, &file, &Limits::default(), now).expect("ingest");
    store
        .transaction(|tx| {
            for s in STATEMENTS {
                tx.add_profile_item(ItemKind::Statement, s, "bench", None)?;
            }
            tx.add_profile_item(ItemKind::Writing, WRITING, "bench#1", None)?;
            tx.insert_profile_votes(&history)?;
            Ok(())
        })
        .expect("profile");

    // STEWARD_BENCH_EMBED=f32 measures the F32 encoder (before int8 became the default);
    // STEWARD_BENCH_THREADS caps the embedder's threads (default: every core).
    let precision = match std::env::var("STEWARD_BENCH_EMBED").as_deref() {
        Ok("f32") => steward_ml::EmbedPrecision::F32,
        Ok("int8") | Err(_) => steward_ml::EmbedPrecision::Int8,
        Ok(other) => panic!("STEWARD_BENCH_EMBED is f32 or int8, not {other}"),
    };
    let options = steward_ml::EmbedOptions {
        threads: std::env::var("STEWARD_BENCH_THREADS")
            .ok()
            .map(|t| t.parse().expect("STEWARD_BENCH_THREADS: a number")),
        precision,
    };
    let t = Instant::now();
    let mut embedder =
        steward_ml::BertEmbedder::embedded_with(&models, &options).expect("embedder");
    let load_secs = t.elapsed().as_secs_f64();

    let cfg = Config::default();
    let caster = Caster::new(&home, &cfg, None).expect("caster");
    let opts = RoundOptions {
        sync: false,
        decide: DecideOptions {
            policy: cfg.decide.policy(),
            seed: 0,
        },
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let t = Instant::now();
    let cpu = cpu_secs();
    let mut pipeline = Pipeline::new(&mut store, &cfg, &home).expect("pipeline");
    let prepared = rt
        .block_on(pipeline.prepare(&caster, &opts, &[], &mut |_| {}))
        .expect("prepare");
    let todo = prepared.synced.todo.len();
    // STEWARD_BENCH_LLM=1: with the local model (SmolLM2 on llama.cpp, in process), as `steward
    // run` without `--no-llm`; the round asks it only about the questions it opens.
    let mut generator = match std::env::var("STEWARD_BENCH_LLM").as_deref() {
        Ok("1") => Some(
            steward_ml::LlamaGenerator::embedded(&models, &steward_ml::LlamaOptions::default())
                .expect("generator"),
        ),
        Ok("0") | Err(_) => None,
        Ok(other) => panic!("STEWARD_BENCH_LLM is 0 or 1, not {other}"),
    };
    let mut engines = Engines {
        embedder: &mut embedder,
        generator: generator
            .as_mut()
            .map(|g| g as &mut dyn steward_ml::Generator),
    };
    // The embedding stage on its own (decide_all finds the vectors cached), to say where the
    // time goes.
    let (te, ce) = (Instant::now(), cpu_secs());
    pipeline
        .embed(&prepared.synced.todo, &mut engines)
        .expect("embed");
    let (embed_secs, embed_cpu_secs) = (te.elapsed().as_secs_f64(), cpu_secs() - ce);
    let report = rt.block_on(pipeline.decide_all(&caster, prepared, &mut engines, &opts.decide));
    let round_secs = t.elapsed().as_secs_f64();
    let round_cpu_secs = cpu_secs() - cpu;
    let count = |a| report.decided.iter().filter(|o| o.action == a).count();
    println!(
        "{}",
        serde_json::json!({
            "proposals": r.ingested,
            "decided": report.decided.len(),
            "todo": todo,
            "vote": count(DecisionAction::Vote),
            "ask": count(DecisionAction::Ask),
            "skip": count(DecisionAction::Skip),
            // The question budget (default 10 a round): questions opened, and the digest of
            // what was neither voted nor asked.
            "questions": report.questions.map(|q| q.asked),
            "judged": report.questions.map_or(0, |q| q.judged),
            "generator": generator.as_ref().map(|g| steward_ml::Generator::info(g).model),
            "digest": report.digest.len(),
            "errors": report.errors.len(),
            "first_error": report.errors.first(),
            "embedder": steward_ml::Embedder::info(&embedder).engine,
            "embedder_load_secs": (load_secs * 100.0).round() / 100.0,
            "round_secs": (round_secs * 100.0).round() / 100.0,
            "embed_secs": (embed_secs * 100.0).round() / 100.0,
            "embed_cpu_secs": (embed_cpu_secs * 100.0).round() / 100.0,
            "round_cpu_secs": (round_cpu_secs * 100.0).round() / 100.0,
            "per_proposal_ms": (round_secs * 1000.0 / report.decided.len().max(1) as f64).round(),
            "peak_rss_mib": peak_rss_kib() / 1024,
            "cores": std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        })
    );
}
