//! `steward eval votes`: how well the decision path predicts real votes it has not seen.
//!
//! Each test row is decided by the same pure core as `steward decide` ([`steward_core::gather`],
//! [`steward_core::conclude`]): the per-voter model ([`steward_core::VoterModel`]) fitted once
//! per voter, the voter's statements and writing when a profile file gives them, the local
//! model's judgement when a judge is given, importance and the vote/ask/skip policy. The voter
//! model alone is scored on the same rows at a fixed threshold, for comparison.
//!
//! Input is the votes.csv schema (`voter, proposal_id, choice, title, order_rank, ...`), with a
//! `proposals.csv` beside the train file filling titles and order when present. Without a test
//! file each voter's votes are split in time by `order_rank`. Test labels are used for scoring
//! only; outcome columns (`winning_choice`, scores, turnout) are never read. In blind mode no
//! vote on a test proposal is visible; in live mode the other voters' votes on it are (what the
//! hub shows while a vote is open), never the voter's own.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use steward_core::model::metrics::{self, Outcome, ReliabilityBin};
use steward_core::{
    DecisionAction, DecisionInput, DecisionProfile, Evidence, HistoryModel, Judgement, LabeledVote,
    ModelConfig, PastVote, PeerVote, Policy, PoolWeights, ProfileEntry, ProfileKind, Proposal,
    ProposalFeatures, ProposalState, Source, Vote, VoterModel, VotingType, stance_of,
};

use crate::decide::ReadableProposal;

pub(crate) mod ask;
mod replay;
pub use ask::{AskCurvePoint, AskFigures};
pub use replay::DelegateFigures;
use replay::{Events, Tally};

/// Whether votes on the proposal being predicted are visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvalMode {
    /// No vote on a test proposal is visible.
    Blind,
    /// Every other voter's final vote on the test proposal is visible, as if the vote had
    /// closed: an optimistic upper bound (was `live`; the CLI keeps that name as an alias).
    FinalTallies,
    /// Only the votes cast before the user's own vote on the test proposal are visible (needs a
    /// `timestamp` column; `--before-end` moves the cutoff earlier).
    Replay,
}

impl EvalMode {
    /// The name `--mode` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            EvalMode::Blind => "blind",
            EvalMode::FinalTallies => "final-tallies",
            EvalMode::Replay => "replay",
        }
    }
}

/// What `steward eval votes` was asked.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Votes to learn from (and, without `test`, to split).
    pub train: PathBuf,
    /// Votes to predict; without a `choice` column the run only predicts.
    pub test: Option<PathBuf>,
    /// Share of each voter's votes (by time) used for training when there is no test file.
    pub split: f64,
    /// Voters with fewer votes are only peers, never evaluated.
    pub min_votes: usize,
    /// Blind or live.
    pub mode: EvalMode,
    /// Confidence at or above which the voter model alone would vote (its comparison figures).
    pub threshold: f64,
    /// The model's knobs.
    pub model: ModelConfig,
    /// The vote/ask/skip policy of the decision path (`decide`'s, from the config).
    pub policy: Policy,
    /// How the decision path pools statements, writing and the local model (docs/eval.md).
    pub weights: PoolWeights,
    /// Statements and writing per voter: a CSV `voter, kind, text` (`kind` is `statement` or
    /// `writing`). They match proposals by embedding, so they need `embed`.
    pub profile: Option<PathBuf>,
    /// Decide only this many test rows, a sample drawn with the model's seed (the local model is
    /// slow).
    pub limit: Option<usize>,
    /// Replay only: votes count as visible only when cast at least this many hours before the
    /// proposal's end (`end_ts` / `end_ts_approx` in proposals.csv).
    pub before_end: Option<f64>,
    /// Final tallies only: each other vote on a test proposal is visible with this probability
    /// (a seeded coin per voter and proposal), for data without vote times.
    pub visible: Option<f64>,
    /// The share of test proposals the agent may ask about before scoring the rest, learning
    /// from each answer at once (`--ask-budget`, [`ask`]).
    pub ask_budget: Option<f64>,
    /// The teach score a row needs to be asked ([`ask::DEFAULT_ASK_THRESHOLD`]).
    pub ask_threshold: f64,
}

impl EvalOptions {
    /// Options with the defaults of `steward eval votes` for `train`.
    pub fn new(train: PathBuf) -> Self {
        EvalOptions {
            train,
            test: None,
            split: 0.7,
            min_votes: 20,
            mode: EvalMode::Blind,
            threshold: 0.9,
            model: ModelConfig::default(),
            policy: Policy::default(),
            weights: eval_weights(),
            profile: None,
            limit: None,
            before_end: None,
            visible: None,
            ask_budget: None,
            ask_threshold: ask::DEFAULT_ASK_THRESHOLD,
        }
    }
}

/// The pooling weights the eval uses by default: `decide`'s (docs/eval.md says why each is what
/// it is).
pub fn eval_weights() -> PoolWeights {
    PoolWeights::default()
}

/// Errors that stop an evaluation. Bad rows do not: they are reported and skipped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A file could not be read or written.
    #[error("{}: {context}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A required column is missing from the header.
    #[error("{}: no `{column}` column in the header", path.display())]
    Column {
        /// The file.
        path: PathBuf,
        /// The missing column.
        column: &'static str,
    },
    /// The options make no sense.
    #[error("{0}")]
    Options(String),
    /// Nothing left to evaluate.
    #[error("no voter has at least {min_votes} votes with test rows in {}", path.display())]
    Empty {
        /// The threshold.
        min_votes: usize,
        /// The file.
        path: PathBuf,
    },
    /// Embedding the titles failed.
    #[error("embedding proposal titles: {0}")]
    Embed(String),
    /// A profile file was given without embeddings to match it by.
    #[error("{}: statements and writing match proposals by embedding; add --embed", path.display())]
    ProfileNeedsEmbeddings {
        /// The profile file.
        path: PathBuf,
    },
}

/// A row that was skipped, naming file, line and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// The column at fault (or `row` for a malformed record).
    pub column: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} line {} column {}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// One voter's figures.
#[derive(Debug, Clone, Serialize)]
pub struct VoterReport {
    /// The voter.
    pub voter: String,
    /// Votes learned from.
    pub n_train: usize,
    /// Votes predicted.
    pub n_test: usize,
    /// Accuracy of the top choice on every test vote (`None` without labels).
    pub forced_accuracy: Option<f64>,
    /// Accuracy on the votes the decision path casts.
    pub auto_accuracy: Option<f64>,
    /// Share of test votes the decision path casts.
    pub coverage: f64,
    /// Accuracy of the voter's majority training choice.
    pub voter_majority: Option<f64>,
    /// The calibrator cross-validation picked for the head used.
    pub calibrator: String,
    /// The peer chosen as this voter's delegate on the training split (`best_delegate`).
    pub best_delegate: Option<String>,
    /// Its agreement with the voter on the test rows (no vote cast counts as a miss).
    pub delegate_agreement: Option<f64>,
    /// Forced accuracy minus the delegate's agreement: what the agent adds over delegating at
    /// zero questions.
    pub agent_minus_delegate: Option<f64>,
}

/// Baseline accuracies on the same test rows.
#[derive(Debug, Clone, Serialize)]
pub struct Baselines {
    /// Always the most common training choice (`For` here).
    pub always_for: Option<f64>,
    /// Each voter's most common training choice.
    pub voter_majority: Option<f64>,
    /// Delegating to the peer who agreed most with the voter on the training proposals,
    /// following its vote wherever it cast one.
    pub best_delegate: Option<DelegateFigures>,
    /// The head-count majority of the votes visible when deciding (none in blind mode).
    pub crowd_so_far: Option<DelegateFigures>,
}

/// The user's votes against the majority label (`Against`): the ones an agent must not
/// auto-vote away.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct AgainstFigures {
    /// Test votes that were `Against`.
    pub n: usize,
    /// Of those, decided `Against` (whatever the action).
    pub predicted: usize,
    /// Of the rest, asked about.
    pub asked: usize,
    /// `(predicted + asked) / n`.
    pub caught: f64,
}

/// What replay mode saw.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ReplayFigures {
    /// `--before-end` hours, if given.
    pub before_end_hours: Option<f64>,
    /// Mean number of other votes visible per decided row.
    pub mean_visible: f64,
    /// Decided rows that saw no vote at all.
    pub rows_seeing_none: usize,
    /// Other voters' votes in the same block as the user's (same time), never visible.
    pub same_time_hidden: usize,
    /// With `--before-end`: decided rows on proposals without an end time (they see nothing).
    pub rows_without_end: usize,
}

/// What the decision path did with the test rows: how many it voted, asked and skipped.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PolicyCounts {
    pub vote: usize,
    pub ask: usize,
    pub skip: usize,
    /// Confidence needed to vote at importance 0 and 1 (the policy the counts come from).
    pub min_confidence_low: f64,
    pub min_confidence_high: f64,
    /// Share of rejecting votes so far from which the policy asks (0 = off).
    pub dissent_share: f64,
}

/// Whether the local model took part, and at what weight.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct LlmUse {
    /// Rows the local model judged.
    pub used: usize,
    /// Rows where it failed or answered in the wrong shape.
    pub failed: usize,
    /// Its pooling weight ([`PoolWeights::llm`]).
    pub weight: f64,
}

/// Statements and writing the decision path read.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct TextUse {
    /// Evaluated voters with at least one statement or piece of writing.
    pub voters: usize,
    pub statements: usize,
    pub writing: usize,
    /// Test rows where one of them matched and moved the decision.
    pub rows_matched: usize,
}

/// The voter model alone on the same rows, at the fixed threshold (the figures before the
/// eval ran the decision path).
#[derive(Debug, Clone, Serialize)]
pub struct VoterModelFigures {
    pub forced_accuracy: Option<f64>,
    /// Accuracy on the rows at or above the threshold.
    pub auto_accuracy: Option<f64>,
    /// Share of rows at or above the threshold.
    pub coverage: f64,
    pub ece: Option<f64>,
    pub threshold: f64,
}

/// The result of an evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Blind or live.
    pub mode: EvalMode,
    /// Accuracy of the decision's choice on every test vote.
    pub forced_accuracy: Option<f64>,
    /// Accuracy on the votes the decision path casts (action `vote`).
    pub auto_accuracy: Option<f64>,
    /// Share of test votes it casts.
    pub coverage: f64,
    /// Share it asks about.
    pub ask_rate: f64,
    /// Expected calibration error of the decision's confidence (10 bins).
    pub ece: Option<f64>,
    /// Test votes predicted.
    pub n_test: usize,
    /// Voters evaluated.
    pub n_voters: usize,
    /// The voter model's threshold (see `voter_model`).
    pub threshold: f64,
    /// Vote, ask and skip counts of the decision path.
    pub policy: PolicyCounts,
    /// The local model's part.
    pub llm: LlmUse,
    /// Statements and writing read.
    pub text: TextUse,
    /// The voter model alone, on the same rows.
    pub voter_model: VoterModelFigures,
    /// Baselines on the same rows.
    pub baselines: Baselines,
    /// Forced accuracy minus `best_delegate`'s agreement, over all test rows.
    pub agent_minus_best_delegate: Option<f64>,
    /// Voters whose forced accuracy is above their delegate's agreement / at or below it.
    pub voters_beating_delegate: usize,
    pub voters_not_beating_delegate: usize,
    /// The user's `Against` votes: predicted or asked (the 80 % target).
    pub against: Option<AgainstFigures>,
    /// Replay mode's visibility figures.
    pub replay: Option<ReplayFigures>,
    /// With `--ask-budget`: the questions asked and learned from; the other figures are over
    /// the rows not asked.
    pub ask: Option<AskFigures>,
    /// With `--ask-curve`: the figures at each budget of [`ask::CURVE_BUDGETS`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ask_curve: Vec<AskCurvePoint>,
    /// Earlier votes replaced by a re-vote of the same voter on the same proposal (the last
    /// counts).
    pub revotes_replaced: usize,
    /// Decided rows whose proposal has no body in proposals.csv (decided from the title).
    pub rows_without_body: usize,
    /// Decided rows of voters with no training votes (they ask: nothing to judge by).
    pub rows_without_history: usize,
    /// The reliability table behind `ece`.
    pub reliability: Vec<ReliabilityBin>,
    /// Agreement with the real votes over time: test votes in ten equal slices of their time
    /// order, with the share the model got right.
    pub over_time: Vec<TimeSlice>,
    /// Per voter.
    pub per_voter: Vec<VoterReport>,
    /// Whether titles were embedded (else TF-IDF title similarity).
    pub embeddings: bool,
    /// Rows skipped, with the reason.
    pub skipped_rows: Vec<RowError>,
    /// Wall-clock seconds of the whole run (reading, fitting, predicting).
    pub seconds: f64,
}

/// One slice of [`EvalReport::over_time`].
#[derive(Debug, Clone, Serialize)]
pub struct TimeSlice {
    /// The time order (`order_rank`) of the slice's first and last test vote.
    pub from: f64,
    pub to: f64,
    pub n: usize,
    pub accuracy: f64,
}

fn over_time(timed: &mut [(f64, bool)], slices: usize) -> Vec<TimeSlice> {
    timed.sort_by(|a, b| a.0.total_cmp(&b.0));
    if timed.is_empty() {
        return Vec::new();
    }
    let per = timed.len().div_ceil(slices);
    timed
        .chunks(per.max(1))
        .map(|c| TimeSlice {
            from: c[0].0,
            to: c[c.len() - 1].0,
            n: c.len(),
            accuracy: c.iter().filter(|(_, ok)| *ok).count() as f64 / c.len() as f64,
        })
        .collect()
}

/// One line of `--predictions`.
#[derive(Debug, Clone, Serialize)]
pub struct PredictionLine<'a> {
    /// The voter.
    pub voter: &'a str,
    /// The proposal.
    pub proposal_id: &'a str,
    /// The predicted choice.
    pub choice: &'a str,
    /// Probability per choice.
    pub probabilities: BTreeMap<&'a str, f64>,
    /// The top probability.
    pub confidence: f64,
    /// The decision path's action: `vote`, `ask` or `skip`.
    pub action: &'static str,
}

#[derive(Debug, Clone)]
struct VoteRow {
    voter: String,
    proposal: String,
    choice: Option<String>,
    title: Option<String>,
    order: Option<f64>,
    /// Vote time, Unix seconds (`timestamp`).
    time: Option<f64>,
    /// Position in the block (`log_index`), to order votes at the same time.
    seq: Option<u64>,
    line: u64,
}

/// A proposal as proposals.csv gives it. Outcome columns are never read.
#[derive(Debug, Clone, Default)]
struct CatalogEntry {
    title: Option<String>,
    /// `order_rank`, else `created_ts`.
    order: Option<f64>,
    body: Option<String>,
    /// `end_ts` / `end_ts_approx`, Unix seconds.
    end: Option<f64>,
}

/// Proposal id -> what proposals.csv says about it.
type Catalog = HashMap<String, CatalogEntry>;

/// A proposal as the eval uses it.
#[derive(Debug, Clone, Default)]
struct PropInfo {
    title: String,
    order: f64,
    body: String,
    end: Option<f64>,
}

/// Titles in, one vector per title out (or an error message).
pub type EmbedFn<'a> = dyn FnMut(&[String]) -> Result<Vec<Vec<f32>>, String> + 'a;

/// The local model's judgement of a (sanitized) proposal against the evidence gathered for it,
/// e.g. [`crate::decide::judge`] over a generator.
pub type JudgeFn<'a> = dyn FnMut(&ReadableProposal, &[String], &[Evidence]) -> Judgement + 'a;

/// The engines an evaluation may use.
#[derive(Default)]
pub struct EvalEngines<'a, 'b> {
    /// Embeds titles, statements and writing.
    pub embed: Option<&'b mut EmbedFn<'a>>,
    /// Judges proposals with the local model (`--llm`).
    pub judge: Option<&'b mut JudgeFn<'a>>,
}

impl std::fmt::Debug for EvalEngines<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EvalEngines")
            .field("embed", &self.embed.is_some())
            .field("judge", &self.judge.is_some())
            .finish()
    }
}

/// One statement or piece of writing of a voter, from the profile file.
#[derive(Debug, Clone)]
struct TextRow {
    voter: String,
    kind: ProfileKind,
    text: String,
}

#[derive(Debug, Default)]
struct Table {
    rows: Vec<VoteRow>,
    has_choice: bool,
    /// Every vote read, re-votes included (for replay's visibility).
    all: Vec<VoteRow>,
    /// Earlier votes replaced by re-votes.
    replaced: usize,
}

fn io(path: &Path, context: &'static str) -> impl FnOnce(std::io::Error) -> EvalError + use<> {
    let path = path.to_owned();
    move |source| EvalError::Io {
        path,
        context,
        source,
    }
}

fn csv_reader(path: &Path) -> Result<csv::Reader<std::fs::File>, EvalError> {
    let file = std::fs::File::open(path).map_err(io(path, "opening"))?;
    Ok(csv::ReaderBuilder::new().flexible(true).from_reader(file))
}

fn header_index(
    path: &Path,
    headers: &csv::StringRecord,
) -> impl Fn(&str) -> Option<usize> + use<> {
    let names: Vec<String> = headers.iter().map(|h| h.trim().to_lowercase()).collect();
    let _ = path;
    move |name: &str| names.iter().position(|h| h == name)
}

/// Reads a votes file; bad rows go to `errors`.
fn read_votes(
    path: &Path,
    need_choice: bool,
    need_time: bool,
    catalog: &Catalog,
    errors: &mut Vec<RowError>,
) -> Result<Table, EvalError> {
    let mut rdr = csv_reader(path)?;
    let headers = rdr.headers().map_err(|e| EvalError::Io {
        path: path.to_owned(),
        context: "reading the header",
        source: std::io::Error::other(e.to_string()),
    })?;
    let col = header_index(path, headers);
    let voter = col("voter").ok_or(EvalError::Column {
        path: path.to_owned(),
        column: "voter",
    })?;
    let proposal = col("proposal_id").ok_or(EvalError::Column {
        path: path.to_owned(),
        column: "proposal_id",
    })?;
    let choice = col("choice");
    if need_choice && choice.is_none() {
        return Err(EvalError::Column {
            path: path.to_owned(),
            column: "choice",
        });
    }
    let (title, order) = (col("title"), col("order_rank"));
    let (time, seq) = (col("timestamp"), col("log_index"));
    if need_time && time.is_none() {
        return Err(EvalError::Column {
            path: path.to_owned(),
            column: "timestamp",
        });
    }
    let file = path.display().to_string();
    let mut table = Table {
        has_choice: choice.is_some(),
        ..Table::default()
    };
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    file: file.clone(),
                    line: e.position().map_or(0, csv::Position::line),
                    column: "row".into(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        let line = rec.position().map_or(0, csv::Position::line);
        let bad = |column: &str, message: String| RowError {
            file: file.clone(),
            line,
            column: column.to_owned(),
            message,
        };
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).map(str::trim);
        let v = get(Some(voter)).unwrap_or("");
        if v.is_empty() {
            errors.push(bad("voter", "empty voter".into()));
            continue;
        }
        let p = get(Some(proposal)).unwrap_or("");
        if p.is_empty() {
            errors.push(bad("proposal_id", "empty proposal id".into()));
            continue;
        }
        let c = get(choice);
        if choice.is_some() && c.is_none_or(str::is_empty) {
            errors.push(bad("choice", "empty choice".into()));
            continue;
        }
        let o = match get(order) {
            None | Some("") => None,
            Some(s) => match s.parse::<f64>() {
                Ok(x) if x.is_finite() => Some(x),
                _ => {
                    errors.push(bad("order_rank", format!("not a number: {s:?}")));
                    continue;
                }
            },
        };
        // A vote without a usable time cannot be placed in a replay; elsewhere the time only
        // orders re-votes.
        let t = match get(time) {
            None | Some("") if need_time => {
                errors.push(bad("timestamp", "no timestamp (replay needs one)".into()));
                continue;
            }
            None | Some("") => None,
            Some(s) => match replay::parse_time(s) {
                Ok(x) => Some(x),
                Err(m) if need_time => {
                    errors.push(bad("timestamp", m));
                    continue;
                }
                Err(_) => None,
            },
        };
        // No vote can come after the proposal's end: such a row is wrong data, not a vote.
        if let (Some(t), Some(end)) = (t, catalog.get(p).and_then(|c| c.end))
            && t > end
        {
            errors.push(bad(
                "timestamp",
                format!("vote at {t} is after proposal {p} ended at {end} (proposals.csv)"),
            ));
            continue;
        }
        let q = match get(seq) {
            None | Some("") => None,
            Some(s) => match s.parse::<u64>() {
                Ok(x) => Some(x),
                Err(_) => {
                    errors.push(bad("log_index", format!("not a whole number: {s:?}")));
                    continue;
                }
            },
        };
        table.rows.push(VoteRow {
            voter: v.to_lowercase(),
            proposal: p.to_owned(),
            choice: c.map(str::to_owned),
            title: get(title).filter(|t| !t.is_empty()).map(str::to_owned),
            order: o,
            time: t,
            seq: q,
            line,
        });
    }
    table.all = table.rows.clone();
    let (rows, replaced) = replay::keep_last(std::mem::take(&mut table.rows), &file, errors);
    table.rows = rows;
    table.replaced = replaced;
    Ok(table)
}

/// `proposals.csv` beside `votes`: id -> (title, order). Outcome columns are not read.
fn read_catalog(votes: &Path, errors: &mut Vec<RowError>) -> Result<Catalog, EvalError> {
    let path = votes.with_file_name("proposals.csv");
    let mut out = HashMap::new();
    if !path.is_file() || path == votes {
        return Ok(out);
    }
    let mut rdr = csv_reader(&path)?;
    let headers = rdr.headers().map_err(|e| EvalError::Io {
        path: path.clone(),
        context: "reading the header",
        source: std::io::Error::other(e.to_string()),
    })?;
    let col = header_index(&path, headers);
    let Some(id) = col("proposal_id") else {
        return Err(EvalError::Column {
            path,
            column: "proposal_id",
        });
    };
    let (title, order, created) = (col("title"), col("order_rank"), col("created_ts"));
    let (body, end) = (col("body"), col("end_ts").or(col("end_ts_approx")));
    let file = path.display().to_string();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    file: file.clone(),
                    line: e.position().map_or(0, csv::Position::line),
                    column: "row".into(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        let line = rec.position().map_or(0, csv::Position::line);
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).map(str::trim);
        let Some(pid) = get(Some(id)).filter(|s| !s.is_empty()) else {
            errors.push(RowError {
                file: file.clone(),
                line,
                column: "proposal_id".into(),
                message: "empty proposal id".into(),
            });
            continue;
        };
        let o = match get(order) {
            None | Some("") => None,
            Some(s) => match s.parse::<f64>() {
                Ok(x) if x.is_finite() => Some(x),
                _ => {
                    errors.push(RowError {
                        file: file.clone(),
                        line,
                        column: "order_rank".into(),
                        message: format!("not a number: {s:?}"),
                    });
                    None
                }
            },
        };
        let time = |i: Option<usize>, column: &str, errors: &mut Vec<RowError>| match get(i) {
            None | Some("") => None,
            Some(s) => replay::parse_time(s)
                .map_err(|m| {
                    errors.push(RowError {
                        file: file.clone(),
                        line,
                        column: column.into(),
                        message: m,
                    });
                })
                .ok(),
        };
        let o = o.or_else(|| time(created, "created_ts", errors));
        let e = time(end, "end_ts", errors);
        let t = get(title).filter(|t| !t.is_empty()).map(str::to_owned);
        let b = get(body).filter(|t| !t.is_empty()).map(str::to_owned);
        out.insert(
            pid.to_owned(),
            CatalogEntry {
                title: t,
                order: o,
                body: b,
                end: e,
            },
        );
    }
    Ok(out)
}

/// Statements and writing per voter: CSV `voter, kind, text`; bad rows go to `errors`.
fn read_profile(path: &Path, errors: &mut Vec<RowError>) -> Result<Vec<TextRow>, EvalError> {
    let mut rdr = csv_reader(path)?;
    let headers = rdr.headers().map_err(|e| EvalError::Io {
        path: path.to_owned(),
        context: "reading the header",
        source: std::io::Error::other(e.to_string()),
    })?;
    let col = header_index(path, headers);
    let need = |column: &'static str| {
        col(column).ok_or(EvalError::Column {
            path: path.to_owned(),
            column,
        })
    };
    let (voter, text) = (need("voter")?, need("text")?);
    let kind = col("kind");
    let file = path.display().to_string();
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    file: file.clone(),
                    line: e.position().map_or(0, csv::Position::line),
                    column: "row".into(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        let line = rec.position().map_or(0, csv::Position::line);
        let bad = |column: &str, message: String| RowError {
            file: file.clone(),
            line,
            column: column.to_owned(),
            message,
        };
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).map(str::trim);
        let v = get(Some(voter)).unwrap_or("");
        let t = get(Some(text)).unwrap_or("");
        if v.is_empty() {
            errors.push(bad("voter", "empty voter".into()));
            continue;
        }
        if t.is_empty() {
            errors.push(bad("text", "empty text".into()));
            continue;
        }
        let k = match get(kind).unwrap_or("statement") {
            "" | "statement" => ProfileKind::Statement,
            "writing" => ProfileKind::Writing,
            other => {
                errors.push(bad(
                    "kind",
                    format!("expected statement or writing, got {other:?}"),
                ));
                continue;
            }
        };
        out.push(TextRow {
            voter: v.to_lowercase(),
            kind: k,
            text: t.to_owned(),
        });
    }
    Ok(out)
}

/// A test row as a proposal the decision core reads: the title, the body from proposals.csv
/// (empty when it has none), the training labels as its choices.
fn row_proposal(id: &str, title: &str, body: &str, choices: &[String]) -> Proposal {
    Proposal {
        source: Source::Snapshot {
            space: "eval".into(),
        },
        id: id.to_owned(),
        title: title.to_owned(),
        body: body.to_owned(),
        choices: choices.to_vec(),
        voting: VotingType::SingleChoice,
        created: None,
        start: None,
        end: None,
        snapshot: None,
        author: None,
        discussion: None,
        state: ProposalState::Active,
        actions: Vec::new(),
        flags: Vec::new(),
    }
}

/// A seeded, order-independent pick of `limit` rows: each row ranks by a hash of the seed and
/// its (voter, proposal).
fn sample(rows: Vec<&VoteRow>, limit: Option<usize>, seed: u64) -> Vec<&VoteRow> {
    let Some(limit) = limit.filter(|l| *l < rows.len()) else {
        return rows;
    };
    let rank = |r: &VoteRow| {
        let h = steward_core::sha256_hex(format!("{seed}\0{}\0{}", r.voter, r.proposal).as_bytes());
        u64::from_str_radix(&h[..16], 16).unwrap_or(0)
    };
    let mut ranked: Vec<(u64, &VoteRow)> = rows.into_iter().map(|r| (rank(r), r)).collect();
    ranked.sort_by_key(|(k, r)| (*k, r.line));
    ranked.truncate(limit);
    ranked.into_iter().map(|(_, r)| r).collect()
}

/// Runs an evaluation. `embed` maps titles to vectors (e.g. MiniLM) when given; `progress` is
/// called with (voters done, voters); `predictions` receives one JSON line per test row.
pub fn eval_votes(
    opts: &EvalOptions,
    embed: Option<&mut EmbedFn<'_>>,
    progress: &mut dyn FnMut(usize, usize),
    predictions: Option<&mut dyn Write>,
) -> Result<EvalReport, EvalError> {
    eval_votes_with(
        opts,
        EvalEngines { embed, judge: None },
        progress,
        predictions,
    )
}

/// [`eval_votes`] with the local model's judgement as well (`steward eval votes --llm`).
pub fn eval_votes_with(
    opts: &EvalOptions,
    engines: EvalEngines<'_, '_>,
    progress: &mut dyn FnMut(usize, usize),
    mut predictions: Option<&mut dyn Write>,
) -> Result<EvalReport, EvalError> {
    let started = std::time::Instant::now();
    let EvalEngines { embed, mut judge } = engines;
    if !(opts.split > 0.0 && opts.split < 1.0) {
        return Err(EvalError::Options(format!(
            "--split must be between 0 and 1, got {}",
            opts.split
        )));
    }
    if !(0.0..=1.0).contains(&opts.threshold) {
        return Err(EvalError::Options(format!(
            "--threshold must be between 0 and 1, got {}",
            opts.threshold
        )));
    }
    let replay = opts.mode == EvalMode::Replay;
    if let Some(h) = opts.before_end
        && !(replay && h.is_finite() && h >= 0.0)
    {
        return Err(EvalError::Options(format!(
            "--before-end takes a number of hours >= 0 and needs --mode replay, got {h} with --mode {}",
            opts.mode.as_str()
        )));
    }
    if let Some(f) = opts.visible
        && !(opts.mode == EvalMode::FinalTallies && (0.0..=1.0).contains(&f))
    {
        return Err(EvalError::Options(format!(
            "--visible takes a share from 0 to 1 and needs --mode final-tallies, got {f} with --mode {}",
            opts.mode.as_str()
        )));
    }
    if let Some(f) = opts.ask_budget
        && !(0.0..=1.0).contains(&f)
    {
        return Err(EvalError::Options(format!(
            "--ask-budget takes a share of the test proposals from 0 to 1, got {f}"
        )));
    }
    let mut errors = Vec::new();
    let mut catalog = read_catalog(&opts.train, &mut errors)?;
    if let Some(t) = &opts.test
        && t.with_file_name("proposals.csv") != opts.train.with_file_name("proposals.csv")
    {
        for (k, v) in read_catalog(t, &mut errors)? {
            catalog.entry(k).or_insert(v);
        }
    }
    let train_table = read_votes(&opts.train, true, replay, &catalog, &mut errors)?;
    let test_table = match &opts.test {
        Some(t) => Some(read_votes(t, false, replay, &catalog, &mut errors)?),
        None => None,
    };
    let revotes_replaced = train_table.replaced + test_table.as_ref().map_or(0, |t| t.replaced);

    // Proposal features: titles and order from the votes, else from proposals.csv; the body
    // and end time from proposals.csv.
    let mut props: BTreeMap<String, PropInfo> = BTreeMap::new();
    let all_rows = train_table
        .rows
        .iter()
        .chain(test_table.iter().flat_map(|t| t.rows.iter()));
    for (i, r) in all_rows.enumerate() {
        let cat = catalog.get(&r.proposal);
        let title = r
            .title
            .clone()
            .or_else(|| cat.and_then(|c| c.title.clone()))
            .unwrap_or_default();
        let order = r
            .order
            .or_else(|| cat.and_then(|c| c.order))
            .unwrap_or(1e12 + i as f64);
        props.entry(r.proposal.clone()).or_insert_with(|| PropInfo {
            title,
            order,
            body: cat.and_then(|c| c.body.clone()).unwrap_or_default(),
            end: cat.and_then(|c| c.end),
        });
    }
    // Choice labels: those used in training, most frequent first.
    let mut freq: HashMap<String, usize> = HashMap::new();
    for r in &train_table.rows {
        if let Some(c) = &r.choice {
            *freq.entry(c.clone()).or_default() += 1;
        }
    }
    let mut labels: Vec<(String, usize)> = freq.into_iter().collect();
    labels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let choices: Vec<String> = labels.iter().map(|(l, _)| l.clone()).collect();
    let always = choices
        .iter()
        .find(|c| c.eq_ignore_ascii_case("for"))
        .or(choices.first())
        .cloned()
        .unwrap_or_default();

    let texts: Vec<TextRow> = match &opts.profile {
        Some(path) if embed.is_none() => {
            return Err(EvalError::ProfileNeedsEmbeddings { path: path.clone() });
        }
        Some(path) => read_profile(path, &mut errors)?,
        None => Vec::new(),
    };
    let (embeddings, text_vecs): (HashMap<String, Vec<f32>>, Vec<Vec<f32>>) = match embed {
        Some(f) => {
            let ids: Vec<&String> = props.keys().collect();
            // What `decide` embeds: the sanitized title and the opening of the body (the title
            // alone where there is no body, as before bodies were read).
            let mut batch: Vec<String> = ids
                .iter()
                .map(|id| {
                    let p = &props[*id];
                    let r = ReadableProposal::of(&row_proposal(id, &p.title, &p.body, &[]));
                    if r.body.trim().is_empty() {
                        p.title.clone()
                    } else {
                        r.embed_text()
                    }
                })
                .collect();
            batch.extend(texts.iter().map(|t| t.text.clone()));
            let mut vecs = f(&batch).map_err(EvalError::Embed)?;
            if vecs.len() != batch.len() {
                return Err(EvalError::Embed(format!(
                    "{} texts in, {} vectors out",
                    batch.len(),
                    vecs.len()
                )));
            }
            let text_vecs = vecs.split_off(ids.len());
            (ids.into_iter().cloned().zip(vecs).collect(), text_vecs)
        }
        None => (HashMap::new(), Vec::new()),
    };
    let features = |id: &str| -> ProposalFeatures {
        let PropInfo { title, order, .. } = props.get(id).cloned().unwrap_or_default();
        ProposalFeatures {
            id: id.to_owned(),
            title,
            order,
            choices: choices.clone(),
            embedding: embeddings.get(id).cloned(),
        }
    };

    // Train and test rows per voter. In replay the split follows the voter's own vote times.
    let order_of = |r: &VoteRow| match r.time.filter(|_| replay) {
        Some(t) => t,
        None => props.get(&r.proposal).map_or(0.0, |p| p.order),
    };
    let (train, test, labelled): (Vec<&VoteRow>, Vec<&VoteRow>, bool) = match &test_table {
        None => {
            let mut by: BTreeMap<&str, Vec<&VoteRow>> = BTreeMap::new();
            for r in &train_table.rows {
                by.entry(&r.voter).or_default().push(r);
            }
            let (mut tr, mut te) = (Vec::new(), Vec::new());
            for rows in by.values_mut() {
                if rows.len() < opts.min_votes {
                    tr.extend(rows.iter().copied());
                    continue;
                }
                rows.sort_by(|a, b| {
                    order_of(a)
                        .total_cmp(&order_of(b))
                        .then_with(|| a.proposal.cmp(&b.proposal))
                });
                let k = (opts.split * rows.len() as f64).floor() as usize;
                tr.extend(rows[..k].iter().copied());
                te.extend(rows[k..].iter().copied());
            }
            (tr, te, true)
        }
        Some(t) => {
            let mut count: HashMap<&str, usize> = HashMap::new();
            for r in train_table.rows.iter().chain(&t.rows) {
                *count.entry(&r.voter).or_default() += 1;
            }
            let te = t
                .rows
                .iter()
                .filter(|r| count.get(r.voter.as_str()).copied().unwrap_or(0) >= opts.min_votes)
                .collect();
            (train_table.rows.iter().collect(), te, t.has_choice)
        }
    };
    // The rows decided: all test rows, or a seeded sample of them (`--limit`). Peers' visible
    // votes still come from every test row.
    let decided = sample(test.clone(), opts.limit, opts.model.seed);
    let mut test_by: BTreeMap<&str, Vec<&VoteRow>> = BTreeMap::new();
    for r in &decided {
        test_by.entry(&r.voter).or_default().push(r);
    }
    if test_by.is_empty() {
        return Err(EvalError::Empty {
            min_votes: opts.min_votes,
            path: opts.test.clone().unwrap_or_else(|| opts.train.clone()),
        });
    }
    // `--ask-budget`: questions per voter, and how far apart two proposals are.
    let asking = opts.ask_budget.filter(|f| *f > 0.0);
    if asking.is_some() && !labelled {
        return Err(EvalError::Options(format!(
            "--ask-budget answers questions from the held labels: {} has no `choice` column",
            opts.test.as_deref().unwrap_or(&opts.train).display()
        )));
    }
    let allowance = ask::allocate(
        asking.unwrap_or(0.0),
        test_by.iter().map(|(v, rows)| (*v, rows.len())),
    );
    let similarity = if asking.is_some() {
        ask::Similarity::new(props.iter().map(|(id, p)| (id.as_str(), p.title.as_str())))
    } else {
        ask::Similarity::default()
    };
    let mut ask_fig = AskFigures {
        budget: opts.ask_budget.unwrap_or(0.0),
        threshold: opts.ask_threshold,
        allowed: allowance.values().sum(),
        ..AskFigures::default()
    };
    let mut train_by: HashMap<&str, Vec<&VoteRow>> = HashMap::new();
    for r in &train {
        train_by.entry(&r.voter).or_default().push(r);
    }
    let peer_visible = opts.mode != EvalMode::Blind;
    // Everyone's labelled votes, for peers: train rows always; with visible votes test rows too
    // (they are other voters' votes, visible on the hub; a voter's own test rows never are).
    let peer_pool: Vec<PeerVote<'_>> = train
        .iter()
        .chain(if peer_visible && labelled {
            test.iter()
        } else {
            [].iter()
        })
        .filter_map(|r| {
            r.choice.as_deref().map(|c| PeerVote {
                voter: &r.voter,
                proposal_id: &r.proposal,
                choice: c,
            })
        })
        .collect();
    let mut on_proposal: HashMap<&str, Vec<PeerVote<'_>>> = HashMap::new();
    if opts.mode == EvalMode::FinalTallies {
        for v in &peer_pool {
            // `--visible F`: a seeded share of the other votes is shown.
            if opts
                .visible
                .is_none_or(|f| replay::visible_coin(opts.model.seed, v.voter, v.proposal_id) < f)
            {
                on_proposal.entry(v.proposal_id).or_default().push(*v);
            }
        }
    }
    // Replay: every vote event (re-votes too) per proposal, in time order.
    let events = if replay {
        Events::new(
            train_table
                .all
                .iter()
                .chain(test_table.iter().flat_map(|t| t.all.iter())),
        )
    } else {
        Events::default()
    };
    // What replay shows for `voter`'s vote at `time` on `proposal`.
    let cutoff = |proposal: &str, time: f64| -> Option<f64> {
        match opts.before_end {
            None => Some(time),
            Some(h) => props
                .get(proposal)
                .and_then(|p| p.end)
                .map(|end| time.min(end - h * 3600.0)),
        }
    };
    // Each voter's last vote per proposal, for the delegation baselines (any time: a delegate's
    // vote is cast whenever it votes).
    let mut final_votes: HashMap<String, HashMap<String, String>> = HashMap::new();
    for r in train
        .iter()
        .chain(if labelled { test.iter() } else { [].iter() })
    {
        if let Some(c) = &r.choice {
            final_votes
                .entry(r.proposal.clone())
                .or_default()
                .insert(r.voter.clone(), c.clone());
        }
    }

    let total = test_by.len();
    let mut outcomes = Vec::new();
    let mut vm_outcomes = Vec::new();
    let mut cast: Vec<bool> = Vec::new();
    let mut timed: Vec<(f64, bool)> = Vec::new();
    let (mut n_always, mut n_major, mut n_scored) = (0usize, 0usize, 0usize);
    let mut counts = PolicyCounts {
        min_confidence_low: opts.policy.min_confidence_low,
        min_confidence_high: opts.policy.min_confidence_high,
        dissent_share: opts.policy.dissent_share,
        ..PolicyCounts::default()
    };
    let mut llm = LlmUse {
        weight: opts.weights.llm,
        ..LlmUse::default()
    };
    let mut text_use = TextUse::default();
    let mut per_voter = Vec::with_capacity(total);
    let (mut delegate_all, mut crowd_all) = (Tally::default(), Tally::default());
    let (mut beating, mut not_beating) = (0usize, 0usize);
    let mut against = AgainstFigures::default();
    let mut replay_fig = ReplayFigures {
        before_end_hours: opts.before_end,
        ..ReplayFigures::default()
    };
    let mut visible_total = 0usize;
    let (mut rows_without_body, mut rows_without_history) = (0usize, 0usize);
    for (done, (voter, rows)) in test_by.iter().enumerate() {
        progress(done, total);
        let train_rows: Vec<&VoteRow> = train_by.get(voter).cloned().unwrap_or_default();
        let mut history: Vec<LabeledVote> = train_rows
            .iter()
            .filter_map(|r| {
                r.choice.as_ref().map(|c| LabeledVote {
                    proposal: features(&r.proposal),
                    choice: c.clone(),
                })
            })
            .collect();
        // Replay fits peers on what was visible when the voter voted on each training
        // proposal, so the live head learns from the same kind of view it is used with.
        let mut replay_peers: Vec<(String, String, String)> = if replay {
            train_rows
                .iter()
                .filter_map(|r| r.time.map(|t| (r, t)))
                .flat_map(|(r, t)| {
                    let seen = cutoff(&r.proposal, t)
                        .map(|c| events.before(&r.proposal, voter, c))
                        .unwrap_or_default();
                    seen.into_iter()
                        .map(|(v, c)| (v.to_owned(), r.proposal.clone(), c.to_owned()))
                })
                .collect()
        } else {
            Vec::new()
        };
        // Fitted again after each answer (`--ask-budget`), so the answer teaches the rows after.
        let fit = |history: &[LabeledVote], replay_peers: &[(String, String, String)]| {
            let peers: Vec<PeerVote<'_>> = match opts.mode {
                EvalMode::FinalTallies => peer_pool
                    .iter()
                    .filter(|v| v.voter != *voter)
                    .copied()
                    .collect(),
                EvalMode::Replay => replay_peers
                    .iter()
                    .map(|(v, p, c)| PeerVote {
                        voter: v,
                        proposal_id: p,
                        choice: c,
                    })
                    .collect(),
                EvalMode::Blind => Vec::new(),
            };
            VoterModel::fit(history, &peers, &opts.model)
        };
        let mut model = fit(&history, &replay_peers);
        let majority = majority_label(&history, &choices);
        let mine_train: Vec<(&str, &str)> = train_rows
            .iter()
            .filter_map(|r| r.choice.as_deref().map(|c| (r.proposal.as_str(), c)))
            .collect();
        let delegate = replay::best_delegate(voter, &mine_train, &final_votes);
        let (mut delegate_tally, mut crowd_tally) = (Tally::default(), Tally::default());
        // The voter's profile as `decide` reads it: their statements and writing, and their
        // training votes (peers reach the decision through the voter model, which is given).
        let items: Vec<ProfileEntry<'_>> = texts
            .iter()
            .zip(&text_vecs)
            .enumerate()
            .filter(|(_, (t, _))| t.voter == *voter)
            .map(|(i, (t, v))| ProfileEntry {
                id: i as i64 + 1,
                kind: t.kind,
                text: &t.text,
                stance: stance_of(&t.text),
                vector: v,
            })
            .collect();
        if !items.is_empty() {
            text_use.voters += 1;
            for it in &items {
                match it.kind {
                    ProfileKind::Writing => text_use.writing += 1,
                    _ => text_use.statements += 1,
                }
            }
        }
        let user_votes: Vec<PastVote<'_>> = train_rows
            .iter()
            .filter_map(|r| {
                r.choice.as_deref().map(|c| PastVote {
                    voter: &r.voter,
                    proposal_ref: &r.proposal,
                    title: props.get(&r.proposal).map_or("", |p| p.title.as_str()),
                    choice: c,
                    reason: None,
                    ord: props.get(&r.proposal).map(|p| p.order as i64),
                    vector: embeddings.get(&r.proposal).map_or(&[][..], Vec::as_slice),
                })
            })
            .collect();
        // What `decide` reads from the profile's peer votes: others' final votes on the
        // voter's training proposals, through the same function.
        let me: &str = voter;
        let trained: HashSet<&str> = mine_train.iter().map(|(p, _)| *p).collect();
        let others: Vec<PastVote<'_>> = trained
            .iter()
            .flat_map(|&p| {
                final_votes
                    .get(p)
                    .into_iter()
                    .flatten()
                    .filter(|(who, _)| who.as_str() != me)
                    .map(move |(who, choice)| PastVote {
                        voter: who,
                        proposal_ref: p,
                        title: "",
                        choice,
                        reason: None,
                        ord: None,
                        vector: &[],
                    })
            })
            .collect();
        let usual_dissent = steward_core::usual_dissent(&user_votes, &others);
        let mut view = DecisionProfile {
            items,
            user_votes,
            peer_votes: Vec::new(),
            trusted: &[],
            ignored: &[],
            usual_dissent,
        };
        let mut mine = Vec::with_capacity(rows.len());
        let mut mine_cast = Vec::with_capacity(rows.len());
        let mut major_right = 0usize;
        let mut used_live = false;
        // Asking goes through the rows in the order they arrive: time (vote time in replay,
        // else order_rank), then file line.
        let mut ordered: Vec<&VoteRow> = rows.clone();
        if asking.is_some() {
            ordered.sort_by(|a, b| {
                order_of(a)
                    .total_cmp(&order_of(b))
                    .then(a.line.cmp(&b.line))
            });
        }
        let mut left = allowance.get(voter).copied().unwrap_or(0);
        let mut asked_here: Vec<&str> = Vec::new();
        for &r in &ordered {
            let p = features(&r.proposal);
            let info = props.get(&r.proposal).cloned().unwrap_or_default();
            let visible: Vec<PeerVote<'_>> = match opts.mode {
                EvalMode::Replay => {
                    let t = r.time.unwrap_or(f64::NEG_INFINITY);
                    let c = cutoff(&r.proposal, t);
                    if c.is_none() {
                        replay_fig.rows_without_end += 1;
                    }
                    let seen = c
                        .map(|c| events.before(&r.proposal, voter, c))
                        .unwrap_or_default();
                    replay_fig.same_time_hidden += events.at(&r.proposal, voter, t);
                    seen.into_iter()
                        .map(|(v, c)| PeerVote {
                            voter: v,
                            proposal_id: &r.proposal,
                            choice: c,
                        })
                        .collect()
                }
                _ => on_proposal
                    .get(r.proposal.as_str())
                    .map(|vs| vs.iter().filter(|v| v.voter != *voter).copied().collect())
                    .unwrap_or_default(),
            };
            visible_total += visible.len();
            replay_fig.rows_seeing_none += usize::from(visible.is_empty());
            let pred = model
                .predict(&p, &visible)
                .map_err(|e| EvalError::Options(format!("{} line {}: {e}", r.voter, r.line)))?;
            used_live |= pred.live;
            let seen: Vec<Vote> = visible
                .iter()
                .filter_map(|v| {
                    choices.iter().position(|c| c == v.choice).map(|i| Vote {
                        id: String::new(),
                        voter: v.voter.to_owned(),
                        choice: serde_json::json!(i + 1),
                        power: "1".into(),
                        reason: None,
                        created: None,
                    })
                })
                .collect();
            rows_without_body += usize::from(info.body.trim().is_empty());
            let proposal = row_proposal(&r.proposal, &p.title, &info.body, &choices);
            let readable = ReadableProposal::of(&proposal);
            let vector = p.embedding.as_deref().unwrap_or(&[]);
            let vm_confidence = pred.confidence;
            let vm_label = pred.label().to_owned();
            // A voter with no training votes has nothing the model could judge by: the core
            // then asks (never a confident guess from uniform probabilities).
            let history_model = if history.is_empty() {
                rows_without_history += 1;
                HistoryModel::Off
            } else {
                HistoryModel::Given(pred)
            };
            let input = DecisionInput {
                key: &r.proposal,
                proposal: &proposal,
                title: &readable.title,
                body: &readable.body,
                flags: readable.flags.clone(),
                profile: &view,
                proposal_vector: vector,
                title_vector: vector,
                visible: &seen,
                history_model,
                failures: Vec::new(),
                models: Vec::new(),
                policy: opts.policy,
                weights: opts.weights,
                seed: opts.model.seed,
            };
            let gathered = steward_core::gather(&input);
            let judgement = match judge.as_deref_mut() {
                Some(j) if gathered.wants_judgement() => {
                    j(&readable, &choices, gathered.evidence())
                }
                _ => Judgement::NotRun,
            };
            match &judgement {
                Judgement::Given { .. } => llm.used += 1,
                Judgement::Failed(_) => llm.failed += 1,
                Judgement::NotRun => {}
            }
            let d = steward_core::conclude(&input, gathered, judgement);
            // A row the policy would vote on anyway is not worth a question: the answer would
            // mostly confirm it, and the vote is lost from coverage.
            if left > 0 && d.action != DecisionAction::Vote {
                let novelty = similarity.novelty(&r.proposal, &asked_here, &embeddings);
                let score = ask::teach_score(d.confidence, choices.len(), d.importance, novelty);
                // Only once the agent has chosen to ask is the held label read: the user's
                // answer. It joins the history, and the model is fitted again before the next row.
                if let Some(answer) = r
                    .choice
                    .as_deref()
                    .filter(|_| score > 0.0 && score >= opts.ask_threshold)
                {
                    left -= 1;
                    asked_here.push(&r.proposal);
                    ask_fig.asked += 1;
                    if answer.eq_ignore_ascii_case("against") {
                        against.n += 1;
                        against.asked += 1;
                        ask_fig.against_asked += 1;
                    }
                    if let Some(w) = predictions.as_deref_mut() {
                        let line = PredictionLine {
                            voter,
                            proposal_id: &r.proposal,
                            choice: answer,
                            probabilities: BTreeMap::new(),
                            confidence: d.confidence,
                            action: "asked",
                        };
                        let path = PathBuf::from("--predictions");
                        let json = serde_json::to_string(&line)
                            .map_err(|e| io(&path, "writing")(std::io::Error::other(e)))?;
                        writeln!(w, "{json}").map_err(io(&path, "writing"))?;
                    }
                    if replay {
                        replay_peers.extend(visible.iter().map(|v| {
                            (v.voter.to_owned(), r.proposal.clone(), v.choice.to_owned())
                        }));
                    }
                    history.push(LabeledVote {
                        proposal: features(&r.proposal),
                        choice: answer.to_owned(),
                    });
                    view.user_votes.push(PastVote {
                        voter: &r.voter,
                        proposal_ref: &r.proposal,
                        title: props.get(&r.proposal).map_or("", |p| p.title.as_str()),
                        choice: answer,
                        reason: None,
                        ord: props.get(&r.proposal).map(|p| p.order as i64),
                        vector: embeddings.get(&r.proposal).map_or(&[][..], Vec::as_slice),
                    });
                    model = fit(&history, &replay_peers);
                    continue;
                }
            }
            if d.evidence.iter().any(|e| {
                matches!(
                    e.kind,
                    steward_core::EvidenceKind::Statement | steward_core::EvidenceKind::Writing
                ) && e.leans.is_some()
            }) {
                text_use.rows_matched += 1;
            }
            match d.action {
                DecisionAction::Vote => counts.vote += 1,
                DecisionAction::Ask => counts.ask += 1,
                DecisionAction::Skip => counts.skip += 1,
            }
            let label = d.choice.clone().unwrap_or_default();
            if let Some(w) = predictions.as_deref_mut() {
                // Decisions keep three decimals; the line's probabilities still sum to 1.
                let sum: f64 = d.probabilities.iter().sum();
                let line = PredictionLine {
                    voter,
                    proposal_id: &r.proposal,
                    choice: &label,
                    probabilities: d
                        .choices
                        .iter()
                        .map(String::as_str)
                        .zip(d.probabilities.iter().map(|q| q / sum))
                        .collect(),
                    confidence: d.confidence,
                    action: d.action.as_str(),
                };
                let path = PathBuf::from("--predictions");
                let json = serde_json::to_string(&line)
                    .map_err(|e| io(&path, "writing")(std::io::Error::other(e)))?;
                writeln!(w, "{json}").map_err(io(&path, "writing"))?;
            }
            if let Some(truth) = r.choice.as_deref().filter(|_| labelled) {
                let o = Outcome {
                    confidence: d.confidence,
                    correct: label.eq_ignore_ascii_case(truth),
                };
                mine.push(o);
                mine_cast.push(d.action == DecisionAction::Vote);
                outcomes.push(o);
                cast.push(d.action == DecisionAction::Vote);
                vm_outcomes.push(Outcome {
                    confidence: vm_confidence,
                    correct: vm_label.eq_ignore_ascii_case(truth),
                });
                timed.push((r.order.unwrap_or(0.0), o.correct));
                n_scored += 1;
                n_always += usize::from(truth.eq_ignore_ascii_case(&always));
                if majority.eq_ignore_ascii_case(truth) {
                    major_right += 1;
                    n_major += 1;
                }
                if truth.eq_ignore_ascii_case("against") {
                    against.n += 1;
                    if label.eq_ignore_ascii_case("against") {
                        against.predicted += 1;
                    } else if d.action == DecisionAction::Ask {
                        against.asked += 1;
                    }
                }
                let delegated = delegate.and_then(|(peer, _, _)| {
                    final_votes
                        .get(&r.proposal)
                        .and_then(|vs| vs.get(peer))
                        .map(String::as_str)
                });
                delegate_tally.add(delegated, truth, o.correct);
                if peer_visible {
                    let crowd_votes: Vec<&str> = visible.iter().map(|v| v.choice).collect();
                    crowd_tally.add(replay::crowd(&crowd_votes, &choices), truth, o.correct);
                }
            }
        }
        let (cov, acc) = cast_figures(&mine, &mine_cast);
        let head = if used_live {
            model.live_head().unwrap_or(model.blind_head())
        } else {
            model.blind_head()
        };
        let forced = metrics::accuracy(&mine);
        let delegate_agreement = delegate_tally.figures().map(|f| f.agreement);
        let gain = forced.zip(delegate_agreement).map(|(a, d)| a - d);
        match gain {
            Some(g) if g > 0.0 => beating += 1,
            Some(_) => not_beating += 1,
            None => {}
        }
        delegate_all.merge(&delegate_tally);
        crowd_all.merge(&crowd_tally);
        per_voter.push(VoterReport {
            voter: (*voter).to_owned(),
            n_train: history.len(),
            n_test: rows.len(),
            forced_accuracy: forced,
            auto_accuracy: acc,
            coverage: if labelled { cov } else { rows.len() as f64 },
            voter_majority: (!mine.is_empty()).then(|| major_right as f64 / mine.len() as f64),
            calibrator: head.calibrator.name().to_owned(),
            best_delegate: delegate.map(|d| d.0.to_owned()),
            delegate_agreement,
            agent_minus_delegate: gain,
        });
    }
    progress(total, total);
    let n_test = decided.len();
    let ratio = |k: usize| (n_scored > 0).then(|| k as f64 / n_scored as f64);
    let table = metrics::reliability(&outcomes, 10);
    let (coverage, auto_accuracy) = cast_figures(&outcomes, &cast);
    let vm_table = metrics::reliability(&vm_outcomes, 10);
    let vm_cov = metrics::coverage(&vm_outcomes, opts.threshold);
    let over_time = over_time(&mut timed, 10);
    let asked = if n_scored > 0 {
        counts.ask as f64 / (counts.vote + counts.ask + counts.skip).max(1) as f64
    } else {
        0.0
    };
    let forced_accuracy = metrics::accuracy(&outcomes);
    let best_delegate = delegate_all.figures();
    if against.n > 0 {
        against.caught = (against.predicted + against.asked) as f64 / against.n as f64;
    }
    replay_fig.mean_visible = visible_total as f64 / n_test.max(1) as f64;
    ask_fig.asked_share = ask_fig.asked as f64 / n_test.max(1) as f64;
    ask_fig.coverage_of_all = counts.vote as f64 / (n_scored + ask_fig.asked).max(1) as f64;
    Ok(EvalReport {
        mode: opts.mode,
        forced_accuracy,
        auto_accuracy,
        coverage,
        ask_rate: asked,
        ece: (!outcomes.is_empty()).then(|| metrics::ece(&table)),
        n_test,
        n_voters: total,
        threshold: opts.threshold,
        policy: counts,
        llm,
        text: text_use,
        voter_model: VoterModelFigures {
            forced_accuracy: metrics::accuracy(&vm_outcomes),
            auto_accuracy: vm_cov.accuracy,
            coverage: vm_cov.coverage,
            ece: (!vm_outcomes.is_empty()).then(|| metrics::ece(&vm_table)),
            threshold: opts.threshold,
        },
        baselines: Baselines {
            always_for: ratio(n_always),
            voter_majority: ratio(n_major),
            best_delegate,
            crowd_so_far: crowd_all.figures(),
        },
        agent_minus_best_delegate: forced_accuracy
            .zip(best_delegate)
            .map(|(a, d)| a - d.agreement),
        voters_beating_delegate: beating,
        voters_not_beating_delegate: not_beating,
        against: (against.n > 0).then_some(against),
        replay: replay.then_some(replay_fig),
        ask: opts.ask_budget.map(|_| ask_fig),
        ask_curve: Vec::new(),
        revotes_replaced,
        rows_without_body,
        rows_without_history,
        reliability: table,
        over_time,
        per_voter,
        embeddings: !embeddings.is_empty(),
        skipped_rows: errors,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The share of scored rows the decision path cast, and its accuracy on them.
fn cast_figures(outcomes: &[Outcome], cast: &[bool]) -> (f64, Option<f64>) {
    if outcomes.is_empty() {
        return (0.0, None);
    }
    let voted: Vec<&Outcome> = outcomes
        .iter()
        .zip(cast)
        .filter(|(_, c)| **c)
        .map(|(o, _)| o)
        .collect();
    let coverage = voted.len() as f64 / outcomes.len() as f64;
    let accuracy = (!voted.is_empty())
        .then(|| voted.iter().filter(|o| o.correct).count() as f64 / voted.len() as f64);
    (coverage, accuracy)
}

/// The voter's most common training label (ties: the more common label overall).
fn majority_label(history: &[LabeledVote], choices: &[String]) -> String {
    let mut best = (0usize, usize::MAX, String::new());
    for (rank, c) in choices.iter().enumerate() {
        let n = history.iter().filter(|v| v.choice == *c).count();
        if n > best.0 || (n == best.0 && rank < best.1) {
            best = (n, rank, c.clone());
        }
    }
    best.2
}
