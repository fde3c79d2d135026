//! Anonymous votes and signals: Semaphore (v3 circuit, Groth16 over BN254) through
//! semaphore-rs 0.6, whose proving keys for tree depths 16, 20 and 30 ship inside the crate.
//!
//! This crate owns the cryptography and nothing stateful: an [`Identity`] made from a 32-byte
//! [`IdentitySecret`] (the caller keeps the secret in its encrypted store), a [`Group`] as a
//! Poseidon Merkle tree over a membership list, [`prove`] for one signal (a message, such as a
//! vote or a published view, under a scope, such as a proposal), and [`verify`]. The nullifier a
//! proof reveals is the same for one identity and one scope and unrelated across scopes: the
//! caller refuses a second signal by keeping the nullifiers it has seen. It is its own crate
//! because the proving stack (arkworks, circom witness graphs) is the slowest part of a cold
//! build; only the binary depends on it (docs/privacy.md).

mod error;
mod group;
mod identity;
mod signal;
pub mod solidity;
mod vk;

pub use error::{Error, Invalid, Result};
pub use group::Group;
pub use identity::{Identity, IdentitySecret};
pub use signal::{Signal, Words, nullifier_of, prove, verify};

pub use semaphore_rs::Field;
use semaphore_rs::MODULUS;

/// Tree depths with proving keys in this build: a group holds at most 2^depth members.
pub const DEPTHS: [usize; 3] = [16, 20, 30];

/// The depth a group gets unless told otherwise (about a million members).
pub const DEFAULT_DEPTH: usize = 20;

/// A field element as Steward writes it: `0x` and 64 lower-case hex digits.
pub fn to_hex(f: &Field) -> String {
    format!("0x{}", hex::encode(f.to_be_bytes::<32>()))
}

/// Parses `0x`-prefixed hex (up to 64 digits) into a BN254 scalar field element; `what` names
/// the value in the error.
pub fn parse_field(what: &'static str, s: &str) -> Result<Field> {
    let bad = |reason: &str| Error::BadField {
        what,
        value: s.chars().take(80).collect(),
        reason: reason.into(),
    };
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or_else(|| bad("expected 0x and hex digits"))?;
    if digits.is_empty() || digits.len() > 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("expected 0x and 1 to 64 hex digits"));
    }
    let f = Field::from_str_radix(digits, 16).map_err(|_| bad("not a number"))?;
    if f >= MODULUS {
        return Err(bad("not below the BN254 scalar field modulus"));
    }
    Ok(f)
}

/// Checks that `depth` has proving keys here.
pub fn check_depth(depth: usize) -> Result<()> {
    if DEPTHS.contains(&depth) {
        Ok(())
    } else {
        Err(Error::UnsupportedDepth { depth })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_hex_round_trips_and_rejects_bad_input() {
        let f = Field::from(0x1234_u64);
        let s = to_hex(&f);
        assert_eq!(s.len(), 66);
        assert_eq!(parse_field("x", &s).ok(), Some(f));
        for bad in [
            "",
            "0x",
            "1234",
            "0xzz",
            &format!("0x{}", "f".repeat(64)),
            &"0x1".repeat(40),
        ] {
            let e = parse_field("commitment", bad).err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains("commitment")),
                "{bad}: {e:?}"
            );
        }
        assert!(parse_field("x", &to_hex(&(MODULUS - Field::from(1)))).is_ok());
        assert!(parse_field("x", &to_hex(&MODULUS)).is_err());
    }
}
