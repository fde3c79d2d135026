//! A proposal's discussion: the forum posts of the thread behind it, in the store.
//!
//! Posts are keyed by (proposal, forum host, topic, post id), so storing a post again is a
//! no-op and a refresh only adds what is new. Each batch of new posts appends one `discussion`
//! audit entry naming the forum, the topic and the posts.

use std::collections::BTreeSet;

use rusqlite::params;
use steward_core::AuditRecord;

use crate::error::Result;
use crate::sources::forum::Post;
use crate::store::{Store, Tx, sql};

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Tx<'_> {
    /// Stores posts of a proposal's discussion; returns how many were new. New posts are
    /// audited (kind `discussion`) in the same transaction.
    pub fn insert_discussion_posts(&mut self, proposal_key: &str, posts: &[Post]) -> Result<usize> {
        let now = jiff::Timestamp::now().to_string();
        let mut added = Vec::new();
        {
            let mut stmt = self
                .sql()
                .prepare_cached(
                    "INSERT OR IGNORE INTO discussion_posts (proposal_key, host, topic_id, post_id,
                     post_number, author, created_ts, reply_to, text, stored)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(sql(self.path(), "storing discussion posts"))?;
            for p in posts {
                let n = stmt
                    .execute(params![
                        proposal_key,
                        p.host,
                        to_i64(p.topic_id),
                        to_i64(p.post_id),
                        to_i64(p.post_number),
                        p.author,
                        p.created,
                        p.reply_to.map(to_i64),
                        p.text,
                        now
                    ])
                    .map_err(sql(self.path(), "storing discussion posts"))?;
                if n > 0 {
                    added.push(p);
                }
            }
        }
        if let Some(first) = added.first() {
            let json = serde_json::to_string(&added).unwrap_or_default();
            let ids: Vec<u64> = added.iter().map(|p| p.post_id).collect();
            self.audit(
                &AuditRecord::new("discussion", proposal_key)
                    .input("posts", &json)
                    .detail(serde_json::json!({
                        "host": first.host,
                        "topic_id": first.topic_id,
                        "new_posts": added.len(),
                        "post_ids": ids,
                    })),
            )?;
        }
        Ok(added.len())
    }
}

impl Store {
    /// Ids of the posts of a topic already stored for a proposal.
    pub fn discussion_post_ids(
        &self,
        proposal_key: &str,
        host: &str,
        topic_id: u64,
    ) -> Result<BTreeSet<u64>> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT post_id FROM discussion_posts
                 WHERE proposal_key = ?1 AND host = ?2 AND topic_id = ?3",
            )
            .map_err(sql(self.path(), "reading discussion posts"))?;
        let rows = stmt
            .query_map(params![proposal_key, host, to_i64(topic_id)], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(sql(self.path(), "reading discussion posts"))?;
        let mut out = BTreeSet::new();
        for row in rows {
            out.insert(to_u64(
                row.map_err(sql(self.path(), "reading discussion posts"))?,
            ));
        }
        Ok(out)
    }

    /// A proposal's discussion: every stored post, by forum and topic, in post order.
    pub fn discussion(&self, proposal_key: &str) -> Result<Vec<Post>> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT host, topic_id, post_id, post_number, author, created_ts, reply_to, text
                 FROM discussion_posts WHERE proposal_key = ?1
                 ORDER BY host, topic_id, post_number, post_id",
            )
            .map_err(sql(self.path(), "reading discussion posts"))?;
        let rows = stmt
            .query_map([proposal_key], |r| {
                Ok(Post {
                    host: r.get(0)?,
                    topic_id: to_u64(r.get(1)?),
                    post_id: to_u64(r.get(2)?),
                    post_number: to_u64(r.get(3)?),
                    author: r.get(4)?,
                    created: r.get(5)?,
                    reply_to: r.get::<_, Option<i64>>(6)?.map(to_u64),
                    text: r.get(7)?,
                })
            })
            .map_err(sql(self.path(), "reading discussion posts"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(sql(self.path(), "reading discussion posts"))
    }
}
