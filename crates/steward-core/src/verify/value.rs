//! Decoded calls and argument values.

use alloy_primitives::{Address, Bytes, U256};
use serde::{Serialize, Serializer};

/// A decoded ABI value. Integers serialize as decimal strings, addresses checksummed, bytes hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Address(Address),
    Uint(U256),
    /// A signed integer, in decimal.
    Int(String),
    Bool(bool),
    Bytes(Bytes),
    FixedBytes(Bytes),
    String(String),
    /// Arrays and tuples.
    List(Vec<Value>),
}

impl Value {
    pub fn as_address(&self) -> Option<Address> {
        match self {
            Self::Address(a) => Some(*a),
            _ => None,
        }
    }

    pub fn as_uint(&self) -> Option<U256> {
        match self {
            Self::Uint(u) => Some(*u),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Short text for details: addresses and numbers as they are, bytes shortened.
    pub fn short(&self) -> String {
        match self {
            Self::Address(a) => a.to_checksum(None),
            Self::Uint(u) => u.to_string(),
            Self::Int(s) | Self::String(s) => s.clone(),
            Self::Bool(b) => b.to_string(),
            Self::Bytes(b) | Self::FixedBytes(b) => {
                let h = b.to_string();
                if h.len() > 20 {
                    format!("{}…", &h[..18])
                } else {
                    h
                }
            }
            Self::List(v) => format!(
                "[{}]",
                v.iter().map(Self::short).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Address(a) => s.serialize_str(&a.to_checksum(None)),
            Self::Uint(u) => s.serialize_str(&u.to_string()),
            Self::Int(v) | Self::String(v) => s.serialize_str(v),
            Self::Bool(b) => s.serialize_bool(*b),
            Self::Bytes(b) | Self::FixedBytes(b) => s.serialize_str(&b.to_string()),
            Self::List(v) => v.serialize(s),
        }
    }
}

/// One named argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Arg {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub value: Value,
}

/// One decoded call of a proposal, with the calls it makes in turn (timelock batches, Safe
/// transactions, multisend, multicall).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    pub target: Address,
    #[serde(serialize_with = "decimal")]
    pub value: U256,
    /// Whose context the call runs in (`msg.sender` of a plain call, the caller itself for a
    /// delegatecall): the account a `transfer` spends from. `None` when not known.
    pub from: Option<Address>,
    /// Run by DELEGATECALL: the target's code runs with the caller's storage and funds.
    pub delegate: bool,
    /// `0x` and 8 hex digits; `None` for a plain ether transfer (empty calldata).
    pub selector: Option<String>,
    /// Function name, e.g. `transfer`.
    pub function: Option<String>,
    /// Canonical signature, e.g. `transfer(address,uint256)`.
    pub signature: Option<String>,
    /// The selector is in the registry (built-in or the user's ABIs).
    pub known: bool,
    pub args: Vec<Arg>,
    /// Why the calldata did not decode.
    pub error: Option<String>,
    /// Nesting depth (0 for a proposal's action).
    pub depth: usize,
    pub inner: Vec<Call>,
}

impl Call {
    /// A call that carries only ether (empty calldata).
    pub fn plain(target: Address, value: U256, from: Option<Address>, depth: usize) -> Self {
        Self {
            target,
            value,
            from,
            delegate: false,
            selector: None,
            function: None,
            signature: None,
            known: true,
            args: vec![],
            error: None,
            depth,
            inner: vec![],
        }
    }

    /// The argument at `i`.
    pub fn arg(&self, i: usize) -> Option<&Value> {
        self.args.get(i).map(|a| &a.value)
    }

    /// This call and every nested one, depth first.
    pub fn walk(&self) -> Vec<&Call> {
        let mut out = vec![self];
        for c in &self.inner {
            out.extend(c.walk());
        }
        out
    }

    /// `name(arg, arg)` for details, or the selector when unknown.
    pub fn label(&self) -> String {
        match (&self.function, &self.selector) {
            (Some(f), _) => format!(
                "{f}({})",
                self.args
                    .iter()
                    .map(|a| a.value.short())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (None, Some(s)) => format!("selector {s}"),
            (None, None) => "ether transfer".into(),
        }
    }
}

pub(crate) fn decimal<S: Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}
