//! Representative statements per group, consensus statements, group-aware consensus and
//! comment priorities: Polis's published statistics, with +1 (Laplace) smoothing throughout.

use serde::Serialize;

/// z above which a one-sided test is significant at 90%.
const Z90: f64 = 1.2816;

/// Votes on one statement by one set of participants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Agrees.
    pub a: u32,
    /// Disagrees.
    pub d: u32,
    /// Seen: every vote, passes included.
    pub s: u32,
}

impl Tally {
    pub(crate) fn add(&mut self, v: i8) {
        self.s += 1;
        match v {
            1 => self.a += 1,
            -1 => self.d += 1,
            _ => {}
        }
    }
}

/// One-proportion test of `succ` of `n` against 1/2, with a +1 prior on both.
pub fn prop_test(succ: u32, n: u32) -> f64 {
    let (s, n) = (f64::from(succ) + 1.0, f64::from(n) + 1.0);
    2.0 * n.sqrt() * (s / n - 0.5)
}

/// Two-proportion z-test of a group against the rest, with a +1 prior on every count.
pub fn two_prop_test(succ_in: u32, succ_out: u32, pop_in: u32, pop_out: u32) -> f64 {
    let [s1, s2, n1, n2] = [succ_in, succ_out, pop_in, pop_out].map(|x| f64::from(x) + 1.0);
    let p1 = s1 / n1;
    let p2 = s2 / n2;
    let p = (s1 + s2) / (n1 + n2);
    if p == 1.0 {
        return 0.0;
    }
    (p1 - p2) / (p * (1.0 - p) * (1.0 / n1 + 1.0 / n2)).sqrt()
}

/// How agree/disagree compare inside a group and against everyone else.
#[derive(Debug, Clone, Copy)]
struct Stats {
    na: u32,
    nd: u32,
    ns: u32,
    pa: f64,
    pd: f64,
    pat: f64,
    pdt: f64,
    ra: f64,
    rd: f64,
    rat: f64,
    rdt: f64,
}

fn stats(inside: Tally, rest: Tally) -> Stats {
    let smooth = |k: u32, n: u32| (f64::from(k) + 1.0) / (f64::from(n) + 2.0);
    let pa = smooth(inside.a, inside.s);
    let pd = smooth(inside.d, inside.s);
    Stats {
        na: inside.a,
        nd: inside.d,
        ns: inside.s,
        pa,
        pd,
        pat: prop_test(inside.a, inside.s),
        pdt: prop_test(inside.d, inside.s),
        ra: pa / smooth(rest.a, rest.s),
        rd: pd / smooth(rest.d, rest.s),
        rat: two_prop_test(inside.a, rest.a, inside.s, rest.s),
        rdt: two_prop_test(inside.d, rest.d, inside.s, rest.s),
    }
}

/// Whether a representative statement speaks for the group's agreement or disagreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RepfulFor {
    Agree,
    Disagree,
}

/// A representative statement for a group, in the fields Polis reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepComment {
    pub tid: u64,
    pub repful_for: RepfulFor,
    pub n_success: u32,
    pub n_trials: u32,
    pub p_success: f64,
    pub p_test: f64,
    pub repness: f64,
    pub repness_test: f64,
    /// Set on the group's best agreed statement, which Polis always puts first.
    pub best_agree: bool,
}

impl RepComment {
    fn metric(&self) -> f64 {
        self.repness * self.repness_test * self.p_success * self.p_test
    }
}

fn finalize(tid: u64, s: &Stats) -> RepComment {
    let agree = s.rat > s.rdt;
    RepComment {
        tid,
        repful_for: if agree {
            RepfulFor::Agree
        } else {
            RepfulFor::Disagree
        },
        n_success: if agree { s.na } else { s.nd },
        n_trials: s.ns,
        p_success: if agree { s.pa } else { s.pd },
        p_test: if agree { s.pat } else { s.pdt },
        repness: if agree { s.ra } else { s.rd },
        repness_test: if agree { s.rat } else { s.rdt },
        best_agree: false,
    }
}

/// Significant both within the group and against the rest, for agree or for disagree.
fn passes(s: &Stats) -> bool {
    (s.rat > Z90 && s.pat > Z90) || (s.rdt > Z90 && s.pdt > Z90)
}

/// Whether `s` is a better "what this group agrees on" than the current best: by the full
/// repness product once the best is itself over-represented, else by agreement strength.
fn better_agree(s: &Stats, best: Option<&Stats>) -> bool {
    if s.na == 0 && s.nd == 0 {
        return false;
    }
    match best {
        Some(b) if b.ra > 1.0 => s.ra * s.rat * s.pa * s.pat > b.ra * b.rat * b.pa * b.pat,
        Some(b) => s.pa * s.pat > b.pa * b.pat,
        None => s.pat > Z90 || (s.ra > 1.0 && s.pa > 0.5),
    }
}

/// Up to five representative statements for each group. `tallies[g][j]` are group g's votes on
/// column j; `eligible[j]` is false for moderated-out statements.
pub(crate) fn select_repness(
    tids: &[u64],
    tallies: &[Vec<Tally>],
    eligible: &[bool],
) -> Vec<Vec<RepComment>> {
    let n_groups = tallies.len();
    let mut out = Vec::with_capacity(n_groups);
    for g in 0..n_groups {
        let mut sufficient: Vec<RepComment> = Vec::new();
        let mut best: Option<RepComment> = None;
        let mut best_agree: Option<(u64, Stats)> = None;
        for (j, &tid) in tids.iter().enumerate() {
            if !eligible[j] {
                continue;
            }
            let mut rest = Tally::default();
            for (h, t) in tallies.iter().enumerate() {
                if h != g {
                    rest.a += t[j].a;
                    rest.d += t[j].d;
                    rest.s += t[j].s;
                }
            }
            let s = stats(tallies[g][j], rest);
            if passes(&s) {
                sufficient.push(finalize(tid, &s));
            }
            // Keep a fallback so every group has at least one statement.
            if sufficient.is_empty()
                && best
                    .as_ref()
                    .is_none_or(|b| s.rat.max(s.rdt) > b.repness_test)
            {
                best = Some(finalize(tid, &s));
            }
            if better_agree(&s, best_agree.as_ref().map(|(_, b)| b)) {
                best_agree = Some((tid, s));
            }
        }
        let head: Option<RepComment> = best_agree.map(|(tid, s)| {
            let mut c = finalize(tid, &s);
            c.best_agree = true;
            c
        });
        let list = if sufficient.is_empty() {
            head.or(best).into_iter().collect()
        } else {
            let head_tid = head.as_ref().map(|h| h.tid);
            let mut rest: Vec<RepComment> = sufficient
                .into_iter()
                .filter(|c| Some(c.tid) != head_tid)
                .collect();
            rest.sort_by(|a, b| b.metric().total_cmp(&a.metric()));
            let top: Vec<RepComment> = head.into_iter().chain(rest).take(5).collect();
            let (agree, disagree): (Vec<_>, Vec<_>) = top
                .into_iter()
                .partition(|c| c.repful_for == RepfulFor::Agree);
            agree.into_iter().chain(disagree).collect()
        };
        out.push(list);
    }
    out
}

/// A consensus statement with its supporting counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsensusComment {
    pub tid: u64,
    pub n_success: u32,
    pub n_trials: u32,
    pub p_success: f64,
    pub p_test: f64,
}

/// Statements most participants agree (or disagree) with, significantly: up to five each,
/// strongest first.
pub(crate) fn select_consensus(
    tids: &[u64],
    totals: &[Tally],
    eligible: &[bool],
) -> (Vec<ConsensusComment>, Vec<ConsensusComment>) {
    let pick = |agree: bool| {
        let mut c: Vec<(f64, ConsensusComment)> = tids
            .iter()
            .enumerate()
            .filter(|(j, _)| eligible[*j])
            .filter_map(|(j, &tid)| {
                let t = totals[j];
                let k = if agree { t.a } else { t.d };
                let p = (f64::from(k) + 1.0) / (f64::from(t.s) + 2.0);
                let z = prop_test(k, t.s);
                (p > 0.5 && z > Z90).then_some((
                    p * z,
                    ConsensusComment {
                        tid,
                        n_success: k,
                        n_trials: t.s,
                        p_success: p,
                        p_test: z,
                    },
                ))
            })
            .collect();
        c.sort_by(|a, b| b.0.total_cmp(&a.0));
        c.into_iter().take(5).map(|(_, c)| c).collect::<Vec<_>>()
    };
    (pick(true), pick(false))
}

/// Product over groups of the smoothed probability that the group agrees.
pub(crate) fn group_aware(tallies: &[Vec<Tally>], j: usize) -> f64 {
    tallies
        .iter()
        .map(|t| (f64::from(t[j].a) + 1.0) / (f64::from(t[j].s) + 2.0))
        .product()
}

/// Polis's comment priority: agreed-on, rarely passed, extreme statements first, with a boost
/// for statements few have seen yet; meta statements get a fixed priority.
pub(crate) fn priority(is_meta: bool, total: Tally, extremity: f64) -> f64 {
    const META_PRIORITY: f64 = 7.0;
    if is_meta {
        return META_PRIORITY * META_PRIORITY;
    }
    let s = f64::from(total.s);
    let passes = f64::from(total.s - total.a - total.d);
    let p = (passes + 1.0) / (s + 2.0);
    let a = (f64::from(total.a) + 1.0) / (s + 2.0);
    let importance = (1.0 - p) * (extremity + 1.0) * a;
    (importance * (1.0 + 8.0 * 2f64.powf(-s / 5.0))).powi(2)
}
