//! The credential rules of GitHub sync: the operator's allowlist for the server token, what a
//! well-formed token looks like, how it is shown (a hint, never the secret), and the stable
//! error codes of sync failures.

use secrecy::{ExposeSecret, SecretString};

use crate::ports::{GitHubError, RepoCoords, SyncError};
use crate::{AppError, FieldError, GitHubRefusal};

/// Longest token accepted (GitHub's fine-grained tokens are 93 characters).
pub const MAX_TOKEN_CHARS: usize = 255;
/// Shortest token accepted (classic tokens are 40 characters, fine-grained ones 93).
pub const MIN_TOKEN_CHARS: usize = 20;

/// Stable codes of `lastError.code` and a run's `error.code`.
pub mod codes {
    pub const CREDENTIALS_REQUIRED: &str = "github-credentials-required";
    pub const CREDENTIALS_INVALID: &str = "github-credentials-invalid";
    pub const PERMISSION_DENIED: &str = "github-permission-denied";
    pub const NOT_FOUND: &str = "github-not-found";
    pub const RATE_LIMITED: &str = "github-rate-limited";
    pub const UNAVAILABLE: &str = "github-unavailable";
    pub const BRANCH_MOVING: &str = "github-branch-moving";
    pub const UNEXPECTED: &str = "github-unexpected";
    pub const STORAGE: &str = "storage-unavailable";
    pub const UNLINKED: &str = "link-removed";
    pub const RELINKED: &str = "link-changed";
    pub const SECRETS: &str = "credential-unreadable";
}

/// A credential as given on `PUT /github`.
#[derive(Clone)]
pub enum CredentialInput {
    Token(SecretString),
    App { installation_id: u64 },
}

impl std::fmt::Debug for CredentialInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Token(_) => f.write_str("Token([redacted])"),
            Self::App { installation_id } => write!(f, "App({installation_id})"),
        }
    }
}

/// One allowlist entry: `owner/repo` or `owner/*` (GitHub names are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    owner: String,
    repo: Option<String>,
}

/// The repositories the server's own token may be used for (`TOOLKIT__GITHUB__ALLOWED_REPOS`).
/// Empty by default: then every link needs its own credential.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoAllowlist {
    patterns: Vec<Pattern>,
}

impl RepoAllowlist {
    /// Parses a comma-separated list of `owner/repo` and `owner/*`.
    ///
    /// # Errors
    /// The first entry that is neither, named.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut patterns = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((owner, repo)) = entry.split_once('/') else {
                return Err(format!("{entry:?} is not owner/repo or owner/*"));
            };
            let valid = |s: &str| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            };
            if !valid(owner) || !(repo == "*" || valid(repo)) {
                return Err(format!("{entry:?} is not owner/repo or owner/*"));
            }
            patterns.push(Pattern {
                owner: owner.to_ascii_lowercase(),
                repo: (repo != "*").then(|| repo.to_ascii_lowercase()),
            });
        }
        Ok(Self { patterns })
    }

    pub fn allows(&self, repo: &RepoCoords) -> bool {
        let owner = repo.owner.to_ascii_lowercase();
        let name = repo.repo.to_ascii_lowercase();
        self.patterns
            .iter()
            .any(|p| p.owner == owner && p.repo.as_ref().is_none_or(|r| *r == name))
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

fn field(field: &str, message: &str) -> AppError {
    AppError::Validation(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

/// Blank, oversized or malformed tokens are refused before GitHub is asked.
///
/// # Errors
/// `Validation` on `credential.token`, never echoing the token.
pub fn check_token(token: &SecretString) -> Result<(), AppError> {
    let raw = token.expose_secret();
    if raw.trim().is_empty() {
        return Err(field("credential.token", "must not be blank"));
    }
    // Shorter than any GitHub token; also keeps the 4-character hint from being the token.
    if raw.chars().count() < MIN_TOKEN_CHARS {
        return Err(field("credential.token", "is shorter than any GitHub token"));
    }
    if raw.chars().count() > MAX_TOKEN_CHARS {
        return Err(field(
            "credential.token",
            "is longer than any GitHub token (255 characters at most)",
        ));
    }
    if !raw
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(field(
            "credential.token",
            "is not a GitHub token (letters, digits, '_', '-' and '.' only)",
        ));
    }
    Ok(())
}

/// `…` and the last 4 characters: enough for a person to tell tokens apart.
pub fn hint(token: &SecretString) -> String {
    let chars: Vec<char> = token.expose_secret().chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("…{tail}")
}

/// The associated data binding a sealed token to its link.
pub fn seal_context(project_id: toolkit_domain::ProjectId) -> String {
    format!("github-link:{}", project_id.as_uuid())
}

/// What a GitHub refusal on `PUT /github` means for the caller.
pub fn link_refusal(error: GitHubError) -> AppError {
    match error {
        GitHubError::NotFound => field(
            "repo",
            "GitHub has no such repository or branch (or the credential cannot see it)",
        ),
        GitHubError::Unauthorized => AppError::GitHub(GitHubRefusal::CredentialsInvalid),
        GitHubError::Forbidden => AppError::GitHub(GitHubRefusal::PermissionDenied {
            missing: "read access to the repository (Contents: read, Metadata: read)".into(),
        }),
        GitHubError::RateLimited { .. } => {
            field("repo", "GitHub is rate limiting this credential; try again later")
        }
        GitHubError::Transient(_) => AppError::Unavailable("GitHub"),
        other => AppError::Unexpected(anyhow::anyhow!("checking the repository: {other}")),
    }
}

/// The stable code and message of a GitHub failure during a run (internals go to the log).
pub fn run_failure(error: &GitHubError) -> SyncError {
    match error {
        GitHubError::RateLimited { .. } => SyncError::new(codes::RATE_LIMITED, "GitHub rate limit"),
        GitHubError::Transient(_) => SyncError::new(codes::UNAVAILABLE, "GitHub is unavailable"),
        GitHubError::NotFastForward => {
            SyncError::new(codes::BRANCH_MOVING, "the branch kept moving during the push")
        }
        GitHubError::NotFound => {
            SyncError::new(codes::NOT_FOUND, "repository, branch or file not found on GitHub")
        }
        GitHubError::Unauthorized => SyncError::new(
            codes::CREDENTIALS_INVALID,
            "GitHub no longer accepts this link's credential; the project owner must set a new one",
        ),
        GitHubError::Forbidden => SyncError::new(
            codes::PERMISSION_DENIED,
            "this link's credential lacks a permission GitHub asks for; the project owner must set a new one",
        ),
        GitHubError::Unexpected(_) => SyncError::new(codes::UNEXPECTED, "unexpected answer from GitHub"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn coords(owner: &str, repo: &str) -> RepoCoords {
        RepoCoords {
            owner: owner.into(),
            repo: repo.into(),
            branch: "main".into(),
        }
    }

    #[test]
    fn allowlist_matches_repos_and_owner_wildcards_case_insensitively() {
        let list = RepoAllowlist::parse(" acme/prompts , Tools/* ").unwrap();
        assert!(list.allows(&coords("ACME", "Prompts")));
        assert!(!list.allows(&coords("acme", "other")));
        assert!(list.allows(&coords("tools", "anything")));
        assert!(!list.allows(&coords("tools-x", "anything")));
        assert!(RepoAllowlist::parse("").unwrap().is_empty());
        assert!(!RepoAllowlist::default().allows(&coords("acme", "prompts")));
        assert!(RepoAllowlist::parse("acme").is_err());
        assert!(RepoAllowlist::parse("*/*").is_err());
    }

    #[test]
    fn tokens_are_checked_and_shown_by_their_last_four_characters() {
        let token = |s: &str| SecretString::from(s.to_owned());
        assert!(check_token(&token("github_pat_11ABCDEF_xyz9")).is_ok());
        assert!(check_token(&token("   ")).is_err());
        assert!(check_token(&token("ghp abc")).is_err());
        assert!(check_token(&token("ghp_short")).is_err());
        assert!(check_token(&token(&"a".repeat(256))).is_err());
        assert_eq!(hint(&token("ghp_abcdWXYZ")), "…WXYZ");
        assert_eq!(hint(&token("ab")), "…ab");
    }

    #[test]
    fn refused_credentials_have_stable_codes() {
        assert_eq!(
            run_failure(&GitHubError::Unauthorized).code,
            codes::CREDENTIALS_INVALID
        );
        assert_eq!(
            run_failure(&GitHubError::Forbidden).code,
            codes::PERMISSION_DENIED
        );
        let internal = run_failure(&GitHubError::Unexpected(anyhow::anyhow!("SQL secret detail")));
        assert!(!internal.message.contains("SQL"));
    }
}
