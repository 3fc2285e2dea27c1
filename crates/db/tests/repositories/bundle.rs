//! The bundle source: the content tag moves with every doc change and only with doc changes
//! (per prefix: only with changes of docs under it), and a bundle is the live docs by path with
//! the tag of exactly these docs.

use toolkit_application::ports::{BundleDoc, BundleSource, Change, DocDelete, DocRestore, LockRelease};
use toolkit_db::SeaBundleSource;
use toolkit_db::testing::fresh_database;
use toolkit_domain::{PathPrefix, ProjectId};
use uuid::Uuid;

use crate::support::{author, commit, doc, lock, now, owner_and_project, path, update};

#[tokio::test]
async fn the_content_tag_changes_with_every_doc_change_and_nothing_else() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let bundles = SeaBundleSource::new(db.clone());
    let tag = || async { bundles.content_tag(project.id, None).await.unwrap().unwrap() };
    let claude = || async {
        bundles
            .content_tag(project.id, Some(PathPrefix::parse(".claude/").unwrap()))
            .await
            .unwrap()
            .unwrap()
    };
    let empty = tag().await;
    let changed = |new: String, seen: &mut Vec<String>| {
        assert!(!seen.contains(&new), "tag {new} seen before: {seen:?}");
        seen.push(new);
    };

    assert_eq!(
        bundles
            .content_tag(ProjectId::from_uuid(Uuid::now_v7()), None)
            .await
            .unwrap(),
        None
    );

    let d = doc(&db, &project, "a.md", "one", &ada).await;
    // Every tag seen since: each doc change must give a new one.
    let mut seen = vec![tag().await];
    assert_ne!(seen[0], empty);
    let under_claude = claude().await;
    commit(&db, vec![Change::UpdateDoc(update(&d, 1, "two", &ada, now()))])
        .await
        .unwrap();
    changed(tag().await, &mut seen);
    // A doc outside the prefix does not change the narrowed bundle.
    assert_eq!(claude().await, under_claude);
    let mut rename = update(&d, 2, "two", &ada, now());
    rename.path = Some(path("b.md"));
    commit(&db, vec![Change::UpdateDoc(rename)]).await.unwrap();
    changed(tag().await, &mut seen);

    let unchanged = tag().await;
    lock(&db, &d, &ada, now(), 300).await;
    assert_eq!(tag().await, unchanged);
    commit(
        &db,
        vec![Change::ReleaseLock(LockRelease {
            project_id: project.id,
            doc_id: d.id,
            holder: ada.id,
            force: false,
            author: author(&ada),
            at: now(),
        })],
    )
    .await
    .unwrap();
    assert_eq!(tag().await, unchanged);

    commit(
        &db,
        vec![Change::DeleteDoc(DocDelete {
            project_id: project.id,
            doc_id: d.id,
            expected_version: None,
            writer: None,
            author: author(&ada),
            at: now(),
        })],
    )
    .await
    .unwrap();
    // The only doc deleted: the bundle is empty again, as before the first doc, and so is its
    // tag (the same docs at the same versions are the same content).
    assert_eq!(tag().await, empty);
    changed(tag().await, &mut seen);
    commit(
        &db,
        vec![Change::RestoreDoc(DocRestore {
            project_id: project.id,
            doc_id: d.id,
            author: author(&ada),
            at: now(),
        })],
    )
    .await
    .unwrap();
    changed(tag().await, &mut seen);

    // Renamed into the prefix: the narrowed bundle changes too.
    // Versions so far: created 1, updated 2, renamed 3, deleted 4, restored 5.
    let mut into = update(&d, 5, "two", &ada, now());
    into.path = Some(path(".claude/b.md"));
    commit(&db, vec![Change::UpdateDoc(into)]).await.unwrap();
    changed(tag().await, &mut seen);
    assert_ne!(claude().await, under_claude);
}

#[tokio::test]
async fn a_bundle_is_the_live_docs_by_path_with_their_content_tag() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let other = crate::support::project(&db, "other", "Other", &ada).await;
    let bundles = SeaBundleSource::new(db.clone());

    let (empty, docs) = bundles.bundle(project.id, None).await.unwrap();
    assert_eq!(docs, Vec::new());
    assert_eq!(
        bundles.content_tag(project.id, None).await.unwrap(),
        Some(empty.clone())
    );

    let b = doc(&db, &project, "b.md", "bee", &ada).await;
    let b = commit(
        &db,
        vec![Change::UpdateDoc(update(&b, 1, "bee two", &ada, now()))],
    )
    .await
    .unwrap()
    .doc
    .unwrap();
    let a = doc(&db, &project, "a.md", "ay", &ada).await;
    let gone = doc(&db, &project, "gone.md", "bye", &ada).await;
    commit(
        &db,
        vec![Change::DeleteDoc(DocDelete {
            project_id: project.id,
            doc_id: gone.id,
            expected_version: None,
            writer: None,
            author: author(&ada),
            at: now(),
        })],
    )
    .await
    .unwrap();
    doc(&db, &other, "a.md", "not this project", &ada).await;

    let (tag, docs) = bundles.bundle(project.id, None).await.unwrap();
    assert_ne!(tag, empty);
    assert_eq!(bundles.content_tag(project.id, None).await.unwrap(), Some(tag));
    assert_eq!(
        docs,
        [
            BundleDoc {
                doc_id: a.id,
                path: "a.md".to_owned(),
                content: "ay".to_owned(),
                sha256: a.sha256.clone(),
                version: 1,
            },
            BundleDoc {
                doc_id: b.id,
                path: "b.md".to_owned(),
                content: "bee two".to_owned(),
                sha256: b.sha256.clone(),
                version: 2,
            },
        ]
    );

    // A missing project has no docs (and the tag of no docs).
    assert_eq!(
        bundles
            .bundle(ProjectId::from_uuid(Uuid::now_v7()), None)
            .await
            .unwrap(),
        (empty, Vec::new())
    );
}

#[tokio::test]
async fn the_prefix_is_literal_and_case_sensitive() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let all = [
        ".Claude/upper.md",
        ".claude/agents/tester.md",
        ".claude/commands/review.md",
        "CLAUDE.md",
        "a_b%c.md",
        "aXbYc.md",
    ];
    for p in all {
        doc(&db, &project, p, "x", &ada).await;
    }
    let bundles = SeaBundleSource::new(db.clone());
    let under = |prefix: Option<&str>| {
        let bundles = &bundles;
        let prefix = prefix.map(|p| PathPrefix::parse(p).unwrap());
        let project_id = project.id;
        async move {
            let (tag, docs) = bundles.bundle(project_id, prefix.clone()).await.unwrap();
            assert_eq!(bundles.content_tag(project_id, prefix).await.unwrap(), Some(tag));
            docs.into_iter().map(|d| d.path).collect::<Vec<_>>()
        }
    };

    // Ordered by path, byte-wise.
    let mut sorted = all.map(str::to_owned);
    sorted.sort();
    assert_eq!(under(None).await, sorted);
    assert_eq!(
        under(Some(".claude/")).await,
        [".claude/agents/tester.md", ".claude/commands/review.md"]
    );
    assert_eq!(under(Some(".Claude/")).await, [".Claude/upper.md"]);
    assert_eq!(under(Some(".claude/c")).await, [".claude/commands/review.md"]);
    assert_eq!(under(Some("CLAUDE")).await, ["CLAUDE.md"]);
    assert_eq!(under(Some("claude")).await, Vec::<String>::new());
    assert_eq!(under(Some("a_")).await, ["a_b%c.md"]);
    assert_eq!(under(Some("a_b%")).await, ["a_b%c.md"]);
    assert_eq!(under(Some("a%")).await, Vec::<String>::new());
    assert_eq!(under(Some("a")).await.len(), 2);
    assert_eq!(under(Some("")).await.len(), 6);
}

/// A streamed bundle is planned from entries and read from revisions: the content of a doc
/// changed after the plan is still the planned version's, so the stream stays one snapshot.
#[tokio::test]
async fn bundle_contents_are_the_planned_versions_even_after_a_change() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let bundles = SeaBundleSource::new(db.clone());
    let b = doc(&db, &project, "b.md", "bee", &ada).await;
    doc(&db, &project, "a.md", "ay", &ada).await;

    let (tag, entries) = bundles.bundle_entries(project.id, None).await.unwrap();
    assert_eq!(
        Some(tag),
        bundles.content_tag(project.id, None).await.unwrap(),
        "the plan's tag is the project's current content tag"
    );
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["a.md", "b.md"]);
    assert_eq!(entries[1].size, 3);

    commit(
        &db,
        vec![Change::UpdateDoc(update(&b, 1, "changed", &ada, now()))],
    )
    .await
    .unwrap();
    let docs: Vec<BundleDoc> = bundles.bundle_contents(entries.clone()).await.unwrap();
    let contents: Vec<(&str, &str)> = docs
        .iter()
        .map(|d| (d.path.as_str(), d.content.as_str()))
        .collect();
    assert_eq!(contents, [("a.md", "ay"), ("b.md", "bee")]);
    assert!(bundles.bundle_contents(Vec::new()).await.unwrap().is_empty());
}
