//! Steward's domain types and pure logic.
//!
//! This crate owns what can be decided without touching the world: the network allowlist
//! (is this host allowed?), the audit chain (what an entry commits to, and whether a sequence of
//! entries is intact), and — as later waves land — proposals, decisions and the policy that picks
//! between voting, asking and skipping. No I/O, no async, no clocks: callers pass everything in,
//! which is what keeps every decision reproducible.

mod audit;
mod net;

pub use audit::{
    AUDIT_GENESIS, AuditEntry, AuditRecord, ChainBreak, ChainBreakKind, sha256_hex, verify_chain,
};
pub use net::{Allowlist, AllowlistError, Refused, Rule};
