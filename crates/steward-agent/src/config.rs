//! Configuration: defaults < `$STEWARD_HOME/config.toml` < `STEWARD_*` env < flags, merged here
//! and nowhere else.
//!
//! Every key is listed in [`KEYS`] with its env variable, default and meaning; docs/config.md is
//! checked against that table by a test.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use steward_core::Allowlist;

use crate::error::{Error, Result};

/// The effective configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub network: NetworkConfig,
    pub snapshot: SnapshotConfig,
    pub forums: ForumsConfig,
    pub governors: Vec<GovernorConfig>,
    pub imap: Vec<ImapConfig>,
    pub limits: LimitsConfig,
    pub casting: CastingConfig,
    pub models: ModelsConfig,
    pub tools: ToolsConfig,
    pub log: LogConfig,
    pub decide: DecideConfig,
    pub web: WebConfig,
    pub notify: NotifyConfig,
    pub identity: IdentityConfig,
    pub market: MarketConfig,
    pub bonds: BondsConfig,
    /// Names for addresses in payloads shown to you: `"0x…" = "Treasury multisig"`.
    pub address_book: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Hosts Steward may connect to: names, `*.domain`, IPs, CIDRs, or `loopback`.
    pub allow: Vec<String>,
    /// Per-request timeout for outbound HTTP, in seconds.
    pub timeout_secs: u64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            allow: vec!["loopback".into()],
            timeout_secs: 30,
        }
    }
}

/// `[forums]`: where `sync` may read proposals' discussion threads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForumsConfig {
    /// Discourse forums (`forum.example.org`, `host:port`, or `http://host:port` spelled out);
    /// a discussion link elsewhere is not fetched. Empty by default.
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnapshotConfig {
    /// The hub's GraphQL endpoint.
    pub hub: String,
    /// Spaces `steward sync` follows.
    pub spaces: Vec<String>,
    /// Items per GraphQL page (the hub allows at most 1000).
    pub page_size: u32,
    /// Where signed Snapshot messages are POSTed (the sequencer).
    pub sequencer: String,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        Self {
            hub: "https://hub.snapshot.org/graphql".into(),
            spaces: vec![],
            page_size: 100,
            sequencer: "https://seq.snapshot.org".into(),
        }
    }
}

/// One on-chain Governor `steward sync` follows (`[[governors]]` in config.toml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernorConfig {
    /// JSON-RPC endpoint; its host must be in `network.allow`.
    pub rpc: String,
    /// The Governor contract.
    pub address: String,
    /// First block to read `ProposalCreated` logs from.
    #[serde(default)]
    pub from_block: u64,
}

impl GovernorConfig {
    /// `RPC#ADDRESS[@FROM_BLOCK]`, the env and `--set` form.
    fn parse_compact(s: &str) -> Result<Self, String> {
        let (rpc, rest) = s
            .rsplit_once('#')
            .ok_or_else(|| format!("expected RPC#ADDRESS[@FROM_BLOCK], got {s:?}"))?;
        let (address, from) = rest.split_once('@').unwrap_or((rest, "0"));
        Ok(Self {
            rpc: rpc.trim().to_owned(),
            address: address.trim().to_owned(),
            from_block: from
                .trim()
                .parse()
                .map_err(|_| format!("from block {from:?} is not a number"))?,
        })
    }
}

/// One IMAP folder `steward sync` reads (`[[imap]]` in config.toml). The password is never part
/// of the config: it is read from the environment variable named by `password_env`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    /// Server host; it must be in `network.allow`.
    pub host: String,
    /// 993 (implicit TLS) unless `starttls`, then usually 143.
    #[serde(default = "ImapConfig::default_port")]
    pub port: u16,
    pub user: String,
    #[serde(default = "ImapConfig::default_folder")]
    pub folder: String,
    /// The environment variable holding the password.
    #[serde(default = "ImapConfig::default_password_env")]
    pub password_env: String,
    /// PEM file of the CA(s) to trust for this server instead of the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Connect in plain text and upgrade with STARTTLS (never falls back to plain text).
    #[serde(default)]
    pub starttls: bool,
}

impl ImapConfig {
    fn default_port() -> u16 {
        993
    }

    fn default_folder() -> String {
        "INBOX".into()
    }

    fn default_password_env() -> String {
        crate::env::STEWARD_IMAP_PASSWORD.into()
    }

    /// `USER@HOST[:PORT][/FOLDER]`, the env and `--set` form (the user may itself contain `@`).
    fn parse_compact(s: &str) -> Result<Self, String> {
        let (user, rest) = s
            .rsplit_once('@')
            .ok_or_else(|| format!("expected USER@HOST[:PORT][/FOLDER], got {s:?}"))?;
        let (host_port, folder) = rest.split_once('/').unwrap_or((rest, "INBOX"));
        let (host, port) = match host_port.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.trim()
                    .parse()
                    .map_err(|_| format!("port {p:?} is not a number"))?,
            ),
            None => (host_port, Self::default_port()),
        };
        Ok(Self {
            host: host.trim().to_owned(),
            port,
            user: user.trim().to_owned(),
            folder: folder.trim().to_owned(),
            password_env: Self::default_password_env(),
            ca_file: None,
            starttls: false,
        })
    }

    /// `user@host/folder`: how errors and the sync cursor name this folder.
    pub fn account(&self) -> String {
        format!("{}@{}/{}", self.user, self.host, self.folder)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Proposal bodies longer than this are truncated and flagged.
    pub max_body_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
        }
    }
}

/// `[identity]`: the agent's ERC-8004 identity and whose ratings of agents count
/// (docs/economy.md). Addresses are checked when the config loads; the lists stay strings here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// JSON-RPC of the chain the registries are on; its host must be in `network.allow`.
    pub rpc: Option<String>,
    /// The identity registry (ERC-721).
    pub registry: Option<String>,
    /// The reputation registry bound to it.
    pub reputation: Option<String>,
    /// The only clients whose ratings are read. Empty: reputation is not read at all.
    pub trusted_clients: Vec<String>,
    /// The agent's name in its registration file.
    pub name: String,
    /// The mail address the agent reads (a service in the registration file).
    pub mail: Option<String>,
    /// Where senders read the price of the user's attention (a service in the file).
    pub bond_price: Option<String>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            rpc: None,
            registry: None,
            reputation: None,
            trusted_clients: Vec::new(),
            name: "Steward".into(),
            mail: None,
            bond_price: None,
        }
    }
}

/// `[market]`: the suggestion market the agent trades in for its user, and its limits
/// (docs/economy.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MarketConfig {
    /// JSON-RPC of the market's chain; its host must be in `network.allow`.
    pub rpc: Option<String>,
    /// The `SuggestionMarket` contract.
    pub address: Option<String>,
    /// The most the agent may spend on trades in all, in tokens (USDC). 0 stops all trading.
    pub budget: f64,
    /// The most it may spend in any 24 hours, in tokens.
    pub daily_cap: f64,
    /// Trade on its own once per `run --watch` round (off by default).
    pub auto: bool,
    /// The sponsor's quote service (`steward market quotes`) the agent asks for signed quotes.
    pub quote_url: Option<String>,
    /// The least edge |probability − price| worth a trade.
    pub min_edge: f64,
    /// Sponsor side: the traders the quote service signs for (none: it signs for nobody).
    pub quote_traders: Vec<String>,
    /// Sponsor side: the most shares, and the most cost, one signed quote may carry, in tokens.
    pub quote_max: f64,
    /// The block the market's inputs are read from (its deployment).
    pub from_block: u64,
    /// More markets, by name (`[[market.markets]]`; `steward market --market NAME`). `budget`
    /// and `daily_cap` above are then the caps over all markets together.
    pub markets: Vec<NamedMarket>,
    /// The market a command works on, once chosen ([`Config::for_market`]); not a config key.
    #[serde(skip)]
    pub selected: Option<SelectedMarket>,
}

/// `[[market.markets]]`: one more suggestion market, by name. `rpc` and `quote_url` default to
/// `[market]`'s; `budget` and `daily_cap` are this market's own caps, within the overall ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedMarket {
    pub name: String,
    pub address: String,
    #[serde(default)]
    pub rpc: Option<String>,
    #[serde(default)]
    pub quote_url: Option<String>,
    #[serde(default)]
    pub from_block: u64,
    #[serde(default)]
    pub budget: Option<f64>,
    #[serde(default)]
    pub daily_cap: Option<f64>,
}

/// The market chosen by name, with its own caps (tokens; `None`: only the overall cap).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SelectedMarket {
    pub name: String,
    pub budget: Option<f64>,
    pub daily_cap: Option<f64>,
}

/// The name of the market `[market] address` names.
pub const DEFAULT_MARKET: &str = "default";

impl NamedMarket {
    fn parse_inline_list(s: &str) -> Result<Vec<Self>, String> {
        #[derive(Deserialize)]
        struct Wrap {
            v: Vec<NamedMarket>,
        }
        toml::from_str::<Wrap>(&format!("v = {s}"))
            .map(|w| w.v)
            .map_err(|e| {
                format!(
                    "expected an inline array [{{ name = \"...\", address = \"0x...\" }}, ...]: {}",
                    e.message().trim()
                )
            })
    }
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self {
            rpc: None,
            address: None,
            budget: 0.0,
            daily_cap: 0.0,
            auto: false,
            quote_url: None,
            min_edge: 0.05,
            quote_traders: Vec::new(),
            quote_max: 0.0,
            from_block: 0,
            markets: Vec::new(),
            selected: None,
        }
    }
}

/// `[bonds]`: attention bonds on incoming mail (docs/economy.md). Off by default; set `escrow`
/// (with `rpc`, `chain_id`, `token` and `recipient`) and `steward sync` checks every bonded
/// message on chain before it is stored. Addresses stay strings here, checked at load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BondsConfig {
    /// JSON-RPC of the escrow's chain; its host must be in `network.allow`.
    pub rpc: Option<String>,
    /// The chain the bonds must be on.
    pub chain_id: Option<u64>,
    /// The `AttentionBonds` escrow; setting it turns the check on.
    pub escrow: Option<String>,
    /// The token bonds must be in (the escrow's token must be this one).
    pub token: Option<String>,
    /// The user's address: the bonds' recipient.
    pub recipient: Option<String>,
    /// The least bond delivered, in USDC; unset: the CO-QAF attention price.
    pub price: Option<f64>,
    /// Blocks a deposit must be below the head before it counts.
    pub confirmations: u64,
    /// From addresses delivered without a bond.
    pub whitelist: Vec<String>,
    /// Trusted agents and delegates (From addresses), delivered without a bond.
    pub trusted: Vec<String>,
    /// Hold mail without a bond header too (unless whitelisted or trusted).
    pub require: bool,
    /// Where deposits are scanned from (the escrow's deployment block): the desk's scores and
    /// the forfeits of `run --watch`.
    pub from_block: u64,
    /// Forfeit the user's unanswered bonds past their window once per `run --watch` round
    /// (a transaction signed with the casting key).
    pub forfeit: bool,
    /// Answering a bonded mail's question on the desk replies to its bond (refunds the sender).
    pub reply_on_answer: bool,
    /// The agent answers bonded mail on the user's behalf (an acknowledgement, then the
    /// escrow's reply), only for what `auto_reply_to` and `auto_reply_min` cover. Off by default.
    pub auto_reply: bool,
    /// Who the auto-reply covers: `trusted` (senders in `trusted`), `whitelisted` (in
    /// `whitelist`), or a sender's mail address.
    pub auto_reply_to: Vec<String>,
    /// Any sender whose bond is at least this (USDC) is answered too; unset: no such rule.
    pub auto_reply_min: Option<f64>,
}

impl Default for BondsConfig {
    fn default() -> Self {
        Self {
            rpc: None,
            chain_id: None,
            escrow: None,
            token: None,
            recipient: None,
            price: None,
            confirmations: 2,
            whitelist: Vec::new(),
            trusted: Vec::new(),
            require: false,
            from_block: 0,
            forfeit: false,
            reply_on_answer: false,
            auto_reply: false,
            auto_reply_to: Vec::new(),
            auto_reply_min: None,
        }
    }
}

impl BondsConfig {
    /// Whether bonds are checked (the escrow is set).
    pub fn enabled(&self) -> bool {
        self.escrow.is_some()
    }

    fn validate(&self) -> Result<(), (&'static str, String)> {
        let address = |key: &'static str, v: &Option<String>| match v {
            Some(a) if a.parse::<steward_core::Address>().is_err() => {
                Err((key, format!("{a:?} is not an address")))
            }
            _ => Ok(()),
        };
        address("bonds.escrow", &self.escrow)?;
        address("bonds.token", &self.token)?;
        address("bonds.recipient", &self.recipient)?;
        if let Some(r) = &self.rpc
            && url::Url::parse(r).is_err()
        {
            return Err(("bonds.rpc", format!("{r:?} is not a URL")));
        }
        if let Some(p) = self.price
            && !(p.is_finite() && (0.0..=1e12).contains(&p))
        {
            return Err((
                "bonds.price",
                format!("expected an amount of USDC, got {p}"),
            ));
        }
        if self.confirmations > 10_000 {
            return Err((
                "bonds.confirmations",
                format!("must be at most 10000, got {}", self.confirmations),
            ));
        }
        for (key, list) in [
            ("bonds.whitelist", &self.whitelist),
            ("bonds.trusted", &self.trusted),
        ] {
            for a in list {
                let t = a.trim();
                if !t.contains('@') || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err((key, format!("{a:?} is not a mail address")));
                }
            }
        }
        // Half a policy would check bonds against nothing: all five or none.
        let parts = [
            ("bonds.rpc", self.rpc.is_some()),
            ("bonds.chain_id", self.chain_id.is_some()),
            ("bonds.escrow", self.escrow.is_some()),
            ("bonds.token", self.token.is_some()),
            ("bonds.recipient", self.recipient.is_some()),
        ];
        if parts.iter().any(|(_, set)| *set)
            && let Some((key, _)) = parts.iter().find(|(_, set)| !*set)
        {
            return Err((
                key,
                "must be set too: [bonds] needs rpc, chain_id, escrow, token and recipient".into(),
            ));
        }
        if self.reply_on_answer && !self.enabled() {
            return Err((
                "bonds.reply_on_answer",
                "needs bonds.escrow: there is no escrow to reply in".into(),
            ));
        }
        for a in &self.auto_reply_to {
            let t = a.trim();
            if !(t == "trusted"
                || t == "whitelisted"
                || (t.contains('@') && !t.chars().any(|c| c.is_whitespace() || c.is_control())))
            {
                return Err((
                    "bonds.auto_reply_to",
                    format!("{a:?} is neither `trusted`, `whitelisted` nor a mail address"),
                ));
            }
        }
        if let Some(p) = self.auto_reply_min
            && !(p.is_finite() && (0.0..=1e12).contains(&p))
        {
            return Err((
                "bonds.auto_reply_min",
                format!("expected an amount of USDC, got {p}"),
            ));
        }
        if self.auto_reply && !self.enabled() {
            return Err((
                "bonds.auto_reply",
                "needs bonds.escrow: there is no escrow to reply in".into(),
            ));
        }
        if self.auto_reply && self.auto_reply_to.is_empty() && self.auto_reply_min.is_none() {
            // On, but covering nobody: surely not what the user meant.
            return Err((
                "bonds.auto_reply",
                "covers nobody: set bonds.auto_reply_to or bonds.auto_reply_min".into(),
            ));
        }
        if self.forfeit && !self.enabled() {
            return Err((
                "bonds.forfeit",
                "needs bonds.escrow: there is no escrow to forfeit bonds in".into(),
            ));
        }
        if self.require && !self.enabled() {
            return Err((
                "bonds.require",
                "needs bonds.escrow: without an escrow no mail could ever be delivered".into(),
            ));
        }
        Ok(())
    }
}

impl IdentityConfig {
    fn validate(&self) -> Result<(), (&'static str, String)> {
        let address = |key: &'static str, v: &Option<String>| match v {
            Some(a) if a.parse::<steward_core::Address>().is_err() => {
                Err((key, format!("{a:?} is not an address")))
            }
            _ => Ok(()),
        };
        address("identity.registry", &self.registry)?;
        address("identity.reputation", &self.reputation)?;
        for c in &self.trusted_clients {
            if c.parse::<steward_core::Address>().is_err() {
                return Err((
                    "identity.trusted_clients",
                    format!("{c:?} is not an address"),
                ));
            }
        }
        if let Some(r) = &self.rpc
            && url::Url::parse(r).is_err()
        {
            return Err(("identity.rpc", format!("{r:?} is not a URL")));
        }
        if self.name.trim().is_empty() {
            return Err(("identity.name", "must not be empty".into()));
        }
        Ok(())
    }
}

/// Casting votes (docs/casting.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CastingConfig {
    /// Off (the default): every vote is a dry run, recorded but never signed or sent.
    pub enabled: bool,
    /// At most this many votes submitted in any 24 hours.
    pub max_votes_per_day: u32,
    /// At most this much value at stake (rough US dollars, summed over the proposals voted on)
    /// in any 24 hours.
    pub max_value_per_day: f64,
    /// The key to sign with: an address or file name in `<home>/keys/`; unset means the
    /// default key (`keys/default`).
    pub key: Option<String>,
}

impl Default for CastingConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            max_votes_per_day: 10,
            max_value_per_day: 5_000_000.0,
            key: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsConfig {
    /// Directory of the embedded model files; unset means `$STEWARD_HOME/models`.
    pub dir: Option<PathBuf>,
    /// Run the model worker even where it cannot confine itself (no Landlock or seccomp).
    pub allow_unconfined: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolsConfig {
    /// The `node_modules` directory of the `tools/` package (anvil, cast, solc, snapshot.js).
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Default log level on stderr: error, warn, info, debug or trace.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
        }
    }
}

/// The review desk (docs/web.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    pub bind: String,
    pub allow_remote: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8765".into(),
            allow_remote: false,
        }
    }
}

/// `[notify]`: questions sent outside the desk (docs/questions.md). No channel by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// What a notice may say: names of `notify::Field` (nothing else ever leaves).
    pub include: Vec<String>,
    /// Reminders before the deadline, as durations ("24h", "2h 30m").
    pub reminders: Vec<String>,
    /// POST each notice as JSON to this URL (its host must be in `network.allow`).
    pub webhook: Option<String>,
    /// Mail each notice over SMTP.
    pub mail: Option<MailConfig>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            include: crate::notify::Field::DEFAULT
                .iter()
                .map(|f| f.name().to_owned())
                .collect(),
            reminders: vec!["24h".into(), "2h".into()],
            webhook: None,
            mail: None,
        }
    }
}

/// How the mail channel protects the connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTls {
    /// Plain text upgraded by STARTTLS before anything else; a server without it is an error.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS: allowed only to a loopback host (a local relay).
    None,
}

/// `[notify.mail]`: the SMTP server notices are submitted to. The password is never part of the
/// config: it is read from the variable `password_env` or the file `password_file`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// Server host; it must be in `network.allow`.
    pub host: String,
    /// Unset: 587 for starttls, 465 for tls, 25 for none.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: MailTls,
    /// The sender and the recipient, `name@domain` or `Name <name@domain>`.
    pub from: String,
    pub to: String,
    /// The login; unset means no AUTH.
    #[serde(default)]
    pub user: Option<String>,
    /// The environment variable holding the password.
    #[serde(default = "MailConfig::default_password_env")]
    pub password_env: String,
    /// A file holding the password (first line); wins over `password_env`.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA(s) to trust for this server instead of the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl MailConfig {
    fn default_password_env() -> String {
        crate::env::STEWARD_NOTIFY_MAIL_PASSWORD.into()
    }

    /// The port, from `tls` when unset.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            MailTls::Starttls => 587,
            MailTls::Tls => 465,
            MailTls::None => 25,
        })
    }

    /// The env and `--set` form: an inline TOML table, `{ host = "...", from = "...", ... }`.
    fn parse_inline(s: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Wrap {
            v: MailConfig,
        }
        toml::from_str::<Wrap>(&format!("v = {s}"))
            .map(|w| w.v)
            .map_err(|e| {
                format!(
                    "expected an inline table {{ host = \"...\", from = \"...\", to = \"...\" }}: {}",
                    e.message().trim()
                )
            })
    }

    fn validate(&self) -> Result<(), String> {
        let bad = |s: &str| s.is_empty() || s.contains(['\r', '\n', '\0']);
        if bad(&self.host) || self.host.contains(['/', '@', ' ']) {
            return Err(format!("host {:?} is not a host name", self.host));
        }
        for (field, v) in [("from", &self.from), ("to", &self.to)] {
            v.parse::<lettre::message::Mailbox>()
                .map_err(|e| format!("{field} {v:?} is not a mail address: {e}"))?;
        }
        if self.port == Some(0) {
            return Err("port must not be 0".into());
        }
        if self.tls == MailTls::None
            && !steward_core::Allowlist::parse(&["loopback".to_owned()])
                .is_ok_and(|l| l.check(&self.host).is_ok())
        {
            return Err(format!(
                "tls = \"none\" is allowed only to a loopback host, not {:?}: use starttls or tls",
                self.host
            ));
        }
        if self.user.as_deref().is_some_and(bad) {
            return Err("user must not be empty".into());
        }
        if self.password_env.is_empty()
            || !self
                .password_env
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!(
                "password_env must name an environment variable, got {:?}",
                self.password_env
            ));
        }
        Ok(())
    }
}

/// The vote/ask/skip policy (docs/decide.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecideConfig {
    pub min_confidence_low: f64,
    pub min_confidence_high: f64,
    pub ask_importance: f64,
    /// Share of the visible votes rejecting a proposal the decision leans to pass from which it
    /// asks (0 = off).
    pub dissent_share: f64,
    pub use_llm: bool,
    /// Questions one round may open (critical ones always go beyond it).
    pub questions_per_round: u32,
    /// Questions opened in any 24 hours, all rounds together.
    pub questions_per_day: u32,
    /// Spend budget the policy's own questions leave on proposals it would skip but whose
    /// answer would teach it most.
    pub ask_to_learn: bool,
    /// What becomes of a proposal neither voted nor asked: listed in the digest and skipped, or
    /// also voted Abstain where the proposal has that choice.
    pub unasked: UnaskedAction,
}

/// `decide.unasked`: what the agent does with a proposal it neither votes nor asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnaskedAction {
    #[default]
    Skip,
    /// Vote Abstain where the proposal offers it (it counts toward quorum on most Governors).
    Abstain,
}

impl std::str::FromStr for UnaskedAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "skip" => Ok(UnaskedAction::Skip),
            "abstain" => Ok(UnaskedAction::Abstain),
            _ => Err(format!("expected skip or abstain, got {s:?}")),
        }
    }
}

impl Default for DecideConfig {
    fn default() -> Self {
        let p = steward_core::Policy::default();
        Self {
            min_confidence_low: p.min_confidence_low,
            min_confidence_high: p.min_confidence_high,
            ask_importance: p.ask_importance,
            dissent_share: p.dissent_share,
            use_llm: true,
            questions_per_round: 10,
            questions_per_day: 10,
            ask_to_learn: true,
            unasked: UnaskedAction::Skip,
        }
    }
}

impl Config {
    /// The address book as names for payloads in words.
    pub fn names(&self) -> steward_core::verification::Names {
        let mut names = steward_core::verification::Names::new();
        for (address, name) in &self.address_book {
            if let Ok(a) = address.parse() {
                names.insert(a, name.trim());
            }
        }
        names
    }
}

impl DecideConfig {
    pub fn policy(&self) -> steward_core::Policy {
        steward_core::Policy {
            min_confidence_low: self.min_confidence_low,
            min_confidence_high: self.min_confidence_high,
            ask_importance: self.ask_importance,
            dissent_share: self.dissent_share,
        }
    }
}

/// One documented config key.
#[derive(Debug, Clone, Copy)]
pub struct ConfigKey {
    /// Dotted path in config.toml.
    pub key: &'static str,
    /// The environment variable that overrides it.
    pub env: &'static str,
    /// The default, as written in TOML.
    pub default: &'static str,
    pub doc: &'static str,
}

/// Every config key.
pub const KEYS: &[ConfigKey] = &[
    ConfigKey {
        key: "network.allow",
        env: "STEWARD_NETWORK_ALLOW",
        default: r#"["loopback"]"#,
        doc: "Hosts every outbound client may reach: host names, `*.domain`, IPs, CIDRs, or `loopback` (127.0.0.0/8, ::1, localhost), each optionally with `:PORT` (`loopback:8545`) to allow that port only. In env, comma-separated.",
    },
    ConfigKey {
        key: "network.timeout_secs",
        env: "STEWARD_NETWORK_TIMEOUT_SECS",
        default: "30",
        doc: "Timeout of each outbound HTTP request, in seconds.",
    },
    ConfigKey {
        key: "snapshot.hub",
        env: "STEWARD_SNAPSHOT_HUB",
        default: r#""https://hub.snapshot.org/graphql""#,
        doc: "The Snapshot hub's GraphQL endpoint. Its host must also be in network.allow.",
    },
    ConfigKey {
        key: "snapshot.spaces",
        env: "STEWARD_SNAPSHOT_SPACES",
        default: "[]",
        doc: "Snapshot spaces `steward sync` follows, e.g. [\"lido-snapshot.eth\"]. In env, comma-separated.",
    },
    ConfigKey {
        key: "snapshot.page_size",
        env: "STEWARD_SNAPSHOT_PAGE_SIZE",
        default: "100",
        doc: "Items per hub query page (1 to 1000).",
    },
    ConfigKey {
        key: "snapshot.sequencer",
        env: "STEWARD_SNAPSHOT_SEQUENCER",
        default: r#""https://seq.snapshot.org""#,
        doc: "Where signed Snapshot votes are POSTed. Its host must also be in network.allow.",
    },
    ConfigKey {
        key: "forums.hosts",
        env: "STEWARD_FORUMS_HOSTS",
        default: "[]",
        doc: "Discourse forums `steward sync` may read proposals' discussion threads from, e.g. [\"forum.arbitrum.foundation\"] (https); write \"http://host:port\" to allow plain http. A discussion link to any other host is not fetched and is reported. In env, comma-separated.",
    },
    ConfigKey {
        key: "governors",
        env: "STEWARD_GOVERNORS",
        default: "[]",
        doc: "On-chain Governors `steward sync` follows: [[governors]] tables with rpc, address, from_block. In env, comma-separated RPC#ADDRESS[@FROM_BLOCK].",
    },
    ConfigKey {
        key: "imap",
        env: "STEWARD_IMAP",
        default: "[]",
        doc: "IMAP folders `steward sync` reads over TLS: [[imap]] tables with host, port (993), user, folder (\"INBOX\"), password_env (\"STEWARD_IMAP_PASSWORD\"), ca_file, starttls (false). In env, comma-separated USER@HOST[:PORT][/FOLDER].",
    },
    ConfigKey {
        key: "limits.max_body_bytes",
        env: "STEWARD_LIMITS_MAX_BODY_BYTES",
        default: "1048576",
        doc: "Proposal bodies longer than this are truncated and flagged `body-truncated`.",
    },
    ConfigKey {
        key: "casting.enabled",
        env: "STEWARD_CASTING_ENABLED",
        default: "false",
        doc: "Whether votes are really signed and sent; false means every vote is a dry run.",
    },
    ConfigKey {
        key: "casting.max_votes_per_day",
        env: "STEWARD_CASTING_MAX_VOTES_PER_DAY",
        default: "10",
        doc: "At most this many votes submitted in any 24 hours (0 stops all casting).",
    },
    ConfigKey {
        key: "casting.max_value_per_day",
        env: "STEWARD_CASTING_MAX_VALUE_PER_DAY",
        default: "5000000.0",
        doc: "At most this much value at stake (rough US dollars, summed over the proposals voted on) in any 24 hours; more is refused.",
    },
    ConfigKey {
        key: "casting.key",
        env: "STEWARD_CASTING_KEY",
        default: "(unset: the default key in $STEWARD_HOME/keys/)",
        doc: "The key votes are signed with: an address or a file name in $STEWARD_HOME/keys/.",
    },
    ConfigKey {
        key: "models.dir",
        env: "STEWARD_MODELS_DIR",
        default: "(unset: $STEWARD_HOME/models)",
        doc: "Directory holding the embedded model files that `make models` installs.",
    },
    ConfigKey {
        key: "models.allow_unconfined",
        env: "STEWARD_MODELS_ALLOW_UNCONFINED",
        default: "false",
        doc: "Run the model worker even where the kernel cannot confine it (no Landlock or seccomp); without it `run`, `decide` and the others refuse.",
    },
    ConfigKey {
        key: "tools.dir",
        env: "STEWARD_TOOLS_DIR",
        default: "(unset: tools/node_modules beside the binary's checkout, if any)",
        doc: "The node_modules directory of the `tools/` npm package: anvil, cast, solc, snapshot.js, ethers.",
    },
    ConfigKey {
        key: "log.level",
        env: "STEWARD_LOG_LEVEL",
        default: r#""info""#,
        doc: "Log level on stderr (error, warn, info, debug, trace); `-v`/`-q` and RUST_LOG override it.",
    },
    ConfigKey {
        key: "decide.min_confidence_low",
        env: "STEWARD_DECIDE_MIN_CONFIDENCE_LOW",
        default: "0.85",
        doc: "Confidence needed to vote on an unimportant proposal (importance 0); the need rises linearly with importance.",
    },
    ConfigKey {
        key: "decide.min_confidence_high",
        env: "STEWARD_DECIDE_MIN_CONFIDENCE_HIGH",
        default: "0.95",
        doc: "Confidence needed to vote on the most important proposal (importance 1).",
    },
    ConfigKey {
        key: "decide.ask_importance",
        env: "STEWARD_DECIDE_ASK_IMPORTANCE",
        default: "0.4",
        doc: "From this importance up an unsure decision asks you; below it, it skips.",
    },
    ConfigKey {
        key: "decide.dissent_share",
        env: "STEWARD_DECIDE_DISSENT_SHARE",
        default: "0.2",
        doc: "When at least this share of the votes so far (3 or more) rejects a proposal the agent would let pass, it asks you instead of voting; 0 turns it off.",
    },
    ConfigKey {
        key: "decide.use_llm",
        env: "STEWARD_DECIDE_USE_LLM",
        default: "true",
        doc: "Whether decisions consult the local generation model (a weak, grammar-constrained signal).",
    },
    ConfigKey {
        key: "decide.questions_per_round",
        env: "STEWARD_DECIDE_QUESTIONS_PER_ROUND",
        default: "10",
        doc: "Questions one round of `steward run` may open, ranked by what the answer teaches, importance and deadline; the rest are listed in the round's digest. Critical ones are always asked.",
    },
    ConfigKey {
        key: "decide.questions_per_day",
        env: "STEWARD_DECIDE_QUESTIONS_PER_DAY",
        default: "10",
        doc: "Questions opened in any 24 hours, all rounds together.",
    },
    ConfigKey {
        key: "decide.ask_to_learn",
        env: "STEWARD_DECIDE_ASK_TO_LEARN",
        default: "true",
        doc: "Spend budget the policy's own questions leave on proposals it would skip but whose answers would teach it most.",
    },
    ConfigKey {
        key: "decide.unasked",
        env: "STEWARD_DECIDE_UNASKED",
        default: r#""skip""#,
        doc: "What becomes of a proposal neither voted nor asked: `skip` (listed in the digest), or `abstain` (also votes Abstain where offered; Abstain counts toward quorum on most Governors).",
    },
    ConfigKey {
        key: "address_book",
        env: "STEWARD_ADDRESS_BOOK",
        default: "{}",
        doc: "Names for addresses in the payloads the desk and questions show: an [address_book] table of \"0x…\" = \"name\" (a name is 1 to 64 characters, no control characters). In env, comma-separated ADDRESS=NAME.",
    },
    ConfigKey {
        key: "web.bind",
        env: "STEWARD_WEB_BIND",
        default: r#""127.0.0.1:8765""#,
        doc: "Address of the review desk (`steward serve`); port 0 picks a free one.",
    },
    ConfigKey {
        key: "web.allow_remote",
        env: "STEWARD_WEB_ALLOW_REMOTE",
        default: "false",
        doc: "Allow a non-loopback bind and Host. Off: the desk shows your private profile.",
    },
    ConfigKey {
        key: "notify.include",
        env: "STEWARD_NOTIFY_INCLUDE",
        default: r#"["title", "space", "deadline", "lean", "command"]"#,
        doc: "What a notice may say: title, space, deadline, lean (with confidence), command (how to answer), choices, summary (the proposal's opening), flags. Your profile, evidence and keys are never sent. In env, comma-separated.",
    },
    ConfigKey {
        key: "notify.reminders",
        env: "STEWARD_NOTIFY_REMINDERS",
        default: r#"["24h", "2h"]"#,
        doc: "Reminders of an open question, as durations before its deadline. In env, comma-separated.",
    },
    ConfigKey {
        key: "notify.webhook",
        env: "STEWARD_NOTIFY_WEBHOOK",
        default: "(unset: no webhook)",
        doc: "POST each notice as JSON to this URL; its host must be in network.allow.",
    },
    ConfigKey {
        key: "notify.mail",
        env: "STEWARD_NOTIFY_MAIL",
        default: "(unset: no mail)",
        doc: "Mail each notice over SMTP: [notify.mail] with host, port, tls (\"starttls\", \"tls\" or \"none\" for loopback), from, to, user, password_env (\"STEWARD_NOTIFY_MAIL_PASSWORD\"), password_file, ca_file. In env, an inline table.",
    },
    ConfigKey {
        key: "identity.rpc",
        env: "STEWARD_IDENTITY_RPC",
        default: "(unset: no chain)",
        doc: "JSON-RPC of the chain holding the ERC-8004 registries (`steward agent`); its host must be in network.allow.",
    },
    ConfigKey {
        key: "identity.registry",
        env: "STEWARD_IDENTITY_REGISTRY",
        default: "(unset: no identity registry)",
        doc: "Address of the ERC-8004 identity registry the agent registers in.",
    },
    ConfigKey {
        key: "identity.reputation",
        env: "STEWARD_IDENTITY_REPUTATION",
        default: "(unset: no reputation registry)",
        doc: "Address of the ERC-8004 reputation registry bound to identity.registry.",
    },
    ConfigKey {
        key: "identity.trusted_clients",
        env: "STEWARD_IDENTITY_TRUSTED_CLIENTS",
        default: "[]",
        doc: "The only addresses whose ratings of agents are read; empty means reputation is not read at all (an error, never everyone). In env, comma-separated.",
    },
    ConfigKey {
        key: "identity.name",
        env: "STEWARD_IDENTITY_NAME",
        default: r#""Steward""#,
        doc: "The agent's name in its registration file.",
    },
    ConfigKey {
        key: "identity.mail",
        env: "STEWARD_IDENTITY_MAIL",
        default: "(unset: no mail service listed)",
        doc: "The mail address the agent reads, listed as its `email` service.",
    },
    ConfigKey {
        key: "identity.bond_price",
        env: "STEWARD_IDENTITY_BOND_PRICE",
        default: "(unset: no bond price service listed)",
        doc: "URL where senders read the price of the user's attention, listed as the `bondPrice` service.",
    },
    ConfigKey {
        key: "market.rpc",
        env: "STEWARD_MARKET_RPC",
        default: "(unset: no market chain)",
        doc: "JSON-RPC of the suggestion market's chain (`steward market`); its host must be in network.allow.",
    },
    ConfigKey {
        key: "market.address",
        env: "STEWARD_MARKET_ADDRESS",
        default: "(unset: no market)",
        doc: "The SuggestionMarket contract the agent trades in.",
    },
    ConfigKey {
        key: "market.budget",
        env: "STEWARD_MARKET_BUDGET",
        default: "0.0",
        doc: "The most the agent may spend on market trades in all, in tokens (USDC); a trade past it is refused before signing. 0 stops all trading.",
    },
    ConfigKey {
        key: "market.daily_cap",
        env: "STEWARD_MARKET_DAILY_CAP",
        default: "0.0",
        doc: "The most the agent may spend on market trades in any 24 hours, in tokens; a trade past it is refused before signing.",
    },
    ConfigKey {
        key: "market.auto",
        env: "STEWARD_MARKET_AUTO",
        default: "false",
        doc: "Trade on the agent's own probability once per `run --watch` round, within market.budget and market.daily_cap (needs market.quote_url).",
    },
    ConfigKey {
        key: "market.quote_url",
        env: "STEWARD_MARKET_QUOTE_URL",
        default: "(unset: no quote service)",
        doc: "The sponsor's quote service (`steward market quotes`) that signs the agent's trades; its host must be in network.allow.",
    },
    ConfigKey {
        key: "market.min_edge",
        env: "STEWARD_MARKET_MIN_EDGE",
        default: "0.05",
        doc: "The least difference between the agent's probability and the market's price worth a trade.",
    },
    ConfigKey {
        key: "market.quote_traders",
        env: "STEWARD_MARKET_QUOTE_TRADERS",
        default: "[]",
        doc: "Sponsor side: the trader addresses `steward market quotes` signs for (none: nobody). In env, comma-separated.",
    },
    ConfigKey {
        key: "market.quote_max",
        env: "STEWARD_MARKET_QUOTE_MAX",
        default: "0.0",
        doc: "Sponsor side: the most shares and the most cost one signed quote may carry, in tokens.",
    },
    ConfigKey {
        key: "market.from_block",
        env: "STEWARD_MARKET_FROM_BLOCK",
        default: "0",
        doc: "The block the market's submitted inputs are read from (its deployment).",
    },
    ConfigKey {
        key: "market.markets",
        env: "STEWARD_MARKET_MARKETS",
        default: "[]",
        doc: "More markets by name, `[[market.markets]]` with name, address, and optionally rpc and quote_url (default: market.rpc, market.quote_url), from_block, and this market's own budget and daily_cap (within market.budget and market.daily_cap, which then cap all markets together). `steward market --market NAME` picks one; `default` is market.address. In env, an inline array of tables.",
    },
    ConfigKey {
        key: "bonds.rpc",
        env: "STEWARD_BONDS_RPC",
        default: "(unset: bonds off)",
        doc: "JSON-RPC of the attention-bond escrow's chain; its host must be in network.allow. [bonds] needs rpc, chain_id, escrow, token and recipient, or none of them.",
    },
    ConfigKey {
        key: "bonds.chain_id",
        env: "STEWARD_BONDS_CHAIN_ID",
        default: "(unset: bonds off)",
        doc: "The chain bonds must be on.",
    },
    ConfigKey {
        key: "bonds.escrow",
        env: "STEWARD_BONDS_ESCROW",
        default: "(unset: bonds off)",
        doc: "The AttentionBonds escrow. Set, `steward sync` checks mail carrying X-Steward-Bond on chain and holds what is not paid for.",
    },
    ConfigKey {
        key: "bonds.token",
        env: "STEWARD_BONDS_TOKEN",
        default: "(unset: bonds off)",
        doc: "The token bonds must be in (USDC, 6 decimals; a token whose decimals() is not 6 is refused).",
    },
    ConfigKey {
        key: "bonds.recipient",
        env: "STEWARD_BONDS_RECIPIENT",
        default: "(unset: bonds off)",
        doc: "The user's address, the bonds' recipient.",
    },
    ConfigKey {
        key: "bonds.price",
        env: "STEWARD_BONDS_PRICE",
        default: "(unset: the CO-QAF attention price)",
        doc: "The least bond delivered, in USDC. Unset: the CO-QAF attention price at the inbox's real count of bonded messages in the last 7 days (deposits to bonds.recipient from bonds.from_block), computed for each batch.",
    },
    ConfigKey {
        key: "bonds.confirmations",
        env: "STEWARD_BONDS_CONFIRMATIONS",
        default: "2",
        doc: "Blocks a deposit must be below the head before it counts (a reorg cannot un-pay delivered mail).",
    },
    ConfigKey {
        key: "bonds.whitelist",
        env: "STEWARD_BONDS_WHITELIST",
        default: "[]",
        doc: "From addresses delivered without a bond. In env, comma-separated.",
    },
    ConfigKey {
        key: "bonds.trusted",
        env: "STEWARD_BONDS_TRUSTED",
        default: "[]",
        doc: "Trusted agents and delegates (From addresses), delivered without a bond. In env, comma-separated.",
    },
    ConfigKey {
        key: "bonds.require",
        env: "STEWARD_BONDS_REQUIRE",
        default: "false",
        doc: "Hold mail without a bond header too, unless whitelisted or trusted.",
    },
    ConfigKey {
        key: "bonds.from_block",
        env: "STEWARD_BONDS_FROM_BLOCK",
        default: "0",
        doc: "The block deposits are scanned from (the escrow's deployment): the desk's per-sender scores and the forfeits of `run --watch`.",
    },
    ConfigKey {
        key: "bonds.forfeit",
        env: "STEWARD_BONDS_FORFEIT",
        default: "false",
        doc: "Forfeit the user's unanswered bonds past their window once per `run --watch` round, signed with casting.key or the default key (password from STEWARD_KEYSTORE_PASSWORD).",
    },
    ConfigKey {
        key: "bonds.reply_on_answer",
        env: "STEWARD_BONDS_REPLY_ON_ANSWER",
        default: "false",
        doc: "Answering a bonded mail's question on the desk replies to its bond, refunding the sender less the fee (signed with casting.key or the default key, which must be bonds.recipient or its agent).",
    },
    ConfigKey {
        key: "bonds.auto_reply",
        env: "STEWARD_BONDS_AUTO_REPLY",
        default: "false",
        doc: "The agent answers bonded mail on the user's behalf, once per `run --watch` round (or `steward bond auto-reply`): a fixed acknowledgement through [notify.mail], then the escrow's reply refunding the sender; only for what bonds.auto_reply_to and bonds.auto_reply_min cover, everything else waits for the user.",
    },
    ConfigKey {
        key: "bonds.auto_reply_to",
        env: "STEWARD_BONDS_AUTO_REPLY_TO",
        default: "[]",
        doc: "Who bonds.auto_reply covers: `trusted` (senders in bonds.trusted), `whitelisted` (in bonds.whitelist), or a sender's mail address. In env, comma-separated.",
    },
    ConfigKey {
        key: "bonds.auto_reply_min",
        env: "STEWARD_BONDS_AUTO_REPLY_MIN",
        default: "(unset: no amount rule)",
        doc: "bonds.auto_reply also answers any sender whose bond is at least this, in USDC.",
    },
];

impl Config {
    /// This config with the market named `name` in `[market]`'s place (its address, RPC, quote
    /// service and first block; `selected` names it and carries its own caps). `None` or
    /// `"default"`: the market of `market.address`.
    pub fn for_market(&self, name: Option<&str>) -> Result<Config, crate::InvalidValue> {
        let mut c = self.clone();
        let name = name.unwrap_or(DEFAULT_MARKET);
        if name == DEFAULT_MARKET {
            c.market.selected = Some(SelectedMarket {
                name: DEFAULT_MARKET.into(),
                ..SelectedMarket::default()
            });
            return Ok(c);
        }
        let Some(m) = self.market.markets.iter().find(|m| m.name == name) else {
            let known: Vec<&str> = std::iter::once(DEFAULT_MARKET)
                .chain(self.market.markets.iter().map(|m| m.name.as_str()))
                .collect();
            return Err(crate::InvalidValue(format!(
                "no market named {name:?} in [[market.markets]]; known: {}",
                known.join(", ")
            )));
        };
        c.market.address = Some(m.address.clone());
        if m.rpc.is_some() {
            c.market.rpc.clone_from(&m.rpc);
        }
        if m.quote_url.is_some() {
            c.market.quote_url.clone_from(&m.quote_url);
        }
        c.market.from_block = m.from_block;
        c.market.selected = Some(SelectedMarket {
            name: m.name.clone(),
            budget: m.budget,
            daily_cap: m.daily_cap,
        });
        Ok(c)
    }

    /// Every market's name: `default` when `market.address` is set, then `[[market.markets]]`.
    pub fn market_names(&self) -> Vec<String> {
        self.market
            .address
            .iter()
            .map(|_| DEFAULT_MARKET.to_owned())
            .chain(self.market.markets.iter().map(|m| m.name.clone()))
            .collect()
    }

    /// `forums.hosts`, parsed; the error names the bad entry.
    pub fn forum_hosts(
        &self,
    ) -> Result<Vec<crate::sources::forum::ForumHost>, crate::InvalidValue> {
        self.forums
            .hosts
            .iter()
            .map(|h| crate::sources::forum::ForumHost::parse(h))
            .collect()
    }

    /// The `[[governors]]` entry for the Governor at `address`, if the user follows it.
    pub fn governor(&self, address: steward_core::Address) -> Option<&GovernorConfig> {
        self.governors
            .iter()
            .find(|g| g.address.parse::<steward_core::Address>().ok() == Some(address))
    }

    /// Loads the layers: defaults, then `file` (if it exists), then variables from `env`, then
    /// `flags` (`key=value` pairs, as given to `--set`).
    pub fn load(
        file: &Path,
        env: impl Fn(&str) -> Option<String>,
        flags: &[(String, String)],
    ) -> Result<Self> {
        let mut cfg = match std::fs::read_to_string(file) {
            Ok(text) => Self::parse_file(file, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::default(),
            Err(source) => {
                return Err(Error::Io {
                    path: file.to_path_buf(),
                    context: "reading config",
                    source,
                });
            }
        };
        for k in KEYS {
            if let Some(v) = env(k.env) {
                cfg.set(k.key, &v).map_err(|message| Error::ConfigValue {
                    origin: format!("env {}", k.env),
                    key: k.key.into(),
                    message: message.0,
                })?;
            }
        }
        for (key, value) in flags {
            cfg.set(key, value).map_err(|message| Error::ConfigValue {
                origin: "--set".into(),
                key: key.clone(),
                message: message.0,
            })?;
        }
        cfg.validate()
            .map_err(|(key, message)| Error::ConfigValue {
                origin: "config".into(),
                key: key.into(),
                message,
            })?;
        Ok(cfg)
    }

    /// Parses config.toml; errors name the file, the line and the key.
    pub fn parse_file(path: &Path, text: &str) -> Result<Self> {
        let cfg: Self = toml::from_str(text).map_err(|e| {
            let (line, key) = e
                .span()
                .map(|s| locate(text, s.start))
                .unwrap_or((None, String::from("?")));
            Error::ConfigFile {
                path: path.to_path_buf(),
                line,
                key,
                message: e.message().trim().to_owned(),
            }
        })?;
        cfg.validate().map_err(|(key, message)| Error::ConfigFile {
            path: path.to_path_buf(),
            line: find_key_line(text, key),
            key: key.into(),
            message,
        })?;
        Ok(cfg)
    }

    /// Sets one key from its string form (env or flag); the error says what is wrong with the
    /// value, the caller names its origin.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), crate::InvalidValue> {
        self.set_str(key, value).map_err(crate::InvalidValue)
    }

    fn set_str(&mut self, key: &str, value: &str) -> Result<(), String> {
        let v = value.trim();
        match key {
            "network.allow" => {
                // Checked here so the error names the env variable or flag that set it.
                let list = split_list(v);
                Allowlist::parse(&list).map_err(|e| e.to_string())?;
                self.network.allow = list;
            }
            "network.timeout_secs" => {
                self.network.timeout_secs = v
                    .parse()
                    .map_err(|_| format!("expected a whole number of seconds, got {v:?}"))?;
            }
            "snapshot.hub" => self.snapshot.hub = v.to_owned(),
            "snapshot.spaces" => self.snapshot.spaces = split_list(v),
            "snapshot.sequencer" => self.snapshot.sequencer = v.to_owned(),
            "forums.hosts" => self.forums.hosts = split_list(v),
            "casting.enabled" => {
                self.casting.enabled = match v {
                    "true" | "1" | "yes" | "on" => true,
                    "false" | "0" | "no" | "off" => false,
                    _ => return Err(format!("expected true or false, got {v:?}")),
                };
            }
            "casting.max_votes_per_day" => {
                self.casting.max_votes_per_day = v
                    .parse()
                    .map_err(|_| format!("expected a whole number, got {v:?}"))?;
            }
            "casting.max_value_per_day" => {
                self.casting.max_value_per_day = v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| format!("expected an amount in dollars, got {v:?}"))?;
            }
            "casting.key" => self.casting.key = (!v.is_empty()).then(|| v.to_owned()),
            "governors" => {
                self.governors = split_list(v)
                    .iter()
                    .map(|g| GovernorConfig::parse_compact(g))
                    .collect::<Result<_, _>>()?;
            }
            "imap" => {
                self.imap = split_list(v)
                    .iter()
                    .map(|a| ImapConfig::parse_compact(a))
                    .collect::<Result<_, _>>()?;
            }
            "snapshot.page_size" => {
                self.snapshot.page_size = v
                    .parse()
                    .map_err(|_| format!("expected a whole number, got {v:?}"))?;
            }
            "limits.max_body_bytes" => {
                self.limits.max_body_bytes = v
                    .parse()
                    .map_err(|_| format!("expected a number of bytes, got {v:?}"))?;
            }
            "models.dir" => self.models.dir = non_empty_path(v),
            "models.allow_unconfined" => {
                self.models.allow_unconfined = v
                    .parse()
                    .map_err(|_| format!("expected true or false, got {v:?}"))?;
            }
            "tools.dir" => self.tools.dir = non_empty_path(v),
            "log.level" => self.log.level = v.to_owned(),
            "decide.min_confidence_low" => self.decide.min_confidence_low = parse_unit(v)?,
            "decide.min_confidence_high" => self.decide.min_confidence_high = parse_unit(v)?,
            "decide.ask_importance" => self.decide.ask_importance = parse_unit(v)?,
            "decide.dissent_share" => self.decide.dissent_share = parse_unit(v)?,
            "web.bind" => self.web.bind = v.to_owned(),
            "web.allow_remote" => {
                self.web.allow_remote = v
                    .parse()
                    .map_err(|_| format!("expected true or false, got {v:?}"))?;
            }
            "notify.include" => self.notify.include = split_list(v),
            "address_book" => {
                self.address_book = split_list(v)
                    .iter()
                    .map(|e| {
                        e.split_once('=')
                            .map(|(a, n)| (a.trim().to_owned(), n.trim().to_owned()))
                            .ok_or_else(|| format!("expected ADDRESS=NAME, got {e:?}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "notify.reminders" => self.notify.reminders = split_list(v),
            "notify.webhook" => self.notify.webhook = (!v.is_empty()).then(|| v.to_owned()),
            "notify.mail" => {
                self.notify.mail = if v.is_empty() {
                    None
                } else {
                    Some(MailConfig::parse_inline(v)?)
                };
            }
            "identity.rpc" => self.identity.rpc = (!v.is_empty()).then(|| v.to_owned()),
            "identity.registry" => self.identity.registry = (!v.is_empty()).then(|| v.to_owned()),
            "identity.reputation" => {
                self.identity.reputation = (!v.is_empty()).then(|| v.to_owned())
            }
            "identity.trusted_clients" => self.identity.trusted_clients = split_list(v),
            "identity.name" => self.identity.name = v.to_owned(),
            "identity.mail" => self.identity.mail = (!v.is_empty()).then(|| v.to_owned()),
            "identity.bond_price" => {
                self.identity.bond_price = (!v.is_empty()).then(|| v.to_owned())
            }
            "market.rpc" => self.market.rpc = (!v.is_empty()).then(|| v.to_owned()),
            "market.address" => self.market.address = (!v.is_empty()).then(|| v.to_owned()),
            "market.auto" => {
                self.market.auto = v
                    .parse()
                    .map_err(|_| format!("expected true or false, got {v:?}"))?;
            }
            "market.quote_url" => self.market.quote_url = (!v.is_empty()).then(|| v.to_owned()),
            "market.quote_traders" => self.market.quote_traders = split_list(v),
            "market.markets" => {
                self.market.markets = if v.trim().is_empty() {
                    Vec::new()
                } else {
                    NamedMarket::parse_inline_list(v)?
                };
            }
            "market.from_block" => {
                self.market.from_block = v
                    .parse()
                    .map_err(|_| format!("expected a block number, got {v:?}"))?;
            }
            "market.min_edge" => {
                self.market.min_edge = v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| (0.0..1.0).contains(x))
                    .ok_or_else(|| format!("expected a number from 0 to 1, got {v:?}"))?;
            }
            "market.quote_max" => {
                self.market.quote_max = v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| format!("expected an amount of tokens, got {v:?}"))?;
            }
            "market.budget" | "market.daily_cap" => {
                let amount = v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| format!("expected an amount of tokens, got {v:?}"))?;
                if key == "market.budget" {
                    self.market.budget = amount;
                } else {
                    self.market.daily_cap = amount;
                }
            }
            "bonds.rpc" => self.bonds.rpc = (!v.is_empty()).then(|| v.to_owned()),
            "bonds.chain_id" => {
                self.bonds.chain_id = if v.is_empty() {
                    None
                } else {
                    Some(
                        v.parse()
                            .map_err(|_| format!("expected a chain id, got {v:?}"))?,
                    )
                };
            }
            "bonds.escrow" => self.bonds.escrow = (!v.is_empty()).then(|| v.to_owned()),
            "bonds.token" => self.bonds.token = (!v.is_empty()).then(|| v.to_owned()),
            "bonds.recipient" => self.bonds.recipient = (!v.is_empty()).then(|| v.to_owned()),
            "bonds.price" => {
                self.bonds.price = if v.is_empty() {
                    None
                } else {
                    Some(
                        v.parse::<f64>()
                            .ok()
                            .filter(|x| x.is_finite() && *x >= 0.0)
                            .ok_or_else(|| format!("expected an amount of USDC, got {v:?}"))?,
                    )
                };
            }
            "bonds.confirmations" => {
                self.bonds.confirmations = v
                    .parse()
                    .map_err(|_| format!("expected a whole number of blocks, got {v:?}"))?;
            }
            "bonds.from_block" => {
                self.bonds.from_block = v
                    .parse()
                    .map_err(|_| format!("expected a block number, got {v:?}"))?;
            }
            "bonds.reply_on_answer" => {
                self.bonds.reply_on_answer = v
                    .parse()
                    .map_err(|_| format!("expected true or false, got {v:?}"))?;
            }
            "bonds.forfeit" => {
                self.bonds.forfeit = v
                    .parse()
                    .map_err(|_| format!("expected true or false, got {v:?}"))?;
            }
            "bonds.auto_reply" => {
                self.bonds.auto_reply = v
                    .parse()
                    .map_err(|_| format!("expected true or false, got {v:?}"))?;
            }
            "bonds.auto_reply_to" => self.bonds.auto_reply_to = split_list(v),
            "bonds.auto_reply_min" => {
                self.bonds.auto_reply_min = if v.is_empty() {
                    None
                } else {
                    Some(
                        v.parse::<f64>()
                            .ok()
                            .filter(|x| x.is_finite() && *x >= 0.0)
                            .ok_or_else(|| format!("expected an amount of USDC, got {v:?}"))?,
                    )
                };
            }
            "bonds.whitelist" => self.bonds.whitelist = split_list(v),
            "bonds.trusted" => self.bonds.trusted = split_list(v),
            "bonds.require" => {
                self.bonds.require = v
                    .parse()
                    .map_err(|_| format!("expected true or false, got {v:?}"))?;
            }
            "decide.use_llm" => {
                self.decide.use_llm = v
                    .parse()
                    .map_err(|_| format!("expected true or false, got {v:?}"))?;
            }
            "decide.questions_per_round" => {
                self.decide.questions_per_round = v
                    .parse()
                    .map_err(|_| format!("expected a whole number, got {v:?}"))?;
            }
            "decide.questions_per_day" => {
                self.decide.questions_per_day = v
                    .parse()
                    .map_err(|_| format!("expected a whole number, got {v:?}"))?;
            }
            "decide.ask_to_learn" => {
                self.decide.ask_to_learn = v
                    .parse()
                    .map_err(|_| format!("expected true or false, got {v:?}"))?;
            }
            "decide.unasked" => self.decide.unasked = v.parse()?,
            _ => {
                let known: Vec<&str> = KEYS.iter().map(|k| k.key).collect();
                return Err(format!("unknown key; known keys: {}", known.join(", ")));
            }
        }
        Ok(())
    }

    /// The proposal limits, from `limits.*`.
    pub fn limits(&self) -> steward_core::Limits {
        steward_core::Limits {
            max_body_bytes: self.limits.max_body_bytes,
            ..steward_core::Limits::default()
        }
    }

    /// The parsed allowlist.
    pub fn allowlist(&self) -> Result<Allowlist> {
        Allowlist::parse(&self.network.allow).map_err(|e| Error::ConfigValue {
            origin: "config".into(),
            key: "network.allow".into(),
            message: e.to_string(),
        })
    }

    /// Checks values that types alone do not; returns the offending key.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        Allowlist::parse(&self.network.allow).map_err(|e| ("network.allow", e.to_string()))?;
        if !(1..=1000).contains(&self.snapshot.page_size) {
            return Err((
                "snapshot.page_size",
                format!("must be 1 to 1000, got {}", self.snapshot.page_size),
            ));
        }
        if url::Url::parse(&self.snapshot.hub).is_err() {
            return Err((
                "snapshot.hub",
                format!("{:?} is not a URL", self.snapshot.hub),
            ));
        }
        if url::Url::parse(&self.snapshot.sequencer).is_err() {
            return Err((
                "snapshot.sequencer",
                format!("{:?} is not a URL", self.snapshot.sequencer),
            ));
        }
        for g in &self.governors {
            if g.address.parse::<steward_core::Address>().is_err() {
                return Err((
                    "governors",
                    format!("address {:?} is not an address", g.address),
                ));
            }
            if url::Url::parse(&g.rpc).is_err() {
                return Err(("governors", format!("rpc {:?} is not a URL", g.rpc)));
            }
        }
        for a in &self.imap {
            let bad = |s: &str| s.is_empty() || s.contains(['\r', '\n', '\0']);
            if bad(&a.host) || a.host.contains(['/', '@', ' ']) {
                return Err(("imap", format!("host {:?} is not a host name", a.host)));
            }
            if bad(&a.user) {
                return Err((
                    "imap",
                    format!("user {:?} on {} is not usable", a.user, a.host),
                ));
            }
            if bad(&a.folder) {
                return Err((
                    "imap",
                    format!("folder {:?} of {} is not usable", a.folder, a.account()),
                ));
            }
            if a.port == 0 {
                return Err(("imap", format!("port of {} must not be 0", a.account())));
            }
            if a.password_env.is_empty()
                || !a
                    .password_env
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err((
                    "imap",
                    format!(
                        "password_env of {} must name an environment variable, got {:?}",
                        a.account(),
                        a.password_env
                    ),
                ));
            }
        }
        for (key, x) in [
            ("decide.min_confidence_low", self.decide.min_confidence_low),
            (
                "decide.min_confidence_high",
                self.decide.min_confidence_high,
            ),
            ("decide.ask_importance", self.decide.ask_importance),
            ("decide.dissent_share", self.decide.dissent_share),
        ] {
            if !(0.0..=1.0).contains(&x) {
                return Err((key, format!("must be between 0 and 1, got {x}")));
            }
        }
        if self.decide.min_confidence_high < self.decide.min_confidence_low {
            return Err((
                "decide.min_confidence_high",
                "must not be below decide.min_confidence_low".into(),
            ));
        }
        for (address, name) in &self.address_book {
            if address.parse::<steward_core::Address>().is_err() {
                return Err((
                    "address_book",
                    format!("{address:?} is not a 20-byte hex address"),
                ));
            }
            if name.trim().is_empty()
                || name.chars().count() > 64
                || name.chars().any(char::is_control)
            {
                return Err((
                    "address_book",
                    format!(
                        "the name of {address} must be 1 to 64 characters without control characters"
                    ),
                ));
            }
        }
        if self.web.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err((
                "web.bind",
                format!("{:?} is not an IP:port address", self.web.bind),
            ));
        }
        if self.limits.max_body_bytes < 1024 {
            return Err(("limits.max_body_bytes", "must be at least 1024".into()));
        }
        if let Err(message) = self.forum_hosts() {
            return Err(("forums.hosts", message.0));
        }
        crate::notify::Field::parse_all(&self.notify.include)
            .map_err(|m| ("notify.include", m.0))?;
        crate::notify::parse_reminders(&self.notify.reminders)
            .map_err(|m| ("notify.reminders", m.0))?;
        if let Some(w) = &self.notify.webhook {
            match url::Url::parse(w) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
                _ => {
                    return Err((
                        "notify.webhook",
                        "expected an http(s) URL with a host".into(),
                    ));
                }
            }
        }
        if let Some(m) = &self.notify.mail {
            m.validate().map_err(|e| ("notify.mail", e))?;
        }
        self.identity.validate()?;
        self.bonds.validate()?;
        if let Some(a) = &self.market.address
            && a.parse::<steward_core::Address>().is_err()
        {
            return Err(("market.address", format!("{a:?} is not an address")));
        }
        for t in &self.market.quote_traders {
            if t.trim().parse::<steward_core::Address>().is_err() {
                return Err(("market.quote_traders", format!("{t:?} is not an address")));
            }
        }
        if !(0.0..1.0).contains(&self.market.min_edge) {
            return Err((
                "market.min_edge",
                format!(
                    "expected a number from 0 to 1, got {}",
                    self.market.min_edge
                ),
            ));
        }
        if self.market.auto && self.market.quote_url.is_none() {
            return Err((
                "market.auto",
                "needs market.quote_url: the sponsor's quote service signs every trade".into(),
            ));
        }
        for (key, v) in [
            ("market.budget", self.market.budget),
            ("market.daily_cap", self.market.daily_cap),
            ("market.quote_max", self.market.quote_max),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err((key, format!("expected an amount of tokens, got {v}")));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        // The ledger sums a market's spend by its address: one address, one market.
        let mut addresses: std::collections::BTreeMap<String, &str> = self
            .market
            .address
            .iter()
            .map(|a| (a.to_ascii_lowercase(), DEFAULT_MARKET))
            .collect();
        for m in &self.market.markets {
            let bad = |why: String| Err(("market.markets", format!("market {:?}: {why}", m.name)));
            if m.name.is_empty()
                || m.name.len() > 64
                || !m
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return bad("a name is 1 to 64 letters, digits, - or _".into());
            }
            if m.name == DEFAULT_MARKET {
                return bad(format!(
                    "{DEFAULT_MARKET:?} is the market of market.address"
                ));
            }
            if !names.insert(m.name.as_str()) {
                return bad("named twice".into());
            }
            if m.address.parse::<steward_core::Address>().is_err() {
                return bad(format!("address {:?} is not an address", m.address));
            }
            if let Some(other) = addresses.insert(m.address.to_ascii_lowercase(), &m.name) {
                return bad(format!(
                    "address {} is market {other:?}'s too (each market once: their spend is counted by address)",
                    m.address
                ));
            }
            for u in [&m.rpc, &m.quote_url].into_iter().flatten() {
                if url::Url::parse(u).is_err() {
                    return bad(format!("{u:?} is not a URL"));
                }
            }
            for v in [m.budget, m.daily_cap].into_iter().flatten() {
                if !(v.is_finite() && v >= 0.0) {
                    return bad(format!("expected an amount of tokens, got {v}"));
                }
            }
        }
        if self.network.timeout_secs == 0 {
            return Err(("network.timeout_secs", "must be at least 1".into()));
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log.level.as_str()) {
            return Err((
                "log.level",
                format!(
                    "expected error, warn, info, debug or trace, got {:?}",
                    self.log.level
                ),
            ));
        }
        Ok(())
    }

    /// A commented config.toml with every key at its default, for `steward init`.
    pub fn template() -> String {
        let mut out = String::from(
            "# Steward configuration. Every key is optional; the values shown are the defaults.\n\
             # Precedence: defaults < this file < STEWARD_* environment < command-line flags.\n\
             # Reference: docs/config.md\n",
        );
        let mut section = "";
        let mut tables = String::new();
        for k in KEYS {
            let Some((sec, name)) = k.key.split_once('.') else {
                // An array of tables: shown as a commented example after the plain sections.
                let example = match k.key {
                    "imap" => {
                        "# host = \"imap.example.org\"\n# port = 993\n# user = \"me@example.org\"\n# folder = \"INBOX\"\n# password_env = \"STEWARD_IMAP_PASSWORD\"\n# ca_file = \"/path/to/ca.pem\"\n# starttls = false\n"
                    }
                    _ => {
                        "# rpc = \"http://127.0.0.1:8545\"\n# address = \"0x...\"\n# from_block = 0\n"
                    }
                };
                tables.push_str(&format!("\n# {}\n# [[{}]]\n{example}", k.doc, k.key));
                continue;
            };
            if sec != section {
                out.push_str(&format!("\n[{sec}]\n"));
                section = sec;
            }
            out.push_str(&format!("# {}\n", k.doc));
            if k.default.starts_with('(') {
                out.push_str(&format!("# {name} = \"...\"   {}\n", k.default));
            } else {
                out.push_str(&format!("# {name} = {}\n", k.default));
            }
        }
        out.push_str(&tables);
        out
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn non_empty_path(v: &str) -> Option<PathBuf> {
    (!v.is_empty()).then(|| PathBuf::from(v))
}

/// The 1-based line of byte `offset` and the dotted key written on that line (or the nearest
/// one above it, for multi-line values).
fn locate(text: &str, offset: usize) -> (Option<usize>, String) {
    let offset = offset.min(text.len());
    let line_no = text[..offset].matches('\n').count() + 1;
    let mut section = String::new();
    let mut key = String::new();
    for line in text.lines().take(line_no) {
        let t = line.trim();
        if let Some(h) = t.strip_prefix('[') {
            // Also an unterminated header, which is often the error itself.
            section = h.trim_end_matches(']').trim().to_owned();
            key.clear();
        } else if let Some((k, _)) = t.split_once('=')
            && !t.starts_with('#')
        {
            key = k.trim().trim_matches('"').to_owned();
        }
    }
    let full = match (section.is_empty(), key.is_empty()) {
        (_, true) if !section.is_empty() => section,
        (true, _) => key,
        (false, false) => format!("{section}.{key}"),
        _ => String::from("?"),
    };
    (Some(line_no), full)
}

/// The line on which dotted `key` is set, if it can be found.
fn find_key_line(text: &str, key: &str) -> Option<usize> {
    let Some((sec, name)) = key.split_once('.') else {
        return text
            .lines()
            .position(|l| l.trim().trim_matches(['[', ']']).trim() == key)
            .map(|i| i + 1);
    };
    let mut in_sec = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            in_sec = h.trim() == sec;
        } else if in_sec && t.split_once('=').is_some_and(|(k, _)| k.trim() == name) {
            return Some(i + 1);
        }
    }
    None
}

/// Sets `values` (dotted keys) in the config file at `path`, keeping its comments and layout,
/// and returns the resulting config. Nothing is written unless the new file parses and
/// validates; the write is atomic (temp file + rename).
pub(crate) fn edit_file(path: &Path, values: &[(&str, String)]) -> Result<Config> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                context: "reading config",
                source,
            });
        }
    };
    let mut doc: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| Error::ConfigFile {
                path: path.to_path_buf(),
                line: None,
                key: "?".into(),
                message: e.to_string(),
            })?;
    for (key, value) in values {
        // Typed as the key's default is: check it with the same setter env and --set use.
        Config::default()
            .set(key, value)
            .map_err(|message| Error::ConfigValue {
                origin: "settings".into(),
                key: (*key).to_owned(),
                message: message.0,
            })?;
        let Some((section, name)) = key.split_once('.') else {
            return Err(Error::ConfigValue {
                origin: "settings".into(),
                key: (*key).to_owned(),
                message: "only `section.key` settings can be edited here".into(),
            });
        };
        let item = if let Ok(b) = value.parse::<bool>() {
            toml_edit::value(b)
        } else if let Ok(i) = value.parse::<i64>() {
            toml_edit::value(i)
        } else if let Ok(f) = value.parse::<f64>() {
            toml_edit::value(f)
        } else {
            toml_edit::value(value.as_str())
        };
        if !doc.contains_table(section) {
            doc[section] = toml_edit::table();
        }
        doc[section][name] = item;
    }
    let new_text = doc.to_string();
    let cfg = Config::parse_file(path, &new_text)?;
    // Owner-only: config.toml may hold RPC keys.
    crate::home::write_atomic(path, new_text.as_bytes()).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        context: "writing config",
        source,
    })?;
    Ok(cfg)
}

fn parse_unit(v: &str) -> Result<f64, String> {
    v.parse::<f64>()
        .ok()
        .filter(|x| (0.0..=1.0).contains(x))
        .ok_or_else(|| format!("expected a number between 0 and 1, got {v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_to_defaults() {
        let cfg = Config::parse_file(Path::new("t.toml"), &Config::template()).expect("parses");
        assert_eq!(cfg, Config::default());
    }

    #[test]
    fn imap_compact_form() {
        let a = ImapConfig::parse_compact("me@example.org@imap.example.org:143/Lists/DAO")
            .expect("parses");
        assert_eq!(
            (a.user.as_str(), a.host.as_str(), a.port, a.folder.as_str()),
            ("me@example.org", "imap.example.org", 143, "Lists/DAO")
        );
        let a = ImapConfig::parse_compact("bob@127.0.0.1").expect("parses");
        assert_eq!((a.port, a.folder.as_str()), (993, "INBOX"));
        assert_eq!(a.password_env, "STEWARD_IMAP_PASSWORD");
        assert!(ImapConfig::parse_compact("no-at-sign").is_err());
        assert!(ImapConfig::parse_compact("a@h:99999").is_err());
    }

    #[test]
    fn locate_names_section_and_key() {
        let text = "[network]\nallow = [\"loopback\"]\ntimeout_secs = \"x\"\n";
        let off = text.find("\"x\"").expect("present");
        assert_eq!(locate(text, off), (Some(3), "network.timeout_secs".into()));
    }
}
