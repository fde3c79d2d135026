//! Snapshot votes: the EIP-712 `Vote` messages exactly as Snapshot's own client (snapshot.js
//! 0.17.5, `src/sign/types.ts`) builds them, signed with a [`Key`], and the envelope
//! `{address, sig, data: {domain, types, message}}` its sequencer takes.
//!
//! Three layouts, chosen by the proposal's voting type:
//!
//! | voting types | `choice` |
//! | --- | --- |
//! | `single-choice`, `basic` | `uint32` (1-based) |
//! | `approval`, `ranked-choice` | `uint32[]` |
//! | `quadratic`, `weighted` | `string`: `JSON.stringify({"1": 2, "3": 1})` |
//!
//! The other fields are the same in all three: `from` (checksummed address, a `string`),
//! `space`, `timestamp` (`uint64`), `proposal` (a `string`), `reason`, `app`, `metadata`
//! (`"{}"` when empty). The domain is `{name: "snapshot", version: "0.1.4"}`: no chain id, no
//! verifying contract.

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256, Signature};
use alloy::sol_types::{Eip712Domain, SolStruct, eip712_domain};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::keystore::Key;

#[allow(missing_docs, unreachable_pub, missing_debug_implementations)]
mod single {
    alloy::sol! {
        struct Vote {
            string from;
            string space;
            uint64 timestamp;
            string proposal;
            uint32 choice;
            string reason;
            string app;
            string metadata;
        }
    }
}

#[allow(missing_docs, unreachable_pub, missing_debug_implementations)]
mod array {
    alloy::sol! {
        struct Vote {
            string from;
            string space;
            uint64 timestamp;
            string proposal;
            uint32[] choice;
            string reason;
            string app;
            string metadata;
        }
    }
}

#[allow(missing_docs, unreachable_pub, missing_debug_implementations)]
mod string {
    alloy::sol! {
        struct Vote {
            string from;
            string space;
            uint64 timestamp;
            string proposal;
            string choice;
            string reason;
            string app;
            string metadata;
        }
    }
}

/// snapshot.js's domain name and version.
pub const SNAPSHOT_DOMAIN_NAME: &str = "snapshot";
pub const SNAPSHOT_DOMAIN_VERSION: &str = "0.1.4";

/// The EIP-712 domain of every Snapshot message.
pub fn snapshot_domain() -> Eip712Domain {
    eip712_domain! { name: SNAPSHOT_DOMAIN_NAME, version: SNAPSHOT_DOMAIN_VERSION, }
}

/// Snapshot's six voting types: the domain type every source already normalizes to.
pub use steward_core::VotingType as SnapshotVoteType;

/// Which message layout carries a voting type's choice.
pub trait VoteLayoutOf {
    fn layout(self) -> VoteLayout;
}

impl VoteLayoutOf for SnapshotVoteType {
    fn layout(self) -> VoteLayout {
        match self {
            Self::SingleChoice | Self::Basic => VoteLayout::Uint32,
            Self::Approval | Self::RankedChoice => VoteLayout::Uint32Array,
            Self::Quadratic | Self::Weighted => VoteLayout::String,
        }
    }
}

/// The three `Vote` layouts of snapshot.js.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VoteLayout {
    /// `voteTypes`: `choice` is `uint32`.
    Uint32,
    /// `voteArrayTypes`: `choice` is `uint32[]`.
    Uint32Array,
    /// `voteStringTypes`: `choice` is a JSON `string`.
    String,
}

impl VoteLayout {
    fn choice_type(self) -> &'static str {
        match self {
            Self::Uint32 => "uint32",
            Self::Uint32Array => "uint32[]",
            Self::String => "string",
        }
    }

    /// The `types` object of the envelope: `{"Vote": [{name, type}, ...]}`, as snapshot.js has it.
    pub fn types_json(self) -> Value {
        json!({ "Vote": [
            { "name": "from", "type": "string" },
            { "name": "space", "type": "string" },
            { "name": "timestamp", "type": "uint64" },
            { "name": "proposal", "type": "string" },
            { "name": "choice", "type": self.choice_type() },
            { "name": "reason", "type": "string" },
            { "name": "app", "type": "string" },
            { "name": "metadata", "type": "string" },
        ]})
    }

    fn of_types(types: &Value) -> Option<Self> {
        [Self::Uint32, Self::Uint32Array, Self::String]
            .into_iter()
            .find(|l| &l.types_json() == types)
    }
}

/// A vote's choice in one of the three shapes. Indexes start at 1, as on Snapshot.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotChoice {
    /// single-choice, basic.
    One(u32),
    /// approval (the chosen set), ranked-choice (the order).
    Many(Vec<u32>),
    /// weighted, quadratic: choice index -> weight (JSON numbers, kept as written).
    Weights(BTreeMap<u32, serde_json::Number>),
}

impl SnapshotChoice {
    /// Parses the CLI form for `kind`: `2`; `1,3`; `{"1":2,"3":1}` (a JSON array `[1,3]` works
    /// for the array types too).
    pub fn parse(kind: SnapshotVoteType, text: &str) -> Result<Self> {
        let bad = |detail: String| Error::BadMessage {
            what: format!("choice {text:?} for a {kind} vote"),
            detail,
        };
        let index = |s: &str| -> Result<u32> {
            match s.trim().parse::<u32>() {
                Ok(0) | Err(_) => Err(bad(format!(
                    "{:?} is not a choice number (1, 2, ...)",
                    s.trim()
                ))),
                Ok(n) => Ok(n),
            }
        };
        let t = text.trim();
        match kind.layout() {
            VoteLayout::Uint32 => Ok(Self::One(index(t)?)),
            VoteLayout::Uint32Array => {
                let inner = t
                    .strip_prefix('[')
                    .and_then(|x| x.strip_suffix(']'))
                    .unwrap_or(t);
                let v: Vec<u32> = inner
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(index)
                    .collect::<Result<_>>()?;
                if v.is_empty() {
                    return Err(bad("no choice given".into()));
                }
                let mut seen = v.clone();
                seen.sort_unstable();
                seen.dedup();
                if seen.len() != v.len() {
                    return Err(bad("a choice appears twice".into()));
                }
                Ok(Self::Many(v))
            }
            VoteLayout::String => {
                let obj: serde_json::Map<String, Value> = serde_json::from_str(t)
                    .map_err(|e| bad(format!("expected a JSON object like {{\"1\":2}}: {e}")))?;
                let mut w = BTreeMap::new();
                for (k, v) in obj {
                    let n = match v {
                        Value::Number(n) if n.as_f64().is_some_and(|f| f >= 0.0) => n,
                        other => {
                            return Err(bad(format!("weight {other} of {k} is not a number >= 0")));
                        }
                    };
                    w.insert(index(&k)?, n);
                }
                if w.is_empty() {
                    return Err(bad("no choice given".into()));
                }
                Ok(Self::Weights(w))
            }
        }
    }

    fn fits(&self, layout: VoteLayout) -> bool {
        matches!(
            (self, layout),
            (Self::One(_), VoteLayout::Uint32)
                | (Self::Many(_), VoteLayout::Uint32Array)
                | (Self::Weights(_), VoteLayout::String)
        )
    }

    /// The `choice` value of the message JSON.
    fn message_value(&self) -> Value {
        match self {
            Self::One(n) => json!(n),
            Self::Many(v) => json!(v),
            Self::Weights(_) => Value::String(self.weights_string()),
        }
    }

    /// `JSON.stringify` of the weights object: integer keys ascend, no spaces.
    fn weights_string(&self) -> String {
        match self {
            Self::Weights(w) => {
                let parts: Vec<String> = w.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", parts.join(","))
            }
            _ => String::new(),
        }
    }
}

/// One Snapshot vote message.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotVote {
    /// The voter (written checksummed into `from`).
    pub from: Address,
    pub space: String,
    /// Unix seconds.
    pub timestamp: u64,
    /// The proposal id (a 0x hash or an IPFS id), as a string.
    pub proposal: String,
    pub kind: SnapshotVoteType,
    pub choice: SnapshotChoice,
    pub reason: String,
    pub app: String,
    /// `"{}"` when there is none, as snapshot.js sends.
    pub metadata: String,
}

impl SnapshotVote {
    fn check(&self) -> Result<()> {
        if !self.choice.fits(self.kind.layout()) {
            return Err(Error::BadMessage {
                what: format!("snapshot vote on {}", self.proposal),
                detail: format!("choice {:?} does not fit a {} vote", self.choice, self.kind),
            });
        }
        Ok(())
    }

    fn metadata(&self) -> String {
        if self.metadata.is_empty() {
            "{}".into()
        } else {
            self.metadata.clone()
        }
    }

    /// The EIP-712 signing hash (what the key signs).
    pub fn signing_hash(&self) -> Result<B256> {
        self.check()?;
        let domain = snapshot_domain();
        let from = self.from.to_checksum(None);
        let (space, proposal) = (self.space.clone(), self.proposal.clone());
        let (reason, app, metadata) = (self.reason.clone(), self.app.clone(), self.metadata());
        Ok(match &self.choice {
            SnapshotChoice::One(c) => single::Vote {
                from,
                space,
                timestamp: self.timestamp,
                proposal,
                choice: *c,
                reason,
                app,
                metadata,
            }
            .eip712_signing_hash(&domain),
            SnapshotChoice::Many(c) => array::Vote {
                from,
                space,
                timestamp: self.timestamp,
                proposal,
                choice: c.clone(),
                reason,
                app,
                metadata,
            }
            .eip712_signing_hash(&domain),
            SnapshotChoice::Weights(_) => string::Vote {
                from,
                space,
                timestamp: self.timestamp,
                proposal,
                choice: self.choice.weights_string(),
                reason,
                app,
                metadata,
            }
            .eip712_signing_hash(&domain),
        })
    }

    /// `{domain, types, message}` as the envelope's `data`.
    pub fn typed_data(&self) -> Result<Value> {
        self.check()?;
        Ok(json!({
            "domain": { "name": SNAPSHOT_DOMAIN_NAME, "version": SNAPSHOT_DOMAIN_VERSION },
            "types": self.kind.layout().types_json(),
            "message": {
                "from": self.from.to_checksum(None),
                "space": self.space,
                "timestamp": self.timestamp,
                "proposal": self.proposal,
                "choice": self.choice.message_value(),
                "reason": self.reason,
                "app": self.app,
                "metadata": self.metadata(),
            }
        }))
    }

    /// Signs with `key` (which must be `from`, or an alias Snapshot knows for it: then `from`
    /// stays the user's address and `address` is the alias).
    pub fn sign(&self, key: &Key) -> Result<SnapshotEnvelope> {
        let hash = self.signing_hash()?;
        let sig = key.sign_hash(&hash).map_err(|e| Error::Signing {
            what: format!("snapshot vote on {}", self.proposal),
            detail: e.to_string(),
        })?;
        Ok(SnapshotEnvelope {
            address: key.address().to_checksum(None),
            sig: format!("0x{}", alloy::hex::encode(sig.as_bytes())),
            data: self.typed_data()?,
        })
    }
}

/// What Snapshot's sequencer takes: `POST` this as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotEnvelope {
    /// The signer, checksummed.
    pub address: String,
    /// 65 bytes `r || s || v` (v = 27 or 28), 0x-hex.
    pub sig: String,
    /// `{domain, types, message}`.
    pub data: Value,
}

/// A checked envelope: who signed, what they voted, and the hash.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedVote {
    pub signer: Address,
    pub vote: SnapshotVote,
    pub hash: B256,
}

/// Checks an envelope as Snapshot's sequencer does for a vote: the domain and types must be one
/// of snapshot.js's three `Vote` layouts, the message must fit it, and the signature must
/// recover to `address`. Returns the vote (its `kind` is the first type of that layout).
pub fn verify_snapshot_envelope(env: &SnapshotEnvelope) -> Result<VerifiedVote> {
    let bad = |detail: String| Error::BadMessage {
        what: "snapshot envelope".into(),
        detail,
    };
    let data = &env.data;
    let domain = data
        .get("domain")
        .ok_or_else(|| bad("no data.domain".into()))?;
    if domain != &json!({ "name": SNAPSHOT_DOMAIN_NAME, "version": SNAPSHOT_DOMAIN_VERSION }) {
        return Err(bad(format!("domain {domain} is not snapshot's")));
    }
    let layout = VoteLayout::of_types(data.get("types").unwrap_or(&Value::Null))
        .ok_or_else(|| bad("data.types is not one of snapshot.js's Vote types".into()))?;
    let m = data
        .get("message")
        .ok_or_else(|| bad("no data.message".into()))?;
    let s = |name: &str| -> Result<String> {
        m.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad(format!("message.{name} is missing or not a string")))
    };
    let u32_of = |v: &Value| -> Result<u32> {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad(format!("choice {v} is not a uint32")))
    };
    let choice_v = m
        .get("choice")
        .ok_or_else(|| bad("no message.choice".into()))?;
    let (kind, choice) = match layout {
        VoteLayout::Uint32 => (
            SnapshotVoteType::SingleChoice,
            SnapshotChoice::One(u32_of(choice_v)?),
        ),
        VoteLayout::Uint32Array => (
            SnapshotVoteType::Approval,
            SnapshotChoice::Many(
                choice_v
                    .as_array()
                    .ok_or_else(|| bad("choice is not an array".into()))?
                    .iter()
                    .map(u32_of)
                    .collect::<Result<_>>()?,
            ),
        ),
        VoteLayout::String => {
            let text = choice_v
                .as_str()
                .ok_or_else(|| bad("choice is not a string".into()))?;
            let c = SnapshotChoice::parse(SnapshotVoteType::Weighted, text)?;
            if c.weights_string() != text {
                return Err(bad(format!(
                    "choice {text:?} is not in JSON.stringify form"
                )));
            }
            (SnapshotVoteType::Weighted, c)
        }
    };
    let from: Address = s("from")?
        .parse()
        .map_err(|_| bad("message.from is not an address".into()))?;
    let vote = SnapshotVote {
        from,
        space: s("space")?,
        timestamp: m
            .get("timestamp")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("message.timestamp is not a uint64".into()))?,
        proposal: s("proposal")?,
        kind,
        choice,
        reason: s("reason")?,
        app: s("app")?,
        metadata: s("metadata")?,
    };
    let hash = vote.signing_hash()?;
    let sig_bytes =
        alloy::hex::decode(&env.sig).map_err(|e| bad(format!("sig is not hex: {e}")))?;
    let sig = Signature::try_from(sig_bytes.as_slice())
        .map_err(|e| bad(format!("sig is not a 65-byte signature: {e}")))?;
    let signer = sig
        .recover_address_from_prehash(&hash)
        .map_err(|e| bad(format!("signature does not recover: {e}")))?;
    let claimed: Address = env
        .address
        .parse()
        .map_err(|_| bad(format!("address {:?} is not an address", env.address)))?;
    if signer != claimed {
        return Err(bad(format!(
            "signature is by {signer}, not by the envelope's address {claimed}"
        )));
    }
    Ok(VerifiedVote { signer, vote, hash })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key() -> Key {
        // anvil's account 1.
        let s =
            alloy::hex::decode("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
                .unwrap();
        Key::from_secret(&s.try_into().unwrap()).unwrap()
    }

    fn vote(kind: SnapshotVoteType, choice: &str) -> SnapshotVote {
        SnapshotVote {
            from: key().address(),
            space: "steward.eth".into(),
            timestamp: 1_700_000_000,
            proposal: "0x9c3a3bd4bbc7a59b0a3e09b9a2f0d7d3bcd8a0c2b0a1e8ee8bdad4f2d6f2b9a1".into(),
            kind,
            choice: SnapshotChoice::parse(kind, choice).unwrap(),
            reason: "Looks right".into(),
            app: "steward".into(),
            metadata: String::new(),
        }
    }

    #[test]
    fn choices_parse_per_type_and_bad_ones_are_refused() {
        use SnapshotVoteType as T;
        assert_eq!(
            SnapshotChoice::parse(T::Basic, "2").unwrap(),
            SnapshotChoice::One(2)
        );
        assert_eq!(
            SnapshotChoice::parse(T::RankedChoice, "[3, 1,2]").unwrap(),
            SnapshotChoice::Many(vec![3, 1, 2])
        );
        let w = SnapshotChoice::parse(T::Quadratic, r#"{"3":1,"1":2.5}"#).unwrap();
        assert_eq!(w.weights_string(), r#"{"1":2.5,"3":1}"#);
        for (t, c) in [
            (T::SingleChoice, "0"),
            (T::SingleChoice, "x"),
            (T::Approval, ""),
            (T::Approval, "1,1"),
            (T::Weighted, "[1]"),
            (T::Weighted, r#"{"1":-1}"#),
            (T::Weighted, r#"{"a":1}"#),
        ] {
            assert!(SnapshotChoice::parse(t, c).is_err(), "{t} {c}");
        }
    }

    #[test]
    fn sign_then_verify_every_type_and_tampering_is_caught() {
        for (kind, c) in [
            (SnapshotVoteType::SingleChoice, "2"),
            (SnapshotVoteType::Basic, "1"),
            (SnapshotVoteType::Approval, "1,3"),
            (SnapshotVoteType::RankedChoice, "2,1,3"),
            (SnapshotVoteType::Weighted, r#"{"1":2,"2":1}"#),
            (SnapshotVoteType::Quadratic, r#"{"1":1,"3":4}"#),
        ] {
            let v = vote(kind, c);
            let env = v.sign(&key()).unwrap();
            let got = verify_snapshot_envelope(&env).unwrap();
            assert_eq!(got.signer, key().address());
            assert_eq!(got.hash, v.signing_hash().unwrap());
            let mut t = env.clone();
            t.data["message"]["reason"] = json!("changed");
            assert!(verify_snapshot_envelope(&t).is_err(), "{kind}");
            let mut t = env.clone();
            t.data["domain"]["version"] = json!("0.1.3");
            assert!(verify_snapshot_envelope(&t).is_err(), "{kind}");
        }
    }
}
