//! LMSR market maker (Hanson): C(q) = b·ln Σ_i exp(q_i / b), prices softmax(q / b), a trade costs
//! C(q + Δ) − C(q), the maker's loss is at most b·ln n. Money and shares are integer units of a
//! fixed-point currency (e.g. 6 decimals for USDC); every charge is rounded up and every payout
//! down, so rounding never favours the trader.

use super::{Result, param};

/// Log-sum-exp, shifted by the maximum so no exp overflows.
pub fn log_sum_exp(xs: &[f64]) -> f64 {
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + xs.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

/// An LMSR market: outstanding shares per outcome, in units.
#[derive(Debug, Clone, PartialEq)]
pub struct Market {
    b: f64,
    q: Vec<i128>,
}

impl Market {
    /// A market over `outcomes` outcomes with liquidity `b` (in units).
    pub fn new(outcomes: usize, b: f64) -> Result<Self> {
        if outcomes < 2 {
            return Err(param(
                "--outcomes",
                format!("{outcomes}: a market needs at least 2"),
            ));
        }
        if !(b.is_finite() && b > 0.0) {
            return Err(param("--b", format!("{b} is not a positive liquidity")));
        }
        Ok(Self {
            b,
            q: vec![0; outcomes],
        })
    }

    /// Gnosis's LMSRMarketMaker sizing: b = funding / ln n, so the worst-case loss is the funding.
    pub fn funded(outcomes: usize, funding: i128) -> Result<Self> {
        if funding <= 0 {
            return Err(param(
                "--funding",
                format!("{funding} units is not positive"),
            ));
        }
        Self::new(outcomes, funding as f64 / (outcomes.max(2) as f64).ln())
    }

    pub fn b(&self) -> f64 {
        self.b
    }

    pub fn shares(&self) -> &[i128] {
        &self.q
    }

    /// Sets the outstanding shares (a market's state read from elsewhere).
    pub fn with_shares(mut self, q: Vec<i128>) -> Result<Self> {
        if q.len() != self.q.len() {
            return Err(param(
                "--shares",
                format!("{} values for {} outcomes", q.len(), self.q.len()),
            ));
        }
        self.q = q;
        Ok(self)
    }

    fn scaled(&self, q: &[i128]) -> Vec<f64> {
        q.iter().map(|&x| x as f64 / self.b).collect()
    }

    /// C(q) in units (a real number; charges round it).
    pub fn cost_of(&self, q: &[i128]) -> f64 {
        self.b * log_sum_exp(&self.scaled(q))
    }

    /// Instantaneous prices: softmax(q / b); each in [0, 1], together 1.
    pub fn prices(&self) -> Vec<f64> {
        let x = self.scaled(&self.q);
        let lse = log_sum_exp(&x);
        x.iter().map(|v| (v - lse).exp()).collect()
    }

    /// The worst-case loss of the maker, b·ln n, in units.
    pub fn max_loss(&self) -> f64 {
        self.b * (self.q.len() as f64).ln()
    }

    /// What the trader pays for `delta` (positive buys, negative sells), in units, rounded up:
    /// a negative figure is a payout to the trader, rounded towards zero.
    pub fn quote(&self, delta: &[i128]) -> Result<i128> {
        if delta.len() != self.q.len() {
            return Err(param(
                "--buy",
                format!("{} amounts for {} outcomes", delta.len(), self.q.len()),
            ));
        }
        let mut after = self.q.clone();
        for (a, d) in after.iter_mut().zip(delta) {
            *a = a
                .checked_add(*d)
                .ok_or_else(|| param("--buy", "share count overflows"))?;
        }
        // Shifting q by a constant shifts C by the same constant, so the difference is taken
        // between two log-sum-exps with a common shift: no cancellation of large C values.
        let x0 = self.scaled(&self.q);
        let x1 = self.scaled(&after);
        let diff = self.b * (log_sum_exp(&x1) - log_sum_exp(&x0));
        if !diff.is_finite() {
            return Err(param("--buy", "trade cost is not finite"));
        }
        // A guard of a few ulps of the magnitudes involved, so float error cannot round in the
        // trader's favour across an integer boundary.
        let scale = self.b * (x0.iter().chain(&x1).fold(1.0f64, |m, v| m.max(v.abs())));
        let guard = 64.0 * f64::EPSILON * scale;
        let charged = (diff + guard).ceil();
        if charged.abs() >= 1e30 {
            return Err(param("--buy", "trade cost out of range"));
        }
        Ok(charged as i128)
    }

    /// Applies a trade and returns what the trader paid (see [`Market::quote`]).
    pub fn trade(&mut self, delta: &[i128]) -> Result<i128> {
        let paid = self.quote(delta)?;
        for (a, d) in self.q.iter_mut().zip(delta) {
            *a += d;
        }
        Ok(paid)
    }
}

/// Parses a decimal amount ("62.0114", "100") into integer units with `decimals` places; more
/// places than that, signs where none is allowed, or anything not a number is an error.
pub fn parse_units(s: &str, decimals: u32, signed: bool) -> std::result::Result<i128, String> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) if signed => (true, rest),
        Some(_) => return Err(format!("{s:?} is negative")),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("{s:?} is not a decimal number"));
    }
    if frac.len() > decimals as usize {
        return Err(format!("{s:?} has more than {decimals} decimal places"));
    }
    let unit = 10i128.pow(decimals);
    let whole: i128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| format!("{s:?} is out of range"))?
    };
    let mut fr: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| format!("{s:?} is out of range"))?
    };
    fr *= 10i128.pow(decimals - frac.len() as u32);
    let v = whole
        .checked_mul(unit)
        .and_then(|w| w.checked_add(fr))
        .ok_or_else(|| format!("{s:?} is out of range"))?;
    Ok(if neg { -v } else { v })
}

/// Formats integer units as a decimal with `decimals` places.
pub fn format_units(v: i128, decimals: u32) -> String {
    let unit = 10i128.pow(decimals);
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    let u = unit as u128;
    if decimals == 0 {
        return format!("{sign}{a}");
    }
    format!(
        "{sign}{}.{:0width$}",
        a / u,
        a % u,
        width = decimals as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gnosis_style_vector() {
        // b = 100 (whole units, 6 decimals), two outcomes, buy 100 of the first:
        // cost 100·ln((e + 1) / 2) = 62.0114..., price e / (e + 1) = 0.7311.
        let unit = 1_000_000i128;
        let mut m = Market::new(2, 100.0 * unit as f64).expect("valid");
        let paid = m.trade(&[100 * unit, 0]).expect("valid");
        assert_eq!(paid, 62_011_451, "{}", format_units(paid, 6));
        assert!((paid as f64 / unit as f64 - 62.0114).abs() < 1e-3);
        assert!((m.prices()[0] - 0.7311).abs() < 5e-5);
        // Selling it back pays out less than was paid (never more).
        let back = m.trade(&[-100 * unit, 0]).expect("valid");
        assert!(-back <= paid && -back >= paid - 2, "{back}");
    }

    #[test]
    fn funding_sizes_b() {
        // Gnosis: b = funding / ln n, so the worst case loses exactly the funding.
        let m = Market::funded(4, 1_000_000).expect("valid");
        assert!((m.max_loss() - 1_000_000.0).abs() < 1e-6);
        assert!(Market::funded(2, 0).is_err());
        assert!(Market::new(1, 1.0).is_err());
    }

    #[test]
    fn units_parse_exactly() {
        assert_eq!(parse_units("62.0114", 6, false), Ok(62_011_400));
        assert_eq!(parse_units("-1.5", 2, true), Ok(-150));
        assert!(parse_units("-1", 2, false).is_err());
        assert!(parse_units("1.234", 2, false).is_err());
        assert!(parse_units("NaN", 6, false).is_err());
        assert!(parse_units("", 6, false).is_err());
        assert_eq!(format_units(-150, 2), "-1.50");
    }

    proptest! {
        #[test]
        fn prices_are_a_distribution(q in prop::collection::vec(-1_000_000i128..1_000_000, 2..6), b in 1.0f64..1e6) {
            let m = Market::new(q.len(), b).expect("valid").with_shares(q).expect("valid");
            let p = m.prices();
            prop_assert!(p.iter().all(|x| (0.0..=1.0).contains(x)));
            prop_assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }

        #[test]
        fn path_independent_and_loss_bounded(trades in prop::collection::vec(prop::collection::vec(-50_000i128..100_000, 3), 1..12), b in 1_000.0f64..1e6) {
            let mut m = Market::new(3, b).expect("valid");
            let mut paid = 0i128;
            let mut total = vec![0i128; 3];
            for t in &trades {
                paid += m.trade(t).expect("valid");
                for (a, d) in total.iter_mut().zip(t) { *a += d; }
            }
            // Path independence: the real-valued costs telescope to C(q_end) − C(0); rounding up
            // per trade can only add at most one unit per trade.
            let direct = m.cost_of(&total) - m.cost_of(&[0, 0, 0]);
            prop_assert!(paid as f64 >= direct - 1e-6 * (1.0 + direct.abs()));
            prop_assert!(paid as f64 <= direct + trades.len() as f64 + 1e-6 * (1.0 + direct.abs()));
            // The maker's loss (worst outcome's payout minus what it took in) is at most b·ln n.
            let worst = *total.iter().max().expect("valid");
            prop_assert!((worst - paid) as f64 <= m.max_loss() + 1e-6);
        }

        #[test]
        fn charges_never_below_the_exact_cost(d in 1i128..10_000_000, b in 1.0f64..1e7) {
            let m = Market::new(2, b).expect("valid");
            let exact = m.cost_of(&[d, 0]) - m.cost_of(&[0, 0]);
            prop_assert!(m.quote(&[d, 0]).expect("valid") as f64 >= exact);
        }
    }
}
