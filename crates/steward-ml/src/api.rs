//! The two traits every engine implements, and the values that cross them.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schema::JsonSchema;

/// Sentence embeddings: texts in, one unit-length vector per text out.
pub trait Embedder: Send {
    /// The vector length.
    fn dim(&self) -> usize;
    /// Embeds a batch; `out[i]` belongs to `texts[i]`.
    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
    /// What answers: engine, model, file hash.
    fn info(&self) -> EngineInfo;
}

/// Text generation from a chat prompt.
pub trait Generator: Send {
    /// Generates an answer; `on_text` receives the answer as it grows, in pieces that never split
    /// a character or reveal the beginning of a stop string.
    fn generate(
        &mut self,
        req: &GenerateRequest,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation>;
    /// Answers several requests at once; `out[i]` answers `reqs[i]` and `on_text(i, piece)`
    /// streams it. Engines that decode several sequences in one pass (llama.cpp) override this:
    /// each request keeps its own schema, sampling, seed, stop strings and `max_tokens`. The
    /// default answers the requests one after the other.
    fn generate_batch(
        &mut self,
        reqs: &[GenerateRequest],
        on_text: &mut dyn FnMut(usize, &str),
    ) -> Vec<Result<Generation>> {
        reqs.iter()
            .enumerate()
            .map(|(i, r)| self.generate(r, &mut |p| on_text(i, p)))
            .collect()
    }
    /// What answers: engine, model, file hash.
    fn info(&self) -> EngineInfo;
}

/// Who produced an output, so that a decision can name (and reproduce) it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineInfo {
    /// e.g. `llama.cpp`, `onnxruntime`, `openai-http`.
    pub engine: String,
    /// The model id (embedded manifest id, file name, or the server's model name).
    pub model: String,
    /// SHA-256 of the model file, where there is a local file.
    pub sha256: Option<String>,
    /// Context length (generation) or maximum sequence length (embeddings), in tokens.
    pub context: Option<u32>,
    /// Whether the engine runs in a confined worker process (None: not applicable/in process).
    pub confined: Option<String>,
}

/// How to pick the next token.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Sampling {
    /// Always the most likely token: deterministic, the default for decisions.
    #[default]
    Greedy,
    /// Temperature, nucleus and top-k sampling from a seeded generator: the same seed, model and
    /// prompt give the same text.
    Seeded {
        seed: u32,
        temperature: f32,
        top_p: f32,
        top_k: u32,
    },
}

impl Sampling {
    /// Seeded sampling with common defaults (temperature 0.7, top-p 0.9, top-k 40).
    pub fn seeded(seed: u32) -> Self {
        Sampling::Seeded {
            seed,
            temperature: 0.7,
            top_p: 0.9,
            top_k: 40,
        }
    }
}

/// What to do when the prompt and the answer do not fit the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Truncate {
    /// Drop the end of the user's message (the head of a document says most).
    #[default]
    End,
    /// Keep the head and the tail of the user's message, drop its middle.
    Middle,
    /// Refuse with [`Error::PromptTooLong`].
    Error,
}

/// One generation request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// The system message; `None` sends only the user message through the model's template.
    #[serde(default)]
    pub system: Option<String>,
    /// The user's message.
    pub prompt: String,
    /// Most tokens to generate.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    #[serde(default)]
    pub sampling: Sampling,
    /// Stop as soon as the answer contains one of these (it is cut before the match).
    #[serde(default)]
    pub stop: Vec<String>,
    /// Constrain the answer to JSON matching this schema.
    #[serde(default, with = "schema_text")]
    pub schema: Option<JsonSchema>,
    #[serde(default)]
    pub truncate: Truncate,
}

fn default_max_tokens() -> u32 {
    256
}

impl GenerateRequest {
    /// A request with defaults: greedy, 256 tokens, no stop strings, no schema, truncate the end.
    pub fn new(prompt: impl Into<String>) -> Self {
        GenerateRequest {
            system: None,
            prompt: prompt.into(),
            max_tokens: default_max_tokens(),
            sampling: Sampling::Greedy,
            stop: Vec::new(),
            schema: None,
            truncate: Truncate::End,
        }
    }

    /// Rejects parameters no engine can honour.
    pub fn check(&self) -> Result<()> {
        if self.max_tokens == 0 {
            return Err(Error::Request("max_tokens must be at least 1".into()));
        }
        if let Sampling::Seeded {
            temperature, top_p, ..
        } = self.sampling
        {
            if !(temperature.is_finite() && temperature >= 0.0) {
                return Err(Error::Request(format!(
                    "temperature must be finite and >= 0, got {temperature}"
                )));
            }
            if !(top_p > 0.0 && top_p <= 1.0) {
                return Err(Error::Request(format!(
                    "top_p must be in (0, 1], got {top_p}"
                )));
            }
        }
        if let Some(s) = self.stop.iter().find(|s| s.is_empty()) {
            return Err(Error::Request(format!("empty stop string {s:?}")));
        }
        Ok(())
    }
}

/// Why generation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Finish {
    /// The model ended its turn.
    EndOfTurn,
    /// A stop string matched.
    Stop { stop: String },
    /// `max_tokens` reached.
    MaxTokens,
    /// The streaming callback asked to stop (HTTP backends: the server said so).
    Other { reason: String },
}

/// What the truncation policy did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truncation {
    pub policy: Truncate,
    /// Prompt tokens before and after truncation (template included).
    pub original_tokens: usize,
    pub kept_tokens: usize,
}

/// The answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Generation {
    pub text: String,
    /// The parsed answer, when the request had a schema (it satisfies the schema).
    pub json: Option<serde_json::Value>,
    pub finish: Finish,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    /// Set when the prompt was cut to fit the context.
    pub truncated: Option<Truncation>,
    /// Wall time of prompt processing and of generation, in milliseconds.
    pub prompt_ms: f64,
    pub generate_ms: f64,
    pub sampling: Sampling,
    pub engine: EngineInfo,
}

mod schema_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::schema::JsonSchema;

    pub(super) fn serialize<S: Serializer>(
        s: &Option<JsonSchema>,
        ser: S,
    ) -> Result<S::Ok, S::Error> {
        match s {
            Some(s) => ser.serialize_some(s.source()),
            None => ser.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<JsonSchema>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| JsonSchema::parse(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Keeps the streamed text honest: holds back bytes that do not yet form a character and text
/// that could be the start of a stop string, and finds stop strings across token boundaries.
#[derive(Debug, Default)]
pub(crate) struct StopScanner {
    bytes: Vec<u8>,
    text: String,
    emitted: usize,
    stops: Vec<String>,
}

impl StopScanner {
    pub(crate) fn new(stops: &[String]) -> Self {
        StopScanner {
            stops: stops.to_vec(),
            ..Default::default()
        }
    }

    /// Adds a token's bytes; returns the stop string if one now matches.
    pub(crate) fn push(&mut self, piece: &[u8], on_text: &mut dyn FnMut(&str)) -> Option<String> {
        self.bytes.extend_from_slice(piece);
        let valid = match std::str::from_utf8(&self.bytes) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_some() => {
                // Invalid UTF-8 from the model: replace it rather than stall the stream.
                let fixed = String::from_utf8_lossy(&self.bytes).into_owned();
                self.bytes.clear();
                self.text.push_str(&fixed);
                0
            }
            Err(e) => e.valid_up_to(),
        };
        if valid > 0 {
            let done: Vec<u8> = self.bytes.drain(..valid).collect();
            self.text.push_str(&String::from_utf8_lossy(&done));
        }
        let search_from = self
            .emitted
            .saturating_sub(self.stops.iter().map(String::len).max().unwrap_or(0));
        let search_from = floor_boundary(&self.text, search_from);
        let hit = self
            .stops
            .iter()
            .filter_map(|s| {
                self.text[search_from..]
                    .find(s.as_str())
                    .map(|i| (search_from + i, s))
            })
            .min_by_key(|(i, _)| *i);
        if let Some((at, stop)) = hit {
            let stop = stop.clone();
            self.text.truncate(at);
            self.flush_to(self.text.len(), on_text);
            return Some(stop);
        }
        // Hold back the longest suffix that is a prefix of some stop string.
        let mut safe = self.text.len();
        for s in &self.stops {
            for k in (1..s.len()).rev() {
                if s.is_char_boundary(k) && self.text.ends_with(&s[..k]) {
                    safe = safe.min(self.text.len() - k);
                    break;
                }
            }
        }
        self.flush_to(safe, on_text);
        None
    }

    fn flush_to(&mut self, upto: usize, on_text: &mut dyn FnMut(&str)) {
        if upto > self.emitted {
            on_text(&self.text[self.emitted..upto]);
            self.emitted = upto;
        }
    }

    /// The whole answer; emits what was held back.
    pub(crate) fn finish(mut self, on_text: &mut dyn FnMut(&str)) -> String {
        if !self.bytes.is_empty() {
            let rest = String::from_utf8_lossy(&self.bytes).into_owned();
            self.text.push_str(&rest);
        }
        self.flush_to(self.text.len(), on_text);
        self.text
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&[u8]]) -> (String, Vec<String>, Option<String>) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut sc = StopScanner::new(&stops);
        let mut streamed = Vec::new();
        let mut hit = None;
        for p in pieces {
            if let Some(s) = sc.push(p, &mut |t| streamed.push(t.to_owned())) {
                hit = Some(s);
                break;
            }
        }
        let text = sc.finish(&mut |t| streamed.push(t.to_owned()));
        (text, streamed, hit)
    }

    #[test]
    fn stop_strings_match_across_pieces_and_are_never_streamed() {
        let (text, streamed, hit) = run(
            &["\n\nUser:"],
            &[b"Hello", b"\n", b"\nUs", b"er:", b" more"],
        );
        assert_eq!(text, "Hello");
        assert_eq!(streamed.concat(), "Hello");
        assert_eq!(hit.as_deref(), Some("\n\nUser:"));
    }

    #[test]
    fn held_back_prefix_is_released_when_it_does_not_match() {
        let (text, streamed, hit) = run(&["END"], &[b"the E", b"ND", b"x"]);
        assert_eq!((text.as_str(), hit.as_deref()), ("the ", Some("END")));
        assert_eq!(streamed.concat(), "the ");
        let (text, streamed, hit) = run(&["END"], &[b"the E", b"ast"]);
        assert_eq!((text.as_str(), hit), ("the East", None));
        assert_eq!(streamed.concat(), "the East");
    }

    #[test]
    fn split_characters_are_joined_before_streaming() {
        let euro = "€".as_bytes();
        let (text, streamed, _) = run(&[], &[&euro[..1], &euro[1..], b"!"]);
        assert_eq!(text, "€!");
        assert!(streamed.iter().all(|s| !s.is_empty()));
        assert_eq!(streamed.concat(), "€!");
    }

    #[test]
    fn requests_are_checked() {
        let mut r = GenerateRequest::new("hi");
        assert!(r.check().is_ok());
        r.max_tokens = 0;
        assert!(r.check().is_err());
        r.max_tokens = 1;
        r.sampling = Sampling::Seeded {
            seed: 1,
            temperature: f32::NAN,
            top_p: 0.9,
            top_k: 40,
        };
        assert!(r.check().is_err());
        r.sampling = Sampling::seeded(1);
        r.stop = vec![String::new()];
        assert!(r.check().is_err());
    }
}
