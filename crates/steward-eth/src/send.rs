//! One contract call from a local key, the way every Steward transaction goes out: simulated
//! first (a call the chain would refuse is never signed, and the refusal comes back in words),
//! then filled (pending nonce, gas estimate + 20 %, EIP-1559 fees), signed and, for callers that
//! send at once, sent. Shared by Governor votes (`cast.rs`, which stores the signed bytes before
//! sending), the attention-bond escrow (`bonds.rs`) and the ERC-8004 registries and suggestion
//! market (`contract.rs`).

use alloy::consensus::{SignableTransaction, Signed, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, B256, Bytes, TxKind, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::transports::RpcError;

use crate::error::{Error, Result};
use crate::keystore::Key;
use crate::rpc::Rpc;

/// What a simulated call did.
#[derive(Debug)]
pub(crate) enum Simulated {
    Ok,
    /// The chain refused it; the reason in words (the revert decoded by the caller's
    /// `describe`, else the node's message with the RPC's secret URL scrubbed).
    Refused(String),
}

/// The request of a call of `input` on `to` from `from`.
pub(crate) fn request(from: Address, to: Address, input: &Bytes) -> TransactionRequest {
    TransactionRequest::default()
        .from(from)
        .to(to)
        .input(input.clone().into())
}

/// `eth_call`s `req` as `what`; a revert is [`Simulated::Refused`], any other failure an error.
pub(crate) async fn simulate(
    rpc: &Rpc,
    req: &TransactionRequest,
    what: &str,
    describe: impl Fn(&[u8]) -> String,
) -> Result<Simulated> {
    let p = rpc.provider();
    match rpc.timed(what, async { p.call(req.clone()).await }).await? {
        Ok(_) => Ok(Simulated::Ok),
        Err(RpcError::ErrorResp(payload)) => Ok(Simulated::Refused(
            payload
                .as_revert_data()
                .map(|d| describe(&d))
                .unwrap_or_else(|| rpc.scrub(&payload.message)),
        )),
        Err(e) => Err(rpc.fail(what, e)),
    }
}

/// Fills and signs a call of `input` on `to` from `key` on chain `chain_id`; sends nothing.
/// `what` names the transaction in a signing error.
pub(crate) async fn fill_and_sign(
    rpc: &Rpc,
    key: &Key,
    chain_id: u64,
    to: Address,
    input: Bytes,
    what: &str,
) -> Result<Signed<TxEip1559>> {
    let p = rpc.provider();
    let from = key.address();
    let req = request(from, to, &input);
    let gas = rpc
        .timed("eth_estimateGas", async { p.estimate_gas(req).await })
        .await?
        .map_err(|e| rpc.fail("eth_estimateGas", e))?;
    let nonce = rpc
        .timed("eth_getTransactionCount", async {
            p.get_transaction_count(from).pending().await
        })
        .await?
        .map_err(|e| rpc.fail("eth_getTransactionCount", e))?;
    let fees = rpc
        .timed("estimating fees", p.estimate_eip1559_fees())
        .await?
        .map_err(|e| rpc.fail("estimating fees", e))?;
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
            what: what.to_owned(),
            detail: e.to_string(),
        })?;
    Ok(tx.into_signed(sig))
}

/// The raw bytes of a signed transaction, as `eth_sendRawTransaction` takes them.
pub(crate) fn raw(signed: Signed<TxEip1559>) -> Vec<u8> {
    TxEnvelope::from(signed).encoded_2718()
}

/// Sends signed bytes; the transaction's hash.
pub(crate) async fn send_raw(rpc: &Rpc, raw: &[u8]) -> Result<B256> {
    let p = rpc.provider();
    Ok(*rpc
        .timed("eth_sendRawTransaction", p.send_raw_transaction(raw))
        .await?
        .map_err(|e| rpc.fail("eth_sendRawTransaction", e))?
        .tx_hash())
}
