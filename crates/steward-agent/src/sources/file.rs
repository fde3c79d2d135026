//! `steward ingest file`: Snapshot proposal objects as the hub returns them (one object, an
//! array, or JSON Lines) and Governor proposal JSON:
//!
//! ```json
//! {"chainId": 1, "governor": "0x…", "proposalId": "123", "proposer": "0x…",
//!  "targets": ["0x…"], "values": ["0"], "signatures": [""], "calldatas": ["0x…"],
//!  "description": "# Title\n…", "voteStart": 1700000000, "voteEnd": 1700600000}
//! ```
//!
//! `values` are decimal strings (up to 2^256-1), `calldatas` 0x-hex; `signatures` are empty
//! (OpenZeppelin: the selector is in the calldata) or Bravo signatures with arguments-only
//! calldata. `voteStart`/`voteEnd` are unix seconds; an optional `state` overrides the state
//! implied by them.

use std::str::FromStr;

use serde_json::Value;
use steward_core::{
    Action, Address, Bytes, FieldError, Limits, Proposal, ProposalState, Source, U256, VotingType,
    lossy_utf8,
};

use steward_eth::GOVERNOR_CHOICES;

use super::{Fields, finish, item_label, snapshot, title_of};

/// One item of a file: parsed, or refused with its label and the field at fault.
pub type Item = Result<Proposal, (String, FieldError)>;

/// Parses the whole file. The file-level error is for a file that is not JSON at all.
pub fn parse_file(bytes: &[u8], limits: &Limits, now: i64) -> Vec<Item> {
    let (text, utf8_flag) = lossy_utf8("file", bytes);
    let items: Vec<(String, Result<Value, String>)> = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(a)) => a
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("#{i}"), Ok(v)))
            .collect(),
        Ok(v) => vec![("#0".into(), Ok(v))],
        // Not one JSON document: JSON Lines, one item per non-empty line.
        Err(_) => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                (
                    format!("line {}", i + 1),
                    serde_json::from_str(l).map_err(|e| e.to_string()),
                )
            })
            .collect(),
    };
    items
        .into_iter()
        .map(|(pos, v)| {
            let v = v.map_err(|e| (pos.clone(), FieldError::new("(json)", e)))?;
            let label = item_label(&v, &["id", "proposalId"], &pos);
            let parsed = if v.get("calldatas").is_some() || v.get("governor").is_some() {
                parse_governor(&v, limits, now)
            } else {
                snapshot::parse_proposal(&v, None, limits, now)
            };
            parsed
                .map(|mut p| {
                    p.flags.extend(utf8_flag.clone());
                    p
                })
                .map_err(|e| (label, e))
        })
        .collect()
}

/// Parses a Governor proposal object.
pub fn parse_governor(v: &Value, limits: &Limits, now: i64) -> Result<Proposal, FieldError> {
    let f = Fields::new(v)?;
    let chain_id = f
        .opt_i64("chainId")?
        .ok_or_else(|| FieldError::new("chainId", "is missing"))
        .and_then(|c| {
            u64::try_from(c)
                .map_err(|_| FieldError::new("chainId", format!("{c} is not a chain id")))
        })?;
    let governor = address(&f, "governor")?;
    let proposal_id = match f.raw("proposalId") {
        Some(Value::String(s)) => U256::from_str_radix(s.trim(), 10)
            .map_err(|e| FieldError::new("proposalId", format!("{s:?} is not a uint256: {e}")))?,
        Some(Value::Number(n)) => n
            .as_u64()
            .map(U256::from)
            .ok_or_else(|| FieldError::new("proposalId", format!("{n} is not a uint256")))?,
        Some(other) => {
            return Err(FieldError::new(
                "proposalId",
                format!("expected a decimal string, got {}", super::type_name(other)),
            ));
        }
        None => return Err(FieldError::new("proposalId", "is missing")),
    };
    let proposer = address(&f, "proposer")?;
    let max = limits.max_actions;
    let targets = f.strings("targets", max)?;
    let values = f.strings("values", max)?;
    let calldatas = f.strings("calldatas", max)?;
    let signatures = if f.has("signatures") {
        f.strings("signatures", max)?
    } else {
        vec![String::new(); targets.len()]
    };
    for (name, len) in [
        ("values", values.len()),
        ("signatures", signatures.len()),
        ("calldatas", calldatas.len()),
    ] {
        if len != targets.len() {
            return Err(FieldError::new(
                name,
                format!("has {len} entries but targets has {}", targets.len()),
            ));
        }
    }
    let mut actions = Vec::with_capacity(targets.len());
    for (i, (((t, val), sig), data)) in targets
        .iter()
        .zip(&values)
        .zip(&signatures)
        .zip(&calldatas)
        .enumerate()
    {
        let target = Address::from_str(t).map_err(|e| {
            FieldError::new(
                format!("targets[{i}]"),
                format!("{t:?} is not an address: {e}"),
            )
        })?;
        let value = U256::from_str_radix(val.trim(), 10).map_err(|e| {
            FieldError::new(
                format!("values[{i}]"),
                format!("{} is not a uint256: {e}", clip(val)),
            )
        })?;
        let calldata = Bytes::from_str(data).map_err(|e| {
            FieldError::new(
                format!("calldatas[{i}]"),
                format!("{} is not 0x-hex: {e}", clip(data)),
            )
        })?;
        if !sig.is_empty() && !is_signature(sig) {
            return Err(FieldError::new(
                format!("signatures[{i}]"),
                format!("{} is not a function signature", clip(sig)),
            ));
        }
        actions.push(Action {
            target,
            value,
            signature: sig.clone(),
            calldata,
        });
    }
    let description = f.opt_str("description")?.unwrap_or_default();
    let start = f.opt_i64("voteStart")?;
    let end = f.opt_i64("voteEnd")?;
    let state = match f.opt_str("state")? {
        Some(s) => s
            .parse::<ProposalState>()
            .map_err(|e| FieldError::new("state", e))?,
        None => super::state_from_window(start, end, now),
    };
    let p = Proposal {
        source: Source::Governor { chain_id, governor },
        id: proposal_id.to_string(),
        title: title_of(description),
        body: description.to_owned(),
        choices: GOVERNOR_CHOICES.iter().map(|c| (*c).to_owned()).collect(),
        voting: VotingType::Basic,
        created: None,
        start,
        end,
        snapshot: None,
        author: Some(format!("{proposer:#x}")),
        discussion: None,
        state,
        actions,
        flags: vec![],
    };
    finish(p, limits)
}

fn address(f: &Fields<'_>, field: &str) -> Result<Address, FieldError> {
    let s = f.str(field)?;
    Address::from_str(s)
        .map_err(|e| FieldError::new(field, format!("{} is not an address: {e}", clip(s))))
}

/// `name(type,type)`: enough to refuse junk without a full ABI parser.
fn is_signature(s: &str) -> bool {
    let Some((name, rest)) = s.split_once('(') else {
        return false;
    };
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && rest.ends_with(')')
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "[](),_ ".contains(c))
}

/// Long values are cut in messages: an error must name the value, not repeat a megabyte of it.
fn clip(s: &str) -> String {
    if s.len() <= 80 {
        format!("{s:?}")
    } else {
        let cut = (0..=80).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
        format!("{:?}… ({} bytes)", &s[..cut], s.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn gov() -> Value {
        json!({
            "chainId": 1, "governor": "0x408ED6354d4973f66138C91495F2f2FCbd8724C3",
            "proposalId": "42", "proposer": "0x0000000000000000000000000000000000000001",
            "targets": ["0x0000000000000000000000000000000000000002"], "values": ["1000000000000000000"],
            "signatures": [""], "calldatas": ["0xa9059cbb"],
            "description": "# Fund grants\nSend 1 ETH.", "voteStart": 100, "voteEnd": 200
        })
    }

    #[test]
    fn governor_json_parses() {
        let p = parse_governor(&gov(), &Limits::default(), 150).expect("parses");
        assert_eq!(p.title, "Fund grants");
        assert_eq!(p.state, ProposalState::Active);
        assert_eq!(
            p.key(),
            "governor:1:0x408ed6354d4973f66138c91495f2f2fcbd8724c3:42"
        );
        assert_eq!(p.actions[0].value, U256::from(10u64).pow(U256::from(18)));
    }

    #[test]
    fn bad_governor_fields_are_named() {
        let two_300 = "2037035976334486086268445688409378161051468393665936250636140449354381299763336706183397376";
        let cases: Vec<(&str, Value, &str)> = vec![
            ("values", json!([two_300]), "values[0]"),
            ("calldatas", json!(["0xzz"]), "calldatas[0]"),
            ("targets", json!(["0x1234"]), "targets[0]"),
            ("governor", json!("not-an-address"), "governor"),
            ("values", json!(["1", "2"]), "values"),
            ("signatures", json!(["rm -rf /"]), "signatures[0]"),
            ("proposalId", json!("-1"), "proposalId"),
            ("chainId", json!("one"), "chainId"),
        ];
        for (field, bad, named) in cases {
            let mut v = gov();
            v[field] = bad;
            let err = parse_governor(&v, &Limits::default(), 0).expect_err(field);
            assert_eq!(err.field, named, "{err}");
        }
    }

    #[test]
    fn file_shapes_and_positions() {
        let one = serde_json::to_vec(&gov()).expect("json");
        assert_eq!(parse_file(&one, &Limits::default(), 0).len(), 1);
        let arr = serde_json::to_vec(&json!([gov(), {"id": "x"}])).expect("json");
        let items = parse_file(&arr, &Limits::default(), 0);
        assert!(items[0].is_ok());
        let (label, err) = items[1].as_ref().expect_err("bad");
        assert_eq!((label.as_str(), err.field.as_str()), ("x", "space"));
        let lines = format!(
            "{}\n\n{{broken\n",
            serde_json::to_string(&gov()).expect("json")
        );
        let items = parse_file(lines.as_bytes(), &Limits::default(), 0);
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].as_ref().expect_err("broken").0, "line 3");
    }

    /// Any JSON value, a few levels deep: what a hostile or broken file puts in a field.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
            "(0x)?[0-9a-fA-F]{0,48}".prop_map(Value::from),
            "-?[0-9]{0,80}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    const FIELDS: &[&str] = &[
        "chainId",
        "governor",
        "proposalId",
        "proposer",
        "targets",
        "values",
        "signatures",
        "calldatas",
        "description",
        "voteStart",
        "voteEnd",
        "state",
        "id",
        "space",
        "choices",
        "title",
        "body",
        "start",
        "end",
        "snapshot",
        "type",
        "created",
        "author",
        "discussion",
    ];

    /// What the ingest path promises for anything it accepts.
    fn accepted(p: &Proposal, limits: &Limits) {
        assert!(!p.id.trim().is_empty() && p.id.len() <= limits.max_id_bytes);
        assert!(p.title.len() <= limits.max_title_bytes && p.body.len() <= limits.max_body_bytes);
        assert!(!p.choices.is_empty() && p.actions.len() <= limits.max_actions);
        assert_eq!(p.clone().normalize(limits).as_ref(), Ok(p));
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            for item in parse_file(&bytes, &Limits::default(), 0) {
                if let Err((label, e)) = item {
                    prop_assert!(!label.is_empty() && !e.field.is_empty());
                }
            }
        }

        /// A Governor or Snapshot object with some fields replaced by any JSON: parsed within
        /// the limits or refused naming a field, never a panic.
        #[test]
        fn any_field_values_never_panic(
            snapshot in any::<bool>(),
            edits in proptest::collection::vec((0..FIELDS.len(), any_json()), 1..5),
            max_body in 1usize..64,
        ) {
            let mut v = if snapshot {
                json!({"id": "0xabc", "space": "ens.eth", "choices": ["For", "Against"],
                       "title": "T", "body": "B", "start": 1, "end": 2})
            } else {
                gov()
            };
            for (i, value) in edits {
                v[FIELDS[i]] = value;
            }
            let limits = Limits { max_body_bytes: max_body, max_actions: 3, ..Limits::default() };
            let bytes = serde_json::to_vec(&v).expect("json");
            for item in parse_file(&bytes, &limits, 0) {
                match item {
                    Ok(p) => accepted(&p, &limits),
                    Err((label, e)) => prop_assert!(!label.is_empty() && !e.field.is_empty(), "{e}"),
                }
            }
        }
    }
}
