//! Which decoded call does what ([`effects_of`]) and which flags that raises ([`flags_of`]).

use std::collections::{BTreeSet, HashMap};

use alloy_primitives::{Address, B256, U256};
use serde::Serialize;

use super::governance::{CurrentSettings, Setting, judge, role_label};
use super::value::{Call, Value, decimal};
use crate::flag::{Flag, Severity, kinds};

/// An approval at or above this is unlimited: `type(uint96).max` (COMP and other uint96
/// tokens treat it as infinite), and so also `type(uint256).max`.
pub const UNLIMITED_APPROVAL: U256 = U256::from_limbs([u64::MAX, (1u64 << 32) - 1, 0, 0]);

/// Where an effect was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Read from the decoded calldata.
    Payload,
    /// Observed when the actions ran on a local chain.
    Simulation,
}

/// What a proposal does to assets and control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EffectKind {
    /// ERC-20/721/1155 tokens move (`token` is `None` when the call names no token, e.g.
    /// Comptroller `_grantComp`).
    TokenTransfer {
        token: Option<Address>,
        from: Option<Address>,
        to: Address,
        #[serde(serialize_with = "decimal")]
        amount: U256,
        /// The function that moves them when it is not a plain transfer (`createStream`).
        #[serde(skip_serializing_if = "Option::is_none")]
        via: Option<String>,
    },
    EthTransfer {
        from: Option<Address>,
        to: Address,
        #[serde(serialize_with = "decimal")]
        amount: U256,
    },
    Approval {
        token: Address,
        owner: Option<Address>,
        spender: Address,
        #[serde(serialize_with = "decimal")]
        amount: U256,
        unlimited: bool,
    },
    Mint {
        token: Address,
        to: Address,
        #[serde(serialize_with = "decimal")]
        amount: U256,
    },
    /// A proxy's implementation changes (`implementation` unknown for a diamond cut).
    Upgrade {
        proxy: Address,
        implementation: Option<Address>,
    },
    /// Roles, owners, admins, Safe owners and modules.
    PermissionChange {
        contract: Address,
        what: String,
        account: Option<Address>,
    },
    /// Governor, timelock and protocol settings.
    GovernanceChange {
        contract: Address,
        setting: String,
        value: String,
    },
    /// Storage slots written (EIP-1967 implementation/admin) seen in simulation.
    SlotChange {
        contract: Address,
        slot: String,
        before: String,
        after: String,
    },
    /// The executor's own storage written in simulation (a delegatecalled proposal writes the
    /// governance contract's state): how many slots, and the first few.
    StorageWrite {
        contract: Address,
        count: usize,
        /// Up to [`STORAGE_SAMPLE`] writes: slot, before, after.
        sample: Vec<(B256, B256, B256)>,
    },
}

/// How many storage writes a [`EffectKind::StorageWrite`] lists.
pub const STORAGE_SAMPLE: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Effect {
    #[serde(flatten)]
    pub kind: EffectKind,
    pub origin: Origin,
}

impl Effect {
    pub fn payload(kind: EffectKind) -> Self {
        Self {
            kind,
            origin: Origin::Payload,
        }
    }

    pub fn simulated(kind: EffectKind) -> Self {
        Self {
            kind,
            origin: Origin::Simulation,
        }
    }
}

/// What is known of a token, for amounts in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub symbol: String,
    pub decimals: u8,
}

/// Token metadata by address (from the chain when an RPC is given).
pub type Tokens = HashMap<Address, TokenInfo>;

/// `1791000000000000000000` with 18 decimals is `1,791`; fractions keep up to 4 digits.
pub fn format_amount(amount: U256, decimals: u8) -> String {
    let s = amount.to_string();
    let d = usize::from(decimals);
    let (int, frac) = if s.len() > d {
        (s[..s.len() - d].to_owned(), s[s.len() - d..].to_owned())
    } else {
        ("0".to_owned(), format!("{}{s}", "0".repeat(d - s.len())))
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let frac: String = frac.chars().take(4).collect();
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        grouped
    } else {
        format!("{grouped}.{frac}")
    }
}

pub(crate) fn token_amount(tokens: &Tokens, token: Option<Address>, amount: U256) -> String {
    match token.and_then(|t| tokens.get(&t)) {
        Some(i) => format!("{} {}", format_amount(amount, i.decimals), i.symbol),
        None => match token {
            Some(t) => format!(
                "{amount} base units of token {} (decimals unknown)",
                short(t)
            ),
            None => format!("{amount} base units (decimals unknown)"),
        },
    }
}

pub(crate) fn short(a: Address) -> String {
    let s = a.to_checksum(None);
    format!("{}…{}", &s[..6], &s[s.len() - 4..])
}

fn addr(c: &Call, i: usize) -> Option<Address> {
    c.arg(i).and_then(Value::as_address)
}

fn uint(c: &Call, i: usize) -> Option<U256> {
    c.arg(i).and_then(Value::as_uint)
}

/// `role PROPOSER_ROLE granted`: the role of an AccessControl call named where it is known.
fn role(c: &Call, done: &str) -> String {
    match c.arg(0) {
        Some(Value::FixedBytes(b)) if b.len() == 32 => {
            format!("role {} {done}", role_label(&B256::from_slice(b)))
        }
        _ => format!("role {done}"),
    }
}

/// The effects of `call` and its nested calls, read from the payload alone.
pub fn effects_of(call: &Call) -> Vec<Effect> {
    let mut out = Vec::new();
    for c in call.walk() {
        one(c, &mut out);
    }
    out
}

fn one(c: &Call, out: &mut Vec<Effect>) {
    let mut push = |k: EffectKind| out.push(Effect::payload(k));
    if !c.value.is_zero() {
        push(EffectKind::EthTransfer {
            from: c.from,
            to: c.target,
            amount: c.value,
        });
    }
    let Some(sig) = c.signature.as_deref() else {
        return;
    };
    let t = c.target;
    let setting = |name: &str| EffectKind::GovernanceChange {
        contract: t,
        setting: name.to_owned(),
        value: c
            .args
            .iter()
            .map(|a| a.value.short())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let perm = |what: &str, account: Option<Address>| EffectKind::PermissionChange {
        contract: t,
        what: what.to_owned(),
        account,
    };
    match sig {
        "transfer(address,uint256)" => {
            if let (Some(to), Some(amount)) = (addr(c, 0), uint(c, 1)) {
                push(EffectKind::TokenTransfer {
                    token: Some(t),
                    from: c.from,
                    to,
                    amount,
                    via: None,
                });
            }
        }
        "transferFrom(address,address,uint256)"
        | "safeTransferFrom(address,address,uint256)"
        | "safeTransferFrom(address,address,uint256,bytes)" => {
            if let (Some(from), Some(to), Some(amount)) = (addr(c, 0), addr(c, 1), uint(c, 2)) {
                push(EffectKind::TokenTransfer {
                    token: Some(t),
                    from: Some(from),
                    to,
                    amount,
                    via: None,
                });
            }
        }
        "safeTransferFrom(address,address,uint256,uint256,bytes)" => {
            if let (Some(from), Some(to), Some(amount)) = (addr(c, 0), addr(c, 1), uint(c, 3)) {
                push(EffectKind::TokenTransfer {
                    token: Some(t),
                    from: Some(from),
                    to,
                    amount,
                    via: None,
                });
            }
        }
        "safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)" => {
            if let (Some(from), Some(to), Some(Value::List(amounts))) =
                (addr(c, 0), addr(c, 1), c.arg(3))
            {
                let amount = amounts
                    .iter()
                    .filter_map(Value::as_uint)
                    .fold(U256::ZERO, |a, b| a.saturating_add(b));
                push(EffectKind::TokenTransfer {
                    token: Some(t),
                    from: Some(from),
                    to,
                    amount,
                    via: None,
                });
            }
        }
        "approve(address,uint256)" | "increaseAllowance(address,uint256)" => {
            if let (Some(spender), Some(amount)) = (addr(c, 0), uint(c, 1))
                && !amount.is_zero()
            {
                push(EffectKind::Approval {
                    token: t,
                    owner: c.from,
                    spender,
                    amount,
                    unlimited: amount >= UNLIMITED_APPROVAL,
                });
            }
        }
        "setApprovalForAll(address,bool)" => {
            if let (Some(spender), Some(true)) = (addr(c, 0), c.arg(1).and_then(Value::as_bool)) {
                push(EffectKind::Approval {
                    token: t,
                    owner: c.from,
                    spender,
                    amount: U256::MAX,
                    unlimited: true,
                });
            }
        }
        "mint(address,uint256)" => {
            if let (Some(to), Some(amount)) = (addr(c, 0), uint(c, 1)) {
                push(EffectKind::Mint {
                    token: t,
                    to,
                    amount,
                });
            }
        }
        "createStream(address,uint256,address,uint256,uint256)" => {
            if let (Some(to), Some(amount), Some(token)) = (addr(c, 0), uint(c, 1), addr(c, 2)) {
                push(EffectKind::TokenTransfer {
                    token: Some(token),
                    from: c.from,
                    to,
                    amount,
                    via: Some("createStream".into()),
                });
            }
        }
        "_grantComp(address,uint256)" => {
            if let (Some(to), Some(amount)) = (addr(c, 0), uint(c, 1)) {
                push(EffectKind::TokenTransfer {
                    token: None,
                    from: Some(t),
                    to,
                    amount,
                    via: Some("_grantComp".into()),
                });
            }
        }
        "_reduceReserves(uint256)" => push(setting("reserves withdrawn to the admin")),
        "upgradeTo(address)"
        | "upgradeToAndCall(address,bytes)"
        | "_setImplementation(address)" => push(EffectKind::Upgrade {
            proxy: t,
            implementation: addr(c, 0),
        }),
        "upgrade(address,address)" | "upgradeAndCall(address,address,bytes)" => {
            if let Some(proxy) = addr(c, 0) {
                push(EffectKind::Upgrade {
                    proxy,
                    implementation: addr(c, 1),
                });
            }
        }
        "diamondCut((address,uint8,bytes4[])[],address,bytes)" => {
            if matches!(c.arg(0), Some(Value::List(cuts)) if !cuts.is_empty()) {
                push(EffectKind::Upgrade {
                    proxy: t,
                    implementation: None,
                });
            }
        }
        "changeAdmin(address)" => push(perm("proxy admin", addr(c, 0))),
        "changeProxyAdmin(address,address)" => {
            if let Some(proxy) = addr(c, 0) {
                push(EffectKind::PermissionChange {
                    contract: proxy,
                    what: "proxy admin".into(),
                    account: addr(c, 1),
                });
            }
        }
        "grantRole(bytes32,address)" => push(perm(&role(c, "granted"), addr(c, 1))),
        "revokeRole(bytes32,address)" => push(perm(&role(c, "revoked"), addr(c, 1))),
        "renounceRole(bytes32,address)" => push(perm(&role(c, "renounced"), addr(c, 1))),
        "_setWhitelistGuardian(address)" | "setWhitelistGuardian(address)" => {
            push(perm("whitelist guardian", addr(c, 0)))
        }
        "_setBorrowCapGuardian(address)" => push(perm("borrow cap guardian", addr(c, 0))),
        "setGovernanceStrategy(address)" => push(perm("governance strategy", addr(c, 0))),
        "setPoolAdmin(address)" => push(perm("pool admin", addr(c, 0))),
        "setEmergencyAdmin(address)" => push(perm("emergency admin", addr(c, 0))),
        "authorizeExecutors(address[])" | "unauthorizeExecutors(address[])" => {
            let what = if sig.starts_with("un") {
                "executor removed"
            } else {
                "executor authorized"
            };
            match c.arg(0) {
                Some(Value::List(v)) if !v.is_empty() => {
                    for a in v.iter().filter_map(Value::as_address) {
                        push(perm(what, Some(a)));
                    }
                }
                _ => push(perm(what, None)),
            }
        }
        "transferOwnership(address)" => push(perm("owner", addr(c, 0))),
        "renounceOwnership()" => push(perm("owner renounced", None)),
        "_setPendingAdmin(address)" | "setPendingAdmin(address)" => {
            push(perm("pending admin", addr(c, 0)))
        }
        "_acceptAdmin()" | "acceptAdmin()" => push(perm("admin accepted", None)),
        "addOwnerWithThreshold(address,uint256)" => push(perm("safe owner added", addr(c, 0))),
        "removeOwner(address,address,uint256)" => push(perm("safe owner removed", addr(c, 1))),
        "swapOwner(address,address,address)" => push(perm("safe owner swapped", addr(c, 2))),
        "changeThreshold(uint256)" => push(perm("safe threshold", None)),
        "enableModule(address)" => push(perm("safe module enabled", addr(c, 0))),
        "setGuard(address)" => push(perm("safe guard", addr(c, 0))),
        "updateTimelock(address)" => push(perm("governor timelock", addr(c, 0))),
        "_setPauseGuardian(address)" => push(perm("pause guardian", addr(c, 0))),
        "setVotingDelay(uint48)"
        | "setVotingDelay(uint256)"
        | "_setVotingDelay(uint256)"
        | "setVotingPeriod(uint32)"
        | "setVotingPeriod(uint256)"
        | "_setVotingPeriod(uint256)"
        | "setProposalThreshold(uint256)"
        | "_setProposalThreshold(uint256)"
        | "updateQuorumNumerator(uint256)"
        | "setLateQuorumVoteExtension(uint48)"
        | "setLateQuorumVoteExtension(uint64)"
        | "setQuorum(uint256)"
        | "_setWhitelistAccountExpiration(address,uint256)"
        | "setWhitelistAccountExpiration(address,uint256)"
        | "_setMintPaused(address,bool)"
        | "updateDelay(uint256)"
        | "setDelay(uint256)"
        | "_setPriceOracle(address)"
        | "_setCollateralFactor(address,uint256)"
        | "_setCloseFactor(uint256)"
        | "_setLiquidationIncentive(uint256)"
        | "_supportMarket(address)"
        | "_setCompSpeeds(address[],uint256[],uint256[])"
        | "_setMarketBorrowCaps(address[],uint256[])"
        | "_setReserveFactor(uint256)"
        | "_setInterestRateModel(address)"
        | "setReserveFactor(address,uint256)"
        | "configureReserveAsCollateral(address,uint256,uint256,uint256)"
        | "setReserveBorrowing(address,bool)"
        | "setSupplyCap(address,uint256)"
        | "setBorrowCap(address,uint256)"
        | "setReserveFreeze(address,bool)"
        | "setReservePause(address,bool)"
        | "setReserveInterestRateStrategyAddress(address,address)" => {
            let name = c.function.as_deref().unwrap_or(sig);
            push(setting(name))
        }
        _ => {}
    }
}

/// Flags for the calls and effects: one per distinct (kind, detail). Settings changes are
/// judged on their new values alone ([`flags_with_current`] compares with the current ones).
pub fn flags_of(calls: &[Call], effects: &[Effect], tokens: &Tokens) -> Vec<Flag> {
    flags_with_current(calls, effects, tokens, &CurrentSettings::new())
}

/// [`flags_of`], judging each settings change also against its current value where `current`
/// has it (read on chain).
pub fn flags_with_current(
    calls: &[Call],
    effects: &[Effect],
    tokens: &Tokens,
    current: &CurrentSettings,
) -> Vec<Flag> {
    let mut out = Vec::new();
    for top in calls {
        for c in top.walk() {
            if let Some(e) = &c.error {
                out.push(Flag::new(
                    kinds::BAD_CALLDATA,
                    Severity::Critical,
                    format!("call to {} does not decode: {e}", short(c.target)),
                ));
            } else if !c.known {
                let sel = c.selector.as_deref().unwrap_or("?");
                let named = c
                    .signature
                    .as_deref()
                    .map(|s| format!(" (stated as {s})"))
                    .unwrap_or_default();
                out.push(Flag::new(
                    kinds::UNKNOWN_CALL,
                    Severity::Critical,
                    format!(
                        "call to {} with unknown function {sel}{named}: what it does cannot be read",
                        short(c.target)
                    ),
                ));
            }
            if c.delegate {
                out.push(Flag::new(
                    kinds::DELEGATECALL,
                    Severity::Critical,
                    format!(
                        "{} runs by delegatecall: its code acts with the caller's storage and funds",
                        short(c.target)
                    ),
                ));
            }
        }
    }
    let payload: Vec<&Effect> = effects
        .iter()
        .filter(|e| e.origin == Origin::Payload)
        .collect();
    for e in effects {
        // What the payload already says is flagged once, from the payload.
        if e.origin == Origin::Simulation && super::claims::explained(e, &payload) {
            continue;
        }
        let sim = if e.origin == Origin::Simulation {
            " (seen in simulation)"
        } else {
            ""
        };
        let (kind, sev, detail) = match &e.kind {
            EffectKind::TokenTransfer {
                token,
                to,
                amount,
                via,
                ..
            } => (
                kinds::TOKEN_TRANSFER,
                Severity::Warn,
                format!(
                    "{} {} to {}{}",
                    if via.as_deref() == Some("createStream") {
                        "streams"
                    } else {
                        "sends"
                    },
                    token_amount(tokens, *token, *amount),
                    short(*to),
                    via.as_deref()
                        .map(|v| format!(" via {v}"))
                        .unwrap_or_default()
                ),
            ),
            EffectKind::EthTransfer { to, amount, .. } => (
                kinds::ETH_TRANSFER,
                Severity::Warn,
                format!("sends {} ETH to {}", format_amount(*amount, 18), short(*to)),
            ),
            EffectKind::Approval {
                token,
                spender,
                amount,
                unlimited,
                ..
            } => {
                if *unlimited {
                    (
                        kinds::UNLIMITED_APPROVAL,
                        Severity::Critical,
                        format!(
                            "lets {} spend all of token {} without limit",
                            short(*spender),
                            tokens
                                .get(token)
                                .map(|i| i.symbol.clone())
                                .unwrap_or_else(|| short(*token))
                        ),
                    )
                } else {
                    (
                        kinds::APPROVAL,
                        Severity::Warn,
                        format!(
                            "lets {} spend {}",
                            short(*spender),
                            token_amount(tokens, Some(*token), *amount)
                        ),
                    )
                }
            }
            EffectKind::Mint { token, to, amount } => (
                kinds::MINT,
                Severity::Warn,
                format!(
                    "mints {} to {}",
                    token_amount(tokens, Some(*token), *amount),
                    short(*to)
                ),
            ),
            EffectKind::Upgrade {
                proxy,
                implementation,
            } => (
                kinds::UPGRADE,
                Severity::Critical,
                match implementation {
                    Some(i) => format!(
                        "replaces the code behind {} with {}",
                        short(*proxy),
                        short(*i)
                    ),
                    None => format!("replaces code of {}", short(*proxy)),
                },
            ),
            EffectKind::PermissionChange {
                contract,
                what,
                account,
            } => (
                kinds::PERMISSION_CHANGE,
                Severity::Critical,
                match account {
                    Some(a) => format!("{what} on {}: {}", short(*contract), short(*a)),
                    None => format!("{what} on {}", short(*contract)),
                },
            ),
            EffectKind::GovernanceChange {
                contract,
                setting,
                value,
            } => {
                let detail = format!("{setting} on {} set to {value}", short(*contract));
                match settings_judgement(*contract, setting, value, current) {
                    Some(j) if !j.why.is_empty() => (
                        kinds::GOVERNANCE_CHANGE,
                        j.severity,
                        format!("{detail}: {}", j.why),
                    ),
                    Some(j) => (kinds::GOVERNANCE_CHANGE, j.severity, detail),
                    None => (kinds::GOVERNANCE_CHANGE, Severity::Warn, detail),
                }
            }
            EffectKind::SlotChange { contract, slot, .. } => (
                kinds::UPGRADE,
                Severity::Critical,
                format!("{slot} slot of {} changes", short(*contract)),
            ),
            EffectKind::StorageWrite {
                contract,
                count,
                sample,
            } => (
                kinds::GOVERNANCE_CHANGE,
                Severity::Warn,
                match sample.first() {
                    Some((slot, before, after)) => format!(
                        "writes {count} storage slot(s) of the executor {} itself, e.g. slot {slot} from {} to {}",
                        short(*contract),
                        U256::from_be_bytes(before.0),
                        U256::from_be_bytes(after.0)
                    ),
                    None => format!(
                        "writes {count} storage slot(s) of the executor {} itself",
                        short(*contract)
                    ),
                },
            ),
        };
        out.push(Flag::new(kind, sev, format!("{detail}{sim}")));
    }
    dedupe(out)
}

/// The judgement of a settings change whose setter and single integer value Steward knows.
fn settings_judgement(
    contract: Address,
    setter: &str,
    value: &str,
    current: &CurrentSettings,
) -> Option<super::governance::Judgement> {
    let setting = Setting::of_function(setter)?;
    let new = value.parse::<U256>().ok()?;
    Some(judge(
        setting,
        new,
        current.get(&(contract, setting)).copied(),
    ))
}

/// Keeps the first of each (kind, detail), in order.
pub(crate) fn dedupe(flags: Vec<Flag>) -> Vec<Flag> {
    let mut seen = BTreeSet::new();
    flags
        .into_iter()
        .filter(|f| seen.insert((f.kind.clone(), f.detail.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Arg;

    fn call(sig: &str, args: Vec<Value>) -> Call {
        let mut c = Call::plain(Address::repeat_byte(0xaa), U256::ZERO, None, 0);
        c.signature = Some(sig.into());
        c.function = sig.split('(').next().map(str::to_owned);
        c.selector = Some("0x00000000".into());
        c.args = args
            .into_iter()
            .enumerate()
            .map(|(i, value)| Arg {
                name: format!("a{i}"),
                ty: String::new(),
                value,
            })
            .collect();
        c
    }

    #[test]
    fn amounts_in_words() {
        let e18 = U256::from(10u64).pow(U256::from(18u64));
        let cases = [
            (U256::from(1791u64) * e18, 18, "1,791"),
            (
                U256::from(16_722_407_999_999_999_750_400u128),
                18,
                "16,722.4079",
            ),
            (U256::from(5u64), 18, "0"),
            (U256::from(1_500_000u64), 6, "1.5"),
            (U256::from(123u64), 0, "123"),
        ];
        for (a, d, want) in cases {
            assert_eq!(format_amount(a, d), want);
        }
    }

    #[test]
    fn approvals_at_uint96_max_are_unlimited() {
        let max96 = (U256::from(1u8) << 96) - U256::from(1u8);
        assert_eq!(UNLIMITED_APPROVAL, max96);
        let who = Value::Address(Address::repeat_byte(1));
        for (amount, unlimited) in [
            (U256::MAX, true),
            (max96, true),
            (max96 - U256::from(1u8), false),
        ] {
            let e = effects_of(&call(
                "approve(address,uint256)",
                vec![who.clone(), Value::Uint(amount)],
            ));
            assert!(
                matches!(&e[0].kind, EffectKind::Approval { unlimited: u, .. } if *u == unlimited)
            );
            let flags = flags_of(&[], &e, &Tokens::new());
            let kind = if unlimited {
                kinds::UNLIMITED_APPROVAL
            } else {
                kinds::APPROVAL
            };
            assert_eq!(flags[0].kind, kind);
        }
    }

    #[test]
    fn unknown_and_delegated_calls_are_critical() {
        let mut c = call("sweep()", vec![]);
        c.known = false;
        c.delegate = true;
        let flags = flags_of(&[c], &[], &Tokens::new());
        let kinds: Vec<_> = flags.iter().map(|f| f.kind.as_str()).collect();
        assert_eq!(kinds, [kinds::UNKNOWN_CALL, kinds::DELEGATECALL]);
        assert!(flags.iter().all(Flag::is_critical));
    }

    #[test]
    fn each_known_shape_has_its_flag() {
        let a = Value::Address(Address::repeat_byte(2));
        let n = Value::Uint(U256::from(7u8));
        let table: Vec<(&str, Vec<Value>, &str)> = vec![
            (
                "transfer(address,uint256)",
                vec![a.clone(), n.clone()],
                kinds::TOKEN_TRANSFER,
            ),
            (
                "mint(address,uint256)",
                vec![a.clone(), n.clone()],
                kinds::MINT,
            ),
            ("upgradeTo(address)", vec![a.clone()], kinds::UPGRADE),
            (
                "changeAdmin(address)",
                vec![a.clone()],
                kinds::PERMISSION_CHANGE,
            ),
            (
                "grantRole(bytes32,address)",
                vec![Value::FixedBytes(vec![0; 32].into()), a.clone()],
                kinds::PERMISSION_CHANGE,
            ),
            (
                "setVotingDelay(uint48)",
                vec![n.clone()],
                kinds::GOVERNANCE_CHANGE,
            ),
            (
                "createStream(address,uint256,address,uint256,uint256)",
                vec![a.clone(), n.clone(), a.clone(), n.clone(), n.clone()],
                kinds::TOKEN_TRANSFER,
            ),
        ];
        for (sig, args, kind) in table {
            let flags = flags_of(&[], &effects_of(&call(sig, args)), &Tokens::new());
            assert_eq!(flags.len(), 1, "{sig}");
            assert_eq!(flags[0].kind, kind, "{sig}");
        }
    }

    fn setter(sig: &str, n: u64) -> Call {
        call(sig, vec![Value::Uint(U256::from(n))])
    }

    fn governance_flags(calls: &[Call], current: &CurrentSettings) -> Vec<Flag> {
        let effects: Vec<Effect> = calls.iter().flat_map(effects_of).collect();
        flags_with_current(calls, &effects, &Tokens::new(), current)
            .into_iter()
            .filter(|f| f.kind == kinds::GOVERNANCE_CHANGE)
            .collect()
    }

    /// The shape: "Housekeeping: update parameters" that sets the voting period to one
    /// block and the quorum to zero. Both are critical on the values alone (no chain reads).
    #[test]
    fn a_harmless_title_that_guts_voting_period_and_quorum_is_critical() {
        let calls = [
            setter("setVotingPeriod(uint32)", 1),
            setter("updateQuorumNumerator(uint256)", 0),
        ];
        let flags = governance_flags(&calls, &CurrentSettings::new());
        assert_eq!(flags.len(), 2, "{flags:?}");
        assert!(flags.iter().all(Flag::is_critical), "{flags:?}");
        assert!(
            flags[0].detail.contains("under one day"),
            "{}",
            flags[0].detail
        );
        assert!(flags[1].detail.contains("under 1%"), "{}", flags[1].detail);
        // The same for 4.x widths and Bravo's admin functions.
        for sig in ["setVotingPeriod(uint256)", "_setVotingPeriod(uint256)"] {
            let f = governance_flags(&[setter(sig, 1)], &CurrentSettings::new());
            assert!(f[0].is_critical(), "{sig}");
        }
        for (sig, n) in [
            ("setVotingDelay(uint48)", 0),
            ("_setVotingDelay(uint256)", 0),
            ("setDelay(uint256)", 3600),
            ("updateDelay(uint256)", 0),
            ("setProposalThreshold(uint256)", 0),
            ("_setProposalThreshold(uint256)", 0),
            ("setQuorum(uint256)", 0),
        ] {
            let f = governance_flags(&[setter(sig, n)], &CurrentSettings::new());
            assert!(f[0].is_critical(), "{sig} = {n}: {f:?}");
        }
    }

    /// A look-alike benign change: voting period 3 days -> 5 days is a warning, not critical,
    /// with or without the current value; halving a 7-day period is critical only with it.
    #[test]
    fn a_benign_settings_change_warns_and_a_relative_cut_is_critical() {
        let gov = Address::repeat_byte(0xaa);
        let day = crate::verify::DAY_BLOCKS;
        let calls = [setter("setVotingPeriod(uint256)", 5 * day)];
        let mut current = CurrentSettings::new();
        let f = governance_flags(&calls, &current);
        assert_eq!(f[0].severity, Severity::Warn, "{f:?}");
        current.insert((gov, Setting::VotingPeriod), U256::from(3 * day));
        let f = governance_flags(&calls, &current);
        assert_eq!(f[0].severity, Severity::Warn, "{f:?}");
        assert!(f[0].detail.contains("raised from 21600"), "{}", f[0].detail);
        let cut = [setter("setVotingPeriod(uint256)", 3 * day)];
        assert_eq!(
            governance_flags(&cut, &CurrentSettings::new())[0].severity,
            Severity::Warn
        );
        current.insert((gov, Setting::VotingPeriod), U256::from(7 * day));
        let f = governance_flags(&cut, &current);
        assert!(f[0].is_critical(), "{f:?}");
        assert!(
            f[0].detail.contains("cut from 50400 to 21600"),
            "{}",
            f[0].detail
        );
    }

    #[test]
    fn role_grants_name_the_role() {
        let who = Value::Address(Address::repeat_byte(2));
        let id = |n: &str| Value::FixedBytes(alloy_primitives::keccak256(n).to_vec().into());
        for (sig, role, want) in [
            (
                "grantRole(bytes32,address)",
                id("PROPOSER_ROLE"),
                "role PROPOSER_ROLE granted",
            ),
            (
                "grantRole(bytes32,address)",
                id("CANCELLER_ROLE"),
                "role CANCELLER_ROLE granted",
            ),
            (
                "revokeRole(bytes32,address)",
                id("EXECUTOR_ROLE"),
                "role EXECUTOR_ROLE revoked",
            ),
            (
                "renounceRole(bytes32,address)",
                Value::FixedBytes(vec![0; 32].into()),
                "role DEFAULT_ADMIN_ROLE renounced",
            ),
            (
                "grantRole(bytes32,address)",
                id("TIMELOCK_ADMIN_ROLE"),
                "role TIMELOCK_ADMIN_ROLE granted",
            ),
        ] {
            let flags = flags_of(
                &[],
                &effects_of(&call(sig, vec![role, who.clone()])),
                &Tokens::new(),
            );
            assert_eq!(flags[0].kind, kinds::PERMISSION_CHANGE);
            assert!(flags[0].is_critical());
            assert!(flags[0].detail.starts_with(want), "{}", flags[0].detail);
        }
        let grant = effects_of(&call(
            "grantRole(bytes32,address)",
            vec![id("EXECUTOR_ROLE"), who.clone()],
        ));
        // The text names another role: mismatch. The same role, or roles in words: none.
        let m = crate::verify::mismatches(
            "Grant the PROPOSER_ROLE to the new governor",
            &grant,
            &Tokens::new(),
        );
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].detail.contains("names PROPOSER_ROLE"),
            "{}",
            m[0].detail
        );
        for ok in [
            "Grant the EXECUTOR_ROLE to the new governor",
            "Give the new governor the proposer and executor roles",
        ] {
            assert!(
                crate::verify::mismatches(ok, &grant, &Tokens::new()).is_empty(),
                "{ok}"
            );
        }
    }

    #[test]
    fn new_admin_setters_are_permission_changes() {
        let a = Value::Address(Address::repeat_byte(3));
        for (sig, args, what) in [
            (
                "_setWhitelistGuardian(address)",
                vec![a.clone()],
                "whitelist guardian",
            ),
            (
                "_setBorrowCapGuardian(address)",
                vec![a.clone()],
                "borrow cap guardian",
            ),
            (
                "setGovernanceStrategy(address)",
                vec![a.clone()],
                "governance strategy",
            ),
            (
                "authorizeExecutors(address[])",
                vec![Value::List(vec![a.clone()])],
                "executor authorized",
            ),
        ] {
            let f = flags_of(&[], &effects_of(&call(sig, args)), &Tokens::new());
            assert_eq!(f[0].kind, kinds::PERMISSION_CHANGE, "{sig}");
            assert!(f[0].detail.starts_with(what), "{sig}: {}", f[0].detail);
        }
    }

    /// False alarms on real, benign settings changes: the payload each text states (setter and
    /// new value as written; the current value as the text or the DAO's previous proposal gives
    /// it), judged with and without the current value. `cargo test -p steward-core --lib
    /// real_settings_changes -- --nocapture` prints the table in docs/verify.md.
    #[test]
    #[allow(clippy::print_stderr)] // the measured table goes to stderr
    fn real_settings_changes_are_not_critical_governance_changes() {
        let data =
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
        let jsonl = data.join("onchain-governor-votes/proposals.jsonl");
        let Ok(lines) = std::fs::read_to_string(&jsonl) else {
            steward_testing::skip(
                steward_testing::Need::Data,
                "real_settings_changes",
                format!("{} is absent", jsonl.display()),
            );
            return;
        };
        let mut texts: HashMap<String, String> = HashMap::new();
        for l in lines.lines() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(l) {
                let id = v["proposal_id"].as_str().unwrap_or_default().to_owned();
                let text = format!(
                    "{}\n{}",
                    v["title"].as_str().unwrap_or_default(),
                    v["body"].as_str().unwrap_or_default()
                );
                texts.insert(id, text);
            }
        }
        if let Ok(t) =
            std::fs::read_to_string(data.join("proposal-texts/makerdao-mips/md/MIP121__MIP121.md"))
        {
            texts.insert("maker:MIP121".into(), t);
        }
        let e18 = U256::from(10u64).pow(U256::from(18u64));
        let comp = |n: u64| U256::from(n) * e18;
        let a = |s: &str| Value::Address(s.parse().expect("address"));
        // (proposal, stated in its text, setter, arguments, current value, expected)
        type Case<'a> = (&'a str, &'a str, &'a str, Vec<Value>, Option<U256>, &'a str);
        let cases: Vec<Case<'_>> = vec![
            (
                "compound:52",
                "Lower Proposal Threshold to 65,000 COMP",
                "_setProposalThreshold(uint256)",
                vec![Value::Uint(comp(65_000))],
                Some(comp(100_000)),
                kinds::GOVERNANCE_CHANGE,
            ),
            (
                "compound:88",
                "reducing the proposal threshold to 10K",
                "_setProposalThreshold(uint256)",
                vec![Value::Uint(comp(10_000))],
                Some(comp(65_000)),
                kinds::GOVERNANCE_CHANGE,
            ),
            (
                "compound:89",
                "reducing the proposal threshold to 25K",
                "_setProposalThreshold(uint256)",
                vec![Value::Uint(comp(25_000))],
                Some(comp(65_000)),
                kinds::GOVERNANCE_CHANGE,
            ),
            (
                "aave-v2:41",
                "set this voting delay to 2 days, in seconds",
                "setVotingDelay(uint256)",
                vec![Value::Uint(U256::from(172_800u64))],
                Some(U256::ZERO),
                kinds::GOVERNANCE_CHANGE,
            ),
            (
                "maker:MIP121",
                "48 Hours to 72 Hours",
                "setDelay(uint256)",
                vec![Value::Uint(U256::from(259_200u64))],
                Some(U256::from(172_800u64)),
                kinds::GOVERNANCE_CHANGE,
            ),
            (
                "compound:57",
                "0xbbf3f1421D886E9b2c5D716B5192aC998af2012c",
                "_setPauseGuardian(address)",
                vec![a("0xbbf3f1421D886E9b2c5D716B5192aC998af2012c")],
                None,
                kinds::PERMISSION_CHANGE,
            ),
            (
                "uniswap-alpha:1",
                "0xeca491e162d157760f167c4dd92b45ae6e5cf0f1",
                "setPendingAdmin(address)",
                vec![a("0xeca491e162d157760f167c4dd92b45ae6e5cf0f1")],
                None,
                kinds::PERMISSION_CHANGE,
            ),
        ];
        let mut governance_critical = 0;
        let mut found = 0;
        eprintln!(
            "| proposal | payload (as the text states it) | without current value | with current value | mismatch |"
        );
        for (id, stated, sig, args, cur, kind) in &cases {
            let Some(text) = texts.get(*id) else {
                eprintln!("| {id} | (text absent) | | | |");
                continue;
            };
            assert!(text.contains(stated), "{id} states {stated:?}");
            found += 1;
            let c = call(sig, args.clone());
            let effects = effects_of(&c);
            let mut current = CurrentSettings::new();
            if let (Some(v), Some(s)) = (
                cur,
                Setting::of_function(sig.split('(').next().unwrap_or_default()),
            ) {
                current.insert((c.target, s), *v);
            }
            let mut sev = |current: &CurrentSettings| {
                let f =
                    flags_with_current(std::slice::from_ref(&c), &effects, &Tokens::new(), current);
                let f = f.into_iter().find(|f| f.kind == *kind).expect("flag");
                if f.kind == kinds::GOVERNANCE_CHANGE && f.is_critical() {
                    governance_critical += 1;
                }
                format!("{} {:?}", f.kind, f.severity).to_lowercase()
            };
            let alone = sev(&CurrentSettings::new());
            let with = if cur.is_some() {
                sev(&current)
            } else {
                "-".into()
            };
            let m = crate::verify::mismatches(text, &effects, &Tokens::new());
            eprintln!("| {id} | {} | {alone} | {with} | {} |", c.label(), m.len());
            assert!(m.is_empty(), "{id}: {m:?}");
        }
        eprintln!(
            "critical governance-change on {found} real benign settings changes: {governance_critical}"
        );
        assert_eq!(governance_critical, 0);
    }
}
