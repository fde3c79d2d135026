//! Discourse forums: the discussion thread behind a proposal.
//!
//! A proposal's `discussion` link (or, failing that, the first forum link in its body) names a
//! Discourse topic: `https://forum.arbitrum.foundation/t/<slug>/<id>`, `/t/<id>`, either with an
//! optional `/<post_number>`. The topic's JSON (`GET /t/{id}.json`) carries its first posts
//! (`post_stream.posts`, about 20) and the ids of all of them (`post_stream.stream`); the rest
//! come from `GET /t/{id}/posts.json?post_ids[]=…` in chunks of 20, as Discourse's own client
//! asks for them. Each post keeps its author (username), date, number and text: `raw` when the
//! forum sends it, else the `cooked` HTML converted to plain text by [`html_to_text`].

use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_core::FieldError;

use super::retry::{Attempt, RetryPolicy, rate_limited};
use super::{Fields, type_name};
use crate::error::{Error, Result};
use crate::net::HttpClient;

/// Posts per `posts.json` request (Discourse's chunk size).
pub const CHUNK: usize = 20;

/// A Discourse topic named by a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRef {
    /// `scheme://host[:port]`, where the forum's API lives.
    pub base: String,
    /// The host alone, for errors, reports and the store.
    pub host: String,
    pub topic_id: u64,
    /// The post the link pointed at, if any.
    pub post_number: Option<u64>,
}

impl TopicRef {
    /// Recognises a Discourse topic URL: `/t/<slug>/<id>`, `/t/<id>`, optionally followed by
    /// `/<post_number>`, over http(s). Anything else is `None`.
    pub fn parse(url: &str) -> Option<Self> {
        let u = url::Url::parse(url.trim()).ok()?;
        if !matches!(u.scheme(), "http" | "https") {
            return None;
        }
        let host = u.host_str()?.to_owned();
        let segs: Vec<&str> = u.path_segments()?.filter(|s| !s.is_empty()).collect();
        let (first, rest) = segs.split_first()?;
        if *first != "t" {
            return None;
        }
        let num = |s: &str| -> Option<u64> {
            let s = s.strip_suffix(".json").unwrap_or(s);
            if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok().filter(|n| *n > 0)
        };
        let (topic_id, post) = match rest {
            // `/t/<id>` or `/t/<id>/<post_number>`; a numeric slug followed by an id is
            // `/t/<slug>/<id>` (Discourse slugs of numeric titles look like this).
            [a] => (num(a)?, None),
            [a, b] if num(a).is_some() && num(b).is_some() => {
                // Ambiguous: `/t/<id>/<post>` or `/t/<numeric slug>/<id>`. Discourse itself
                // treats the first as the id when the second is small; so do we.
                (num(a)?, Some(b))
            }
            [_slug, b] => (num(b)?, None),
            [_slug, b, c, ..] => (num(b)?, Some(c)),
            [] => return None,
        };
        let post_number = match post {
            Some(p) => Some(num(p)?),
            None => None,
        };
        let base = match u.port() {
            Some(p) => format!("{}://{host}:{p}", u.scheme()),
            None => format!("{}://{host}", u.scheme()),
        };
        Some(Self {
            base,
            host,
            topic_id,
            post_number,
        })
    }

    /// The topic a proposal's discussion is in: its `discussion` link, else the first Discourse
    /// topic link in its body.
    pub fn of_proposal(discussion: Option<&str>, body: &str) -> Option<Self> {
        if let Some(t) = discussion.and_then(Self::parse) {
            return Some(t);
        }
        links(body).find_map(Self::parse)
    }

    /// Where the topic's JSON is.
    pub fn topic_url(&self) -> String {
        format!("{}/t/{}.json", self.base, self.topic_id)
    }

    /// Where the given posts of the topic are.
    pub fn posts_url(&self, ids: &[u64]) -> String {
        let q: Vec<String> = ids.iter().map(|i| format!("post_ids%5B%5D={i}")).collect();
        format!(
            "{}/t/{}/posts.json?{}",
            self.base,
            self.topic_id,
            q.join("&")
        )
    }

    /// How errors and reports name this topic.
    pub fn label(&self) -> String {
        format!("forum {} topic {}", self.host, self.topic_id)
    }
}

/// A forum the user allows `sync` to read (`forums.hosts`): a host name (https, port 443),
/// `host:port` (https), or `http://host[:port]` / `https://host[:port]` with the scheme spelled
/// out. A proposal's discussion link is fetched only when its scheme, host and port match one:
/// the link comes from the proposal's author, so it must not choose where Steward connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForumHost {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl ForumHost {
    /// Parses one `forums.hosts` entry; the error says what is wrong with it.
    pub fn parse(entry: &str) -> Result<Self, crate::InvalidValue> {
        Self::parse_str(entry).map_err(crate::InvalidValue)
    }

    fn parse_str(entry: &str) -> Result<Self, String> {
        let e = entry.trim();
        let with_scheme = if e.contains("://") {
            e.to_owned()
        } else {
            format!("https://{e}")
        };
        let u = url::Url::parse(&with_scheme).map_err(|err| format!("{e:?}: {err}"))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(format!("{e:?}: the scheme must be https or http"));
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err(format!("{e:?}: no user or password in a forum host"));
        }
        if !u.path().trim_matches('/').is_empty() || u.query().is_some() || u.fragment().is_some() {
            return Err(format!(
                "{e:?}: a forum host has no path, query or fragment"
            ));
        }
        let host = u
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("{e:?}: no host"))?
            .to_ascii_lowercase();
        let port = u
            .port_or_known_default()
            .ok_or_else(|| format!("{e:?}: no port"))?;
        Ok(Self {
            scheme: u.scheme().to_owned(),
            host,
            port,
        })
    }

    /// Whether `url` is on this forum (same scheme, host and port).
    pub fn allows(&self, url: &url::Url) -> bool {
        url.scheme() == self.scheme
            && url
                .host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case(&self.host))
            && url.port_or_known_default() == Some(self.port)
    }
}

impl std::fmt::Display for ForumHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// http(s) URLs in free text (markdown links, bare URLs, angle brackets).
fn links(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            let i = match (rest.find("https://"), rest.find("http://")) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => return None,
            };
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| c.is_whitespace() || "<>()[]\"'`,".contains(c))
                .unwrap_or(tail.len());
            rest = &tail[end..];
            let url = tail[..end].trim_end_matches(['.', ';', ':', '!', '?']);
            if url.len() > "https://".len() {
                return Some(url);
            }
        }
    })
}

/// A post of a discussion thread as Steward keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    pub host: String,
    pub topic_id: u64,
    pub post_id: u64,
    pub post_number: u64,
    /// The author's username.
    pub author: String,
    /// Unix seconds.
    pub created: i64,
    pub reply_to: Option<u64>,
    /// Plain text: `raw` when the forum sends it, else `cooked` converted.
    pub text: String,
}

/// A topic's JSON as far as Steward needs it.
#[derive(Debug, Clone)]
pub struct Topic {
    pub id: u64,
    pub title: String,
    /// The posts the topic JSON carries (the first chunk).
    pub posts: Vec<Value>,
    /// The ids of all the topic's posts, in order.
    pub stream: Vec<u64>,
}

fn u64_field(f: &Fields<'_>, field: &str) -> Result<Option<u64>, FieldError> {
    f.opt_i64(field)?
        .map(|n| {
            u64::try_from(n).map_err(|_| FieldError::new(field, format!("negative number {n}")))
        })
        .transpose()
}

/// Parses a topic's JSON (`/t/{id}.json`); `max_posts` bounds the stream.
pub fn parse_topic(v: &Value, max_posts: usize) -> Result<Topic, FieldError> {
    let f = Fields::new(v)?;
    let id = u64_field(&f, "id")?.ok_or_else(|| FieldError::new("id", "is missing"))?;
    let ps = f
        .raw("post_stream")
        .ok_or_else(|| FieldError::new("post_stream", "is missing"))?;
    let psf = Fields::new(ps).map_err(|e| FieldError::new("post_stream", e.message))?;
    let posts = psf
        .array("posts")
        .map_err(|e| FieldError::new("post_stream.posts", e.message))?
        .clone();
    let stream = match psf.raw("stream") {
        None => posts.iter().filter_map(|p| p["id"].as_u64()).collect(),
        Some(Value::Array(a)) => {
            if a.len() > max_posts {
                return Err(FieldError::new(
                    "post_stream.stream",
                    format!("{} posts, limit {max_posts}", a.len()),
                ));
            }
            a.iter()
                .enumerate()
                .map(|(i, x)| {
                    x.as_u64().ok_or_else(|| {
                        FieldError::new(
                            format!("post_stream.stream[{i}]"),
                            format!("expected a post id, got {x}"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?
        }
        Some(other) => {
            return Err(FieldError::new(
                "post_stream.stream",
                format!("expected an array, got {}", type_name(other)),
            ));
        }
    };
    Ok(Topic {
        id,
        title: f.opt_str("title")?.unwrap_or_default().to_owned(),
        posts,
        stream,
    })
}

/// What a post object is to Steward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Post(Post),
    /// Not part of the discussion: a small action ("closed the topic", "pinned"), post type 3.
    Skip(u64),
}

/// Parses one post object of a topic or `posts.json`. `max_text` bounds the stored text
/// (truncated on a character boundary).
pub fn parse_post(
    v: &Value,
    host: &str,
    topic_id: u64,
    max_text: usize,
) -> Result<Parsed, FieldError> {
    let f = Fields::new(v)?;
    let post_id = u64_field(&f, "id")?.ok_or_else(|| FieldError::new("id", "is missing"))?;
    if let Some(t) = u64_field(&f, "topic_id")?
        && t != topic_id
    {
        return Err(FieldError::new(
            "topic_id",
            format!("post of topic {t}, expected topic {topic_id}"),
        ));
    }
    if u64_field(&f, "post_type")? == Some(3) {
        return Ok(Parsed::Skip(post_id));
    }
    let post_number = u64_field(&f, "post_number")?
        .ok_or_else(|| FieldError::new("post_number", "is missing"))?;
    let author = f.str("username")?.trim();
    if author.is_empty() || author.len() > 256 {
        return Err(FieldError::new(
            "username",
            format!("{author:?} is not a username"),
        ));
    }
    let created_at = f.str("created_at")?;
    let created = created_at
        .parse::<jiff::Timestamp>()
        .map_err(|e| FieldError::new("created_at", format!("{created_at:?}: {e}")))?
        .as_second();
    let mut text = match f.opt_str("raw")? {
        Some(raw) if !raw.trim().is_empty() => raw.trim().to_owned(),
        _ => html_to_text(f.opt_str("cooked")?.unwrap_or_default()),
    };
    if text.len() > max_text {
        let mut cut = max_text;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    Ok(Parsed::Post(Post {
        host: host.to_owned(),
        topic_id,
        post_id,
        post_number,
        author: author.to_owned(),
        created,
        reply_to: u64_field(&f, "reply_to_post_number")?,
        text,
    }))
}

/// A client for Discourse's JSON API, with retries for rate limits, server errors and
/// truncated bodies (the same policy as the Snapshot hub client).
#[derive(Debug, Clone)]
pub struct ForumClient {
    http: HttpClient,
    /// The forums discussions may be read from: `forums.hosts`, from the client's [`Network`]
    /// (crate::Network). Empty: none.
    pub hosts: Vec<ForumHost>,
    pub retry: RetryPolicy,
    /// Most posts read from one topic.
    pub max_posts: usize,
}

impl ForumClient {
    pub fn new(http: HttpClient) -> Self {
        Self {
            hosts: http.forum_hosts().to_vec(),
            http,
            retry: RetryPolicy::default(),
            max_posts: 10_000,
        }
    }

    /// The topic's JSON.
    pub async fn topic(&self, t: &TopicRef) -> Result<Value> {
        self.get_json(t, &t.topic_url(), "the topic").await
    }

    /// The posts with these ids (at most [`CHUNK`]), as `posts.json` returns them.
    pub async fn posts(&self, t: &TopicRef, ids: &[u64]) -> Result<Vec<Value>> {
        let what = format!(
            "posts {}..{}",
            ids.first().copied().unwrap_or(0),
            ids.last().copied().unwrap_or(0)
        );
        let v = self.get_json(t, &t.posts_url(ids), &what).await?;
        match v.pointer("/post_stream/posts") {
            Some(Value::Array(a)) => Ok(a.clone()),
            other => Err(Error::Source {
                source_name: t.label(),
                message: format!(
                    "{what}: post_stream.posts is {}, expected an array",
                    other.map_or("missing", type_name)
                ),
            }),
        }
    }

    /// Refuses a URL that is not on a configured forum, before any connection.
    fn check(&self, url: &str) -> Result<()> {
        let parsed = url::Url::parse(url).map_err(|e| Error::Url {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        if self.hosts.iter().any(|h| h.allows(&parsed)) {
            return Ok(());
        }
        let origin = parsed.origin().ascii_serialization();
        Err(Error::Url {
            url: url.to_owned(),
            reason: format!(
                "{origin} is not a configured forum: add it to forums.hosts to read discussions there (https unless written as http://host:port)"
            ),
        })
    }

    async fn get_json(&self, t: &TopicRef, url: &str, what: &str) -> Result<Value> {
        self.check(url)?;
        self.retry
            .run(&t.label(), what, || self.try_once(url))
            .await
    }

    async fn try_once(&self, url: &str) -> Result<Value, Attempt> {
        let transient = Attempt::transient;
        // A refused host or a bad URL: no retry, and the error says which key allows it.
        let req = self.http.get(url).map_err(Attempt::Fatal)?;
        let resp = req
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| transient(format!("request: {e}")))?;
        let status = resp.status();
        if status.as_u16() == 429 {
            return Err(rate_limited(&resp));
        }
        let text = resp
            .text()
            .await
            .map_err(|e| transient(format!("reading the body: {e}")))?;
        read_answer(status, &text)
    }
}

/// The JSON of one forum answer (status and body), or why there is none and whether asking
/// again may help. The forum's body is outside input: this never panics.
pub fn read_answer(status: reqwest::StatusCode, text: &str) -> Result<Value, Attempt> {
    let transient = Attempt::transient;
    if status.is_server_error() {
        return Err(transient(format!("HTTP {status}")));
    }
    if !status.is_success() {
        // Discourse explains 4xx in `{"errors": [...], "error_type": ...}`.
        let why = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| {
                let errs: Vec<String> = v
                    .get("errors")?
                    .as_array()?
                    .iter()
                    .filter_map(|e| e.as_str().map(str::to_owned))
                    .collect();
                (!errs.is_empty()).then(|| errs.join("; "))
            })
            .unwrap_or_default();
        return Err(Attempt::Final(if why.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {why}")
        }));
    }
    serde_json::from_str(text).map_err(|e| {
        transient(format!(
            "HTTP {status}: the body is not JSON ({} bytes): {e}",
            text.len()
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// HTML to text
// ---------------------------------------------------------------------------------------------

/// Plain text of Discourse's `cooked` HTML: tags stripped, entities decoded, paragraphs kept as
/// blank lines, list items as `- `, quotes as `user wrote:` followed by `> ` lines without their
/// chrome (avatar, controls), oneboxes reduced to their link, images to nothing (emoji to their
/// `:name:`), and a link's address kept after its text when the two differ.
pub fn html_to_text(html: &str) -> String {
    let mut out = TextOut::new();
    let mut stack: Vec<Open> = Vec::new();
    // Depth of the stack at which a skipped element (its whole content) began.
    let mut skip: Option<usize> = None;
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        if let Some(after) = rest.strip_prefix("<!--") {
            i += 4 + after.find("-->").map_or(after.len(), |e| e + 3);
            continue;
        }
        if rest.starts_with('<')
            && let Some((tag, len)) = parse_tag(rest)
        {
            i += len;
            if tag.closing {
                close(&mut out, &mut stack, &mut skip, &tag.name);
            } else {
                open(&mut out, &mut stack, &mut skip, tag);
            }
            continue;
        }
        // Text up to the next tag (a lone `<` is text).
        let first = rest.chars().next().map_or(1, char::len_utf8);
        let next = rest[first..].find('<').map_or(rest.len(), |n| n + first);
        if skip.is_none() {
            let pre = stack.iter().any(|o| o.name == "pre");
            out.text(&decode_entities(&rest[..next]), pre);
        }
        i += next;
    }
    out.finish()
}

#[derive(Debug)]
struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    attrs: Vec<(String, String)>,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_ascii_whitespace().any(|x| x == class))
    }
}

/// Parses the tag at the start of `s` (which starts with `<`): the tag and its length. `None`
/// when `<` does not start a tag.
fn parse_tag(s: &str) -> Option<(Tag, usize)> {
    let b = s.as_bytes();
    let mut i = 1;
    let closing = b.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    if !b.get(i)?.is_ascii_alphabetic() {
        // `<!DOCTYPE`, `<?xml`: skip to `>`.
        if matches!(b.get(1), Some(b'!' | b'?')) {
            let end = s.find('>').map_or(s.len(), |e| e + 1);
            return Some((
                Tag {
                    name: String::new(),
                    closing: false,
                    self_closing: true,
                    attrs: vec![],
                },
                end,
            ));
        }
        return None;
    }
    let start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
        i += 1;
    }
    let name = s[start..i].to_ascii_lowercase();
    let mut attrs = Vec::new();
    let mut self_closing = false;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        match b.get(i) {
            None => break,
            Some(b'>') => {
                i += 1;
                break;
            }
            Some(b'/') => {
                self_closing = true;
                i += 1;
                continue;
            }
            _ => {}
        }
        let k0 = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let key = s[k0..i].to_ascii_lowercase();
        if i == k0 {
            // A stray character (`"` outside a value): step over it.
            i += 1;
            continue;
        }
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if b.get(i) == Some(&b'=') {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            match b.get(i) {
                Some(&q @ (b'"' | b'\'')) => {
                    let v0 = i + 1;
                    let end = s[v0..].find(q as char).map_or(s.len(), |e| v0 + e);
                    value = decode_entities(&s[v0..end]);
                    i = (end + 1).min(s.len());
                }
                _ => {
                    let v0 = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                    value = decode_entities(&s[v0..i]);
                }
            }
        }
        attrs.push((key, value));
    }
    Some((
        Tag {
            name,
            closing,
            self_closing,
            attrs,
        },
        i,
    ))
}

const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];
/// Elements whose content is never text a reader sees.
const SKIPPED: &[&str] = &[
    "script", "style", "svg", "noscript", "template", "button", "head", "title", "iframe", "video",
    "audio", "picture", "object",
];

#[derive(Debug)]
struct Open {
    name: String,
    /// Blank lines before and after (0: inline, 1: own line, 2: own paragraph).
    block: u8,
    quote: bool,
    /// For `a`: the address and where its text began in the output.
    link: Option<(String, usize)>,
    /// For `ol`: the next item number; `ul` has 0.
    list: Option<u64>,
    /// For `tr`: cells so far.
    cells: u32,
}

fn block_of(name: &str) -> u8 {
    match name {
        "p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "pre" | "blockquote" | "table" | "ul"
        | "ol" | "aside" | "details" | "hr" | "figure" | "dl" | "section" | "article" => 2,
        "div" | "li" | "tr" | "dt" | "dd" | "summary" | "figcaption" | "header" | "footer"
        | "caption" | "thead" | "tbody" => 1,
        _ => 0,
    }
}

/// Most elements open at once. Deeper ones are ignored (their text stays): every text run and
/// close tag looks through the open elements, so an unbounded stack made hostile HTML quadratic.
const MAX_OPEN: usize = 256;
/// Most `> ` levels written before a quoted line, and list levels indented: without a bound a
/// thousand nested quotes turned each line of text into kilobytes.
const MAX_PREFIX_LEVELS: usize = 4;

fn open(out: &mut TextOut, stack: &mut Vec<Open>, skip: &mut Option<usize>, tag: Tag) {
    if tag.name.is_empty() {
        return;
    }
    let void = VOID.contains(&tag.name.as_str());
    if !void && !tag.self_closing && stack.len() >= MAX_OPEN {
        return;
    }
    if skip.is_some() {
        if !void && !tag.self_closing {
            stack.push(plain(&tag.name));
        }
        return;
    }
    match tag.name.as_str() {
        "br" => return out.line_break(),
        "hr" => return out.block(2),
        "img" => {
            // Emoji are words; pictures are not text.
            if tag.has_class("emoji")
                && let Some(alt) = tag.attr("alt").or_else(|| tag.attr("title"))
            {
                out.text(alt, false);
            }
            return;
        }
        _ if void => return,
        _ => {}
    }
    let skip_this = SKIPPED.contains(&tag.name.as_str())
        // Quote chrome: the title bar (avatar, name, controls) and the expand/collapse buttons.
        || (tag.name == "div"
            && (tag.has_class("quote-controls")
                || (tag.has_class("title") && stack.last().is_some_and(|o| o.quote))))
        // Image meta (file name, dimensions, size) under a lightbox.
        || (tag.name == "div" && tag.has_class("meta"))
        || tag.has_class("onebox-metadata");
    if tag.name == "aside" && tag.has_class("onebox") {
        // A link preview: only its link is the author's.
        out.block(2);
        if let Some(src) = tag.attr("data-onebox-src") {
            out.text(src, false);
        }
        out.block(2);
        if !tag.self_closing {
            stack.push(plain("aside"));
            *skip = Some(stack.len());
        }
        return;
    }
    if tag.self_closing {
        return;
    }
    let mut o = plain(&tag.name);
    o.block = block_of(&tag.name);
    if tag.name == "blockquote" && stack.last().is_some_and(|o| o.quote) {
        // Right under its `user wrote:` line.
        o.block = 1;
    }
    if skip_this {
        stack.push(o);
        *skip = Some(stack.len());
        return;
    }
    out.block(o.block);
    match tag.name.as_str() {
        "aside" if tag.has_class("quote") => {
            o.quote = true;
            if let Some(user) = tag.attr("data-username").filter(|u| !u.is_empty()) {
                out.text(&format!("{user} wrote:"), false);
                out.line_break();
            }
        }
        "blockquote" => {
            out.quote += 1;
            out.fresh = true;
        }
        "ul" => o.list = Some(0),
        "ol" => {
            let start = tag
                .attr("start")
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(1);
            o.list = Some(start);
        }
        "li" => {
            let depth = stack.iter().filter(|o| o.list.is_some()).count();
            let indent = "  ".repeat(depth.saturating_sub(1).min(MAX_PREFIX_LEVELS));
            let marker = match stack.iter_mut().rev().find_map(|o| o.list.as_mut()) {
                Some(n) if *n > 0 => {
                    let m = format!("{n}. ");
                    // `start` is the author's: u64::MAX then one more item overflowed.
                    *n = n.saturating_add(1);
                    m
                }
                _ => "- ".to_owned(),
            };
            out.prefix = format!("{indent}{marker}");
            out.fresh = true;
        }
        "td" | "th" => {
            if let Some(tr) = stack.iter_mut().rev().find(|o| o.name == "tr") {
                if tr.cells > 0 {
                    out.text(" | ", true);
                }
                tr.cells += 1;
            }
        }
        "a" => {
            if let Some(href) = tag.attr("href") {
                o.link = Some((href.to_owned(), out.buf.len()));
            }
        }
        _ => {}
    }
    stack.push(o);
}

fn plain(name: &str) -> Open {
    Open {
        name: name.to_owned(),
        block: 0,
        quote: false,
        link: None,
        list: None,
        cells: 0,
    }
}

fn close(out: &mut TextOut, stack: &mut Vec<Open>, skip: &mut Option<usize>, name: &str) {
    // A close tag with no open element of that name is ignored; one that closes an element
    // with others still open closes those too.
    let Some(at) = stack.iter().rposition(|o| o.name == name) else {
        return;
    };
    while stack.len() > at {
        let Some(o) = stack.pop() else { break };
        if let Some(d) = *skip {
            if stack.len() + 1 == d {
                *skip = None;
            }
            continue;
        }
        if o.name == "blockquote" {
            out.quote = out.quote.saturating_sub(1);
        }
        if let Some((href, start)) = o.link {
            let text = out.buf.get(start..).unwrap_or("").trim();
            let absolute = href.starts_with("http://") || href.starts_with("https://");
            if absolute && !text.is_empty() && text != href {
                out.text(&format!(" ({href})"), false);
            }
        }
        out.block(o.block);
    }
}

/// The text being built: collapsed whitespace, pending line breaks, quote and list prefixes.
struct TextOut {
    buf: String,
    /// Line breaks owed before the next text.
    pending: u8,
    /// A space owed before the next word.
    space: bool,
    line_start: bool,
    quote: usize,
    /// A list marker to write at the start of the next line.
    prefix: String,
    /// A quote or list item just began: its first paragraph needs no break of its own.
    fresh: bool,
}

impl TextOut {
    fn new() -> Self {
        Self {
            buf: String::new(),
            pending: 0,
            space: false,
            line_start: true,
            quote: 0,
            prefix: String::new(),
            fresh: false,
        }
    }

    fn block(&mut self, n: u8) {
        if n > 0 && !self.buf.is_empty() && !self.fresh {
            self.pending = self.pending.max(n);
        }
        if n > 0 {
            self.space = false;
        }
    }

    fn line_break(&mut self) {
        if !self.buf.is_empty() {
            self.pending = (self.pending + 1).min(2);
        }
        self.space = false;
    }

    fn flush(&mut self) {
        self.fresh = false;
        if self.pending > 0 {
            let quote = self.quote.min(MAX_PREFIX_LEVELS);
            for k in 0..self.pending {
                if k > 0 && quote > 0 {
                    self.buf.push_str(&">".repeat(quote));
                }
                self.buf.push('\n');
            }
            self.pending = 0;
            self.line_start = true;
            self.space = false;
        }
        if self.line_start {
            for _ in 0..self.quote.min(MAX_PREFIX_LEVELS) {
                self.buf.push_str("> ");
            }
            let p = std::mem::take(&mut self.prefix);
            self.buf.push_str(&p);
            self.line_start = false;
            self.space = false;
        }
    }

    fn text(&mut self, s: &str, pre: bool) {
        for c in s.chars() {
            if pre {
                if c == '\n' {
                    self.pending = self.pending.saturating_add(1);
                } else {
                    self.flush();
                    self.buf.push(c);
                }
            } else if c.is_whitespace() || c == '\u{200b}' {
                self.space = true;
            } else {
                let space = self.space;
                self.flush();
                if space && !self.buf.ends_with([' ', '\n']) && !self.buf.is_empty() {
                    self.buf.push(' ');
                }
                self.space = false;
                self.buf.push(c);
            }
        }
    }

    fn finish(self) -> String {
        let lines: Vec<&str> = self.buf.lines().map(str::trim_end).collect();
        let mut out = String::with_capacity(self.buf.len());
        let mut blank = 0;
        for l in lines {
            if l.is_empty() {
                blank += 1;
                if blank > 1 {
                    continue;
                }
            } else {
                blank = 0;
            }
            out.push_str(l);
            out.push('\n');
        }
        out.trim().to_owned()
    }
}

/// Decodes HTML character references: named ones Discourse emits, and numeric ones.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        let semi = tail.find(';').filter(|&n| n > 0 && n <= 32);
        let decoded = semi.and_then(|n| {
            let name = &tail[..n];
            let c = if let Some(num) = name.strip_prefix('#') {
                let code = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse::<u32>().ok(),
                }?;
                Some(
                    char::from_u32(code)
                        .filter(|c| *c != '\0')
                        .unwrap_or('\u{fffd}')
                        .to_string(),
                )
            } else {
                named_entity(name).map(str::to_owned)
            }?;
            Some((c, n + 1))
        });
        match decoded {
            Some((c, used)) => {
                out.push_str(&c);
                rest = &tail[used..];
            }
            None => {
                out.push('&');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

fn named_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        "nbsp" => "\u{a0}",
        "hellip" => "…",
        "mdash" => "—",
        "ndash" => "–",
        "lsquo" => "‘",
        "rsquo" => "’",
        "ldquo" => "“",
        "rdquo" => "”",
        "laquo" => "«",
        "raquo" => "»",
        "copy" => "©",
        "reg" => "®",
        "trade" => "™",
        "times" => "×",
        "divide" => "÷",
        "middot" => "·",
        "bull" => "•",
        "deg" => "°",
        "euro" => "€",
        "pound" => "£",
        "yen" => "¥",
        "cent" => "¢",
        "sect" => "§",
        "para" => "¶",
        "plusmn" => "±",
        "larr" => "←",
        "rarr" => "→",
        "uarr" => "↑",
        "darr" => "↓",
        "le" => "≤",
        "ge" => "≥",
        "ne" => "≠",
        "asymp" => "≈",
        "check" => "✓",
        "shy" | "zwj" | "zwnj" | "lrm" | "rlm" => "",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn forum_hosts_match_scheme_host_and_port() {
        let https = ForumHost::parse("forum.arbitrum.foundation").expect("host");
        let url = |s: &str| url::Url::parse(s).expect("url");
        assert!(https.allows(&url("https://forum.arbitrum.foundation/t/x/1.json")));
        assert!(https.allows(&url("https://FORUM.arbitrum.foundation:443/t/1.json")));
        assert!(!https.allows(&url("http://forum.arbitrum.foundation/t/1.json")));
        assert!(!https.allows(&url("https://forum.arbitrum.foundation:8443/t/1.json")));
        assert!(!https.allows(&url("https://evil.example/t/1.json")));
        let local = ForumHost::parse("http://127.0.0.1:4000").expect("host");
        assert!(local.allows(&url("http://127.0.0.1:4000/t/1.json")));
        assert!(!local.allows(&url("http://127.0.0.1:4001/t/1.json")));
        for bad in ["ftp://x", "https://u:p@x", "https://x/path", ""] {
            assert!(ForumHost::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn topic_urls_are_recognised() {
        type Want = Option<(&'static str, u64, Option<u64>)>;
        let cases: &[(&str, Want)] = &[
            (
                "https://forum.arbitrum.foundation/t/404-dao-delegate-communication-thread/22494",
                Some(("forum.arbitrum.foundation", 22494, None)),
            ),
            (
                "https://forum.arbitrum.foundation/t/404-dao-delegate-communication-thread/22494/15",
                Some(("forum.arbitrum.foundation", 22494, Some(15))),
            ),
            (
                "https://gov.uniswap.org/t/22185",
                Some(("gov.uniswap.org", 22185, None)),
            ),
            (
                "https://gov.uniswap.org/t/22185/3",
                Some(("gov.uniswap.org", 22185, Some(3))),
            ),
            (
                "https://forum.arbitrum.foundation/t/argonaut-delegate-communication-thread/24722?page=2",
                Some(("forum.arbitrum.foundation", 24722, None)),
            ),
            (
                "http://127.0.0.1:4000/t/x/7.json",
                Some(("127.0.0.1", 7, None)),
            ),
            ("https://forum.arbitrum.foundation/c/proposals/7", None),
            ("https://forum.arbitrum.foundation/t/slug-only", None),
            (
                "https://snapshot.org/#/arbitrumfoundation.eth/proposal/0x12",
                None,
            ),
            ("ftp://forum.example/t/x/1", None),
            ("not a url", None),
        ];
        for (url, want) in cases {
            let got = TopicRef::parse(url).map(|t| (t.host.clone(), t.topic_id, t.post_number));
            let want = want.map(|(h, id, p)| (h.to_owned(), id, p));
            assert_eq!(got, want, "{url}");
        }
        let t = TopicRef::parse("http://127.0.0.1:4000/t/x/7").expect("parses");
        assert_eq!(t.topic_url(), "http://127.0.0.1:4000/t/7.json");
        assert_eq!(
            t.posts_url(&[1, 2]),
            "http://127.0.0.1:4000/t/7/posts.json?post_ids%5B%5D=1&post_ids%5B%5D=2"
        );
    }

    #[test]
    fn the_discussion_link_wins_then_body_links() {
        let body = "See [the forum](https://research.lido.fi/t/lido-v3/9001/4). Also https://snapshot.org/x.";
        let t = TopicRef::of_proposal(None, body).expect("body link");
        assert_eq!((t.host.as_str(), t.topic_id), ("research.lido.fi", 9001));
        let t = TopicRef::of_proposal(Some("https://gov.uniswap.org/t/a/5"), body).expect("link");
        assert_eq!(t.topic_id, 5);
        let t = TopicRef::of_proposal(Some("https://example.com/page"), body).expect("fallback");
        assert_eq!(t.topic_id, 9001);
        assert_eq!(TopicRef::of_proposal(None, "no links here"), None);
    }

    #[test]
    fn cooked_html_becomes_text() {
        let cases: &[(&str, &str)] = &[
            ("<p>Hello <strong>world</strong></p>", "Hello world"),
            ("<p>One</p>\n<p>Two</p>", "One\n\nTwo"),
            ("<p>line<br>\nbreak</p>", "line\nbreak"),
            (
                "<p>Fish &amp; chips &lt;3 &#8217;n&#x2019; &rsquo;&hellip; &bogus; a&b</p>",
                "Fish & chips <3 ’n’ ’… &bogus; a&b",
            ),
            (
                "<ul>\n<li>first</li>\n<li>second</li>\n</ul>",
                "- first\n- second",
            ),
            (
                "<p>Points:</p><ul><li><p>loose</p></li><li><p>items</p></li></ul>",
                "Points:\n\n- loose\n\n- items",
            ),
            ("<ol start=\"3\"><li>c</li><li>d</li></ol>", "3. c\n4. d"),
            (
                r#"<aside class="quote no-group" data-username="tempetechie" data-post="3" data-topic="27225">
<div class="title">
<div class="quote-controls"></div>
<img alt="" width="24" height="24" src="/user_avatar/x.png" class="avatar"> tempetechie:</div>
<blockquote>
<p>We voted FOR.</p>
<p>Second.</p>
</blockquote>
</aside>
<p>We disagree.</p>"#,
                "tempetechie wrote:\n> We voted FOR.\n>\n> Second.\n\nWe disagree.",
            ),
            (
                r#"<p>Read <a href="https://snapshot.org/#/arb/proposal/0x1">the vote</a> and <a href="https://x.org/a">https://x.org/a</a> <a class="mention" href="/u/bob">@bob</a></p>"#,
                "Read the vote (https://snapshot.org/#/arb/proposal/0x1) and https://x.org/a @bob",
            ),
            (
                r#"<p>Nice <img src="/images/emoji/twitter/+1.png?v=12" title=":+1:" class="emoji" alt=":+1:" loading="lazy"></p>"#,
                "Nice :+1:",
            ),
            (
                r#"<aside class="onebox allowlistedgeneric" data-onebox-src="https://www.tally.xyz/gov/arbitrum/proposal/1"><header class="source"><a href="https://www.tally.xyz">tally.xyz</a></header><article class="onebox-body"><h3>Proposal</h3><p>Long preview</p></article></aside>"#,
                "https://www.tally.xyz/gov/arbitrum/proposal/1",
            ),
            (
                r#"<div class="lightbox-wrapper"><a class="lightbox" href="/uploads/x.png"><img src="/uploads/x.png" width="690" height="388"><div class="meta"><span class="filename">image</span><span class="informations">1920×1080 200 KB</span></div></a></div><p>After</p>"#,
                "After",
            ),
            ("<pre><code>let x = 1;\n  y</code></pre>", "let x = 1;\n  y"),
            (
                "<table><tr><th>Option</th><th>Votes</th></tr><tr><td>For</td><td>10</td></tr></table>",
                "Option | Votes\nFor | 10",
            ),
            (
                "<p>a <!-- hidden --> b <script>evil()</script>c</p>",
                "a b c",
            ),
            ("1 < 2 and <p>unclosed", "1 < 2 and\n\nunclosed"),
            ("<h2>Title</h2><p>text</p>", "Title\n\ntext"),
            ("", ""),
            ("é<b>ü</b> ça & <p>naïve</p>", "éü ça &\n\nnaïve"),
        ];
        for (html, want) in cases {
            assert_eq!(html_to_text(html), *want, "{html}");
        }
    }

    #[test]
    fn posts_parse_and_bad_fields_are_named() {
        let ok = json!({
            "id": 55, "username": "404gov", "name": "404 DAO", "created_at": "2024-08-20T14:03:11.123Z",
            "post_number": 15, "cooked": "<p>We voted <strong>FOR</strong>.</p>",
            "reply_to_post_number": null, "topic_id": 22494, "post_type": 1
        });
        let Parsed::Post(p) = parse_post(&ok, "h", 22494, 1 << 20).expect("parses") else {
            panic!("a post")
        };
        assert_eq!(
            (p.post_id, p.post_number, p.author.as_str(), p.created),
            (55, 15, "404gov", 1_724_162_591)
        );
        assert_eq!(p.text, "We voted FOR.");
        let mut raw = ok.clone();
        raw["raw"] = json!("We voted **FOR**.");
        let Ok(Parsed::Post(p)) = parse_post(&raw, "h", 22494, 1 << 20) else {
            panic!("a post")
        };
        assert_eq!(p.text, "We voted **FOR**.");
        let Ok(Parsed::Post(p)) = parse_post(&ok, "h", 22494, 5) else {
            panic!("a post")
        };
        assert_eq!(p.text, "We vo");
        let mut small = ok.clone();
        small["post_type"] = json!(3);
        assert_eq!(parse_post(&small, "h", 22494, 10), Ok(Parsed::Skip(55)));

        let cases = [
            ("created_at", json!("last tuesday")),
            ("created_at", json!(null)),
            ("username", json!("")),
            ("username", json!(7)),
            ("post_number", json!("x")),
            ("topic_id", json!(1)),
            ("id", json!(-1)),
        ];
        for (field, bad) in cases {
            let mut v = ok.clone();
            v[field] = bad;
            let err = parse_post(&v, "h", 22494, 100).expect_err(field);
            assert_eq!(err.field, field, "{err}");
        }
    }

    #[test]
    fn topics_parse_and_bound_the_stream() {
        let v = json!({"id": 7, "title": "T", "post_stream": {"posts": [{"id": 1}], "stream": [1, 2, 3]}});
        let t = parse_topic(&v, 10).expect("parses");
        assert_eq!(
            (t.id, t.stream.clone(), t.posts.len()),
            (7, vec![1, 2, 3], 1)
        );
        assert_eq!(
            parse_topic(&v, 2).expect_err("too many").field,
            "post_stream.stream"
        );
        let bad = json!({"id": 7, "post_stream": {"posts": [], "stream": [1, "x"]}});
        assert_eq!(
            parse_topic(&bad, 10).expect_err("bad id").field,
            "post_stream.stream[1]"
        );
        assert_eq!(
            parse_topic(&json!({"id": 7}), 10)
                .expect_err("no stream")
                .field,
            "post_stream"
        );
    }

    /// Found writing the `html_to_text` fuzz target (its size check fails on it): 60 nested
    /// quotes and 300 short lines (2 KB) came out as 36 KB, every line prefixed with 60 `> `;
    /// a megabyte of cooked HTML would have been gigabytes.
    #[test]
    fn deeply_nested_quotes_do_not_square_the_text() {
        let html = format!("{}{}", "<blockquote>".repeat(60), "x<br>".repeat(300));
        let text = html_to_text(&html);
        assert!(
            text.len() <= 2 * html.len(),
            "{} bytes from {}",
            text.len(),
            html.len()
        );
        assert!(
            text.lines().all(|l| l == "> > > > x" || l.is_empty()),
            "{text:.200}"
        );
        let lists = format!("{}{}", "<ul>".repeat(60), "<li>x</li>".repeat(300));
        let text = html_to_text(&lists);
        assert!(
            text.len() <= 2 * lists.len(),
            "{} bytes from {}",
            text.len(),
            lists.len()
        );
    }

    /// Same finding: thousands of open elements made every text run and close tag scan them
    /// all. Past the bound, elements are ignored and their text kept.
    #[test]
    fn elements_nested_past_the_bound_keep_their_text() {
        let html = format!("{}deep{}", "<span>".repeat(20_000), "</i>".repeat(20_000));
        assert_eq!(html_to_text(&html), "deep");
        let quoted = format!("{}<p>inner</p>", "<blockquote>".repeat(MAX_OPEN + 5));
        assert_eq!(html_to_text(&quoted), "> > > > inner");
    }

    /// Found writing the `html_to_text` fuzz target (it panics on it): numbering past
    /// `<ol start>` overflowed (a panic with overflow checks, a wrap to `- ` items without).
    #[test]
    fn ordered_list_starting_at_u64_max_does_not_overflow() {
        let html = format!("<ol start=\"{}\"><li>a</li><li>b</li></ol>", u64::MAX);
        assert_eq!(html_to_text(&html), format!("{m}. a\n{m}. b", m = u64::MAX));
    }

    proptest! {
        /// Tag soup (unclosed, nested, attributes, comments, entities) and any text: plain text
        /// at most linear in the input (quote and list prefixes are bounded), never a panic.
        #[test]
        fn html_soup_never_panics(
            parts in proptest::collection::vec(prop_oneof![
                "<(/)?(p|a|li|ul|ol|aside|blockquote|pre|code|img|br|div|span|h[1-6]|table|td)( [a-z-]{1,8}(=(\"[^\"]{0,12}\"?|'[^']{0,8}'?|[^ >]{0,6}))?){0,3}( ?/)?>?",
                "&(#[0-9]{0,9}|#[xX][0-9a-fA-F]{0,8}|[a-zA-Z]{0,8});?",
                "<!--[^>]{0,8}(-->)?",
                "<[!?][^>]{0,8}>?",
                "\\PC{0,12}",
            ], 0..40),
        ) {
            let html: String = parts.concat();
            let text = html_to_text(&html);
            prop_assert!(text.len() <= 16 * html.len() + 64, "{} bytes from {html:?}", text.len());
            prop_assert!(decode_entities(&html).len() <= html.len());
        }

        #[test]
        fn any_text_never_panics(s in "\\PC{0,200}") {
            let _ = html_to_text(&s);
        }
    }
}
