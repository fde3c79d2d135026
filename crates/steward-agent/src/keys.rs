//! The user's signing keys: Web3 Secret Storage v3 files in `<home>/keys/`, one per address
//! (`0x<address>.json`, mode 0600), interchangeable with cast and geth. The file `keys/default`
//! names the default key (the first one created or imported); config `casting.key` overrides it.
//! Key material never leaves steward-eth's zeroizing types.

use std::path::{Path, PathBuf};

use serde::Serialize;
use steward_core::Address;
use steward_eth::{
    Kdf, Key, KeystoreError, KeystorePassword, decrypt_keystore, encrypt_keystore, keystore_address,
};

use crate::error::{Error, Result};
use crate::home::Home;

/// One keystore file in the home.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub address: Address,
    pub file: PathBuf,
    /// Whether this is the key votes are signed with (unless `casting.key` says otherwise).
    pub default: bool,
}

/// The keys directory of a home.
#[derive(Debug, Clone)]
pub struct Keys {
    dir: PathBuf,
}

impl Keys {
    pub fn new(home: &Home) -> Self {
        Self::at(home.keys_dir())
    }

    /// The keys in `dir` (tests, and homes opened without the lock).
    pub fn at(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn default_file(&self) -> PathBuf {
        self.dir.join("default")
    }

    fn path_of(&self, address: Address) -> PathBuf {
        self.dir.join(format!("{address:#x}.json"))
    }

    /// Every keystore in the directory, by address; files without a readable address are
    /// skipped with a warning.
    pub fn list(&self) -> Result<Vec<KeyInfo>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(Error::Io {
                    path: self.dir.clone(),
                    context: "listing keys",
                    source,
                });
            }
        };
        let default = self.default_address()?;
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                tracing::warn!(file = %path.display(), "keystore file unreadable; skipped");
                continue;
            };
            let Some(address) = keystore_address(&text) else {
                tracing::warn!(file = %path.display(), "keystore file has no address; skipped");
                continue;
            };
            out.push(KeyInfo {
                address,
                file: path,
                default: default == Some(address),
            });
        }
        out.sort_by_key(|k| k.address);
        Ok(out)
    }

    /// The address recorded in `keys/default`, if any.
    pub fn default_address(&self) -> Result<Option<Address>> {
        match std::fs::read_to_string(self.default_file()) {
            Ok(t) => t.trim().parse().map(Some).map_err(|_| Error::Key {
                file: self.default_file(),
                source: KeystoreError::Corrupt {
                    field: "(default)".into(),
                    reason: format!("{:?} is not an address", t.trim()),
                },
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io {
                path: self.default_file(),
                context: "reading the default key",
                source,
            }),
        }
    }

    /// Makes `address` (which must have a keystore here) the default.
    pub fn set_default(&self, address: Address) -> Result<()> {
        if !self.path_of(address).is_file() {
            return Err(Error::KeyNotFound {
                wanted: format!("{address:#x}"),
                dir: self.dir.clone(),
            });
        }
        crate::home::write_atomic(&self.default_file(), format!("{address:#x}\n").as_bytes())
            .map_err(|source| Error::Io {
                path: self.default_file(),
                context: "writing the default key",
                source,
            })
    }

    /// A new random key, encrypted under `password`; the first key becomes the default.
    pub fn create(&self, password: &KeystorePassword, kdf: Kdf) -> Result<KeyInfo> {
        let key = Key::random().map_err(|source| Error::Key {
            file: self.dir.clone(),
            source,
        })?;
        let json = encrypt_keystore(&key, password, kdf).map_err(|source| Error::Key {
            file: self.dir.clone(),
            source,
        })?;
        self.store(key.address(), json.as_bytes())
    }

    /// Copies the keystore at `path` in, after checking that `password` opens it. The bytes are
    /// kept as they are (so the copy still opens in the tool that made it).
    pub fn import(&self, path: &Path, password: &KeystorePassword) -> Result<KeyInfo> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.into(),
            context: "reading the keystore",
            source,
        })?;
        let key = decrypt_keystore(&text, password).map_err(|source| Error::Key {
            file: path.into(),
            source,
        })?;
        let bytes = if keystore_address(&text).is_some() {
            text.into_bytes()
        } else {
            // cast writes no `address`; add it (geth's field) so `key list` needs no password.
            let mut v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Key {
                file: path.into(),
                source: KeystoreError::Corrupt {
                    field: "(document)".into(),
                    reason: e.to_string(),
                },
            })?;
            if let Some(o) = v.as_object_mut() {
                o.insert("address".into(), hex::encode(key.address()).into());
            }
            v.to_string().into_bytes()
        };
        self.store(key.address(), &bytes)
    }

    fn store(&self, address: Address, bytes: &[u8]) -> Result<KeyInfo> {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(&self.dir).map_err(|source| Error::Io {
            path: self.dir.clone(),
            context: "creating the keys directory",
            source,
        })?;
        let path = self.path_of(address);
        if path.exists() {
            return Err(Error::KeyExists {
                address,
                file: path,
            });
        }
        write_private(&path, bytes).map_err(|source| Error::Io {
            path: path.clone(),
            context: "writing the keystore",
            source,
        })?;
        if self.default_address()?.is_none() {
            self.set_default(address)?;
        }
        Ok(KeyInfo {
            address,
            file: path,
            default: self.default_address()? == Some(address),
        })
    }

    /// Which keystore `selector` names: an address, a file name in the directory, or (None) the
    /// default key.
    pub fn resolve(&self, selector: Option<&str>) -> Result<PathBuf> {
        let wanted = match selector.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => s.to_owned(),
            None => match self.default_address()? {
                Some(a) => format!("{a:#x}"),
                None => {
                    return Err(Error::NoKey {
                        dir: self.dir.clone(),
                    });
                }
            },
        };
        if let Ok(a) = wanted.parse::<Address>() {
            let p = self.path_of(a);
            if p.is_file() {
                return Ok(p);
            }
        } else {
            let p = self.dir.join(&wanted);
            if !wanted.contains('/') && p.is_file() {
                return Ok(p);
            }
        }
        Err(Error::KeyNotFound {
            wanted,
            dir: self.dir.clone(),
        })
    }

    /// Opens the key `selector` names (see [`Keys::resolve`]) with `password`.
    pub fn open(&self, selector: Option<&str>, password: &KeystorePassword) -> Result<Key> {
        let path = self.resolve(selector)?;
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            context: "reading the keystore",
            source,
        })?;
        decrypt_keystore(&text, password).map_err(|source| Error::Key { file: path, source })
    }

    /// The address `selector` names, without decrypting (from the file's `address` field).
    pub fn address_of(&self, selector: Option<&str>) -> Result<Address> {
        let path = self.resolve(selector)?;
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            context: "reading the keystore",
            source,
        })?;
        keystore_address(&text).ok_or_else(|| Error::Key {
            file: path,
            source: KeystoreError::Corrupt {
                field: "address".into(),
                reason: "missing".into(),
            },
        })
    }
}

/// Creates `path` with mode 0600 (never replacing a file), writes and syncs it.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn create_list_default_open() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::at(dir.path().join("keys"));
        assert!(keys.list().unwrap().is_empty());
        assert!(matches!(keys.resolve(None), Err(Error::NoKey { .. })));
        let pw = KeystorePassword::new("correct horse".into()).unwrap();
        let a = keys.create(&pw, Kdf::Light).unwrap();
        let b = keys.create(&pw, Kdf::Light).unwrap();
        assert!(a.default && !b.default);
        let list = keys.list().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(keys.open(None, &pw).unwrap().address(), a.address);
        let sel = format!("{:#x}", b.address);
        assert_eq!(keys.open(Some(&sel), &pw).unwrap().address(), b.address);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&b.file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let wrong = KeystorePassword::new("wrong horse".into()).unwrap();
        let e = keys.open(None, &wrong).unwrap_err();
        assert_eq!(e.kind(), "wrong-keystore-password");
        assert!(e.to_string().contains(&format!("{:#x}", a.address)), "{e}");
    }
}
