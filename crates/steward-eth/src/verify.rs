//! One proposal's payload, verified: decoded ([`Decoder`]), its targets' code read
//! ([`Rpc::code_facts`]), run on a local chain ([`Rpc::simulate`]) and every finding turned into
//! flags by steward-core's rules, including the `mismatch`es between the description and what
//! the payload does.

use std::collections::BTreeSet;

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::rpc::types::Filter;
use alloy::sol;
use serde::Serialize;
use steward_core::verification::{
    Arg, Call, CurrentSettings, Effect, EffectKind, Setting, TokenInfo, Tokens, effects_of,
    flags_with_current, mismatches, with_known_tokens,
};
use steward_core::{Action, Flag, Severity, kinds};

use crate::code::CodeFacts;
use crate::decode::Decoder;
use crate::error::Result;
use crate::rpc::Rpc;
use crate::simulate::Simulation;

sol! {
    interface IVerifyProbe {
        function symbol() external view returns (string);
        function decimals() external view returns (uint8);
        function owner() external view returns (address);
        function timelock() external view returns (address);
        function hasRole(bytes32 role, address account) external view returns (bool);
    }

    /// The current values of governance settings (OpenZeppelin 4.x/5.x, Bravo,
    /// TimelockController, Compound Timelock); narrower return types decode as uint256 words.
    interface ISettingsProbe {
        function votingDelay() external view returns (uint256);
        function votingPeriod() external view returns (uint256);
        function proposalThreshold() external view returns (uint256);
        function quorumNumerator() external view returns (uint256);
        function getMinDelay() external view returns (uint256);
        function delay() external view returns (uint256);
        function lateQuorumVoteExtension() external view returns (uint256);
    }
}

/// What to verify.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub actions: &'a [Action],
    /// The proposal's text (title and body), whose claims are checked against the payload.
    pub description: &'a str,
    /// Who executes the actions (timelock or governor); `None` when unknown.
    pub executor: Option<Address>,
    /// The DAO's own addresses (governor, timelock): control by them is not outside control.
    pub dao: Vec<Address>,
    /// Run the actions on the RPC's chain (which must be anvil or an anvil fork).
    pub simulate: bool,
}

/// One action as shown to the user.
#[derive(Debug, Clone, Serialize)]
pub struct ActionReport {
    pub target: Address,
    #[serde(serialize_with = "decimal")]
    pub value: U256,
    /// Canonical signature, the bare selector when unknown, or `(ether transfer)`.
    pub function: String,
    pub args: Vec<Arg>,
    pub decoded: Call,
}

/// Everything found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub actions: Vec<ActionReport>,
    pub effects: Vec<Effect>,
    pub flags: Vec<Flag>,
    /// The code of every target, when an RPC was given.
    pub code: Vec<CodeFacts>,
    pub simulation: Option<Simulation>,
    pub tokens: Vec<(Address, TokenInfo)>,
}

impl Report {
    /// The code hash of each target that has code, for pinning.
    pub fn code_hashes(&self) -> Vec<(Address, B256)> {
        self.code
            .iter()
            .filter(|c| c.has_code())
            .map(|c| (c.address, c.code_hash))
            .collect()
    }

    pub fn has_critical(&self) -> bool {
        self.flags.iter().any(Flag::is_critical)
    }
}

fn decimal<S: serde::Serializer>(v: &U256, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

/// The executor of a governor's proposals: its `timelock()` when it has one, else itself.
pub async fn executor_of(rpc: &Rpc, governor: Address) -> Result<Address> {
    Ok(
        match rpc
            .call(governor, &IVerifyProbe::timelockCall {}, "timelock()")
            .await?
        {
            Ok(t) if t != Address::ZERO => t,
            _ => governor,
        },
    )
}

/// Verifies one payload. Without an RPC only the calldata is read (no code, no simulation).
pub async fn verify(decoder: &Decoder, rpc: Option<&Rpc>, req: &Request<'_>) -> Result<Report> {
    let calls = decoder.actions(req.actions, req.executor);
    let mut effects: Vec<Effect> = calls.iter().flat_map(effects_of).collect();
    let mut extra: Vec<Flag> = Vec::new();
    let mut code = Vec::new();
    let mut simulation = None;
    let mut tokens = Tokens::new();
    let mut current = CurrentSettings::new();
    if let Some(rpc) = rpc {
        current = current_settings(rpc, &effects).await?;
        let mut targets = BTreeSet::new();
        for c in calls.iter().flat_map(Call::walk) {
            targets.insert((c.target, c.selector.is_some()));
        }
        let mut seen = BTreeSet::new();
        for (t, has_call) in targets {
            if !seen.insert(t) {
                continue;
            }
            let facts = rpc.code_facts(t).await?;
            code_flags(&facts, has_call, &mut extra);
            code.push(facts);
        }
        if req.simulate
            && let Some(executor) = req.executor
        {
            let watch: Vec<Address> = effects.iter().filter_map(recipient).collect();
            let sim = match rpc.simulate(executor, req.actions, &watch).await {
                Ok(s) => Some(s),
                // A node that is not anvil refuses the snapshot before anything runs.
                Err(crate::Error::Rpc {
                    context, detail, ..
                }) if context == "evm_snapshot" => {
                    extra.push(Flag::new(
                        kinds::SIMULATION_FAILED,
                        Severity::Warn,
                        format!(
                            "{} cannot simulate ({detail}): point --rpc at anvil or an anvil fork",
                            rpc.host()
                        ),
                    ));
                    None
                }
                Err(e) => return Err(e),
            };
            if let Some(sim) = sim {
                for s in sim.steps.iter().filter(|s| !s.ok) {
                    extra.push(Flag::new(
                        kinds::SIMULATION_FAILED,
                        Severity::Warn,
                        format!(
                            "action {} reverts when run now: {}",
                            s.index,
                            s.error.as_deref().unwrap_or("no reason")
                        ),
                    ));
                }
                // A payload transfer that names no token (`_grantComp`) learns it from the chain.
                for e in effects.iter_mut() {
                    if let EffectKind::TokenTransfer {
                        token: token @ None,
                        to,
                        amount,
                        ..
                    } = &mut e.kind
                    {
                        *token = sim.effects.iter().find_map(|s| match &s.kind {
                            EffectKind::TokenTransfer {
                                token: t,
                                to: t2,
                                amount: a2,
                                ..
                            } if t2 == to && a2 == amount => *t,
                            _ => None,
                        });
                    }
                }
                effects.extend(sim.effects.iter().cloned());
                simulation = Some(sim);
            }
        }
        for token in effects.iter().filter_map(token_of).collect::<BTreeSet<_>>() {
            if let Some(info) = token_info(rpc, token).await? {
                tokens.insert(token, info);
            }
        }
        with_known_tokens(&mut tokens, effects.iter().filter_map(token_of));
        let mut dao: Vec<Address> = req.dao.clone();
        dao.extend(req.executor);
        let recipients: BTreeSet<Address> = effects.iter().filter_map(recipient).collect();
        for r in recipients {
            if dao.contains(&r) {
                continue;
            }
            outside_control(rpc, r, &dao, &tokens, &effects, &mut extra).await?;
        }
    }
    // Common tokens read right without an RPC, and whatever their `decimals()` says.
    with_known_tokens(&mut tokens, effects.iter().filter_map(token_of));
    finish(
        req, calls, effects, extra, code, simulation, tokens, &current,
    )
}

/// The current value of every setting the payload changes, where the contract answers its
/// getter (a getter that reverts or is missing leaves the setting to the absolute rules).
async fn current_settings(rpc: &Rpc, effects: &[Effect]) -> Result<CurrentSettings> {
    let mut out = CurrentSettings::new();
    for e in effects {
        let EffectKind::GovernanceChange {
            contract, setting, ..
        } = &e.kind
        else {
            continue;
        };
        let Some(s) = Setting::of_function(setting) else {
            continue;
        };
        if out.contains_key(&(*contract, s)) {
            continue;
        }
        if let Some(v) = read_setting(rpc, *contract, s).await? {
            out.insert((*contract, s), v);
        }
    }
    Ok(out)
}

async fn read_setting(rpc: &Rpc, at: Address, s: Setting) -> Result<Option<U256>> {
    use ISettingsProbe as P;
    let v = match s {
        Setting::VotingDelay => {
            rpc.call(at, &P::votingDelayCall {}, "votingDelay()")
                .await?
        }
        Setting::VotingPeriod => {
            rpc.call(at, &P::votingPeriodCall {}, "votingPeriod()")
                .await?
        }
        Setting::ProposalThreshold => {
            rpc.call(at, &P::proposalThresholdCall {}, "proposalThreshold()")
                .await?
        }
        Setting::QuorumNumerator => {
            rpc.call(at, &P::quorumNumeratorCall {}, "quorumNumerator()")
                .await?
        }
        Setting::TimelockDelay => match rpc
            .call(at, &P::getMinDelayCall {}, "getMinDelay()")
            .await?
        {
            Ok(v) => Ok(v),
            Err(_) => rpc.call(at, &P::delayCall {}, "delay()").await?,
        },
        Setting::LateQuorumExtension => {
            rpc.call(
                at,
                &P::lateQuorumVoteExtensionCall {},
                "lateQuorumVoteExtension()",
            )
            .await?
        }
        // An absolute quorum's getter takes a timepoint; the absolute rule judges it.
        Setting::Quorum => return Ok(None),
    };
    Ok(v.ok())
}

#[allow(clippy::too_many_arguments)]
fn finish(
    req: &Request<'_>,
    calls: Vec<Call>,
    effects: Vec<Effect>,
    extra: Vec<Flag>,
    code: Vec<CodeFacts>,
    simulation: Option<Simulation>,
    tokens: Tokens,
    current: &CurrentSettings,
) -> Result<Report> {
    let mut flags = flags_with_current(&calls, &effects, &tokens, current);
    flags.extend(extra);
    flags.extend(mismatches(req.description, &effects, &tokens));
    let mut seen = BTreeSet::new();
    flags.retain(|f| seen.insert((f.kind.clone(), f.detail.clone())));
    flags.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let actions = req
        .actions
        .iter()
        .zip(calls)
        .map(|(a, c)| ActionReport {
            target: a.target,
            value: a.value,
            function: c
                .signature
                .clone()
                .or_else(|| c.selector.clone())
                .unwrap_or_else(|| "(ether transfer)".into()),
            args: c.args.clone(),
            decoded: c,
        })
        .collect();
    let mut tokens: Vec<(Address, TokenInfo)> = tokens.into_iter().collect();
    tokens.sort_by_key(|(a, _)| *a);
    Ok(Report {
        actions,
        effects,
        flags,
        code,
        simulation,
        tokens,
    })
}

fn short(a: Address) -> String {
    let s = a.to_checksum(None);
    format!("{}…{}", &s[..6], &s[s.len() - 4..])
}

fn code_flags(f: &CodeFacts, has_call: bool, out: &mut Vec<Flag>) {
    let t = short(f.address);
    if !f.has_code() {
        if has_call {
            out.push(Flag::new(
                kinds::UNVERIFIED_TARGET,
                Severity::Critical,
                format!(
                    "{t} has no code: the call does nothing today, and code may appear there later"
                ),
            ));
        }
        return;
    }
    if f.opcodes.selfdestruct {
        out.push(Flag::new(
            kinds::SELFDESTRUCT_CAPABLE,
            Severity::Critical,
            format!(
                "{t} contains SELFDESTRUCT: it can be destroyed and other code put in its place"
            ),
        ));
    }
    if let Some(o) = &f.origin
        && o.create2_chain
    {
        let (sev, why) = if o.destructible_chain || f.opcodes.selfdestruct {
            (
                Severity::Critical,
                "and its deployer can self-destruct: the same address can get different code (metamorphic)",
            )
        } else {
            (
                Severity::Warn,
                "so code at that address is chosen by the factory",
            )
        };
        out.push(Flag::new(
            kinds::SELFDESTRUCT_CAPABLE,
            sev,
            format!(
                "{t} was deployed through a CREATE2 factory ({}) {why}",
                short(o.creator)
            ),
        ));
    }
}

fn recipient(e: &Effect) -> Option<Address> {
    match &e.kind {
        EffectKind::TokenTransfer { to, .. } | EffectKind::Mint { to, .. } => Some(*to),
        _ => None,
    }
}

fn token_of(e: &Effect) -> Option<Address> {
    match &e.kind {
        EffectKind::TokenTransfer { token, .. } => *token,
        EffectKind::Approval { token, .. } | EffectKind::Mint { token, .. } => Some(*token),
        _ => None,
    }
}

async fn token_info(rpc: &Rpc, token: Address) -> Result<Option<TokenInfo>> {
    let sym = rpc
        .call(token, &IVerifyProbe::symbolCall {}, "symbol()")
        .await?;
    let dec = rpc
        .call(token, &IVerifyProbe::decimalsCall {}, "decimals()")
        .await?;
    Ok(match (sym, dec) {
        // More than 36 decimals is a lie (no real token has them): it would read as "0 X".
        (Ok(symbol), Ok(decimals))
            if !symbol.is_empty() && symbol.len() <= 32 && decimals <= 36 =>
        {
            Some(TokenInfo {
                symbol: symbol.chars().filter(|c| !c.is_control()).collect(),
                decimals,
            })
        }
        _ => None,
    })
}

/// A recipient contract whose owner or role holders are outside the DAO: funds sent there are
/// controlled by someone else.
async fn outside_control(
    rpc: &Rpc,
    who: Address,
    dao: &[Address],
    tokens: &Tokens,
    effects: &[Effect],
    out: &mut Vec<Flag>,
) -> Result<()> {
    if rpc.code_at(who).await?.is_empty() {
        return Ok(());
    }
    let mut holders: BTreeSet<Address> = BTreeSet::new();
    if let Ok(owner) = rpc
        .call(who, &IVerifyProbe::ownerCall {}, "owner()")
        .await?
        && owner != Address::ZERO
    {
        holders.insert(owner);
    }
    let granted = keccak256("RoleGranted(bytes32,address,address)");
    let filter = Filter::new()
        .address(who)
        .event_signature(granted)
        .from_block(0u64);
    if let Ok(logs) = rpc.logs(&filter, "eth_getLogs(RoleGranted)").await? {
        for l in logs {
            let t = l.topics();
            if t.len() == 4 {
                let role = t[1];
                let account = Address::from_word(t[2]);
                let still = rpc
                    .call(
                        who,
                        &IVerifyProbe::hasRoleCall { role, account },
                        "hasRole()",
                    )
                    .await?;
                if still.unwrap_or(false) {
                    holders.insert(account);
                }
            }
        }
    }
    let outside: Vec<String> = holders
        .iter()
        .filter(|h| !dao.contains(h))
        .map(|h| short(*h))
        .collect();
    if outside.is_empty() {
        return Ok(());
    }
    let moved: Vec<String> = effects
        .iter()
        .filter_map(|e| match &e.kind {
            EffectKind::TokenTransfer {
                token, to, amount, ..
            } if *to == who => Some(match token.and_then(|t| tokens.get(&t)) {
                Some(i) => format!(
                    "{} {}",
                    steward_core::verification::format_amount(*amount, i.decimals),
                    i.symbol
                ),
                None => format!("{amount} base units (decimals unknown)"),
            }),
            _ => None,
        })
        .collect();
    out.push(Flag::new(
        kinds::OUTSIDE_CONTROL,
        Severity::Critical,
        format!(
            "{} sent to {}, a contract controlled by {} (owner or role holders outside the DAO)",
            moved.first().cloned().unwrap_or_else(|| "funds".into()),
            short(who),
            outside.join(", ")
        ),
    ));
    Ok(())
}
