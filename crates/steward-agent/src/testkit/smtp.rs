//! A real mail submission path on 127.0.0.1 for the notify tests: Dovecot's submission service
//! (SMTP with STARTTLS and implicit TLS, AUTH checked against a passwd-file, a certificate made at
//! start) relaying every accepted message to Postfix's `smtp-sink`, which writes each one, as
//! received, to a file. The test reads those files: the exact bytes that left Steward.
//!
//! Why this pair: Dovecot's LMTP speaks LMTP, not SMTP, and a full Postfix needs root and a
//! system spool; Dovecot submission is the SMTP server a Dovecot user submits to, and
//! `smtp-sink` (Postfix's own test server) is the last hop. Both run from a temp dir.
//! [`MailServer::start`] returns why not when `dovecot` (with `dovecot-submissiond`),
//! `smtp-sink` (`postfix`) or `openssl` is missing (`scripts/setup-apt.sh` installs them).

#![allow(clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::dovecot::{RunAs, find_tool, free_port, run_as, self_signed_cert};
use crate::config::{MailConfig, MailTls};

/// The one submission user and its password.
pub const USER: &str = "steward";
pub const PASSWORD: &str = "submit-Kp4-horse";

/// Dovecot submission in front of smtp-sink; both killed on drop.
#[derive(Debug)]
pub struct MailServer {
    dovecot: Child,
    sink: Child,
    dir: tempfile::TempDir,
    /// STARTTLS (plain, then upgraded).
    pub submission_port: u16,
    /// Implicit TLS.
    pub submissions_port: u16,
    /// smtp-sink itself: plain SMTP, no TLS, no AUTH.
    pub sink_port: u16,
}

impl Drop for MailServer {
    fn drop(&mut self) {
        for c in [&mut self.dovecot, &mut self.sink] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_listening(port: u16, child: &mut Child, what: &str, log: &dyn Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited with {status}: {}", log());
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not listen: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl MailServer {
    /// Starts both servers, or says what is missing.
    pub fn start() -> Result<Self, String> {
        let dovecot = find_tool("dovecot").ok_or("no `dovecot` (dovecot-core)")?;
        if !Path::new("/usr/lib/dovecot/submission").exists() {
            return Err("no Dovecot submission service (dovecot-submissiond)".into());
        }
        let sink = find_tool("smtp-sink").ok_or("no `smtp-sink` (postfix)")?;
        let openssl = find_tool("openssl").ok_or("no `openssl` CLI (openssl)")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        self_signed_cert(&openssl, d);

        // As root, Dovecot's login processes and smtp-sink must run as other users.
        let RunAs {
            root,
            login_user,
            internal_user,
            internal_group,
            uid,
            gid,
        } = run_as();
        if root {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        for sub in ["run", "state", "home", "sink"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        if root {
            use std::os::unix::fs::PermissionsExt;
            // smtp-sink drops to `nobody` and writes each message here.
            std::fs::set_permissions(d.join("sink"), std::fs::Permissions::from_mode(0o777))
                .expect("chmod sink");
        }
        std::fs::write(
            d.join("passwd"),
            format!("{USER}:{{PLAIN}}{PASSWORD}::::::\n"),
        )
        .expect("passwd");

        let sink_port = free_port();
        let mut sink_cmd = Command::new(sink);
        if root {
            sink_cmd.args(["-u", "nobody"]);
        }
        // -d: one file per message, named from the template plus a random suffix.
        let mut sink = sink_cmd
            .arg("-d")
            .arg(d.join("sink/%Y%m%d%H%M%S."))
            .arg(format!("127.0.0.1:{sink_port}"))
            .arg("16")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn smtp-sink");
        wait_listening(sink_port, &mut sink, "smtp-sink", &|| String::new());

        let (submission_port, submissions_port) = (free_port(), free_port());
        let p = d.display();
        let conf = format!(
            "protocols = submission
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
hostname = localhost
submission_relay_host = 127.0.0.1
submission_relay_port = {sink_port}
passdb {{
  driver = passwd-file
  args = {p}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={p}/home/%u
}}
# Submission never stores mail, but the user's session wants a storage location.
mail_location = maildir:{p}/home/%u/Maildir
service submission-login {{
  chroot =
  inet_listener submission {{
    port = {submission_port}
  }}
  inet_listener submissions {{
    port = {submissions_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"
        );
        std::fs::write(d.join("dovecot.conf"), conf).expect("dovecot.conf");
        let mut dovecot = Command::new(dovecot)
            .arg("-F")
            .arg("-c")
            .arg(d.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dovecot");
        let log_path = d.join("dovecot.log");
        let log = move || std::fs::read_to_string(&log_path).unwrap_or_default();
        wait_listening(submission_port, &mut dovecot, "dovecot", &log);
        wait_listening(submissions_port, &mut dovecot, "dovecot", &log);
        Ok(Self {
            dovecot,
            sink,
            dir,
            submission_port,
            submissions_port,
            sink_port,
        })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// The certificate clients must trust.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// A `[notify.mail]` for this server over `tls` (STARTTLS or implicit TLS), logging in as
    /// [`USER`] with the password from `password_env`.
    pub fn config(&self, tls: MailTls, password_env: &str) -> MailConfig {
        MailConfig {
            host: "127.0.0.1".into(),
            port: Some(match tls {
                MailTls::Tls => self.submissions_port,
                MailTls::Starttls => self.submission_port,
                MailTls::None => self.sink_port,
            }),
            tls,
            from: "Steward <steward@localhost>".into(),
            to: "me@example.org".into(),
            user: (tls != MailTls::None).then(|| USER.to_owned()),
            password_env: password_env.into(),
            password_file: None,
            ca_file: Some(self.ca_file()),
        }
    }

    /// Every message smtp-sink received so far, as written (oldest first), waiting up to 10 s
    /// for at least `n` of them: the relay hop is asynchronous to the client's.
    pub fn received(&self, n: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("sink"))
                .map(|rd| rd.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            files.sort();
            let got: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
