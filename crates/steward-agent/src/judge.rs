//! The private-information judge's records (docs/privacy.md): every judgement is kept in the
//! store and appended to the audit log in one transaction, with the documents' hashes and sizes
//! only, so repeated questions about the same documents are visible (each judgement reveals at
//! most log2(k) bits for k verdicts). The judging itself is `steward_ml::judge`, run in the
//! confined worker by `steward judge`.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use steward_core::AuditRecord;
use steward_ml::judge::{InputDigest, JudgeSpec};

use crate::error::Result;
use crate::store::{Store, sql};

pub(crate) const MIGRATION: &str = r#"
-- Judgements of the private-information judge (judge.rs): hashes and the verdict, never text.
CREATE TABLE judgements (
    id          INTEGER PRIMARY KEY,
    created     TEXT NOT NULL,
    commitment  TEXT NOT NULL,         -- SHA-256 of the canonical encoding (docs/privacy.md)
    verdict     TEXT NOT NULL,
    json        TEXT NOT NULL,         -- the whole Judgement
    posted      TEXT                   -- the ERC-8004 validation response, JSON, once posted
) STRICT;
CREATE INDEX judgements_commitment ON judgements (commitment);
"#;

/// The model a judgement ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JudgeModel {
    /// The manifest's file name (e.g. `smollm2-135m-instruct-q4_1.gguf`).
    pub file: String,
    pub sha256: String,
}

/// What `steward judge` prints and keeps: everything needed to re-run it given the documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Judgement {
    pub question: String,
    pub verdicts: Vec<String>,
    pub verdict: String,
    pub commitment: String,
    pub inputs: Vec<InputDigest>,
    pub model: JudgeModel,
    pub template_sha256: String,
    pub seed: u32,
}

/// One stored judgement.
#[derive(Debug, Clone, Serialize)]
pub struct JudgementRow {
    pub id: i64,
    pub created: String,
    #[serde(flatten)]
    pub judgement: Judgement,
    /// How many judgements of the store (this one included) named the same inputs, question and
    /// model: repeated queries are how more than log2(k) bits could be drawn out.
    pub same_commitment: u64,
    pub posted: Option<serde_json::Value>,
}

impl Store {
    /// Keeps a judgement and appends it to the audit log (kind `judge`), together. Returns its id.
    pub fn record_judgement(&mut self, j: &Judgement) -> Result<i64> {
        let json = serde_json::to_string(j).map_err(|e| crate::Error::Corrupt {
            path: self.path().to_owned(),
            reason: format!("judgement not serialisable: {e}"),
        })?;
        let mut record =
            AuditRecord::new("judge", j.commitment.clone()).detail(serde_json::json!({
                "question": j.question,
                "verdicts": j.verdicts,
                "verdict": j.verdict,
                "model": j.model,
                "template_sha256": j.template_sha256,
                "seed": j.seed,
            }));
        for (i, d) in j.inputs.iter().enumerate() {
            record
                .inputs
                .insert(format!("private-{i}"), d.sha256.clone());
        }
        self.transaction(|tx| {
            let path = tx.path().to_owned();
            tx.sql()
                .execute(
                    "INSERT INTO judgements (created, commitment, verdict, json)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![
                        jiff::Timestamp::now().to_string(),
                        j.commitment,
                        j.verdict,
                        json
                    ],
                )
                .map_err(sql(&path, "recording a judgement"))?;
            let id = tx.sql().last_insert_rowid();
            tx.audit(&record)?;
            Ok(id)
        })
    }

    /// Notes where judgement `id` was posted (an ERC-8004 validation response) and audits it.
    pub fn judgement_posted(&mut self, id: i64, posted: &serde_json::Value) -> Result<()> {
        let record = AuditRecord::new("judge-posted", id.to_string()).detail(posted.clone());
        self.transaction(|tx| {
            let path = tx.path().to_owned();
            tx.sql()
                .execute(
                    "UPDATE judgements SET posted = ?2 WHERE id = ?1",
                    params![id, posted.to_string()],
                )
                .map_err(sql(&path, "recording a posted judgement"))?;
            tx.audit(&record)?;
            Ok(())
        })
    }

    /// Every judgement, newest first.
    pub fn judgements(&self) -> Result<Vec<JudgementRow>> {
        let mut st = self
            .conn()
            .prepare(
                "SELECT j.id, j.created, j.json, j.posted,
                        (SELECT count(*) FROM judgements k WHERE k.commitment = j.commitment)
                 FROM judgements j ORDER BY j.id DESC",
            )
            .map_err(sql(self.path(), "reading judgements"))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .map_err(sql(self.path(), "reading judgements"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql(self.path(), "reading judgements"))?;
        rows.into_iter()
            .map(|(id, created, json, posted, same)| {
                let bad = |e: serde_json::Error| crate::Error::Corrupt {
                    path: self.path().to_owned(),
                    reason: format!("judgement {id} does not parse: {e}"),
                };
                Ok(JudgementRow {
                    id,
                    created,
                    judgement: serde_json::from_str(&json).map_err(bad)?,
                    same_commitment: same as u64,
                    posted: posted
                        .map(|p| serde_json::from_str(&p))
                        .transpose()
                        .map_err(bad)?,
                })
            })
            .collect()
    }

    /// How many judgements named this commitment before.
    pub fn judgements_with(&self, commitment: &str) -> Result<u64> {
        let n: Option<i64> = self
            .conn()
            .query_row(
                "SELECT count(*) FROM judgements WHERE commitment = ?1",
                [commitment],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql(self.path(), "reading judgements"))?;
        Ok(n.unwrap_or(0) as u64)
    }
}

impl Judgement {
    /// The judgement of `index` among `spec`'s verdicts over `inputs`, by the embedded
    /// generation model with the judge's template.
    pub fn new(spec: &JudgeSpec, index: usize, inputs: Vec<InputDigest>) -> Self {
        let file = &steward_ml::spec(steward_ml::Role::Generation).files[0];
        let template_sha256 = steward_ml::judge::template_sha256();
        let commitment = steward_ml::judge::commitment(
            spec,
            &inputs,
            file.sha256,
            &template_sha256,
            steward_ml::judge::SEED,
        );
        Judgement {
            question: spec.question().to_owned(),
            verdicts: spec.verdicts().to_vec(),
            verdict: spec.verdicts()[index].clone(),
            commitment,
            inputs,
            model: JudgeModel {
                file: file.path.to_owned(),
                sha256: file.sha256.to_owned(),
            },
            template_sha256,
            seed: steward_ml::judge::SEED,
        }
    }

    /// The verdict's position in the declared list.
    pub fn index(&self) -> usize {
        self.verdicts
            .iter()
            .position(|v| *v == self.verdict)
            .unwrap_or_default()
    }

    /// The record a validation response points at (`data:` URI): the judgement itself, hashes
    /// only, so anyone holding the documents can re-run it with the named model file.
    pub fn record_uri(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("type".into(), steward_ml::judge::FORMAT.into());
        }
        crate::identity::data_uri(&v)
    }
}

/// The response for verdict `index` of `k`: `scores[index]` when given, else the index scaled
/// to 0..=100 (first verdict 0, last 100).
pub fn score(index: usize, k: usize, scores: &[u8]) -> Result<u8> {
    if !scores.is_empty() {
        if scores.len() != k {
            return Err(crate::identity::identity_error(format!(
                "--scores has {} values for {k} verdicts: give one score (0..=100) per verdict, in order",
                scores.len()
            )));
        }
        if let Some((i, s)) = scores.iter().enumerate().find(|(_, s)| **s > 100) {
            return Err(crate::identity::identity_error(format!(
                "--scores: value {i} is {s}; scores are 0..=100"
            )));
        }
        return Ok(scores[index]);
    }
    if k < 2 {
        return Ok(0);
    }
    Ok(((index * 100 + (k - 1) / 2) / (k - 1)) as u8)
}

/// Where and how to post a judgement as an ERC-8004 validation response.
#[derive(Debug, Clone)]
pub struct PostArgs {
    pub rpc: String,
    pub registry: steward_core::Address,
    pub agent_id: String,
    /// The request answered; default: the commitment.
    pub request_hash: Option<steward_core::B256>,
    pub scores: Vec<u8>,
}

/// What was posted.
#[derive(Debug, Clone, Serialize)]
pub struct Posted {
    pub registry: steward_core::Address,
    pub agent_id: String,
    pub request_hash: steward_core::B256,
    /// Whether this command filed the validation request itself (the key owns the agent).
    pub requested: bool,
    pub response: u8,
    pub response_hash: steward_core::B256,
    pub tx: String,
    pub block: u64,
}

/// The tag every judge response carries.
pub const VALIDATION_TAG: &str = "steward-judge";

/// Posts `j` as the validator's response (0..=100, see [`score`]) with its commitment as the
/// response hash and [`Judgement::record_uri`] as the URI. The request (by default keyed by the
/// commitment) must name the signing key as validator; when nobody asked yet and the key owns
/// or operates the agent, it is filed first.
pub async fn post(
    ctx: crate::identity::IdentityContext<'_>,
    j: &Judgement,
    args: &PostArgs,
) -> Result<Posted> {
    use crate::identity::{identity_error, open_key, parse_agent_id, registry_error};
    let agent = parse_agent_id(Some(&args.agent_id), ctx.home)?;
    let response = score(j.index(), j.verdicts.len(), &args.scores)?;
    let commitment: steward_core::B256 = j
        .commitment
        .parse()
        .map_err(|_| identity_error(format!("commitment {:?} is not 32 bytes", j.commitment)))?;
    let request_hash = args.request_hash.unwrap_or(commitment);
    let reg = steward_eth::ValidationRegistry::new(ctx.network.rpc(&args.rpc)?, args.registry);
    let key = open_key(&ctx)?;
    let me = key.address();
    let uri = j.record_uri();
    let status = reg
        .status(request_hash)
        .await
        .map_err(registry_error(format!(
            "reading validation request {request_hash}"
        )))?;
    let requested = match status {
        Some(s) if s.validator != me => {
            return Err(identity_error(format!(
                "validation request {request_hash} names validator {}, not this key ({me})",
                s.validator
            )));
        }
        Some(s) if s.agent_id != agent => {
            return Err(identity_error(format!(
                "validation request {request_hash} is about agent {}, not {agent}",
                s.agent_id
            )));
        }
        Some(_) => false,
        None => {
            reg.request(&key, me, agent, &uri, request_hash)
                .await
                .map_err(registry_error(format!(
                    "no validation request {request_hash} exists, and filing one for agent {agent} failed (the agent's owner must ask this key, {me}, to validate)"
                )))?;
            true
        }
    };
    let p = reg
        .respond(
            &key,
            request_hash,
            response,
            &uri,
            commitment,
            VALIDATION_TAG,
        )
        .await
        .map_err(registry_error(format!(
            "posting the validation response for {request_hash}"
        )))?;
    Ok(Posted {
        registry: args.registry,
        agent_id: agent.to_string(),
        request_hash,
        requested,
        response: p.response,
        response_hash: p.response_hash,
        tx: p.mined.tx.to_string(),
        block: p.mined.block,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_scale_the_index_or_follow_the_mapping() {
        assert_eq!(score(0, 3, &[]).ok(), Some(0));
        assert_eq!(score(1, 3, &[]).ok(), Some(50));
        assert_eq!(score(2, 3, &[]).ok(), Some(100));
        assert_eq!(score(1, 4, &[]).ok(), Some(33));
        assert_eq!(score(1, 3, &[100, 20, 0]).ok(), Some(20));
        assert!(score(1, 3, &[100, 0]).is_err());
        assert!(score(1, 3, &[100, 101, 0]).is_err());
    }
}
