//! Questions reach the user: notices by webhook (a loopback axum server that checks the schema)
//! and by mail (a real Dovecot submission service relaying to Postfix's smtp-sink), with an
//! injected clock for the escalation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steward_agent::decide::record_decision;
use steward_agent::notify::{Field, MailSender, Notifier, Sender, WebhookSender};
use steward_agent::profile::ItemKind;
use steward_agent::questions::{answer, plain_payload, question_context};
use steward_agent::testkit::smtp::{self, MailServer};
use steward_agent::{Config, MailConfig, MailTls, Network, Store};
use steward_core::{
    Decision, DecisionAction, Evidence, EvidenceKind, Proposal, ProposalState, Source, VotingType,
};
use steward_testing::{Need, skip};

const H: i64 = 3600;
/// The injected clock's start: the question opens here.
const T: i64 = 1_900_000_000;
/// The proposal's end, three days later.
const DEADLINE: i64 = T + 72 * H;

/// Private writing and a statement of the user's: never in a notice.
const WRITING: &str = "Between us, I sold my governance tokens last week, pure-kumquat-7731.";
const STATEMENT: &str = "I privately back the rival delegate slate, quiet-marmot-0426.";
const MARKERS: [&str; 2] = ["pure-kumquat-7731", "quiet-marmot-0426"];

fn proposal(id: &str) -> Proposal {
    Proposal {
        source: Source::Snapshot {
            space: "arbitrumfoundation.eth".into(),
        },
        id: id.into(),
        title: "Fund the security council's audit budget".into(),
        body: "Allocate 250,000 ARB to audits of the security council's contracts. Audits run \
               for six months."
            .into(),
        choices: vec!["For".into(), "Against".into(), "Abstain".into()],
        voting: VotingType::SingleChoice,
        created: Some(T - H),
        start: Some(T - H),
        end: Some(DEADLINE),
        snapshot: None,
        author: None,
        discussion: None,
        state: ProposalState::Active,
        actions: Vec::new(),
        flags: Vec::new(),
    }
}

/// Stores the proposal, the user's private writing and statement, and an `ask` decision whose
/// evidence and rationale quote them, with its question built as the pipeline builds it.
fn open_question(store: &mut Store, id: &str) -> i64 {
    let p = proposal(id);
    store
        .transaction(|tx| {
            tx.upsert_proposal(&p)?;
            tx.add_profile_item(ItemKind::Writing, WRITING, "test", None)?;
            tx.add_profile_item(ItemKind::Statement, STATEMENT, "test", None)
        })
        .expect("store");
    let d = Decision {
        proposal: p.key(),
        title: p.title.clone(),
        choice: Some("Against".into()),
        choices: p.choices.clone(),
        probabilities: vec![0.3, 0.62, 0.08],
        confidence: 0.62,
        importance: 0.8,
        action: DecisionAction::Ask,
        rationale: format!("You wrote \"{WRITING}\" and said \"{STATEMENT}\""),
        evidence: vec![
            Evidence {
                kind: EvidenceKind::Writing,
                id: "1".into(),
                excerpt: WRITING.into(),
                weight: 0.9,
                leans: Some("Against".into()),
            },
            Evidence {
                kind: EvidenceKind::Statement,
                id: "2".into(),
                excerpt: STATEMENT.into(),
                weight: 0.8,
                leans: Some("Against".into()),
            },
        ],
        flags: Vec::new(),
        models: Vec::new(),
        seed: 0,
        importance_reasons: Vec::new(),
        failures: Vec::new(),
    };
    let ctx = question_context(&d, &p, &[], plain_payload(&p));
    // The question's own context does hold the private text: the notice must leave it out.
    assert!(
        ctx.history.iter().any(|h| h.contains(MARKERS[0])),
        "{ctx:?}"
    );
    let ctx = serde_json::to_value(ctx).expect("json");
    record_decision(store, &d, &p, Some(&ctx), None).expect("record");
    store.question(&p.key()).expect("read").expect("opened").id
}

/// What the webhook received: (Idempotency-Key, raw body, the Standard Webhooks headers
/// `webhook-id`, `webhook-timestamp`, `webhook-signature`) per accepted POST.
type Received = Arc<Mutex<Vec<(String, Vec<u8>, [Option<String>; 3])>>>;

/// A loopback webhook that checks every POST against the notice schema (422 otherwise) and
/// keeps the raw bodies with their `Idempotency-Key`.
struct Hook {
    url: String,
    got: Received,
    /// Answer 500 to this many requests first.
    fail: Arc<AtomicUsize>,
    _server: tokio::task::JoinHandle<()>,
}

fn schema_problem(v: &serde_json::Value) -> Option<String> {
    check_schema(v).err()
}

/// The notice schema of docs/questions.md: required keys, their types, nothing unknown.
fn check_schema(v: &serde_json::Value) -> Result<(), String> {
    const KEYS: [&str; 15] = [
        "schema",
        "id",
        "question",
        "step",
        "before_deadline_secs",
        "title",
        "space",
        "deadline",
        "lean",
        "confidence",
        "command",
        "desk",
        "choices",
        "summary",
        "flags",
    ];
    let o = v.as_object().ok_or("not an object")?;
    if o.get("schema").and_then(|s| s.as_str()) != Some("steward.notice/1") {
        return Err("schema".into());
    }
    if !o
        .get("id")
        .and_then(|s| s.as_str())
        .is_some_and(|s| s.starts_with("steward-q"))
    {
        return Err("id".into());
    }
    if !o.get("question").is_some_and(serde_json::Value::is_i64) {
        return Err("question".into());
    }
    let before = o.get("before_deadline_secs");
    match o.get("step").and_then(|s| s.as_str()) {
        Some("opened") if before.is_none() => {}
        Some("reminder") if before.is_some_and(serde_json::Value::is_i64) => {}
        s => return Err(format!("step {s:?} with before_deadline_secs {before:?}")),
    }
    for k in [
        "title", "space", "deadline", "lean", "command", "desk", "summary",
    ] {
        if o.get(k).is_some_and(|x| !x.is_string()) {
            return Err(format!("{k} is not a string"));
        }
    }
    match o.keys().find(|k| !KEYS.contains(&k.as_str())) {
        Some(k) => Err(format!("unexpected key {k}")),
        None => Ok(()),
    }
}

async fn hook() -> Hook {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    let got: Received = Arc::default();
    let fail = Arc::new(AtomicUsize::new(0));
    let (g, f) = (got.clone(), fail.clone());
    let app = axum::Router::new().route(
        "/hook/{token}",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (g, f) = (g.clone(), f.clone());
            async move {
                if f.load(Ordering::SeqCst) > 0 {
                    f.fetch_sub(1, Ordering::SeqCst);
                    return (StatusCode::INTERNAL_SERVER_ERROR, "down".to_owned());
                }
                let json: serde_json::Value = match serde_json::from_slice(&body) {
                    Ok(v) => v,
                    Err(e) => return (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
                };
                let problem = schema_problem(&json)
                    .or_else(|| {
                        (headers.get("content-type")?.to_str().ok()? != "application/json")
                            .then(|| "content-type".to_owned())
                    })
                    .or_else(|| {
                        (headers.get("idempotency-key")?.to_str().ok()? != json["id"])
                            .then(|| "idempotency-key".to_owned())
                    });
                if let Some(p) = problem {
                    return (StatusCode::UNPROCESSABLE_ENTITY, p);
                }
                let key = json["id"].as_str().unwrap_or_default().to_owned();
                let h = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let signed = [
                    h("webhook-id"),
                    h("webhook-timestamp"),
                    h("webhook-signature"),
                ];
                g.lock().expect("lock").push((key, body.to_vec(), signed));
                (StatusCode::NO_CONTENT, String::new())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Hook {
        url: format!("http://{addr}/hook/s3cr3t-hook-token"),
        got,
        fail,
        _server: server,
    }
}

fn net() -> Network {
    Network::new(
        steward_core::Allowlist::parse(&["loopback".to_owned()]).expect("allowlist"),
        Duration::from_secs(10),
    )
}

fn notifier(senders: Vec<Sender>, include: &[Field]) -> Notifier {
    Notifier::new(
        senders,
        include.to_vec(),
        vec![24 * H, 2 * H],
        Some("http://127.0.0.1:8765".into()),
    )
}

fn steps(store: &Store) -> Vec<(String, String)> {
    store
        .notices()
        .expect("notices")
        .into_iter()
        .map(|n| (n.step, n.state))
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn escalation_follows_the_clock_and_sends_each_step_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = crate::new_store(dir.path(), "pw");
    let qid = open_question(&mut store, "esc");
    let hook = hook().await;
    let n = notifier(
        vec![Sender::Webhook(
            WebhookSender::new(&net(), &hook.url, None).expect("webhook"),
        )],
        &Field::DEFAULT,
    );
    let sent = |hook: &Hook| hook.got.lock().expect("lock").len();

    let r = n.round(&mut store, T + H).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.sent, vec![format!("webhook: question {qid} opened")]);
    assert_eq!(sent(&hook), 1);
    // A round an hour later: nothing new.
    let r = n.round(&mut store, T + 2 * H).await;
    assert!(r.sent.is_empty() && r.errors.is_empty(), "{r:?}");

    // A day before the deadline: the first reminder, once.
    let r = n.round(&mut store, DEADLINE - 24 * H).await;
    assert_eq!(
        r.sent,
        vec![format!("webhook: question {qid} reminder-86400s")]
    );
    let r = n.round(&mut store, DEADLINE - 23 * H).await;
    assert!(r.sent.is_empty() && r.errors.is_empty(), "{r:?}");
    assert_eq!(sent(&hook), 2);
    {
        let got = hook.got.lock().expect("lock");
        let v: serde_json::Value = serde_json::from_slice(&got[1].1).expect("json");
        assert_eq!(v["step"], "reminder");
        assert_eq!(v["before_deadline_secs"], 86_400);
        assert_eq!(v["space"], "arbitrumfoundation.eth");
        assert_eq!(v["lean"], "Against");
        assert_eq!(v["deadline"], "2030-03-20T17:46:40Z");
        assert!(
            v["command"]
                .as_str()
                .is_some_and(|c| c.starts_with(&format!("steward answer {qid} "))),
            "{v}"
        );
        assert_eq!(v["desk"], format!("http://127.0.0.1:8765/questions/{qid}"));
        // Not in the default include.
        assert!(
            v.get("summary").is_none() && v.get("choices").is_none(),
            "{v}"
        );
    }

    // Answered: nothing more, not even the 2 h reminder.
    answer(&mut store, &qid.to_string(), "For", None, DEADLINE - 3 * H)
        .expect("answer")
        .expect("accepted");
    let r = n.round(&mut store, DEADLINE - 2 * H).await;
    assert!(r.sent.is_empty() && r.errors.is_empty(), "{r:?}");
    assert_eq!(sent(&hook), 2);
    assert_eq!(
        steps(&store),
        vec![
            ("opened".into(), "sent".into()),
            ("reminder-86400s".into(), "sent".into())
        ]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_notice_that_failed_is_sent_again_with_the_same_id_and_a_late_question_gets_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = crate::new_store(dir.path(), "pw");
    let qid = open_question(&mut store, "retry");
    let hook = hook().await;
    hook.fail.store(1, Ordering::SeqCst);
    let n = notifier(
        vec![Sender::Webhook(
            WebhookSender::new(&net(), &hook.url, None).expect("webhook"),
        )],
        &Field::DEFAULT,
    );
    // First seen an hour before the deadline, with the server down: the intent stays pending.
    let r = n.round(&mut store, DEADLINE - H).await;
    assert!(r.sent.is_empty(), "{r:?}");
    assert_eq!(r.errors.len(), 1, "{r:?}");
    let e = &r.errors[0];
    assert!(
        e.contains("notify webhook to 127.0.0.1") && e.contains("500"),
        "{e}"
    );
    assert!(
        !e.contains("s3cr3t-hook-token"),
        "the URL's path leaked: {e}"
    );
    let rows = store.notices().expect("notices");
    let pending = rows
        .iter()
        .find(|r| r.state == "pending")
        .expect("a pending intent");
    assert_eq!(
        (pending.step.as_str(), pending.attempts),
        ("reminder-7200s", 1)
    );

    // The next round sends it, once, with the same id; the earlier steps are covered, never sent.
    let r = n.round(&mut store, DEADLINE - H + 60).await;
    assert_eq!(
        r.sent,
        vec![format!("webhook: question {qid} reminder-7200s")]
    );
    let got = hook.got.lock().expect("lock").clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, format!("steward-q{qid}-reminder-7200s"));
    let mut s = steps(&store);
    s.sort();
    assert_eq!(
        s,
        vec![
            ("opened".into(), "covered".into()),
            ("reminder-7200s".into(), "sent".into()),
            ("reminder-86400s".into(), "covered".into()),
        ]
    );
    assert!(n.round(&mut store, DEADLINE - 60).await.sent.is_empty());
}

/// Every field a user may allow, on both channels: the user's writing and statements, quoted in
/// the question's context and the decision's rationale, never reach the bytes sent.
#[tokio::test(flavor = "current_thread")]
async fn notices_never_carry_the_users_private_writing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = crate::new_store(dir.path(), "pw");
    let qid = open_question(&mut store, "priv");
    let hook = hook().await;
    let mut senders = vec![Sender::Webhook(
        WebhookSender::new(&net(), &hook.url, None).expect("webhook"),
    )];
    let mail = match MailServer::start() {
        Ok(m) => Some(m),
        Err(why) => {
            skip(
                Need::Smtp,
                "notices_never_carry_the_users_private_writing (mail)",
                why,
            );
            None
        }
    };
    if let Some(m) = &mail {
        let cfg = m.config(MailTls::Starttls, "UNUSED");
        let sender = MailSender::new(&net(), &cfg, &|_| Some(smtp::PASSWORD.to_owned()))
            .expect("mail sender");
        senders.push(Sender::Mail(sender));
    }
    let n = notifier(senders, &Field::ALL);
    let r = n.round(&mut store, T + H).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);

    let mut sent: Vec<Vec<u8>> = hook
        .got
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, b, _)| b.clone())
        .collect();
    assert_eq!(sent.len(), 1);
    if let Some(m) = &mail {
        let got = m.received(1);
        assert_eq!(got.len(), 1, "{}", m.log());
        sent.extend(got);
    }
    for bytes in &sent {
        let text = String::from_utf8_lossy(bytes);
        // What the user allowed is there ...
        assert!(text.contains("Fund the security council"), "{text}");
        assert!(text.contains(&format!("steward answer {qid}")), "{text}");
        // ... and nothing private, in any encoding the channels use.
        for m in MARKERS {
            assert!(!text.contains(m), "{m} leaked:\n{text}");
        }
        assert!(
            !text.contains(smtp::PASSWORD),
            "the password leaked:\n{text}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn mail_reaches_the_user_over_starttls_and_implicit_tls() {
    let m = match MailServer::start() {
        Ok(m) => m,
        Err(why) => {
            return skip(
                Need::Smtp,
                "mail_reaches_the_user_over_starttls_and_implicit_tls",
                why,
            );
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = crate::new_store(dir.path(), "pw");
    let qid = open_question(&mut store, "mail");
    for (i, tls) in [MailTls::Starttls, MailTls::Tls].into_iter().enumerate() {
        let cfg = m.config(tls, "STEWARD_TEST_NOTIFY_PASSWORD_NEVER_SET");
        let sender = MailSender::new(&net(), &cfg, &|var| {
            (var == "STEWARD_TEST_NOTIFY_PASSWORD_NEVER_SET").then(|| smtp::PASSWORD.to_owned())
        })
        .expect("mail sender");
        assert!(
            !format!("{sender:?}").contains(smtp::PASSWORD),
            "Debug shows the password"
        );
        let n = notifier(vec![Sender::Mail(sender)], &Field::DEFAULT);
        // A fresh store row per channel run: each TLS mode sends its own opened notice.
        let r = n.round(&mut store, T + H + i as i64).await;
        if i == 1 {
            // Already sent on this channel by the STARTTLS run: once per (question, step, channel).
            assert!(r.sent.is_empty() && r.errors.is_empty(), "{r:?}");
            let r = n.round(&mut store, DEADLINE - 24 * H).await;
            assert_eq!(
                r.sent,
                vec![format!("mail: question {qid} reminder-86400s")],
                "{r:?}\n{}",
                m.log()
            );
        } else {
            assert_eq!(
                r.sent,
                vec![format!("mail: question {qid} opened")],
                "{r:?}\n{}",
                m.log()
            );
        }
    }
    let got = m.received(2);
    assert_eq!(got.len(), 2, "{}", m.log());
    let all = got
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect::<Vec<_>>()
        .join("\n----\n");
    // Through Dovecot, authenticated, over TLS (ESMTPSA), to the recipient.
    assert_eq!(all.matches("with ESMTPSA").count(), 2, "{all}");
    assert!(all.contains("AUTH=steward"), "{all}");
    assert!(all.contains("X-Rcpt-Args: <me@example.org>"), "{all}");
    assert!(
        all.contains("Subject: Steward asks: Fund the security council"),
        "{all}"
    );
    assert!(
        all.contains("Subject: Steward reminder, 24h left: Fund the security council"),
        "{all}"
    );
    assert!(
        all.contains(&format!("Message-ID: <steward-q{qid}-opened@localhost>")),
        "{all}"
    );
    assert!(all.contains(&format!("steward answer {qid} ")), "{all}");
}

#[tokio::test(flavor = "current_thread")]
async fn mail_refuses_a_wrong_password_and_a_server_without_starttls() {
    let m = match MailServer::start() {
        Ok(m) => m,
        Err(why) => {
            return skip(
                Need::Smtp,
                "mail_refuses_a_wrong_password_and_a_server_without_starttls",
                why,
            );
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = crate::new_store(dir.path(), "pw");
    open_question(&mut store, "refuse");

    let cfg = m.config(MailTls::Starttls, "X");
    let wrong = "not-the-password-93";
    let sender = MailSender::new(&net(), &cfg, &|_| Some(wrong.to_owned())).expect("sender");
    let r = notifier(vec![Sender::Mail(sender)], &Field::DEFAULT)
        .round(&mut store, T + H)
        .await;
    assert_eq!(r.errors.len(), 1, "{r:?}");
    let e = &r.errors[0];
    assert!(
        e.contains(&format!("notify mail to 127.0.0.1:{}", m.submission_port)),
        "{e}"
    );
    assert!(!e.contains(wrong), "the password leaked: {e}");

    // smtp-sink offers no STARTTLS: required means refused, never plain text.
    let mut plain = m.config(MailTls::Starttls, "X");
    plain.port = Some(m.sink_port);
    plain.user = None;
    let sender = MailSender::new(&net(), &plain, &|_| None).expect("sender");
    let r = notifier(vec![Sender::Mail(sender)], &Field::DEFAULT)
        .round(&mut store, T + 2 * H)
        .await;
    assert_eq!(r.errors.len(), 1, "{r:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(m.received(0).is_empty(), "a message went out in plain text");
    assert!(
        store
            .notices()
            .expect("rows")
            .iter()
            .all(|r| r.state == "pending"),
        "{:?}",
        store.notices()
    );

    // And `tls = "none"` to the loopback sink is allowed: a local relay.
    let mut none = m.config(MailTls::None, "X");
    none.ca_file = None;
    let sender = MailSender::new(&net(), &none, &|_| None).expect("sender");
    let r = notifier(vec![Sender::Mail(sender)], &Field::DEFAULT)
        .round(&mut store, T + 3 * H)
        .await;
    assert_eq!(r.sent.len(), 1, "{r:?}");
    assert_eq!(m.received(1).len(), 1);
}

#[test]
fn a_channel_outside_the_allowlist_is_refused_naming_channel_and_host() {
    let mut cfg = Config::default();
    cfg.notify.webhook = Some("https://hooks.example.org/services/T0KEN-123".into());
    let e = Notifier::from_config(&cfg, &net(), &|_| None).expect_err("refused");
    let msg = steward_agent::pipeline::chain(&e);
    assert!(msg.contains("notify webhook to hooks.example.org"), "{msg}");
    assert!(msg.contains("network.allow"), "{msg}");
    assert!(!msg.contains("T0KEN"), "{msg}");

    cfg.notify.webhook = None;
    cfg.notify.mail = Some(MailConfig {
        host: "smtp.example.org".into(),
        port: None,
        tls: MailTls::Starttls,
        from: "steward@example.org".into(),
        to: "me@example.org".into(),
        user: Some("me".into()),
        password_env: "STEWARD_TEST_NOTIFY_PASSWORD_NEVER_SET".into(),
        password_file: None,
        ca_file: None,
    });
    let e = Notifier::from_config(&cfg, &net(), &|_| None).expect_err("refused");
    let msg = steward_agent::pipeline::chain(&e);
    assert!(msg.contains("notify mail to smtp.example.org"), "{msg}");

    // Allowed, but no password: the error names the variable to set.
    let allowed = Network::new(
        steward_core::Allowlist::parse(&["smtp.example.org".to_owned()]).expect("allowlist"),
        Duration::from_secs(1),
    );
    let e = Notifier::from_config(&cfg, &allowed, &|_| None).expect_err("no password");
    assert!(
        e.to_string()
            .contains("$STEWARD_TEST_NOTIFY_PASSWORD_NEVER_SET"),
        "{e}"
    );
    // No channel: no notifier.
    assert!(
        Notifier::from_config(&Config::default(), &net(), &|_| None)
            .expect("ok")
            .is_none()
    );
}

#[test]
fn notify_config_is_checked_where_it_is_written() {
    let load = |text: &str| {
        Config::parse_file(std::path::Path::new("c.toml"), text).map_err(|e| e.to_string())
    };
    let ok = load(
        "[notify]\ninclude = [\"title\", \"choices\"]\nreminders = [\"48h\", \"30m\"]\n\
         webhook = \"http://127.0.0.1:9/x\"\n[notify.mail]\nhost = \"127.0.0.1\"\ntls = \"none\"\n\
         from = \"a@localhost\"\nto = \"b@example.org\"\n",
    )
    .expect("parses");
    assert_eq!(ok.notify.mail.as_ref().map(MailConfig::port), Some(25));
    let e = load("[notify]\ninclude = [\"history\"]\n").expect_err("private");
    assert!(e.contains("notify.include") && e.contains("private"), "{e}");
    let e = load(
        "[notify.mail]\nhost = \"smtp.example.org\"\ntls = \"none\"\nfrom = \"a@b.org\"\nto = \"c@d.org\"\n",
    )
    .expect_err("plain text off loopback");
    assert!(e.contains("notify.mail") && e.contains("loopback"), "{e}");
    let e = load("[notify]\nreminders = [\"soon\"]\n").expect_err("bad duration");
    assert!(e.contains("notify.reminders"), "{e}");
    // The env and --set form of the mail table.
    let mut c = Config::default();
    c.set(
        "notify.mail",
        "{ host = \"127.0.0.1\", port = 2587, from = \"a@localhost\", to = \"b@example.org\", user = \"u\" }",
    )
    .expect("inline table");
    assert_eq!(c.notify.mail.as_ref().map(MailConfig::port), Some(2587));
    assert!(c.set("notify.mail", "host=x").is_err());
}

/// With a signing secret, each POST carries the Standard Webhooks headers and a signature the
/// receiver recomputes over exactly the bytes it got; another secret or a changed body does not
/// verify. Without one, no signature headers. A malformed `whsec_` secret is refused by name,
/// never echoed.
#[tokio::test(flavor = "current_thread")]
async fn webhook_posts_are_signed_as_standard_webhooks_specify() {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = crate::new_store(dir.path(), "pw");
    open_question(&mut store, "sig");
    let signed_hook = hook().await;
    let raw = [7u8; 24];
    let secret_text = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    );
    let key = steward_agent::notify::webhook_secret(&secret_text).expect("secret");
    let n = notifier(
        vec![Sender::Webhook(
            WebhookSender::new(&net(), &signed_hook.url, Some(key)).expect("webhook"),
        )],
        &Field::DEFAULT,
    );
    let r = n.round(&mut store, T + H).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let got = signed_hook.got.lock().expect("lock").clone();
    assert_eq!(got.len(), 1);
    let (key_header, body, [id, ts, sig]) = &got[0];
    let (id, ts, sig) = (
        id.as_deref().expect("webhook-id"),
        ts.as_deref().expect("webhook-timestamp"),
        sig.as_deref().expect("webhook-signature"),
    );
    assert_eq!(id, key_header, "webhook-id is the notice id");
    let now = jiff::Timestamp::now().as_second();
    let ts_n: i64 = ts.parse().expect("seconds");
    assert!((now - ts_n).abs() < 300, "{ts}");
    let verify = |secret: &[u8], body: &[u8]| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("hmac");
        mac.update(format!("{id}.{ts}.").as_bytes());
        mac.update(body);
        let want = format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        );
        sig.split(' ').any(|s| s == want)
    };
    assert!(verify(&raw, body), "{sig}");
    assert!(!verify(&[8u8; 24], body), "another secret verifies");
    let mut changed = body.clone();
    changed[0] ^= 1;
    assert!(!verify(&raw, &changed), "a changed body verifies");

    // No secret: no signature headers (the receivers that do not check are unchanged).
    let hook2 = hook().await;
    let (_h2, mut store2) = crate::new_store(&dir.path().join("two"), "pw");
    open_question(&mut store2, "nosig");
    let n2 = notifier(
        vec![Sender::Webhook(
            WebhookSender::new(&net(), &hook2.url, None).expect("webhook"),
        )],
        &Field::DEFAULT,
    );
    let r = n2.round(&mut store2, T + H).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(hook2.got.lock().expect("lock")[0].2, [None, None, None]);

    let e = steward_agent::notify::webhook_secret("whsec_not*base64!").expect_err("refused");
    assert!(!e.to_string().contains("not*base64"), "{e}");
    assert!(e.to_string().contains("whsec_"), "{e}");
}
