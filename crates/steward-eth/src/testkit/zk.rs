//! Deploying the generated Semaphore verifier and Steward's group contract over it.

use alloy::primitives::{Address, Bytes};
use alloy::sol_types::SolValue;

use super::{Anvil, Artifacts, TkResult};
use crate::zkgroups::StewardGroups;

/// A deployed `StewardSemaphoreVerifier` and `StewardGroups` using it (deployer: account 0).
#[derive(Debug, Clone)]
pub struct ZkContracts {
    pub verifier: Address,
    pub groups: Address,
    /// The block the group contract was deployed in (where its events start).
    pub deployed_at: u64,
    groups_client: StewardGroups,
}

impl ZkContracts {
    pub async fn deploy(anvil: &Anvil, artifacts: &Artifacts) -> TkResult<Self> {
        let owner = anvil.accounts()[0];
        let verifier = anvil
            .deploy(
                owner,
                artifacts.get("StewardSemaphoreVerifier")?.bytecode.clone(),
            )
            .await?;
        let groups = Self::deploy_groups(anvil, artifacts, verifier).await?;
        let deployed_at = anvil.block_number().await?;
        Ok(Self {
            verifier,
            groups,
            deployed_at,
            groups_client: StewardGroups::new(anvil.rpc().clone(), groups),
        })
    }

    /// Another group contract over `verifier`.
    pub async fn deploy_groups(
        anvil: &Anvil,
        artifacts: &Artifacts,
        verifier: Address,
    ) -> TkResult<Address> {
        let mut code = artifacts.get("StewardGroups")?.bytecode.to_vec();
        code.extend(verifier.abi_encode());
        anvil.deploy(anvil.accounts()[0], Bytes::from(code)).await
    }

    /// The group contract through the library's client.
    pub fn client(&self) -> &StewardGroups {
        &self.groups_client
    }
}
