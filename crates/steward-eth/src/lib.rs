//! Everything Ethereum for Steward, through alloy: providers, `sol!` bindings (Governor, ERC-20,
//! timelock), EIP-712 votes, transactions, keystore signers, calldata decoding and simulation.
//!
//! The foundation wave only reserves this crate's place in the dependency graph
//! (`steward-agent` -> `steward-eth` -> `steward-core`); the ingestion, casting and verification
//! issues fill it.
