//! The channels: a webhook (POST JSON through the allowlisted HTTP client) and mail (SMTP through
//! lettre, the host checked against the same allowlist before any socket is opened).

use std::fmt;
use std::path::Path;
use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use zeroize::Zeroizing;

use super::{Channel, Notice, NotifyError};
use crate::config::{MailConfig, MailTls};
use crate::net::{HttpClient, Network};

/// POSTs each notice as JSON, with the notice id as `Idempotency-Key`, and signed as Standard
/// Webhooks specify when a secret is given: `webhook-id`, `webhook-timestamp` and
/// `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, which the receiver
/// checks with the same secret (the Svix and Standard Webhooks libraries do it in one call).
pub struct WebhookSender {
    url: String,
    host: String,
    client: HttpClient,
    secret: Option<Zeroizing<Vec<u8>>>,
}

/// The signing secret as Standard Webhooks write it: `whsec_` and base64, or any other text
/// taken as its bytes.
pub fn webhook_secret(text: &str) -> Result<Zeroizing<Vec<u8>>, NotifyError> {
    use base64::Engine;
    let text = text.trim();
    if text.is_empty() {
        return Err(NotifyError::Config(
            "the webhook signing secret is empty".into(),
        ));
    }
    match text.strip_prefix("whsec_") {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map(Zeroizing::new)
            // Never the secret in the message.
            .map_err(|_| {
                NotifyError::Config(
                    "the webhook signing secret starts with whsec_ but the rest is not base64"
                        .into(),
                )
            }),
        None => Ok(Zeroizing::new(text.as_bytes().to_vec())),
    }
}

/// `v1,<signature>` of Standard Webhooks for one message.
pub fn webhook_signature(secret: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    // HMAC takes keys of any length; new_from_slice cannot fail for it.
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

// The URL's path and query may hold a token: only the host is shown.
impl fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSender")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl WebhookSender {
    /// A sender to `url`; with `secret` ([`webhook_secret`]) every POST is signed.
    pub fn new(
        net: &Network,
        url: &str,
        secret: Option<Zeroizing<Vec<u8>>>,
    ) -> Result<Self, NotifyError> {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .ok_or_else(|| NotifyError::Config("notify.webhook is not a URL with a host".into()))?;
        net.check_url(url).map_err(|e| NotifyError::Refused {
            channel: Channel::Webhook,
            host: host.clone(),
            source: Box::new(e),
        })?;
        let client = net.http().map_err(|e| NotifyError::Send {
            channel: Channel::Webhook,
            host: host.clone(),
            what: "building the HTTP client".into(),
            source: Some(Box::new(e)),
        })?;
        Ok(Self {
            url: url.to_owned(),
            host,
            client,
            secret,
        })
    }

    pub async fn send(&self, n: &Notice) -> Result<(), NotifyError> {
        let fail = |what: String, source: Option<Box<dyn std::error::Error + Send + Sync>>| {
            NotifyError::Send {
                channel: Channel::Webhook,
                host: self.host.clone(),
                what,
                source,
            }
        };
        let req = self
            .client
            .post(&self.url)
            .map_err(|e| NotifyError::Refused {
                channel: Channel::Webhook,
                host: self.host.clone(),
                source: Box::new(e),
            })?;
        let body = serde_json::to_vec(n).map_err(|e| fail("encoding".into(), Some(Box::new(e))))?;
        let mut req = req
            .header("Idempotency-Key", &n.id)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(secret) = &self.secret {
            let ts = jiff::Timestamp::now().as_second();
            req = req
                .header("webhook-id", &n.id)
                .header("webhook-timestamp", ts.to_string())
                .header(
                    "webhook-signature",
                    webhook_signature(secret, &n.id, ts, &body),
                );
        }
        let resp = req
            .body(body)
            .send()
            .await
            // reqwest names the whole URL in its message; the path may be a secret.
            .map_err(|e| fail("sending".into(), Some(Box::new(e.without_url()))))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(fail(format!("the server answered {status}"), None));
        }
        Ok(())
    }
}

/// Submits each notice over SMTP to one recipient.
pub struct MailSender {
    host: String,
    port: u16,
    tls: MailTls,
    from: Mailbox,
    to: Mailbox,
    login: Option<(String, Zeroizing<String>)>,
    ca: Option<Vec<u8>>,
    timeout: Duration,
    net: Network,
}

impl fmt::Debug for MailSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailSender")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.login.as_ref().map(|(u, _)| u))
            .field("password", &self.login.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl MailSender {
    /// Reads the password (file first, then the variable) and the CA file now, so a missing one
    /// is an error before any round sends.
    pub fn new(
        net: &Network,
        m: &MailConfig,
        secret: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, NotifyError> {
        let bad = |what: String| NotifyError::Config(format!("notify.mail: {what}"));
        let from: Mailbox = m
            .from
            .parse()
            .map_err(|e| bad(format!("from {:?}: {e}", m.from)))?;
        let to: Mailbox =
            m.to.parse()
                .map_err(|e| bad(format!("to {:?}: {e}", m.to)))?;
        net.check_at(&m.host, m.port())
            .map_err(|e| NotifyError::Refused {
                channel: Channel::Mail,
                host: m.host.clone(),
                source: Box::new(e),
            })?;
        let login = match &m.user {
            None => None,
            Some(user) => {
                let pw = match &m.password_file {
                    Some(path) => {
                        read_password_file(path).map_err(|why| NotifyError::Password {
                            user: user.clone(),
                            why,
                        })?
                    }
                    None => Zeroizing::new(secret(&m.password_env).ok_or_else(|| {
                        NotifyError::Password {
                            user: user.clone(),
                            why: format!("set ${} or password_file", m.password_env),
                        }
                    })?),
                };
                Some((user.clone(), pw))
            }
        };
        let ca = match &m.ca_file {
            Some(p) => {
                Some(std::fs::read(p).map_err(|e| bad(format!("ca_file {}: {e}", p.display())))?)
            }
            None => None,
        };
        Ok(Self {
            host: m.host.clone(),
            port: m.port(),
            tls: m.tls,
            from,
            to,
            login,
            ca,
            timeout: net.timeout(),
            net: net.clone(),
        })
    }

    fn fail(
        &self,
        what: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> NotifyError {
        NotifyError::Send {
            channel: Channel::Mail,
            host: format!("{}:{}", self.host, self.port),
            what: what.into(),
            source,
        }
    }

    fn tls(&self) -> Result<Tls, NotifyError> {
        if self.tls == MailTls::None {
            return Ok(Tls::None);
        }
        let mut b = TlsParameters::builder(self.host.clone())
            .set_min_tls_version(lettre::transport::smtp::client::TlsVersion::Tlsv12);
        if let Some(pem) = &self.ca {
            let cert = Certificate::from_pem(pem)
                .map_err(|e| self.fail("reading ca_file", Some(Box::new(e))))?;
            b = b
                .certificate_store(CertificateStore::None)
                .add_root_certificate(cert);
        }
        let p = b
            .build_native()
            .map_err(|e| self.fail("setting up TLS", Some(Box::new(e))))?;
        // STARTTLS is required, never opportunistic: a server without it is an error, not a
        // fall-back to plain text.
        Ok(match self.tls {
            MailTls::Tls => Tls::Wrapper(p),
            _ => Tls::Required(p),
        })
    }

    pub async fn send(&self, n: &Notice, now: i64) -> Result<(), NotifyError> {
        // Checked again at send time: the allowlist is the one gate for every connection.
        self.net
            .check_at(&self.host, self.port)
            .map_err(|e| NotifyError::Refused {
                channel: Channel::Mail,
                host: self.host.clone(),
                source: Box::new(e),
            })?;
        let domain = self.from.email.domain().to_owned();
        let date = std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(now).unwrap_or(0));
        let msg = Message::builder()
            .from(self.from.clone())
            .to(self.to.clone())
            .subject(n.subject())
            // The same id on a retry: a repeat after a crash is recognisably the same notice.
            .message_id(Some(format!("<{}@{domain}>", n.id)))
            .date(date)
            .header(ContentType::TEXT_PLAIN)
            .body(n.text())
            .map_err(|e| self.fail("building the message", Some(Box::new(e))))?;
        self.submit(msg).await
    }

    /// The address mail is sent from (`notify.mail.from`).
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Sends one plain-text message to `to` (not the configured recipient) through the same
    /// server: the attention-bond auto-reply (crate::bondauto). `headers` are extra
    /// `(name, value)` pairs; `in_reply_to` threads it under the message it answers.
    pub async fn send_to(
        &self,
        to: &Mailbox,
        subject: &str,
        body: String,
        message_id: &str,
        in_reply_to: Option<&str>,
        auto_submitted: bool,
    ) -> Result<(), NotifyError> {
        self.net
            .check_at(&self.host, self.port)
            .map_err(|e| NotifyError::Refused {
                channel: Channel::Mail,
                host: self.host.clone(),
                source: Box::new(e),
            })?;
        let mut b = Message::builder()
            .from(self.from.clone())
            .to(to.clone())
            .subject(subject)
            .message_id(Some(message_id.to_owned()))
            .date_now();
        if let Some(r) = in_reply_to {
            b = b.in_reply_to(r.to_owned()).references(r.to_owned());
        }
        if auto_submitted {
            // RFC 3834: an automatic answer, so the other side's auto-responders stay quiet.
            b = b.header(AutoSubmitted);
        }
        let msg = b
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| self.fail("building the message", Some(Box::new(e))))?;
        self.submit(msg).await
    }

    async fn submit(&self, msg: Message) -> Result<(), NotifyError> {
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .tls(self.tls()?)
            .timeout(Some(self.timeout));
        if let Some((user, pw)) = &self.login {
            b = b.credentials(Credentials::new(user.clone(), pw.to_string()));
        }
        let transport = b.build();
        transport
            .send(msg)
            .await
            .map_err(|e| self.fail("sending", Some(Box::new(e))))?;
        Ok(())
    }
}

/// `Auto-Submitted: auto-replied` (RFC 3834).
#[derive(Debug, Clone, Copy)]
struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "auto-replied".into())
    }
}

fn read_password_file(path: &Path) -> Result<Zeroizing<String>, String> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read password_file {}: {e}", path.display()))?,
    );
    let first = text.lines().next().unwrap_or("");
    if first.is_empty() {
        return Err(format!("password_file {} is empty", path.display()));
    }
    Ok(Zeroizing::new(first.to_owned()))
}
