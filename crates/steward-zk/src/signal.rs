//! One signal: a message under a scope, with a Groth16 proof that its sender is in the group of
//! `root`, and the nullifier that is the same for every signal of one identity in one scope.
//! Scope and message enter the circuit as `keccak256(bytes) >> 8` (Semaphore v3's hashing).

use semaphore_rs::protocol::{
    ProofError, generate_nullifier_hash, generate_proof, verify_proof as semaphore_verify,
};
use semaphore_rs::{Field, hash_to_field};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Invalid, Result};
use crate::{Group, Identity, parse_field, to_hex};

/// A signal as `steward zk prove` writes it and `steward zk verify` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signal {
    /// The Groth16 proof, eight field elements in Semaphore's Solidity order (a, b, c).
    pub proof: [String; 8],
    pub root: String,
    pub nullifier: String,
    pub scope: String,
    pub message: String,
    pub depth: usize,
}

/// Proves that `identity` is in `group` and signals `message` under `scope`.
pub fn prove(identity: &Identity, group: &Group, scope: &str, message: &str) -> Result<Signal> {
    let path = group.path_of(identity.commitment())?;
    let scope_hash = hash_to_field(scope.as_bytes());
    let message_hash = hash_to_field(message.as_bytes());
    let proof =
        generate_proof(identity.inner(), &path, scope_hash, message_hash).map_err(Error::Prove)?;
    let nullifier = generate_nullifier_hash(identity.inner(), scope_hash);
    Ok(Signal {
        proof: proof.flatten().map(|f| to_hex(&f)),
        root: to_hex(&group.root()),
        nullifier: to_hex(&nullifier),
        scope: scope.into(),
        message: message.into(),
        depth: group.depth(),
    })
}

/// The nullifier `identity` would reveal in `scope`, without proving anything: how the prover
/// checks it has not signalled there before.
pub fn nullifier_of(identity: &Identity, scope: &str) -> String {
    to_hex(&generate_nullifier_hash(
        identity.inner(),
        hash_to_field(scope.as_bytes()),
    ))
}

/// Checks the proof against the signal's own root, nullifier, scope and message. It says the
/// sender is in *some* group with that root: whoever relies on it must also check the root is
/// the group they mean ([`Signal::check_root`]) and that the nullifier is new in the scope.
pub fn verify(signal: &Signal) -> Result<(), Invalid> {
    crate::check_depth(signal.depth).map_err(|_| Invalid::UnsupportedDepth {
        depth: signal.depth,
    })?;
    let w = signal.words()?;
    let proof = semaphore_rs::protocol::Proof::from_flat(w.proof);
    let ok = semaphore_verify(
        w.root,
        w.nullifier,
        w.signal_hash,
        w.scope_hash,
        &proof,
        signal.depth,
    )
    .map_err(|e| match e {
        ProofError::G1AffineError(_) => Invalid::NotOnCurve(e),
        other => Invalid::Verifier(other),
    })?;
    if ok {
        Ok(())
    } else {
        Err(Invalid::Rejected {
            root: signal.root.clone(),
            scope: signal.scope.clone(),
        })
    }
}

/// A signal's numbers as the circuit (and the on-chain verifier) takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words {
    pub root: Field,
    pub nullifier: Field,
    /// `keccak256(message) >> 8`.
    pub signal_hash: Field,
    /// `keccak256(scope) >> 8`.
    pub scope_hash: Field,
    /// The proof in Semaphore's Solidity order (A.x, A.y, B.x.c1, B.x.c0, B.y.c1, B.y.c0, C.x, C.y).
    pub proof: [Field; 8],
}

fn parse_coordinate(s: &str) -> Result<Field, Invalid> {
    let bad = || Invalid::Malformed {
        field: "proof",
        reason: format!(
            "{:?} is not 0x and 1 to 64 hex digits",
            s.chars().take(80).collect::<String>()
        ),
    };
    let digits = s.strip_prefix("0x").ok_or_else(bad)?;
    if digits.is_empty() || digits.len() > 64 {
        return Err(bad());
    }
    Field::from_str_radix(digits, 16).map_err(|_| bad())
}

impl Signal {
    /// Parses the signal's hex into [`Words`] (`Malformed` names the bad field); checks nothing
    /// else.
    pub fn words(&self) -> Result<Words, Invalid> {
        let field = |name: &'static str, s: &str| {
            parse_field(name, s).map_err(|e| Invalid::Malformed {
                field: name,
                reason: e.to_string(),
            })
        };
        let mut proof = [Field::ZERO; 8];
        for (slot, s) in proof.iter_mut().zip(&self.proof) {
            // Base-field coordinates are below a modulus larger than the scalar field's; the
            // curve check in verification rejects what is not a point, so only syntax here.
            *slot = parse_coordinate(s)?;
        }
        Ok(Words {
            root: field("root", &self.root)?,
            nullifier: field("nullifier", &self.nullifier)?,
            signal_hash: hash_to_field(self.message.as_bytes()),
            scope_hash: hash_to_field(self.scope.as_bytes()),
            proof,
        })
    }

    /// Checks the signal names `group`'s root (`name` is for the error).
    pub fn check_root(&self, name: &str, group: &Group) -> Result<(), Invalid> {
        let expected = to_hex(&group.root());
        let got = self.root.to_ascii_lowercase();
        if got == expected && self.depth == group.depth() {
            Ok(())
        } else {
            Err(Invalid::RootMismatch {
                group: name.into(),
                expected,
                got: self.root.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IdentitySecret;

    fn identity(byte: u8) -> Identity {
        Identity::new(&IdentitySecret::from_bytes(&[byte; 32]).expect("32 bytes"))
    }

    #[test]
    fn nullifier_is_per_identity_and_scope() {
        let (a, b) = (identity(1), identity(2));
        assert_eq!(nullifier_of(&a, "p1"), nullifier_of(&a, "p1"));
        assert_ne!(nullifier_of(&a, "p1"), nullifier_of(&a, "p2"));
        assert_ne!(nullifier_of(&a, "p1"), nullifier_of(&b, "p1"));
    }

    #[test]
    fn non_member_cannot_prove() {
        let group = Group::new(16, vec![identity(1).commitment()]).expect("group");
        let e = prove(&identity(2), &group, "p1", "for").err();
        assert!(
            matches!(e, Some(Error::NotAMember { members: 1, .. })),
            "{e:?}"
        );
    }
}
