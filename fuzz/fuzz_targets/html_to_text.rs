//! Discourse `cooked` HTML to plain text (`html_to_text`, which every forum post without `raw`
//! goes through) and the entity decoder under it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steward_agent::sources::forum::{decode_entities, html_to_text};

fuzz_target!(|data: &[u8]| {
    let Ok(html) = std::str::from_utf8(data) else {
        return;
    };
    let text = html_to_text(html);
    // Linear in the input: a line costs at least a byte of HTML and its prefix (quotes, list
    // indent and number) is bounded; nesting once made it quadratic.
    assert!(
        text.len() <= 16 * html.len() + 64,
        "{} bytes of text from {} bytes of HTML",
        text.len(),
        html.len()
    );
    let decoded = decode_entities(html);
    assert!(decoded.len() <= html.len(), "an entity grew");
    if !html.contains('&') {
        assert_eq!(decoded, html);
    }
});
