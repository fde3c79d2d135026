//! Deploying the attention-bond escrow with its USDC-like token.

#![allow(missing_docs)]

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::sol;
use alloy::sol_types::{SolCall, SolValue};

use super::{Anvil, Artifacts, TkResult};
use crate::{BondEscrow, Rpc};

sol! {
    interface ITestUsdc {
        function mint(address to, uint256 amount) external;
        function approve(address spender, uint256 amount) external returns (bool);
    }
}

/// `n` whole USDC in 6-decimal base units.
pub fn usdc(n: u64) -> U256 {
    U256::from(n) * U256::from(1_000_000u64)
}

/// What to deploy.
#[derive(Debug, Clone)]
pub struct BondsConfig {
    /// The escrow's global minimum (base units).
    pub minimum: U256,
    /// Minted to each of anvil's accounts 1.. (account 0 deploys and owns both contracts).
    pub mint: U256,
    /// Accounts 1..=`approved` approve the escrow for everything they hold.
    pub approved: usize,
}

impl Default for BondsConfig {
    fn default() -> Self {
        Self {
            minimum: U256::from(10_000u64), // 0.01 USDC
            mint: usdc(1_000),
            approved: 6,
        }
    }
}

/// A deployed `StewardUSDC` + `AttentionBonds` (owner and treasury: account 0).
#[derive(Debug, Clone)]
pub struct Bonds {
    pub token: Address,
    pub escrow: Address,
    pub owner: Address,
    pub treasury: Address,
    pub deployed_at: u64,
    rpc: Rpc,
}

impl Bonds {
    pub async fn deploy(anvil: &Anvil, artifacts: &Artifacts, cfg: &BondsConfig) -> TkResult<Self> {
        let accounts = anvil.accounts().to_vec();
        let owner = accounts[0];
        let token = Self::deploy_token(anvil, artifacts, owner).await?;
        let escrow = Self::deploy_escrow(anvil, artifacts, token, owner, cfg.minimum).await?;
        let deployed_at = anvil.block_number().await?;
        for (i, who) in accounts.iter().enumerate().skip(1) {
            let mint = ITestUsdc::mintCall {
                to: *who,
                amount: cfg.mint,
            };
            call(anvil, owner, token, mint.abi_encode()).await?;
            if i <= cfg.approved {
                let approve = ITestUsdc::approveCall {
                    spender: escrow,
                    amount: U256::MAX,
                };
                call(anvil, *who, token, approve.abi_encode()).await?;
            }
        }
        Ok(Self {
            token,
            escrow,
            owner,
            treasury: owner,
            deployed_at,
            rpc: anvil.rpc().clone(),
        })
    }

    /// Another `StewardUSDC` (the "wrong token" of the agent's checks).
    pub async fn deploy_token(
        anvil: &Anvil,
        artifacts: &Artifacts,
        owner: Address,
    ) -> TkResult<Address> {
        let code = with_args(&artifacts.get("StewardUSDC")?.bytecode, owner.abi_encode());
        anvil.deploy(owner, code).await
    }

    /// An 18-decimal ERC-20 (`StewardToken`, `supply` to `holder`): not USDC-shaped, for the
    /// agent's decimals checks.
    pub async fn deploy_18_decimal_token(
        anvil: &Anvil,
        artifacts: &Artifacts,
        holder: Address,
        supply: U256,
    ) -> TkResult<Address> {
        let code = with_args(
            &artifacts.get("StewardToken")?.bytecode,
            ("Eighteen".to_owned(), "E18".to_owned(), holder, supply).abi_encode_params(),
        );
        anvil.deploy(holder, code).await
    }

    /// Another escrow over `token`, owned by `owner` (also its treasury).
    pub async fn deploy_escrow(
        anvil: &Anvil,
        artifacts: &Artifacts,
        token: Address,
        owner: Address,
        minimum: U256,
    ) -> TkResult<Address> {
        let code = with_args(
            &artifacts.get("AttentionBonds")?.bytecode,
            (token, owner, owner, minimum).abi_encode_params(),
        );
        anvil.deploy(owner, code).await
    }

    /// Mints `amount` of `token` (owned by account 0) to `to`.
    pub async fn mint(anvil: &Anvil, token: Address, to: Address, amount: U256) -> TkResult<()> {
        let owner = anvil.accounts()[0];
        let c = ITestUsdc::mintCall { to, amount };
        call(anvil, owner, token, c.abi_encode()).await
    }

    /// The escrow through the library's client.
    pub fn escrow(&self) -> BondEscrow {
        BondEscrow::new(self.rpc.clone(), self.escrow)
    }
}

async fn call(anvil: &Anvil, from: Address, to: Address, data: Vec<u8>) -> TkResult<()> {
    anvil
        .send(
            TransactionRequest::default()
                .with_from(from)
                .with_to(to)
                .with_input(Bytes::from(data)),
        )
        .await
        .map(drop)
}

fn with_args(code: &Bytes, args: Vec<u8>) -> Bytes {
    let mut v = code.to_vec();
    v.extend(args);
    v.into()
}
