//! JSON Schema -> GBNF grammar, for constrained decoding, and the check of the result.
//!
//! llama.cpp ships a converter too (`json_schema_to_grammar`, exposed by llama-cpp-2), but it
//! silently ignores keywords it does not know and reports failures as a bare FFI code. This one
//! supports a small, explicit subset and names the schema path and the part it refuses, so that
//! every keyword it accepts is enforced by the grammar:
//!
//! - `type`: `object`, `string`, `number`, `integer`, `boolean`, `null`, `array`;
//! - `enum` and `const` of scalars (strings, numbers, booleans, null);
//! - objects: `properties` (generated in the order written), `required`,
//!   `additionalProperties` (`false`, or absent/`true`: only declared properties are generated,
//!   which is valid either way);
//! - strings: `minLength`, `maxLength`; arrays: `items`, `minItems`, `maxItems`;
//! - annotations are ignored: `title`, `description`, `$schema`, `$id`, `$comment`, `examples`,
//!   `default`.
//!
//! Numbers have at most 16 integer and 15 fraction digits and strings are unbounded unless the
//! schema bounds them: a small model can otherwise loop inside a string, so bound them, and
//! set `max_tokens`.

use std::fmt::Write as _;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::{Error, Result};

const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "$schema",
    "$id",
    "$comment",
    "examples",
    "default",
];

/// A compiled JSON schema: the grammar that forces a model to emit a matching value, and a
/// validator for the parsed result.
#[derive(Debug, Clone)]
pub struct JsonSchema {
    source: String,
    node: Node,
    gbnf: String,
}

impl JsonSchema {
    /// Parses and compiles a schema written as JSON text.
    pub fn parse(text: &str) -> Result<Self> {
        let tree: Ordered = serde_json::from_str(text).map_err(Error::SchemaJson)?;
        let node = Node::from_tree(&tree, "")?;
        let mut g = Gbnf::default();
        let root = g.rule_for(&node, "root");
        let mut gbnf = format!("root ::= {root}\n");
        gbnf.push_str(&g.out);
        gbnf.push_str(PRIMITIVES);
        Ok(JsonSchema {
            source: text.to_owned(),
            node,
            gbnf,
        })
    }

    /// The schema text as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The GBNF grammar (root rule `root`).
    pub fn gbnf(&self) -> &str {
        &self.gbnf
    }

    /// Parses `output` as JSON and checks it against the schema.
    pub fn check(&self, output: &str) -> Result<serde_json::Value> {
        let value: serde_json::Value =
            serde_json::from_str(output.trim()).map_err(|e| Error::Output {
                path: "".into(),
                reason: format!("not valid JSON: {e}"),
                output: output.to_owned(),
            })?;
        self.node
            .validate(&value, "")
            .map_err(|(path, reason)| Error::Output {
                path: if path.is_empty() { "/".into() } else { path },
                reason,
                output: output.to_owned(),
            })?;
        Ok(value)
    }
}

/// JSON that keeps the order in which object keys were written (serde_json's `Map` sorts them
/// unless the workspace-wide `preserve_order` feature is on; property order matters for what a
/// model writes first).
#[derive(Debug, Clone, PartialEq)]
enum Ordered {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Ordered, E> {
                Ok(Ordered::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Ordered, E> {
                Ok(Ordered::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Ordered, E> {
                Ok(Ordered::Number(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Ordered, E> {
                Ok(Ordered::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Ordered, E> {
                serde_json::Number::from_f64(v)
                    .map(Ordered::Number)
                    .ok_or_else(|| E::custom(format!("number {v} is not finite")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Ordered, E> {
                Ok(Ordered::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Ordered, E> {
                Ok(Ordered::String(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> std::result::Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = a.next_element()? {
                    out.push(v);
                }
                Ok(Ordered::Array(out))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut a: A,
            ) -> std::result::Result<Ordered, A::Error> {
                let mut out: Vec<(String, Ordered)> = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, Ordered>()? {
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(de::Error::custom(format!("duplicate key {k:?}")));
                    }
                    out.push((k, v));
                }
                Ok(Ordered::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl Ordered {
    fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Ordered::Null => Value::Null,
            Ordered::Bool(b) => Value::Bool(*b),
            Ordered::Number(n) => Value::Number(n.clone()),
            Ordered::String(s) => Value::String(s.clone()),
            Ordered::Array(a) => Value::Array(a.iter().map(Ordered::to_value).collect()),
            Ordered::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (k.clone(), v.to_value())).collect())
            }
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Ordered::Null => "null",
            Ordered::Bool(_) => "a boolean",
            Ordered::Number(_) => "a number",
            Ordered::String(_) => "a string",
            Ordered::Array(_) => "an array",
            Ordered::Object(_) => "an object",
        }
    }
}

/// The supported subset, checked.
#[derive(Debug, Clone)]
enum Node {
    /// `enum` / `const`: one of these exact values.
    OneOf(Vec<serde_json::Value>),
    Null,
    Boolean,
    Integer,
    Number,
    String {
        min: u32,
        max: Option<u32>,
    },
    Array {
        items: Box<Node>,
        min: u32,
        max: Option<u32>,
    },
    Object {
        /// (name, schema, required), in the order written.
        props: Vec<(String, Node, bool)>,
    },
}

fn schema_err(path: &str, part: impl Into<String>) -> Error {
    Error::Schema {
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
        part: part.into(),
    }
}

/// JSON Pointer escaping of one path segment.
fn seg(path: &str, key: &str) -> String {
    format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"))
}

fn count(v: &Ordered, path: &str) -> Result<u32> {
    match v {
        Ordered::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| schema_err(path, format!("expected a non-negative integer, got {n}"))),
        other => Err(schema_err(
            path,
            format!("expected a non-negative integer, got {}", other.kind()),
        )),
    }
}

impl Node {
    fn from_tree(tree: &Ordered, path: &str) -> Result<Node> {
        let Ordered::Object(fields) = tree else {
            return Err(schema_err(
                path,
                format!("a schema must be an object, got {}", tree.kind()),
            ));
        };
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v);
        let mut allowed: Vec<&str> = ANNOTATIONS.to_vec();

        if let Some(v) = get("enum").or_else(|| get("const")) {
            let key = if get("enum").is_some() {
                "enum"
            } else {
                "const"
            };
            let p = seg(path, key);
            let values = match (key, v) {
                ("enum", Ordered::Array(a)) if !a.is_empty() => a.clone(),
                ("enum", _) => return Err(schema_err(&p, "`enum` must be a non-empty array")),
                _ => vec![v.clone()],
            };
            for (i, val) in values.iter().enumerate() {
                if matches!(val, Ordered::Array(_) | Ordered::Object(_)) {
                    return Err(schema_err(
                        &seg(&p, &i.to_string()),
                        format!("unsupported {} value: only scalars", val.kind()),
                    ));
                }
            }
            allowed.extend(["enum", "const", "type"]);
            reject_unknown(fields, &allowed, path)?;
            return Ok(Node::OneOf(values.iter().map(Ordered::to_value).collect()));
        }

        let ty = match get("type") {
            Some(Ordered::String(t)) => t.as_str(),
            Some(Ordered::Array(_)) => {
                return Err(schema_err(
                    &seg(path, "type"),
                    "unsupported: a list of types (use one type)",
                ));
            }
            Some(other) => {
                return Err(schema_err(
                    &seg(path, "type"),
                    format!("expected a string, got {}", other.kind()),
                ));
            }
            None => {
                // `oneOf`, `$ref` and friends say more than "no type".
                reject_unknown(fields, ANNOTATIONS, path)?;
                return Err(schema_err(
                    path,
                    "missing `type` (or `enum`/`const`): unconstrained values are not supported",
                ));
            }
        };
        allowed.push("type");
        let node = match ty {
            "null" => Node::Null,
            "boolean" => Node::Boolean,
            "integer" => Node::Integer,
            "number" => Node::Number,
            "string" => {
                allowed.extend(["minLength", "maxLength"]);
                let min = get("minLength")
                    .map(|v| count(v, &seg(path, "minLength")))
                    .transpose()?
                    .unwrap_or(0);
                let max = get("maxLength")
                    .map(|v| count(v, &seg(path, "maxLength")))
                    .transpose()?;
                if max.is_some_and(|max| max < min) {
                    return Err(schema_err(path, "maxLength is less than minLength"));
                }
                Node::String { min, max }
            }
            "array" => {
                allowed.extend(["items", "minItems", "maxItems"]);
                let items = get("items").ok_or_else(|| {
                    schema_err(
                        path,
                        "an array needs `items` (unconstrained items are not supported)",
                    )
                })?;
                let items = Node::from_tree(items, &seg(path, "items"))?;
                let min = get("minItems")
                    .map(|v| count(v, &seg(path, "minItems")))
                    .transpose()?
                    .unwrap_or(0);
                let max = get("maxItems")
                    .map(|v| count(v, &seg(path, "maxItems")))
                    .transpose()?;
                if max.is_some_and(|max| max < min) {
                    return Err(schema_err(path, "maxItems is less than minItems"));
                }
                Node::Array {
                    items: Box::new(items),
                    min,
                    max,
                }
            }
            "object" => {
                allowed.extend(["properties", "required", "additionalProperties"]);
                let props_path = seg(path, "properties");
                let props: &[(String, Ordered)] = match get("properties") {
                    None => &[],
                    Some(Ordered::Object(p)) => p,
                    Some(other) => {
                        return Err(schema_err(
                            &props_path,
                            format!("expected an object, got {}", other.kind()),
                        ));
                    }
                };
                let required: Vec<&str> = match get("required") {
                    None => vec![],
                    Some(Ordered::Array(r)) => r
                        .iter()
                        .enumerate()
                        .map(|(i, v)| match v {
                            Ordered::String(s) if props.iter().any(|(n, _)| n == s) => {
                                Ok(s.as_str())
                            }
                            Ordered::String(s) => Err(schema_err(
                                &seg(&seg(path, "required"), &i.to_string()),
                                format!("required property {s:?} is not in `properties`"),
                            )),
                            other => Err(schema_err(
                                &seg(&seg(path, "required"), &i.to_string()),
                                format!("expected a property name, got {}", other.kind()),
                            )),
                        })
                        .collect::<Result<_>>()?,
                    Some(other) => {
                        return Err(schema_err(
                            &seg(path, "required"),
                            format!("expected an array, got {}", other.kind()),
                        ));
                    }
                };
                match get("additionalProperties") {
                    None | Some(Ordered::Bool(_)) => {}
                    Some(_) => {
                        return Err(schema_err(
                            &seg(path, "additionalProperties"),
                            "unsupported: a schema for additional properties (use true or false)",
                        ));
                    }
                }
                let props = props
                    .iter()
                    .map(|(name, sub)| {
                        let node = Node::from_tree(sub, &seg(&props_path, name))?;
                        Ok((name.clone(), node, required.contains(&name.as_str())))
                    })
                    .collect::<Result<_>>()?;
                Node::Object { props }
            }
            other => {
                return Err(schema_err(
                    &seg(path, "type"),
                    format!("unsupported type {other:?}"),
                ));
            }
        };
        reject_unknown(fields, &allowed, path)?;
        Ok(node)
    }

    /// Checks a parsed value; on failure returns (path, reason).
    fn validate(
        &self,
        v: &serde_json::Value,
        path: &str,
    ) -> std::result::Result<(), (String, String)> {
        use serde_json::Value;
        let fail = |reason: String| Err((path.to_owned(), reason));
        match (self, v) {
            (Node::OneOf(options), v) => {
                if options.iter().any(|o| json_eq(o, v)) {
                    Ok(())
                } else {
                    fail(format!(
                        "{v} is not one of {}",
                        Value::Array(options.clone())
                    ))
                }
            }
            (Node::Null, Value::Null) | (Node::Boolean, Value::Bool(_)) => Ok(()),
            (Node::Number, Value::Number(_)) => Ok(()),
            (Node::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(()),
            (Node::String { min, max }, Value::String(s)) => {
                let n = s.chars().count();
                if n < *min as usize || max.is_some_and(|m| n > m as usize) {
                    fail(format!(
                        "string of {n} characters, expected {min}..={}",
                        max.map_or("".into(), |m| m.to_string())
                    ))
                } else {
                    Ok(())
                }
            }
            (Node::Array { items, min, max }, Value::Array(a)) => {
                if a.len() < *min as usize || max.is_some_and(|m| a.len() > m as usize) {
                    return fail(format!(
                        "{} items, expected {min}..={}",
                        a.len(),
                        max.map_or("".into(), |m| m.to_string())
                    ));
                }
                for (i, x) in a.iter().enumerate() {
                    items.validate(x, &seg(path, &i.to_string()))?;
                }
                Ok(())
            }
            (Node::Object { props }, Value::Object(o)) => {
                for (name, node, required) in props {
                    match o.get(name) {
                        Some(x) => node.validate(x, &seg(path, name))?,
                        None if *required => {
                            return fail(format!("missing required property {name:?}"));
                        }
                        None => {}
                    }
                }
                if let Some(extra) = o.keys().find(|k| !props.iter().any(|(n, _, _)| n == *k)) {
                    return fail(format!("unexpected property {extra:?}"));
                }
                Ok(())
            }
            (node, v) => fail(format!("expected {}, got {v}", node.describe())),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Node::OneOf(_) => "one of the listed values",
            Node::Null => "null",
            Node::Boolean => "a boolean",
            Node::Integer => "an integer",
            Node::Number => "a number",
            Node::String { .. } => "a string",
            Node::Array { .. } => "an array",
            Node::Object { .. } => "an object",
        }
    }
}

/// Equality that treats 1 and 1.0 as the same number, as JSON Schema does.
fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a, b) {
        (serde_json::Value::Number(x), serde_json::Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn reject_unknown(fields: &[(String, Ordered)], allowed: &[&str], path: &str) -> Result<()> {
    match fields.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        Some((k, _)) => Err(schema_err(
            &seg(path, k),
            format!("unsupported keyword `{k}`"),
        )),
        None => Ok(()),
    }
}

/// Shared rules every grammar ends with.
const PRIMITIVES: &str = r#"ws ::= | " " | "\n" [ ]{0,8}
char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
integer ::= "-"? ([0-9] | [1-9] [0-9]{1,15})
number ::= integer ("." [0-9]{1,15})? ([eE] [-+]? [0-9]{1,3})?
boolean ::= "true" | "false"
null ::= "null"
"#;

#[derive(Default)]
struct Gbnf {
    out: String,
    n: usize,
    defined: std::collections::HashSet<String>,
}

impl Gbnf {
    fn fresh(&mut self, hint: &str) -> String {
        self.n += 1;
        let clean: String = hint
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(24)
            .collect();
        format!("r{}-{}", self.n, clean.trim_matches('-'))
            .trim_end_matches('-')
            .to_owned()
    }

    fn define(&mut self, name: &str, body: &str) {
        let _ = writeln!(self.out, "{name} ::= {body}");
    }

    /// Returns a GBNF expression matching `node` (a rule name or a short inline expression).
    fn rule_for(&mut self, node: &Node, hint: &str) -> String {
        match node {
            Node::Null => "null".into(),
            Node::Boolean => "boolean".into(),
            Node::Integer => "integer".into(),
            Node::Number => "number".into(),
            Node::OneOf(values) => {
                let alts: Vec<String> = values.iter().map(|v| literal(&v.to_string())).collect();
                format!("({})", alts.join(" | "))
            }
            Node::String { min, max } => {
                let rep = match (min, max) {
                    (0, None) => "*".to_owned(),
                    (m, None) => format!("{{{m},}}"),
                    (m, Some(x)) => format!("{{{m},{x}}}"),
                };
                format!(r#"("\"" char{rep} "\"")"#)
            }
            Node::Array { items, min, max } => {
                let item = self.rule_for(items, &format!("{hint}-item"));
                let name = self.fresh(hint);
                let more = |n: u32| format!(r#"("," ws {item}){{{n}}}"#);
                let body = match (min, max) {
                    (0, Some(0)) => r#""[" ws "]""#.to_owned(),
                    (0, None) => format!(r#""[" ws ({item} ("," ws {item})*)? ws "]""#),
                    (0, Some(x)) => {
                        format!(r#""[" ws ({item} ("," ws {item}){{0,{}}})? ws "]""#, x - 1)
                    }
                    (m, None) => {
                        format!(r#""[" ws {item} {} ("," ws {item})* ws "]""#, more(m - 1))
                    }
                    (m, Some(x)) => format!(
                        r#""[" ws {item} ("," ws {item}){{{},{}}} ws "]""#,
                        m - 1,
                        x - 1
                    ),
                };
                self.define(&name, &body);
                name
            }
            Node::Object { props } => {
                let name = self.fresh(hint);
                let kvs: Vec<String> = props
                    .iter()
                    .map(|(k, node, _)| {
                        let value = self.rule_for(node, k);
                        let key = serde_json::Value::String(k.clone()).to_string();
                        format!(r#"{} ":" " "? {value}"#, literal(&key))
                    })
                    .collect();
                let required: Vec<bool> = props.iter().map(|(_, _, r)| *r).collect();
                let body = self.props_from(&name, &kvs, &required, 0, false);
                self.define(&name, &format!(r#""{{" ws {body} ws "}}""#));
                name
            }
        }
    }

    /// The properties from index `i` on, in order; optional ones may be skipped. `comma`: a
    /// property was already written, so the next one needs a separator. Linear in the number of
    /// properties: one helper rule per (index, comma) that has an optional property to skip.
    fn props_from(
        &mut self,
        obj: &str,
        kvs: &[String],
        req: &[bool],
        i: usize,
        comma: bool,
    ) -> String {
        if i == kvs.len() {
            return String::new();
        }
        let sep = if comma { r#""," ws "# } else { "" };
        if req[i] {
            let rest = self.props_from(obj, kvs, req, i + 1, true);
            return format!("{sep}{} {rest}", kvs[i]);
        }
        let name = format!("{obj}-p{i}{}", if comma { "c" } else { "" });
        if self.defined.insert(name.clone()) {
            let rest = self.props_from(obj, kvs, req, i + 1, true);
            let skip = self.props_from(obj, kvs, req, i + 1, comma);
            self.define(&name, &format!("{sep}{} {rest} | {skip}", kvs[i]));
        }
        name
    }
}

/// A GBNF string literal for `s`.
fn literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_unsupported_parts_naming_the_path() {
        let cases: &[(&str, &str, &str)] = &[
            (
                r#"{"type":"object","properties":{"a":{"type":"string","pattern":"x+"}}}"#,
                "/properties/a/pattern",
                "pattern",
            ),
            (r#"{"type":["string","null"]}"#, "/type", "list of types"),
            (
                r#"{"type":"object","properties":{"a":{"oneOf":[]}}}"#,
                "/properties/a/oneOf",
                "oneOf",
            ),
            (r#"{"type":"array"}"#, "/", "items"),
            (
                r#"{"type":"object","properties":{},"required":["x"]}"#,
                "/required/0",
                "\"x\"",
            ),
            (r#"{"type":"tuple"}"#, "/type", "tuple"),
            (r#"{"enum":[{"a":1}]}"#, "/enum/0", "scalars"),
            (
                r#"{"type":"string","maxLength":-1}"#,
                "/maxLength",
                "non-negative",
            ),
            (
                r#"{"type":"object","properties":{"a/b":{"type":"integer","minimum":0}}}"#,
                "/properties/a~1b/minimum",
                "minimum",
            ),
            (r#"{}"#, "/", "missing `type`"),
            (r#"[1]"#, "/", "must be an object"),
        ];
        for (schema, path, part) in cases {
            match JsonSchema::parse(schema) {
                Err(Error::Schema { path: p, part: got }) => {
                    assert_eq!(&p, path, "{schema}");
                    assert!(got.contains(part), "{schema}: {got}");
                }
                other => panic!("{schema}: expected a schema error, got {other:?}"),
            }
        }
        assert!(matches!(JsonSchema::parse("{"), Err(Error::SchemaJson(_))));
    }

    #[test]
    fn keeps_property_order_and_optional_properties() {
        let s = JsonSchema::parse(
            r#"{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"boolean"},
                "mid":{"type":"integer"}},"required":["alpha"]}"#,
        )
        .expect("compiles");
        let g = s.gbnf();
        let z = g.find(r#"\"zeta\""#).expect("zeta in grammar");
        let a = g.find(r#"\"alpha\""#).expect("alpha in grammar");
        assert!(z < a, "properties in written order:\n{g}");
        assert!(s.check(r#"{"alpha": true}"#).is_ok());
        assert!(
            s.check(r#"{"zeta": "x", "alpha": false, "mid": 3}"#)
                .is_ok()
        );
        let missing = s.check(r#"{"zeta": "x"}"#).expect_err("alpha is required");
        assert!(missing.to_string().contains("alpha"), "{missing}");
        assert!(s.check(r#"{"alpha": true, "extra": 1}"#).is_err());
        assert!(s.check(r#"{"alpha": true, "mid": 1.5}"#).is_err());
        assert!(s.check(r#"{"alpha": true"#).is_err());
    }

    #[test]
    fn validates_enums_strings_and_arrays() {
        let s = JsonSchema::parse(
            r#"{"type":"object","properties":{
                "vote":{"enum":["for","against","abstain"]},
                "tags":{"type":"array","items":{"type":"string","maxLength":3},"minItems":1,"maxItems":2},
                "score":{"type":"number"}},"required":["vote","tags","score"],
                "additionalProperties":false,"title":"x"}"#,
        )
        .expect("compiles");
        let table: &[(&str, bool)] = &[
            (r#"{"vote":"for","tags":["a"],"score":0.5}"#, true),
            (r#"{"vote":"maybe","tags":["a"],"score":0.5}"#, false),
            (r#"{"vote":"for","tags":[],"score":0.5}"#, false),
            (r#"{"vote":"for","tags":["a","b","c"],"score":0.5}"#, false),
            (r#"{"vote":"for","tags":["abcd"],"score":0.5}"#, false),
            (r#"{"vote":"for","tags":["a"],"score":"high"}"#, false),
            (r#"{"vote":"for","tags":["a"],"score":1}"#, true),
        ];
        for (out, ok) in table {
            assert_eq!(s.check(out).is_ok(), *ok, "{out}");
        }
    }

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(literal(r#""a\b""#), r#""\"a\\b\"""#);
        let s = JsonSchema::parse(r#"{"const":"say \"hi\"\n"}"#).expect("compiles");
        assert!(
            s.gbnf().contains(r#"\"say \\\"hi\\\"\\n\""#),
            "{}",
            s.gbnf()
        );
    }
}
