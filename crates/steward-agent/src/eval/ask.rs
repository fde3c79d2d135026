//! Asking to learn (issue 15 item 4): with `--ask-budget F` the agent may ask the user about a
//! share F of the test proposals, picked as they arrive by what the answer would teach it
//! (uncertainty × importance × distance from what it already asked), and learns from each answer
//! before the next row. `--ask-curve` runs the budgets of the curve.
//!
//! The held label of a row is read only after the agent chose to ask about it; which rows are
//! asked depends on earlier answers and on the rows' proposals, never on unasked labels
//! (`tests/it/eval_ask.rs` checks it by changing them).

use std::collections::HashMap;

use serde::Serialize;

pub(crate) use crate::teach::{Similarity, teach_score};

use super::{EmbedFn, EvalEngines, EvalError, EvalOptions, EvalReport, JudgeFn, eval_votes_with};

/// The budgets `--ask-curve` runs (shares of the test proposals).
pub const CURVE_BUDGETS: [f64; 4] = [0.0, 0.05, 0.10, 0.20];

pub use crate::teach::DEFAULT_ASK_THRESHOLD;

/// What the budgeted questions did, in [`super::EvalReport::ask`].
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct AskFigures {
    /// The share of test proposals the agent may ask about (`--ask-budget`).
    pub budget: f64,
    /// The teach score a row needed to be asked.
    pub threshold: f64,
    /// Rows asked (answered from the held label, then learned from).
    pub asked: usize,
    /// `asked` over all decided rows.
    pub asked_share: f64,
    /// Questions the budget allowed (per voter, summed).
    pub allowed: usize,
    /// Asked rows whose answer was Against.
    pub against_asked: usize,
    /// Votes cast without a question over all decided rows (asked ones included in the
    /// denominator; the report's `coverage` is over the rest only).
    pub coverage_of_all: f64,
}

/// One point of `--ask-curve`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AskCurvePoint {
    pub budget: f64,
    /// Share of test proposals asked.
    pub asked: f64,
    /// On the rows not asked.
    pub forced_accuracy: Option<f64>,
    pub auto_accuracy: Option<f64>,
    /// Votes cast without a question over all test rows.
    pub coverage: f64,
    /// The user's Against votes predicted Against or asked (budget or policy).
    pub against_caught: Option<f64>,
    /// The policy's own questions on the rest, over all test rows.
    pub policy_ask_rate: f64,
    pub ece: Option<f64>,
}

impl AskCurvePoint {
    fn of(budget: f64, r: &EvalReport) -> Self {
        let ask = r.ask.unwrap_or_default();
        AskCurvePoint {
            budget,
            asked: ask.asked_share,
            forced_accuracy: r.forced_accuracy,
            auto_accuracy: r.auto_accuracy,
            coverage: ask.coverage_of_all,
            against_caught: r.against.map(|a| a.caught),
            policy_ask_rate: r.policy.ask as f64 / r.n_test.max(1) as f64,
            ece: r.ece,
        }
    }
}

/// `--ask-curve`: the evaluation at each budget of [`CURVE_BUDGETS`]; the report is the one
/// asking nothing, with the curve in `ask_curve`. Texts are embedded once.
pub fn eval_ask_curve(
    opts: &EvalOptions,
    engines: EvalEngines<'_, '_>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<EvalReport, EvalError> {
    let EvalEngines {
        mut embed,
        mut judge,
    } = engines;
    let (has_embed, has_judge) = (embed.is_some(), judge.is_some());
    // Local wrappers, so both engines live as long as this call.
    let mut judged = |r: &crate::decide::ReadableProposal,
                      c: &[String],
                      e: &[steward_core::Evidence]|
     -> steward_core::Judgement {
        match judge.as_deref_mut() {
            Some(j) => j(r, c, e),
            None => steward_core::Judgement::NotRun,
        }
    };
    let mut cache: Option<(Vec<String>, Vec<Vec<f32>>)> = None;
    let mut cached = |texts: &[String]| -> Result<Vec<Vec<f32>>, String> {
        if let Some((k, v)) = &cache
            && k.as_slice() == texts
        {
            return Ok(v.clone());
        }
        let f = embed.as_deref_mut().ok_or("no embedder")?;
        let v = f(texts)?;
        cache = Some((texts.to_vec(), v.clone()));
        Ok(v)
    };
    let mut first: Option<EvalReport> = None;
    let mut points = Vec::with_capacity(CURVE_BUDGETS.len());
    for budget in CURVE_BUDGETS {
        let mut o = opts.clone();
        o.ask_budget = Some(budget);
        let engines = EvalEngines {
            embed: if has_embed {
                Some(&mut cached as &mut EmbedFn<'_>)
            } else {
                None
            },
            judge: if has_judge {
                Some(&mut judged as &mut JudgeFn<'_>)
            } else {
                None
            },
        };
        let r = eval_votes_with(&o, engines, progress, None)?;
        points.push(AskCurvePoint::of(budget, &r));
        first.get_or_insert(r);
    }
    let mut report = first.ok_or_else(|| EvalError::Options("no budgets".into()))?;
    report.ask_curve = points;
    Ok(report)
}

/// Questions per voter: `floor(F · n)` each, and the rest of `floor(F · N)` to the voters with
/// the largest remainders (ties by name), so the total share asked is at most F.
pub(crate) fn allocate<'a>(
    budget: f64,
    rows: impl IntoIterator<Item = (&'a str, usize)>,
) -> HashMap<&'a str, usize> {
    let rows: Vec<(&str, usize)> = rows.into_iter().collect();
    let total: usize = rows.iter().map(|r| r.1).sum();
    let mut out: HashMap<&str, usize> = HashMap::new();
    let mut rem: Vec<(f64, &str)> = Vec::new();
    let mut given = 0usize;
    for &(v, n) in &rows {
        let exact = budget * n as f64;
        let base = exact.floor() as usize;
        given += base;
        out.insert(v, base);
        rem.push((exact - base as f64, v));
    }
    let target = (budget * total as f64 + 1e-9).floor() as usize;
    rem.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    for (_, v) in rem.into_iter().take(target.saturating_sub(given)) {
        *out.entry(v).or_default() += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_never_exceeds_the_share() {
        let a = allocate(0.1, [("a", 25), ("b", 7), ("c", 8)]);
        // floor(0.1 · 40) = 4: a gets 2 (2.5), then the largest remainders: c (0.8), b (0.7).
        assert_eq!((a["a"], a["b"], a["c"]), (2, 1, 1));
        let a = allocate(0.05, [("a", 10), ("b", 10)]);
        assert_eq!(a["a"] + a["b"], 1);
        assert_eq!(allocate(0.0, [("a", 10)])["a"], 0);
    }
}
