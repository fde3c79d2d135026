//! `steward profile say|import|interview|show|peers|trust|ignore|forget`: what Steward knows of
//! its user.

use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use steward_agent::profile::{
    ImportReport, ItemKind, parse_votes_csv, parse_votes_json, parse_writing, peer_agreement,
    summarize,
};
use steward_core::Stance;

use crate::ctx::Ctx;
use crate::output::{Output, exit};

#[derive(Debug, Args)]
pub(crate) struct ProfileArgs {
    #[command(subcommand)]
    pub(crate) command: ProfileCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProfileCommand {
    /// Tell Steward what you think, e.g. "I oppose treasury spending without milestones"
    Say {
        /// The statement (quote it)
        text: String,
    },
    /// Import your writing or your vote history
    #[command(subcommand)]
    Import(ImportCommand),
    /// A first-run interview: past proposals of the DAOs you follow on which voters disagreed,
    /// spread over the topics; your answers count as your votes at once (docs/decide.md)
    Interview(InterviewArgs),
    /// What Steward learned: topics you care about, your leanings, the evidence for each
    Show,
    /// Peers: the ones you trust or ignore, and those you agree with most (learned from votes)
    Peers,
    /// Trust a delegate or peer: their visible votes count as evidence
    Trust(PeerArgs),
    /// Ignore a delegate or peer: their votes never count
    Ignore(PeerArgs),
    /// Mark a profile item shareable (`--undo` to take it back): your shared views may quote it,
    /// and what it names is no longer private to them (docs/views.md)
    Share {
        /// The item id (see `steward profile show --json`)
        id: i64,
        /// Unmark it
        #[arg(long)]
        undo: bool,
    },
    /// Stop using a profile item (it stays in the audit log)
    Forget {
        /// The item id (see `steward profile show --json`)
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ImportCommand {
    /// Text or markdown files, or chat exports (JSON arrays of messages)
    Writing {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// In chat exports, only this author's messages are yours
        #[arg(long, value_name = "NAME")]
        author: Option<String>,
    },
    /// Votes: CSV (voter, proposal_id, choice, title, order_rank[, reason]) or Snapshot hub JSON;
    /// or, with `--address` and no file, the address's votes the sources synced
    Votes {
        #[arg(required_unless_present = "address")]
        file: Option<PathBuf>,
        /// Your address: the votes it cast on proposals `steward sync` stored are yours
        #[arg(long, value_name = "ADDRESS", conflicts_with_all = ["file", "voter"])]
        address: Option<String>,
        /// Your address: its rows are your votes, the others are peers' votes (default: all yours)
        #[arg(long, value_name = "ADDRESS")]
        voter: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct InterviewArgs {
    /// How many proposals to ask about
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u16).range(1..=100))]
    count: u16,
    /// Record answers from a JSON file ({"PROPOSAL_KEY": "CHOICE", ...}) instead of asking;
    /// all or none: one unknown proposal or choice records nothing
    #[arg(long, value_name = "FILE")]
    answers: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct PeerArgs {
    /// The peer's address
    address: String,
    /// Why
    #[arg(long)]
    note: Option<String>,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, args: ProfileArgs) -> Result<ExitCode> {
    let (_home, mut store) = ctx.open_store()?;
    match args.command {
        ProfileCommand::Say { text } => {
            if text.trim().is_empty() {
                bail!("the statement is empty");
            }
            let id = store
                .transaction(|tx| tx.add_profile_item(ItemKind::Statement, &text, "cli", None))?;
            let stance = steward_core::stance_of(&text);
            #[derive(Serialize)]
            struct Said {
                id: i64,
                stance: Stance,
            }
            out.result(&Said { id, stance }, || {
                let mut s = format!("statement {id} recorded (stance: {})", stance.as_str());
                if stance == Stance::Unknown {
                    s.push_str("\n  note: I cannot tell whether it is for or against something; say \"I support ...\" or \"I oppose ...\" to make it a rule");
                }
                s
            });
            Ok(ExitCode::SUCCESS)
        }
        ProfileCommand::Import(ImportCommand::Writing { files, author }) => {
            let mut report = ImportReport::default();
            let mut pieces = Vec::new();
            for f in &files {
                let data = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
                let chunks = parse_writing(f, &data, author.as_deref())
                    .with_context(|| format!("while importing {}", f.display()))?;
                for (i, c) in chunks.into_iter().enumerate() {
                    pieces.push((format!("{}#{}", f.display(), i + 1), c));
                }
            }
            store.transaction(|tx| {
                for (origin, piece) in &pieces {
                    tx.add_writing(piece, origin)?;
                }
                Ok(())
            })?;
            report.added = pieces.len();
            out.result(&report, || {
                format!(
                    "{} piece(s) of writing imported from {} file(s)",
                    report.added,
                    files.len()
                )
            });
            Ok(ExitCode::SUCCESS)
        }
        ProfileCommand::Interview(a) => interview(ctx, out, &mut store, a),
        ProfileCommand::Import(ImportCommand::Votes {
            file: None,
            address: Some(address),
            ..
        }) => {
            let cfg = ctx.config(&_home)?;
            let net = steward_agent::Network::from_config(&cfg)?;
            let hub = if cfg.snapshot.spaces.is_empty() {
                None
            } else {
                Some(steward_agent::sources::snapshot::HubClient::new(
                    net.http()?,
                    &cfg.snapshot.hub,
                ))
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let found = rt.block_on(steward_agent::interview::import_own_votes(
                &store,
                hub.as_ref(),
                &cfg.snapshot.spaces,
                &address,
            ))?;
            if found.votes.is_empty() {
                bail!(
                    "no votes by {address} on the proposals in the store or in the followed Snapshot spaces; `steward sync` the DAOs it voted in first"
                );
            }
            let n = store.transaction(|tx| tx.insert_profile_votes(&found.votes))?;
            #[derive(Serialize)]
            struct Imported<'a> {
                added: usize,
                user_votes: usize,
                #[serde(flatten)]
                found: &'a steward_agent::interview::OwnVotes,
            }
            let report = Imported {
                added: n,
                user_votes: found.votes.len(),
                found: &found,
            };
            let human = || {
                let mut s = format!(
                    "{} of your votes found ({} in the store, {} on the Snapshot hub; {} new or changed)",
                    report.user_votes, found.from_store, found.from_hub, n
                );
                if found.not_in_store > 0 {
                    let _ = write!(
                        s,
                        "\n  {} vote(s) on proposals not in the store: `steward sync` first",
                        found.not_in_store
                    );
                }
                if found.not_single_choice > 0 {
                    let _ = write!(
                        s,
                        "\n  {} ranked, approval or weighted vote(s) not imported",
                        found.not_single_choice
                    );
                }
                for q in &found.quarantined {
                    let _ = write!(s, "\n  quarantined: {q}");
                }
                s
            };
            out.result(&report, human);
            Ok(if found.quarantined.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(exit::PARTIAL)
            })
        }
        ProfileCommand::Import(ImportCommand::Votes { file, voter, .. }) => {
            let file = file.context("a votes file, or --address")?;
            let data =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let is_json = matches!(
                data.iter().find(|b| !b.is_ascii_whitespace()),
                Some(b'{' | b'[')
            );
            let (votes, bad) = if is_json {
                parse_votes_json(&file, &data, voter.as_deref())
            } else {
                parse_votes_csv(&file, &data, voter.as_deref())
            };
            if let Some(v) = &voter
                && !votes.iter().any(|r| r.is_user)
            {
                bail!("{}: no votes by {v}; check --voter", file.display());
            }
            let n = store.transaction(|tx| tx.insert_profile_votes(&votes))?;
            let report = ImportReport {
                added: n,
                user_votes: votes.iter().filter(|v| v.is_user).count(),
                peer_votes: votes.iter().filter(|v| !v.is_user).count(),
                skipped: votes.len() - n,
                quarantined: bad,
            };
            let human = || {
                let mut s = format!(
                    "{} of your votes and {} peer votes read ({} new or changed)",
                    report.user_votes, report.peer_votes, report.added
                );
                for q in &report.quarantined {
                    let _ = write!(s, "\n  quarantined: {q}");
                }
                s
            };
            if report.quarantined.is_empty() {
                out.result(&report, human);
                Ok(ExitCode::SUCCESS)
            } else {
                out.failed_result(&report, human);
                Ok(ExitCode::from(exit::PARTIAL))
            }
        }
        ProfileCommand::Show => show(ctx, out, &mut store),
        ProfileCommand::Share { id, undo } => {
            if !store.transaction(|tx| tx.set_shareable(id, !undo))? {
                bail!("no profile item {id} (see `steward profile show --json`)");
            }
            #[derive(Serialize)]
            struct Shared {
                id: i64,
                shareable: bool,
            }
            let r = Shared {
                id,
                shareable: !undo,
            };
            out.result(&r, || {
                if undo {
                    format!("item {id} is private again")
                } else {
                    format!("item {id} is shareable: your shared views may quote it")
                }
            });
            Ok(ExitCode::SUCCESS)
        }
        ProfileCommand::Peers => {
            let user = store.profile_votes(true)?;
            let peers = store.profile_votes(false)?;
            #[derive(Serialize)]
            struct Peers {
                marked: Vec<steward_agent::profile::Peer>,
                agreeing: Vec<Agreeing>,
            }
            #[derive(Serialize)]
            struct Agreeing {
                address: String,
                agreed: usize,
                common: usize,
            }
            let p = Peers {
                marked: store.peers()?,
                agreeing: peer_agreement(&user, &peers, 5)
                    .into_iter()
                    .take(10)
                    .map(|(address, agreed, common)| Agreeing {
                        address,
                        agreed,
                        common,
                    })
                    .collect(),
            };
            out.result(&p, || {
                let mut s = String::new();
                for m in &p.marked {
                    let _ = writeln!(
                        s,
                        "{}  {}{}",
                        m.address,
                        m.trust,
                        m.note
                            .as_deref()
                            .map(|n| format!("  ({n})"))
                            .unwrap_or_default()
                    );
                }
                let _ = writeln!(s, "agree with you most (of proposals you both voted on):");
                for a in &p.agreeing {
                    let _ = writeln!(s, "  {}  {}/{}", a.address, a.agreed, a.common);
                }
                s.trim_end().to_owned()
            });
            Ok(ExitCode::SUCCESS)
        }
        ProfileCommand::Trust(a) | ProfileCommand::Ignore(a) if a.address.trim().is_empty() => {
            bail!("the address is empty")
        }
        ProfileCommand::Trust(a) => set_peer(out, &mut store, &a, "trusted"),
        ProfileCommand::Ignore(a) => set_peer(out, &mut store, &a, "ignored"),
        ProfileCommand::Forget { id } => {
            if !store.transaction(|tx| tx.forget_profile_item(id))? {
                bail!("no active profile item {id}");
            }
            out.result(&serde_json::json!({ "forgotten": id }), || {
                format!("item {id} forgotten")
            });
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn set_peer(
    out: &Output,
    store: &mut steward_agent::Store,
    a: &PeerArgs,
    trust: &str,
) -> Result<ExitCode> {
    store.transaction(|tx| tx.set_peer(&a.address, trust, a.note.as_deref()))?;
    out.result(
        &serde_json::json!({ "address": a.address.to_ascii_lowercase(), "trust": trust }),
        || format!("{} is now {trust}", a.address),
    );
    Ok(ExitCode::SUCCESS)
}

fn show(ctx: &Ctx, out: &Output, store: &mut steward_agent::Store) -> Result<ExitCode> {
    let has_any = !store.profile_items()?.is_empty() || !store.profile_votes(true)?.is_empty();
    let shown = if has_any {
        let worker = crate::cmd::model::spawn_worker(&crate::cmd::model::models_dir(ctx)?)?;
        let mut embedder = worker.shared();
        summarize(store, &mut embedder)?
    } else {
        // Nothing to embed: no model worker to start.
        summarize(store, &mut NoEmbedder)?
    };
    out.result(&shown, || {
        let mut s = format!(
            "{} statement(s), {} piece(s) of writing, {} answer(s)/override(s), {} of your votes, {} peer votes\n",
            shown.statements, shown.writing, shown.answers, shown.your_votes, shown.peer_votes
        );
        if shown.topics.is_empty() {
            s.push_str("nothing learned yet: `steward profile say`, `profile import writing`, `profile import votes`\n");
        }
        for t in &shown.topics {
            let _ = writeln!(s, "{}: {} (for {}, against {}, abstain {})", t.topic, t.leaning, t.for_count, t.against_count, t.abstain_count);
            for e in &t.evidence {
                let _ = writeln!(s, "    {e}");
            }
        }
        for c in &shown.contradictions {
            let _ = writeln!(s, "contradiction: {c}");
        }
        s.trim_end().to_owned()
    });
    Ok(ExitCode::SUCCESS)
}

/// What `profile interview` recorded.
#[derive(Serialize)]
struct Recorded {
    recorded: usize,
}

/// `profile interview`: asks on a terminal, or records `--answers`, or with `--json` prints the
/// questionnaire for another front end (the desk, a script).
fn interview(
    ctx: &Ctx,
    out: &Output,
    store: &mut steward_agent::Store,
    a: InterviewArgs,
) -> Result<ExitCode> {
    use std::io::{BufRead, IsTerminal, Write as _};
    if let Some(file) = a.answers {
        let data = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        let map: std::collections::BTreeMap<String, String> = serde_json::from_slice(&data)
            .with_context(|| {
                format!(
                    "{}: expected a JSON object of proposal key to choice",
                    file.display()
                )
            })?;
        let answers: Vec<(String, String)> = map.into_iter().collect();
        let n = steward_agent::interview::record_answers(store, &answers)
            .with_context(|| format!("{}", file.display()))?;
        out.result(&Recorded { recorded: n }, || {
            format!("{n} answer(s) recorded as your votes")
        });
        return Ok(ExitCode::SUCCESS);
    }
    let worker = crate::cmd::model::spawn_worker(&crate::cmd::model::models_dir(ctx)?)?;
    let mut embedder = worker.shared();
    let items =
        steward_agent::interview::questionnaire(store, &mut embedder, usize::from(a.count))?;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if out.is_json() || !interactive {
        out.result(&items, || {
            let mut s = String::new();
            for (i, it) in items.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "{}. {} ({})
   {}
   choices: {}; voters split {}",
                    i + 1,
                    it.title,
                    it.dao,
                    it.summary,
                    it.choices.join(" / "),
                    it.split_words()
                );
            }
            let _ = write!(
                s,
                "answer with `steward profile interview --answers FILE` ({{\"KEY\": \"CHOICE\"}}) or on a terminal"
            );
            s
        });
        return Ok(ExitCode::SUCCESS);
    }
    // On a terminal: one item at a time, on stderr; each answer is recorded at once.
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut recorded = 0;
    for (i, it) in items.iter().enumerate() {
        // Proposal text is untrusted: no escape sequences reach the terminal. The prompt goes
        // to stderr so that stdout stays the command's result.
        let _ = writeln!(
            std::io::stderr(),
            "{}",
            crate::output::terminal_safe(&format!(
                "\n{}/{}  {} ({})\n  {}\n  voters split {}\n  your vote [{}], enter to skip, q to stop:",
                i + 1,
                items.len(),
                it.title,
                it.dao,
                it.summary,
                it.split_words(),
                it.choices.join(" / ")
            ))
        );
        let Some(Ok(line)) = lines.next() else { break };
        let line = line.trim();
        if line.eq_ignore_ascii_case("q") {
            break;
        }
        if line.is_empty() {
            continue;
        }
        match steward_agent::interview::record_answers(
            store,
            &[(it.proposal.clone(), line.to_owned())],
        ) {
            Ok(n) => recorded += n,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "  not recorded: {e}");
            }
        }
    }
    out.result(&Recorded { recorded }, || {
        format!("{recorded} answer(s) recorded as your votes")
    });
    Ok(ExitCode::SUCCESS)
}

/// Stands in when the profile is empty, so `profile show` needs no model to say so.
struct NoEmbedder;

impl steward_ml::Embedder for NoEmbedder {
    fn dim(&self) -> usize {
        384
    }
    fn embed(&mut self, texts: &[String]) -> steward_ml::Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|_| Vec::new()).collect())
    }
    fn info(&self) -> steward_ml::EngineInfo {
        steward_ml::EngineInfo {
            engine: "none".into(),
            model: "none".into(),
            sha256: None,
            context: None,
            confined: None,
        }
    }
}
