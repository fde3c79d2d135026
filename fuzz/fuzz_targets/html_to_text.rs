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
    // Tags only shrink, an entity never grows, and a link's address is written once more at most.
    assert!(
        text.len() <= 2 * html.len() + 16,
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
