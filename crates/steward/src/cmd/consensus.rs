//! `steward consensus`: Polis's consensus math over a conversation (steward-core::consensus):
//! opinion groups, representative and consensus statements (docs/consensus.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use steward_core::consensus::polis::{Sign, conversation_from_json, parse_matrix_csv};
use steward_core::consensus::{Analysis, Conversation, RepfulFor, analyze};

use crate::ctx::Ctx;
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum ConsensusCommand {
    /// A conversation folder in Polis's export format: votes.json (and comments.json)
    Polis(PolisArgs),
    /// A participant x statement CSV: `participant,<tid>,...`; cells 1 agree, -1 disagree,
    /// 0 pass, blank not voted (Polis's participants-votes.csv reads as is)
    Matrix(MatrixArgs),
    /// Summaries of common ground for a saved conversation, each sentence citing its statements
    Summarize(crate::cmd::consensus_summarize::SummarizeArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum AgreeSign {
    /// Tell from comments.json's agree/disagree counts
    Detect,
    /// Agree is +1 in votes.json
    Plus,
    /// Agree is -1 in votes.json (Polis's internal convention)
    Minus,
}

#[derive(Debug, Args)]
pub(crate) struct PolisArgs {
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
    /// Which vote value means agree in votes.json
    #[arg(long, value_enum, default_value = "detect")]
    pub(crate) agree: AgreeSign,
    /// Keep the analysis in the home under NAME for the review desk's Conversations page
    #[arg(long, value_name = "NAME")]
    pub(crate) save: Option<String>,
    /// Your own participant id in this conversation (marked on the desk's opinion map)
    #[arg(long, value_name = "PID", requires = "save")]
    pub(crate) me: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct MatrixArgs {
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
}

/// The printed result (docs/cli.md).
#[derive(Debug, Serialize)]
struct Report {
    participants: usize,
    statements: usize,
    in_conv: Vec<u64>,
    groups: Vec<GroupOut>,
    pca: PcaOut,
    repness: BTreeMap<String, Vec<RepOut>>,
    consensus: ConsensusOut,
    group_aware_consensus: BTreeMap<u64, f64>,
    comment_priorities: BTreeMap<u64, f64>,
    /// Not Polis's: the statements that split the groups most.
    cruxes: Vec<steward_core::consensus::Crux>,
    /// Not Polis's: participants who cast identical ballots on many statements.
    blocs: Vec<steward_core::consensus::Bloc>,
    /// Not Polis's: consensus with every bloc counted as one participant.
    consensus_one_per_bloc: ConsensusOut,
}

#[derive(Debug, Serialize)]
struct GroupOut {
    id: usize,
    members: Vec<u64>,
}

#[derive(Debug, Serialize)]
struct PcaOut {
    /// The statement id of each entry of `center` and `comps`.
    tids: Vec<u64>,
    center: Vec<f64>,
    comps: [Vec<f64>; 2],
}

#[derive(Debug, Serialize)]
struct RepOut {
    tid: u64,
    repful_for: RepfulFor,
    n_success: u32,
    n_trials: u32,
    p_success: f64,
    p_test: f64,
    repness: f64,
    repness_test: f64,
}

#[derive(Debug, Serialize)]
struct ConsensusOut {
    agree: Vec<u64>,
    disagree: Vec<u64>,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, command: ConsensusCommand) -> Result<ExitCode> {
    let mut keep = None;
    let conv = match command {
        ConsensusCommand::Polis(args) => {
            let conv = read_polis(&args.dir, args.agree)?;
            if let Some(name) = args.save {
                // Checked before the analysis, so a bad name costs nothing.
                steward_agent::web::conversations::check_name(&name)?;
                keep = Some((name, args.dir, args.me));
            }
            conv
        }
        ConsensusCommand::Summarize(args) => {
            return crate::cmd::consensus_summarize::run(ctx, out, &args);
        }
        ConsensusCommand::Matrix(args) => {
            let text = read(&args.file)?;
            let m = parse_matrix_csv(&text, &args.file.display().to_string())?;
            Conversation {
                votes: m.votes,
                ..Default::default()
            }
        }
    };
    let analysis = analyze(&conv)?;
    if let Some((name, dir, me)) = keep {
        let mine = me
            .map(|m| steward_agent::web::conversations::votes_of(&conv, m))
            .unwrap_or_default();
        save(ctx, &name, &dir, &analysis, me, mine)?;
    }
    let report = report(&analysis);
    out.result(&report, || human(&report));
    Ok(ExitCode::SUCCESS)
}

/// Keeps the analysis and the statements' text for the desk (`consensus.NAME` in the store).
fn save(
    ctx: &Ctx,
    name: &str,
    dir: &Path,
    a: &Analysis,
    me: Option<u64>,
    my_votes: BTreeMap<u64, i8>,
) -> Result<()> {
    use steward_agent::web::conversations::{SavedConversation, comment_texts, save};
    let comments_path = dir.join("comments.json");
    let texts = if comments_path.exists() {
        comment_texts(&read(&comments_path)?, &comments_path.display().to_string())?
    } else {
        BTreeMap::new()
    };
    let mut saved =
        SavedConversation::from_analysis(name, &dir.display().to_string(), a, texts, me)?;
    saved.my_votes = my_votes;
    let (_home, mut store) = ctx.open_store()?;
    save(&mut store, &saved)?;
    tracing::info!(name, "saved the conversation for the review desk");
    Ok(())
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn read_polis(dir: &Path, agree: AgreeSign) -> Result<Conversation> {
    let votes = read(&dir.join("votes.json"))?;
    let comments_path = dir.join("comments.json");
    let comments = if comments_path.exists() {
        Some(read(&comments_path)?)
    } else {
        None
    };
    let sign = match agree {
        AgreeSign::Detect => Sign::Detect,
        AgreeSign::Plus => Sign::AgreePlus,
        AgreeSign::Minus => Sign::AgreeMinus,
    };
    conversation_from_json(&votes, comments.as_deref(), sign)
        .with_context(|| format!("reading the conversation in {}", dir.display()))
}

fn report(a: &Analysis) -> Report {
    Report {
        participants: a.pids.len(),
        statements: a.tids.len(),
        in_conv: a.in_conv.clone(),
        groups: a
            .groups
            .iter()
            .map(|g| GroupOut {
                id: g.id,
                members: g.members.clone(),
            })
            .collect(),
        pca: PcaOut {
            tids: a.tids.clone(),
            center: a.pca.center.clone(),
            comps: a.pca.comps.clone(),
        },
        repness: a
            .groups
            .iter()
            .zip(&a.repness)
            .map(|(g, list)| {
                let reps = list
                    .iter()
                    .map(|r| RepOut {
                        tid: r.tid,
                        repful_for: r.repful_for,
                        n_success: r.n_success,
                        n_trials: r.n_trials,
                        p_success: r.p_success,
                        p_test: r.p_test,
                        repness: r.repness,
                        repness_test: r.repness_test,
                    })
                    .collect();
                (g.id.to_string(), reps)
            })
            .collect(),
        consensus: ConsensusOut {
            agree: a.consensus_agree.iter().map(|c| c.tid).collect(),
            disagree: a.consensus_disagree.iter().map(|c| c.tid).collect(),
        },
        group_aware_consensus: a.group_aware_consensus.clone(),
        comment_priorities: a.comment_priorities.clone(),
        cruxes: a.cruxes.clone(),
        blocs: a.blocs.clone(),
        consensus_one_per_bloc: ConsensusOut {
            agree: a
                .consensus_agree_one_per_bloc
                .iter()
                .map(|c| c.tid)
                .collect(),
            disagree: a
                .consensus_disagree_one_per_bloc
                .iter()
                .map(|c| c.tid)
                .collect(),
        },
    }
}

fn human(r: &Report) -> String {
    let mut s = format!(
        "{} participants, {} statements; {} clustered into {} groups\n",
        r.participants,
        r.statements,
        r.in_conv.len(),
        r.groups.len()
    );
    for g in &r.groups {
        let reps: Vec<String> = r.repness[&g.id.to_string()]
            .iter()
            .map(|x| {
                format!(
                    "{}{}",
                    x.tid,
                    if x.repful_for == RepfulFor::Agree {
                        "+"
                    } else {
                        "-"
                    }
                )
            })
            .collect();
        s.push_str(&format!(
            "group {}: {} members; representative: {}\n",
            g.id,
            g.members.len(),
            reps.join(" ")
        ));
    }
    let list = |v: &[u64]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.iter().map(u64::to_string).collect::<Vec<_>>().join(" ")
        }
    };
    s.push_str(&format!("consensus agree: {}\n", list(&r.consensus.agree)));
    s.push_str(&format!(
        "consensus disagree: {}",
        list(&r.consensus.disagree)
    ));
    let cruxes: Vec<u64> = r.cruxes.iter().map(|c| c.tid).collect();
    s.push_str(&format!("\ncruxes: {}", list(&cruxes)));
    for b in &r.blocs {
        s.push_str(&format!(
            "\nbloc: {} participants cast the same {} votes (counted once: consensus agree {})",
            b.members.len(),
            b.votes,
            list(&r.consensus_one_per_bloc.agree)
        ));
    }
    s
}
