//! The OpenAI-compatible backend against a scripted HTTP server on loopback: the request it
//! sends, the answers it accepts, and the errors for a server that is down or talks garbage.
//! The same backend against a real llama-cpp-python server: `llama_server.rs`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use steward_ml::{
    Embedder, Error, Finish, GenerateRequest, Generator, JsonSchema, OpenAiBackend, OpenAiConfig,
};

/// Serves one request with `status` and `body`; sends the request body it received.
fn one_shot(status: &'static str, body: String) -> (String, mpsc::Receiver<serde_json::Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut len = 0usize;
        let mut path = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if path.is_empty() {
                path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut req = vec![0; len];
        reader.read_exact(&mut req).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&req).unwrap();
        v["_path"] = path.into();
        let _ = tx.send(v);
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    (url, rx)
}

fn backend(url: &str) -> OpenAiBackend {
    OpenAiBackend::new(
        reqwest::Client::new(),
        OpenAiConfig {
            base_url: url.to_owned(),
            model: "smollm2".into(),
            embedding_model: Some("minilm".into()),
            embedding_dim: 3,
        },
    )
    .unwrap()
}

#[test]
fn chat_completion_with_a_schema() {
    let answer = serde_json::json!({
        "choices": [{"message": {"role": "assistant", "content": "{\"vote\": \"for\"}"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5}
    });
    let (url, rx) = one_shot("200 OK", answer.to_string());
    let schema = JsonSchema::parse(
        r#"{"type":"object","properties":{"vote":{"enum":["for","against"]}},"required":["vote"]}"#,
    )
    .unwrap();
    let req = GenerateRequest {
        system: Some("be brief".into()),
        schema: Some(schema),
        ..GenerateRequest::new("vote?")
    };
    let mut streamed = String::new();
    let g = backend(&url)
        .generate(&req, &mut |p| streamed.push_str(p))
        .unwrap();
    assert_eq!(g.json.unwrap()["vote"], "for");
    assert_eq!((g.prompt_tokens, g.completion_tokens), (12, 5));
    assert_eq!(g.finish, Finish::EndOfTurn);
    assert_eq!(streamed, g.text);
    let sent = rx.recv().unwrap();
    assert_eq!(sent["_path"], "/v1/chat/completions");
    assert_eq!(sent["model"], "smollm2");
    assert_eq!(sent["messages"][0]["role"], "system");
    assert_eq!(sent["messages"][1]["content"], "vote?");
    assert_eq!(sent["temperature"], 0.0, "greedy");
    assert_eq!(
        sent["response_format"]["json_schema"]["schema"]["required"][0],
        "vote"
    );
}

#[test]
fn answers_that_break_the_schema_are_errors() {
    let answer = serde_json::json!({
        "choices": [{"message": {"content": "{\"vote\": \"maybe\"}"}, "finish_reason": "stop"}]
    });
    let (url, _rx) = one_shot("200 OK", answer.to_string());
    let schema = JsonSchema::parse(
        r#"{"type":"object","properties":{"vote":{"enum":["for","against"]}},"required":["vote"]}"#,
    )
    .unwrap();
    let req = GenerateRequest {
        schema: Some(schema),
        ..GenerateRequest::new("vote?")
    };
    let err = backend(&url).generate(&req, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, Error::Output { ref path, .. } if path == "/vote"),
        "{err}"
    );
}

#[test]
fn embeddings_are_put_in_order_and_normalised() {
    let answer = serde_json::json!({
        "data": [{"index": 1, "embedding": [0.0, 3.0, 4.0]}, {"index": 0, "embedding": [2.0, 0.0, 0.0]}]
    });
    let (url, rx) = one_shot("200 OK", answer.to_string());
    let v = backend(&url).embed(&["a".into(), "b".into()]).unwrap();
    assert_eq!(v, vec![vec![1.0, 0.0, 0.0], vec![0.0, 0.6, 0.8]]);
    let sent = rx.recv().unwrap();
    assert_eq!(sent["_path"], "/v1/embeddings");
    assert_eq!(sent["model"], "minilm");
    assert_eq!(sent["input"], serde_json::json!(["a", "b"]));
}

#[test]
fn garbage_errors_and_a_down_server_name_the_endpoint() {
    let (url, _rx) = one_shot("200 OK", "<html>hello</html>".into());
    let err = backend(&url).embed(&["a".into()]).unwrap_err();
    assert!(matches!(err, Error::Endpoint { .. }), "{err}");
    assert!(
        err.to_string().contains("/v1/embeddings") && err.to_string().contains("unexpected answer"),
        "{err}"
    );

    let (url, _rx) = one_shot("500 Internal Server Error", "{\"error\":\"boom\"}".into());
    let err = backend(&url)
        .generate(&GenerateRequest::new("x"), &mut |_| {})
        .unwrap_err();
    assert!(
        err.to_string().contains("HTTP 500") && err.to_string().contains("boom"),
        "{err}"
    );

    let (url, _rx) = one_shot(
        "200 OK",
        serde_json::json!({"data": [{"index": 0, "embedding": [1.0]}]}).to_string(),
    );
    let err = backend(&url).embed(&["a".into()]).unwrap_err();
    assert!(err.to_string().contains("expected 3"), "{err}");

    // Nothing listens on a port we just released.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = backend(&format!("http://127.0.0.1:{port}/v1"))
        .embed(&["a".into()])
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}
