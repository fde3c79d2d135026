//! all-MiniLM-L6-v2 on ONNX Runtime against sentence-transformers (tests/fixtures, made by
//! scripts/gen-embedding-fixture.py).

use serde::Deserialize;
use steward_ml::Embedder;

use crate::embedder;

#[derive(Deserialize)]
struct Fixture {
    max_seq_length: usize,
    dim: usize,
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    text: String,
    tokens: usize,
    vector: Vec<f32>,
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/embeddings-minilm.json"
    );
    let text = std::fs::read_to_string(path).expect("the checked-in fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn matches_sentence_transformers_within_1e_4() {
    let Some(mut e) = embedder("matches_sentence_transformers_within_1e_4") else {
        return;
    };
    let fx = fixture();
    assert_eq!(fx.max_seq_length, steward_ml::EMBED_MAX_TOKENS);
    assert_eq!(e.dim(), fx.dim);
    // The fixture must exercise the edge cases it claims to.
    assert!(fx.items.iter().any(|i| i.text.is_empty()));
    assert!(
        fx.items.iter().any(|i| i.tokens == fx.max_seq_length),
        "no text reaches the cut"
    );
    assert!(fx.items.iter().any(|i| !i.text.is_ascii()));

    let texts: Vec<String> = fx.items.iter().map(|i| i.text.clone()).collect();
    let got = e.embed(&texts).unwrap();
    let mut worst = (0.0f32, "");
    for (item, v) in fx.items.iter().zip(&got) {
        let d = max_abs_diff(v, &item.vector);
        if d > worst.0 {
            worst = (d, &item.text);
        }
    }
    eprintln!(
        "embeddings: max abs diff vs sentence-transformers {:.2e}",
        worst.0
    );
    assert!(worst.0 < 1e-4, "max abs diff {} on {:?}", worst.0, worst.1);
}

#[test]
fn batching_does_not_change_vectors() {
    let Some(mut e) = embedder("batching_does_not_change_vectors") else {
        return;
    };
    let fx = fixture();
    // A long text and a short one together: the short one is padded to the long one's length.
    let long = fx
        .items
        .iter()
        .max_by_key(|i| i.tokens)
        .unwrap()
        .text
        .clone();
    let texts = vec!["Yes.".to_owned(), long, String::new()];
    let together = e.embed(&texts).unwrap();
    for (t, v) in texts.iter().zip(&together) {
        let alone = e.embed(std::slice::from_ref(t)).unwrap();
        assert!(max_abs_diff(&alone[0], v) < 1e-5, "{t:?}");
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
    assert!(e.embed(&[]).unwrap().is_empty());
}

/// The engine's shared library is a pinned model file like the others: without it (or altered)
/// the embedder refuses to load and names the file and the command that restores it.
#[test]
fn a_missing_or_altered_runtime_library_is_named_with_the_fix() {
    let Some(dir) = crate::models_for(
        steward_ml::Role::Embedding,
        "a_missing_or_altered_runtime_library_is_named_with_the_fix",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for f in steward_ml::spec(steward_ml::Role::Embedding).files {
        if f.path == steward_ml::EMBED_RUNTIME_PATH {
            continue;
        }
        let to = tmp.path().join(f.path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(dir.join(f.path), &to).unwrap();
    }
    let err = steward_ml::BertEmbedder::embedded(tmp.path()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("libonnxruntime.so") && msg.contains("missing") && msg.contains("make models"),
        "{msg}"
    );

    // Same size, one byte changed: the hash check catches it before anything is loaded.
    let runtime = tmp.path().join(steward_ml::EMBED_RUNTIME_PATH);
    let mut bytes = std::fs::read(dir.join(steward_ml::EMBED_RUNTIME_PATH)).unwrap();
    bytes[1000] ^= 1;
    std::fs::create_dir_all(runtime.parent().unwrap()).unwrap();
    std::fs::write(&runtime, bytes).unwrap();
    let msg = steward_ml::BertEmbedder::embedded(tmp.path())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("libonnxruntime.so") && msg.contains("sha256") && msg.contains("make models"),
        "{msg}"
    );
}
