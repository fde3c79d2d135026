//! Egress: every outbound client, aimed at a loopback port that `network.allow` does not name,
//! is refused before it opens a socket — the error names the host, the port and the allowlist,
//! and a plain TCP listener on that port accepts nothing. Each refusal has a control beside it:
//! the same client with the port allowed does reach the listener, so the tests can fail.
//!
//! Clients: the Snapshot sequencer POST (`cast_vote`), the hub (`HubClient`), JSON-RPC
//! (`Network::rpc`, which the Governor source and caster use), the inspector's RPC, Discourse
//! forums (`ForumClient`), IMAP (`ImapFolder::open`), the OpenAI-compatible model server
//! (`Network::openai`) and a redirect from an allowed port to another.

use std::future::Future;
use std::time::Duration;

use serde_json::json;
use steward_agent::inspect::Inspector;
use steward_agent::sources::forum::{ForumClient, ForumHost, TopicRef};
use steward_agent::sources::imap::{ImapFolder, ImapPassword};
use steward_agent::sources::snapshot::{Cursor, HubClient, parse_proposal};
use steward_agent::testkit::hub::MockHub;
use steward_agent::{CastContext, CastOrigin, Config, Error, ImapConfig, Keys, Network, cast_vote};
use steward_core::{Address, Allowlist, Limits, Source};
use steward_eth::{Kdf, KeystorePassword};
use steward_ml::OpenAiConfig;
use tokio::net::TcpListener;

use crate::new_store;

/// A plain TCP listener on 127.0.0.1 that never answers: the thing that must stay untouched.
struct Silent {
    listener: TcpListener,
    port: u16,
}

impl Silent {
    async fn start() -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        Self { listener, port }
    }

    /// Whether a connection arrived within `wait`. The kernel completes the handshake into the
    /// backlog whether or not we accept, so a connect that happened earlier is seen here at once.
    async fn accepted_within(&self, wait: Duration) -> bool {
        match tokio::time::timeout(wait, self.listener.accept()).await {
            Ok(Ok((sock, _))) => {
                drop(sock);
                true
            }
            Ok(Err(e)) => panic!("accept failed: {e}"),
            Err(_) => false,
        }
    }
}

/// A port that is not `port` (and not 0), for an allowlist that names only a different port.
fn other_port(port: u16) -> u16 {
    if port == 65535 { port - 1 } else { port + 1 }
}

fn net(entries: &[String]) -> Network {
    Network::new(
        Allowlist::parse(entries).expect("allowlist"),
        Duration::from_secs(3),
    )
}

/// (a) the error names the refused `127.0.0.1:port` and the allowlist, (b) nothing connected.
async fn assert_refused<T: std::fmt::Debug>(
    what: &str,
    result: Result<T, Error>,
    silent: &Silent,
    allowed: &str,
) {
    let err = result.expect_err(&format!("{what}: a non-allowlisted port must be refused"));
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{}", silent.port)),
        "{what}: the error must name the refused host and port: {msg}"
    );
    assert!(
        msg.contains("network.allow") && msg.contains(allowed),
        "{what}: the error must name the allowlist {allowed:?}: {msg}"
    );
    assert!(
        !silent.accepted_within(Duration::from_millis(300)).await,
        "{what}: the refused port was connected to"
    );
}

/// The control: with the port allowed, `call` reaches the listener (its own outcome, an error
/// once we hang up, does not matter; it is dropped once the connection is seen).
async fn assert_reached<T>(what: &str, call: impl Future<Output = T>, silent: &Silent) {
    let seen = tokio::select! {
        seen = silent.accepted_within(Duration::from_secs(10)) => seen,
        _ = call => silent.accepted_within(Duration::from_millis(300)).await,
    };
    assert!(seen, "{what}: an allowlisted port was not reached");
}

/// An error and its sources, as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&s.to_string());
        next = s.source();
    }
    out
}

fn url_port(url: &str) -> u16 {
    url::Url::parse(url)
        .expect("url")
        .port_or_known_default()
        .expect("port")
}

#[tokio::test]
async fn sequencer_post_is_refused_on_an_unlisted_port() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (home, mut store) = new_store(dir.path(), "store-pass");
    let keys = Keys::new(&home);
    let pw = KeystorePassword::new("kpw-kpw".into()).expect("pw");
    keys.create(&pw, Kdf::Light).expect("key");

    let now = jiff::Timestamp::now().as_second();
    let raw = json!({
        "id": "0x5e1f000000000000000000000000000000000000000000000000000000000e9e",
        "title": "Egress", "body": "Where does the vote go?", "choices": ["For", "Against"],
        "start": now - 60, "end": now + 86_400, "snapshot": "18000000", "state": "active",
        "author": "0x0000000000000000000000000000000000000abc", "created": now - 120,
        "type": "single-choice", "space": { "id": "steward-test.eth" }
    });
    let p = parse_proposal(&raw, None, &Limits::default(), now).expect("proposal");
    store
        .transaction(|tx| tx.upsert_proposal(&p))
        .expect("store");
    let sp = store.proposal(&p.key()).expect("read").expect("stored");

    // The hub is allowed (reconciliation may ask it); the sequencer's port is not.
    let hub = MockHub::start(vec![raw], vec![]).await.expect("hub");
    let seq = Silent::start().await;
    let hub_rule = format!("loopback:{}", url_port(&hub.url));
    let mut cfg = Config::default();
    cfg.snapshot.hub = hub.url.clone();
    cfg.snapshot.sequencer = format!("http://127.0.0.1:{}/", seq.port);
    cfg.casting.enabled = true;
    cfg.network.allow = vec![hub_rule.clone()];
    let network = Network::from_config(&cfg).expect("network");
    let ctx = CastContext {
        config: &cfg,
        keys: &keys,
        password: Some(&pw),
        network: &network,
    };
    let out = cast_vote(&mut store, ctx, &sp, "1", "", CastOrigin::User, false).await;
    assert_refused("sequencer POST", out, &seq, &hub_rule).await;

    // Control: the same vote with the sequencer's port allowed reaches it.
    cfg.network.allow = vec![hub_rule, format!("loopback:{}", seq.port)];
    let network = Network::from_config(&cfg).expect("network");
    let ctx = CastContext {
        config: &cfg,
        keys: &keys,
        password: Some(&pw),
        network: &network,
    };
    let call = cast_vote(&mut store, ctx, &sp, "1", "", CastOrigin::User, false);
    assert_reached("sequencer POST", call, &seq).await;
}

#[tokio::test]
async fn hub_is_refused_on_an_unlisted_port() {
    let hub = Silent::start().await;
    let url = format!("http://127.0.0.1:{}/graphql", hub.port);
    let rule = format!("loopback:{}", other_port(hub.port));
    let client = HubClient::new(
        net(std::slice::from_ref(&rule)).http().expect("client"),
        &url,
    );
    let out = client
        .proposals_page("steward-test.eth", Cursor::default(), 10)
        .await;
    assert_refused("hub", out, &hub, &rule).await;

    let allowed = format!("127.0.0.1:{}", hub.port);
    let client = HubClient::new(net(&[allowed]).http().expect("client"), &url);
    let call = client.proposals_page("steward-test.eth", Cursor::default(), 10);
    assert_reached("hub", call, &hub).await;
}

#[tokio::test]
async fn rpc_is_refused_on_an_unlisted_port() {
    let node = Silent::start().await;
    let url = format!("http://127.0.0.1:{}/v3/SECRETKEY", node.port);
    let rule = format!("loopback:{}", other_port(node.port));
    let out = net(std::slice::from_ref(&rule)).rpc(&url);
    assert_refused("rpc", out.map(|_| ()), &node, &rule).await;
    let msg = net(&[rule]).rpc(&url).expect_err("refused").to_string();
    assert!(!msg.contains("SECRETKEY"), "the RPC key leaked: {msg}");

    let rpc = net(&[format!("loopback:{}", node.port)])
        .rpc(&url)
        .expect("allowed");
    assert_reached("rpc", rpc.chain_id(), &node).await;
}

#[tokio::test]
async fn inspector_rpc_is_refused_on_an_unlisted_port() {
    let node = Silent::start().await;
    let rule = format!("loopback:{}", other_port(node.port));
    let mut cfg = Config::default();
    cfg.network.allow = vec![rule.clone()];
    let dir = tempfile::tempdir().expect("tempdir");
    let inspector = Inspector::new(&cfg, &dir.path().join("abis")).expect("inspector");
    let now = jiff::Timestamp::now().as_second();
    let raw = json!({
        "id": "0x5e1f000000000000000000000000000000000000000000000000000000000e9f",
        "title": "Egress", "body": "Inspect me.", "choices": ["For", "Against"],
        "start": now - 60, "end": now + 86_400, "snapshot": "18000000", "state": "active",
        "author": "0x0000000000000000000000000000000000000abc", "created": now - 120,
        "type": "single-choice", "space": { "id": "steward-test.eth" }
    });
    let mut p = parse_proposal(&raw, None, &Limits::default(), now).expect("proposal");
    // A Governor proposal: inspecting it asks the node for the Governor's executor at once.
    p.source = Source::Governor {
        chain_id: 1,
        governor: Address::repeat_byte(0x11),
    };
    let url = format!("http://127.0.0.1:{}", node.port);
    let out = inspector
        .inspect(None, &p, Some(&url), Default::default())
        .await;
    assert_refused("inspector rpc", out, &node, &rule).await;

    cfg.network.allow = vec![format!("loopback:{}", node.port)];
    let inspector = Inspector::new(&cfg, &dir.path().join("abis")).expect("inspector");
    let call = inspector.inspect(None, &p, Some(&url), Default::default());
    assert_reached("inspector rpc", call, &node).await;
}

#[tokio::test]
async fn forum_is_refused_on_an_unlisted_port() {
    let forum = Silent::start().await;
    let origin = format!("http://127.0.0.1:{}", forum.port);
    let topic = TopicRef::parse(&format!("{origin}/t/egress/42")).expect("topic url");
    // The forum is configured (forums.hosts), so only network.allow stands in the way.
    let client = |entries: &[String]| {
        let host = ForumHost::parse(&origin).expect("forum host");
        ForumClient::new(
            net(entries)
                .with_forum_hosts(vec![host])
                .http()
                .expect("client"),
        )
    };
    let rule = format!("loopback:{}", other_port(forum.port));
    let out = client(std::slice::from_ref(&rule)).topic(&topic).await;
    assert_refused("forum", out, &forum, &rule).await;

    let allowed = client(&[format!("loopback:{}", forum.port)]);
    assert_reached("forum", allowed.topic(&topic), &forum).await;
}

#[tokio::test]
async fn imap_is_refused_on_an_unlisted_port() {
    let server = Silent::start().await;
    let cfg: ImapConfig = serde_json::from_value(json!({
        "host": "127.0.0.1", "port": server.port, "user": "egress",
    }))
    .expect("imap config");
    let password = ImapPassword::new("imap-pass".into());
    let rule = format!("loopback:{}", other_port(server.port));
    let out = ImapFolder::open(&net(std::slice::from_ref(&rule)), &cfg, &password).await;
    assert_refused("imap", out, &server, &rule).await;

    let allowed = net(&[format!("loopback:{}", server.port)]);
    assert_reached("imap", ImapFolder::open(&allowed, &cfg, &password), &server).await;
}

#[tokio::test]
async fn model_server_is_refused_on_an_unlisted_port() {
    let server = Silent::start().await;
    let config = OpenAiConfig {
        base_url: format!("http://127.0.0.1:{}/v1", server.port),
        model: "local".into(),
        embedding_model: Some("local-embed".into()),
        embedding_dim: 4,
    };
    let rule = format!("loopback:{}", other_port(server.port));
    let out = net(std::slice::from_ref(&rule)).openai(config.clone());
    assert_refused("model server", out, &server, &rule).await;

    let backend = net(&[format!("loopback:{}", server.port)])
        .openai(config)
        .expect("allowed");
    let texts = ["a proposal".to_owned()];
    assert_reached("model server", backend.embed_async(&texts), &server).await;
    // The backend owns a runtime, which must not be dropped on an async thread.
    std::thread::spawn(move || drop(backend))
        .join()
        .expect("dropped");
}

#[tokio::test]
async fn redirect_to_an_unlisted_port_is_not_followed() {
    // An allowed server answers 302 to a port the list does not name.
    let target = Silent::start().await;
    let bouncer = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let bouncer_port = bouncer.local_addr().expect("addr").port();
    let location = format!("http://127.0.0.1:{}/steal", target.port);
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = bouncer.accept().await {
            let mut buf = vec![0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let resp = format!(
                "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    let rule = format!("loopback:{bouncer_port}");
    let http = net(std::slice::from_ref(&rule)).http().expect("client");
    let err = http
        .get(&format!("http://127.0.0.1:{bouncer_port}/"))
        .expect("the first hop is allowed")
        .send()
        .await
        .expect_err("redirect refused");
    let msg = chain(&err);
    assert!(
        msg.contains(&format!("127.0.0.1:{}", target.port)) && msg.contains(&rule),
        "{msg}"
    );
    assert!(
        !target.accepted_within(Duration::from_millis(300)).await,
        "the redirect target was connected to"
    );

    // Control: with the target's port allowed too, the redirect is followed.
    let http = net(&[rule, format!("loopback:{}", target.port)])
        .http()
        .expect("client");
    let call = http
        .get(&format!("http://127.0.0.1:{bouncer_port}/"))
        .expect("allowed")
        .send();
    assert_reached("redirect", call, &target).await;
}
