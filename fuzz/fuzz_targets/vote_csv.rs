//! Vote history CSV (`steward profile import votes`: `parse_votes_csv`), with or without a
//! user address picking the user's rows. Input: 1 byte (bit 0: with a user), then the file.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use steward_agent::profile::parse_votes_csv;
use steward_fuzz::split_first;

const USER: &str = "0x001c3b137c68f592952b82786096148390e9030d";

fuzz_target!(|data: &[u8]| {
    let (pick, csv) = split_first(data);
    let user = (pick & 1 == 1).then_some(USER);
    let (votes, bad) = parse_votes_csv(Path::new("votes.csv"), csv, user);
    for v in &votes {
        assert!(!v.voter.is_empty() && !v.proposal_ref.is_empty() && !v.choice.is_empty());
        assert!(v.choice.len() <= 1024);
        assert_eq!(v.is_user, user.is_none() || v.voter == USER);
        if user.is_some() {
            assert_eq!(v.voter, v.voter.to_ascii_lowercase());
        }
    }
    for q in &bad {
        assert!(
            !q.field.is_empty() && !q.error.is_empty(),
            "quarantine without a field: {q:?}"
        );
        assert!(q.item.starts_with("line "), "item {:?}", q.item);
    }
});
