//! Simulation: run a proposal's actions on a local chain (anvil, or an anvil fork of mainnet)
//! as its executor would, and report what changed: ERC-20/721 transfers, ether balances, roles
//! and owners, and the EIP-1967 implementation and admin slots.
//!
//! The executor (timelock or governor) is impersonated (`anvil_impersonateAccount`, funded with
//! `anvil_setBalance` when it lacks the ether the actions send) and the actions run in order
//! inside `evm_snapshot` / `evm_revert`: the chain is put back even when a step fails. A node
//! that does not answer in time gives [`Error::Timeout`].

use alloy::eips::BlockId;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, b256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::{Log, TransactionReceipt, TransactionRequest};
use serde::Serialize;
use steward_core::Action;
use steward_core::verification::{Effect, EffectKind, STORAGE_SAMPLE, role_label};

use crate::error::{Error, Result};
use crate::rpc::Rpc;

/// EIP-1967 implementation slot: `keccak256("eip1967.proxy.implementation") - 1`.
pub const IMPLEMENTATION_SLOT: B256 =
    b256!("360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");
/// EIP-1967 admin slot: `keccak256("eip1967.proxy.admin") - 1`.
pub const ADMIN_SLOT: B256 =
    b256!("b53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103");

/// One action's run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub index: usize,
    pub ok: bool,
    pub gas_used: u64,
    /// The revert reason, when it failed.
    pub error: Option<String>,
}

/// What the simulation saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Simulation {
    pub executor: Address,
    /// The block the simulation started from.
    pub block: u64,
    pub steps: Vec<Step>,
    /// Every change, as effects with origin `simulation`.
    pub effects: Vec<Effect>,
    /// Ether movements come from call traces (`debug_traceTransaction` with `callTracer`: every
    /// internal call with value); `false` when the node cannot trace, and balance changes of the
    /// watched addresses were compared instead.
    pub traced: bool,
}

impl Simulation {
    /// Whether every action ran without reverting.
    pub fn ok(&self) -> bool {
        self.steps.iter().all(|s| s.ok)
    }
}

/// The full calldata of an action (a Bravo signature's selector prepended to its arguments).
pub fn calldata_of(a: &Action) -> Bytes {
    if a.signature.trim().is_empty() {
        a.calldata.clone()
    } else {
        let mut v = keccak256(a.signature.trim().as_bytes())[..4].to_vec();
        v.extend_from_slice(&a.calldata);
        v.into()
    }
}

/// Whether an action is a Tornado-style proposal: `executeProposal()` on a proposal contract,
/// which the governance runs by DELEGATECALL (with its own storage and funds).
pub fn is_delegate_proposal(a: &Action) -> bool {
    let d = calldata_of(a);
    d.len() == 4 && d[..4] == keccak256("executeProposal()")[..4]
}

/// Runtime code put at the executor while a Tornado-style action runs (inside the snapshot,
/// which is always reverted): DELEGATECALLs the address in the first 20 bytes of calldata with
/// the rest of it, and returns or reverts with the answer.
///
/// ```text
/// PUSH1 20 CALLDATASIZE SUB            len = calldatasize - 20
/// DUP1 PUSH1 20 PUSH1 0 CALLDATACOPY   mem[0..len] = calldata[20..]
/// PUSH1 0 PUSH1 0 SWAP2 PUSH1 0        retSize 0, retOffset 0, argsSize len, argsOffset 0
/// PUSH1 0 CALLDATALOAD PUSH1 96 SHR    target
/// GAS DELEGATECALL
/// RETURNDATASIZE PUSH1 0 PUSH1 0 RETURNDATACOPY
/// PUSH1 38 JUMPI  RETURNDATASIZE PUSH1 0 REVERT
/// 38: JUMPDEST RETURNDATASIZE PUSH1 0 RETURN
/// ```
pub const DELEGATE_SHIM: [u8; 43] = alloy::primitives::hex!(
    "601436038060146000376000600091600060003560601c5af43d600060003e6026573d6000fd5b3d6000f3"
);

/// Most internal calls read from one trace (a bigger trace is cut, and says so).
const MAX_TRACE_FRAMES: usize = 100_000;

impl Rpc {
    async fn raw<P, R>(&self, method: &'static str, params: P) -> Result<R>
    where
        P: alloy::rpc::json_rpc::RpcSend,
        R: alloy::rpc::json_rpc::RpcRecv,
    {
        self.timed(method, async {
            self.provider().raw_request(method.into(), params).await
        })
        .await?
        .map_err(|e| self.fail(method, e))
    }

    async fn balance_at(&self, who: Address, block: Option<u64>) -> Result<U256> {
        let ctx = format!("eth_getBalance({who})");
        let id = block.map_or(BlockId::latest(), BlockId::number);
        self.timed(&ctx, async {
            self.provider().get_balance(who).block_id(id).await
        })
        .await?
        .map_err(|e| self.fail(&ctx, e))
    }

    async fn slot_at(&self, who: Address, slot: B256, block: Option<u64>) -> Result<B256> {
        let ctx = format!("eth_getStorageAt({who})");
        let id = block.map_or(BlockId::latest(), BlockId::number);
        self.timed(&ctx, async {
            self.provider()
                .get_storage_at(who, slot.into())
                .block_id(id)
                .await
        })
        .await?
        .map(|v| B256::from(v.to_be_bytes::<32>()))
        .map_err(|e| self.fail(&ctx, e))
    }

    /// Runs `actions` as `executor` on this (local) chain and reverts every change afterwards.
    /// `watch` adds addresses whose ether balance and EIP-1967 slots are compared (the action
    /// targets, the executor and every log emitter are always compared).
    pub async fn simulate(
        &self,
        executor: Address,
        actions: &[Action],
        watch: &[Address],
    ) -> Result<Simulation> {
        let block = self.block_number().await?;
        let snapshot: U256 = self.raw("evm_snapshot", ()).await?;
        let run = self.run(executor, actions, watch, block).await;
        // Put the chain back whatever happened; a failed revert is worth more than the result.
        let stop: Result<serde_json::Value> = self
            .raw("anvil_stopImpersonatingAccount", (executor,))
            .await;
        let reverted: Result<bool> = self.raw("evm_revert", (snapshot,)).await;
        match reverted {
            Ok(true) => {}
            Ok(false) => {
                return Err(Error::BadResponse {
                    host: self.host().to_owned(),
                    context: "evm_revert".into(),
                    detail: format!(
                        "snapshot {snapshot} was not reverted: the chain may keep the simulated changes"
                    ),
                });
            }
            Err(e) => return Err(e),
        }
        stop?;
        run
    }

    async fn run(
        &self,
        executor: Address,
        actions: &[Action],
        watch: &[Address],
        block: u64,
    ) -> Result<Simulation> {
        let _: serde_json::Value = self.raw("anvil_impersonateAccount", (executor,)).await?;
        let needed = actions
            .iter()
            .fold(U256::ZERO, |acc, a| acc.saturating_add(a.value));
        let have = self.balance_at(executor, None).await?;
        // Steps run at a zero base fee and gas price where the node allows it, so the executor's
        // ether is what its own actions spend (a drain shows all of it); else it gets gas money
        // on top of what the actions send.
        let free_gas = self.zero_base_fee().await;
        let gas_money = if free_gas {
            U256::ZERO
        } else {
            U256::from(10u64).pow(U256::from(18u64))
        };
        if have < needed.saturating_add(gas_money) {
            let _: serde_json::Value = self
                .raw(
                    "anvil_setBalance",
                    (executor, needed.saturating_add(gas_money)),
                )
                .await?;
        }
        let executor_before = self.balance_at(executor, None).await?;
        let mut steps = Vec::new();
        let mut logs: Vec<Log> = Vec::new();
        let mut gas_cost = U256::ZERO;
        let mut traced = true;
        let mut eth_moves: Vec<Effect> = Vec::new();
        let mut writes: std::collections::BTreeMap<B256, (B256, B256)> = Default::default();
        for (index, a) in actions.iter().enumerate() {
            // A Tornado-style proposal runs as the governance's DELEGATECALL: the executor's
            // code is a shim for this one step, so the proposal writes the executor's storage and
            // spends its funds, as on execution.
            let delegate = is_delegate_proposal(a);
            let (to, input) = if delegate {
                let mut v = a.target.to_vec();
                v.extend_from_slice(&calldata_of(a));
                (executor, Bytes::from(v))
            } else {
                (a.target, calldata_of(a))
            };
            let saved = if delegate {
                let code = self.code_at(executor).await?;
                let _: serde_json::Value = self
                    .raw(
                        "anvil_setCode",
                        (executor, Bytes::from(DELEGATE_SHIM.to_vec())),
                    )
                    .await?;
                Some(code)
            } else {
                None
            };
            let mut tx = TransactionRequest::default()
                .with_from(executor)
                .with_to(to)
                .with_value(a.value)
                .with_input(input)
                .with_gas_limit(30_000_000);
            if free_gas && self.zero_base_fee().await {
                tx = tx.with_max_fee_per_gas(0).with_max_priority_fee_per_gas(0);
            }
            let ctx = format!("simulating action {index} (to {})", a.target);
            let sent: Result<B256> = self
                .raw("eth_sendTransaction", (tx.clone(),))
                .await
                .map_err(|e| match e {
                    Error::Rpc { host, detail, .. } => Error::Rpc {
                        host,
                        context: ctx.clone(),
                        detail,
                    },
                    other => other,
                });
            let receipt = match sent {
                Ok(hash) => self.receipt(hash, &ctx).await.map(|r| (hash, r)),
                Err(e) => Err(e),
            };
            if let Some(code) = saved {
                let _: serde_json::Value = self.raw("anvil_setCode", (executor, code)).await?;
            }
            let (hash, receipt) = receipt?;
            if receipt.status() {
                if traced {
                    match self.trace_ether(hash).await {
                        Ok(m) => eth_moves.extend(m),
                        Err(e) => {
                            tracing::debug!("no call trace, comparing balances: {e}");
                            traced = false;
                        }
                    }
                }
                if let Ok(w) = self.storage_writes(hash, executor).await {
                    for (slot, before, after) in w {
                        let e = writes.entry(slot).or_insert((before, after));
                        e.1 = after;
                    }
                }
            }
            gas_cost = gas_cost.saturating_add(
                U256::from(receipt.gas_used)
                    .saturating_mul(U256::from(receipt.effective_gas_price)),
            );
            if receipt.status() {
                logs.extend(receipt.inner.logs().iter().cloned());
                steps.push(Step {
                    index,
                    ok: true,
                    gas_used: receipt.gas_used,
                    error: None,
                });
            } else {
                let reason = self.revert_reason(tx).await;
                steps.push(Step {
                    index,
                    ok: false,
                    gas_used: receipt.gas_used,
                    error: Some(reason),
                });
                // Governors execute all actions in one transaction: one revert undoes all.
                break;
            }
        }
        let mut effects = Vec::new();
        let mut touched: Vec<Address> = vec![executor];
        for a in actions {
            touched.push(a.target);
        }
        touched.extend_from_slice(watch);
        for l in &logs {
            for e in effects_of_log(l) {
                if let EffectKind::TokenTransfer { to, from, .. } = &e.kind {
                    touched.push(*to);
                    touched.extend(from);
                }
                effects.push(e);
            }
            touched.push(l.address());
        }
        if traced {
            effects.append(&mut eth_moves);
        }
        let changed: Vec<(B256, B256, B256)> = writes
            .into_iter()
            .filter(|(_, (b, a))| b != a)
            .map(|(s, (b, a))| (s, b, a))
            .collect();
        if !changed.is_empty() {
            effects.push(Effect::simulated(EffectKind::StorageWrite {
                contract: executor,
                count: changed.len(),
                sample: changed.into_iter().take(STORAGE_SAMPLE).collect(),
            }));
        }
        touched.sort();
        touched.dedup();
        for who in &touched {
            let before = if *who == executor {
                executor_before
            } else {
                self.balance_at(*who, Some(block)).await?
            };
            let mut after = self.balance_at(*who, None).await?;
            if *who == executor {
                after = after.saturating_add(gas_cost);
            }
            if !traced && after > before && *who != executor {
                effects.push(Effect::simulated(EffectKind::EthTransfer {
                    from: None,
                    to: *who,
                    amount: after - before,
                }));
            }
            for (slot, name) in [
                (IMPLEMENTATION_SLOT, "EIP-1967 implementation"),
                (ADMIN_SLOT, "EIP-1967 admin"),
            ] {
                let b = self.slot_at(*who, slot, Some(block)).await?;
                let a = self.slot_at(*who, slot, None).await?;
                if a != b {
                    effects.push(Effect::simulated(EffectKind::SlotChange {
                        contract: *who,
                        slot: name.into(),
                        before: Address::from_word(b).to_checksum(None),
                        after: Address::from_word(a).to_checksum(None),
                    }));
                }
            }
        }
        Ok(Simulation {
            executor,
            block,
            steps,
            effects,
            traced,
        })
    }

    /// Sets the next block's base fee to zero (anvil); whether the node agreed.
    async fn zero_base_fee(&self) -> bool {
        let r: Result<serde_json::Value> = self
            .raw("anvil_setNextBlockBaseFeePerGas", (U256::ZERO,))
            .await;
        r.is_ok()
    }

    /// Ether moved by the internal calls of a mined transaction (`callTracer`): every call,
    /// create or self-destruct with value below the top frame, skipping frames that reverted.
    async fn trace_ether(&self, hash: B256) -> Result<Vec<Effect>> {
        let trace: serde_json::Value = self
            .raw(
                "debug_traceTransaction",
                (hash, serde_json::json!({"tracer": "callTracer"})),
            )
            .await?;
        ether_of_trace(&trace).map_err(|detail| Error::BadResponse {
            host: self.host().to_owned(),
            context: format!("debug_traceTransaction({hash}) callTracer"),
            detail,
        })
    }

    /// Storage slots of `who` that a mined transaction changed (`prestateTracer` in diff mode).
    async fn storage_writes(&self, hash: B256, who: Address) -> Result<Vec<(B256, B256, B256)>> {
        let diff: serde_json::Value = self
            .raw(
                "debug_traceTransaction",
                (
                    hash,
                    serde_json::json!({"tracer": "prestateTracer", "tracerConfig": {"diffMode": true}}),
                ),
            )
            .await?;
        Ok(storage_of_diff(&diff, who))
    }

    async fn receipt(&self, hash: B256, ctx: &str) -> Result<TransactionReceipt> {
        // anvil mines on send, so the first polls come fast (1, 2, 4 … ms), then every 25 ms
        // up to about 10 s in all.
        let mut wait_ms = 1u64;
        for _ in 0..410 {
            let r = self
                .timed(ctx, async {
                    self.provider().get_transaction_receipt(hash).await
                })
                .await?
                .map_err(|e| self.fail(ctx, e))?;
            if let Some(r) = r {
                return Ok(r);
            }
            tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
            wait_ms = (wait_ms * 2).min(25);
        }
        Err(Error::BadResponse {
            host: self.host().to_owned(),
            context: ctx.to_owned(),
            detail: format!("transaction {hash} was not mined (is automine off?)"),
        })
    }

    async fn revert_reason(&self, tx: TransactionRequest) -> String {
        let r = self
            .timed("eth_call", async { self.provider().call(tx).await })
            .await;
        match r {
            Ok(Err(alloy::transports::RpcError::ErrorResp(p))) => {
                let mut msg = p.message.to_string();
                if let Some(data) = p.as_revert_data()
                    && let Some(reason) = alloy::sol_types::decode_revert_reason(&data)
                {
                    msg = format!("{msg}: {reason}");
                }
                msg
            }
            _ => "reverted (no reason given)".into(),
        }
    }
}

/// Ether movements in a `callTracer` result. Errors name what is malformed.
pub fn ether_of_trace(trace: &serde_json::Value) -> std::result::Result<Vec<Effect>, String> {
    let addr = |v: &serde_json::Value, field: &str| -> std::result::Result<Address, String> {
        v.get(field)
            .and_then(|x| x.as_str())
            .ok_or_else(|| format!("a call frame has no {field}"))?
            .parse()
            .map_err(|e| format!("call frame {field}: {e}"))
    };
    let mut out = Vec::new();
    // The top frame's value is the action's own (the payload states it): start below it.
    let mut stack: Vec<&serde_json::Value> = match trace.get("calls") {
        Some(serde_json::Value::Array(c)) => c.iter().collect(),
        Some(serde_json::Value::Null) | None => Vec::new(),
        Some(_) => return Err("calls is not a list".into()),
    };
    if trace.get("type").is_none() {
        return Err("not a callTracer frame (no type)".into());
    }
    let mut frames = 0usize;
    while let Some(f) = stack.pop() {
        frames += 1;
        if frames > MAX_TRACE_FRAMES {
            return Err(format!("more than {MAX_TRACE_FRAMES} call frames"));
        }
        // A reverted frame moved nothing, nor did anything under it.
        if f.get("error").is_some_and(|e| !e.is_null()) {
            continue;
        }
        let kind = f.get("type").and_then(|t| t.as_str()).unwrap_or("");
        let value = match f.get("value").and_then(|v| v.as_str()) {
            Some(v) => v
                .parse::<U256>()
                .map_err(|e| format!("call frame value {v:?}: {e}"))?,
            None => U256::ZERO,
        };
        if !value.is_zero() && matches!(kind, "CALL" | "CREATE" | "CREATE2" | "SELFDESTRUCT") {
            out.push(Effect::simulated(EffectKind::EthTransfer {
                from: Some(addr(f, "from")?),
                to: addr(f, "to")?,
                amount: value,
            }));
        }
        if let Some(serde_json::Value::Array(c)) = f.get("calls") {
            stack.extend(c.iter().rev());
        }
    }
    Ok(out)
}

/// The storage of `who` changed in a `prestateTracer` diff: (slot, before, after).
pub fn storage_of_diff(diff: &serde_json::Value, who: Address) -> Vec<(B256, B256, B256)> {
    let side = |name: &str| -> std::collections::BTreeMap<B256, B256> {
        diff.get(name)
            .and_then(|m| m.as_object())
            .and_then(|m| {
                m.iter()
                    .find(|(k, _)| k.parse::<Address>().is_ok_and(|a| a == who))
                    .map(|(_, v)| v)
            })
            .and_then(|acct| acct.get("storage"))
            .and_then(|st| st.as_object())
            .map(|st| {
                st.iter()
                    .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_str()?.parse().ok()?)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (pre, post) = (side("pre"), side("post"));
    let mut slots: Vec<B256> = pre.keys().chain(post.keys()).copied().collect();
    slots.sort();
    slots.dedup();
    slots
        .into_iter()
        .filter_map(|s| {
            let before = pre.get(&s).copied().unwrap_or_default();
            let after = post.get(&s).copied().unwrap_or_default();
            (before != after).then_some((s, before, after))
        })
        .collect()
}

fn topic_address(t: &B256) -> Address {
    Address::from_word(*t)
}

/// The effect a log records, for the events that matter (the first, for an ERC-1155 batch).
pub fn effect_of_log(l: &Log) -> Option<Effect> {
    effects_of_log(l).into_iter().next()
}

/// The effects a log records: one per event, one per id of an ERC-1155 `TransferBatch`.
pub fn effects_of_log(l: &Log) -> Vec<Effect> {
    let topics = l.topics();
    let data = &l.data().data;
    let word = |i: usize| {
        let at = i.checked_mul(32)?;
        data.get(at..at.checked_add(32)?).map(U256::from_be_slice)
    };
    let erc1155 = |from: &B256, to: &B256, id: U256, value: U256| {
        Effect::simulated(EffectKind::TokenTransfer {
            token: Some(l.address()),
            from: Some(topic_address(from)),
            to: topic_address(to),
            amount: value,
            via: Some(format!("ERC-1155 id {id}")),
        })
    };
    if topics.len() == 4
        && topics[0] == keccak256("TransferSingle(address,address,address,uint256,uint256)")
    {
        return match (word(0), word(1)) {
            (Some(id), Some(v)) => vec![erc1155(&topics[2], &topics[3], id, v)],
            _ => Vec::new(),
        };
    }
    if topics.len() == 4
        && topics[0] == keccak256("TransferBatch(address,address,address,uint256[],uint256[])")
    {
        // Two dynamic arrays: offsets, then each array's length and items. Malformed data
        // (offsets past the end, lengths that differ) records nothing rather than guessing.
        let array = |at: Option<U256>| -> Option<Vec<U256>> {
            let at = usize::try_from(at?).ok()?;
            if at % 32 != 0 {
                return None;
            }
            let n = usize::try_from(word(at / 32)?).ok()?;
            if n > data.len() / 32 {
                return None;
            }
            (0..n).map(|i| word(at / 32 + 1 + i)).collect()
        };
        return match (array(word(0)), array(word(1))) {
            (Some(ids), Some(vs)) if ids.len() == vs.len() => ids
                .into_iter()
                .zip(vs)
                .map(|(id, v)| erc1155(&topics[2], &topics[3], id, v))
                .collect(),
            _ => Vec::new(),
        };
    }
    single_effect_of_log(l).into_iter().collect()
}

fn single_effect_of_log(l: &Log) -> Option<Effect> {
    let topics = l.topics();
    let sig = *topics.first()?;
    let data = &l.data().data;
    let word = |i: usize| data.get(i * 32..i * 32 + 32).map(U256::from_be_slice);
    let emitter = l.address();
    let transfer = keccak256("Transfer(address,address,uint256)");
    let kind = if sig == transfer && topics.len() == 3 {
        EffectKind::TokenTransfer {
            token: Some(emitter),
            from: Some(topic_address(&topics[1])),
            to: topic_address(&topics[2]),
            amount: word(0)?,
            via: None,
        }
    } else if sig == transfer && topics.len() == 4 {
        EffectKind::TokenTransfer {
            token: Some(emitter),
            from: Some(topic_address(&topics[1])),
            to: topic_address(&topics[2]),
            amount: U256::from(1u8),
            via: Some(format!("NFT id {}", U256::from_be_bytes(topics[3].0))),
        }
    } else if sig == keccak256("RoleGranted(bytes32,address,address)") && topics.len() == 4 {
        EffectKind::PermissionChange {
            contract: emitter,
            what: format!("role {} granted", role_label(&topics[1])),
            account: Some(topic_address(&topics[2])),
        }
    } else if sig == keccak256("RoleRevoked(bytes32,address,address)") && topics.len() == 4 {
        EffectKind::PermissionChange {
            contract: emitter,
            what: format!("role {} revoked", role_label(&topics[1])),
            account: Some(topic_address(&topics[2])),
        }
    } else if sig == keccak256("OwnershipTransferred(address,address)") && topics.len() == 3 {
        EffectKind::PermissionChange {
            contract: emitter,
            what: "owner".into(),
            account: Some(topic_address(&topics[2])),
        }
    } else if sig == keccak256("Upgraded(address)") && topics.len() == 2 {
        EffectKind::Upgrade {
            proxy: emitter,
            implementation: Some(topic_address(&topics[1])),
        }
    } else if sig == keccak256("AdminChanged(address,address)") {
        EffectKind::PermissionChange {
            contract: emitter,
            what: "proxy admin".into(),
            account: data.get(44..64).map(Address::from_slice),
        }
    } else {
        return None;
    };
    Some(Effect::simulated(kind))
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{LogData, address};
    use serde_json::json;

    use super::*;

    fn log(topics: Vec<B256>, data: Vec<u8>) -> Log {
        Log {
            inner: alloy::primitives::Log {
                address: address!("00000000000000000000000000000000000000aa"),
                data: LogData::new_unchecked(topics, data.into()),
            },
            ..Default::default()
        }
    }

    fn words(ws: &[u64]) -> Vec<u8> {
        ws.iter()
            .flat_map(|w| U256::from(*w).to_be_bytes::<32>())
            .collect()
    }

    #[test]
    fn erc1155_batches_decode_and_malformed_ones_record_nothing() {
        let sig = keccak256("TransferBatch(address,address,address,uint256[],uint256[])");
        let t = |n: u8| B256::left_padding_from(&[n]);
        let topics = vec![sig, t(1), t(2), t(3)];
        // ids [7, 8], values [10, 5]
        let good = words(&[64, 160, 2, 7, 8, 2, 10, 5]);
        let e = effects_of_log(&log(topics.clone(), good));
        assert_eq!(e.len(), 2);
        let bad = [
            words(&[64, 160, 2, 7, 8, 1, 10]),       // lengths differ
            words(&[64, 9_999_999, 2, 7, 8]),        // offset past the end
            words(&[64, 160, u64::MAX, 7, 8, 2, 1]), // a length beyond the data
            words(&[65, 160]),                       // an unaligned offset
            words(&[u64::MAX - 31, 0]),              // an offset whose word overflows
            vec![1, 2, 3],                           // no words at all
        ];
        for b in bad {
            assert!(effects_of_log(&log(topics.clone(), b)).is_empty());
        }
        let single = keccak256("TransferSingle(address,address,address,uint256,uint256)");
        assert_eq!(
            effects_of_log(&log(vec![single, t(1), t(2), t(3)], words(&[7, 40]))).len(),
            1
        );
        assert!(effects_of_log(&log(vec![single, t(1), t(2), t(3)], words(&[7]))).is_empty());
    }

    #[test]
    fn traces_give_inner_ether_and_bad_ones_are_named_errors() {
        let a = "0x00000000000000000000000000000000000000a1";
        let b = "0x00000000000000000000000000000000000000b2";
        let trace = json!({"type": "CALL", "from": a, "to": a, "value": "0x5", "calls": [
            {"type": "CALL", "from": a, "to": b, "value": "0x3"},
            {"type": "DELEGATECALL", "from": a, "to": b, "value": "0x9"},
            {"type": "CALL", "from": a, "to": b, "value": "0x7", "error": "execution reverted",
             "calls": [{"type": "CALL", "from": b, "to": a, "value": "0x1"}]},
        ]});
        let e = ether_of_trace(&trace).expect("trace");
        assert_eq!(
            e.len(),
            1,
            "only the call that moved ether and did not revert: {e:?}"
        );
        for (bad, why) in [
            (json!({"type": "CALL", "calls": 3}), "calls is not a list"),
            (json!({"calls": []}), "no type"),
            (
                json!({"type": "CALL", "calls": [{"type": "CALL", "from": a, "to": b, "value": "0xzz"}]}),
                "value",
            ),
            (
                json!({"type": "CALL", "calls": [{"type": "CALL", "to": b, "value": "0x1"}]}),
                "no from",
            ),
        ] {
            let err = ether_of_trace(&bad).expect_err("malformed");
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn storage_diffs_name_changed_slots_only() {
        let who = address!("00000000000000000000000000000000000000a1");
        let s59 = format!("{:#066x}", 59);
        let s1 = format!("{:#066x}", 1);
        let one = format!("{:#066x}", 1);
        let diff = json!({
            "pre": {"0x00000000000000000000000000000000000000a1": {"storage": {s1.clone(): one}}},
            "post": {"0x00000000000000000000000000000000000000A1": {"storage": {s59.clone(): format!("{:#066x}", 7)}}},
        });
        let w = storage_of_diff(&diff, who);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(storage_of_diff(&json!({"pre": 3}), who).is_empty());
    }

    #[test]
    fn the_shim_is_the_assembly_it_documents() {
        // JUMPDEST where the JUMPI goes.
        assert_eq!(DELEGATE_SHIM[38], 0x5b);
        assert_eq!(DELEGATE_SHIM[32], 0x26);
        assert!(DELEGATE_SHIM.contains(&0xf4), "DELEGATECALL");
    }
}
