//! Decoding a proposal's actions: OpenZeppelin calldata (selector + arguments), Bravo
//! signature + arguments-only calldata, and the calls nested inside timelock batches, Safe
//! transactions, MultiSend packed data, multicall, proxy upgrade-and-call and diamond inits.
//!
//! Nothing here panics on bad input: calldata shorter than a selector, truncated arguments,
//! non-canonical encodings, arrays of different lengths and nesting past the depth limit all
//! become a [`Call`] with `error` set (flagged `bad-calldata`); an unknown selector is a call
//! with `known: false` (flagged `unknown-call`). Both fail closed.

mod registry;

use alloy::dyn_abi::{DynSolValue, JsonAbiExt};
use alloy::json_abi::Function;
use alloy::primitives::{Address, U256, hex};
use steward_core::Action;
use steward_core::verification::{Arg, Call, Value};

pub use registry::{Registry, RegistryError, parse_signature};

/// How deep nested calls are followed.
pub const MAX_DEPTH: usize = 8;
/// How many calls one action may expand to (a wide multisend bomb stops here).
pub const MAX_CALLS: usize = 4096;

/// Decodes actions with a registry.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    pub registry: Registry,
}

struct Budget {
    left: usize,
}

impl Decoder {
    pub fn new(registry: Registry) -> Self {
        Self { registry }
    }

    /// Decodes one action executed by `executor` (the timelock or governor), recursively.
    pub fn action(&self, a: &Action, executor: Option<Address>) -> Call {
        let mut budget = Budget { left: MAX_CALLS };
        let sig = (!a.signature.trim().is_empty()).then_some(a.signature.as_str());
        self.call(
            a.target,
            a.value,
            executor,
            false,
            &a.calldata,
            sig,
            0,
            &mut budget,
        )
    }

    /// Decodes every action.
    pub fn actions(&self, actions: &[Action], executor: Option<Address>) -> Vec<Call> {
        actions.iter().map(|a| self.action(a, executor)).collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        target: Address,
        value: U256,
        from: Option<Address>,
        delegate: bool,
        data: &[u8],
        signature: Option<&str>,
        depth: usize,
        budget: &mut Budget,
    ) -> Call {
        let mut c = Call::plain(target, value, from, depth);
        c.delegate = delegate;
        if budget.left == 0 {
            c.error = Some(format!("more than {MAX_CALLS} nested calls"));
            return c;
        }
        budget.left -= 1;
        if depth > MAX_DEPTH {
            c.error = Some(format!("calls nested deeper than {MAX_DEPTH} levels"));
            return c;
        }
        // Bravo: the signature names the function, the calldata holds the arguments only.
        let (function, args): (Function, &[u8]) = if let Some(sig) = signature {
            let f = match parse_signature(sig) {
                Ok(f) => f,
                Err(e) => {
                    c.error = Some(e.to_string());
                    return c;
                }
            };
            let sel = f.selector();
            c.selector = Some(format!("0x{}", hex::encode(sel)));
            match self.registry.get(&sel.0) {
                Some(known) => {
                    c.known = true;
                    (known.clone(), data)
                }
                None => {
                    c.known = false;
                    (f, data)
                }
            }
        } else {
            if data.is_empty() {
                return c;
            }
            let Some(sel) = data.get(..4) else {
                c.error = Some(format!(
                    "calldata of {} byte(s) is shorter than a 4-byte selector",
                    data.len()
                ));
                return c;
            };
            let mut s = [0u8; 4];
            s.copy_from_slice(sel);
            c.selector = Some(format!("0x{}", hex::encode(s)));
            match self.registry.get(&s) {
                Some(f) => (f.clone(), &data[4..]),
                None => {
                    c.known = false;
                    return c;
                }
            }
        };
        let signature = function.signature();
        c.function = Some(function.name.clone());
        c.signature = Some(signature.clone());
        let values = match function.abi_decode_input(args) {
            Ok(v) => v,
            Err(e) => {
                c.error = Some(format!(
                    "arguments of {signature} ({} bytes) do not decode: {e}",
                    args.len()
                ));
                return c;
            }
        };
        // Dirty address bits, trailing bytes or odd offsets decode loosely; refuse them.
        match function.abi_encode_input_raw(&values) {
            Ok(again) if again == args => {}
            _ => {
                c.error = Some(format!(
                    "arguments of {signature} ({} bytes) are not in canonical ABI encoding",
                    args.len()
                ));
                return c;
            }
        }
        c.args = function
            .inputs
            .iter()
            .zip(&values)
            .map(|(p, v)| Arg {
                name: p.name.clone(),
                ty: p.selector_type().into_owned(),
                value: to_value(v),
            })
            .collect();
        if signature == "executeProposal()" {
            // Tornado Cash governance delegatecalls the proposal contract.
            c.delegate = true;
        }
        self.nested(&mut c, &values, depth, budget);
        c
    }

    fn nested(&self, c: &mut Call, v: &[DynSolValue], depth: usize, budget: &mut Budget) {
        let sig = c.signature.clone().unwrap_or_default();
        let d = depth + 1;
        let me = c.target;
        let mut inner = Vec::new();
        let mut err = None;
        match sig.as_str() {
            "schedule(address,uint256,bytes,bytes32,bytes32,uint256)"
            | "execute(address,uint256,bytes,bytes32,bytes32)"
            | "relay(address,uint256,bytes)" => {
                if let (Some(t), Some(val), Some(data)) = (address(v, 0), uint(v, 1), bytes(v, 2)) {
                    inner.push(self.call(t, val, Some(me), false, data, None, d, budget));
                }
            }
            "scheduleBatch(address[],uint256[],bytes[],bytes32,bytes32,uint256)"
            | "executeBatch(address[],uint256[],bytes[],bytes32,bytes32)" => {
                match (list(v, 0), list(v, 1), list(v, 2)) {
                    (Some(ts), Some(vs), Some(ds))
                        if ts.len() == vs.len() && vs.len() == ds.len() =>
                    {
                        for ((t, val), data) in ts.iter().zip(vs).zip(ds) {
                            if let (Some(t), Some(val), Some(data)) =
                                (t.as_address(), val.as_uint().map(|u| u.0), data.as_bytes())
                            {
                                inner.push(self.call(
                                    t,
                                    val,
                                    Some(me),
                                    false,
                                    data,
                                    None,
                                    d,
                                    budget,
                                ));
                            }
                        }
                    }
                    (Some(ts), Some(vs), Some(ds)) => {
                        err = Some(format!(
                            "{} targets, {} values and {} payloads differ in length",
                            ts.len(),
                            vs.len(),
                            ds.len()
                        ))
                    }
                    _ => {}
                }
            }
            "queueTransaction(address,uint256,string,bytes,uint256)"
            | "executeTransaction(address,uint256,string,bytes,uint256)" => {
                if let (Some(t), Some(val), Some(DynSolValue::String(s)), Some(data)) =
                    (address(v, 0), uint(v, 1), v.get(2), bytes(v, 3))
                {
                    let s = (!s.trim().is_empty()).then_some(s.as_str());
                    inner.push(self.call(t, val, Some(me), false, data, s, d, budget));
                }
            }
            "execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)" => {
                if let (Some(t), Some(val), Some(data), Some(op)) =
                    (address(v, 0), uint(v, 1), bytes(v, 2), uint(v, 3))
                {
                    if op > U256::from(1u8) {
                        err = Some(format!(
                            "safe operation {op} is neither call (0) nor delegatecall (1)"
                        ));
                    } else {
                        inner.push(self.call(
                            t,
                            val,
                            Some(me),
                            op == U256::from(1u8),
                            data,
                            None,
                            d,
                            budget,
                        ));
                    }
                }
            }
            "multiSend(bytes)" => {
                if let Some(data) = bytes(v, 0) {
                    // Delegatecalled by a Safe, the inner calls are the Safe's.
                    let ctx = if c.delegate { c.from } else { Some(me) };
                    match split_multisend(data) {
                        Ok(txs) => {
                            for (op, t, val, data) in txs {
                                inner.push(self.call(t, val, ctx, op == 1, data, None, d, budget));
                            }
                        }
                        Err(e) => err = Some(e),
                    }
                }
            }
            "multicall(bytes[])" => {
                if let Some(ds) = list(v, 0) {
                    for data in ds.iter().filter_map(DynSolValue::as_bytes) {
                        inner.push(self.call(me, U256::ZERO, c.from, false, data, None, d, budget));
                    }
                }
            }
            "aggregate3((address,bool,bytes)[])" => {
                for t in list(v, 0).unwrap_or(&[]) {
                    if let DynSolValue::Tuple(f) = t
                        && let (Some(t), Some(data)) = (address(f, 0), bytes(f, 2))
                    {
                        inner.push(self.call(
                            t,
                            U256::ZERO,
                            Some(me),
                            false,
                            data,
                            None,
                            d,
                            budget,
                        ));
                    }
                }
            }
            "upgradeToAndCall(address,bytes)" => {
                if let (Some(imp), Some(data)) = (address(v, 0), bytes(v, 1))
                    && !data.is_empty()
                {
                    inner.push(self.call(imp, U256::ZERO, Some(me), true, data, None, d, budget));
                }
            }
            "upgradeAndCall(address,address,bytes)" => {
                if let (Some(proxy), Some(imp), Some(data)) =
                    (address(v, 0), address(v, 1), bytes(v, 2))
                    && !data.is_empty()
                {
                    inner.push(self.call(
                        imp,
                        U256::ZERO,
                        Some(proxy),
                        true,
                        data,
                        None,
                        d,
                        budget,
                    ));
                }
            }
            "diamondCut((address,uint8,bytes4[])[],address,bytes)" => {
                if let (Some(init), Some(data)) = (address(v, 1), bytes(v, 2))
                    && init != Address::ZERO
                {
                    inner.push(self.call(init, U256::ZERO, Some(me), true, data, None, d, budget));
                }
            }
            _ => {}
        }
        c.inner = inner;
        if err.is_some() {
            c.error = err;
        }
    }
}

fn address(v: &[DynSolValue], i: usize) -> Option<Address> {
    v.get(i).and_then(DynSolValue::as_address)
}

fn uint(v: &[DynSolValue], i: usize) -> Option<U256> {
    v.get(i).and_then(DynSolValue::as_uint).map(|u| u.0)
}

fn bytes(v: &[DynSolValue], i: usize) -> Option<&[u8]> {
    v.get(i).and_then(DynSolValue::as_bytes)
}

fn list(v: &[DynSolValue], i: usize) -> Option<&[DynSolValue]> {
    match v.get(i) {
        Some(DynSolValue::Array(a) | DynSolValue::FixedArray(a)) => Some(a),
        _ => None,
    }
}

type Packed<'a> = (u8, Address, U256, &'a [u8]);

/// MultiSend's packed encoding: operation (1 byte), to (20), value (32), data length (32), data.
pub fn split_multisend(mut data: &[u8]) -> Result<Vec<Packed<'_>>, String> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    while !data.is_empty() {
        if data.len() < 85 {
            return Err(format!(
                "multisend entry at byte {offset} is {} bytes, shorter than its 85-byte header",
                data.len()
            ));
        }
        let op = data[0];
        if op > 1 {
            return Err(format!(
                "multisend entry at byte {offset}: operation {op} is neither call (0) nor delegatecall (1)"
            ));
        }
        let to = Address::from_slice(&data[1..21]);
        let value = U256::from_be_slice(&data[21..53]);
        let len = U256::from_be_slice(&data[53..85]);
        let rest = &data[85..];
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= rest.len())
            .ok_or_else(|| {
                format!(
                    "multisend entry at byte {offset} claims {len} bytes of data, {} remain",
                    rest.len()
                )
            })?;
        out.push((op, to, value, &rest[..len]));
        data = &rest[len..];
        offset += 85 + len;
    }
    Ok(out)
}

/// Encodes MultiSend packed data (for tests and the bench corpus).
pub fn pack_multisend(txs: &[(u8, Address, U256, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (op, to, value, data) in txs {
        out.push(*op);
        out.extend_from_slice(to.as_slice());
        out.extend_from_slice(&value.to_be_bytes::<32>());
        out.extend_from_slice(&U256::from(data.len()).to_be_bytes::<32>());
        out.extend_from_slice(data);
    }
    out
}

fn to_value(v: &DynSolValue) -> Value {
    match v {
        DynSolValue::Address(a) => Value::Address(*a),
        DynSolValue::Uint(u, _) => Value::Uint(*u),
        DynSolValue::Int(i, _) => Value::Int(i.to_string()),
        DynSolValue::Bool(b) => Value::Bool(*b),
        DynSolValue::Bytes(b) => Value::Bytes(b.clone().into()),
        DynSolValue::FixedBytes(w, n) => Value::FixedBytes(w[..(*n).min(32)].to_vec().into()),
        DynSolValue::String(s) => Value::String(s.clone()),
        DynSolValue::Array(a) | DynSolValue::FixedArray(a) | DynSolValue::Tuple(a) => {
            Value::List(a.iter().map(to_value).collect())
        }
        DynSolValue::Function(f) => Value::Bytes(f.0.to_vec().into()),
        #[allow(unreachable_patterns)]
        _ => Value::String(format!("{v:?}")),
    }
}

#[cfg(test)]
mod tests;
