//! The attention-bond escrow (`contracts/AttentionBonds.sol`, docs/economy.md): reading bonds in
//! batches (one `bondsOf` call for many message ids, optionally at a past block so a bond must be
//! some blocks deep), and the sender's, recipient's and anyone's transactions (`approve`,
//! `deposit`, `reply`, `forfeit`, the recipient's settings) signed with a local [`Key`].
//!
//! Every transaction is simulated first: a refusal comes back as [`BondError::Refused`] with the
//! contract's custom error in words, and nothing is signed. A deposit checks the token allowance
//! and balance before that, so "allowance too small" names both numbers.

use std::time::Duration;

use alloy::eips::BlockId;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::sol_types::{SolCall, SolEvent, SolInterface};

use crate::error::Error;
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
        #[derive(Debug, PartialEq, Eq)]
        struct BondView {
            address sender;
            uint64 deadline;
            uint8 status;
            address recipient;
            uint96 amount;
        }

        interface IAttentionBonds {
            function deposit(address recipient, bytes32 messageId, uint256 amount) external;
            function reply(bytes32 messageId) external;
            function forfeit(bytes32 messageId) external;
            function setPrice(uint256 price) external;
            function setResponseWindow(uint64 window) external;
            function setWhitelisted(address sender, bool allowed) external;
            function setAgent(address agent, bool allowed) external;
            function setFee(uint16 feeBps) external;
            function setMinimumBond(uint256 minimum) external;
            function token() external view returns (address);
            function feeBps() external view returns (uint16);
            function minimumBond() external view returns (uint256);
            function treasury() external view returns (address);
            function totalOpen() external view returns (uint256);
            function priceOf(address recipient) external view returns (uint256);
            function windowOf(address recipient) external view returns (uint64);
            function isWhitelisted(address recipient, address sender) external view returns (bool);
            function isAgent(address recipient, address agent) external view returns (bool);
            function bondsOf(bytes32[] messageIds) external view returns (BondView[] out);

            event Deposited(bytes32 indexed messageId, address indexed sender, address indexed recipient, uint256 amount, uint64 deadline);
            event Replied(bytes32 indexed messageId, address indexed by, uint256 refund, uint256 fee);
            event Forfeited(bytes32 indexed messageId, address indexed by, uint256 amount);

            error ZeroRecipient();
            error SelfBond();
            error DuplicateMessage(bytes32 messageId);
            error BelowMinimum(uint256 amount, uint256 minimum);
            error BelowPrice(uint256 amount, uint256 price);
            error SenderWhitelisted(address sender, address recipient);
            error UnknownMessage(bytes32 messageId);
            error NotOpen(bytes32 messageId, uint8 status);
            error NotRecipientOrAgent(bytes32 messageId, address caller);
            error WindowClosed(bytes32 messageId, uint64 deadline);
            error WindowOpen(bytes32 messageId, uint64 deadline);
            error FeeTooHigh(uint16 feeBps, uint16 max);
            error WindowOutOfRange(uint64 window, uint64 min, uint64 max);
            error ZeroTreasury();
            error TransferShort(uint256 expected, uint256 received);
            error AmountTooLarge(uint256 amount);
            error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
            error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
            error OwnableUnauthorizedAccount(address account);
        }

        interface IErc20Bond {
            function approve(address spender, uint256 amount) external returns (bool);
            function allowance(address owner, address spender) external view returns (uint256);
            function balanceOf(address owner) external view returns (uint256);
            function decimals() external view returns (uint8);
        }
    }
}

pub use abi::IAttentionBonds;
use abi::{IAttentionBonds as Esc, IErc20Bond};

/// What went wrong with a bond.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BondError {
    /// The connection or the node.
    #[error(transparent)]
    Chain(#[from] Error),
    /// The escrow (or the token) would revert: nothing was signed.
    #[error("escrow {escrow}: {action} refused: {reason}")]
    Refused {
        escrow: Address,
        action: String,
        reason: String,
    },
    /// The transaction was mined and reverted (the state moved between simulation and block).
    #[error("escrow {escrow}: {action} reverted in tx {tx} (block {block})")]
    Reverted {
        escrow: Address,
        action: String,
        tx: B256,
        block: u64,
    },
    /// The sender has not approved enough of the token for the escrow.
    #[error(
        "escrow {escrow}: deposit of {amount} needs an allowance of {amount} for the escrow on token {token}, {owner} has approved {allowance}"
    )]
    AllowanceTooSmall {
        escrow: Address,
        token: Address,
        owner: Address,
        allowance: U256,
        amount: U256,
    },
    /// The sender does not hold the amount.
    #[error("escrow {escrow}: deposit of {amount} on token {token}, {owner} holds {balance}")]
    BalanceTooSmall {
        escrow: Address,
        token: Address,
        owner: Address,
        balance: U256,
        amount: U256,
    },
    /// The escrow answered something that is not a bond list.
    #[error("escrow {escrow}: {context}: {detail}")]
    BadAnswer {
        escrow: Address,
        context: String,
        detail: String,
    },
}

impl BondError {
    /// A stable kebab-case name for error envelopes.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Chain(e) => e.kind(),
            Self::Refused { .. } => "bond-refused",
            Self::Reverted { .. } => "bond-reverted",
            Self::AllowanceTooSmall { .. } => "allowance-too-small",
            Self::BalanceTooSmall { .. } => "balance-too-small",
            Self::BadAnswer { .. } => "bad-escrow-answer",
        }
    }
}

pub type BondResult<T> = std::result::Result<T, BondError>;

/// Token amounts in JSON as decimal strings (serde's default for U256 is hex).
pub mod decimal {
    use alloy::primitives::U256;

    pub fn serialize<S: serde::Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    /// For `Option<U256>`.
    pub mod option {
        use alloy::primitives::U256;

        pub fn serialize<S: serde::Serializer>(v: &Option<U256>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.serialize_str(&v.to_string()),
                None => s.serialize_none(),
            }
        }
    }
}

/// A bond's state on chain (`AttentionBonds.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BondState {
    /// No bond for this message id.
    None,
    Open,
    Replied,
    Forfeited,
}

impl BondState {
    fn of(n: u8) -> Option<Self> {
        Some(match n {
            0 => Self::None,
            1 => Self::Open,
            2 => Self::Replied,
            3 => Self::Forfeited,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Open => "open",
            Self::Replied => "replied",
            Self::Forfeited => "forfeited",
        }
    }
}

/// One bond as the escrow holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChainBond {
    pub message_id: B256,
    pub sender: Address,
    pub recipient: Address,
    /// Token base units (6 decimals for USDC).
    #[serde(with = "decimal")]
    pub amount: U256,
    /// Unix seconds; a reply is valid up to and including it, a forfeit from one second later.
    pub deadline: u64,
    pub state: BondState,
}

/// One `Deposited` event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Deposit {
    pub message_id: B256,
    pub sender: Address,
    pub recipient: Address,
    #[serde(with = "decimal")]
    pub amount: U256,
    pub block: u64,
}

/// The escrow's global settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EscrowSettings {
    pub token: Address,
    pub fee_bps: u16,
    #[serde(with = "decimal")]
    pub minimum: U256,
    pub treasury: Address,
    #[serde(with = "decimal")]
    pub total_open: U256,
}

/// A mined escrow transaction.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BondTx {
    pub tx: B256,
    pub block: u64,
    pub gas_used: u64,
    /// From `Replied` (refund to the sender) or `Forfeited` (paid to the recipient).
    #[serde(with = "decimal::option")]
    pub paid: Option<U256>,
    /// The fee of a `Replied`.
    #[serde(with = "decimal::option")]
    pub fee: Option<U256>,
}

/// How many ids one `bondsOf` call carries (keeps the answer well under node limits).
pub const BONDS_PER_CALL: usize = 500;

/// One attention-bond escrow.
#[derive(Debug, Clone)]
pub struct BondEscrow {
    rpc: Rpc,
    escrow: Address,
    receipt_timeout: Duration,
}

impl BondEscrow {
    pub fn new(rpc: Rpc, escrow: Address) -> Self {
        Self {
            rpc,
            escrow,
            receipt_timeout: Duration::from_secs(180),
        }
    }

    pub fn address(&self) -> Address {
        self.escrow
    }

    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    fn bad(&self, context: &str, detail: impl Into<String>) -> BondError {
        BondError::BadAnswer {
            escrow: self.escrow,
            context: context.to_owned(),
            detail: detail.into(),
        }
    }

    async fn read<C: SolCall>(
        &self,
        to: Address,
        call: &C,
        context: &str,
    ) -> BondResult<C::Return> {
        self.rpc
            .call(to, call, context)
            .await?
            .map_err(|d| self.bad(context, d))
    }

    /// Token, fee, minimum, treasury and the sum of open bonds.
    pub async fn settings(&self) -> BondResult<EscrowSettings> {
        let e = self.escrow;
        let (token, fee, min, treasury, open) = tokio::try_join!(
            self.read(e, &Esc::tokenCall {}, "token()"),
            self.read(e, &Esc::feeBpsCall {}, "feeBps()"),
            self.read(e, &Esc::minimumBondCall {}, "minimumBond()"),
            self.read(e, &Esc::treasuryCall {}, "treasury()"),
            self.read(e, &Esc::totalOpenCall {}, "totalOpen()"),
        )?;
        Ok(EscrowSettings {
            token,
            fee_bps: fee,
            minimum: min,
            treasury,
            total_open: open,
        })
    }

    /// The recipient's posted price (token base units).
    pub async fn price_of(&self, recipient: Address) -> BondResult<U256> {
        self.read(self.escrow, &Esc::priceOfCall { recipient }, "priceOf")
            .await
    }

    /// The recipient's response window in seconds.
    pub async fn window_of(&self, recipient: Address) -> BondResult<u64> {
        self.read(self.escrow, &Esc::windowOfCall { recipient }, "windowOf")
            .await
    }

    pub async fn is_agent(&self, recipient: Address, agent: Address) -> BondResult<bool> {
        self.read(
            self.escrow,
            &Esc::isAgentCall { recipient, agent },
            "isAgent",
        )
        .await
    }

    pub async fn is_whitelisted(&self, recipient: Address, sender: Address) -> BondResult<bool> {
        self.read(
            self.escrow,
            &Esc::isWhitelistedCall { recipient, sender },
            "isWhitelisted",
        )
        .await
    }

    /// `token.decimals()`.
    pub async fn token_decimals(&self, token: Address) -> BondResult<u8> {
        self.read(token, &IErc20Bond::decimalsCall {}, "decimals()")
            .await
    }

    /// `token.balanceOf(owner)`.
    pub async fn token_balance(&self, token: Address, owner: Address) -> BondResult<U256> {
        self.read(token, &IErc20Bond::balanceOfCall { owner }, "balanceOf")
            .await
    }

    /// The bonds of `ids`, in order (a missing one has state [`BondState::None`]), read at
    /// `block` (`None`: the latest). Chunks of [`BONDS_PER_CALL`] ids, all sent concurrently.
    pub async fn bonds(&self, ids: &[B256], block: Option<u64>) -> BondResult<Vec<ChainBond>> {
        let at = block.map_or(BlockId::latest(), BlockId::number);
        if ids.len() <= BONDS_PER_CALL {
            return self.bonds_chunk(ids, at).await;
        }
        let mut set = tokio::task::JoinSet::new();
        for (i, chunk) in ids.chunks(BONDS_PER_CALL).enumerate() {
            let (me, chunk) = (self.clone(), chunk.to_vec());
            set.spawn(async move { (i, me.bonds_chunk(&chunk, at).await) });
        }
        let mut parts = Vec::new();
        while let Some(done) = set.join_next().await {
            let (i, part) = done.map_err(|e| self.bad("bondsOf", format!("task failed: {e}")))?;
            parts.push((i, part?));
        }
        parts.sort_by_key(|(i, _)| *i);
        Ok(parts.into_iter().flat_map(|(_, p)| p).collect())
    }

    async fn bonds_chunk(&self, chunk: &[B256], at: BlockId) -> BondResult<Vec<ChainBond>> {
        let call = Esc::bondsOfCall {
            messageIds: chunk.to_vec(),
        };
        let tx = TransactionRequest::default()
            .to(self.escrow)
            .input(Bytes::from(call.abi_encode()).into());
        let p = self.rpc.provider();
        let data = self
            .rpc
            .timed("bondsOf", async { p.call(tx).block(at).await })
            .await?
            .map_err(|e| self.rpc.fail("bondsOf", e))?;
        let views = Esc::bondsOfCall::abi_decode_returns(&data)
            .map_err(|e| self.bad("bondsOf", format!("return data does not decode: {e}")))?;
        if views.len() != chunk.len() {
            return Err(self.bad(
                "bondsOf",
                format!("{} bonds for {} ids", views.len(), chunk.len()),
            ));
        }
        chunk
            .iter()
            .zip(views)
            .map(|(id, v)| {
                let state = BondState::of(v.status)
                    .ok_or_else(|| self.bad("bondsOf", format!("status {}", v.status)))?;
                Ok(ChainBond {
                    message_id: *id,
                    sender: v.sender,
                    recipient: v.recipient,
                    amount: U256::from(v.amount),
                    deadline: v.deadline,
                    state,
                })
            })
            .collect()
    }

    /// Every `Deposited` of this escrow in blocks `from_block..=head`, in chain order; pages of
    /// 10,000 blocks, halved while the node refuses a range as too large.
    pub async fn deposits(&self, from_block: u64) -> BondResult<Vec<Deposit>> {
        let head = self.rpc.block_number().await?;
        let (mut start, mut page) = (from_block, 10_000u64);
        let mut out = Vec::new();
        while start <= head {
            let end = start.saturating_add(page - 1).min(head);
            let filter = Filter::new()
                .address(self.escrow)
                .event_signature(Esc::Deposited::SIGNATURE_HASH)
                .from_block(start)
                .to_block(end);
            let ctx = format!(
                "eth_getLogs(Deposited) of escrow {} in blocks {start}..={end}",
                self.escrow
            );
            match self.rpc.logs(&filter, &ctx).await? {
                Ok(logs) => {
                    for log in logs.iter().filter(|l| !l.removed) {
                        let ev = Esc::Deposited::decode_log_data(log.data()).map_err(|e| {
                            self.bad(&ctx, format!("a Deposited log does not decode: {e}"))
                        })?;
                        out.push(Deposit {
                            message_id: ev.messageId,
                            sender: ev.sender,
                            recipient: ev.recipient,
                            amount: ev.amount,
                            block: log.block_number.unwrap_or_default(),
                        });
                    }
                    start = end.saturating_add(1);
                    if end == u64::MAX {
                        break;
                    }
                }
                Err(refused) if page > 1 => {
                    tracing::debug!(%refused, page, "eth_getLogs refused; halving the range");
                    page /= 2;
                }
                Err(refused) => return Err(self.bad(&ctx, refused)),
            }
        }
        Ok(out)
    }

    /// Approves the escrow to take `amount` of `token` from the key's address.
    pub async fn approve(&self, key: &Key, token: Address, amount: U256) -> BondResult<BondTx> {
        let call = IErc20Bond::approveCall {
            spender: self.escrow,
            amount,
        };
        self.transact(key, token, call.abi_encode().into(), "approve")
            .await
    }

    /// Deposits a bond of `amount` on `message_id` for `recipient`, after checking the allowance
    /// and balance (named errors) and simulating (the escrow's refusal in words).
    pub async fn deposit(
        &self,
        key: &Key,
        recipient: Address,
        message_id: B256,
        amount: U256,
    ) -> BondResult<BondTx> {
        let owner = key.address();
        let token = self
            .read(self.escrow, &Esc::tokenCall {}, "token()")
            .await?;
        let allowance = self
            .read(
                token,
                &IErc20Bond::allowanceCall {
                    owner,
                    spender: self.escrow,
                },
                "allowance",
            )
            .await?;
        if allowance < amount {
            return Err(BondError::AllowanceTooSmall {
                escrow: self.escrow,
                token,
                owner,
                allowance,
                amount,
            });
        }
        let balance = self.token_balance(token, owner).await?;
        if balance < amount {
            return Err(BondError::BalanceTooSmall {
                escrow: self.escrow,
                token,
                owner,
                balance,
                amount,
            });
        }
        let call = Esc::depositCall {
            recipient,
            messageId: message_id,
            amount,
        };
        self.transact(
            key,
            self.escrow,
            call.abi_encode().into(),
            &format!("deposit on message {message_id}"),
        )
        .await
    }

    /// Replies to `message_id` (the recipient or an authorised agent): refund minus fee.
    pub async fn reply(&self, key: &Key, message_id: B256) -> BondResult<BondTx> {
        let call = Esc::replyCall {
            messageId: message_id,
        };
        self.transact(
            key,
            self.escrow,
            call.abi_encode().into(),
            &format!("reply on message {message_id}"),
        )
        .await
    }

    /// Forfeits `message_id` to its recipient (anyone, after the window).
    pub async fn forfeit(&self, key: &Key, message_id: B256) -> BondResult<BondTx> {
        let call = Esc::forfeitCall {
            messageId: message_id,
        };
        self.transact(
            key,
            self.escrow,
            call.abi_encode().into(),
            &format!("forfeit on message {message_id}"),
        )
        .await
    }

    /// The recipient's settings: price, window (seconds), agent and whitelist entries.
    pub async fn set_price(&self, key: &Key, price: U256) -> BondResult<BondTx> {
        let call = Esc::setPriceCall { price };
        self.transact(key, self.escrow, call.abi_encode().into(), "setPrice")
            .await
    }

    pub async fn set_window(&self, key: &Key, secs: u64) -> BondResult<BondTx> {
        let call = Esc::setResponseWindowCall { window: secs };
        self.transact(
            key,
            self.escrow,
            call.abi_encode().into(),
            "setResponseWindow",
        )
        .await
    }

    pub async fn set_agent(&self, key: &Key, agent: Address, allowed: bool) -> BondResult<BondTx> {
        let call = Esc::setAgentCall { agent, allowed };
        self.transact(key, self.escrow, call.abi_encode().into(), "setAgent")
            .await
    }

    pub async fn set_whitelisted(
        &self,
        key: &Key,
        sender: Address,
        allowed: bool,
    ) -> BondResult<BondTx> {
        let call = Esc::setWhitelistedCall { sender, allowed };
        self.transact(key, self.escrow, call.abi_encode().into(), "setWhitelisted")
            .await
    }

    /// The owner's fee in basis points (at most 2000).
    pub async fn set_fee(&self, key: &Key, fee_bps: u16) -> BondResult<BondTx> {
        let call = Esc::setFeeCall { feeBps: fee_bps };
        self.transact(key, self.escrow, call.abi_encode().into(), "setFee")
            .await
    }

    pub async fn set_minimum(&self, key: &Key, minimum: U256) -> BondResult<BondTx> {
        let call = Esc::setMinimumBondCall { minimum };
        self.transact(key, self.escrow, call.abi_encode().into(), "setMinimumBond")
            .await
    }

    /// Simulates, signs (pending nonce, estimate + 20 %, EIP-1559 fees), sends and waits.
    async fn transact(
        &self,
        key: &Key,
        to: Address,
        input: Bytes,
        action: &str,
    ) -> BondResult<BondTx> {
        let req = send::request(key.address(), to, &input);
        if let send::Simulated::Refused(reason) =
            send::simulate(&self.rpc, &req, "simulating", describe_bond_revert).await?
        {
            return Err(BondError::Refused {
                escrow: self.escrow,
                action: action.to_owned(),
                reason,
            });
        }
        let chain_id = self.rpc.chain_id().await?;
        let signed = send::fill_and_sign(&self.rpc, key, chain_id, to, input, action).await?;
        let hash = send::send_raw(&self.rpc, &send::raw(signed)).await?;
        self.wait(hash, action).await
    }

    async fn wait(&self, hash: B256, action: &str) -> BondResult<BondTx> {
        let p = self.rpc.provider();
        let deadline = tokio::time::Instant::now() + self.receipt_timeout;
        let mut pause = Duration::from_millis(10);
        loop {
            let r = self
                .rpc
                .timed("eth_getTransactionReceipt", p.get_transaction_receipt(hash))
                .await?
                .map_err(|e| self.rpc.fail("eth_getTransactionReceipt", e))?;
            if let Some(r) = r {
                let block = r.block_number.unwrap_or_default();
                if !r.status() {
                    return Err(BondError::Reverted {
                        escrow: self.escrow,
                        action: action.to_owned(),
                        tx: hash,
                        block,
                    });
                }
                let (mut paid, mut fee) = (None, None);
                for log in r.logs().iter().filter(|l| l.address() == self.escrow) {
                    if let Ok(ev) = Esc::Replied::decode_log_data(log.data()) {
                        (paid, fee) = (Some(ev.refund), Some(ev.fee));
                    } else if let Ok(ev) = Esc::Forfeited::decode_log_data(log.data()) {
                        paid = Some(ev.amount);
                    }
                }
                return Ok(BondTx {
                    tx: hash,
                    block,
                    gas_used: r.gas_used,
                    paid,
                    fee,
                });
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Timeout {
                    host: self.rpc.host().to_owned(),
                    context: format!("waiting for {action} tx {hash}"),
                    secs: self.receipt_timeout.as_secs(),
                }
                .into());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
}

/// An escrow or token revert in words.
pub fn describe_bond_revert(data: &[u8]) -> String {
    use Esc::IAttentionBondsErrors as E;
    let state = |s: u8| BondState::of(s).map_or("unknown", BondState::name);
    match E::abi_decode(data) {
        Ok(E::ZeroRecipient(_)) => "ZeroRecipient: the recipient is the zero address".into(),
        Ok(E::SelfBond(_)) => "SelfBond: a sender cannot bond itself".into(),
        Ok(E::DuplicateMessage(e)) => {
            format!(
                "DuplicateMessage: message {} already has a bond",
                e.messageId
            )
        }
        Ok(E::BelowMinimum(e)) => format!(
            "BelowMinimum: {} is under the escrow's minimum {}",
            e.amount, e.minimum
        ),
        Ok(E::BelowPrice(e)) => format!(
            "BelowPrice: {} is under the recipient's price {}",
            e.amount, e.price
        ),
        Ok(E::SenderWhitelisted(e)) => format!(
            "SenderWhitelisted: {} is whitelisted by {} and pays nothing",
            e.sender, e.recipient
        ),
        Ok(E::UnknownMessage(e)) => format!("UnknownMessage: no bond on message {}", e.messageId),
        Ok(E::NotOpen(e)) => format!(
            "NotOpen: the bond on message {} is already {}",
            e.messageId,
            state(e.status)
        ),
        Ok(E::NotRecipientOrAgent(e)) => format!(
            "NotRecipientOrAgent: {} is neither the recipient of message {} nor an agent it authorised",
            e.caller, e.messageId
        ),
        Ok(E::WindowClosed(e)) => format!(
            "WindowClosed: the response window of message {} closed at {}",
            e.messageId, e.deadline
        ),
        Ok(E::WindowOpen(e)) => format!(
            "WindowOpen: the response window of message {} is open until {}",
            e.messageId, e.deadline
        ),
        Ok(E::FeeTooHigh(e)) => format!("FeeTooHigh: {} bps is over {} bps", e.feeBps, e.max),
        Ok(E::WindowOutOfRange(e)) => format!(
            "WindowOutOfRange: {} s is outside {}..={} s",
            e.window, e.min, e.max
        ),
        Ok(E::AmountTooLarge(e)) => format!("AmountTooLarge: {} does not fit 96 bits", e.amount),
        Ok(E::ZeroTreasury(_)) => "ZeroTreasury: the treasury is the zero address".into(),
        Ok(E::TransferShort(e)) => format!(
            "TransferShort: the token delivered {} of {} (fee-on-transfer tokens are refused)",
            e.received, e.expected
        ),
        Ok(E::ERC20InsufficientAllowance(e)) => format!(
            "ERC20InsufficientAllowance: allowance {} for {} is under {}",
            e.allowance, e.spender, e.needed
        ),
        Ok(E::ERC20InsufficientBalance(e)) => format!(
            "ERC20InsufficientBalance: {} holds {}, needs {}",
            e.sender, e.balance, e.needed
        ),
        Ok(E::OwnableUnauthorizedAccount(e)) => {
            format!(
                "OwnableUnauthorizedAccount: {} is not the escrow's owner",
                e.account
            )
        }
        Err(_) => crate::describe_revert(data),
    }
}

/// `Deposited`'s topic, for log scans.
pub fn deposited_topic() -> B256 {
    Esc::Deposited::SIGNATURE_HASH
}
