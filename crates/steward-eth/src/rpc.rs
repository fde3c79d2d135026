//! The JSON-RPC connection: an alloy HTTP provider over a `reqwest::Client`, a deadline on every
//! request, and errors that name the host but never the URL.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::network::Ethereum;
use alloy::primitives::{Address, Bytes};
use alloy::providers::{Provider, ProviderBuilder, RootProvider};
use alloy::rpc::client::RpcClient;
use alloy::rpc::types::{Filter, Log, TransactionRequest};
use alloy::sol_types::SolCall;
use alloy::transports::http::Http;
use alloy::transports::{RpcError, TransportResult};
use url::Url;

use crate::error::{Error, Result};

/// How long one request may take when the caller sets nothing else.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to one Ethereum JSON-RPC endpoint.
///
/// The URL must already have passed the agent's allowlist (`steward_agent::Network::check_url`);
/// build with [`Rpc::with_client`] and the agent's `reqwest::Client` so redirects are checked
/// too. `Debug` and every error show the host only.
#[derive(Clone)]
pub struct Rpc {
    provider: RootProvider<Ethereum>,
    host: String,
    /// The full URL, kept only to scrub it out of error messages.
    secret: Arc<str>,
    timeout: Duration,
}

impl fmt::Debug for Rpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rpc")
            .field("host", &self.host)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What an `eth_call` came back with: return data, or a revert (with the node's message).
pub(crate) type CallOutcome<T> = std::result::Result<T, String>;

impl Rpc {
    /// Connects with a plain client (timeout [`DEFAULT_TIMEOUT`], no proxy). Prefer
    /// [`Rpc::with_client`] with the agent's client outside tests.
    pub fn new(url: Url) -> Result<Self> {
        let host = host_of(&url)?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(DEFAULT_TIMEOUT)
            .build()
            .map_err(|source| Error::Client {
                host: host.clone(),
                source,
            })?;
        Self::with_client(url, client)
    }

    /// Connects through `client` (alloy's HTTP transport uses reqwest 0.13, the workspace's).
    pub fn with_client(url: Url, client: reqwest::Client) -> Result<Self> {
        let host = host_of(&url)?;
        let is_local = url
            .host_str()
            .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]");
        let secret: Arc<str> = Arc::from(url.as_str());
        let transport = Http::with_client(client, url);
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_client(RpcClient::new(transport, is_local));
        Ok(Self {
            provider,
            host,
            secret,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Sets the deadline for each request.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `host` or `host:port`: what errors and logs name.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The underlying alloy provider, for callers that send transactions or need other methods.
    /// Its errors carry the URL: map them through this crate before showing them.
    pub fn provider(&self) -> &RootProvider<Ethereum> {
        &self.provider
    }

    pub async fn chain_id(&self) -> Result<u64> {
        let r = self
            .timed("eth_chainId", self.provider.get_chain_id())
            .await?;
        r.map_err(|e| self.fail("eth_chainId", e))
    }

    pub async fn block_number(&self) -> Result<u64> {
        let r = self
            .timed("eth_blockNumber", self.provider.get_block_number())
            .await?;
        r.map_err(|e| self.fail("eth_blockNumber", e))
    }

    /// The timestamp (unix seconds) of block `number`.
    pub async fn block_timestamp(&self, number: u64) -> Result<u64> {
        let ctx = || format!("eth_getBlockByNumber({number})");
        let block = self
            .timed(&ctx(), async {
                self.provider
                    .get_block_by_number(BlockNumberOrTag::Number(number))
                    .await
            })
            .await?
            .map_err(|e| self.fail(&ctx(), e))?;
        match block {
            Some(b) => Ok(b.header.timestamp),
            None => Err(Error::BadResponse {
                host: self.host.clone(),
                context: ctx(),
                detail: "no such block".into(),
            }),
        }
    }

    pub async fn code_at(&self, address: Address) -> Result<Bytes> {
        let ctx = format!("eth_getCode({address})");
        self.timed(&ctx, async { self.provider.get_code_at(address).await })
            .await?
            .map_err(|e| self.fail(&ctx, e))
    }

    /// `eth_getLogs`. The outer error is a transport failure; the inner one is the node refusing
    /// the request (e.g. a block range too large), which the caller may retry smaller.
    pub(crate) async fn logs(
        &self,
        filter: &Filter,
        context: &str,
    ) -> Result<CallOutcome<Vec<Log>>> {
        match self.timed(context, self.provider.get_logs(filter)).await? {
            Ok(logs) => Ok(Ok(logs)),
            Err(RpcError::ErrorResp(payload)) => Ok(Err(payload.message.to_string())),
            Err(e) => Err(self.fail(context, e)),
        }
    }

    /// `eth_call` of `call` on `to` at the latest block, decoded. A revert (or a contract that
    /// does not answer this function) is the inner error; transport failures are the outer one.
    pub(crate) async fn call<C: SolCall>(
        &self,
        to: Address,
        call: &C,
        context: &str,
    ) -> Result<CallOutcome<C::Return>> {
        let tx = TransactionRequest::default()
            .to(to)
            .input(Bytes::from(call.abi_encode()).into());
        let data = match self
            .timed(context, async { self.provider.call(tx).await })
            .await?
        {
            Ok(data) => data,
            Err(RpcError::ErrorResp(payload)) => {
                let mut msg = payload.message.to_string();
                if let Some(data) = payload.as_revert_data()
                    && let Some(reason) = alloy::sol_types::decode_revert_reason(&data)
                {
                    msg = format!("{msg}: {reason}");
                }
                return Ok(Err(msg));
            }
            Err(e) => return Err(self.fail(context, e)),
        };
        if data.is_empty() {
            return Ok(Err("returned no data (no such function?)".into()));
        }
        Ok(C::abi_decode_returns(&data).map_err(|e| format!("return data does not decode: {e}")))
    }

    /// Runs `fut` under the deadline.
    pub(crate) async fn timed<T>(
        &self,
        context: &str,
        fut: impl Future<Output = TransportResult<T>>,
    ) -> Result<TransportResult<T>> {
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| Error::Timeout {
                host: self.host.clone(),
                context: context.to_owned(),
                secs: self.timeout.as_secs().max(1),
            })
    }

    /// Maps an alloy error to ours, with the URL scrubbed from its text.
    pub(crate) fn fail(
        &self,
        context: &str,
        e: RpcError<alloy::transports::TransportErrorKind>,
    ) -> Error {
        let detail = self.scrub(&error_chain(&e));
        match e {
            RpcError::DeserError { .. } | RpcError::NullResp => Error::BadResponse {
                host: self.host.clone(),
                context: context.to_owned(),
                detail,
            },
            _ => Error::Rpc {
                host: self.host.clone(),
                context: context.to_owned(),
                detail,
            },
        }
    }

    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(&*self.secret, &self.host);
        // reqwest may print the URL without the trailing slash a bare host URL gains.
        if let Some(bare) = self.secret.strip_suffix('/') {
            out = out.replace(bare, &self.host);
        }
        out
    }
}

/// The error and its sources, joined with ": " (reqwest hides the cause in its source).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(src) = cur {
        let t = src.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = src.source();
    }
    // Deserialization errors quote the whole response body; keep messages to one short line.
    if s.len() > 500 {
        let mut cut = 500;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s.replace('\n', " ")
}

fn host_of(url: &Url) -> Result<String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Url {
            url: format!("{}://{}", url.scheme(), url.host_str().unwrap_or("")),
            reason: format!("unsupported scheme {:?} (http or https)", url.scheme()),
        });
    }
    let host = url.host_str().ok_or_else(|| Error::Url {
        url: format!("{}://", url.scheme()),
        reason: "no host".into(),
    })?;
    Ok(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_scrub_never_show_the_url() {
        let url = Url::parse("https://user:pw@mainnet.example:8545/v3/SECRETKEY?x=1").expect("url");
        let rpc = Rpc::new(url.clone()).expect("rpc");
        assert_eq!(rpc.host(), "mainnet.example:8545");
        let dbg = format!("{rpc:?}");
        assert!(!dbg.contains("SECRETKEY") && !dbg.contains("pw"), "{dbg}");
        let scrubbed = rpc.scrub(&format!("error sending request for url ({url})"));
        assert!(!scrubbed.contains("SECRETKEY"), "{scrubbed}");
        assert!(scrubbed.contains("mainnet.example:8545"), "{scrubbed}");
    }

    #[test]
    fn only_http_urls() {
        let err = Rpc::new(Url::parse("ws://localhost:8546/KEY").expect("url")).expect_err("ws");
        assert!(!err.to_string().contains("KEY"), "{err}");
    }
}
