//! The review desk: a small local web app where the agent asks, explains and is overruled.
//!
//! Served by axum on 127.0.0.1 (a non-loopback bind is refused unless `web.allow_remote`). The
//! random access token printed at start only ever travels in a URL: a `GET ...?token=` request
//! exchanges it for a fresh random session id, set as an HttpOnly SameSite=Strict cookie, and is
//! redirected to the same URL without the token. Browsers send a 127.0.0.1 cookie to every port,
//! so the cookie must never be the token (docs/web.md). Every other request needs a live session;
//! without one the answer is 401 with no data. The `Host` header must be exactly this desk's
//! address (`127.0.0.1:PORT`, `localhost:PORT` or `[::1]:PORT` for the bound port; DNS
//! rebinding and other local servers' names are refused). State-changing requests are POSTs that
//! must carry the session's CSRF token and come from the desk's own pages: `Sec-Fetch-Site:
//! same-origin` or an `Origin` equal to the desk's own, and never neither. Pages are rendered on
//! the server; the only asset (CSS) is embedded; plots are SVG drawn here. No JavaScript, no CDN.

mod bonds;
pub mod conversations;
mod daos;
mod judge;
mod market;
mod pages;
mod svg;
#[cfg(test)]
mod tests;
mod zk;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Extension;
use axum::Router;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::store::Store;
use crate::{Error, Result};

/// The `meta` key under which `steward eval votes --save` keeps its last report.
pub const EVAL_META_KEY: &str = "eval.last";

/// Called after an answer or override is recorded: casts the user's choice (or dry-runs it).
/// Returns a line for the page ("vote cast: tx 0x..", "dry run: casting is off").
pub type CastHook =
    Arc<dyn Fn(&mut Store, &str, &str) -> std::result::Result<String, String> + Send + Sync>;

/// What the server shares between requests.
#[derive(Clone)]
pub struct Desk {
    inner: Arc<Inner>,
}

struct Inner {
    store: Mutex<Store>,
    /// The access token: only in the printed URL, exchanged for a session, never a cookie.
    token: String,
    sessions: Mutex<Sessions>,
    /// The address the desk listens on; the only `Host` it answers to (set by `serve`/`url`).
    addr: OnceLock<SocketAddr>,
    settings: Mutex<serde_json::Value>,
    /// The home's config.toml, which the settings page edits (None: read-only).
    config_file: Option<std::path::PathBuf>,
    cast: Option<CastHook>,
    /// The governors the DAOs page reads (None: the page says none are configured).
    daos: Option<daos::DaoSources>,
    /// For the profile page's learned topics and leanings (None: items only).
    embedder: Option<Mutex<Box<dyn steward_ml::Embedder>>>,
    /// `[bonds]`: the Activity page shows held mail and the senders' scores.
    bonds: Option<bonds::BondDesk>,
    /// `[market]`: the Activity page lists the trades with their why and the caps left.
    market: Option<crate::market::Limits>,
    /// `[[market.markets]]`: each named market's own caps, and its address (lower case: the
    /// ledger sums a market's spend by it).
    markets: Vec<(crate::market::MarketCaps, String)>,
    /// `bonds.reply_on_answer`: answering a bonded mail's question refunds its bond.
    reply: Option<crate::bondreply::ReplyHook>,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Desk(<token redacted>)")
    }
}

fn random_hex(n: usize) -> Result<String> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| Error::Source {
        source_name: "web".into(),
        message: format!("no randomness for the access token: {e}"),
    })?;
    Ok(hex::encode(b))
}

impl Desk {
    /// A desk over `store`, with a fresh random token. `settings` is shown on the settings page.
    pub fn new(store: Store, settings: serde_json::Value, cast: Option<CastHook>) -> Result<Self> {
        Ok(Desk {
            inner: Arc::new(Inner {
                store: Mutex::new(store),
                token: random_hex(24)?,
                sessions: Mutex::new(Sessions::default()),
                addr: OnceLock::new(),
                settings: Mutex::new(settings),
                config_file: None,
                cast,
                daos: None,
                embedder: None,
                bonds: None,
                market: None,
                markets: Vec::new(),
                reply: None,
            }),
        })
    }

    /// Lets the settings page edit `config_file` (the home's config.toml).
    pub fn with_config_file(
        store: Store,
        config_file: std::path::PathBuf,
        settings: serde_json::Value,
        cast: Option<CastHook>,
    ) -> Result<Self> {
        let mut d = Self::new(store, settings, cast)?;
        if let Some(inner) = Arc::get_mut(&mut d.inner) {
            inner.config_file = Some(config_file);
        }
        Ok(d)
    }

    /// Lets the profile page show what was learned (topics, leanings, contradictions).
    #[must_use]
    pub fn with_embedder(mut self, embedder: Box<dyn steward_ml::Embedder>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.embedder = Some(Mutex::new(embedder));
        }
        self
    }

    /// Lets the DAOs page read the health of every governor `config` follows.
    pub fn with_daos(mut self, config: &crate::Config) -> Result<Self> {
        let sources = daos::DaoSources::from_config(config)?;
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.daos = Some(sources);
        }
        Ok(self)
    }

    /// Lets the Activity page read the senders' attention-bond scores from `config`'s escrow
    /// (held mail is shown whatever the config).
    pub fn with_bonds(mut self, config: &crate::Config) -> Result<Self> {
        let b = bonds::BondDesk::from_config(config)?;
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.bonds = b;
        }
        Ok(self)
    }

    /// Lets the Activity page explain the market trades against `config`'s caps (the section
    /// shows whenever `market.address` is set or the ledger holds trades).
    #[must_use]
    pub fn with_market(mut self, config: &crate::Config) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.market =
                Some(crate::market::Limits::of(config)).filter(|_| config.market.address.is_some());
            inner.markets = config
                .market
                .markets
                .iter()
                .filter_map(|m| {
                    let c = config.for_market(Some(&m.name)).ok()?;
                    Some((
                        crate::market::MarketCaps::of(&c),
                        m.address.to_ascii_lowercase(),
                    ))
                })
                .collect();
        }
        self
    }

    /// Lets an answer on the desk reply to the bond of the mail it is about
    /// (`bonds.reply_on_answer`, crate::bondreply).
    #[must_use]
    pub fn with_reply_hook(mut self, hook: crate::bondreply::ReplyHook) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.reply = Some(hook);
        }
        self
    }

    fn settings(&self) -> serde_json::Value {
        self.inner
            .settings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The URL to open, token included. Printed once at start; never logged. `addr` is the
    /// listener's address: from then on the desk answers only to that `Host`.
    pub fn url(&self, addr: SocketAddr) -> String {
        let _ = self.inner.addr.set(addr);
        format!("http://{addr}/?token={}", self.inner.token)
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic while holding the lock leaves the store usable: SQLite rolled back.
        self.inner.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The routes, behind the token and host checks.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(home))
            .route("/questions", get(questions))
            .route("/questions/{id}", get(question))
            .route("/questions/{id}/answer", post(answer))
            .route("/decisions", get(decisions))
            .route("/decisions/{key}/override", post(override_decision))
            .route("/proposals", get(proposals))
            .route("/profile", get(profile))
            .route("/profile/say", post(say))
            .route("/profile/forget", post(forget))
            .route(
                "/profile/interview",
                get(interview_page).post(interview_answers),
            )
            .route("/activity", get(activity))
            .route("/settings", get(settings).post(save_settings))
            .route("/evaluation", get(evaluation))
            .route("/daos", get(daos_page))
            .route("/conversations", get(conversations_index))
            .route("/conversations/{name}", get(conversation))
            .route("/conversations/{name}/views", post(save_views))
            .route("/plots/eval-reliability.svg", get(eval_reliability_svg))
            .route("/plots/eval-over-time.svg", get(eval_over_time_svg))
            .route("/plots/eval-attention.svg", get(eval_attention_svg))
            .route("/plots/decisions.svg", get(decisions_svg))
            .route("/plots/reliability.svg", get(reliability_svg))
            .route("/style.css", get(style))
            .layer(middleware::from_fn_with_state(self.clone(), guard))
            .with_state(self.clone())
    }
}

/// Refuses a bind address that is not loopback unless `allow_remote`.
pub fn check_bind(addr: SocketAddr, allow_remote: bool) -> Result<()> {
    if addr.ip().is_loopback() || allow_remote {
        Ok(())
    } else {
        Err(Error::ConfigValue {
            origin: "serve".into(),
            key: "web.bind".into(),
            message: format!(
                "{addr} is not a loopback address; the review desk shows your private profile, so set web.allow_remote = true only behind your own TLS and auth"
            ),
        })
    }
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    desk: Desk,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let _ = desk.inner.addr.set(listener.local_addr()?);
    axum::serve(listener, desk.router())
        .with_graceful_shutdown(shutdown)
        .await
}

/// The session cookie's name. Its value is a session id, never the access token.
const SESSION_COOKIE: &str = "steward_session";

/// Sessions kept at most; the oldest goes first (each exchange of the token makes one).
const MAX_SESSIONS: usize = 16;

/// Live sessions, keyed by the SHA-256 of the id: a lookup's timing says nothing of the ids.
#[derive(Default)]
struct Sessions {
    by_hash: HashMap<[u8; 32], Session>,
    order: VecDeque<[u8; 32]>,
}

/// What a session holds: the CSRF token its pages carry.
#[derive(Clone)]
struct Session {
    csrf: String,
}

fn session_hash(id: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(id.as_bytes()).into()
}

impl Desk {
    /// A new session: its id (for the cookie) and its CSRF token.
    fn new_session(&self) -> Result<String> {
        let id = random_hex(32)?;
        let session = Session {
            csrf: random_hex(24)?,
        };
        let mut s = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        while s.order.len() >= MAX_SESSIONS {
            if let Some(old) = s.order.pop_front() {
                s.by_hash.remove(&old);
            }
        }
        let h = session_hash(&id);
        s.by_hash.insert(h, session);
        s.order.push_back(h);
        Ok(id)
    }

    /// The session of any `steward_session` cookie the request carries (another local page can
    /// add a cookie of the same name, so each is tried).
    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let s = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        cookies(headers, SESSION_COOKIE).find_map(|id| s.by_hash.get(&session_hash(id)).cloned())
    }

    /// Whether `host` is exactly this desk's address, by one of its three loopback names.
    fn host_ok(&self, host: &str) -> bool {
        let Some(port) = self.inner.addr.get().map(SocketAddr::port) else {
            // Served without `serve` or `url`: the port is unknown, so no Host is ours.
            return false;
        };
        host.strip_suffix(&format!(":{port}"))
            .is_some_and(|name| matches!(name, "127.0.0.1" | "localhost" | "[::1]"))
    }
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The values of the cookies named `name`.
fn cookies<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |c| {
            c.trim()
                .split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v)
        })
}

/// The request's `Host` (HTTP/1) or authority (HTTP/2).
fn host(req: &Request) -> Option<&str> {
    match req.headers().get(header::HOST) {
        Some(h) => h.to_str().ok(),
        None => req.uri().authority().map(|a| a.as_str()),
    }
}

fn refuse(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

fn unauthorized() -> Response {
    refuse(
        StatusCode::UNAUTHORIZED,
        "unauthorized: open the URL `steward serve` printed (it carries the access token)",
    )
}

/// The request's URL without its `token` parameter (where the exchange redirects to).
fn without_token(uri: &axum::http::Uri) -> String {
    // `//host` would be a redirect to another site.
    let path = format!("/{}", uri.path().trim_start_matches('/'));
    let rest: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k != "token")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    if rest.is_empty() {
        path
    } else {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(rest)
            .finish();
        format!("{path}?{q}")
    }
}

/// Whether a state-changing request comes from the desk's own pages. Browsers send
/// `Sec-Fetch-Site` and `Origin` on every POST and a page cannot forge either; a request with
/// neither is not from a browser showing the desk, so it is refused too.
fn same_origin(headers: &HeaderMap, host: &str, allow_remote: bool) -> bool {
    let site = headers
        .get("sec-fetch-site")
        .map(|v| v.to_str().unwrap_or(""));
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or(""));
    let origin_ok =
        |o: &str| o == format!("http://{host}") || (allow_remote && o == format!("https://{host}"));
    match (site, origin) {
        (None, None) => false,
        (Some(s), o) => s == "same-origin" && o.is_none_or(origin_ok),
        (None, Some(o)) => origin_ok(o),
    }
}

async fn guard(State(desk): State<Desk>, req: Request, next: Next) -> Response {
    let resp = match admit(&desk, req) {
        Ok(req) => next.run(req).await,
        Err(resp) => resp,
    };
    harden(resp)
}

/// The checks every request passes: host, then the token exchange or a live session, then for
/// a state change its origin. `Err` is the answer to send instead of running the handler.
#[allow(clippy::result_large_err)] // the refusal is the response itself
fn admit(desk: &Desk, mut req: Request) -> std::result::Result<Request, Response> {
    let allow_remote = desk.settings()["web"]["allow_remote"]
        .as_bool()
        .unwrap_or(false);
    let host = host(&req).unwrap_or("").to_owned();
    if !allow_remote && !desk.host_ok(&host) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "forbidden: the Host header is not this desk's address (127.0.0.1, localhost or [::1] with its port)",
        ));
    }
    let query_token = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    });
    if let Some(t) = query_token {
        if !ct_eq(&t, &desk.inner.token) || !matches!(*req.method(), Method::GET | Method::HEAD) {
            return Err(unauthorized());
        }
        // The exchange: a fresh session in the cookie, and the token gone from the address bar.
        let id = desk.new_session().map_err(internal)?;
        let cookie = format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/");
        let mut resp = Redirect::to(&without_token(req.uri())).into_response();
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
        return Err(resp);
    }
    let Some(session) = desk.session(req.headers()) else {
        return Err(unauthorized());
    };
    if !matches!(*req.method(), Method::GET | Method::HEAD)
        && !same_origin(req.headers(), &host, allow_remote)
    {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "forbidden: a change must come from the desk's own pages (Sec-Fetch-Site: same-origin or this desk's Origin)",
        ));
    }
    req.extensions_mut().insert(session);
    Ok(req)
}

/// Headers on every answer, refusals included.
fn harden(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; img-src 'self' data:; style-src 'self'; form-action 'self'; frame-ancestors 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

fn csrf_ok(session: &Session, form: &HashMap<String, String>) -> bool {
    form.get("csrf").is_some_and(|c| ct_eq(c, &session.csrf))
}

fn forged() -> Response {
    (StatusCode::FORBIDDEN, Html(pages::message("Refused", "This form is not from this desk (missing or wrong CSRF token). Reload the page and try again."))).into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "review desk request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Html(pages::message("Error", &e.to_string())),
    )
        .into_response()
}

async fn daos_page(State(desk): State<Desk>) -> Response {
    let read = match &desk.inner.daos {
        Some(d) => d.read().await,
        None => Vec::new(),
    };
    Html(daos::render(&read)).into_response()
}

async fn home() -> Redirect {
    Redirect::to("/questions")
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css")], pages::CSS).into_response()
}

#[derive(serde::Deserialize)]
struct Flash {
    msg: Option<String>,
}

async fn questions(State(desk): State<Desk>, Query(f): Query<Flash>) -> Response {
    let now = jiff::Timestamp::now().as_second();
    let store = desk.store();
    let digest = match store.digest(now - 7 * 86_400) {
        Ok(d) => d,
        Err(e) => return internal(e),
    };
    match store.questions(true, now) {
        Ok(qs) => Html(pages::questions(&qs, &digest, f.msg.as_deref())).into_response(),
        Err(e) => internal(e),
    }
}

async fn question(
    State(desk): State<Desk>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Query(f): Query<Flash>,
) -> Response {
    let now = jiff::Timestamp::now().as_second();
    let store = desk.store();
    match store.question(&id) {
        Ok(Some(mut q)) => {
            if q.status == "open" && q.deadline.is_some_and(|d| d < now) {
                q.status = "expired".into();
            }
            Html(pages::question(&q, &session.csrf, f.msg.as_deref())).into_response()
        }
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Html(pages::message("Not found", &format!("No question {id}."))),
        )
            .into_response(),
        Err(e) => internal(e),
    }
}

async fn answer(
    State(desk): State<Desk>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !csrf_ok(&session, &form) {
        return forged();
    }
    let (choice, reason) = choice_and_reason(&form);
    let now = jiff::Timestamp::now().as_second();
    let mut store = desk.store();
    match crate::questions::answer(&mut store, &id, &choice, reason.as_deref(), now) {
        Ok(Ok(a)) => {
            let cast = cast_now(&desk, &mut store, &a);
            let bond = desk
                .inner
                .reply
                .as_ref()
                .and_then(|hook| hook(&mut store, &a.proposal))
                .map(|line| format!(" {line}"))
                .unwrap_or_default();
            let msg = format!("Answered {}. {cast}{bond}", a.choice);
            Redirect::to(&format!("/questions/{id}?msg={}", urlenc(&msg))).into_response()
        }
        // Already answered (another tab won), expired, or not a choice: a clear message.
        Ok(Err(e)) => (
            StatusCode::CONFLICT,
            Html(pages::message("Not recorded", &e.to_string())),
        )
            .into_response(),
        Err(e) => internal(e),
    }
}

/// The `choice` and the optional, trimmed `reason` of an answer or override form.
fn choice_and_reason(form: &HashMap<String, String>) -> (String, Option<String>) {
    let choice = form.get("choice").cloned().unwrap_or_default();
    let reason = form
        .get("reason")
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    (choice, reason)
}

/// Casts the user's recorded choice through the hook; a line for the page either way.
fn cast_now(desk: &Desk, store: &mut Store, a: &crate::questions::Answered) -> String {
    match &desk.inner.cast {
        Some(hook) => {
            hook(store, &a.proposal, &a.choice).unwrap_or_else(|e| format!("not cast: {e}"))
        }
        None => "recorded; `steward run` casts it".to_owned(),
    }
}

fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn decisions(
    State(desk): State<Desk>,
    Extension(session): Extension<Session>,
    Query(f): Query<Flash>,
) -> Response {
    let store = desk.store();
    match store.decisions(200) {
        Ok(ds) => Html(pages::decisions(&ds, &session.csrf, f.msg.as_deref())).into_response(),
        Err(e) => internal(e),
    }
}

async fn override_decision(
    State(desk): State<Desk>,
    Extension(session): Extension<Session>,
    Path(key): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !csrf_ok(&session, &form) {
        return forged();
    }
    let (choice, reason) = choice_and_reason(&form);
    let mut store = desk.store();
    match crate::questions::override_decision(&mut store, &key, &choice, reason.as_deref()) {
        Ok(Ok(a)) => {
            let cast = cast_now(&desk, &mut store, &a);
            let msg = format!("Overridden: {} on {}. {cast}", a.choice, a.proposal);
            Redirect::to(&format!("/decisions?msg={}", urlenc(&msg))).into_response()
        }
        Ok(Err(e)) => (
            StatusCode::CONFLICT,
            Html(pages::message("Not recorded", &e.to_string())),
        )
            .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Html(pages::message("Not recorded", &e.to_string())),
        )
            .into_response(),
    }
}

#[derive(serde::Deserialize)]
struct ProposalQuery {
    space: Option<String>,
    state: Option<String>,
    flag: Option<String>,
}

async fn proposals(State(desk): State<Desk>, Query(q): Query<ProposalQuery>) -> Response {
    let store = desk.store();
    let filter = crate::ProposalFilter {
        open_only: q.state.as_deref() == Some("open"),
        space: q.space.clone().filter(|s| !s.is_empty()),
        limit: Some(500),
    };
    match store.proposals(&filter) {
        Ok(ps) => {
            let ps: Vec<_> = ps
                .into_iter()
                .filter(|p| {
                    q.flag
                        .as_deref()
                        .filter(|f| !f.is_empty())
                        .is_none_or(|f| p.proposal.flags.iter().any(|x| x.kind == f))
                })
                .collect();
            Html(pages::proposals(
                &ps,
                q.space.as_deref(),
                q.state.as_deref(),
                q.flag.as_deref(),
            ))
            .into_response()
        }
        Err(e) => internal(e),
    }
}

async fn profile(
    State(desk): State<Desk>,
    Extension(session): Extension<Session>,
    Query(f): Query<Flash>,
) -> Response {
    let mut store = desk.store();
    let summary = match &desk.inner.embedder {
        Some(e) => {
            let mut e = e.lock().unwrap_or_else(|p| p.into_inner());
            match crate::profile::summarize(&mut store, &mut **e) {
                Ok(s) => Some(s),
                Err(err) => {
                    tracing::warn!(error = %err, "profile summary failed");
                    None
                }
            }
        }
        None => None,
    };
    let items = store.profile_items();
    let votes = store.profile_votes(true);
    let peers = store.peers();
    match (items, votes, peers) {
        (Ok(i), Ok(v), Ok(p)) => Html(pages::profile(
            &i,
            &v,
            &p,
            summary.as_ref(),
            &session.csrf,
            f.msg.as_deref(),
        ))
        .into_response(),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => internal(e),
    }
}

/// Items the desk's interview shows.
const INTERVIEW_ITEMS: usize = 8;

async fn interview_page(
    State(desk): State<Desk>,
    Extension(session): Extension<Session>,
    Query(f): Query<Flash>,
) -> Response {
    let Some(e) = &desk.inner.embedder else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(pages::message(
                "No interview",
                "The desk runs without the embedding model; `steward profile interview` asks on the terminal.",
            )),
        )
            .into_response();
    };
    let mut store = desk.store();
    let mut e = e.lock().unwrap_or_else(|p| p.into_inner());
    match crate::interview::questionnaire(&mut store, &mut **e, INTERVIEW_ITEMS) {
        Ok(items) => {
            Html(pages::interview(&items, &session.csrf, f.msg.as_deref())).into_response()
        }
        Err(crate::Error::Source { message, .. }) => (
            StatusCode::CONFLICT,
            Html(pages::message("No interview", &message)),
        )
            .into_response(),
        Err(e) => internal(e),
    }
}

async fn interview_answers(
    State(desk): State<Desk>,
    Extension(session): Extension<Session>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !csrf_ok(&session, &form) {
        return forged();
    }
    let answers: Vec<(String, String)> = (0..INTERVIEW_ITEMS)
        .filter_map(|i| {
            let key = form.get(&format!("key{i}"))?;
            let choice = form.get(&format!("answer{i}")).filter(|c| !c.is_empty())?;
            Some((key.clone(), choice.clone()))
        })
        .collect();
    let mut store = desk.store();
    match crate::interview::record_answers(&mut store, &answers) {
        Ok(n) => Redirect::to(&format!(
            "/profile/interview?msg={}",
            urlenc(&format!("{n} answer(s) recorded as your votes."))
        ))
        .into_response(),
        // A forged key or choice: nothing is recorded, and the page says which.
        Err(crate::Error::Source { message, .. }) => (
            StatusCode::BAD_REQUEST,
            Html(pages::message("Not recorded", &message)),
        )
            .into_response(),
        Err(e) => internal(e),
    }
}

async fn say(
    State(desk): State<Desk>,
    Extension(session): Extension<Session>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !csrf_ok(&session, &form) {
        return forged();
    }
    let text = form
        .get("text")
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    if text.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            Html(pages::message("Not recorded", "The statement is empty.")),
        )
            .into_response();
    }
    let mut store = desk.store();
    match store.transaction(|tx| {
        tx.add_profile_item(
            crate::profile::ItemKind::Statement,
            &text,
            "review desk",
            None,
        )
    }) {
        Ok(id) => Redirect::to(&format!(
            "/profile?msg={}",
            urlenc(&format!("Statement {id} recorded."))
        ))
        .into_response(),
        Err(e) => internal(e),
    }
}

async fn forget(
    State(desk): State<Desk>,
    Extension(session): Extension<Session>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !csrf_ok(&session, &form) {
        return forged();
    }
    let Some(id) = form.get("id").and_then(|i| i.parse::<i64>().ok()) else {
        return (
            StatusCode::BAD_REQUEST,
            Html(pages::message("Not recorded", "No item id.")),
        )
            .into_response();
    };
    let mut store = desk.store();
    match store.transaction(|tx| tx.forget_profile_item(id)) {
        Ok(true) => Redirect::to(&format!(
            "/profile?msg={}",
            urlenc(&format!("Item {id} forgotten."))
        ))
        .into_response(),
        Ok(false) => (
            StatusCode::CONFLICT,
            Html(pages::message(
                "Not recorded",
                &format!("No active item {id}."),
            )),
        )
            .into_response(),
        Err(e) => internal(e),
    }
}

async fn activity(State(desk): State<Desk>) -> Response {
    // The store's lock is not held across the chain read below.
    let (entries, verdict, held, trades, spent, judgements, markets, zk_groups, zk_signals) = {
        let store = desk.store();
        (
            store.audit_entries(Some(300)),
            store.verify_audit(),
            store.held_mail().map_err(|e| e.to_string()),
            store.market_trades(200).map_err(|e| e.to_string()),
            store.market_spent(jiff::Timestamp::now().as_second()).ok(),
            store.judgements().map_err(|e| e.to_string()),
            {
                let now = jiff::Timestamp::now().as_second();
                desk.inner
                    .markets
                    .iter()
                    .map(|(m, address)| {
                        let left = store.market_spent_in(address, now).ok().map(|s| m.left(s));
                        (m.clone(), left)
                    })
                    .collect::<Vec<_>>()
            },
            store.zk_groups().map_err(|e| e.to_string()),
            store.zk_signals(zk::MAX).map_err(|e| e.to_string()),
        )
    };
    let scores = match &desk.inner.bonds {
        Some(b) => Some(b.scores().await),
        None => None,
    };
    let mut extra = if desk.inner.bonds.is_some() || held.as_ref().is_ok_and(|h| !h.is_empty()) {
        bonds::section(&held, scores.as_ref())
    } else {
        String::new()
    };
    if desk.inner.market.is_some() || trades.as_ref().is_ok_and(|t| !t.is_empty()) {
        // No [market] config but trades in the ledger: the caps are shown as zero (trading off).
        let limits = desk.inner.market.unwrap_or(crate::market::Limits {
            budget: 0,
            daily_cap: 0,
        });
        extra.push_str(&market::section(
            &trades,
            limits,
            spent.map(|s| limits.left(s)),
            &markets,
        ));
    }
    if !judgements.as_ref().is_ok_and(Vec::is_empty) {
        extra.push_str(&judge::section(&judgements));
    }
    if !(zk_groups.as_ref().is_ok_and(Vec::is_empty)
        && zk_signals.as_ref().is_ok_and(Vec::is_empty))
    {
        extra.push_str(&zk::section(&zk_groups, &zk_signals));
    }
    match (entries, verdict) {
        (Ok(e), Ok(v)) => Html(pages::activity(&e, &v, &extra)).into_response(),
        (Err(e), _) | (_, Err(e)) => internal(e),
    }
}

async fn settings(
    State(desk): State<Desk>,
    Extension(session): Extension<Session>,
    Query(f): Query<Flash>,
) -> Response {
    Html(pages::settings(
        &desk.settings(),
        desk.inner.config_file.is_some(),
        &session.csrf,
        f.msg.as_deref(),
    ))
    .into_response()
}

/// The keys the settings page may change.
pub const EDITABLE: &[&str] = &[
    "decide.min_confidence_low",
    "decide.min_confidence_high",
    "decide.ask_importance",
    "decide.questions_per_round",
    "decide.questions_per_day",
    "decide.dissent_share",
    "casting.enabled",
    "casting.max_votes_per_day",
    "casting.max_value_per_day",
];

async fn save_settings(
    State(desk): State<Desk>,
    Extension(session): Extension<Session>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !csrf_ok(&session, &form) {
        return forged();
    }
    let Some(path) = desk.inner.config_file.clone() else {
        return (
            StatusCode::FORBIDDEN,
            Html(pages::message(
                "Read-only",
                "This desk cannot change settings.",
            )),
        )
            .into_response();
    };
    // Unchecked checkboxes are absent from a form.
    let mut values: Vec<(&str, String)> = Vec::new();
    for k in EDITABLE {
        let v = match (*k, form.get(*k)) {
            ("casting.enabled", v) => v.is_some_and(|v| v == "on" || v == "true").to_string(),
            (_, Some(v)) => v.trim().to_owned(),
            (_, None) => continue,
        };
        values.push((k, v));
    }
    match crate::config::edit_file(&path, &values) {
        Ok(cfg) => {
            if let Ok(v) = serde_json::to_value(&cfg) {
                *desk
                    .inner
                    .settings
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = v;
            }
            let mut store = desk.store();
            let keys: Vec<&str> = values.iter().map(|(k, _)| *k).collect();
            if let Err(e) = store.audit(&steward_core::AuditRecord::new("settings", path.display().to_string()).detail(serde_json::json!({ "changed": values.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>() }))) {
                return internal(e);
            }
            let msg = format!(
                "Saved {} in {}. Casting changes take effect when steward restarts.",
                keys.join(", "),
                path.display()
            );
            Redirect::to(&format!("/settings?msg={}", urlenc(&msg))).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Html(pages::message("Not saved", &e.to_string())),
        )
            .into_response(),
    }
}

async fn decisions_svg(State(desk): State<Desk>) -> Response {
    let store = desk.store();
    match store.decisions(1000) {
        Ok(ds) => (
            [(header::CONTENT_TYPE, "image/svg+xml")],
            svg::decisions_scatter(&ds),
        )
            .into_response(),
        Err(e) => internal(e),
    }
}

/// How the agent's leans fared against the user's own answers: confidence bins of the decisions
/// behind answered questions, and the share the user agreed with.
async fn reliability_svg(State(desk): State<Desk>) -> Response {
    let store = desk.store();
    let qs = match store.questions(true, 0) {
        Ok(q) => q,
        Err(e) => return internal(e),
    };
    let mut bins = vec![(0.0f64, 0usize, 0usize); 10];
    for q in qs.iter().filter(|q| q.status == "answered") {
        let Ok(Some(d)) = store.decision(q.decision_id) else {
            continue;
        };
        let i = ((d.confidence * 10.0) as usize).min(9);
        bins[i].0 += d.confidence;
        bins[i].2 += 1;
        if d.choice.is_some() && d.choice == q.answer {
            bins[i].1 += 1;
        }
    }
    let pts: Vec<(f64, f64, usize)> = bins
        .iter()
        .filter(|b| b.2 > 0)
        .map(|(c, k, n)| (c / *n as f64, *k as f64 / *n as f64, *n))
        .collect();
    (
        [(header::CONTENT_TYPE, "image/svg+xml")],
        svg::reliability(&pts),
    )
        .into_response()
}

fn saved_eval(desk: &Desk) -> Result<Option<serde_json::Value>> {
    let store = desk.store();
    Ok(store
        .meta(EVAL_META_KEY)?
        .and_then(|j| serde_json::from_str(&j).ok()))
}

async fn evaluation(State(desk): State<Desk>) -> Response {
    match saved_eval(&desk) {
        Ok(r) => Html(pages::evaluation(r.as_ref())).into_response(),
        Err(e) => internal(e),
    }
}

/// The rows of array `field` of the saved eval report (empty without a report).
fn saved_rows(desk: &Desk, field: &str) -> Result<Vec<serde_json::Value>> {
    Ok(saved_eval(desk)?
        .and_then(|r| r[field].as_array().cloned())
        .unwrap_or_default())
}

fn svg_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml")], body).into_response()
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn count(v: &serde_json::Value) -> usize {
    usize::try_from(v.as_u64().unwrap_or(0)).unwrap_or(0)
}

async fn eval_reliability_svg(State(desk): State<Desk>) -> Response {
    match saved_rows(&desk, "reliability") {
        Ok(rows) => svg_response(svg::reliability(
            &rows
                .iter()
                .map(|b| (num(&b["confidence"]), num(&b["accuracy"]), count(&b["n"])))
                .collect::<Vec<_>>(),
        )),
        Err(e) => internal(e),
    }
}

async fn eval_over_time_svg(State(desk): State<Desk>) -> Response {
    match saved_rows(&desk, "over_time") {
        Ok(rows) => svg_response(svg::over_time(
            &rows
                .iter()
                .map(|s| (num(&s["accuracy"]), count(&s["n"])))
                .collect::<Vec<_>>(),
        )),
        Err(e) => internal(e),
    }
}

async fn eval_attention_svg(State(desk): State<Desk>) -> Response {
    match saved_rows(&desk, "ask_curve") {
        Ok(rows) => svg_response(svg::attention_curve(
            &rows
                .iter()
                .map(|p| {
                    (
                        num(&p["asked"]),
                        num(&p["auto_accuracy"]),
                        num(&p["coverage"]),
                        num(&p["against_caught"]),
                    )
                })
                .collect::<Vec<_>>(),
        )),
        Err(e) => internal(e),
    }
}

async fn conversations_index(State(desk): State<Desk>) -> Response {
    let store = desk.store();
    match conversations::list(&store) {
        Ok(cs) => Html(conversations::index_page(&cs)).into_response(),
        Err(e) => internal(e),
    }
}

async fn conversation(
    State(desk): State<Desk>,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Query(f): Query<Flash>,
) -> Response {
    let store = desk.store();
    // A name that could not have been saved is simply not there.
    let found = match conversations::check_name(&name) {
        Ok(()) => conversations::load(&store, &name),
        Err(_) => Ok(None),
    };
    // The user's last saved views draft (already through the privacy filter), shown beside.
    let views = store.meta(crate::views::DRAFT_META_KEY).ok().flatten();
    match found {
        Ok(Some(c)) => Html(conversations::conversation_page_with_form(
            &c,
            views.as_deref(),
            Some(&session.csrf),
            f.msg.as_deref(),
        ))
        .into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Html(pages::message(
                "Not found",
                &format!("No conversation {name} saved."),
            )),
        )
            .into_response(),
        Err(e) => internal(e),
    }
}

/// Saves the user's edit of the views draft, after the privacy filter finds nothing private in
/// it; otherwise nothing is kept and the page says which lines hold something private (never
/// what: the message is shown and may be logged).
async fn save_views(
    State(desk): State<Desk>,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !csrf_ok(&session, &form) {
        return forged();
    }
    if conversations::check_name(&name).is_err() {
        return (
            StatusCode::NOT_FOUND,
            Html(pages::message("Not found", "No such conversation.")),
        )
            .into_response();
    }
    // Browsers send a textarea's lines with CRLF.
    let text = form
        .get("views")
        .map(|t| t.replace("\r\n", "\n"))
        .unwrap_or_default();
    let back = |msg: &str| {
        Redirect::to(&format!("/conversations/{name}?msg={}", urlenc(msg))).into_response()
    };
    if text.trim().is_empty() {
        return back("The draft is empty: not saved.");
    }
    let mut store = desk.store();
    match crate::views::private_lines(&store, &text) {
        Ok((lines, items)) if items > 0 => {
            let at = if lines.is_empty() {
                "across lines".to_owned()
            } else {
                format!(
                    "line(s) {}",
                    lines
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            back(&format!(
                "Not saved: {items} private item(s) in the edit ({at}). Edit them out and save again."
            ))
        }
        Ok(_) => match store.transaction(|tx| tx.set_meta(crate::views::DRAFT_META_KEY, &text)) {
            Ok(()) => back("Saved your edit of the draft."),
            Err(e) => internal(e),
        },
        Err(e) => internal(e),
    }
}
