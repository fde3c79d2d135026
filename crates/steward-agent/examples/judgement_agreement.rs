//! How often other GGUF models give the embedded model's judgement (`decide`'s
//! schema-constrained choice and confidence) on real proposal texts: the check to run before
//! swapping the embedded Q4_1 for a requantized copy (docs/models.md).
//!
//! cargo run --release -p steward-agent --example judgement_agreement -- \
//!     MODELS_DIR PROPOSAL_TEXTS_DIR N OTHER.gguf...
//!
//! Takes N proposals spread evenly over the Aave, Lido and Maker texts in PROPOSAL_TEXTS_DIR
//! (../shared/data/proposal-texts: title from index.jsonl, body from md/), builds each
//! judgement request with `decide::judgement_request` for one fixed voter (three views, choices
//! For/Against/Abstain), and answers all of them with one `generate_batch` call per model,
//! greedy. Prints one JSON line per model: seconds, the choices it made, and how many answers
//! match the embedded model's choice, and its choice and confidence.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use steward_agent::decide::{ReadableProposal, judgement_request, read_judgement};
use steward_core::Evidence;
use steward_ml::{Generator, LlamaGenerator, LlamaOptions};

/// A judgement: the chosen index and the confidence.
type Judgement = (usize, String);

const CORPORA: [&str; 3] = ["aave-aips", "lido-lips", "makerdao-mips"];
const VIEWS: [&str; 3] = [
    "I vote against treasury spending without milestones and public reporting.",
    "I support changes that lower risk for depositors, even at some cost to growth.",
    "I back audited security upgrades; unaudited code paths get a no from me.",
];

/// (title, body) of every proposal in a corpus, in index order.
fn corpus(dir: &Path) -> Result<Vec<(String, String)>, Box<dyn std::error::Error>> {
    let index = std::fs::read_to_string(dir.join("index.jsonl"))?;
    let mut out = Vec::new();
    for line in index.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let title = ["title", "Title", "heading"]
            .iter()
            .find_map(|k| v.get(*k).and_then(|t| t.as_str()))
            .unwrap_or_default();
        let file = v.get("file").and_then(|f| f.as_str()).ok_or("no file")?;
        out.push((title.to_owned(), std::fs::read_to_string(dir.join(file))?));
    }
    Ok(out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [models, texts, n, others @ ..] = args.as_slice() else {
        return Err(
            "usage: judgement_agreement MODELS_DIR PROPOSAL_TEXTS_DIR N OTHER.gguf...".into(),
        );
    };
    let n: usize = n.parse()?;
    let mut all = Vec::new();
    for c in CORPORA {
        all.extend(corpus(&PathBuf::from(texts).join(c))?);
    }
    let step = (all.len() / n.max(1)).max(1);
    let proposals: Vec<ReadableProposal> = all
        .iter()
        .step_by(step)
        .take(n)
        .map(|(title, body)| ReadableProposal {
            title: title.clone(),
            body: body.clone(),
            flags: Vec::new(),
        })
        .collect();
    let choices: Vec<String> = ["For", "Against", "Abstain"].map(String::from).to_vec();
    let evidence: Vec<Evidence> = VIEWS
        .iter()
        .enumerate()
        .map(|(i, v)| Evidence {
            kind: steward_core::EvidenceKind::Statement,
            id: format!("view-{i}"),
            excerpt: (*v).to_owned(),
            weight: 1.0,
            leans: None,
        })
        .collect();
    let reqs = proposals
        .iter()
        .map(|p| judgement_request(p, &choices, &evidence))
        .collect::<Result<Vec<_>, _>>()?;

    let opts = LlamaOptions::default();
    let mut runs: Vec<(String, LlamaGenerator)> = vec![(
        "embedded".into(),
        LlamaGenerator::embedded(Path::new(models), &opts)?,
    )];
    for path in others {
        runs.push((path.clone(), LlamaGenerator::load(Path::new(path), &opts)?));
    }
    let mut reference: Vec<Option<Judgement>> = Vec::new();
    for (name, mut g) in runs {
        let t = Instant::now();
        let answers: Vec<Option<Judgement>> = g
            .generate_batch(&reqs, &mut |_, _| {})
            .into_iter()
            .map(|out| out.ok().and_then(|o| read_judgement(&o, &choices).ok()))
            .collect();
        let seconds = t.elapsed().as_secs_f64();
        if reference.is_empty() {
            reference = answers.clone();
        }
        let mut made: BTreeMap<String, usize> = BTreeMap::new();
        for a in &answers {
            let key = a
                .as_ref()
                .map_or("(no answer)", |(i, _)| choices[*i].as_str());
            *made.entry(key.to_owned()).or_default() += 1;
        }
        let same = |f: &dyn Fn(&Judgement, &Judgement) -> bool| {
            answers
                .iter()
                .zip(&reference)
                .filter(|(a, r)| matches!((a, r), (Some(a), Some(r)) if f(a, r)))
                .count()
        };
        let line = serde_json::json!({
            "model": name,
            "proposals": reqs.len(),
            "seconds": seconds,
            "choices": made,
            "same_choice": same(&|a, r| a.0 == r.0),
            "same_choice_and_confidence": same(&|a, r| a == r),
        });
        println!("{line}");
    }
    Ok(())
}
