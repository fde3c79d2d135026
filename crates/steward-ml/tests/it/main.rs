//! steward-ml's integration tests: the real model files from `make models`
//! (`$STEWARD_MODELS_DIR`, default `models/` at the repository root). A test that needs a model
//! prints why it skips when the files are absent; it never passes vacuously otherwise.

// Skip reasons go to stderr, which the test harness shows.
#![allow(clippy::print_stderr, clippy::print_stdout, clippy::unwrap_used)]

mod embed;
mod generate;
mod llama_server;
mod openai;
mod sandbox;
mod thread;
mod worker;

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

use steward_ml::{BertEmbedder, EmbedOptions, EmbedPrecision, LlamaGenerator, LlamaOptions, Role};

pub(crate) fn models_dir() -> PathBuf {
    std::env::var_os("STEWARD_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models")))
}

/// The models directory if every file of the role's model is there (size only: hashing is
/// left to the loaders), else `None` after printing why the test skips.
pub(crate) fn models_for(role: Role, test: &str) -> Option<PathBuf> {
    let dir = models_dir();
    let spec = steward_ml::spec(role);
    for f in spec.files {
        let path = dir.join(f.path);
        if !path.is_file() {
            steward_testing::skip(
                steward_testing::Need::Models,
                test,
                format_args!("{} is missing (or set STEWARD_MODELS_DIR)", path.display()),
            );
            return None;
        }
    }
    Some(dir)
}

/// One generator per test binary (loading and hashing costs ~1 s); tests take turns.
pub(crate) fn generator(test: &str) -> Option<MutexGuard<'static, LlamaGenerator>> {
    static GEN: OnceLock<Mutex<LlamaGenerator>> = OnceLock::new();
    let dir = models_for(Role::Generation, test)?;
    let g = GEN.get_or_init(|| {
        Mutex::new(LlamaGenerator::embedded(&dir, &LlamaOptions::default()).expect("load SmolLM2"))
    });
    Some(g.lock().unwrap_or_else(|p| p.into_inner()))
}

/// The embedder at F32 (sentence-transformers' numbers), one per test binary.
pub(crate) fn embedder(test: &str) -> Option<MutexGuard<'static, BertEmbedder>> {
    static EMB: OnceLock<Mutex<BertEmbedder>> = OnceLock::new();
    embedder_in(&EMB, EmbedPrecision::F32, test)
}

/// The embedder as `decide` and `eval` run it (int8, the default), one per test binary.
pub(crate) fn embedder_int8(test: &str) -> Option<MutexGuard<'static, BertEmbedder>> {
    static EMB: OnceLock<Mutex<BertEmbedder>> = OnceLock::new();
    embedder_in(&EMB, EmbedPrecision::Int8, test)
}

fn embedder_in(
    cell: &'static OnceLock<Mutex<BertEmbedder>>,
    precision: EmbedPrecision,
    test: &str,
) -> Option<MutexGuard<'static, BertEmbedder>> {
    let dir = models_for(Role::Embedding, test)?;
    let e = cell.get_or_init(|| {
        let options = EmbedOptions {
            precision,
            ..EmbedOptions::default()
        };
        Mutex::new(BertEmbedder::embedded_with(&dir, &options).expect("load MiniLM"))
    });
    Some(e.lock().unwrap_or_else(|p| p.into_inner()))
}
