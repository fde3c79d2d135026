//! Calldata decoding as inspection runs it: one proposal action (OpenZeppelin calldata, or a
//! Bravo signature with arguments-only calldata) through the built-in registry, following
//! timelock batches, Safe transactions, MultiSend, multicall, upgrade-and-call and diamond
//! inits, then the effects and flags computed from the decoded tree.
//! Input: 1 byte of mode (bit 0: Bravo, the signature is the text up to the first NUL; bit 1:
//! executed by a timelock), then the calldata.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use steward_core::verification::{Tokens, effects_of, flags_of};
use steward_core::{Action, Address, U256};
use steward_eth::decode::Decoder;
use steward_fuzz::{check_call, split_first};

static DECODER: LazyLock<Decoder> = LazyLock::new(Decoder::default);

fuzz_target!(|data: &[u8]| {
    let (mode, rest) = split_first(data);
    let (signature, calldata) = if mode & 1 == 1 {
        let cut = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
        let Ok(sig) = std::str::from_utf8(&rest[..cut]) else {
            return;
        };
        (sig.to_owned(), rest.get(cut + 1..).unwrap_or_default())
    } else {
        (String::new(), rest)
    };
    let executor = (mode & 2 == 2).then_some(Address::repeat_byte(0x71));
    let action = Action {
        target: Address::repeat_byte(0xc0),
        value: U256::ZERO,
        signature,
        calldata: calldata.to_vec().into(),
    };
    let call = DECODER.action(&action, executor);
    check_call(&call);
    let effects = effects_of(&call);
    let _ = flags_of(&[call], &effects, &Tokens::new());
});
