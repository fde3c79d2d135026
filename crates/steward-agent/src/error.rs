use std::path::PathBuf;

/// A setting or list entry that does not parse, with what is wrong with it; the caller adds
/// where it came from (file and line, env variable, `--set`), as [`Error::ConfigValue`] does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

impl From<String> for InvalidValue {
    fn from(message: String) -> Self {
        Self(message)
    }
}

/// Everything that can go wrong in the agent. Messages name the path, key or value involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("home {} does not exist: run `steward init` to create it", path.display())]
    HomeMissing { path: PathBuf },
    #[error("home {} is not usable", path.display())]
    Home {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("home {} is in use by another steward process{}", path.display(), pid.as_deref().map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Locked { path: PathBuf, pid: Option<String> },
    #[error("config {}{}: key `{key}`: {message}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    ConfigFile {
        path: PathBuf,
        line: Option<usize>,
        key: String,
        message: String,
    },
    #[error("{origin}: key `{key}`: {message}")]
    ConfigValue {
        /// Where the value came from: `env STEWARD_NETWORK_ALLOW`, `--set`.
        origin: String,
        key: String,
        message: String,
    },
    #[error("no store in {}: run `steward init` to create it", path.display())]
    StoreMissing { path: PathBuf },
    #[error("wrong passphrase for store {}", path.display())]
    WrongPassphrase { path: PathBuf },
    #[error("{} is not a Steward store: {reason}", path.display())]
    Foreign { path: PathBuf, reason: String },
    #[error("store {} is damaged: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("store key file {}: {reason}", path.display())]
    KeyFile { path: PathBuf, reason: String },
    #[error("store {}: {context}", path.display())]
    Sqlite {
        path: PathBuf,
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{}: {context}", path.display())]
    Io {
        path: PathBuf,
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Refused(#[from] steward_core::Refused),
    #[error("bad URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("building the HTTP client")]
    Http(#[source] reqwest::Error),
    #[error("{source_name}: {message}")]
    Source {
        source_name: String,
        message: String,
    },
    #[error("passphrase must not be empty")]
    EmptyPassphrase,
    /// Connecting to or talking with an IMAP server; `account` is `user@host/folder`, or
    /// `host:port` before login. Never carries the password.
    #[error("imap {account}: {message}")]
    Imap { account: String, message: String },
    /// The IMAP server refused the user name or password.
    #[error(
        "imap {account}: login refused ({message}); check the user and the password in ${password_env}"
    )]
    ImapLogin {
        account: String,
        password_env: String,
        message: String,
    },
    /// Inspecting a proposal's payload failed (the RPC is down or times out, a user ABI is bad).
    #[error("inspecting {proposal}: {message}")]
    Verify { proposal: String, message: String },
    /// A keystore file that cannot be opened: wrong password, damaged, unsupported.
    #[error("keystore {}: {source}", file.display())]
    Key {
        file: PathBuf,
        #[source]
        source: steward_eth::KeystoreError,
    },
    #[error("no signing key in {}: run `steward key new` or `steward key import --keystore FILE`", dir.display())]
    NoKey { dir: PathBuf },
    #[error("no keystore {wanted:?} in {} (see `steward key list`)", dir.display())]
    KeyNotFound { wanted: String, dir: PathBuf },
    #[error("a keystore for {address} already exists: {}", file.display())]
    KeyExists {
        address: steward_core::Address,
        file: PathBuf,
    },
    /// Signing, sending or checking a vote failed (steward-eth's error, with its context).
    #[error("{context}: {source}")]
    Eth {
        context: String,
        #[source]
        source: steward_eth::Error,
    },
    /// The vote cannot be cast as asked; nothing was signed or sent.
    #[error("{0}")]
    Cast(String),
    /// The key already has a vote on this Snapshot proposal that Steward did not send (another
    /// client, or lost records); nothing was signed. Recorded as a failed intent, so a later
    /// round does not try again.
    #[error(
        "{voter} has already voted on {proposal} on Snapshot; pass --change to replace that vote"
    )]
    AlreadyVoted { voter: String, proposal: String },
    /// An ERC-8004 registry call failed or was refused (steward-eth's error, with its context).
    #[error("{context}: {source}")]
    Registry {
        context: String,
        // Boxed: the revert details would make every Result in the crate larger.
        #[source]
        source: Box<steward_eth::RegistryError>,
    },
    /// The agent identity cannot be used as asked (config missing, bad input); nothing was sent.
    #[error("{0}")]
    Identity(String),
    /// A zk identity or group cannot be stored as asked (zk.rs); nothing was written.
    #[error("{0}")]
    Zk(String),
}

impl Error {
    /// A stable kebab-case name for `--json` error envelopes and exit-code mapping.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::HomeMissing { .. } => "home-missing",
            Self::Home { .. } => "home-unusable",
            Self::Locked { .. } => "home-locked",
            Self::ConfigFile { .. } | Self::ConfigValue { .. } => "config-invalid",
            Self::StoreMissing { .. } => "store-missing",
            Self::WrongPassphrase { .. } => "wrong-passphrase",
            Self::Foreign { .. } => "store-foreign",
            Self::Corrupt { .. } => "store-corrupt",
            Self::KeyFile { .. } => "store-key-file",
            Self::Sqlite { .. } => "store-error",
            Self::Io { .. } => "io",
            Self::Refused(_) => "network-refused",
            Self::Url { .. } => "bad-url",
            Self::Http(_) => "http",
            Self::Source { .. } => "source",
            Self::EmptyPassphrase => "empty-passphrase",
            Self::Imap { .. } => "imap",
            Self::ImapLogin { .. } => "imap-login",
            Self::Verify { .. } => "verify",
            Self::Key { source, .. } => match source {
                steward_eth::KeystoreError::WrongPassword => "wrong-keystore-password",
                _ => "keystore-invalid",
            },
            Self::NoKey { .. } | Self::KeyNotFound { .. } => "no-key",
            Self::KeyExists { .. } => "key-exists",
            Self::Eth { source, .. } => source.kind(),
            Self::Cast(_) => "cast-refused",
            Self::AlreadyVoted { .. } => "already-voted",
            Self::Registry { source, .. } => source.kind(),
            Self::Identity(_) => "identity",
            Self::Zk(_) => "zk",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
