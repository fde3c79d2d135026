//! IMAP over TLS: the messages of one folder, fetched incrementally by UID.
//!
//! The connection comes from [`Network::imap_tls`] (allowlist first, certificates always
//! verified, implicit TLS or STARTTLS). After login the folder is selected read-only (`EXAMINE`)
//! and messages are fetched with `BODY.PEEK[]`, so nothing on the server changes, not even the
//! `\Seen` flag. Each message comes back as a [`RawMessage`] labelled `uid N` for
//! [`super::mail::parse_message`].
//!
//! Where a sync stands is an [`ImapCursor`] `{uidvalidity, last_uid}` stored under
//! `imap:<user>@<host>/<folder>`. UIDs only mean something within one UIDVALIDITY: when the
//! server's changes, the whole folder is read again, which is safe because mail proposals are
//! keyed by Message-ID.
//!
//! The password lives in an [`ImapPassword`], whose `Debug` is redacted and whose memory is
//! zeroed on drop; it is read from the environment variable the entry names (or asked for by the
//! CLI), never from argv, and no error or log line carries it.

use std::fmt;
use std::time::Duration;

use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::mail::RawMessage;
use crate::config::ImapConfig;
use crate::error::{Error, Result};
use crate::net::{ImapStream, Network};

/// Messages fetched per `UID FETCH` and stored per transaction, with the cursor that covers them.
pub const BATCH: usize = 50;

/// An IMAP password. `Debug` never shows it; dropped, it is zeroed.
pub struct ImapPassword(Zeroizing<String>);

impl ImapPassword {
    pub fn new(password: String) -> Self {
        Self(Zeroizing::new(password))
    }

    /// The password from the variable named by `cfg.password_env`, if set and not empty.
    pub fn from_env(cfg: &ImapConfig) -> Option<Self> {
        std::env::var(&cfg.password_env)
            .ok()
            .filter(|p| !p.is_empty())
            .map(Self::new)
    }
}

impl fmt::Debug for ImapPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ImapPassword(<redacted>)")
    }
}

/// Where the sync of one folder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImapCursor {
    pub uidvalidity: u32,
    /// The highest UID already stored (0: none).
    pub last_uid: u32,
}

/// The store key of a folder's cursor: `imap:<user>@<host>/<folder>`.
pub fn cursor_key(cfg: &ImapConfig) -> String {
    format!("imap:{}", cfg.account())
}

/// A logged-in session with one folder selected read-only.
pub struct ImapFolder {
    session: async_imap::Session<ImapStream>,
    account: String,
    timeout: Duration,
    /// The folder's UIDVALIDITY.
    pub uidvalidity: u32,
    /// The UID the next message will get, if the server said.
    pub uid_next: Option<u32>,
}

impl fmt::Debug for ImapFolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapFolder")
            .field("account", &self.account)
            .field("uidvalidity", &self.uidvalidity)
            .field("uid_next", &self.uid_next)
            .finish_non_exhaustive()
    }
}

impl ImapFolder {
    /// Connects through `net`, logs in and examines `cfg.folder`.
    pub async fn open(net: &Network, cfg: &ImapConfig, password: &ImapPassword) -> Result<Self> {
        let account = cfg.account();
        let timeout = net.timeout();
        let fail = |message: String| Error::Imap {
            account: account.clone(),
            message,
        };
        let stream = net
            .imap_tls(&cfg.host, cfg.port, cfg.ca_file.as_deref(), cfg.starttls)
            .await?;
        let mut client = async_imap::Client::new(stream);
        if !cfg.starttls {
            let greeting = within(timeout, &account, "the greeting", client.read_response())
                .await?
                .map_err(|e| fail(format!("reading the greeting: {e}")))?;
            if greeting.is_none() {
                return Err(fail(
                    "the server closed the connection before its greeting".into(),
                ));
            }
        }
        let login = within(
            timeout,
            &account,
            "login",
            client.login(&cfg.user, password.0.as_str()),
        )
        .await?;
        let mut session = match login {
            Ok(s) => s,
            Err((async_imap::error::Error::No(m) | async_imap::error::Error::Bad(m), _)) => {
                return Err(Error::ImapLogin {
                    account: account.clone(),
                    password_env: cfg.password_env.clone(),
                    message: m,
                });
            }
            Err((e, _)) => return Err(fail(format!("login: {e}"))),
        };
        let mailbox = within(timeout, &account, "EXAMINE", session.examine(&cfg.folder))
            .await?
            .map_err(|e| fail(format!("opening the folder: {e}")))?;
        let uidvalidity = mailbox
            .uid_validity
            .ok_or_else(|| fail("the server sent no UIDVALIDITY for the folder".into()))?;
        Ok(Self {
            session,
            account,
            timeout,
            uidvalidity,
            uid_next: mailbox.uid_next,
        })
    }

    /// UIDs above `last_uid`, ascending.
    pub async fn uids_after(&mut self, last_uid: u32) -> Result<Vec<u32>> {
        if self
            .uid_next
            .is_some_and(|next| next <= last_uid.saturating_add(1))
        {
            return Ok(vec![]);
        }
        let query = format!("UID {}:*", last_uid.saturating_add(1));
        let found = within(
            self.timeout,
            &self.account,
            "UID SEARCH",
            self.session.uid_search(&query),
        )
        .await?
        .map_err(|e| self.fail(format!("UID SEARCH: {e}")))?;
        // `n:*` always includes the highest UID, even below n.
        let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > last_uid).collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// The messages with these UIDs, in UID order, labelled `uid N`. UIDs expunged meanwhile
    /// are left out.
    pub async fn fetch(&mut self, uids: &[u32]) -> Result<Vec<RawMessage>> {
        if uids.is_empty() {
            return Ok(vec![]);
        }
        let set = uids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let (timeout, account) = (self.timeout, self.account.clone());
        let fetches: Vec<async_imap::types::Fetch> =
            within(timeout, &account, "UID FETCH", async {
                self.session
                    .uid_fetch(&set, "(UID BODY.PEEK[])")
                    .await?
                    .try_collect()
                    .await
            })
            .await?
            .map_err(|e| self.fail(format!("UID FETCH: {e}")))?;
        let mut out: Vec<(u32, RawMessage)> = fetches
            .iter()
            .filter_map(|f| {
                let uid = f.uid.filter(|u| uids.binary_search(u).is_ok())?;
                Some((
                    uid,
                    RawMessage {
                        label: format!("uid {uid}"),
                        bytes: f.body()?.to_vec(),
                    },
                ))
            })
            .collect();
        out.sort_by_key(|(uid, _)| *uid);
        out.dedup_by_key(|(uid, _)| *uid);
        Ok(out.into_iter().map(|(_, m)| m).collect())
    }

    /// Logs out; a failure here only loses the courtesy of a clean goodbye.
    pub async fn logout(mut self) {
        let account = self.account.clone();
        if let Ok(Err(e)) = tokio::time::timeout(self.timeout, self.session.logout()).await {
            tracing::debug!("imap {account}: logout: {e}");
        }
    }

    fn fail(&self, message: String) -> Error {
        Error::Imap {
            account: self.account.clone(),
            message,
        }
    }
}

async fn within<T>(
    timeout: Duration,
    account: &str,
    what: &str,
    fut: impl Future<Output = T>,
) -> Result<T> {
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| Error::Imap {
            account: account.to_owned(),
            message: format!("{what} timed out after {} s", timeout.as_secs()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_not_in_debug() {
        let p = ImapPassword::new("hunter2".into());
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn async_imap_trace_records_are_compiled_out() {
        // async-imap logs each command it sends, LOGIN with the password, at trace level.
        assert!(log::STATIC_MAX_LEVEL <= log::LevelFilter::Debug);
    }
}
