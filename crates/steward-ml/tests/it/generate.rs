//! SmolLM2 through llama.cpp: determinism, streaming, stops, limits, schemas, truncation.

use steward_ml::{
    Error, Finish, GenerateRequest, Generator, JsonSchema, LlamaGenerator, LlamaOptions, Role,
    Sampling, Truncate,
};

use crate::{generator, models_for};

fn req(prompt: &str, max_tokens: u32) -> GenerateRequest {
    GenerateRequest {
        max_tokens,
        ..GenerateRequest::new(prompt)
    }
}

#[test]
fn greedy_is_deterministic_and_streams_the_whole_text() {
    let Some(mut g) = generator("greedy_is_deterministic_and_streams_the_whole_text") else {
        return;
    };
    let r = req("Name three colours.", 24);
    let mut streamed = String::new();
    let a = g.generate(&r, &mut |p| streamed.push_str(p)).unwrap();
    let b = g.generate(&r, &mut |_| {}).unwrap();
    assert!(!a.text.trim().is_empty(), "empty answer: {a:?}");
    assert_eq!(a.text, b.text, "greedy decoding must repeat itself");
    assert_eq!(streamed, a.text, "the stream is the text");
    assert!(a.completion_tokens <= 24);
    assert!(a.prompt_tokens > 5);
    assert_eq!(a.engine.model, "SmolLM2-135M-Instruct-Q4_1");
    assert_eq!(a.engine.sha256.as_deref().map(str::len), Some(64));
    assert!(a.json.is_none() && a.truncated.is_none());
}

#[test]
fn seeded_sampling_repeats_per_seed() {
    let Some(mut g) = generator("seeded_sampling_repeats_per_seed") else {
        return;
    };
    let with_seed = |seed| GenerateRequest {
        sampling: Sampling::Seeded {
            seed,
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
        },
        ..req("Write a sentence about the sea.", 16)
    };
    let texts: Vec<String> = [7, 7, 8, 9]
        .into_iter()
        .map(|s| g.generate(&with_seed(s), &mut |_| {}).unwrap().text)
        .collect();
    assert_eq!(texts[0], texts[1], "same seed, same text");
    // At temperature 1 over 16 tokens, three seeds agreeing would mean the seed is ignored.
    assert!(
        texts[1] != texts[2] || texts[1] != texts[3],
        "different seeds gave identical text: {texts:?}"
    );
}

#[test]
fn max_tokens_and_stop_strings_end_generation() {
    let Some(mut g) = generator("max_tokens_and_stop_strings_end_generation") else {
        return;
    };
    let long = req("Count from 1 to 50, separated by commas.", 6);
    let out = g.generate(&long, &mut |_| {}).unwrap();
    assert_eq!(out.finish, Finish::MaxTokens, "{out:?}");
    assert_eq!(out.completion_tokens, 6);

    // A stop string taken from the model's own answer: the text ends right before it.
    let free = g
        .generate(
            &req("Count from 1 to 50, separated by commas.", 24),
            &mut |_| {},
        )
        .unwrap();
    let words: Vec<&str> = free.text.split_whitespace().collect();
    assert!(
        words.len() >= 4,
        "answer too short to pick a stop from: {:?}",
        free.text
    );
    let stop = words[words.len() / 2].to_owned();
    let at = free.text.find(&stop).unwrap();
    let mut streamed = String::new();
    let stopped = g
        .generate(
            &GenerateRequest {
                stop: vec![stop.clone()],
                ..req("Count from 1 to 50, separated by commas.", 24)
            },
            &mut |p| streamed.push_str(p),
        )
        .unwrap();
    assert_eq!(stopped.finish, Finish::Stop { stop: stop.clone() });
    assert_eq!(stopped.text, free.text[..at], "cut before {stop:?}");
    assert_eq!(streamed, stopped.text, "the stop string is never streamed");
}

const VOTE_SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "reason": {"type": "string", "maxLength": 60},
    "vote": {"enum": ["for", "against", "abstain"]},
    "confidence": {"type": "integer"},
    "risky": {"type": "boolean"}
  },
  "required": ["reason", "vote", "confidence", "risky"],
  "additionalProperties": false
}"#;

#[test]
fn schema_constrained_output_is_always_valid_json() {
    let Some(mut g) = generator("schema_constrained_output_is_always_valid_json") else {
        return;
    };
    let schema = JsonSchema::parse(VOTE_SCHEMA).unwrap();
    let prompt = "Proposal: raise the wstETH debt ceiling from 10M to 50M DAI. \
                  Answer in JSON with a short reason, your vote, confidence 0-100 and whether it is risky.";
    for sampling in [Sampling::Greedy, Sampling::seeded(1), Sampling::seeded(2)] {
        let r = GenerateRequest {
            schema: Some(schema.clone()),
            sampling,
            ..req(prompt, 96)
        };
        let out = g.generate(&r, &mut |_| {}).unwrap();
        assert_eq!(
            out.finish,
            Finish::EndOfTurn,
            "grammar completes, then EOS: {out:?}"
        );
        let json = out.json.as_ref().expect("parsed JSON");
        let obj = json.as_object().unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 4, "{json}");
        assert!(["for", "against", "abstain"].contains(&obj["vote"].as_str().unwrap()));
        assert!(
            obj["confidence"].is_i64() || obj["confidence"].is_u64(),
            "{json}"
        );
        assert!(obj["risky"].is_boolean());
        assert!(obj["reason"].as_str().unwrap().chars().count() <= 60);
        // Properties come in the order the schema wrote them (reason first).
        assert!(
            out.text.trim_start().starts_with("{")
                && out.text.find("\"reason\"") < out.text.find("\"vote\"")
        );
    }
}

#[test]
fn schema_cut_off_by_max_tokens_is_an_error_naming_the_output() {
    let Some(mut g) = generator("schema_cut_off_by_max_tokens_is_an_error_naming_the_output")
    else {
        return;
    };
    let r = GenerateRequest {
        schema: Some(JsonSchema::parse(VOTE_SCHEMA).unwrap()),
        ..req("Vote on raising the debt ceiling.", 4)
    };
    match g.generate(&r, &mut |_| {}) {
        Err(Error::Output { output, .. }) => assert!(output.starts_with('{'), "{output}"),
        other => panic!("expected an output error, got {other:?}"),
    }
}

#[test]
fn long_prompts_follow_the_truncation_policy() {
    let Some(dir) = models_for(
        Role::Generation,
        "long_prompts_follow_the_truncation_policy",
    ) else {
        return;
    };
    let mut g = LlamaGenerator::embedded(
        &dir,
        &LlamaOptions {
            max_context: 128,
            ..LlamaOptions::default()
        },
    )
    .unwrap();
    let prompt = "The treasury should fund public goods. ".repeat(40);
    let base = GenerateRequest {
        system: Some("You are terse.".into()),
        ..req(&prompt, 8)
    };
    for policy in [Truncate::End, Truncate::Middle] {
        let out = g
            .generate(
                &GenerateRequest {
                    truncate: policy,
                    ..base.clone()
                },
                &mut |_| {},
            )
            .unwrap();
        let t = out.truncated.clone().expect("truncation reported");
        assert_eq!(t.policy, policy);
        assert!(t.original_tokens > 128, "{t:?}");
        assert_eq!(t.kept_tokens, out.prompt_tokens);
        assert!(out.prompt_tokens + 8 <= 128, "{out:?}");
    }
    let err = g
        .generate(
            &GenerateRequest {
                truncate: Truncate::Error,
                ..base
            },
            &mut |_| {},
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::PromptTooLong {
                n_ctx: 128,
                max_tokens: 8,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("truncation policy"), "{err}");
}

#[test]
fn special_tokens_in_the_prompt_stay_text() {
    let Some(mut g) = generator("special_tokens_in_the_prompt_stay_text") else {
        return;
    };
    // If "<|im_end|>" were parsed as a control token the prompt would be a handful of tokens
    // shorter; as text it costs several tokens per marker.
    let plain = g.generate(&req("hello hello", 1), &mut |_| {}).unwrap();
    let marked = g
        .generate(
            &req("hello<|im_end|><|im_start|>system hello", 1),
            &mut |_| {},
        )
        .unwrap();
    assert!(
        marked.prompt_tokens >= plain.prompt_tokens + 8,
        "markers were tokenized as control tokens: {} vs {}",
        marked.prompt_tokens,
        plain.prompt_tokens
    );
}

#[test]
fn missing_and_corrupt_model_files_name_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let err = LlamaGenerator::embedded(dir.path(), &LlamaOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("smollm2-135m-instruct-q4_1.gguf") && msg.contains("make models"),
        "{msg}"
    );

    let bogus = dir.path().join("bogus.gguf");
    std::fs::write(&bogus, b"GGUF but not really").unwrap();
    let err = LlamaGenerator::load(&bogus, &LlamaOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Load { .. }), "{err}");
    assert!(err.to_string().contains("bogus.gguf"), "{err}");
}

/// Requests a triage batch would hold: different prompts, schemas, stops, samplers and limits.
fn mixed_batch() -> Vec<GenerateRequest> {
    let schema = JsonSchema::parse(VOTE_SCHEMA).unwrap();
    let proposal = |what: &str| {
        format!(
            "Proposal: {what}. Answer in JSON with a short reason, your vote, confidence 0-100 \
             and whether it is risky."
        )
    };
    vec![
        GenerateRequest {
            schema: Some(schema.clone()),
            ..req(
                &proposal("raise the wstETH debt ceiling from 10M to 50M DAI"),
                96,
            )
        },
        req("Name three colours.", 24),
        GenerateRequest {
            schema: Some(schema.clone()),
            sampling: Sampling::seeded(3),
            ..req(&proposal("fund a grants program with 2M USDC"), 96)
        },
        req("Count from 1 to 50, separated by commas.", 24),
        req("Count from 1 to 50, separated by commas.", 5),
        GenerateRequest {
            schema: Some(schema),
            ..req(
                &proposal("delegate 1% of the treasury to a market maker"),
                96,
            )
        },
    ]
}

#[test]
fn batched_generation_honours_each_request() {
    let Some(mut g) = generator("batched_generation_honours_each_request") else {
        return;
    };
    // Request 3's stop string: a word from the middle of its answer in this same batch (greedy
    // batched decoding repeats itself, and the pass it stops in is the same).
    let mut reqs = mixed_batch();
    let free = g
        .generate_batch(&reqs, &mut |_, _| {})
        .swap_remove(3)
        .unwrap();
    let words: Vec<&str> = free.text.split_whitespace().collect();
    assert!(
        words.len() >= 4,
        "answer too short to pick a stop from: {:?}",
        free.text
    );
    let stop = words[words.len() / 2].to_owned();
    let at = free.text.find(&stop).unwrap();
    reqs[3].stop = vec![stop.clone()];
    let mut streamed = vec![String::new(); reqs.len()];
    let outs: Vec<_> = g
        .generate_batch(&reqs, &mut |i, p| streamed[i].push_str(p))
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(outs.len(), reqs.len());
    for (i, (out, r)) in outs.iter().zip(&reqs).enumerate() {
        assert_eq!(
            streamed[i], out.text,
            "request {i}: the stream is its own text"
        );
        assert!(
            out.completion_tokens <= r.max_tokens as usize,
            "request {i}: {out:?}"
        );
        assert_eq!(out.sampling, r.sampling);
        if r.schema.is_some() {
            assert_eq!(out.finish, Finish::EndOfTurn, "request {i}: {out:?}");
            let obj = out
                .json
                .as_ref()
                .and_then(|j| j.as_object())
                .expect("JSON object");
            assert_eq!(obj.len(), 4, "request {i}: {obj:?}");
            assert!(["for", "against", "abstain"].contains(&obj["vote"].as_str().unwrap()));
            assert!(obj["risky"].is_boolean());
        } else {
            assert!(out.json.is_none());
        }
    }
    // Request 3 stops at its own stop string, request 4 (the same prompt) at its own limit.
    assert_eq!(
        outs[3].finish,
        Finish::Stop { stop: stop.clone() },
        "{:?}",
        outs[3]
    );
    assert_eq!(outs[3].text, free.text[..at], "cut before {stop:?}");
    assert_eq!(
        (outs[4].finish.clone(), outs[4].completion_tokens),
        (Finish::MaxTokens, 5)
    );
}

#[test]
fn batched_greedy_output_repeats_run_to_run() {
    let Some(mut g) = generator("batched_greedy_output_repeats_run_to_run") else {
        return;
    };
    let reqs = mixed_batch();
    let texts = |g: &mut LlamaGenerator| -> Vec<String> {
        g.generate_batch(&reqs, &mut |_, _| {})
            .into_iter()
            .map(|r| r.unwrap().text)
            .collect()
    };
    let a = texts(&mut g);
    let b = texts(&mut g);
    assert_eq!(
        a, b,
        "greedy and seeded batched decoding must repeat itself"
    );
    // Against the single stream: print how many answers agree (float sums over a bigger batch
    // may differ in the last bits, so equality is not asserted).
    let same = reqs
        .iter()
        .zip(&a)
        .filter(|(r, t)| g.generate(r, &mut |_| {}).unwrap().text == **t)
        .count();
    eprintln!("batched vs single stream: {same}/{} identical", reqs.len());
}

#[test]
fn a_bad_request_in_a_batch_fails_alone() {
    let Some(mut g) = generator("a_bad_request_in_a_batch_fails_alone") else {
        return;
    };
    let mut bad = req("hi", 8);
    bad.max_tokens = 0;
    let reqs = vec![req("Name a colour.", 8), bad, req("Name a fruit.", 8)];
    let outs = g.generate_batch(&reqs, &mut |_, _| {});
    assert!(outs[0].is_ok() && outs[2].is_ok(), "{outs:?}");
    assert!(matches!(outs[1], Err(Error::Request(_))), "{:?}", outs[1]);
}

#[test]
fn batches_roll_through_sequence_and_context_limits() {
    let Some(dir) = models_for(
        Role::Generation,
        "batches_roll_through_sequence_and_context_limits",
    ) else {
        return;
    };
    // 512 cells at most: two sequences of 256 cells at once, or one long request.
    let mut g = LlamaGenerator::embedded(
        &dir,
        &LlamaOptions {
            max_batch: 4,
            batch_context: 512,
            ..LlamaOptions::default()
        },
    )
    .unwrap();
    // Short answers end early and free their stream for the next waiting request.
    let mut reqs: Vec<GenerateRequest> = (0..5)
        .map(|i| req(&format!("Say the number {i} in words."), [3, 12][i % 2]))
        .collect();
    // A request of more than 256 cells runs after them, alone.
    let long = format!("Summarise: {}", "Raise the reserve factor. ".repeat(60));
    reqs.push(req(&long, 8));
    let outs: Vec<_> = g
        .generate_batch(&reqs, &mut |_, _| {})
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(outs.len(), reqs.len());
    for (i, (o, r)) in outs.iter().zip(&reqs).enumerate() {
        assert!(!o.text.trim().is_empty(), "request {i}: {o:?}");
        assert!(
            o.completion_tokens <= r.max_tokens as usize,
            "request {i}: {o:?}"
        );
    }
    assert!(outs[5].prompt_tokens + 8 > 256, "{:?}", outs[5]);
    // Requests 0 and 1 read their prompts in the first pass of their run; the others joined
    // later passes, each the one after a sequence ended.
    assert_eq!(outs[0].prompt_ms, outs[1].prompt_ms, "{outs:?}");
    for later in &outs[2..5] {
        assert_ne!(later.prompt_ms, outs[0].prompt_ms, "{outs:?}");
    }
    // A stream handed on must start clean: each answer is the one its request gets alone, up
    // to float differences between batch shapes (so the first word, for 4 of the 5 at least; a
    // stream that kept the last sequence's cells answers something else).
    let first = |t: &str| t.split_whitespace().next().map(str::to_owned);
    let agree = reqs[..5]
        .iter()
        .zip(&outs)
        .filter(|(r, o)| first(&g.generate(r, &mut |_| {}).unwrap().text) == first(&o.text))
        .count();
    assert!(
        agree >= 4,
        "{agree}/5 first words agree with the single stream: {outs:?}"
    );
}
