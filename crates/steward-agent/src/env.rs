//! Every environment variable Steward reads, in one place.
//!
//! Config keys are also read from `STEWARD_<SECTION>_<KEY>` (see [`crate::KEYS`]); the variables
//! here are the ones that are not config keys.
//!
//! None of them reaches a child process Steward starts: the model worker gets a cleared
//! environment (`steward_ml::WorkerProcess::spawn`), so the passphrase and the keystore
//! password stay out of its `/proc/<pid>/environ`.

/// The home directory (flag `--home`); default `$XDG_DATA_HOME/steward`.
pub const STEWARD_HOME: &str = "STEWARD_HOME";
/// The store passphrase. Never accepted on the command line.
pub const STEWARD_PASSPHRASE: &str = "STEWARD_PASSPHRASE";
/// Log filter in `tracing` syntax; overrides `-v`/`-q` and `log.level`.
pub const RUST_LOG: &str = "RUST_LOG";
/// Where the XDG data directory is; the default home lives under it.
pub const XDG_DATA_HOME: &str = "XDG_DATA_HOME";
/// The default variable an `[[imap]]` entry reads its password from (its `password_env`).
/// Never accepted on the command line.
pub const STEWARD_IMAP_PASSWORD: &str = "STEWARD_IMAP_PASSWORD";
/// The default variable `[notify.mail]` reads its SMTP password from (its `password_env`).
/// Never accepted on the command line, never logged.
pub const STEWARD_NOTIFY_MAIL_PASSWORD: &str = "STEWARD_NOTIFY_MAIL_PASSWORD";
/// The webhook signing secret (Standard Webhooks: `whsec_` and base64, or plain text). When set,
/// every notice POST carries `webhook-id`, `webhook-timestamp` and `webhook-signature`. Never
/// accepted on the command line, never logged.
pub const STEWARD_NOTIFY_WEBHOOK_SECRET: &str = "STEWARD_NOTIFY_WEBHOOK_SECRET";
/// The password of the signing key's keystore (`steward key`, `steward vote`). Without it
/// Steward asks on the terminal. Never accepted on the command line.
pub const STEWARD_KEYSTORE_PASSWORD: &str = "STEWARD_KEYSTORE_PASSWORD";
/// Test hook, debug builds only: `after-intent`, `after-sign` or `after-submit` holds a vote at
/// that step so a test can kill -9 the process there (docs/casting.md). Ignored in release.
pub const STEWARD_CAST_PAUSE_AT: &str = "STEWARD_CAST_PAUSE_AT";
/// Test hook, debug builds only: `landlock`, `seccomp` or both (comma-separated) make the model
/// worker leave that layer out, as on a kernel without it, so tests can see the refusal
/// (docs/models.md). Ignored in release.
pub const STEWARD_TEST_SKIP_CONFINEMENT: &str = "STEWARD_TEST_SKIP_CONFINEMENT";
