//! Proposal and writing text (Markdown, with whatever HTML it carries): the injection sanitizer
//! every proposal body goes through before a model reads it (`sanitize`, `screened_sentences`),
//! and the writing importer (`parse_writing`: plain text, Markdown or a JSON chat export, cut
//! into paragraphs by `chunk_writing`), and the privacy filter that learns from the user's
//! writing and redacts a shared draft (`privacy::Secrets`).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use steward_agent::profile::{chunk_writing, parse_writing};
use steward_core::injection::{sanitize, screened_sentences};
use steward_core::privacy::{QUOTE_CUT, REDACTED, Secrets};
use steward_fuzz::split_first;

fuzz_target!(|data: &[u8]| {
    let (pick, rest) = split_first(data);
    let author = (pick & 1 == 1).then_some("alice");
    if let Ok(chunks) = parse_writing(Path::new("writing.md"), rest, author) {
        for c in &chunks {
            assert!(
                !c.text.trim().is_empty() && c.text.len() <= 800,
                "chunk of {} bytes",
                c.text.len()
            );
        }
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    for c in chunk_writing(text) {
        assert!(
            !c.trim().is_empty() && c.len() <= 800,
            "chunk of {} bytes",
            c.len()
        );
    }
    let s = sanitize(text);
    for f in &s.findings {
        assert!(!f.kind.is_empty());
        assert!(
            f.excerpt.chars().count() <= 123,
            "excerpt of {} chars",
            f.excerpt.chars().count()
        );
    }
    let _ = s.flag();
    let _ = screened_sentences(text);
    // Learning from one half as private and the other as public, then redacting the whole: no
    // panic, an unchanged text when nothing was removed, and never text added.
    let (private, public) = text.split_at(text.floor_char_boundary(text.len() / 2));
    let secrets = Secrets::learn(&[private], &[private], &[public]);
    let r = secrets.redact(text);
    if r.removed == 0 {
        assert_eq!(r.text, text);
    }
    let kept = r.text.replace(REDACTED, "").replace(QUOTE_CUT, "");
    assert!(kept.len() <= text.len(), "redaction added text");
});
