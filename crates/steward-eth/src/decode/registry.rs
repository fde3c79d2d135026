//! The ABI registry: built-in signatures of the contracts governance proposals call, plus the
//! ABIs and signatures a user adds.

use std::collections::HashMap;

use alloy::dyn_abi::{DynSolType, Specifier};
use alloy::json_abi::{Function, JsonAbi};
use alloy::primitives::Selector;

/// Human-readable signatures of what Steward knows without being told.
const BUILTIN: &[&str] = &[
    // ERC-20
    "function transfer(address to, uint256 amount)",
    "function transferFrom(address from, address to, uint256 amount)",
    "function approve(address spender, uint256 amount)",
    "function increaseAllowance(address spender, uint256 addedValue)",
    "function decreaseAllowance(address spender, uint256 subtractedValue)",
    "function mint(address to, uint256 amount)",
    "function burn(uint256 amount)",
    "function delegate(address delegatee)",
    // ERC-721
    "function safeTransferFrom(address from, address to, uint256 tokenId)",
    "function safeTransferFrom(address from, address to, uint256 tokenId, bytes data)",
    "function setApprovalForAll(address operator, bool approved)",
    // ERC-1155
    "function safeTransferFrom(address from, address to, uint256 id, uint256 amount, bytes data)",
    "function safeBatchTransferFrom(address from, address to, uint256[] ids, uint256[] amounts, bytes data)",
    // Ownable, AccessControl
    "function transferOwnership(address newOwner)",
    "function renounceOwnership()",
    "function acceptOwnership()",
    "function grantRole(bytes32 role, address account)",
    "function revokeRole(bytes32 role, address account)",
    "function renounceRole(bytes32 role, address callerConfirmation)",
    // UUPS and Transparent proxies (EIP-1967), ProxyAdmin, diamonds (EIP-2535)
    "function upgradeTo(address newImplementation)",
    "function upgradeToAndCall(address newImplementation, bytes data)",
    "function changeAdmin(address newAdmin)",
    "function upgrade(address proxy, address implementation)",
    "function upgradeAndCall(address proxy, address implementation, bytes data)",
    "function changeProxyAdmin(address proxy, address newAdmin)",
    "function diamondCut((address,uint8,bytes4[])[] diamondCut, address init, bytes data)",
    // OpenZeppelin Governor settings, 5.x (GovernorSettings, GovernorPreventLateQuorum)
    "function setVotingDelay(uint48 newVotingDelay)",
    "function setVotingPeriod(uint32 newVotingPeriod)",
    "function setLateQuorumVoteExtension(uint48 newVoteExtension)",
    // ... 4.x: other integer widths, so other selectors
    "function setVotingDelay(uint256 newVotingDelay)",
    "function setVotingPeriod(uint256 newVotingPeriod)",
    "function setLateQuorumVoteExtension(uint64 newVoteExtension)",
    // ... both (GovernorVotesQuorumFraction, GovernorTimelockControl/Compound); `setQuorum` is
    // the absolute quorum of GovernorSettableFixedQuorum (Compound's OZ-based governor)
    "function setProposalThreshold(uint256 newProposalThreshold)",
    "function updateQuorumNumerator(uint256 newQuorumNumerator)",
    "function updateTimelock(address newTimelock)",
    "function setQuorum(uint256 amount)",
    "function setWhitelistAccountExpiration(address account, uint256 expiration)",
    "function setWhitelistGuardian(address account)",
    // TimelockController (roles through AccessControl's grantRole/revokeRole/renounceRole above)
    "function relay(address target, uint256 value, bytes data)",
    "function schedule(address target, uint256 value, bytes data, bytes32 predecessor, bytes32 salt, uint256 delay)",
    "function scheduleBatch(address[] targets, uint256[] values, bytes[] payloads, bytes32 predecessor, bytes32 salt, uint256 delay)",
    "function execute(address target, uint256 value, bytes payload, bytes32 predecessor, bytes32 salt)",
    "function executeBatch(address[] targets, uint256[] values, bytes[] payloads, bytes32 predecessor, bytes32 salt)",
    "function cancel(bytes32 id)",
    "function updateDelay(uint256 newDelay)",
    // Compound GovernorBravo and Timelock
    "function _setVotingDelay(uint256 newVotingDelay)",
    "function _setVotingPeriod(uint256 newVotingPeriod)",
    "function _setProposalThreshold(uint256 newProposalThreshold)",
    "function _setPendingAdmin(address newPendingAdmin)",
    "function _acceptAdmin()",
    "function _setImplementation(address implementation)",
    "function _setWhitelistGuardian(address account)",
    "function _setWhitelistAccountExpiration(address account, uint256 expiration)",
    "function setDelay(uint256 delay)",
    "function setPendingAdmin(address pendingAdmin)",
    "function acceptAdmin()",
    "function queueTransaction(address target, uint256 value, string signature, bytes data, uint256 eta)",
    "function executeTransaction(address target, uint256 value, string signature, bytes data, uint256 eta)",
    "function cancelTransaction(address target, uint256 value, string signature, bytes data, uint256 eta)",
    // Compound cToken and Comptroller
    "function _setReserveFactor(uint256 newReserveFactorMantissa)",
    "function _reduceReserves(uint256 reduceAmount)",
    "function _setInterestRateModel(address newInterestRateModel)",
    "function _setCollateralFactor(address cToken, uint256 newCollateralFactorMantissa)",
    "function _setCloseFactor(uint256 newCloseFactorMantissa)",
    "function _setLiquidationIncentive(uint256 newLiquidationIncentiveMantissa)",
    "function _setPriceOracle(address newOracle)",
    "function _supportMarket(address cToken)",
    "function _setPauseGuardian(address newPauseGuardian)",
    "function _setBorrowCapGuardian(address newBorrowCapGuardian)",
    "function _setMintPaused(address cToken, bool state)",
    "function _grantComp(address recipient, uint256 amount)",
    "function _setCompSpeeds(address[] cTokens, uint256[] supplySpeeds, uint256[] borrowSpeeds)",
    "function _setMarketBorrowCaps(address[] cTokens, uint256[] newBorrowCaps)",
    // Aave governance v2 (AaveGovernanceV2; its setVotingDelay(uint256) is OpenZeppelin 4.x's
    // selector, and its executors' setDelay/setPendingAdmin/acceptAdmin are Compound Timelock's)
    "function setGovernanceStrategy(address governanceStrategy)",
    "function authorizeExecutors(address[] executors)",
    "function unauthorizeExecutors(address[] executors)",
    // Aave v2 LendingPoolAddressesProvider: who may configure and who may pause the pool
    "function setPoolAdmin(address admin)",
    "function setEmergencyAdmin(address emergencyAdmin)",
    // Aave v3 PoolConfigurator
    "function setReserveFactor(address asset, uint256 newReserveFactor)",
    "function configureReserveAsCollateral(address asset, uint256 ltv, uint256 liquidationThreshold, uint256 liquidationBonus)",
    "function setReserveBorrowing(address asset, bool enabled)",
    "function setSupplyCap(address asset, uint256 newSupplyCap)",
    "function setBorrowCap(address asset, uint256 newBorrowCap)",
    "function setReserveFreeze(address asset, bool freeze)",
    "function setReservePause(address asset, bool paused)",
    "function setReserveInterestRateStrategyAddress(address asset, address newRateStrategyAddress)",
    // Safe, MultiSend, multicall
    "function execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures)",
    "function addOwnerWithThreshold(address owner, uint256 threshold)",
    "function removeOwner(address prevOwner, address owner, uint256 threshold)",
    "function swapOwner(address prevOwner, address oldOwner, address newOwner)",
    "function changeThreshold(uint256 threshold)",
    "function enableModule(address module)",
    "function setGuard(address guard)",
    "function multiSend(bytes transactions)",
    "function multicall(bytes[] data)",
    "function aggregate3((address,bool,bytes)[] calls)",
    // Sablier v1
    "function createStream(address recipient, uint256 deposit, address tokenAddress, uint256 startTime, uint256 stopTime)",
    "function cancelStream(uint256 streamId)",
    // Tornado Cash governance: the proposal contract's entry point, run by delegatecall
    "function executeProposal()",
];

/// Functions by selector.
#[derive(Debug, Clone)]
pub struct Registry {
    by_selector: HashMap<Selector, Function>,
}

/// A signature or ABI that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct RegistryError {
    pub what: String,
    pub reason: String,
}

impl Default for Registry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Registry {
    /// The built-in registry.
    pub fn builtin() -> Self {
        let mut r = Self {
            by_selector: HashMap::new(),
        };
        for s in BUILTIN {
            // The list is fixed and covered by a test; a bad entry is skipped, not a panic.
            if let Ok(f) = Function::parse(s) {
                r.by_selector.insert(f.selector(), f);
            }
        }
        r
    }

    /// Adds every function of a JSON ABI (an array, or an object with an `abi` field as forge
    /// and hardhat write). Returns how many were added.
    pub fn add_json(&mut self, what: &str, json: &str) -> Result<usize, RegistryError> {
        let err = |reason: String| RegistryError {
            what: what.to_owned(),
            reason,
        };
        let v: serde_json::Value =
            serde_json::from_str(json).map_err(|e| err(format!("not JSON: {e}")))?;
        let abi_v = match v {
            serde_json::Value::Object(mut o) if o.contains_key("abi") => {
                o.remove("abi").unwrap_or_default()
            }
            other => other,
        };
        let abi: JsonAbi =
            serde_json::from_value(abi_v).map_err(|e| err(format!("not an ABI: {e}")))?;
        // Every function is checked before any is added: a file with one bad entry changes
        // nothing.
        for f in abi.functions() {
            check_size(f).map_err(|reason| err(format!("function {}: {reason}", f.signature())))?;
        }
        let mut n = 0;
        for f in abi.functions() {
            self.by_selector.insert(f.selector(), f.clone());
            n += 1;
        }
        Ok(n)
    }

    /// Adds one human-readable signature: `transfer(address,uint256)` or
    /// `function transfer(address to, uint256 amount)`.
    pub fn add_signature(&mut self, sig: &str) -> Result<Selector, RegistryError> {
        let f = parse_signature(sig)?;
        let sel = f.selector();
        self.by_selector.insert(sel, f);
        Ok(sel)
    }

    pub fn get(&self, selector: &[u8; 4]) -> Option<&Function> {
        self.by_selector.get(&Selector::from(*selector))
    }

    pub fn len(&self) -> usize {
        self.by_selector.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_selector.is_empty()
    }
}

/// Parses `name(types)` or `function name(type name, ...)`.
pub fn parse_signature(sig: &str) -> Result<Function, RegistryError> {
    let s = sig.trim();
    let full = if s.starts_with("function ") {
        s.to_owned()
    } else {
        format!("function {s}")
    };
    let bad = |reason: String| RegistryError {
        what: format!("signature {s:?}"),
        reason,
    };
    let f = Function::parse(&full).map_err(|e| {
        bad(e
            .to_string()
            .lines()
            .next()
            .unwrap_or("does not parse")
            .to_owned())
    })?;
    check_size(&f).map_err(bad)?;
    Ok(f)
}

/// Refuses a function whose parameters the decoder could not lay out in bounded memory (see
/// [`MAX_TYPE_SIZE`]); the built-in list, signatures and JSON ABIs all pass through it.
fn check_size(f: &Function) -> Result<(), String> {
    let mut size = 0usize;
    for p in &f.inputs {
        let ty = p
            .resolve()
            .map_err(|e| format!("parameter type {}: {e}", p.ty))?;
        size = size.saturating_add(expanded_size(&ty));
    }
    if size > MAX_TYPE_SIZE {
        return Err(format!(
            "its fixed-size arrays expand to more than {MAX_TYPE_SIZE} values"
        ));
    }
    Ok(())
}

/// Most values a signature's types may expand to through fixed-size arrays. The decoder lays
/// out every element of a fixed array before reading any calldata, so `f(address[9][9]...[9])`
/// in a Bravo proposal's signature asked for gigabytes; 1 MiB of calldata holds 32768 words.
const MAX_TYPE_SIZE: usize = 1 << 15;

/// How many values `ty` expands to, counting one element of a dynamic array (saturating).
fn expanded_size(ty: &DynSolType) -> usize {
    match ty {
        DynSolType::FixedArray(inner, n) => n.saturating_mul(expanded_size(inner)),
        DynSolType::Array(inner) => expanded_size(inner).saturating_add(1),
        DynSolType::Tuple(ts) => ts
            .iter()
            .fold(1usize, |acc, t| acc.saturating_add(expanded_size(t))),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_signature_parses_and_none_collide() {
        let r = Registry::builtin();
        assert_eq!(
            r.len(),
            BUILTIN.len(),
            "a built-in signature failed to parse or collides"
        );
        let transfer = r.get(&[0xa9, 0x05, 0x9c, 0xbb]).expect("transfer");
        assert_eq!(transfer.signature(), "transfer(address,uint256)");
    }

    /// Found by the `calldata` fuzz target (out of memory): a Bravo signature of nested
    /// fixed-size arrays made the decoder lay out 272 million elements before reading a byte.
    #[test]
    fn nested_fixed_arrays_in_a_signature_are_refused_before_decoding() {
        let sig =
            "_(address[][][][][4][9][][][3][][][4][9][][9][][][3][][][4][9][][][3][8][][][][3][])";
        let err = parse_signature(sig).expect_err("too big");
        assert!(err.to_string().contains("fixed-size arrays"), "{err}");
        assert!(parse_signature("f(uint256[3][4],address[])").is_ok());
        assert!(parse_signature("f(bytes32[32768])").is_ok());
        assert!(parse_signature("f(bytes32[32769])").is_err());
        let d = crate::decode::Decoder::default();
        let action = steward_core::Action {
            target: alloy::primitives::Address::ZERO,
            value: alloy::primitives::U256::ZERO,
            signature: sig.into(),
            calldata: vec![0u8; 64].into(),
        };
        assert!(d.action(&action, None).error.is_some());
    }

    /// The same bound holds for a user's JSON ABI file, and a file with one such function adds
    /// nothing (no partial registry).
    #[test]
    fn a_json_abi_with_a_huge_fixed_array_is_refused_whole() {
        let abi = r#"[
          {"type":"function","name":"ok","inputs":[{"name":"a","type":"uint256"}],"outputs":[],"stateMutability":"nonpayable"},
          {"type":"function","name":"huge","inputs":[{"name":"a","type":"uint256[9][9][9][9][9][9][9][9][9]"}],"outputs":[],"stateMutability":"nonpayable"}
        ]"#;
        let mut r = Registry::builtin();
        let before = r.len();
        let err = r.add_json("user.json", abi).expect_err("too big");
        let msg = err.to_string();
        assert!(msg.contains("user.json") && msg.contains("huge("), "{msg}");
        assert!(msg.contains("fixed-size arrays"), "{msg}");
        assert_eq!(r.len(), before, "nothing added from a refused file");
        assert_eq!(
            r.add_json(
                "ok.json",
                &abi.replace("[9][9][9][9][9][9][9][9][9]", "[9]")
            )
            .expect("a small fixed array is fine"),
            2
        );
    }

    #[test]
    fn user_abis_and_signatures() {
        let mut r = Registry::builtin();
        let n = r
            .add_json(
                "fees.json",
                r#"{"abi":[{"type":"function","name":"setFee","inputs":[{"name":"bps","type":"uint256"}],"outputs":[],"stateMutability":"nonpayable"}]}"#,
            )
            .expect("abi");
        assert_eq!(n, 1);
        r.add_signature("sweep()").expect("sig");
        assert!(r.add_signature("not a signature(").is_err());
        assert!(r.add_json("x", "[1,2]").is_err());
    }
}
