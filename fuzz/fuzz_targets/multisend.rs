//! MultiSend's packed encoding, the format a Safe proposal hides its calls in: the input is the
//! packed `transactions`. `split_multisend` must round-trip through `pack_multisend`, and the
//! input wrapped in `multiSend(bytes)` (run by a Safe's delegatecall) decodes with every nested
//! MultiSend inside it followed, as inspection does.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use steward_core::verification::{Tokens, effects_of, flags_of};
use steward_core::{Action, Address, U256};
use steward_eth::decode::{Decoder, pack_multisend, split_multisend};
use steward_fuzz::check_call;

static DECODER: LazyLock<Decoder> = LazyLock::new(Decoder::default);

/// `multiSend(bytes)` calldata around packed transactions.
fn multisend_call(packed: &[u8]) -> Vec<u8> {
    let mut out = steward_eth::keccak(b"multiSend(bytes)")[..4].to_vec();
    out.extend_from_slice(&U256::from(32).to_be_bytes::<32>());
    out.extend_from_slice(&U256::from(packed.len()).to_be_bytes::<32>());
    out.extend_from_slice(packed);
    out.resize(out.len() + (32 - packed.len() % 32) % 32, 0);
    out
}

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = split_multisend(data) {
        let owned: Vec<_> = entries
            .iter()
            .map(|(op, to, value, d)| (*op, *to, *value, d.to_vec()))
            .collect();
        assert_eq!(
            pack_multisend(&owned),
            data,
            "split then pack changed the bytes"
        );
    }
    let action = Action {
        target: Address::repeat_byte(0x5a),
        value: U256::ZERO,
        signature: String::new(),
        calldata: multisend_call(data).into(),
    };
    let call = DECODER.action(&action, Some(Address::repeat_byte(0x71)));
    check_call(&call);
    let effects = effects_of(&call);
    let _ = flags_of(&[call], &effects, &Tokens::new());
});
