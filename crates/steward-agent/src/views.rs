//! The user's views in a form they can share: `steward views draft`.
//!
//! A draft states, per governance topic, where the user leans and the reasons they gave, each
//! traceable to the profile items and votes it rests on. It is built locally from the profile
//! and passed through the core's privacy filter ([`steward_core::privacy`]): statements,
//! answers, overrides, peer notes and writing are private sources; proposals in the store and
//! the user's votes are public. Writing is counted, never quoted; whatever a private source
//! alone holds (names, contacts, amounts, dates) is removed from every line, and the rendered
//! draft is filtered once more as a whole. The user reviews and edits it before sharing.

use std::collections::BTreeMap;

use serde::Serialize;
use steward_core::Stance;
use steward_core::privacy::{Learned, Secrets};
use steward_ml::Embedder;

use crate::decide::ProfileSnapshot;
use crate::profile::{ItemKind, TOPICS, leaning, nearest_topic, topic_vectors};
use crate::{ProposalFilter, Result, Store};

/// The `meta` key under which `views draft --save` keeps the last draft (after the filter) for
/// the desk.
pub const DRAFT_META_KEY: &str = "views.draft";

/// Reasons quoted per topic, at most.
const REASONS_PER_TOPIC: usize = 5;

/// A draft of the user's shareable views.
#[derive(Debug, Clone, Serialize)]
pub struct Draft {
    /// The topic asked for, if any.
    pub topic: Option<String>,
    pub positions: Vec<Position>,
    /// Pieces of writing that support a position: counted, never quoted (unless the user marked
    /// a piece shareable: `steward profile share ID`).
    pub writing_counted: usize,
    /// How many removals the privacy filter made.
    pub removed: usize,
    /// What the filter learned from the private sources, by kind (counts only).
    pub learned: Learned,
}

/// Where the user stands on one topic.
#[derive(Debug, Clone, Serialize)]
pub struct Position {
    pub topic: String,
    /// `mostly for`, `mostly against` or `mixed`.
    pub leaning: String,
    pub for_count: usize,
    pub against_count: usize,
    pub abstain_count: usize,
    pub reasons: Vec<Reason>,
    /// Every profile item and vote the position rests on (`statement 3`, `writing 7`,
    /// `vote on <proposal>`).
    pub rests_on: Vec<String>,
}

/// One reason, in the user's words after the filter, and where it comes from.
#[derive(Debug, Clone, Serialize)]
pub struct Reason {
    pub text: String,
    pub source: String,
}

/// What the filter learns from the store: the profile's private sources against the public
/// text (proposals, the user's votes).
fn secrets_of(store: &Store) -> Result<Secrets> {
    let items = store.profile_items()?;
    let shared = store.shareable_items()?;
    // What the user marked shareable is public: it may be quoted, and what it names is not
    // private any more.
    let (shareable, items): (Vec<_>, Vec<_>) = items.iter().partition(|i| shared.contains(&i.id));
    let (writing, private): (Vec<_>, Vec<_>) =
        items.into_iter().partition(|i| i.kind == ItemKind::Writing);
    let peers = store.peers()?;
    let private: Vec<&str> = private
        .iter()
        .map(|i| i.text.as_str())
        .chain(peers.iter().filter_map(|p| p.note.as_deref()))
        .collect();
    let writing: Vec<&str> = writing.iter().map(|i| i.text.as_str()).collect();
    let proposals = store.proposals(&ProposalFilter::default())?;
    let votes = store.profile_votes(true)?;
    let mut public: Vec<&str> = shareable.iter().map(|i| i.text.as_str()).collect();
    for sp in &proposals {
        public.push(&sp.proposal.title);
        public.push(&sp.proposal.body);
    }
    for v in &votes {
        public.push(&v.title);
        if let Some(r) = &v.reason {
            public.push(r);
        }
    }
    Ok(Secrets::learn(&private, &writing, &public))
}

/// The lines (1-based) of an edited draft that still hold something private, and how many
/// items in all; empty when the text may be shared. Never the items themselves: this answer
/// reaches the terminal and its logs.
pub fn private_lines(store: &Store, text: &str) -> Result<(Vec<usize>, usize)> {
    let secrets = secrets_of(store)?;
    let mut lines = Vec::new();
    let mut total = 0;
    for (i, line) in text.lines().enumerate() {
        let r = secrets.redact(line);
        if r.removed > 0 {
            lines.push(i + 1);
            total += r.removed;
        }
    }
    // A quote can span lines: the whole text once more.
    let whole = secrets.redact(text).removed;
    if whole > total {
        total = whole;
    }
    Ok((lines, total))
}

/// Builds the draft: every topic, or the one whose name contains `topic`.
pub fn draft(store: &mut Store, embedder: &mut dyn Embedder, topic: Option<&str>) -> Result<Draft> {
    let snap = ProfileSnapshot::load(store, embedder)?;
    let secrets = secrets_of(store)?;
    let shared = store.shareable_items()?;

    let tv = topic_vectors(store, embedder)?;
    let nearest = |v: &[f32]| nearest_topic(&tv, v);
    let wanted =
        |t: usize| topic.is_none_or(|q| TOPICS[t].0.to_lowercase().contains(&q.to_lowercase()));

    #[derive(Default)]
    struct Acc {
        counts: [usize; 3],
        reasons: Vec<Reason>,
        rests_on: Vec<String>,
    }
    let count = |acc: &mut Acc, s: Stance| match s {
        Stance::For => acc.counts[0] += 1,
        Stance::Against => acc.counts[1] += 1,
        Stance::Abstain => acc.counts[2] += 1,
        Stance::Unknown => {}
    };
    let mut per: BTreeMap<usize, Acc> = BTreeMap::new();
    let mut removed = 0;
    let mut writing_counted = 0;
    for (item, v) in &snap.items {
        let Some(t) = nearest(v).filter(|&t| wanted(t)) else {
            continue;
        };
        let acc = per.entry(t).or_default();
        count(acc, item.stance);
        acc.rests_on
            .push(format!("{} {}", item.kind.as_str(), item.id));
        if item.kind == ItemKind::Writing && !shared.contains(&item.id) {
            writing_counted += 1;
            continue;
        }
        if acc.reasons.len() < REASONS_PER_TOPIC && item.stance != Stance::Unknown {
            let r = secrets.redact(&item.text);
            removed += r.removed;
            acc.reasons.push(Reason {
                text: r.text,
                source: format!("{} {}", item.kind.as_str(), item.id),
            });
        }
    }
    for (vote, v) in &snap.user_votes {
        let Some(t) = nearest(v).filter(|&t| wanted(t)) else {
            continue;
        };
        let acc = per.entry(t).or_default();
        count(acc, steward_core::stance_of_choice(&vote.choice));
        let title = if vote.title.is_empty() {
            &vote.proposal_ref
        } else {
            &vote.title
        };
        acc.rests_on.push(format!("vote on {title}"));
        if acc.reasons.len() < REASONS_PER_TOPIC
            && let Some(reason) = vote.reason.as_deref().filter(|r| !r.trim().is_empty())
        {
            let r = secrets.redact(&format!("voted {} on \"{title}\": {reason}", vote.choice));
            removed += r.removed;
            acc.reasons.push(Reason {
                text: r.text,
                source: format!("vote on {title}"),
            });
        }
    }
    let positions = per
        .into_iter()
        .map(|(t, acc)| {
            let [f, a, ab] = acc.counts;
            Position {
                topic: TOPICS[t].0.to_owned(),
                leaning: leaning(f, a, ab).to_owned(),
                for_count: f,
                against_count: a,
                abstain_count: ab,
                reasons: acc.reasons,
                rests_on: acc.rests_on,
            }
        })
        .collect();
    let mut d = Draft {
        topic: topic.map(str::to_owned),
        positions,
        writing_counted,
        removed,
        learned: secrets.learned(),
    };
    // The whole draft once more, as it will be shown: nothing a line-by-line pass missed.
    for p in &mut d.positions {
        for r in &mut p.reasons {
            let again = secrets.redact(&r.text);
            d.removed += again.removed;
            r.text = again.text;
        }
        for s in &mut p.rests_on {
            let again = secrets.redact(s);
            d.removed += again.removed;
            *s = again.text;
        }
    }
    Ok(d)
}

impl Draft {
    /// The draft as Markdown, for the user to read and edit.
    pub fn markdown(&self) -> String {
        use std::fmt::Write;
        let mut s = String::from("# My governance views (draft)\n");
        if self.positions.is_empty() {
            s.push_str(
                "\nNothing to share yet: the profile has no statements or votes on this topic.\n",
            );
        }
        for p in &self.positions {
            let _ = write!(
                s,
                "\n## {}: {}\n\nFor {}, against {}, abstain {}.\n\n",
                p.topic, p.leaning, p.for_count, p.against_count, p.abstain_count
            );
            for r in &p.reasons {
                let _ = writeln!(s, "- {} ({})", r.text, r.source);
            }
            let _ = writeln!(s, "\nRests on: {}.", p.rests_on.join(", "));
        }
        let _ = write!(
            s,
            "\n{} piece(s) of your writing counted, none quoted; {} private item(s) removed.\n",
            self.writing_counted, self.removed
        );
        s
    }
}
