//! Confinement for the model worker: Landlock (read-only access to the model files, nothing
//! else on disk, no TCP) and a seccomp filter that refuses to create sockets. Where the kernel
//! lacks either, the worker still runs and says so.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What [`confine`] achieved, for `steward doctor` and `steward model info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confinement {
    /// `enforced`, `partially enforced`, or why not.
    pub landlock: String,
    /// `enforced` or why not.
    pub seccomp: String,
}

impl Confinement {
    /// Not confined, on purpose (`--unconfined`, or an in-process engine).
    pub fn off() -> Self {
        Confinement {
            landlock: "off".into(),
            seccomp: "off".into(),
        }
    }

    /// Both layers fully in force.
    pub fn is_confined(&self) -> bool {
        self.landlock == "enforced" && self.seccomp == "enforced"
    }

    /// One line: `confined (landlock, seccomp)` or `unconfined (landlock: …; seccomp: …)`.
    pub fn summary(&self) -> String {
        if self.is_confined() {
            "confined (landlock: read-only model files; seccomp: no sockets)".into()
        } else {
            format!(
                "unconfined (landlock: {}; seccomp: {})",
                self.landlock, self.seccomp
            )
        }
    }
}

/// Confines the calling thread and every thread it starts afterwards (call it on the main thread
/// before starting any). `read_only`: the only paths that stay readable (files or directories);
/// nothing is writable or executable.
pub fn confine(read_only: &[PathBuf]) -> Confinement {
    Confinement {
        landlock: match landlock(read_only) {
            Ok(s) => s,
            Err(e) => format!("unavailable: {e}"),
        },
        seccomp: match seccomp() {
            Ok(()) => "enforced".into(),
            Err(e) => format!("unavailable: {e}"),
        },
    }
}

#[cfg(target_os = "linux")]
fn landlock(read_only: &[PathBuf]) -> Result<String, String> {
    use landlock::{
        ABI, Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
        path_beneath_rules,
    };
    let abi = ABI::V7;
    let e = |e: landlock::RulesetError| e.to_string();
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .map_err(e)?
        .handle_access(AccessNet::from_all(abi))
        .map_err(e)?
        .create()
        .map_err(e)?
        .add_rules(path_beneath_rules(read_only, AccessFs::from_read(abi)))
        .map_err(e)?
        .restrict_self()
        .map_err(e)?;
    match status.ruleset {
        RulesetStatus::FullyEnforced => Ok("enforced".into()),
        RulesetStatus::PartiallyEnforced => Ok("partially enforced (older kernel ABI)".into()),
        RulesetStatus::NotEnforced => Err("not supported by this kernel".into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn landlock(_: &[PathBuf]) -> Result<String, String> {
    Err("Linux only".into())
}

#[cfg(target_os = "linux")]
fn seccomp() -> Result<(), String> {
    use std::collections::BTreeMap;

    use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};

    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
    // An empty rule list matches the syscall whatever its arguments.
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> =
        [libc::SYS_socket, libc::SYS_socketpair]
            .into_iter()
            .map(|nr| (nr, Vec::new()))
            .collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    let program: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    // Sets no_new_privs, then installs the filter on every thread of the process.
    seccompiler::apply_filter_all_threads(&program).map_err(|e| e.to_string())
}

#[cfg(not(target_os = "linux"))]
fn seccomp() -> Result<(), String> {
    Err("Linux only".into())
}

/// Tries what a confined worker must not be able to do; each answer is `ok` or the error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub read: Option<String>,
    pub socket: String,
    pub tcp_connect: String,
}

/// Reads a file (content discarded) and tries to create a UDP socket and connect over TCP to
/// 127.0.0.1:9 (the discard port; refused or unreachable when unconfined, which still counts
/// as "a socket could be created").
pub fn probe(read: Option<&std::path::Path>) -> ProbeReport {
    let show = |r: std::io::Result<()>| match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("denied: {e}"),
    };
    ProbeReport {
        read: read.map(|p| show(std::fs::read(p).map(drop))),
        socket: show(std::net::UdpSocket::bind("127.0.0.1:0").map(drop)),
        tcp_connect: match std::net::TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], 9)),
            std::time::Duration::from_millis(200),
        ) {
            Ok(_) => "ok".into(),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                "ok (socket created; connection refused)".into()
            }
            Err(e) => format!("denied: {e}"),
        },
    }
}
