//! The OpenAI-compatible backend against a REAL server: PyPI `llama-cpp-python[server]`
//! (llama.cpp compiled by `scripts/setup-llama-server.sh` into a venv outside the repository),
//! started on 127.0.0.1 on a free port, serving the embedded SmolLM2 GGUF for chat and, under a
//! second alias, for embeddings.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use steward_ml::{
    Embedder, Error, Finish, GenerateRequest, Generator, JsonSchema, OpenAiBackend, OpenAiConfig,
    Role,
};

use crate::models_for;

/// SmolLM2's hidden size: the length of its embeddings.
const SMOLLM2_DIM: usize = 576;

/// The venv's python, if `scripts/setup-llama-server.sh` finished (its stamp is there).
fn server_python(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("STEWARD_LLAMA_SERVER_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/steward/llama-server"))
        });
    let Some(dir) = dir else {
        steward_testing::skip(
            steward_testing::Need::LlamaServer,
            test,
            "neither STEWARD_LLAMA_SERVER_DIR nor HOME is set",
        );
        return None;
    };
    let venv = dir.join("venv");
    if !venv.join(".steward-stamp").is_file() {
        steward_testing::skip(
            steward_testing::Need::LlamaServer,
            test,
            format_args!("no llama-cpp-python server in {}", venv.display()),
        );
        return None;
    }
    Some(venv.join("bin/python"))
}

/// The server process; killed when dropped.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(3000);
        text[text.floor_char_boundary(start)..].to_owned()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP GET on loopback: the status line, or None while nothing answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.lines().next().map(str::to_owned)
}

/// Runs `llama_cpp.server` with llama.cpp's weight repacking ("extra buffer types") off. The
/// sdist builds llama.cpp for the native CPU, and on these AVX-512/AMX machines the repacked
/// Q4_1 path segfaults in `llama_decode` on the first request (in process too: `Llama(...)`
/// crashes with `use_extra_bufts` on and answers with it off). The server has no flag for it,
/// so the model parameters' default is patched before the server module loads. The same goes
/// for pooling: SmolLM2 is a causal LM whose GGUF names no pooling, so the server would answer
/// `/embeddings` with one vector per token; the embedding instance is made mean-pooled.
const NO_REPACK: &str = r#"
import runpy, sys
import llama_cpp.llama_cpp as C
_defaults = C.llama_model_default_params
def _no_repack():
    p = _defaults()
    p.use_extra_bufts = False
    return p
C.llama_model_default_params = _no_repack
import llama_cpp.llama as L
_init = L.Llama.__init__
def _init_mean_pooled(self, *a, **kw):
    if kw.get("embedding"):
        kw.setdefault("pooling_type", C.LLAMA_POOLING_TYPE_MEAN)
    _init(self, *a, **kw)
L.Llama.__init__ = _init_mean_pooled
sys.argv[0] = "llama_cpp.server"
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"#;

fn start(test: &str) -> Option<Server> {
    let python = server_python(test)?;
    let models = models_for(Role::Generation, test)?;
    let gguf = models.join(steward_ml::spec(Role::Generation).files[0].path);
    // A free port: bind port 0, read it, release it for the server.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = serde_json::json!({
        "host": "127.0.0.1",
        "port": port,
        "models": [
            {"model": gguf, "model_alias": "smollm2", "n_ctx": 2048, "n_threads": 2,
             "n_threads_batch": 2, "verbose": false},
            {"model": gguf, "model_alias": "smollm2-embed", "embedding": true, "n_ctx": 512,
             "n_threads": 2, "n_threads_batch": 2, "verbose": false},
        ],
    });
    let config_path = dir.path().join("server.json");
    std::fs::write(&config_path, config.to_string()).expect("write the server config");
    let log = dir.path().join("server.log");
    let log_file = std::fs::File::create(&log).expect("server log");
    let child = Command::new(&python)
        .args(["-c", NO_REPACK, "--config_file"])
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log handle"))
        .stderr(log_file)
        .spawn()
        .expect("start llama_cpp.server");
    let mut server = Server {
        child,
        base: format!("http://127.0.0.1:{port}/v1"),
        log,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = http_get(port, "/v1/models")
            && status.contains(" 200")
        {
            return Some(server);
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "llama_cpp.server exited with {status}:\n{}",
                server.log_tail()
            );
        }
        assert!(
            Instant::now() < deadline,
            "llama_cpp.server did not answer on port {port} within 120 s:\n{}",
            server.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn backend(base: &str, embedding_dim: usize) -> OpenAiBackend {
    OpenAiBackend::new(
        reqwest::Client::new(),
        OpenAiConfig {
            base_url: base.to_owned(),
            model: "smollm2".into(),
            embedding_model: Some("smollm2-embed".into()),
            embedding_dim,
        },
    )
    .expect("backend")
}

const SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "vote": {"enum": ["for", "against", "abstain"]},
    "confidence": {"enum": ["low", "medium", "high"]}
  },
  "required": ["vote", "confidence"],
  "additionalProperties": false
}"#;

/// One server for the whole scenario: starting it loads the model twice (a few seconds).
#[test]
fn real_llama_cpp_server_generates_embeds_and_fails_clearly() {
    let test = "real_llama_cpp_server_generates_embeds_and_fails_clearly";
    let Some(mut server) = start(test) else {
        return;
    };
    let mut b = backend(&server.base, SMOLLM2_DIM);

    // Free text, greedy.
    let plain = b
        .generate(
            &GenerateRequest {
                max_tokens: 24,
                ..GenerateRequest::new("Name three colours.")
            },
            &mut |_| {},
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log_tail()));
    assert!(!plain.text.trim().is_empty(), "{plain:?}");
    assert!(
        plain.completion_tokens > 0 && plain.completion_tokens <= 24,
        "{plain:?}"
    );
    assert!(plain.prompt_tokens > 5, "{plain:?}");
    assert_eq!(plain.engine.engine, "openai-http");

    // A JSON schema: the server constrains its answer and the backend checks it again.
    let schema = JsonSchema::parse(SCHEMA).unwrap();
    for prompt in [
        "Proposal: raise the wstETH debt ceiling from 10M to 50M DAI. How do you vote? Answer in JSON.",
        "Proposal: send the whole treasury to an unknown address. How do you vote? Answer in JSON.",
    ] {
        let out = b
            .generate(
                &GenerateRequest {
                    schema: Some(schema.clone()),
                    max_tokens: 48,
                    ..GenerateRequest::new(prompt)
                },
                &mut |_| {},
            )
            .unwrap_or_else(|e| panic!("{e}\n{}", server.log_tail()));
        let json = out.json.as_ref().expect("schema-valid JSON");
        assert!(
            ["for", "against", "abstain"].contains(&json["vote"].as_str().unwrap()),
            "{json}"
        );
        assert!(
            ["low", "medium", "high"].contains(&json["confidence"].as_str().unwrap()),
            "{json}"
        );
        assert_eq!(out.finish, Finish::EndOfTurn, "{out:?}");
    }

    // Embeddings from the embedding alias: unit length, the dimension of the model, and texts
    // that differ give vectors that differ.
    let texts = vec![
        "Fund public goods from the treasury.".to_owned(),
        "Raise the stability fee to 5%.".to_owned(),
    ];
    let v = b
        .embed(&texts)
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log_tail()));
    assert_eq!(v.len(), 2);
    for x in &v {
        assert_eq!(x.len(), SMOLLM2_DIM);
        let norm: f32 = x.iter().map(|a| a * a).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    let cos: f32 = v[0].iter().zip(&v[1]).map(|(a, b)| a * b).sum();
    assert!(cos < 0.9999, "different texts, same vector (cosine {cos})");

    // Answers the backend cannot use, from a real server: the wrong dimension, and a path that is
    // not the API (its 404 page).
    let err = backend(&server.base, 384).embed(&texts).unwrap_err();
    assert!(
        matches!(&err, Error::Endpoint { reason, .. } if reason.contains("576") && reason.contains("384")),
        "{err}"
    );
    let root = server.base.trim_end_matches("/v1").to_owned();
    let err = backend(&format!("{root}/not-the-api"), SMOLLM2_DIM)
        .generate(&GenerateRequest::new("hi"), &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(&err, Error::Endpoint { url, reason } if url.contains("/not-the-api/chat/completions") && reason.contains("404")),
        "{err}"
    );

    // Server down: the same backend now names the URL and the failure.
    server.stop();
    let err = b
        .generate(&GenerateRequest::new("hi"), &mut |_| {})
        .unwrap_err();
    match &err {
        Error::Endpoint { url, reason } => {
            assert!(url.starts_with(&server.base), "{err}");
            assert!(reason.contains("request failed"), "{err}");
        }
        other => panic!("expected an endpoint error, got {other:?}"),
    }
    let err = b.embed(&texts).unwrap_err();
    assert!(matches!(err, Error::Endpoint { .. }), "{err}");
}
