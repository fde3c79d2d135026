//! `steward ingest file`: Governor proposal JSON and Snapshot objects, as one document, an
//! array, or JSON Lines, in any bytes (invalid UTF-8 included), through `parse_file`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steward_agent::sources::file::parse_file;
use steward_core::Limits;
use steward_fuzz::{NOW, check_field, check_proposal};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    for item in parse_file(data, &limits, NOW) {
        match item {
            Ok(p) => check_proposal(&p, &limits),
            Err((label, e)) => {
                assert!(!label.is_empty(), "a refused item without a label");
                check_field(&e);
            }
        }
    }
});
