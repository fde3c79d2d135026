//! A user's own OpenAI-compatible server (llama.cpp's llama-server, Ollama, vLLM,
//! llama-cpp-python) as a second backend for both traits.
//!
//! This crate never builds an HTTP client: the caller passes a `reqwest::Client` made by the
//! agent's network factory, which enforces the network allowlist (loopback by default). Give
//! this backend a client of its own: it runs requests on a private single-thread runtime on the
//! model thread, and a pooled connection must not outlive the runtime that opened it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::Deserialize;
use serde_json::json;

use crate::api::{Embedder, EngineInfo, Finish, GenerateRequest, Generation, Generator, Sampling};
use crate::error::{Error, Result};

/// Where the server is and which model to ask for.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// The API root, including the version segment: `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    /// The model name the server knows (`smollm2`, `llama3.1:8b`, …).
    pub model: String,
    /// The embedding model name, when the server serves one (often a different model).
    pub embedding_model: Option<String>,
    /// The embedding dimension the caller expects; checked on every answer.
    pub embedding_dim: usize,
}

/// The OpenAI-compatible backend.
#[derive(Debug)]
pub struct OpenAiBackend {
    client: reqwest::Client,
    config: OpenAiConfig,
    runtime: tokio::runtime::Runtime,
    /// Set once the server refused OpenAI's `json_schema` response format: then the schema goes
    /// as `{"type": "json_object", "schema": …}`, the llama.cpp family's form.
    schema_as_json_object: AtomicBool,
}

impl OpenAiBackend {
    /// `client` must come from the agent's network factory (it carries the allowlist).
    pub fn new(client: reqwest::Client, config: OpenAiConfig) -> Result<Self> {
        let url = reqwest::Url::parse(&config.base_url).map_err(|e| Error::Endpoint {
            url: config.base_url.clone(),
            reason: format!("not a URL: {e}"),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Endpoint {
                url: config.base_url.clone(),
                reason: "expected an http or https URL".into(),
            });
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Worker(format!("runtime for the HTTP backend: {e}")))?;
        Ok(OpenAiBackend {
            client,
            config,
            runtime,
            schema_as_json_object: AtomicBool::new(false),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.config.base_url.trim_end_matches('/'))
    }

    fn err(&self, path: &str, reason: impl std::fmt::Display) -> Error {
        Error::Endpoint {
            url: redact(&self.url(path)),
            reason: reason.to_string(),
        }
    }

    async fn post<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> Result<T> {
        let resp = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .map_err(|e| self.err(path, format!("request failed: {e}")))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| self.err(path, format!("reading the answer: {e}")))?;
        if !status.is_success() {
            let snippet = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
            return Err(self.err(path, format!("HTTP {status}: {snippet}")));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            let snippet = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            self.err(path, format!("unexpected answer ({e}): {snippet:?}"))
        })
    }

    /// `POST /chat/completions` with the answer constrained by `schema`. OpenAI, vLLM and
    /// llama.cpp's llama-server take `{"type": "json_schema", "json_schema": {…}}`;
    /// llama-cpp-python's server refuses that type (HTTP 500 naming `response_format`) and takes
    /// `{"type": "json_object", "schema": …}`. The first form is tried first; after one refusal
    /// that names `response_format`, this backend uses the second.
    async fn post_with_schema<T: for<'de> Deserialize<'de>>(
        &self,
        mut body: serde_json::Value,
        schema: serde_json::Value,
    ) -> Result<T> {
        let json_object = json!({"type": "json_object", "schema": schema});
        if self.schema_as_json_object.load(Ordering::Relaxed) {
            body["response_format"] = json_object;
            return self.post("chat/completions", body).await;
        }
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": schema, "strict": true},
        });
        match self.post("chat/completions", body.clone()).await {
            Err(Error::Endpoint { reason, .. })
                if reason.starts_with("HTTP ") && reason.contains("response_format") =>
            {
                tracing::debug!("server refused json_schema; sending the schema as json_object");
                self.schema_as_json_object.store(true, Ordering::Relaxed);
                body["response_format"] = json_object;
                self.post("chat/completions", body).await
            }
            other => other,
        }
    }

    /// Embeds texts through `POST /embeddings`.
    pub async fn embed_async(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        #[derive(Deserialize)]
        struct Item {
            index: usize,
            embedding: Vec<f32>,
        }
        #[derive(Deserialize)]
        struct Resp {
            data: Vec<Item>,
        }
        let model = self
            .config
            .embedding_model
            .as_deref()
            .unwrap_or(&self.config.model);
        let resp: Resp = self
            .post("embeddings", json!({ "model": model, "input": texts }))
            .await?;
        let mut out = vec![Vec::new(); texts.len()];
        for item in resp.data {
            let slot = out.get_mut(item.index).ok_or_else(|| {
                self.err("embeddings", format!("index {} out of range", item.index))
            })?;
            if item.embedding.len() != self.config.embedding_dim {
                return Err(self.err(
                    "embeddings",
                    format!(
                        "vector of {} dimensions, expected {}",
                        item.embedding.len(),
                        self.config.embedding_dim
                    ),
                ));
            }
            *slot = normalise(item.embedding);
        }
        if let Some(i) = out.iter().position(Vec::is_empty) {
            return Err(self.err("embeddings", format!("no vector for input {i}")));
        }
        Ok(out)
    }

    /// Generates through `POST /chat/completions` (not streamed; `response_format` carries the
    /// schema, and the answer is checked against it here too).
    pub async fn generate_async(&self, req: &GenerateRequest) -> Result<Generation> {
        req.check()?;
        #[derive(Deserialize)]
        struct Message {
            content: Option<String>,
        }
        #[derive(Deserialize)]
        struct Choice {
            message: Message,
            finish_reason: Option<String>,
        }
        #[derive(Deserialize, Default)]
        struct Usage {
            prompt_tokens: usize,
            completion_tokens: usize,
        }
        #[derive(Deserialize)]
        struct Resp {
            choices: Vec<Choice>,
            #[serde(default)]
            usage: Option<Usage>,
        }
        let mut messages = Vec::new();
        if let Some(system) = &req.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        messages.push(json!({"role": "user", "content": req.prompt}));
        let mut body = json!({
            "model": self.config.model,
            "messages": messages,
            "max_tokens": req.max_tokens,
            "stream": false,
        });
        match req.sampling {
            Sampling::Greedy => {
                body["temperature"] = json!(0.0);
                body["seed"] = json!(0);
            }
            Sampling::Seeded {
                seed,
                temperature,
                top_p,
                top_k,
            } => {
                body["temperature"] = json!(temperature);
                body["top_p"] = json!(top_p);
                body["top_k"] = json!(top_k);
                body["seed"] = json!(seed);
            }
        }
        if !req.stop.is_empty() {
            body["stop"] = json!(req.stop);
        }
        let schema = match &req.schema {
            Some(s) => Some(
                serde_json::from_str::<serde_json::Value>(s.source()).map_err(Error::SchemaJson)?,
            ),
            None => None,
        };
        let started = Instant::now();
        let resp: Resp = match schema {
            None => self.post("chat/completions", body).await?,
            Some(schema) => self.post_with_schema(body, schema).await?,
        };
        let generate_ms = started.elapsed().as_secs_f64() * 1e3;
        let choice = resp
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| self.err("chat/completions", "no choices in the answer"))?;
        let text = choice.message.content.unwrap_or_default();
        let finish = match choice.finish_reason.as_deref() {
            Some("stop") | None => match req.stop.iter().find(|s| text.ends_with(s.as_str())) {
                Some(s) => Finish::Stop { stop: s.clone() },
                None => Finish::EndOfTurn,
            },
            Some("length") => Finish::MaxTokens,
            Some(other) => Finish::Other {
                reason: other.into(),
            },
        };
        let json = match &req.schema {
            Some(schema) => Some(schema.check(&text)?),
            None => None,
        };
        let usage = resp.usage.unwrap_or_default();
        Ok(Generation {
            text,
            json,
            finish,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            truncated: None,
            prompt_ms: 0.0,
            generate_ms,
            sampling: req.sampling,
            engine: Generator::info(self),
        })
    }
}

fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// Drops user info (credentials) from a URL before it reaches an error message.
fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "<invalid url>".into(),
    }
}

impl Generator for OpenAiBackend {
    fn generate(
        &mut self,
        req: &GenerateRequest,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        let g = self.runtime.block_on(self.generate_async(req))?;
        on_text(&g.text);
        Ok(g)
    }

    fn info(&self) -> EngineInfo {
        EngineInfo {
            engine: "openai-http".into(),
            model: self.config.model.clone(),
            sha256: None,
            context: None,
            confined: None,
        }
    }
}

impl Embedder for OpenAiBackend {
    fn dim(&self) -> usize {
        self.config.embedding_dim
    }

    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        self.runtime.block_on(self.embed_async(texts))
    }

    fn info(&self) -> EngineInfo {
        EngineInfo {
            engine: "openai-http".into(),
            model: self
                .config
                .embedding_model
                .clone()
                .unwrap_or_else(|| self.config.model.clone()),
            sha256: None,
            context: None,
            confined: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_and_query() {
        assert_eq!(
            redact("http://user:secret@127.0.0.1:8080/v1/embeddings?key=k"),
            "http://127.0.0.1:8080/v1/embeddings"
        );
    }

    #[test]
    fn rejects_non_http_urls() {
        let cfg = |u: &str| OpenAiConfig {
            base_url: u.into(),
            model: "m".into(),
            embedding_model: None,
            embedding_dim: 3,
        };
        assert!(OpenAiBackend::new(reqwest::Client::new(), cfg("file:///etc/passwd")).is_err());
        assert!(OpenAiBackend::new(reqwest::Client::new(), cfg("not a url")).is_err());
        assert!(OpenAiBackend::new(reqwest::Client::new(), cfg("http://127.0.0.1:1/v1")).is_ok());
    }
}
