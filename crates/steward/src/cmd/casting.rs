//! What `run` and `serve` need to cast: the keys, the keystore password (only when casting is
//! on), the network; and the one rule both follow: a proposal that already has a live or dry-run
//! intent is not cast again by them (the user can still `steward vote --change` a Snapshot vote).
//!
//! The reason sent with a vote is empty: the decision's rationale quotes the user's private
//! statements and writing, and a vote's reason is public.

use anyhow::Result;
use steward_agent::{
    CastContext, CastOrigin, CastOutcome, Config, Home, Keys, Network, Store, cast_vote,
};
use steward_eth::KeystorePassword;

use crate::ctx::Ctx;

pub(crate) struct Caster {
    pub(crate) config: Config,
    keys: Keys,
    password: Option<KeystorePassword>,
    network: Network,
}

impl std::fmt::Debug for Caster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Caster(<password redacted>)")
    }
}

impl Caster {
    pub(crate) fn new(home: &Home, config: &Config) -> Result<Self> {
        let password = if config.casting.enabled {
            Some(Ctx::keystore_password(false)?)
        } else {
            None
        };
        Self::with_password(home, config, password)
    }

    /// With the keystore password given (the demo's persona); `None` when casting is off.
    pub(crate) fn with_password(
        home: &Home,
        config: &Config,
        password: Option<KeystorePassword>,
    ) -> Result<Self> {
        Ok(Caster {
            config: config.clone(),
            keys: Keys::new(home),
            password,
            network: Network::from_config(config)?,
        })
    }

    fn ctx(&self) -> CastContext<'_> {
        CastContext {
            config: &self.config,
            keys: &self.keys,
            password: self.password.as_ref(),
            network: &self.network,
        }
    }

    /// Whether a signing key exists (a dry run still needs the voter's address).
    pub(crate) fn has_key(&self) -> bool {
        self.keys.default_address().ok().flatten().is_some() || self.config.casting.key.is_some()
    }

    /// Whether `key` already has an intent that counts (cast, on its way, or a dry run).
    pub(crate) fn already(store: &Store, key: &str) -> Result<bool> {
        Ok(store
            .cast_intents(Some(key))?
            .iter()
            .any(|i| !matches!(i.state.as_str(), "failed" | "abandoned" | "superseded")))
    }

    /// Finishes what a crash left half-done (before anything else is cast).
    pub(crate) async fn reconcile(&self, store: &mut Store) -> Result<usize> {
        if !self.keys.dir().is_dir() {
            return Ok(0);
        }
        Ok(steward_agent::reconcile(store, self.ctx()).await?.len())
    }

    pub(crate) async fn cast(
        &self,
        store: &mut Store,
        key: &str,
        choice: &str,
        origin: CastOrigin,
    ) -> Result<CastOutcome> {
        let sp = store
            .proposal(key)?
            .ok_or_else(|| anyhow::anyhow!("no proposal {key} in the store"))?;
        Ok(cast_vote(store, self.ctx(), &sp, choice, "", origin, false).await?)
    }
}

/// A line for people: what casting did.
pub(crate) fn describe(o: &CastOutcome) -> String {
    use steward_agent::CastStatus;
    match o.status {
        CastStatus::DryRun => "dry run: casting is off (casting.enabled = false)".to_owned(),
        CastStatus::Confirmed => match (&o.tx, &o.receipt) {
            (Some(tx), _) => format!("cast on chain, tx {tx}"),
            (_, Some(r)) => format!("cast on Snapshot, receipt {r}"),
            _ => "cast and confirmed".to_owned(),
        },
        CastStatus::Pending => "sent, not yet confirmed".to_owned(),
        CastStatus::AlreadyVoted => "already voted: nothing sent".to_owned(),
    }
}
