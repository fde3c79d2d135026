use alloy::primitives::{Bytes, keccak256};
use alloy::sol;
use alloy::sol_types::SolCall;
use proptest::prelude::*;
use steward_core::kinds;
use steward_core::verification::{EffectKind, Tokens, effects_of, flags_of};

use super::*;

sol! {
    function transfer(address to, uint256 amount);
    function approve(address spender, uint256 amount);
    function scheduleBatch(address[] targets, uint256[] values, bytes[] payloads, bytes32 predecessor, bytes32 salt, uint256 delay);
    function execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures);
    function multiSend(bytes transactions);
    struct FacetCut { address facetAddress; uint8 action; bytes4[] functionSelectors; }
    function diamondCut(FacetCut[] cut, address init, bytes data);
}

const TOKEN: Address = Address::repeat_byte(0xc0);
const TIMELOCK: Address = Address::repeat_byte(0x71);
const SAFE: Address = Address::repeat_byte(0x5a);
const TO: Address = Address::repeat_byte(0x11);

fn oz(target: Address, data: Vec<u8>) -> Action {
    Action {
        target,
        value: U256::ZERO,
        signature: String::new(),
        calldata: data.into(),
    }
}

fn pay(amount: u64) -> Vec<u8> {
    transferCall {
        to: TO,
        amount: U256::from(amount),
    }
    .abi_encode()
}

#[test]
fn oz_and_bravo_actions_decode_the_same() {
    let d = Decoder::default();
    let a = d.action(&oz(TOKEN, pay(5)), Some(TIMELOCK));
    let bravo = Action {
        target: TOKEN,
        value: U256::ZERO,
        signature: "transfer(address,uint256)".into(),
        calldata: Bytes::from(pay(5)[4..].to_vec()),
    };
    let b = d.action(&bravo, Some(TIMELOCK));
    assert_eq!(a, b);
    assert_eq!(a.function.as_deref(), Some("transfer"));
    assert_eq!(a.args[0].value, Value::Address(TO));
    assert_eq!(a.from, Some(TIMELOCK));
}

#[test]
fn nested_batches_safe_and_multisend_are_followed() {
    let d = Decoder::default();
    let packed = pack_multisend(&[
        (0, TOKEN, U256::ZERO, pay(1)),
        (
            0,
            TOKEN,
            U256::ZERO,
            approveCall {
                spender: TO,
                amount: U256::MAX,
            }
            .abi_encode(),
        ),
    ]);
    let safe_tx = execTransactionCall {
        to: Address::repeat_byte(0x3e),
        value: U256::ZERO,
        data: multiSendCall {
            transactions: packed.into(),
        }
        .abi_encode()
        .into(),
        operation: 1,
        safeTxGas: U256::ZERO,
        baseGas: U256::ZERO,
        gasPrice: U256::ZERO,
        gasToken: Address::ZERO,
        refundReceiver: Address::ZERO,
        signatures: Bytes::new(),
    }
    .abi_encode();
    let batch = scheduleBatchCall {
        targets: vec![SAFE, TOKEN],
        values: vec![U256::ZERO, U256::ZERO],
        payloads: vec![safe_tx.into(), pay(2).into()],
        predecessor: Default::default(),
        salt: Default::default(),
        delay: U256::from(1u8),
    }
    .abi_encode();
    let call = d.action(&oz(TIMELOCK, batch), Some(Address::repeat_byte(0x60)));
    let all = call.walk();
    let sigs: Vec<_> = all
        .iter()
        .map(|c| c.function.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        sigs,
        [
            "scheduleBatch",
            "execTransaction",
            "multiSend",
            "transfer",
            "approve",
            "transfer"
        ]
    );
    // The multisend runs by delegatecall from the Safe: its inner calls spend the Safe's funds.
    assert!(all[2].delegate);
    assert_eq!(all[3].from, Some(SAFE));
    assert_eq!(all[5].from, Some(TIMELOCK));
    let effects = effects_of(&call);
    assert!(effects.iter().any(|e| matches!(
        e.kind,
        EffectKind::Approval {
            unlimited: true,
            ..
        }
    )));
    let flags = flags_of(&[call], &effects, &Tokens::new());
    let kinds: Vec<_> = flags.iter().map(|f| f.kind.as_str()).collect();
    assert!(kinds.contains(&kinds::DELEGATECALL) && kinds.contains(&kinds::UNLIMITED_APPROVAL));
}

#[test]
fn bad_calldata_is_an_error_never_a_pass() {
    let d = Decoder::default();
    let mut dirty = pay(5);
    dirty[4] = 0xff; // dirty high bits of the address word
    let mut trailing = pay(5);
    trailing.push(0);
    let mismatched = scheduleBatchCall {
        targets: vec![TOKEN, TOKEN],
        values: vec![U256::ZERO],
        payloads: vec![pay(1).into(), pay(2).into()],
        predecessor: Default::default(),
        salt: Default::default(),
        delay: U256::ZERO,
    }
    .abi_encode();
    let bad_multisend = multiSendCall {
        transactions: {
            let mut p = pack_multisend(&[(0, TOKEN, U256::ZERO, pay(1))]);
            p.truncate(p.len() - 3);
            p.into()
        },
    }
    .abi_encode();
    let cases: Vec<(Action, &str)> = vec![
        (
            oz(TOKEN, vec![0xa9, 0x05]),
            "shorter than a 4-byte selector",
        ),
        (oz(TOKEN, pay(5)[..40].to_vec()), "do not decode"),
        (oz(TOKEN, dirty), "canonical"),
        (oz(TOKEN, trailing), "canonical"),
        (oz(TIMELOCK, mismatched), "differ in length"),
        (oz(SAFE, bad_multisend), "claims"),
        (
            Action {
                target: TOKEN,
                value: U256::ZERO,
                signature: "transfer(address,uint257)".into(),
                calldata: Bytes::new(),
            },
            "signature",
        ),
    ];
    for (a, want) in cases {
        let c = d.action(&a, None);
        let err = c
            .walk()
            .iter()
            .find_map(|c| c.error.clone())
            .unwrap_or_default();
        assert!(err.contains(want), "{want}: got {err:?}");
        let flags = flags_of(&[c], &[], &Tokens::new());
        assert!(
            flags
                .iter()
                .any(|f| f.kind == kinds::BAD_CALLDATA && f.is_critical())
        );
    }
}

#[test]
fn unknown_selectors_fail_closed_even_with_a_bravo_signature() {
    let d = Decoder::default();
    for a in [
        oz(TOKEN, vec![0xde, 0xad, 0xbe, 0xef, 1, 2, 3]),
        Action {
            target: TOKEN,
            value: U256::ZERO,
            signature: "sweep()".into(),
            calldata: Bytes::new(),
        },
    ] {
        let c = d.action(&a, None);
        assert!(!c.known);
        let flags = flags_of(&[c], &[], &Tokens::new());
        assert_eq!(flags[0].kind, kinds::UNKNOWN_CALL);
        assert!(flags[0].is_critical());
    }
}

#[test]
fn recursion_bombs_stop_at_the_depth_limit() {
    let d = Decoder::default();
    // multicall(multicall(...)) nested 50 deep.
    let mut data = pay(1);
    for _ in 0..50 {
        data = alloy::dyn_abi::DynSolValue::Tuple(vec![alloy::dyn_abi::DynSolValue::Array(vec![
            alloy::dyn_abi::DynSolValue::Bytes(data),
        ])])
        .abi_encode_params();
        data.splice(0..0, keccak256("multicall(bytes[])")[..4].iter().copied());
    }
    let c = d.action(&oz(TOKEN, data), None);
    let all = c.walk();
    assert_eq!(all.len(), MAX_DEPTH + 2);
    assert!(
        all.last()
            .and_then(|c| c.error.as_deref())
            .unwrap_or("")
            .contains("deeper")
    );
}

#[test]
fn diamond_init_is_a_delegatecall() {
    let d = Decoder::default();
    let cut = diamondCutCall {
        cut: vec![],
        init: Address::repeat_byte(0xbe),
        data: keccak256("sweep()")[..4].to_vec().into(),
    }
    .abi_encode();
    let c = d.action(&oz(Address::repeat_byte(0xd1), cut), Some(TIMELOCK));
    assert!(c.inner[0].delegate && !c.inner[0].known);
}

proptest! {
    #[test]
    fn random_calldata_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600), sel in 0usize..6) {
        let d = Decoder::default();
        let selectors: [&[u8]; 6] = [
            &[0xa9, 0x05, 0x9c, 0xbb],              // transfer
            &keccak256("multiSend(bytes)")[..4],
            &keccak256("scheduleBatch(address[],uint256[],bytes[],bytes32,bytes32,uint256)")[..4],
            &keccak256("execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)")[..4],
            &keccak256("multicall(bytes[])")[..4],
            &[],
        ];
        let mut full = selectors[sel].to_vec();
        full.extend(&data);
        let c = d.action(&oz(TOKEN, full), None);
        let effects = effects_of(&c);
        let _ = flags_of(&[c], &effects, &Tokens::new());
    }

    #[test]
    fn random_multisend_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = split_multisend(&data);
    }
}

/// Calldata of `sig` with static arguments, one 32-byte word each.
fn enc(sig: &str, words: &[[u8; 32]]) -> Vec<u8> {
    let mut d = keccak256(sig.as_bytes())[..4].to_vec();
    for w in words {
        d.extend_from_slice(w);
    }
    d
}

fn num(n: u64) -> [u8; 32] {
    U256::from(n).to_be_bytes()
}

fn adr(a: Address) -> [u8; 32] {
    a.into_word().0
}

/// Every settings and role function of the governance stacks decodes (never `unknown-call`) and
/// is judged: each family, with a value that disarms and, where there is one, a routine value.
#[test]
fn governance_settings_of_every_version_decode_and_are_judged() {
    use steward_core::Severity::{Critical, Warn};
    let who = Address::repeat_byte(0x42);
    let proposer = keccak256("PROPOSER_ROLE").0;
    let day_s = 86_400;
    type Case<'a> = (
        &'a str,
        Vec<[u8; 32]>,
        &'a str,
        steward_core::Severity,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        // OpenZeppelin Governor 5.x widths
        (
            "setVotingDelay(uint48)",
            vec![num(0)],
            kinds::GOVERNANCE_CHANGE,
            Critical,
            "voting delay 0",
        ),
        (
            "setVotingDelay(uint48)",
            vec![num(7200)],
            kinds::GOVERNANCE_CHANGE,
            Warn,
            "",
        ),
        (
            "setVotingPeriod(uint32)",
            vec![num(1)],
            kinds::GOVERNANCE_CHANGE,
            Critical,
            "under one day",
        ),
        (
            "setLateQuorumVoteExtension(uint48)",
            vec![num(0)],
            kinds::GOVERNANCE_CHANGE,
            Warn,
            "",
        ),
        // ... 4.x widths
        (
            "setVotingDelay(uint256)",
            vec![num(0)],
            kinds::GOVERNANCE_CHANGE,
            Critical,
            "voting delay 0",
        ),
        (
            "setVotingPeriod(uint256)",
            vec![num(50_400)],
            kinds::GOVERNANCE_CHANGE,
            Warn,
            "",
        ),
        (
            "setVotingPeriod(uint256)",
            vec![num(100)],
            kinds::GOVERNANCE_CHANGE,
            Critical,
            "under one day",
        ),
        (
            "setLateQuorumVoteExtension(uint64)",
            vec![num(7200)],
            kinds::GOVERNANCE_CHANGE,
            Warn,
            "",
        ),
        // ... both
        (
            "setProposalThreshold(uint256)",
            vec![num(0)],
            kinds::GOVERNANCE_CHANGE,
            Critical,
            "anyone may propose",
        ),
        (
            "updateQuorumNumerator(uint256)",
            vec![num(0)],
            kinds::GOVERNANCE_CHANGE,
            Critical,
            "under 1%",
        ),
        (
            "updateQuorumNumerator(uint256)",
            vec![num(4)],
            kinds::GOVERNANCE_CHANGE,
            Warn,
            "",
        ),
        (
            "setQuorum(uint256)",
            vec![num(0)],
            kinds::GOVERNANCE_CHANGE,
            Critical,
            "any vote passes",
        ),
        (
            "updateTimelock(address)",
            vec![adr(who)],
            kinds::PERMISSION_CHANGE,
            Critical,
            "governor timelock",
        ),
        (
            "setWhitelistGuardian(address)",
            vec![adr(who)],
            kinds::PERMISSION_CHANGE,
            Critical,
            "whitelist guardian",
        ),
        (
            "setWhitelistAccountExpiration(address,uint256)",
            vec![adr(who), num(1)],
            kinds::GOVERNANCE_CHANGE,
            Warn,
            "",
        ),
        // GovernorBravo admin functions
        (
            "_setVotingDelay(uint256)",
            vec![num(1)],
            kinds::GOVERNANCE_CHANGE,
            Warn,
            "",
        ),
        (
            "_setVotingPeriod(uint256)",
            vec![num(5760)],
            kinds::GOVERNANCE_CHANGE,
            Critical,
            "under one day",
        ),
        (
            "_setProposalThreshold(uint256)",
            vec![num(0)],
            kinds::GOVERNANCE_CHANGE,
            Critical,
            "anyone may propose",
        ),
        (
            "_setPendingAdmin(address)",
            vec![adr(who)],
            kinds::PERMISSION_CHANGE,
            Critical,
            "pending admin",
        ),
        (
            "_setWhitelistGuardian(address)",
            vec![adr(who)],
            kinds::PERMISSION_CHANGE,
            Critical,
            "whitelist guardian",
        ),
        (
            "_setWhitelistAccountExpiration(address,uint256)",
            vec![adr(who), num(1)],
            kinds::GOVERNANCE_CHANGE,
            Warn,
            "",
        ),
        // Compound Timelock (and Aave's executors)
        (
            "setDelay(uint256)",
            vec![num(2 * day_s)],
            kinds::GOVERNANCE_CHANGE,
            Warn,
            "",
        ),
        (
            "setDelay(uint256)",
            vec![num(3600)],
            kinds::GOVERNANCE_CHANGE,
            Critical,
            "under one day",
        ),
        (
            "setPendingAdmin(address)",
            vec![adr(who)],
            kinds::PERMISSION_CHANGE,
            Critical,
            "pending admin",
        ),
        (
            "acceptAdmin()",
            vec![],
            kinds::PERMISSION_CHANGE,
            Critical,
            "admin accepted",
        ),
        // TimelockController
        (
            "updateDelay(uint256)",
            vec![num(0)],
            kinds::GOVERNANCE_CHANGE,
            Critical,
            "under one day",
        ),
        (
            "grantRole(bytes32,address)",
            vec![proposer, adr(who)],
            kinds::PERMISSION_CHANGE,
            Critical,
            "role PROPOSER_ROLE granted",
        ),
        (
            "revokeRole(bytes32,address)",
            vec![keccak256("CANCELLER_ROLE").0, adr(who)],
            kinds::PERMISSION_CHANGE,
            Critical,
            "role CANCELLER_ROLE revoked",
        ),
        (
            "renounceRole(bytes32,address)",
            vec![keccak256("TIMELOCK_ADMIN_ROLE").0, adr(who)],
            kinds::PERMISSION_CHANGE,
            Critical,
            "role TIMELOCK_ADMIN_ROLE renounced",
        ),
        (
            "grantRole(bytes32,address)",
            vec![[0; 32], adr(who)],
            kinds::PERMISSION_CHANGE,
            Critical,
            "role DEFAULT_ADMIN_ROLE granted",
        ),
        // Compound Comptroller, Aave governance v2
        (
            "_setBorrowCapGuardian(address)",
            vec![adr(who)],
            kinds::PERMISSION_CHANGE,
            Critical,
            "borrow cap guardian",
        ),
        (
            "_setMintPaused(address,bool)",
            vec![adr(who), num(1)],
            kinds::GOVERNANCE_CHANGE,
            Warn,
            "",
        ),
        (
            "setGovernanceStrategy(address)",
            vec![adr(who)],
            kinds::PERMISSION_CHANGE,
            Critical,
            "governance strategy",
        ),
    ];
    let d = Decoder::default();
    for (sig, words, kind, sev, says) in cases {
        let c = d.action(&oz(TIMELOCK, enc(sig, &words)), Some(TIMELOCK));
        assert!(c.known && c.error.is_none(), "{sig}: {c:?}");
        assert_eq!(c.signature.as_deref(), Some(sig));
        let flags = flags_of(std::slice::from_ref(&c), &effects_of(&c), &Tokens::new());
        let f = flags
            .iter()
            .find(|f| f.kind == kind)
            .unwrap_or_else(|| panic!("{sig}: no {kind} in {flags:?}"));
        assert_eq!(f.severity, sev, "{sig}: {}", f.detail);
        assert!(f.detail.contains(says), "{sig}: {}", f.detail);
        assert!(flags.iter().all(|f| f.kind != kinds::UNKNOWN_CALL), "{sig}");
    }
    // Aave's executor list: one permission change per executor.
    let mut data = keccak256("authorizeExecutors(address[])".as_bytes())[..4].to_vec();
    for w in [num(32), num(2), adr(who), adr(TO)] {
        data.extend_from_slice(&w);
    }
    let c = d.action(&oz(TIMELOCK, data), Some(TIMELOCK));
    assert!(c.known && c.error.is_none(), "{c:?}");
    let n = effects_of(&c)
        .iter()
        .filter(|e| matches!(&e.kind, EffectKind::PermissionChange { what, .. } if what == "executor authorized"))
        .count();
    assert_eq!(n, 2);
}
