//! A loopback Snapshot sequencer: takes `POST /` envelopes `{address, sig, data}` and checks
//! them as seq.snapshot.org does for a vote — snapshot's domain, one of snapshot.js's `Vote`
//! types, the signature recovering to `address`, `from` equal to `address`, a timestamp within
//! a few minutes of now, a known proposal — then answers `{id, ipfs, relayer}` and records the
//! vote in a [`MockHub`] (so the hub's `votes` query sees it). A refusal is HTTP 400
//! `{"error": "client_error", "error_description": ...}`, as the real one answers; an envelope
//! it has already accepted (the same signature again) is refused as a duplicate, as the real
//! one refuses a message it already stored.
//!
//! [`SeqFaults`] injects, per request and from a seed, the faults a client meets on the way to
//! the real sequencer: a stall past the client's timeout (after which the vote may still be
//! taken), a lost answer (taken, but the client gets 502), a request that arrives twice, and a
//! hub that shows an accepted vote only after a while.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use serde_json::{Value, json};
use steward_eth::{SnapshotEnvelope, verify_snapshot_envelope};

use super::hub::VotesSink;
use super::rng::Rng;

/// Faults drawn for each request from a seeded [`Rng`] (probabilities in [0, 1], checked in
/// this order: stall, drop, duplicate).
#[derive(Debug, Clone, Default)]
pub struct SeqFaults {
    pub seed: u64,
    /// The request is held for `stall_for` (longer than the client's timeout) before anything.
    pub stall: f64,
    pub stall_for: Duration,
    /// After a stall, the chance that the request is still handled (and the vote taken, with no
    /// client left to hear it); otherwise it is answered 504 untouched.
    pub stall_then_accept: f64,
    /// The request is handled (a valid vote is taken) but the answer is lost: the client gets
    /// 502.
    pub drop: f64,
    /// The request arrives twice: it is handled twice (the second time a duplicate, refused)
    /// and the client gets the first answer.
    pub duplicate: f64,
    /// An accepted vote shows on the hub only this long after it was taken.
    pub visible_after: Duration,
}

/// How many faults were injected, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub stalled: u32,
    pub stalled_then_accepted: u32,
    pub dropped: u32,
    pub duplicated: u32,
}

#[derive(Debug, Clone, Copy)]
enum Drawn {
    None,
    Stall { then_accept: bool },
    Drop,
    Duplicate,
}

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
    faults: Option<(SeqFaults, Rng)>,
    counts: FaultCounts,
    /// Signatures of the envelopes accepted: the same one again is a duplicate.
    seen: HashSet<String>,
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

    /// Draws faults for every following request from `faults` (None: no more faults).
    pub fn set_faults(&self, faults: Option<SeqFaults>) {
        self.with(|s| s.faults = faults.map(|f| (f.clone(), Rng::new(f.seed))));
    }

    /// The faults injected so far.
    pub fn fault_counts(&self) -> FaultCounts {
        self.with(|s| s.counts)
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
    let (stall, drawn, faults) = {
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
        let (drawn, faults) = match &mut s.faults {
            Some((f, rng)) => {
                let d = if rng.chance(f.stall) {
                    Drawn::Stall {
                        then_accept: rng.chance(f.stall_then_accept),
                    }
                } else if rng.chance(f.drop) {
                    Drawn::Drop
                } else if rng.chance(f.duplicate) {
                    Drawn::Duplicate
                } else {
                    Drawn::None
                };
                (d, Some(f.clone()))
            }
            None => (Drawn::None, None),
        };
        let c = &mut s.counts;
        match drawn {
            Drawn::Stall { then_accept } => {
                c.stalled += 1;
                c.stalled_then_accepted += u32::from(then_accept);
            }
            Drawn::Drop => c.dropped += 1,
            Drawn::Duplicate => c.duplicated += 1,
            Drawn::None => {}
        }
        (stall, drawn, faults.unwrap_or_default())
    };
    if stall {
        std::future::pending::<()>().await;
    }
    match drawn {
        Drawn::None => take(&shared, &body, faults.visible_after),
        Drawn::Stall { then_accept } => {
            // In a task of its own: the client gives up and closes the connection, which may
            // drop this handler, but a vote the sequencer took in the meantime still counts.
            let task = tokio::spawn(async move {
                tokio::time::sleep(faults.stall_for).await;
                if then_accept {
                    take(&shared, &body, faults.visible_after)
                } else {
                    (StatusCode::GATEWAY_TIMEOUT, "stalled").into_response()
                }
            });
            task.await.unwrap_or_else(|_| {
                (StatusCode::INTERNAL_SERVER_ERROR, "stalled task failed").into_response()
            })
        }
        Drawn::Drop => {
            let _ = take(&shared, &body, faults.visible_after);
            (StatusCode::BAD_GATEWAY, "the answer was lost").into_response()
        }
        Drawn::Duplicate => {
            let first = take(&shared, &body, faults.visible_after);
            let _ = take(&shared, &body, faults.visible_after);
            first
        }
    }
}

/// Checks one envelope as seq.snapshot.org does and takes the vote (recorded, and shown on the
/// hub after `visible_after`), or refuses it.
fn take(shared: &Shared, body: &str, visible_after: Duration) -> Response {
    let env: SnapshotEnvelope = match serde_json::from_str(body) {
        Ok(e) => e,
        Err(e) => return refuse(shared, format!("wrong envelope format: {e}")),
    };
    let checked = match verify_snapshot_envelope(&env) {
        Ok(c) => c,
        Err(e) => return refuse(shared, format!("wrong signature: {e}")),
    };
    let vote = &checked.vote;
    if vote.from != checked.signer {
        return refuse(shared, "wrong from: aliases are not supported here".into());
    }
    let now = jiff::Timestamp::now().as_second();
    let ts = i64::try_from(vote.timestamp).unwrap_or(i64::MAX);
    if (now - ts).abs() > 300 {
        return refuse(shared, format!("wrong timestamp {ts}: now is {now}"));
    }
    let (known, duplicate) = {
        let s = shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (
            s.proposals.is_empty() || s.proposals.contains(&vote.proposal),
            s.seen.contains(&env.sig),
        )
    };
    if !known {
        return refuse(shared, format!("unknown proposal {}", vote.proposal));
    }
    if duplicate {
        return refuse(
            shared,
            format!("duplicate vote: envelope {} was already received", env.sig),
        );
    }
    let id = checked.hash.to_string();
    let voter = checked.signer.to_checksum(None);
    {
        let mut s = shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.seen.insert(env.sig.clone());
        s.accepted
            .push(serde_json::to_value(&env).unwrap_or(Value::Null));
    }
    if let Some(hub) = &shared.hub {
        let row = json!({
            "id": id, "ipfs": format!("bafy{}", &id[2..14]), "voter": voter,
            "created": ts, "space": { "id": vote.space }, "proposal": { "id": vote.proposal },
            "choice": env.data["message"]["choice"], "metadata": {}, "reason": vote.reason,
            "app": vote.app, "vp": 1.0, "vp_by_strategy": [1.0], "vp_state": "final",
        });
        if visible_after.is_zero() {
            hub.add(row);
        } else {
            // A lagging hub: the vote is taken now and shown later.
            let hub = hub.clone();
            tokio::spawn(async move {
                tokio::time::sleep(visible_after).await;
                hub.add(row);
            });
        }
    }
    Json(json!({
        "id": id,
        "ipfs": format!("bafy{}", &id[2..14]),
        "relayer": { "address": "0x0000000000000000000000000000000000000000", "receipt": "0x" },
    }))
    .into_response()
}
