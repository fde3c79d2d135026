//! The one place outbound clients are built.
//!
//! Every HTTP, RPC, IMAP and model-server client comes from [`Network`], which checks each
//! destination — host and port, and each redirect hop — against `network.allow`. A refused
//! destination is an error naming the host, the port and the key that would allow it. Errors
//! name hosts only, never whole URLs: RPC URLs often carry API keys in their path.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use steward_core::Allowlist;
use steward_ml::{OpenAiBackend, OpenAiConfig};
use url::Url;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::sources::forum::ForumHost;

/// The network factory.
#[derive(Debug, Clone)]
pub struct Network {
    allow: Arc<Allowlist>,
    timeout: Duration,
    /// `forums.hosts`: where proposals' discussion links may be fetched from.
    forums: Arc<Vec<ForumHost>>,
}

impl Network {
    pub fn new(allow: Allowlist, timeout: Duration) -> Self {
        Self {
            allow: Arc::new(allow),
            timeout,
            forums: Arc::new(Vec::new()),
        }
    }

    pub fn from_config(cfg: &Config) -> Result<Self> {
        let forums = cfg.forum_hosts().map_err(|message| Error::ConfigValue {
            origin: "config".into(),
            key: "forums.hosts".into(),
            message: message.0,
        })?;
        Ok(Self::new(
            cfg.allowlist()?,
            Duration::from_secs(cfg.network.timeout_secs),
        )
        .with_forum_hosts(forums))
    }

    /// The forums discussions may be read from (none by default).
    #[must_use]
    pub fn with_forum_hosts(mut self, hosts: Vec<ForumHost>) -> Self {
        self.forums = Arc::new(hosts);
        self
    }

    pub fn forum_hosts(&self) -> &[ForumHost] {
        &self.forums
    }

    pub fn allowlist(&self) -> &Allowlist {
        &self.allow
    }

    /// Checks a host on any port. Rules limited to a port do not satisfy it: prefer
    /// [`Network::check_at`].
    pub fn check_host(&self, host: &str) -> Result<()> {
        Ok(self.allow.check(host)?)
    }

    /// Checks a host and port (for non-URL clients such as IMAP).
    pub fn check_at(&self, host: &str, port: u16) -> Result<()> {
        Ok(self.allow.check_at(host, port)?)
    }

    /// The per-operation timeout (`network.timeout_secs`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A TLS connection to the IMAP server at `host:port`, checked against the allowlist before
    /// any socket is opened. Certificates are always verified, against the PEM CA(s) in `ca_file`
    /// only when given, else the system's roots. With `starttls` the connection starts in plain
    /// text and is upgraded by STARTTLS before anything else is sent; a server that refuses is an
    /// error, never a fall-back to plain text. Without it the server's greeting is still to be
    /// read; after STARTTLS there is none.
    pub async fn imap_tls(
        &self,
        host: &str,
        port: u16,
        ca_file: Option<&Path>,
        starttls: bool,
    ) -> Result<ImapStream> {
        self.check_at(host, port)?;
        let at = format!("{host}:{port}");
        let fail = |message: String| Error::Imap {
            account: at.clone(),
            message,
        };
        let mut tls = tokio_native_tls::native_tls::TlsConnector::builder();
        tls.min_protocol_version(Some(tokio_native_tls::native_tls::Protocol::Tlsv12));
        if let Some(path) = ca_file {
            let pem = std::fs::read(path).map_err(|source| Error::Io {
                path: path.into(),
                context: "reading the IMAP ca_file",
                source,
            })?;
            let certs = tokio_native_tls::native_tls::Certificate::stack_from_pem(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    fail(format!(
                        "ca_file {} holds no PEM certificate",
                        path.display()
                    ))
                })?;
            tls.disable_built_in_roots(true);
            for c in certs {
                tls.add_root_certificate(c);
            }
        }
        let tls = tls
            .build()
            .map_err(|e| fail(format!("setting up TLS: {e}")))?;
        let tls = tokio_native_tls::TlsConnector::from(tls);
        let timed = |what: &'static str| {
            let at = at.clone();
            move |_| Error::Imap {
                account: at,
                message: format!("{what} timed out after {} s", self.timeout.as_secs()),
            }
        };
        let mut tcp =
            tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect((host, port)))
                .await
                .map_err(timed("connecting"))?
                .map_err(|e| fail(format!("connecting: {e}")))?;
        if starttls {
            tokio::time::timeout(self.timeout, starttls_preamble(&mut tcp))
                .await
                .map_err(timed("STARTTLS"))?
                .map_err(|e| fail(format!("STARTTLS: {e}")))?;
        }
        tokio::time::timeout(self.timeout, tls.connect(host, tcp))
            .await
            .map_err(timed("the TLS handshake"))?
            .map_err(|e| {
                fail(format!(
                    "TLS handshake: {e}{}",
                    if ca_file.is_none() {
                        " (for a private CA, set ca_file in the [[imap]] entry)"
                    } else {
                        ""
                    }
                ))
            })
    }

    /// Parses `url` and checks its host. Only http(s) and ws(s) are accepted.
    pub fn check_url(&self, url: &str) -> Result<Url> {
        let parsed = Url::parse(url).map_err(|e| Error::Url {
            url: redact(url),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https" | "ws" | "wss") {
            return Err(Error::Url {
                url: redact(url),
                reason: format!("unsupported scheme {:?}", parsed.scheme()),
            });
        }
        let host = parsed.host_str().ok_or_else(|| Error::Url {
            url: redact(url),
            reason: "no host".into(),
        })?;
        // Scheme defaults (80, 443) count as the port, so `host:443` allows `https://host`.
        let port = parsed.port_or_known_default().ok_or_else(|| Error::Url {
            url: redact(url),
            reason: "no port".into(),
        })?;
        self.allow.check_at(host, port)?;
        Ok(parsed)
    }

    /// A JSON-RPC connection to `url` over an allowlist-checked client.
    pub fn rpc(&self, url: &str) -> Result<steward_eth::Rpc> {
        let checked = self.check_url(url)?;
        let http = self.http()?;
        steward_eth::Rpc::with_client(checked, http.inner).map_err(|e| Error::Source {
            source_name: format!("rpc {}", redact(url)),
            message: e.to_string(),
        })
    }

    /// The OpenAI-compatible model server at `config.base_url` (llama-server, Ollama, vLLM), on
    /// a client of its own (the backend requires one). Every request goes under `base_url`, so
    /// checking it here covers them; redirects are checked as for [`Network::http`].
    pub fn openai(&self, config: OpenAiConfig) -> Result<OpenAiBackend> {
        self.check_url(&config.base_url)?;
        let at = redact(&config.base_url);
        OpenAiBackend::new(self.http()?.inner, config).map_err(|e| Error::Source {
            source_name: format!("model server {at}"),
            message: e.to_string(),
        })
    }

    /// An HTTP client whose every request and redirect is checked against the allowlist.
    pub fn http(&self) -> Result<HttpClient> {
        let allow = Arc::clone(&self.allow);
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                return attempt.error("too many redirects (5)");
            }
            let url = attempt.url();
            match allow.check_at(
                url.host_str().unwrap_or(""),
                url.port_or_known_default().unwrap_or(0),
            ) {
                Ok(()) => attempt.follow(),
                Err(refused) => attempt.error(refused),
            }
        });
        let inner = reqwest::Client::builder()
            .redirect(policy)
            .no_proxy()
            .timeout(self.timeout)
            .user_agent(concat!("steward/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::Http)?;
        Ok(HttpClient {
            inner,
            net: self.clone(),
        })
    }
}

/// An HTTP client built by [`Network::http`]; the only way to send a request is through a
/// checked URL.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    net: Network,
}

impl HttpClient {
    pub fn get(&self, url: &str) -> Result<reqwest::RequestBuilder> {
        Ok(self.inner.get(self.net.check_url(url)?))
    }

    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder> {
        Ok(self.inner.post(self.net.check_url(url)?))
    }

    /// `forums.hosts` of the network this client was built from.
    pub fn forum_hosts(&self) -> &[ForumHost] {
        self.net.forum_hosts()
    }
}

/// An IMAP connection made by [`Network::imap_tls`].
pub type ImapStream = tokio_native_tls::TlsStream<tokio::net::TcpStream>;

/// Reads the greeting, sends STARTTLS and reads its tagged answer, on the plain connection.
/// Line by line without buffering ahead, so no byte of the TLS handshake is consumed here.
async fn starttls_preamble(tcp: &mut tokio::net::TcpStream) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    async fn line(tcp: &mut tokio::net::TcpStream) -> std::io::Result<String> {
        let mut buf = Vec::new();
        while !buf.ends_with(b"\n") {
            if buf.len() > 8192 {
                return Err(std::io::Error::other("server line over 8 KiB"));
            }
            buf.push(tcp.read_u8().await?);
        }
        Ok(String::from_utf8_lossy(&buf).trim_end().to_owned())
    }
    let greeting = line(tcp).await?;
    if !greeting.starts_with("* OK") {
        return Err(std::io::Error::other(format!(
            "unexpected greeting {greeting:?}"
        )));
    }
    tcp.write_all(b"s1 STARTTLS\r\n").await?;
    loop {
        let l = line(tcp).await?;
        if l.starts_with("s1 OK") {
            return Ok(());
        }
        if l.starts_with("s1 ") || l.starts_with("* BYE") {
            return Err(std::io::Error::other(format!("server refused: {l:?}")));
        }
    }
}

/// The URL with any userinfo, path and query removed: enough to say where, never a secret.
fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "<unparseable URL>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_drops_path_and_userinfo() {
        assert_eq!(
            redact("https://user:pw@mainnet.infura.io:8545/v3/SECRETKEY?x=1"),
            "https://mainnet.infura.io:8545"
        );
    }

    #[test]
    fn refusal_names_host_and_key() {
        let net = Network::new(Allowlist::default(), Duration::from_secs(1));
        let err = net
            .check_url("https://mainnet.infura.io/v3/SECRETKEY")
            .expect_err("refused");
        let msg = err.to_string();
        assert!(msg.contains("mainnet.infura.io"), "{msg}");
        assert!(msg.contains("network.allow"), "{msg}");
        assert!(!msg.contains("SECRETKEY"), "{msg}");
        assert!(net.check_url("file:///etc/passwd").is_err());
        assert!(net.check_url("http://127.0.0.1:8545").is_ok());
    }
}
