//! Results on stdout, as text or as one JSON envelope; errors in the same envelope with `--json`.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;
use steward_agent::Error as AgentError;

/// Exit codes (docs/cli.md).
pub(crate) mod exit {
    pub(crate) const ERROR: u8 = 1;
    // 2 is clap's usage error.
    pub(crate) const CHECK_FAILED: u8 = 3;
    pub(crate) const LOCKED: u8 = 4;
    pub(crate) const AUTH: u8 = 5;
    /// Some items were quarantined; the rest were processed.
    pub(crate) const PARTIAL: u8 = 6;
}

#[derive(Debug)]
pub(crate) struct Output {
    json: bool,
}

impl Output {
    pub(crate) fn new(json: bool) -> Self {
        Self { json }
    }

    /// Prints a result: `data` as `{"ok": true, "data": ...}` with `--json`, else `human()`.
    pub(crate) fn result<T: Serialize>(&self, data: &T, human: impl FnOnce() -> String) {
        let text = if self.json {
            envelope(true, "data", data)
        } else {
            human()
        };
        print(&text);
    }

    /// Prints a result that is also a failure (doctor finding a problem, a broken log).
    pub(crate) fn failed_result<T: Serialize>(&self, data: &T, human: impl FnOnce() -> String) {
        let text = if self.json {
            envelope(false, "data", data)
        } else {
            human()
        };
        print(&text);
    }

    /// Prints an error (stdout envelope with `--json`, stderr otherwise) and picks the exit code.
    pub(crate) fn error(&self, err: &anyhow::Error) -> ExitCode {
        let agent = err.chain().find_map(|e| e.downcast_ref::<AgentError>());
        let eth = err
            .chain()
            .find_map(|e| e.downcast_ref::<steward_eth::Error>());
        let kind = agent
            .map(AgentError::kind)
            .or(eth.map(steward_eth::Error::kind))
            .unwrap_or("error");
        let code = match kind {
            "home-locked" => exit::LOCKED,
            "wrong-passphrase" | "wrong-keystore-password" => exit::AUTH,
            _ => exit::ERROR,
        };
        let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
        if self.json {
            #[derive(Serialize)]
            struct E<'a> {
                kind: &'a str,
                message: String,
                chain: &'a [String],
            }
            let e = E {
                kind,
                message: chain.join(": "),
                chain: &chain,
            };
            print(&envelope(false, "error", &e));
        } else {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {}", chain.join(": "));
        }
        ExitCode::from(code)
    }
}

fn envelope<T: Serialize>(ok: bool, field: &str, value: &T) -> String {
    let mut map = serde_json::Map::new();
    map.insert("ok".into(), ok.into());
    map.insert(
        field.into(),
        serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
    );
    serde_json::to_string_pretty(&map).unwrap_or_default()
}

fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`steward log | head`) is not an error worth a panic.
    let _ = writeln!(stdout, "{}", text.trim_end());
}
