//! [`SearchIndex`]: full-text search over the path and content of a project's live docs —
//! a weighted `tsvector` over a bounded prefix on PostgreSQL, FTS5 on SQLite. Any user text is
//! safe input, and every snippet is safe HTML: the doc's text escaped, only `<mark>` added.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, QueryResult};
use toolkit_application::ports::{SearchHit, SearchIndex};
use toolkit_domain::{DocId, ProjectId};
use uuid::Uuid;

use crate::errors::unexpected;
use crate::sql::{limit, statement};

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

/// The highlight delimiters of one query: random per query, so no doc can contain them, and
/// the snippet can be HTML-escaped as a whole before they become `<mark>` tags.
struct Markers {
    start: String,
    stop: String,
}

impl Markers {
    fn new() -> Self {
        let nonce = Uuid::new_v4().simple().to_string();
        Self {
            start: format!("hlstart{nonce}x"),
            stop: format!("hlstop{nonce}x"),
        }
    }

    /// The snippet as safe HTML: the doc's text escaped, only the server's `<mark>` tags live.
    /// `escaped`: the database already escaped the text (PostgreSQL, see [`PG_ESCAPED`]).
    fn render(&self, snippet: &str, escaped: bool) -> String {
        let escaped = if escaped {
            snippet.to_owned()
        } else {
            escape_html(snippet)
        };
        escaped
            .replace(&self.start, "<mark>")
            .replace(&self.stop, "</mark>")
    }
}

/// The indexed prefix of `d.content` (the generated `tsvector` covers `left(content, 100000)`,
/// migration `m20261201_000007`), HTML-escaped in SQL exactly as [`escape_html`] does.
/// PostgreSQL's headline parser drops anything that looks like a tag (`<script>` would vanish
/// rather than show), so the text is escaped before `ts_headline` sees it; entities stay intact
/// (they are single tokens) and the highlight markers are added to the escaped text.
const PG_ESCAPED: &str = "replace(replace(replace(replace(replace(left(d.content, 100000), \
     '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '\"', '&quot;'), '''', '&#39;')";

/// Escapes the five characters that matter in HTML text and attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn hit(row: &QueryResult, markers: &Markers, escaped: bool) -> Result<SearchHit, sea_orm::DbErr> {
    let id: Uuid = row.try_get("", "id")?;
    let snippet: String = row.try_get("", "snippet")?;
    Ok(SearchHit {
        doc_id: DocId::from_uuid(id),
        path: row.try_get("", "path")?,
        snippet: markers.render(&snippet, escaped),
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
        let markers = Markers::new();
        let stmt = if backend == DbBackend::Postgres {
            // `websearch_to_tsquery` accepts any text; stop words or punctuation only give an
            // empty query, which matches nothing. The 'simple' query finds unstemmed path
            // words; path words weigh 'A', content words 'B'. The headline is taken from the
            // indexed prefix only: the rest of the doc cannot match anyway.
            let options = format!(
                "StartSel={}, StopSel={}, MaxFragments=1, MaxWords=20, MinWords=5",
                markers.start, markers.stop
            );
            // raw SQL: full-text search (`websearch_to_tsquery`, `ts_headline`, `ts_rank`).
            statement(
                &self.db,
                format!(
                    "SELECT d.id, d.path, \
                 ts_headline('english', {PG_ESCAPED}, q.query, $4) AS snippet, \
                 CAST(ts_rank(d.search_vector, q.query) AS DOUBLE PRECISION) AS score \
                 FROM (SELECT websearch_to_tsquery('english', $2) || websearch_to_tsquery('simple', $2) \
                 AS query) q \
                 JOIN docs d ON d.search_vector @@ q.query \
                 WHERE d.project_id = $1 AND d.deleted_at IS NULL \
                 ORDER BY score DESC, d.id LIMIT $3 OFFSET $5"
                ),
                [
                    project_id.as_uuid().into(),
                    query.into(),
                    limit(limit_rows),
                    options.into(),
                    limit(offset),
                ],
            )
        } else {
            let Some(expression) = fts5_query(query) else {
                return Ok(Vec::new());
            };
            // bm25: lower is better, so the score is its negation. Path words weigh 10×.
            // raw SQL: full-text search (FTS5 `MATCH`, `snippet`, `bm25`).
            statement(
                &self.db,
                "SELECT d.id, d.path, snippet(docs_fts, 1, $4, $5, '…', 12) AS snippet, \
                 -bm25(docs_fts, 10.0, 1.0) AS score \
                 FROM docs_fts JOIN docs d ON d.id = docs_fts.doc_id \
                 WHERE docs_fts MATCH $2 AND docs_fts.project_id = $1 AND d.deleted_at IS NULL \
                 ORDER BY score DESC, d.id LIMIT $3 OFFSET $6",
                [
                    project_id.as_uuid().into(),
                    expression.into(),
                    limit(limit_rows),
                    markers.start.as_str().into(),
                    markers.stop.as_str().into(),
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
            .map(|row| hit(row, &markers, backend == DbBackend::Postgres))
            .collect::<Result<_, _>>()
            .map_err(unexpected("reading search hits"))
    }
}

#[cfg(test)]
mod tests {
    use super::{Markers, PG_ESCAPED, fts5_query};

    #[test]
    fn snippets_escape_the_doc_and_keep_only_the_servers_marks() {
        let m = Markers::new();
        let raw = format!(
            "<script>alert(1)</script> & <mark>x</mark> {}word{} \"'",
            m.start, m.stop
        );
        assert_eq!(
            m.render(&raw, false),
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;mark&gt;x&lt;/mark&gt; <mark>word</mark> &quot;&#39;"
        );
        assert_ne!(Markers::new().start, m.start);
        let pre_escaped = format!("&lt;b&gt; {}x{}", m.start, m.stop);
        assert_eq!(m.render(&pre_escaped, true), "&lt;b&gt; <mark>x</mark>");
        assert!(PG_ESCAPED.contains("left(d.content, 100000)"));
    }

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
