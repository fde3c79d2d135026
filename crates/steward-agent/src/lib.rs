//! The Steward application.
//!
//! This crate owns everything stateful: the user's home directory and its lock, the layered
//! configuration, the encrypted store (SQLCipher) with its hash-chained audit log, the network
//! policy every outbound client is built through, and the health checks behind `steward doctor`.
//! Later waves add the proposal sources, the decide/ask pipeline, casting and the review desk.

mod audit;
mod config;
mod doctor;
pub mod env;
mod error;
mod home;
mod net;
mod store;

pub use audit::{AuditHead, AuditReport, AuditVerifyError};
pub use config::{Config, ConfigKey, KEYS, LogConfig, ModelsConfig, NetworkConfig, ToolsConfig};
pub use doctor::{Check, CheckStatus, Doctor, ToolPaths};
pub use error::{Error, Result};
pub use home::Home;
pub use net::{HttpClient, Network};
#[cfg(feature = "test-util")]
pub use store::raw_connection;
pub use store::{Passphrase, Store, Tx};
