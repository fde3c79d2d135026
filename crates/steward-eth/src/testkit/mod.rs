//! A reusable chain test harness: a real anvil on 127.0.0.1 and real OpenZeppelin 5 contracts,
//! compiled from `contracts/` with npm solc (solcjs) and deployed by alloy. Enabled by the
//! `testkit` feature, for this crate's tests and for dev-dependents (casting, verification, the
//! demo):
//!
//! ```toml
//! [dev-dependencies]
//! steward-eth = { workspace = true, features = ["testkit"] }
//! ```
//!
//! ```no_run
//! # async fn demo() -> Result<(), steward_eth::testkit::TestkitError> {
//! use steward_eth::testkit::{Anvil, Artifacts, Dao, DaoConfig, Tools, ether};
//!
//! // Tests skip (print why and return) when the npm tools are not installed.
//! let tools = match Tools::detect() {
//!     Ok(t) => t,
//!     Err(why) => { eprintln!("skipped: {why}"); return Ok(()); }
//! };
//! let anvil = Anvil::start(&tools).await?;             // killed on drop
//! let artifacts = Artifacts::load(&tools)?;             // compiled once, cached in .cache/
//! let dao = Dao::deploy(&anvil, &artifacts, &DaoConfig::default()).await?;
//! let pay = dao.treasury_transfer(anvil.accounts()[5], ether(1000));
//! let p = dao.propose(&anvil, dao.voters[0], &[pay], "# Pay the auditor\n\nDetails.").await?;
//! anvil.mine(2).await?;                                 // past the voting delay
//! dao.vote(&anvil, dao.voters[0], p.id, 1, "looks right").await?;
//! let reader = dao.reader();                            // a steward_eth::GovernorReader
//! # Ok(()) }
//! ```
//!
//! What exists:
//! - [`Tools`]: where anvil, node, solc and OpenZeppelin are (`STEWARD_TOOLS_DIR`, default
//!   `<repo>/tools/node_modules`; node from `STEWARD_NODE` or `PATH`).
//! - [`Anvil`]: the node (free port, default funded and unlocked accounts), `mine`,
//!   `increase_time`, `send` (a transaction from an unlocked account, waited for and checked)
//!   and `deploy`.
//! - [`Artifacts`]: ABI and bytecode of every contract in `contracts/`, compiled by
//!   `scripts/compile-contracts.js` once per source hash and cached in `<repo>/.cache/contracts/`.
//! - [`Dao`]: `StewardToken` (ERC20Votes) + `StewardTimelock` (TimelockController, the
//!   treasury) + `StewardGovernor` (Governor, Settings, CountingSimple, Votes, QuorumFraction,
//!   TimelockControl), voters funded and self-delegated; `propose`, `vote`, `queue`, `execute`,
//!   `delegate`, `transfer_tokens`, and action builders `treasury_transfer`, `eth_transfer`.
//! - [`Bravo`]: a minimal GovernorBravo look-alike (`contracts/BravoGovernor.sol`) with the same
//!   events, `state`, `proposals` and `quorumVotes`, plus `emit_raw_proposal_created` to send
//!   hand-made (malformed) `ProposalCreated` logs; [`bravo_action`] builds signature + argument
//!   calldata actions.
//! - [`AgentRegistryAddresses`]: the ERC-8004 identity and reputation registries
//!   (`contracts/AgentIdentityRegistry.sol`, `AgentReputationRegistry.sol`).
//! - [`Bonds`]: `StewardUSDC` + `AttentionBonds` (docs/economy.md), USDC minted to accounts
//!   1.. and approved for the escrow; [`usdc`] for 6-decimal amounts.
//! - [`ZkContracts`]: the generated `StewardSemaphoreVerifier` and `StewardGroups` over it
//!   (docs/privacy.md).

mod agents;
mod anvil;
mod bonds;
mod contracts;
mod dao;
mod zk;

pub use agents::{AgentRegistryAddresses, MarketSetup};
pub use anvil::{Anvil, Tools};
pub use bonds::{Bonds, BondsConfig, usdc};
pub use contracts::{Artifact, Artifacts};
pub use dao::{Bravo, Dao, DaoConfig, Proposed, bravo_action, encode_proposal_created};
pub use zk::ZkContracts;

use alloy::primitives::U256;

/// The private keys of anvil's default accounts 0..5 (the public "test test ... junk" mnemonic),
/// for tests that sign with a local key instead of an unlocked account.
pub const DEV_KEYS: [&str; 6] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
];

/// anvil's default account `i` as a [`crate::Key`].
pub fn dev_key(i: usize) -> TkResult<crate::Key> {
    let hex = DEV_KEYS
        .get(i)
        .ok_or_else(|| TestkitError::new(format!("no dev key {i}")))?;
    let bytes: [u8; 32] = alloy::hex::decode(hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| TestkitError::new("dev key hex"))?;
    crate::Key::from_secret(&bytes).map_err(|e| TestkitError::new(e.to_string()))
}

/// What went wrong in the harness, in words.
#[derive(Debug, Clone, thiserror::Error)]
#[error("testkit: {0}")]
pub struct TestkitError(pub String);

impl TestkitError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

impl From<crate::Error> for TestkitError {
    fn from(e: crate::Error) -> Self {
        Self(e.to_string())
    }
}

pub type TkResult<T> = std::result::Result<T, TestkitError>;

/// `n` whole tokens (or ether) in 18-decimal base units.
pub fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// The repository root (two levels above this crate's manifest).
pub fn repo_root() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = here.join("../..");
    root.canonicalize().unwrap_or(root)
}
