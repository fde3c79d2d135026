//! Keys: Web3 Secret Storage v3 keystores (the format of geth, cast and ethers), scrypt or
//! pbkdf2 with AES-128-CTR and a Keccak-256 MAC, and the [`Key`] that signs with what they hold.
//!
//! The parser is ours, on the RustCrypto primitives eth-keystore uses: every field is checked
//! (lengths, KDF parameters with an upper bound on their cost) so a damaged or hostile file is a
//! [`KeystoreError`] naming the field, never a panic; the derived key and the decrypted secret
//! live in [`Zeroizing`] buffers; the MAC is compared in constant time. Files written here carry
//! the geth `address` field, which cast and geth read or ignore.

use std::fmt;

use aes::cipher::{KeyIvInit, StreamCipher};
use alloy::primitives::{Address, B256, Signature, keccak256};
use alloy::signers::k256::ecdsa::SigningKey;
use alloy::signers::local::PrivateKeySigner;
use serde_json::{Value, json};
use zeroize::{Zeroize, Zeroizing};

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// What can go wrong opening or writing a keystore. Never carries key material or the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// The MAC does not match: the password is wrong (or the ciphertext was altered).
    #[error("wrong keystore password (the MAC does not match)")]
    WrongPassword,
    /// The file is not a usable v3 keystore; `field` is the JSON path at fault.
    #[error("corrupt keystore: field `{field}`: {reason}")]
    Corrupt { field: String, reason: String },
    /// A valid keystore using something this implementation does not do.
    #[error("unsupported keystore: {0}")]
    Unsupported(String),
    /// The decrypted secret is not a secp256k1 private key.
    #[error("the keystore decrypts to an invalid secp256k1 private key")]
    InvalidKey,
    /// The operating system gave no randomness.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    /// The password is empty.
    #[error("the keystore password must not be empty")]
    EmptyPassword,
    /// A key-derivation parameter asks for more memory or time than any real keystore does;
    /// `field` is the JSON path at fault.
    #[error("keystore field `{field}` asks for too much work: {reason}")]
    TooCostly { field: String, reason: String },
}

fn corrupt(field: &str, reason: impl Into<String>) -> KeystoreError {
    KeystoreError::Corrupt {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// A keystore password. Zeroized on drop; `Debug` never shows it.
pub struct KeystorePassword(Zeroizing<String>);

impl KeystorePassword {
    /// Refuses the empty password (cast and geth accept it; we do not write such files).
    pub fn new(password: String) -> Result<Self, KeystoreError> {
        let p = Zeroizing::new(password);
        if p.is_empty() {
            return Err(KeystoreError::EmptyPassword);
        }
        Ok(Self(p))
    }

    /// For opening existing files, where an empty password may be the right one.
    pub fn allow_empty(password: String) -> Self {
        Self(Zeroizing::new(password))
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for KeystorePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeystorePassword(<redacted>)")
    }
}

/// A secp256k1 private key, ready to sign. The secret is zeroized on drop (k256 `SigningKey`);
/// `Debug` shows the address only.
#[derive(Clone)]
pub struct Key {
    signer: PrivateKeySigner,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}

impl Key {
    /// A fresh random key from the operating system's generator.
    pub fn random() -> Result<Self, KeystoreError> {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            getrandom::fill(bytes.as_mut()).map_err(|e| KeystoreError::Random(e.to_string()))?;
            // Out of range with probability ~2^-128: draw again.
            if let Ok(k) = Self::from_secret(&bytes) {
                return Ok(k);
            }
        }
    }

    /// The key with this 32-byte secret scalar.
    pub fn from_secret(secret: &[u8; 32]) -> Result<Self, KeystoreError> {
        let sk = SigningKey::from_slice(secret).map_err(|_| KeystoreError::InvalidKey)?;
        Ok(Self {
            signer: PrivateKeySigner::from_signing_key(sk),
        })
    }

    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The alloy signer (implements `Signer`, `SignerSync` and, through `EthereumWallet`,
    /// transaction signing).
    pub fn signer(&self) -> &PrivateKeySigner {
        &self.signer
    }

    /// Signs a 32-byte hash (EIP-712, EIP-191 digests) with libsecp256k1, about three times
    /// faster than k256; the transient libsecp256k1 copy of the secret is erased after use.
    /// Deterministic (RFC 6979), so the signature equals k256's for the same hash.
    pub fn sign_hash(&self, hash: &B256) -> Result<Signature, KeystoreError> {
        let secret = self.secret();
        let mut sk = secp256k1::SecretKey::from_byte_array(*secret)
            .map_err(|_| KeystoreError::InvalidKey)?;
        let sig = secp256k1::SECP256K1
            .sign_ecdsa_recoverable(secp256k1::Message::from_digest(hash.0), &sk);
        sk.non_secure_erase();
        Ok(sig.into())
    }

    /// Signs `message` as EIP-191 `personal_sign` does (`"\x19Ethereum Signed Message:\n" +
    /// len + message`, keccak-256): what wallets and `cast wallet verify` check.
    pub fn sign_message(&self, message: &[u8]) -> Result<Signature, KeystoreError> {
        self.sign_hash(&alloy::primitives::eip191_hash_message(message))
    }

    /// The secret scalar, in a buffer zeroized on drop.
    fn secret(&self) -> Zeroizing<[u8; 32]> {
        let mut b: B256 = self.signer.to_bytes();
        let out = Zeroizing::new(b.0);
        b.0.zeroize();
        out
    }
}

/// How a new keystore's password is stretched (scrypt; both are what geth writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kdf {
    /// geth's standard: n = 2^18, r = 8, p = 1 (256 MiB, about a second).
    #[default]
    Standard,
    /// geth's `--lightkdf`: n = 2^12, r = 8, p = 6 (4 MiB, for tests and small machines).
    Light,
}

impl Kdf {
    fn params(self) -> (u8, u32, u32) {
        match self {
            Self::Standard => (18, 8, 1),
            Self::Light => (12, 8, 6),
        }
    }
}

/// Upper bounds on the cost a keystore file may ask for, so a hostile file cannot make us
/// allocate gigabytes or spin for hours.
/// geth, cast and ethers write at most n = 2^18, r = 8, p = 1 (256 MiB, n*r*p = 2^21): these allow
/// 4x the memory and 8x the work of that (seconds, never hours).
const MAX_SCRYPT_LOG_N: u32 = 20;
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
const MAX_SCRYPT_P: u32 = 16;
const MAX_SCRYPT_WORK: u64 = 1 << 24;
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;

/// Writes `key` as a v3 keystore (JSON text) encrypted under `password`.
pub fn encrypt_keystore(
    key: &Key,
    password: &KeystorePassword,
    kdf: Kdf,
) -> Result<String, KeystoreError> {
    let mut salt = [0u8; 32];
    let mut iv = [0u8; 16];
    let mut id = [0u8; 16];
    for buf in [&mut salt[..], &mut iv[..], &mut id[..]] {
        getrandom::fill(buf).map_err(|e| KeystoreError::Random(e.to_string()))?;
    }
    let (log_n, r, p) = kdf.params();
    let params = scrypt::Params::new(log_n, r, p)
        .map_err(|e| KeystoreError::Unsupported(format!("scrypt parameters: {e}")))?;
    let mut dk = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password.bytes(), &salt, &params, dk.as_mut())
        .map_err(|e| KeystoreError::Unsupported(format!("scrypt: {e}")))?;
    let mut ciphertext = key.secret();
    Aes128Ctr::new(dk[..16].into(), (&iv).into()).apply_keystream(ciphertext.as_mut());
    let mac = mac(&dk, ciphertext.as_ref());
    // RFC 4122 version 4 UUID.
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    let h = hex::encode(id);
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    );
    let doc = json!({
        "address": hex::encode(key.address()),
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": { "iv": hex::encode(iv) },
            "ciphertext": hex::encode(ciphertext.as_ref()),
            "kdf": "scrypt",
            "kdfparams": { "dklen": 32, "n": 1u64 << log_n, "p": p, "r": r, "salt": hex::encode(salt) },
            "mac": hex::encode(mac),
        },
        "id": uuid,
        "version": 3,
    });
    Ok(doc.to_string())
}

/// The `address` a keystore declares (geth and Steward write it; cast does not), if any. It is
/// a hint for listing keys without the password; [`decrypt_keystore`] is the truth.
pub fn keystore_address(json: &str) -> Option<Address> {
    let v: Value = serde_json::from_str(json).ok()?;
    let a = v.get("address")?.as_str()?;
    let a = a.strip_prefix("0x").unwrap_or(a);
    format!("0x{a}").parse().ok()
}

/// Opens a v3 keystore: checks every field, derives the key (scrypt or pbkdf2-hmac-sha256),
/// checks the MAC and decrypts. A declared `address` that differs from the key's is an error.
pub fn decrypt_keystore(json: &str, password: &KeystorePassword) -> Result<Key, KeystoreError> {
    let v: Value =
        serde_json::from_str(json).map_err(|e| corrupt("(document)", format!("not JSON: {e}")))?;
    let version = v
        .get("version")
        .and_then(Value::as_u64)
        .ok_or_else(|| corrupt("version", "missing or not a number"))?;
    if version != 3 {
        return Err(KeystoreError::Unsupported(format!(
            "version {version} (only 3)"
        )));
    }
    let crypto = v
        .get("crypto")
        .or_else(|| v.get("Crypto"))
        .ok_or_else(|| corrupt("crypto", "missing"))?;
    let cipher = str_field(crypto, "crypto.cipher", "cipher")?;
    if cipher != "aes-128-ctr" {
        return Err(KeystoreError::Unsupported(format!(
            "cipher {cipher:?} (only aes-128-ctr)"
        )));
    }
    let iv: [u8; 16] = hex_field(
        crypto.get("cipherparams").unwrap_or(&Value::Null),
        "crypto.cipherparams.iv",
        "iv",
    )?
    .try_into()
    .map_err(|b: Vec<u8>| {
        corrupt(
            "crypto.cipherparams.iv",
            format!("{} bytes, expected 16", b.len()),
        )
    })?;
    let ciphertext = hex_field(crypto, "crypto.ciphertext", "ciphertext")?;
    if ciphertext.len() != 32 {
        return Err(corrupt(
            "crypto.ciphertext",
            format!("{} bytes, expected 32", ciphertext.len()),
        ));
    }
    let want_mac = hex_field(crypto, "crypto.mac", "mac")?;
    if want_mac.len() != 32 {
        return Err(corrupt(
            "crypto.mac",
            format!("{} bytes, expected 32", want_mac.len()),
        ));
    }
    let kdf = str_field(crypto, "crypto.kdf", "kdf")?;
    let kp = crypto
        .get("kdfparams")
        .ok_or_else(|| corrupt("crypto.kdfparams", "missing"))?;
    let dklen = u32_field(kp, "crypto.kdfparams.dklen", "dklen")?;
    if dklen != 32 {
        return Err(corrupt(
            "crypto.kdfparams.dklen",
            format!("{dklen}, expected 32"),
        ));
    }
    let salt = hex_field(kp, "crypto.kdfparams.salt", "salt")?;
    let mut dk = Zeroizing::new([0u8; 32]);
    match kdf {
        "scrypt" => {
            let n = u64::from(u32_field(kp, "crypto.kdfparams.n", "n")?);
            let r = u32_field(kp, "crypto.kdfparams.r", "r")?;
            let p = u32_field(kp, "crypto.kdfparams.p", "p")?;
            if n < 2 || !n.is_power_of_two() {
                return Err(corrupt(
                    "crypto.kdfparams.n",
                    format!("{n} is not a power of two above 1"),
                ));
            }
            let log_n = n.trailing_zeros();
            let too_costly = |field: &str, reason: String| KeystoreError::TooCostly {
                field: field.into(),
                reason,
            };
            if r == 0 {
                return Err(corrupt("crypto.kdfparams.r", "0, expected at least 1"));
            }
            if p == 0 {
                return Err(corrupt("crypto.kdfparams.p", "0, expected at least 1"));
            }
            if log_n > MAX_SCRYPT_LOG_N {
                return Err(too_costly(
                    "crypto.kdfparams.n",
                    format!("n={n} is above 2^{MAX_SCRYPT_LOG_N}"),
                ));
            }
            if 128 * u64::from(r) * n > MAX_SCRYPT_MEMORY {
                return Err(too_costly(
                    "crypto.kdfparams.r",
                    format!(
                        "n={n} r={r} needs more than {} MiB",
                        MAX_SCRYPT_MEMORY >> 20
                    ),
                ));
            }
            if p > MAX_SCRYPT_P || n * u64::from(r) * u64::from(p) > MAX_SCRYPT_WORK {
                return Err(too_costly(
                    "crypto.kdfparams.p",
                    format!(
                        "p={p} (with n={n} r={r}) is above p={MAX_SCRYPT_P} or n*r*p=2^{}",
                        MAX_SCRYPT_WORK.trailing_zeros()
                    ),
                ));
            }
            let params = scrypt::Params::new(log_n as u8, r, p)
                .map_err(|e| corrupt("crypto.kdfparams", format!("scrypt parameters: {e}")))?;
            scrypt::scrypt(password.bytes(), &salt, &params, dk.as_mut())
                .map_err(|e| corrupt("crypto.kdfparams", format!("scrypt: {e}")))?;
        }
        "pbkdf2" => {
            let prf = str_field(kp, "crypto.kdfparams.prf", "prf")?;
            if prf != "hmac-sha256" {
                return Err(KeystoreError::Unsupported(format!(
                    "pbkdf2 prf {prf:?} (only hmac-sha256)"
                )));
            }
            let c = u32_field(kp, "crypto.kdfparams.c", "c")?;
            if c == 0 || c > MAX_PBKDF2_ROUNDS {
                return Err(corrupt(
                    "crypto.kdfparams.c",
                    format!("{c} rounds, expected 1 to {MAX_PBKDF2_ROUNDS}"),
                ));
            }
            pbkdf2::pbkdf2::<hmac::Hmac<sha2::Sha256>>(password.bytes(), &salt, c, dk.as_mut());
        }
        other => {
            return Err(KeystoreError::Unsupported(format!(
                "kdf {other:?} (only scrypt and pbkdf2)"
            )));
        }
    }
    let got_mac = mac(&dk, &ciphertext);
    if !constant_time_eq(got_mac.as_slice(), &want_mac) {
        return Err(KeystoreError::WrongPassword);
    }
    let mut secret = Zeroizing::new([0u8; 32]);
    secret.copy_from_slice(&ciphertext);
    Aes128Ctr::new(dk[..16].into(), (&iv).into()).apply_keystream(secret.as_mut());
    let key = Key::from_secret(&secret)?;
    if let Some(declared) = keystore_address(json)
        && declared != key.address()
    {
        return Err(corrupt(
            "address",
            format!("declares {declared} but the key is {}", key.address()),
        ));
    }
    Ok(key)
}

fn mac(dk: &[u8; 32], ciphertext: &[u8]) -> B256 {
    let mut buf = Zeroizing::new(Vec::with_capacity(16 + ciphertext.len()));
    buf.extend_from_slice(&dk[16..32]);
    buf.extend_from_slice(ciphertext);
    keccak256(buf.as_slice())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn str_field<'a>(obj: &'a Value, path: &str, name: &str) -> Result<&'a str, KeystoreError> {
    obj.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| corrupt(path, "missing or not a string"))
}

fn u32_field(obj: &Value, path: &str, name: &str) -> Result<u32, KeystoreError> {
    let n = obj
        .get(name)
        .and_then(Value::as_u64)
        .ok_or_else(|| corrupt(path, "missing or not a whole number"))?;
    u32::try_from(n).map_err(|_| corrupt(path, format!("{n} is too large")))
}

fn hex_field(obj: &Value, path: &str, name: &str) -> Result<Vec<u8>, KeystoreError> {
    let s = str_field(obj, path, name)?;
    hex::decode(s.strip_prefix("0x").unwrap_or(s))
        .map_err(|e| corrupt(path, format!("not hex: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pass(s: &str) -> KeystorePassword {
        KeystorePassword::new(s.into()).unwrap()
    }

    #[test]
    fn round_trip_light_and_wrong_password() {
        let key = Key::random().unwrap();
        let json = encrypt_keystore(&key, &pass("hunter22"), Kdf::Light).unwrap();
        assert_eq!(keystore_address(&json), Some(key.address()));
        let back = decrypt_keystore(&json, &pass("hunter22")).unwrap();
        assert_eq!(back.address(), key.address());
        assert_eq!(
            decrypt_keystore(&json, &pass("hunter23")).unwrap_err(),
            KeystoreError::WrongPassword
        );
    }

    #[test]
    fn libsecp256k1_signatures_equal_k256s() {
        use alloy::signers::SignerSync;
        let key = Key::random().unwrap();
        for i in 0..20u8 {
            let h = keccak256([i]);
            let a = key.sign_hash(&h).unwrap();
            assert_eq!(a, key.signer().sign_hash_sync(&h).unwrap());
            assert_eq!(a.recover_address_from_prehash(&h).unwrap(), key.address());
        }
    }

    #[test]
    fn personal_messages_sign_as_alloys_signer_does_and_recover_the_author() {
        use alloy::signers::SignerSync;
        let key = Key::random().unwrap();
        let msg = b"steward views: I support audits";
        let sig = key.sign_message(msg).unwrap();
        assert_eq!(sig, key.signer().sign_message_sync(msg).unwrap());
        assert_eq!(sig.recover_address_from_msg(msg).unwrap(), key.address());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let secret = [7u8; 32];
        let key = Key::from_secret(&secret).unwrap();
        let d = format!("{key:?}");
        assert!(d.contains(&format!("{:?}", key.address())), "{d}");
        assert!(!d.contains(&hex::encode(secret)), "{d}");
        let p = format!("{:?}", pass("sekrit-pass"));
        assert!(!p.contains("sekrit"), "{p}");
    }

    /// The Web3 Secret Storage definition's pbkdf2 test vector (password "testpassword").
    #[test]
    fn web3_secret_storage_pbkdf2_test_vector() {
        let pbkdf2 = r#"{"crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"6087dab2f9fdbbfaddc31a909735c1e6"},"ciphertext":"5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46","kdf":"pbkdf2","kdfparams":{"c":262144,"dklen":32,"prf":"hmac-sha256","salt":"ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"},"mac":"517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"},"id":"3198bc9c-6672-5ab3-d995-4942343ae5b6","version":3}"#;
        let want = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";
        let key = decrypt_keystore(pbkdf2, &pass("testpassword")).unwrap();
        assert_eq!(hex::encode(key.secret().as_ref()), want);
        assert_eq!(
            decrypt_keystore(pbkdf2, &pass("testpassworD")).unwrap_err(),
            KeystoreError::WrongPassword
        );
    }

    #[test]
    fn corrupt_files_name_the_field_and_never_panic() {
        let key = Key::random().unwrap();
        let good: Value =
            serde_json::from_str(&encrypt_keystore(&key, &pass("pw-pw-pw"), Kdf::Light).unwrap())
                .unwrap();
        let cases: &[(&str, Value, &str)] = &[
            (
                "/crypto/cipherparams/iv",
                json!("00ff"),
                "crypto.cipherparams.iv",
            ),
            ("/crypto/ciphertext", json!("zz"), "crypto.ciphertext"),
            ("/crypto/ciphertext", json!("00"), "crypto.ciphertext"),
            ("/crypto/mac", json!(""), "crypto.mac"),
            (
                "/crypto/kdfparams/dklen",
                json!(16),
                "crypto.kdfparams.dklen",
            ),
            ("/crypto/kdfparams/n", json!(1000), "crypto.kdfparams.n"),
            ("/crypto/kdfparams/r", json!(-1), "crypto.kdfparams.r"),
            ("/crypto/kdfparams/salt", json!(5), "crypto.kdfparams.salt"),
            ("/version", json!("3"), "version"),
        ];
        for (ptr, val, field) in cases {
            let mut doc = good.clone();
            *doc.pointer_mut(ptr).unwrap() = val.clone();
            match decrypt_keystore(&doc.to_string(), &pass("pw-pw-pw")) {
                Err(KeystoreError::Corrupt { field: f, .. }) => assert_eq!(&f, field, "{ptr}"),
                other => panic!("{ptr}: {other:?}"),
            }
        }
        // Crafted costs (p = 16,000,000 ran until killed before these bounds) are refused
        // before any work, naming the field.
        let costly: &[(u64, u64, u64, &str)] = &[
            (1 << 30, 8, 1, "crypto.kdfparams.n"),
            (1 << 20, 16, 1, "crypto.kdfparams.r"),
            (1 << 12, 8, 16_000_000, "crypto.kdfparams.p"),
            (1 << 12, 8, 17, "crypto.kdfparams.p"),
            (1 << 18, 8, 16, "crypto.kdfparams.p"),
        ];
        for &(n, r, p, field) in costly {
            let mut doc = good.clone();
            *doc.pointer_mut("/crypto/kdfparams/n").unwrap() = json!(n);
            *doc.pointer_mut("/crypto/kdfparams/r").unwrap() = json!(r);
            *doc.pointer_mut("/crypto/kdfparams/p").unwrap() = json!(p);
            let t = std::time::Instant::now();
            match decrypt_keystore(&doc.to_string(), &pass("pw-pw-pw")) {
                Err(e @ KeystoreError::TooCostly { .. }) => {
                    assert!(e.to_string().contains(field), "n={n} r={r} p={p}: {e}");
                }
                other => panic!("n={n} r={r} p={p}: {other:?}"),
            }
            assert!(t.elapsed().as_millis() < 100, "refused before deriving");
        }
        let mut zero = good.clone();
        *zero.pointer_mut("/crypto/kdfparams/p").unwrap() = json!(0);
        assert!(matches!(
            decrypt_keystore(&zero.to_string(), &pass("pw-pw-pw")),
            Err(KeystoreError::Corrupt { field, .. }) if field == "crypto.kdfparams.p"
        ));
        assert!(matches!(
            decrypt_keystore("{not json", &pass("x")),
            Err(KeystoreError::Corrupt { .. })
        ));
        let mut addr = good.clone();
        *addr.pointer_mut("/address").unwrap() = json!(hex::encode(Address::repeat_byte(1)));
        assert!(matches!(
            decrypt_keystore(&addr.to_string(), &pass("pw-pw-pw")),
            Err(KeystoreError::Corrupt { field, .. }) if field == "address"
        ));
    }
}
