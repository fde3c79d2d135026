//! The model worker: a separate process of the same binary (`steward model-worker`) that loads
//! the models, confines itself and answers requests as JSON lines on stdin/stdout. The parent
//! talks to it through [`WorkerProcess`], which implements both [`Generator`] and [`Embedder`].

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::api::{Embedder, EngineInfo, GenerateRequest, Generation, Generator};
use crate::bert::BertEmbedder;
use crate::error::{Error, Result};
use crate::judge::{self, InputDigest, JudgeFault, JudgeSpec};
use crate::llama::{LlamaGenerator, LlamaOptions};
use crate::manifest::{self, Role};
use crate::sandbox::{self, Confinement, Layers, ProbeReport};

/// The log filter, the only variable a worker inherits from its parent.
const RUST_LOG: &str = "RUST_LOG";

/// One request line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
enum Request {
    Embed {
        texts: Vec<String>,
    },
    Generate {
        request: Box<GenerateRequest>,
    },
    /// Several requests decoded together (see [`Generator::generate_batch`]).
    GenerateBatch {
        requests: Vec<GenerateRequest>,
    },
    Info,
    Probe {
        read: Option<PathBuf>,
        /// Where to try a TCP connection (the discard port when absent).
        #[serde(default)]
        connect: Option<std::net::SocketAddr>,
    },
    /// Judge private documents (a judge worker only: see [`serve_judge`]).
    Judge {
        spec: JudgeSpec,
        files: Vec<PathBuf>,
    },
}

/// One reply line; a generation sends `Piece`s before its final line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Reply {
    Vectors {
        vectors: Vec<Vec<f32>>,
    },
    /// A piece of an answer; `index` names the request of a batch.
    Piece {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
    },
    Generation {
        generation: Box<Generation>,
    },
    Generations {
        results: Vec<BatchResult>,
    },
    Info {
        info: Box<WorkerInfo>,
    },
    Probe {
        report: ProbeReport,
    },
    Error {
        message: String,
    },
    /// A judgement: the verdict's index and the documents' digests. Parsed by the parent as a
    /// [`crate::judge::JudgeReply`], which admits nothing more.
    Judged {
        index: usize,
        inputs: Vec<InputDigest>,
    },
    Refused {
        fault: JudgeFault,
    },
}

/// One answer of a batch.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum BatchResult {
    Ok { generation: Box<Generation> },
    Error { message: String },
}

/// What the worker says about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub pid: u32,
    pub confinement: Confinement,
    pub models_dir: PathBuf,
}

/// The files the worker may read: every file of every embedded model.
pub fn model_paths(models_dir: &Path) -> Vec<PathBuf> {
    manifest::EMBEDDED
        .iter()
        .flat_map(|m| m.files)
        .map(|f| models_dir.join(f.path))
        .collect()
}

/// What the CPU is, read by ONNX Runtime's cpuinfo when its environment starts (confined, so
/// it must stay readable, or the runtime falls back to kernels without AVX2/AVX-512). Only
/// those that exist here.
fn cpu_info_paths() -> Vec<PathBuf> {
    ["/proc/cpuinfo", "/sys/devices/system/cpu"]
        .into_iter()
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect()
}

/// The worker's main loop: confine (unless `confine` is false), then serve `input` until EOF.
/// Models load on first use, after confinement, so loading itself runs confined.
pub fn serve(
    models_dir: &Path,
    confine: bool,
    input: impl BufRead,
    output: impl Write,
) -> Result<()> {
    serve_with(models_dir, confine, Layers::default(), input, output)
}

/// [`serve`] with some confinement layers left out (test hooks: a kernel without one).
pub fn serve_with(
    models_dir: &Path,
    confine: bool,
    layers: Layers,
    input: impl BufRead,
    output: impl Write,
) -> Result<()> {
    serve_inner(models_dir, confine, layers, &[], input, output)
}

/// A judge worker: [`serve_with`], with `private` (files) readable too, answering only `info`
/// and `judge` requests, for files among `private` only. It streams nothing and reports
/// failures as [`JudgeFault`]s, never as text.
pub fn serve_judge(
    models_dir: &Path,
    confine: bool,
    layers: Layers,
    private: &[PathBuf],
    input: impl BufRead,
    output: impl Write,
) -> Result<()> {
    serve_inner(models_dir, confine, layers, private, input, output)
}

fn serve_inner(
    models_dir: &Path,
    confine: bool,
    layers: Layers,
    private: &[PathBuf],
    input: impl BufRead,
    mut output: impl Write,
) -> Result<()> {
    let judging = !private.is_empty();
    let confinement = if confine {
        // Map the embedding engine's shared library while the system libraries it links are
        // still readable, but start nothing: every thread must begin after Landlock, which binds
        // only the calling thread and its later children. A failure (missing file) is reported
        // on first use.
        if let Err(e) = crate::bert::preload_runtime(models_dir) {
            tracing::warn!(error = %e, "embedding runtime not loaded before confinement");
        }
        let mut readable = model_paths(models_dir);
        readable.extend(cpu_info_paths());
        readable.extend(private.iter().cloned());
        sandbox::confine_with(&readable, layers)
    } else {
        Confinement::off()
    };
    tracing::info!(confinement = %confinement.summary(), "model worker ready");
    let mut generator: Option<LlamaGenerator> = None;
    let mut embedder: Option<BertEmbedder> = None;
    let io_err = |source| Error::Io {
        path: "<worker stdout>".into(),
        source,
    };
    let send = |out: &mut dyn Write, reply: &Reply| -> Result<()> {
        let mut line = serde_json::to_vec(reply).map_err(|e| Error::Worker(e.to_string()))?;
        line.push(b'\n');
        out.write_all(&line)
            .and_then(|()| out.flush())
            .map_err(io_err)
    };
    for line in input.lines() {
        let line = line.map_err(|source| Error::Io {
            path: "<worker stdin>".into(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let request = serde_json::from_str::<Request>(&line);
        if judging && !matches!(request, Ok(Request::Info | Request::Judge { .. })) {
            send(
                &mut output,
                &Reply::Error {
                    message: "a judge worker answers only info and judge requests".into(),
                },
            )?;
            continue;
        }
        let reply = match request {
            Err(e) => Reply::Error {
                message: format!("bad request line: {e}"),
            },
            Ok(Request::Judge { spec, files }) => {
                match judge_files(models_dir, &mut generator, private, &spec, &files) {
                    Ok((index, inputs)) => Reply::Judged { index, inputs },
                    Err(fault) => Reply::Refused { fault },
                }
            }
            Ok(Request::Info) => Reply::Info {
                info: Box::new(WorkerInfo {
                    pid: std::process::id(),
                    confinement: confinement.clone(),
                    models_dir: models_dir.to_owned(),
                }),
            },
            Ok(Request::Probe { read, connect }) => Reply::Probe {
                report: sandbox::probe(read.as_deref(), connect),
            },
            Ok(Request::Embed { texts }) => {
                let result = match &mut embedder {
                    Some(e) => e.embed(&texts),
                    None => BertEmbedder::embedded(models_dir).and_then(|e| {
                        let e = embedder.insert(e);
                        e.embed(&texts)
                    }),
                };
                match result {
                    Ok(vectors) => Reply::Vectors { vectors },
                    Err(e) => Reply::Error {
                        message: e.to_string(),
                    },
                }
            }
            Ok(Request::Generate { request }) => {
                let g = match &mut generator {
                    Some(g) => Ok(g),
                    None => LlamaGenerator::embedded(models_dir, &LlamaOptions::default())
                        .map(|g| generator.insert(g)),
                };
                let mut write_failed = None;
                let result = g.and_then(|g| {
                    g.generate(&request, &mut |piece| {
                        if write_failed.is_none()
                            && let Err(e) = send(
                                &mut output,
                                &Reply::Piece {
                                    text: piece.to_owned(),
                                    index: None,
                                },
                            )
                        {
                            write_failed = Some(e);
                        }
                    })
                });
                if let Some(e) = write_failed {
                    return Err(e);
                }
                match result {
                    Ok(mut generation) => {
                        generation.engine.confined = Some(confinement.summary());
                        Reply::Generation {
                            generation: Box::new(generation),
                        }
                    }
                    Err(e) => Reply::Error {
                        message: e.to_string(),
                    },
                }
            }
            Ok(Request::GenerateBatch { requests }) => {
                let g = match &mut generator {
                    Some(g) => Ok(g),
                    None => LlamaGenerator::embedded(models_dir, &LlamaOptions::default())
                        .map(|g| generator.insert(g)),
                };
                match g {
                    Err(e) => Reply::Error {
                        message: e.to_string(),
                    },
                    Ok(g) => {
                        let mut write_failed = None;
                        let results = g.generate_batch(&requests, &mut |index, piece| {
                            if write_failed.is_none()
                                && let Err(e) = send(
                                    &mut output,
                                    &Reply::Piece {
                                        text: piece.to_owned(),
                                        index: Some(index),
                                    },
                                )
                            {
                                write_failed = Some(e);
                            }
                        });
                        if let Some(e) = write_failed {
                            return Err(e);
                        }
                        Reply::Generations {
                            results: results
                                .into_iter()
                                .map(|r| match r {
                                    Ok(mut generation) => {
                                        generation.engine.confined = Some(confinement.summary());
                                        BatchResult::Ok {
                                            generation: Box::new(generation),
                                        }
                                    }
                                    Err(e) => BatchResult::Error {
                                        message: e.to_string(),
                                    },
                                })
                                .collect(),
                        }
                    }
                }
            }
        };
        send(&mut output, &reply)?;
    }
    Ok(())
}

/// One judgement in the worker: the model is loaded before any document is read (so a load
/// failure cannot concern them), then the files are read, judged and dropped.
fn judge_files(
    models_dir: &Path,
    generator: &mut Option<LlamaGenerator>,
    private: &[PathBuf],
    spec: &JudgeSpec,
    files: &[PathBuf],
) -> std::result::Result<(usize, Vec<InputDigest>), JudgeFault> {
    if let Some(index) = files.iter().position(|f| !private.contains(f)) {
        return Err(JudgeFault::Denied { index });
    }
    let g = match generator {
        Some(g) => g,
        None => match LlamaGenerator::embedded(models_dir, &LlamaOptions::default()) {
            Ok(g) => generator.insert(g),
            Err(_) => return Err(JudgeFault::ModelUnavailable),
        },
    };
    let (texts, inputs) = judge::read_documents(files)?;
    let index = judge::judge_documents(g, spec, &texts)?;
    Ok((index, inputs))
}

/// The parent's end of a worker process.
#[derive(Debug)]
pub struct WorkerProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    info: WorkerInfo,
}

impl WorkerProcess {
    /// Starts `command` (for example `steward model-worker --models-dir DIR`) with piped stdin
    /// and stdout, and asks it who it is.
    ///
    /// The worker inherits no environment: the parent's may hold the store passphrase and the
    /// keystore password, which `/proc/<pid>/environ` would show to anything that reads the
    /// worker. It gets only the variables set on `command`, [`RUST_LOG`] and
    /// `ORT_DISABLE_TELEMETRY=1` (ONNX Runtime otherwise starts a telemetry thread and keeps a
    /// database open under `~/.cache`).
    pub fn spawn(mut command: Command) -> Result<Self> {
        let program = command.get_program().to_string_lossy().into_owned();
        let explicit: Vec<(std::ffi::OsString, Option<std::ffi::OsString>)> = command
            .get_envs()
            .map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned)))
            .collect();
        command.env_clear().env("ORT_DISABLE_TELEMETRY", "1");
        if let Some(level) = std::env::var_os(RUST_LOG) {
            command.env(RUST_LOG, level);
        }
        for (k, v) in explicit {
            match v {
                Some(v) => command.env(k, v),
                None => command.env_remove(k),
            };
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Worker(format!("cannot start {program}: {e}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(Error::Worker("worker pipes missing".into()));
        };
        let mut w = WorkerProcess {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            info: WorkerInfo {
                pid: 0,
                confinement: Confinement::off(),
                models_dir: PathBuf::new(),
            },
        };
        match w.call(&Request::Info, &mut |_, _| {})? {
            Reply::Info { info } => w.info = *info,
            other => return Err(unexpected(&other)),
        }
        Ok(w)
    }

    /// The worker's pid and confinement.
    pub fn worker_info(&self) -> &WorkerInfo {
        &self.info
    }

    /// Asks the worker to read `read`, to open sockets and an io_uring and to connect to
    /// `connect` (see [`crate::probe`]); reports what was allowed.
    pub fn probe(
        &mut self,
        read: Option<&Path>,
        connect: Option<std::net::SocketAddr>,
    ) -> Result<ProbeReport> {
        match self.call(
            &Request::Probe {
                read: read.map(Path::to_owned),
                connect,
            },
            &mut |_, _| {},
        )? {
            Reply::Probe { report } => Ok(report),
            other => Err(unexpected(&other)),
        }
    }

    /// Asks a judge worker (started with the files readable) to judge `files`, whose digests
    /// the parent computed (`expected`). Only a reply that names a declared verdict and exactly
    /// those digests is accepted; any other line (text, pieces, errors, extra fields) is refused
    /// without being shown or logged.
    pub fn judge(
        &mut self,
        spec: &JudgeSpec,
        files: &[PathBuf],
        expected: &[InputDigest],
    ) -> std::result::Result<usize, JudgeFault> {
        let req = Request::Judge {
            spec: spec.clone(),
            files: files.to_vec(),
        };
        let mut line = serde_json::to_vec(&req).map_err(|_| JudgeFault::Malformed)?;
        line.push(b'\n');
        self.stdin
            .write_all(&line)
            .and_then(|()| self.stdin.flush())
            .map_err(|_| JudgeFault::WorkerGone)?;
        loop {
            let mut buf = String::new();
            match self.stdout.read_line(&mut buf) {
                Ok(0) | Err(_) => return Err(JudgeFault::WorkerGone),
                Ok(_) => {}
            }
            // Lines that are not JSON are not ours (a library writing to stdout): skipped,
            // unlike in `call`, without logging them.
            if buf.starts_with('{') {
                return judge::accept_reply(buf.trim_end(), spec, expected);
            }
        }
    }

    /// Shares one worker between a generator slot and an embedder slot (of a [`crate::ModelThread`]).
    pub fn shared(self) -> SharedWorker {
        SharedWorker(Arc::new(Mutex::new(self)))
    }

    fn call(&mut self, req: &Request, on_piece: &mut dyn FnMut(usize, &str)) -> Result<Reply> {
        let mut line = serde_json::to_vec(req).map_err(|e| Error::Worker(e.to_string()))?;
        line.push(b'\n');
        self.stdin
            .write_all(&line)
            .and_then(|()| self.stdin.flush())
            .map_err(|e| self.died(e))?;
        loop {
            let mut buf = String::new();
            let n = self.stdout.read_line(&mut buf).map_err(|e| self.died(e))?;
            if n == 0 {
                return Err(self.died("end of output"));
            }
            if !buf.starts_with('{') {
                // Not ours: something in the worker wrote to stdout. Skip it.
                tracing::debug!(line = %buf.trim_end(), "ignoring worker output");
                continue;
            }
            let reply: Reply = serde_json::from_str(&buf)
                .map_err(|e| Error::Worker(format!("unreadable reply {buf:?}: {e}")))?;
            match reply {
                Reply::Piece { text, index } => on_piece(index.unwrap_or(0), &text),
                Reply::Error { message } => return Err(Error::Worker(message)),
                other => return Ok(other),
            }
        }
    }

    fn died(&mut self, e: impl std::fmt::Display) -> Error {
        let status = match self.child.try_wait() {
            Ok(Some(s)) => format!("exited with {s}"),
            Ok(None) => "still running".into(),
            Err(e) => format!("status unknown: {e}"),
        };
        Error::Worker(format!("worker pid {} {status}: {e}", self.child.id()))
    }

    fn engine_info(&self, mut info: EngineInfo) -> EngineInfo {
        info.confined = Some(self.info.confinement.summary());
        info
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        // Closing stdin ends the worker's loop; kill it if it does not go.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unexpected(reply: &Reply) -> Error {
    Error::Worker(format!("unexpected reply {reply:?}"))
}

impl Generator for WorkerProcess {
    fn generate(
        &mut self,
        req: &GenerateRequest,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        let request = Request::Generate {
            request: Box::new(req.clone()),
        };
        match self.call(&request, &mut |_, t| on_text(t))? {
            Reply::Generation { generation } => Ok(*generation),
            other => Err(unexpected(&other)),
        }
    }

    fn generate_batch(
        &mut self,
        reqs: &[GenerateRequest],
        on_text: &mut dyn FnMut(usize, &str),
    ) -> Vec<Result<Generation>> {
        let request = Request::GenerateBatch {
            requests: reqs.to_vec(),
        };
        let results = match self.call(&request, on_text) {
            Ok(Reply::Generations { results }) if results.len() == reqs.len() => results,
            Ok(other) => {
                let msg = unexpected(&other).to_string();
                return reqs
                    .iter()
                    .map(|_| Err(Error::Worker(msg.clone())))
                    .collect();
            }
            Err(e) => {
                let msg = e.to_string();
                return reqs
                    .iter()
                    .map(|_| Err(Error::Worker(msg.clone())))
                    .collect();
            }
        };
        results
            .into_iter()
            .map(|r| match r {
                BatchResult::Ok { generation } => Ok(*generation),
                BatchResult::Error { message } => Err(Error::Worker(message)),
            })
            .collect()
    }

    fn info(&self) -> EngineInfo {
        let spec = manifest::spec(Role::Generation);
        self.engine_info(EngineInfo {
            engine: "llama.cpp (worker process)".into(),
            model: spec.id.into(),
            sha256: Some(spec.files[0].sha256.into()),
            context: None,
            confined: None,
        })
    }
}

impl Embedder for WorkerProcess {
    fn dim(&self) -> usize {
        384
    }

    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        match self.call(
            &Request::Embed {
                texts: texts.to_vec(),
            },
            &mut |_, _| {},
        )? {
            Reply::Vectors { vectors } => Ok(vectors),
            other => Err(unexpected(&other)),
        }
    }

    fn info(&self) -> EngineInfo {
        let spec = manifest::spec(Role::Embedding);
        self.engine_info(EngineInfo {
            engine: "onnxruntime (worker process)".into(),
            model: spec.id.into(),
            sha256: Some(spec.files[0].sha256.into()),
            context: Some(crate::bert::MAX_TOKENS as u32),
            confined: None,
        })
    }
}

/// A [`WorkerProcess`] usable as both engines at once.
#[derive(Debug, Clone)]
pub struct SharedWorker(Arc<Mutex<WorkerProcess>>);

impl SharedWorker {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, WorkerProcess>> {
        self.0
            .lock()
            .map_err(|_| Error::Worker("worker lock poisoned".into()))
    }
}

impl Generator for SharedWorker {
    fn generate(
        &mut self,
        req: &GenerateRequest,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        self.lock()?.generate(req, on_text)
    }

    fn generate_batch(
        &mut self,
        reqs: &[GenerateRequest],
        on_text: &mut dyn FnMut(usize, &str),
    ) -> Vec<Result<Generation>> {
        match self.lock() {
            Ok(mut w) => w.generate_batch(reqs, on_text),
            Err(e) => {
                let msg = e.to_string();
                reqs.iter()
                    .map(|_| Err(Error::Worker(msg.clone())))
                    .collect()
            }
        }
    }

    fn info(&self) -> EngineInfo {
        match self.lock() {
            Ok(w) => Generator::info(&*w),
            Err(e) => EngineInfo {
                engine: e.to_string(),
                model: String::new(),
                sha256: None,
                context: None,
                confined: None,
            },
        }
    }
}

impl Embedder for SharedWorker {
    fn dim(&self) -> usize {
        384
    }

    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        self.lock()?.embed(texts)
    }

    fn info(&self) -> EngineInfo {
        match self.lock() {
            Ok(w) => Embedder::info(&*w),
            Err(e) => EngineInfo {
                engine: e.to_string(),
                model: String::new(),
                sha256: None,
                context: None,
                confined: None,
            },
        }
    }
}
