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

    /// Deploys an `AgentValidationRegistry` bound to the identity registry (ERC-8004
    /// validation, answered by `steward judge --post`).
    pub async fn deploy_validation(
        &self,
        anvil: &Anvil,
        artifacts: &Artifacts,
    ) -> TkResult<Address> {
        let deployer = anvil
            .accounts()
            .first()
            .copied()
            .ok_or_else(|| TestkitError::new("anvil has no accounts"))?;
        let mut code = artifacts.get("AgentValidationRegistry")?.bytecode.to_vec();
        code.extend((self.identity,).abi_encode_params());
        anvil.deploy(deployer, Bytes::from(code)).await
    }

    /// A client of these registries on `anvil`.
    pub fn client(&self, anvil: &Anvil) -> AgentRegistries {
        AgentRegistries::new(anvil.rpc().clone(), self.identity, self.reputation)
    }
}

/// A suggestion market on `StewardUSDC` (6 decimals), both deployed by account 0, which is also
/// the sponsor and the token's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketSetup {
    pub usdc: Address,
    pub market: Address,
    pub sponsor: Address,
    pub end_time: u64,
}

alloy::sol! {
    function mint(address to, uint256 amount) external;
    function approve(address spender, uint256 amount) external returns (bool);
    function balanceOf(address who) external view returns (uint256);
}

impl MarketSetup {
    /// Deploys the token and a market with liquidity `b` (token units) ending `duration` seconds
    /// after the latest block.
    pub async fn deploy(
        anvil: &Anvil,
        artifacts: &Artifacts,
        b: u128,
        duration: u64,
    ) -> TkResult<Self> {
        let sponsor = anvil
            .accounts()
            .first()
            .copied()
            .ok_or_else(|| TestkitError::new("anvil has no accounts"))?;
        let mut code = artifacts.get("StewardUSDC")?.bytecode.to_vec();
        code.extend((sponsor,).abi_encode_params());
        let usdc = anvil.deploy(sponsor, Bytes::from(code)).await?;
        Self::deploy_on(anvil, artifacts, usdc, b, duration).await
    }

    /// [`Self::deploy`] over a token already deployed (an 18-decimal one, for the agent's
    /// decimals check); `usdc` names it, whatever it is.
    pub async fn deploy_on(
        anvil: &Anvil,
        artifacts: &Artifacts,
        usdc: Address,
        b: u128,
        duration: u64,
    ) -> TkResult<Self> {
        let sponsor = anvil
            .accounts()
            .first()
            .copied()
            .ok_or_else(|| TestkitError::new("anvil has no accounts"))?;
        let now = anvil
            .rpc()
            .block_timestamp(anvil.block_number().await?)
            .await?;
        let end_time = now + duration;
        let mut code = artifacts.get("SuggestionMarket")?.bytecode.to_vec();
        code.extend(
            (
                usdc,
                sponsor,
                alloy::primitives::U256::from(b),
                alloy::primitives::U256::from(end_time),
            )
                .abi_encode_params(),
        );
        let market = anvil.deploy(sponsor, Bytes::from(code)).await?;
        Ok(Self {
            usdc,
            market,
            sponsor,
            end_time,
        })
    }

    /// Mints `amount` to `holder` (an unlocked anvil account) and lets the market spend it.
    pub async fn fund_account(&self, anvil: &Anvil, holder: Address, amount: u128) -> TkResult<()> {
        use alloy::network::TransactionBuilder;
        use alloy::rpc::types::TransactionRequest;
        use alloy::sol_types::SolCall;
        let amount = alloy::primitives::U256::from(amount);
        let mint = mintCall { to: holder, amount }.abi_encode();
        anvil
            .send(
                TransactionRequest::default()
                    .with_from(self.sponsor)
                    .with_to(self.usdc)
                    .with_input(mint),
            )
            .await?;
        let approve = approveCall {
            spender: self.market,
            amount,
        }
        .abi_encode();
        anvil
            .send(
                TransactionRequest::default()
                    .with_from(holder)
                    .with_to(self.usdc)
                    .with_input(approve),
            )
            .await?;
        Ok(())
    }

    /// `holder`'s token balance.
    pub async fn balance(&self, anvil: &Anvil, holder: Address) -> TkResult<u128> {
        use alloy::network::TransactionBuilder;
        use alloy::providers::Provider;
        use alloy::rpc::types::TransactionRequest;
        use alloy::sol_types::SolCall;
        let data = anvil
            .rpc()
            .provider()
            .call(
                TransactionRequest::default()
                    .with_to(self.usdc)
                    .with_input(balanceOfCall { who: holder }.abi_encode()),
            )
            .await
            .map_err(|e| TestkitError::new(format!("balanceOf: {e}")))?;
        let v = balanceOfCall::abi_decode_returns(&data)
            .map_err(|e| TestkitError::new(format!("balanceOf: {e}")))?;
        u128::try_from(v).map_err(|_| TestkitError::new("balance out of range"))
    }
}
