//! steward-eth's integration tests: one binary, against a real anvil and real OpenZeppelin 5
//! contracts compiled from `contracts/` (see `steward_eth::testkit`). Tests that need the npm
//! tools skip with the reason when they are absent, and fail instead under `STEWARD_REQUIRE`.

mod bonds;
mod bravo;
mod cast;
mod erc8004;
mod market;
mod oz;
mod provenance;
mod rpc;
mod snapshot;
mod verify;

use std::sync::Arc;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use steward_core::Action;
use steward_eth::Rpc;
use steward_eth::testkit::{Anvil, Artifacts, Tools};

alloy::sol! {
    function balanceOf(address who) external view returns (uint256);
}

/// An ERC-20 balance, read with a plain `eth_call`.
pub(crate) async fn balance(rpc: &Rpc, token: Address, who: Address) -> U256 {
    let out = rpc
        .provider()
        .call(
            TransactionRequest::default()
                .with_to(token)
                .with_input(Bytes::from(balanceOfCall { who }.abi_encode())),
        )
        .await
        .expect("balanceOf");
    U256::from_be_slice(&out)
}

/// A proposal action calling `target` with `data`, no value.
pub(crate) fn action(target: Address, data: Vec<u8>) -> Action {
    Action {
        target,
        value: U256::ZERO,
        signature: String::new(),
        calldata: data.into(),
    }
}

/// The tools, or `None` after saying why the test is skipped (straight to stderr, past the
/// test harness's capture, so a skip is visible in `make test`).
pub(crate) fn tools_or_skip(test: &str) -> Option<Tools> {
    match Tools::detect() {
        Ok(t) => Some(t),
        Err(why) => {
            steward_testing::skip(steward_testing::Need::Anvil, test, why);
            None
        }
    }
}

/// A fresh anvil and the compiled contracts.
pub(crate) async fn chain(test: &str) -> Option<(Anvil, Arc<Artifacts>)> {
    let tools = tools_or_skip(test)?;
    let anvil = Anvil::start(&tools).await.expect("anvil starts");
    let artifacts = Artifacts::load(&tools).expect("contracts compile");
    Some((anvil, artifacts))
}
