//! The binary's part of casting: the keystore password, from env or a prompt and only when
//! casting is on. The caster and its "never cast twice" rule live in
//! `steward_agent::pipeline::Caster`.

use anyhow::Result;
use steward_agent::{Caster, Config, Home};

use crate::ctx::Ctx;

/// The caster for `home`, asking for the keystore password only when casting is enabled (a dry
/// run never opens the key).
pub(crate) fn caster(home: &Home, config: &Config) -> Result<Caster> {
    let password = if config.casting.enabled {
        Some(Ctx::keystore_password(false)?)
    } else {
        None
    };
    Ok(Caster::new(home, config, password)?)
}
