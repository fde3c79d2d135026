//! Test support shared by the test suites, the benchmarks and the demo (feature `testkit`).
//!
//! - [`hub::MockHub`]: a loopback Snapshot hub that speaks the hub's GraphQL schema, checks each
//!   query as the real hub would, serves real proposal records (../shared/data/snapshot-daocensus)
//!   and injects the failures real hubs produce (429 with Retry-After, 5xx, truncated bodies).
//! - [`forum::MockForum`]: a loopback Discourse forum serving topics and `posts.json` in
//!   Discourse's JSON shape, built from real delegate posts
//!   (../shared/data/arbitrum-forum-rationales), with the same fault injection.
//! - [`dovecot::Dovecot`]: a real Dovecot serving IMAP over TLS on loopback.
//! - [`smtp::MailServer`]: a real Dovecot submission service (SMTP, STARTTLS/TLS, AUTH) relaying
//!   to Postfix's `smtp-sink`, which keeps every message as received.
//! - [`sequencer::MockSequencer`]: a loopback Snapshot sequencer that verifies each vote
//!   envelope's EIP-712 signature as the real one does, refuses bad ones, and records accepted
//!   votes in a [`hub::MockHub`]; [`sequencer::SeqFaults`] makes it stall, lose answers, see
//!   requests twice and show votes late, from a seed.
//! - [`rng::Rng`]: the seeded generator behind the faults and the crash soak.

pub mod dovecot;
pub mod forum;
pub mod hub;
pub mod rng;
pub mod sequencer;
pub mod smtp;
