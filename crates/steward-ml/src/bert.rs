//! Sentence embeddings with a BERT encoder (all-MiniLM-L6-v2) on ONNX Runtime's CPU kernels,
//! tokenized by the Hugging Face `tokenizers` crate, pooled and normalised the way
//! sentence-transformers does.
//!
//! The ONNX graph is compiled into this crate (`assets/all-minilm-l6-v2.onnx`, made by
//! `scripts/build-onnx-embedder.py`): a few kilobytes of operators whose weights are read from
//! the pinned `model.safetensors` as ONNX external data, so the model has one copy on disk. It
//! ends with the mean pooling and L2 normalisation, so a forward pass returns finished vectors.
//! ONNX Runtime itself is the shared library from the pinned PyPI `onnxruntime` wheel, loaded at
//! run time (`scripts/setup-models.sh` extracts it into the models directory).
//!
//! By default the encoder runs int8 ([`Precision::Int8`], `assets/all-minilm-l6-v2-int8.onnx`):
//! the same graph with dynamically quantized matrix products, whose int8 weights
//! [`crate::quant`] computes from the same pinned file at load. F32 remains for
//! sentence-transformers' exact vectors.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{DynValue, Tensor};
use tokenizers::{Encoding, Tokenizer, TruncationParams};

use crate::api::{Embedder, EngineInfo};
use crate::error::{Error, Result};
use crate::manifest::{self, Role};

const ENGINE: &str = "onnxruntime";
/// The ONNX Runtime release the runtime file in the manifest comes from.
pub(crate) const RUNTIME_VERSION: &str = "1.31.1";
/// The runtime library, relative to the models directory (a file of the embedding model spec).
pub const RUNTIME_PATH: &str = "onnxruntime/libonnxruntime.so.1.31.1";
/// The encoder graph; its external data is `model.safetensors` in the model directory, at the
/// byte offsets of the pinned file (the manifest check runs before every load).
const GRAPH: &[u8] = include_bytes!("../assets/all-minilm-l6-v2.onnx");
/// The same encoder with int8 weights (`build-onnx-embedder.py --int8`): its weights come from
/// `model.safetensors` too, the int8 ones computed by [`crate::quant`] when the session loads.
const GRAPH_INT8: &[u8] = include_bytes!("../assets/all-minilm-l6-v2-int8.onnx");
/// sentence-transformers' `max_seq_length` for this model (sentence_bert_config.json); the
/// packaged tokenizer.json says 128, which is wrong for our purpose.
pub const MAX_TOKENS: usize = 256;
/// At most this many texts per forward pass (sentence-transformers' default batch size).
const BATCH: usize = 32;
/// At most this many tokens (texts x padded length) per forward pass. Activations grow with it
/// (attention scores with the square of the length): 32 texts of 256 tokens peak at about 320 MB
/// in ONNX Runtime, 1,024 tokens at about 130 MB, at the same speed (measured: 26-28 sentences
/// per CPU-second either way on the bench paragraphs).
const BATCH_TOKENS: usize = 1024;

/// The arithmetic of the encoder's matrix products.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Precision {
    /// The checkpoint's F32 weights: sentence-transformers' vectors to 1e-6.
    F32,
    /// Dynamic int8 quantization (int8 weights per output column, activations per text): about
    /// twice as fast on the CPU, cosine 0.97 or more to the F32 vector on proposal texts
    /// (docs/models.md). The default: `decide`, `eval` and every other caller get it.
    ///
    /// The activations' scale is taken over the whole input of a forward pass, so each text has
    /// a pass of its own (texts batched together would change each other's vectors: cosine down
    /// to 0.97 between the two), and the cores run one single-threaded session each over their
    /// share of the texts, which also wastes no CPU on ONNX Runtime's spinning thread pool.
    #[default]
    Int8,
}

impl Precision {
    /// The suffix of the model id ([`EngineInfo::model`]), which keys the store's embedding
    /// cache: vectors of one precision are never mixed with the other's.
    fn id_suffix(self) -> &'static str {
        match self {
            Precision::F32 => "",
            Precision::Int8 => "-int8",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
        }
    }
}

/// How to run the embedder.
#[derive(Debug, Clone, Default)]
pub struct EmbedOptions {
    /// CPU threads; `None`: all available cores. F32: the threads of one session's forward
    /// pass; int8: that many single-threaded sessions embedding texts side by side.
    pub threads: Option<usize>,
    /// F32 or int8 weights; int8 by default.
    pub precision: Precision,
}

/// all-MiniLM-L6-v2 (or any BERT sentence encoder laid out the same way) on the CPU.
pub struct BertEmbedder {
    /// One session (F32, `threads` intra-op threads) or one per thread (int8, one thread each).
    sessions: Vec<Session>,
    precision: Precision,
    tokenizer: Tokenizer,
    dim: usize,
    info: EngineInfo,
    dir: PathBuf,
}

impl std::fmt::Debug for BertEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertEmbedder")
            .field("dir", &self.dir)
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

fn load_err(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Load {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// Maps the ONNX Runtime library into the process (checked against the manifest first) without
/// starting it: no environment, no thread, no file of its own.
///
/// The model worker calls this before it confines itself: the dynamic loader must read the
/// library's own dependencies (libstdc++, libdl, ...) from the system, which Landlock then
/// forbids. The environment ([`load_runtime`]) is made after confinement, so the threads it
/// starts (telemetry among them, where the library has it) are confined too, and the files it
/// would open outside the models directory (a telemetry database under `~/.cache`) are denied.
pub fn preload_runtime(models_dir: &Path) -> Result<()> {
    let path = models_dir.join(RUNTIME_PATH);
    if let Some(f) = manifest::spec(Role::Embedding)
        .files
        .iter()
        .find(|f| f.path == RUNTIME_PATH)
    {
        manifest::verify_file(models_dir, f)?;
    }
    ort::init_from(&path)
        .map(drop)
        .map_err(|e| load_err(&path, e))
}

/// Loads the ONNX Runtime library and creates its environment, once per process (ONNX Runtime
/// allows one environment; the first models directory wins).
///
/// The model worker calls [`preload_runtime`] before it confines itself and this afterwards.
/// Checks the file against the manifest first.
pub fn load_runtime(models_dir: &Path) -> Result<Environment> {
    static ENV: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();
    let path = models_dir.join(RUNTIME_PATH);
    if let Some(env) = ENV.get() {
        return env.clone().map_err(|reason| load_err(&path, reason));
    }
    if let Some(f) = manifest::spec(Role::Embedding)
        .files
        .iter()
        .find(|f| f.path == RUNTIME_PATH)
    {
        manifest::verify_file(models_dir, f)?;
    }
    ENV.get_or_init(|| {
        ort::init_from(&path)
            .map_err(|e| e.to_string())?
            .with_name("steward")
            .with_telemetry(false)
            .build()
            .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(|reason| load_err(&path, reason))
}

impl BertEmbedder {
    /// Loads the embedded default (all-MiniLM-L6-v2) from `models_dir`, after checking every file
    /// against the manifest, with every core.
    pub fn embedded(models_dir: &Path) -> Result<Self> {
        Self::embedded_with(models_dir, &EmbedOptions::default())
    }

    /// [`BertEmbedder::embedded`] with options.
    pub fn embedded_with(models_dir: &Path, options: &EmbedOptions) -> Result<Self> {
        let spec = manifest::spec(Role::Embedding);
        manifest::verify(models_dir, spec)?;
        let weights = spec.files[0];
        let dir = models_dir.join(
            Path::new(weights.path)
                .parent()
                .unwrap_or_else(|| Path::new("")),
        );
        let env = load_runtime(models_dir)?;
        let mut e = Self::load(&env, &dir, options)?;
        e.info.model = format!("{}{}", spec.id, options.precision.id_suffix());
        e.info.sha256 = Some(weights.sha256.to_owned());
        Ok(e)
    }

    /// Loads `model.safetensors` (as the graph's external data), `config.json` and
    /// `tokenizer.json` from `dir`, in the environment [`load_runtime`] made. The graph fits
    /// only the pinned safetensors file.
    pub fn load(env: &Environment, dir: &Path, options: &EmbedOptions) -> Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| Error::Io { path, source })
        };
        let config_path = dir.join("config.json");
        let config = read("config.json")?;
        let dim = config_dim(&config)
            .ok_or_else(|| load_err(&config_path, "no positive integer `hidden_size`"))?;

        let weights_path = dir.join("model.safetensors");
        let threads = options
            .threads
            .unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            })
            .max(1);
        let layers = config_usize(&config, "num_hidden_layers")
            .ok_or_else(|| load_err(&config_path, "no positive integer `num_hidden_layers`"))?;
        let sessions = match options.precision {
            Precision::F32 => vec![session(env, dir, threads, GRAPH, &[])],
            Precision::Int8 => {
                let computed = crate::quant::int8_weights(&read("model.safetensors")?, layers)
                    .map_err(|e| load_err(&weights_path, e))?;
                let computed = crate::quant::values(computed)?;
                (0..threads)
                    .map(|_| session(env, dir, 1, GRAPH_INT8, &computed))
                    .collect()
            }
        }
        .into_iter()
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| load_err(&weights_path, e))?;

        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_bytes(read("tokenizer.json")?).map_err(|e| load_err(&tok_path, e))?;
        // Match sentence-transformers: cut at 256 tokens (not the file's 128), and pad to the
        // longest text of each batch, which `embed` does itself (the file pads to 128).
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| load_err(&tok_path, e))?;
        Ok(BertEmbedder {
            sessions,
            precision: options.precision,
            tokenizer,
            dim,
            info: EngineInfo {
                engine: format!(
                    "{ENGINE} {RUNTIME_VERSION} (bert, {}, {threads} threads)",
                    options.precision.name()
                ),
                model: dir.file_name().map_or_else(
                    || dir.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                ),
                sha256: None,
                context: Some(MAX_TOKENS as u32),
                confined: None,
            },
            dir: dir.to_owned(),
        })
    }
}

/// One forward pass over `batch`, padded to its longest encoding (id 0, `[PAD]`, masked out).
fn embed_batch(
    session: &mut Session,
    dim: usize,
    batch: &[&Encoding],
) -> std::result::Result<Vec<Vec<f32>>, String> {
    let n = batch.len();
    let len = batch.iter().map(|e| e.len()).max().unwrap_or(0);
    let mut ids = vec![0i64; n * len];
    let mut mask = vec![0i64; n * len];
    for (row, e) in batch.iter().enumerate() {
        let at = row * len;
        for (k, (&id, &m)) in e.get_ids().iter().zip(e.get_attention_mask()).enumerate() {
            ids[at + k] = i64::from(id);
            mask[at + k] = i64::from(m);
        }
    }
    let e = |e: ort::Error| e.to_string();
    let ids = Tensor::from_array(([n, len], ids)).map_err(e)?;
    let mask = Tensor::from_array(([n, len], mask)).map_err(e)?;
    let out = session
        .run(ort::inputs!["input_ids" => ids, "attention_mask" => mask])
        .map_err(e)?;
    let (shape, data) = out["embeddings"].try_extract_tensor::<f32>().map_err(e)?;
    if shape.len() != 2 || shape[0] as usize != n || shape[1] as usize != dim {
        return Err(format!("output shape {shape:?}, expected [{n}, {dim}]"));
    }
    Ok(data.chunks(dim).map(<[f32]>::to_vec).collect())
}

/// One ONNX Runtime session over a compiled-in graph, reading weights from `dir` and taking the
/// `computed` ones (the int8 graph's) by name.
fn session(
    env: &Environment,
    dir: &Path,
    threads: usize,
    graph: &[u8],
    computed: &[(String, Arc<DynValue>)],
) -> std::result::Result<Session, String> {
    let e = |e: ort::Error<ort::session::builder::SessionBuilder>| e.to_string();
    let mut builder = Session::builder(env).map_err(|e| e.to_string())?;
    for (name, value) in computed {
        builder = builder
            .with_external_initializer(name, Arc::clone(value))
            .map_err(e)?;
    }
    builder
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(e)?
        .with_intra_threads(threads)
        .map_err(e)?
        .with_inter_threads(1)
        .map_err(e)?
        // The external data (model.safetensors) is resolved against this folder.
        .with_config_entry(
            "session.model_external_initializers_file_folder_path",
            dir.to_string_lossy(),
        )
        .map_err(e)?
        .commit_from_memory(graph)
        .map_err(|e| e.to_string())
}

fn config_dim(config: &[u8]) -> Option<usize> {
    config_usize(config, "hidden_size")
}

fn config_usize(config: &[u8], key: &str) -> Option<usize> {
    let v: serde_json::Value = serde_json::from_slice(config).ok()?;
    let d = v.get(key)?.as_u64()?;
    (d > 0).then_some(d as usize)
}

/// Vectors by index of the text.
type Embedded = Vec<(usize, Vec<f32>)>;

/// Embeds the texts `order` names (longest first) on one session: F32 in batches of at most
/// BATCH texts and BATCH_TOKENS padded tokens (at least one text), int8 one text a pass.
fn embed_share(
    session: &mut Session,
    dim: usize,
    precision: Precision,
    enc: &[Encoding],
    order: &[usize],
) -> Result<Embedded> {
    let mut out = Vec::with_capacity(order.len());
    let mut rest = order;
    while let Some(&first) = rest.first() {
        let per_batch = match precision {
            Precision::F32 => (BATCH_TOKENS / enc[first].len().max(1)).clamp(1, BATCH),
            Precision::Int8 => 1,
        };
        let (chunk, tail) = rest.split_at(per_batch.min(rest.len()));
        rest = tail;
        let batch: Vec<&Encoding> = chunk.iter().map(|&i| &enc[i]).collect();
        let vecs = embed_batch(session, dim, &batch).map_err(|e| Error::engine(ENGINE, e))?;
        out.extend(chunk.iter().copied().zip(vecs));
    }
    Ok(out)
}

impl Embedder for BertEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let enc = self
            .tokenizer
            .encode_batch(texts.iter().map(String::as_str).collect(), true)
            .map_err(|e| Error::engine(ENGINE, e))?;
        // Longest first, like sentence-transformers, so each batch pads little.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(enc[i].len()));
        let (dim, precision) = (self.dim, self.precision);
        let mut out = vec![Vec::new(); texts.len()];
        if let [session] = self.sessions.as_mut_slice() {
            for (i, v) in embed_share(session, dim, precision, &enc, &order)? {
                out[i] = v;
            }
            return Ok(out);
        }
        // One share of the texts per session, balanced by tokens (longest to the lightest share).
        let mut shares: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new()); self.sessions.len()];
        for &i in &order {
            if let Some(s) = shares.iter_mut().min_by_key(|s| s.0) {
                s.0 += enc[i].len();
                s.1.push(i);
            }
        }
        let results: Vec<Result<Embedded>> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .sessions
                .iter_mut()
                .zip(&shares)
                .map(|(session, (_, share))| {
                    let enc = &enc;
                    scope.spawn(move || embed_share(session, dim, precision, enc, share))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::engine(ENGINE, "an embedding thread panicked"))
                    })
                })
                .collect()
        });
        for r in results {
            for (i, v) in r? {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn info(&self) -> EngineInfo {
        self.info.clone()
    }
}
