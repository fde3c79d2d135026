//! The home directory: where config, store and keys live, and the lock that keeps a second
//! process out.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::env;
use crate::error::{Error, Result};

/// An opened, locked home. The lock is held until this value is dropped.
#[derive(Debug)]
pub struct Home {
    root: PathBuf,
    _lock: File,
}

impl Home {
    /// The default home: `$XDG_DATA_HOME/steward`, else `~/.local/share/steward`.
    pub fn default_path(getenv: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
        if let Some(x) = getenv(env::XDG_DATA_HOME).filter(|s| !s.is_empty()) {
            return Some(PathBuf::from(x).join("steward"));
        }
        getenv("HOME")
            .filter(|s| !s.is_empty())
            .map(|h| PathBuf::from(h).join(".local/share/steward"))
    }

    /// Opens an existing home and takes its lock.
    pub fn open(root: &Path) -> Result<Self> {
        match fs::metadata(root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::Home {
                    path: root.into(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotADirectory,
                        "it is not a directory",
                    ),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::HomeMissing { path: root.into() });
            }
            Err(source) => {
                return Err(Error::Home {
                    path: root.into(),
                    source,
                });
            }
        }
        Self::lock(root)
    }

    /// Creates the home (mode 0700) if needed, then opens it. An existing directory is made
    /// 0700 too: it holds config.toml (RPC keys), the store and the keys.
    pub fn create(root: &Path) -> Result<Self> {
        let mut b = fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        let home_err = |source| Error::Home {
            path: root.into(),
            source,
        };
        b.create(root).map_err(home_err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(root, fs::Permissions::from_mode(0o700)).map_err(home_err)?;
        }
        Self::open(root)
    }

    fn lock(root: &Path) -> Result<Self> {
        let path = root.join("steward.lock");
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        private(&mut opts);
        let mut file = opts.open(&path).map_err(|source| Error::Home {
            path: root.into(),
            source,
        })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(Error::Locked {
                    path: root.into(),
                    pid: (!pid.is_empty()).then(|| pid.to_owned()),
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(Error::Home {
                    path: root.into(),
                    source,
                });
            }
        }
        // Best effort: the pid only makes the "in use" message more helpful.
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "{}", std::process::id()));
        Ok(Self {
            root: root.into(),
            _lock: file,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    pub fn store_path(&self) -> PathBuf {
        self.root.join("steward.db")
    }

    pub fn key_path(&self) -> PathBuf {
        self.root.join("steward.db.key")
    }

    pub fn audit_anchor_path(&self) -> PathBuf {
        self.root.join("audit.head")
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }

    pub fn default_models_dir(&self) -> PathBuf {
        self.root.join("models")
    }
}

/// Makes files created through `opts` readable by their owner only (mode 0600).
fn private(opts: &mut OpenOptions) {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(opts, 0o600);
}

/// Makes an existing file readable by its owner only (mode 0600).
pub fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically, readable by the owner only (mode 0600): a temporary file
/// in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    {
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        private(&mut opts);
        let mut f = opts.open(&tmp)?;
        // A leftover temp file keeps its old mode through open: set it.
        make_private(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}
