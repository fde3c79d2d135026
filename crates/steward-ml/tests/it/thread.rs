//! The model thread: requests with their own reply channels, merged embedding batches.

use std::sync::{Arc, Mutex};

use steward_ml::{Embedder, EngineInfo, ModelThread, Result};

/// Embeds each text as [its length, batch number]; records the batch sizes it saw.
struct Recorder {
    batches: Arc<Mutex<Vec<usize>>>,
    gate: Arc<Mutex<()>>,
}

impl Embedder for Recorder {
    fn dim(&self) -> usize {
        2
    }
    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let n = {
            let mut b = self.batches.lock().unwrap();
            b.push(texts.len());
            b.len() as f32
        };
        // Waiting on the gate lets the test queue requests while this one runs.
        let _g = self.gate.lock().unwrap();
        Ok(texts.iter().map(|t| vec![t.len() as f32, n]).collect())
    }
    fn info(&self) -> EngineInfo {
        EngineInfo {
            engine: "recorder".into(),
            model: "none".into(),
            sha256: None,
            context: None,
            confined: None,
        }
    }
}

// The gate is a std mutex on purpose: it blocks the model thread, never a runtime worker.
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_embedding_requests_are_merged_and_answered_separately() {
    let batches = Arc::new(Mutex::new(Vec::new()));
    let gate = Arc::new(Mutex::new(()));
    let rec = Recorder {
        batches: batches.clone(),
        gate: gate.clone(),
    };
    let handle = ModelThread::spawn(None, Some(Box::new(rec))).unwrap();
    let held = gate.lock().unwrap();
    // The first request blocks inside the engine; the next ones queue up behind it.
    let first = tokio::spawn({
        let h = handle.clone();
        async move { h.embed(vec!["a".into()]).await }
    });
    while batches.lock().unwrap().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let mut rest = Vec::new();
    for i in 0..5 {
        let h = handle.clone();
        rest.push(tokio::spawn(async move {
            h.embed(vec!["x".repeat(i + 1), "yy".into()]).await
        }));
    }
    // Let every task send its request before the engine is released.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(held);
    let first = first.await.unwrap().unwrap();
    assert_eq!(first, vec![vec![1.0, 1.0]]);
    for (i, r) in rest.into_iter().enumerate() {
        let v = r.await.unwrap().unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(
            v[0][0],
            (i + 1) as f32,
            "request {i} got someone else's vectors"
        );
        assert_eq!(v[1], vec![2.0, 2.0], "second engine call");
    }
    let b = batches.lock().unwrap().clone();
    assert_eq!(b, vec![1, 10], "the five waiting requests go in one call");
    // No generator loaded: a clear error, not a hang.
    let err = handle
        .generate(steward_ml::GenerateRequest::new("hi"), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no generator"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_callers_share_the_real_models() {
    let Some(dir) = crate::models_for(
        steward_ml::Role::Embedding,
        "async_callers_share_the_real_models",
    ) else {
        return;
    };
    let e = steward_ml::BertEmbedder::embedded(&dir).unwrap();
    let handle = ModelThread::spawn(None, Some(Box::new(e))).unwrap();
    let texts = [
        "a treasury grant",
        "a parameter change",
        "an emergency pause",
    ];
    let tasks: Vec<_> = texts
        .iter()
        .map(|t| {
            let h = handle.clone();
            let t = t.to_string();
            tokio::spawn(async move { h.embed(vec![t]).await })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap().unwrap().remove(0));
    }
    let all = handle
        .embed(texts.iter().map(|t| t.to_string()).collect())
        .await
        .unwrap();
    for (a, b) in got.iter().zip(&all) {
        let d = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(d < 1e-5);
    }
    let (g, e) = handle.info().await.unwrap();
    assert!(g.is_none());
    assert_eq!(e.unwrap().model, "all-MiniLM-L6-v2-int8");
}

/// Answers each prompt with itself reversed; records the batch sizes it saw.
struct Echo {
    batches: Arc<Mutex<Vec<usize>>>,
    gate: Arc<Mutex<()>>,
}

impl Echo {
    fn answer(req: &steward_ml::GenerateRequest) -> steward_ml::Generation {
        steward_ml::Generation {
            text: req.prompt.chars().rev().collect(),
            json: None,
            finish: steward_ml::Finish::EndOfTurn,
            prompt_tokens: req.prompt.len(),
            completion_tokens: req.prompt.len(),
            truncated: None,
            prompt_ms: 0.0,
            generate_ms: 0.0,
            sampling: req.sampling,
            engine: echo_info(),
        }
    }
}

impl steward_ml::Generator for Echo {
    fn generate(
        &mut self,
        req: &steward_ml::GenerateRequest,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<steward_ml::Generation> {
        self.batches.lock().unwrap().push(1);
        let _g = self.gate.lock().unwrap();
        let g = Echo::answer(req);
        on_text(&g.text);
        Ok(g)
    }
    fn generate_batch(
        &mut self,
        reqs: &[steward_ml::GenerateRequest],
        on_text: &mut dyn FnMut(usize, &str),
    ) -> Vec<Result<steward_ml::Generation>> {
        self.batches.lock().unwrap().push(reqs.len());
        let _g = self.gate.lock().unwrap();
        reqs.iter()
            .enumerate()
            .map(|(i, r)| {
                let g = Echo::answer(r);
                on_text(i, &g.text);
                Ok(g)
            })
            .collect()
    }
    fn info(&self) -> EngineInfo {
        echo_info()
    }
}

fn echo_info() -> EngineInfo {
    EngineInfo {
        engine: "echo".into(),
        model: "none".into(),
        sha256: None,
        context: None,
        confined: None,
    }
}

// The gate is a std mutex on purpose: it blocks the model thread, never a runtime worker.
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_generation_requests_are_decoded_as_one_batch() {
    let batches = Arc::new(Mutex::new(Vec::new()));
    let gate = Arc::new(Mutex::new(()));
    let echo = Echo {
        batches: batches.clone(),
        gate: gate.clone(),
    };
    let handle = ModelThread::spawn(Some(Box::new(echo)), None).unwrap();
    let held = gate.lock().unwrap();
    let first = tokio::spawn({
        let h = handle.clone();
        async move {
            h.generate(steward_ml::GenerateRequest::new("first"), None)
                .await
        }
    });
    while batches.lock().unwrap().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // Five requests queue behind the first, each with its own stream.
    let mut rest = Vec::new();
    for i in 0..5 {
        let h = handle.clone();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        rest.push((
            i,
            tokio::spawn(async move {
                h.generate(
                    steward_ml::GenerateRequest::new(format!("req{i}")),
                    Some(tx),
                )
                .await
            }),
            tokio::spawn(async move {
                let mut s = String::new();
                while let Some(p) = rx.recv().await {
                    s.push_str(&p);
                }
                s
            }),
        ));
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(held);
    assert_eq!(first.await.unwrap().unwrap().text, "tsrif");
    for (i, answer, stream) in rest {
        let want: String = format!("req{i}").chars().rev().collect();
        assert_eq!(answer.await.unwrap().unwrap().text, want, "request {i}");
        assert_eq!(stream.await.unwrap(), want, "request {i}'s own stream");
    }
    // An explicit batch keeps its order.
    let many = handle
        .generate_many(vec![
            steward_ml::GenerateRequest::new("ab"),
            steward_ml::GenerateRequest::new("cd"),
        ])
        .await
        .unwrap();
    let texts: Vec<String> = many.into_iter().map(|g| g.unwrap().text).collect();
    assert_eq!(texts, ["ba", "dc"]);
    assert_eq!(
        batches.lock().unwrap().clone(),
        vec![1, 5, 2],
        "the five waiting requests are one batch"
    );
}
