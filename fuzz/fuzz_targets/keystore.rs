//! Web3 Secret Storage v3 keystores (`decrypt_keystore`, `keystore_address`): every field
//! checked, KDF costs bounded, errors naming the field. Seeds are keystores written with the
//! password below, so the MAC, decryption and address checks are reached as well.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use steward_eth::{KeystoreError, KeystorePassword, decrypt_keystore, keystore_address};

const PASSWORD: &str = "fuzz-password";

/// The cost `decrypt_keystore` would accept, in scrypt `n*r*p` or pbkdf2 rounds, if the
/// document asks for more than a fuzz run can afford per input. Real limits are checked by the
/// library before any work; above them the document is still fuzzed.
fn too_slow_for_fuzzing(v: &Value) -> bool {
    let Some(kp) = v
        .get("crypto")
        .or_else(|| v.get("Crypto"))
        .and_then(|c| c.get("kdfparams"))
    else {
        return false;
    };
    let num = |k: &str| kp.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (n, r, p, c) = (num("n"), num("r"), num("p"), num("c"));
    let scrypt_work = n.saturating_mul(r).saturating_mul(p);
    // Under the library's own ceilings (2^24 scrypt work, 10M pbkdf2 rounds), but expensive.
    (scrypt_work > 1 << 12 && scrypt_work <= 1 << 24) || (c > 1 << 12 && c <= 10_000_000)
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    if serde_json::from_str::<Value>(json).is_ok_and(|v| too_slow_for_fuzzing(&v)) {
        return;
    }
    let declared = keystore_address(json);
    let password = KeystorePassword::new(PASSWORD.into()).expect("not empty");
    match decrypt_keystore(json, &password) {
        Ok(key) => {
            if let Some(a) = declared {
                assert_eq!(a, key.address(), "declared address differs from the key's");
            }
        }
        Err(
            KeystoreError::Corrupt { field, reason } | KeystoreError::TooCostly { field, reason },
        ) => {
            assert!(
                !field.is_empty() && !reason.is_empty(),
                "error names no field"
            );
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
