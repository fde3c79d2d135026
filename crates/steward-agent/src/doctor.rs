//! `steward doctor`: what is in place, what is missing, and the command that fixes it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;
use steward_ml::FileStatus;

use crate::config::Config;
use crate::error::Error;
use crate::home::Home;
use crate::store::{Passphrase, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    /// Works, but something is not as it should be.
    Warn,
    /// Needed and not working.
    Fail,
    /// Could not be checked (for example: no passphrase given).
    Skip,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked: `home`, `config`, `store`, `audit`, `model:<file>`, `tool:<name>`, ...
    pub name: String,
    pub status: CheckStatus,
    pub detail: String,
    /// The command that fixes it, when there is one.
    pub fix: Option<String>,
}

impl Check {
    fn new(name: impl Into<String>, status: CheckStatus, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// Where the npm tools live, resolved.
#[derive(Debug, Clone)]
pub struct ToolPaths {
    pub node_modules: Option<PathBuf>,
}

impl ToolPaths {
    /// `tools.dir` from config, else `tools/node_modules` in a checkout that contains the running
    /// binary (target/{debug,release}/steward).
    pub fn resolve(cfg: &Config) -> Self {
        let node_modules = cfg.tools.dir.clone().or_else(|| {
            let exe = std::env::current_exe().ok()?;
            exe.ancestors()
                .skip(1)
                .map(|d| d.join("tools/node_modules"))
                .find(|d| d.is_dir())
        });
        Self { node_modules }
    }

    /// The path of a foundry binary (`anvil`, `cast`) inside node_modules.
    pub fn foundry_bin(&self, name: &str) -> Option<PathBuf> {
        let nm = self.node_modules.as_ref()?;
        Some(nm.join(format!("@foundry-rs/{name}-linux-amd64/bin/{name}")))
    }
}

/// The findings of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Doctor {
    pub home: PathBuf,
    pub checks: Vec<Check>,
}

impl Doctor {
    /// Whether nothing failed.
    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.status != CheckStatus::Fail)
    }

    /// Runs every check. Never fails: each problem is a finding.
    pub fn run(
        home_path: &Path,
        env: impl Fn(&str) -> Option<String>,
        flags: &[(String, String)],
        passphrase: Option<&Passphrase>,
    ) -> Self {
        let mut checks = Vec::new();
        let home = match Home::open(home_path) {
            Ok(h) => {
                checks.push(Check::new(
                    "home",
                    CheckStatus::Ok,
                    home_path.display().to_string(),
                ));
                Some(h)
            }
            Err(e @ Error::HomeMissing { .. }) => {
                checks
                    .push(Check::new("home", CheckStatus::Fail, e.to_string()).fix("steward init"));
                None
            }
            Err(e) => {
                checks.push(Check::new("home", CheckStatus::Fail, error_chain(&e)));
                None
            }
        };
        let config_path = home_path.join("config.toml");
        let cfg =
            match Config::load(&config_path, &env, flags) {
                Ok(c) => {
                    checks.push(Check::new(
                        "config",
                        CheckStatus::Ok,
                        config_path.display().to_string(),
                    ));
                    c
                }
                Err(e) => {
                    checks.push(Check::new("config", CheckStatus::Fail, e.to_string()).fix(
                        format!("edit {} (reference: docs/config.md)", config_path.display()),
                    ));
                    Config::default()
                }
            };
        if let Some(home) = &home {
            checks.extend(store_checks(home, passphrase));
        }
        let models_dir = cfg
            .models
            .dir
            .clone()
            .unwrap_or_else(|| home_path.join("models"));
        checks.extend(model_checks(&models_dir));
        checks.extend(tool_checks(&ToolPaths::resolve(&cfg)));
        checks.push(key_check(&home_path.join("keys")));
        checks.push(match cfg.allowlist() {
            Ok(a) => Check::new("network", CheckStatus::Ok, format!("allowed: {a}")),
            Err(e) => Check::new("network", CheckStatus::Fail, e.to_string()),
        });
        Self {
            home: home_path.into(),
            checks,
        }
    }
}

fn store_checks(home: &Home, passphrase: Option<&Passphrase>) -> Vec<Check> {
    if !Store::exists(home) {
        return vec![
            Check::new(
                "store",
                CheckStatus::Fail,
                format!("no store in {}", home.root().display()),
            )
            .fix("steward init"),
        ];
    }
    let Some(pass) = passphrase else {
        return vec![Check::new(
            "store",
            CheckStatus::Skip,
            "not opened: no passphrase (set STEWARD_PASSPHRASE or run in a terminal)",
        )];
    };
    let store = match Store::open(home, pass) {
        Ok(s) => s,
        Err(e) => return vec![Check::new("store", CheckStatus::Fail, error_chain(&e))],
    };
    let version = store.schema_version().unwrap_or(0);
    let mut out = vec![Check::new(
        "store",
        CheckStatus::Ok,
        format!("{} (encrypted, schema v{version})", store.path().display()),
    )];
    out.push(match store.verify_audit() {
        Ok(Ok(r)) => Check::new(
            "audit",
            CheckStatus::Ok,
            format!(
                "{} entr{}, chain intact",
                r.entries,
                if r.entries == 1 { "y" } else { "ies" }
            ),
        ),
        Ok(Err(e)) => Check::new("audit", CheckStatus::Fail, e.to_string())
            .fix("steward log verify (see docs/audit.md before acting)"),
        Err(e) => Check::new("audit", CheckStatus::Fail, error_chain(&e)),
    });
    out
}

fn model_checks(dir: &Path) -> Vec<Check> {
    let fix = format!(
        "make models  (or: STEWARD_MODELS_DIR={} scripts/setup-models.sh)",
        dir.display()
    );
    steward_ml::check_models(dir)
        .into_iter()
        .map(|(model, file, status)| {
            let name = format!("model:{}", model.id);
            match status {
                FileStatus::Ok => {
                    Check::new(name, CheckStatus::Ok, format!("{} sha256 ok", file.path))
                }
                FileStatus::Missing { path } => Check::new(
                    name,
                    CheckStatus::Fail,
                    format!("missing: {}", path.display()),
                )
                .fix(&fix),
                FileStatus::WrongSize {
                    path,
                    expected,
                    actual,
                } => Check::new(
                    name,
                    CheckStatus::Fail,
                    format!("{}: {actual} bytes, expected {expected}", path.display()),
                )
                .fix(&fix),
                FileStatus::WrongHash {
                    path,
                    expected,
                    actual,
                } => Check::new(
                    name,
                    CheckStatus::Fail,
                    format!("{}: sha256 {actual}, expected {expected}", path.display()),
                )
                .fix(&fix),
                FileStatus::Unreadable { path, error } => Check::new(
                    name,
                    CheckStatus::Fail,
                    format!("{}: {error}", path.display()),
                )
                .fix(&fix),
            }
        })
        .collect()
}

fn tool_checks(tools: &ToolPaths) -> Vec<Check> {
    let fix = "make tools  (or: scripts/setup-tools.sh)";
    let mut out = vec![match version_of(Path::new("node"), &["--version"]) {
        Some(v) => Check::new("tool:node", CheckStatus::Ok, v),
        None => Check::new("tool:node", CheckStatus::Fail, "node not found on PATH")
            .fix("scripts/setup-apt.sh nodejs npm"),
    }];
    let Some(nm) = &tools.node_modules else {
        out.push(
            Check::new(
                "tool:npm-tools",
                CheckStatus::Fail,
                "tools/node_modules not found (set tools.dir)",
            )
            .fix(fix),
        );
        return out;
    };
    for name in ["anvil", "cast"] {
        let bin = tools.foundry_bin(name).unwrap_or_default();
        out.push(match version_of(&bin, &["--version"]) {
            Some(v) => Check::new(format!("tool:{name}"), CheckStatus::Ok, v),
            None => Check::new(
                format!("tool:{name}"),
                CheckStatus::Fail,
                format!("{} does not run", bin.display()),
            )
            .fix(fix),
        });
    }
    for (name, pkg) in [
        ("solc", "solc"),
        ("openzeppelin", "@openzeppelin/contracts"),
        ("snapshot.js", "@snapshot-labs/snapshot.js"),
        ("ethers", "ethers"),
    ] {
        let manifest = nm.join(pkg).join("package.json");
        out.push(match package_version(&manifest) {
            Some(v) => Check::new(
                format!("tool:{name}"),
                CheckStatus::Ok,
                format!("{pkg} {v}"),
            ),
            None => Check::new(
                format!("tool:{name}"),
                CheckStatus::Fail,
                format!("{} missing", manifest.display()),
            )
            .fix(fix),
        });
    }
    out
}

fn key_check(dir: &Path) -> Check {
    let n = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        })
        .unwrap_or(0);
    if n == 0 {
        Check::new(
            "keys",
            CheckStatus::Warn,
            format!(
                "no signing keys in {}: Steward can read and advise but not vote",
                dir.display()
            ),
        )
        .fix("steward key new (or steward key import --keystore FILE)")
    } else {
        Check::new(
            "keys",
            CheckStatus::Ok,
            format!("{n} keystore file(s) in {}", dir.display()),
        )
    }
}

fn version_of(bin: &Path, args: &[&str]) -> Option<String> {
    // Only PATH (node scripts find `node` through it): never the passphrase or the keystore
    // password this process may hold in its environment.
    let out = Command::new(bin)
        .args(args)
        .env_clear()
        .envs(std::env::var_os("PATH").map(|p| ("PATH", p)))
        .output()
        .ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_owned()
    })
}

fn package_version(manifest: &Path) -> Option<String> {
    let text = std::fs::read_to_string(manifest).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("version")?.as_str().map(String::from)
}

/// The error and its sources, joined: "a: b: c".
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}
