//! One Steward contract on one RPC: `eth_call`s whose reverts are decoded into words, and
//! transactions signed with a local [`Key`] that are simulated first (a refusal is never
//! signed), filled (pending nonce, gas estimate + 20 %, EIP-1559 fees), sent and waited for.
//! Shared by the ERC-8004 registries and the suggestion market.

use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes};
use alloy::providers::Provider;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::sol_types::SolCall;
use alloy::transports::RpcError;

use crate::erc8004::{RegistryError, RegistryResult};
use crate::error::Error;
use crate::keystore::Key;
use crate::rpc::Rpc;
use crate::send;

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
        let input = Bytes::from(input);
        let req = send::request(key.address(), to, &input);
        // Simulate first: a refused call is never signed.
        if let send::Simulated::Refused(reason) =
            send::simulate(self.rpc, &req, name, self.describe).await?
        {
            return Err(self.refused(name, reason));
        }
        let chain_id = self.rpc.chain_id().await?;
        let signed = send::fill_and_sign(
            self.rpc,
            key,
            chain_id,
            to,
            input,
            &format!("{name} transaction"),
        )
        .await?;
        let hash = send::send_raw(self.rpc, &send::raw(signed)).await?;
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
