//! A loopback Discourse forum.
//!
//! It answers the two read endpoints Steward uses the way Discourse does:
//!
//! - `GET /t/{id}.json` and `GET /t/{slug}/{id}.json`: the topic with `post_stream.posts` (the
//!   first 20 posts, Discourse's chunk size) and `post_stream.stream` (every post id);
//! - `GET /t/{id}/posts.json?post_ids[]=…`: `{"post_stream": {"posts": [...]}, "id": …}` with
//!   the requested posts of that topic (ids of other topics' posts are silently left out, as
//!   Discourse's `filter_posts_by_ids` does).
//!
//! Unknown topics and routes get Discourse's 404 JSON. A `posts.json` without `post_ids` is a
//! 400, and so is one asking for more than [`MockForum::set_max_post_ids`] posts (20 by
//! default: Discourse's own client asks in chunks of 20, and this checks clients do too).
//! Refused requests are kept for tests to inspect. Faults ([`Fault`]) are queued as on
//! [`super::hub::MockHub`].
//!
//! The posts are built from real delegate vote rationales
//! (../shared/data/arbitrum-forum-rationales): author, thread and text are theirs; post ids,
//! numbers and dates are synthetic (the data has no dates), assigned the same way every run.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub use super::hub::Fault;

/// Discourse's chunk size: posts in a topic's JSON, and per `posts.json` request of its client.
pub const CHUNK: usize = 20;

/// A topic the mock serves.
#[derive(Debug, Clone)]
pub struct MockTopic {
    pub id: u64,
    pub slug: String,
    pub title: String,
    /// Discourse post objects, in post order.
    pub posts: Vec<Value>,
    /// For each post: the proposal it is about and its first sentence (for later quotes).
    about: Vec<(String, String)>,
}

impl MockTopic {
    pub fn new(id: u64, slug: &str, title: &str) -> Self {
        Self {
            id,
            slug: slug.to_owned(),
            title: title.to_owned(),
            posts: vec![],
            about: vec![],
        }
    }

    /// Appends the post a rationale record makes (see [`rationale_post`]).
    pub fn push_rationale(&mut self, record: &Value, post_id: u64) {
        let (post, about) = rationale_post(self, record, post_id);
        self.posts.push(post);
        self.about.push(about);
    }

    /// Appends a post object as given.
    pub fn push_raw(&mut self, post: Value) {
        self.posts.push(post);
        self.about.push(Default::default());
    }
}

#[derive(Debug, Default)]
struct ForumState {
    topics: BTreeMap<u64, MockTopic>,
    faults: VecDeque<Fault>,
    requests: Vec<String>,
    rejected: Vec<String>,
    max_post_ids: usize,
    next_post_id: u64,
}

/// A running mock forum. Dropping it stops the server.
#[derive(Debug)]
pub struct MockForum {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    state: Arc<Mutex<ForumState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockForum {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockForum {
    /// Starts on 127.0.0.1 on a free port, on the current tokio runtime.
    pub async fn start(topics: Vec<MockTopic>) -> std::io::Result<Self> {
        let next_post_id = topics
            .iter()
            .flat_map(|t| t.posts.iter().filter_map(|p| p["id"].as_u64()))
            .max()
            .unwrap_or(1000)
            + 1;
        let state = Arc::new(Mutex::new(ForumState {
            topics: topics.into_iter().map(|t| (t.id, t)).collect(),
            max_post_ids: CHUNK,
            next_post_id,
            ..ForumState::default()
        }));
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, state, task })
    }

    fn with<T>(&self, f: impl FnOnce(&mut ForumState) -> T) -> T {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut s)
    }

    /// The topic's public URL, as a proposal's `discussion` link has it.
    pub fn topic_url(&self, id: u64) -> String {
        let slug = self.with(|s| s.topics.get(&id).map(|t| t.slug.clone()));
        match slug {
            Some(slug) => format!("{}/t/{slug}/{id}", self.url),
            None => format!("{}/t/{id}", self.url),
        }
    }

    pub fn push_fault(&self, fault: Fault) {
        self.with(|s| s.faults.push_back(fault));
    }

    pub fn set_max_post_ids(&self, n: usize) {
        self.with(|s| s.max_post_ids = n);
    }

    /// Appends a reply built from a rationale record to a topic; returns its post id.
    pub fn reply(&self, topic_id: u64, record: &Value) -> Option<u64> {
        self.with(|s| {
            let id = s.next_post_id;
            s.topics.get_mut(&topic_id)?.push_rationale(record, id);
            s.next_post_id += 1;
            Some(id)
        })
    }

    /// Appends a post object as given (malformed ones included); returns its id if it has one.
    pub fn add_raw_post(&self, topic_id: u64, post: Value) -> Option<u64> {
        self.with(|s| {
            let id = post["id"].as_u64();
            s.topics.get_mut(&topic_id)?.push_raw(post);
            if let Some(id) = id {
                s.next_post_id = s.next_post_id.max(id + 1);
            }
            id
        })
    }

    /// Every request so far, as `path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.with(|s| s.requests.clone())
    }

    /// Requests the forum refused as invalid (a correct client has none).
    pub fn rejected(&self) -> Vec<String> {
        self.with(|s| s.rejected.clone())
    }
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [("content-type", "application/json; charset=utf-8")],
        json!({
            "errors": ["The requested URL or resource could not be found."],
            "error_type": "not_found"
        })
        .to_string(),
    )
        .into_response()
}

fn invalid(state: &Arc<Mutex<ForumState>>, msg: String) -> Response {
    lock(state).rejected.push(msg.clone());
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/json; charset=utf-8")],
        json!({ "errors": [msg], "error_type": "invalid_parameters" }).to_string(),
    )
        .into_response()
}

fn lock(state: &Arc<Mutex<ForumState>>) -> std::sync::MutexGuard<'_, ForumState> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn handle(State(state): State<Arc<Mutex<ForumState>>>, method: Method, uri: Uri) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let fault = {
        let mut s = lock(&state);
        s.requests.push(if query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{query}")
        });
        s.faults.pop_front()
    };
    match fault {
        Some(Fault::RateLimit { retry_after }) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    ("retry-after", retry_after.to_string()),
                    ("content-type", "application/json; charset=utf-8".into()),
                ],
                json!({
                    "errors": ["You’ve performed this action too many times. Please wait a few seconds before trying again."],
                    "error_type": "rate_limit",
                    "extras": { "wait_seconds": retry_after }
                })
                .to_string(),
            )
                .into_response();
        }
        Some(Fault::Status(code)) => {
            let code = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            return (code, "<html><body>upstream error</body></html>").into_response();
        }
        _ => {}
    }
    if method != Method::GET {
        return not_found();
    }
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let id_of = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let body = match segs.as_slice() {
        ["t", last] | ["t", _, last] if last.ends_with(".json") && *last != "posts.json" => {
            let Some(id) = last.strip_suffix(".json").and_then(id_of) else {
                return not_found();
            };
            let s = lock(&state);
            let Some(t) = s.topics.get(&id) else {
                return not_found();
            };
            topic_json(t)
        }
        ["t", id, "posts.json"] => {
            let Some(id) = id_of(id) else {
                return not_found();
            };
            // Rails reads `post_ids[]=1&post_ids[]=2`; non-numbers become 0 and match nothing.
            let ids: Vec<u64> = url::form_urlencoded::parse(query.as_bytes())
                .filter(|(k, _)| k == "post_ids[]")
                .map(|(_, v)| v.trim().parse().unwrap_or(0))
                .collect();
            let max = lock(&state).max_post_ids;
            if ids.is_empty() {
                return invalid(
                    &state,
                    "param is missing or the value is empty: post_ids".into(),
                );
            }
            if ids.len() > max {
                return invalid(
                    &state,
                    format!(
                        "too many post_ids: {} (this forum answers at most {max} at a time)",
                        ids.len()
                    ),
                );
            }
            let s = lock(&state);
            let Some(t) = s.topics.get(&id) else {
                return not_found();
            };
            let posts: Vec<Value> = t
                .posts
                .iter()
                .filter(|p| p["id"].as_u64().is_some_and(|pid| ids.contains(&pid)))
                .cloned()
                .collect();
            json!({ "post_stream": { "posts": posts }, "id": t.id })
        }
        _ => return not_found(),
    };
    let text = body.to_string();
    let text = if matches!(fault, Some(Fault::Truncated)) {
        let mut cut = text.len() / 2;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text[..cut].to_owned()
    } else {
        text
    };
    (
        StatusCode::OK,
        [("content-type", "application/json; charset=utf-8")],
        text,
    )
        .into_response()
}

/// A topic's JSON as Discourse's `TopicViewSerializer` shapes it (the fields clients read).
fn topic_json(t: &MockTopic) -> Value {
    let first: Vec<Value> = t.posts.iter().take(CHUNK).cloned().collect();
    let stream: Vec<Value> = t.posts.iter().map(|p| p["id"].clone()).collect();
    let created_at = t
        .posts
        .first()
        .map_or(Value::Null, |p| p["created_at"].clone());
    let last_posted_at = t
        .posts
        .last()
        .map_or(Value::Null, |p| p["created_at"].clone());
    let highest = t
        .posts
        .iter()
        .filter_map(|p| p["post_number"].as_u64())
        .max()
        .unwrap_or(0);
    json!({
        "post_stream": { "posts": first, "stream": stream },
        "timeline_lookup": [],
        "tags": [],
        "id": t.id,
        "title": t.title,
        "fancy_title": t.title,
        "posts_count": t.posts.len(),
        "created_at": created_at,
        "views": 0,
        "reply_count": t.posts.len().saturating_sub(1),
        "like_count": 0,
        "last_posted_at": last_posted_at,
        "visible": true,
        "closed": false,
        "archived": false,
        "archetype": "regular",
        "slug": t.slug,
        "category_id": 7,
        "deleted_at": null,
        "highest_post_number": highest,
        "chunk_size": CHUNK,
        "draft_key": format!("topic_{}", t.id),
    })
}

/// The rationale records of ../shared/data/arbitrum-forum-rationales/rationales.jsonl.
pub fn load_rationales(dir: &Path) -> std::io::Result<Vec<Value>> {
    let text = std::fs::read_to_string(dir.join("rationales.jsonl"))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// A Discourse username for a delegate: `404 DAO (404gov.eth)` -> `404_dao`.
pub fn username(delegate: &str) -> String {
    let name = delegate.split(" (").next().unwrap_or(delegate).trim();
    let u: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if u.is_empty() { "anon".into() } else { u }
}

/// The topic id and slug of a forum URL (`https://host/t/<slug>/<id>[/<n>][?page=..]`).
fn thread_of(url: &str) -> Option<(u64, String)> {
    let path = url.split("/t/").nth(1)?.split('?').next()?;
    let mut parts = path.split('/');
    let slug = parts.next()?.to_owned();
    let id = parts.next()?.parse().ok()?;
    Some((id, slug))
}

/// One topic per delegate communication thread of the data (real ids, slugs and authors), each
/// post one record, in record order.
pub fn delegate_threads(records: &[Value]) -> Vec<MockTopic> {
    let mut topics: BTreeMap<u64, MockTopic> = BTreeMap::new();
    let mut next_id = 100_000;
    for r in records {
        let Some((id, slug)) = r["source_url"].as_str().and_then(thread_of) else {
            continue;
        };
        let t = topics.entry(id).or_insert_with(|| {
            let title = slug
                .split('-')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_uppercase().chain(c).collect::<String>())
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join(" ");
            MockTopic::new(id, &slug, &title)
        });
        t.push_rationale(r, next_id);
        next_id += 1;
    }
    topics.into_values().collect()
}

/// A proposal's discussion thread in which every record is one delegate's reply, so the
/// delegates who disagree on the same proposal quote each other as Discourse renders quotes.
pub fn discussion_thread(id: u64, slug: &str, title: &str, records: &[Value]) -> MockTopic {
    let mut t = MockTopic::new(id, slug, title);
    for (i, r) in records.iter().enumerate() {
        t.push_rationale(r, id * 1000 + i as u64 + 1);
    }
    t
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The post a record makes as the next post of `t`: Discourse's post object, with `cooked` as
/// Discourse renders it (paragraphs, strong/em, and a quote of an earlier post on the same
/// proposal by another delegate, with the quote's title bar and controls), and what later posts
/// need to quote it.
fn rationale_post(t: &MockTopic, r: &Value, post_id: u64) -> (Value, (String, String)) {
    let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
    let delegate = s("delegate");
    let user = username(&delegate);
    let post_number = t.posts.len() as u64 + 1;
    // Synthetic but stable dates: the data has none. Six hours apart from 2025-01-06.
    let created = 1_736_164_800 + (t.id % 1000) as i64 * 60 + post_number as i64 * 6 * 3600;
    let created_at = jiff::Timestamp::from_second(created)
        .map(|ts| ts.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string())
        .unwrap_or_default();
    let mut cooked = format!(
        "<p>Vote: <strong>{}</strong> on <em>{}</em> ({}, {})</p>\n",
        esc(&s("vote")),
        esc(&s("proposal_title")),
        esc(&s("platform")),
        esc(&s("post_period"))
    );
    let title = s("proposal_title");
    let earlier = t
        .posts
        .iter()
        .zip(&t.about)
        .find(|(p, (about, _))| p["username"].as_str() != Some(&user) && *about == title);
    let mut reply_to = Value::Null;
    if let Some((p, (_, quoted))) = earlier {
        let quser = p["username"].as_str().unwrap_or("");
        cooked.push_str(&format!(
            "<aside class=\"quote no-group\" data-username=\"{quser}\" data-post=\"{n}\" data-topic=\"{tid}\">\n<div class=\"title\">\n<div class=\"quote-controls\"></div>\n<img loading=\"lazy\" alt=\"\" width=\"24\" height=\"24\" src=\"/letter_avatar_proxy/v4/letter/{c}/8c91f0/48.png\" class=\"avatar\"> {quser}:</div>\n<blockquote>\n<p>{q}</p>\n</blockquote>\n</aside>\n",
            n = p["post_number"],
            tid = t.id,
            c = quser.chars().next().unwrap_or('a'),
            q = esc(quoted),
        ));
        reply_to = p["post_number"].clone();
    }
    let rationale = s("rationale");
    for para in rationale.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let lines: Vec<String> = para.lines().map(|l| esc(l.trim())).collect();
        cooked.push_str(&format!("<p>{}</p>\n", lines.join("<br>\n")));
    }
    let first_sentence = rationale
        .split_inclusive(['.', '!', '?'])
        .next()
        .unwrap_or(&rationale)
        .trim()
        .to_owned();
    let post = json!({
        "id": post_id,
        "name": delegate,
        "username": user,
        "avatar_template": format!("/user_avatar/forum/{user}/{{size}}/1_2.png"),
        "created_at": created_at,
        "cooked": cooked.trim_end(),
        "post_number": post_number,
        "post_type": 1,
        "updated_at": created_at,
        "reply_count": 0,
        "reply_to_post_number": reply_to,
        "quote_count": i32::from(earlier.is_some()),
        "incoming_link_count": 0,
        "reads": 12,
        "score": 2.4,
        "yours": false,
        "topic_id": t.id,
        "topic_slug": t.slug,
        "display_username": delegate,
        "version": 1,
        "user_id": 1000 + post_id % 997,
        "hidden": false,
        "trust_level": 2,
        "deleted_at": null,
        "user_deleted": false,
        "wiki": false,
    });
    (post, (title, first_sentence))
}
