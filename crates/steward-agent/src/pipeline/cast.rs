//! Stage 3's casting: what `run` and the desk need to cast (the keys, the keystore password
//! when casting is on, the network), and the one rule both follow: a proposal that already has
//! an intent that counts is not cast again by them (the user can still `steward vote --change`
//! a Snapshot vote). Wraps [`crate::cast_vote`] and [`crate::reconcile`].
//!
//! The reason sent with a vote is empty: the decision's rationale quotes the user's private
//! statements and writing, and a vote's reason is public.

use std::sync::Arc;

use steward_eth::KeystorePassword;

use super::{PipelineError, Result};
use crate::{CastContext, CastOrigin, CastOutcome, CastStatus, Config, Home, Keys, Network, Store};

/// Intent states that do not count as a vote: the proposal may be cast again.
const NOT_COUNTING: [&str; 3] = ["failed", "abandoned", "superseded"];

pub struct Caster {
    config: Config,
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
    /// `password` is the keystore's, needed only when `config.casting.enabled` (a dry run never
    /// opens the key).
    pub fn new(home: &Home, config: &Config, password: Option<KeystorePassword>) -> Result<Self> {
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
    pub fn has_key(&self) -> bool {
        self.keys.default_address().ok().flatten().is_some() || self.config.casting.key.is_some()
    }

    /// Whether `key` already has an intent that counts (cast, on its way, or a dry run).
    pub fn already(store: &Store, key: &str) -> Result<bool> {
        Ok(store
            .cast_intents(Some(key))?
            .iter()
            .any(|i| !NOT_COUNTING.contains(&i.state.as_str())))
    }

    /// Finishes what a crash left half-done (before anything else is cast); how many.
    pub async fn reconcile(&self, store: &mut Store) -> Result<usize> {
        if !self.keys.dir().is_dir() {
            return Ok(0);
        }
        crate::reconcile(store, self.ctx())
            .await
            .map(|r| r.len())
            .map_err(|source| PipelineError::Reconcile {
                source: Box::new(source),
            })
    }

    /// Casts `choice` on the stored proposal `key`.
    pub async fn cast(
        &self,
        store: &mut Store,
        key: &str,
        choice: &str,
        origin: CastOrigin,
    ) -> Result<CastOutcome> {
        let sp = store
            .proposal(key)?
            .ok_or_else(|| PipelineError::NoProposal(key.to_owned()))?;
        crate::cast_vote(store, self.ctx(), &sp, choice, "", origin, false)
            .await
            .map_err(|source| PipelineError::Cast {
                proposal: key.to_owned(),
                source: Box::new(source),
            })
    }
}

/// A line for people: what casting did.
pub fn describe(o: &CastOutcome) -> String {
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

/// The desk's cast hook: an answer or override on the desk is cast at once through `caster`
/// (or dry-run while casting is off). Must run on a multi-threaded runtime.
pub fn desk_cast_hook(caster: Arc<Caster>) -> crate::web::CastHook {
    Arc::new(move |store, key, choice| {
        if !caster.has_key() {
            return Err("no signing key (`steward key new` or `key import`)".into());
        }
        let caster = caster.clone();
        // The handler runs on the multi-threaded runtime: block this worker, not the others.
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                caster
                    .cast(store, key, choice, CastOrigin::User)
                    .await
                    .map(|o| describe(&o))
                    .map_err(|e| super::chain(&e))
            })
        })
    })
}
