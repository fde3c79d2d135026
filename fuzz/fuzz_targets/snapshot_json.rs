//! Snapshot hub objects: a proposal or a vote (or an array of them) as JSON, through
//! `parse_proposal` and `parse_vote`, the functions sync runs on every item of a hub page.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use steward_agent::sources::snapshot::{parse_proposal, parse_vote};
use steward_core::Limits;
use steward_fuzz::{NOW, check_field, check_proposal};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let items = match &v {
        Value::Array(a) => a.iter().collect(),
        one => vec![one],
    };
    let limits = Limits::default();
    for v in items {
        match parse_proposal(v, Some("fuzz.eth"), &limits, NOW) {
            Ok(p) => check_proposal(&p, &limits),
            Err(e) => check_field(&e),
        }
        match parse_vote(v) {
            Ok(vote) => {
                assert!(!vote.id.is_empty() || v.get("id").is_some());
                assert_eq!(vote.voter, vote.voter.to_ascii_lowercase());
            }
            Err(e) => check_field(&e),
        }
    }
});
