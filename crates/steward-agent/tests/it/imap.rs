//! IMAP over TLS against a real Dovecot on 127.0.0.1, started here with its own config, a
//! certificate made at test time, a passwd-file and a maildir, all in a temp dir. Skips (saying
//! why) when `dovecot` or `openssl` is not installed (`scripts/setup-apt.sh`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use steward_agent::sources::imap::{ImapCursor, ImapPassword, cursor_key};
use steward_agent::{
    ImapConfig, Network, ProposalFilter, Store, ingest_file, sync_imap, sync_imap_with,
};
use steward_core::{Allowlist, Limits};

use crate::new_store;

const USER: &str = "alice";
const PASSWORD: &str = "correct-horse-7Q";

const LINKED: &str = "Message-ID: <n1@snapshot.example>\r\nFrom: Snapshot <notify@snapshot.example>\r\nTo: alice@example.org\r\nSubject: New proposal in s.eth: Fund audits\r\nDate: Mon, 20 Nov 2023 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nA new proposal is open: https://snapshot.org/#/s.eth/proposal/0xknown\r\n";

const HTML: &str = "Message-ID: <n2@snapshot.example>\r\nFrom: Snapshot <notify@snapshot.example>\r\nSubject: New proposal in s.eth: Later one\r\nDate: Tue, 21 Nov 2023 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVote on the plan.\r\n--b1\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>Vote on the r=E9sum=E9 <a href=3D\"https://snapshot.org/#/s.eth/proposal/0xfuture\">here</a>.</p>\r\n--b1--\r\n";

const NO_ID: &str = "From: someone@example.org\r\nSubject: no id\r\n\r\nbody\r\n";

const LATER: &str = "Message-ID: <n3@forum.example>\r\nFrom: Forum <digest@forum.example>\r\nSubject: [Temp Check] Treasury diversification\r\nDate: Wed, 22 Nov 2023 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDiscuss at https://forum.example/t/treasury/42\r\n";

/// A Dovecot serving one user over implicit TLS and STARTTLS; killed on drop.
struct Dovecot {
    child: Child,
    dir: tempfile::TempDir,
    tls_port: u16,
    plain_port: u16,
    /// Owner the maildir files must have (Dovecot will not run mail processes as root).
    owner: Option<(u32, u32)>,
    seq: u32,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn id(args: &[&str]) -> String {
    let out = Command::new("id").args(args).output().expect("run id");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Dovecot {
    /// Starts Dovecot, or says why not and returns None.
    fn start() -> Option<Self> {
        let Some(dovecot) = find_tool("dovecot") else {
            eprintln!("skipping the IMAP test: no `dovecot` (scripts/setup-apt.sh dovecot-imapd)");
            return None;
        };
        let Some(openssl) = find_tool("openssl") else {
            eprintln!("skipping the IMAP test: no `openssl` CLI (scripts/setup-apt.sh openssl)");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let status = Command::new(openssl)
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
            .arg("-keyout")
            .arg(d.join("key.pem"))
            .arg("-out")
            .arg(d.join("cert.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run openssl");
        assert!(status.success(), "openssl req failed");

        // As root, Dovecot's login and mail processes must run as other users: its own.
        let root = id(&["-u"]) == "0";
        let (login_user, internal_user, internal_group, uid, gid) = if root {
            (
                "dovenull".to_owned(),
                "dovecot".to_owned(),
                "dovecot".to_owned(),
                id(&["-u", "dovecot"]),
                id(&["-g", "dovecot"]),
            )
        } else {
            let me = id(&["-un"]);
            (me.clone(), me, id(&["-gn"]), id(&["-u"]), id(&["-g"]))
        };
        let owner = root.then(|| {
            (
                uid.parse().expect("dovecot uid"),
                gid.parse().expect("dovecot gid"),
            )
        });
        if root {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        std::fs::write(
            d.join("passwd"),
            format!("{USER}:{{PLAIN}}{PASSWORD}::::::\n"),
        )
        .expect("passwd");
        let (tls_port, plain_port) = (free_port(), free_port());
        let p = d.display();
        let conf = format!(
            "protocols = imap
listen = 127.0.0.1
base_dir = {p}/run
state_dir = {p}/state
log_path = {p}/dovecot.log
info_log_path = {p}/dovecot.log
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
ssl = required
ssl_cert = <{p}/cert.pem
ssl_key = <{p}/key.pem
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 0
passdb {{
  driver = passwd-file
  args = {p}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={p}/mail/%u
}}
mail_location = maildir:{p}/mail/%u/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {plain_port}
  }}
  inet_listener imaps {{
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"
        );
        std::fs::write(d.join("dovecot.conf"), conf).expect("dovecot.conf");
        let mut dv = Self {
            child: Command::new(dovecot)
                .arg("-F")
                .arg("-c")
                .arg(d.join("dovecot.conf"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn dovecot"),
            dir,
            tls_port,
            plain_port,
            owner,
            seq: 0,
        };
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dv.maildir().join(sub)).expect("mkdir maildir");
        }
        dv.fix_owner();
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_err() {
            if let Ok(Some(status)) = dv.child.try_wait() {
                panic!("dovecot exited with {status}: {}", dv.log());
            }
            assert!(
                Instant::now() < deadline,
                "dovecot did not listen: {}",
                dv.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(dv)
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join(format!("mail/{USER}/Maildir"))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// Delivers a message as a mail server would: into `new/`.
    fn deliver(&mut self, message: &str) {
        self.seq += 1;
        let name = format!("1700000000.M{}P1.steward-test", self.seq);
        let tmp = self.maildir().join("tmp").join(&name);
        std::fs::write(&tmp, message).expect("write message");
        std::fs::rename(&tmp, self.maildir().join("new").join(&name)).expect("deliver");
        self.fix_owner();
    }

    fn fix_owner(&self) {
        let Some((uid, gid)) = self.owner else { return };
        fn walk(p: &Path, uid: u32, gid: u32) {
            std::os::unix::fs::chown(p, Some(uid), Some(gid)).expect("chown");
            if p.is_dir() {
                for e in std::fs::read_dir(p).expect("read dir").flatten() {
                    walk(&e.path(), uid, gid);
                }
            }
        }
        walk(&self.dir.path().join("mail"), uid, gid);
    }

    fn config(&self) -> ImapConfig {
        ImapConfig {
            host: "127.0.0.1".into(),
            port: self.tls_port,
            user: USER.into(),
            folder: "INBOX".into(),
            password_env: "STEWARD_TEST_IMAP_PASSWORD_NEVER_SET".into(),
            ca_file: Some(self.dir.path().join("cert.pem")),
            starttls: false,
        }
    }
}

fn net() -> Network {
    Network::new(Allowlist::default(), Duration::from_secs(20))
}

fn mail_proposals(store: &Store) -> usize {
    store
        .proposals(&ProposalFilter::default())
        .expect("list")
        .iter()
        .filter(|p| p.key.starts_with("mail:"))
        .count()
}

#[tokio::test]
async fn imap_syncs_new_messages_from_a_real_dovecot() {
    let Some(mut dv) = Dovecot::start() else {
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = new_store(dir.path(), "pw");
    let limits = Limits::default();
    // A Snapshot proposal the first notification points at.
    let known = dir.path().join("known.json");
    std::fs::write(
        &known,
        r#"{"id": "0xknown", "title": "Fund audits", "body": "b", "choices": ["For", "Against"],
            "created": 100, "start": 100, "end": 1100, "state": "active", "space": {"id": "s.eth"}}"#,
    )
    .expect("write");
    ingest_file(&mut store, &known, &limits, 150).expect("ingest known");

    dv.deliver(LINKED);
    dv.deliver(HTML);
    dv.deliver(NO_ID);
    let cfg = dv.config();
    let pw = ImapPassword::new(PASSWORD.into());
    let r = sync_imap_with(&mut store, &net(), &cfg, &pw, &limits)
        .await
        .unwrap_or_else(|e| panic!("first sync: {e}\n{}", dv.log()));
    assert_eq!((r.linked, r.ingested, r.duplicates), (1, 1, 0), "{r:?}");
    let q: Vec<(&str, &str)> = r
        .quarantined
        .iter()
        .map(|q| (q.item.as_str(), q.field.as_str()))
        .collect();
    assert_eq!(q, [("uid 3", "Message-ID")]);
    assert_eq!(
        r.quarantined[0].origin, "mail imap:alice@127.0.0.1/INBOX",
        "{r:?}"
    );
    let linked = store
        .proposal("mail:n1@snapshot.example")
        .expect("read")
        .expect("found");
    assert_eq!(linked.key, "snapshot:s.eth:0xknown");
    let html = store
        .proposal("mail:n2@snapshot.example")
        .expect("read")
        .expect("found");
    assert_eq!(html.key, "mail:n2@snapshot.example");
    assert_eq!(html.proposal.title, "New proposal in s.eth: Later one");
    let cursor = store
        .cursor(&cursor_key(&cfg))
        .expect("cursor")
        .expect("set");
    let cursor: ImapCursor = serde_json::from_str(&cursor).expect("json");
    assert_eq!(cursor.last_uid, 3);

    // Nothing new: nothing fetched, nothing quarantined again.
    let r = sync_imap_with(&mut store, &net(), &cfg, &pw, &limits)
        .await
        .expect("idle sync");
    assert_eq!(
        (r.linked, r.ingested, r.duplicates, r.quarantined.len()),
        (0, 0, 0, 0)
    );

    // One new message, and the HTML one again (same Message-ID): one new record, no duplicate.
    dv.deliver(LATER);
    dv.deliver(HTML);
    let r = sync_imap_with(&mut store, &net(), &cfg, &pw, &limits)
        .await
        .expect("second sync");
    assert_eq!(
        (r.ingested, r.duplicates, r.quarantined.len()),
        (1, 1, 0),
        "{r:?}"
    );
    assert_eq!(mail_proposals(&store), 2);
    assert!(
        store
            .proposal("mail:n3@forum.example")
            .expect("read")
            .is_some()
    );

    // Over STARTTLS on the plain port: same folder, same cursor, nothing new.
    let starttls = ImapConfig {
        port: dv.plain_port,
        starttls: true,
        ..cfg.clone()
    };
    let r = sync_imap_with(&mut store, &net(), &starttls, &pw, &limits)
        .await
        .expect("starttls sync");
    assert_eq!((r.ingested, r.duplicates), (0, 0), "{r:?}");

    // UIDVALIDITY changed: the whole folder is read again, and dedupe keeps one record each.
    let stale =
        serde_json::json!({ "uidvalidity": cursor.uidvalidity.wrapping_add(1), "last_uid": 99 });
    store
        .transaction(|tx| tx.set_cursor(&cursor_key(&cfg), &stale.to_string()))
        .expect("set cursor");
    let r = sync_imap_with(&mut store, &net(), &cfg, &pw, &limits)
        .await
        .expect("re-read");
    assert_eq!((r.linked, r.ingested, r.duplicates), (1, 0, 3), "{r:?}");
    assert_eq!(mail_proposals(&store), 2);
    let after: ImapCursor = serde_json::from_str(
        &store
            .cursor(&cursor_key(&cfg))
            .expect("cursor")
            .expect("set"),
    )
    .expect("json");
    assert_eq!(
        after,
        ImapCursor {
            uidvalidity: cursor.uidvalidity,
            last_uid: 5
        }
    );

    // A wrong password names user@host, and not the password.
    let wrong = ImapPassword::new("not-the-Pa55word".into());
    let e = sync_imap_with(&mut store, &net(), &cfg, &wrong, &limits)
        .await
        .expect_err("wrong password");
    let msg = e.to_string();
    assert_eq!(e.kind(), "imap-login", "{msg}");
    assert!(msg.contains("alice@127.0.0.1"), "{msg}");
    assert!(!msg.contains("not-the-Pa55word") && !format!("{e:?}").contains("Pa55word"));

    // The test's self-signed certificate is not trusted without ca_file.
    let untrusted = ImapConfig {
        ca_file: None,
        ..cfg.clone()
    };
    let e = sync_imap_with(&mut store, &net(), &untrusted, &pw, &limits)
        .await
        .expect_err("untrusted certificate");
    let msg = e.to_string();
    assert_eq!(e.kind(), "imap", "{msg}");
    assert!(
        msg.contains("TLS handshake") && msg.contains("127.0.0.1"),
        "{msg}"
    );

    // Without its password variable, sync_imap says which variable to set.
    let e = sync_imap(&mut store, &net(), &cfg, &limits)
        .await
        .expect_err("no password");
    assert!(
        e.to_string()
            .contains("$STEWARD_TEST_IMAP_PASSWORD_NEVER_SET"),
        "{e}"
    );
    store.verify_audit().expect("read").expect("intact");
    eprintln!("imap test against dovecot: {:?}", started.elapsed());
}

#[tokio::test]
async fn imap_host_outside_the_allowlist_is_refused_before_connecting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = new_store(dir.path(), "pw");
    // An unroutable address: a connection attempt would hang until the timeout.
    let cfg = ImapConfig {
        host: "10.255.255.1".into(),
        port: 993,
        user: USER.into(),
        folder: "INBOX".into(),
        password_env: "STEWARD_IMAP_PASSWORD".into(),
        ca_file: None,
        starttls: false,
    };
    let started = Instant::now();
    let e = sync_imap_with(
        &mut store,
        &Network::new(Allowlist::default(), Duration::from_secs(30)),
        &cfg,
        &ImapPassword::new(PASSWORD.into()),
        &Limits::default(),
    )
    .await
    .expect_err("refused");
    assert_eq!(e.kind(), "network-refused", "{e}");
    assert!(e.to_string().contains("10.255.255.1"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(store.cursor(&cursor_key(&cfg)).expect("cursor").is_none());
}
