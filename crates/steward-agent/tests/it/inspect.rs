//! The user's ABIs for `steward inspect`: read from `<home>/abis`, bad files named.

use steward_agent::Config;
use steward_agent::inspect::Inspector;
use steward_core::{Action, Address, Bytes, U256};

#[test]
fn user_abis_are_read_and_a_bad_one_is_named() {
    let dir = tempfile::tempdir().expect("dir");
    let abis = dir.path().join("abis");
    // No directory: the built-in registry only.
    let i = Inspector::new(&Config::default(), &abis).expect("no abis dir is fine");
    assert!(i.abis.is_empty());
    std::fs::create_dir_all(&abis).expect("mkdir");
    std::fs::write(
        abis.join("params.json"),
        r#"[{"type":"function","name":"setFee","inputs":[{"name":"bps","type":"uint256"}],"outputs":[],"stateMutability":"nonpayable"}]"#,
    )
    .expect("write");
    std::fs::write(
        abis.join("more.txt"),
        "# comment\nsweep()\n\nfunction pause(bool on)\n",
    )
    .expect("write");
    std::fs::write(abis.join("README.md"), "ignored").expect("write");
    let i = Inspector::new(&Config::default(), &abis).expect("abis");
    let counts: Vec<usize> = i.abis.iter().map(|(_, n)| *n).collect();
    assert_eq!(counts, [2, 1]);
    let a = Action {
        target: Address::repeat_byte(1),
        value: U256::ZERO,
        signature: "setFee(uint256)".into(),
        calldata: Bytes::from(U256::from(30u8).to_be_bytes::<32>().to_vec()),
    };
    assert!(i.decoder().action(&a, None).known);

    std::fs::write(abis.join("zz-bad.txt"), "setFee(uint256\n").expect("write");
    let err = Inspector::new(&Config::default(), &abis).expect_err("bad signature");
    assert!(err.to_string().contains("zz-bad.txt line 1"), "{err}");
}
