//! steward-zk end to end: real depth-16 and depth-20 proofs, and every way a signal goes bad.

mod chain;
mod signals;
mod solidity;
