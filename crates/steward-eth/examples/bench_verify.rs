//! `make bench` (verify): decoded proposals per second over a generated corpus of realistic
//! payloads (transfers, streams, timelock batches, Safe + MultiSend, upgrades, role grants,
//! Bravo signatures, unknown selectors), and p50/p95 latency of a full inspection with
//! simulation on anvil. Prints one JSON object.
//!
//!   cargo run --release -p steward-eth --features testkit --example bench_verify -- [N] [RUNS]

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use alloy::primitives::{Address, Bytes, U256, keccak256};
use alloy::sol;
use alloy::sol_types::{SolCall, SolValue};
use steward_core::Action;
use steward_core::verification::{Tokens, effects_of, flags_of, mismatches};
use steward_eth::decode::{Decoder, pack_multisend};
use steward_eth::testkit::{Anvil, Artifacts, Dao, DaoConfig, Tools, ether};
use steward_eth::{Request, verify};

sol! {
    function transfer(address to, uint256 amount);
    function approve(address spender, uint256 amount);
    function createStream(address recipient, uint256 deposit, address tokenAddress, uint256 startTime, uint256 stopTime);
    function scheduleBatch(address[] targets, uint256[] values, bytes[] payloads, bytes32 predecessor, bytes32 salt, uint256 delay);
    function execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures);
    function multiSend(bytes transactions);
    function upgradeToAndCall(address newImplementation, bytes data);
    function grantRole(bytes32 role, address account);
    function setVotingDelay(uint48 newVotingDelay);
    function _setCollateralFactor(address cToken, uint256 newCollateralFactorMantissa);
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn addr(&mut self) -> Address {
        Address::from_word(keccak256(self.next().to_be_bytes()))
    }
    fn amount(&mut self) -> U256 {
        U256::from(self.next() % 1_000_000) * U256::from(10u64).pow(U256::from(18u8))
    }
}

fn oz(target: Address, data: Vec<u8>) -> Action {
    Action {
        target,
        value: U256::ZERO,
        signature: String::new(),
        calldata: data.into(),
    }
}

fn action(r: &mut Rng) -> Action {
    let t = r.addr();
    match r.next() % 9 {
        0 => oz(
            t,
            transferCall {
                to: r.addr(),
                amount: r.amount(),
            }
            .abi_encode(),
        ),
        1 => oz(
            t,
            approveCall {
                spender: r.addr(),
                amount: r.amount(),
            }
            .abi_encode(),
        ),
        2 => oz(
            t,
            createStreamCall {
                recipient: r.addr(),
                deposit: r.amount(),
                tokenAddress: r.addr(),
                startTime: U256::from(1u8),
                stopTime: U256::from(2u8),
            }
            .abi_encode(),
        ),
        3 => {
            let n = 1 + (r.next() % 4) as usize;
            let targets: Vec<Address> = (0..n).map(|_| r.addr()).collect();
            let payloads: Vec<Bytes> = (0..n)
                .map(|i| {
                    if i % 2 == 0 {
                        setVotingDelayCall {
                            newVotingDelay: alloy::primitives::Uint::from(7200u64),
                        }
                        .abi_encode()
                        .into()
                    } else {
                        _setCollateralFactorCall {
                            cToken: t,
                            newCollateralFactorMantissa: U256::from(5u8),
                        }
                        .abi_encode()
                        .into()
                    }
                })
                .collect();
            oz(
                t,
                scheduleBatchCall {
                    targets,
                    values: vec![U256::ZERO; n],
                    payloads,
                    predecessor: Default::default(),
                    salt: Default::default(),
                    delay: U256::from(172800u64),
                }
                .abi_encode(),
            )
        }
        4 => {
            let txs: Vec<(u8, Address, U256, Vec<u8>)> = (0..4)
                .map(|_| {
                    (
                        0u8,
                        r.addr(),
                        U256::ZERO,
                        transferCall {
                            to: r.addr(),
                            amount: r.amount(),
                        }
                        .abi_encode(),
                    )
                })
                .collect();
            let ms = multiSendCall {
                transactions: pack_multisend(&txs).into(),
            }
            .abi_encode();
            oz(
                t,
                execTransactionCall {
                    to: r.addr(),
                    value: U256::ZERO,
                    data: ms.into(),
                    operation: 1,
                    safeTxGas: U256::ZERO,
                    baseGas: U256::ZERO,
                    gasPrice: U256::ZERO,
                    gasToken: Address::ZERO,
                    refundReceiver: Address::ZERO,
                    signatures: vec![0u8; 65].into(),
                }
                .abi_encode(),
            )
        }
        5 => oz(
            t,
            upgradeToAndCallCall {
                newImplementation: r.addr(),
                data: Bytes::new(),
            }
            .abi_encode(),
        ),
        6 => oz(
            t,
            grantRoleCall {
                role: keccak256("MINTER_ROLE"),
                account: r.addr(),
            }
            .abi_encode(),
        ),
        7 => Action {
            target: t,
            value: U256::ZERO,
            signature: "transfer(address,uint256)".into(),
            calldata: (r.addr(), r.amount()).abi_encode_params().into(),
        },
        _ => oz(
            t,
            [0xde, 0xad, 0xbe, 0xef]
                .into_iter()
                .chain((0..64).map(|_| r.next() as u8))
                .collect(),
        ),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    let mut r = Rng(0x5eed_1234_abcd_0042);
    let corpus: Vec<(Vec<Action>, String)> = (0..n)
        .map(|i| {
            let k = 1 + (r.next() % 5) as usize;
            (
                (0..k).map(|_| action(&mut r)).collect(),
                format!("Proposal {i}: grant 1,000 COMP to 0x0F11…e4c8 and update parameters."),
            )
        })
        .collect();
    let decoder = Decoder::default();
    let t0 = Instant::now();
    let mut flags_total = 0usize;
    let mut calls = 0usize;
    for (actions, text) in &corpus {
        let decoded = decoder.actions(actions, Some(Address::repeat_byte(0x71)));
        let effects: Vec<_> = decoded.iter().flat_map(effects_of).collect();
        calls += decoded.iter().map(|c| c.walk().len()).sum::<usize>();
        let mut f = flags_of(&decoded, &effects, &Tokens::new());
        f.extend(mismatches(text, &effects, &Tokens::new()));
        flags_total += f.len();
    }
    let decode_secs = t0.elapsed().as_secs_f64();
    let calls_total = calls;

    // Inspection with simulation on anvil: a Certora-shaped stream plus a treasury transfer.
    let tools = Tools::detect().expect("tools");
    let anvil = Anvil::start(&tools).await.expect("anvil");
    let art = Artifacts::load(&tools).expect("contracts");
    let dao = Dao::deploy(&anvil, &art, &DaoConfig::default())
        .await
        .expect("dao");
    let mut code = art.get("MiniSablier").unwrap().bytecode.to_vec();
    code.extend(Vec::<u8>::new());
    let sablier = anvil
        .deploy(anvil.accounts()[0], code.into())
        .await
        .expect("sablier");
    let recipient = anvil.accounts()[7];
    let deposit = U256::from(15_811_200u64) * U256::from(1_000_000_000_000_000u64);
    let actions = vec![
        oz(
            dao.token,
            approveCall {
                spender: sablier,
                amount: deposit,
            }
            .abi_encode(),
        ),
        oz(
            sablier,
            createStreamCall {
                recipient,
                deposit,
                tokenAddress: dao.token,
                startTime: U256::from(1_680_673_189u64),
                stopTime: U256::from(1_696_484_389u64),
            }
            .abi_encode(),
        ),
        dao.treasury_transfer(recipient, ether(1000)),
    ];
    let text = format!(
        "Stream 15,811.2 STW to {recipient} via Sablier {sablier} and pay 1,000 STW to {recipient}."
    );
    let req = Request {
        actions: &actions,
        description: &text,
        executor: Some(dao.timelock),
        dao: vec![dao.governor, dao.timelock],
        simulate: true,
    };
    let rpc = anvil.rpc().clone();
    let mut lat = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let rep = verify(&decoder, Some(&rpc), &req).await.expect("verify");
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(rep.simulation.as_ref().is_some_and(|s| s.ok()));
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    let out = serde_json::json!({
        "proposals": n,
        "calls": calls_total,
        "flags": flags_total,
        "decode_secs": (decode_secs * 1000.0).round() / 1000.0,
        "proposals_per_sec": (n as f64 / decode_secs).round(),
        "inspect_runs": runs,
        "inspect_actions": actions.len(),
        "inspect_p50_ms": (pct(0.5) * 10.0).round() / 10.0,
        "inspect_p95_ms": (pct(0.95) * 10.0).round() / 10.0,
    });
    println!("{out}");
}
