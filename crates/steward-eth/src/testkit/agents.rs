//! The ERC-8004 registries on anvil: `AgentIdentityRegistry` and an `AgentReputationRegistry`
//! bound to it, deployed from `contracts/` by account 0.

use alloy::primitives::{Address, Bytes};
use alloy::sol_types::SolValue;

use super::{Anvil, Artifacts, TestkitError, TkResult};
use crate::AgentRegistries;

/// Deployed registries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentRegistryAddresses {
    pub identity: Address,
    pub reputation: Address,
}

impl AgentRegistryAddresses {
    /// Deploys both registries.
    pub async fn deploy(anvil: &Anvil, artifacts: &Artifacts) -> TkResult<Self> {
        let deployer = anvil
            .accounts()
            .first()
            .copied()
            .ok_or_else(|| TestkitError::new("anvil has no accounts"))?;
        let identity = anvil
            .deploy(
                deployer,
                artifacts.get("AgentIdentityRegistry")?.bytecode.clone(),
            )
            .await?;
        let mut code = artifacts.get("AgentReputationRegistry")?.bytecode.to_vec();
        code.extend((identity,).abi_encode_params());
        let reputation = anvil.deploy(deployer, Bytes::from(code)).await?;
        Ok(Self {
            identity,
            reputation,
        })
    }

    /// A client of these registries on `anvil`.
    pub fn client(&self, anvil: &Anvil) -> AgentRegistries {
        AgentRegistries::new(anvil.rpc().clone(), self.identity, self.reputation)
    }
}
