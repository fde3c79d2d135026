//! The command-line grammar.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Steward: a personal governance agent that reads every proposal, votes like you when it is
/// sure, and asks you when it matters. Everything runs locally.
#[derive(Debug, Parser)]
#[command(name = "steward", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct Global {
    /// The home directory: config, encrypted store, keys [default: $XDG_DATA_HOME/steward]
    #[arg(long, global = true, env = "STEWARD_HOME", value_name = "DIR")]
    pub(crate) home: Option<PathBuf>,
    /// Print results (and errors) as JSON on stdout
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// More logging on stderr (-v info, -vv debug, -vvv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub(crate) verbose: u8,
    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// Override a config key for this run (highest precedence), e.g. --set network.allow=loopback
    #[arg(long = "set", global = true, value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub(crate) set: Vec<(String, String)>,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the home: config.toml, the encrypted store, the audit log
    Init,
    /// Check models, tools, store, keys and config; say what is missing and how to fix it
    Doctor,
    /// Show the audit log, or verify its hash chain
    Log(LogArgs),
    /// Show the effective configuration (all layers merged)
    Config,
    /// Read proposals from files (Snapshot objects, Governor JSON)
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// Sync every configured source incrementally (resumes after a crash)
    Sync,
    /// List stored proposals, newest first
    Proposals(ProposalsArgs),
    /// Show one proposal: by key, alias or source id
    Show(ShowArgs),
    /// What a proposal's payload really does: decoded calls, simulated effects and flags
    Inspect(InspectArgs),
    /// Signing keys: create, import (cast/geth keystores), list, show the address
    #[command(subcommand)]
    Key(KeyCommand),
    /// Sign without sending: prints what would be submitted
    #[command(subcommand)]
    Sign(SignCommand),
    /// Cast (or, with casting.enabled = false, dry-run) your vote on a stored proposal
    Vote(VoteArgs),
    /// The whole story locally: anvil Governor, loopback Snapshot, a persona, `run`, the review desk
    #[cfg(feature = "demo")]
    Demo(crate::cmd::demo::DemoArgs),
    /// Sync, decide and vote or ask: once, or as a loop with --watch
    Run(crate::cmd::run::RunArgs),
    /// The review desk: a local web page to answer questions, see and override decisions
    Serve(crate::cmd::serve::ServeArgs),
    /// Your profile: statements, writing, votes, peers; what Steward learned from them
    Profile(crate::cmd::profile::ProfileArgs),
    /// Your views in a form you can share, without your private sources (docs/views.md)
    #[command(subcommand)]
    Views(crate::cmd::views::ViewsCommand),
    /// Decide how you would vote on a proposal: choice, confidence, importance, vote/ask/skip
    Decide(crate::cmd::decide::DecideArgs),
    /// The agent's open questions, with the context to answer them
    Questions(crate::cmd::questions::QuestionsArgs),
    /// Questions outside the desk: send a test notice, list what was sent (docs/questions.md)
    #[command(subcommand)]
    Notify(crate::cmd::notify::NotifyCommand),
    /// Answer a question: your choice becomes the vote and trains the profile
    Answer(crate::cmd::answer::AnswerArgs),
    /// Override the agent's decision on a proposal with your own choice
    Override(crate::cmd::answer::AnswerArgs),
    /// Score the vote model on real votes (docs/eval.md)
    #[command(subcommand)]
    Eval(crate::cmd::eval::EvalCommand),
    /// Mechanisms on CSV inputs: QV, QF, COCM, CO-QAF, attention price, LMSR (docs/mechanisms.md)
    #[command(subcommand)]
    Mech(crate::cmd::mech::MechCommand),
    /// Attention bonds: price, verify a mailbox on chain, deposit, reply, forfeit (docs/economy.md)
    #[command(subcommand)]
    Bond(crate::cmd::bond::BondCommand),
    /// Opinion groups, representative and consensus statements with Polis's math
    #[command(subcommand)]
    Consensus(crate::cmd::consensus::ConsensusCommand),
    /// The agent's ERC-8004 identity: register it, show an agent and its trusted reputation,
    /// rate another agent (docs/economy.md)
    #[command(subcommand)]
    Agent(crate::cmd::agent::AgentCommand),
    /// Suggestion markets: list inputs, quote (LMSR), trade within the budget, settle
    /// (docs/economy.md)
    Market(crate::cmd::market::MarketArgs),
    /// The private-information judge: a confined model reads private files and says only a
    /// verdict declared in advance, with a commitment; `judge list` (docs/privacy.md)
    Judge(crate::cmd::judge::JudgeArgs),
    /// Anonymous votes and signals: identity, groups, prove, verify (docs/privacy.md)
    #[command(subcommand)]
    Zk(crate::cmd::zk::ZkCommand),
    /// One DAO's health: settings, supply, turnout, largest holder and delegate, attack cost
    #[command(subcommand)]
    Dao(crate::cmd::dao::DaoCommand),
    /// Local models: info, embed, generate
    Model(crate::cmd::model::ModelArgs),
    /// Serve model requests on stdin/stdout in a confined process (started by `steward model`)
    #[command(name = "model-worker", hide = true)]
    ModelWorker(crate::cmd::model::WorkerArgs),
}

#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    #[command(subcommand)]
    pub(crate) command: Option<LogCommand>,
    /// Show only the newest N entries
    #[arg(long, short = 'n', value_name = "N")]
    pub(crate) limit: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LogCommand {
    /// Check the store's pages, every entry's hash and link, and the anchor; name the first bad
    /// entry
    Verify {
        /// A head printed by an earlier `log verify` and kept elsewhere (`SEQ:HASH`): it must
        /// still be in the log, which catches the store and audit.head rolled back together
        #[arg(long, value_name = "SEQ:HASH")]
        expect_head: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum IngestCommand {
    /// Snapshot proposal objects (one, an array, or JSON Lines) and Governor proposal JSON
    File(IngestArgs),
    /// Proposals that arrived by mail: maildir directories or mbox files
    Mail(IngestArgs),
}

#[derive(Debug, Args)]
pub(crate) struct IngestArgs {
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ProposalsArgs {
    /// Only proposals still open for voting (pending or active)
    #[arg(long)]
    pub(crate) open: bool,
    /// Only this Snapshot space (or `chain:governor`, mailbox, path)
    #[arg(long, value_name = "SPACE")]
    pub(crate) space: Option<String>,
    /// At most N proposals
    #[arg(long, short = 'n', value_name = "N")]
    pub(crate) limit: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The proposal's key (`snapshot:space:id`), an alias, or its source id
    pub(crate) id: String,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The proposal's key, alias or source id
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub(crate) id: Option<String>,
    /// A Governor proposal JSON file (as `ingest file` reads) instead of a stored proposal;
    /// nothing is pinned
    #[arg(long, value_name = "PATH")]
    pub(crate) file: Option<PathBuf>,
    /// JSON-RPC of a local chain (anvil, or an anvil fork of mainnet) to read code from and
    /// simulate on; its host must be in network.allow
    #[arg(long, value_name = "URL")]
    pub(crate) rpc: Option<String>,
    /// Read the targets' code but do not run the actions
    #[arg(long)]
    pub(crate) no_simulate: bool,
    /// Only re-check the code hashes pinned by an earlier inspect (needs --rpc)
    #[arg(long, requires = "rpc", conflicts_with = "file")]
    pub(crate) recheck: bool,
    /// Bind the description's claims by rules only, without the local model
    #[arg(long)]
    pub(crate) no_llm: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Create a new random key in <home>/keys/ (password from STEWARD_KEYSTORE_PASSWORD or asked)
    New(KeyNewArgs),
    /// Copy a Web3 Secret Storage v3 keystore (cast, geth, ethers) into <home>/keys/
    Import(KeyImportArgs),
    /// List the keystores in <home>/keys/ and which one is the default
    List,
    /// The address of the default key, or of the one named
    Address(KeyAddressArgs),
}

#[derive(Debug, Args)]
pub(crate) struct KeyNewArgs {
    /// geth's light scrypt parameters (n=2^12, p=6) instead of the standard ones (n=2^18)
    #[arg(long)]
    pub(crate) light_kdf: bool,
}

#[derive(Debug, Args)]
pub(crate) struct KeyImportArgs {
    /// The keystore file to import (its password from STEWARD_KEYSTORE_PASSWORD or asked)
    #[arg(long, value_name = "FILE")]
    pub(crate) keystore: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct KeyAddressArgs {
    /// An address or file name in <home>/keys/ [default: casting.key, else the default key]
    pub(crate) key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SignCommand {
    /// A Snapshot vote envelope {address, sig, data: {domain, types, message}}, not sent
    SnapshotVote(SignSnapshotArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SignSnapshotArgs {
    /// The space, e.g. ens.eth
    #[arg(long)]
    pub(crate) space: String,
    /// The proposal id (0x... hash or an IPFS id)
    #[arg(long)]
    pub(crate) proposal: String,
    /// The choice: 2 (single-choice, basic), 1,3 (approval, ranked-choice), {"1":2,"3":1}
    /// (weighted, quadratic); indexes start at 1
    #[arg(long)]
    pub(crate) choice: String,
    /// The voting type
    #[arg(long = "type", value_name = "TYPE", default_value = "single-choice")]
    pub(crate) kind: String,
    /// The reason shown with the vote
    #[arg(long, default_value = "")]
    pub(crate) reason: String,
    /// The app name recorded with the vote
    #[arg(long, default_value = "steward")]
    pub(crate) app: String,
    /// The timestamp (Unix seconds) [default: now]
    #[arg(long)]
    pub(crate) timestamp: Option<u64>,
    /// Which key: an address or file name in <home>/keys/ [default: casting.key, else the default key]
    #[arg(long)]
    pub(crate) key: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VoteArgs {
    /// The proposal's key (`snapshot:space:id`), an alias, or its source id
    pub(crate) id: String,
    /// The choice: For/Against/Abstain or 1-3 on a Governor; on Snapshot as for `sign
    /// snapshot-vote --choice` (indexes from 1), or a choice's name for single-choice
    pub(crate) choice: String,
    /// The reason published with the vote
    #[arg(long, default_value = "")]
    pub(crate) reason: String,
    /// Replace an earlier Snapshot vote by Steward on this proposal (Snapshot allows changing)
    #[arg(long)]
    pub(crate) change: bool,
}
