//! A Semaphore identity: trapdoor and nullifier derived from 32 random bytes (zk-kit's
//! derivation, as semaphore-rs implements it). Only the commitment is public.

use std::fmt;

use semaphore_rs::Field;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The 32 bytes an identity is derived from. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct IdentitySecret(Zeroizing<[u8; 32]>);

impl IdentitySecret {
    /// Fresh randomness from the operating system.
    pub fn generate() -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut bytes[..]).map_err(Error::Random)?;
        Ok(Self(bytes))
    }

    /// A secret read back from the store; `None` unless it is exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(Self(Zeroizing::new(arr)))
    }

    /// The bytes, for the caller's encrypted store only.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for IdentitySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentitySecret(<redacted>)")
    }
}

/// A member's identity: what proofs are made with. `Debug` shows the commitment only.
pub struct Identity {
    inner: semaphore_rs::identity::Identity,
}

impl Identity {
    pub fn new(secret: &IdentitySecret) -> Self {
        // semaphore-rs zeroizes the buffer it is given; give it a copy that is also zeroized.
        let mut copy = Zeroizing::new(*secret.expose());
        Self {
            inner: semaphore_rs::identity::Identity::from_secret(&mut copy[..], None),
        }
    }

    /// The public commitment (Poseidon of the identity's secrets): the group's leaf.
    pub fn commitment(&self) -> Field {
        self.inner.commitment()
    }

    pub(crate) fn inner(&self) -> &semaphore_rs::identity::Identity {
        &self.inner
    }
}

impl Drop for Identity {
    fn drop(&mut self) {
        // The trapdoor and nullifier are plain integers in semaphore-rs; clear them here.
        self.inner.trapdoor = Field::ZERO;
        self.inner.nullifier = Field::ZERO;
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("commitment", &crate::to_hex(&self.commitment()))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = IdentitySecret::from_bytes(&[7u8; 32]).expect("32 bytes");
        let id = Identity::new(&secret);
        let shown = format!("{secret:?} {id:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains("0707"), "{shown}");
        let trapdoor = crate::to_hex(&id.inner().trapdoor);
        let nullifier = crate::to_hex(&id.inner().nullifier);
        assert!(!shown.contains(&trapdoor[2..]) && !shown.contains(&nullifier[2..]));
        assert!(shown.contains(&crate::to_hex(&id.commitment())));
    }

    #[test]
    fn same_secret_same_commitment() {
        let s = IdentitySecret::generate().expect("randomness");
        let t = IdentitySecret::from_bytes(s.expose()).expect("32 bytes");
        assert_eq!(
            Identity::new(&s).commitment(),
            Identity::new(&t).commitment()
        );
        let other = IdentitySecret::generate().expect("randomness");
        assert_ne!(
            Identity::new(&s).commitment(),
            Identity::new(&other).commitment()
        );
        assert!(IdentitySecret::from_bytes(&[1u8; 31]).is_none());
    }
}
