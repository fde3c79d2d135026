//! Casting votes on OpenZeppelin 5 Governors: `castVoteWithReason` and
//! `castVoteWithReasonAndParams` transactions signed with a local [`Key`] (EIP-1559 fees from the
//! node, the pending nonce, a gas estimate with headroom), reverts decoded into readable errors
//! before anything is signed, receipts checked, and `castVoteBySig` /
//! `castVoteWithReasonAndParamsBySig` signatures (OZ 5 `Ballot` / `ExtendedBallot` EIP-712) for
//! relayers.
//!
//! Submission is split so the caller can record the transaction before it leaves:
//! [`GovernorCaster::prepare`] simulates, fills and signs (nothing is sent), the caller persists
//! the [`SignedVoteTx`]'s hash, then [`GovernorCaster::submit`] broadcasts and
//! [`GovernorCaster::wait_receipt`] waits for it.

use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::sol;
use alloy::sol_types::{Eip712Domain, SolCall, SolEvent, SolInterface, SolStruct};
use alloy::transports::RpcError;

use crate::bindings::GovernorEvents;
use crate::error::{Error, Result};
use crate::keystore::Key;
use crate::rpc::Rpc;
use crate::send;

#[allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    clippy::too_many_arguments
)]
mod abi {
    alloy::sol! {
        interface IGovernorVote {
            function castVoteWithReason(uint256 proposalId, uint8 support, string reason)
                external returns (uint256);
            function castVoteWithReasonAndParams(
                uint256 proposalId, uint8 support, string reason, bytes params
            ) external returns (uint256);
            function castVoteBySig(uint256 proposalId, uint8 support, address voter, bytes signature)
                external returns (uint256);
            function castVoteWithReasonAndParamsBySig(
                uint256 proposalId, uint8 support, address voter, string reason, bytes params,
                bytes signature
            ) external returns (uint256);
            function hasVoted(uint256 proposalId, address account) external view returns (bool);
            function proposalVotes(uint256 proposalId) external view
                returns (uint256 againstVotes, uint256 forVotes, uint256 abstainVotes);
            function nonces(address owner) external view returns (uint256);
            function eip712Domain() external view returns (
                bytes1 fields, string name, string version, uint256 chainId,
                address verifyingContract, bytes32 salt, uint256[] extensions
            );
        }

        /// OpenZeppelin 5 IGovernor's errors (and ECDSA's), to name a revert.
        #[sol(all_derives)]
        interface IGovernorErrors {
            error GovernorInvalidProposalLength(uint256 targets, uint256 calldatas, uint256 values);
            error GovernorAlreadyCastVote(address voter);
            error GovernorDisabledDeposit();
            error GovernorOnlyExecutor(address account);
            error GovernorNonexistentProposal(uint256 proposalId);
            error GovernorUnexpectedProposalState(uint256 proposalId, uint8 current, bytes32 expectedStates);
            error GovernorInvalidVotingPeriod(uint256 votingPeriod);
            error GovernorInsufficientProposerVotes(address proposer, uint256 votes, uint256 threshold);
            error GovernorRestrictedProposer(address proposer);
            error GovernorInvalidVoteType();
            error GovernorInvalidVoteParams();
            error GovernorInvalidSignature(address voter);
            error InvalidAccountNonce(address account, uint256 currentNonce);
            error ECDSAInvalidSignature();
            error ECDSAInvalidSignatureLength(uint256 length);
            error ECDSAInvalidSignatureS(bytes32 s);
        }
    }
}

use abi::{IGovernorErrors, IGovernorVote};

sol! {
    /// OZ 5 Governor's `Ballot` (castVoteBySig).
    struct Ballot {
        uint256 proposalId;
        uint8 support;
        address voter;
        uint256 nonce;
    }

    /// OZ 5 Governor's `ExtendedBallot` (castVoteWithReasonAndParamsBySig).
    struct ExtendedBallot {
        uint256 proposalId;
        uint8 support;
        address voter;
        uint256 nonce;
        string reason;
        bytes params;
    }
}

/// OpenZeppelin's ProposalState names, by number.
const STATES: [&str; 8] = [
    "Pending",
    "Active",
    "Canceled",
    "Defeated",
    "Succeeded",
    "Queued",
    "Expired",
    "Executed",
];

/// What to vote on a Governor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernorBallot {
    pub proposal_id: U256,
    /// 0 against, 1 for, 2 abstain.
    pub support: u8,
    /// Published in the `VoteCast` event; may be empty.
    pub reason: String,
    /// `Some` for `castVoteWithReasonAndParams` (GovernorCountingFractional and friends).
    pub params: Option<Bytes>,
}

impl GovernorBallot {
    fn calldata(&self) -> Bytes {
        match &self.params {
            None => IGovernorVote::castVoteWithReasonCall {
                proposalId: self.proposal_id,
                support: self.support,
                reason: self.reason.clone(),
            }
            .abi_encode()
            .into(),
            Some(p) => IGovernorVote::castVoteWithReasonAndParamsCall {
                proposalId: self.proposal_id,
                support: self.support,
                reason: self.reason.clone(),
                params: p.clone(),
            }
            .abi_encode()
            .into(),
        }
    }
}

/// A signed, not yet sent, vote transaction.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedVoteTx {
    pub hash: B256,
    pub from: Address,
    pub nonce: u64,
    pub chain_id: u64,
    pub gas_limit: u64,
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
    /// The EIP-2718 encoded transaction, as `eth_sendRawTransaction` takes it.
    pub raw: Bytes,
}

impl std::fmt::Debug for SignedVoteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedVoteTx")
            .field("hash", &self.hash)
            .field("from", &self.from)
            .field("nonce", &self.nonce)
            .field("chain_id", &self.chain_id)
            .finish_non_exhaustive()
    }
}

/// A mined vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteReceipt {
    pub tx: B256,
    pub block: u64,
    pub gas_used: u64,
    /// From the `VoteCast` (or `VoteCastWithParams`) event.
    pub weight: U256,
    pub reason: String,
}

/// A `castVoteBySig` signature for a relayer, with the calldata that submits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BallotSignature {
    pub voter: Address,
    pub nonce: U256,
    /// The EIP-712 hash signed.
    pub hash: B256,
    /// 65 bytes `r || s || v`.
    pub signature: Bytes,
    /// `castVoteBySig(...)` or `castVoteWithReasonAndParamsBySig(...)` calldata for the governor.
    pub calldata: Bytes,
}

/// Votes on one Governor.
#[derive(Debug, Clone)]
pub struct GovernorCaster {
    rpc: Rpc,
    governor: Address,
    receipt_timeout: Duration,
}

impl GovernorCaster {
    pub fn new(rpc: Rpc, governor: Address) -> Self {
        Self {
            rpc,
            governor,
            receipt_timeout: Duration::from_secs(180),
        }
    }

    /// How long [`GovernorCaster::wait_receipt`] waits for the transaction to be mined.
    pub fn with_receipt_timeout(mut self, t: Duration) -> Self {
        self.receipt_timeout = t;
        self
    }

    pub fn governor(&self) -> Address {
        self.governor
    }

    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    fn reverted(&self, context: &str, detail: String) -> Error {
        Error::Reverted {
            host: self.rpc.host().to_owned(),
            governor: self.governor,
            context: context.to_owned(),
            detail,
        }
    }

    /// `hasVoted(proposalId, voter)`.
    pub async fn has_voted(&self, proposal_id: U256, voter: Address) -> Result<bool> {
        let call = IGovernorVote::hasVotedCall {
            proposalId: proposal_id,
            account: voter,
        };
        self.rpc
            .call(self.governor, &call, "hasVoted")
            .await?
            .map_err(|d| self.reverted("hasVoted", d))
    }

    /// `proposalVotes(proposalId)`: (against, for, abstain).
    pub async fn proposal_votes(&self, proposal_id: U256) -> Result<(U256, U256, U256)> {
        let call = IGovernorVote::proposalVotesCall {
            proposalId: proposal_id,
        };
        let r = self
            .rpc
            .call(self.governor, &call, "proposalVotes")
            .await?
            .map_err(|d| self.reverted("proposalVotes", d))?;
        Ok((r.againstVotes, r.forVotes, r.abstainVotes))
    }

    /// Checks the chain, simulates the vote from the key's address (a revert becomes
    /// [`Error::VoteRefused`] naming the Governor error), then fills (pending nonce, gas
    /// estimate + 20 %, EIP-1559 fees) and signs. Sends nothing.
    pub async fn prepare(
        &self,
        key: &Key,
        ballot: &GovernorBallot,
        expected_chain_id: Option<u64>,
    ) -> Result<SignedVoteTx> {
        let _p = self.rpc.provider();
        let from = key.address();
        let chain_id = self.rpc.chain_id().await?;
        if let Some(want) = expected_chain_id
            && want != chain_id
        {
            return Err(Error::ChainMismatch {
                host: self.rpc.host().to_owned(),
                expected: want,
                got: chain_id,
            });
        }
        let input: Bytes = ballot.calldata();
        let req = send::request(from, self.governor, &input);
        // Simulate first: a refused vote never gets signed.
        if let send::Simulated::Refused(reason) =
            send::simulate(&self.rpc, &req, "simulating the vote", describe_revert).await?
        {
            return Err(Error::VoteRefused {
                governor: self.governor,
                proposal: ballot.proposal_id.to_string(),
                reason,
            });
        }
        let signed = send::fill_and_sign(
            &self.rpc,
            key,
            chain_id,
            self.governor,
            input,
            &format!("vote transaction on proposal {}", ballot.proposal_id),
        )
        .await?;
        let hash = *signed.hash();
        let tx = signed.tx().clone();
        let nonce = tx.nonce;
        let raw = send::raw(signed);
        Ok(SignedVoteTx {
            hash,
            from,
            nonce,
            chain_id,
            gas_limit: tx.gas_limit,
            max_fee_per_gas: tx.max_fee_per_gas,
            max_priority_fee_per_gas: tx.max_priority_fee_per_gas,
            raw: raw.into(),
        })
    }

    /// Broadcasts a prepared transaction. A node answering "already known" (the same bytes sent
    /// before a crash) is success.
    pub async fn submit(&self, tx: &SignedVoteTx) -> Result<B256> {
        let p = self.rpc.provider();
        match self
            .rpc
            .timed("eth_sendRawTransaction", p.send_raw_transaction(&tx.raw))
            .await?
        {
            Ok(pending) => Ok(*pending.tx_hash()),
            Err(RpcError::ErrorResp(e))
                if e.message.contains("already known")
                    || e.message.contains("already imported") =>
            {
                Ok(tx.hash)
            }
            Err(e) => Err(self.rpc.fail("eth_sendRawTransaction", e)),
        }
    }

    /// Whether the node knows transaction `tx` (pending or mined).
    pub async fn tx_known(&self, tx: B256) -> Result<bool> {
        let p = self.rpc.provider();
        Ok(self
            .rpc
            .timed("eth_getTransactionByHash", async {
                p.get_transaction_by_hash(tx).await
            })
            .await?
            .map_err(|e| self.rpc.fail("eth_getTransactionByHash", e))?
            .is_some())
    }

    /// The receipt of `tx`, if mined (no waiting).
    pub async fn receipt(&self, tx: B256, proposal_id: U256) -> Result<Option<VoteReceipt>> {
        let p = self.rpc.provider();
        let Some(r) = self
            .rpc
            .timed("eth_getTransactionReceipt", p.get_transaction_receipt(tx))
            .await?
            .map_err(|e| self.rpc.fail("eth_getTransactionReceipt", e))?
        else {
            return Ok(None);
        };
        let block = r.block_number.unwrap_or_default();
        if !r.status() {
            return Err(Error::VoteReverted {
                governor: self.governor,
                proposal: proposal_id.to_string(),
                tx: tx.to_string(),
                block,
            });
        }
        let (mut weight, mut reason) = (U256::ZERO, String::new());
        for log in r.logs() {
            if log.address() != self.governor {
                continue;
            }
            if let Ok(ev) = GovernorEvents::VoteCast::decode_log_data(log.data()) {
                (weight, reason) = (ev.weight, ev.reason);
            } else if let Ok(ev) = GovernorEvents::VoteCastWithParams::decode_log_data(log.data()) {
                (weight, reason) = (ev.weight, ev.reason);
            }
        }
        Ok(Some(VoteReceipt {
            tx,
            block,
            gas_used: r.gas_used,
            weight,
            reason,
        }))
    }

    /// Waits (polling) until `tx` is mined, up to the receipt timeout.
    pub async fn wait_receipt(&self, tx: B256, proposal_id: U256) -> Result<VoteReceipt> {
        let deadline = tokio::time::Instant::now() + self.receipt_timeout;
        let mut pause = Duration::from_millis(100);
        loop {
            if let Some(r) = self.receipt(tx, proposal_id).await? {
                return Ok(r);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Timeout {
                    host: self.rpc.host().to_owned(),
                    context: format!("waiting for vote transaction {tx}"),
                    secs: self.receipt_timeout.as_secs(),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(3));
        }
    }

    /// prepare + submit + wait: the whole vote, for callers with nothing to record in between.
    pub async fn cast(
        &self,
        key: &Key,
        ballot: &GovernorBallot,
        expected_chain_id: Option<u64>,
    ) -> Result<VoteReceipt> {
        let tx = self.prepare(key, ballot, expected_chain_id).await?;
        let hash = self.submit(&tx).await?;
        self.wait_receipt(hash, ballot.proposal_id).await
    }

    /// The governor's EIP-712 domain, read with EIP-5267 `eip712Domain()`.
    pub async fn eip712_domain(&self) -> Result<Eip712Domain> {
        let d = self
            .rpc
            .call(
                self.governor,
                &IGovernorVote::eip712DomainCall {},
                "eip712Domain",
            )
            .await?
            .map_err(|e| self.reverted("eip712Domain", e))?;
        Ok(Eip712Domain::new(
            Some(d.name.into()),
            Some(d.version.into()),
            Some(d.chainId),
            Some(d.verifyingContract),
            None,
        ))
    }

    /// Signs a `Ballot` (no reason, no params: `castVoteBySig`) or an `ExtendedBallot`
    /// (`castVoteWithReasonAndParamsBySig`, when the ballot has a reason or params) with the
    /// voter's current nonce. Anyone may then send `calldata` to the governor.
    pub async fn sign_ballot(&self, key: &Key, ballot: &GovernorBallot) -> Result<BallotSignature> {
        let voter = key.address();
        let domain = self.eip712_domain().await?;
        let nonce = self
            .rpc
            .call(
                self.governor,
                &IGovernorVote::noncesCall { owner: voter },
                "nonces",
            )
            .await?
            .map_err(|e| self.reverted("nonces", e))?;
        let extended = !ballot.reason.is_empty() || ballot.params.is_some();
        let hash = if extended {
            ExtendedBallot {
                proposalId: ballot.proposal_id,
                support: ballot.support,
                voter,
                nonce,
                reason: ballot.reason.clone(),
                params: ballot.params.clone().unwrap_or_default(),
            }
            .eip712_signing_hash(&domain)
        } else {
            Ballot {
                proposalId: ballot.proposal_id,
                support: ballot.support,
                voter,
                nonce,
            }
            .eip712_signing_hash(&domain)
        };
        let sig = key.sign_hash(&hash).map_err(|e| Error::Signing {
            what: format!("ballot on proposal {}", ballot.proposal_id),
            detail: e.to_string(),
        })?;
        let signature: Bytes = sig.as_bytes().to_vec().into();
        let calldata: Bytes = if extended {
            IGovernorVote::castVoteWithReasonAndParamsBySigCall {
                proposalId: ballot.proposal_id,
                support: ballot.support,
                voter,
                reason: ballot.reason.clone(),
                params: ballot.params.clone().unwrap_or_default(),
                signature: signature.clone(),
            }
            .abi_encode()
            .into()
        } else {
            IGovernorVote::castVoteBySigCall {
                proposalId: ballot.proposal_id,
                support: ballot.support,
                voter,
                signature: signature.clone(),
            }
            .abi_encode()
            .into()
        };
        Ok(BallotSignature {
            voter,
            nonce,
            hash,
            signature,
            calldata,
        })
    }
}

/// A revert's data in words: the Governor's custom error with its arguments, a string
/// `Error(...)`, a panic code, or the raw selector.
pub fn describe_revert(data: &[u8]) -> String {
    use IGovernorErrors::IGovernorErrorsErrors as E;
    match E::abi_decode(data) {
        Ok(E::GovernorAlreadyCastVote(e)) => {
            format!(
                "GovernorAlreadyCastVote({}): this account has already voted",
                e.voter
            )
        }
        Ok(E::GovernorUnexpectedProposalState(e)) => {
            let current = STATES
                .get(usize::from(e.current))
                .copied()
                .unwrap_or("unknown");
            let expected: Vec<&str> = STATES
                .iter()
                .enumerate()
                .filter(|(i, _)| e.expectedStates.0[31 - i / 8] & (1 << (i % 8)) != 0)
                .map(|(_, s)| *s)
                .collect();
            format!(
                "GovernorUnexpectedProposalState: proposal {} is {current}, voting needs it {}",
                e.proposalId,
                expected.join(" or ")
            )
        }
        Ok(E::GovernorNonexistentProposal(e)) => {
            format!("GovernorNonexistentProposal: no proposal {}", e.proposalId)
        }
        Ok(E::GovernorInvalidVoteType(_)) => {
            "GovernorInvalidVoteType: this governor does not count that support value".into()
        }
        Ok(E::GovernorInvalidVoteParams(_)) => {
            "GovernorInvalidVoteParams: the params are not valid for this governor".into()
        }
        Ok(E::GovernorInvalidSignature(e)) => {
            format!(
                "GovernorInvalidSignature: the signature is not by {}",
                e.voter
            )
        }
        Ok(E::InvalidAccountNonce(e)) => format!(
            "InvalidAccountNonce: {} is at nonce {}",
            e.account, e.currentNonce
        ),
        Ok(other) => format!("{other:?}"),
        Err(_) => alloy::sol_types::decode_revert_reason(data)
            .filter(|s| !s.trim().is_empty() && !s.chars().any(char::is_control))
            .unwrap_or_else(|| format!("reverted with data 0x{}", alloy::hex::encode(data))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolError;

    #[test]
    fn reverts_read_as_words() {
        let e = IGovernorErrors::GovernorAlreadyCastVote {
            voter: Address::repeat_byte(0xab),
        };
        let s = describe_revert(&e.abi_encode());
        assert!(s.starts_with("GovernorAlreadyCastVote(0xABaB"), "{s}");
        let mut states = [0u8; 32];
        states[31] = 1 << 1; // Active
        let e = IGovernorErrors::GovernorUnexpectedProposalState {
            proposalId: U256::from(7),
            current: 0,
            expectedStates: states.into(),
        };
        assert_eq!(
            describe_revert(&e.abi_encode()),
            "GovernorUnexpectedProposalState: proposal 7 is Pending, voting needs it Active"
        );
        let raw = describe_revert(&[1, 2, 3, 4]);
        assert!(raw.contains("01020304"), "{raw}");
    }

    #[test]
    fn ballot_type_strings_are_oz5s() {
        assert_eq!(
            Ballot::eip712_encode_type(),
            "Ballot(uint256 proposalId,uint8 support,address voter,uint256 nonce)"
        );
        assert_eq!(
            ExtendedBallot::eip712_encode_type(),
            "ExtendedBallot(uint256 proposalId,uint8 support,address voter,uint256 nonce,string reason,bytes params)"
        );
    }
}
