//! Snapshot: proposal and vote objects as the hub's GraphQL API returns them, and the client
//! that pages through a space.

use serde_json::{Value, json};
use steward_core::{FieldError, Limits, Proposal, ProposalState, Source, Vote, VotingType};

use super::retry::{Attempt, RetryPolicy, rate_limited};
use super::{Fields, finish, type_name};
use crate::error::Result;
use crate::net::HttpClient;

/// The proposal fields Steward asks the hub for.
pub const PROPOSAL_FIELDS: &str =
    "id title body choices start end snapshot state author created type discussion space { id }";
/// The vote fields Steward asks the hub for.
pub const VOTE_FIELDS: &str = "id voter created choice vp reason proposal { id }";

/// Parses a hub proposal object. `space` is used when the object does not carry its own.
pub fn parse_proposal(
    v: &Value,
    space: Option<&str>,
    limits: &Limits,
    now: i64,
) -> Result<Proposal, FieldError> {
    let f = Fields::new(v)?;
    let space = match f.raw("space") {
        Some(Value::Object(o)) => match o.get("id") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err(FieldError::new("space.id", "is missing")),
        },
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            return Err(FieldError::new(
                "space",
                format!("expected an object, got {}", type_name(v)),
            ));
        }
        None => space
            .map(str::to_owned)
            .ok_or_else(|| FieldError::new("space", "is missing"))?,
    };
    if space.is_empty() || space.len() > 128 {
        return Err(FieldError::new(
            "space",
            format!("{space:?} is not a space id"),
        ));
    }
    let id = f.str("id")?.to_owned();
    let choices = f.strings("choices", limits.max_choices)?;
    let voting = match f.opt_str("type")? {
        Some(t) => t
            .parse::<VotingType>()
            .map_err(|e| FieldError::new("type", e))?,
        None => VotingType::SingleChoice,
    };
    let start = f.opt_i64("start")?;
    let end = f.opt_i64("end")?;
    let state = match f.opt_str("state")? {
        Some(s) => s
            .parse::<ProposalState>()
            .map_err(|e| FieldError::new("state", e))?,
        None => super::state_from_window(start, end, now),
    };
    let snapshot = f
        .opt_i64("snapshot")?
        .map(|n| {
            u64::try_from(n).map_err(|_| FieldError::new("snapshot", format!("negative block {n}")))
        })
        .transpose()?;
    let p = Proposal {
        source: Source::Snapshot { space },
        id,
        title: f.opt_str("title")?.unwrap_or_default().to_owned(),
        body: f.opt_str("body")?.unwrap_or_default().to_owned(),
        choices,
        voting,
        created: f.opt_i64("created")?,
        start,
        end,
        snapshot,
        author: f.opt_str("author")?.map(|a| a.to_ascii_lowercase()),
        discussion: f
            .opt_str("discussion")?
            .filter(|d| !d.is_empty())
            .map(str::to_owned),
        state,
        actions: vec![],
        flags: vec![],
    };
    finish(p, limits)
}

/// Parses a hub vote object.
pub fn parse_vote(v: &Value) -> Result<Vote, FieldError> {
    let f = Fields::new(v)?;
    let choice = f
        .raw("choice")
        .cloned()
        .ok_or_else(|| FieldError::new("choice", "is missing"))?;
    let power = match f.raw("vp") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        None => "0".into(),
        Some(v) => {
            return Err(FieldError::new(
                "vp",
                format!("expected a number, got {}", type_name(v)),
            ));
        }
    };
    Ok(Vote {
        id: f.str("id")?.to_owned(),
        voter: f.str("voter")?.to_ascii_lowercase(),
        choice,
        power,
        reason: f
            .opt_str("reason")?
            .filter(|r| !r.is_empty())
            .map(str::to_owned),
        created: f.opt_i64("created")?,
    })
}

/// Where a paged query resumes: items created at or after `created`, skipping the `skip` already
/// seen at exactly that second. `created_gt` alone would lose items that share the last
/// timestamp of a page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    pub created: i64,
    pub skip: u32,
}

impl Cursor {
    /// The cursor after a page whose items have these `created` values (ascending).
    pub fn advance(self, created: impl IntoIterator<Item = i64>) -> Self {
        let mut c = self;
        for t in created {
            if t == c.created {
                c.skip += 1;
            } else {
                c = Cursor {
                    created: t,
                    skip: 1,
                };
            }
        }
        c
    }
}

/// A GraphQL client for a Snapshot hub, with retries for rate limits, server errors and
/// truncated bodies.
#[derive(Debug, Clone)]
pub struct HubClient {
    http: HttpClient,
    url: String,
    host: String,
    pub retry: RetryPolicy,
}

impl HubClient {
    pub fn new(http: HttpClient, url: &str) -> Self {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "hub".into());
        Self {
            http,
            url: url.to_owned(),
            host,
            retry: RetryPolicy::default(),
        }
    }

    /// One page of a space's proposals, oldest first, from `cursor`.
    pub async fn proposals_page(
        &self,
        space: &str,
        cursor: Cursor,
        first: u32,
    ) -> Result<Vec<Value>> {
        let query = format!(
            "query Proposals($space: String!, $first: Int!, $skip: Int!, $created_gte: Int!) {{
  proposals(first: $first, skip: $skip, where: {{ space_in: [$space], created_gte: $created_gte }}, orderBy: \"created\", orderDirection: asc) {{ {PROPOSAL_FIELDS} }}
}}"
        );
        let vars = json!({ "space": space, "first": first, "skip": cursor.skip, "created_gte": cursor.created });
        self.list(&query, vars, "proposals").await
    }

    /// One page of a proposal's votes, oldest first, from `cursor`.
    pub async fn votes_page(
        &self,
        proposal: &str,
        cursor: Cursor,
        first: u32,
    ) -> Result<Vec<Value>> {
        let query = format!(
            "query Votes($proposal: String!, $first: Int!, $skip: Int!, $created_gte: Int!) {{
  votes(first: $first, skip: $skip, where: {{ proposal: $proposal, created_gte: $created_gte }}, orderBy: \"created\", orderDirection: asc) {{ {VOTE_FIELDS} }}
}}"
        );
        let vars = json!({ "proposal": proposal, "first": first, "skip": cursor.skip, "created_gte": cursor.created });
        self.list(&query, vars, "votes").await
    }

    /// The votes `voter` (checksummed, as the hub stores it) has on `proposal`: empty when none.
    pub async fn votes_by_voter(&self, proposal: &str, voter: &str) -> Result<Vec<Value>> {
        let query = format!(
            "query VotesByVoter($proposal: String!, $voter: String!) {{
  votes(first: 10, where: {{ proposal: $proposal, voter: $voter }}, orderBy: \"created\", orderDirection: desc) {{ {VOTE_FIELDS} }}
}}"
        );
        let vars = json!({ "proposal": proposal, "voter": voter });
        self.list(&query, vars, "votes").await
    }

    /// One page of the votes `voter` cast in `spaces`, oldest first, from `cursor` (the user's
    /// own past votes, `steward profile import votes --address`).
    pub async fn votes_of_voter(
        &self,
        spaces: &[String],
        voter: &str,
        cursor: Cursor,
        first: u32,
    ) -> Result<Vec<Value>> {
        let query = format!(
            "query VotesOfVoter($spaces: [String], $voter: String!, $first: Int!, $skip: Int!, $created_gte: Int!) {{
  votes(first: $first, skip: $skip, where: {{ space_in: $spaces, voter: $voter, created_gte: $created_gte }}, orderBy: \"created\", orderDirection: asc) {{ {VOTE_FIELDS} space {{ id }} }}
}}"
        );
        let vars = json!({ "spaces": spaces, "voter": voter, "first": first, "skip": cursor.skip, "created_gte": cursor.created });
        self.list(&query, vars, "votes").await
    }

    async fn list(&self, query: &str, variables: Value, field: &str) -> Result<Vec<Value>> {
        let body = json!({ "query": query, "variables": variables });
        let source = format!("snapshot hub {}", self.host);
        self.retry
            .run(&source, "", || self.try_once(&body, field))
            .await
    }

    async fn try_once(&self, body: &Value, field: &str) -> Result<Vec<Value>, Attempt> {
        let transient = Attempt::transient;
        let req = self.http.post(&self.url).map_err(Attempt::Fatal)?;
        let resp = req
            .json(body)
            .send()
            .await
            .map_err(|e| transient(format!("request: {e}")))?;
        let status = resp.status();
        if status.as_u16() == 429 {
            return Err(rate_limited(&resp));
        }
        let text = resp
            .text()
            .await
            .map_err(|e| transient(format!("reading the body: {e}")))?;
        read_answer(status, &text, field)
    }
}

/// The items of `data.<field>` in one hub answer (status and body), or why there are none and
/// whether asking again may help. The hub's body is outside input: this never panics.
pub fn read_answer(
    status: reqwest::StatusCode,
    text: &str,
    field: &str,
) -> Result<Vec<Value>, Attempt> {
    let transient = Attempt::transient;
    if status.is_server_error() {
        return Err(transient(format!("HTTP {status}")));
    }
    let v: Value = serde_json::from_str(text).map_err(|e| {
        transient(format!(
            "HTTP {status}: the body is not JSON ({} bytes): {e}",
            text.len()
        ))
    })?;
    if let Some(errors) = v
        .get("errors")
        .and_then(Value::as_array)
        .filter(|e| !e.is_empty())
    {
        let msgs: Vec<&str> = errors
            .iter()
            .filter_map(|e| e.get("message")?.as_str())
            .collect();
        // The hub rejected the query itself: retrying will not help.
        return Err(Attempt::Final(format!(
            "GraphQL error: {}",
            msgs.join("; ")
        )));
    }
    if !status.is_success() {
        return Err(transient(format!("HTTP {status}")));
    }
    match v.pointer(&format!("/data/{field}")) {
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(Value::Null) | None => Err(transient(format!("the response has no data.{field}"))),
        Some(other) => Err(Attempt::Final(format!(
            "data.{field} is {}, expected an array",
            type_name(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_keeps_ties_across_pages() {
        let c = Cursor::default().advance([5, 7, 7]);
        assert_eq!(
            c,
            Cursor {
                created: 7,
                skip: 2
            }
        );
        assert_eq!(
            c.advance([7, 7]),
            Cursor {
                created: 7,
                skip: 4
            }
        );
        assert_eq!(
            c.advance([7, 9]),
            Cursor {
                created: 9,
                skip: 1
            }
        );
        assert_eq!(c.advance([]), c);
    }

    #[test]
    fn hub_proposal_parses_and_bad_fields_are_named() {
        let ok = json!({
            "id": "0xabc", "title": "T", "body": "B", "choices": ["For", "Against"],
            "start": 10, "end": 20, "snapshot": "123", "state": "closed",
            "author": "0xAbC", "created": 5, "type": "weighted", "discussion": "",
            "space": { "id": "lido-snapshot.eth" }
        });
        let p = parse_proposal(&ok, None, &Limits::default(), 0).expect("parses");
        assert_eq!(p.key(), "snapshot:lido-snapshot.eth:0xabc");
        assert_eq!(
            (p.snapshot, p.voting, p.state),
            (Some(123), VotingType::Weighted, ProposalState::Closed)
        );
        assert_eq!(p.author.as_deref(), Some("0xabc"));
        assert_eq!(p.discussion, None);

        let cases = [
            ("choices", json!("For")),
            ("type", json!("plurality")),
            ("start", json!("soon")),
            ("snapshot", json!(-4)),
            ("state", json!("exploded")),
            ("id", json!(7)),
        ];
        for (field, bad) in cases {
            let mut v = ok.clone();
            v[field] = bad;
            let err = parse_proposal(&v, None, &Limits::default(), 0).expect_err(field);
            assert_eq!(err.field, field, "{err}");
        }
        let mut v = ok.clone();
        v["choices"] = json!(vec!["x"; 100_000]);
        assert_eq!(
            parse_proposal(&v, None, &Limits::default(), 0)
                .expect_err("huge")
                .field,
            "choices"
        );
    }
}
