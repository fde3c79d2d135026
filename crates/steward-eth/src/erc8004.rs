//! ERC-8004 agent identity and reputation (`contracts/AgentIdentityRegistry.sol`,
//! `contracts/AgentReputationRegistry.sol`): registering the agent, reading it back, proving its
//! wallet with an EIP-712 signature, rating an agent and summarising the ratings of a given list
//! of clients. Transactions are signed with a local [`Key`], simulated first so a refusal is a
//! decoded error (`SelfFeedback(..)`, `SignatureExpired(..)`) and nothing is mined.
//!
//! A reputation summary is only ever asked for a non-empty list of clients: "everyone" is what a
//! Sybil inflates, so an empty list is refused here before any call is made.

use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::{Eip712Domain, SolCall, SolEvent, SolInterface, SolStruct};
use serde::Serialize;

use crate::contract::{Contract, bad_answer};
use crate::error::Error;
use crate::keystore::Key;
use crate::rpc::Rpc;

#[allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    clippy::too_many_arguments
)]
mod abi {
    alloy::sol! {
        struct MetadataEntry {
            string metadataKey;
            bytes metadataValue;
        }

        interface IAgentIdentity {
            function register(string agentURI, MetadataEntry[] metadata) external returns (uint256 agentId);
            function ownerOf(uint256 agentId) external view returns (address);
            function tokenURI(uint256 agentId) external view returns (string);
            function getAgentWallet(uint256 agentId) external view returns (address);
            function getMetadata(uint256 agentId, string metadataKey) external view returns (bytes);
            function setAgentURI(uint256 agentId, string newURI) external;
            function setAgentWallet(uint256 agentId, address newWallet, uint256 deadline, bytes signature) external;
            function agentCount() external view returns (uint256);
            function eip712Domain() external view returns (
                bytes1 fields, string name, string version, uint256 chainId,
                address verifyingContract, bytes32 salt, uint256[] extensions
            );
            event Registered(uint256 indexed agentId, string agentURI, address indexed owner);
        }

        interface IAgentReputation {
            function giveFeedback(
                uint256 agentId, int128 value, uint8 valueDecimals, string tag1, string tag2,
                string endpoint, string feedbackURI, bytes32 feedbackHash
            ) external;
            function getSummary(uint256 agentId, address[] clientAddresses, string tag1, string tag2)
                external view returns (uint64 count, int128 summaryValue, uint8 summaryValueDecimals);
            function getClients(uint256 agentId) external view returns (address[] memory);
            function getIdentityRegistry() external view returns (address);
            event NewFeedback(
                uint256 indexed agentId, address indexed clientAddress, uint64 feedbackIndex,
                int128 value, uint8 valueDecimals, string indexed indexedTag1, string tag1,
                string tag2, string endpoint, string feedbackURI, bytes32 feedbackHash
            );
        }

        /// Both registries' errors and OpenZeppelin ERC-721's, to name a refusal.
        #[sol(all_derives)]
        interface RegistryErrors {
            error NotAgentOperator(uint256 agentId, address caller);
            error ReservedMetadataKey(string metadataKey);
            error ZeroWallet();
            error SignatureExpired(uint256 deadline, uint256 nowTs);
            error DeadlineTooFar(uint256 deadline, uint256 latest);
            error InvalidWalletSignature(address wallet);
            error UnknownAgent(uint256 agentId);
            error SelfFeedback(uint256 agentId, address caller);
            error DecimalsTooLarge(uint8 valueDecimals);
            error EmptyClientList();
            error DuplicateClient(address client);
            error NoSuchFeedback(uint256 agentId, address client, uint64 feedbackIndex);
            error AlreadyRevoked(uint256 agentId, address client, uint64 feedbackIndex);
            error ERC721NonexistentToken(uint256 tokenId);
            error ERC721InvalidReceiver(address receiver);
            error ECDSAInvalidSignature();
            error ECDSAInvalidSignatureLength(uint256 length);
        }

        /// The message a new agent wallet signs (EIP-712).
        struct AgentWalletSet {
            uint256 agentId;
            address newWallet;
            address owner;
            uint256 deadline;
        }
    }
}

use abi::{AgentWalletSet, IAgentIdentity, IAgentReputation, RegistryErrors};

/// The longest a wallet signature may stay valid (the contract's `MAX_DEADLINE_DELAY`).
pub const MAX_WALLET_DEADLINE_SECS: u64 = 300;

/// The most decimals a feedback value may have.
pub const MAX_FEEDBACK_DECIMALS: u8 = 18;

/// What went wrong with a registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The RPC failed (transport, timeout, an answer that cannot be right).
    #[error(transparent)]
    Eth(#[from] Error),
    /// The contract refused the call (decoded); nothing was mined.
    #[error("{registry} registry {contract}: {call} refused: {reason}")]
    Refused {
        registry: &'static str,
        contract: Address,
        call: String,
        reason: String,
    },
    /// Mined, but reverted.
    #[error("{registry} registry {contract}: {call}: transaction {tx} reverted in block {block}")]
    Reverted {
        registry: &'static str,
        contract: Address,
        call: String,
        tx: B256,
        block: u64,
    },
    /// A summary asked of nobody: reputation is read from named, trusted clients only.
    #[error(
        "agent {agent_id}: no trusted clients given; a reputation summary is only read from clients you trust, never from everyone"
    )]
    NoTrustedClients { agent_id: U256 },
    /// Bad input caught before anything is signed.
    #[error("{what}: {detail}")]
    BadInput { what: String, detail: String },
}

impl RegistryError {
    /// A stable kebab-case name for error envelopes.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Eth(e) => e.kind(),
            Self::Refused { .. } => "registry-refused",
            Self::Reverted { .. } => "registry-reverted",
            Self::NoTrustedClients { .. } => "no-trusted-clients",
            Self::BadInput { .. } => "bad-input",
        }
    }
}

pub type RegistryResult<T> = std::result::Result<T, RegistryError>;

/// One on-chain metadata entry given at registration (`agentWallet` is reserved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metadata {
    pub key: String,
    pub value: Bytes,
}

/// A mined registry transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mined {
    pub tx: B256,
    pub block: u64,
    pub gas_used: u64,
}

/// A registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registered {
    pub agent_id: U256,
    pub owner: Address,
    #[serde(flatten)]
    pub mined: Mined,
}

/// An agent as the identity registry holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentRecord {
    pub agent_id: U256,
    pub owner: Address,
    /// The token URI: where the registration file is (may be a `data:` URI).
    pub uri: String,
    /// Where the agent is paid; `None` after a transfer until the new owner proves one.
    pub wallet: Option<Address>,
}

/// One rating, as `giveFeedback` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Feedback {
    /// Fixed point: `value / 10^decimals` (955 with 1 decimal is 95.5).
    pub value: i128,
    pub decimals: u8,
    pub tag1: String,
    pub tag2: String,
    /// The service the rating is about (a URI, may be empty).
    pub endpoint: String,
    /// An off-chain feedback file (may be empty) and its keccak256.
    pub uri: String,
    pub hash: B256,
}

/// A given rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedbackGiven {
    pub agent_id: U256,
    pub client: Address,
    /// 1-based, per client and agent.
    pub index: u64,
    #[serde(flatten)]
    pub mined: Mined,
}

/// `getSummary`'s answer: the mean of the named clients' ratings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub value: i128,
    pub decimals: u8,
}

impl Summary {
    /// The value in decimal notation: (9775, 2) is "97.75", (97, 0) "97", (-32, 1) "-3.2".
    pub fn display_value(&self) -> String {
        fixed_point(self.value, self.decimals)
    }
}

/// `value / 10^decimals` written out exactly.
pub fn fixed_point(value: i128, decimals: u8) -> String {
    let digits = value.unsigned_abs().to_string();
    let sign = if value < 0 { "-" } else { "" };
    let d = usize::from(decimals);
    if d == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = d + 1);
    let (int, frac) = padded.split_at(padded.len() - d);
    format!("{sign}{int}.{frac}")
}

/// Parses a decimal number ("95.5", "-3.2", "100") into (value, decimals), exactly.
pub fn parse_fixed_point(s: &str) -> Option<(i128, u8)> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || body.contains('.') && frac.is_empty()
    {
        return None;
    }
    let decimals = u8::try_from(frac.len())
        .ok()
        .filter(|d| *d <= MAX_FEEDBACK_DECIMALS)?;
    let magnitude: i128 = format!("{int}{frac}").parse().ok()?;
    Some((if neg { -magnitude } else { magnitude }, decimals))
}

/// The two registries of one chain.
#[derive(Debug, Clone)]
pub struct AgentRegistries {
    rpc: Rpc,
    identity: Address,
    reputation: Address,
    receipt_timeout: Duration,
}

impl AgentRegistries {
    pub fn new(rpc: Rpc, identity: Address, reputation: Address) -> Self {
        Self {
            rpc,
            identity,
            reputation,
            receipt_timeout: Duration::from_secs(120),
        }
    }

    pub fn identity(&self) -> Address {
        self.identity
    }

    pub fn reputation(&self) -> Address {
        self.reputation
    }

    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    /// `eip155:CHAIN:IDENTITY`, the agent registry's name in registration files.
    pub async fn agent_registry_name(&self) -> RegistryResult<String> {
        let chain = self.rpc.chain_id().await?;
        Ok(format!("eip155:{chain}:{:#x}", self.identity))
    }

    /// Registers a new agent owned by `key`, with its registration file at `uri`.
    pub async fn register(
        &self,
        key: &Key,
        uri: &str,
        metadata: &[Metadata],
    ) -> RegistryResult<Registered> {
        if let Some(m) = metadata.iter().find(|m| m.key == "agentWallet") {
            return Err(RegistryError::BadInput {
                what: "agent metadata".into(),
                detail: format!(
                    "key {:?} is reserved: the wallet is set by setAgentWallet with the wallet's signature",
                    m.key
                ),
            });
        }
        let call = IAgentIdentity::registerCall {
            agentURI: uri.to_owned(),
            metadata: metadata
                .iter()
                .map(|m| abi::MetadataEntry {
                    metadataKey: m.key.clone(),
                    metadataValue: m.value.clone(),
                })
                .collect(),
        };
        let r = self
            .send(key, Registry::Identity, call.abi_encode(), "register")
            .await?;
        let ev = r
            .logs()
            .iter()
            .filter(|l| l.address() == self.identity)
            .find_map(|l| IAgentIdentity::Registered::decode_log_data(l.data()).ok())
            .ok_or_else(|| self.bad_answer("register", "no Registered event in the receipt"))?;
        Ok(Registered {
            agent_id: ev.agentId,
            owner: ev.owner,
            mined: mined(&r),
        })
    }

    /// Points the agent at a new registration file (owner or operator only).
    pub async fn set_uri(&self, key: &Key, agent_id: U256, uri: &str) -> RegistryResult<Mined> {
        let call = IAgentIdentity::setAgentURICall {
            agentId: agent_id,
            newURI: uri.to_owned(),
        };
        let r = self
            .send(key, Registry::Identity, call.abi_encode(), "setAgentURI")
            .await?;
        Ok(mined(&r))
    }

    /// The agent's owner, URI and wallet.
    pub async fn agent(&self, agent_id: U256) -> RegistryResult<AgentRecord> {
        let owner = self
            .view(
                Registry::Identity,
                &IAgentIdentity::ownerOfCall { agentId: agent_id },
                "ownerOf",
            )
            .await?;
        let uri = self
            .view(
                Registry::Identity,
                &IAgentIdentity::tokenURICall { agentId: agent_id },
                "tokenURI",
            )
            .await?;
        let wallet = self
            .view(
                Registry::Identity,
                &IAgentIdentity::getAgentWalletCall { agentId: agent_id },
                "getAgentWallet",
            )
            .await?;
        Ok(AgentRecord {
            agent_id,
            owner,
            uri,
            wallet: (wallet != Address::ZERO).then_some(wallet),
        })
    }

    /// One on-chain metadata value (empty when unset).
    pub async fn metadata(&self, agent_id: U256, key: &str) -> RegistryResult<Bytes> {
        self.view(
            Registry::Identity,
            &IAgentIdentity::getMetadataCall {
                agentId: agent_id,
                metadataKey: key.to_owned(),
            },
            "getMetadata",
        )
        .await
    }

    /// The identity registry's EIP-712 domain (EIP-5267).
    pub async fn domain(&self) -> RegistryResult<Eip712Domain> {
        let d = self
            .view(
                Registry::Identity,
                &IAgentIdentity::eip712DomainCall {},
                "eip712Domain",
            )
            .await?;
        Ok(Eip712Domain::new(
            Some(d.name.into()),
            Some(d.version.into()),
            Some(d.chainId),
            Some(d.verifyingContract),
            None,
        ))
    }

    /// The wallet's consent to become `agent_id`'s wallet while `owner` owns it, valid until
    /// `deadline` (unix seconds): a 65-byte signature by `wallet`.
    pub async fn sign_wallet_consent(
        &self,
        wallet: &Key,
        agent_id: U256,
        owner: Address,
        deadline: u64,
    ) -> RegistryResult<Bytes> {
        let domain = self.domain().await?;
        let hash = AgentWalletSet {
            agentId: agent_id,
            newWallet: wallet.address(),
            owner,
            deadline: U256::from(deadline),
        }
        .eip712_signing_hash(&domain);
        let sig = wallet.sign_hash(&hash).map_err(|e| {
            RegistryError::Eth(Error::Signing {
                what: format!("agent wallet consent for agent {agent_id}"),
                detail: e.to_string(),
            })
        })?;
        Ok(sig.as_bytes().to_vec().into())
    }

    /// Sets the agent's wallet (sent by the owner `key`) with the wallet's `signature`.
    pub async fn set_wallet(
        &self,
        key: &Key,
        agent_id: U256,
        wallet: Address,
        deadline: u64,
        signature: Bytes,
    ) -> RegistryResult<Mined> {
        let call = IAgentIdentity::setAgentWalletCall {
            agentId: agent_id,
            newWallet: wallet,
            deadline: U256::from(deadline),
            signature,
        };
        let r = self
            .send(key, Registry::Identity, call.abi_encode(), "setAgentWallet")
            .await?;
        Ok(mined(&r))
    }

    /// The latest block's timestamp: deadlines are on the chain's clock, not the host's.
    pub async fn chain_time(&self) -> RegistryResult<u64> {
        let n = self.rpc.block_number().await?;
        Ok(self.rpc.block_timestamp(n).await?)
    }

    /// Rates `agent_id` as `key`'s address.
    pub async fn give_feedback(
        &self,
        key: &Key,
        agent_id: U256,
        f: &Feedback,
    ) -> RegistryResult<FeedbackGiven> {
        if f.decimals > MAX_FEEDBACK_DECIMALS {
            return Err(RegistryError::BadInput {
                what: format!("feedback for agent {agent_id}"),
                detail: format!(
                    "decimals {} out of range 0..={MAX_FEEDBACK_DECIMALS}",
                    f.decimals
                ),
            });
        }
        let call = IAgentReputation::giveFeedbackCall {
            agentId: agent_id,
            value: f.value,
            valueDecimals: f.decimals,
            tag1: f.tag1.clone(),
            tag2: f.tag2.clone(),
            endpoint: f.endpoint.clone(),
            feedbackURI: f.uri.clone(),
            feedbackHash: f.hash,
        };
        let r = self
            .send(key, Registry::Reputation, call.abi_encode(), "giveFeedback")
            .await?;
        let ev = r
            .logs()
            .iter()
            .filter(|l| l.address() == self.reputation)
            .find_map(|l| IAgentReputation::NewFeedback::decode_log_data(l.data()).ok())
            .ok_or_else(|| {
                self.bad_answer("giveFeedback", "no NewFeedback event in the receipt")
            })?;
        Ok(FeedbackGiven {
            agent_id,
            client: ev.clientAddress,
            index: ev.feedbackIndex,
            mined: mined(&r),
        })
    }

    /// The mean rating of `agent_id` by `clients` (which must not be empty), optionally only
    /// the ratings tagged `tag1` / `tag2` (empty: any).
    pub async fn summary(
        &self,
        agent_id: U256,
        clients: &[Address],
        tag1: &str,
        tag2: &str,
    ) -> RegistryResult<Summary> {
        if clients.is_empty() {
            return Err(RegistryError::NoTrustedClients { agent_id });
        }
        let r = self
            .view(
                Registry::Reputation,
                &IAgentReputation::getSummaryCall {
                    agentId: agent_id,
                    clientAddresses: clients.to_vec(),
                    tag1: tag1.to_owned(),
                    tag2: tag2.to_owned(),
                },
                "getSummary",
            )
            .await?;
        Ok(Summary {
            count: r.count,
            value: r.summaryValue,
            decimals: r.summaryValueDecimals,
        })
    }

    /// Everyone who ever rated the agent (for display only: summaries use trusted clients).
    pub async fn clients(&self, agent_id: U256) -> RegistryResult<Vec<Address>> {
        self.view(
            Registry::Reputation,
            &IAgentReputation::getClientsCall { agentId: agent_id },
            "getClients",
        )
        .await
    }

    /// The identity registry the reputation registry rates agents of.
    pub async fn reputation_identity(&self) -> RegistryResult<Address> {
        self.view(
            Registry::Reputation,
            &IAgentReputation::getIdentityRegistryCall {},
            "getIdentityRegistry",
        )
        .await
    }

    fn contract(&self, r: Registry) -> Contract<'_> {
        Contract {
            rpc: &self.rpc,
            address: match r {
                Registry::Identity => self.identity,
                Registry::Reputation => self.reputation,
            },
            label: r.name(),
            describe: describe_registry_revert,
            receipt_timeout: self.receipt_timeout,
        }
    }

    fn bad_answer(&self, context: &str, detail: &str) -> RegistryError {
        bad_answer(&self.rpc, context, detail)
    }

    async fn view<C: SolCall>(
        &self,
        r: Registry,
        call: &C,
        name: &str,
    ) -> RegistryResult<C::Return> {
        self.contract(r).view(call, name).await
    }

    async fn send(
        &self,
        key: &Key,
        r: Registry,
        input: Vec<u8>,
        name: &str,
    ) -> RegistryResult<TransactionReceipt> {
        self.contract(r).send(key, input, name).await
    }
}

#[derive(Debug, Clone, Copy)]
enum Registry {
    Identity,
    Reputation,
}

impl Registry {
    fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Reputation => "reputation",
        }
    }
}

fn mined(r: &TransactionReceipt) -> Mined {
    Mined {
        tx: r.transaction_hash,
        block: r.block_number.unwrap_or_default(),
        gas_used: r.gas_used,
    }
}

/// A registry's revert in words.
pub fn describe_registry_revert(data: &[u8]) -> String {
    use RegistryErrors::RegistryErrorsErrors as E;
    match E::abi_decode(data) {
        Ok(E::NotAgentOperator(e)) => format!(
            "NotAgentOperator: {} is neither the owner nor an operator of agent {}",
            e.caller, e.agentId
        ),
        Ok(E::ReservedMetadataKey(e)) => {
            format!("ReservedMetadataKey: {:?} is reserved", e.metadataKey)
        }
        Ok(E::ZeroWallet(_)) => "ZeroWallet: the wallet must not be the zero address".into(),
        Ok(E::SignatureExpired(e)) => format!(
            "SignatureExpired: the wallet's signature expired at {} (chain time {})",
            e.deadline, e.nowTs
        ),
        Ok(E::DeadlineTooFar(e)) => format!(
            "DeadlineTooFar: deadline {} is past the latest allowed {}",
            e.deadline, e.latest
        ),
        Ok(E::InvalidWalletSignature(e)) => format!(
            "InvalidWalletSignature: the signature is not {}'s consent to this agent, owner and deadline",
            e.wallet
        ),
        Ok(E::UnknownAgent(e)) => format!("UnknownAgent: no agent {}", e.agentId),
        Ok(E::SelfFeedback(e)) => format!(
            "SelfFeedback: {} owns or operates agent {} and cannot rate it",
            e.caller, e.agentId
        ),
        Ok(E::DecimalsTooLarge(e)) => format!(
            "DecimalsTooLarge: {} decimals (at most {MAX_FEEDBACK_DECIMALS})",
            e.valueDecimals
        ),
        Ok(E::EmptyClientList(_)) => {
            "EmptyClientList: a summary needs a non-empty list of clients".into()
        }
        Ok(E::DuplicateClient(e)) => format!("DuplicateClient: {} named twice", e.client),
        Ok(E::NoSuchFeedback(e)) => format!(
            "NoSuchFeedback: client {} has no feedback {} on agent {}",
            e.client, e.feedbackIndex, e.agentId
        ),
        Ok(E::AlreadyRevoked(e)) => format!(
            "AlreadyRevoked: feedback {} of {} on agent {}",
            e.feedbackIndex, e.client, e.agentId
        ),
        Ok(E::ERC721NonexistentToken(e)) => format!("no agent {}", e.tokenId),
        Ok(E::ERC721InvalidReceiver(e)) => format!(
            "ERC721InvalidReceiver: {} cannot hold an agent token",
            e.receiver
        ),
        Ok(E::ECDSAInvalidSignature(_)) | Ok(E::ECDSAInvalidSignatureLength(_)) => {
            "the wallet signature is malformed".into()
        }
        Err(_) => match alloy::sol_types::decode_revert_reason(data) {
            Some(r) => r,
            None if data.len() >= 4 => {
                format!("unknown error 0x{}", alloy::hex::encode(&data[..4]))
            }
            None => "reverted without a reason".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_round_trips() {
        for (s, v, d) in [
            ("97", 97, 0),
            ("95.5", 955, 1),
            ("-3.2", -32, 1),
            ("0.05", 5, 2),
            ("99.77", 9977, 2),
        ] {
            assert_eq!(parse_fixed_point(s), Some((v, d)), "{s}");
            assert_eq!(fixed_point(v, d), s);
        }
        for bad in [
            "",
            "-",
            ".",
            "1.",
            "1.2.3",
            "abc",
            "1e3",
            "0.1234567890123456789",
        ] {
            assert_eq!(parse_fixed_point(bad), None, "{bad:?}");
        }
    }
}
