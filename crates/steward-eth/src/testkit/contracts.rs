//! Compiling `contracts/` with solcjs, once per source hash.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use alloy::primitives::Bytes;

use super::{TestkitError, TkResult, Tools, repo_root};

/// One compiled contract.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub abi: serde_json::Value,
    /// Creation bytecode (append ABI-encoded constructor arguments to deploy).
    pub bytecode: Bytes,
}

/// Every contract in `contracts/`, by name.
#[derive(Debug)]
pub struct Artifacts {
    pub solc: String,
    contracts: HashMap<String, Artifact>,
    /// The cache file they came from.
    pub path: PathBuf,
}

static LOADED: Mutex<Option<Arc<Artifacts>>> = Mutex::new(None);

impl Artifacts {
    /// Compiles `contracts/` (or reads the cached result for the same sources, compiler and
    /// OpenZeppelin version from `<repo>/.cache/contracts/<hash>.json`). Memoized per process;
    /// concurrent test processes may both compile, each writing the cache atomically.
    pub fn load(tools: &Tools) -> TkResult<Arc<Self>> {
        let mut slot = LOADED
            .lock()
            .map_err(|_| TestkitError::new("artifact cache lock poisoned"))?;
        if let Some(a) = slot.as_ref() {
            return Ok(Arc::clone(a));
        }
        let a = Arc::new(compile_cached(tools)?);
        *slot = Some(Arc::clone(&a));
        Ok(a)
    }

    pub fn get(&self, name: &str) -> TkResult<&Artifact> {
        self.contracts
            .get(name)
            .ok_or_else(|| TestkitError::new(format!("no compiled contract {name}")))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.contracts.keys().map(String::as_str)
    }
}

fn compile_cached(tools: &Tools) -> TkResult<Artifacts> {
    let root = repo_root();
    let sources = root.join("contracts");
    let script = root.join("scripts/compile-contracts.js");
    let hash = inputs_hash(tools, &sources, &script)?;
    let dir = root.join(".cache/contracts");
    let path = dir.join(format!("{}.json", &hash[..16]));
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(a) = parse(&text, &path)
    {
        return Ok(a);
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| TestkitError::new(format!("creating {}: {e}", dir.display())))?;
    tracing::info!(cache = %path.display(), "compiling contracts/ with solcjs");
    let out = Command::new(&tools.node)
        .arg(&script)
        .arg(&sources)
        .arg(&path)
        .env("STEWARD_TOOLS_DIR", &tools.dir)
        .output()
        .map_err(|e| TestkitError::new(format!("running {}: {e}", tools.node.display())))?;
    if !out.status.success() {
        return Err(TestkitError::new(format!(
            "compiling contracts/ failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| TestkitError::new(format!("reading {}: {e}", path.display())))?;
    parse(&text, &path)
}

/// SHA-256 over everything that changes the output: the sources, the script, and the versions
/// of solc and OpenZeppelin.
fn inputs_hash(tools: &Tools, sources: &Path, script: &Path) -> TkResult<String> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| TestkitError::new(format!("reading {}: {e}", p.display())))
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(sources)
        .map_err(|e| TestkitError::new(format!("reading {}: {e}", sources.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sol"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for f in &files {
        all.extend_from_slice(f.file_name().unwrap_or_default().as_encoded_bytes());
        all.push(0);
        all.extend(read(f)?);
        all.push(0);
    }
    for p in [
        script.to_path_buf(),
        tools.dir.join("solc/package.json"),
        tools.dir.join("@openzeppelin/contracts/package.json"),
    ] {
        all.extend(read(&p)?);
        all.push(0);
    }
    Ok(steward_core::sha256_hex(all))
}

fn parse(text: &str, path: &Path) -> TkResult<Artifacts> {
    let bad = |why: &str| TestkitError::new(format!("{}: {why}", path.display()));
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
    let solc = v["solc"].as_str().unwrap_or_default().to_owned();
    let mut contracts = HashMap::new();
    for (name, c) in v["contracts"]
        .as_object()
        .ok_or_else(|| bad("no contracts"))?
    {
        let code = c["bytecode"].as_str().ok_or_else(|| bad("no bytecode"))?;
        let bytecode: Bytes = code.parse().map_err(|_| bad("bytecode is not hex"))?;
        contracts.insert(
            name.clone(),
            Artifact {
                abi: c["abi"].clone(),
                bytecode,
            },
        );
    }
    Ok(Artifacts {
        solc,
        contracts,
        path: path.to_path_buf(),
    })
}
