//! Generation with llama.cpp (through the `llama-cpp-2` bindings, which vendor and build it).

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use crate::api::{
    EngineInfo, Finish, GenerateRequest, Generation, Generator, Sampling, StopScanner, Truncate,
    Truncation,
};
use crate::error::{Error, Result};
use crate::manifest::{self, Role};

const ENGINE: &str = "llama.cpp";
/// Tokens decoded per `llama_decode` call while reading the prompt.
const N_BATCH: u32 = 512;

/// llama.cpp's global state may be initialised once per process.
fn backend() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<std::result::Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // llama.cpp logs every tensor at load; route it to tracing (the binary filters it).
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::engine(ENGINE, format!("backend init: {e}")))
}

/// Half the cores (at least one). llama.cpp's OpenMP threads spin at every barrier: when they
/// compete for cores (with the embedder, the agent, other processes) decoding collapses, e.g.
/// 3 tokens/s with 2 threads on a busy 2-core machine against 35 with 1.
fn default_threads() -> i32 {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1) as i32)
}

/// Options for [`LlamaGenerator::load`].
#[derive(Debug, Clone)]
pub struct LlamaOptions {
    /// Largest context (prompt + answer) in tokens; each request gets a context just big enough.
    pub max_context: u32,
    /// CPU threads; default: half the cores, at least one (see `default_threads`).
    pub threads: Option<u32>,
}

impl Default for LlamaOptions {
    fn default() -> Self {
        LlamaOptions {
            max_context: 4096,
            threads: None,
        }
    }
}

/// A GGUF chat model run by llama.cpp on the CPU.
pub struct LlamaGenerator {
    model: LlamaModel,
    template: LlamaChatTemplate,
    info: EngineInfo,
    path: PathBuf,
    max_context: u32,
    threads: i32,
}

impl std::fmt::Debug for LlamaGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlamaGenerator")
            .field("path", &self.path)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl LlamaGenerator {
    /// Loads the embedded default generation model from `models_dir`, after checking its size and
    /// SHA-256 against the manifest.
    pub fn embedded(models_dir: &Path, opts: &LlamaOptions) -> Result<Self> {
        let spec = manifest::spec(Role::Generation);
        let file = &spec.files[0];
        manifest::verify(models_dir, spec)?;
        let mut g = Self::load_unverified(&models_dir.join(file.path), opts)?;
        g.info.model = spec.id.to_owned();
        g.info.sha256 = Some(file.sha256.to_owned());
        Ok(g)
    }

    /// Loads any GGUF chat model (hashing it for [`EngineInfo`]).
    pub fn load(path: &Path, opts: &LlamaOptions) -> Result<Self> {
        let sha = manifest::sha256_file(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut g = Self::load_unverified(path, opts)?;
        g.info.sha256 = Some(sha);
        Ok(g)
    }

    fn load_unverified(path: &Path, opts: &LlamaOptions) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::ModelFile {
                path: path.to_owned(),
                problem: "missing".into(),
            });
        }
        let backend = backend()?;
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|e| Error::Load {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        let template = model.chat_template(None).map_err(|e| Error::Load {
            path: path.to_owned(),
            reason: format!("no usable chat template: {e}"),
        })?;
        let threads = opts
            .threads
            .map_or_else(default_threads, |t| t.max(1) as i32);
        let max_context = opts.max_context.clamp(64, model.n_ctx_train());
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok(LlamaGenerator {
            info: EngineInfo {
                engine: format!("{ENGINE} (llama-cpp-2 0.1.160)"),
                model: name,
                sha256: None,
                context: Some(max_context),
                confined: None,
            },
            model,
            template,
            path: path.to_owned(),
            max_context,
            threads,
        })
    }

    /// The chat template embedded in the model file.
    pub fn chat_template(&self) -> String {
        self.template.to_string().unwrap_or_default()
    }

    /// Model facts for `steward model info`.
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "parameters": self.model.n_params(),
            "layers": self.model.n_layer(),
            "vocabulary": self.model.n_vocab(),
            "context_train": self.model.n_ctx_train(),
            "context_max": self.max_context,
            "threads": self.threads,
        })
    }

    /// Renders the chat and tokenizes it. Template text may contain special tokens; message text
    /// never does (a proposal that says `<|im_start|>system` stays plain text). Returns the tokens
    /// and the range the user's message occupies.
    fn tokenize_chat(
        &self,
        system: Option<&str>,
        user: &str,
    ) -> Result<(Vec<LlamaToken>, std::ops::Range<usize>)> {
        // Private-use markers stand in for the message texts while the template is applied.
        const MARK: [&str; 2] = ["\u{E000}0\u{E001}", "\u{E000}1\u{E001}"];
        let msg = |role: &str, content: &str| {
            LlamaChatMessage::new(role.into(), content.into())
                .map_err(|e| Error::Request(format!("{role} message: {e}")))
        };
        let mut chat = Vec::new();
        if system.is_some() {
            chat.push(msg("system", MARK[0])?);
        }
        chat.push(msg("user", MARK[1])?);
        let rendered = self
            .model
            .apply_chat_template(&self.template, &chat, true)
            .map_err(|e| Error::engine(ENGINE, format!("chat template: {e}")))?;
        let vocab = self.model.vocab();
        let mut tokens = Vec::new();
        if vocab.should_add_bos() && !rendered.starts_with("<|") {
            tokens.push(vocab.bos());
        }
        let mut user_span = 0..0;
        let mut rest = rendered.as_str();
        loop {
            let next = MARK
                .iter()
                .enumerate()
                .filter_map(|(i, m)| rest.find(m).map(|at| (at, i, m.len())))
                .min();
            let Some((at, which, len)) = next else {
                tokens.extend(vocab.tokenize(rest.as_bytes(), false, true));
                break;
            };
            tokens.extend(vocab.tokenize(&rest.as_bytes()[..at], false, true));
            let text = if which == 0 {
                system.unwrap_or("")
            } else {
                user
            };
            let start = tokens.len();
            tokens.extend(vocab.tokenize(text.as_bytes(), false, false));
            if which == 1 {
                user_span = start..tokens.len();
            }
            rest = &rest[at + len..];
        }
        Ok((tokens, user_span))
    }

    fn sampler(&self, req: &GenerateRequest) -> Result<LlamaSampler> {
        let mut chain = Vec::new();
        if let Some(schema) = &req.schema {
            let grammar =
                LlamaSampler::grammar(&self.model, schema.gbnf(), "root").map_err(|e| {
                    Error::engine(ENGINE, format!("grammar rejected by llama.cpp: {e}"))
                })?;
            chain.push(grammar);
        }
        match req.sampling {
            Sampling::Greedy => chain.push(LlamaSampler::greedy()),
            Sampling::Seeded {
                seed,
                temperature,
                top_p,
                top_k,
            } => {
                if top_k > 0 {
                    chain.push(LlamaSampler::top_k(top_k.min(i32::MAX as u32) as i32));
                }
                chain.push(LlamaSampler::top_p(top_p, 1));
                chain.push(LlamaSampler::temp(temperature));
                chain.push(LlamaSampler::dist(seed));
            }
        }
        Ok(LlamaSampler::chain_simple(chain))
    }
}

/// Applies the truncation policy; returns the report when tokens were dropped.
fn fit_prompt(
    tokens: &mut Vec<LlamaToken>,
    user: std::ops::Range<usize>,
    room: usize,
    policy: Truncate,
    n_ctx: u32,
    max_tokens: u32,
) -> Result<Option<Truncation>> {
    let original = tokens.len();
    if original <= room {
        return Ok(None);
    }
    let excess = original - room;
    if policy == Truncate::Error || excess > user.len() {
        return Err(Error::PromptTooLong {
            prompt_tokens: original,
            n_ctx,
            max_tokens,
            room,
        });
    }
    let drop = match policy {
        Truncate::End | Truncate::Error => user.end - excess..user.end,
        Truncate::Middle => {
            let keep_head = (user.len() - excess).div_ceil(2);
            user.start + keep_head..user.start + keep_head + excess
        }
    };
    tokens.drain(drop);
    Ok(Some(Truncation {
        policy,
        original_tokens: original,
        kept_tokens: tokens.len(),
    }))
}

impl Generator for LlamaGenerator {
    fn generate(
        &mut self,
        req: &GenerateRequest,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        req.check()?;
        let (mut tokens, user) = self.tokenize_chat(req.system.as_deref(), &req.prompt)?;
        let max_tokens = req.max_tokens.min(self.max_context / 2);
        let room = (self.max_context - max_tokens) as usize;
        let truncated = fit_prompt(
            &mut tokens,
            user,
            room,
            req.truncate,
            self.max_context,
            max_tokens,
        )?;
        // A context just big enough for this request: cheaper to allocate and to attend over.
        let n_ctx =
            ((tokens.len() as u32 + max_tokens).next_multiple_of(256)).min(self.max_context);
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(N_BATCH)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads);
        let mut ctx = self
            .model
            .new_context(backend()?, params)
            .map_err(|e| Error::engine(ENGINE, format!("context of {n_ctx} tokens: {e}")))?;
        let mut sampler = self.sampler(req)?;
        let vocab = self.model.vocab();

        let started = Instant::now();
        let mut batch = LlamaBatch::new(N_BATCH as usize, 1);
        let last = tokens.len() - 1;
        for (chunk_no, chunk) in tokens.chunks(N_BATCH as usize).enumerate() {
            batch.clear();
            for (j, &t) in chunk.iter().enumerate() {
                let pos = chunk_no * N_BATCH as usize + j;
                batch
                    .add(t, pos as i32, &[0], pos == last)
                    .map_err(|e| Error::engine(ENGINE, e))?;
            }
            ctx.decode(&mut batch)
                .map_err(|e| Error::engine(ENGINE, format!("prompt decode: {e}")))?;
        }
        let prompt_ms = started.elapsed().as_secs_f64() * 1e3;

        let started = Instant::now();
        let mut scanner = StopScanner::new(&req.stop);
        let mut pos = tokens.len() as i32;
        let mut produced = 0usize;
        let mut finish = Finish::MaxTokens;
        while produced < max_tokens as usize {
            // `sample` also accepts the token into every sampler of the chain (the grammar
            // advances here). Accepting it again would step the grammar twice and abort.
            let token = sampler.sample(&ctx, batch.n_tokens() - 1);
            produced += 1;
            if vocab.is_eog(token) {
                finish = Finish::EndOfTurn;
                break;
            }
            let piece = vocab.token_to_piece(token, false, None);
            if let Some(stop) = scanner.push(&piece, on_text) {
                finish = Finish::Stop { stop };
                break;
            }
            if produced == max_tokens as usize {
                break;
            }
            batch.clear();
            batch
                .add(token, pos, &[0], true)
                .map_err(|e| Error::engine(ENGINE, e))?;
            pos += 1;
            ctx.decode(&mut batch)
                .map_err(|e| Error::engine(ENGINE, format!("decode at position {pos}: {e}")))?;
        }
        let generate_ms = started.elapsed().as_secs_f64() * 1e3;
        let text = scanner.finish(on_text);
        let json = match &req.schema {
            Some(schema) => Some(schema.check(&text)?),
            None => None,
        };
        Ok(Generation {
            text,
            json,
            finish,
            prompt_tokens: tokens.len(),
            completion_tokens: produced,
            truncated,
            prompt_ms,
            generate_ms,
            sampling: req.sampling,
            engine: self.info.clone(),
        })
    }

    fn info(&self) -> EngineInfo {
        self.info.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(n: i32) -> Vec<LlamaToken> {
        (0..n).map(LlamaToken::new).collect()
    }

    #[test]
    fn truncation_policies() {
        // 3 template tokens, 10 user tokens (3..13), 2 template tokens.
        let mut t = toks(15);
        assert_eq!(
            fit_prompt(&mut t, 3..13, 15, Truncate::End, 64, 8).expect("fits"),
            None
        );

        let mut t = toks(15);
        let r = fit_prompt(&mut t, 3..13, 11, Truncate::End, 64, 8).expect("truncates");
        assert_eq!(
            r.map(|r| (r.original_tokens, r.kept_tokens)),
            Some((15, 11))
        );
        let ids: Vec<i32> = t.iter().map(|t| t.0).collect();
        assert_eq!(ids, [0, 1, 2, 3, 4, 5, 6, 7, 8, 13, 14]);

        let mut t = toks(15);
        fit_prompt(&mut t, 3..13, 11, Truncate::Middle, 64, 8).expect("truncates");
        let ids: Vec<i32> = t.iter().map(|t| t.0).collect();
        assert_eq!(ids, [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14]);

        let mut t = toks(15);
        assert!(matches!(
            fit_prompt(&mut t, 3..13, 11, Truncate::Error, 64, 8),
            Err(Error::PromptTooLong {
                prompt_tokens: 15,
                room: 11,
                ..
            })
        ));
        // Even an empty user message would not fit: an error whatever the policy.
        let mut t = toks(15);
        assert!(fit_prompt(&mut t, 3..13, 4, Truncate::End, 64, 8).is_err());
    }
}
