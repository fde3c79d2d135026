//! A Discourse forum's answer: status and body through `forum::read_answer`, the topic through
//! `parse_topic`, and each of its posts (and of a `posts.json` answer) through `parse_post`,
//! whose `cooked` HTML goes through `html_to_text`, as discussion sync does.
//! Input: 2 bytes of status (folded into 100..=599), then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use steward_agent::sources::Attempt;
use steward_agent::sources::forum::{Parsed, parse_post, parse_topic, read_answer};
use steward_fuzz::check_field;

const MAX_TEXT: usize = 300;

fuzz_target!(|data: &[u8]| {
    let [hi, lo, body @ ..] = data else {
        return;
    };
    let code = 100 + u16::from_be_bytes([*hi, *lo]) % 500;
    let Ok(status) = reqwest::StatusCode::from_u16(code) else {
        return;
    };
    let text = String::from_utf8_lossy(body);
    let v = match read_answer(status, &text) {
        Ok(v) => v,
        Err(Attempt::Transient { reason, .. } | Attempt::Final(reason)) => {
            assert!(!reason.is_empty());
            return;
        }
        Err(Attempt::Fatal(e)) => panic!("a body cannot be fatal: {e}"),
    };
    let topic_id = v.get("id").and_then(Value::as_u64).unwrap_or(1);
    let topic = parse_topic(&v, 50);
    let posts: &[Value] = match &topic {
        Ok(t) => {
            if v.pointer("/post_stream/stream").is_some() {
                assert!(t.stream.len() <= 50, "stream over the limit");
            }
            &t.posts
        }
        Err(e) => {
            check_field(e);
            // `posts.json` answers carry their posts at the same pointer, without a topic id.
            match v.pointer("/post_stream/posts") {
                Some(Value::Array(a)) => a,
                _ => &[],
            }
        }
    };
    for p in posts {
        match parse_post(p, "forum.example", topic_id, MAX_TEXT) {
            Ok(Parsed::Post(post)) => {
                assert!(post.text.len() <= MAX_TEXT, "text over the limit");
                assert!(!post.author.trim().is_empty());
                assert_eq!(post.topic_id, topic_id);
            }
            Ok(Parsed::Skip(_)) => {}
            Err(e) => check_field(&e),
        }
    }
});
