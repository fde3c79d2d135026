//! Which way a piece of the user's own writing leans: for, against, abstain, or no stance.
//!
//! Rules, not a model: statements like "I oppose treasury spending without milestones" and
//! rationales like "We voted FOR because..." say their stance in a handful of ways, and a rule is
//! something the user can read and correct.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stance {
    For,
    Against,
    Abstain,
    Unknown,
}

impl Stance {
    pub fn as_str(self) -> &'static str {
        match self {
            Stance::For => "for",
            Stance::Against => "against",
            Stance::Abstain => "abstain",
            Stance::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Stance> {
        match s.trim().to_ascii_lowercase().as_str() {
            "for" => Some(Stance::For),
            "against" => Some(Stance::Against),
            "abstain" => Some(Stance::Abstain),
            "unknown" => Some(Stance::Unknown),
            _ => None,
        }
    }
}

fn re(p: &str) -> Regex {
    #[allow(clippy::expect_used)]
    Regex::new(p).expect("stance pattern compiles")
}

static VOTED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)\b(vot(ed|ing|es?)|cast (our|my) vote|we are|i am|i'm|we're)\s+["“'*]*(?P<choice>for|against|in favou?r|yes|yae|aye|no|nay|abstain)\b"#,
    )
});
// An abstention said outright ("RCADA abstains rather than voting no", "we have chosen to
// abstain"): an abstainer weighs both sides, so this outranks the votes it mentions.
static ABSTAINED: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"(?i)\b(abstains|abstained|(chosen|decided|will) to abstain|will abstain)\b"#)
});
static ABSTAIN: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\babstain(ed|ing)?\b"));
static AGAINST: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(oppose[sd]?|opposing|against|reject(ed|ing)?|object to|disapprove|not support|don't support|do not support|won't support|cannot support|can't support|never (vote for|support|approve)|no more|stop|ban|vote no|voted no|voting no|nay|concerns? (about|with|over)|skeptical|unconvinced|too (much|expensive|high|risky|large)|not convinced|premature|insufficient|disappointed|worried)\b",
    )
});
static FOR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(support(s|ed|ing)?|in favou?r|favou?r|approve[sd]?|endorse[sd]?|back(ed|ing)?|want more|like to see|always vote for|vote yes|voted yes|voting yes|aye|yae|agree|welcome|excited|great (proposal|initiative|idea)|makes sense|look(ing)? forward|valuable|necessary step|straightforward|good (idea|step|proposal|initiative)|beneficial|sensible|reasonable|well[- ]designed|impressed|glad)\b",
    )
});

/// The stance `text` states. An explicit vote ("voted against") wins; otherwise counts of
/// opposing and supporting phrases, where negated support ("not support") counts as opposing.
pub fn stance_of(text: &str) -> Stance {
    if let Some(s) = explicit_stance(text) {
        return s;
    }
    let against = AGAINST.find_iter(text).count();
    // "not support" matched AGAINST; don't count its "support" again as support.
    let negated = Regex::find_iter(&NEGATED_SUPPORT, text).count();
    let support = FOR.find_iter(text).count().saturating_sub(negated);
    if ABSTAIN.is_match(text) && against == 0 && support == 0 {
        return Stance::Abstain;
    }
    match against.cmp(&support) {
        std::cmp::Ordering::Greater => Stance::Against,
        std::cmp::Ordering::Less => Stance::For,
        std::cmp::Ordering::Equal => Stance::Unknown,
    }
}

/// The stance `text` states outright, if it does: a vote ("We voted FOR", "I am against") or
/// refused support ("we do not support this proposal"); not a count of leaning words. A
/// rationale says this once, and it holds for the rest of it (see the agent's
/// `profile::writing_pieces`).
pub fn explicit_stance(text: &str) -> Option<Stance> {
    if ABSTAINED.is_match(text) {
        return Some(Stance::Abstain);
    }
    if NEGATED_SUPPORT.is_match(text) && !FOR_AFTER_NEGATION.is_match(text) {
        return Some(Stance::Against);
    }
    // Not a tally ("Yes: 0 votes No: 4 votes Abstain: 0 votes"): no count before the verb, no
    // colon after the choice.
    let c = VOTED.captures_iter(text).find(|c| {
        let (Some(all), Some(choice)) = (c.get(0), c.name("choice")) else {
            return false;
        };
        let counted = text[..all.start()]
            .trim_end()
            .ends_with(|ch: char| ch.is_ascii_digit());
        let labelled = text[choice.end()..].starts_with(':');
        !counted && !labelled
    })?;
    let w = c
        .name("choice")
        .map_or("", |m| m.as_str())
        .to_ascii_lowercase();
    Some(match w.as_str() {
        "against" | "no" | "nay" => Stance::Against,
        "abstain" => Stance::Abstain,
        _ => Stance::For,
    })
}

// "not against" / "not opposed": support stated through a negation.
static FOR_AFTER_NEGATION: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b(not|never) (against|opposed)\b"));

static NEGATED_SUPPORT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(not|don't|do not|won't|cannot|can't|never) (support|favou?r|approve|back|vote for)\b",
    )
});

/// Maps a choice label to the stance it expresses (`For`, `Yes`, `Yae` -> for, ...).
pub fn stance_of_choice(label: &str) -> Stance {
    let l = label.trim().to_ascii_lowercase();
    let l = l.trim_matches(|c: char| !c.is_alphanumeric() && c != ' ');
    if l == "abstain" || l.starts_with("abstain") {
        return Stance::Abstain;
    }
    if matches!(
        l,
        "for" | "yes" | "yae" | "yay" | "aye" | "approve" | "accept" | "support" | "in favor"
    ) || l.starts_with("for ")
        || l.starts_with("yes")
        || l.starts_with("yae")
        || l.starts_with("in favor")
        || l.starts_with("approve")
    {
        return Stance::For;
    }
    if matches!(
        l,
        "against" | "no" | "nay" | "reject" | "oppose" | "do nothing" | "none"
    ) || l.starts_with("against")
        || l.starts_with("no ")
        || l.starts_with("no,")
        || l.starts_with("nay")
        || l.starts_with("reject")
    {
        return Stance::Against;
    }
    Stance::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements() {
        for (t, s) in [
            (
                "I oppose treasury spending without milestones",
                Stance::Against,
            ),
            ("I support funding public goods", Stance::For),
            ("I do not support new token emissions", Stance::Against),
            ("We voted FOR because the team delivered", Stance::For),
            ("Voting against: the budget is too high", Stance::Against),
            ("We abstained on this one", Stance::Abstain),
            ("The proposal has three parts", Stance::Unknown),
            ("I'm in favor of more security audits", Stance::For),
            ("Never vote for fee switches", Stance::Against),
            // Real rationales (cardano-drep-rationales): the vote in quotes or bold, the voter
            // by name, an abstention that mentions the vote it is not.
            ("Therefore, Mesh votes \"Abstain\".", Stance::Abstain),
            ("RCADA votes **ABSTAIN** on the deployment", Stance::Abstain),
            (
                "RCADA abstains rather than voting no because the proposal is thoughtful",
                Stance::Abstain,
            ),
            ("We voted **Yes** because the budget is clear", Stance::For),
            (
                "Yes: 0 votes No: 4 votes Abstain: 0 votes. Therefore, we will vote Yes.",
                Stance::For,
            ),
        ] {
            assert_eq!(stance_of(t), s, "{t}");
        }
    }

    #[test]
    fn choices() {
        for (l, s) in [
            ("For", Stance::For),
            ("YAE", Stance::For),
            ("Yes, fund it", Stance::For),
            ("Against", Stance::Against),
            ("No", Stance::Against),
            ("Abstain", Stance::Abstain),
            ("Option B", Stance::Unknown),
        ] {
            assert_eq!(stance_of_choice(l), s, "{l}");
        }
    }
}
