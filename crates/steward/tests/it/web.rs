//! The review desk in a real Chromium (Debian `chromium` + `chromium-driver`, driven over the
//! W3C WebDriver protocol): refused without the token, open with it, answer a question, a second
//! tab told it lost, override a decision, see the audit entries. Skips, saying why, when
//! chromium, chromedriver or the models are missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{PASS, json, models_present, run, snapshot_json, steward, temp_home};

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([
            PathBuf::from("/usr/bin"),
            PathBuf::from("/usr/lib/chromium"),
        ])
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A WebDriver session on a chromedriver child.
struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    _driver: Killed,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start(chromedriver: &Path, chromium: &Path) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let driver = Killed(
            Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn chromedriver"),
        );
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let v: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_owned();
        Browser {
            http,
            base,
            session,
            _driver: driver,
            _profile: profile,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method.clone(), &url);
        if method == reqwest::Method::POST {
            req = req.json(&body);
        }
        let v: Value = req
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("json");
        if v["value"].get("error").is_some() {
            panic!("webdriver {path}: {v}");
        }
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The page source once it contains `needle` (navigation after a click is asynchronous),
    /// or the last source after 10 s.
    async fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.source().await;
            if s.contains(needle) || Instant::now() > deadline {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn element(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_owned()
    }

    async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            json!({}),
        )
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    async fn clear(&self, css: &str) {
        let e = self.element(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/clear"),
            json!({}),
        )
        .await;
    }

    /// Whether a radio, checkbox or option is selected (WebDriver "Is Element Selected").
    async fn selected(&self, css: &str) -> bool {
        let e = self.element(css).await;
        self.cmd(
            reqwest::Method::GET,
            &format!("/element/{e}/selected"),
            Value::Null,
        )
        .await
        .as_bool()
        .unwrap_or_else(|| panic!("no selectedness for {css}"))
    }

    async fn new_tab(&self) -> String {
        let v = self
            .cmd(reqwest::Method::POST, "/window/new", json!({"type": "tab"}))
            .await;
        v["handle"].as_str().expect("handle").to_owned()
    }

    async fn current_tab(&self) -> String {
        self.cmd(reqwest::Method::GET, "/window", Value::Null)
            .await
            .as_str()
            .expect("handle")
            .to_owned()
    }

    async fn switch(&self, handle: &str) {
        self.cmd(
            reqwest::Method::POST,
            "/window",
            json!({ "handle": handle }),
        )
        .await;
    }

    async fn quit(&self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_desk_in_chromium() {
    let (Some(chromium), Some(chromedriver)) = (find(&["chromium"]), find(&["chromedriver"]))
    else {
        steward_testing::skip(
            steward_testing::Need::Chromium,
            "review_desk_in_chromium",
            "chromium or chromedriver is not on PATH",
        );
        return;
    };
    if !models_present("review_desk_in_chromium") {
        return;
    }
    let (dir, home) = temp_home();
    let st = |args: &[&str]| {
        let mut c = steward(&home);
        c.env("STEWARD_PASSPHRASE", PASS).args(args);
        run(&mut c)
    };
    assert_eq!(st(&["init"]).0, 0);
    let file = dir.path().join("p.jsonl");
    let mk = |id: &str, title: &str, body: &str| snapshot_json("desk.eth", id, title, body);
    std::fs::write(
        &file,
        [
            mk(
                "0xq1",
                "Pay 90,000 USDC for a conference party",
                "A party at the conference. <script>alert(1)</script>",
            ),
            mk("0xq2", "Fund security audits of the bridge", "Two audits."),
        ]
        .join("\n"),
    )
    .expect("write");
    assert_eq!(st(&["ingest", "file", file.to_str().expect("utf8")]).0, 0);
    assert_eq!(
        st(&["profile", "say", "I support security audits of the bridge"]).0,
        0
    );
    let (code, _, err) = st(&["run", "--no-llm"]);
    assert_eq!(code, 0, "{err}");
    // An evaluation on the real delegate votes, kept for the desk.
    let votes = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/arbitrum-snapshot-delegates/votes.csv"
    );
    let have_eval = std::path::Path::new(votes).is_file();
    if have_eval {
        let (code, _, err) = st(&["eval", "votes", "--train", votes, "--save"]);
        assert_eq!(code, 0, "{err}");
    } else {
        steward_testing::skip(
            steward_testing::Need::Data,
            "the evaluation page's figures",
            format_args!("{votes} is absent"),
        );
    }

    let (child, url) = serve_desk(&home);
    let base = url.split("/?token=").next().expect("base").to_owned();

    let b = Browser::start(&chromedriver, &chromium).await;
    // Without the token: refused, and no data in the answer.
    b.goto(&format!("{base}/questions")).await;
    let page = b.source().await;
    assert!(page.contains("unauthorized"), "{page}");
    assert!(
        !page.contains("conference party"),
        "data leaked without a token"
    );
    // With it: the questions page.
    b.goto(&url).await;
    let page = b.source().await;
    assert!(page.contains("conference party"), "{page}");
    assert!(
        !page.contains("<script>alert"),
        "proposal text must be escaped"
    );

    // Two tabs on the same question; the first answer wins, the second is told.
    b.click(".question a").await;
    let first = b.current_tab().await;
    let q_url = format!("{base}{}", {
        let src = b.source().await;
        let i = src.find("action=\"").expect("form") + 8;
        let j = src[i..].find('"').expect("end") + i;
        src[i..j].trim_end_matches("/answer").to_owned()
    });
    let second = b.new_tab().await;
    b.switch(&second).await;
    b.goto(&q_url).await;
    b.switch(&first).await;
    // Nothing is preselected, whatever the agent leans to (issue 14).
    for i in 0..3 {
        assert!(
            !b.selected(&format!("#choice-{i}")).await,
            "choice {i} is preselected"
        );
    }
    b.click("#choice-1").await;
    b.type_into("#reason", "parties are not public goods").await;
    b.click("#submit").await;
    let page = b.wait_for("Answered Against").await;
    assert!(page.contains("Answered Against"), "{page}");
    b.switch(&second).await;
    b.click("#choice-0").await;
    b.click("#submit").await;
    let page = b.wait_for("already answered").await;
    assert!(page.contains("already answered"), "{page}");

    // Override a decision from the decisions page.
    b.switch(&first).await;
    b.goto(&format!("{base}/decisions")).await;
    for choice in ["For", "Against", "Abstain"] {
        assert!(
            !b.selected(&format!("form.override option[value='{choice}']"))
                .await,
            "override preselects {choice}"
        );
    }
    b.click("form.override option[value='For']").await;
    b.click("form.override button").await;
    let page = b.wait_for("Overridden").await;
    assert!(page.contains("Overridden"), "{page}");

    // The audit log shows the answer and the override, and verifies.
    b.goto(&format!("{base}/activity")).await;
    let page = b.source().await;
    assert!(page.contains("Audit log verified"), "{page}");
    assert!(
        page.contains(">answer<") && page.contains(">override<"),
        "{page}"
    );

    // The profile page shows what was learned, with the evidence.
    b.goto(&format!("{base}/profile")).await;
    let page = b.source().await;
    assert!(
        page.contains("What I learned") && page.contains("security"),
        "{page}"
    );

    // The evaluation page: the saved report's figures and its two plots.
    b.goto(&format!("{base}/evaluation")).await;
    let page = b.source().await;
    if have_eval {
        assert!(
            page.contains("forced accuracy") && page.contains("3673"),
            "{page}"
        );
        b.goto(&format!("{base}/plots/eval-over-time.svg")).await;
        let svg = b.source().await;
        assert!(
            svg.contains("Agreement over time") && svg.contains("circle"),
            "{svg}"
        );
    } else {
        assert!(page.contains("No evaluation saved yet"), "{page}");
    }

    // Settings: a bad value is refused and nothing is written; a good one lands in config.toml
    // with the file's comments kept.
    let config_file = home.join("config.toml");
    let before = std::fs::read_to_string(&config_file).expect("config");
    b.goto(&format!("{base}/settings")).await;
    b.clear("input[name='decide.ask_importance']").await;
    b.type_into("input[name='decide.ask_importance']", "2")
        .await;
    b.click("#save").await;
    let page = b.wait_for("Not saved").await;
    assert!(page.contains("between 0 and 1"), "{page}");
    assert_eq!(
        std::fs::read_to_string(&config_file).expect("config"),
        before
    );
    b.goto(&format!("{base}/settings")).await;
    b.clear("input[name='decide.ask_importance']").await;
    b.type_into("input[name='decide.ask_importance']", "0.55")
        .await;
    b.clear("input[name='decide.questions_per_round']").await;
    b.type_into("input[name='decide.questions_per_round']", "4")
        .await;
    b.clear("input[name='decide.dissent_share']").await;
    b.type_into("input[name='decide.dissent_share']", "0.3")
        .await;
    b.click("#save").await;
    let page = b.wait_for("Saved").await;
    assert!(page.contains("Saved"), "{page}");
    let after = std::fs::read_to_string(&config_file).expect("config");
    assert!(after.contains("ask_importance = 0.55"), "{after}");
    assert!(after.contains("questions_per_round = 4"), "{after}");
    assert!(after.contains("dissent_share = 0.3"), "{after}");
    assert!(
        after.contains("# Steward configuration"),
        "comments lost:\n{after}"
    );
    let (code, out, _) = st(&["--json", "config"]);
    assert_eq!(code, 0);
    assert_eq!(
        json(&out)["data"]["decide"]["ask_importance"],
        0.55,
        "{out}"
    );
    b.quit().await;

    // A forged POST (no CSRF token) from a client holding a session is refused, even when it
    // claims to come from the desk's own page.
    let token = url.split("token=").nth(1).expect("token");
    let cookie = session_cookie(&base, token).await;
    let r = reqwest::Client::new()
        .post(format!("{base}/profile/say"))
        .header("Cookie", &cookie)
        .header("Sec-Fetch-Site", "same-origin")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("text=I+support+everything")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
    // And a cross-origin one with the right CSRF but a foreign Origin.
    let r = reqwest::Client::new()
        .post(format!("{base}/profile/say"))
        .header("Cookie", &cookie)
        .header("Origin", "http://evil.example")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("text=x&csrf=whatever")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
    drop(child);
}

/// `steward serve` on a free 127.0.0.1 port over `home`: the child and the URL it printed.
pub(crate) fn serve_desk(home: &Path) -> (Killed, String) {
    let mut serve = steward(home);
    serve.env("STEWARD_PASSPHRASE", PASS);
    serve_desk_with(serve)
}

/// [`serve_desk`] from a command already set up (its home, environment, config overrides).
pub(crate) fn serve_desk_with(mut serve: std::process::Command) -> (Killed, String) {
    serve
        .args(["--json", "serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Killed(serve.spawn().expect("serve"));
    // The envelope is pretty-printed: read lines until they parse.
    let mut reader = BufReader::new(child.0.stdout.take().expect("stdout"));
    let mut text = String::new();
    let envelope: Value = loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "serve printed: {text}"
        );
        text.push_str(&line);
        if let Ok(v) = serde_json::from_str(&text) {
            break v;
        }
    };
    let url = envelope["data"]["url"].as_str().expect("url").to_owned();
    (child, url)
}

/// GET `path` (e.g. `/activity`) on a desk [`serve_desk`] started, as a client that exchanged
/// the token URL it printed for a session: the page's HTML.
pub(crate) fn desk_page(rt: &tokio::runtime::Runtime, url: &str, path: &str) -> String {
    let (base, token) = url.split_once("/?token=").expect("token url");
    rt.block_on(async {
        let cookie = session_cookie(base, token).await;
        reqwest::Client::new()
            .get(format!("{base}{path}"))
            .header("Cookie", cookie)
            .send()
            .await
            .expect(path)
            .text()
            .await
            .expect("body")
    })
}

/// Exchanges the access token for a session as a client would: the `Cookie` header to send.
pub(crate) async fn session_cookie(base: &str, token: &str) -> String {
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{base}/?token={token}"))
        .send()
        .await
        .expect("exchange");
    let set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("steward_session="))
        .unwrap_or_else(|| panic!("no session cookie: {:?}", r.headers()))
        .to_owned();
    set.split(';').next().unwrap_or("").to_owned()
}

/// A plain HTTP server on another 127.0.0.1 port that records the head of every request it
/// gets (as any other local web app the user visits would see it).
struct Recorder {
    port: u16,
    heads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Recorder {
    fn start() -> Recorder {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = heads.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                seen.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(String::from_utf8_lossy(&head).into_owned());
                let body = "<html><body>another local app</body></html>";
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Recorder { port, heads }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Issue 21 item 2, the audit's attack: open the desk, then any other page on 127.0.0.1. The
/// other server must not receive the access token (browsers send 127.0.0.1 cookies to every
/// port); the session id it may receive, sent without `Origin`/`Sec-Fetch-Site` as a non-browser
/// client would, cannot answer a question (cast a vote) or turn casting on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_token_never_reaches_another_local_server() {
    let (Some(chromium), Some(chromedriver)) = (find(&["chromium"]), find(&["chromedriver"]))
    else {
        steward_testing::skip(
            steward_testing::Need::Chromium,
            "desk_token_never_reaches_another_local_server",
            "chromium or chromedriver is not on PATH",
        );
        return;
    };
    if !models_present("desk_token_never_reaches_another_local_server") {
        return;
    }
    let (dir, home) = temp_home();
    let st = |args: &[&str]| {
        let mut c = steward(&home);
        c.env("STEWARD_PASSPHRASE", PASS).args(args);
        run(&mut c)
    };
    assert_eq!(st(&["init"]).0, 0);
    let file = dir.path().join("p.jsonl");
    std::fs::write(
        &file,
        snapshot_json(
            "desk.eth",
            "0xq1",
            "Pay 90,000 USDC for a conference party",
            "A party.",
        ),
    )
    .expect("write");
    assert_eq!(st(&["ingest", "file", file.to_str().expect("utf8")]).0, 0);
    let (code, _, err) = st(&["run", "--no-llm"]);
    assert_eq!(code, 0, "{err}");
    let config_before = std::fs::read_to_string(home.join("config.toml")).expect("config");

    let (_child, url) = serve_desk(&home);
    let base = url.split("/?token=").next().expect("base").to_owned();
    let token = url.split("token=").nth(1).expect("token").to_owned();
    let other = Recorder::start();

    let b = Browser::start(&chromedriver, &chromium).await;
    b.goto(&url).await;
    let page = b.wait_for("conference party").await;
    assert!(page.contains("conference party"), "{page}");
    let i = page.find("href=\"/questions/").expect("question link") + 6;
    let q_path = page[i..i + page[i..].find('"').expect("end")].to_owned();
    b.goto(&format!("{base}{q_path}")).await;
    assert!(b.source().await.contains("id=\"answer\""));
    // The browser's address bar no longer holds the token.
    let here = b
        .cmd(reqwest::Method::GET, "/url", Value::Null)
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!here.contains(&token), "{here}");

    // Now the user opens another local app.
    b.goto(&format!("http://127.0.0.1:{}/anything", other.port))
        .await;
    let page = b.wait_for("another local app").await;
    assert!(page.contains("another local app"), "{page}");
    b.quit().await;
    let heads = other.heads();
    assert!(!heads.is_empty(), "the other server saw no request");
    for h in &heads {
        assert!(
            !h.contains(&token),
            "the access token reached another server on 127.0.0.1:\n{h}"
        );
    }

    // What that server got (the session id, if the browser sent it; otherwise one of ours):
    // without Origin or Sec-Fetch-Site it reads a page but changes nothing.
    let leaked = heads.iter().find_map(|h| {
        h.lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"))
            .flat_map(|(_, v)| v.split(';'))
            .map(str::trim)
            .find(|c| c.starts_with("steward_session="))
            .map(str::to_owned)
    });
    eprintln!(
        "the other server received the session cookie: {}",
        leaked.is_some()
    );
    let cookie = match leaked {
        Some(c) => c,
        None => session_cookie(&base, &token).await,
    };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let q_page = http
        .get(format!("{base}{q_path}"))
        .header("Cookie", &cookie)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    let i = q_page.find("name=\"csrf\" value=\"").expect("csrf") + 19;
    let csrf = &q_page[i..i + q_page[i..].find('"').expect("end")];
    let post = |path: String, body: String| {
        let http = http.clone();
        let cookie = cookie.clone();
        async move {
            http.post(path)
                .header("Cookie", cookie)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("post")
                .status()
        }
    };
    let status = post(
        format!("{base}{q_path}/answer"),
        format!("csrf={csrf}&choice=For"),
    )
    .await;
    assert_eq!(status, 403, "an answer (a vote) was accepted");
    let status = post(
        format!("{base}/settings"),
        format!("csrf={csrf}&casting.enabled=on"),
    )
    .await;
    assert_eq!(status, 403, "casting was turned on");
    // Nothing changed: the question is still open, config.toml untouched.
    let q_page = http
        .get(format!("{base}{q_path}"))
        .header("Cookie", &cookie)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(q_page.contains("id=\"answer\""), "{q_page}");
    assert_eq!(
        std::fs::read_to_string(home.join("config.toml")).expect("config"),
        config_before
    );
}

/// The demo's desk: answering the hidden-drain question in the browser casts the vote on the
/// demo's anvil Governor at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_on_the_desk_casts_on_the_anvil_governor() {
    let (Some(chromium), Some(chromedriver)) = (find(&["chromium"]), find(&["chromedriver"]))
    else {
        steward_testing::skip(
            steward_testing::Need::Chromium,
            "answering_on_the_desk",
            "chromium or chromedriver is not on PATH",
        );
        return;
    };
    if !models_present("answering_on_the_desk") {
        return;
    }
    if let Err(why) = steward_eth::testkit::Tools::detect() {
        steward_testing::skip(steward_testing::Need::Anvil, "answering_on_the_desk", why);
        return;
    }
    let (_dir, home) = temp_home();
    let mut demo = steward(&home);
    demo.env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_WEB_BIND", "127.0.0.1:0")
        .args(["--json", "demo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Killed(demo.spawn().expect("demo"));
    let mut reader = BufReader::new(child.0.stdout.take().expect("stdout"));
    let mut text = String::new();
    let story: Value = loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "demo printed: {text}"
        );
        text.push_str(&line);
        if let Ok(v) = serde_json::from_str(&text) {
            break v;
        }
    };
    let url = loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "no desk URL"
        );
        if let Some(u) = line.trim().strip_prefix("Review desk: ") {
            break u.to_owned();
        }
    };
    let base = url.split("/?token=").next().expect("base").to_owned();
    let governor: steward_core::Address = story["data"]["governor"]
        .as_str()
        .expect("governor")
        .parse()
        .expect("address");
    let persona: steward_core::Address = story["data"]["persona"]
        .as_str()
        .expect("persona")
        .parse()
        .expect("address");
    let drain = story["data"]["on_chain"]
        .as_array()
        .expect("on_chain")
        .iter()
        .find(|c| {
            c["title"]
                .as_str()
                .is_some_and(|t| t.contains("delegate registry"))
        })
        .expect("drain proposal")["proposal_id"]
        .as_str()
        .expect("id")
        .parse::<steward_core::U256>()
        .expect("u256");
    let anvil: reqwest::Url = story["data"]["anvil"]
        .as_str()
        .expect("anvil")
        .parse()
        .expect("url");
    let rpc = steward_eth::Rpc::new(anvil).expect("rpc");
    let gov = steward_eth::GovernorCaster::new(rpc, governor);
    assert!(!gov.has_voted(drain, persona).await.expect("hasVoted"));

    let b = Browser::start(&chromedriver, &chromium).await;
    b.goto(&url).await;
    let page = b.wait_for("delegate registry").await;
    assert!(page.contains("delegate registry"), "{page}");
    // Open the drain's question: its flags say what the text hides.
    let i = page
        .find("Refresh the delegate registry")
        .expect("question link");
    let href_start = page[..i].rfind("href=\"").expect("href") + 6;
    let href_end = page[href_start..].find('"').expect("end") + href_start;
    b.goto(&format!("{base}{}", &page[href_start..href_end]))
        .await;
    let page = b.source().await;
    assert!(
        page.contains("flag-critical") && page.contains("mismatch"),
        "{page}"
    );
    b.click("#choice-1").await;
    b.click("#submit").await;
    let page = b.wait_for("Answered Against").await;
    assert!(page.contains("cast on chain"), "{page}");
    // The DAOs page reads the demo's Governor live (issue 16 item 6): settings, turnout and the
    // cost of an attack, nothing it could not read.
    b.goto(&format!("{base}/daos")).await;
    let page = b.source().await;
    assert!(
        page.contains("quorum") && page.contains("cost of an attack"),
        "{page}"
    );
    assert!(!page.contains("could not be read"), "{page}");
    b.quit().await;
    assert!(
        gov.has_voted(drain, persona).await.expect("hasVoted"),
        "not on chain"
    );
    // Ctrl-C stops the demo cleanly, and its anvil with it.
    let pid = child.0.id().to_string();
    let status = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "the demo did not stop on Ctrl-C");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "{exit}");
    assert!(
        gov.has_voted(drain, persona).await.is_err(),
        "anvil still answers after Ctrl-C"
    );
}

/// Issue 18: a real conversation saved with `consensus polis --save --me` on the desk's
/// Conversations page: one dot per clustered participant, the user ringed, every group's
/// representative statements, and a planted `<script>` statement shown as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_map_in_chromium() {
    let (Some(chromium), Some(chromedriver)) = (find(&["chromium"]), find(&["chromedriver"]))
    else {
        steward_testing::skip(
            steward_testing::Need::Chromium,
            "conversation_map_in_chromium",
            "chromium or chromedriver is not on PATH",
        );
        return;
    };
    let src = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/polis-math-reference/50ptpt-3gp-strict-no-meta"
    ));
    if !src.is_dir() {
        steward_testing::skip(
            steward_testing::Need::Data,
            "conversation_map_in_chromium",
            format_args!("{} is absent", src.display()),
        );
        return;
    }
    let (dir, home) = temp_home();
    let st = |args: &[&str]| {
        let mut c = steward(&home);
        c.env("STEWARD_PASSPHRASE", PASS).args(args);
        run(&mut c)
    };
    assert_eq!(st(&["init"]).0, 0);
    // The analysis of the real conversation says which statement represents group 0: plant a
    // script in its text (only the text changes, so the analysis stays the same).
    let (code, out, err) = st(&["--json", "consensus", "polis", src.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");
    let before = json(&out);
    let planted = before["data"]["repness"]["0"][0]["tid"]
        .as_u64()
        .expect("group 0 has a representative statement");
    let conv = dir.path().join("conv");
    std::fs::create_dir(&conv).expect("mkdir");
    std::fs::copy(src.join("votes.json"), conv.join("votes.json")).expect("copy votes");
    let mut comments: Value = serde_json::from_str(
        &std::fs::read_to_string(src.join("comments.json")).expect("comments"),
    )
    .expect("comments json");
    let mut texts = std::collections::BTreeMap::new();
    for c in comments.as_array_mut().expect("array") {
        let tid = c["statement_id"]
            .as_u64()
            .or(c["tid"].as_u64())
            .expect("tid");
        if tid == planted {
            c["txt"] = json!("<script>document.title='pwned'</script>planted");
        }
        texts.insert(tid, c["txt"].as_str().unwrap_or("").to_owned());
    }
    std::fs::write(conv.join("comments.json"), comments.to_string()).expect("write");
    let groups = before["data"]["groups"].as_array().expect("groups").clone();
    let me = groups[1]["members"][0].as_u64().expect("a member");
    let me_s = me.to_string();
    let (code, out, err) = st(&[
        "--json",
        "consensus",
        "polis",
        conv.to_str().expect("utf8"),
        "--save",
        "ref50",
        "--me",
        &me_s,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["data"]["groups"], json!(groups), "same analysis");
    let clustered: usize = groups
        .iter()
        .map(|g| g["members"].as_array().expect("members").len())
        .sum();
    // A participant who never voted cannot be marked.
    let (code, _, err) = st(&[
        "consensus",
        "polis",
        conv.to_str().expect("utf8"),
        "--save",
        "x",
        "--me",
        "999999",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("999999"), "{err}");

    // Summaries of common ground, kept with the conversation (extractive: no model here).
    let (code, _, err) = st(&["consensus", "summarize", "ref50", "--no-llm"]);
    assert_eq!(code, 0, "{err}");

    let (child, url) = serve_desk(&home);
    let base = url.split("/?token=").next().expect("base").to_owned();
    let b = Browser::start(&chromedriver, &chromium).await;
    // Without the session: refused, nothing of the conversation shown.
    b.goto(&format!("{base}/conversations/ref50")).await;
    let page = b.source().await;
    assert!(page.contains("unauthorized"), "{page}");
    assert!(!page.contains("opinion-map") && !page.contains("planted"));
    b.goto(&url).await;
    b.goto(&format!("{base}/conversations")).await;
    let page = b.wait_for("ref50").await;
    assert!(page.contains("/conversations/ref50"), "{page}");
    b.click("#conversations a").await;
    let page = b.wait_for("opinion-map").await;
    assert_eq!(
        page.matches("class=\"ptpt\"").count(),
        clustered,
        "one dot per clustered participant"
    );
    assert_eq!(page.matches("class=\"group-centre\"").count(), groups.len());
    assert!(page.contains("id=\"me\""), "the user's position is marked");
    assert!(page.contains(&format!("You are participant {me}, in group B")));
    for (g, label) in groups.iter().zip(["A", "B", "C", "D", "E"]) {
        assert!(page.contains(&format!("id=\"group-{label}\"")), "{label}");
        for r in before["data"]["repness"][g["id"].to_string()]
            .as_array()
            .expect("reps")
        {
            let tid = r["tid"].as_u64().expect("tid");
            if tid != planted {
                let text = &texts[&tid];
                let shown = text
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('\u{a0}', "&nbsp;");
                assert!(page.contains(&shown), "group {label}: #{tid} {text}");
            }
        }
    }
    for tid in before["data"]["consensus"]["agree"]
        .as_array()
        .expect("agree")
    {
        assert!(page.contains(&format!("#{tid}</span>")), "consensus #{tid}");
    }
    // The summaries are on the page, each cite anchored to its statement; group A's first
    // sentence is the planted statement itself, escaped.
    assert!(page.contains("id=\"summary-group-A\"") && page.contains("id=\"summary-consensus\""));
    assert!(page.contains(&format!("href=\"#s-{planted}\"")), "{page}");
    assert!(page.contains(&format!("<li id=\"s-{planted}\">")), "{page}");
    // The planted statement is text on the page; the script never ran.
    assert!(
        page.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;planted"),
        "{page}"
    );
    assert!(
        !page.contains("<script>document.title"),
        "script not escaped"
    );
    let title = b.cmd(reqwest::Method::GET, "/title", Value::Null).await;
    assert_ne!(title, json!("pwned"));
    // A name that was never saved, or could not be.
    b.goto(&format!("{base}/conversations/nope")).await;
    assert!(b.source().await.contains("No conversation nope saved"));
    b.quit().await;
    drop(child);
    edit_views_on_the_desk(&home, &st).await;
}

/// `application/x-www-form-urlencoded` for `fields`: every byte but letters and digits escaped.
fn form_body(fields: &[(&str, String)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Runs `steward` with arguments over a test home: exit code, stdout, stderr.
type Steward<'a> = dyn Fn(&[&str]) -> (i32, String, String) + 'a;

/// Editing the views draft on the desk's conversation page: the edit goes through the privacy
/// filter again; one that brings back a private item is refused and nothing is kept, a clean one
/// is kept; a POST without the CSRF token is refused.
async fn edit_views_on_the_desk(home: &Path, st: &Steward<'_>) {
    if !models_present("edit_views_on_the_desk") {
        return;
    }
    let canary = "dana.whitfield@quietmail.org";
    let (code, _, err) = st(&[
        "profile",
        "say",
        &format!("I oppose grants above $48,500 without milestones; {canary} agrees."),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, drafted, err) = st(&["views", "draft", "--save"]);
    assert_eq!(code, 0, "{err}");
    assert!(!drafted.contains(canary));
    let (child, url) = serve_desk(home);
    let base = url.split("/?token=").next().expect("base").to_owned();
    let token = url.split("token=").nth(1).expect("token");
    let cookie = session_cookie(&base, token).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let get = |path: String| {
        let c = client.clone();
        let cookie = cookie.clone();
        async move {
            c.get(path)
                .header("Cookie", cookie)
                .send()
                .await
                .expect("get")
                .text()
                .await
                .expect("text")
        }
    };
    let page = get(format!("{base}/conversations/ref50")).await;
    assert!(page.contains("id=\"edit-views\""), "{page}");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("csrf")
        .to_owned();
    let post = |body: Vec<(&'static str, String)>| {
        let c = client.clone();
        let cookie = cookie.clone();
        let base = base.clone();
        async move {
            let r = c
                .post(format!("{base}/conversations/ref50/views"))
                .header("Cookie", cookie)
                .header("Origin", &base)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form_body(&body))
                .send()
                .await
                .expect("post");
            let status = r.status().as_u16();
            let to = r
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            (status, to)
        }
    };
    // Without the token: refused.
    let (status, _) = post(vec![("views", "# Mine".to_owned())]).await;
    assert_eq!(status, 403);
    // An edit that puts a private e-mail address back: refused, the draft unchanged.
    let leaky = format!("# My views\r\n\r\n- I oppose big grants; ask {canary}.");
    let (status, to) = post(vec![("csrf", csrf.clone()), ("views", leaky)]).await;
    assert_eq!(status, 303, "{to}");
    let page = get(format!("{base}{to}")).await;
    assert!(
        page.contains("Not saved: 1 private item(s) in the edit (line(s) 3)"),
        "{page}"
    );
    assert!(!page.contains(canary), "the canary reached the page");
    // The saved draft is still the one drafted (its first line, escaped as the page does).
    let first = drafted.lines().next().expect("a line");
    let esc = first
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    assert!(page.contains(&esc), "{first}\n{page}");
    // A clean edit is kept and shown.
    let clean = "# My views\r\n\r\n- I oppose grants without <milestones>.";
    let (status, to) = post(vec![("csrf", csrf), ("views", clean.to_owned())]).await;
    assert_eq!(status, 303);
    let page = get(format!("{base}{to}")).await;
    assert!(page.contains("Saved your edit of the draft."), "{page}");
    assert!(
        page.contains("- I oppose grants without &lt;milestones&gt;."),
        "{page}"
    );
    drop(child);
}
