//! The market ledger in the store (docs/economy.md): every trade is recorded as an intent before
//! anything is signed, in the same transaction that checks `market.budget` and
//! `market.daily_cap` against what the store already holds. A process killed between the record
//! and the send therefore cannot let a second trade pass the caps: the intent's spend counts
//! until [`super::reconcile`] reads the chain on the next run and settles it (the quote's nonce
//! used: confirmed; the quote expired unused: abandoned, its spend released).
//!
//! `<home>/market-ledger.json`, the ledger before the store had one, is imported once (the
//! import and a `meta` mark in one transaction) and renamed `market-ledger.json.imported`.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use steward_core::AuditRecord;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::home::Home;
use crate::store::{Store, sql};

/// The migration creating the ledger (one element of the store's MIGRATIONS).
pub(crate) const MIGRATION: &str = r#"
-- Suggestion-market trades (crates/steward-agent/src/market/ledger.rs, docs/economy.md):
-- written as an intent before signing, in the transaction that checks the spend caps.
CREATE TABLE market_trades (
    id             INTEGER PRIMARY KEY,
    market         TEXT NOT NULL,        -- 0x address, lower case
    input          INTEGER NOT NULL,
    trader         TEXT NOT NULL,        -- 0x address, lower case
    nonce          INTEGER,              -- the quote's nonce (the contract uses each once)
    deadline       INTEGER,              -- the quote's deadline, chain time
    delta_accepted TEXT NOT NULL,        -- token units (i128)
    delta_rejected TEXT NOT NULL,
    cost           INTEGER NOT NULL,     -- token units the trader pays (negative: is paid)
    spend          INTEGER NOT NULL,     -- what counts against the caps: max(cost, 0)
    state          TEXT NOT NULL CHECK (state IN ('intent', 'confirmed', 'failed', 'abandoned', 'imported')),
    origin         TEXT NOT NULL,        -- user | auto | import
    why            TEXT NOT NULL,        -- JSON: price, probability, evidence, gain, caps left
    tx             TEXT,
    error          TEXT,
    created_ts     INTEGER NOT NULL,
    updated_ts     INTEGER NOT NULL
) STRICT;
-- One unsettled trade per market and trader: a second waits for the first to be reconciled.
CREATE UNIQUE INDEX market_trades_one_intent ON market_trades (market, trader) WHERE state = 'intent';
CREATE INDEX market_trades_created ON market_trades (created_ts);
"#;

/// The migration that names markets (several per home): each trade keeps the name of the
/// market it was made in (`[[market.markets]]`, `default` for `market.address`), and the spend
/// of one market is summed by its address.
pub(crate) const NAMES_MIGRATION: &str = r#"
-- (several markets per home, market/ledger.rs) the name a trade's market had in config.
ALTER TABLE market_trades ADD COLUMN market_name TEXT NOT NULL DEFAULT 'default';
CREATE INDEX market_trades_market ON market_trades (market, created_ts);
"#;

const IMPORTED_META: &str = "market_ledger_imported";

/// A trade's state in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TradeState {
    /// Recorded, maybe sent: its spend counts until reconciled.
    Intent,
    /// Mined (or its quote's nonce is used on chain).
    Confirmed,
    /// Refused or reverted: nothing moved.
    Failed,
    /// Its quote expired unused: it can never land.
    Abandoned,
    /// From the old `market-ledger.json`.
    Imported,
}

impl TradeState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Intent => "intent",
            Self::Confirmed => "confirmed",
            Self::Failed => "failed",
            Self::Abandoned => "abandoned",
            Self::Imported => "imported",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "intent" => Self::Intent,
            "confirmed" => Self::Confirmed,
            "failed" => Self::Failed,
            "abandoned" => Self::Abandoned,
            "imported" => Self::Imported,
            _ => return None,
        })
    }
}

/// The states whose spend counts against the caps.
const SPENDING: &str = "('intent', 'confirmed', 'imported')";

/// One trade as the ledger holds it.
#[derive(Debug, Clone, Serialize)]
pub struct TradeRecord {
    pub id: i64,
    pub market: String,
    pub input: u64,
    pub trader: String,
    pub nonce: Option<u64>,
    pub deadline: Option<u64>,
    pub delta_accepted: i128,
    pub delta_rejected: i128,
    pub cost: i64,
    pub spend: i64,
    pub state: TradeState,
    pub origin: String,
    pub why: serde_json::Value,
    pub tx: Option<String>,
    pub error: Option<String>,
    pub created_ts: i64,
    pub updated_ts: i64,
    /// The market's name in config (`default` for `[market] address`).
    pub market_name: String,
}

/// A trade about to be signed.
#[derive(Debug, Clone)]
pub struct NewTrade<'a> {
    pub market: String,
    pub input: u64,
    pub trader: String,
    pub nonce: u64,
    pub deadline: u64,
    pub delta_accepted: i128,
    pub delta_rejected: i128,
    pub cost: i128,
    pub origin: &'a str,
    pub why: serde_json::Value,
}

/// Token units spent: in all, and in the last 24 hours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Spent {
    pub total: u128,
    pub day: u128,
}

/// `market.budget` and `market.daily_cap` in token units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub budget: u128,
    pub daily_cap: u128,
}

/// One market's own caps (`[[market.markets]]` `budget` and `daily_cap`, token units),
/// checked with the overall ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarketCaps {
    /// The market's name in config.
    pub name: String,
    /// `None`: only the overall caps apply.
    pub limits: Option<Limits>,
}

impl Default for MarketCaps {
    fn default() -> Self {
        Self {
            name: crate::config::DEFAULT_MARKET.into(),
            limits: None,
        }
    }
}

impl MarketCaps {
    /// The caps of the market `config` was chosen for ([`Config::for_market`]).
    pub fn of(config: &Config) -> Self {
        let Some(sel) = &config.market.selected else {
            return Self::default();
        };
        let limits = (sel.budget.is_some() || sel.daily_cap.is_some()).then(|| Limits {
            budget: sel.budget.map_or(u128::MAX, super::to_units),
            daily_cap: sel.daily_cap.map_or(u128::MAX, super::to_units),
        });
        Self {
            name: sel.name.clone(),
            limits,
        }
    }

    /// What this market's caps leave (everything when it has none).
    pub fn left(&self, spent: Spent) -> Left {
        self.limits.map_or(
            Left {
                budget: u128::MAX,
                day: u128::MAX,
            },
            |l| l.left(spent),
        )
    }

    /// Refuses a trade costing `cost` that would pass this market's own caps (`spent`: this
    /// market's spend).
    pub fn check(&self, spent: Spent, cost: i128) -> Result<()> {
        use super::tokens;
        let (Some(l), Ok(cost)) = (self.limits, u128::try_from(cost)) else {
            return Ok(());
        };
        for (used, cap, what) in [
            (spent.total, l.budget, "budget"),
            (spent.day, l.daily_cap, "daily_cap"),
        ] {
            if used.saturating_add(cost) > cap {
                return Err(super::market_error(format!(
                    "trade refused: it costs {} and {} is already spent in market {:?}{}; its {what} is {}",
                    tokens(cost as i128),
                    tokens(used as i128),
                    self.name,
                    if what == "daily_cap" {
                        " in the last 24 hours"
                    } else {
                        ""
                    },
                    tokens(cap as i128)
                )));
            }
        }
        Ok(())
    }
}

/// What is left under each limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Left {
    pub budget: u128,
    pub day: u128,
}

impl Left {
    /// The most one more trade may cost.
    pub fn most(&self) -> u128 {
        self.budget.min(self.day)
    }
}

impl Limits {
    pub fn of(config: &Config) -> Self {
        Self {
            budget: super::to_units(config.market.budget),
            daily_cap: super::to_units(config.market.daily_cap),
        }
    }

    pub fn left(&self, spent: Spent) -> Left {
        Left {
            budget: self.budget.saturating_sub(spent.total),
            day: self.daily_cap.saturating_sub(spent.day),
        }
    }

    /// Refuses a trade costing `cost` units that would pass the budget or the daily cap.
    pub fn check(&self, spent: Spent, cost: i128) -> Result<()> {
        use super::tokens;
        let Ok(cost) = u128::try_from(cost) else {
            return Ok(()); // a sell pays the user: no limit applies
        };
        if spent.total.saturating_add(cost) > self.budget {
            return Err(super::market_error(format!(
                "trade refused: it costs {} and {} is already spent; market.budget is {}",
                tokens(cost as i128),
                tokens(spent.total as i128),
                tokens(self.budget as i128)
            )));
        }
        if spent.day.saturating_add(cost) > self.daily_cap {
            return Err(super::market_error(format!(
                "trade refused: it costs {} and {} was spent in the last 24 hours; market.daily_cap is {}",
                tokens(cost as i128),
                tokens(spent.day as i128),
                tokens(self.daily_cap as i128)
            )));
        }
        Ok(())
    }
}

fn spent_on(conn: &rusqlite::Connection, path: &std::path::Path, now: i64) -> Result<Spent> {
    spent_where(conn, path, None, now)
}

/// The spend of every market (`market` `None`) or of one (its 0x address, lower case).
fn spent_where(
    conn: &rusqlite::Connection,
    path: &std::path::Path,
    market: Option<&str>,
    now: i64,
) -> Result<Spent> {
    let (total, day): (i64, i64) = conn
        .query_row(
            &format!(
                "SELECT coalesce(sum(spend), 0), coalesce(sum(CASE WHEN created_ts > ?1 THEN spend ELSE 0 END), 0)
                 FROM market_trades WHERE state IN {SPENDING} AND (?2 IS NULL OR market = ?2)"
            ),
            params![now - 86_400, market],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(sql(path, "summing market spend"))?;
    Ok(Spent {
        total: u128::try_from(total).unwrap_or(0),
        day: u128::try_from(day).unwrap_or(0),
    })
}

fn units_i64(v: i128, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| super::market_error(format!("{what} {v} is out of range")))
}

const COLUMNS: &str = "id, market, input, trader, nonce, deadline, delta_accepted, delta_rejected, cost, spend, state, origin, why, tx, error, created_ts, updated_ts, market_name";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TradeRecord> {
    let bad = |i: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("market_trades.{what}").into(),
        )
    };
    let delta = |i: usize, s: String| s.parse::<i128>().map_err(|_| bad(i, "delta"));
    let state: String = r.get(10)?;
    let why: String = r.get(12)?;
    Ok(TradeRecord {
        id: r.get(0)?,
        market: r.get(1)?,
        input: r.get::<_, i64>(2)? as u64,
        trader: r.get(3)?,
        nonce: r.get::<_, Option<i64>>(4)?.map(|n| n as u64),
        deadline: r.get::<_, Option<i64>>(5)?.map(|n| n as u64),
        delta_accepted: delta(6, r.get(6)?)?,
        delta_rejected: delta(7, r.get(7)?)?,
        cost: r.get(8)?,
        spend: r.get(9)?,
        state: TradeState::parse(&state).ok_or_else(|| bad(10, "state"))?,
        origin: r.get(11)?,
        why: serde_json::from_str(&why).unwrap_or(serde_json::Value::String(why)),
        tx: r.get(13)?,
        error: r.get(14)?,
        created_ts: r.get(15)?,
        updated_ts: r.get(16)?,
        market_name: r.get(17)?,
    })
}

impl Store {
    /// The ledger's trades, newest first (at most `limit`).
    pub fn market_trades(&self, limit: usize) -> Result<Vec<TradeRecord>> {
        let mut stmt = self
            .conn()
            .prepare(&format!(
                "SELECT {COLUMNS} FROM market_trades ORDER BY id DESC LIMIT ?1"
            ))
            .map_err(sql(self.path(), "reading market trades"))?;
        let rows = stmt
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], row)
            .map_err(sql(self.path(), "reading market trades"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql(self.path(), "reading market trades"))
    }

    /// The unsettled trades (intents) of `trader` on `market`.
    pub fn market_intents(&self, market: &str, trader: &str) -> Result<Vec<TradeRecord>> {
        let mut stmt = self
            .conn()
            .prepare(&format!(
                "SELECT {COLUMNS} FROM market_trades WHERE market = ?1 AND trader = ?2 AND state = 'intent' ORDER BY id"
            ))
            .map_err(sql(self.path(), "reading market intents"))?;
        let rows = stmt
            .query_map([market, trader], row)
            .map_err(sql(self.path(), "reading market intents"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql(self.path(), "reading market intents"))
    }

    /// The transaction hashes the ledger already names for `trader` on `market`.
    pub fn market_known_txs(
        &self,
        market: &str,
        trader: &str,
    ) -> Result<std::collections::BTreeSet<String>> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT tx FROM market_trades WHERE market = ?1 AND trader = ?2 AND tx IS NOT NULL",
            )
            .map_err(sql(self.path(), "reading market trades"))?;
        let rows = stmt
            .query_map([market, trader], |r| r.get::<_, String>(0))
            .map_err(sql(self.path(), "reading market trades"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql(self.path(), "reading market trades"))
    }

    /// What the ledger has spent at `now` (intents included: they may have been sent).
    pub fn market_spent(&self, now: i64) -> Result<Spent> {
        spent_on(self.conn(), self.path(), now)
    }

    /// What the ledger has spent in one market (its 0x address, lower case) at `now`.
    pub fn market_spent_in(&self, market: &str, now: i64) -> Result<Spent> {
        spent_where(self.conn(), self.path(), Some(market), now)
    }

    /// Records `t` as an intent, if it fits the limits with everything the ledger holds, in one
    /// transaction (an immediate one: a second process waits, then sees this spend).
    pub fn market_record_intent(
        &mut self,
        limits: Limits,
        t: &NewTrade<'_>,
        now: i64,
    ) -> Result<i64> {
        self.market_record_intent_in(limits, &MarketCaps::default(), t, now)
    }

    /// [`Self::market_record_intent`] with the market's own caps checked too (its spend summed
    /// by `t.market`), and its name kept with the trade.
    pub fn market_record_intent_in(
        &mut self,
        limits: Limits,
        caps: &MarketCaps,
        t: &NewTrade<'_>,
        now: i64,
    ) -> Result<i64> {
        let cost = units_i64(t.cost, "trade cost")?;
        let spend = cost.max(0);
        let why = t.why.to_string();
        self.transaction(|tx| {
            let path = tx.path().to_path_buf();
            let spent = spent_on(tx.sql(), &path, now)?;
            limits.check(spent, t.cost)?;
            caps.check(spent_where(tx.sql(), &path, Some(&t.market), now)?, t.cost)?;
            let pending: Option<i64> = tx
                .sql()
                .query_row(
                    "SELECT id FROM market_trades WHERE market = ?1 AND trader = ?2 AND state = 'intent'",
                    [&t.market, &t.trader],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql(&path, "reading market intents"))?;
            if let Some(id) = pending {
                return Err(super::market_error(format!(
                    "trade refused: trade #{id} on market {} is not settled yet (it may still land); it is reconciled against the chain first",
                    t.market
                )));
            }
            tx.sql()
                .execute(
                    "INSERT INTO market_trades (market, input, trader, nonce, deadline, delta_accepted, delta_rejected, cost, spend, state, origin, why, created_ts, updated_ts, market_name)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'intent', ?10, ?11, ?12, ?12, ?13)",
                    params![
                        t.market,
                        t.input as i64,
                        t.trader,
                        t.nonce as i64,
                        t.deadline as i64,
                        t.delta_accepted.to_string(),
                        t.delta_rejected.to_string(),
                        cost,
                        spend,
                        t.origin,
                        why,
                        now,
                        caps.name
                    ],
                )
                .map_err(sql(&path, "recording a market trade"))?;
            let id = tx.sql().last_insert_rowid();
            tx.audit(
                &AuditRecord::new("market-intent", format!("{}:{}", t.market, t.input))
                    .input("why", why.as_bytes())
                    .detail(serde_json::json!({
                        "trade": id, "trader": t.trader, "nonce": t.nonce, "cost": t.cost.to_string(),
                        "delta_accepted": t.delta_accepted.to_string(), "delta_rejected": t.delta_rejected.to_string(),
                        "origin": t.origin, "market_name": caps.name,
                    })),
            )?;
            Ok(id)
        })
    }

    /// Settles intent `id` as `state` (never an intent again), with an audit entry.
    pub fn market_settle(
        &mut self,
        id: i64,
        state: TradeState,
        tx_hash: Option<&str>,
        error: Option<&str>,
        now: i64,
    ) -> Result<()> {
        self.transaction(|tx| {
            let path = tx.path().to_path_buf();
            let n = tx
                .sql()
                .execute(
                    "UPDATE market_trades SET state = ?2, tx = coalesce(?3, tx), error = ?4, updated_ts = ?5
                     WHERE id = ?1 AND state = 'intent'",
                    params![id, state.as_str(), tx_hash, error, now],
                )
                .map_err(sql(&path, "settling a market trade"))?;
            if n == 1 {
                tx.audit(
                    &AuditRecord::new("market-trade", format!("trade {id}")).detail(
                        serde_json::json!({ "trade": id, "state": state.as_str(), "tx": tx_hash, "error": error }),
                    ),
                )?;
            }
            Ok(())
        })
    }

    /// Imports `<home>/market-ledger.json` once, then renames it `.imported`. Returns how many
    /// spends were imported (None: no file).
    pub fn market_import_file(&mut self, home: &Home) -> Result<Option<usize>> {
        let path = home.root().join("market-ledger.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::Io {
                    path,
                    context: "reading the market ledger",
                    source,
                });
            }
        };
        let done = self.meta(IMPORTED_META)?.is_some();
        let n = if done {
            // Imported before a crash kept the rename from happening: only rename.
            0
        } else {
            let spends: Vec<OldSpend> = serde_json::from_str(&text).map_err(|e| {
                super::market_error(format!(
                    "{}: not a market ledger ({e}); trading stays refused until it is fixed",
                    path.display()
                ))
            })?;
            let now = jiff::Timestamp::now().as_second();
            self.transaction(|tx| {
                let p = tx.path().to_path_buf();
                for s in &spends {
                    let units = i64::try_from(s.units).map_err(|_| {
                        super::market_error(format!(
                            "{}: spend {} out of range",
                            path.display(),
                            s.units
                        ))
                    })?;
                    tx.sql()
                        .execute(
                            "INSERT INTO market_trades (market, input, trader, delta_accepted, delta_rejected, cost, spend, state, origin, why, tx, created_ts, updated_ts)
                             VALUES (?1, ?2, '', '0', '0', ?3, ?3, 'imported', 'import', ?4, ?5, ?6, ?7)",
                            params![
                                format!("{:#x}", s.market),
                                s.input as i64,
                                units,
                                serde_json::json!({ "imported_from": "market-ledger.json" }).to_string(),
                                s.tx,
                                s.ts,
                                now
                            ],
                        )
                        .map_err(sql(&p, "importing the market ledger"))?;
                }
                tx.sql()
                    .execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                        [IMPORTED_META, &now.to_string()],
                    )
                    .map_err(sql(&p, "marking the market ledger imported"))?;
                tx.audit(
                    &AuditRecord::new("market-ledger-import", "market-ledger.json")
                        .input("file", text.as_bytes())
                        .detail(serde_json::json!({ "spends": spends.len() })),
                )?;
                Ok(())
            })?;
            spends.len()
        };
        let to = home.root().join("market-ledger.json.imported");
        std::fs::rename(&path, &to).map_err(|source| Error::Io {
            path,
            context: "renaming the imported market ledger",
            source,
        })?;
        Ok(Some(n))
    }
}

/// One line of the old `<home>/market-ledger.json`.
#[derive(Debug, Clone, Deserialize)]
struct OldSpend {
    ts: i64,
    market: steward_core::Address,
    input: u64,
    units: u128,
    tx: String,
}
