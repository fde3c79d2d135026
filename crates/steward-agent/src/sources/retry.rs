//! One retry policy for the HTTP sources (Snapshot hub, Discourse forums): HTTP 429 waits for
//! `Retry-After` (up to a limit; longer fails rather than stalls a sync), transient failures
//! back off exponentially, and answers that retrying cannot change fail at once.

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, Result};

/// The outcome of one failed attempt.
#[derive(Debug)]
pub enum Attempt {
    /// Worth another try, after `wait` if the server said so.
    Transient {
        reason: String,
        wait: Option<Duration>,
    },
    /// The server said no in a way retrying will not change (404, a GraphQL error).
    Final(String),
    /// Not sent at all (a refused host, a bad URL).
    Fatal(Error),
}

impl Attempt {
    pub fn transient(reason: String) -> Self {
        Self::Transient { reason, wait: None }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// Longest Retry-After honoured.
    pub max_retry_after: Duration,
    /// First backoff; doubled after each failed attempt.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            max_retry_after: Duration::from_secs(120),
            backoff: Duration::from_millis(250),
        }
    }
}

impl RetryPolicy {
    /// Runs `attempt` until it succeeds or the policy gives up. Errors are
    /// `Error::Source { source_name, message: "<what>: <why>" }` (no prefix when `what` is empty).
    pub(crate) async fn run<T, F, Fut>(
        &self,
        source_name: &str,
        what: &str,
        mut attempt: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, Attempt>>,
    {
        let fail = |why: String| Error::Source {
            source_name: source_name.to_owned(),
            message: if what.is_empty() {
                why
            } else {
                format!("{what}: {why}")
            },
        };
        let mut n = 0;
        loop {
            n += 1;
            let wait = match attempt().await {
                Ok(v) => return Ok(v),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Final(why)) => return Err(fail(why)),
                Err(Attempt::Transient { reason, wait }) if n < self.max_attempts => {
                    tracing::warn!(source = source_name, what, attempt = n, %reason, "request failed; retrying");
                    wait.unwrap_or(self.backoff * 2u32.saturating_pow(n - 1))
                }
                Err(Attempt::Transient { reason, .. }) => {
                    return Err(fail(format!("giving up after {n} attempts: {reason}")));
                }
            };
            if wait > self.max_retry_after {
                return Err(fail(format!(
                    "rate limited with Retry-After {}s (over the {}s limit)",
                    wait.as_secs(),
                    self.max_retry_after.as_secs()
                )));
            }
            tokio::time::sleep(wait).await;
        }
    }
}

/// An HTTP 429 as a transient attempt that waits for the server's `Retry-After` (seconds;
/// 1 s when absent or unreadable).
pub(crate) fn rate_limited(resp: &reqwest::Response) -> Attempt {
    let wait = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(1), Duration::from_secs);
    Attempt::Transient {
        reason: "HTTP 429 Too Many Requests".into(),
        wait: Some(wait),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: answers that cannot change (a GraphQL error, a refused host) used to be
    /// reported as "rate limited with Retry-After 18446744073709551615s".
    #[tokio::test]
    async fn final_answers_are_reported_as_themselves_after_one_attempt() {
        let mut calls = 0;
        let err = RetryPolicy::default()
            .run::<(), _, _>("snapshot hub h", "", || {
                calls += 1;
                async { Err(Attempt::Final("GraphQL error: bad field".into())) }
            })
            .await
            .expect_err("final");
        assert_eq!(calls, 1);
        assert_eq!(err.to_string(), "snapshot hub h: GraphQL error: bad field");
    }

    #[tokio::test]
    async fn transient_failures_back_off_then_give_up_naming_the_count() {
        let policy = RetryPolicy {
            max_attempts: 3,
            backoff: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        let mut calls = 0;
        let err = policy
            .run::<(), _, _>("forum f", "the topic", || {
                calls += 1;
                async { Err(Attempt::transient("HTTP 503".into())) }
            })
            .await
            .expect_err("gives up");
        assert_eq!(calls, 3);
        assert_eq!(
            err.to_string(),
            "forum f: the topic: giving up after 3 attempts: HTTP 503"
        );
    }
}
