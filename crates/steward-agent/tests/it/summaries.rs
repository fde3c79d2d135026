//! Summaries of common ground written by the real embedded model (SmolLM2) over real pol.is
//! conversations: every sentence kept is traceable to the statements it cites.

use std::path::PathBuf;

use steward_agent::summaries::{ConversationSummaries, inputs, summarize};
use steward_agent::web::conversations::SavedConversation;
use steward_core::consensus::polis::{
    comment_texts_csv, moderated_out_csv, parse_matrix_csv, parse_votes_csv,
};
use steward_core::consensus::summary::quotes;
use steward_core::consensus::{Conversation, analyze};
use steward_ml::{Generator, LlamaGenerator, LlamaOptions};

fn data() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/polis-opendata"
    ))
}

fn models_dir() -> PathBuf {
    std::env::var_os("STEWARD_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models")))
}

/// The open-data conversation in `dir`, analysed and cut down as `consensus polis --save` does.
fn saved(dir: &std::path::Path) -> Option<SavedConversation> {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    let votes = match (read("votes.csv"), read("participants-votes.csv")) {
        (Some(t), _) => parse_votes_csv(&t, "votes.csv").expect("votes"),
        (None, Some(t)) => {
            parse_matrix_csv(&t, "participants-votes.csv")
                .expect("matrix")
                .votes
        }
        (None, None) => return None,
    };
    let comments = read("comments.csv")?;
    let conv = Conversation {
        votes,
        mod_out: moderated_out_csv(&comments, "comments.csv").expect("moderation"),
        ..Default::default()
    };
    let a = analyze(&conv).ok()?;
    let texts = comment_texts_csv(&comments, "comments.csv").expect("texts");
    let name = dir.file_name()?.to_string_lossy().replace(' ', "-");
    Some(SavedConversation::from_analysis(&name, "open data", &a, texts, None).expect("saved"))
}

/// Every kept sentence cites only allowed statements, at least one, and quotes only what they say.
/// Returns (sentences written, kept, summaries that fell back to extractive, engine failures).
fn check_traceable(
    c: &SavedConversation,
    s: &ConversationSummaries,
) -> (usize, usize, usize, usize) {
    let ins = inputs(c);
    let mut written = 0;
    let mut kept = 0;
    let mut fell_back = 0;
    let mut failed = 0;
    for (sum, input) in s.all().zip(&ins) {
        assert_eq!(sum.allowed, input.allowed(), "{}", sum.subject);
        for x in &sum.sentences {
            assert!(!x.cites.is_empty(), "{x:?}");
            for t in &x.cites {
                assert!(
                    sum.allowed.contains(t),
                    "{}: cites #{t}: {x:?}",
                    sum.subject
                );
            }
            for q in quotes(&x.text) {
                let q = q.split_whitespace().collect::<Vec<_>>().join(" ");
                assert!(
                    x.cites.iter().any(|t| {
                        let src = input
                            .statements
                            .iter()
                            .find(|st| st.tid == *t)
                            .expect("cited");
                        src.text
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(" ")
                            .contains(&q)
                    }),
                    "{}: quote {q:?} in none of {:?}",
                    sum.subject,
                    x.cites
                );
            }
        }
        if sum.model.is_some() {
            let k = if sum.extractive {
                0
            } else {
                sum.sentences.len()
            };
            written += k + sum.dropped.len();
            kept += k;
            fell_back += usize::from(sum.extractive);
        }
        failed += usize::from(
            sum.note
                .as_deref()
                .is_some_and(|n| n.contains("model failed")),
        );
    }
    (written, kept, fell_back, failed)
}

/// One real conversation by default (one group and the consensus); `STEWARD_SUMMARIES_ALL=1` runs every
/// open-data conversation and prints the table docs/consensus.md records.
#[test]
fn the_model_summaries_of_a_real_conversation_are_traceable() {
    let root = data();
    if !root.is_dir() {
        steward_testing::skip(
            steward_testing::Need::Data,
            "model_summaries",
            format_args!("{} is absent", root.display()),
        );
        return;
    }
    let dir = models_dir();
    if let Some(f) = steward_ml::spec(steward_ml::Role::Generation)
        .files
        .iter()
        .find(|f| !dir.join(f.path).is_file())
    {
        steward_testing::skip(
            steward_testing::Need::Models,
            "model_summaries",
            format_args!("{} is missing", dir.join(f.path).display()),
        );
        return;
    }
    let mut g = LlamaGenerator::embedded(&dir, &LlamaOptions::default())
        .expect("the embedded generation model loads");
    let all = std::env::var_os("STEWARD_SUMMARIES_ALL").is_some();
    let mut dirs: Vec<PathBuf> = if all {
        std::fs::read_dir(&root)
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.is_dir())
            .collect()
    } else {
        vec![root.join("brexit-consensus")]
    };
    dirs.sort();
    let (mut written, mut kept, mut fell_back, mut failures, mut summaries) = (0, 0, 0, 0, 0);
    eprintln!(
        "| conversation | summaries | sentences written | kept | dropped | extractive fallbacks | engine failures | seconds |"
    );
    for d in dirs {
        let Some(mut c) = saved(&d) else { continue };
        if !all {
            // One group and the consensus keep the default run short.
            c.groups.truncate(1);
        }
        let t = std::time::Instant::now();
        let s = summarize(Some(&mut g as &mut dyn Generator), &c);
        let secs = t.elapsed().as_secs_f64();
        let (w, k, f, e) = check_traceable(&c, &s);
        let n = s.all().filter(|x| x.model.is_some()).count();
        eprintln!(
            "| {} | {n} | {w} | {k} | {} | {f} | {e} | {secs:.1} |",
            c.name,
            w - k
        );
        for x in s.all() {
            eprintln!(
                "  {} (extractive: {}, note: {:?})",
                x.subject, x.extractive, x.note
            );
            for y in &x.sentences {
                eprintln!("    {}: {} {:?}", x.subject, y.text, y.cites);
            }
            for y in &x.dropped {
                eprintln!("    {}: DROPPED {} ({})", x.subject, y.text, y.reason);
            }
        }
        written += w;
        kept += k;
        fell_back += f;
        failures += e;
        summaries += n;
    }
    eprintln!(
        "total: {summaries} summaries checked, {written} sentences written, {kept} kept ({} dropped), {fell_back} extractive fallbacks, {failures} engine failures",
        written - kept
    );
    assert!(summaries > 0, "the model wrote no summary");
}
