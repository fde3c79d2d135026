//! A loopback Snapshot sequencer: takes `POST /` envelopes `{address, sig, data}` and checks
//! them as seq.snapshot.org does for a vote — snapshot's domain, one of snapshot.js's `Vote`
//! types, the signature recovering to `address`, `from` equal to `address`, a timestamp within
//! a few minutes of now, a known proposal — then answers `{id, ipfs, relayer}` and records the
//! vote in a [`MockHub`] (so the hub's `votes` query sees it). A refusal is HTTP 400
//! `{"error": "client_error", "error_description": ...}`, as the real one answers.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use serde_json::{Value, json};
use steward_eth::{SnapshotEnvelope, verify_snapshot_envelope};

use super::hub::VotesSink;

#[derive(Debug, Default)]
struct SeqState {
    accepted: Vec<Value>,
    refused: Vec<String>,
    /// Proposal ids the sequencer accepts votes for (empty: any).
    proposals: Vec<String>,
    fail_next: u32,
    /// Every request body, as received (before any fault or check).
    received: Vec<String>,
    /// The next `n` requests are recorded and then never answered (a stalled sequencer).
    stall_next: u32,
}

#[derive(Debug, Clone)]
struct Shared {
    state: Arc<Mutex<SeqState>>,
    hub: Option<VotesSink>,
}

/// A running mock sequencer. Dropping it stops the server.
#[derive(Debug)]
pub struct MockSequencer {
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockSequencer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockSequencer {
    /// Starts on 127.0.0.1 on a free port; accepted votes go to `hub` when given.
    pub async fn start(hub: Option<VotesSink>) -> std::io::Result<Self> {
        let shared = Shared {
            state: Arc::new(Mutex::new(SeqState::default())),
            hub,
        };
        let app = Router::new()
            .route("/", post(handle))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, shared, task })
    }

    fn with<T>(&self, f: impl FnOnce(&mut SeqState) -> T) -> T {
        let mut s = self
            .shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut s)
    }

    /// Only votes on these proposal ids are accepted ("unknown proposal" otherwise).
    pub fn set_proposals(&self, ids: Vec<String>) {
        self.with(|s| s.proposals = ids);
    }

    /// The next `n` requests get HTTP 503.
    pub fn fail_next(&self, n: u32) {
        self.with(|s| s.fail_next = n);
    }

    /// The next `n` requests are taken, recorded in [`MockSequencer::received`] and never
    /// answered: the client sees the POST hang, as when the process dies mid-request.
    pub fn stall_next(&self, n: u32) {
        self.with(|s| s.stall_next = n);
    }

    /// Every request body received, byte for byte, in order (stalled and refused ones too).
    pub fn received(&self) -> Vec<String> {
        self.with(|s| s.received.clone())
    }

    /// Accepted envelopes, in order.
    pub fn accepted(&self) -> Vec<Value> {
        self.with(|s| s.accepted.clone())
    }

    /// Why requests were refused, in order.
    pub fn refused(&self) -> Vec<String> {
        self.with(|s| s.refused.clone())
    }
}

fn refuse(shared: &Shared, why: String) -> Response {
    shared
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .refused
        .push(why.clone());
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": "client_error", "error_description": why })),
    )
        .into_response()
}

async fn handle(State(shared): State<Shared>, body: String) -> Response {
    let stall = {
        let mut s = shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.received.push(body.clone());
        if s.fail_next > 0 {
            s.fail_next -= 1;
            return (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response();
        }
        let stall = s.stall_next > 0;
        s.stall_next = s.stall_next.saturating_sub(1);
        stall
    };
    if stall {
        std::future::pending::<()>().await;
    }
    let env: SnapshotEnvelope = match serde_json::from_str(&body) {
        Ok(e) => e,
        Err(e) => return refuse(&shared, format!("wrong envelope format: {e}")),
    };
    let checked = match verify_snapshot_envelope(&env) {
        Ok(c) => c,
        Err(e) => return refuse(&shared, format!("wrong signature: {e}")),
    };
    let vote = &checked.vote;
    if vote.from != checked.signer {
        return refuse(&shared, "wrong from: aliases are not supported here".into());
    }
    let now = jiff::Timestamp::now().as_second();
    let ts = i64::try_from(vote.timestamp).unwrap_or(i64::MAX);
    if (now - ts).abs() > 300 {
        return refuse(&shared, format!("wrong timestamp {ts}: now is {now}"));
    }
    let known = {
        let s = shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.proposals.is_empty() || s.proposals.contains(&vote.proposal)
    };
    if !known {
        return refuse(&shared, format!("unknown proposal {}", vote.proposal));
    }
    let id = checked.hash.to_string();
    let voter = checked.signer.to_checksum(None);
    if let Some(hub) = &shared.hub {
        hub.add(json!({
            "id": id, "ipfs": format!("bafy{}", &id[2..14]), "voter": voter,
            "created": ts, "space": { "id": vote.space }, "proposal": { "id": vote.proposal },
            "choice": env.data["message"]["choice"], "metadata": {}, "reason": vote.reason,
            "app": vote.app, "vp": 1.0, "vp_by_strategy": [1.0], "vp_state": "final",
        }));
    }
    shared
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .accepted
        .push(serde_json::to_value(&env).unwrap_or(Value::Null));
    Json(json!({
        "id": id,
        "ipfs": format!("bafy{}", &id[2..14]),
        "relayer": { "address": "0x0000000000000000000000000000000000000000", "receipt": "0x" },
    }))
    .into_response()
}
