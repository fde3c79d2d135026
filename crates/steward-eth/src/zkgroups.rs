//! Steward's Semaphore-style group contract (`contracts/StewardGroups.sol`): groups of identity
//! commitments as on-chain incremental Poseidon trees, and anonymous signals (votes) checked
//! against a root the group has had, an unused nullifier and the generated Groth16 verifier.
//! This client reads groups and their `MemberAdded` events and sends transactions the way the
//! other Steward contracts do (simulated first, a refusal decoded and never signed). The proofs
//! themselves come from steward-zk; this crate only carries their words.

use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::rpc::types::{Filter, TransactionReceipt};
use alloy::sol_types::{SolCall, SolEvent, SolInterface};
use serde::Serialize;

use crate::contract::{Contract, bad_answer};
use crate::erc8004::{Mined, RegistryError, RegistryResult};
use crate::governor::{DEFAULT_PAGE_BLOCKS, paged_logs};
use crate::keystore::Key;
use crate::rpc::Rpc;

#[allow(missing_docs, unreachable_pub, missing_debug_implementations)]
mod abi {
    alloy::sol! {
        interface IStewardGroups {
            function groupCount() external view returns (uint256);
            function createGroup(uint256 depth, address admin) external returns (uint256 groupId);
            function addMember(uint256 groupId, uint256 commitment) external;
            function getGroup(uint256 groupId) external view returns (address admin, uint256 depth, uint256 size, uint256 root);
            function isRoot(uint256 groupId, uint256 root) external view returns (bool);
            function nullifierUsed(uint256 groupId, uint256 nullifierHash) external view returns (bool);
            function signal(uint256 groupId, uint256 root, uint256 nullifierHash, string scope, string message, uint256[8] proof) external;
            function tally(uint256 groupId, string scope, string message) external view returns (uint256);
            event GroupCreated(uint256 indexed groupId, uint256 depth, address indexed admin);
            event MemberAdded(uint256 indexed groupId, uint256 index, uint256 commitment, uint256 root);
            event Signalled(uint256 indexed groupId, uint256 indexed scopeHash, uint256 nullifierHash, uint256 root, string scope, string message);
        }

        interface IStewardSemaphoreVerifier {
            function verifyProof(uint256 root, uint256 nullifierHash, uint256 signalHash, uint256 scopeHash, uint256[8] proof, uint256 depth) external view returns (bool);
        }

        #[sol(all_derives)]
        interface GroupsErrors {
            error UnknownGroup(uint256 groupId);
            error UnsupportedDepth(uint256 depth);
            error NotGroupAdmin(uint256 groupId, address caller);
            error BadCommitment(uint256 commitment);
            error DuplicateMember(uint256 groupId, uint256 commitment);
            error GroupFull(uint256 groupId, uint256 capacity);
            error UnknownRoot(uint256 groupId, uint256 root);
            error NullifierUsed(uint256 groupId, uint256 nullifierHash);
            error InvalidProof(uint256 groupId);
        }
    }
}

use abi::{GroupsErrors, IStewardGroups, IStewardSemaphoreVerifier};

/// A group as the contract keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainGroup {
    pub group_id: U256,
    pub admin: Address,
    pub depth: usize,
    pub size: u64,
    /// The current root (the empty tree's while there are no members).
    pub root: U256,
}

/// A signal as the contract takes it: the words `steward zk prove` prints, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSignal {
    pub root: U256,
    pub nullifier: U256,
    pub scope: String,
    pub message: String,
    pub proof: [U256; 8],
}

/// The four public inputs of a Semaphore proof and the proof, as the verifier takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofInputs {
    pub root: U256,
    pub nullifier: U256,
    /// keccak256 of the message, shifted right 8 bits.
    pub signal_hash: U256,
    /// keccak256 of the scope, shifted right 8 bits.
    pub scope_hash: U256,
    pub proof: [U256; 8],
    pub depth: usize,
}

/// A client of one generated `StewardSemaphoreVerifier`.
#[derive(Debug, Clone)]
pub struct SemaphoreVerifier {
    rpc: Rpc,
    address: Address,
}

impl SemaphoreVerifier {
    pub fn new(rpc: Rpc, address: Address) -> Self {
        Self { rpc, address }
    }

    fn call(p: &ProofInputs) -> IStewardSemaphoreVerifier::verifyProofCall {
        IStewardSemaphoreVerifier::verifyProofCall {
            root: p.root,
            nullifierHash: p.nullifier,
            signalHash: p.signal_hash,
            scopeHash: p.scope_hash,
            proof: p.proof,
            depth: U256::from(p.depth),
        }
    }

    /// Whether the contract accepts the proof (a depth without a key is refused).
    pub async fn verify(&self, p: &ProofInputs) -> RegistryResult<bool> {
        let c = Contract {
            rpc: &self.rpc,
            address: self.address,
            label: "semaphore verifier",
            describe: describe_verifier_revert,
            receipt_timeout: Duration::from_secs(120),
        };
        c.view(&Self::call(p), "verifyProof").await
    }

    /// The least gas limit of a call with which `verifyProof` accepts `p`, or `None` when it
    /// does not accept it at all. (`eth_estimateGas` cannot measure this: with too little gas
    /// the pairing precompile fails and the verifier returns false without reverting.)
    pub async fn verify_gas(&self, p: &ProofInputs) -> RegistryResult<Option<u64>> {
        let (mut lo, mut hi) = (21_000u64, 3_000_000u64);
        if !self.accepts_with_gas(p, hi).await? {
            return Ok(None);
        }
        while hi - lo > 64 {
            let mid = lo + (hi - lo) / 2;
            if self.accepts_with_gas(p, mid).await? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(Some(hi))
    }

    async fn accepts_with_gas(&self, p: &ProofInputs, gas: u64) -> RegistryResult<bool> {
        use alloy::providers::Provider;
        let req = alloy::rpc::types::TransactionRequest::default()
            .to(self.address)
            .gas_limit(gas)
            .input(alloy::primitives::Bytes::from(Self::call(p).abi_encode()).into());
        let provider = self.rpc.provider();
        let out = self
            .rpc
            .timed("eth_call", async { provider.call(req).await })
            .await?;
        Ok(match out {
            Ok(data) => IStewardSemaphoreVerifier::verifyProofCall::abi_decode_returns(&data)
                .unwrap_or(false),
            // Out of gas before the pairing: not accepted at this limit.
            Err(alloy::transports::RpcError::ErrorResp(_)) => false,
            Err(e) => return Err(self.rpc.fail("eth_call", e).into()),
        })
    }
}

fn describe_verifier_revert(data: &[u8]) -> String {
    use GroupsErrors::GroupsErrorsErrors as E;
    match E::abi_decode(data) {
        Ok(E::UnsupportedDepth(e)) => format!(
            "UnsupportedDepth: the verifier has keys for depths 16, 20 and 30, not {}",
            e.depth
        ),
        _ => crate::erc8004::describe_registry_revert(data),
    }
}

/// A mined signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignalSent {
    pub group_id: U256,
    pub nullifier: U256,
    #[serde(flatten)]
    pub mined: Mined,
}

/// A client of one `StewardGroups` contract.
#[derive(Debug, Clone)]
pub struct StewardGroups {
    rpc: Rpc,
    address: Address,
}

impl StewardGroups {
    pub fn new(rpc: Rpc, address: Address) -> Self {
        Self { rpc, address }
    }

    pub fn address(&self) -> Address {
        self.address
    }

    fn contract(&self) -> Contract<'_> {
        Contract {
            rpc: &self.rpc,
            address: self.address,
            label: "zk groups",
            describe: describe_groups_revert,
            receipt_timeout: Duration::from_secs(120),
        }
    }

    /// The group, or `None` when the contract has no group `group_id`.
    pub async fn group(&self, group_id: U256) -> RegistryResult<Option<ChainGroup>> {
        let call = IStewardGroups::getGroupCall { groupId: group_id };
        match self.contract().view(&call, "getGroup").await {
            Ok(r) => Ok(Some(ChainGroup {
                group_id,
                admin: r.admin,
                depth: usize::try_from(r.depth)
                    .map_err(|_| bad_answer(&self.rpc, "getGroup", "depth out of range"))?,
                size: u64::try_from(r.size)
                    .map_err(|_| bad_answer(&self.rpc, "getGroup", "size out of range"))?,
                root: r.root,
            })),
            Err(RegistryError::Refused { reason, .. }) if reason.starts_with("UnknownGroup") => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The group's members in leaf order, from its `MemberAdded` events since block `from`.
    /// Refused unless the events number the leaves 0, 1, 2, ... and there are `expected` of them
    /// (a node that dropped or invented events would give another tree).
    pub async fn members(
        &self,
        group_id: U256,
        from: u64,
        expected: u64,
    ) -> RegistryResult<Vec<U256>> {
        let latest = self.rpc.block_number().await?;
        let filter = Filter::new()
            .address(self.address)
            .event_signature(IStewardGroups::MemberAdded::SIGNATURE_HASH)
            .topic1(group_id);
        let what = format!("MemberAdded of group {group_id} at {}", self.address);
        let logs = paged_logs(&self.rpc, DEFAULT_PAGE_BLOCKS, &filter, &what, from, latest).await?;
        let mut members = Vec::with_capacity(logs.len());
        for log in &logs {
            let ev = IStewardGroups::MemberAdded::decode_log_data(log.data()).map_err(|e| {
                bad_answer(
                    &self.rpc,
                    "MemberAdded",
                    &format!("a log does not decode: {e}"),
                )
            })?;
            if ev.index != U256::from(members.len()) {
                return Err(bad_answer(
                    &self.rpc,
                    "MemberAdded",
                    &format!(
                        "group {group_id}: event for leaf {} where leaf {} was next (from block {from}: were earlier blocks skipped?)",
                        ev.index,
                        members.len()
                    ),
                ));
            }
            members.push(ev.commitment);
        }
        if members.len() as u64 != expected {
            return Err(bad_answer(
                &self.rpc,
                "MemberAdded",
                &format!(
                    "group {group_id} has {expected} members but {} MemberAdded events were found from block {from}",
                    members.len()
                ),
            ));
        }
        Ok(members)
    }

    /// Whether `root` is one the group has had.
    pub async fn is_root(&self, group_id: U256, root: U256) -> RegistryResult<bool> {
        let call = IStewardGroups::isRootCall {
            groupId: group_id,
            root,
        };
        self.contract().view(&call, "isRoot").await
    }

    /// Whether a signal with this nullifier was accepted in the group.
    pub async fn nullifier_used(&self, group_id: U256, nullifier: U256) -> RegistryResult<bool> {
        let call = IStewardGroups::nullifierUsedCall {
            groupId: group_id,
            nullifierHash: nullifier,
        };
        self.contract().view(&call, "nullifierUsed").await
    }

    /// How many accepted signals in `scope` said `message`.
    pub async fn tally(&self, group_id: U256, scope: &str, message: &str) -> RegistryResult<U256> {
        let call = IStewardGroups::tallyCall {
            groupId: group_id,
            scope: scope.to_owned(),
            message: message.to_owned(),
        };
        self.contract().view(&call, "tally").await
    }

    /// Creates a group of `depth` administered by `admin`; returns its id.
    pub async fn create_group(
        &self,
        key: &Key,
        depth: usize,
        admin: Address,
    ) -> RegistryResult<(U256, Mined)> {
        let call = IStewardGroups::createGroupCall {
            depth: U256::from(depth),
            admin,
        };
        let r = self
            .contract()
            .send(key, call.abi_encode(), "createGroup")
            .await?;
        let ev = self
            .event::<IStewardGroups::GroupCreated>(&r)
            .ok_or_else(|| bad_answer(&self.rpc, "createGroup", "no GroupCreated event"))?;
        Ok((ev.groupId, mined(&r)))
    }

    /// Appends `commitment` to the group (the key must be its admin).
    pub async fn add_member(
        &self,
        key: &Key,
        group_id: U256,
        commitment: U256,
    ) -> RegistryResult<Mined> {
        let call = IStewardGroups::addMemberCall {
            groupId: group_id,
            commitment,
        };
        let r = self
            .contract()
            .send(key, call.abi_encode(), "addMember")
            .await?;
        Ok(mined(&r))
    }

    /// Sends a signal from `key` (who pays the gas: see docs/privacy.md on sending from an
    /// account not linked to you).
    pub async fn signal(
        &self,
        key: &Key,
        group_id: U256,
        s: &ChainSignal,
    ) -> RegistryResult<SignalSent> {
        let r = self
            .contract()
            .send(key, signal_calldata(group_id, s), "signal")
            .await?;
        let ev = self
            .event::<IStewardGroups::Signalled>(&r)
            .ok_or_else(|| bad_answer(&self.rpc, "signal", "no Signalled event"))?;
        Ok(SignalSent {
            group_id,
            nullifier: ev.nullifierHash,
            mined: mined(&r),
        })
    }

    fn event<E: SolEvent>(&self, r: &TransactionReceipt) -> Option<E> {
        r.logs()
            .iter()
            .filter(|l| l.address() == self.address)
            .find_map(|l| E::decode_log_data(l.data()).ok())
    }
}

/// The calldata of a signal (for a relayer, or a test that sends it itself).
pub fn signal_calldata(group_id: U256, s: &ChainSignal) -> Vec<u8> {
    IStewardGroups::signalCall {
        groupId: group_id,
        root: s.root,
        nullifierHash: s.nullifier,
        scope: s.scope.clone(),
        message: s.message.clone(),
        proof: s.proof,
    }
    .abi_encode()
}

fn mined(r: &TransactionReceipt) -> Mined {
    Mined {
        tx: r.transaction_hash,
        block: r.block_number.unwrap_or_default(),
        gas_used: r.gas_used,
    }
}

/// The group contract's revert in words.
pub fn describe_groups_revert(data: &[u8]) -> String {
    use GroupsErrors::GroupsErrorsErrors as E;
    if data.is_empty() {
        // What a contract without this function (and no fallback) answers.
        return "reverted with no reason (is this a StewardGroups contract?)".into();
    }
    match E::abi_decode(data) {
        Ok(E::UnknownGroup(e)) => format!("UnknownGroup: no group {}", e.groupId),
        Ok(E::UnsupportedDepth(e)) => {
            format!("UnsupportedDepth: {} (16, 20 or 30)", e.depth)
        }
        Ok(E::NotGroupAdmin(e)) => format!(
            "NotGroupAdmin: {} is not the admin of group {}",
            e.caller, e.groupId
        ),
        Ok(E::BadCommitment(e)) => format!(
            "BadCommitment: {:#x} is 0 or not below the BN254 scalar field",
            e.commitment
        ),
        Ok(E::DuplicateMember(e)) => format!(
            "DuplicateMember: {:#x} is already in group {}",
            e.commitment, e.groupId
        ),
        Ok(E::GroupFull(e)) => format!(
            "GroupFull: group {} holds {} members",
            e.groupId, e.capacity
        ),
        Ok(E::UnknownRoot(e)) => format!(
            "UnknownRoot: {:#066x} was never a root of group {}",
            e.root, e.groupId
        ),
        Ok(E::NullifierUsed(e)) => format!(
            "NullifierUsed: nullifier {:#066x} already signalled in group {} (a double signal)",
            e.nullifierHash, e.groupId
        ),
        Ok(E::InvalidProof(e)) => format!(
            "InvalidProof: the proof does not verify for group {}'s root, this scope and message",
            e.groupId
        ),
        Err(_) => crate::erc8004::describe_registry_revert(data),
    }
}
