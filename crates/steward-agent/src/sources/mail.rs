//! Mail: proposals that arrive as email (DAO notifications, forum digests, agent mail), from a
//! maildir or an mbox file.
//!
//! MIME is parsed by `mail-parser` (multipart, quoted-printable, base64, charsets, HTML to text).
//! A message that links to a Snapshot or Tally proposal is a pointer to that proposal: when the proposal
//! is known the message becomes an alias of it; when it is not (yet), the message is stored as a
//! mail-sourced proposal that the hub's record replaces when it arrives, so the same proposal
//! seen by mail and by the hub is one record.

use std::path::Path;

use mail_parser::MessageParser;
use steward_core::{FieldError, Limits, Proposal, ProposalState, Source, VotingType};

use super::finish;

/// One message read from a mailbox, not yet parsed.
#[derive(Debug, Clone)]
pub struct RawMessage {
    /// Where it is: the maildir file name, or `message N` of an mbox.
    pub label: String,
    pub bytes: Vec<u8>,
}

/// A parsed message.
#[derive(Debug, Clone)]
pub struct MailItem {
    pub message_id: String,
    /// The message as a proposal (Source::Mail), used when no linked proposal is known.
    pub proposal: Proposal,
    /// Proposal keys its links point to (`snapshot:<space>:<id>`).
    pub links: Vec<String>,
}

/// The messages of a maildir (`cur/` and `new/`), or of an mbox file.
pub fn read_mailbox(path: &Path) -> std::io::Result<Vec<RawMessage>> {
    if path.is_dir() {
        let mut out = Vec::new();
        for sub in ["cur", "new"] {
            let dir = path.join(sub);
            if !dir.is_dir() {
                continue;
            }
            let mut names: Vec<_> = std::fs::read_dir(&dir)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .collect();
            names.sort();
            for p in names.into_iter().filter(|p| p.is_file()) {
                out.push(RawMessage {
                    label: format!(
                        "{sub}/{}",
                        p.file_name().unwrap_or_default().to_string_lossy()
                    ),
                    bytes: std::fs::read(&p)?,
                });
            }
        }
        Ok(out)
    } else {
        Ok(split_mbox(&std::fs::read(path)?))
    }
}

/// Splits an mbox (mboxrd: `>From ` lines unescaped) into messages.
pub fn split_mbox(bytes: &[u8]) -> Vec<RawMessage> {
    let mut out = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut prev_blank = true;
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        if prev_blank && line.starts_with(b"From ") {
            if let Some(m) = current.take() {
                out.push(m);
            }
            current = Some(Vec::new());
        } else if let Some(m) = current.as_mut() {
            let unquoted = line
                .iter()
                .position(|b| *b != b'>')
                .filter(|&n| n > 0 && line[n..].starts_with(b"From "))
                .map_or(line, |_| &line[1..]);
            m.extend_from_slice(unquoted);
        }
        prev_blank = line == b"\n" || line == b"\r\n";
    }
    out.extend(current);
    out.into_iter()
        .enumerate()
        .map(|(i, bytes)| RawMessage {
            label: format!("message {}", i + 1),
            bytes,
        })
        .collect()
}

/// Parses one message.
pub fn parse_message(
    raw: &RawMessage,
    mailbox: &str,
    limits: &Limits,
) -> Result<MailItem, FieldError> {
    let msg = MessageParser::default()
        .parse(&raw.bytes)
        .ok_or_else(|| FieldError::new("(message)", "not an RFC 5322 message"))?;
    let message_id = msg
        .message_id()
        .map(str::to_owned)
        .ok_or_else(|| FieldError::new("Message-ID", "is missing"))?;
    let subject = msg.subject().unwrap_or("(no subject)").trim().to_owned();
    let text = msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    let html = msg.body_html(0).map(|t| t.into_owned()).unwrap_or_default();
    let mut links = Vec::new();
    let mut urls = Vec::new();
    for body in [&text, &html] {
        for url in find_urls(body) {
            if let Some(key) = snapshot_key(&url).or_else(|| tally_link(&url))
                && !links.contains(&key)
            {
                links.push(key);
            }
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
    }
    let author = match msg.from().and_then(|a| a.first()) {
        Some(a) => a.address().map(str::to_owned),
        None => None,
    };
    let created = msg.date().map(mail_parser::DateTime::to_timestamp);
    let p = Proposal {
        source: Source::Mail {
            mailbox: mailbox.to_owned(),
        },
        id: message_id.clone(),
        title: subject,
        body: text,
        choices: steward_eth::GOVERNOR_CHOICES
            .iter()
            .map(|c| (*c).to_owned())
            .collect(),
        voting: VotingType::Basic,
        created,
        start: None,
        end: None,
        snapshot: None,
        author,
        discussion: urls
            .into_iter()
            .find(|u| u.contains("/t/") || u.contains("forum")),
        state: ProposalState::Active,
        actions: vec![],
        flags: vec![],
    };
    Ok(MailItem {
        message_id,
        proposal: finish(p, limits)?,
        links,
    })
}

/// http(s) URLs in free text or HTML attributes.
fn find_urls(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("http") {
        let tail = &rest[i..];
        if tail.starts_with("https://") || tail.starts_with("http://") {
            let end = tail
                .find(|c: char| c.is_whitespace() || "\"'<>)]".contains(c))
                .unwrap_or(tail.len());
            out.push(tail[..end].trim_end_matches(['.', ',', ';']).to_owned());
            rest = &tail[end..];
        } else {
            rest = &tail[4..];
        }
    }
    out
}

/// `https://snapshot.org/#/<space>/proposal/<id>` (and snapshot.box's `s:<space>`) to
/// `snapshot:<space>:<id>`.
pub fn snapshot_key(url: &str) -> Option<String> {
    let (_, frag) = url.split_once("#/")?;
    if !(url.contains("snapshot.org") || url.contains("snapshot.box")) {
        return None;
    }
    let mut parts = frag.split('/');
    let space = parts.next()?.trim_start_matches("s:");
    (parts.next()? == "proposal").then_some(())?;
    let id = parts.next()?.split(['?', '&']).next()?;
    (!space.is_empty() && !id.is_empty()).then(|| format!("snapshot:{space}:{id}"))
}

/// `https://www.tally.xyz/gov/<org>/proposal/<id>` to `tally:<id>`: Tally names an on-chain
/// proposal by its Governor proposal id.
pub fn tally_link(url: &str) -> Option<String> {
    let rest = url.split_once("tally.xyz/gov/")?.1;
    let mut parts = rest.split('/');
    let _org = parts.next()?;
    (parts.next()? == "proposal").then_some(())?;
    let id = parts.next()?.split(['?', '#']).next()?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| format!("tally:{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn snapshot_links_are_recognised() {
        assert_eq!(
            snapshot_key("https://snapshot.org/#/lido-snapshot.eth/proposal/0xabc?x=1").as_deref(),
            Some("snapshot:lido-snapshot.eth:0xabc")
        );
        assert_eq!(
            snapshot_key("https://snapshot.box/#/s:aave.eth/proposal/0x12").as_deref(),
            Some("snapshot:aave.eth:0x12")
        );
        assert_eq!(snapshot_key("https://example.org/#/a/proposal/b"), None);
        assert_eq!(snapshot_key("https://snapshot.org/#/aave.eth"), None);
    }

    #[test]
    fn tally_links_are_recognised() {
        assert_eq!(
            tally_link("https://www.tally.xyz/gov/arbitrum/proposal/7716?govId=x").as_deref(),
            Some("tally:7716")
        );
        assert_eq!(
            tally_link("https://www.tally.xyz/gov/arbitrum/proposal/draft-1"),
            None
        );
        assert_eq!(tally_link("https://www.tally.xyz/gov/arbitrum"), None);
    }

    #[test]
    fn mbox_splits_and_unquotes() {
        let m = b"From a@b Mon Jan 1 00:00:00 2024\nSubject: one\n\n>From here\n\nFrom c@d Tue Jan 2 00:00:00 2024\nSubject: two\n\nbody\n";
        let msgs = split_mbox(m);
        assert_eq!(msgs.len(), 2);
        assert!(String::from_utf8_lossy(&msgs[0].bytes).contains("\nFrom here"));
        assert_eq!(msgs[1].label, "message 2");
    }

    const MIME: &str = "From: DAO <bot@dao.example>\r\nMessage-ID: <1@dao.example>\r\n\
        Date: Mon, 27 Apr 2020 02:41:52 +0000\r\nSubject: =?utf-8?B?Rm9yIG9yIGFnYWluc3Q=?=\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n\
        --b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
        Vote =3D https://snapshot.org/#/ens.eth/proposal/0x1\r\n--b\r\n\
        Content-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n\
        PHA+PGEgaHJlZj0iaHR0cHM6Ly93d3cudGFsbHkueHl6L2dvdi9hL3Byb3Bvc2FsLzEiPng8L2E+PC9wPg==\r\n--b--\r\n";

    proptest! {
        /// A real-shaped MIME message with random bytes overwritten, inserted and cut, as an
        /// mbox and as one maildir file: a proposal within the limits or a refusal naming a
        /// field, never a panic.
        #[test]
        fn damaged_mime_never_panics(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 0..24),
            from_line in any::<bool>(),
        ) {
            let mut bytes = MIME.as_bytes().to_vec();
            for (at, what, b) in edits {
                let i = at.index(bytes.len() + 1);
                match what {
                    0 if i < bytes.len() => bytes[i] = b,
                    1 => bytes.insert(i, b),
                    _ => bytes.truncate(i.max(1)),
                }
            }
            if from_line {
                bytes.splice(0..0, b"From x Mon Jan 1 00:00:00 2024\n".iter().copied());
            }
            let limits = Limits { max_body_bytes: 40, ..Limits::default() };
            let whole = RawMessage { label: "cur/1".into(), bytes: bytes.clone() };
            for raw in std::iter::once(whole).chain(split_mbox(&bytes)) {
                match parse_message(&raw, "inbox", &limits) {
                    Ok(m) => {
                        prop_assert!(!m.message_id.is_empty());
                        prop_assert!(m.proposal.body.len() <= 40);
                        prop_assert!(m.links.iter().all(|l| l.starts_with("snapshot:") || l.starts_with("tally:")));
                    }
                    Err(e) => prop_assert!(!e.field.is_empty()),
                }
            }
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            for raw in split_mbox(&bytes) {
                if let Err(e) = parse_message(&raw, "inbox", &Limits::default()) {
                    prop_assert!(!e.field.is_empty());
                }
            }
        }
    }
}
