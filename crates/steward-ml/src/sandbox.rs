//! Confinement for the model worker: Landlock (read-only access to the model files, nothing
//! else on disk, no TCP) and a seccomp filter that refuses the system calls a model never needs
//! and an escape would (sockets, io_uring, ptrace, other processes' memory, bpf, keys, mounts,
//! exec). Landlock binds only the calling thread and the threads it starts afterwards, so
//! [`confine`] must run before any other thread exists; it reports any thread it finds, and
//! [`Confinement::is_confined`] is false then. Where the kernel lacks a layer, the report says
//! so and the caller decides (the CLI refuses unless the user allowed it).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What [`confine`] achieved, for `steward doctor` and `steward model info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confinement {
    /// `enforced` (with the kernel's ABI when older than 7, from 4 up), `partially enforced`
    /// (ABI below 4), or why not.
    pub landlock: String,
    /// `enforced` or why not.
    pub seccomp: String,
    /// Threads (ids) that were already running when Landlock was applied: they run without it.
    #[serde(default)]
    pub threads_before: Vec<u32>,
}

/// The system calls the seccomp filter refuses (with `EACCES`), by name for the docs and tests.
pub const DENIED_SYSCALLS: &[&str] = &[
    "socket",
    "socketpair",
    "connect",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "mount",
    "umount2",
    "fsopen",
    "open_tree",
    "move_mount",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "execve",
    "execveat",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "open_by_handle_at",
];

impl Confinement {
    /// Not confined, on purpose (`--unconfined`, or an in-process engine).
    pub fn off() -> Self {
        Confinement {
            landlock: "off".into(),
            seccomp: "off".into(),
            threads_before: Vec::new(),
        }
    }

    /// Both layers fully in force on every thread.
    pub fn is_confined(&self) -> bool {
        self.missing().is_empty()
    }

    /// What keeps the worker from being confined, one phrase each; empty when it is.
    pub fn missing(&self) -> Vec<String> {
        let mut missing = Vec::new();
        if !self.landlock.starts_with("enforced") {
            missing.push(format!("landlock: {}", self.landlock));
        }
        if self.seccomp != "enforced" {
            missing.push(format!("seccomp: {}", self.seccomp));
        }
        if !self.threads_before.is_empty() {
            let ids: Vec<String> = self.threads_before.iter().map(u32::to_string).collect();
            missing.push(format!(
                "threads started before confinement: {}",
                ids.join(", ")
            ));
        }
        missing
    }

    /// One line: `confined (landlock, seccomp)` or `unconfined (landlock: …; seccomp: …)`.
    pub fn summary(&self) -> String {
        if self.is_confined() {
            "confined (landlock: read-only model files; seccomp: no sockets, io_uring, ptrace, exec)"
                .into()
        } else {
            format!("unconfined ({})", self.missing().join("; "))
        }
    }
}

/// Confines the calling thread and every thread it starts afterwards: call it on the only thread
/// of the process, before any library starts one (threads found running are reported in
/// [`Confinement::threads_before`]). `read_only`: the only paths that stay readable (files or
/// directories); nothing is writable or executable.
pub fn confine(read_only: &[PathBuf]) -> Confinement {
    confine_with(read_only, Layers::default())
}

/// Which layers [`confine_with`] applies; a skipped one is reported as `unavailable: skipped`.
/// Lets tests see what the worker and its callers do on a kernel without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layers {
    pub landlock: bool,
    pub seccomp: bool,
}

impl Default for Layers {
    fn default() -> Self {
        Layers {
            landlock: true,
            seccomp: true,
        }
    }
}

/// [`confine`] with some layers left out.
pub fn confine_with(read_only: &[PathBuf], layers: Layers) -> Confinement {
    let skipped = || "unavailable: skipped (test hook)".to_owned();
    // Listed before Landlock, which then hides /proc/self/task. No thread can start in between
    // unless one already runs, and that one is reported.
    let others = other_threads();
    let landlock = if layers.landlock {
        match landlock(read_only) {
            Ok(s) => s,
            Err(e) => format!("unavailable: {e}"),
        }
    } else {
        skipped()
    };
    let (landlock, threads_before) = match others {
        Ok(t) => (landlock, t),
        Err(e) => (
            format!("unverified: cannot list the process's threads: {e}"),
            Vec::new(),
        ),
    };
    let seccomp = if layers.seccomp {
        match seccomp() {
            Ok(()) => "enforced".into(),
            Err(e) => format!("unavailable: {e}"),
        }
    } else {
        skipped()
    };
    Confinement {
        landlock,
        seccomp,
        threads_before,
    }
}

/// The ids of this process's threads other than the calling one.
#[cfg(target_os = "linux")]
fn other_threads() -> Result<Vec<u32>, String> {
    // `/proc/thread-self` links to `<pid>/task/<tid>`.
    let link =
        std::fs::read_link("/proc/thread-self").map_err(|e| format!("/proc/thread-self: {e}"))?;
    let Some(me) = link
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse::<u32>().ok())
    else {
        return Err(format!(
            "/proc/thread-self: unexpected link {}",
            link.display()
        ));
    };
    let mut others = Vec::new();
    for entry in
        std::fs::read_dir("/proc/self/task").map_err(|e| format!("/proc/self/task: {e}"))?
    {
        let entry = entry.map_err(|e| format!("/proc/self/task: {e}"))?;
        if let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
            && tid != me
        {
            others.push(tid);
        }
    }
    others.sort_unstable();
    Ok(others)
}

#[cfg(not(target_os = "linux"))]
fn other_threads() -> Result<Vec<u32>, String> {
    Err("Linux only".into())
}

#[cfg(target_os = "linux")]
fn landlock(read_only: &[PathBuf]) -> Result<String, String> {
    use landlock::{
        ABI, Access, AccessFs, AccessNet, LandlockStatus, Ruleset, RulesetAttr, RulesetCreatedAttr,
        RulesetStatus, path_beneath_rules,
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
    match (status.ruleset, status.landlock) {
        (RulesetStatus::FullyEnforced, _) => Ok("enforced".into()),
        // ABI 4 (Linux 6.7) has what the worker relies on: the filesystem rules and TCP. Later
        // ABIs add ioctl, scoping and logging rights.
        (RulesetStatus::PartiallyEnforced, LandlockStatus::Available { effective_abi, .. })
            if effective_abi >= ABI::V4 =>
        {
            Ok(format!(
                "enforced (kernel Landlock ABI {}: files and TCP)",
                effective_abi as i32
            ))
        }
        (RulesetStatus::PartiallyEnforced, _) => {
            Ok("partially enforced (kernel Landlock ABI below 4: no TCP rules)".into())
        }
        (RulesetStatus::NotEnforced, _) => Err("not supported by this kernel".into()),
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
    // An empty rule list matches the syscall whatever its arguments. Keep in step with
    // DENIED_SYSCALLS (a unit test checks the count).
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> = denied_numbers()
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

/// The numbers of [`DENIED_SYSCALLS`] on this architecture.
#[cfg(target_os = "linux")]
fn denied_numbers() -> Vec<i64> {
    use libc::*;
    vec![
        SYS_socket,
        SYS_socketpair,
        SYS_connect,
        SYS_io_uring_setup,
        SYS_io_uring_enter,
        SYS_io_uring_register,
        SYS_ptrace,
        SYS_process_vm_readv,
        SYS_process_vm_writev,
        SYS_bpf,
        SYS_perf_event_open,
        SYS_keyctl,
        SYS_add_key,
        SYS_request_key,
        SYS_userfaultfd,
        SYS_mount,
        SYS_umount2,
        SYS_fsopen,
        SYS_open_tree,
        SYS_move_mount,
        SYS_pivot_root,
        SYS_chroot,
        SYS_unshare,
        SYS_setns,
        SYS_execve,
        SYS_execveat,
        SYS_init_module,
        SYS_finit_module,
        SYS_delete_module,
        SYS_kexec_load,
        SYS_kexec_file_load,
        SYS_open_by_handle_at,
    ]
}

#[cfg(not(target_os = "linux"))]
fn seccomp() -> Result<(), String> {
    Err("Linux only".into())
}

/// Tries what a confined worker must not be able to do; each answer is `ok` or the error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub read: Option<String>,
    /// The same read from a thread started for it (threads inherit the confinement).
    #[serde(default)]
    pub thread_read: Option<String>,
    pub socket: String,
    /// A Unix socket pair (a worker needs none: it speaks over inherited pipes).
    #[serde(default)]
    pub socketpair: String,
    pub tcp_connect: String,
    /// Setting up an io_uring, whose queued operations would open sockets without a `socket`
    /// or `connect` system call the filter could see.
    #[serde(default)]
    pub io_uring: String,
}

/// The discard port: refused or unreachable when unconfined, which still counts as "a socket
/// could be created". Give [`probe`] a listening address to see a connection made.
const DEFAULT_CONNECT: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9);

/// Reads a file (content discarded), tries to create a UDP socket, a socket pair and an
/// io_uring, and to connect over TCP to `connect` (default 127.0.0.1:9).
pub fn probe(read: Option<&std::path::Path>, connect: Option<std::net::SocketAddr>) -> ProbeReport {
    let show = |r: std::io::Result<()>| match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("denied: {e}"),
    };
    ProbeReport {
        read: read.map(|p| show(std::fs::read(p).map(drop))),
        thread_read: read.map(|p| {
            let p = p.to_owned();
            match std::thread::spawn(move || std::fs::read(p).map(drop)).join() {
                Ok(r) => show(r),
                Err(_) => "failed: the probe thread panicked".into(),
            }
        }),
        socketpair: show(std::os::unix::net::UnixStream::pair().map(drop)),
        socket: show(std::net::UdpSocket::bind("127.0.0.1:0").map(drop)),
        tcp_connect: match std::net::TcpStream::connect_timeout(
            &connect.unwrap_or(DEFAULT_CONNECT),
            std::time::Duration::from_millis(200),
        ) {
            Ok(_) => "ok".into(),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                "ok (socket created; connection refused)".into()
            }
            Err(e) => format!("denied: {e}"),
        },
        io_uring: io_uring(),
    }
}

#[cfg(target_os = "linux")]
fn io_uring() -> String {
    match io_uring::IoUring::new(8) {
        Ok(_) => "ok".into(),
        Err(e) => format!("denied: {e}"),
    }
}

#[cfg(not(target_os = "linux"))]
fn io_uring() -> String {
    "denied: not Linux".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn every_named_syscall_has_a_number() {
        let numbers = denied_numbers();
        assert_eq!(numbers.len(), DENIED_SYSCALLS.len());
        let unique: std::collections::BTreeSet<_> = numbers.iter().collect();
        assert_eq!(unique.len(), numbers.len(), "a number listed twice");
    }

    #[test]
    fn confined_only_with_both_layers_and_no_earlier_thread() {
        let full = Confinement {
            landlock: "enforced".into(),
            seccomp: "enforced".into(),
            threads_before: vec![],
        };
        let cases = [
            (full.clone(), true, ""),
            (
                Confinement {
                    threads_before: vec![41, 42],
                    ..full.clone()
                },
                false,
                "threads started before confinement: 41, 42",
            ),
            (
                Confinement {
                    landlock: "unavailable: not supported by this kernel".into(),
                    ..full.clone()
                },
                false,
                "landlock: unavailable: not supported by this kernel",
            ),
            (
                Confinement {
                    seccomp: "unavailable: skipped (test hook)".into(),
                    ..full.clone()
                },
                false,
                "seccomp: unavailable: skipped (test hook)",
            ),
            (
                Confinement {
                    landlock: "enforced (kernel Landlock ABI 4: files and TCP)".into(),
                    ..full.clone()
                },
                true,
                "confined",
            ),
            (
                Confinement {
                    landlock: "partially enforced (kernel Landlock ABI below 4: no TCP rules)"
                        .into(),
                    ..full.clone()
                },
                false,
                "landlock: partially enforced",
            ),
            (Confinement::off(), false, "landlock: off; seccomp: off"),
        ];
        for (c, confined, says) in cases {
            assert_eq!(c.is_confined(), confined, "{c:?}");
            assert!(c.summary().contains(says), "{}", c.summary());
        }
    }
}
