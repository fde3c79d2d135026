//! Governance safety: whether a settings change disarms the DAO ([`judge`]), and the names of
//! the AccessControl roles a grant speaks of ([`role_name`]).
//!
//! Without the current values the rules judge the new value alone against absolute floors
//! (documented in docs/verify.md); with the current value read on chain they also judge the
//! change relative to it. Weakening materially is critical, anything else a warning.

use std::collections::HashMap;

use alloy_primitives::{Address, B256, U256, keccak256};
use serde::Serialize;

use crate::flag::Severity;

/// One day in seconds (timelock delays; Governors on a timestamp clock).
pub const DAY_SECONDS: u64 = 86_400;
/// One day in 12-second blocks (Governors on a block clock).
pub const DAY_BLOCKS: u64 = 7_200;
/// The default `quorumDenominator()` of OpenZeppelin's GovernorVotesQuorumFraction (percent).
pub const QUORUM_DENOMINATOR: u64 = 100;

/// A setting Steward judges by its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Setting {
    VotingDelay,
    VotingPeriod,
    ProposalThreshold,
    /// GovernorVotesQuorumFraction: percent of supply (out of [`QUORUM_DENOMINATOR`]).
    QuorumNumerator,
    /// An absolute quorum in votes (GovernorSettableFixedQuorum `setQuorum`).
    Quorum,
    TimelockDelay,
    LateQuorumExtension,
}

impl Setting {
    /// The setting a setter function (by name) changes: OpenZeppelin 4.x and 5.x, Bravo's
    /// `_set*`, Compound/Aave timelocks and TimelockController.
    pub fn of_function(name: &str) -> Option<Self> {
        Some(match name {
            "setVotingDelay" | "_setVotingDelay" => Self::VotingDelay,
            "setVotingPeriod" | "_setVotingPeriod" => Self::VotingPeriod,
            "setProposalThreshold" | "_setProposalThreshold" => Self::ProposalThreshold,
            "updateQuorumNumerator" => Self::QuorumNumerator,
            "setQuorum" => Self::Quorum,
            "setDelay" | "updateDelay" => Self::TimelockDelay,
            "setLateQuorumVoteExtension" => Self::LateQuorumExtension,
            _ => return None,
        })
    }

    /// Words for details.
    pub fn label(self) -> &'static str {
        match self {
            Self::VotingDelay => "voting delay",
            Self::VotingPeriod => "voting period",
            Self::ProposalThreshold => "proposal threshold",
            Self::QuorumNumerator => "quorum (percent of supply)",
            Self::Quorum => "quorum",
            Self::TimelockDelay => "timelock delay",
            Self::LateQuorumExtension => "late-quorum vote extension",
        }
    }
}

/// Current values read from the chain, by contract and setting.
pub type CurrentSettings = HashMap<(Address, Setting), U256>;

/// What the rules make of one settings change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub severity: Severity,
    /// Why, in plain words (empty when nothing stands out).
    pub why: String,
}

/// A proposal threshold cut to under this fraction of its current value is critical (a tenth):
/// it decides who may propose, not what passes, so a big cut alone (Uniswap's 10M -> 2.5M UNI)
/// is routine.
const THRESHOLD_CUT: u64 = 10;
/// Other settings cut to under this fraction of their current value are critical (a half).
const CUT: u64 = 2;

/// Judges `setting` set to `new`, with its current value when known.
pub fn judge(setting: Setting, new: U256, current: Option<U256>) -> Judgement {
    let critical = |why: String| Judgement {
        severity: Severity::Critical,
        why,
    };
    let absolute = match setting {
        Setting::VotingDelay if new.is_zero() => Some(
            "voting delay 0: votes bought or borrowed in the proposal's own block count".to_owned(),
        ),
        Setting::VotingPeriod if new < U256::from(DAY_BLOCKS) => Some(format!(
            "voting period {new}: under one day whether counted in blocks ({DAY_BLOCKS} a day) or seconds"
        )),
        Setting::TimelockDelay if new < U256::from(DAY_SECONDS) => Some(format!(
            "timelock delay {new} s: under one day to react before execution"
        )),
        Setting::QuorumNumerator if new.is_zero() => Some(format!(
            "quorum {new}: under 1% of supply (of the default denominator {QUORUM_DENOMINATOR})"
        )),
        Setting::Quorum if new.is_zero() => Some("quorum 0: any vote passes".to_owned()),
        Setting::ProposalThreshold if new.is_zero() => {
            Some("proposal threshold 0: anyone may propose".to_owned())
        }
        _ => None,
    };
    if let Some(why) = absolute {
        return critical(why);
    }
    let Some(cur) = current else {
        return Judgement {
            severity: Severity::Warn,
            why: String::new(),
        };
    };
    let factor = if setting == Setting::ProposalThreshold {
        THRESHOLD_CUT
    } else {
        CUT
    };
    // A late-quorum extension protects, but is not a floor of the vote itself: cutting it is a
    // warning.
    if setting != Setting::LateQuorumExtension
        && !cur.is_zero()
        && new.saturating_mul(U256::from(factor)) < cur
    {
        return critical(format!(
            "{} cut from {cur} to {new} (to under 1/{factor} of it)",
            setting.label()
        ));
    }
    Judgement {
        severity: Severity::Warn,
        why: match new.cmp(&cur) {
            std::cmp::Ordering::Less => format!("lowered from {cur}"),
            std::cmp::Ordering::Greater => format!("raised from {cur}"),
            std::cmp::Ordering::Equal => "unchanged".to_owned(),
        },
    }
}

/// AccessControl roles Steward names: TimelockController's, and common token and protocol roles.
pub(crate) const ROLE_NAMES: &[&str] = &[
    "DEFAULT_ADMIN_ROLE",
    "PROPOSER_ROLE",
    "EXECUTOR_ROLE",
    "CANCELLER_ROLE",
    "TIMELOCK_ADMIN_ROLE",
    "MINTER_ROLE",
    "BURNER_ROLE",
    "PAUSER_ROLE",
    "UPGRADER_ROLE",
    "GUARDIAN_ROLE",
    "ADMIN_ROLE",
    "OPERATOR_ROLE",
];

/// The name of an AccessControl role id: `DEFAULT_ADMIN_ROLE` for zero (TimelockController 5.x's
/// admin), a known `keccak256("NAME")`, else `None`.
pub fn role_name(role: &B256) -> Option<&'static str> {
    if role.is_zero() {
        return Some("DEFAULT_ADMIN_ROLE");
    }
    // DEFAULT_ADMIN_ROLE is zero, not the hash of its name.
    ROLE_NAMES[1..]
        .iter()
        .copied()
        .find(|n| keccak256(n.as_bytes()) == *role)
}

/// The role as shown: its name, or the id shortened.
pub fn role_label(role: &B256) -> String {
    match role_name(role) {
        Some(n) => n.to_owned(),
        None => format!("{}…", &role.to_string()[..10]),
    }
}

/// The timelock roles whose holders run the DAO (propose, execute, cancel, administer).
pub fn is_governance_role(name: &str) -> bool {
    matches!(
        name,
        "PROPOSER_ROLE"
            | "EXECUTOR_ROLE"
            | "CANCELLER_ROLE"
            | "TIMELOCK_ADMIN_ROLE"
            | "DEFAULT_ADMIN_ROLE"
    )
}

/// The role a `what` of a permission change names (`role PROPOSER_ROLE granted`).
pub(crate) fn role_of(what: &str) -> Option<&str> {
    let rest = what.strip_prefix("role ")?;
    rest.split(' ').next().filter(|r| r.ends_with("_ROLE"))
}

/// How a text refers to a role: `PROPOSER_ROLE`, `proposer role`, `proposer`.
pub(crate) fn role_words(name: &str) -> (String, String) {
    let base = name
        .trim_end_matches("_ROLE")
        .trim_start_matches("DEFAULT_")
        .trim_start_matches("TIMELOCK_")
        .to_lowercase();
    (name.to_lowercase(), base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(n: u64) -> U256 {
        U256::from(n)
    }

    #[test]
    fn absolute_floors_without_current_values() {
        let table = [
            (Setting::VotingDelay, 0, Severity::Critical),
            (Setting::VotingDelay, 1, Severity::Warn),
            (Setting::VotingPeriod, 1, Severity::Critical),
            (Setting::VotingPeriod, DAY_BLOCKS - 1, Severity::Critical),
            (Setting::VotingPeriod, DAY_BLOCKS, Severity::Warn),
            (Setting::TimelockDelay, 0, Severity::Critical),
            (Setting::TimelockDelay, DAY_SECONDS - 1, Severity::Critical),
            (Setting::TimelockDelay, 2 * DAY_SECONDS, Severity::Warn),
            (Setting::QuorumNumerator, 0, Severity::Critical),
            (Setting::QuorumNumerator, 1, Severity::Warn),
            (Setting::Quorum, 0, Severity::Critical),
            (Setting::ProposalThreshold, 0, Severity::Critical),
            (Setting::ProposalThreshold, 1, Severity::Warn),
            (Setting::LateQuorumExtension, 0, Severity::Warn),
        ];
        for (s, v, want) in table {
            let j = judge(s, u(v), None);
            assert_eq!(j.severity, want, "{s:?} = {v}: {}", j.why);
            if want == Severity::Critical {
                assert!(!j.why.is_empty(), "{s:?} says why");
            }
        }
    }

    #[test]
    fn relative_cuts_with_current_values() {
        let day = DAY_BLOCKS;
        // 3 days -> 5 days: strengthening, a warning.
        let j = judge(Setting::VotingPeriod, u(5 * day), Some(u(3 * day)));
        assert_eq!(j.severity, Severity::Warn);
        assert!(j.why.contains("raised"), "{}", j.why);
        // 7 days -> 3 days: lowered, not by more than half.
        assert_eq!(
            judge(Setting::VotingPeriod, u(3 * day + 1), Some(u(6 * day))).severity,
            Severity::Warn
        );
        // 7 days -> 2 days: cut by more than half.
        let j = judge(Setting::VotingPeriod, u(2 * day), Some(u(7 * day)));
        assert_eq!(j.severity, Severity::Critical);
        assert!(j.why.contains("cut from"), "{}", j.why);
        // Timelock 7 days -> 2 days: above the floor, but cut by more than half.
        assert_eq!(
            judge(
                Setting::TimelockDelay,
                u(2 * DAY_SECONDS),
                Some(u(7 * DAY_SECONDS))
            )
            .severity,
            Severity::Critical
        );
        // Quorum 4% -> 1%.
        assert_eq!(
            judge(Setting::QuorumNumerator, u(1), Some(u(4))).severity,
            Severity::Critical
        );
        assert_eq!(
            judge(Setting::QuorumNumerator, u(3), Some(u(4))).severity,
            Severity::Warn
        );
        // Proposal threshold: 10M -> 2.5M is routine, 10M -> 0.5M is not.
        let m = u(1_000_000);
        assert_eq!(
            judge(Setting::ProposalThreshold, u(5) * m / u(2), Some(u(10) * m)).severity,
            Severity::Warn
        );
        assert_eq!(
            judge(Setting::ProposalThreshold, m / u(2), Some(u(10) * m)).severity,
            Severity::Critical
        );
        // The late-quorum extension only warns, even cut to zero.
        assert_eq!(
            judge(Setting::LateQuorumExtension, u(0), Some(u(day))).severity,
            Severity::Warn
        );
    }

    #[test]
    fn setters_of_every_version_map_to_their_setting() {
        for (f, s) in [
            ("setVotingDelay", Setting::VotingDelay),
            ("_setVotingDelay", Setting::VotingDelay),
            ("setVotingPeriod", Setting::VotingPeriod),
            ("_setVotingPeriod", Setting::VotingPeriod),
            ("setProposalThreshold", Setting::ProposalThreshold),
            ("_setProposalThreshold", Setting::ProposalThreshold),
            ("updateQuorumNumerator", Setting::QuorumNumerator),
            ("setDelay", Setting::TimelockDelay),
            ("updateDelay", Setting::TimelockDelay),
        ] {
            assert_eq!(Setting::of_function(f), Some(s), "{f}");
        }
        assert_eq!(Setting::of_function("_setReserveFactor"), None);
    }

    #[test]
    fn role_ids_are_named() {
        for n in [
            "PROPOSER_ROLE",
            "EXECUTOR_ROLE",
            "CANCELLER_ROLE",
            "TIMELOCK_ADMIN_ROLE",
        ] {
            assert_eq!(role_name(&keccak256(n.as_bytes())), Some(n));
            assert!(is_governance_role(n));
        }
        assert_eq!(role_name(&B256::ZERO), Some("DEFAULT_ADMIN_ROLE"));
        // TimelockController's published PROPOSER_ROLE id.
        let proposer: B256 = "0xb09aa5aeb3702cfd50b6b62bc4532604938f21248a27a1d5ca736082b6819cc1"
            .parse()
            .expect("role id");
        assert_eq!(role_name(&proposer), Some("PROPOSER_ROLE"));
        assert_eq!(role_label(&B256::repeat_byte(7)), "0x07070707…");
        assert_eq!(role_of("role EXECUTOR_ROLE granted"), Some("EXECUTOR_ROLE"));
        assert_eq!(role_of("role 0x07070707… granted"), None);
        assert_eq!(
            role_words("TIMELOCK_ADMIN_ROLE"),
            ("timelock_admin_role".into(), "admin".into())
        );
    }
}
