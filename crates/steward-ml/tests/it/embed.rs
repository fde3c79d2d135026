//! all-MiniLM-L6-v2 on ONNX Runtime against sentence-transformers (tests/fixtures, made by
//! scripts/gen-embedding-fixture.py).

use serde::Deserialize;
use steward_ml::Embedder;

use crate::{embedder, embedder_int8};

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

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (n(a) * n(b)).max(1e-12)
}

/// A text's vector is the same whatever it is embedded with (alone, or batched with a longer
/// text it would be padded to): `tolerance` is the max abs difference allowed.
fn check_batching(e: &mut steward_ml::BertEmbedder, tolerance: f32) {
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
        let d = max_abs_diff(&alone[0], v);
        assert!(d <= tolerance, "{t:?}: max abs diff {d}");
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
    assert!(e.embed(&[]).unwrap().is_empty());
}

#[test]
fn batching_does_not_change_vectors() {
    let Some(mut e) = embedder("batching_does_not_change_vectors") else {
        return;
    };
    check_batching(&mut e, 1e-5);
}

/// int8 quantizes each pass's activations with one scale for the whole input, so texts batched
/// together would change each other's vectors (cosine down to 0.97 on proposal texts): the
/// embedder gives every text a pass of its own, and the vector is exactly the text's.
#[test]
fn int8_vectors_do_not_depend_on_the_batch() {
    let Some(mut e) = embedder_int8("int8_vectors_do_not_depend_on_the_batch") else {
        return;
    };
    check_batching(&mut e, 0.0);
}

/// The int8 encoder stays close to sentence-transformers' F32 vectors on the fixture's 32 texts
/// (proposal paragraphs, the 256-token cut, five scripts, emoji). Measured on an AVX-512 VNNI
/// CPU: cosine min 0.9704, mean 0.9913; the bounds leave room for CPUs whose int8 kernels
/// round differently (AVX2 without VNNI).
#[test]
fn int8_stays_close_to_sentence_transformers() {
    let Some(mut e) = embedder_int8("int8_stays_close_to_sentence_transformers") else {
        return;
    };
    let fx = fixture();
    assert!(e.info().model.ends_with("-int8"), "{}", e.info().model);
    let texts: Vec<String> = fx.items.iter().map(|i| i.text.clone()).collect();
    let got = e.embed(&texts).unwrap();
    let cos: Vec<f32> = fx
        .items
        .iter()
        .zip(&got)
        .map(|(item, v)| cosine(v, &item.vector))
        .collect();
    let (min, at) = cos
        .iter()
        .enumerate()
        .map(|(i, c)| (*c, i))
        .fold((f32::MAX, 0), |a, b| if b.0 < a.0 { b } else { a });
    let mean = cos.iter().sum::<f32>() / cos.len() as f32;
    eprintln!("int8 embeddings: cosine to sentence-transformers min {min:.4}, mean {mean:.4}");
    assert!(min >= 0.96, "cosine {min} on {:?}", fx.items[at].text);
    assert!(mean >= 0.985, "mean cosine {mean}");
}

/// Several sessions side by side give the vectors one session gives.
#[test]
fn int8_threads_do_not_change_vectors() {
    let Some(dir) = crate::models_for(
        steward_ml::Role::Embedding,
        "int8_threads_do_not_change_vectors",
    ) else {
        return;
    };
    let fx = fixture();
    let texts: Vec<String> = fx.items.iter().map(|i| i.text.clone()).collect();
    let run = |threads| {
        let options = steward_ml::EmbedOptions {
            threads: Some(threads),
            precision: steward_ml::EmbedPrecision::Int8,
        };
        let mut e = steward_ml::BertEmbedder::embedded_with(&dir, &options).unwrap();
        assert!(
            e.info()
                .engine
                .contains(&format!("int8, {threads} threads")),
            "{}",
            e.info().engine
        );
        e.embed(&texts).unwrap()
    };
    let (one, three) = (run(1), run(3));
    for ((a, b), t) in one.iter().zip(&three).zip(&texts) {
        assert_eq!(a, b, "{t:?}");
    }
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
