//! Verification: what a decoded proposal payload does, and which flags that raises.
//!
//! steward-eth decodes calldata into [`Call`]s (and simulates them); this module holds the pure
//! rules on top: which call is which [`Effect`] ([`effects_of`]), which effect or call is which
//! [`Flag`] ([`flags_of`]), and whether the description states what the payload does
//! ([`claims`], [`mismatches`]). No I/O: callers pass token metadata in.

mod binding;
mod claims;
mod effects;
mod governance;
mod known_tokens;
mod promises;
mod provenance;
mod value;
mod words;

pub use binding::{
    ACTIONS, Binder, Binding, Candidates, MAX_BINDINGS, MAX_CANDIDATES, NONE, Recipient,
    StatedAmount, binding_mismatches, binding_schema, candidates, merge, model_bindings,
    rule_bindings, unbound_transfers,
};
pub use claims::{Amount, Claims, claims, mismatches};
pub use effects::{
    Effect, EffectKind, Origin, STORAGE_SAMPLE, TokenInfo, Tokens, UNLIMITED_APPROVAL, effects_of,
    flags_of, flags_with_current, format_amount,
};
pub use governance::{
    CurrentSettings, DAY_BLOCKS, DAY_SECONDS, Judgement, QUORUM_DENOMINATOR, Setting,
    is_governance_role, judge, role_label, role_name,
};
pub use known_tokens::{known_token, with_known_tokens};
pub use promises::unkept_promises;
pub use provenance::{
    DelegationGain, EarlierProposal, FAST_PATHS, PowerFacts, Turnout, VoterFacts, escalates,
    provenance_flags,
};
pub use value::{Arg, Call, Value};
pub use words::{Names, effect_words, effects_in_words};
