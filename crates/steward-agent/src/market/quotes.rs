//! The sponsor's quote service (`steward market quotes --listen 127.0.0.1:PORT`, in the
//! sponsor's home) and the trader's side of it (`market.quote_url`): `POST /quote` with a
//! [`QuoteRequest`] answers a [`SignedQuote`] at the LMSR price of the market's current on-chain
//! state, signed with the sponsor's key, or a JSON `{"error": ...}`: 403 for a trader not in
//! `market.quote_traders`, 422 for an amount or a cost above `market.quote_max`, an input not
//! open, or no shares at all. The contract still checks everything the quote binds (state,
//! trader, nonce, deadline, solvency), so the service can only refuse, never overspend.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use steward_core::Address;
use steward_eth::{Key, SuggestionMarketClient};

use super::{QUOTE_SECS, SignedQuote, market_error, tokens};
use crate::error::{Error, Result};

/// A trader's ask: these shares of this input, for this trader.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct QuoteRequest {
    pub input: u64,
    pub trader: Address,
    pub delta_accepted: i128,
    pub delta_rejected: i128,
}

/// What the service signs for, and with what.
#[derive(Debug, Clone)]
pub struct QuoteService {
    pub market: SuggestionMarketClient,
    pub sponsor: Key,
    pub traders: Vec<Address>,
    /// The most shares on either side, and the most cost, of one quote, in token units.
    pub max_units: u128,
}

impl QuoteService {
    /// From the sponsor's config: the market, `market.quote_traders`, `market.quote_max`.
    pub fn from_config(config: &crate::Config, net: &crate::Network, sponsor: Key) -> Result<Self> {
        let ctx_market = super::client_of(config, net)?;
        let traders = config
            .market
            .quote_traders
            .iter()
            .map(|t| {
                t.trim().parse().map_err(|_| {
                    market_error(format!("market.quote_traders: {t:?} is not an address"))
                })
            })
            .collect::<Result<Vec<Address>>>()?;
        Ok(Self {
            market: ctx_market,
            sponsor,
            traders,
            max_units: super::to_units(config.market.quote_max),
        })
    }

    /// Prices and signs `req`, or says why not (the HTTP status and the reason).
    pub async fn quote(
        &self,
        req: &QuoteRequest,
    ) -> std::result::Result<SignedQuote, (StatusCode, String)> {
        let refuse = |s: StatusCode, m: String| Err((s, m));
        if !self.traders.contains(&req.trader) {
            return refuse(
                StatusCode::FORBIDDEN,
                format!("trader {} is not in market.quote_traders", req.trader),
            );
        }
        if req.delta_accepted == 0 && req.delta_rejected == 0 {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "a quote needs shares".into(),
            );
        }
        let max = i128::try_from(self.max_units).unwrap_or(i128::MAX);
        if req.delta_accepted.abs() > max || req.delta_rejected.abs() > max {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "at most {} shares a side per quote (market.quote_max)",
                    tokens(max)
                ),
            );
        }
        let bad = |e: steward_eth::RegistryError| (StatusCode::UNPROCESSABLE_ENTITY, e.to_string());
        let state = self.market.input(req.input).await.map_err(bad)?;
        if state.status != steward_eth::InputStatus::Open {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("input {} is not open for trading", req.input),
            );
        }
        let now = self.market.chain_time().await.map_err(bad)?;
        let q = self
            .market
            .price(
                req.input,
                req.trader,
                req.delta_accepted,
                req.delta_rejected,
                now + QUOTE_SECS,
            )
            .await
            .map_err(bad)?;
        if q.cost.abs() > max {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "the trade costs {}; at most {} per quote (market.quote_max)",
                    tokens(q.cost),
                    tokens(max)
                ),
            );
        }
        let sig = self
            .market
            .sign_quote(&self.sponsor, &q)
            .await
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        Ok(SignedQuote::of(self.market.address(), &q, Some(sig)))
    }

    /// The service's routes.
    pub fn router(self) -> Router {
        Router::new()
            .route("/quote", post(quote_handler))
            .with_state(Arc::new(self))
    }
}

async fn quote_handler(
    State(svc): State<Arc<QuoteService>>,
    Json(req): Json<QuoteRequest>,
) -> Response {
    match svc.quote(&req).await {
        Ok(q) => {
            tracing::info!(input = q.input, trader = %q.trader, cost = q.cost, "quote signed");
            Json(q).into_response()
        }
        Err((status, error)) => {
            tracing::info!(input = req.input, trader = %req.trader, %error, "quote refused");
            (status, Json(serde_json::json!({ "error": error }))).into_response()
        }
    }
}

/// Serves `svc` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, svc: QuoteService) -> Result<()> {
    // `market.quote_max` is in 6-decimal units: a token with other decimals is refused first.
    super::check_decimals(&svc.market).await?;
    axum::serve(listener, svc.router())
        .await
        .map_err(|e| Error::Source {
            source_name: "market quotes".into(),
            message: e.to_string(),
        })
}

/// Asks the sponsor's service at `url` for a signed quote.
pub async fn request_quote(
    net: &crate::Network,
    url: &str,
    req: &QuoteRequest,
) -> Result<SignedQuote> {
    let endpoint = format!("{}/quote", url.trim_end_matches('/'));
    let resp = net
        .http()?
        .post(&endpoint)?
        .json(req)
        .send()
        .await
        .map_err(|e| market_error(format!("asking {endpoint} for a quote: {e}")))?;
    let status = resp.status();
    let body: serde_json::Value = resp
        .json()
        .await
        .map_err(|e| market_error(format!("{endpoint}: the answer is not JSON ({e})")))?;
    if !status.is_success() {
        return Err(market_error(format!(
            "{endpoint} refused the quote ({status}): {}",
            body.get("error")
                .and_then(|e| e.as_str())
                .unwrap_or("no reason given")
        )));
    }
    serde_json::from_value(body)
        .map_err(|e| market_error(format!("{endpoint}: the answer is not a quote ({e})")))
}
