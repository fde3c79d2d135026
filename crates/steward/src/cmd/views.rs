//! `steward views draft|publish`: the user's positions, with their reasons, in a form they can
//! share (docs/views.md). Built locally from the profile through the privacy filter; nothing
//! is sent anywhere.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde::Serialize;
use steward_agent::Keys;
use steward_agent::views::{draft, private_lines};
use steward_core::{AuditRecord, sha256_hex};

use crate::ctx::Ctx;
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum ViewsCommand {
    /// Draft your views per topic from the profile, private items removed, for you to review
    Draft {
        /// Only the topic whose name contains this (e.g. "treasury")
        #[arg(long, value_name = "T")]
        topic: Option<String>,
        /// Keep this draft for the review desk (shown beside saved conversations)
        #[arg(long)]
        save: bool,
    },
    /// Sign a reviewed draft with your key and write it as a shareable export (refused while
    /// any line still holds something only your private sources know)
    Publish {
        /// The draft as you edited it (e.g. `steward views draft > views.md`)
        file: PathBuf,
        /// Where to write the export [default: FILE with `.signed.json`]
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// The key to sign with (address or name) [default: casting.key, or the only key]
        #[arg(long, conflicts_with = "anonymous")]
        key: Option<String>,
        /// Publish anonymously instead: a Semaphore proof that a member of this zk group
        /// (`steward zk group add`) published it, bound to the views' hash; no key, no address
        #[arg(long, value_name = "GROUP")]
        anonymous: Option<String>,
        /// With --anonymous: publish again although this identity already did in the group
        /// (verifiers see the same nullifier, i.e. the same author updating their views)
        #[arg(long, requires = "anonymous")]
        again: bool,
    },
}

/// The zk scope of anonymous views: one published view per identity (a second one shows the
/// same nullifier).
const VIEWS_SCOPE: &str = "steward-views";

/// What `publish --anonymous` writes: the export with `author` "anonymous", no signature, and
/// the Semaphore signal whose message is [`anonymous_message`] of it.
#[derive(Debug, Serialize)]
struct AnonymousExport {
    kind: &'static str,
    version: u32,
    author: &'static str,
    created: String,
    views: String,
    votes: Vec<PolisVote>,
    zk: steward_zk::Signal,
}

/// The message an anonymous export's signal carries: SHA-256 (hex) of the same bytes a signed
/// export signs ([`message`]), with `author` "anonymous". `v` is the export as JSON, so
/// `steward zk verify` can rebuild it from the file.
pub(crate) fn anonymous_message(v: &serde_json::Value) -> Result<String> {
    let field = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .with_context(|| format!("the views export has no {k}"))
    };
    if field("author")? != "anonymous" {
        bail!("a views export with a zk signal names its author \"anonymous\"");
    }
    // A file claiming another kind or version hashes differently: the signal then fails.
    if field("kind")? != "steward-views" || v.get("version") != Some(&serde_json::json!(2)) {
        bail!("not a steward-views export of version 2");
    }
    let votes = v
        .get("votes")
        .cloned()
        .unwrap_or_else(|| serde_json::json!([]));
    let msg = message_of("anonymous", field("created")?, field("views")?, votes);
    Ok(sha256_hex(msg.as_bytes()))
}

/// What `publish` writes. The signature is EIP-191 (`personal_sign`) over [`message`] of the
/// other fields, so anyone can check the author with any Ethereum tool.
#[derive(Debug, Serialize)]
struct Export {
    kind: &'static str,
    version: u32,
    author: String,
    created: String,
    views: String,
    /// The user's Polis-style vote vector: their votes in the conversations saved with `--me`.
    votes: Vec<PolisVote>,
    signature: String,
}

/// One vote of the user on a public statement of a saved conversation (agree = 1, disagree =
/// -1, pass = 0). The conversation is named by the name it was saved under, never by the local
/// folder it was read from.
#[derive(Debug, Clone, Serialize)]
struct PolisVote {
    conversation: String,
    tid: u64,
    statement: Option<String>,
    vote: i8,
}

/// The user's votes in every saved conversation that names them (`consensus polis --me`).
fn vote_vector(store: &steward_agent::Store) -> Result<Vec<PolisVote>> {
    let mut out = Vec::new();
    for c in steward_agent::web::conversations::list(store)? {
        for (tid, vote) in &c.my_votes {
            out.push(PolisVote {
                conversation: c.name.clone(),
                tid: *tid,
                statement: c.texts.get(tid).cloned(),
                vote: *vote,
            });
        }
    }
    Ok(out)
}

/// The exact bytes signed: the export's fields but the signature, as one compact JSON object with
/// its keys sorted (serde_json's map; docs/views.md tells verifiers how to rebuild it).
fn message(author: &str, created: &str, views: &str, votes: &[PolisVote]) -> Result<String> {
    Ok(message_of(
        author,
        created,
        views,
        serde_json::to_value(votes)?,
    ))
}

fn message_of(author: &str, created: &str, views: &str, votes: serde_json::Value) -> String {
    serde_json::json!({
        "kind": "steward-views",
        "version": 2,
        "author": author,
        "created": created,
        "views": views,
        "votes": votes,
    })
    .to_string()
}

pub(crate) fn run(ctx: &Ctx, out: &Output, command: ViewsCommand) -> Result<ExitCode> {
    match command {
        ViewsCommand::Draft { topic, save } => {
            let (_home, mut store) = ctx.open_store()?;
            let worker = crate::cmd::model::spawn_worker(&crate::cmd::model::models_dir(ctx)?)?;
            let mut embedder = worker.shared();
            let d = draft(&mut store, &mut embedder, topic.as_deref())?;
            if save {
                store.transaction(|tx| {
                    tx.set_meta(steward_agent::views::DRAFT_META_KEY, &d.markdown())
                })?;
            }
            out.result(&d, || d.markdown().trim_end().to_owned());
            Ok(ExitCode::SUCCESS)
        }
        ViewsCommand::Publish {
            file,
            out: to,
            key,
            anonymous,
            again,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading the draft {}", file.display()))?;
            if text.trim().is_empty() {
                bail!("{}: the draft is empty", file.display());
            }
            let (home, mut store) = ctx.open_store()?;
            let (lines, items) = private_lines(&store, &text)?;
            if items > 0 {
                let shown: Vec<String> = lines.iter().map(ToString::to_string).collect();
                bail!(
                    "{}: {items} private item(s) still in the draft (line(s) {}); edit them out, or draft again with `steward views draft`",
                    file.display(),
                    if shown.is_empty() {
                        "across lines".to_owned()
                    } else {
                        shown.join(", ")
                    }
                );
            }
            if let Some(group) = anonymous {
                return publish_anonymous(out, &mut store, &file, to, text, &group, again);
            }
            let cfg = ctx.config(&home)?;
            let keys = Keys::new(&home);
            let selector = key.as_deref().or(cfg.casting.key.as_deref());
            let pw = Ctx::keystore_password(false)?;
            let k = keys
                .open(selector, &pw)
                .context("opening the signing key")?;
            let author = format!("{:#x}", k.address());
            let created = jiff::Timestamp::now().to_string();
            let votes = vote_vector(&store)?;
            let msg = message(&author, &created, &text, &votes)?;
            let sig = k
                .sign_message(msg.as_bytes())
                .context("signing the views")?;
            let export = Export {
                kind: "steward-views",
                version: 2,
                author,
                created,
                views: text,
                votes,
                signature: steward_core::Bytes::from(sig.as_bytes().to_vec()).to_string(),
            };
            let path = to.unwrap_or_else(|| file.with_extension("signed.json"));
            let body = serde_json::to_string_pretty(&export)?;
            std::fs::write(&path, &body)
                .with_context(|| format!("writing the export {}", path.display()))?;
            store.audit(
                &AuditRecord::new("views-published", path.display().to_string())
                    .input("views", &export.views)
                    .detail(serde_json::json!({
                        "author": export.author,
                        "sha256": sha256_hex(export.views.as_bytes()),
                    })),
            )?;
            #[derive(Serialize)]
            struct Published<'a> {
                path: String,
                author: &'a str,
                signature: &'a str,
            }
            let p = Published {
                path: path.display().to_string(),
                author: &export.author,
                signature: &export.signature,
            };
            out.result(&p, || {
                format!("signed by {} and written to {}", p.author, p.path)
            });
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `views publish --anonymous GROUP`: the reviewed draft with a Semaphore signal instead of a
/// signature.
fn publish_anonymous(
    out: &Output,
    store: &mut steward_agent::Store,
    file: &std::path::Path,
    to: Option<PathBuf>,
    views: String,
    group: &str,
    again: bool,
) -> Result<ExitCode> {
    let created = jiff::Timestamp::now().to_string();
    let votes = vote_vector(store)?;
    let hash = sha256_hex(message("anonymous", &created, &views, &votes)?.as_bytes());
    let signal = crate::cmd::zk::signal(store, group, VIEWS_SCOPE, &hash, again)?;
    let export = AnonymousExport {
        kind: "steward-views",
        version: 2,
        author: "anonymous",
        created,
        views,
        votes,
        zk: signal,
    };
    let path = to.unwrap_or_else(|| file.with_extension("anonymous.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&export)?)
        .with_context(|| format!("writing the export {}", path.display()))?;
    store.audit(
        &AuditRecord::new("views-published", path.display().to_string())
            .input("views", &export.views)
            .detail(serde_json::json!({
                "author": "anonymous",
                "group": group,
                "nullifier": export.zk.nullifier,
                "sha256": sha256_hex(export.views.as_bytes()),
            })),
    )?;
    #[derive(Serialize)]
    struct Published<'a> {
        path: String,
        group: &'a str,
        root: &'a str,
        nullifier: &'a str,
    }
    let p = Published {
        path: path.display().to_string(),
        group,
        root: &export.zk.root,
        nullifier: &export.zk.nullifier,
    };
    out.result(&p, || {
        format!(
            "published anonymously as a member of zk group {} (root {}) and written to {}",
            p.group, p.root, p.path
        )
    });
    Ok(ExitCode::SUCCESS)
}
