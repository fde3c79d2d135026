//! `steward dao health`: one DAO's settings, supply, turnout, largest holder and delegate, and
//! the cost of an attack, read through the user's network policy (steward-eth `dao_health`,
//! docs/governor.md).

use steward_core::Address;
use steward_eth::{Health, HealthOptions};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::net::Network;

/// Reads the health of `governor` over `rpc_url` (which must pass the network allowlist). An
/// address that is not a governor, or a node that fails, is an error naming the governor.
pub async fn dao_health(
    config: &Config,
    governor: Address,
    rpc_url: &str,
    opts: &HealthOptions,
) -> Result<Health> {
    let rpc = Network::from_config(config)?.rpc(rpc_url)?;
    steward_eth::dao_health(&rpc, governor, opts)
        .await
        .map_err(|source| Error::Eth {
            context: format!("dao health of governor {governor}"),
            source,
        })
}
