//! Forum discussions end to end: `sync_discussions` against the loopback Discourse forum
//! serving real delegate posts from ../shared/data/arbitrum-forum-rationales; a discussion link
//! to a forum not in `forums.hosts` is never fetched.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use steward_agent::sources::forum::{ForumClient, ForumHost};
use steward_agent::sources::snapshot::parse_proposal;
use steward_agent::testkit::forum::{
    Fault, MockForum, MockTopic, delegate_threads, discussion_thread, load_rationales, username,
};
use steward_agent::{Network, Store, sync_discussions};
use steward_core::{Allowlist, Limits};

use crate::new_store;

const NOW: i64 = 1_750_000_000;

fn rationales() -> Option<Vec<Value>> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    if !p.is_dir() {
        steward_testing::skip(
            steward_testing::Need::Data,
            "forum rationales",
            "../shared/data is absent",
        );
        return None;
    }
    Some(load_rationales(&p.join("arbitrum-forum-rationales")).expect("rationales.jsonl"))
}

/// A client allowed to read `forum` (and the real Arbitrum forum, which `network.allow` then
/// refuses).
fn client(forum: &MockForum) -> ForumClient {
    let hosts = [forum.url.as_str(), "forum.arbitrum.foundation"]
        .iter()
        .map(|h| ForumHost::parse(h).expect("forum host"))
        .collect();
    let http = Network::new(Allowlist::default(), Duration::from_secs(5))
        .with_forum_hosts(hosts)
        .http()
        .expect("client");
    let mut c = ForumClient::new(http);
    c.retry.backoff = Duration::from_millis(10);
    c
}

/// Stores an open Snapshot proposal and returns its key. Later `created` sync first.
fn put(store: &mut Store, id: &str, created: i64, discussion: &str, body: &str) -> String {
    put_state(store, id, created, discussion, body, "active")
}

fn put_state(
    store: &mut Store,
    id: &str,
    created: i64,
    discussion: &str,
    body: &str,
    state: &str,
) -> String {
    let v = json!({
        "id": id, "title": format!("Proposal {id}"), "body": body,
        "choices": ["For", "Against", "Abstain"], "start": NOW - 1000, "end": NOW + 7 * 86_400,
        "state": state, "author": "0xabc", "created": created, "type": "single-choice",
        "discussion": discussion, "space": { "id": "arbitrumfoundation.eth" }
    });
    let p = parse_proposal(&v, None, &Limits::default(), NOW).expect("proposal");
    store
        .transaction(|tx| tx.upsert_proposal(&p))
        .expect("store proposal");
    p.key()
}

fn discussion_audits(store: &Store) -> usize {
    store
        .audit_entries(None)
        .expect("audit")
        .iter()
        .filter(|e| e.kind == "discussion")
        .count()
}

fn posts_requests(forum: &MockForum) -> usize {
    forum
        .requests()
        .iter()
        .filter(|r| r.contains("/posts.json"))
        .count()
}

#[tokio::test]
async fn a_long_thread_arrives_whole_then_only_new_posts() {
    let Some(records) = rationales() else { return };
    let arbitrum: Vec<Value> = records
        .iter()
        .filter(|r| r["forum"] == "forum.arbitrum.foundation")
        .cloned()
        .collect();
    let n = arbitrum.len();
    assert!(n > 20, "the thread must need posts.json ({n} posts)");
    let topic = discussion_thread(
        31_000,
        "arbitrum-delegate-vote-rationales",
        "Arbitrum delegate vote rationales",
        &arbitrum[..n - 2],
    );
    let forum = MockForum::start(vec![topic]).await.expect("forum");
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = new_store(dir.path(), "pw");
    let key = put(&mut store, "0x1", NOW, &forum.topic_url(31_000), "");

    let r = sync_discussions(&mut store, &client(&forum), &Limits::default(), NOW)
        .await
        .expect("sync");
    assert_eq!((r.topics, r.posts), (1, (n - 2) as u64), "{r:?}");
    assert!(r.failed.is_empty() && r.quarantined.is_empty(), "{r:?}");
    assert_eq!(forum.rejected(), Vec::<String>::new());
    // The topic, then the posts past the first 20 in chunks of 20.
    assert_eq!(posts_requests(&forum), (n - 2 - 20).div_ceil(20));

    let posts = store.discussion(&key).expect("discussion");
    assert_eq!(posts.len(), n - 2);
    assert!(
        posts
            .iter()
            .enumerate()
            .all(|(i, p)| p.post_number == i as u64 + 1)
    );
    for (p, r) in posts.iter().zip(&arbitrum) {
        assert_eq!(p.author, username(r["delegate"].as_str().unwrap_or("")));
        assert_eq!(p.host, "127.0.0.1");
        let rationale = r["rationale"].as_str().unwrap_or("");
        let opening: String = rationale
            .split_whitespace()
            .take(6)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(p.text.contains(&opening), "{:?} lacks {opening:?}", p.text);
        assert!(
            !p.text.contains('<') || rationale.contains('<'),
            "{}",
            p.text
        );
    }
    // Delegates who disagree quote each other; the quote keeps its author, not its chrome.
    let quoting: Vec<_> = posts.iter().filter(|p| p.reply_to.is_some()).collect();
    assert!(!quoting.is_empty(), "no quotes in the thread");
    for p in &quoting {
        assert!(p.text.contains(" wrote:\n> "), "{}", p.text);
        assert!(!p.text.contains("quote-controls") && !p.text.contains("avatar"));
    }
    let audits = discussion_audits(&store);
    assert!(audits >= 1);

    // Again: the topic JSON only, nothing stored, nothing audited.
    let before = forum.requests().len();
    let r = sync_discussions(&mut store, &client(&forum), &Limits::default(), NOW)
        .await
        .expect("resync");
    assert_eq!((r.topics, r.posts), (1, 0));
    assert_eq!(forum.requests().len(), before + 1);
    assert_eq!(discussion_audits(&store), audits);

    // New posts on the forum arrive on the next sync, and only they are fetched.
    for rec in &arbitrum[n - 2..] {
        forum.reply(31_000, rec).expect("topic exists");
    }
    let before = posts_requests(&forum);
    let r = sync_discussions(&mut store, &client(&forum), &Limits::default(), NOW)
        .await
        .expect("sync new");
    assert_eq!(r.posts, 2, "{r:?}");
    assert_eq!(posts_requests(&forum), before + 1);
    let last = forum.requests().last().cloned().unwrap_or_default();
    assert_eq!(last.matches("post_ids%5B%5D=").count(), 2, "{last}");
    assert_eq!(store.discussion(&key).expect("discussion").len(), n);
    assert_eq!(discussion_audits(&store), audits + 1);
}

#[tokio::test]
async fn faults_are_retried_and_a_forum_that_keeps_failing_is_reported() {
    let Some(records) = rationales() else { return };
    let topics = delegate_threads(&records);
    let (a, b) = (topics[0].id, topics[1].id);
    let (na, nb) = (topics[0].posts.len(), topics[1].posts.len());
    let forum = MockForum::start(topics).await.expect("forum");
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = new_store(dir.path(), "pw");
    let ka = put(&mut store, "0xa", NOW, &forum.topic_url(a), "");

    forum.push_fault(Fault::RateLimit { retry_after: 0 });
    forum.push_fault(Fault::Status(502));
    forum.push_fault(Fault::Truncated);
    let r = sync_discussions(&mut store, &client(&forum), &Limits::default(), NOW)
        .await
        .expect("sync");
    assert_eq!(r.posts, na as u64, "{r:?}");
    assert!(r.failed.is_empty(), "{r:?}");
    assert_eq!(store.discussion(&ka).expect("posts").len(), na);

    // Six failures in a row exhaust the first topic's attempts; the next topic still syncs.
    let kb = put(&mut store, "0xb", NOW + 10, &forum.topic_url(b), "");
    for _ in 0..6 {
        forum.push_fault(Fault::Status(503));
    }
    let r = sync_discussions(&mut store, &client(&forum), &Limits::default(), NOW)
        .await
        .expect("sync");
    assert_eq!(r.failed.len(), 1, "{r:?}");
    let f = &r.failed[0];
    assert_eq!(f.origin, "forum 127.0.0.1");
    assert!(f.item.contains(&format!("topic {b}")), "{f}");
    assert!(f.error.contains("giving up after 6 attempts"), "{f}");
    assert!(store.discussion(&kb).expect("posts").is_empty());
    // Topic `a` was refreshed after `b` failed.
    assert_eq!(r.topics, 2);
    let r = sync_discussions(&mut store, &client(&forum), &Limits::default(), NOW)
        .await
        .expect("sync");
    assert_eq!(r.posts, nb as u64);
}

#[tokio::test]
async fn a_missing_topic_and_a_malformed_post_are_reported_not_fatal() {
    let Some(records) = rationales() else { return };
    let topics = delegate_threads(&records);
    let t = topics[0].id;
    let n = topics[0].posts.len();
    let forum = MockForum::start(topics).await.expect("forum");
    let bad = forum
        .add_raw_post(
            t,
            json!({
                "id": 990_001, "username": "argonaut", "name": "Argonaut",
                "created_at": "last tuesday", "post_number": n + 1, "post_type": 1,
                "cooked": "<p>When?</p>", "reply_to_post_number": null, "topic_id": t
            }),
        )
        .expect("topic exists");
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = new_store(dir.path(), "pw");
    put(&mut store, "0xgone", NOW + 1, &forum.topic_url(777_777), "");
    let key = put(&mut store, "0xok", NOW, &forum.topic_url(t), "");

    let r = sync_discussions(&mut store, &client(&forum), &Limits::default(), NOW)
        .await
        .expect("sync");
    assert_eq!(r.topics, 2);
    assert_eq!(r.failed.len(), 1, "{r:?}");
    let f = &r.failed[0];
    assert!(f.item.starts_with("topic 777777"), "{f}");
    assert!(
        f.error.contains("404") && f.error.contains("could not be found"),
        "{f}"
    );
    assert_eq!(r.quarantined.len(), 1, "{r:?}");
    let q = &r.quarantined[0];
    assert_eq!(q.origin, format!("forum 127.0.0.1 topic {t}"));
    assert_eq!(
        (q.item.as_str(), q.field.as_str()),
        (&*format!("post {bad}"), "created_at")
    );
    assert_eq!(r.posts, n as u64);
    assert_eq!(store.discussion(&key).expect("posts").len(), n);
    assert_eq!(store.counts().expect("counts").quarantined, 1);

    // The bad post is not fetched or quarantined again.
    let r = sync_discussions(&mut store, &client(&forum), &Limits::default(), NOW)
        .await
        .expect("resync");
    assert_eq!((r.posts, r.quarantined.len()), (0, 0), "{r:?}");
    assert_eq!(store.counts().expect("counts").quarantined, 1);
}

#[tokio::test]
async fn a_refused_host_names_the_host_and_network_allow() {
    let Some(records) = rationales() else { return };
    let topics = delegate_threads(&records);
    let t = topics[0].id;
    let forum = MockForum::start(topics).await.expect("forum");
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = new_store(dir.path(), "pw");
    put(
        &mut store,
        "0xremote",
        NOW + 2,
        "https://forum.arbitrum.foundation/t/404-dao-delegate-communication-thread/22494/15",
        "",
    );
    // No discussion link: the forum link in the body is used.
    let key = put(
        &mut store,
        "0xbody",
        NOW + 1,
        "",
        &format!("Discuss at [the forum]({}/3).", forum.topic_url(t)),
    );
    // Closed proposals are not refreshed.
    put_state(
        &mut store,
        "0xclosed",
        NOW,
        &forum.topic_url(t),
        "",
        "closed",
    );

    let r = sync_discussions(&mut store, &client(&forum), &Limits::default(), NOW)
        .await
        .expect("sync");
    assert_eq!(r.topics, 2, "{r:?}");
    assert_eq!(r.failed.len(), 1, "{r:?}");
    let f = &r.failed[0];
    assert_eq!(f.origin, "forum forum.arbitrum.foundation");
    assert!(f.item.starts_with("topic 22494"), "{f}");
    assert!(
        f.error.contains("forum.arbitrum.foundation") && f.error.contains("network.allow"),
        "{f}"
    );
    assert!(!store.discussion(&key).expect("posts").is_empty());
}

#[tokio::test]
async fn the_mock_forum_answers_as_discourse_does() {
    let Some(records) = rationales() else { return };
    let topics = delegate_threads(&records);
    let (t, other) = (topics[0].clone(), topics[1].clone());
    let forum = MockForum::start(topics).await.expect("forum");
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let url = format!("{}{path}", forum.url);
        async move {
            let r = http.get(url).send().await.expect("request");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, v) = get(format!("/t/{}/{}.json", t.slug, t.id)).await;
    assert_eq!(status, 200);
    assert_eq!(v["id"], t.id);
    assert_eq!(v["posts_count"], t.posts.len());
    assert_eq!(
        v["post_stream"]["stream"].as_array().map(Vec::len),
        Some(t.posts.len())
    );
    assert_eq!(v["post_stream"]["posts"][0]["post_number"], 1);
    for field in [
        "id",
        "username",
        "name",
        "created_at",
        "post_number",
        "cooked",
        "topic_id",
    ] {
        assert!(
            !v["post_stream"]["posts"][0][field].is_null(),
            "post lacks {field}"
        );
    }

    let (status, v) = get("/t/999999.json".into()).await;
    assert_eq!(status, 404);
    assert_eq!(
        v,
        json!({"errors": ["The requested URL or resource could not be found."], "error_type": "not_found"})
    );

    // posts.json: only this topic's posts, post_ids required, chunks bounded.
    let mine = t.posts[0]["id"].as_u64().expect("id");
    let theirs = other.posts[0]["id"].as_u64().expect("id");
    let (status, v) = get(format!(
        "/t/{}/posts.json?post_ids[]={mine}&post_ids[]={theirs}",
        t.id
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["post_stream"]["posts"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["post_stream"]["posts"][0]["id"], mine);
    let (status, _) = get(format!("/t/{}/posts.json", t.id)).await;
    assert_eq!(status, 400);
    let many: String = (1..=21).map(|i| format!("post_ids[]={i}&")).collect();
    let (status, v) = get(format!("/t/{}/posts.json?{many}", t.id)).await;
    assert_eq!(status, 400);
    assert_eq!(v["error_type"], "invalid_parameters");
    assert_eq!(forum.rejected().len(), 2);
}

/// issue 21 item 7: a proposal's discussion link chooses nothing. A link to a server on another
/// 127.0.0.1 port (allowed by `network.allow = loopback`, but not a configured forum) gets no
/// request and is reported by its URL; the same forum spelled as https is not the configured
/// http one either; the configured forum is still read.
#[tokio::test]
async fn a_discussion_link_outside_forums_hosts_is_never_fetched_and_is_reported() {
    let mut topic = MockTopic::new(5, "fund-it", "Fund it");
    topic.push_raw(json!({
        "id": 1001, "post_number": 1, "username": "alice", "created_at": "2025-06-10T10:00:00.000Z",
        "cooked": "<p>Support.</p>", "reply_to_post_number": null
    }));
    let forum = MockForum::start(vec![topic]).await.expect("forum");
    let mut trap_topic = MockTopic::new(6, "trap", "Trap");
    trap_topic.push_raw(json!({
        "id": 2001, "post_number": 1, "username": "mallory", "created_at": "2025-06-10T10:00:00.000Z",
        "cooked": "<p>Gotcha.</p>", "reply_to_post_number": null
    }));
    let trap = MockForum::start(vec![trap_topic]).await.expect("trap");
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = new_store(dir.path(), "pw");
    let trap_link = trap.topic_url(6);
    let https_link = forum.topic_url(5).replacen("http://", "https://", 1);
    let bad = put(&mut store, "0xtrap", NOW, &trap_link, "");
    let bad_https = put(&mut store, "0xhttps", NOW + 1, &https_link, "");
    let good = put(&mut store, "0xok", NOW + 2, &forum.topic_url(5), "");

    let r = sync_discussions(&mut store, &client(&forum), &Limits::default(), NOW)
        .await
        .expect("sync");
    assert!(
        trap.requests().is_empty(),
        "the unconfigured server was called: {:?}",
        trap.requests()
    );
    assert_eq!(r.failed.len(), 2, "{r:?}");
    let trap_failure = r
        .failed
        .iter()
        .find(|f| f.item.contains(&bad))
        .expect("the trap link is reported");
    assert!(
        trap_failure.error.contains(&trap.url) && trap_failure.error.contains("forums.hosts"),
        "{trap_failure}"
    );
    assert!(
        r.failed.iter().any(|f| f.item.contains(&bad_https)),
        "{r:?}"
    );
    assert!(store.discussion(&bad).expect("posts").is_empty());
    let posts = store.discussion(&good).expect("posts");
    assert_eq!(posts.len(), 1, "{r:?}");
    assert_eq!(posts[0].author, "alice");
}
