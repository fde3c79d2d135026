//! The desk's guard over real HTTP on 127.0.0.1 (token exchange, sessions, origin and host
//! checks), and the answer forms as rendered (nothing preselected).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::{Home, Passphrase};

/// A desk over a fresh store, served on a free 127.0.0.1 port until the test ends.
struct Served {
    addr: SocketAddr,
    token: String,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn served() -> Served {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::create(&dir.path().join("home")).expect("home");
    let store =
        Store::create(&home, &Passphrase::new("desk".to_owned()).expect("pass")).expect("store");
    let config = home.config_path();
    std::fs::write(&config, "# test\n").expect("config");
    let desk = Desk::with_config_file(store, config, serde_json::json!({}), None).expect("desk");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let url = desk.url(addr);
    let token = url.split("token=").nth(1).expect("token").to_owned();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(desk, listener, async {
        let _ = rx.await;
    }));
    Served {
        addr,
        token,
        _dir: dir,
        _stop: tx,
    }
}

/// One raw HTTP/1.1 request (the test picks every header, `Host` included): the status and the
/// whole answer.
async fn raw(addr: SocketAddr, head: &str, body: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text}"));
    (status, text)
}

/// The value of the `name=` cookie the answer sets.
fn set_cookie(answer: &str, name: &str) -> Option<String> {
    answer
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
}

fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    answer
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .map(str::trim)
}

/// Exchanges the token for a session: the cookie header to send, and the profile page's CSRF
/// token.
async fn login(d: &Served) -> (String, String) {
    let (status, answer) = raw(
        d.addr,
        &format!(
            "GET /profile?token={}&msg=hi HTTP/1.1\r\nHost: {}",
            d.token, d.addr
        ),
        "",
    )
    .await;
    // The exchange itself is checked below; here any answer that sets the cookie will do, so
    // the tests using it show the attack on a desk without the exchange too.
    assert!(matches!(status, 200 | 303), "{answer}");
    let sid = set_cookie(&answer, SESSION_COOKIE).unwrap_or_else(|| panic!("no session: {answer}"));
    let cookie = format!("{SESSION_COOKIE}={sid}");
    let (status, page) = raw(
        d.addr,
        &format!(
            "GET /profile HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}",
            d.addr
        ),
        "",
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let i = page.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    let csrf = page[i..i + page[i..].find('"').expect("end")].to_owned();
    (cookie, csrf)
}

/// A statement posted through the profile form with `extra` headers: the status, and whether
/// the statement reached the store.
async fn say_with(d: &Served, cookie: &str, csrf: &str, extra: &str, text: &str) -> (u16, bool) {
    let (status, answer) = raw(
        d.addr,
        &format!(
            "POST /profile/say HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded{extra}",
            d.addr
        ),
        &format!("csrf={csrf}&text={text}"),
    )
    .await;
    let (_, page) = raw(
        d.addr,
        &format!(
            "GET /profile HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}",
            d.addr
        ),
        "",
    )
    .await;
    let _ = answer;
    (status, page.contains(text))
}

/// The token is exchanged for a session id and leaves the URL: it is never a cookie, so a
/// browser cannot hand it to another server on 127.0.0.1.
#[tokio::test]
async fn token_is_exchanged_for_a_session_and_never_set_as_a_cookie() {
    let d = served().await;
    let (status, answer) = raw(
        d.addr,
        &format!(
            "GET /questions?token={}&msg=hi HTTP/1.1\r\nHost: {}",
            d.token, d.addr
        ),
        "",
    )
    .await;
    assert_eq!(status, 303, "{answer}");
    assert_eq!(header(&answer, "location"), Some("/questions?msg=hi"));
    assert!(
        !answer.contains(&d.token),
        "the token came back in the answer: {answer}"
    );
    let sid = set_cookie(&answer, SESSION_COOKIE).expect("session cookie");
    assert!(sid.len() >= 64, "{sid}");
    // The session opens the pages; the token as a cookie opens nothing.
    let get = |cookie: String| {
        let addr = d.addr;
        async move {
            raw(
                addr,
                &format!("GET /questions HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}"),
                "",
            )
            .await
            .0
        }
    };
    assert_eq!(get(format!("{SESSION_COOKIE}={sid}")).await, 200);
    assert_eq!(get(format!("{SESSION_COOKIE}={}", d.token)).await, 401);
    assert_eq!(get(format!("steward={}", d.token)).await, 401);
    // Another page's cookie of the same name does not hide the real one.
    assert_eq!(
        get(format!("{SESSION_COOKIE}=planted; {SESSION_COOKIE}={sid}")).await,
        200
    );
    // A wrong token is refused, and `//host` never becomes a redirect to another site.
    let (status, _) = raw(
        d.addr,
        &format!("GET /?token=wrong HTTP/1.1\r\nHost: {}", d.addr),
        "",
    )
    .await;
    assert_eq!(status, 401);
    let (_, answer) = raw(
        d.addr,
        &format!(
            "GET //evil.example?token={} HTTP/1.1\r\nHost: {}",
            d.token, d.addr
        ),
        "",
    )
    .await;
    assert_eq!(
        header(&answer, "location"),
        Some("/evil.example"),
        "{answer}"
    );
}

/// A client holding the session and the CSRF token but sending neither `Origin` nor
/// `Sec-Fetch-Site` (not a browser on the desk's page) cannot change anything; nor can a
/// cross-site one. The desk's own page (same-origin) can.
#[tokio::test]
async fn state_changes_need_the_desks_own_origin() {
    let d = served().await;
    let (cookie, csrf) = login(&d).await;
    let origin = format!("http://{}", d.addr);
    let cases: &[(&str, String, u16)] = &[
        ("no origin, no sec-fetch-site", String::new(), 403),
        (
            "cross-site",
            "\r\nSec-Fetch-Site: cross-site".to_owned(),
            403,
        ),
        (
            "same-site (another port)",
            "\r\nSec-Fetch-Site: same-site\r\nOrigin: http://127.0.0.1:1".to_owned(),
            403,
        ),
        (
            "foreign origin",
            "\r\nOrigin: http://127.0.0.1:1".to_owned(),
            403,
        ),
        (
            "same-origin with a foreign origin",
            "\r\nSec-Fetch-Site: same-origin\r\nOrigin: http://evil.example".to_owned(),
            403,
        ),
        ("own origin", format!("\r\nOrigin: {origin}"), 303),
        (
            "same-origin",
            format!("\r\nSec-Fetch-Site: same-origin\r\nOrigin: {origin}"),
            303,
        ),
    ];
    for (i, (what, extra, want)) in cases.iter().enumerate() {
        let text = format!("statement{i}");
        let (status, recorded) = say_with(&d, &cookie, &csrf, extra, &text).await;
        assert_eq!(status, *want, "{what}");
        assert_eq!(recorded, *want == 303, "{what}: recorded = {recorded}");
    }
    // Settings (casting on) are refused the same way.
    let (status, _) = raw(
        d.addr,
        &format!(
            "POST /settings HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded",
            d.addr
        ),
        &format!("csrf={csrf}&casting.enabled=on"),
    )
    .await;
    assert_eq!(status, 403);
}

/// Only this desk's exact address is a valid `Host`: not a look-alike name, not another port,
/// not another loopback address (DNS rebinding, other local servers).
#[tokio::test]
async fn host_header_must_be_this_desks_address() {
    let d = served().await;
    let (cookie, _) = login(&d).await;
    let port = d.addr.port();
    let other = if port == 65535 { 1 } else { port + 1 };
    let cases = [
        (format!("127.0.0.1:{port}"), 200),
        (format!("localhost:{port}"), 200),
        (format!("[::1]:{port}"), 200),
        (format!("127.0.0.1.evil:{port}"), 403),
        (format!("127.0.0.1:{other}"), 403),
        (format!("localhost.:{port}"), 403),
        (format!("localhost:{other}"), 403),
        (format!("127.0.0.2:{port}"), 403),
        (format!("[::1]:{other}"), 403),
        ("127.0.0.1".to_owned(), 403),
        (format!("evil.example:{port}"), 403),
        (format!("127.0.0.1:{port}@evil"), 403),
    ];
    for (host, want) in cases {
        let (status, answer) = raw(
            d.addr,
            &format!("GET /questions HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}"),
            "",
        )
        .await;
        assert_eq!(status, want, "Host: {host}\n{answer}");
    }
}

fn question_leaning_for() -> crate::questions::Question {
    crate::questions::Question {
        id: 7,
        decision_id: 3,
        proposal: "snapshot:desk.eth:0x1".into(),
        created: "2026-12-05".into(),
        deadline: None,
        status: "open".into(),
        answer: None,
        reason: None,
        context: crate::questions::QuestionContext {
            title: "Refresh the delegate registry metadata".into(),
            choices: vec!["For".into(), "Against".into(), "Abstain".into()],
            lean: Some("For".into()),
            lean_probability: 0.54,
            ..Default::default()
        },
    }
}

/// Issue 14: the agent leans For, and the answer form still preselects nothing.
#[test]
fn answer_form_preselects_no_choice_even_when_leaning_for() {
    let html = pages::question(&question_leaning_for(), "csrf", None);
    assert_eq!(html.matches("type=\"radio\"").count(), 3, "{html}");
    assert!(!html.contains("checked"), "{html}");
    assert!(!html.contains("selected"), "{html}");
}

/// Issue 14: the override form shows an empty, required placeholder first, so a browser selects
/// no real choice (a select with no `selected` option shows its first one).
#[test]
fn override_form_preselects_no_choice() {
    let d: steward_core::Decision = serde_json::from_value(serde_json::json!({
        "proposal": "snapshot:desk.eth:0x1", "title": "Refresh", "choice": "For",
        "choices": ["For", "Against", "Abstain"], "probabilities": [0.54, 0.3, 0.16],
        "confidence": 0.54, "importance": 0.9, "action": "ask", "rationale": "r",
        "evidence": [], "flags": [], "models": [], "seed": 1, "importance_reasons": []
    }))
    .expect("decision");
    let html = pages::decisions(&[(1, d)], "csrf", None);
    let i = html.find("<select name=\"choice\"").expect("select");
    let select = &html[i..i + html[i..].find("</select>").expect("end")];
    assert!(select.contains(" required"), "{select}");
    let first = select.find("<option").expect("option");
    assert!(
        select[first..].starts_with("<option value=\"\">"),
        "the first option must be the empty placeholder: {select}"
    );
    assert!(!select.contains("selected"), "{select}");
}

#[test]
fn the_questions_page_lists_the_digest_escaped() {
    let line = crate::digest::DigestLine {
        proposal: "snapshot:desk.eth:0x2".into(),
        title: "Grants <script>alert(1)</script>".into(),
        deadline: Some(1_800_000_000),
        why: crate::digest::Unasked::OverBudget,
        outcome: crate::digest::Outcome::Skipped,
        lean: Some("For".into()),
        confidence: 0.61,
        importance: 0.7,
        score: 0.4,
    };
    let html = pages::questions(&[], std::slice::from_ref(&line), None);
    assert!(html.contains("id=\"digest\""), "{html}");
    assert!(html.contains("over the question budget"), "{html}");
    assert!(html.contains("leaning For (61%)"), "{html}");
    assert!(!html.contains("<script>"), "{html}");
    // No digest, no section.
    assert!(!pages::questions(&[], &[], None).contains("id=\"digest\""));
}

/// The interview's answers are checked like the CLI's: a proposal the store does not hold is
/// refused with its key, a post without the session's CSRF token is forged; a desk without
/// the embedder says so instead of an empty interview.
#[tokio::test]
async fn interview_answers_are_checked_and_need_the_csrf_token() {
    let d = served().await;
    let (cookie, csrf) = login(&d).await;
    let post = |body: String| {
        let head = format!(
            "POST /profile/interview HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nSec-Fetch-Site: same-origin\r\nContent-Type: application/x-www-form-urlencoded",
            d.addr
        );
        async move { raw(d.addr, &head, &body).await }
    };
    let (status, answer) = post(format!(
        "csrf={csrf}&key0=snapshot%3Anone.eth%3A0x1&answer0=For"
    ))
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("snapshot:none.eth:0x1"), "{answer}");
    let (status, _) = post("csrf=wrong&key0=k&answer0=For".to_owned()).await;
    assert_eq!(status, 403);
    let (status, page) = raw(
        d.addr,
        &format!(
            "GET /profile/interview HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}",
            d.addr
        ),
        "",
    )
    .await;
    assert_eq!(status, 503, "{page}");
}

#[test]
fn the_interview_page_escapes_and_offers_every_choice() {
    let item = crate::interview::InterviewItem {
        proposal: "snapshot:x.eth:0x1".into(),
        title: "<b>Fees</b>".into(),
        dao: "x.eth".into(),
        summary: "Cuts fees.".into(),
        choices: vec!["For".into(), "Against".into(), "Abstain".into()],
        split: vec![("For".into(), 3), ("Against".into(), 1)],
        voters: 4,
        disagreement: 0.2,
        topic: None,
    };
    let html = pages::interview(std::slice::from_ref(&item), "csrf", None);
    assert!(!html.contains("<b>Fees</b>"), "{html}");
    assert_eq!(html.matches("type=\"radio\" name=\"answer0\"").count(), 3);
    assert!(
        html.contains("name=\"key0\" value=\"snapshot:x.eth:0x1\""),
        "{html}"
    );
    assert!(html.contains("For 75%, Against 25% of 4"), "{html}");
    assert!(!html.contains("checked"), "nothing is preselected: {html}");
}

#[test]
fn the_evaluation_page_shows_the_attention_curve_and_delegation() {
    let r = serde_json::json!({
        "mode": "replay", "n_test": 100, "n_voters": 3, "forced_accuracy": 0.9,
        "auto_accuracy": 0.95, "coverage": 0.7, "ece": 0.03,
        "baselines": { "always_for": 0.8, "voter_majority": 0.85,
                       "best_delegate": { "agreement": 0.61, "coverage": 0.7 },
                       "crowd_so_far": null },
        "ask_curve": [
            { "budget": 0.0, "asked": 0.0, "auto_accuracy": 0.95, "coverage": 0.7, "against_caught": 0.4, "forced_accuracy": 0.9 },
            { "budget": 0.1, "asked": 0.08, "auto_accuracy": 0.96, "coverage": 0.72, "against_caught": 0.5, "forced_accuracy": 0.91 }
        ]
    });
    let html = pages::evaluation(Some(&r));
    assert!(html.contains("id=\"attention\""), "{html}");
    assert_eq!(html.matches("<tr class=\"curve\">").count(), 2);
    assert!(html.contains("/plots/eval-attention.svg"));
    assert!(
        html.contains("the best delegate 0.610, the crowd so far -"),
        "{html}"
    );
    // Without a curve, no section.
    let mut plain = r.clone();
    plain["ask_curve"] = serde_json::json!([]);
    assert!(!pages::evaluation(Some(&plain)).contains("id=\"attention\""));
}
