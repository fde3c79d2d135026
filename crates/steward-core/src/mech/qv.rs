//! Quadratic voting: votes cost their square in credits; and Snapshot's `quadratic` voting type,
//! scored as snapshot.js scores it (same operations in the same order, so the same doubles).

use std::collections::BTreeMap;

use super::{Result, param};

/// Credits that `votes` votes cost: votes².
pub fn cost(votes: i64) -> u128 {
    let v = votes.unsigned_abs() as u128;
    v * v
}

/// The most votes `credits` buy: ⌊√credits⌋.
pub fn votes_for(credits: u128) -> u64 {
    // Integer square root by Newton's method from a float guess, corrected exactly.
    let mut x = (credits as f64).sqrt() as u128;
    while x * x > credits {
        x -= 1;
    }
    while (x + 1) * (x + 1) <= credits {
        x += 1;
    }
    x as u64
}

/// Credits spent by a ballot of votes per option; an error when it exceeds `budget`.
pub fn spend(votes: &[i64], budget: u128) -> Result<u128> {
    let spent = votes
        .iter()
        .try_fold(0u128, |acc, &v| acc.checked_add(cost(v)))
        .ok_or_else(|| param("votes", "cost overflows"))?;
    if spent > budget {
        return Err(param(
            "votes",
            format!("cost {spent} credits, over the budget of {budget}"),
        ));
    }
    Ok(spent)
}

/// One Snapshot vote: per-choice weights (keys 1-based, as Snapshot stores them) and the voter's
/// voting power.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SnapshotVote {
    pub choice: BTreeMap<u32, f64>,
    pub balance: f64,
}

/// Snapshot's validity rule for a quadratic choice: keys among the choices, at least one key,
/// no negative weight, some positive weight.
pub fn snapshot_valid(choice: &BTreeMap<u32, f64>, choices: usize) -> bool {
    !choice.is_empty()
        && choice.keys().all(|&k| k >= 1 && (k as usize) <= choices)
        && choice.values().all(|&v| v >= 0.0)
        && choice.values().any(|&v| v > 0.0)
}

/// Scores per choice as snapshot.js's `QuadraticVoting.getScores`: each valid vote's power is
/// split by its weights, square-rooted per choice, summed, squared; the squares are then
/// rescaled to the total power of the valid votes.
pub fn snapshot_scores(choices: usize, votes: &[SnapshotVote]) -> Vec<f64> {
    let valid: Vec<&SnapshotVote> = votes
        .iter()
        .filter(|v| snapshot_valid(&v.choice, choices))
        .collect();
    let total = valid.iter().fold(0.0, |a, v| a + v.balance);
    let quadratic: Vec<f64> = (1..=choices as u32)
        .map(|i| {
            let root = valid.iter().fold(0.0, |a, v| {
                // JS object values come in ascending integer-key order, summed from 0.
                let whole = v.choice.values().fold(0.0, |s, w| s + w);
                let part = v.choice.get(&i).copied();
                // snapshot.js: part / whole, NaN (a missing key, or 0/0) counts as 0.
                let share = match part {
                    Some(p) => {
                        let r = p / whole;
                        if r.is_nan() { 0.0 } else { r }
                    }
                    None => 0.0,
                };
                a + (share * v.balance).sqrt()
            });
            root * root
        })
        .collect();
    let sum = quadratic.iter().fold(0.0, |a, q| a + q);
    quadratic
        .iter()
        .map(|q| {
            let r = q / sum;
            total * if r.is_nan() { 0.0 } else { r }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn costs_and_budgets() {
        assert_eq!(cost(3), 9);
        assert_eq!(cost(-3), 9);
        assert_eq!(votes_for(99), 9);
        assert_eq!(votes_for(100), 10);
        assert_eq!(votes_for(u64::MAX as u128), 4_294_967_295);
        assert_eq!(spend(&[3, 4], 25).expect("valid"), 25);
        assert!(
            spend(&[3, 4], 24)
                .expect_err("invalid")
                .to_string()
                .contains("over the budget of 24")
        );
    }

    #[test]
    fn snapshot_vector() {
        // Two voters: power 100 all on choice 1; power 100 split 1:1 over choices 1 and 2.
        // Roots: c1 = 10 + √50, c2 = √50; squares rescaled to total power 200.
        let v = |pairs: &[(u32, f64)], balance| SnapshotVote {
            choice: pairs.iter().copied().collect(),
            balance,
        };
        let votes = [
            v(&[(1, 1.0)], 100.0),
            v(&[(1, 1.0), (2, 1.0)], 100.0),
            v(&[(3, 1.0)], 7.0),
        ];
        let s = snapshot_scores(2, &votes);
        let (a, b) = ((10.0 + 50f64.sqrt()).powi(2), 50.0);
        assert!((s[0] - 200.0 * a / (a + b)).abs() < 1e-9);
        assert!((s[1] - 200.0 * b / (a + b)).abs() < 1e-9);
    }

    proptest! {
        #[test]
        fn cost_monotone_and_convex(v in 0i64..1_000_000) {
            prop_assert!(cost(v + 1) > cost(v));
            // Marginal cost rises: C(v+2) − C(v+1) > C(v+1) − C(v).
            prop_assert!(cost(v + 2) - cost(v + 1) > cost(v + 1) - cost(v));
            prop_assert!(cost(votes_for(cost(v)) as i64) == cost(v));
        }
    }
}
