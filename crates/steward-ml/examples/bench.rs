//! Throughput of the embedded models, for `make bench` (scripts/bench-ml.py runs it next to the
//! reference implementations and writes BENCHMARKS.md).
//!
//! cargo run --release -p steward-ml --example bench -- MODELS_DIR PARAGRAPHS_JSON THREADS PROMPT
//!
//! Prints one JSON object: generation prompt/decode tokens per second (greedy, SmolLM2 Q4_1);
//! aggregate tokens/s of N different prompts (proposal paragraphs) answered one after the other
//! vs by one `generate_batch` call (N = 4, 8 fit the default 8 sequences at once; N = 32 shows
//! continuous batching); embedding sentences per second on the paragraphs (a JSON array of
//! strings); and peak RSS after each stage, with both models loaded at the end.
//!
//! BENCH_GGUF=PATH measures the generation stages on another GGUF instead of the embedded one
//! (docs/models.md compares Q4_0 and Q8_0 copies of the model this way).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::time::Instant;

use steward_ml::{
    BertEmbedder, EmbedOptions, Embedder, GenerateRequest, Generator, LlamaGenerator, LlamaOptions,
};

fn status_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

/// Peak and current RSS at a stage.
fn stage(name: &str) -> serde_json::Value {
    serde_json::json!({"stage": name, "peak_mb": peak_rss_mb(), "rss_mb": status_mb("VmRSS:")})
}

/// Answers `reqs` one after the other, then in one `generate_batch` call: tokens, seconds and
/// prompt seconds each. When every request joined the first pass, the decode phase (after that
/// pass) is compared as well: llama-batched-bench's S_TG against a single stream's.
fn batched_vs_single(
    g: &mut LlamaGenerator,
    reqs: &[GenerateRequest],
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let t = Instant::now();
    let mut single_tokens = 0usize;
    let mut single_texts = Vec::new();
    let (mut single_prompt_ms, mut single_prompt_tokens) = (0.0, 0usize);
    for r in reqs {
        let out = g.generate(r, &mut |_| {})?;
        single_tokens += out.completion_tokens;
        single_prompt_ms += out.prompt_ms;
        single_prompt_tokens += out.prompt_tokens;
        single_texts.push(out.text);
    }
    let single_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let outs = g.generate_batch(reqs, &mut |_, _| {});
    let batch_s = t.elapsed().as_secs_f64();
    let mut batch_tokens = 0usize;
    let mut same = 0usize;
    let mut prompt_passes_ms = Vec::new();
    for (o, single) in outs.into_iter().zip(&single_texts) {
        let o = o?;
        prompt_passes_ms.push(o.prompt_ms);
        batch_tokens += o.completion_tokens;
        same += usize::from(&o.text == single);
    }
    let single_tps = single_tokens as f64 / single_s;
    let batch_tps = batch_tokens as f64 / batch_s;
    let single_decode_s = single_s - single_prompt_ms / 1e3;
    // All joined the first pass when all report that same pass.
    let first_pass_s = prompt_passes_ms
        .iter()
        .all(|&ms| ms == prompt_passes_ms[0])
        .then(|| prompt_passes_ms[0] / 1e3);
    let decode_speedup = first_pass_s
        .map(|p| (batch_tokens as f64 / (batch_s - p)) / (single_tokens as f64 / single_decode_s));
    Ok(serde_json::json!({
        "n": reqs.len(),
        "single_tokens": single_tokens, "single_s": single_s, "single_tokens_per_s": single_tps,
        "batch_tokens": batch_tokens, "batch_s": batch_s, "batch_tokens_per_s": batch_tps,
        "speedup": batch_tps / single_tps,
        "prompt_tokens": single_prompt_tokens,
        "single_prompt_s": single_prompt_ms / 1e3,
        "batch_first_pass_s": first_pass_s,
        "decode_speedup": decode_speedup,
        "identical_texts": same,
    }))
}

/// User + system CPU seconds of this process, all threads (/proc/self/stat; clock ticks of
/// 1/100 s, the Linux default).
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which is in parentheses and may hold spaces).
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(f64::NAN)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(models), Some(paras), Some(threads), Some(prompt)) =
        (args.get(1), args.get(2), args.get(3), args.get(4))
    else {
        return Err("usage: bench MODELS_DIR PARAGRAPHS_JSON THREADS PROMPT".into());
    };
    let threads = Some(threads.parse::<u32>()?);
    let models = PathBuf::from(models);
    let paragraphs: Vec<String> = serde_json::from_str(&std::fs::read_to_string(paras)?)?;

    let t = Instant::now();
    let lo = LlamaOptions {
        threads,
        ..LlamaOptions::default()
    };
    let mut g = match std::env::var_os("BENCH_GGUF") {
        Some(p) => LlamaGenerator::load(std::path::Path::new(&p), &lo)?,
        None => LlamaGenerator::embedded(&models, &lo)?,
    };
    let gen_load_s = t.elapsed().as_secs_f64();
    let mut stages = vec![stage("generator loaded")];

    // Generation: the same prompt as the llama.cpp reference, greedy, 128 new tokens; best of 3.
    let req = GenerateRequest {
        max_tokens: 128,
        ..GenerateRequest::new(prompt.as_str())
    };
    let mut best_pp = 0.0f64;
    let mut best_tg = 0.0f64;
    let mut last = None;
    for _ in 0..3 {
        let out = g.generate(&req, &mut |_| {})?;
        best_pp = best_pp.max(out.prompt_tokens as f64 / (out.prompt_ms / 1e3));
        // The first token comes from the prompt's logits; decode steps = completion - 1.
        best_tg =
            best_tg.max((out.completion_tokens.saturating_sub(1)) as f64 / (out.generate_ms / 1e3));
        last = Some(out);
    }
    let last = last.ok_or("no generation")?;
    stages.push(stage("single-stream generation"));

    // Triage: different proposal paragraphs, greedy, 128 new tokens, one after the other vs in
    // one batch.
    let mut batched = Vec::new();
    for n in [4usize, 8, 32] {
        let reqs: Vec<GenerateRequest> = paragraphs
            .iter()
            .filter(|p| p.len() > 300)
            .take(n)
            .map(|p| {
                let text: String = p.chars().take(600).collect();
                GenerateRequest {
                    max_tokens: 128,
                    ..GenerateRequest::new(format!(
                        "Summarise this governance proposal in two sentences. {text}"
                    ))
                }
            })
            .collect();
        batched.push(batched_vs_single(&mut g, &reqs)?);
    }
    stages.push(stage("batched generation"));

    let t = Instant::now();
    let mut e = BertEmbedder::embedded_with(
        &models,
        &EmbedOptions {
            threads: threads.map(|t| t as usize),
            // What the agent runs (int8 by default).
            ..EmbedOptions::default()
        },
    )?;
    let emb_load_s = t.elapsed().as_secs_f64();
    stages.push(stage("embedder loaded"));

    // Embeddings: one warm-up batch, then all paragraphs in one call (sorted, batched by 32).
    e.embed(&paragraphs[..paragraphs.len().min(32)])?;
    let t = Instant::now();
    let cpu = cpu_s();
    let vecs = e.embed(&paragraphs)?;
    let embed_s = t.elapsed().as_secs_f64();
    let embed_cpu_s = cpu_s() - cpu;
    assert_eq!(vecs.len(), paragraphs.len());
    stages.push(stage("embedding"));

    let out = serde_json::json!({
        "threads": threads,
        "generation": {
            "model": last.engine.model,
            "prompt_tokens": last.prompt_tokens,
            "completion_tokens": last.completion_tokens,
            "prompt_tokens_per_s": best_pp,
            "decode_tokens_per_s": best_tg,
            "load_s": gen_load_s,
        },
        "batched": batched,
        "embedding": {
            "sentences": paragraphs.len(),
            "seconds": embed_s,
            "sentences_per_s": paragraphs.len() as f64 / embed_s,
            "cpu_seconds": embed_cpu_s,
            "engine": e.info().engine,
            "load_s": emb_load_s,
        },
        "peak_rss_mb": peak_rss_mb(),
        "rss_stages": stages,
    });
    println!("{out}");
    Ok(())
}
