//! Local inference for Steward.
//!
//! This crate knows nothing about governance: text goes in, vectors or text come out. Today it
//! owns the manifest of the embedded default models — which files, their SHA-256, size, source
//! package and license — and the check that the files on disk are exactly those. The engines
//! (embedder, generator, sandboxed worker) build on this manifest.

mod manifest;

pub use manifest::{EMBEDDED, FileStatus, ModelFile, ModelSpec, Role, check_file, check_models};
