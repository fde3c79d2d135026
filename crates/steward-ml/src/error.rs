//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong loading a model, compiling a schema or running inference.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A model file is missing, truncated or altered.
    #[error(
        "model file {path}: {problem}; run `make models` (scripts/setup-models.sh) to reinstall it"
    )]
    ModelFile { path: PathBuf, problem: String },

    /// A model file exists but the engine could not load it.
    #[error("could not load model {path}: {reason}")]
    Load { path: PathBuf, reason: String },

    /// The JSON schema is not valid JSON, or not an object where one is needed.
    #[error("schema is not valid JSON: {0}")]
    SchemaJson(#[source] serde_json::Error),

    /// A part of the schema that the grammar compiler does not support (or that is malformed).
    #[error("schema at {path}: {part}")]
    Schema { path: String, part: String },

    /// The prompt does not fit the context and the policy says not to truncate.
    #[error(
        "prompt is {prompt_tokens} tokens, but the context of {n_ctx} tokens leaves room for {room} \
         after reserving {max_tokens} for the answer (truncation policy: error)"
    )]
    PromptTooLong {
        prompt_tokens: usize,
        n_ctx: u32,
        max_tokens: u32,
        room: usize,
    },

    /// A request parameter is out of range.
    #[error("invalid request: {0}")]
    Request(String),

    /// The model's output did not satisfy the schema (for example cut off at max tokens).
    #[error("output does not match the schema at {path}: {reason} (output: {output:?})")]
    Output {
        path: String,
        reason: String,
        output: String,
    },

    /// The inference engine failed while running.
    #[error("{engine} failed: {reason}")]
    Engine {
        engine: &'static str,
        reason: String,
    },

    /// The model thread or worker process is gone.
    #[error("model worker unavailable: {0}")]
    Worker(String),

    /// The OpenAI-compatible endpoint is unreachable or answered something we cannot use.
    #[error("endpoint {url}: {reason}")]
    Endpoint { url: String, reason: String },

    #[error("i/o on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn engine(engine: &'static str, reason: impl std::fmt::Display) -> Self {
        Error::Engine {
            engine,
            reason: reason.to_string(),
        }
    }
}
