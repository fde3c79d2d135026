//! Finding the npm tools and running anvil.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use url::Url;

use super::{TestkitError, TkResult, repo_root};
use crate::Rpc;

/// Where the external tools are.
#[derive(Debug, Clone)]
pub struct Tools {
    /// The npm `node_modules` holding `@foundry-rs/*`, `solc` and `@openzeppelin/contracts`.
    pub dir: PathBuf,
    /// The `node` binary.
    pub node: PathBuf,
}

impl Tools {
    /// Finds the tools, or says what is missing (tests print it and skip).
    pub fn detect() -> Result<Self, String> {
        let dir = std::env::var_os("STEWARD_TOOLS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("tools/node_modules"));
        let tools = Self {
            node: find_node().ok_or("node not found (STEWARD_NODE or PATH)")?,
            dir,
        };
        for (what, path) in [
            ("anvil", tools.anvil()),
            ("npm solc", tools.dir.join("solc/package.json")),
            (
                "@openzeppelin/contracts",
                tools.dir.join("@openzeppelin/contracts/package.json"),
            ),
        ] {
            if !path.is_file() {
                return Err(format!(
                    "{what} not found at {} (run scripts/setup-tools.sh)",
                    path.display()
                ));
            }
        }
        Ok(tools)
    }

    pub fn anvil(&self) -> PathBuf {
        self.dir.join("@foundry-rs/anvil-linux-amd64/bin/anvil")
    }

    pub fn cast(&self) -> PathBuf {
        self.dir.join("@foundry-rs/cast-linux-amd64/bin/cast")
    }
}

fn find_node() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("STEWARD_NODE") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("node"))
        .find(|p| p.is_file())
}

/// A running anvil on 127.0.0.1, killed (and reaped) on drop.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    url: Url,
    rpc: Rpc,
    accounts: Vec<Address>,
}

impl Anvil {
    /// Starts anvil on a free port with its default 10 funded, unlocked accounts.
    pub async fn start(tools: &Tools) -> TkResult<Self> {
        Self::start_with_args(tools, &[]).await
    }

    /// Starts anvil with extra arguments (e.g. `["--block-time", "1"]`).
    pub async fn start_with_args(tools: &Tools, args: &[&str]) -> TkResult<Self> {
        let mut child = spawn(&tools.anvil(), args)?;
        let port = match wait_for_port(&mut child) {
            Ok(p) => p,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        // From here `Drop` owns the process.
        let url = Url::parse(&format!("http://127.0.0.1:{port}"))
            .map_err(|e| TestkitError::new(format!("anvil url: {e}")))?;
        let rpc = Rpc::new(url.clone())?.with_timeout(Duration::from_secs(60));
        let mut anvil = Self {
            child,
            url,
            rpc,
            accounts: Vec::new(),
        };
        anvil.accounts = anvil
            .rpc
            .provider()
            .get_accounts()
            .await
            .map_err(|e| TestkitError::new(format!("eth_accounts: {e}")))?;
        Ok(anvil)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// A connection to this anvil (cheap to clone).
    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    /// The default accounts (funded with 10 000 ETH, unlocked: `send` can use any of them).
    pub fn accounts(&self) -> &[Address] {
        &self.accounts
    }

    /// Mines `blocks` empty blocks.
    pub async fn mine(&self, blocks: u64) -> TkResult<()> {
        self.raw("anvil_mine", serde_json::json!([format!("{blocks:#x}")]))
            .await
            .map(drop)
    }

    /// Moves the clock forward (the next block's timestamp), e.g. past a timelock delay.
    pub async fn increase_time(&self, secs: u64) -> TkResult<()> {
        self.raw("evm_increaseTime", serde_json::json!([secs]))
            .await
            .map(drop)
    }

    /// Drops the last `depth` blocks and mines `depth` empty ones in their place
    /// (`anvil_reorg`): what a chain reorganisation does to a transaction not yet deep enough.
    pub async fn reorg(&self, depth: u64) -> TkResult<()> {
        self.raw("anvil_reorg", serde_json::json!([depth, []]))
            .await
            .map(drop)
    }

    pub async fn block_number(&self) -> TkResult<u64> {
        Ok(self.rpc.block_number().await?)
    }

    async fn raw(
        &self,
        method: &'static str,
        params: serde_json::Value,
    ) -> TkResult<serde_json::Value> {
        self.rpc
            .provider()
            .raw_request(method.into(), params)
            .await
            .map_err(|e| TestkitError::new(format!("{method}: {e}")))
    }

    /// Sends `tx` from its `from` (an unlocked account) and returns the mined receipt; a revert
    /// (at estimation or in the block) is an error.
    pub async fn send(&self, tx: TransactionRequest) -> TkResult<TransactionReceipt> {
        let what = describe(&tx);
        let pending = self
            .rpc
            .provider()
            .send_transaction(tx)
            .await
            .map_err(|e| TestkitError::new(format!("{what}: {e}")))?;
        let hash = *pending.tx_hash();
        // anvil mines on arrival; the receipt is there at once (a short wait covers the rest).
        for _ in 0..200 {
            let receipt = self
                .rpc
                .provider()
                .get_transaction_receipt(hash)
                .await
                .map_err(|e| TestkitError::new(format!("{what}: receipt: {e}")))?;
            if let Some(r) = receipt {
                if !r.status() {
                    return Err(TestkitError::new(format!("{what}: reverted in tx {hash}")));
                }
                return Ok(r);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(TestkitError::new(format!("{what}: tx {hash} not mined")))
    }

    /// Deploys `code` (creation bytecode followed by ABI-encoded constructor arguments).
    pub async fn deploy(&self, from: Address, code: Bytes) -> TkResult<Address> {
        let tx = TransactionRequest::default()
            .with_from(from)
            .with_deploy_code(code);
        let r = self.send(tx).await?;
        r.contract_address
            .ok_or_else(|| TestkitError::new("deployment receipt has no contract address"))
    }

    /// Sends `wei` from `from` to `to`.
    pub async fn send_eth(
        &self,
        from: Address,
        to: Address,
        wei: U256,
    ) -> TkResult<TransactionReceipt> {
        self.send(
            TransactionRequest::default()
                .with_from(from)
                .with_to(to)
                .with_value(wei),
        )
        .await
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn describe(tx: &TransactionRequest) -> String {
    let from = tx.from.map(|a| format!("{a}")).unwrap_or_default();
    match tx.to.and_then(|k| k.to().copied()) {
        Some(to) => {
            let sel = tx
                .input
                .input()
                .filter(|d| d.len() >= 4)
                .map(|d| format!(" selector 0x{}", alloy::hex::encode(&d[..4])))
                .unwrap_or_default();
            format!("tx from {from} to {to}{sel}")
        }
        None => format!("deployment from {from}"),
    }
}

fn spawn(bin: &Path, args: &[&str]) -> TkResult<Child> {
    Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| TestkitError::new(format!("starting {}: {e}", bin.display())))
}

/// Reads anvil's stdout until it says where it listens; a thread keeps draining it afterwards
/// so anvil never blocks on a full pipe.
fn wait_for_port(child: &mut Child) -> TkResult<u16> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| TestkitError::new("anvil stdout not captured"))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !sent && let Some(rest) = line.trim().strip_prefix("Listening on ") {
                let port = rest.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
                let _ = tx.send(port);
                sent = true;
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Some(port)) => Ok(port),
        Ok(None) => Err(TestkitError::new(
            "anvil printed an unreadable listening address",
        )),
        Err(_) => {
            let status = child.try_wait().ok().flatten();
            Err(TestkitError::new(match status {
                Some(s) => format!("anvil exited ({s}) before listening"),
                None => "anvil did not start listening within 30 s".into(),
            }))
        }
    }
}
