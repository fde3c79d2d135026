//! What every subcommand needs: the home path, the config layers and the passphrase.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use steward_agent::{Config, Home, Passphrase, Store, env};
use steward_eth::KeystorePassword;

use crate::cli::Global;

#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) home: Option<PathBuf>,
    pub(crate) flags: Vec<(String, String)>,
}

impl Ctx {
    pub(crate) fn new(g: Global) -> Self {
        Self {
            home: g.home,
            flags: g.set,
        }
    }

    pub(crate) fn getenv(key: &str) -> Option<String> {
        std::env::var(key).ok()
    }

    /// The home path: `--home`/`STEWARD_HOME`, else the XDG default.
    pub(crate) fn home_path(&self) -> Result<PathBuf> {
        match &self.home {
            Some(h) => Ok(h.clone()),
            None => Home::default_path(Self::getenv)
                .context("no home: pass --home DIR or set STEWARD_HOME (HOME is not set)"),
        }
    }

    pub(crate) fn config(&self, home: &Home) -> Result<Config> {
        Ok(Config::load(
            &home.config_path(),
            Self::getenv,
            &self.flags,
        )?)
    }

    /// The passphrase from STEWARD_PASSPHRASE, or asked on the terminal (twice when `confirm`).
    /// Never from argv.
    pub(crate) fn passphrase(confirm: bool) -> Result<Passphrase> {
        if let Some(p) = Self::getenv(env::STEWARD_PASSPHRASE) {
            return Ok(Passphrase::new(p)?);
        }
        if !std::io::stdin().is_terminal() {
            bail!("no passphrase: set STEWARD_PASSPHRASE or run in a terminal to be asked");
        }
        let first =
            rpassword::prompt_password("Store passphrase: ").context("reading the passphrase")?;
        if confirm {
            let again = zeroize::Zeroizing::new(
                rpassword::prompt_password("Repeat passphrase: ")
                    .context("reading the passphrase")?,
            );
            if *again != first {
                bail!("the passphrases do not match");
            }
        }
        Ok(Passphrase::new(first)?)
    }

    /// The keystore password from STEWARD_KEYSTORE_PASSWORD, or asked on the terminal (twice
    /// when `confirm`). Never from argv.
    pub(crate) fn keystore_password(confirm: bool) -> Result<KeystorePassword> {
        if let Some(p) = Self::getenv(env::STEWARD_KEYSTORE_PASSWORD) {
            return Ok(if confirm {
                KeystorePassword::new(p)?
            } else {
                KeystorePassword::allow_empty(p)
            });
        }
        if !std::io::stdin().is_terminal() {
            bail!(
                "no keystore password: set STEWARD_KEYSTORE_PASSWORD or run in a terminal to be asked"
            );
        }
        let first = rpassword::prompt_password("Keystore password: ")
            .context("reading the keystore password")?;
        if confirm {
            let again = zeroize::Zeroizing::new(
                rpassword::prompt_password("Repeat password: ")
                    .context("reading the keystore password")?,
            );
            if *again != first {
                bail!("the passwords do not match");
            }
            return Ok(KeystorePassword::new(first)?);
        }
        Ok(KeystorePassword::allow_empty(first))
    }

    /// The passphrase if one is available without asking (doctor uses it to decide whether the
    /// store can be checked).
    pub(crate) fn passphrase_if_available() -> Option<Passphrase> {
        if Self::getenv(env::STEWARD_PASSPHRASE).is_some() || std::io::stdin().is_terminal() {
            Self::passphrase(false).ok()
        } else {
            None
        }
    }

    /// Opens the home (taking its lock) and the store.
    pub(crate) fn open_store(&self) -> Result<(Home, Store)> {
        let home = Home::open(&self.home_path()?)?;
        // Validate config before asking for anything.
        self.config(&home)?;
        let pass = Self::passphrase(false)?;
        let store = Store::open(&home, &pass)?;
        Ok((home, store))
    }
}
