//! A loopback Snapshot hub.
//!
//! It answers `proposals` and `votes` queries the way hub.snapshot.org does: GraphQL parsed and
//! checked against the hub's schema (unknown fields, bad argument types, `first` over 1000 and
//! undeclared variables are errors, as there), `where` filters (`space_in`, `space`,
//! `created_gte`, `created_gt`, `proposal`, `id_in`), `orderBy: "created"`, `first`/`skip`.
//! Tests queue faults to see how clients cope.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use graphql_parser::query::{
    Definition, Document, OperationDefinition, Selection, Type, Value as GqlValue,
};
use serde_json::{Map, Value, json};

/// Fields of the hub's `Proposal` type (hub.snapshot.org schema).
const PROPOSAL_SCHEMA: &[&str] = &[
    "id",
    "ipfs",
    "author",
    "created",
    "updated",
    "space",
    "network",
    "symbol",
    "type",
    "strategies",
    "validation",
    "plugins",
    "title",
    "body",
    "discussion",
    "choices",
    "labels",
    "start",
    "end",
    "quorum",
    "quorumType",
    "privacy",
    "snapshot",
    "state",
    "link",
    "app",
    "scores",
    "scores_by_strategy",
    "scores_state",
    "scores_total",
    "scores_updated",
    "votes",
    "flagged",
];
const VOTE_SCHEMA: &[&str] = &[
    "id",
    "ipfs",
    "voter",
    "created",
    "space",
    "proposal",
    "choice",
    "metadata",
    "reason",
    "app",
    "vp",
    "vp_by_strategy",
    "vp_state",
];
const SPACE_SCHEMA: &[&str] = &[
    "id", "name", "about", "network", "symbol", "avatar", "admins", "members",
];

/// A failure to inject into the next response.
#[derive(Debug, Clone)]
pub enum Fault {
    /// HTTP 429 with `Retry-After: secs`.
    RateLimit { retry_after: u64 },
    /// An HTTP error status, e.g. 502.
    Status(u16),
    /// A 200 whose JSON body is cut in the middle.
    Truncated,
}

#[derive(Debug, Default)]
struct HubState {
    proposals: Vec<Value>,
    votes: Vec<Value>,
    faults: VecDeque<Fault>,
    delay: Duration,
    requests: u64,
    rejected: Vec<String>,
}

/// Adds votes to a [`MockHub`] (cloneable; for the mock sequencer).
#[derive(Debug, Clone)]
pub struct VotesSink(Arc<Mutex<HubState>>);

impl VotesSink {
    pub fn add(&self, vote: Value) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .votes
            .push(vote);
    }

    /// Votes by `voter` on `proposal`.
    pub fn count(&self, proposal: &str, voter: &str) -> usize {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .votes
            .iter()
            .filter(|v| {
                v["proposal"]["id"].as_str() == Some(proposal)
                    && v["voter"]
                        .as_str()
                        .is_some_and(|x| x.eq_ignore_ascii_case(voter))
            })
            .count()
    }
}

/// A running mock hub. Dropping it stops the server.
#[derive(Debug)]
pub struct MockHub {
    pub url: String,
    state: Arc<Mutex<HubState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockHub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockHub {
    /// Starts on 127.0.0.1 on a free port, on the current tokio runtime.
    pub async fn start(proposals: Vec<Value>, votes: Vec<Value>) -> std::io::Result<Self> {
        let mut proposals = proposals;
        proposals.sort_by_key(|p| p["created"].as_i64().unwrap_or(0));
        let state = Arc::new(Mutex::new(HubState {
            proposals,
            votes,
            ..HubState::default()
        }));
        let app = Router::new()
            .route("/graphql", post(handle))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/graphql", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, state, task })
    }

    fn with<T>(&self, f: impl FnOnce(&mut HubState) -> T) -> T {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut s)
    }

    pub fn push_fault(&self, fault: Fault) {
        self.with(|s| s.faults.push_back(fault));
    }

    /// Delay before each answer (to make a sync slow enough to kill mid-way).
    pub fn set_delay(&self, d: Duration) {
        self.with(|s| s.delay = d);
    }

    pub fn add_proposals(&self, more: Vec<Value>) {
        self.with(|s| {
            s.proposals.extend(more);
            s.proposals
                .sort_by_key(|p| p["created"].as_i64().unwrap_or(0));
        });
    }

    /// Adds votes (the mock sequencer records accepted votes here).
    pub fn add_votes(&self, more: Vec<Value>) {
        self.with(|s| s.votes.extend(more));
    }

    /// A handle that adds votes from another task.
    pub fn votes_sink(&self) -> VotesSink {
        VotesSink(Arc::clone(&self.state))
    }

    pub fn requests(&self) -> u64 {
        self.with(|s| s.requests)
    }

    /// Queries the hub refused as invalid (a correct client has none).
    pub fn rejected(&self) -> Vec<String> {
        self.with(|s| s.rejected.clone())
    }
}

async fn handle(
    State(state): State<Arc<Mutex<HubState>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (fault, delay) = {
        let mut s = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.requests += 1;
        (s.faults.pop_front(), s.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Some(Fault::RateLimit { retry_after }) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", retry_after.to_string())],
                "Too Many Requests",
            )
                .into_response();
        }
        Some(Fault::Status(code)) => {
            let code = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            return (code, "upstream error").into_response();
        }
        _ => {}
    }
    if !headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
    {
        return gql_error(&state, "POST body must be application/json".into());
    }
    let answer = {
        let s = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        answer(&s, &body)
    };
    match answer {
        Ok(data) => {
            let text = json!({ "data": data }).to_string();
            if matches!(fault, Some(Fault::Truncated)) {
                let cut = text.len() / 2;
                return (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    text[..cut].to_owned(),
                )
                    .into_response();
            }
            (StatusCode::OK, [("content-type", "application/json")], text).into_response()
        }
        Err(msg) => gql_error(&state, msg),
    }
}

fn gql_error(state: &Arc<Mutex<HubState>>, msg: String) -> Response {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .rejected
        .push(msg.clone());
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "errors": [{ "message": msg }] })),
    )
        .into_response()
}

fn answer(s: &HubState, body: &str) -> Result<Value, String> {
    let req: Value = serde_json::from_str(body).map_err(|e| format!("invalid JSON body: {e}"))?;
    let query = req["query"].as_str().ok_or("missing `query`")?;
    let vars = req.get("variables").cloned().unwrap_or(Value::Null);
    let doc: Document<'_, String> =
        graphql_parser::parse_query(query).map_err(|e| format!("Syntax Error: {e}"))?;
    let op = doc
        .definitions
        .iter()
        .find_map(|d| match d {
            Definition::Operation(op) => Some(op),
            Definition::Fragment(_) => None,
        })
        .ok_or("no operation in the document")?;
    let (var_defs, selection) = match op {
        OperationDefinition::Query(q) => (&q.variable_definitions, &q.selection_set),
        OperationDefinition::SelectionSet(s) => (&Vec::new() as &Vec<_>, s),
        _ => return Err("only queries are supported".into()),
    };
    // Every variable used must be declared, and every declared non-null one provided, typed.
    for d in var_defs {
        let v = vars.get(&d.name);
        match (&d.var_type, v) {
            (Type::NonNullType(_), None | Some(Value::Null)) => {
                return Err(format!(
                    "Variable \"${}\" of required type \"{}\" was not provided.",
                    d.name, d.var_type
                ));
            }
            (t, Some(v)) if !type_matches(t, v) => {
                return Err(format!(
                    "Variable \"${}\" got invalid value {v}; expected type {t}",
                    d.name
                ));
            }
            _ => {}
        }
    }
    let declared: Vec<&str> = var_defs.iter().map(|d| d.name.as_str()).collect();
    let mut data = Map::new();
    for sel in &selection.items {
        let Selection::Field(field) = sel else {
            return Err("fragments are not supported here".into());
        };
        let mut args = Map::new();
        for (name, v) in &field.arguments {
            args.insert(name.clone(), resolve(v, &vars, &declared)?);
        }
        let (schema, rows): (&[&str], &Vec<Value>) = match field.name.as_str() {
            "proposals" => (PROPOSAL_SCHEMA, &s.proposals),
            "votes" => (VOTE_SCHEMA, &s.votes),
            other => return Err(format!("Cannot query field \"{other}\" on type \"Query\".")),
        };
        let type_name = if field.name == "proposals" {
            "Proposal"
        } else {
            "Vote"
        };
        check_selection(&field.selection_set.items, schema, type_name)?;
        let first = int_arg(&args, "first")?.unwrap_or(20);
        if first > 1000 {
            return Err("The `first` argument must not be greater than 1000".into());
        }
        let skip = int_arg(&args, "skip")?.unwrap_or(0);
        if skip > 5000 {
            return Err("The `skip` argument must not be greater than 5000".into());
        }
        let filter = args.get("where").cloned().unwrap_or(Value::Null);
        let mut matched: Vec<&Value> = rows.iter().filter(|r| matches_where(r, &filter)).collect();
        let desc = args.get("orderDirection").and_then(Value::as_str) == Some("desc");
        matched.sort_by_key(|r| r["created"].as_i64().unwrap_or(0));
        if desc {
            matched.reverse();
        }
        let page: Vec<Value> = matched
            .into_iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(first).unwrap_or(0))
            .map(|r| project(r, &field.selection_set.items))
            .collect();
        data.insert(
            field.alias.clone().unwrap_or_else(|| field.name.clone()),
            Value::Array(page),
        );
    }
    Ok(Value::Object(data))
}

fn type_matches(t: &Type<'_, String>, v: &Value) -> bool {
    match t {
        Type::NonNullType(inner) => !v.is_null() && type_matches(inner, v),
        Type::ListType(inner) => v
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x.is_null() || type_matches(inner, x))),
        Type::NamedType(n) => match n.as_str() {
            "Int" => v.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
            "String" | "ID" => v.is_string(),
            "Boolean" => v.is_boolean(),
            "Float" => v.is_number(),
            _ => true,
        },
    }
}

fn resolve(v: &GqlValue<'_, String>, vars: &Value, declared: &[&str]) -> Result<Value, String> {
    Ok(match v {
        GqlValue::Variable(name) => {
            if !declared.contains(&name.as_str()) {
                return Err(format!("Variable \"${name}\" is not defined."));
            }
            vars.get(name).cloned().unwrap_or(Value::Null)
        }
        GqlValue::Int(n) => json!(n.as_i64()),
        GqlValue::Float(f) => json!(f),
        GqlValue::String(s) | GqlValue::Enum(s) => json!(s),
        GqlValue::Boolean(b) => json!(b),
        GqlValue::Null => Value::Null,
        GqlValue::List(items) => Value::Array(
            items
                .iter()
                .map(|i| resolve(i, vars, declared))
                .collect::<Result<_, _>>()?,
        ),
        GqlValue::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), resolve(v, vars, declared)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

fn int_arg(args: &Map<String, Value>, name: &str) -> Result<Option<i64>, String> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("Argument \"{name}\" has invalid value {v}.")),
    }
}

fn check_selection(
    items: &[Selection<'_, String>],
    schema: &[&str],
    type_name: &str,
) -> Result<(), String> {
    if items.is_empty() {
        return Err(format!(
            "Field of type \"[{type_name}]\" must have a selection of subfields."
        ));
    }
    for sel in items {
        let Selection::Field(f) = sel else { continue };
        if !schema.contains(&f.name.as_str()) {
            return Err(format!(
                "Cannot query field \"{}\" on type \"{type_name}\".",
                f.name
            ));
        }
        match f.name.as_str() {
            "space" => check_selection(&f.selection_set.items, SPACE_SCHEMA, "Space")?,
            "proposal" => check_selection(&f.selection_set.items, PROPOSAL_SCHEMA, "Proposal")?,
            _ if !f.selection_set.items.is_empty() => {
                return Err(format!(
                    "Field \"{}\" must not have a selection since it is a scalar.",
                    f.name
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn matches_where(row: &Value, w: &Value) -> bool {
    let Some(w) = w.as_object() else { return true };
    let created = row["created"].as_i64().unwrap_or(0);
    let space = row["space"]["id"].as_str().unwrap_or("");
    w.iter().all(|(k, v)| match k.as_str() {
        "space" => v.as_str() == Some(space),
        "space_in" => v
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(space))),
        "created_gte" => v.as_i64().is_none_or(|t| created >= t),
        "created_gt" => v.as_i64().is_none_or(|t| created > t),
        "proposal" => row["proposal"]["id"].as_str() == v.as_str(),
        "voter" => match (row["voter"].as_str(), v.as_str()) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        },
        "id_in" => v
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s.as_str() == row["id"].as_str())),
        "state" => v
            .as_str()
            .is_none_or(|st| st == "all" || row["state"].as_str() == Some(st)),
        _ => true,
    })
}

fn project(row: &Value, items: &[Selection<'_, String>]) -> Value {
    let mut out = Map::new();
    for sel in items {
        let Selection::Field(f) = sel else { continue };
        let v = row.get(&f.name).cloned().unwrap_or(Value::Null);
        let v = if f.selection_set.items.is_empty() {
            v
        } else {
            project(&v, &f.selection_set.items)
        };
        out.insert(f.alias.clone().unwrap_or_else(|| f.name.clone()), v);
    }
    Value::Object(out)
}

/// Snapshot space ids for the DAOs of ../shared/data/snapshot-daocensus.
pub fn daocensus_space(dao: &str) -> String {
    match dao {
        "lido" => "lido-snapshot.eth".into(),
        "aave-aavegotchi" => "aavegotchi.eth".into(),
        "pancakeswap" => "cakevote.eth".into(),
        "decentraland" => "snapshot.dcl.eth".into(),
        "index-coop" => "index-coop.eth".into(),
        "aura-finance" => "aurafinance.eth".into(),
        "bancor" => "bancornetwork.eth".into(),
        "frax" => "frax.eth".into(),
        "juiceboxdao" => "jbdao.eth".into(),
        "nftx" => "nftx.eth".into(),
        "sharkdao" => "sharkdao.eth".into(),
        "balancer" => "balancer.eth".into(),
        other => format!("{other}.eth"),
    }
}

/// Hub proposal objects built from the DAO Census records of `dao` (`<dir>/<dao>/proposals.jsonl`).
///
/// The census has id, author, title, body and times; the hub fields it lacks are filled the same
/// way for every record: choices For/Against/Abstain, type single-choice, state from the times,
/// `snapshot` absent. The hub's `created` is the census `date`.
pub fn load_daocensus(dir: &Path, dao: &str, now: i64) -> std::io::Result<Vec<Value>> {
    let text = std::fs::read_to_string(dir.join(dao).join("proposals.jsonl"))?;
    let space = daocensus_space(dao);
    let ts = |v: &Value| -> Option<i64> {
        let s = v.as_str()?;
        let dt: jiff::civil::DateTime = s.replace(' ', "T").parse().ok()?;
        dt.to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_second())
    };
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(r) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let (start, end) = (ts(&r["start"]), ts(&r["end"]));
        let state = match (start, end) {
            (Some(s), _) if now < s => "pending",
            (_, Some(e)) if now >= e => "closed",
            _ => "active",
        };
        out.push(json!({
            "id": r["platform_proposal"],
            "title": r["title"],
            "body": r["description"],
            "choices": ["For", "Against", "Abstain"],
            "start": start,
            "end": end,
            "snapshot": null,
            "state": state,
            "author": r["author"],
            "created": ts(&r["date"]),
            "type": "single-choice",
            "discussion": "",
            "space": { "id": space, "name": dao },
        }));
    }
    Ok(out)
}
