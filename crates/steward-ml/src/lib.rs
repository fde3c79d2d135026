//! Local inference for Steward.
//!
//! This crate knows nothing about governance: text goes in, vectors or text come out. It owns
//! the manifest of the embedded default models (files, SHA-256, size, source package, license)
//! and the check that the files on disk are exactly those; the [`Embedder`] and [`Generator`]
//! traits and their engines (all-MiniLM-L6-v2 on ONNX Runtime, GGUF chat models in llama.cpp with
//! JSON-schema-constrained decoding); the model thread behind a channel handle; and the
//! confined worker process that runs the models with read-only access to their files and no
//! sockets; and a client for a user's own OpenAI-compatible server, over an HTTP client the
//! caller supplies (this crate never opens the network by itself).

mod api;
mod bert;
mod error;
pub mod judge;
mod llama;
mod manifest;
mod openai;
mod quant;
mod sandbox;
mod schema;
mod thread;
mod worker;

pub use api::{
    Embedder, EngineInfo, Finish, GenerateRequest, Generation, Generator, Sampling, Truncate,
    Truncation,
};
pub use bert::{
    BertEmbedder, EmbedOptions, MAX_TOKENS as EMBED_MAX_TOKENS, Precision as EmbedPrecision,
    RUNTIME_PATH as EMBED_RUNTIME_PATH, load_runtime as load_embed_runtime,
    preload_runtime as preload_embed_runtime,
};
pub use error::{Error, Result};
pub use llama::{LlamaGenerator, LlamaOptions};
pub use manifest::{
    EMBEDDED, FileStatus, ModelFile, ModelSpec, Role, check_file, check_models, spec, verify,
    verify_file,
};
pub use openai::{OpenAiBackend, OpenAiConfig};
pub use sandbox::{
    Confinement, DENIED_SYSCALLS, Layers, ProbeReport, confine, confine_with, probe,
};
pub use schema::JsonSchema;
pub use thread::ModelThread;
pub use worker::{
    SharedWorker, WorkerInfo, WorkerProcess, model_paths, serve as serve_worker,
    serve_judge as serve_judge_worker, serve_with as serve_worker_with,
};
