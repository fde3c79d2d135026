//! Results on stdout, as text or as one JSON envelope; errors in the same envelope with `--json`.
//!
//! Human output carries text from outside (proposal titles and bodies, forum posts, error
//! chains naming them), so control characters and the escape sequences they start are removed
//! before it reaches a terminal: a title must not rewrite lines or plant links. JSON stays exact
//! JSON: serde escapes C0 already, and DEL and C1 are written as `\u` escapes here.

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

    pub(crate) fn is_json(&self) -> bool {
        self.json
    }

    /// Prints a result: `data` as `{"ok": true, "data": ...}` with `--json`, else `human()`.
    pub(crate) fn result<T: Serialize>(&self, data: &T, human: impl FnOnce() -> String) {
        let text = if self.json {
            envelope(true, "data", data)
        } else {
            terminal_safe(&human())
        };
        print(&text);
    }

    /// Prints a result that is also a failure (doctor finding a problem, a broken log).
    pub(crate) fn failed_result<T: Serialize>(&self, data: &T, human: impl FnOnce() -> String) {
        let text = if self.json {
            envelope(false, "data", data)
        } else {
            terminal_safe(&human())
        };
        print(&text);
    }

    /// Prints an error (stdout envelope with `--json`, stderr otherwise) and picks the exit code.
    pub(crate) fn error(&self, err: &anyhow::Error) -> ExitCode {
        let agent = err.chain().find_map(|e| e.downcast_ref::<AgentError>());
        let eth = err
            .chain()
            .find_map(|e| e.downcast_ref::<steward_eth::Error>());
        // Attention-bond refusals name the escrow's error (docs/economy.md).
        let bond = err.chain().find_map(|e| {
            e.downcast_ref::<steward_agent::bonds::BondsError>()
                .map(steward_agent::bonds::BondsError::kind)
                .or(e
                    .downcast_ref::<steward_eth::BondError>()
                    .map(steward_eth::BondError::kind))
        });
        let kind = agent
            .map(AgentError::kind)
            .or(bond)
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
            let _ = writeln!(stderr, "error: {}", terminal_safe(&chain.join(": ")));
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
    escape_c1(&serde_json::to_string_pretty(&map).unwrap_or_default())
}

/// DEL and C1 as `\u` escapes: serde writes them raw, and some terminals act on C1. They can
/// only occur inside JSON strings, where the escape is the same character.
fn escape_c1(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if matches!(c, '\u{7f}'..='\u{9f}') {
            let _ = std::fmt::Write::write_fmt(&mut out, format_args!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` without control characters: C0 but newline and tab, DEL and C1, and with them the
/// whole ESC/CSI/OSC sequence they start (so nothing of `ESC ] 8 ; ; url BEL` is left to show).
/// A string sequence (OSC, DCS, ...) ends at its terminator or at the end of the line, so an
/// unterminated one in a title cannot swallow the rest of the output.
pub(crate) fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    // Skips a CSI's parameters and intermediates, then its final byte.
    let csi = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars
            .next_if(|c| matches!(c, '\u{20}'..='\u{3f}'))
            .is_some()
        {}
        chars.next_if(|c| matches!(c, '\u{40}'..='\u{7e}'));
    };
    // Skips a string sequence up to BEL, ST (ESC \ or U+009C) or a newline (kept).
    let string = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while let Some(c) = chars.next_if(|c| *c != '\n') {
            match c {
                '\u{07}' | '\u{9c}' => break,
                '\u{1b}' => {
                    chars.next_if_eq(&'\\');
                    break;
                }
                _ => {}
            }
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\u{1b}' => match chars.next_if(|c| matches!(c, '\u{20}'..='\u{7e}')) {
                Some('[') => csi(&mut chars),
                Some(']' | 'P' | 'X' | '^' | '_') => string(&mut chars),
                // A two-character escape (ESC c, ESC 7, ...): both gone.
                _ => {}
            },
            '\u{9b}' => csi(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => string(&mut chars),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`steward log | head`) is not an error worth a panic.
    let _ = writeln!(stdout, "{}", text.trim_end());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_safe_removes_control_characters_and_their_sequences() {
        let cases = [
            ("plain title", "plain title"),
            ("keeps\nlines\tand tabs", "keeps\nlines\tand tabs"),
            ("a\u{1b}]8;;http://evil\u{7}link\u{1b}]8;;\u{7}b", "alinkb"),
            ("osc with st \u{1b}]0;title\u{1b}\\done", "osc with st done"),
            ("rewrite\u{1b}[2K\rthe line", "rewritethe line"),
            ("colour \u{1b}[1;31mred\u{1b}[0m", "colour red"),
            ("c1 \u{9b}2Kcsi \u{9d}8;;x\u{9c}osc", "c1 csi osc"),
            ("reset \u{1b}c!", "reset !"),
            ("bell\u{7} del\u{7f} nul\u{0} bs\u{8}", "bell del nul bs"),
            ("open \u{1b}]8;;http://evil\nnext line", "open \nnext line"),
            ("trailing esc \u{1b}", "trailing esc "),
            ("unicode ok: Ωμέγα ✓", "unicode ok: Ωμέγα ✓"),
        ];
        for (input, want) in cases {
            assert_eq!(terminal_safe(input), want, "{input:?}");
        }
    }

    #[test]
    fn json_escapes_del_and_c1_and_stays_the_same_string() {
        let title = "t\u{1b}]8;;http://evil\u{7}\u{7f}\u{9b}2K end";
        let text = envelope(true, "data", &serde_json::json!({ "title": title }));
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(back["data"]["title"], title);
    }
}
