//! Verification on real shapes of governance attacks, rebuilt on anvil from
//! `contracts/VerifyShapes.sol` (docs/verify.md): every malicious shape is flagged critical,
//! the benign Certora payment stream is not, and simulation leaves the chain as it was.

use std::io::Write;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol;
use alloy::sol_types::{SolCall, SolValue};
use steward_core::verification::{
    Call, EffectKind, Tokens, binding_mismatches, candidates, rule_bindings, unkept_promises,
};
use steward_core::{Action, Flag, kinds};
use steward_eth::decode::{Decoder, Registry};
use steward_eth::testkit::{Anvil, Artifacts, Dao, DaoConfig, ether};
use steward_eth::{Report, Request, Rpc, verify};

use crate::{action, balance, tools_or_skip};

sol! {
    interface IShape {
        function transfer(address to, uint256 amount) external returns (bool);
        function balanceOf(address who) external view returns (uint256);
        function approve(address spender, uint256 amount) external returns (bool);
        function deploy(bytes32 salt) external returns (address transient, address proposal);
        function setEvil(bool e) external;
        function emergencyStop() external;
        function destroy() external;
        function sweep() external;
        function setFee(uint256 bps) external;
        function _grantComp(address recipient, uint256 amount) external;
        function createStream(address recipient, uint256 deposit, address tokenAddress, uint256 startTime, uint256 stopTime) external returns (uint256);
        function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes data) external;
        function safeBatchTransferFrom(address from, address to, uint256[] ids, uint256[] values, bytes data) external;
        function forward(address to) external payable;
    }
    struct FacetCut { address facetAddress; uint8 action; bytes4[] functionSelectors; }
    function diamondCut(FacetCut[] cut, address init, bytes data);
}

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/onchain-governance-incidents/incidents.json"
);

fn incidents() -> Option<serde_json::Value> {
    match std::fs::read_to_string(DATA) {
        Ok(t) => serde_json::from_str(&t).ok(),
        Err(e) => {
            steward_testing::skip(
                steward_testing::Need::Data,
                "real incident data",
                format_args!("{DATA}: {e}"),
            );
            None
        }
    }
}

async fn deploy(anvil: &Anvil, art: &Artifacts, name: &str, args: Vec<u8>) -> Address {
    let mut code = art.get(name).expect("artifact").bytecode.to_vec();
    code.extend(args);
    anvil
        .deploy(anvil.accounts()[0], code.into())
        .await
        .expect("deploy")
}

async fn send(anvil: &Anvil, from: Address, to: Address, data: Vec<u8>) {
    anvil
        .send(
            TransactionRequest::default()
                .with_from(from)
                .with_to(to)
                .with_input(Bytes::from(data)),
        )
        .await
        .expect("send");
}

fn kinds_of(r: &Report) -> Vec<(&str, bool)> {
    r.flags
        .iter()
        .map(|f| (f.kind.as_str(), f.is_critical()))
        .collect()
}

fn critical<'a>(r: &'a Report, kind: &str) -> Option<&'a Flag> {
    r.flags.iter().find(|f| f.kind == kind && f.is_critical())
}

/// The claims rules of `steward inspect` on top of the report (steward-agent adds them): the
/// bound claims against the effects, and every stated transfer looked for in them.
fn claim_flags(r: &Report, text: &str) -> Vec<Flag> {
    let b = rule_bindings(text, &candidates(text));
    let tokens: Tokens = r.tokens.iter().cloned().collect();
    let calls: Vec<Call> = r.actions.iter().map(|a| a.decoded.clone()).collect();
    let via: Vec<Address> = calls
        .iter()
        .flat_map(Call::walk)
        .map(|c| c.target)
        .collect();
    let simulated = r.simulation.as_ref().is_some_and(|s| s.ok());
    let mut out = binding_mismatches(&b, &r.effects, &tokens, &via);
    out.extend(unkept_promises(&b, &r.effects, &tokens, &calls, simulated));
    out
}

#[tokio::test]
async fn tornado_20_metamorphic_proposal_is_critical_and_its_redeploy_changes_the_code_hash() {
    let Some(tools) = tools_or_skip("tornado_20") else {
        return;
    };
    // Before Cancun (EIP-6780) SELFDESTRUCT still deletes code, so the redeploy works as in 2023.
    let anvil = Anvil::start_with_args(&tools, &["--hardfork", "shanghai"])
        .await
        .expect("anvil");
    let art = Artifacts::load(&tools).expect("contracts");
    let rpc = anvil.rpc().clone();
    let attacker = anvil.accounts()[3];
    let factory = deploy(&anvil, &art, "MetamorphicFactory", vec![]).await;
    let governance = deploy(&anvil, &art, "DelegateGovernance", vec![]).await;
    let salt = B256::repeat_byte(0x20);
    let deploy_call = IShape::deployCall { salt }.abi_encode();
    let (transient, proposal) = {
        let out = rpc
            .provider()
            .call(
                TransactionRequest::default()
                    .with_from(attacker)
                    .with_to(factory)
                    .with_input(Bytes::from(deploy_call.clone())),
            )
            .await
            .expect("deploy call");
        <(Address, Address)>::abi_decode_params(&out).expect("addresses")
    };
    send(&anvil, attacker, factory, deploy_call.clone()).await;

    let description = incidents()
        .and_then(|v| {
            v[0]["proposal_description_json"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "Proposal #20: Relayer registry penalization".into());
    let actions = [action(
        proposal,
        keccak256("executeProposal()")[..4].to_vec(),
    )];
    let req = Request {
        actions: &actions,
        description: &description,
        executor: Some(governance),
        dao: vec![governance],
        simulate: false,
    };
    let decoder = Decoder::default();
    let before = verify(&decoder, Some(&rpc), &req).await.expect("verify");
    let ks = kinds_of(&before);
    assert!(ks.contains(&(kinds::DELEGATECALL, true)), "{ks:?}");
    let sd: Vec<&Flag> = before
        .flags
        .iter()
        .filter(|f| f.kind == kinds::SELFDESTRUCT_CAPABLE && f.is_critical())
        .collect();
    assert_eq!(sd.len(), 2, "opcode and CREATE2 origin: {:?}", before.flags);
    assert!(sd.iter().any(|f| f.detail.contains("CREATE2")));
    let pinned = before.code_hashes();
    assert_eq!(pinned.len(), 1);

    // After the vote: destroy both, flip the factory, redeploy at the same addresses.
    send(
        &anvil,
        attacker,
        proposal,
        IShape::emergencyStopCall {}.abi_encode(),
    )
    .await;
    send(
        &anvil,
        attacker,
        transient,
        IShape::destroyCall {}.abi_encode(),
    )
    .await;
    assert!(rpc.code_at(proposal).await.expect("code").is_empty());
    let gone = verify(&decoder, Some(&rpc), &req).await.expect("verify");
    assert!(
        critical(&gone, kinds::UNVERIFIED_TARGET).is_some(),
        "{:?}",
        gone.flags
    );
    send(
        &anvil,
        attacker,
        factory,
        IShape::setEvilCall { e: true }.abi_encode(),
    )
    .await;
    send(&anvil, attacker, factory, deploy_call).await;
    let after = verify(&decoder, Some(&rpc), &req).await.expect("verify");
    let repinned = after.code_hashes();
    assert_eq!(repinned[0].0, proposal, "same address");
    assert_ne!(
        repinned[0].1, pinned[0].1,
        "different code at the same address"
    );
    // Simulated as the governance runs it (DELEGATECALL, through a shim at the governance's
    // address inside the snapshot): the governance's own storage and ether show.
    let _: serde_json::Value = rpc
        .provider()
        .raw_request("anvil_setBalance".into(), (governance, ether(3)))
        .await
        .expect("balance");
    let gov_code = rpc.code_at(governance).await.expect("code");
    let sim_req = Request {
        simulate: true,
        ..req.clone()
    };
    let r = verify(&decoder, Some(&rpc), &sim_req)
        .await
        .expect("simulate");
    let sim = r.simulation.as_ref().expect("simulated");
    assert!(sim.ok() && sim.traced, "{sim:?}");
    let write = sim
        .effects
        .iter()
        .find_map(|e| match &e.kind {
            EffectKind::StorageWrite {
                contract, sample, ..
            } if *contract == governance => sample.first().cloned(),
            _ => None,
        })
        .expect("a write to the governance's storage");
    assert_eq!(write.0, B256::from(U256::from(59u8)));
    assert_eq!(
        U256::from_be_bytes(write.2.0),
        U256::from(10u64).pow(U256::from(22u8))
    );
    let attacker_2023: Address = "0x592340957eBC9e4Afb0E9Af221d06fDDDF789de9"
        .parse()
        .expect("address");
    assert!(
        sim.effects.iter().any(|e| matches!(&e.kind,
            EffectKind::EthTransfer { from: Some(f), to, amount }
                // All of it: the step ran at a zero gas price.
                if *f == governance && *to == attacker_2023 && *amount == ether(3))),
        "{:?}",
        sim.effects
    );
    assert!(
        r.flags
            .iter()
            .any(|f| f.kind == kinds::GOVERNANCE_CHANGE && f.detail.contains("storage slot")),
        "{:?}",
        r.flags
    );
    assert_eq!(rpc.code_at(governance).await.expect("code"), gov_code);
    let slot59 = rpc
        .provider()
        .get_storage_at(governance, U256::from(59u8))
        .await
        .expect("slot");
    assert!(slot59.is_zero(), "the simulation was reverted");

    // The new code is what runs now: it writes slot 59 (in Tornado, by delegatecall, the
    // governance contract's lockedBalance mapping).
    send(
        &anvil,
        attacker,
        proposal,
        keccak256("executeProposal()")[..4].to_vec(),
    )
    .await;
    let slot = rpc
        .provider()
        .get_storage_at(proposal, U256::from(59u8))
        .await
        .expect("slot");
    assert_eq!(slot, U256::from(10u64).pow(U256::from(22u8)));
}

struct Treasury {
    anvil: Anvil,
    art: std::sync::Arc<Artifacts>,
    dao: Dao,
}

async fn treasury(test: &str) -> Option<Treasury> {
    let tools = tools_or_skip(test)?;
    let anvil = Anvil::start(&tools).await.expect("anvil");
    let art = Artifacts::load(&tools).expect("contracts");
    let dao = Dao::deploy(&anvil, &art, &DaoConfig::default())
        .await
        .expect("dao");
    Some(Treasury { anvil, art, dao })
}

impl Treasury {
    fn req<'a>(&self, actions: &'a [Action], description: &'a str) -> Request<'a> {
        Request {
            actions,
            description,
            executor: Some(self.dao.timelock),
            dao: vec![self.dao.governor, self.dao.timelock],
            simulate: true,
        }
    }

    async fn token(&self, name: &str, symbol: &str, supply: U256) -> Address {
        deploy(
            &self.anvil,
            &self.art,
            "ShapeToken",
            (name.to_owned(), symbol.to_owned(), supply).abi_encode_params(),
        )
        .await
    }
}

#[tokio::test]
async fn beanstalk_bip18_sweep_described_as_a_donation_is_a_critical_mismatch() {
    let Some(t) = treasury("beanstalk_bip18").await else {
        return;
    };
    let rpc = t.anvil.rpc().clone();
    let deployer = t.anvil.accounts()[0];
    let attacker = t.anvil.accounts()[9];
    let lp = t
        .token("Curve BEAN3CRV-f", "BEAN3CRV", ether(1_000_000))
        .await;
    let diamond = deploy(&t.anvil, &t.art, "DiamondLike", t.dao.timelock.abi_encode()).await;
    let init = deploy(
        &t.anvil,
        &t.art,
        "SweepInit",
        (lp, attacker).abi_encode_params(),
    )
    .await;
    send(
        &t.anvil,
        deployer,
        lp,
        IShape::transferCall {
            to: diamond,
            amount: ether(800_000),
        }
        .abi_encode(),
    )
    .await;
    let cut = diamondCutCall {
        cut: vec![],
        init,
        data: IShape::sweepCall {}.abi_encode().into(),
    }
    .abi_encode();
    let actions = [action(diamond, cut)];
    let text = "BIP-18: Ukraine donation\n\nDonate 250,000 BEAN3CRV to Ukraine's address 0x165CD37b4C644C2921454429E7F9358d18A45e14.";
    let block = rpc.block_number().await.expect("block");
    let r = verify(&Decoder::default(), Some(&rpc), &t.req(&actions, text))
        .await
        .expect("verify");
    let ks = kinds_of(&r);
    assert!(ks.contains(&(kinds::DELEGATECALL, true)), "{ks:?}");
    assert!(ks.contains(&(kinds::UNKNOWN_CALL, true)), "{ks:?}");
    let m = critical(&r, kinds::MISMATCH).expect("mismatch");
    assert!(m.detail.contains("800,000 BEAN3CRV"), "{}", m.detail);
    assert!(r.simulation.as_ref().is_some_and(|s| s.ok()));
    // Claims both ways: the promised donation never happens, and the flag says what does.
    let c = claim_flags(&r, text);
    let p = c
        .iter()
        .find(|f| f.is_critical() && f.detail.contains("promises 250,000 BEAN3CRV to Ukraine"))
        .unwrap_or_else(|| panic!("a promise flag: {c:?}"));
    assert!(p.detail.contains("sends 800,000 BEAN3CRV"), "{}", p.detail);
    // The chain is as it was.
    assert_eq!(balance(&rpc, lp, diamond).await, ether(800_000));
    assert_eq!(balance(&rpc, lp, attacker).await, U256::ZERO);
    assert_eq!(rpc.block_number().await.expect("block"), block);
}

#[tokio::test]
async fn goldcomp_grant_into_a_vault_an_outside_multisig_controls_is_critical() {
    let Some(t) = treasury("goldcomp").await else {
        return;
    };
    let rpc = t.anvil.rpc().clone();
    let deployer = t.anvil.accounts()[0];
    let multisig = t.anvil.accounts()[8];
    let comp = t.token("Compound", "COMP", ether(10_000_000)).await;
    let comptroller = deploy(
        &t.anvil,
        &t.art,
        "MiniComptroller",
        (t.dao.timelock, comp).abi_encode_params(),
    )
    .await;
    let vault = deploy(&t.anvil, &t.art, "GoldVault", multisig.abi_encode()).await;
    send(
        &t.anvil,
        deployer,
        comp,
        IShape::transferCall {
            to: comptroller,
            amount: ether(100_000),
        }
        .abi_encode(),
    )
    .await;
    // The fixture's calldata from the goldCOMP repo: _grantComp(recipient, 1,791 COMP).
    let mut data = IShape::_grantCompCall {
        recipient: vault,
        amount: ether(1791),
    }
    .abi_encode();
    if let Some(v) = incidents() {
        let fixture = v[2]["fixture_proposal"]["calldatas"][0]
            .as_str()
            .expect("calldata");
        let real: Bytes = fixture.parse().expect("hex");
        assert_eq!(real[..4], data[..4], "same selector as the real fixture");
        assert_eq!(
            real[36..68],
            data[36..68],
            "same amount as the real fixture"
        );
        // The real recipient replaced by our vault.
        data = [&real[..16], vault.as_slice(), &real[36..]].concat();
    }
    let actions = [action(comptroller, data)];
    let text = format!("Grant 1,791 COMP to the goldCOMP vault {vault} so the DAO earns yield.");
    let r = verify(&Decoder::default(), Some(&rpc), &t.req(&actions, &text))
        .await
        .expect("verify");
    let f = critical(&r, kinds::OUTSIDE_CONTROL).expect("outside control");
    assert!(f.detail.contains("1,791 COMP"), "{}", f.detail);
    assert!(
        critical(&r, kinds::MISMATCH).is_none(),
        "the text states it: {:?}",
        r.flags
    );
    // The promise is kept (`_grantComp` pays COMP): no claim flag at all.
    let c = claim_flags(&r, &text);
    assert!(c.is_empty(), "{c:?}");
}

#[tokio::test]
async fn synthetify_ten_lookalikes_only_the_one_with_a_transfer_is_critical() {
    let Some(t) = treasury("synthetify").await else {
        return;
    };
    let rpc = t.anvil.rpc().clone();
    let attacker = t.anvil.accounts()[9];
    let params = deploy(&t.anvil, &t.art, "ParamStore", t.dao.timelock.abi_encode()).await;
    // ParamStore's ABI comes from the user, as from <home>/abis/.
    let mut registry = Registry::builtin();
    let abi = t.art.get("ParamStore").expect("abi").abi.to_string();
    registry
        .add_json("ParamStore.json", &abi)
        .expect("user abi");
    let decoder = Decoder::new(registry);
    let mut critical_ones = vec![];
    for i in 0..10u64 {
        let text = format!(
            "Synthetify parameter update {i}\n\nSet the swap fee to {} bps.",
            30 + i
        );
        let mut actions = vec![action(
            params,
            IShape::setFeeCall {
                bps: U256::from(30 + i),
            }
            .abi_encode(),
        )];
        if i == 7 {
            actions.push(t.dao.treasury_transfer(attacker, ether(100_000)));
        }
        let r = verify(&decoder, Some(&rpc), &t.req(&actions, &text))
            .await
            .expect("verify");
        assert!(
            r.simulation.as_ref().is_some_and(|s| s.ok()),
            "{:?}",
            r.simulation
        );
        // A fee in bps is no promise of a transfer.
        let c = claim_flags(&r, &text);
        assert!(c.iter().all(|f| !f.detail.contains("promises")), "{c:?}");
        if r.has_critical() {
            critical_ones.push(i);
            let m = critical(&r, kinds::MISMATCH).expect("mismatch");
            assert!(m.detail.contains("100,000 STW"), "{}", m.detail);
        }
    }
    assert_eq!(critical_ones, [7]);
}

#[tokio::test]
async fn certora_payment_stream_is_not_critical() {
    let Some(t) = treasury("certora_stream").await else {
        return;
    };
    let rpc = t.anvil.rpc().clone();
    let deployer = t.anvil.accounts()[0];
    let comp = t.token("Compound", "COMP", ether(10_000_000)).await;
    let sablier = deploy(&t.anvil, &t.art, "MiniSablier", vec![]).await;
    send(
        &t.anvil,
        deployer,
        comp,
        IShape::transferCall {
            to: t.dao.timelock,
            amount: ether(50_000),
        }
        .abi_encode(),
    )
    .await;
    let (mut certora, mut deposit, mut start, mut stop): (Address, U256, U256, U256) = (
        "0x0F11640BF66e2D9352d9c41434A5C6E597c5e4c8"
            .parse()
            .expect("a"),
        "16722407999999999750400".parse().expect("n"),
        U256::from(1_680_673_189u64),
        U256::from(1_696_484_389u64),
    );
    if let Some(v) = incidents() {
        let args = &v[3]["actions"][1]["args"];
        certora = args[0].as_str().expect("a").parse().expect("a");
        deposit = args[1].as_str().expect("n").parse().expect("n");
        start = args[3].as_str().expect("n").parse().expect("n");
        stop = args[4].as_str().expect("n").parse().expect("n");
    }
    let actions = [
        action(
            comp,
            IShape::approveCall {
                spender: sablier,
                amount: deposit,
            }
            .abi_encode(),
        ),
        action(
            sablier,
            IShape::createStreamCall {
                recipient: certora,
                deposit,
                tokenAddress: comp,
                startTime: start,
                stopTime: stop,
            }
            .abi_encode(),
        ),
    ];
    let text = format!(
        "Certora formal verification, 6 months\n\n$750,000 at 44.85 USD/COMP = 16,722.408 COMP, streamed from April 5 to October 5 2023 via Sablier ({sablier}) to Certora ({certora})."
    );
    let r = verify(&Decoder::default(), Some(&rpc), &t.req(&actions, &text))
        .await
        .expect("verify");
    assert!(
        r.simulation.as_ref().is_some_and(|s| s.ok()),
        "{:?}",
        r.simulation
    );
    assert!(!r.has_critical(), "{:?}", r.flags);
    // The stream to Certora keeps the stated 16,722.408 COMP: nothing from the claims rules.
    let c = claim_flags(&r, &text);
    assert!(c.is_empty(), "{c:?}");
    let ks = kinds_of(&r);
    assert!(
        ks.contains(&(kinds::APPROVAL, false)) && ks.contains(&(kinds::TOKEN_TRANSFER, false)),
        "{ks:?}"
    );
    assert_eq!(
        balance(&rpc, comp, t.dao.timelock).await,
        ether(50_000),
        "chain unchanged"
    );
}

#[tokio::test]
async fn token_amounts_come_from_the_table_or_say_decimals_unknown() {
    let Some(t) = treasury("token_amounts").await else {
        return;
    };
    let rpc = t.anvil.rpc().clone();
    let to = t.anvil.accounts()[7];
    // A "token" whose decimals() and symbol() revert (ParamStore has neither).
    let odd = deploy(&t.anvil, &t.art, "ParamStore", t.dao.timelock.abi_encode()).await;
    // At USDC's mainnet address, code that says it is an 18-decimal "FAKE": the table wins.
    let usdc: Address = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
        .parse()
        .expect("a");
    let fake = t.token("Fake", "FAKE", ether(1)).await;
    let code = rpc.provider().get_code_at(fake).await.expect("code");
    rpc.provider()
        .raw_request::<_, serde_json::Value>("anvil_setCode".into(), (usdc, code))
        .await
        .expect("setCode");
    let actions = [
        action(
            odd,
            IShape::transferCall {
                to,
                amount: U256::from(5u8),
            }
            .abi_encode(),
        ),
        action(
            usdc,
            IShape::transferCall {
                to,
                amount: U256::from(250_000u64) * U256::from(1_000_000u64),
            }
            .abi_encode(),
        ),
    ];
    let r = verify(
        &Decoder::default(),
        Some(&rpc),
        &t.req(&actions, "Housekeeping."),
    )
    .await
    .expect("verify");
    let details: Vec<&str> = r.flags.iter().map(|f| f.detail.as_str()).collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("5 base units of token") && d.contains("(decimals unknown)")),
        "{details:?}"
    );
    assert!(
        details.iter().any(|d| d.contains("250,000 USDC")),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .all(|d| !d.contains("0 tokens") && !d.contains("FAKE")),
        "{details:?}"
    );
}

#[tokio::test]
async fn simulation_against_a_silent_node_times_out_clearly() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let _hold = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(4).collect();
        std::thread::sleep(std::time::Duration::from_secs(5));
        drop(conns);
    });
    let rpc = Rpc::new(format!("http://127.0.0.1:{port}").parse().expect("url"))
        .expect("rpc")
        .with_timeout(std::time::Duration::from_millis(300));
    let actions = [action(Address::repeat_byte(1), vec![])];
    let req = Request {
        actions: &actions,
        description: "",
        executor: Some(Address::repeat_byte(2)),
        dao: vec![],
        simulate: true,
    };
    let err = verify(&Decoder::default(), Some(&rpc), &req)
        .await
        .expect_err("times out");
    assert!(err.to_string().contains("no answer within"), "{err}");
}

#[test]
fn the_real_goldcomp_fixture_decodes_to_1791_comp() {
    let Some(v) = incidents() else { return };
    let fixture = v[2]["fixture_proposal"]["calldatas"][0]
        .as_str()
        .expect("calldata");
    let c = Decoder::default().action(
        &action(
            Address::ZERO,
            fixture.parse::<Bytes>().expect("hex").to_vec(),
        ),
        None,
    );
    assert_eq!(c.signature.as_deref(), Some("_grantComp(address,uint256)"));
    assert_eq!(c.args[1].value.short(), ether(1791).to_string());
}

/// A JSON-RPC node that is not anvil: it answers reads and refuses `evm_snapshot`.
fn plain_node() -> String {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().expect("clone"));
            loop {
                let mut len = 0usize;
                let mut line = String::new();
                let mut ok = false;
                while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                    ok = true;
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                    line.clear();
                }
                if !ok {
                    break;
                }
                let mut body = vec![0u8; len];
                if r.read_exact(&mut body).is_err() {
                    break;
                }
                let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let id = req["id"].clone();
                let reply = match req["method"].as_str().unwrap_or("") {
                    "eth_blockNumber" => serde_json::json!({"jsonrpc":"2.0","id":id,"result":"0x10"}),
                    "eth_getCode" => serde_json::json!({"jsonrpc":"2.0","id":id,"result":"0x"}),
                    "eth_call" => serde_json::json!({"jsonrpc":"2.0","id":id,"result":"0x"}),
                    "ots_getContractCreator" => serde_json::json!({"jsonrpc":"2.0","id":id,"result":null}),
                    m => serde_json::json!({"jsonrpc":"2.0","id":id,"error":{"code":-32601,"message":format!("the method {m} does not exist")}}),
                }
                .to_string();
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    reply.len()
                );
                if s.write_all(head.as_bytes())
                    .and_then(|_| s.write_all(reply.as_bytes()))
                    .is_err()
                {
                    break;
                }
            }
        }
    });
    url
}

#[tokio::test]
async fn a_node_that_cannot_simulate_gives_a_warning_not_an_error() {
    let rpc = Rpc::new(plain_node().parse().expect("url")).expect("rpc");
    let actions = [action(
        Address::repeat_byte(1),
        IShape::setFeeCall {
            bps: U256::from(1u8),
        }
        .abi_encode(),
    )];
    let req = Request {
        actions: &actions,
        description: "",
        executor: Some(Address::repeat_byte(2)),
        dao: vec![],
        simulate: true,
    };
    let r = verify(&Decoder::default(), Some(&rpc), &req)
        .await
        .expect("verify");
    let ks = kinds_of(&r);
    assert!(
        ks.contains(&(kinds::SIMULATION_FAILED, false)),
        "{:?}",
        r.flags
    );
    // The target has no code on that node: still critical, and the selector is unknown.
    assert!(
        ks.contains(&(kinds::UNVERIFIED_TARGET, true)) && ks.contains(&(kinds::UNKNOWN_CALL, true)),
        "{ks:?}"
    );
    assert!(r.simulation.is_none());
}

/// Ether that moves inside calls shows through the call trace (the recipient is watched by
/// nobody), and ERC-1155 `TransferSingle`/`TransferBatch` events are asset diffs.
#[tokio::test]
async fn simulation_traces_internal_ether_and_erc1155_transfers() {
    let Some(t) = treasury("simulation_traces").await else {
        return;
    };
    let rpc = t.anvil.rpc().clone();
    let attacker = t.anvil.accounts()[9];
    let multi = deploy(
        &t.anvil,
        &t.art,
        "ShapeMultiToken",
        t.dao.timelock.abi_encode(),
    )
    .await;
    let forwarder = deploy(&t.anvil, &t.art, "EthForwarder", vec![]).await;
    let mut pay = action(forwarder, IShape::forwardCall { to: attacker }.abi_encode());
    pay.value = ether(5);
    let actions = [
        action(
            multi,
            IShape::safeTransferFromCall {
                from: t.dao.timelock,
                to: attacker,
                id: U256::from(7u8),
                value: U256::from(40u8),
                data: Bytes::new(),
            }
            .abi_encode(),
        ),
        action(
            multi,
            IShape::safeBatchTransferFromCall {
                from: t.dao.timelock,
                to: attacker,
                ids: vec![U256::from(7u8), U256::from(8u8)],
                values: vec![U256::from(10u8), U256::from(5u8)],
                data: Bytes::new(),
            }
            .abi_encode(),
        ),
        pay,
    ];
    let before = rpc.provider().get_balance(attacker).await.expect("balance");
    let r = verify(
        &Decoder::default(),
        Some(&rpc),
        &t.req(&actions, "Housekeeping."),
    )
    .await
    .expect("verify");
    let sim = r.simulation.as_ref().expect("simulated");
    assert!(sim.ok() && sim.traced, "{sim:?}");
    let moved: Vec<(String, U256)> = sim
        .effects
        .iter()
        .filter_map(|e| match &e.kind {
            EffectKind::TokenTransfer {
                token: Some(tk),
                to,
                amount,
                via: Some(v),
                ..
            } if *tk == multi && *to == attacker => Some((v.clone(), *amount)),
            _ => None,
        })
        .collect();
    assert_eq!(
        moved,
        [
            ("ERC-1155 id 7".to_owned(), U256::from(40u8)),
            ("ERC-1155 id 7".to_owned(), U256::from(10u8)),
            ("ERC-1155 id 8".to_owned(), U256::from(5u8)),
        ]
    );
    assert!(
        sim.effects.iter().any(|e| matches!(&e.kind,
            EffectKind::EthTransfer { from: Some(f), to, amount }
                if *f == forwarder && *to == attacker && *amount == ether(5))),
        "the forwarded ether, from the trace: {:?}",
        sim.effects
    );
    assert!(r.has_critical(), "an unstated transfer: {:?}", r.flags);
    assert_eq!(
        rpc.provider().get_balance(attacker).await.expect("balance"),
        before,
        "chain unchanged"
    );
}

sol! {
    interface IGovSettings {
        function setVotingPeriod(uint32 newVotingPeriod) external;
        function updateQuorumNumerator(uint256 newQuorumNumerator) external;
        function updateDelay(uint256 newDelay) external;
    }
}

/// Governance safety on a real OpenZeppelin 5 Governor and TimelockController (7-day voting
/// period, 4-day timelock delay): a harmless title that guts voting period and quorum is
/// critical with or without the chain; a cut of the period or delay to under half is critical
/// only once the current values are read on chain; a longer period is a warning.
#[tokio::test]
async fn settings_changes_are_judged_against_the_values_read_on_chain() {
    let Some(tools) = tools_or_skip("settings_changes_on_chain") else {
        return;
    };
    let anvil = Anvil::start(&tools).await.expect("anvil");
    let art = Artifacts::load(&tools).expect("contracts");
    let cfg = DaoConfig {
        voting_delay: 7_200,
        voting_period: 50_400,
        timelock_delay: 4 * 86_400,
        ..DaoConfig::default()
    };
    let dao = Dao::deploy(&anvil, &art, &cfg).await.expect("dao");
    let rpc = anvil.rpc().clone();
    let decoder = Decoder::default();
    let period = |n: u32| {
        action(
            dao.governor,
            IGovSettings::setVotingPeriodCall { newVotingPeriod: n }.abi_encode(),
        )
    };
    let run = |actions: Vec<Action>, on_chain: bool| {
        let (decoder, rpc) = (&decoder, &rpc);
        let dao_addrs = vec![dao.governor, dao.timelock];
        let executor = dao.timelock;
        async move {
            let req = Request {
                actions: &actions,
                description: "Housekeeping: routine parameter update",
                executor: Some(executor),
                dao: dao_addrs,
                simulate: false,
            };
            let r = verify(decoder, on_chain.then_some(rpc), &req)
                .await
                .expect("verify");
            r.flags
                .into_iter()
                .filter(|f| f.kind == kinds::GOVERNANCE_CHANGE)
                .collect::<Vec<Flag>>()
        }
    };
    // Voting period one block and quorum zero: critical on the values alone.
    let gut = vec![
        period(1),
        action(
            dao.governor,
            IGovSettings::updateQuorumNumeratorCall {
                newQuorumNumerator: U256::ZERO,
            }
            .abi_encode(),
        ),
    ];
    for on_chain in [false, true] {
        let f = run(gut.clone(), on_chain).await;
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().all(Flag::is_critical), "{f:?}");
    }
    // 7 days -> 14 days: a warning that says it is raised.
    let f = run(vec![period(100_800)], true).await;
    assert!(!f[0].is_critical(), "{f:?}");
    assert!(f[0].detail.contains("raised from 50400"), "{}", f[0].detail);
    // 7 days -> 3 days and a 4-day delay -> 1.5 days: above the floors, cut to under half.
    let cut = vec![
        period(21_600),
        action(
            dao.timelock,
            IGovSettings::updateDelayCall {
                newDelay: U256::from(129_600u64),
            }
            .abi_encode(),
        ),
    ];
    let f = run(cut.clone(), false).await;
    assert!(f.iter().all(|f| !f.is_critical()), "{f:?}");
    let f = run(cut, true).await;
    assert_eq!(f.len(), 2, "{f:?}");
    assert!(f.iter().all(Flag::is_critical), "{f:?}");
    assert!(
        f.iter()
            .any(|f| f.detail.contains("cut from 50400 to 21600")),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|f| f.detail.contains("cut from 345600 to 129600")),
        "{f:?}"
    );
}
