//! The round: one path a proposal travels, as typed stages, each a function whose inputs and
//! outputs are values (reth's stages are the model).
//!
//! ```text
//! Caster::reconcile     finish intents a crash left half-done              -> usize
//! sync::sync_all        sources, then forum discussions                    -> SyncReport
//! Pipeline::recheck_*   code pinned at inspection, re-read while open and
//!                       before execution                                   -> Alerts
//! Pipeline::resume_votes votes decided earlier whose cast never finished     -> lines
//! Pipeline::cast_answers the user's answers, cast once each                -> lines
//! stages::select_todo   open proposals not decided in their content        -> Synced
//! Pipeline::inspect     decode, simulate, pin, bind claims                 -> Inspected {flags, payload, pins}
//! Pipeline::decide      decide_with over one profile snapshot per round    -> Decided {decision, question}
//! Pipeline::budget      budget::triage: the round's questions within the
//!                       question budget, the rest into the digest          -> QuestionBudget
//! Pipeline::record      store + audit the decision (and its question)      -> decision id
//! Pipeline::dispatch    stages::plan: cast | question | skip               -> Dispatched
//! Pipeline::notify      open questions by webhook/mail, reminders          -> notices sent
//! ```
//!
//! [`Pipeline::round`] drives them for `steward run` (and `run --watch`, `demo`);
//! [`Pipeline::decide_one`] runs inspect -> decide -> record for `steward decide`. One inspector,
//! one set of engines (the model worker the binary spawned) and one profile snapshot serve a
//! whole round. One proposal that fails never stops the others: its error is in the report.

pub mod budget;
mod cast;
mod round;
pub mod stages;
mod sync;

pub use cast::{Caster, describe, desk_cast_hook};
pub use round::{Pipeline, Prepared, RoundOptions};
pub use stages::{Decided, Dispatched, Inspected, Outcome, QuestionBudget, RoundReport, Synced};
pub use sync::{SyncReport, has_sources, sync_all};

/// Errors of the round's stages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    #[error("while syncing {what}")]
    Sync {
        what: String,
        #[source]
        source: Box<crate::Error>,
    },
    #[error("while syncing {governor}")]
    Governor {
        governor: String,
        #[source]
        source: Box<steward_eth::Error>,
    },
    #[error("governor address {address:?} is not an address")]
    GovernorAddress { address: String },
    #[error("{accounts} imap account(s) configured but {passwords} password(s) given")]
    ImapPasswords { accounts: usize, passwords: usize },
    #[error("finishing votes a crash left half-done")]
    Reconcile {
        #[source]
        source: Box<crate::Error>,
    },
    #[error("no proposal {0} in the store")]
    NoProposal(String),
    #[error("while deciding on {proposal}")]
    Decide {
        proposal: String,
        #[source]
        source: Box<crate::Error>,
    },
    #[error("recording the decision on {proposal}")]
    Record {
        proposal: String,
        #[source]
        source: Box<crate::Error>,
    },
    #[error("casting on {proposal}")]
    Cast {
        proposal: String,
        #[source]
        source: Box<crate::Error>,
    },
    #[error(transparent)]
    Agent(Box<crate::Error>),
}

// Boxed: the agent's error is large, and every stage returns this one.
impl From<crate::Error> for PipelineError {
    fn from(e: crate::Error) -> Self {
        PipelineError::Agent(Box::new(e))
    }
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

/// An error and its sources on one line, as the round's report lists them.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let next = c.to_string();
        // `transparent` and `{source}` in a message repeat what the source says.
        if !s.ends_with(&next) {
            s.push_str(": ");
            s.push_str(&next);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_chain_names_every_cause_once() {
        let e = PipelineError::Decide {
            proposal: "snapshot:ens.eth:0x01".into(),
            source: Box::new(crate::Error::Source {
                source_name: "embedder".into(),
                message: "worker exited".into(),
            }),
        };
        assert_eq!(
            chain(&e),
            "while deciding on snapshot:ens.eth:0x01: embedder: worker exited"
        );
        // A transparent wrapper adds nothing of its own.
        let e = PipelineError::from(crate::Error::Cast("no intent 3".into()));
        assert_eq!(chain(&e), "no intent 3");
    }
}
