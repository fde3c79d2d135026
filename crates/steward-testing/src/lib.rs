//! Test support shared by the workspace's integration tests: the outside things a test may need
//! ([`Need`]), and [`skip`], which lets a local run skip a test whose need is missing (and say
//! so) but turns the same skip into a failure where `STEWARD_REQUIRE` demands that need.
//!
//! `.ci/run` sets `STEWARD_REQUIRE=all`, so a missing install step fails CI instead of passing
//! silently (uv gates such tests behind named features; one variable does the same here without
//! a feature matrix). Locally, `STEWARD_REQUIRE=models,anvil` demands just those.

use std::fmt;

/// The variable listing what must be present: `all`, or names of [`Need`] separated by commas.
pub const REQUIRE_ENV: &str = "STEWARD_REQUIRE";

/// Something outside the code that a test needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Need {
    /// The embedded model files and ONNX Runtime (`make models`).
    Models,
    /// anvil, cast, solc and the npm packages under `tools/` (`make tools`).
    Anvil,
    /// Chromium and chromedriver (`scripts/setup-apt.sh`).
    Chromium,
    /// Dovecot and the openssl CLI (`scripts/setup-apt.sh`).
    Dovecot,
    /// The public data beside the checkout (`../shared/data`).
    Data,
    /// The llama-cpp-python server (`scripts/setup-llama-server.sh`).
    LlamaServer,
    /// The kernel's Landlock and seccomp, for the model worker's confinement.
    Sandbox,
    /// A mail submission path: Dovecot's submission service and Postfix's smtp-sink
    /// (`scripts/setup-apt.sh`).
    Smtp,
}

impl Need {
    /// Every need, in the order `STEWARD_REQUIRE` documents them.
    pub const ALL: [Need; 8] = [
        Need::Models,
        Need::Anvil,
        Need::Chromium,
        Need::Dovecot,
        Need::Data,
        Need::LlamaServer,
        Need::Sandbox,
        Need::Smtp,
    ];

    /// The name used in `STEWARD_REQUIRE`.
    pub fn name(self) -> &'static str {
        match self {
            Need::Models => "models",
            Need::Anvil => "anvil",
            Need::Chromium => "chromium",
            Need::Dovecot => "dovecot",
            Need::Data => "data",
            Need::LlamaServer => "llama-server",
            Need::Sandbox => "sandbox",
            Need::Smtp => "smtp",
        }
    }

    /// The command that installs it.
    pub fn fix(self) -> &'static str {
        match self {
            Need::Models => "make models",
            Need::Anvil => "make tools",
            Need::Chromium | Need::Dovecot | Need::Smtp => "scripts/setup-apt.sh",
            Need::Data => "put the shared data beside the checkout (../shared/data)",
            Need::LlamaServer => "make llama-server",
            Need::Sandbox => "a kernel with Landlock and seccomp",
        }
    }
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether `spec` (the value of `STEWARD_REQUIRE`) demands `need`. Unknown names are an error,
/// so a typo in CI cannot quietly demand nothing.
pub fn demanded(spec: &str, need: Need) -> Result<bool, String> {
    let mut hit = false;
    for word in spec.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if word == "all" {
            hit = true;
        } else if let Some(n) = Need::ALL.iter().find(|n| n.name() == word) {
            hit |= *n == need;
        } else {
            let names: Vec<&str> = Need::ALL.iter().map(|n| n.name()).collect();
            return Err(format!(
                "{REQUIRE_ENV}: unknown need {word:?} (known: all, {})",
                names.join(", ")
            ));
        }
    }
    Ok(hit)
}

/// Whether this run demands `need` (reads `STEWARD_REQUIRE`).
///
/// # Panics
/// When `STEWARD_REQUIRE` names something unknown.
pub fn required(need: Need) -> bool {
    let spec = std::env::var(REQUIRE_ENV).unwrap_or_default();
    match demanded(&spec, need) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    }
}

/// Skips `test` because `need` is missing (`why`): says so on stderr, or fails the test when
/// this run demands `need`. The caller returns right after.
///
/// # Panics
/// When `STEWARD_REQUIRE` demands `need`: a missing install step must fail CI.
#[allow(clippy::print_stderr)]
pub fn skip(need: Need, test: &str, why: impl fmt::Display) {
    if required(need) {
        panic!(
            "{test} needs {need}, which is missing: {why} (fix: {}; {REQUIRE_ENV} demands it)",
            need.fix()
        );
    }
    eprintln!(
        "SKIP {test}: {need} missing: {why} (fix: {}; set {REQUIRE_ENV}={need} to fail instead)",
        need.fix()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_names_what_is_demanded() {
        assert_eq!(demanded("", Need::Models), Ok(false));
        assert_eq!(demanded("all", Need::Sandbox), Ok(true));
        assert_eq!(demanded("models, anvil", Need::Anvil), Ok(true));
        assert_eq!(demanded("models,anvil", Need::Chromium), Ok(false));
        assert_eq!(demanded("llama-server", Need::LlamaServer), Ok(true));
        assert_eq!(demanded("smtp", Need::Smtp), Ok(true));
        assert!(
            demanded("modles", Need::Models)
                .expect_err("a typo is an error")
                .contains("unknown need \"modles\"")
        );
    }
}
