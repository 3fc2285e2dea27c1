//! Full-text search: ranking, snippets, any user text as input, project and trash scoping.

use toolkit_application::ports::{Change, DocDelete, DocRestore, SearchIndex};
use toolkit_db::SeaSearchIndex;
use toolkit_db::testing::fresh_database;

use crate::support::{author, commit, doc, now, owner_and_project, project, update};

#[tokio::test]
async fn path_matches_rank_above_content_matches_and_snippets_mark_the_words() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let in_content = doc(
        &db,
        &project,
        "notes/general.md",
        "Before merging, ask the tester agent to review the change and write a review summary.",
        &ada,
    )
    .await;
    let in_path = doc(
        &db,
        &project,
        ".claude/commands/review.md",
        "Look at the diff carefully.",
        &ada,
    )
    .await;
    doc(&db, &project, "unrelated.md", "Nothing to see here.", &ada).await;

    let search = SeaSearchIndex::new(db.clone());
    let hits = search.search(project.id, "review", 0, 10).await.unwrap();
    assert_eq!(
        hits.iter().map(|h| h.doc_id).collect::<Vec<_>>(),
        [in_path.id, in_content.id],
        "{hits:?}"
    );
    assert_eq!(hits[0].path, ".claude/commands/review.md");
    assert!(hits[0].score > hits[1].score, "{hits:?}");
    assert!(hits[1].score > 0.0, "{hits:?}");
    assert!(hits[1].snippet.contains("<mark>"), "{hits:?}");
    assert!(
        hits[1].snippet.to_lowercase().contains("<mark>review</mark>"),
        "{hits:?}"
    );

    // several words (PostgreSQL: web-search syntax, all words; SQLite: any word)
    let hits = search.search(project.id, "tester review", 0, 10).await.unwrap();
    assert!(hits.iter().any(|h| h.doc_id == in_content.id), "{hits:?}");
    // the limit applies
    assert_eq!(search.search(project.id, "review", 0, 1).await.unwrap().len(), 1);
}

#[tokio::test]
async fn any_user_text_is_fine_and_stop_words_or_punctuation_find_nothing() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    doc(
        &db,
        &project,
        "a.md",
        "the and of to a review \"quoted\" NEAR stuff",
        &ada,
    )
    .await;
    let search = SeaSearchIndex::new(db.clone());
    for query in [
        "the",
        "the and of",
        "!!!",
        "...",
        "\"",
        "*",
        "()",
        "",
        "   ",
        "-",
        "'",
        ":",
    ] {
        let hits = search.search(project.id, query, 0, 10).await;
        assert!(matches!(hits.as_deref(), Ok([])), "{query:?}: {hits:?}");
    }
    // operators of either syntax are harmless ("-review" excludes on PostgreSQL)
    assert!(search.search(project.id, "-review", 0, 10).await.is_ok());
    for query in [
        "\"review",
        "review\"",
        "review OR",
        "NEAR(review)",
        "review*",
        "'review'",
        "a:review",
        "review AND",
    ] {
        let hits = search.search(project.id, query, 0, 10).await.unwrap();
        assert_eq!(hits.len(), 1, "{query:?}");
    }
}

#[tokio::test]
async fn search_sees_only_the_current_live_docs_of_the_project() {
    let db = fresh_database().await;
    let (ada, mine) = owner_and_project(&db).await;
    let theirs = project(&db, "other", "Other", &ada).await;
    let d = doc(&db, &mine, "guide.md", "zebra crossing", &ada).await;
    doc(&db, &theirs, "guide.md", "zebra stripes", &ada).await;
    let search = SeaSearchIndex::new(db.clone());

    let hits = search.search(mine.id, "zebra", 0, 10).await.unwrap();
    assert_eq!(hits.iter().map(|h| h.doc_id).collect::<Vec<_>>(), [d.id]);

    // an update re-indexes: old words are gone, new ones found
    commit(
        &db,
        vec![Change::UpdateDoc(update(&d, 1, "giraffe neck", &ada, now()))],
    )
    .await
    .unwrap();
    assert_eq!(search.search(mine.id, "zebra", 0, 10).await.unwrap(), []);
    assert_eq!(search.search(mine.id, "giraffe", 0, 10).await.unwrap().len(), 1);

    // deleted docs are not found; restored ones are again
    commit(
        &db,
        vec![Change::DeleteDoc(DocDelete {
            project_id: mine.id,
            doc_id: d.id,
            expected_version: None,
            writer: None,
            author: author(&ada),
            at: now(),
        })],
    )
    .await
    .unwrap();
    assert_eq!(search.search(mine.id, "giraffe", 0, 10).await.unwrap(), []);
    commit(
        &db,
        vec![Change::RestoreDoc(DocRestore {
            project_id: mine.id,
            doc_id: d.id,
            author: author(&ada),
            at: now(),
        })],
    )
    .await
    .unwrap();
    assert_eq!(search.search(mine.id, "giraffe", 0, 10).await.unwrap().len(), 1);

    // locking does not disturb the index
    crate::support::lock(&db, &d, &ada, now(), 60).await;
    assert_eq!(search.search(mine.id, "giraffe", 0, 10).await.unwrap().len(), 1);
}
