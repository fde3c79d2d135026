//! What must not leave when the user's views are shared: the privacy filter behind
//! `steward views draft`.
//!
//! The filter learns, from the user's private sources (writing, statements, answers, notes),
//! the things that identify people and facts only those sources know: e-mail addresses, URLs,
//! Ethereum addresses and ENS names, handles, phone numbers, amounts, dates and personal names.
//! Whatever of these also appears in public text (the proposals, the user's public votes) is
//! public already and stays. [`Secrets::redact`] then removes every learned item from a draft,
//! in any letter case and with each part of a name on its own, plus any quote of five or more
//! words from private writing, plus anything shaped like a contact (e-mail, URL, phone, address)
//! that public text does not hold, learned or not. It errs towards removing: the user reviews
//! the draft before anything is published.

use std::collections::HashSet;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use regex::Regex;
use serde::Serialize;

/// What replaces a removed item.
pub const REDACTED: &str = "[private]";
/// What replaces a quote from private writing.
pub const QUOTE_CUT: &str = "[quote from private writing]";
/// A run of this many words shared with private writing is a quote.
pub const QUOTE_WORDS: usize = 5;

/// The patterns use ASCII word boundaries (`(?-u:\b)`): a Unicode `\b` makes the regex engine
/// leave its fast automaton on any non-ASCII text, and an ASCII boundary next to a non-ASCII
/// letter only removes more, which is the side this filter errs on.
fn re(p: &str) -> Regex {
    // The patterns are constants of this file; a typo is a bug caught by every test.
    #[allow(clippy::expect_used)]
    Regex::new(p).expect("privacy pattern compiles")
}

const MONTHS: &str = "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?";

/// Contact-shaped items: removed from a draft whenever public text does not hold them.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)[a-z0-9._%+-]+\s*(?:@|\(at\)|\[at\]|\{at\}| at )\s*[a-z0-9-]+(?:\s*(?:\.|\(dot\)|\[dot\]| dot )\s*[a-z0-9-]+)*\s*(?:\.|\(dot\)|\[dot\]| dot )\s*[a-z]{2,}",
    )
});
/// With a scheme or `www.`, or a bare host with a path (`notes.example.net/p/1`).
static URL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)(?-u:\b)(?:(?:https?://|www\.)[^\s<>()\[\]"']+|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/[^\s<>()\[\]"']*)"#,
    )
});
static HEX: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)(?-u:\b)0x[0-9a-f]{8,}(?-u:\b)"));
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| re(r"\+?\d{1,3}[\s.-]?\(?\d{2,4}\)?[\s.-]?\d{3,4}[\s.-]?\d{3,4}(?-u:\b)"));

/// Items learned only when private sources hold them and public text does not.
static ENS: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)(?-u:\b)[a-z0-9][a-z0-9-]*\.eth(?-u:\b)"));
static HANDLE: LazyLock<Regex> = LazyLock::new(|| re(r"(?:^|[\s(])@[A-Za-z0-9_]{2,30}(?-u:\b)"));
static AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:[$€£]\s?\d[\d,.]*(?:\s?(?:k|m|mm|bn|b|million|billion|thousand))?)|(?:(?-u:\b)\d[\d,.]*\s?(?:k|m|mm|bn|million|billion|thousand)?\s?(?:usd|usdc|usdt|dai|eth|weth|arb|op|uni|comp|aave|ldo|mkr|gho|dollars|euros|tokens)(?-u:\b))",
    )
});
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)(?-u:\b)(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS})(?-u:\b)(?:,?\s+\d{{4}})?)"
    ))
});
/// Two or three capitalised words in a row: a person's name, most of the time.
static NAME: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?-u:\b)[A-Z][a-z]+(?:[- ](?:[A-Z]\.|[A-Z][a-z]+)){1,2}(?-u:\b)"));

/// Capitalised words that start names of things every proposal mentions, not people.
const NOT_NAMES: &[&str] = &[
    "the",
    "a",
    "an",
    "i",
    "we",
    "our",
    "my",
    "this",
    "that",
    "dao",
    "foundation",
    "protocol",
    "council",
    "committee",
    "program",
    "proposal",
    "treasury",
    "grants",
    "security",
    "token",
    "arbitrum",
    "ethereum",
    "snapshot",
    "tally",
    "uniswap",
    "aave",
    "compound",
    "lido",
    "maker",
];

/// What the filter learned, and how many items of each kind.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// Lower-case items to remove, longest first.
    terms: Vec<String>,
    /// All of `terms` in one automaton: a draft is searched once, not once per term.
    finder: Option<AhoCorasick>,
    /// Lower-case word runs of [`QUOTE_WORDS`] words from private writing.
    shingles: HashSet<String>,
    /// Lower-case public text, for the contact-shaped items found in a draft.
    public: String,
    learned: Learned,
}

/// How many items of each kind were learned (for the report; never the items).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Learned {
    pub contacts: usize,
    pub amounts: usize,
    pub dates: usize,
    pub names: usize,
}

/// A text after the filter, and how many removals it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redacted {
    pub text: String,
    pub removed: usize,
}

impl Secrets {
    /// Learns from `private` (statements, answers, notes: items only), `writing` (private
    /// writing: items and quotes) and `public` (text anyone can read).
    pub fn learn(private: &[&str], writing: &[&str], public: &[&str]) -> Self {
        // Words written in lower case anywhere are ordinary words, not parts of a name
        // ("Elections Only" in a title, "elections" in the text).
        let ordinary: HashSet<String> = private
            .iter()
            .chain(writing)
            .chain(public)
            .flat_map(|t| {
                // Whole words of letters only: a name inside an e-mail or a URL is no proof.
                t.split_whitespace()
                    .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
                    .filter(|w| {
                        w.chars().all(char::is_alphabetic)
                            && w.chars().next().is_some_and(char::is_lowercase)
                    })
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        let public = public.join("\n").to_lowercase();
        let mut terms: HashSet<String> = HashSet::new();
        let mut learned = Learned::default();
        for text in private.iter().chain(writing) {
            let add = |terms: &mut HashSet<String>, item: &str, count: &mut usize| {
                let t = item.trim().trim_end_matches(['.', ',']).to_lowercase();
                if t.len() >= 3 && !public.contains(&t) && terms.insert(t) {
                    *count += 1;
                }
            };
            for m in EMAIL
                .find_iter(text)
                .chain(URL.find_iter(text))
                .chain(HEX.find_iter(text))
                .chain(PHONE.find_iter(text))
                .chain(ENS.find_iter(text))
            {
                add(&mut terms, m.as_str(), &mut learned.contacts);
            }
            // The handle is the match from its `@` on (no capture group: the capturing engine is
            // several times slower than a plain search).
            for m in HANDLE.find_iter(text) {
                let h = m.as_str();
                add(
                    &mut terms,
                    &h[h.find('@').unwrap_or(0)..],
                    &mut learned.contacts,
                );
            }
            for m in AMOUNT.find_iter(text) {
                add(&mut terms, m.as_str(), &mut learned.amounts);
            }
            for m in DATE.find_iter(text) {
                add(&mut terms, m.as_str(), &mut learned.dates);
            }
            for m in NAME.find_iter(text) {
                let words: Vec<&str> = m
                    .as_str()
                    .split([' ', '-'])
                    .filter(|w| !w.is_empty())
                    .collect();
                if words
                    .iter()
                    .any(|w| NOT_NAMES.contains(&w.to_lowercase().as_str()))
                {
                    continue;
                }
                let before = learned.names;
                add(&mut terms, m.as_str(), &mut learned.names);
                if learned.names > before {
                    // Each part on its own too ("Whitfield said"), unless public text has it
                    // as a word.
                    for w in words.iter().filter(|w| w.len() >= 3) {
                        let lw = w.to_lowercase();
                        if !ordinary.contains(&lw) && !has_word(&public, &lw) {
                            terms.insert(lw);
                        }
                    }
                }
            }
        }
        let mut terms: Vec<String> = terms.into_iter().collect();
        terms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        // Word runs public text also holds are not quotes of private writing.
        let public_words = words_of(&public);
        let public_runs: HashSet<String> = public_words
            .windows(QUOTE_WORDS)
            .map(|w| w.join(" "))
            .collect();
        let mut shingles = HashSet::new();
        for text in writing {
            let words = words_of(text);
            for w in words.windows(QUOTE_WORDS) {
                let s = w.join(" ");
                if !public_runs.contains(&s) {
                    shingles.insert(s);
                }
            }
        }
        // Built from constant-size patterns the filter learned; it only fails past limits far
        // beyond any writing (then every term is searched on its own, as before).
        // A contiguous NFA: building a DFA over every term costs more than the few drafts
        // searched with it save.
        let finder = AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .build(&terms)
            .ok();
        Secrets {
            terms,
            finder,
            shingles,
            public,
            learned,
        }
    }

    /// How many items were learned, by kind.
    pub fn learned(&self) -> Learned {
        self.learned
    }

    /// `text` without any learned item, quote from private writing, or contact that public text
    /// does not hold.
    pub fn redact(&self, text: &str) -> Redacted {
        let mut removed = 0;
        let mut out = self.cut_quotes(text, &mut removed);
        out = match &self.finder {
            Some(f) => replace_terms(&out, f, &self.terms, &mut removed),
            None => self
                .terms
                .iter()
                .fold(out, |o, t| replace_terms_one(&o, t, &mut removed)),
        };
        for pat in [&*EMAIL, &*URL, &*HEX, &*PHONE] {
            // Matches only, no capture groups: `replace_all` with a closure would run the
            // slower capturing engine on every match.
            let mut next = String::with_capacity(out.len());
            let mut last = 0;
            for m in pat.find_iter(&out) {
                if self.public.contains(&m.as_str().to_lowercase()) {
                    continue;
                }
                next.push_str(&out[last..m.start()]);
                next.push_str(REDACTED);
                last = m.end();
                removed += 1;
            }
            next.push_str(&out[last..]);
            out = next;
        }
        Redacted { text: out, removed }
    }

    /// Replaces each run of words that private writing holds ([`QUOTE_WORDS`] or more) with
    /// [`QUOTE_CUT`].
    fn cut_quotes(&self, text: &str, removed: &mut usize) -> String {
        if self.shingles.is_empty() {
            return text.to_owned();
        }
        // Words with their byte spans, compared in the same normal form as the shingles.
        let spans: Vec<(usize, usize, String)> = word_spans(text);
        let n = spans.len();
        let mut cut = vec![false; n];
        if n >= QUOTE_WORDS {
            let mut s = String::new();
            for i in 0..=n - QUOTE_WORDS {
                s.clear();
                for (k, (_, _, w)) in spans[i..i + QUOTE_WORDS].iter().enumerate() {
                    if k > 0 {
                        s.push(' ');
                    }
                    s.push_str(w);
                }
                if self.shingles.contains(s.as_str()) {
                    cut[i..i + QUOTE_WORDS].iter_mut().for_each(|c| *c = true);
                }
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        let mut i = 0;
        while i < n {
            if !cut[i] {
                i += 1;
                continue;
            }
            let start = spans[i].0;
            while i < n && cut[i] {
                i += 1;
            }
            out.push_str(&text[last..start]);
            out.push_str(QUOTE_CUT);
            last = spans[i - 1].1;
            *removed += 1;
        }
        out.push_str(&text[last..]);
        out
    }
}

/// Lower-case words of letters and digits.
fn words_of(text: &str) -> Vec<String> {
    word_spans(text).into_iter().map(|(_, _, w)| w).collect()
}

fn word_spans(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let word = c.is_alphanumeric() || c == '\'';
        match (word, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i, text[s..i].to_lowercase()));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len(), text[s..].to_lowercase()));
    }
    out
}

/// Whether `word` occurs in `haystack` (lower case) with no letter or digit on either side.
fn has_word(haystack: &str, word: &str) -> bool {
    haystack.match_indices(word).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// `text` lower-cased, and for each byte of it the byte span in `text` of the character it
/// came from (lower-casing can change a character's length, or make two characters of one).
fn lower_with_spans(text: &str) -> (String, Vec<(usize, usize)>) {
    let mut lower = String::with_capacity(text.len());
    let mut spans = Vec::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        let span = (i, i + c.len_utf8());
        for l in c.to_lowercase() {
            lower.push(l);
            spans.extend(std::iter::repeat_n(span, l.len_utf8()));
        }
    }
    (lower, spans)
}

/// Whether a term found at `lower[start..end]` may be removed there: a term that starts and
/// ends with a letter or digit only as a whole word.
fn whole_enough(lower: &str, term: &str, start: usize, end: usize) -> bool {
    let wordy = term.chars().next().is_some_and(char::is_alphanumeric)
        && term.chars().next_back().is_some_and(char::is_alphanumeric);
    !wordy
        || !(lower[..start]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
            || lower[end..]
                .chars()
                .next()
                .is_some_and(char::is_alphanumeric))
}

/// `text` with every case-insensitive occurrence of any of `terms` (lower case, searched by
/// `finder`) replaced: whole words when a term starts and ends with a letter or digit, anywhere
/// otherwise. Occurrences that overlap are removed as one span, so no part of either is left.
fn replace_terms(
    text: &str,
    finder: &AhoCorasick,
    terms: &[String],
    removed: &mut usize,
) -> String {
    let (lower, spans) = lower_with_spans(text);
    let mut found: Vec<(usize, usize)> = finder
        .find_overlapping_iter(&lower)
        .filter(|m| {
            let term = &terms[m.pattern().as_usize()];
            lower.is_char_boundary(m.start())
                && lower.is_char_boundary(m.end())
                && whole_enough(&lower, term, m.start(), m.end())
        })
        .map(|m| (spans[m.start()].0, spans[m.end() - 1].1))
        .collect();
    found.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut iter = found.into_iter().peekable();
    while let Some((start, mut end)) = iter.next() {
        while let Some(&(s, e)) = iter.peek() {
            if s >= end {
                break;
            }
            end = end.max(e);
            iter.next();
        }
        out.push_str(&text[last..start]);
        out.push_str(REDACTED);
        last = end;
        *removed += 1;
    }
    out.push_str(&text[last..]);
    out
}

/// [`replace_terms`] for one term, without an automaton.
fn replace_terms_one(text: &str, term: &str, removed: &mut usize) -> String {
    match AhoCorasick::new([term]) {
        Ok(f) => replace_terms(text, &f, &[term.to_owned()], removed),
        Err(_) => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIVATE: &str = "Talked to Dana Whitfield (dana.whitfield@quietmail.org, +44 20 7946 0958) on March 3rd, 2025 about the 48,500 USDC she wants; her notes are at https://notes.example.net/p/7f3k and her wallet is 0x1234567890abcdef1234567890abcdef12345678, ens danaw.eth, @dana_w on Telegram.";
    const PUBLIC: &str = "Arbitrum Foundation proposal: fund the Security Council with 1,000,000 ARB. Contact: https://forum.arbitrum.foundation";

    fn secrets() -> Secrets {
        Secrets::learn(&[PRIVATE], &[], &[PUBLIC])
    }

    #[test]
    fn every_kind_of_private_item_is_removed_in_any_case() {
        let s = secrets();
        let draft = "I agree with dana whitfield and WHITFIELD; mail DANA.WHITFIELD@QUIETMAIL.ORG or call +44 20 7946 0958. See https://notes.example.net/p/7f3k, 0x1234567890abcdef1234567890abcdef12345678, danaw.eth and @dana_w. She wants 48,500 USDC by March 3rd, 2025.";
        let r = s.redact(draft);
        for canary in [
            "dana",
            "whitfield",
            "quietmail",
            "7946",
            "notes.example",
            "0x1234",
            "danaw",
            "@dana_w",
            "48,500",
            "march 3",
        ] {
            assert!(
                !r.text.to_lowercase().contains(canary),
                "{canary} left in {}",
                r.text
            );
        }
        assert!(r.removed >= 10, "{r:?}");
        let l = s.learned();
        assert!(
            l.contacts >= 5 && l.amounts >= 1 && l.dates >= 1 && l.names >= 1,
            "{l:?}"
        );
    }

    /// One pass over the draft for every term: overlapping items leave nothing of either, and
    /// letters whose lower case is longer than they are (İ) do not shift what is removed.
    #[test]
    fn overlapping_items_and_length_changing_letters_are_removed_whole() {
        let s = Secrets::learn(
            &["we met Oskar Lindqvist at the café."],
            &[],
            &["a public proposal"],
        );
        let r = s.redact("İİ Lindqvist wrote to OSKAR LINDQVIST; İstanbul.");
        let lower = r.text.to_lowercase();
        for gone in ["oskar", "lindqvist"] {
            assert!(!lower.contains(gone), "{gone} left in {}", r.text);
        }
        assert_eq!(
            (r.text.as_str(), r.removed),
            ("İİ [private] wrote to [private]; İstanbul.", 2)
        );
        // Within a word a term stays (the letters of a name inside another word).
        let r = s.redact("İ: the oskarsson lindqvistian");
        assert_eq!(r.text, "İ: the oskarsson lindqvistian");
    }

    #[test]
    fn what_public_text_holds_stays() {
        let s = secrets();
        let draft = "The Arbitrum Foundation should fund the Security Council with 1,000,000 ARB (https://forum.arbitrum.foundation).";
        let r = s.redact(draft);
        assert_eq!(r.text, draft);
        assert_eq!(r.removed, 0);
    }

    #[test]
    fn contacts_never_learned_are_removed_anyway() {
        let s = Secrets::learn(&[], &[], &[PUBLIC]);
        let r = s.redact("write to someone (at) hidden (dot) org or see www.private.example/x");
        assert!(
            !r.text.contains("hidden") && !r.text.contains("private.example"),
            "{}",
            r.text
        );
    }

    #[test]
    fn quotes_from_private_writing_are_cut_but_short_overlaps_stay() {
        let writing = "Between us, the vault passphrase is amber falcon seventeen river and nobody else knows it.";
        let s = Secrets::learn(&[], &[writing], &[PUBLIC]);
        let r = s.redact("I think the vault passphrase is amber falcon seventeen river, honestly. The vault matters.");
        assert!(!r.text.contains("amber falcon"), "{}", r.text);
        assert!(
            r.text.contains(QUOTE_CUT) && r.text.ends_with("The vault matters."),
            "{}",
            r.text
        );
        let r = s.redact("The vault passphrase matters.");
        assert_eq!(r.removed, 0, "{}", r.text);
    }

    #[test]
    fn parts_of_a_name_that_are_ordinary_words_stay() {
        let s = Secrets::learn(
            &["We voted For Elections Only, with Dana Whitfield."],
            &[],
            &["Elections matter; elections only work with turnout."],
        );
        let r = s.redact("I support elections. Whitfield agreed.");
        assert_eq!(r.text, "I support elections. [private] agreed.");
    }

    #[test]
    fn names_of_things_every_proposal_mentions_are_not_learned_as_people() {
        let s = Secrets::learn(
            &["The Security Council and the Arbitrum DAO should act."],
            &[],
            &[],
        );
        assert_eq!(s.learned().names, 0);
    }
}
