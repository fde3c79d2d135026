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
use steward_core::verification::{Effect, EffectKind};

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
        // Gas money on top of what the actions send.
        let gas_money = U256::from(10u64).pow(U256::from(18u64));
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
        for (index, a) in actions.iter().enumerate() {
            let tx = TransactionRequest::default()
                .with_from(executor)
                .with_to(a.target)
                .with_value(a.value)
                .with_input(calldata_of(a))
                .with_gas_limit(30_000_000);
            let ctx = format!("simulating action {index} (to {})", a.target);
            let hash: B256 = self
                .raw("eth_sendTransaction", (tx.clone(),))
                .await
                .map_err(|e| match e {
                    Error::Rpc { host, detail, .. } => Error::Rpc {
                        host,
                        context: ctx.clone(),
                        detail,
                    },
                    other => other,
                })?;
            let receipt = self.receipt(hash, &ctx).await?;
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
            if let Some(e) = effect_of_log(l) {
                if let EffectKind::TokenTransfer { to, from, .. } = &e.kind {
                    touched.push(*to);
                    touched.extend(from);
                }
                effects.push(e);
            }
            touched.push(l.address());
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
            if after > before && *who != executor {
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
        })
    }

    async fn receipt(&self, hash: B256, ctx: &str) -> Result<TransactionReceipt> {
        for _ in 0..400 {
            let r = self
                .timed(ctx, async {
                    self.provider().get_transaction_receipt(hash).await
                })
                .await?
                .map_err(|e| self.fail(ctx, e))?;
            if let Some(r) = r {
                return Ok(r);
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
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

fn topic_address(t: &B256) -> Address {
    Address::from_word(*t)
}

/// The effect a log records, for the events that matter.
pub fn effect_of_log(l: &Log) -> Option<Effect> {
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
            what: format!("role {} granted", short_role(&topics[1])),
            account: Some(topic_address(&topics[2])),
        }
    } else if sig == keccak256("RoleRevoked(bytes32,address,address)") && topics.len() == 4 {
        EffectKind::PermissionChange {
            contract: emitter,
            what: format!("role {} revoked", short_role(&topics[1])),
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

fn short_role(r: &B256) -> String {
    if r.is_zero() {
        "DEFAULT_ADMIN".into()
    } else {
        format!("{}…", &r.to_string()[..10])
    }
}
