//! `steward judge --question Q --verdicts a,b,c --private FILE...` and `steward judge list`: the
//! private-information judge (docs/privacy.md). The documents are read by a confined model
//! worker started for this judgement alone, with those files readable; this process only hashes
//! them (streaming, nothing kept) to check what the worker reports, and receives the verdict's
//! index. Every judgement is recorded (hashes, verdict, commitment) and audited; `--post` sends
//! it as an ERC-8004 validation response.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use steward_agent::identity::IdentityContext;
use steward_agent::judge::{self, Judgement, PostArgs};
use steward_agent::{Keys, Network, env};
use steward_ml::WorkerProcess;
use steward_ml::judge::{InputDigest, JudgeFault, JudgeSpec};

use crate::ctx::Ctx;
use crate::output::Output;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct JudgeArgs {
    #[command(subcommand)]
    command: Option<JudgeCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum JudgeCommand {
    /// The judgements recorded in the store, newest first (hashes and verdicts only)
    List,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The question the documents answer
    #[arg(long, value_name = "TEXT")]
    question: Option<String>,
    /// The verdicts it may have, comma-separated, declared in advance (2..=16)
    #[arg(long, value_name = "A,B,...", allow_hyphen_values = true)]
    verdicts: Option<String>,
    /// A private text file the judge reads (repeatable); only its SHA-256 and size are kept
    #[arg(long = "private", value_name = "FILE")]
    private: Vec<PathBuf>,
    /// Return no sooner than this many milliseconds after starting, so that the time taken does
    /// not show how long the model read (docs/privacy.md)
    #[arg(long, default_value_t = 8000, value_name = "MS")]
    min_ms: u64,
    /// Post the verdict as an ERC-8004 validation response (signed with casting.key)
    #[arg(long, requires_all = ["rpc", "agent_id", "registry"])]
    post: bool,
    /// The chain's JSON-RPC URL (with --post)
    #[arg(long, value_name = "URL")]
    rpc: Option<String>,
    /// The agent whose validation request is answered (with --post)
    #[arg(long, value_name = "N")]
    agent_id: Option<String>,
    /// The validation registry's address (with --post)
    #[arg(long, value_name = "ADDRESS")]
    registry: Option<String>,
    /// The request answered [default: the commitment]
    #[arg(long, value_name = "HASH")]
    request_hash: Option<String>,
    /// The response for each verdict, in order, 0..=100 [default: the index scaled to 0..=100]
    #[arg(long, value_name = "S,S,...", value_delimiter = ',')]
    scores: Vec<u8>,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, args: JudgeArgs) -> Result<ExitCode> {
    match args.command {
        Some(JudgeCommand::List) => list(ctx, out),
        None => judge_cmd(ctx, out, args.run),
    }
}

fn list(ctx: &Ctx, out: &Output) -> Result<ExitCode> {
    let (_home, store) = ctx.open_store()?;
    let rows = store.judgements()?;
    out.result(&rows, || {
        if rows.is_empty() {
            return "no judgements yet (`steward judge --question Q --verdicts a,b --private FILE`)\n"
                .into();
        }
        let mut s = String::new();
        for r in &rows {
            let j = &r.judgement;
            let _ = writeln!(
                s,
                "#{} {} {:?} -> {} (of {}) commitment {}{}",
                r.id,
                r.created,
                j.question,
                j.verdict,
                j.verdicts.join(", "),
                j.commitment,
                if r.same_commitment > 1 {
                    format!(" [asked {} times]", r.same_commitment)
                } else {
                    String::new()
                }
            );
            for (i, d) in j.inputs.iter().enumerate() {
                let _ = writeln!(s, "    private {i}: sha256 {} ({} bytes)", d.sha256, d.bytes);
            }
            if let Some(p) = &r.posted {
                let _ = writeln!(s, "    posted: {p}");
            }
        }
        s
    });
    Ok(ExitCode::SUCCESS)
}

/// Splits `--verdicts` on commas (an empty value is an empty list).
fn split_verdicts(v: &str) -> Vec<String> {
    if v.is_empty() {
        return Vec::new();
    }
    v.split(',').map(str::to_owned).collect()
}

/// A fault with the file's path added (the path is the user's own argument, never content).
fn fault_error(f: JudgeFault, files: &[PathBuf]) -> anyhow::Error {
    match f.file_index().and_then(|i| files.get(i)) {
        Some(p) => anyhow!("{f} ({})", p.display()),
        None => anyhow!("{f}"),
    }
}

fn judge_cmd(ctx: &Ctx, out: &Output, a: RunArgs) -> Result<ExitCode> {
    let question = a
        .question
        .as_deref()
        .context("--question is required (or `steward judge list`)")?;
    let verdicts = a.verdicts.as_deref().context("--verdicts is required")?;
    let spec = JudgeSpec::new(question, split_verdicts(verdicts))?;
    if a.private.is_empty() {
        bail!("--private is required: at least one private file to judge");
    }
    if a.private.len() > steward_ml::judge::MAX_DOCUMENTS {
        return Err(fault_error(JudgeFault::TooManyFiles, &a.private));
    }
    // Hash first (this process never keeps the bytes): a missing or oversized file is named
    // before anything starts, and the worker's report is checked against these.
    let mut files = Vec::with_capacity(a.private.len());
    let mut inputs: Vec<InputDigest> = Vec::with_capacity(a.private.len());
    for (i, p) in a.private.iter().enumerate() {
        let d = steward_ml::judge::digest_file(i, p).map_err(|f| fault_error(f, &a.private))?;
        let abs = std::fs::canonicalize(p)
            .map_err(|e| anyhow!("private file {i} ({}): {e}", p.display()))?;
        if files.contains(&abs) {
            bail!(
                "private file {i} ({}) is given twice; name each file once",
                p.display()
            );
        }
        files.push(abs);
        inputs.push(d);
    }
    let post = if a.post {
        let registry = a.registry.as_deref().unwrap_or_default();
        let request_hash = a
            .request_hash
            .as_deref()
            .map(|h| {
                h.parse()
                    .map_err(|_| anyhow!("--request-hash {h:?} is not a 32-byte hex hash"))
            })
            .transpose()?;
        Some(PostArgs {
            rpc: a.rpc.clone().unwrap_or_default(),
            registry: registry
                .parse()
                .map_err(|_| anyhow!("--registry {registry:?} is not an address"))?,
            agent_id: a.agent_id.clone().unwrap_or_default(),
            request_hash,
            scores: a.scores.clone(),
        })
    } else {
        if !a.scores.is_empty() || a.request_hash.is_some() {
            bail!("--scores and --request-hash go with --post");
        }
        None
    };
    if let Some(p) = &post {
        // A bad mapping is refused before the documents are read.
        judge::score(0, spec.verdicts().len(), &p.scores)?;
    }
    let (home, mut store) = ctx.open_store()?;
    let cfg = ctx.config(&home)?;
    let password = match post {
        Some(_) => Some(Ctx::keystore_password(false)?),
        None => None,
    };
    let models_dir = super::model::models_dir(ctx)?;

    let start = Instant::now();
    let floor = Duration::from_millis(a.min_ms);
    let verdict = judge_in_worker(&models_dir, &spec, &files, &inputs);
    // Padded whatever the outcome: a refusal takes as long as a verdict.
    let overran = steward_ml::judge::pad_to(start, floor);
    if overran && a.min_ms > 0 {
        tracing::warn!(
            min_ms = a.min_ms,
            "the judgement took longer than --min-ms: its duration may reflect the documents' length"
        );
    }
    let index = verdict?;
    let j = Judgement::new(&spec, index, inputs);
    let earlier = store.judgements_with(&j.commitment)?;
    let id = store.record_judgement(&j)?;

    let posted = match post {
        None => None,
        Some(p) => {
            let keys = Keys::new(&home);
            let network = Network::from_config(&cfg)?;
            let ictx = IdentityContext {
                home: &home,
                config: &cfg,
                keys: &keys,
                password: password.as_ref(),
                network: &network,
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let posted = rt.block_on(judge::post(ictx, &j, &p))?;
            let v = serde_json::to_value(&posted)?;
            store.judgement_posted(id, &v)?;
            Some(v)
        }
    };

    #[derive(serde::Serialize)]
    struct Shown<'a> {
        #[serde(flatten)]
        judgement: &'a Judgement,
        #[serde(skip_serializing_if = "Option::is_none")]
        posted: Option<&'a serde_json::Value>,
    }
    out.result(
        &Shown {
            judgement: &j,
            posted: posted.as_ref(),
        },
        || {
            let mut s = format!(
                "verdict: {}  (of {})\ncommitment: {}\n",
                j.verdict,
                j.verdicts.join(", "),
                j.commitment
            );
            for (i, d) in j.inputs.iter().enumerate() {
                let _ = writeln!(s, "private {i}: sha256 {} ({} bytes)", d.sha256, d.bytes);
            }
            let _ = writeln!(
                s,
                "model: {} sha256 {}\ntemplate sha256: {}  seed: {}",
                j.model.file, j.model.sha256, j.template_sha256, j.seed
            );
            if earlier > 0 {
                let _ = writeln!(
                    s,
                    "note: the same question about the same documents was judged {earlier} time(s) before (steward judge list)"
                );
            }
            if let Some(p) = &posted {
                let _ = writeln!(s, "posted: {p}");
            }
            s
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// Starts a judge worker for `files` and asks it; the worker goes when this returns.
fn judge_in_worker(
    models_dir: &Path,
    spec: &JudgeSpec,
    files: &[PathBuf],
    inputs: &[InputDigest],
) -> Result<usize> {
    let exe = std::env::current_exe().context("locating the steward binary for the worker")?;
    let mut cmd = Command::new(exe);
    cmd.arg("model-worker").arg("--models-dir").arg(models_dir);
    for f in files {
        cmd.arg("--private").arg(f);
    }
    if cfg!(debug_assertions)
        && let Some(skip) = Ctx::getenv(env::STEWARD_TEST_SKIP_CONFINEMENT)
    {
        for layer in skip.split(',').map(str::trim).filter(|l| !l.is_empty()) {
            cmd.arg("--test-skip").arg(layer);
        }
    }
    // Nothing the worker writes on stderr reaches the user: a library could log what it read.
    cmd.stderr(Stdio::null());
    let mut w = WorkerProcess::spawn(cmd).context("starting the judge's model worker")?;
    super::model::require_confined_worker(&w)?;
    w.judge(spec, files, inputs)
        .map_err(|f| fault_error(f, files))
}
