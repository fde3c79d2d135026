//! A Snapshot hub's GraphQL answer: HTTP status and body through `snapshot::read_answer`, then
//! every item through the proposal or vote parser, as sync does with a page.
//! Input: 2 bytes of status (big-endian, folded into 100..=599), 1 byte picking the field
//! (`proposals` or `votes`), then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steward_agent::sources::Attempt;
use steward_agent::sources::snapshot::{parse_proposal, parse_vote, read_answer};
use steward_core::Limits;
use steward_fuzz::{NOW, check_field, check_proposal};

fuzz_target!(|data: &[u8]| {
    let [hi, lo, which, body @ ..] = data else {
        return;
    };
    let code = 100 + u16::from_be_bytes([*hi, *lo]) % 500;
    let Ok(status) = reqwest::StatusCode::from_u16(code) else {
        return;
    };
    let field = if which & 1 == 0 { "proposals" } else { "votes" };
    let text = String::from_utf8_lossy(body);
    let limits = Limits::default();
    match read_answer(status, &text, field) {
        Ok(items) => {
            assert!(status.is_success(), "items from HTTP {status}");
            for v in &items {
                if field == "proposals" {
                    match parse_proposal(v, Some("fuzz.eth"), &limits, NOW) {
                        Ok(p) => check_proposal(&p, &limits),
                        Err(e) => check_field(&e),
                    }
                } else if let Err(e) = parse_vote(v) {
                    check_field(&e);
                }
            }
        }
        Err(Attempt::Transient { reason, .. } | Attempt::Final(reason)) => {
            assert!(!reason.is_empty(), "a failed answer without a reason");
        }
        Err(Attempt::Fatal(e)) => panic!("a body cannot be fatal: {e}"),
    }
});
