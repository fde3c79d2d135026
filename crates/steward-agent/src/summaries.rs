//! Summaries of common ground for a saved conversation (`steward consensus summarize`): one per
//! opinion group, over its representative statements, and one for the consensus, over the
//! consensus counted once per bloc. Written by the generation model under a schema that lets a
//! sentence cite only the allowed statements, then checked by
//! [`steward_core::consensus::summary::validate`]; without a model, extractive.

use serde::{Deserialize, Serialize};
use steward_core::consensus::summary::{Summary, SummaryInput, extractive, group_label, validate};
use steward_ml::{GenerateRequest, Generator, JsonSchema};

use crate::web::conversations::SavedConversation;

/// Tokens for one summary: three bounded sentences, their cites, and the whitespace a small
/// model puts around JSON (224 ran out on a third of the open-data summaries).
const MAX_TOKENS: u32 = 320;

/// The summaries of one conversation, kept with it in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummaries {
    /// Aligned with the conversation's groups.
    pub groups: Vec<Summary>,
    pub consensus: Summary,
    /// The statements that split the groups most, largest spread first.
    pub cruxes: Vec<u64>,
}

impl ConversationSummaries {
    /// Every summary, the groups' first.
    pub fn all(&self) -> impl Iterator<Item = &Summary> {
        self.groups.iter().chain(std::iter::once(&self.consensus))
    }
}

/// What each summary of `c` is written from.
pub fn inputs(c: &SavedConversation) -> Vec<SummaryInput> {
    let mut out: Vec<SummaryInput> = c
        .groups
        .iter()
        .map(|g| {
            let tids: Vec<(u64, bool)> = g.repness.iter().map(|r| (r.tid, r.agree)).collect();
            SummaryInput::new(&format!("group {}", group_label(g.id)), &tids, &c.texts)
        })
        .collect();
    // Without a bloc the one-per-bloc lists are Polis's own (older saves lack the disagree list).
    let (agree, disagree) = if c.blocs.is_empty() {
        (&c.consensus_agree, &c.consensus_disagree)
    } else {
        (
            &c.consensus_agree_one_per_bloc,
            &c.consensus_disagree_one_per_bloc,
        )
    };
    let tids: Vec<(u64, bool)> = agree
        .iter()
        .map(|t| (*t, true))
        .chain(disagree.iter().map(|t| (*t, false)))
        .collect();
    out.push(SummaryInput::new("consensus", &tids, &c.texts));
    out
}

/// An engine error cut to 160 characters: it may carry the model's whole unfinished answer.
fn short(s: &str) -> String {
    match s.char_indices().nth(160) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

/// The model request for one summary: the fenced statements and the allowed-ids schema.
pub fn request(input: &SummaryInput) -> Result<GenerateRequest, String> {
    let schema = JsonSchema::parse(&input.schema().to_string()).map_err(|e| e.to_string())?;
    let mut req = GenerateRequest::new(input.prompt());
    req.system = Some(input.system());
    req.max_tokens = MAX_TOKENS;
    req.schema = Some(schema);
    Ok(req)
}

/// The summaries of `c`, written by `g` (all in one batch) or extractive when `g` is None. An
/// engine failure makes the summaries extractive and says why; it is never an error.
pub fn summarize(g: Option<&mut dyn Generator>, c: &SavedConversation) -> ConversationSummaries {
    let inputs = inputs(c);
    let mut out: Vec<Summary> = match g {
        None => inputs
            .iter()
            .map(|i| extractive(i, "no model (--no-llm or decide.use_llm = false)"))
            .collect(),
        Some(g) => {
            let model = g.info().model;
            // Only the inputs with statements go to the model.
            let asked: Vec<usize> = (0..inputs.len())
                .filter(|&i| !inputs[i].statements.is_empty())
                .collect();
            let mut out: Vec<Summary> = inputs.iter().map(|i| extractive(i, "not asked")).collect();
            let reqs: Result<Vec<GenerateRequest>, String> =
                asked.iter().map(|&i| request(&inputs[i])).collect();
            match reqs {
                Ok(reqs) => {
                    let answers = g.generate_batch(&reqs, &mut |_, _| {});
                    for (&i, a) in asked.iter().zip(answers) {
                        out[i] = match a {
                            Ok(a) => validate(&inputs[i], a.json.as_ref(), &model),
                            Err(e) => extractive(
                                &inputs[i],
                                &format!("the model failed: {}", short(&e.to_string())),
                            ),
                        };
                    }
                }
                Err(e) => {
                    for &i in &asked {
                        out[i] = extractive(&inputs[i], &format!("the schema failed: {e}"));
                    }
                }
            }
            out
        }
    };
    let consensus = out.pop().unwrap_or_else(|| {
        extractive(
            &SummaryInput::new("consensus", &[], &c.texts),
            "no consensus",
        )
    });
    ConversationSummaries {
        groups: out,
        consensus,
        cruxes: c.cruxes.iter().map(|x| x.tid).collect(),
    }
}
