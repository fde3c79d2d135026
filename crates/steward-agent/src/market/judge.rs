//! The agent's own probability that the user would accept a market input: the input's text is
//! treated as a proposal with the choices Accept / Reject and decided by the same path every
//! proposal takes ([`crate::decide::decide_bearing`]: sanitize, embed through the store's cache,
//! gather the profile's evidence, the local model when there is one, pool in the core). Its
//! probability of Accept is the agent's price. When nothing in the profile bears on the input,
//! the probability is unknown, and the agent does not trade (never a default 0.5).

use serde::Serialize;
use steward_core::{B256, Proposal, ProposalState, Source, VotingType};

use crate::decide::{DecideOptions, Engines, ProfileSnapshot, decide_bearing};
use crate::error::Result;
use crate::store::Store;

/// The most bytes of an input's text read (from a `data:` URI or the web).
pub const MAX_INPUT_BYTES: usize = 64 * 1024;

/// The agent's judgement of one input.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InputJudgement {
    /// The decision core's probability that the user accepts it; `None`: unknown.
    pub probability: Option<f64>,
    /// Why (the decision's rationale, or why the probability is unknown).
    pub why: String,
    /// The evidence, strongest first ("you said ...", "you voted ...").
    pub evidence: Vec<String>,
}

/// The decision core's probability that the user would accept `text` (an input of the market),
/// computed as [`crate::decide::decide`] computes a proposal's. `key` names the input
/// (`market:<address>:<id>`); `profile` is loaded once for many inputs.
pub fn judge_input(
    store: &mut Store,
    engines: &mut Engines<'_>,
    profile: &ProfileSnapshot,
    key: &str,
    text: &str,
    opts: &DecideOptions,
) -> Result<InputJudgement> {
    let text = text.trim();
    let (title, body) = match text.split_once('\n') {
        Some((t, b)) => (t.trim(), b.trim()),
        None => (text, ""),
    };
    let proposal = Proposal {
        source: Source::File {
            path: key.to_owned(),
        },
        id: key.to_owned(),
        title: title.to_owned(),
        body: body.to_owned(),
        // Accept reads as "for", Reject as "against" (steward_core::stance_of_choice).
        choices: vec!["Accept".into(), "Reject".into()],
        voting: VotingType::SingleChoice,
        created: None,
        start: None,
        end: None,
        snapshot: None,
        author: None,
        discussion: None,
        state: ProposalState::Active,
        actions: Vec::new(),
        flags: Vec::new(),
    };
    let (d, bears) = decide_bearing(store, engines, key, &proposal, &[], profile, &[], opts)?;
    let evidence: Vec<String> = d.evidence.iter().map(|e| e.excerpt.clone()).collect();
    if !bears || profile.is_empty() {
        return Ok(InputJudgement {
            probability: None,
            why: "probability unknown: nothing you told me or voted on bears on this input, so I do not trade on it".into(),
            evidence,
        });
    }
    Ok(InputJudgement {
        probability: d.probabilities.first().copied(),
        why: d.rationale,
        evidence,
    })
}

/// The text of an input from its URI, checked against its content hash (keccak256 of the
/// bytes). `data:` URIs are read in place; `http(s)` through the network allowlist (`fetch`).
/// An error is why the input cannot be judged.
pub async fn input_text(
    net: &crate::Network,
    uri: &str,
    content_hash: B256,
) -> std::result::Result<String, String> {
    let bytes = if let Some(rest) = uri.strip_prefix("data:") {
        data_uri(rest)?
    } else if uri.starts_with("https://") || uri.starts_with("http://") {
        let http = net.http().map_err(|e| e.to_string())?;
        let resp = http
            .get(uri)
            .map_err(|e| e.to_string())?
            .send()
            .await
            .map_err(|e| format!("fetching {uri}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("fetching {uri}: HTTP {}", resp.status()));
        }
        let b = resp
            .bytes()
            .await
            .map_err(|e| format!("fetching {uri}: {e}"))?;
        b.to_vec()
    } else {
        return Err(format!(
            "input URI {uri:?}: only data: and http(s) URIs are read"
        ));
    };
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(format!(
            "input text is {} bytes; at most {MAX_INPUT_BYTES} are read",
            bytes.len()
        ));
    }
    let got = B256::from(steward_eth::keccak(&bytes));
    if got != content_hash {
        return Err(format!(
            "the text at the input's URI hashes to {got}, not the submitted content hash {content_hash}"
        ));
    }
    String::from_utf8(bytes).map_err(|_| "the input's text is not UTF-8".into())
}

/// The payload of a `data:` URI (after `data:`): base64 with `;base64`, else percent-encoded.
fn data_uri(rest: &str) -> std::result::Result<Vec<u8>, String> {
    use base64::Engine as _;
    let (meta, payload) = rest
        .split_once(',')
        .ok_or_else(|| "a data: URI without a comma".to_owned())?;
    if meta.ends_with(";base64") {
        return base64::engine::general_purpose::STANDARD
            .decode(payload)
            .map_err(|e| format!("a data: URI's base64 does not decode: {e}"));
    }
    let b = payload.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("a data: URI has a bad escape at byte {i}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// A `data:` URI carrying `text` (percent-encoded), as a submitter would write it.
pub fn data_uri_of(text: &str) -> String {
    let mut s = String::from("data:text/plain;charset=utf-8,");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uris_round_trip() {
        let t = "Fund the docs\nA grant of 5,000 USDC for docs, 100% open.\n";
        let uri = data_uri_of(t);
        assert_eq!(
            data_uri(uri.strip_prefix("data:").expect("data")).expect("decode"),
            t.as_bytes()
        );
        assert_eq!(data_uri(";base64,aGk=").expect("base64"), b"hi".to_vec());
        assert!(data_uri("nocomma").is_err());
        assert!(data_uri(",%zz").is_err());
    }
}
