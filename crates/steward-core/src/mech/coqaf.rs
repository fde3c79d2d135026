//! Attention bonds (BaseMail's deployed formulas): QAF and CO-QAF per recipient, and the price of
//! a recipient's attention.

use std::collections::{BTreeMap, BTreeSet};

use super::{Result, param};

/// A bond's state; only `Active` and `Refunded` bonds count towards QAF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BondStatus {
    Active,
    Refunded,
    Forfeited,
    Expired,
}

impl BondStatus {
    pub const NAMES: [&'static str; 4] = ["active", "refunded", "forfeited", "expired"];

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Some(Self::Active),
            "refunded" => Some(Self::Refunded),
            "forfeited" => Some(Self::Forfeited),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }

    pub fn counts(self) -> bool {
        matches!(self, Self::Active | Self::Refunded)
    }
}

/// One bond: `sender` staked `amount` for `recipient`'s attention.
#[derive(Debug, Clone, PartialEq)]
pub struct Bond {
    pub sender: String,
    pub recipient: String,
    pub amount: f64,
    pub status: BondStatus,
}

/// QAF and CO-QAF of one recipient.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Attention {
    pub recipient: String,
    pub senders: usize,
    pub bonded: f64,
    pub qaf: f64,
    pub coqaf: f64,
}

/// Jaccard overlap |a ∩ b| / |a ∪ b| (0 for two empty sets).
pub fn jaccard(a: &BTreeSet<&str>, b: &BTreeSet<&str>) -> f64 {
    let inter = a.intersection(b).count();
    let union = a.len() + b.len() - inter;
    if union == 0 {
        0.0
    } else {
        inter as f64 / union as f64
    }
}

/// QAF and CO-QAF of one recipient from its senders' bonds `b_i` and recipient sets `R_i`:
/// QAF = (Σ_i √b_i)², CO-QAF = (Σ_i √b̃_i)² with b̃_i = b_i / (1 + Σ_{j≠i} J(R_i, R_j)).
pub fn qaf_pair(bonds: &[f64], sets: &[BTreeSet<&str>]) -> (f64, f64) {
    let qaf = bonds.iter().map(|b| b.sqrt()).sum::<f64>().powi(2);
    let root: f64 = bonds
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let overlap: f64 = (0..bonds.len())
                .filter(|&j| j != i)
                .map(|j| jaccard(&sets[i], &sets[j]))
                .sum();
            (b / (1.0 + overlap)).sqrt()
        })
        .sum();
    (qaf, root * root)
}

/// Per recipient (sorted by name), as BaseMail's `/coqaf/:handle` computes it: each sender's
/// counted (active or refunded) bonds to the recipient summed into b_i; R_i every recipient the
/// sender ever bonded, whatever the status; j over the recipient's other senders.
pub fn coqaf(bonds: &[Bond]) -> Vec<Attention> {
    let mut reach: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut inbox: BTreeMap<&str, BTreeMap<&str, f64>> = BTreeMap::new();
    for b in bonds {
        reach.entry(&b.sender).or_default().insert(&b.recipient);
        if b.status.counts() && b.amount > 0.0 {
            *inbox
                .entry(&b.recipient)
                .or_default()
                .entry(&b.sender)
                .or_default() += b.amount;
        }
    }
    inbox
        .into_iter()
        .map(|(recipient, senders)| {
            let amounts: Vec<f64> = senders.values().copied().collect();
            let sets: Vec<BTreeSet<&str>> = senders.keys().map(|s| reach[s].clone()).collect();
            let (qaf, coqaf) = qaf_pair(&amounts, &sets);
            Attention {
                recipient: recipient.to_owned(),
                senders: amounts.len(),
                bonded: amounts.iter().sum(),
                qaf,
                coqaf,
            }
        })
        .collect()
}

/// The attention price's parameters; defaults p0 = 0.01 USDC, α = 0.1, β = 1, γ = 0.5.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PriceParams {
    pub p0: f64,
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
}

impl Default for PriceParams {
    fn default() -> Self {
        Self {
            p0: 0.01,
            alpha: 0.1,
            beta: 1.0,
            gamma: 0.5,
        }
    }
}

impl PriceParams {
    fn check(&self) -> Result<()> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        if !(ok(self.p0) && ok(self.alpha) && ok(self.beta)) {
            return Err(param(
                "price",
                format!(
                    "p0 {}, alpha {}, beta {} must be finite and >= 0",
                    self.p0, self.alpha, self.beta
                ),
            ));
        }
        if !(0.0..=1.0).contains(&self.gamma) {
            return Err(param("--gamma", format!("{} is not in [0, 1]", self.gamma)));
        }
        Ok(())
    }

    /// p(t) = p0 · (1 + α·D)^β, D the recipient's inbox count over the last 7 days.
    pub fn price(&self, inbox_7d: u64) -> Result<f64> {
        self.check()?;
        Ok(self.p0 * (1.0 + self.alpha * inbox_7d as f64).powf(self.beta))
    }

    /// p(t, s) = p(t) · (1 − γ·R_s), floored at p0 · (1 − γ); R_s the sender's reply rate.
    pub fn sender_price(&self, inbox_7d: u64, reply_rate: f64) -> Result<f64> {
        if !(0.0..=1.0).contains(&reply_rate) {
            return Err(param(
                "--reply-rate",
                format!("{reply_rate} is not in [0, 1]"),
            ));
        }
        let p = self.price(inbox_7d)?;
        Ok((p * (1.0 - self.gamma * reply_rate)).max(self.p0 * (1.0 - self.gamma)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bond(s: &str, r: &str, amount: f64) -> Bond {
        Bond {
            sender: s.into(),
            recipient: r.into(),
            amount,
            status: BondStatus::Active,
        }
    }

    #[test]
    fn price_vectors() {
        let p = PriceParams::default();
        assert!((p.price(10).expect("valid") - 0.02).abs() < 1e-15);
        let p2 = PriceParams { beta: 2.0, ..p };
        assert!((p2.price(10).expect("valid") - 0.04).abs() < 1e-15);
        // A sender who always replies pays half; the floor is p0 · (1 − γ) = 0.005.
        assert!((p.sender_price(10, 1.0).expect("valid") - 0.01).abs() < 1e-15);
        assert!((p.sender_price(0, 1.0).expect("valid") - 0.005).abs() < 1e-15);
        assert!(p.sender_price(0, 1.5).is_err());
        assert!(PriceParams { gamma: 2.0, ..p }.price(1).is_err());
    }

    #[test]
    fn coqaf_vectors() {
        // The issue's vector: three senders of 1, two with identical recipient sets, the third
        // disjoint: b̃ = 1/2, 1/2, 1 -> (2·√0.5 + 1)² = 5.8284 against QAF 9.
        let sets = [
            BTreeSet::from(["a", "b"]),
            BTreeSet::from(["a", "b"]),
            BTreeSet::from(["c"]),
        ];
        let (qaf, co) = qaf_pair(&[1.0, 1.0, 1.0], &sets);
        assert_eq!(qaf, 9.0);
        assert!((co - 5.8284).abs() < 5e-5, "{co}");
        // Through bonds: the recipient r is in every sender's set, so overlaps never vanish.
        // s1, s2 bond {r, x}; s3 bonds {r, y, z}: J(s1,s2) = 1, J(s1,s3) = J(s2,s3) = 1/4.
        let bonds = vec![
            bond("s1", "r", 1.0),
            bond("s2", "r", 1.0),
            bond("s3", "r", 1.0),
            bond("s1", "x", 1.0),
            bond("s2", "x", 1.0),
            bond("s3", "y", 1.0),
            bond("s3", "z", 1.0),
        ];
        let a = coqaf(&bonds)
            .into_iter()
            .find(|a| a.recipient == "r")
            .expect("valid");
        let want = (2.0 * (1.0f64 / 2.25).sqrt() + (1.0f64 / 1.5).sqrt()).powi(2);
        assert!(
            (a.qaf - 9.0).abs() < 1e-12 && (a.coqaf - want).abs() < 1e-12,
            "{a:?}"
        );
    }

    #[test]
    fn uncounted_bonds_are_left_out() {
        let mut b = bond("s", "r", 4.0);
        b.status = BondStatus::Forfeited;
        assert!(coqaf(&[b, bond("t", "r", 1.0)])[0].qaf == 1.0);
    }

    proptest! {
        #[test]
        fn coqaf_at_most_qaf(raw in prop::collection::vec((0u8..5, 0u8..4, 0.01f64..100.0), 1..25)) {
            let bonds: Vec<Bond> = raw.iter().map(|(s, r, a)| bond(&format!("s{s}"), &format!("r{r}"), *a)).collect();
            for a in coqaf(&bonds) {
                prop_assert!(a.coqaf <= a.qaf * (1.0 + 1e-12));
                if a.senders == 1 {
                    prop_assert!((a.coqaf - a.qaf).abs() <= 1e-12 * a.qaf);
                }
            }
        }
    }
}
