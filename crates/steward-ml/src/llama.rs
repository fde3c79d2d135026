//! Generation with llama.cpp (through the `llama-cpp-2` bindings, which vendor and build it).

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;

use crate::api::{
    EngineInfo, Finish, GenerateRequest, Generation, Generator, Sampling, StopScanner, Truncate,
    Truncation,
};
use crate::error::{Error, Result};
use crate::manifest::{self, Role};

const ENGINE: &str = "llama.cpp";
/// Tokens per micro-batch while reading prompts (llama.cpp's default).
const N_UBATCH: u32 = 512;

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
    /// Most sequences decoded together by [`Generator::generate_batch`].
    pub max_batch: u32,
    /// Most context cells (prompt + answer tokens, all sequences together) of one batch; the KV
    /// cache takes about 23 KB a cell with SmolLM2-135M, so 4096 cells are about 94 MB.
    pub batch_context: u32,
}

impl Default for LlamaOptions {
    fn default() -> Self {
        LlamaOptions {
            max_context: 4096,
            threads: None,
            max_batch: 8,
            batch_context: 4096,
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
    max_batch: u32,
    batch_context: u32,
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
            max_batch: opts.max_batch.max(1),
            batch_context: opts.batch_context,
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
            "max_batch": self.max_batch,
            "batch_context": self.batch_context,
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

    fn picker(&self, req: &GenerateRequest) -> Result<Picker> {
        let grammar = match &req.schema {
            Some(schema) => Some(
                LlamaSampler::grammar(&self.model, schema.gbnf(), "root").map_err(|e| {
                    Error::engine(ENGINE, format!("grammar rejected by llama.cpp: {e}"))
                })?,
            ),
            None => None,
        };
        Ok(match req.sampling {
            Sampling::Greedy => Picker::Greedy { grammar },
            Sampling::Seeded {
                seed,
                temperature,
                top_p,
                top_k,
            } => {
                let mut chain: Vec<LlamaSampler> = grammar.into_iter().collect();
                if top_k > 0 {
                    chain.push(LlamaSampler::top_k(top_k.min(i32::MAX as u32) as i32));
                }
                chain.push(LlamaSampler::top_p(top_p, 1));
                chain.push(LlamaSampler::temp(temperature));
                chain.push(LlamaSampler::dist(seed));
                Picker::Chain(LlamaSampler::chain_simple(chain))
            }
        })
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

/// A request made ready for decoding: tokens that fit, its answer budget, its sampler.
struct Prepared {
    slot: usize,
    tokens: Vec<LlamaToken>,
    truncated: Option<Truncation>,
    max_tokens: u32,
    picker: Picker,
}

impl Prepared {
    /// Context cells this request may occupy.
    fn cells(&self) -> usize {
        self.tokens.len() + self.max_tokens as usize
    }
}

/// Picks each sequence's next token.
enum Picker {
    /// The most likely token. A grammar, when there is one, is first asked about that token
    /// alone and only filters the whole vocabulary when it refuses it: the same token as
    /// filtering first, for a fraction of the work (llama.cpp's `common_sampler` does the same).
    Greedy { grammar: Option<LlamaSampler> },
    /// A sampler chain (grammar, top-k, top-p, temperature, seeded draw).
    Chain(LlamaSampler),
}

impl Picker {
    /// Picks from the logits at batch index `idx` and accepts the token into the sampler state,
    /// exactly once: accepting a token twice steps a grammar twice and aborts the process.
    fn pick(&mut self, ctx: &LlamaContext<'_>, idx: i32) -> Result<LlamaToken> {
        let grammar = match self {
            // `sample` accepts the token into every sampler of the chain.
            Picker::Chain(chain) => return Ok(chain.sample(ctx, idx)),
            Picker::Greedy { grammar } => grammar,
        };
        let logits = ctx.get_logits_ith(idx);
        let best = argmax(logits.iter().copied().enumerate())
            .ok_or_else(|| Error::engine(ENGINE, "empty logits"))?;
        let Some(g) = grammar else {
            return Ok(LlamaToken::new(best as i32));
        };
        let data = |i: usize, l: f32| LlamaTokenData::new(LlamaToken::new(i as i32), l, 0.0);
        let mut one = LlamaTokenDataArray::new(vec![data(best, logits[best])], false);
        g.apply(&mut one);
        let token = if one
            .data
            .first()
            .is_some_and(|d| d.logit() > f32::NEG_INFINITY)
        {
            best
        } else {
            let mut all = LlamaTokenDataArray::new(
                logits
                    .iter()
                    .enumerate()
                    .map(|(i, &l)| data(i, l))
                    .collect(),
                false,
            );
            g.apply(&mut all);
            argmax(
                all.data
                    .iter()
                    .map(|d| (d.id().0 as usize, d.logit()))
                    .filter(|(_, l)| *l > f32::NEG_INFINITY),
            )
            .ok_or_else(|| Error::engine(ENGINE, "the grammar allows no next token"))?
        };
        let token = LlamaToken::new(token as i32);
        g.accept(token);
        Ok(token)
    }
}

/// The index of the largest value (the first of equals, as llama.cpp's greedy sampler).
fn argmax(it: impl Iterator<Item = (usize, f32)>) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, l) in it {
        if best.is_none_or(|(_, b)| l > b) {
            best = Some((i, l));
        }
    }
    best.map(|(i, _)| i)
}

/// Empties a sequence's KV stream so that the next request can start in it at position 0.
fn free_stream(ctx: &mut LlamaContext<'_>, seq_id: usize) -> Result<()> {
    ctx.clear_kv_cache_seq(Some(seq_id as u32), None, None)
        .map(drop)
        .map_err(|e| Error::engine(ENGINE, format!("free sequence {seq_id}: {e}")))
}

/// One sequence while it decodes.
struct Running<'r> {
    req: &'r GenerateRequest,
    prep: Prepared,
    scanner: StopScanner,
    pos: i32,
    produced: usize,
    /// Where its logits are in the last decoded batch.
    logits_at: i32,
    finish: Option<Finish>,
    prompt_ms: f64,
    /// End of the pass that read its prompt.
    decoding_since: Instant,
    generate_ms: f64,
}

impl LlamaGenerator {
    /// Checks, tokenizes and fits one request; builds its sampler.
    fn prepare(&self, slot: usize, req: &GenerateRequest) -> Result<Prepared> {
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
        Ok(Prepared {
            slot,
            tokens,
            truncated,
            max_tokens,
            picker: self.picker(req)?,
        })
    }

    /// Decodes prepared requests with continuous batching. Each sequence has its own KV stream
    /// in a shared context; every pass reads one token of each running sequence plus the prompts
    /// of the requests that joined, and when a sequence ends the next waiting request takes its
    /// stream in the following pass, so the batch stays full until the queue is empty. Requests
    /// that fit a stream of `batch_context / max_batch` cells (prompt plus answer) run
    /// `max_batch` at a time; larger ones run after them, with streams as large as the largest
    /// and as many at once as `batch_context` allows (at least one). Returns (slot, result)
    /// pairs.
    ///
    /// Measured on 32 proposal summaries with 8 sequences (docs/models.md): fixed groups of 8
    /// ran each group's tail at single-stream speed while its longest answer decoded alone, and
    /// one KV cache shared by all sequences (llama.cpp's unified cache) made every token attend
    /// over every sequence's cells: 1.22x a single stream, against 1.44x here.
    fn decode_rolling(
        &self,
        reqs: &[GenerateRequest],
        prepared: Vec<Prepared>,
        on_text: &mut dyn FnMut(usize, &str),
    ) -> Vec<(usize, Result<Generation>)> {
        let mut done = Vec::with_capacity(prepared.len());
        let full_width = (self.batch_context / self.max_batch).max(1) as usize;
        let (small, large): (Vec<Prepared>, Vec<Prepared>) =
            prepared.into_iter().partition(|p| p.cells() <= full_width);
        let stream = |run: &[Prepared]| {
            run.iter()
                .map(Prepared::cells)
                .max()
                .unwrap_or(1)
                .next_multiple_of(256)
        };
        let mut runs = Vec::new();
        for run in [small, large] {
            if !run.is_empty() {
                runs.push((stream(&run), VecDeque::from(run)));
            }
        }
        for (stream, mut waiting) in runs {
            let mut live: Vec<Option<Running<'_>>> = Vec::new();
            if let Err(e) = self.roll(reqs, stream, &mut waiting, &mut live, &mut done, on_text) {
                // The engine failed mid-pass: every request of the run not yet answered fails
                // with it.
                let msg = e.to_string();
                let mut first = Some(e);
                let slots = live.into_iter().flatten().map(|r| r.prep.slot);
                for slot in slots.chain(waiting.into_iter().map(|p| p.slot)) {
                    let err = first.take().unwrap_or_else(|| Error::engine(ENGINE, &msg));
                    done.push((slot, Err(err)));
                }
            }
        }
        done
    }

    /// Decodes one run of requests, each in a KV stream of `stream` cells, until all have ended.
    fn roll<'r>(
        &self,
        reqs: &'r [GenerateRequest],
        stream: usize,
        waiting: &mut VecDeque<Prepared>,
        live: &mut Vec<Option<Running<'r>>>,
        done: &mut Vec<(usize, Result<Generation>)>,
        on_text: &mut dyn FnMut(usize, &str),
    ) -> Result<()> {
        let width = (self.batch_context as usize / stream)
            .clamp(1, self.max_batch as usize)
            .min(waiting.len().max(1));
        let n_ctx = width * stream;
        // One KV stream per sequence: a token attends over its own sequence's cells only. A
        // pass holds at most every stream's cells (a token per running sequence plus the
        // prompts that join).
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx as u32))
            .with_n_batch(n_ctx as u32)
            .with_n_ubatch(N_UBATCH)
            .with_n_seq_max(width as u32)
            .with_kv_unified(false)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads);
        let mut ctx = self
            .model
            .new_context(backend()?, params)
            .map_err(|e| Error::engine(ENGINE, format!("context of {n_ctx} tokens: {e}")))?;
        let vocab = self.model.vocab();
        live.resize_with(width, || None);
        let mut batch = LlamaBatch::new(n_ctx, width as i32);
        loop {
            batch.clear();
            let pass = Instant::now();
            // The next token of every running sequence, from the last pass's logits.
            for (seq_id, entry) in live.iter_mut().enumerate() {
                let Some(s) = entry else { continue };
                let picked = s.prep.picker.pick(&ctx, s.logits_at);
                let token = match picked {
                    Ok(token) => token,
                    Err(e) => {
                        // This sequence's sampler is stuck (a grammar that allows nothing):
                        // it fails alone and its stream goes to the next request.
                        done.push((s.prep.slot, Err(e)));
                        *entry = None;
                        free_stream(&mut ctx, seq_id)?;
                        continue;
                    }
                };
                s.produced += 1;
                if vocab.is_eog(token) {
                    s.finish = Some(Finish::EndOfTurn);
                } else {
                    let piece = vocab.token_to_piece(token, false, None);
                    let slot = s.prep.slot;
                    if let Some(stop) = s.scanner.push(&piece, &mut |t| on_text(slot, t)) {
                        s.finish = Some(Finish::Stop { stop });
                    } else if s.produced >= s.prep.max_tokens as usize {
                        s.finish = Some(Finish::MaxTokens);
                    }
                }
                if s.finish.is_some() {
                    s.generate_ms = s.decoding_since.elapsed().as_secs_f64() * 1e3;
                    if let Some(s) = entry.take() {
                        done.push(self.finished(s, on_text));
                    }
                    free_stream(&mut ctx, seq_id)?;
                    continue;
                }
                s.logits_at = batch.n_tokens();
                batch
                    .add(token, s.pos, &[seq_id as i32], true)
                    .map_err(|e| Error::engine(ENGINE, e))?;
                s.pos += 1;
            }
            // Waiting requests take the free streams.
            let mut joined = Vec::new();
            while let Some(seq_id) = live.iter().position(Option::is_none) {
                let Some(prep) = waiting.pop_front() else {
                    break;
                };
                let last = prep.tokens.len() - 1;
                for (pos, &t) in prep.tokens.iter().enumerate() {
                    batch
                        .add(t, pos as i32, &[seq_id as i32], pos == last)
                        .map_err(|e| Error::engine(ENGINE, e))?;
                }
                live[seq_id] = Some(Running {
                    req: &reqs[prep.slot],
                    scanner: StopScanner::new(&reqs[prep.slot].stop),
                    pos: prep.tokens.len() as i32,
                    produced: 0,
                    logits_at: batch.n_tokens() - 1,
                    finish: None,
                    prompt_ms: 0.0,
                    decoding_since: pass,
                    generate_ms: 0.0,
                    prep,
                });
                joined.push(seq_id);
            }
            if batch.n_tokens() == 0 {
                return Ok(());
            }
            ctx.decode(&mut batch).map_err(|e| {
                Error::engine(
                    ENGINE,
                    format!("decode of {} tokens: {e}", batch.n_tokens()),
                )
            })?;
            // A request's prompt time is the pass that read its prompt.
            let pass_ms = pass.elapsed().as_secs_f64() * 1e3;
            let now = Instant::now();
            for seq_id in joined {
                if let Some(s) = &mut live[seq_id] {
                    s.prompt_ms = pass_ms;
                    s.decoding_since = now;
                }
            }
        }
    }

    /// The answer of a sequence that ended.
    fn finished(
        &self,
        s: Running<'_>,
        on_text: &mut dyn FnMut(usize, &str),
    ) -> (usize, Result<Generation>) {
        let slot = s.prep.slot;
        let text = s.scanner.finish(&mut |t| on_text(slot, t));
        let json = match &s.req.schema {
            Some(schema) => match schema.check(&text) {
                Ok(v) => Some(v),
                Err(e) => return (slot, Err(e)),
            },
            None => None,
        };
        let generation = Generation {
            text,
            json,
            finish: s.finish.unwrap_or(Finish::MaxTokens),
            prompt_tokens: s.prep.tokens.len(),
            completion_tokens: s.produced,
            truncated: s.prep.truncated,
            prompt_ms: s.prompt_ms,
            generate_ms: s.generate_ms,
            sampling: s.req.sampling,
            engine: self.info.clone(),
        };
        (slot, Ok(generation))
    }
}

impl Generator for LlamaGenerator {
    fn generate(
        &mut self,
        req: &GenerateRequest,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        let prep = self.prepare(0, req)?;
        let reqs = std::slice::from_ref(req);
        self.decode_rolling(reqs, vec![prep], &mut |_, t| on_text(t))
            .pop()
            .map_or_else(|| Err(Error::engine(ENGINE, "no answer")), |(_, r)| r)
    }

    /// Decodes the requests together with continuous batching: at most
    /// [`LlamaOptions::max_batch`] sequences and [`LlamaOptions::batch_context`] context cells
    /// at a time, a waiting request joining as soon as a running one ends. `prompt_ms` is the
    /// wall time of the pass that read a request's prompt (shared with the requests and running
    /// sequences of that pass) and `generate_ms` the time from then until the sequence ended.
    fn generate_batch(
        &mut self,
        reqs: &[GenerateRequest],
        on_text: &mut dyn FnMut(usize, &str),
    ) -> Vec<Result<Generation>> {
        let mut out: Vec<Option<Result<Generation>>> = (0..reqs.len()).map(|_| None).collect();
        let mut prepared = Vec::with_capacity(reqs.len());
        for (slot, req) in reqs.iter().enumerate() {
            match self.prepare(slot, req) {
                Ok(p) => prepared.push(p),
                Err(e) => out[slot] = Some(Err(e)),
            }
        }
        for (slot, r) in self.decode_rolling(reqs, prepared, on_text) {
            out[slot] = Some(r);
        }
        out.into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::engine(ENGINE, "request was not decoded"))))
            .collect()
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
