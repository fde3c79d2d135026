//! A real Dovecot IMAP server on 127.0.0.1 for tests and the demo: its own config, a
//! certificate made at start, a passwd-file with one user and a maildir, all in a temp dir.
//! `Dovecot::start` says why and returns `None` when `dovecot` or `openssl` is missing
//! (`scripts/setup-apt.sh` installs them).

// Skip reasons go to stderr; a harness that cannot start its server panics with the log.
#![allow(clippy::print_stderr, clippy::panic)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ImapConfig;

/// The one user's name and password.
pub const USER: &str = "alice";
pub const PASSWORD: &str = "correct-horse-7Q";

/// A Dovecot serving one user over implicit TLS and STARTTLS; killed on drop.
#[derive(Debug)]
pub struct Dovecot {
    child: Child,
    dir: tempfile::TempDir,
    pub tls_port: u16,
    pub plain_port: u16,
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

pub(crate) fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn id(args: &[&str]) -> String {
    let out = Command::new("id").args(args).output().expect("run id");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Writes `cert.pem` and `key.pem` into `dir`: a self-signed certificate for 127.0.0.1 and
/// localhost, for the Dovecot services the tests start.
pub(crate) fn self_signed_cert(openssl: &Path, dir: &Path) {
    let status = Command::new(openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl req failed");
}

/// Who Dovecot's processes run as. As root its login and internal processes must be other
/// users (its own); otherwise everything runs as the caller.
pub(crate) struct RunAs {
    pub(crate) root: bool,
    pub(crate) login_user: String,
    pub(crate) internal_user: String,
    pub(crate) internal_group: String,
    pub(crate) uid: String,
    pub(crate) gid: String,
}

pub(crate) fn run_as() -> RunAs {
    let root = id(&["-u"]) == "0";
    if root {
        RunAs {
            root,
            login_user: "dovenull".to_owned(),
            internal_user: "dovecot".to_owned(),
            internal_group: "dovecot".to_owned(),
            uid: id(&["-u", "dovecot"]),
            gid: id(&["-g", "dovecot"]),
        }
    } else {
        let me = id(&["-un"]);
        RunAs {
            root,
            login_user: me.clone(),
            internal_user: me,
            internal_group: id(&["-gn"]),
            uid: id(&["-u"]),
            gid: id(&["-g"]),
        }
    }
}

impl Dovecot {
    /// Starts Dovecot, or says why not and returns None.
    pub fn start() -> Option<Self> {
        let Some(dovecot) = find_tool("dovecot") else {
            eprintln!("SKIP: no `dovecot` (scripts/setup-apt.sh dovecot-imapd)");
            return None;
        };
        let Some(openssl) = find_tool("openssl") else {
            eprintln!("SKIP: no `openssl` CLI (scripts/setup-apt.sh openssl)");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        self_signed_cert(&openssl, d);

        // As root, Dovecot's login and mail processes must run as other users: its own.
        let RunAs {
            root,
            login_user,
            internal_user,
            internal_group,
            uid,
            gid,
        } = run_as();
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

    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join(format!("mail/{USER}/Maildir"))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// Delivers a message as a mail server would: into `new/`.
    pub fn deliver(&mut self, message: &str) {
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

    /// The certificate clients must trust.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    pub fn config(&self) -> ImapConfig {
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
