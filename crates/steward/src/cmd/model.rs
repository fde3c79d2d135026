//! `steward model info|embed|generate`, and the hidden `steward model-worker` that runs the
//! models in a confined child process.
//!
//! By default `embed` and `generate` start the worker (this same binary, `model-worker`), which
//! confines itself (Landlock: read-only model files; seccomp: no sockets, io_uring, ptrace,
//! exec, ...) before loading a model; `--in-process` runs the engine here instead. A worker that
//! could not confine itself is refused unless the user chose `models.allow_unconfined`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use steward_agent::{Config, env};
use steward_ml::{
    BertEmbedder, Embedder, FileStatus, GenerateRequest, Generator, JsonSchema, LlamaGenerator,
    LlamaOptions, Sampling, WorkerProcess,
};

use crate::ctx::Ctx;
use crate::output::Output;

#[derive(Debug, Args)]
pub(crate) struct ModelArgs {
    #[command(subcommand)]
    pub(crate) command: ModelCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ModelCommand {
    /// The embedded models: engines, files, hashes, licenses, and the worker's confinement
    Info,
    /// Embed texts (all-MiniLM-L6-v2, 384 dimensions, unit length)
    Embed(EmbedArgs),
    /// Generate an answer (SmolLM2-135M-Instruct), optionally as JSON matching a schema
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct EmbedArgs {
    /// The texts to embed
    #[arg(required = true, value_name = "TEXT")]
    pub(crate) texts: Vec<String>,
    /// Run the model in this process instead of the confined worker
    #[arg(long)]
    pub(crate) in_process: bool,
}

#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// The user message
    pub(crate) prompt: String,
    /// A JSON Schema file; the answer is constrained to JSON matching it
    #[arg(long, value_name = "FILE")]
    pub(crate) schema: Option<PathBuf>,
    /// Sample with this seed (temperature 0.7 unless --temperature); default: greedy
    #[arg(long, value_name = "N")]
    pub(crate) seed: Option<u32>,
    /// Sampling temperature (with --seed; 0 means greedy)
    #[arg(long, value_name = "T")]
    pub(crate) temperature: Option<f32>,
    /// Most tokens to generate
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub(crate) max_tokens: u32,
    /// A system message
    #[arg(long, value_name = "TEXT")]
    pub(crate) system: Option<String>,
    /// Stop when the answer contains this (repeatable)
    #[arg(long, value_name = "TEXT")]
    pub(crate) stop: Vec<String>,
    /// Run the model in this process instead of the confined worker
    #[arg(long)]
    pub(crate) in_process: bool,
}

/// `steward model-worker` (hidden): serves model requests on stdin/stdout, confined.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// The directory of the embedded model files
    #[arg(long, value_name = "DIR")]
    pub(crate) models_dir: PathBuf,
    /// Skip Landlock and seccomp (debugging only)
    #[arg(long)]
    pub(crate) unconfined: bool,
    /// Test hook, debug builds only: leave out a layer (`landlock`, `seccomp`), as on a kernel
    /// without it. Ignored in release builds.
    #[arg(long, value_name = "LAYER", hide = true)]
    pub(crate) test_skip: Vec<String>,
    /// A judge worker: these private files are readable too, and only judge requests are
    /// answered (`steward judge`)
    #[arg(long = "private", value_name = "FILE")]
    pub(crate) private: Vec<PathBuf>,
}

pub(crate) fn run(ctx: &Ctx, out: &Output, args: ModelArgs) -> Result<ExitCode> {
    let models_dir = models_dir(ctx)?;
    match args.command {
        ModelCommand::Info => info(out, &models_dir),
        ModelCommand::Embed(a) => embed(out, &models_dir, a),
        ModelCommand::Generate(a) => generate(out, &models_dir, a),
    }
}

pub(crate) fn worker(args: WorkerArgs) -> Result<ExitCode> {
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    let mut layers = steward_ml::Layers::default();
    if cfg!(debug_assertions) {
        for layer in &args.test_skip {
            match layer.as_str() {
                "landlock" => layers.landlock = false,
                "seccomp" => layers.seccomp = false,
                other => bail!("--test-skip: unknown layer {other:?} (landlock, seccomp)"),
            }
        }
    }
    if !args.private.is_empty() {
        steward_ml::serve_judge_worker(
            &args.models_dir,
            !args.unconfined,
            layers,
            &args.private,
            stdin,
            stdout,
        )
        .context("judge worker")?;
        return Ok(ExitCode::SUCCESS);
    }
    steward_ml::serve_worker_with(&args.models_dir, !args.unconfined, layers, stdin, stdout)
        .context("model worker")?;
    Ok(ExitCode::SUCCESS)
}

/// `models.allow_unconfined` as the last [`models_dir`] read it (every caller of
/// [`spawn_worker`] reads the models directory from the config first).
static ALLOW_UNCONFINED: AtomicBool = AtomicBool::new(false);

/// `models.dir` from the config layers, else `$STEWARD_HOME/models`. The home need not exist.
/// Also records `models.allow_unconfined` for [`spawn_worker`].
pub(crate) fn models_dir(ctx: &Ctx) -> Result<PathBuf> {
    let home = ctx.home_path()?;
    let cfg = Config::load(&home.join("config.toml"), Ctx::getenv, &ctx.flags)?;
    ALLOW_UNCONFINED.store(cfg.models.allow_unconfined, Ordering::Relaxed);
    Ok(cfg.models.dir.unwrap_or_else(|| home.join("models")))
}

/// Starts the confined model worker, refusing one that could not confine itself (a kernel
/// without Landlock or seccomp) unless the user set `models.allow_unconfined`.
pub(crate) fn spawn_worker(models_dir: &Path) -> Result<WorkerProcess> {
    let w = spawn_worker_unchecked(models_dir)?;
    require_confined(
        &w.worker_info().confinement,
        ALLOW_UNCONFINED.load(Ordering::Relaxed),
    )?;
    Ok(w)
}

/// Starts the worker whatever its confinement (`model info` reports it).
fn spawn_worker_unchecked(models_dir: &Path) -> Result<WorkerProcess> {
    let exe = std::env::current_exe().context("locating the steward binary for the worker")?;
    let mut cmd = Command::new(exe);
    cmd.arg("model-worker").arg("--models-dir").arg(models_dir);
    if cfg!(debug_assertions)
        && let Some(skip) = Ctx::getenv(env::STEWARD_TEST_SKIP_CONFINEMENT)
    {
        for layer in skip.split(',').map(str::trim).filter(|l| !l.is_empty()) {
            cmd.arg("--test-skip").arg(layer);
        }
    }
    // WorkerProcess::spawn gives the worker no inherited environment (no passphrase).
    WorkerProcess::spawn(cmd).context("starting the model worker")
}

/// Refuses a started worker that is not confined unless the user chose
/// `models.allow_unconfined` (read by [`models_dir`]).
pub(crate) fn require_confined_worker(w: &WorkerProcess) -> Result<()> {
    require_confined(
        &w.worker_info().confinement,
        ALLOW_UNCONFINED.load(Ordering::Relaxed),
    )
}

/// Refuses an unconfined worker unless `allow` (the user's explicit choice).
fn require_confined(c: &steward_ml::Confinement, allow: bool) -> Result<()> {
    if c.is_confined() {
        return Ok(());
    }
    let missing = c.missing().join("; ");
    if allow {
        tracing::warn!(%missing, "running the model worker unconfined (models.allow_unconfined)");
        return Ok(());
    }
    bail!(
        "the model worker could not confine itself ({missing}); refusing to run the models \
         unconfined. To run them anyway on this machine, choose it explicitly: \
         `--set models.allow_unconfined=true`, STEWARD_MODELS_ALLOW_UNCONFINED=true, or \
         `allow_unconfined = true` under [models] in config.toml (docs/config.md)"
    )
}

fn info(out: &Output, models_dir: &Path) -> Result<ExitCode> {
    #[derive(Serialize)]
    struct File {
        path: &'static str,
        size: u64,
        sha256: &'static str,
        status: FileStatus,
    }
    #[derive(Serialize)]
    struct Model {
        id: &'static str,
        role: steward_ml::Role,
        engine: &'static str,
        license: &'static str,
        package: &'static str,
        files: Vec<File>,
    }
    #[derive(Serialize)]
    struct Info {
        models_dir: PathBuf,
        models: Vec<Model>,
        worker: Option<steward_ml::WorkerInfo>,
        worker_error: Option<String>,
    }
    let models = steward_ml::EMBEDDED
        .iter()
        .map(|m| Model {
            id: m.id,
            role: m.role,
            engine: match m.role {
                steward_ml::Role::Generation => "llama.cpp (llama-cpp-2 0.1.160)",
                _ => "ONNX Runtime 1.31.1 (BERT, F32, CPU) + tokenizers",
            },
            license: m.license,
            package: m.package,
            files: m
                .files
                .iter()
                .map(|f| File {
                    path: f.path,
                    size: f.size,
                    sha256: f.sha256,
                    status: steward_ml::check_file(models_dir, f),
                })
                .collect(),
        })
        .collect();
    let (worker, worker_error) = match spawn_worker_unchecked(models_dir) {
        Ok(w) => (Some(w.worker_info().clone()), None),
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    let info = Info {
        models_dir: models_dir.to_owned(),
        models,
        worker,
        worker_error,
    };
    out.result(&info, || {
        let mut s = format!("models: {}\n", info.models_dir.display());
        for m in &info.models {
            let _ = writeln!(
                s,
                "  {} ({:?}, {}, {}, from {})",
                m.id, m.role, m.engine, m.license, m.package
            );
            for f in &m.files {
                let status = match &f.status {
                    FileStatus::Ok => "ok".to_owned(),
                    other => format!("{other:?}"),
                };
                let _ = writeln!(s, "    {}  {}  {}", f.path, &f.sha256[..12], status);
            }
        }
        match (&info.worker, &info.worker_error) {
            (Some(w), _) => {
                let _ = write!(s, "worker: {}", w.confinement.summary());
            }
            (None, Some(e)) => {
                let _ = write!(s, "worker: cannot start: {e}");
            }
            (None, None) => {}
        }
        s
    });
    Ok(ExitCode::SUCCESS)
}

fn embed(out: &Output, models_dir: &Path, args: EmbedArgs) -> Result<ExitCode> {
    #[derive(Serialize)]
    struct Embeddings {
        dim: usize,
        vectors: Vec<Vec<f32>>,
    }
    let mut engine: Box<dyn Embedder> = if args.in_process {
        Box::new(BertEmbedder::embedded(models_dir)?)
    } else {
        Box::new(spawn_worker(models_dir)?)
    };
    let vectors = engine.embed(&args.texts).context("embedding")?;
    let e = Embeddings {
        dim: engine.dim(),
        vectors,
    };
    out.result(&e, || {
        let mut s = String::new();
        for (t, v) in args.texts.iter().zip(&e.vectors) {
            let head: Vec<String> = v.iter().take(4).map(|x| format!("{x:+.4}")).collect();
            let _ = writeln!(s, "{} dims [{} ...]  {t:?}", e.dim, head.join(", "));
        }
        s
    });
    Ok(ExitCode::SUCCESS)
}

fn generate(out: &Output, models_dir: &Path, args: GenerateArgs) -> Result<ExitCode> {
    let schema = match &args.schema {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the schema {}", path.display()))?;
            Some(
                JsonSchema::parse(&text)
                    .with_context(|| format!("compiling the schema {}", path.display()))?,
            )
        }
        None => None,
    };
    let sampling = match (args.seed, args.temperature) {
        (_, Some(0.0)) | (None, None) => Sampling::Greedy,
        (seed, t) => {
            let mut s = Sampling::seeded(seed.unwrap_or(0));
            if let (Sampling::Seeded { temperature, .. }, Some(t)) = (&mut s, t) {
                *temperature = t;
            }
            s
        }
    };
    let req = GenerateRequest {
        system: args.system,
        prompt: args.prompt,
        max_tokens: args.max_tokens,
        sampling,
        stop: args.stop,
        schema,
        ..GenerateRequest::new("")
    };
    let mut engine: Box<dyn Generator> = if args.in_process {
        Box::new(LlamaGenerator::embedded(
            models_dir,
            &LlamaOptions::default(),
        )?)
    } else {
        Box::new(spawn_worker(models_dir)?)
    };
    let g = engine.generate(&req, &mut |_| {}).context("generating")?;
    out.result(&g, || {
        let mut s = g.text.clone();
        if let Some(t) = &g.truncated {
            let _ = write!(
                s,
                "\n(prompt truncated: {} of {} tokens kept, policy {:?})",
                t.kept_tokens, t.original_tokens, t.policy
            );
        }
        s
    });
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use steward_ml::Confinement;

    use super::require_confined;

    #[test]
    fn an_unconfined_worker_is_refused_unless_allowed() {
        let full = Confinement {
            landlock: "enforced".into(),
            seccomp: "enforced".into(),
            threads_before: vec![],
        };
        let no_landlock = Confinement {
            landlock: "unavailable: not supported by this kernel".into(),
            ..full.clone()
        };
        let early_thread = Confinement {
            threads_before: vec![7],
            ..full.clone()
        };
        assert!(require_confined(&full, false).is_ok());
        for c in [&no_landlock, &early_thread, &Confinement::off()] {
            let Err(e) = require_confined(c, false) else {
                panic!("{c:?} was not refused");
            };
            let e = e.to_string();
            assert!(e.contains("models.allow_unconfined=true"), "{e}");
            assert!(e.contains(&c.missing()[0]), "{e}");
            assert!(require_confined(c, true).is_ok());
        }
    }
}
