//! Sentence embeddings with a BERT encoder (all-MiniLM-L6-v2) in candle, tokenized by the
//! Hugging Face `tokenizers` crate, pooled and normalised the way sentence-transformers does.

use std::path::{Path, PathBuf};

use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::api::{Embedder, EngineInfo};
use crate::error::{Error, Result};
use crate::manifest::{self, Role};

const ENGINE: &str = "candle";
/// sentence-transformers' `max_seq_length` for this model (sentence_bert_config.json); the
/// packaged tokenizer.json says 128, which is wrong for our purpose.
pub const MAX_TOKENS: usize = 256;
/// Texts per forward pass. Texts are sorted by length first, so a batch pads little.
const BATCH: usize = 32;

/// all-MiniLM-L6-v2 (or any BERT sentence encoder laid out the same way) on the CPU.
pub struct BertEmbedder {
    model: BertModel,
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

impl BertEmbedder {
    /// Loads the embedded default (all-MiniLM-L6-v2) from `models_dir`, after checking every file
    /// against the manifest.
    pub fn embedded(models_dir: &Path) -> Result<Self> {
        let spec = manifest::spec(Role::Embedding);
        manifest::verify(models_dir, spec)?;
        let weights = spec.files[0];
        let dir = models_dir.join(
            Path::new(weights.path)
                .parent()
                .unwrap_or_else(|| Path::new("")),
        );
        let mut e = Self::load(&dir)?;
        e.info.model = spec.id.to_owned();
        e.info.sha256 = Some(weights.sha256.to_owned());
        Ok(e)
    }

    /// Loads `model.safetensors`, `config.json` and `tokenizer.json` from `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| Error::Io { path, source })
        };
        let config_path = dir.join("config.json");
        let config: Config =
            serde_json::from_slice(&read("config.json")?).map_err(|e| load_err(&config_path, e))?;
        let weights_path = dir.join("model.safetensors");
        let vb = VarBuilder::from_buffered_safetensors(
            read("model.safetensors")?,
            DType::F32,
            &Device::Cpu,
        )
        .map_err(|e| load_err(&weights_path, e))?;
        let model = BertModel::load(vb, &config).map_err(|e| load_err(&weights_path, e))?;

        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_bytes(read("tokenizer.json")?).map_err(|e| load_err(&tok_path, e))?;
        // Match sentence-transformers: pad to the longest text of the batch, cut at 256.
        let pad = tokenizer.get_padding().cloned().unwrap_or_default();
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_to_multiple_of: None,
            ..pad
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| load_err(&tok_path, e))?;
        let dim = config_dim(&read("config.json")?)
            .ok_or_else(|| load_err(&config_path, "no positive integer `hidden_size`"))?;
        Ok(BertEmbedder {
            model,
            tokenizer,
            dim,
            info: EngineInfo {
                engine: format!("{ENGINE} 0.11 (bert)"),
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

    fn embed_batch(&self, texts: &[&str]) -> candle_core::Result<Vec<Vec<f32>>> {
        let enc = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(candle_core::Error::msg)?;
        let len = enc.first().map_or(0, |e| e.get_ids().len());
        let n = enc.len();
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &enc {
            ids.extend(e.get_ids().iter().map(|&i| i as i64));
            mask.extend(e.get_attention_mask().iter().map(|&m| m as i64));
        }
        let ids = Tensor::from_vec(ids, (n, len), &Device::Cpu)?;
        let mask = Tensor::from_vec(mask, (n, len), &Device::Cpu)?;
        let types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?; // (n, len, dim)
        // Mean over the real tokens, then unit length (sentence-transformers' Pooling +
        // Normalize modules, with the same clamps).
        let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (n, len, 1)
        let summed = hidden.broadcast_mul(&m)?.sum(1)?; // (n, dim)
        let counts = m.sum(1)?.clamp(1e-9f32, f32::MAX)?; // (n, 1)
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean
            .sqr()?
            .sum_keepdim(D::Minus1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        mean.broadcast_div(&norm)?.to_vec2::<f32>()
    }
}

fn config_dim(config: &[u8]) -> Option<usize> {
    let v: serde_json::Value = serde_json::from_slice(config).ok()?;
    let d = v.get("hidden_size")?.as_u64()?;
    (d > 0).then_some(d as usize)
}

impl Embedder for BertEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        // Longest first, like sentence-transformers, so each batch pads to similar lengths.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].len()));
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
            let vecs = self
                .embed_batch(&batch)
                .map_err(|e| Error::engine(ENGINE, e))?;
            for (&i, v) in chunk.iter().zip(vecs) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn info(&self) -> EngineInfo {
        self.info.clone()
    }
}
