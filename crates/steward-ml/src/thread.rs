//! The models live on one dedicated thread; callers hold a cheap, cloneable handle and send
//! requests, each with its own reply channel. Async callers await the reply and never block a
//! runtime worker on a forward pass; sync callers may block. Waiting requests are batched:
//! embeddings into one call, generations into one multi-sequence decode.

use std::collections::VecDeque;
use std::sync::mpsc;

use tokio::sync::{mpsc as tmpsc, oneshot};

use crate::api::{Embedder, EngineInfo, GenerateRequest, Generation, Generator};
use crate::error::{Error, Result};

/// Texts merged into one embedding call when several requests are waiting.
const MAX_MERGED_TEXTS: usize = 256;
/// Generation requests decoded together when several are waiting.
const MAX_MERGED_GENERATIONS: usize = 8;

enum Job {
    Embed {
        texts: Vec<String>,
        reply: oneshot::Sender<Result<Vec<Vec<f32>>>>,
    },
    Generate {
        req: Box<GenerateRequest>,
        stream: Option<tmpsc::UnboundedSender<String>>,
        reply: oneshot::Sender<Result<Generation>>,
    },
    GenerateMany {
        reqs: Vec<GenerateRequest>,
        reply: oneshot::Sender<Vec<Result<Generation>>>,
    },
    Info {
        reply: oneshot::Sender<(Option<EngineInfo>, Option<EngineInfo>)>,
    },
}

/// A handle to the model thread. Cloning it is cheap; the thread ends when the last handle is
/// dropped.
#[derive(Debug, Clone)]
pub struct ModelThread {
    tx: mpsc::Sender<Job>,
}

impl ModelThread {
    /// Moves the engines onto a new thread named `steward-model`.
    pub fn spawn(
        generator: Option<Box<dyn Generator>>,
        embedder: Option<Box<dyn Embedder>>,
    ) -> Result<Self> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("steward-model".into())
            .spawn(move || serve(rx, generator, embedder))
            .map_err(|e| Error::Worker(format!("cannot start the model thread: {e}")))?;
        Ok(ModelThread { tx })
    }

    fn send(&self, job: Job) -> Result<()> {
        self.tx
            .send(job)
            .map_err(|_| Error::Worker("the model thread has stopped".into()))
    }

    /// Embeds texts; waiting requests are merged into one batch.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Embed { texts, reply })?;
        rx.await.map_err(|_| gone())?
    }

    /// [`Self::embed`] for sync callers (never call it on an async runtime thread).
    pub fn embed_blocking(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Embed { texts, reply })?;
        rx.blocking_recv().map_err(|_| gone())?
    }

    /// Generates; text pieces go to `stream` as they are produced, if given.
    pub async fn generate(
        &self,
        req: GenerateRequest,
        stream: Option<tmpsc::UnboundedSender<String>>,
    ) -> Result<Generation> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Generate {
            req: Box::new(req),
            stream,
            reply,
        })?;
        rx.await.map_err(|_| gone())?
    }

    /// [`Self::generate`] for sync callers.
    pub fn generate_blocking(
        &self,
        req: GenerateRequest,
        stream: Option<tmpsc::UnboundedSender<String>>,
    ) -> Result<Generation> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Generate {
            req: Box::new(req),
            stream,
            reply,
        })?;
        rx.blocking_recv().map_err(|_| gone())?
    }

    /// Generates answers to several requests in one batch (see [`Generator::generate_batch`]);
    /// `out[i]` answers `reqs[i]`.
    pub async fn generate_many(
        &self,
        reqs: Vec<GenerateRequest>,
    ) -> Result<Vec<Result<Generation>>> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::GenerateMany { reqs, reply })?;
        rx.await.map_err(|_| gone())
    }

    /// [`Self::generate_many`] for sync callers.
    pub fn generate_many_blocking(
        &self,
        reqs: Vec<GenerateRequest>,
    ) -> Result<Vec<Result<Generation>>> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::GenerateMany { reqs, reply })?;
        rx.blocking_recv().map_err(|_| gone())
    }

    /// The engines' descriptions: (generator, embedder).
    pub async fn info(&self) -> Result<(Option<EngineInfo>, Option<EngineInfo>)> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Info { reply })?;
        rx.await.map_err(|_| gone())
    }
}

fn gone() -> Error {
    Error::Worker("the model thread dropped the request (did it panic?)".into())
}

fn serve(
    rx: mpsc::Receiver<Job>,
    mut generator: Option<Box<dyn Generator>>,
    mut embedder: Option<Box<dyn Embedder>>,
) {
    let mut pending: VecDeque<Job> = VecDeque::new();
    loop {
        let job = match pending.pop_front() {
            Some(j) => j,
            None => match rx.recv() {
                Ok(j) => j,
                Err(_) => return, // every handle dropped
            },
        };
        match job {
            Job::Embed { texts, reply } => {
                // Merge the embedding requests already waiting into one call; keep the others
                // in order for later.
                let mut batch = vec![(texts, reply)];
                let mut total: usize = batch[0].0.len();
                while total < MAX_MERGED_TEXTS {
                    match rx.try_recv() {
                        Ok(Job::Embed { texts, reply }) => {
                            total += texts.len();
                            batch.push((texts, reply));
                        }
                        Ok(other) => pending.push_back(other),
                        Err(_) => break,
                    }
                }
                let Some(e) = embedder.as_mut() else {
                    for (_, reply) in batch {
                        let _ = reply.send(Err(Error::Worker("no embedder loaded".into())));
                    }
                    continue;
                };
                let all: Vec<String> = batch.iter().flat_map(|(t, _)| t.iter().cloned()).collect();
                match e.embed(&all) {
                    Ok(mut vecs) => {
                        for (texts, reply) in batch {
                            let rest = vecs.split_off(texts.len());
                            let _ = reply.send(Ok(std::mem::replace(&mut vecs, rest)));
                        }
                    }
                    Err(err) => {
                        let msg = err.to_string();
                        let mut first = Some(err);
                        for (_, reply) in batch {
                            let err = first
                                .take()
                                .unwrap_or_else(|| Error::engine("embedder", &msg));
                            let _ = reply.send(Err(err));
                        }
                    }
                }
            }
            Job::Generate { req, stream, reply } => {
                // Generation requests already waiting are decoded together with this one.
                let mut batch = vec![(*req, stream, reply)];
                while batch.len() < MAX_MERGED_GENERATIONS {
                    match rx.try_recv() {
                        Ok(Job::Generate { req, stream, reply }) => {
                            batch.push((*req, stream, reply));
                        }
                        Ok(other) => pending.push_back(other),
                        Err(_) => break,
                    }
                }
                let Some(g) = generator.as_mut() else {
                    for (_, _, reply) in batch {
                        let _ = reply.send(Err(Error::Worker("no generator loaded".into())));
                    }
                    continue;
                };
                if batch.len() == 1 {
                    let (req, stream, reply) = batch.remove(0);
                    let result = g.generate(&req, &mut |piece| {
                        if let Some(s) = &stream {
                            let _ = s.send(piece.to_owned());
                        }
                    });
                    let _ = reply.send(result);
                    continue;
                }
                let (reqs, rest): (Vec<_>, Vec<_>) =
                    batch.into_iter().map(|(r, s, y)| (r, (s, y))).unzip();
                let results = g.generate_batch(&reqs, &mut |i, piece| {
                    if let Some(Some(s)) = rest.get(i).map(|(s, _)| s) {
                        let _ = s.send(piece.to_owned());
                    }
                });
                for ((_, reply), result) in rest.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Job::GenerateMany { reqs, reply } => {
                let results = match generator.as_mut() {
                    None => reqs
                        .iter()
                        .map(|_| Err(Error::Worker("no generator loaded".into())))
                        .collect(),
                    Some(g) => g.generate_batch(&reqs, &mut |_, _| {}),
                };
                let _ = reply.send(results);
            }
            Job::Info { reply } => {
                let _ = reply.send((
                    generator.as_ref().map(|g| g.info()),
                    embedder.as_ref().map(|e| e.info()),
                ));
            }
        }
    }
}
