//! `steward sync` and `steward ingest file` as a user runs them, including a kill -9 mid-sync.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use steward_agent::testkit::hub::{MockHub, load_daocensus};
use steward_agent::{Home, Passphrase, Store};

use crate::{PASS, json, run, steward, temp_home};

fn shared_data() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    if p.is_dir() {
        Some(p)
    } else {
        steward_testing::skip(
            steward_testing::Need::Data,
            "sync",
            format_args!("{} is absent", p.display()),
        );
        None
    }
}

fn open(home: &std::path::Path) -> (Home, Store) {
    let h = Home::open(home).expect("home");
    let s = Store::open(&h, &Passphrase::new(PASS.into()).expect("pass")).expect("store");
    (h, s)
}

#[test]
fn sync_killed_mid_way_resumes_with_no_duplicates_and_no_gaps() {
    let Some(data) = shared_data() else { return };
    let now = jiff::Timestamp::now().as_second();
    let proposals = load_daocensus(&data.join("snapshot-daocensus"), "lido", now).expect("lido");
    let total = proposals.len() as u64;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let hub = rt.block_on(MockHub::start(proposals, vec![])).expect("hub");
    hub.set_delay(Duration::from_millis(60));

    let (_d, home) = temp_home();
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init"));
    assert_eq!(code, 0, "{err}");
    let sync = || {
        let mut c = steward(&home);
        c.env("STEWARD_PASSPHRASE", PASS)
            .env("STEWARD_SNAPSHOT_HUB", &hub.url)
            .env("STEWARD_SNAPSHOT_SPACES", "lido-snapshot.eth")
            .env("STEWARD_SNAPSHOT_PAGE_SIZE", "10");
        c
    };

    let mut child = sync().arg("sync").spawn().expect("spawn sync");
    let started = Instant::now();
    while hub.requests() < 8 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("kill -9"); // SIGKILL on unix
    child.wait().expect("reap");
    let partial = open(&home).1.counts().expect("counts").proposals;
    assert!(
        partial > 0 && partial < total,
        "killed mid-way: {partial} of {total}"
    );

    hub.set_delay(Duration::ZERO);
    let (code, out, err) = run(sync().args(["sync", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["data"]["ingested"].as_u64(), Some(total - partial), "{v}");

    let (_h, store) = open(&home);
    assert_eq!(store.counts().expect("counts").proposals, total, "no gaps");
    let new_ingests = store
        .audit_entries(None)
        .expect("audit")
        .iter()
        .filter(|e| e.kind == "ingest" && e.detail.contains(r#""outcome":"new""#))
        .count() as u64;
    assert_eq!(new_ingests, total, "each proposal ingested exactly once");
    drop((_h, store));
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["log", "verify"]));
    assert_eq!(code, 0, "{out}");
}

#[test]
fn ingest_file_reports_and_exits_6_on_quarantine() {
    let (_d, home) = temp_home();
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init"));
    assert_eq!(code, 0, "{err}");
    let file = home.parent().expect("parent").join("gov.json");
    std::fs::write(
        &file,
        r#"[{"chainId": 1, "governor": "0x408ED6354d4973f66138C91495F2f2FCbd8724C3", "proposalId": "7",
             "proposer": "0x0000000000000000000000000000000000000001",
             "targets": ["0x0000000000000000000000000000000000000002"], "values": ["0"],
             "signatures": ["transfer(address,uint256)"], "calldatas": ["0x00"],
             "description": "Bravo style", "voteStart": 1, "voteEnd": 2},
            {"chainId": 1, "governor": "0x408ED6354d4973f66138C91495F2f2FCbd8724C3", "proposalId": "8",
             "proposer": "0x0000000000000000000000000000000000000001",
             "targets": ["0x0000000000000000000000000000000000000002", "0x0000000000000000000000000000000000000003"],
             "values": ["0"], "calldatas": ["0x"], "description": "mismatched"}]"#,
    )
    .expect("write");
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["ingest", "file", "--json"])
        .arg(&file));
    assert_eq!(code, 6, "{out}");
    let v = json(&out);
    assert_eq!(v["data"]["ingested"], 1);
    let q = &v["data"]["quarantined"][0];
    assert_eq!(
        (q["item"].as_str(), q["field"].as_str()),
        (Some("8"), Some("values")),
        "{v}"
    );
    assert!(
        q["source"].as_str().unwrap_or("").contains("gov.json"),
        "{v}"
    );

    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["show", "7", "--json"]));
    assert_eq!(code, 0, "{out}");
    let v = json(&out);
    assert_eq!(
        v["data"]["proposal"]["actions"][0]["signature"],
        "transfer(address,uint256)"
    );
    assert_eq!(
        v["data"]["key"],
        "governor:1:0x408ed6354d4973f66138c91495f2f2fcbd8724c3:7"
    );

    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["proposals", "--json"]));
    assert_eq!(code, 0);
    assert_eq!(json(&out)["data"].as_array().map(Vec::len), Some(1));
}

#[test]
fn sync_refreshes_discussions_of_file_ingested_proposals_and_reports_refused_forums() {
    let (_d, home) = temp_home();
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init"));
    assert_eq!(code, 0, "{err}");
    // No source configured and nothing open: nothing to do, said plainly.
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("sync"));
    assert_eq!(code, 1);
    assert!(err.contains("no sources to sync"), "{err}");

    let file = home.parent().expect("parent").join("open.json");
    std::fs::write(
        &file,
        r#"{"id": "0xa", "title": "T", "body": "b", "choices": ["For", "Against"], "start": 1,
            "end": 9999999999, "state": "active", "created": 5, "type": "single-choice",
            "discussion": "https://forum.arbitrum.foundation/t/some-topic/123",
            "space": {"id": "arbitrumfoundation.eth"}}"#,
    )
    .expect("write");
    let (code, _, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["ingest", "file"])
        .arg(&file));
    assert_eq!(code, 0);
    // A forum the user did not configure is never read: the link comes from the proposal.
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["sync", "--json"]));
    assert_eq!(code, 6, "{out}");
    let v = json(&out);
    let failed = v["data"]["discussions"]["failed"].to_string();
    assert!(
        failed.contains("forum.arbitrum.foundation") && failed.contains("forums.hosts"),
        "{v}"
    );
    // A configured forum is still subject to the network policy (loopback only by default).
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_FORUMS_HOSTS", "forum.arbitrum.foundation")
        .args(["sync", "--json"]));
    assert_eq!(code, 6, "{out}");
    let v = json(&out);
    let failed = v["data"]["discussions"]["failed"].to_string();
    assert!(
        failed.contains("forum.arbitrum.foundation") && failed.contains("network.allow"),
        "{v}"
    );
}

#[test]
fn sync_reads_imap_over_tls_from_a_real_dovecot() {
    use steward_agent::testkit::dovecot::{Dovecot, PASSWORD, USER};
    let Some(mut dv) = Dovecot::start() else {
        steward_testing::skip(
            steward_testing::Need::Dovecot,
            "sync_imap",
            "Dovecot could not start (see above)",
        );
        return;
    };
    dv.deliver("Message-ID: <cli1@snapshot.example>\r\nFrom: Snapshot <notify@snapshot.example>\r\nSubject: New proposal in cli.eth: Fund the audit\r\nDate: Mon, 20 Nov 2023 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nA new proposal: fund the audit of the bridge. Vote at https://snapshot.org/#/cli.eth/proposal/0xcli1\r\n");
    let (_d, home) = temp_home();
    assert_eq!(
        run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init")).0,
        0
    );
    std::fs::write(
        home.join("config.toml"),
        format!(
            "[[imap]]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{USER}\"\nfolder = \"INBOX\"\npassword_env = \"STEWARD_IMAP_PASSWORD\"\nca_file = \"{}\"\n",
            dv.tls_port,
            dv.ca_file().display()
        ),
    )
    .expect("config");
    // No password: a clear error naming the variable, not a hang on a prompt.
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("sync"));
    assert_eq!(code, 1);
    assert!(err.contains("STEWARD_IMAP_PASSWORD"), "{err}");
    let (code, out, err) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_IMAP_PASSWORD", PASSWORD)
        .args(["--json", "-vv", "sync"]));
    assert_eq!(code, 0, "{out}\n{err}\n{}", dv.log());
    assert_eq!(json(&out)["data"]["ingested"], 1, "{out}");
    assert!(
        !out.contains(PASSWORD) && !err.contains(PASSWORD),
        "password leaked"
    );
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["--json", "proposals"]));
    assert_eq!(code, 0);
    assert!(out.contains("Fund the audit"), "{out}");
    // Again: nothing new, nothing duplicated.
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_IMAP_PASSWORD", PASSWORD)
        .args(["--json", "sync"]));
    assert_eq!(code, 0);
    assert_eq!(json(&out)["data"]["ingested"], 0, "{out}");
}

#[test]
fn show_includes_the_forum_discussion_synced_for_a_proposal() {
    use steward_agent::testkit::forum::{MockForum, MockTopic};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let mut topic = MockTopic::new(77, "fund-the-audit", "Fund the audit");
    topic.push_raw(serde_json::json!({
        "id": 1001, "post_number": 1, "username": "alice_delegate",
        "created_at": "2023-11-20T10:00:00.000Z", "cooked": "<p>We support this audit: the bridge holds most of the TVL.</p>",
        "reply_to_post_number": null
    }));
    let forum = rt.block_on(MockForum::start(vec![topic])).expect("forum");
    let (_d, home) = temp_home();
    assert_eq!(
        run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init")).0,
        0
    );
    let file = home.parent().expect("parent").join("p.json");
    std::fs::write(
        &file,
        format!(
            r#"{{"id": "0xd1", "title": "Fund the audit", "body": "b", "choices": ["For", "Against"], "start": 1,
                "end": 9999999999, "state": "active", "created": 5, "type": "single-choice",
                "discussion": "{}", "space": {{"id": "cli.eth"}}}}"#,
            forum.topic_url(77)
        ),
    )
    .expect("write");
    assert_eq!(
        run(steward(&home)
            .env("STEWARD_PASSPHRASE", PASS)
            .args(["ingest", "file"])
            .arg(&file))
        .0,
        0
    );
    let (code, out, err) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_FORUMS_HOSTS", &forum.url)
        .args(["--json", "sync"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["--json", "show", "0xd1"]));
    assert_eq!(code, 0);
    let v = json(&out);
    let posts = v["data"]["discussion"].as_array().expect("discussion");
    assert_eq!(posts.len(), 1, "{out}");
    assert_eq!(posts[0]["author"], "alice_delegate");
    assert!(
        posts[0]["text"]
            .as_str()
            .expect("text")
            .contains("bridge holds most"),
        "{out}"
    );
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["show", "0xd1"]));
    assert_eq!(code, 0);
    assert!(
        out.contains("alice_delegate"),
        "human output lacks the discussion:\n{out}"
    );
}
