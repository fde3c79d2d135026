//! Integration tests of the agent against real SQLCipher files, real sockets and real config
//! files, all in temporary directories.

// Tests say on stderr why they skip (missing shared data or tools).
#![allow(clippy::print_stderr)]

mod audit;
mod bondgate;
mod bondreply;
mod bonds;
mod budget;
mod cast;
mod claims;
mod config;
mod decide;
mod egress;
mod eval;
mod eval_ask;
mod eval_replay;
mod forum;
mod home;
mod imap;
mod ingest;
mod inspect;
mod mail;
mod market_ledger;
mod net;
mod notify;
mod regression;
mod store;
mod summaries;
mod writing;

use std::path::Path;

use steward_agent::{Home, Passphrase, Store};

pub(crate) fn pass(s: &str) -> Passphrase {
    Passphrase::new(s.to_owned()).expect("non-empty")
}

/// A fresh home with a store, in a temp dir.
pub(crate) fn new_store(dir: &Path, passphrase: &str) -> (Home, Store) {
    let home = Home::create(&dir.join("home")).expect("create home");
    let store = Store::create(&home, &pass(passphrase)).expect("create store");
    (home, store)
}
