//! What one llama.cpp decode pass costs as it carries more sequences: the ceiling on batched
//! generation, below any scheduling Steward does (docs/models.md, "Batched generation").
//!
//! cargo run --release -p steward-ml --example passes -- GGUF [THREADS]
//!
//! For B = 1, 2, 4, 8, 12, 16, 32 sequences (one KV stream each): reads a 100-token prompt into
//! every sequence in one batch (prompt tokens/s), then times 40 passes of one token per
//! sequence (ms a pass, aggregate tokens/s). A pass of B tokens cannot cost less than B prompt
//! tokens read together, so B-sequence decoding is bounded by prompt speed over single-token
//! decode speed.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::num::NonZeroU32;
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;

const PROMPT: usize = 100;
const STEPS: usize = 40;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: passes GGUF [THREADS]")?;
    let threads: i32 = args.next().map_or(Ok(2), |t| t.parse())?;
    let backend = LlamaBackend::init()?;
    let model = LlamaModel::load_from_file(&backend, &path, &LlamaModelParams::default())?;
    println!("| sequences | prompt tokens/s | ms a pass | ms a token | tokens/s |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    for n in [1usize, 2, 4, 8, 12, 16, 32] {
        let cells = n * 256;
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(cells as u32))
            .with_n_batch(cells as u32)
            .with_n_ubatch(512)
            .with_n_seq_max(n as u32)
            .with_kv_unified(false)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let mut ctx = model.new_context(&backend, params)?;
        let mut batch = LlamaBatch::new(cells, n as i32);
        // Different ordinary tokens in each sequence.
        for s in 0..n {
            for pos in 0..PROMPT {
                let t = LlamaToken::new(100 + ((pos * 7 + s) % 1000) as i32);
                batch.add(t, pos as i32, &[s as i32], pos == PROMPT - 1)?;
            }
        }
        let t = Instant::now();
        ctx.decode(&mut batch)?;
        let prompt_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for k in 0..STEPS {
            batch.clear();
            for s in 0..n {
                let t = LlamaToken::new(200 + k as i32);
                batch.add(t, (PROMPT + k) as i32, &[s as i32], true)?;
            }
            ctx.decode(&mut batch)?;
        }
        let pass_s = t.elapsed().as_secs_f64() / STEPS as f64;
        println!(
            "| {n} | {:.0} | {:.1} | {:.1} | {:.0} |",
            (n * PROMPT) as f64 / prompt_s,
            pass_s * 1e3,
            pass_s * 1e3 / n as f64,
            n as f64 / pass_s
        );
    }
    Ok(())
}
