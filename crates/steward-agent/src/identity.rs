//! The agent's ERC-8004 identity (docs/economy.md): registering it with a registration file
//! that lists its services and trust models, showing an agent with its reputation among the
//! clients the user trusts, and rating another agent. One function per `steward agent` command.
//!
//! Reputation is only ever read from `identity.trusted_clients`: an empty list is an error, never
//! "everyone" (ratings from strangers are what a Sybil buys). The registration file lives on
//! chain as a `data:` URI, so nothing has to be hosted and nothing leaves through another host.

use std::path::PathBuf;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use steward_core::{Address, U256};
use steward_eth::{AgentRegistries, Feedback, KeystorePassword, RegistryError};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::home::Home;
use crate::keys::Keys;
use crate::net::Network;

/// The registration file's `type` (EIP-8004).
pub const REGISTRATION_TYPE: &str = "https://eips.ethereum.org/EIPS/eip-8004#registration-v1";

/// The trust models the agent supports: ratings from trusted clients, and attention bonds
/// (stake that a sender forfeits when the user does not answer).
pub const SUPPORTED_TRUST: [&str; 2] = ["reputation", "crypto-economic"];

/// What the identity commands need.
#[derive(Debug, Clone, Copy)]
pub struct IdentityContext<'a> {
    pub home: &'a Home,
    pub config: &'a Config,
    pub keys: &'a Keys,
    /// Needed by the commands that sign (register, feedback).
    pub password: Option<&'a KeystorePassword>,
    pub network: &'a Network,
}

/// The agent this home registered, kept in `<home>/identity.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedAgent {
    /// Decimal.
    pub agent_id: String,
    /// `eip155:CHAIN:REGISTRY`.
    pub agent_registry: String,
    pub owner: Address,
}

/// `steward agent register`'s result.
#[derive(Debug, Clone, Serialize)]
pub struct AgentRegistration {
    pub agent_id: String,
    pub agent_registry: String,
    pub owner: Address,
    pub register_tx: String,
    pub register_gas: u64,
    pub uri_tx: String,
    pub uri_gas: u64,
    /// The registration file as put on chain.
    pub registration: Value,
}

/// `steward agent show`'s result.
#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    pub agent_id: String,
    pub agent_registry: String,
    pub owner: Address,
    pub wallet: Option<Address>,
    pub uri: String,
    /// The registration file, when the URI carries it (`data:application/json;base64,`).
    pub registration: Option<Value>,
    /// Among the trusted clients only; `None` with `--no-reputation`.
    pub reputation: Option<Reputation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reputation {
    pub trusted_clients: Vec<Address>,
    pub count: u64,
    /// Decimal notation of the mean (`"97"`, `"95.5"`).
    pub value: String,
    /// The raw fixed point `getSummary` returned.
    pub raw_value: String,
    pub decimals: u8,
    /// How many addresses rated the agent at all (not counted unless trusted).
    pub raters_total: usize,
}

/// `steward agent feedback`'s result.
#[derive(Debug, Clone, Serialize)]
pub struct FeedbackSent {
    pub agent_id: String,
    pub client: Address,
    pub index: u64,
    pub value: String,
    pub tx: String,
    pub gas_used: u64,
}

/// What `steward agent feedback` gives.
#[derive(Debug, Clone, Default)]
pub struct FeedbackArgs {
    /// Decimal notation: "100", "95.5", "-3.2".
    pub value: String,
    pub tag1: String,
    pub tag2: String,
    pub endpoint: String,
    pub uri: String,
}

pub(crate) fn identity_error(msg: impl Into<String>) -> Error {
    Error::Identity(msg.into())
}

pub(crate) fn registry_error(context: impl Into<String>) -> impl FnOnce(RegistryError) -> Error {
    let context = context.into();
    move |source| Error::Registry {
        context,
        source: Box::new(source),
    }
}

fn saved_path(home: &Home) -> PathBuf {
    home.root().join("identity.json")
}

/// The agent registered from this home, if any.
pub fn saved_agent(home: &Home) -> Result<Option<SavedAgent>> {
    let path = saved_path(home);
    match std::fs::read_to_string(&path) {
        Ok(t) => serde_json::from_str(&t).map(Some).map_err(|e| {
            identity_error(format!(
                "{}: not a saved agent identity: {e}",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path,
            context: "reading the saved agent identity",
            source,
        }),
    }
}

fn config_address(value: &Option<String>, key: &str) -> Result<Address> {
    let v = value.as_deref().ok_or_else(|| {
        identity_error(format!(
            "{key} is not set: the ERC-8004 registries' addresses go in [identity] (docs/economy.md)"
        ))
    })?;
    v.parse().map_err(|_| Error::ConfigValue {
        origin: "config".into(),
        key: key.into(),
        message: format!("{v:?} is not an address"),
    })
}

/// The registries named by `[identity]`, over an allowlist-checked connection.
pub fn registries(config: &Config, network: &Network) -> Result<AgentRegistries> {
    let rpc = config.identity.rpc.as_deref().ok_or_else(|| {
        identity_error("identity.rpc is not set: the chain holding the ERC-8004 registries")
    })?;
    let identity = config_address(&config.identity.registry, "identity.registry")?;
    let reputation = config_address(&config.identity.reputation, "identity.reputation")?;
    Ok(AgentRegistries::new(
        network.rpc(rpc)?,
        identity,
        reputation,
    ))
}

/// The clients whose ratings count, parsed; empty is an error.
pub fn trusted_clients(config: &Config) -> Result<Vec<Address>> {
    if config.identity.trusted_clients.is_empty() {
        return Err(identity_error(
            "identity.trusted_clients is empty: reputation is only read from clients you trust, \
             never from everyone; add their addresses (or pass --no-reputation)",
        ));
    }
    config
        .identity
        .trusted_clients
        .iter()
        .map(|c| {
            c.parse().map_err(|_| Error::ConfigValue {
                origin: "config".into(),
                key: "identity.trusted_clients".into(),
                message: format!("{c:?} is not an address"),
            })
        })
        .collect()
}

/// The EIP-8004 registration file: name, description, the services (mail, the review desk, the
/// wallet, the bond price), the registration once known, and the trust models.
pub fn registration_file(
    config: &Config,
    wallet: Address,
    chain_id: u64,
    registry: Address,
    agent_id: Option<U256>,
) -> Value {
    let mut services = Vec::new();
    if let Some(mail) = &config.identity.mail {
        services.push(json!({ "name": "email", "endpoint": mail }));
    }
    services.push(json!({ "name": "web", "endpoint": format!("http://{}/", config.web.bind) }));
    services.push(json!({
        "name": "agentWallet",
        "endpoint": format!("eip155:{chain_id}:{wallet:#x}"),
    }));
    if let Some(price) = &config.identity.bond_price {
        services.push(json!({ "name": "bondPrice", "endpoint": price }));
    }
    let registrations: Vec<Value> = agent_id
        .map(|id| {
            vec![json!({
                "agentId": id.to_string().parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(id.to_string())),
                "agentRegistry": format!("eip155:{chain_id}:{registry:#x}"),
            })]
        })
        .unwrap_or_default();
    json!({
        "type": REGISTRATION_TYPE,
        "name": config.identity.name,
        "description": "Steward: a personal DAO-governance agent. It reads proposals, votes as its user would when sure, and asks them when it matters; mail to it is held unless bonded, whitelisted or from a trusted delegate.",
        "image": "",
        "services": services,
        "active": true,
        "registrations": registrations,
        "supportedTrust": SUPPORTED_TRUST,
    })
}

/// `data:application/json;base64,...` of `file`.
pub fn data_uri(file: &Value) -> String {
    format!(
        "data:application/json;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(file.to_string())
    )
}

/// The JSON a `data:application/json;base64,` URI carries; `None` for any other URI.
pub fn decode_data_uri(uri: &str) -> Option<Value> {
    let b64 = uri.strip_prefix("data:application/json;base64,")?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub(crate) fn open_key(ctx: &IdentityContext<'_>) -> Result<steward_eth::Key> {
    let password = ctx.password.ok_or_else(|| {
        identity_error("no keystore password was given (STEWARD_KEYSTORE_PASSWORD)")
    })?;
    ctx.keys.open(ctx.config.casting.key.as_deref(), password)
}

/// Registers the agent, owned by the signing key (`casting.key`), then points it at its full
/// registration file (which names the new id). Refuses a second registration in the same
/// registry from this home.
pub async fn register(ctx: IdentityContext<'_>) -> Result<AgentRegistration> {
    let reg = registries(ctx.config, ctx.network)?;
    let name = reg
        .agent_registry_name()
        .await
        .map_err(registry_error("reading the chain"))?;
    if let Some(saved) = saved_agent(ctx.home)?
        && saved.agent_registry == name
    {
        return Err(identity_error(format!(
            "already registered as agent {} in {name} ({}); nothing sent",
            saved.agent_id,
            saved_path(ctx.home).display()
        )));
    }
    let key = open_key(&ctx)?;
    let chain_id = ctx
        .network
        .rpc(ctx.config.identity.rpc.as_deref().unwrap_or_default())?
        .chain_id()
        .await
        .map_err(|source| Error::Eth {
            context: "reading the chain id".into(),
            source,
        })?;
    let draft = registration_file(ctx.config, key.address(), chain_id, reg.identity(), None);
    let r = reg
        .register(&key, &data_uri(&draft), &[])
        .await
        .map_err(registry_error("registering the agent"))?;
    let file = registration_file(
        ctx.config,
        key.address(),
        chain_id,
        reg.identity(),
        Some(r.agent_id),
    );
    let saved = SavedAgent {
        agent_id: r.agent_id.to_string(),
        agent_registry: name.clone(),
        owner: r.owner,
    };
    // Saved before the second transaction: the id is ours from here even if that one fails.
    let path = saved_path(ctx.home);
    let text = serde_json::to_vec_pretty(&saved).unwrap_or_default();
    crate::home::write_atomic(&path, &text).map_err(|source| Error::Io {
        path: path.clone(),
        context: "saving the agent identity",
        source,
    })?;
    let u = reg
        .set_uri(&key, r.agent_id, &data_uri(&file))
        .await
        .map_err(registry_error(format!(
            "agent {} registered, but setting its registration file",
            r.agent_id
        )))?;
    Ok(AgentRegistration {
        agent_id: r.agent_id.to_string(),
        agent_registry: name,
        owner: r.owner,
        register_tx: r.mined.tx.to_string(),
        register_gas: r.mined.gas_used,
        uri_tx: u.tx.to_string(),
        uri_gas: u.gas_used,
        registration: file,
    })
}

pub(crate) fn parse_agent_id(id: Option<&str>, home: &Home) -> Result<U256> {
    let text = match id {
        Some(t) => t.to_owned(),
        None => saved_agent(home)?
            .ok_or_else(|| {
                identity_error(
                    "no agent id given and this home registered none (`steward agent register`)",
                )
            })?
            .agent_id,
    };
    text.trim()
        .parse::<U256>()
        .ok()
        .filter(|v| !v.is_zero())
        .ok_or_else(|| identity_error(format!("agent id {text:?} is not a positive whole number")))
}

/// An agent (this home's when `agent_id` is `None`) with its reputation among the trusted
/// clients (unless `with_reputation` is false).
pub async fn show(
    ctx: IdentityContext<'_>,
    agent_id: Option<&str>,
    with_reputation: bool,
) -> Result<AgentView> {
    let id = parse_agent_id(agent_id, ctx.home)?;
    // Checked before any call: an empty trust list never falls back to everyone.
    let trusted = if with_reputation {
        Some(trusted_clients(ctx.config)?)
    } else {
        None
    };
    let reg = registries(ctx.config, ctx.network)?;
    let rec = reg
        .agent(id)
        .await
        .map_err(registry_error(format!("reading agent {id}")))?;
    let name = reg
        .agent_registry_name()
        .await
        .map_err(registry_error("reading the chain"))?;
    let reputation = match trusted {
        None => None,
        Some(clients) => {
            let s = reg
                .summary(id, &clients, "", "")
                .await
                .map_err(registry_error(format!("reputation of agent {id}")))?;
            let raters = reg
                .clients(id)
                .await
                .map_err(registry_error(format!("raters of agent {id}")))?;
            Some(Reputation {
                trusted_clients: clients,
                count: s.count,
                value: s.display_value(),
                raw_value: s.value.to_string(),
                decimals: s.decimals,
                raters_total: raters.len(),
            })
        }
    };
    Ok(AgentView {
        agent_id: id.to_string(),
        agent_registry: name,
        owner: rec.owner,
        wallet: rec.wallet,
        registration: decode_data_uri(&rec.uri),
        uri: rec.uri,
        reputation,
    })
}

/// Rates agent `agent_id` with the signing key.
pub async fn feedback(
    ctx: IdentityContext<'_>,
    agent_id: &str,
    args: &FeedbackArgs,
) -> Result<FeedbackSent> {
    let id = parse_agent_id(Some(agent_id), ctx.home)?;
    let (value, decimals) = steward_eth::parse_fixed_point(&args.value).ok_or_else(|| {
        identity_error(format!(
            "feedback value {:?} is not a decimal number with at most {} decimals (e.g. 100, 95.5, -3.2)",
            args.value,
            steward_eth::MAX_FEEDBACK_DECIMALS
        ))
    })?;
    let reg = registries(ctx.config, ctx.network)?;
    let key = open_key(&ctx)?;
    let f = Feedback {
        value,
        decimals,
        tag1: args.tag1.clone(),
        tag2: args.tag2.clone(),
        endpoint: args.endpoint.clone(),
        uri: args.uri.clone(),
        hash: Default::default(),
    };
    let g = reg
        .give_feedback(&key, id, &f)
        .await
        .map_err(registry_error(format!("rating agent {id}")))?;
    Ok(FeedbackSent {
        agent_id: id.to_string(),
        client: g.client,
        index: g.index,
        value: steward_eth::fixed_point(value, decimals),
        tx: g.mined.tx.to_string(),
        gas_used: g.mined.gas_used,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_file_lists_services_and_trust_and_round_trips_as_a_data_uri() {
        let mut cfg = Config::default();
        cfg.identity.mail = Some("agent@example.org".into());
        cfg.identity.bond_price = Some("http://127.0.0.1:8765/price".into());
        let wallet: Address = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
            .parse()
            .expect("address");
        let registry: Address = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
            .parse()
            .expect("address");
        let f = registration_file(&cfg, wallet, 31337, registry, Some(U256::from(7)));
        assert_eq!(f["type"], REGISTRATION_TYPE);
        let names: Vec<&str> = f["services"]
            .as_array()
            .expect("services")
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        assert_eq!(names, ["email", "web", "agentWallet", "bondPrice"]);
        assert_eq!(
            f["services"][2]["endpoint"],
            "eip155:31337:0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
        );
        assert_eq!(f["registrations"][0]["agentId"], 7);
        assert_eq!(
            f["registrations"][0]["agentRegistry"],
            "eip155:31337:0x5fbdb2315678afecb367f032d93f642f64180aa3"
        );
        assert_eq!(
            f["supportedTrust"],
            json!(["reputation", "crypto-economic"])
        );
        assert_eq!(decode_data_uri(&data_uri(&f)), Some(f));
        assert_eq!(decode_data_uri("ipfs://x"), None);
    }

    #[test]
    fn an_empty_trusted_list_is_an_error_not_everyone() {
        let cfg = Config::default();
        let e = trusted_clients(&cfg).expect_err("empty");
        assert!(e.to_string().contains("never from everyone"), "{e}");
    }
}
