//! Suggestion markets (`contracts/SuggestionMarket.sol`): one binary LMSR market per submitted
//! input on "the sponsor accepts it", funded by the sponsor with ceil(b·ln 2) tokens. Prices come
//! from `steward_core::mech::lmsr` in integer token units (a charge rounds up, a payout down);
//! the sponsor signs each quote (EIP-712, bound to the market state, the trader, a nonce and a
//! deadline) and the contract checks that the pool still covers the larger side after each trade.

use alloy::primitives::{Address, B256, Bytes, I256, U256};
use alloy::sol_types::{Eip712Domain, SolCall, SolEvent, SolInterface, SolStruct};
use serde::Serialize;
use steward_core::mech::lmsr;

use crate::contract::{Contract, bad_answer};
use crate::erc8004::{Mined, RegistryError, RegistryResult};
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
        struct InputState {
            address submitter;
            uint8 status;
            bytes32 contentHash;
            uint256 qYes;
            uint256 qNo;
            uint256 pool;
        }

        interface ISuggestionMarket {
            function token() external view returns (address);
            function sponsor() external view returns (address);
            function b() external view returns (uint256);
            function endTime() external view returns (uint256);
            function fundingPerInput() external view returns (uint256);
            function inputCount() external view returns (uint256);
            function input(uint256 inputId) external view returns (InputState);
            function sharesOf(uint256 inputId, address holder) external view returns (uint256 rejected, uint256 accepted);
            function nonces(address trader) external view returns (uint256);
            function submit(bytes32 contentHash, string uri) external returns (uint256);
            function fund(uint256 inputId) external;
            function trade(uint256 inputId, int256 deltaYes, int256 deltaNo, int256 cost, uint256 deadline, bytes signature) external;
            function settle(uint256 inputId, bool accepted) external;
            function redeem(uint256 inputId) external returns (uint256);
            function eip712Domain() external view returns (
                bytes1 fields, string name, string version, uint256 chainId,
                address verifyingContract, bytes32 salt, uint256[] extensions
            );
            event Submitted(uint256 indexed inputId, address indexed submitter, bytes32 contentHash, string uri);
            event Redeemed(uint256 indexed inputId, address indexed holder, uint256 amount);
            event Traded(
                uint256 indexed inputId, address indexed trader, int256 deltaYes, int256 deltaNo, int256 cost, uint256 qYes, uint256 qNo
            );
        }

        interface IErc20Decimals {
            function decimals() external view returns (uint8);
        }

        #[sol(all_derives)]
        interface MarketErrors {
            error NotSponsor(address caller);
            error UnknownInput(uint256 inputId);
            error WrongStatus(uint256 inputId, uint8 status);
            error MarketEnded(uint256 endTime, uint256 nowTs);
            error SettleBeforeEnd(uint256 endTime, uint256 nowTs);
            error QuoteExpired(uint256 deadline, uint256 nowTs);
            error BadQuoteSignature();
            error NotEnoughShares(uint256 inputId, address trader);
            error Insolvent(uint256 inputId, uint256 pool, uint256 liability);
            error NothingToRedeem(uint256 inputId, address holder);
            error BadMarket(string why);
            error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
            error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
        }

        /// The sponsor's signed price (EIP-712).
        struct Quote {
            uint256 inputId;
            address trader;
            int256 deltaYes;
            int256 deltaNo;
            uint256 qYes;
            uint256 qNo;
            int256 cost;
            uint256 nonce;
            uint256 deadline;
        }
    }
}

use abi::{IErc20Decimals, ISuggestionMarket, MarketErrors, Quote};

/// An input's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputStatus {
    Submitted,
    Open,
    Accepted,
    Rejected,
}

impl InputStatus {
    fn of(n: u8) -> Option<Self> {
        Some(match n {
            0 => Self::Submitted,
            1 => Self::Open,
            2 => Self::Accepted,
            3 => Self::Rejected,
            _ => return None,
        })
    }
}

/// The market's fixed parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarketInfo {
    pub address: Address,
    pub token: Address,
    pub sponsor: Address,
    /// LMSR liquidity in token units.
    pub b: u128,
    pub end_time: u64,
    pub funding_per_input: u128,
    pub inputs: u64,
}

/// One input's market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputMarket {
    pub id: u64,
    pub submitter: Address,
    pub status: InputStatus,
    pub content_hash: B256,
    /// Outstanding "accepted" and "rejected" shares, in token units of payout.
    pub q_yes: u128,
    pub q_no: u128,
    pub pool: u128,
}

/// An input as submitted: where its text is and the hash it must have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Submission {
    pub id: u64,
    pub submitter: Address,
    /// keccak256 of the input's text.
    pub content_hash: B256,
    pub uri: String,
}

/// A trade as the market's `Traded` event tells it, with the transaction that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TradeLog {
    pub input: u64,
    pub trader: Address,
    pub delta_yes: i128,
    pub delta_no: i128,
    pub cost: i128,
    pub tx: B256,
    pub block: u64,
}

/// A priced trade, ready to sign (sponsor) or send (trader).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarketQuote {
    pub input: u64,
    pub trader: Address,
    pub delta_yes: i128,
    pub delta_no: i128,
    pub q_yes: u128,
    pub q_no: u128,
    /// What the trader pays (negative: is paid), token units, rounded against the trader.
    pub cost: i128,
    pub nonce: u64,
    pub deadline: u64,
}

/// The LMSR price of moving the shares by (`delta_yes`, `delta_no`) from (`q_yes`, `q_no`) with
/// liquidity `b`, in token units, from steward-core (rounded up: never in the trader's favour).
pub fn lmsr_cost(
    b: u128,
    q_yes: u128,
    q_no: u128,
    delta_yes: i128,
    delta_no: i128,
) -> Result<i128, String> {
    let as_i = |v: u128| i128::try_from(v).map_err(|_| format!("{v} shares out of range"));
    let shares = vec![as_i(q_no)?, as_i(q_yes)?];
    let m = lmsr::Market::new(2, b as f64)
        .and_then(|m| m.with_shares(shares))
        .map_err(|e| e.to_string())?;
    m.quote(&[delta_no, delta_yes]).map_err(|e| e.to_string())
}

/// The instantaneous price of "accepted" (0..1).
pub fn lmsr_price_yes(b: u128, q_yes: u128, q_no: u128) -> f64 {
    match lmsr::Market::new(2, b as f64)
        .and_then(|m| m.with_shares(vec![q_no as i128, q_yes as i128]))
    {
        Ok(m) => m.prices()[1],
        Err(_) => f64::NAN,
    }
}

/// A suggestion market contract.
#[derive(Debug, Clone)]
pub struct SuggestionMarketClient {
    rpc: Rpc,
    address: Address,
}

fn to_u128(v: U256, what: &str) -> Result<u128, String> {
    u128::try_from(v).map_err(|_| format!("{what} {v} out of range"))
}

impl SuggestionMarketClient {
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
            label: "suggestion market",
            describe: describe_market_revert,
            receipt_timeout: std::time::Duration::from_secs(120),
        }
    }

    fn range(&self, what: &str, e: String) -> RegistryError {
        bad_answer(&self.rpc, what, &e)
    }

    async fn view<C: SolCall>(&self, call: &C, name: &str) -> RegistryResult<C::Return> {
        self.contract().view(call, name).await
    }

    /// The market's token and its `decimals()`.
    pub async fn token_decimals(&self) -> RegistryResult<(Address, u8)> {
        let token = self.view(&ISuggestionMarket::tokenCall {}, "token").await?;
        let d = self
            .rpc
            .call(token, &IErc20Decimals::decimalsCall {}, "decimals()")
            .await?
            .map_err(|e| bad_answer(&self.rpc, "the token's decimals()", &e))?;
        Ok((token, d))
    }

    /// The latest block's timestamp (quote deadlines are on the chain's clock).
    pub async fn chain_time(&self) -> RegistryResult<u64> {
        let n = self.rpc.block_number().await?;
        Ok(self.rpc.block_timestamp(n).await?)
    }

    pub async fn info(&self) -> RegistryResult<MarketInfo> {
        let b = self.view(&ISuggestionMarket::bCall {}, "b").await?;
        let end = self
            .view(&ISuggestionMarket::endTimeCall {}, "endTime")
            .await?;
        let funding = self
            .view(
                &ISuggestionMarket::fundingPerInputCall {},
                "fundingPerInput",
            )
            .await?;
        let inputs = self
            .view(&ISuggestionMarket::inputCountCall {}, "inputCount")
            .await?;
        Ok(MarketInfo {
            address: self.address,
            token: self.view(&ISuggestionMarket::tokenCall {}, "token").await?,
            sponsor: self
                .view(&ISuggestionMarket::sponsorCall {}, "sponsor")
                .await?,
            b: to_u128(b, "b").map_err(|e| self.range("b", e))?,
            end_time: u64::try_from(end).map_err(|_| self.range("endTime", end.to_string()))?,
            funding_per_input: to_u128(funding, "funding")
                .map_err(|e| self.range("fundingPerInput", e))?,
            inputs: u64::try_from(inputs)
                .map_err(|_| self.range("inputCount", inputs.to_string()))?,
        })
    }

    pub async fn input(&self, id: u64) -> RegistryResult<InputMarket> {
        let s = self
            .view(
                &ISuggestionMarket::inputCall {
                    inputId: U256::from(id),
                },
                "input",
            )
            .await?;
        let status = InputStatus::of(s.status)
            .ok_or_else(|| self.range("input", format!("status {}", s.status)))?;
        let r = |v: U256, w: &str| to_u128(v, w).map_err(|e| self.range("input", e));
        Ok(InputMarket {
            id,
            submitter: s.submitter,
            status,
            content_hash: s.contentHash,
            q_yes: r(s.qYes, "qYes")?,
            q_no: r(s.qNo, "qNo")?,
            pool: r(s.pool, "pool")?,
        })
    }

    /// (rejected, accepted) shares of `holder`.
    pub async fn shares_of(&self, id: u64, holder: Address) -> RegistryResult<(u128, u128)> {
        let s = self
            .view(
                &ISuggestionMarket::sharesOfCall {
                    inputId: U256::from(id),
                    holder,
                },
                "sharesOf",
            )
            .await?;
        let r = |v: U256| to_u128(v, "shares").map_err(|e| self.range("sharesOf", e));
        Ok((r(s.rejected)?, r(s.accepted)?))
    }

    pub async fn nonce(&self, trader: Address) -> RegistryResult<u64> {
        let n = self
            .view(&ISuggestionMarket::noncesCall { trader }, "nonces")
            .await?;
        u64::try_from(n).map_err(|_| self.range("nonces", n.to_string()))
    }

    pub async fn submit(&self, key: &Key, content_hash: B256, uri: &str) -> RegistryResult<u64> {
        let call = ISuggestionMarket::submitCall {
            contentHash: content_hash,
            uri: uri.to_owned(),
        };
        let r = self
            .contract()
            .send(key, call.abi_encode(), "submit")
            .await?;
        r.logs()
            .iter()
            .filter(|l| l.address() == self.address)
            .find_map(|l| ISuggestionMarket::Submitted::decode_log_data(l.data()).ok())
            .and_then(|e| u64::try_from(e.inputId).ok())
            .ok_or_else(|| bad_answer(&self.rpc, "submit", "no Submitted event in the receipt"))
    }

    /// Every input's `Submitted` event (its content hash and URI) in blocks `from_block..=head`,
    /// by input id. One `eth_getLogs`: a market's inputs are few.
    pub async fn submissions(&self, from_block: u64) -> RegistryResult<Vec<Submission>> {
        let filter = alloy::rpc::types::Filter::new()
            .address(self.address)
            .event_signature(ISuggestionMarket::Submitted::SIGNATURE_HASH)
            .from_block(from_block);
        let ctx = format!("eth_getLogs(Submitted) of market {}", self.address);
        let logs = self
            .rpc
            .logs(&filter, &ctx)
            .await?
            .map_err(|refused| bad_answer(&self.rpc, &ctx, &refused))?;
        let mut out = Vec::new();
        for log in logs.iter().filter(|l| !l.removed) {
            let ev = ISuggestionMarket::Submitted::decode_log_data(log.data())
                .map_err(|e| bad_answer(&self.rpc, &ctx, &format!("a log does not decode: {e}")))?;
            out.push(Submission {
                id: u64::try_from(ev.inputId)
                    .map_err(|_| bad_answer(&self.rpc, &ctx, "input id out of range"))?,
                submitter: ev.submitter,
                content_hash: ev.contentHash,
                uri: ev.uri,
            });
        }
        out.sort_by_key(|s| s.id);
        Ok(out)
    }

    /// Every trade `trader` made on this market in blocks `from_block..=head` (its `Traded`
    /// events, the trader an indexed topic), oldest first.
    pub async fn trades_by(
        &self,
        trader: Address,
        from_block: u64,
    ) -> RegistryResult<Vec<TradeLog>> {
        let filter = alloy::rpc::types::Filter::new()
            .address(self.address)
            .event_signature(ISuggestionMarket::Traded::SIGNATURE_HASH)
            .topic2(trader.into_word());
        let ctx = format!("Traded of market {} by {trader}", self.address);
        // Paged: nodes that cap a log query's block range would refuse the whole history, and
        // this read is what recovers a trade after a crash.
        let latest = self.rpc.block_number().await?;
        let logs = crate::governor::paged_logs(
            &self.rpc,
            crate::governor::DEFAULT_PAGE_BLOCKS,
            &filter,
            &ctx,
            from_block,
            latest,
        )
        .await?;
        let mut out = Vec::new();
        for log in &logs {
            // A log without its transaction (a pending one) says nothing yet.
            let (Some(tx), Some(block)) = (log.transaction_hash, log.block_number) else {
                continue;
            };
            let ev = ISuggestionMarket::Traded::decode_log_data(log.data())
                .map_err(|e| bad_answer(&self.rpc, &ctx, &format!("a log does not decode: {e}")))?;
            let int = |v: I256| {
                i128::try_from(v).map_err(|_| bad_answer(&self.rpc, &ctx, "an amount out of range"))
            };
            out.push(TradeLog {
                input: u64::try_from(ev.inputId)
                    .map_err(|_| bad_answer(&self.rpc, &ctx, "input id out of range"))?,
                trader: ev.trader,
                delta_yes: int(ev.deltaYes)?,
                delta_no: int(ev.deltaNo)?,
                cost: int(ev.cost)?,
                tx,
                block,
            });
        }
        Ok(out)
    }

    pub async fn fund(&self, key: &Key, id: u64) -> RegistryResult<Mined> {
        let call = ISuggestionMarket::fundCall {
            inputId: U256::from(id),
        };
        let r = self.contract().send(key, call.abi_encode(), "fund").await?;
        Ok(mined(&r))
    }

    /// Prices a trade by `trader` at the input's current state with steward-core's LMSR.
    pub async fn price(
        &self,
        id: u64,
        trader: Address,
        delta_yes: i128,
        delta_no: i128,
        deadline: u64,
    ) -> RegistryResult<MarketQuote> {
        let info_b = self.view(&ISuggestionMarket::bCall {}, "b").await?;
        let b = to_u128(info_b, "b").map_err(|e| self.range("b", e))?;
        let m = self.input(id).await?;
        let cost = lmsr_cost(b, m.q_yes, m.q_no, delta_yes, delta_no).map_err(|e| {
            RegistryError::BadInput {
                what: format!("trade on input {id}"),
                detail: e,
            }
        })?;
        Ok(MarketQuote {
            input: id,
            trader,
            delta_yes,
            delta_no,
            q_yes: m.q_yes,
            q_no: m.q_no,
            cost,
            nonce: self.nonce(trader).await?,
            deadline,
        })
    }

    async fn domain(&self) -> RegistryResult<Eip712Domain> {
        let d = self
            .view(&ISuggestionMarket::eip712DomainCall {}, "eip712Domain")
            .await?;
        Ok(Eip712Domain::new(
            Some(d.name.into()),
            Some(d.version.into()),
            Some(d.chainId),
            Some(d.verifyingContract),
            None,
        ))
    }

    /// The sponsor's signature of `q`.
    pub async fn sign_quote(&self, sponsor: &Key, q: &MarketQuote) -> RegistryResult<Bytes> {
        let domain = self.domain().await?;
        let hash = Quote {
            inputId: U256::from(q.input),
            trader: q.trader,
            deltaYes: I256::try_from(q.delta_yes).unwrap_or_default(),
            deltaNo: I256::try_from(q.delta_no).unwrap_or_default(),
            qYes: U256::from(q.q_yes),
            qNo: U256::from(q.q_no),
            cost: I256::try_from(q.cost).unwrap_or_default(),
            nonce: U256::from(q.nonce),
            deadline: U256::from(q.deadline),
        }
        .eip712_signing_hash(&domain);
        let sig = sponsor.sign_hash(&hash).map_err(|e| {
            RegistryError::Eth(Error::Signing {
                what: format!("quote on input {}", q.input),
                detail: e.to_string(),
            })
        })?;
        Ok(sig.as_bytes().to_vec().into())
    }

    /// Sends the trader's side of a signed quote.
    pub async fn trade(
        &self,
        trader: &Key,
        q: &MarketQuote,
        signature: Bytes,
    ) -> RegistryResult<Mined> {
        let call = ISuggestionMarket::tradeCall {
            inputId: U256::from(q.input),
            deltaYes: I256::try_from(q.delta_yes).unwrap_or_default(),
            deltaNo: I256::try_from(q.delta_no).unwrap_or_default(),
            cost: I256::try_from(q.cost).unwrap_or_default(),
            deadline: U256::from(q.deadline),
            signature,
        };
        let r = self
            .contract()
            .send(trader, call.abi_encode(), "trade")
            .await?;
        Ok(mined(&r))
    }

    pub async fn settle(&self, sponsor: &Key, id: u64, accepted: bool) -> RegistryResult<Mined> {
        let call = ISuggestionMarket::settleCall {
            inputId: U256::from(id),
            accepted,
        };
        let r = self
            .contract()
            .send(sponsor, call.abi_encode(), "settle")
            .await?;
        Ok(mined(&r))
    }

    /// Redeems the holder's winning shares; returns the amount paid.
    pub async fn redeem(&self, holder: &Key, id: u64) -> RegistryResult<(u128, Mined)> {
        let call = ISuggestionMarket::redeemCall {
            inputId: U256::from(id),
        };
        let r = self
            .contract()
            .send(holder, call.abi_encode(), "redeem")
            .await?;
        let amount = r
            .logs()
            .iter()
            .filter(|l| l.address() == self.address)
            .find_map(|l| ISuggestionMarket::Redeemed::decode_log_data(l.data()).ok())
            .and_then(|e| u128::try_from(e.amount).ok())
            .ok_or_else(|| bad_answer(&self.rpc, "redeem", "no Redeemed event in the receipt"))?;
        Ok((amount, mined(&r)))
    }
}

fn mined(r: &alloy::rpc::types::TransactionReceipt) -> Mined {
    Mined {
        tx: r.transaction_hash,
        block: r.block_number.unwrap_or_default(),
        gas_used: r.gas_used,
    }
}

/// A suggestion market's revert in words.
pub fn describe_market_revert(data: &[u8]) -> String {
    use MarketErrors::MarketErrorsErrors as E;
    match E::abi_decode(data) {
        Ok(E::NotSponsor(e)) => format!("NotSponsor: {} is not the market's sponsor", e.caller),
        Ok(E::UnknownInput(e)) => format!("UnknownInput: no input {}", e.inputId),
        Ok(E::WrongStatus(e)) => format!(
            "WrongStatus: input {} is {}",
            e.inputId,
            InputStatus::of(e.status)
                .map(|s| format!("{s:?}").to_lowercase())
                .unwrap_or_else(|| e.status.to_string())
        ),
        Ok(E::MarketEnded(e)) => format!(
            "MarketEnded: the market ended at {} (chain time {})",
            e.endTime, e.nowTs
        ),
        Ok(E::SettleBeforeEnd(e)) => format!(
            "SettleBeforeEnd: the market runs until {} (chain time {})",
            e.endTime, e.nowTs
        ),
        Ok(E::QuoteExpired(e)) => format!(
            "QuoteExpired: the quote expired at {} (chain time {})",
            e.deadline, e.nowTs
        ),
        Ok(E::BadQuoteSignature(_)) => {
            "BadQuoteSignature: the quote is not signed by the sponsor for this trader, state and nonce".into()
        }
        Ok(E::NotEnoughShares(e)) => format!(
            "NotEnoughShares: {} sells more shares of input {} than it holds",
            e.trader, e.inputId
        ),
        Ok(E::Insolvent(e)) => format!(
            "Insolvent: input {}'s pool {} would not cover {}",
            e.inputId, e.pool, e.liability
        ),
        Ok(E::NothingToRedeem(e)) => format!(
            "NothingToRedeem: {} holds no winning shares of input {}",
            e.holder, e.inputId
        ),
        Ok(E::BadMarket(e)) => format!("BadMarket: {}", e.why),
        Ok(E::ERC20InsufficientAllowance(e)) => format!(
            "ERC20InsufficientAllowance: the market may spend {} of the token, the trade needs {}",
            e.allowance, e.needed
        ),
        Ok(E::ERC20InsufficientBalance(e)) => format!(
            "ERC20InsufficientBalance: {} holds {} of the token, the trade needs {}",
            e.sender, e.balance, e.needed
        ),
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
    fn lmsr_cost_is_core_lmsr_and_a_round_trip_never_pays_the_trader() {
        // b = 100 USDC (6 decimals); buying 10 "accepted" shares from a fresh market.
        let b = 100_000_000;
        let buy = lmsr_cost(b, 0, 0, 10_000_000, 0).expect("quote");
        // 100·ln((e^0.1 + 1)/2) = 5.124947951 USDC, rounded up.
        assert_eq!(buy, 5_124_948);
        let sell = lmsr_cost(b, 10_000_000, 0, -10_000_000, 0).expect("quote");
        assert!(buy + sell >= 0, "buy {buy} then sell {sell}");
        assert!((lmsr_price_yes(b, 0, 0) - 0.5).abs() < 1e-12);
    }
}
