//! Mail: an mbox split into messages (`split_mbox`) and each MIME message (multipart,
//! quoted-printable, base64, charsets, HTML) parsed into a proposal (`parse_message`); the
//! whole input is also parsed as one maildir file, as `read_mailbox` does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steward_agent::sources::mail::{RawMessage, parse_message, split_mbox};
use steward_core::Limits;
use steward_fuzz::{check_field, check_proposal};

fn one(raw: &RawMessage, limits: &Limits) {
    match parse_message(raw, "fuzz", limits) {
        Ok(m) => {
            assert!(!m.message_id.is_empty());
            check_proposal(&m.proposal, limits);
            for l in &m.links {
                assert!(
                    l.starts_with("snapshot:") || l.starts_with("tally:"),
                    "link {l:?}"
                );
            }
        }
        Err(e) => check_field(&e),
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    one(
        &RawMessage {
            label: "cur/1".into(),
            bytes: data.to_vec(),
        },
        &limits,
    );
    for raw in split_mbox(data) {
        assert!(raw.bytes.len() <= data.len());
        one(&raw, &limits);
    }
});
