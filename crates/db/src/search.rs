//! [`SearchIndex`]: full-text search over the path and content of a project's live docs —
//! a weighted `tsvector` on PostgreSQL, FTS5 on SQLite. Any user text is safe input.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, Statement};
use toolkit_application::ports::{SearchHit, SearchIndex};
use toolkit_domain::{DocId, ProjectId};
use uuid::Uuid;

use crate::docs::limit;
use crate::errors::unexpected;

/// PostgreSQL's English stop words (`english.stop`): SQLite drops them too, so a query of
/// stop words only finds nothing on either backend.
const STOP_WORDS: [&str; 127] = [
    "i",
    "me",
    "my",
    "myself",
    "we",
    "our",
    "ours",
    "ourselves",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "he",
    "him",
    "his",
    "himself",
    "she",
    "her",
    "hers",
    "herself",
    "it",
    "its",
    "itself",
    "they",
    "them",
    "their",
    "theirs",
    "themselves",
    "what",
    "which",
    "who",
    "whom",
    "this",
    "that",
    "these",
    "those",
    "am",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "have",
    "has",
    "had",
    "having",
    "do",
    "does",
    "did",
    "doing",
    "a",
    "an",
    "the",
    "and",
    "but",
    "if",
    "or",
    "because",
    "as",
    "until",
    "while",
    "of",
    "at",
    "by",
    "for",
    "with",
    "about",
    "against",
    "between",
    "into",
    "through",
    "during",
    "before",
    "after",
    "above",
    "below",
    "to",
    "from",
    "up",
    "down",
    "in",
    "out",
    "on",
    "off",
    "over",
    "under",
    "again",
    "further",
    "then",
    "once",
    "here",
    "there",
    "when",
    "where",
    "why",
    "how",
    "all",
    "any",
    "both",
    "each",
    "few",
    "more",
    "most",
    "other",
    "some",
    "such",
    "no",
    "nor",
    "not",
    "only",
    "own",
    "same",
    "so",
    "than",
    "too",
    "very",
    "s",
    "t",
    "can",
    "will",
    "just",
    "don",
    "should",
    "now",
];

/// The most words of a query that are searched for.
const MAX_TOKENS: usize = 32;

pub struct SeaSearchIndex {
    db: DatabaseConnection,
}

impl SeaSearchIndex {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// A safe FTS5 `MATCH` expression for user text: its words (split at anything not
/// alphanumeric, stop words dropped), each quoted as a string, joined with `OR`. `None` when
/// no word is left. Raw input never reaches `MATCH`.
pub(crate) fn fts5_query(text: &str) -> Option<String> {
    let mut tokens: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        let word = word.to_lowercase();
        if word.is_empty() || STOP_WORDS.contains(&word.as_str()) || tokens.contains(&word) {
            continue;
        }
        tokens.push(word);
        if tokens.len() == MAX_TOKENS {
            break;
        }
    }
    if tokens.is_empty() {
        return None;
    }
    let quoted: Vec<String> = tokens
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    Some(quoted.join(" OR "))
}

fn hit(row: &QueryResult) -> Result<SearchHit, sea_orm::DbErr> {
    let id: Uuid = row.try_get("", "id")?;
    Ok(SearchHit {
        doc_id: DocId::from_uuid(id),
        path: row.try_get("", "path")?,
        snippet: row.try_get("", "snippet")?,
        score: row.try_get("", "score")?,
    })
}

#[async_trait]
impl SearchIndex for SeaSearchIndex {
    async fn search(
        &self,
        project_id: ProjectId,
        query: &str,
        offset: u64,
        limit_rows: u64,
    ) -> anyhow::Result<Vec<SearchHit>> {
        let backend = self.db.get_database_backend();
        let stmt = if backend == DbBackend::Postgres {
            // `websearch_to_tsquery` accepts any text; stop words or punctuation only give an
            // empty query, which matches nothing. The 'simple' query finds unstemmed path
            // words; path words weigh 'A', content words 'B'.
            Statement::from_sql_and_values(
                backend,
                "SELECT d.id, d.path, \
                 ts_headline('english', d.content, q.query, \
                 'StartSel=<mark>, StopSel=</mark>, MaxFragments=1, MaxWords=20, MinWords=5') AS snippet, \
                 CAST(ts_rank(d.search_vector, q.query) AS DOUBLE PRECISION) AS score \
                 FROM (SELECT websearch_to_tsquery('english', $2) || websearch_to_tsquery('simple', $2) \
                 AS query) q \
                 JOIN docs d ON d.search_vector @@ q.query \
                 WHERE d.project_id = $1 AND d.deleted_at IS NULL \
                 ORDER BY score DESC, d.id LIMIT $3 OFFSET $4",
                [
                    project_id.as_uuid().into(),
                    query.into(),
                    limit(limit_rows),
                    limit(offset),
                ],
            )
        } else {
            let Some(expression) = fts5_query(query) else {
                return Ok(Vec::new());
            };
            // bm25: lower is better, so the score is its negation. Path words weigh 10×.
            Statement::from_sql_and_values(
                backend,
                "SELECT d.id, d.path, snippet(docs_fts, 1, '<mark>', '</mark>', '…', 12) AS snippet, \
                 -bm25(docs_fts, 10.0, 1.0) AS score \
                 FROM docs_fts JOIN docs d ON d.id = docs_fts.doc_id \
                 WHERE docs_fts MATCH $2 AND docs_fts.project_id = $1 AND d.deleted_at IS NULL \
                 ORDER BY score DESC, d.id LIMIT $3 OFFSET $4",
                [
                    project_id.as_uuid().into(),
                    expression.into(),
                    limit(limit_rows),
                    limit(offset),
                ],
            )
        };
        let rows = self
            .db
            .query_all_raw(stmt)
            .await
            .map_err(unexpected("searching docs"))?;
        rows.iter()
            .map(hit)
            .collect::<Result<_, _>>()
            .map_err(unexpected("reading search hits"))
    }
}

#[cfg(test)]
mod tests {
    use super::fts5_query;

    #[test]
    fn user_text_becomes_quoted_words() {
        assert_eq!(
            fts5_query("review agent").as_deref(),
            Some("\"review\" OR \"agent\"")
        );
        assert_eq!(
            fts5_query("a\"b NEAR(c) OR d* -e").as_deref(),
            Some("\"b\" OR \"near\" OR \"c\" OR \"d\" OR \"e\"")
        );
        assert_eq!(
            fts5_query("Überprüfung été").as_deref(),
            Some("\"überprüfung\" OR \"été\"")
        );
        assert_eq!(fts5_query("Review review").as_deref(), Some("\"review\""));
    }

    #[test]
    fn stop_words_or_punctuation_only_give_no_query() {
        assert_eq!(fts5_query("the of and"), None);
        assert_eq!(fts5_query("!!! ... \"\" *"), None);
        assert_eq!(fts5_query(""), None);
    }
}
