//! The Steward application.
//!
//! This crate owns everything stateful: the user's home directory and its lock, the layered
//! configuration, the encrypted store (SQLCipher) with its hash-chained audit log, the network
//! policy every outbound client is built through, and the health checks behind `steward doctor`.
//! It reads proposals from their sources, keeps the user's profile, and runs the round as one
//! pipeline of typed stages (`pipeline`: sync, inspect, decide, then cast, ask or skip), casts
//! votes through intents that survive a crash (`cast`), sends open questions to the user by
//! webhook or mail with reminders before the deadline (`notify`), and serves the review desk (`web`).

mod audit;
pub mod bondauto;
pub mod bondgate;
pub mod bondreply;
pub mod bonds;
pub mod cast;
mod config;
pub mod dao;
pub mod decide;
pub mod digest;
mod discussion;
mod doctor;
pub mod env;
mod error;
mod eval;
mod home;
pub mod identity;
pub mod inspect;
pub mod interview;
pub mod judge;
mod keys;
pub mod market;
mod net;
pub mod notify;
pub mod pipeline;
pub mod profile;
mod proposals;
pub mod questions;
pub mod sources;
mod store;
pub mod summaries;
mod sync;
pub mod teach;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod views;
pub mod web;
pub mod zk;

pub use audit::{AuditHead, AuditReport, AuditVerifyError};
pub use cast::{
    CastContext, CastIntent, CastOrigin, CastOutcome, CastStatus, IntentState, Reconciled,
    cast_vote, reconcile,
};
pub use config::{
    BondsConfig, CastingConfig, Config, ConfigKey, DEFAULT_MARKET, DecideConfig, GovernorConfig,
    IdentityConfig, ImapConfig, KEYS, LimitsConfig, LogConfig, MailConfig, MailTls, MarketConfig,
    ModelsConfig, NamedMarket, NetworkConfig, NotifyConfig, SelectedMarket, SnapshotConfig,
    ToolsConfig, UnaskedAction, WebConfig,
};
pub use doctor::{Check, CheckStatus, Doctor, ToolPaths};
pub use error::{Error, InvalidValue, Result};
pub use eval::ask::{CURVE_BUDGETS, DEFAULT_ASK_THRESHOLD, eval_ask_curve};
pub use eval::{
    AgainstFigures, AskCurvePoint, AskFigures, Baselines, DelegateFigures, EmbedFn, EvalEngines,
    EvalError, EvalMode, EvalOptions, EvalReport, JudgeFn, LlmUse, PolicyCounts, PredictionLine,
    ReplayFigures, RowError, TextUse, VoterModelFigures, VoterReport, eval_votes, eval_votes_with,
    eval_weights,
};
pub use home::{Home, make_private, write_atomic};
pub use keys::{KeyInfo, Keys};
pub use net::{HttpClient, ImapStream, Network};
pub use pipeline::{Caster, Pipeline, PipelineError, RoundOptions, RoundReport};
pub use proposals::{Ingested, ProposalFilter, Quarantined, StoreCounts, StoredProposal};
pub use sources::forum::Post as DiscussionPost;
#[cfg(feature = "test-util")]
pub use store::raw_connection;
pub use store::{Passphrase, SCHEMA_VERSION, Store, Tx};
pub use sync::{
    DiscussionReport, IngestReport, Progress, ingest_file, ingest_mail, ingest_mail_gated,
    ingest_mail_messages, sync_discussions, sync_governor, sync_imap, sync_imap_gated,
    sync_imap_with, sync_snapshot_space,
};
