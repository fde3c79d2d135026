//! One Steward contract on one RPC: `eth_call`s whose reverts are decoded into words, and
//! transactions signed with a local [`Key`] that are simulated first (a refusal is never
//! signed), filled (pending nonce, gas estimate + 20 %, EIP-1559 fees), sent and waited for.
//! Shared by the ERC-8004 registries and the suggestion market.

use std::time::Duration;

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, B256, Bytes, TxKind, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::sol_types::SolCall;
use alloy::transports::RpcError;

use crate::erc8004::{RegistryError, RegistryResult};
use crate::error::Error;
use crate::keystore::Key;
use crate::rpc::Rpc;

pub(crate) fn bad_answer(rpc: &Rpc, context: &str, detail: &str) -> RegistryError {
    RegistryError::Eth(Error::BadResponse {
        host: rpc.host().to_owned(),
        context: context.to_owned(),
        detail: detail.to_owned(),
    })
}

/// A contract at `address`, named `label` in errors, its reverts put in words by `describe`.
#[derive(Clone, Copy)]
pub(crate) struct Contract<'a> {
    pub(crate) rpc: &'a Rpc,
    pub(crate) address: Address,
    pub(crate) label: &'static str,
    pub(crate) describe: fn(&[u8]) -> String,
    pub(crate) receipt_timeout: Duration,
}

impl Contract<'_> {
    fn refused(&self, call: &str, reason: String) -> RegistryError {
        RegistryError::Refused {
            registry: self.label,
            contract: self.address,
            call: call.to_owned(),
            reason,
        }
    }

    /// `eth_call`; a revert is [`RegistryError::Refused`] with the error decoded.
    pub(crate) async fn view<C: SolCall>(&self, call: &C, name: &str) -> RegistryResult<C::Return> {
        let to = self.address;
        let req = TransactionRequest::default()
            .to(to)
            .input(Bytes::from(call.abi_encode()).into());
        let p = self.rpc.provider();
        let data = match self.rpc.timed(name, async { p.call(req).await }).await? {
            Ok(d) => d,
            Err(RpcError::ErrorResp(payload)) => {
                let reason = payload
                    .as_revert_data()
                    .map(|d| (self.describe)(&d))
                    .unwrap_or_else(|| self.rpc.scrub(&payload.message));
                return Err(self.refused(name, reason));
            }
            Err(e) => return Err(self.rpc.fail(name, e).into()),
        };
        if data.is_empty() {
            return Err(self.refused(
                name,
                format!("no code answers {name} at {to} (wrong address?)"),
            ));
        }
        C::abi_decode_returns(&data)
            .map_err(|e| bad_answer(self.rpc, name, &format!("return data does not decode: {e}")))
    }

    /// Simulates, fills, signs, sends and waits for one call from `key`.
    pub(crate) async fn send(
        &self,
        key: &Key,
        input: Vec<u8>,
        name: &str,
    ) -> RegistryResult<TransactionReceipt> {
        let to = self.address;
        let p = self.rpc.provider();
        let from = key.address();
        let input = Bytes::from(input);
        let req = TransactionRequest::default()
            .from(from)
            .to(to)
            .input(input.clone().into());
        // Simulate first: a refused call is never signed.
        match self
            .rpc
            .timed(name, async { p.call(req.clone()).await })
            .await?
        {
            Ok(_) => {}
            Err(RpcError::ErrorResp(payload)) => {
                let reason = payload
                    .as_revert_data()
                    .map(|d| (self.describe)(&d))
                    .unwrap_or_else(|| self.rpc.scrub(&payload.message));
                return Err(self.refused(name, reason));
            }
            Err(e) => return Err(self.rpc.fail(name, e).into()),
        }
        let chain_id = self.rpc.chain_id().await?;
        let gas = self
            .rpc
            .timed("eth_estimateGas", async { p.estimate_gas(req).await })
            .await?
            .map_err(|e| self.rpc.fail("eth_estimateGas", e))?;
        let nonce = self
            .rpc
            .timed("eth_getTransactionCount", async {
                p.get_transaction_count(from).pending().await
            })
            .await?
            .map_err(|e| self.rpc.fail("eth_getTransactionCount", e))?;
        let fees = self
            .rpc
            .timed("estimating fees", p.estimate_eip1559_fees())
            .await?
            .map_err(|e| self.rpc.fail("estimating fees", e))?;
        let mut tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit: gas.saturating_add(gas / 5),
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            to: TxKind::Call(to),
            value: U256::ZERO,
            access_list: Default::default(),
            input,
        };
        let sig = key
            .signer()
            .sign_transaction_sync(&mut tx)
            .map_err(|e| Error::Signing {
                what: format!("{name} transaction"),
                detail: e.to_string(),
            })?;
        let raw = TxEnvelope::from(tx.into_signed(sig)).encoded_2718();
        let hash = *self
            .rpc
            .timed("eth_sendRawTransaction", p.send_raw_transaction(&raw))
            .await?
            .map_err(|e| self.rpc.fail("eth_sendRawTransaction", e))?
            .tx_hash();
        let receipt = self.wait(hash).await?;
        if !receipt.status() {
            return Err(RegistryError::Reverted {
                registry: self.label,
                contract: to,
                call: name.to_owned(),
                tx: hash,
                block: receipt.block_number.unwrap_or_default(),
            });
        }
        Ok(receipt)
    }

    pub(crate) async fn wait(&self, hash: B256) -> RegistryResult<TransactionReceipt> {
        let p = self.rpc.provider();
        let deadline = tokio::time::Instant::now() + self.receipt_timeout;
        let mut pause = Duration::from_millis(50);
        loop {
            if let Some(r) = self
                .rpc
                .timed("eth_getTransactionReceipt", p.get_transaction_receipt(hash))
                .await?
                .map_err(|e| self.rpc.fail("eth_getTransactionReceipt", e))?
            {
                return Ok(r);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Timeout {
                    host: self.rpc.host().to_owned(),
                    context: format!("waiting for transaction {hash}"),
                    secs: self.receipt_timeout.as_secs(),
                }
                .into());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
}
