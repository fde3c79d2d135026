//! Cold start (issue 15 item 5): a first-run interview built from the followed DAOs' own past
//! proposals, and the import of the user's own past votes by address from what the sources
//! synced.
//!
//! The questionnaire is chosen the way voting advice applications (Wahl-O-Mat, smartvote)
//! choose their statements: items on which voters disagree, spread over the topics. Each stored
//! proposal gets a disagreement score (the normalized entropy of how its visible voters split,
//! by head count: voting power would let one whale decide what counts as contested) and a topic
//! (the nearest of the profile's topics); the interview then takes, greedily, the proposal with
//! the highest disagreement × novelty, where novelty falls for a topic already covered and for a
//! proposal like one already taken. Proposals the user has already voted on are left out.
//!
//! Answers go into the profile exactly as an answer to a question does (a profile item and the
//! user's vote, `questions::record_user_choice`), so the next decision uses them at once.

use std::collections::HashMap;

use serde::Serialize;
use steward_core::{Proposal, Source};

use crate::decide::{ReadableProposal, cosine, embed_cached};
use crate::profile::{ItemKind, VoteRecord, nearest_topic, topic_vectors};
use crate::store::Store;
use crate::{Error, ProposalFilter, Result};

/// Fewer visible votes than this and how voters split says little.
const MIN_VOTERS: usize = 5;
/// The disagreement of a proposal nobody is seen voting on: below any real split of two sides.
const UNKNOWN_DISAGREEMENT: f64 = 0.2;
/// Novelty left to a proposal in a topic the interview already covers.
const SAME_TOPIC: f64 = 0.5;

/// One item of the interview.
#[derive(Debug, Clone, Serialize)]
pub struct InterviewItem {
    pub proposal: String,
    pub title: String,
    /// The DAO: the Snapshot space or the Governor's address.
    pub dao: String,
    /// The proposal's opening sentences.
    pub summary: String,
    pub choices: Vec<String>,
    /// How visible voters split: (choice, voters), largest first.
    pub split: Vec<(String, usize)>,
    pub voters: usize,
    /// 0 (everyone agreed) to 1 (an even split over the choices).
    pub disagreement: f64,
    pub topic: Option<String>,
}

/// The label of a stored vote's choice on `p`: Snapshot's 1-based index, or a Governor's
/// `support` value; `None` for ranked, approval and weighted ballots.
fn choice_label(p: &Proposal, choice: &serde_json::Value) -> Option<String> {
    let k = choice.as_u64()?;
    match p.source {
        Source::Governor { .. } => {
            let i = steward_eth::choice_of_support(u8::try_from(k).ok()?)?;
            steward_eth::GOVERNOR_CHOICES
                .get(i)
                .map(|c| (*c).to_owned())
        }
        _ => {
            let i = usize::try_from(k).ok()?.checked_sub(1)?;
            p.choices.get(i).cloned()
        }
    }
}

/// How voters split over the choices, by head count, largest first.
fn split(p: &Proposal, votes: &[steward_core::Vote]) -> Vec<(String, usize)> {
    let mut by: HashMap<String, usize> = HashMap::new();
    for v in votes {
        if let Some(label) = choice_label(p, &v.choice) {
            *by.entry(label).or_default() += 1;
        }
    }
    let mut out: Vec<(String, usize)> = by.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// Entropy of the split in bits, at most 1: 1 at an even split between two sides (or more).
/// Not normalized by the number of choices: an even For/Against split with an unused Abstain
/// is as contested as a proposal gets.
pub fn disagreement(split: &[(String, usize)]) -> f64 {
    let n: usize = split.iter().map(|s| s.1).sum();
    if n < MIN_VOTERS {
        return UNKNOWN_DISAGREEMENT;
    }
    let h: f64 = split
        .iter()
        .filter(|s| s.1 > 0)
        .map(|s| {
            let p = s.1 as f64 / n as f64;
            -p * p.ln()
        })
        .sum();
    (h / std::f64::consts::LN_2).clamp(0.0, 1.0)
}

/// Picks `count` items: the most contested, spread over topics and away from each other.
/// `topic` and `vectors` are per candidate; pure, so that the choice is unit-tested.
pub fn pick(
    disagreement: &[f64],
    topic: &[Option<usize>],
    vectors: &[Vec<f32>],
    count: usize,
) -> Vec<usize> {
    let mut picked: Vec<usize> = Vec::new();
    while picked.len() < count {
        let best = (0..disagreement.len())
            .filter(|i| !picked.contains(i))
            .map(|i| {
                let like = picked
                    .iter()
                    .map(|&j| cosine(&vectors[i], &vectors[j]).max(0.0))
                    .fold(0.0, f64::max);
                let covered = topic[i].is_some() && picked.iter().any(|&j| topic[j] == topic[i]);
                let novelty = (1.0 - like) * if covered { SAME_TOPIC } else { 1.0 };
                (i, disagreement[i] * novelty)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)));
        match best {
            Some((i, _)) => picked.push(i),
            None => break,
        }
    }
    picked
}

fn dao(p: &Proposal) -> String {
    match &p.source {
        Source::Snapshot { space } => space.clone(),
        Source::Governor { governor, .. } => governor.to_string(),
        Source::Mail { mailbox } => format!("mail {mailbox}"),
        Source::File { path } => format!("file {path}"),
    }
}

impl InterviewItem {
    /// How voters split, in words: `For 75%, Against 25% of 4`.
    pub fn split_words(&self) -> String {
        let n: usize = self.split.iter().map(|s| s.1).sum();
        if n == 0 {
            return "no votes seen".into();
        }
        let parts: Vec<String> = self
            .split
            .iter()
            .map(|(c, k)| format!("{c} {:.0}%", 100.0 * *k as f64 / n as f64))
            .collect();
        format!("{} of {n}", parts.join(", "))
    }
}

/// The interview: `count` stored proposals to ask the user about (see the module's doc).
pub fn questionnaire(
    store: &mut Store,
    embedder: &mut dyn steward_ml::Embedder,
    count: usize,
) -> Result<Vec<InterviewItem>> {
    let voted: std::collections::HashSet<String> = store
        .profile_votes(true)?
        .into_iter()
        .map(|v| v.proposal_ref)
        .collect();
    let pool: Vec<crate::StoredProposal> = store
        .proposals(&ProposalFilter::default())?
        .into_iter()
        .filter(|sp| sp.proposal.choices.len() >= 2 && !voted.contains(&sp.key))
        .collect();
    if pool.is_empty() {
        return Err(Error::Source {
            source_name: "interview".into(),
            message: "no proposals in the store to build an interview from: follow a DAO and \
                      `steward sync` first (docs/sources.md)"
                .into(),
        });
    }
    let texts: Vec<String> = pool
        .iter()
        .map(|sp| ReadableProposal::of(&sp.proposal).embed_text())
        .collect();
    let vectors = embed_cached(store, embedder, &texts)?;
    let topics = topic_vectors(store, embedder)?;
    let mut splits = Vec::with_capacity(pool.len());
    for sp in &pool {
        splits.push(split(&sp.proposal, &store.votes(&sp.key)?));
    }
    let scores: Vec<f64> = splits.iter().map(|s| disagreement(s)).collect();
    let topic: Vec<Option<usize>> = vectors.iter().map(|v| nearest_topic(&topics, v)).collect();
    Ok(pick(&scores, &topic, &vectors, count)
        .into_iter()
        .map(|i| {
            let p = &pool[i].proposal;
            let r = ReadableProposal::of(p);
            InterviewItem {
                proposal: pool[i].key.clone(),
                title: r.title.clone(),
                dao: dao(p),
                summary: crate::questions::opening(&r.body, 2, 320),
                choices: p.choices.clone(),
                voters: splits[i].iter().map(|s| s.1).sum(),
                split: splits[i].clone(),
                disagreement: (scores[i] * 1000.0).round() / 1000.0,
                topic: topic[i].map(|t| crate::profile::TOPICS[t].0.to_owned()),
            }
        })
        .collect())
}

/// Records interview answers, (proposal key, choice label), all or none: an unknown proposal or
/// a choice the proposal does not offer is an error naming both, and nothing is written.
pub fn record_answers(store: &mut Store, answers: &[(String, String)]) -> Result<usize> {
    let mut checked = Vec::with_capacity(answers.len());
    for (key, choice) in answers {
        let sp = store.proposal(key)?.ok_or_else(|| Error::Source {
            source_name: "interview".into(),
            message: format!("no proposal {key} in the store"),
        })?;
        let label = sp
            .proposal
            .choices
            .iter()
            .find(|c| c.trim().eq_ignore_ascii_case(choice.trim()))
            .cloned()
            .ok_or_else(|| Error::Source {
                source_name: "interview".into(),
                message: format!(
                    "{key}: {choice:?} is not one of its choices ({})",
                    sp.proposal.choices.join(", ")
                ),
            })?;
        checked.push((key.clone(), sp.proposal.title.clone(), label));
    }
    store.transaction(|tx| {
        for (key, title, label) in &checked {
            crate::questions::record_user_choice(
                tx,
                ItemKind::Answer,
                key,
                title,
                label,
                None,
                "interview",
            )?;
        }
        Ok(checked.len())
    })
}

/// The votes `address` cast on the proposals the sources synced into the store, as the user's
/// own (`steward profile import votes --address`).
pub fn own_votes(store: &Store, address: &str) -> Result<Vec<VoteRecord>> {
    let address = address.trim().to_ascii_lowercase();
    let mut out = Vec::new();
    for sp in store.proposals(&ProposalFilter::default())? {
        for v in store.votes(&sp.key)? {
            if v.voter != address {
                continue;
            }
            let Some(choice) = choice_label(&sp.proposal, &v.choice) else {
                continue;
            };
            out.push(VoteRecord {
                voter: address.clone(),
                is_user: true,
                proposal_ref: sp.key.clone(),
                title: sp.proposal.title.clone(),
                choice,
                reason: v.reason.clone(),
                ord: v.created,
                origin: "sync".into(),
            });
        }
    }
    Ok(out)
}

/// What `import_own_votes` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OwnVotes {
    /// Votes found in the store (Governor votes, and Snapshot votes synced while open).
    pub from_store: usize,
    /// Votes found on the Snapshot hub in the followed spaces.
    pub from_hub: usize,
    /// Hub votes on proposals the store does not hold (sync the space first).
    pub not_in_store: usize,
    /// Votes that are not one choice (ranked, approval, weighted): not imported.
    pub not_single_choice: usize,
    /// Rows the hub sent that do not parse, each naming the vote and the field.
    pub quarantined: Vec<String>,
    #[serde(skip)]
    pub votes: Vec<VoteRecord>,
}

/// The user's own past votes by address: what the store holds, and every vote the address cast
/// in the followed Snapshot spaces (the hub keeps only open proposals' votes in sync, so closed
/// ones are asked for here). Deduplicated by proposal.
pub async fn import_own_votes(
    store: &Store,
    hub: Option<&crate::sources::snapshot::HubClient>,
    spaces: &[String],
    address: &str,
) -> Result<OwnVotes> {
    let parsed: steward_core::Address = address.trim().parse().map_err(|_| Error::Source {
        source_name: "profile import".into(),
        message: format!("--address {address:?} is not a 0x-prefixed 20-byte hex address"),
    })?;
    let mut found = OwnVotes::default();
    let mut votes = own_votes(store, address)?;
    found.from_store = votes.len();
    if let Some(hub) = hub.filter(|_| !spaces.is_empty()) {
        // The hub matches the checksummed form it stores.
        let checksummed = parsed.to_checksum(None);
        let address = address.trim().to_ascii_lowercase();
        let mut cursor = crate::sources::snapshot::Cursor::default();
        const PAGE: u32 = 200;
        loop {
            let page = hub
                .votes_of_voter(spaces, &checksummed, cursor, PAGE)
                .await?;
            let n = page.len();
            cursor = cursor.advance(
                page.iter()
                    .map(|v| v["created"].as_i64().unwrap_or(cursor.created)),
            );
            for (i, raw) in page.iter().enumerate() {
                let v = match crate::sources::snapshot::parse_vote(raw) {
                    Ok(v) => v,
                    Err(e) => {
                        let id = raw["id"].as_str().unwrap_or("?");
                        found
                            .quarantined
                            .push(format!("snapshot hub vote {id} (#{i}): {e}"));
                        continue;
                    }
                };
                let (Some(space), Some(pid)) =
                    (raw["space"]["id"].as_str(), raw["proposal"]["id"].as_str())
                else {
                    found.quarantined.push(format!(
                        "snapshot hub vote {}: space.id or proposal.id is missing",
                        v.id
                    ));
                    continue;
                };
                let key = format!("snapshot:{space}:{pid}");
                let Some(sp) = store.proposal(&key)? else {
                    found.not_in_store += 1;
                    continue;
                };
                let Some(choice) = choice_label(&sp.proposal, &v.choice) else {
                    found.not_single_choice += 1;
                    continue;
                };
                found.from_hub += 1;
                votes.push(VoteRecord {
                    voter: address.clone(),
                    is_user: true,
                    proposal_ref: key,
                    title: sp.proposal.title.clone(),
                    choice,
                    reason: v.reason.clone(),
                    ord: v.created,
                    origin: "snapshot hub".into(),
                });
            }
            if n < PAGE as usize {
                break;
            }
        }
    }
    // One vote per proposal: the latest (Snapshot lets a voter change their vote).
    votes.sort_by(|a, b| a.proposal_ref.cmp(&b.proposal_ref).then(a.ord.cmp(&b.ord)));
    let mut dedup: Vec<VoteRecord> = Vec::with_capacity(votes.len());
    for v in votes {
        match dedup.last_mut() {
            Some(last) if last.proposal_ref == v.proposal_ref => *last = v,
            _ => dedup.push(v),
        }
    }
    found.votes = dedup;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(pairs: &[(&str, usize)]) -> Vec<(String, usize)> {
        pairs.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect()
    }

    #[test]
    fn an_even_split_is_the_most_contested() {
        let even = disagreement(&s(&[("For", 50), ("Against", 50)]));
        let lopsided = disagreement(&s(&[("For", 95), ("Against", 5)]));
        let unanimous = disagreement(&s(&[("For", 100)]));
        assert!((even - 1.0).abs() < 1e-9);
        assert!(lopsided < 0.35 && lopsided > 0.0, "{lopsided}");
        assert_eq!(unanimous, 0.0);
        // Too few voters to say: a low prior, below a real even split.
        assert_eq!(disagreement(&s(&[("For", 2), ("Against", 2)])), 0.2);
        // A three-way split is as contested as an even two-way one, never more.
        assert_eq!(
            disagreement(&s(&[("For", 5), ("Against", 5), ("Abstain", 5)])),
            1.0
        );
        assert!(disagreement(&s(&[("For", 7), ("Against", 5)])) < even);
    }

    #[test]
    fn the_interview_spreads_over_topics_and_away_from_look_alikes() {
        // 0 and 1 are near-identical and most contested; 2 is in the same topic; 3 is another
        // topic, a little less contested.
        let dis = [0.95, 0.94, 0.9, 0.8];
        let topic = [Some(0), Some(0), Some(0), Some(1)];
        let v = vec![
            vec![1.0, 0.0, 0.0],
            vec![0.99, 0.1, 0.0],
            vec![0.6, 0.8, 0.0],
            vec![0.0, 0.0, 1.0],
        ];
        assert_eq!(pick(&dis, &topic, &v, 2), [0, 3]);
        let all = pick(&dis, &topic, &v, 10);
        assert_eq!(all.len(), 4, "never more than the pool, never twice");
        assert_eq!(all[..2], [0, 3]);
    }
}
