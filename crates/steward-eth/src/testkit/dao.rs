//! Deploying and driving the test DAOs.

#![allow(missing_docs)]

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::sol;
use alloy::sol_types::{SolCall, SolEvent, SolValue};
use steward_core::Action;

use super::{Anvil, Artifacts, TestkitError, TkResult, ether};
use crate::bindings::GovernorEvents;
use crate::{GovernorKind, GovernorReader, Rpc};

sol! {
    interface ITestToken {
        function transfer(address to, uint256 amount) external returns (bool);
        function delegate(address delegatee) external;
    }
    interface ITestTimelock {
        function grantRole(bytes32 role, address account) external;
    }
    interface ITestGovernor {
        function propose(address[] targets, uint256[] values, bytes[] calldatas, string description)
            external returns (uint256);
        function castVote(uint256 proposalId, uint8 support) external returns (uint256);
        function castVoteWithReason(uint256 proposalId, uint8 support, string reason)
            external returns (uint256);
        function queue(address[] targets, uint256[] values, bytes[] calldatas, bytes32 descriptionHash)
            external returns (uint256);
        function execute(address[] targets, uint256[] values, bytes[] calldatas, bytes32 descriptionHash)
            external payable returns (uint256);
    }
    interface ITestBravo {
        function propose(
            address[] targets,
            uint256[] values,
            string[] signatures,
            bytes[] calldatas,
            string description
        ) external returns (uint256);
        function castVote(uint256 proposalId, uint8 support) external;
        function castVoteWithReason(uint256 proposalId, uint8 support, string reason) external;
        function cancel(uint256 proposalId) external;
        function emitRawProposalCreated(bytes data) external;
    }
}

/// How the test DAO is set up.
#[derive(Debug, Clone)]
pub struct DaoConfig {
    /// Blocks between proposing and the snapshot.
    pub voting_delay: u64,
    /// Blocks of voting after the snapshot.
    pub voting_period: u64,
    pub proposal_threshold: U256,
    /// Quorum as a percentage of the total supply at the snapshot.
    pub quorum_percent: u64,
    /// Seconds the timelock waits between queue and execute.
    pub timelock_delay: u64,
    /// Token supply, minted to the deployer (account 0).
    pub supply: U256,
    /// Tokens given to accounts 1, 2, ... (each self-delegates); the deployer keeps the rest
    /// minus the treasury and delegates to itself too.
    pub voter_balances: Vec<U256>,
    /// Tokens and ether held by the timelock (the treasury).
    pub treasury_tokens: U256,
    pub treasury_eth: U256,
}

impl Default for DaoConfig {
    fn default() -> Self {
        Self {
            voting_delay: 1,
            voting_period: 50,
            proposal_threshold: U256::ZERO,
            quorum_percent: 4,
            timelock_delay: 0,
            supply: ether(1_000_000),
            voter_balances: vec![ether(100_000), ether(50_000), ether(20_000)],
            treasury_tokens: ether(500_000),
            treasury_eth: ether(100),
        }
    }
}

/// A deployed OpenZeppelin DAO.
#[derive(Debug, Clone)]
pub struct Dao {
    pub token: Address,
    pub timelock: Address,
    pub governor: Address,
    /// Account 0: deployed everything, holds the undistributed supply.
    pub deployer: Address,
    /// Accounts 1..: funded and self-delegated.
    pub voters: Vec<Address>,
    /// The deployment block of the governor (scan from here).
    pub deployed_at: u64,
    rpc: Rpc,
}

/// A created proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposed {
    pub id: U256,
    pub block: u64,
    pub tx: B256,
}

/// Sends `data` to `to` from the unlocked account `from`.
async fn send_call(
    anvil: &Anvil,
    from: Address,
    to: Address,
    data: Vec<u8>,
) -> TkResult<TransactionReceipt> {
    anvil
        .send(
            TransactionRequest::default()
                .with_from(from)
                .with_to(to)
                .with_input(Bytes::from(data)),
        )
        .await
}

impl Dao {
    /// Deploys token, timelock and governor from account 0, wires the timelock to the governor,
    /// funds the voters (accounts 1..) and the treasury, self-delegates and mines a block so the
    /// voting power is in the past.
    pub async fn deploy(anvil: &Anvil, artifacts: &Artifacts, cfg: &DaoConfig) -> TkResult<Self> {
        let accounts = anvil.accounts();
        let n = cfg.voter_balances.len();
        if accounts.len() < n + 1 {
            return Err(TestkitError::new(format!(
                "{n} voters need {} accounts, anvil has {}",
                n + 1,
                accounts.len()
            )));
        }
        let deployer = accounts[0];
        let voters: Vec<Address> = accounts[1..=n].to_vec();

        let token = anvil
            .deploy(
                deployer,
                with_args(
                    &artifacts.get("StewardToken")?.bytecode,
                    (
                        "Steward Token".to_owned(),
                        "STW".to_owned(),
                        deployer,
                        cfg.supply,
                    )
                        .abi_encode_params(),
                ),
            )
            .await?;
        let timelock = anvil
            .deploy(
                deployer,
                with_args(
                    &artifacts.get("StewardTimelock")?.bytecode,
                    (
                        U256::from(cfg.timelock_delay),
                        Vec::<Address>::new(),
                        vec![Address::ZERO], // anyone may execute
                        deployer,
                    )
                        .abi_encode_params(),
                ),
            )
            .await?;
        let governor = anvil
            .deploy(
                deployer,
                with_args(
                    &artifacts.get("StewardGovernor")?.bytecode,
                    (
                        token,
                        timelock,
                        U256::from(cfg.voting_delay),
                        U256::from(cfg.voting_period),
                        cfg.proposal_threshold,
                        U256::from(cfg.quorum_percent),
                    )
                        .abi_encode_params(),
                ),
            )
            .await?;
        let deployed_at = anvil.block_number().await?;
        for role in ["PROPOSER_ROLE", "CANCELLER_ROLE"] {
            let call = ITestTimelock::grantRoleCall {
                role: keccak256(role),
                account: governor,
            };
            send_call(anvil, deployer, timelock, call.abi_encode()).await?;
        }
        for (voter, amount) in voters.iter().zip(&cfg.voter_balances) {
            let call = ITestToken::transferCall {
                to: *voter,
                amount: *amount,
            };
            send_call(anvil, deployer, token, call.abi_encode()).await?;
        }
        if !cfg.treasury_tokens.is_zero() {
            let call = ITestToken::transferCall {
                to: timelock,
                amount: cfg.treasury_tokens,
            };
            send_call(anvil, deployer, token, call.abi_encode()).await?;
        }
        if !cfg.treasury_eth.is_zero() {
            anvil.send_eth(deployer, timelock, cfg.treasury_eth).await?;
        }
        for who in std::iter::once(deployer).chain(voters.iter().copied()) {
            let call = ITestToken::delegateCall { delegatee: who };
            send_call(anvil, who, token, call.abi_encode()).await?;
        }
        anvil.mine(1).await?;
        Ok(Self {
            token,
            timelock,
            governor,
            deployer,
            voters,
            deployed_at,
            rpc: anvil.rpc().clone(),
        })
    }

    /// A reader for this governor.
    pub fn reader(&self) -> GovernorReader {
        GovernorReader::new(self.rpc.clone(), self.governor, GovernorKind::OpenZeppelin)
    }

    /// An action paying `amount` tokens from the treasury (timelock) to `to`.
    pub fn treasury_transfer(&self, to: Address, amount: U256) -> Action {
        Action {
            target: self.token,
            value: U256::ZERO,
            signature: String::new(),
            calldata: ITestToken::transferCall { to, amount }.abi_encode().into(),
        }
    }

    /// An action sending `wei` of the treasury's ether to `to`.
    pub fn eth_transfer(&self, to: Address, wei: U256) -> Action {
        Action {
            target: to,
            value: wei,
            signature: String::new(),
            calldata: Bytes::new(),
        }
    }

    /// Proposes `actions` (their `signature`s are ignored: OpenZeppelin calldata carries the
    /// selector). Returns the proposal id read from the ProposalCreated log.
    pub async fn propose(
        &self,
        anvil: &Anvil,
        proposer: Address,
        actions: &[Action],
        description: &str,
    ) -> TkResult<Proposed> {
        let (targets, values, calldatas) = split(actions);
        let call = ITestGovernor::proposeCall {
            targets,
            values,
            calldatas,
            description: description.to_owned(),
        };
        let r = send_call(anvil, proposer, self.governor, call.abi_encode()).await?;
        proposed(&r)
    }

    /// Votes with `support` (0 against, 1 for, 2 abstain) and, when not empty, a reason.
    pub async fn vote(
        &self,
        anvil: &Anvil,
        voter: Address,
        id: U256,
        support: u8,
        reason: &str,
    ) -> TkResult<TransactionReceipt> {
        let data = if reason.is_empty() {
            ITestGovernor::castVoteCall {
                proposalId: id,
                support,
            }
            .abi_encode()
        } else {
            ITestGovernor::castVoteWithReasonCall {
                proposalId: id,
                support,
                reason: reason.to_owned(),
            }
            .abi_encode()
        };
        send_call(anvil, voter, self.governor, data).await
    }

    /// Queues a succeeded proposal in the timelock.
    pub async fn queue(
        &self,
        anvil: &Anvil,
        from: Address,
        actions: &[Action],
        description: &str,
    ) -> TkResult<TransactionReceipt> {
        let (targets, values, calldatas) = split(actions);
        let call = ITestGovernor::queueCall {
            targets,
            values,
            calldatas,
            descriptionHash: keccak256(description),
        };
        send_call(anvil, from, self.governor, call.abi_encode()).await
    }

    /// Executes a queued proposal (after the timelock delay: see [`Anvil::increase_time`]).
    pub async fn execute(
        &self,
        anvil: &Anvil,
        from: Address,
        actions: &[Action],
        description: &str,
    ) -> TkResult<TransactionReceipt> {
        let (targets, values, calldatas) = split(actions);
        let call = ITestGovernor::executeCall {
            targets,
            values,
            calldatas,
            descriptionHash: keccak256(description),
        };
        send_call(anvil, from, self.governor, call.abi_encode()).await
    }

    /// `holder` delegates its voting power to `delegatee`.
    pub async fn delegate(
        &self,
        anvil: &Anvil,
        holder: Address,
        delegatee: Address,
    ) -> TkResult<TransactionReceipt> {
        let call = ITestToken::delegateCall { delegatee };
        send_call(anvil, holder, self.token, call.abi_encode()).await
    }

    /// Moves `amount` tokens from `from` to `to`.
    pub async fn transfer_tokens(
        &self,
        anvil: &Anvil,
        from: Address,
        to: Address,
        amount: U256,
    ) -> TkResult<TransactionReceipt> {
        let call = ITestToken::transferCall { to, amount };
        send_call(anvil, from, self.token, call.abi_encode()).await
    }
}

/// The minimal GovernorBravo look-alike (`contracts/BravoGovernor.sol`).
#[derive(Debug, Clone)]
pub struct Bravo {
    pub governor: Address,
    pub deployed_at: u64,
    rpc: Rpc,
}

impl Bravo {
    /// Deploys a Bravo governor counting votes of `token` (an IVotes, e.g. [`Dao::token`]).
    pub async fn deploy(
        anvil: &Anvil,
        artifacts: &Artifacts,
        token: Address,
        voting_delay: u64,
        voting_period: u64,
        quorum_votes: U256,
    ) -> TkResult<Self> {
        let deployer = anvil
            .accounts()
            .first()
            .copied()
            .ok_or_else(|| TestkitError::new("anvil has no accounts"))?;
        let governor = anvil
            .deploy(
                deployer,
                with_args(
                    &artifacts.get("BravoGovernor")?.bytecode,
                    (
                        token,
                        U256::from(voting_delay),
                        U256::from(voting_period),
                        quorum_votes,
                    )
                        .abi_encode_params(),
                ),
            )
            .await?;
        Ok(Self {
            governor,
            deployed_at: anvil.block_number().await?,
            rpc: anvil.rpc().clone(),
        })
    }

    pub fn reader(&self) -> GovernorReader {
        GovernorReader::new(self.rpc.clone(), self.governor, GovernorKind::Bravo)
    }

    /// Proposes `actions` Bravo-style: `signature` + arguments-only `calldata` (see
    /// [`bravo_action`]), or an empty signature with full calldata.
    pub async fn propose(
        &self,
        anvil: &Anvil,
        proposer: Address,
        actions: &[Action],
        description: &str,
    ) -> TkResult<Proposed> {
        let (targets, values, calldatas) = split(actions);
        let call = ITestBravo::proposeCall {
            targets,
            values,
            signatures: actions.iter().map(|a| a.signature.clone()).collect(),
            calldatas,
            description: description.to_owned(),
        };
        let r = send_call(anvil, proposer, self.governor, call.abi_encode()).await?;
        proposed(&r)
    }

    pub async fn vote(
        &self,
        anvil: &Anvil,
        voter: Address,
        id: U256,
        support: u8,
        reason: &str,
    ) -> TkResult<TransactionReceipt> {
        let data = if reason.is_empty() {
            ITestBravo::castVoteCall {
                proposalId: id,
                support,
            }
            .abi_encode()
        } else {
            ITestBravo::castVoteWithReasonCall {
                proposalId: id,
                support,
                reason: reason.to_owned(),
            }
            .abi_encode()
        };
        send_call(anvil, voter, self.governor, data).await
    }

    /// Emits a ProposalCreated log with `data` as its data, unchecked (see
    /// [`encode_proposal_created`] to build one with mismatched arrays).
    pub async fn emit_raw_proposal_created(
        &self,
        anvil: &Anvil,
        from: Address,
        data: Bytes,
    ) -> TkResult<TransactionReceipt> {
        let call = ITestBravo::emitRawProposalCreatedCall { data };
        send_call(anvil, from, self.governor, call.abi_encode()).await
    }
}

/// A Bravo action: `target.signature(args)` with `args` ABI-encoded without a selector.
pub fn bravo_action(target: Address, value: U256, signature: &str, args: Vec<u8>) -> Action {
    Action {
        target,
        value,
        signature: signature.to_owned(),
        calldata: args.into(),
    }
}

/// The data of a ProposalCreated log, with whatever arrays are given (lengths need not agree).
#[allow(clippy::too_many_arguments)]
pub fn encode_proposal_created(
    id: U256,
    proposer: Address,
    targets: Vec<Address>,
    values: Vec<U256>,
    signatures: Vec<String>,
    calldatas: Vec<Bytes>,
    start: U256,
    end: U256,
    description: &str,
) -> Bytes {
    (
        id,
        proposer,
        targets,
        values,
        signatures,
        calldatas,
        start,
        end,
        description.to_owned(),
    )
        .abi_encode_params()
        .into()
}

fn with_args(code: &Bytes, args: Vec<u8>) -> Bytes {
    let mut v = code.to_vec();
    v.extend(args);
    v.into()
}

fn split(actions: &[Action]) -> (Vec<Address>, Vec<U256>, Vec<Bytes>) {
    (
        actions.iter().map(|a| a.target).collect(),
        actions.iter().map(|a| a.value).collect(),
        actions.iter().map(|a| a.calldata.clone()).collect(),
    )
}

/// The proposal id from the ProposalCreated log in a receipt.
fn proposed(r: &TransactionReceipt) -> TkResult<Proposed> {
    let log = r
        .logs()
        .iter()
        .find(|l| l.topics().first() == Some(&GovernorEvents::ProposalCreated::SIGNATURE_HASH))
        .ok_or_else(|| TestkitError::new("no ProposalCreated log in the receipt"))?;
    let id = log
        .data()
        .data
        .get(..32)
        .map(U256::from_be_slice)
        .ok_or_else(|| TestkitError::new("ProposalCreated log too short"))?;
    Ok(Proposed {
        id,
        block: r.block_number.unwrap_or_default(),
        tx: r.transaction_hash,
    })
}
