//! Unit tests of the credential rules of GitHub sync: which credential a link and each run act
//! with, the allowlist of the server token, the permission check on link, and what a refusal
//! by GitHub does to the run and to the link's scheduling.

use secrecy::{ExposeSecret, SecretString};

use super::*;
use crate::GitHubRefusal;
use crate::services::CredentialInput;

const TOKEN: &str = "github_pat_11AAAA_secretWXYZ";

fn token_input(direction: &str, owner: &str) -> LinkInput {
    LinkInput {
        credential: Some(CredentialInput::Token(SecretString::from(TOKEN.to_owned()))),
        ..input(owner, "prompts", "main", "docs", direction, None)
    }
}

fn sealed() -> SealedSecret {
    SealedSecret {
        key_id: "k1".to_owned(),
        ciphertext: vec![1, 2, 3],
    }
}

fn token_credential() -> LinkCredential {
    LinkCredential {
        kind: CredentialKind::Token,
        sealed: Some(sealed()),
        installation_id: None,
        hint: Some("…WXYZ".to_owned()),
        set_by: Some(caller_id()),
        set_at: earlier(),
        refused_at: None,
    }
}

fn context() -> String {
    format!("github-link:{}", pid().as_uuid())
}

/// An owner links; no link exists yet.
fn owner_links(fx: &mut Fixture) {
    fx.caller_is(Some(Role::Owner));
    fx.links.expect_link().returning(|_| Ok(None));
}

#[tokio::test]
async fn without_a_credential_a_repository_off_the_allowlist_is_refused_before_any_github_request() {
    let mut fx = Fixture::new();
    owner_links(&mut fx);
    fx.github.expect_check_access().never();
    fx.links.expect_put_link().never();
    fx.runs.expect_enqueue().never();
    let asked = Arc::clone(&fx.asked);

    let error = fx
        .build()
        .link(
            &caller(),
            pid(),
            input("other-org", "private", "main", "", "pull", None),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, AppError::GitHub(GitHubRefusal::CredentialsRequired)),
        "{error:?}"
    );
    assert!(
        taken_from(&asked).is_empty(),
        "the server token was not even used to check"
    );
}

#[tokio::test]
async fn a_token_is_checked_with_github_sealed_with_the_link_as_context_and_stored_with_a_hint() {
    let mut fx = Fixture::new();
    owner_links(&mut fx);
    fx.secrets
        .expect_seal()
        .withf(|context: &str, secret: &SecretString| {
            context == context_str() && secret.expose_secret() == TOKEN
        })
        .times(1)
        .returning(|_, _| Ok(sealed()));
    fx.github
        .expect_check_access()
        .times(1)
        .returning(|_| Ok(RepoAccess { push: true }));
    let stored = log();
    let sink = Arc::clone(&stored);
    fx.links.expect_put_link().times(1).returning(move |link| {
        sink.lock().unwrap().push(link.clone());
        Ok(())
    });
    fx.runs
        .expect_enqueue()
        .times(1)
        .returning(|_, _, _, _| Ok(run(0)));
    let asked = Arc::clone(&fx.asked);

    fx.build()
        .link(&caller(), pid(), token_input("both", "other-org"))
        .await
        .unwrap();
    assert_eq!(taken_from(&asked), vec![format!("token {TOKEN}")]);
    let link = taken_from(&stored).remove(0);
    let credential = link.credential.unwrap();
    assert_eq!(credential.kind, CredentialKind::Token);
    assert_eq!(credential.sealed, Some(sealed()));
    assert_eq!(credential.hint.as_deref(), Some("…WXYZ"));
    assert_eq!(credential.set_by, Some(caller_id()));
    assert!(!format!("{credential:?}").contains(TOKEN));
}

fn context_str() -> String {
    context()
}

#[tokio::test]
async fn a_read_only_token_may_pull_but_not_push() {
    for (direction, allowed) in [("pull", true), ("both", false), ("push", false)] {
        let mut fx = Fixture::new();
        owner_links(&mut fx);
        fx.secrets.expect_seal().returning(|_, _| Ok(sealed()));
        fx.github
            .expect_check_access()
            .returning(|_| Ok(RepoAccess { push: false }));
        fx.links
            .expect_put_link()
            .times(usize::from(allowed))
            .returning(|_| Ok(()));
        fx.runs
            .expect_enqueue()
            .times(usize::from(allowed))
            .returning(|_, _, _, _| Ok(run(0)));
        let result = fx
            .build()
            .link(&caller(), pid(), token_input(direction, "acme"))
            .await;
        if allowed {
            assert!(result.is_ok(), "{direction}: {result:?}");
        } else {
            assert!(
                matches!(&result, Err(AppError::GitHub(GitHubRefusal::PermissionDenied { missing })) if missing.contains("write")),
                "{direction}: {result:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_token_github_refuses_or_cannot_see_the_repo_with_is_refused_and_nothing_is_stored() {
    for (answer, expect_invalid) in [
        ((|| GitHubError::Unauthorized) as fn() -> GitHubError, true),
        (|| GitHubError::NotFound, false),
    ] {
        let mut fx = Fixture::new();
        owner_links(&mut fx);
        fx.secrets.expect_seal().returning(|_, _| Ok(sealed()));
        fx.github
            .expect_check_access()
            .times(1)
            .returning(move |_| Err(answer()));
        fx.links.expect_put_link().never();
        fx.runs.expect_enqueue().never();
        let error = fx
            .build()
            .link(&caller(), pid(), token_input("pull", "acme"))
            .await
            .unwrap_err();
        if expect_invalid {
            assert!(
                matches!(error, AppError::GitHub(GitHubRefusal::CredentialsInvalid)),
                "{error:?}"
            );
        } else {
            assert_eq!(field_names(&error), ["repo"]);
        }
    }
}

#[tokio::test]
async fn blank_oversized_or_malformed_tokens_and_unconfigured_apps_are_refused_up_front() {
    let bad = ["", "   ", "ghp with spaces", &"a".repeat(300)];
    for token in bad {
        let mut fx = Fixture::new();
        fx.caller_is(Some(Role::Owner));
        fx.secrets.expect_seal().never();
        fx.github.expect_check_access().never();
        fx.links.expect_put_link().never();
        let mut given = token_input("pull", "acme");
        given.credential = Some(CredentialInput::Token(SecretString::from(token.to_owned())));
        let error = fx.build().link(&caller(), pid(), given).await.unwrap_err();
        assert_eq!(field_names(&error), ["credential.token"]);
        assert!(
            !format!("{error:?}").contains("spaces"),
            "the token is not echoed"
        );
    }
    let mut fx = Fixture::new();
    fx.apps = false;
    fx.caller_is(Some(Role::Owner));
    fx.github.expect_check_access().never();
    let mut given = token_input("pull", "acme");
    given.credential = Some(CredentialInput::App { installation_id: 5 });
    let error = fx.build().link(&caller(), pid(), given).await.unwrap_err();
    assert_eq!(field_names(&error), ["credential.kind"]);
}

#[tokio::test]
async fn a_relink_at_the_same_place_without_a_credential_keeps_the_links_own() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    let mut existing = link("pull", "docs");
    existing.owner = RepoName::parse("other-org").unwrap();
    existing.credential = Some(token_credential());
    fx.links
        .expect_link()
        .returning(move |_| Ok(Some(existing.clone())));
    fx.secrets
        .expect_open()
        .withf(|context: &str, s: &SealedSecret| context == context_str() && *s == sealed())
        .times(1)
        .returning(|_, _| Ok(SecretString::from(TOKEN.to_owned())));
    fx.github
        .expect_check_access()
        .returning(|_| Ok(RepoAccess { push: false }));
    fx.links
        .expect_put_link()
        .withf(|link: &GitHubLink| {
            link.credential == Some(token_credential()) && link.poll_interval_seconds == 600
        })
        .times(1)
        .returning(|_| Ok(()));
    fx.runs.expect_enqueue().returning(|_, _, _, _| Ok(run(0)));
    let asked = Arc::clone(&fx.asked);
    fx.build()
        .link(
            &caller(),
            pid(),
            input("other-org", "prompts", "main", "docs", "pull", Some(600)),
        )
        .await
        .unwrap();
    assert_eq!(taken_from(&asked), vec![format!("token {TOKEN}")]);
}

#[tokio::test]
async fn every_run_acts_with_the_links_own_token_and_never_the_server_token() {
    let mut with_token = link("both", "");
    with_token.credential = Some(token_credential());
    let mut fx = Fixture::engine(with_token, &[], vec![]);
    fx.secrets
        .expect_open()
        .times(1)
        .returning(|_, _| Ok(SecretString::from(TOKEN.to_owned())));
    fx.github
        .expect_head()
        .times(1)
        .returning(|_, _| Ok(HeadRead::NotModified));
    fx.saves();
    fx.succeeds();
    let asked = Arc::clone(&fx.asked);
    assert!(work(fx).await);
    assert_eq!(taken_from(&asked), vec![format!("token {TOKEN}")]);
}

#[tokio::test]
async fn a_credential_github_refuses_fails_the_run_with_its_code_and_stops_scheduling_the_link() {
    for (answer, code) in [
        (
            (|| GitHubError::Unauthorized) as fn() -> GitHubError,
            "github-credentials-invalid",
        ),
        (|| GitHubError::Forbidden, "github-permission-denied"),
    ] {
        let mut fx = Fixture::engine(link("both", ""), &[], vec![]);
        fx.github
            .expect_head()
            .times(1)
            .returning(move |_, _| Err(answer()));
        let refusals = Arc::clone(&fx.rec.refusals);
        let (failures, _) = fx.fails();
        assert!(work(fx).await);
        assert!(taken_from(&failures)[0].starts_with(code), "{failures:?}");
        // Only the credential the run used (set at `earlier`), with the run's failure.
        assert_eq!(taken_from(&refusals), vec![Some(earlier())]);
    }
}

#[tokio::test]
async fn a_server_link_whose_repository_is_not_allowlisted_fails_without_asking_github() {
    let mut server = link("both", "");
    server.owner = RepoName::parse("other-org").unwrap();
    server.credential = None;
    let mut fx = Fixture::engine(server, &[], vec![]);
    fx.github.expect_head().never();
    let (failures, _) = fx.fails();
    let asked = Arc::clone(&fx.asked);
    assert!(work(fx).await);
    assert!(taken_from(&failures)[0].starts_with("github-credentials-required"));
    assert!(taken_from(&asked).is_empty());
}

#[tokio::test]
async fn a_run_whose_link_was_relinked_meanwhile_saves_nothing_and_fails() {
    let mut fx = Fixture::engine(link("both", ""), &[], vec![]);
    fx.github
        .expect_head()
        .times(1)
        .returning(|_, _| Ok(HeadRead::NotModified));
    // The link check of the run's commit refuses: nothing of the run is written.
    fx.uow
        .expect_commit()
        .withf(|changes| {
            changes
                .iter()
                .any(|c| matches!(c, Change::SaveSyncState(save) if save.generation == 3))
        })
        .times(1)
        .returning(|_| Err(CommitError::NotFound("github link")));
    let (failures, _) = fx.fails();
    assert!(work(fx).await);
    assert!(taken_from(&failures)[0].starts_with("link-changed"));
}

#[tokio::test]
async fn a_link_github_refused_is_not_run_on_request_until_a_new_credential_is_set() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Editor));
    let mut refused = link("both", "");
    refused.credential = Some(LinkCredential {
        refused_at: Some(earlier()),
        ..token_credential()
    });
    fx.linked(refused);
    fx.runs.expect_enqueue().never();
    let result = fx
        .build()
        .request_run(&Principal::User(caller()), pid(), RunTrigger::Manual)
        .await;
    assert!(
        matches!(result, Err(AppError::GitHub(GitHubRefusal::CredentialsInvalid))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_webhook_during_a_run_asks_that_run_for_a_follow_up() {
    let mut fx = Fixture::new();
    fx.links
        .expect_links_for_repo()
        .returning(|_, _, _| Ok(vec![link("both", "")]));
    fx.runs.expect_enqueue().times(1).returning(|_, _, _, _| {
        Ok(SyncRun {
            status: RunStatus::Running,
            ..run(0)
        })
    });
    fx.runs
        .expect_request_follow_up()
        .withf(|run| *run == run_id())
        .times(1)
        .returning(|_| Ok(true));
    let queued = fx.build().on_push("acme", "prompts", "main", &[]).await.unwrap();
    assert_eq!(queued, 1);
}
