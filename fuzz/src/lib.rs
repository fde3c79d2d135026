//! What every fuzz target checks beyond "no panic": the promises the parsers make on any input
//! (docs/fuzz.md). A broken promise is an `assert!`, which libFuzzer records as a crash.

use steward_core::{FieldError, Limits, Proposal};

/// Tight limits, so truncation and the limit errors are reached by small inputs too.
pub const SMALL: Limits = Limits {
    max_body_bytes: 200,
    max_title_bytes: 40,
    max_choices: 6,
    max_choice_bytes: 24,
    max_actions: 3,
    max_calldata_bytes: 100,
    max_id_bytes: 48,
};

/// The clock the targets parse at (proposal states depend on it).
pub const NOW: i64 = 1_700_000_000;

/// A refusal names the field at fault and says why.
pub fn check_field(e: &FieldError) {
    assert!(!e.field.trim().is_empty(), "error names no field: {e:?}");
    assert!(!e.message.trim().is_empty(), "error gives no reason: {e:?}");
}

/// A parsed proposal is within `limits`, normalizing it again changes nothing, it survives the
/// store's JSON round trip, and it normalizes under [`SMALL`] without a panic.
pub fn check_proposal(p: &Proposal, limits: &Limits) {
    assert!(!p.id.trim().is_empty(), "empty id: {p:?}");
    assert!(p.id.len() <= limits.max_id_bytes);
    assert!(p.title.len() <= limits.max_title_bytes);
    assert!(p.body.len() <= limits.max_body_bytes);
    assert!(!p.choices.is_empty() && p.choices.len() <= limits.max_choices);
    assert!(p.choices.iter().all(|c| c.len() <= limits.max_choice_bytes));
    assert!(p.actions.len() <= limits.max_actions);
    if let (Some(s), Some(e)) = (p.start, p.end) {
        assert!(s <= e, "ends before it starts: {p:?}");
    }
    assert_eq!(
        p.clone().normalize(limits).as_ref(),
        Ok(p),
        "normalize is not idempotent"
    );
    let json = serde_json::to_string(p).expect("a proposal serializes");
    let back: Proposal = serde_json::from_str(&json).expect("a stored proposal reads back");
    assert_eq!(&back, p, "JSON round trip changed the proposal");
    let _ = (p.key(), p.content_hash());
    match p.clone().normalize(&SMALL) {
        Ok(q) => {
            assert!(q.body.len() <= SMALL.max_body_bytes && q.title.len() <= SMALL.max_title_bytes)
        }
        Err(e) => check_field(&e),
    }
}

/// The first byte of the input picks a variant; the rest is the document.
pub fn split_first(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((b, rest)) => (*b, rest),
        None => (0, data),
    }
}

/// A decoded call tree keeps the depth and width bounds, and every failure says why.
pub fn check_call(root: &steward_core::verification::Call) {
    use steward_eth::decode::{MAX_CALLS, MAX_DEPTH};
    // Calls past the budget are kept, each with an error, so the error count is not bounded.
    let mut decoded = 0usize;
    let mut todo = vec![root];
    while let Some(c) = todo.pop() {
        if !c
            .error
            .as_deref()
            .is_some_and(|e| e.contains("nested calls"))
        {
            decoded += 1;
        }
        assert!(c.depth <= MAX_DEPTH + 1, "call at depth {}", c.depth);
        if let Some(e) = &c.error {
            assert!(!e.trim().is_empty(), "an empty decoding error");
        }
        if c.known {
            assert!(
                c.signature.is_some() || c.selector.is_none(),
                "known without a signature"
            );
        }
        for i in &c.inner {
            assert_eq!(i.depth, c.depth + 1, "nested call depth");
            todo.push(i);
        }
    }
    assert!(decoded <= MAX_CALLS, "{decoded} calls, limit {MAX_CALLS}");
}
