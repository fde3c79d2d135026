//! Vote times for `--mode replay` (what was visible when the user voted), re-votes, and the
//! delegation baselines (`best_delegate`, `crowd_so_far`). docs/eval.md describes the rules.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::{RowError, VoteRow};

/// A vote time: RFC 3339 (`2020-04-27T04:54:53Z`, the block time) or Unix seconds.
pub(super) fn parse_time(s: &str) -> Result<f64, String> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_second() as f64 + f64::from(t.subsec_nanosecond()) * 1e-9);
    }
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(format!("not a time (RFC 3339 or Unix seconds): {s:?}")),
    }
}

/// Order of two votes by the same voter on the same proposal: time, then position in the block
/// (`log_index`), then the file's line.
fn vote_key(r: &VoteRow) -> (f64, u64, u64) {
    (
        r.time.unwrap_or(f64::NEG_INFINITY),
        r.seq.unwrap_or(0),
        r.line,
    )
}

/// Keeps each voter's last vote on each proposal (as on chain, a re-vote replaces the earlier
/// one). Two votes of one voter on one proposal at the same time with different choices and no
/// `log_index` to order them cannot be ordered: both are dropped and reported. Returns the rows
/// kept (in file order) and how many earlier votes were replaced.
pub(super) fn keep_last(
    rows: Vec<VoteRow>,
    file: &str,
    errors: &mut Vec<RowError>,
) -> (Vec<VoteRow>, usize) {
    let mut by: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        by.entry((r.voter.clone(), r.proposal.clone()))
            .or_default()
            .push(i);
    }
    let mut keep = vec![false; rows.len()];
    let mut replaced = 0;
    for idx in by.values() {
        let last = *idx
            .iter()
            .max_by(|a, b| {
                let (ka, kb) = (vote_key(&rows[**a]), vote_key(&rows[**b]));
                ka.0.total_cmp(&kb.0)
                    .then(ka.1.cmp(&kb.1))
                    .then(ka.2.cmp(&kb.2))
            })
            .unwrap_or(&idx[0]);
        let l = &rows[last];
        let ambiguous: Vec<usize> = idx
            .iter()
            .copied()
            .filter(|&i| {
                let r = &rows[i];
                i != last
                    && l.time.is_some()
                    && r.time == l.time
                    && r.seq.is_none()
                    && l.seq.is_none()
                    && r.choice != l.choice
            })
            .collect();
        if !ambiguous.is_empty() {
            for &i in ambiguous.iter().chain([&last]) {
                errors.push(RowError {
                    file: file.to_owned(),
                    line: rows[i].line,
                    column: "timestamp".into(),
                    message: format!(
                        "{} voted on {} {} times at the same time with different choices and \
                         no log_index to order them",
                        rows[i].voter,
                        rows[i].proposal,
                        idx.len()
                    ),
                });
            }
            continue;
        }
        keep[last] = true;
        replaced += idx.len() - 1;
    }
    let kept = rows
        .into_iter()
        .zip(keep)
        .filter_map(|(r, k)| k.then_some(r))
        .collect();
    (kept, replaced)
}

/// Every vote event per proposal, re-votes included, in time order.
#[derive(Debug, Default)]
pub(super) struct Events {
    by_proposal: HashMap<String, Vec<(f64, u64, String, String)>>,
}

impl Events {
    pub(super) fn new<'a>(rows: impl Iterator<Item = &'a VoteRow>) -> Self {
        let mut by_proposal: HashMap<String, Vec<(f64, u64, String, String)>> = HashMap::new();
        for r in rows {
            if let (Some(t), Some(c)) = (r.time, r.choice.as_ref()) {
                by_proposal.entry(r.proposal.clone()).or_default().push((
                    t,
                    r.seq.unwrap_or(0),
                    r.voter.clone(),
                    c.clone(),
                ));
            }
        }
        for v in by_proposal.values_mut() {
            v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        }
        Events { by_proposal }
    }

    /// The votes on `proposal` that stood strictly before `cutoff`, one per voter (their latest
    /// before it), `voter` left out. Votes at the cutoff itself (the same block) are not
    /// visible: a voter signs before the block that holds their vote.
    pub(super) fn before(&self, proposal: &str, voter: &str, cutoff: f64) -> Vec<(&str, &str)> {
        let Some(evs) = self.by_proposal.get(proposal) else {
            return Vec::new();
        };
        let mut last: BTreeMap<&str, &str> = BTreeMap::new();
        for (t, _, v, c) in evs {
            if *t >= cutoff {
                break;
            }
            if v != voter {
                last.insert(v, c);
            }
        }
        last.into_iter().collect()
    }

    /// Other voters' votes on `proposal` at exactly `time` (the same block): hidden in replay.
    pub(super) fn at(&self, proposal: &str, voter: &str, time: f64) -> usize {
        self.by_proposal.get(proposal).map_or(0, |evs| {
            evs.iter()
                .filter(|(t, _, v, _)| *t == time && v != voter)
                .count()
        })
    }
}

/// Figures of a delegation baseline on the test rows.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DelegateFigures {
    /// Share of all test votes where the vote cast in the user's name was the user's own (no
    /// vote cast counts as a miss): what delegating gives at zero questions.
    pub agreement: f64,
    /// Accuracy on the rows where it cast a vote.
    pub accuracy_on_cast: Option<f64>,
    /// Share of test rows where it cast a vote.
    pub coverage: f64,
    /// The agent's forced accuracy (every row voted, no question) on the same rows where the
    /// baseline cast a vote: the like-for-like comparison.
    pub agent_on_cast: Option<f64>,
}

/// Tally behind [`DelegateFigures`].
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Tally {
    pub rows: usize,
    pub cast: usize,
    pub right: usize,
    pub agent_right_on_cast: usize,
}

impl Tally {
    /// One test row: what the baseline voted (if anything), the truth, and whether the agent's
    /// forced choice was right.
    pub(super) fn add(&mut self, voted: Option<&str>, truth: &str, agent_right: bool) {
        self.rows += 1;
        if let Some(v) = voted {
            self.cast += 1;
            self.right += usize::from(v.eq_ignore_ascii_case(truth));
            self.agent_right_on_cast += usize::from(agent_right);
        }
    }

    pub(super) fn merge(&mut self, o: &Tally) {
        self.rows += o.rows;
        self.cast += o.cast;
        self.right += o.right;
        self.agent_right_on_cast += o.agent_right_on_cast;
    }

    pub(super) fn figures(&self) -> Option<DelegateFigures> {
        (self.rows > 0).then(|| DelegateFigures {
            agreement: self.right as f64 / self.rows as f64,
            accuracy_on_cast: (self.cast > 0).then(|| self.right as f64 / self.cast as f64),
            coverage: self.cast as f64 / self.rows as f64,
            agent_on_cast: (self.cast > 0)
                .then(|| self.agent_right_on_cast as f64 / self.cast as f64),
        })
    }
}

/// The majority (by head count) of the visible votes; ties go to the label earlier in
/// `choices` (the more common one in training). `None` when nothing is visible.
pub(super) fn crowd<'a>(visible: &[&'a str], choices: &'a [String]) -> Option<&'a str> {
    let mut best: Option<(usize, usize, &str)> = None;
    for (rank, c) in choices.iter().enumerate() {
        let n = visible.iter().filter(|v| v.eq_ignore_ascii_case(c)).count();
        if n > 0 && best.is_none_or(|(bn, br, _)| n > bn || (n == bn && rank < br)) {
            best = Some((n, rank, c.as_str()));
        }
    }
    best.map(|b| b.2)
}

/// The peer who would have served the user best as a delegate on the training proposals: the
/// most votes equal to the user's (a proposal the peer did not vote on is a miss), ties to the
/// fewer disagreements, then the address. `final_votes[proposal][voter]` is each voter's last
/// vote.
pub(super) fn best_delegate<'a>(
    user: &str,
    train: &[(&str, &str)],
    final_votes: &'a HashMap<String, HashMap<String, String>>,
) -> Option<(&'a str, usize, usize)> {
    let mut tally: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (proposal, mine) in train {
        let Some(votes) = final_votes.get(*proposal) else {
            continue;
        };
        for (peer, c) in votes {
            if peer == user {
                continue;
            }
            let e = tally.entry(peer.as_str()).or_default();
            e.1 += 1;
            e.0 += usize::from(c.eq_ignore_ascii_case(mine));
        }
    }
    tally
        .into_iter()
        .filter(|(_, (a, _))| *a > 0)
        .max_by(|x, y| {
            let (dx, dy) = (x.1.1 - x.1.0, y.1.1 - y.1.0);
            x.1.0.cmp(&y.1.0).then(dy.cmp(&dx)).then(y.0.cmp(x.0))
        })
        .map(|(p, (a, n))| (p, a, n))
}

/// A seeded, order-independent coin per (voter, proposal) for `--visible FRACTION`.
pub(super) fn visible_coin(seed: u64, voter: &str, proposal: &str) -> f64 {
    let h = steward_core::sha256_hex(format!("visible\0{seed}\0{voter}\0{proposal}").as_bytes());
    u64::from_str_radix(&h[..13], 16).unwrap_or(0) as f64 / (1u64 << 52) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(voter: &str, choice: &str, time: Option<f64>, seq: Option<u64>, line: u64) -> VoteRow {
        VoteRow {
            voter: voter.into(),
            proposal: "p".into(),
            choice: Some(choice.into()),
            title: None,
            order: None,
            time,
            seq,
            line,
        }
    }

    #[test]
    fn times_parse_as_rfc3339_or_seconds_and_garbage_is_an_error() {
        assert_eq!(parse_time("1970-01-01T00:01:00Z"), Ok(60.0));
        assert_eq!(parse_time("60.5"), Ok(60.5));
        assert!(
            parse_time("yesterday")
                .expect_err("garbage")
                .contains("yesterday")
        );
    }

    #[test]
    fn the_last_vote_counts_and_unorderable_duplicates_are_reported() {
        let mut errors = Vec::new();
        let rows = vec![
            row("a", "For", Some(1.0), None, 2),
            row("a", "Against", Some(5.0), None, 3),
            // Same block: log_index orders them.
            row("b", "Against", Some(5.0), Some(9), 4),
            row("b", "For", Some(5.0), Some(7), 5),
            // Same time, no log_index, different choices: cannot be ordered.
            row("c", "For", Some(5.0), None, 6),
            row("c", "Against", Some(5.0), None, 7),
        ];
        let (kept, replaced) = keep_last(rows, "votes.csv", &mut errors);
        let got: Vec<(&str, &str)> = kept
            .iter()
            .map(|r| (r.voter.as_str(), r.choice.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(got, [("a", "Against"), ("b", "Against")]);
        assert_eq!(replaced, 2);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().all(|e| e.column == "timestamp"));
        assert_eq!((errors[0].line.min(errors[1].line)), 6);
    }

    #[test]
    fn only_votes_strictly_before_the_cutoff_are_visible_latest_per_voter() {
        let rows = [
            row("a", "For", Some(1.0), None, 2),
            row("a", "Against", Some(4.0), None, 3),
            row("b", "Against", Some(2.0), None, 4),
            row("c", "For", Some(3.0), None, 5),
            row("u", "For", Some(3.0), None, 6),
        ];
        let ev = Events::new(rows.iter());
        // At time 3: a's first vote (its re-vote comes later), b; c voted in the same block.
        assert_eq!(ev.before("p", "u", 3.0), [("a", "For"), ("b", "Against")]);
        assert_eq!(ev.before("p", "u", 10.0)[0], ("a", "Against"));
        assert!(ev.before("q", "u", 10.0).is_empty());
    }

    #[test]
    fn the_crowd_and_the_best_delegate() {
        let choices = vec!["For".to_owned(), "Against".to_owned()];
        assert_eq!(
            crowd(&["Against", "For", "against"], &choices),
            Some("Against")
        );
        assert_eq!(crowd(&["Against", "For"], &choices), Some("For"));
        assert_eq!(crowd(&[], &choices), None);
        let mut fv: HashMap<String, HashMap<String, String>> = HashMap::new();
        for (p, votes) in [
            ("p1", [("u", "For"), ("x", "For"), ("y", "For")]),
            ("p2", [("u", "Against"), ("x", "For"), ("y", "Against")]),
            ("p3", [("u", "For"), ("x", "For"), ("z", "For")]),
        ] {
            for (v, c) in votes {
                fv.entry(p.into()).or_default().insert(v.into(), c.into());
            }
        }
        let train = [("p1", "For"), ("p2", "Against"), ("p3", "For")];
        // x agrees 2 of 3, y 2 of 2: the same agreement, fewer disagreements wins.
        assert_eq!(best_delegate("u", &train, &fv), Some(("y", 2, 2)));
    }
}
