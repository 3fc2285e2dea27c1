//! Wire types (camelCase JSON, unknown fields rejected) and their conversions from the
//! application's types. Types below the API boundary are not `Serialize`: the wire format can
//! change here without touching the domain.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use toolkit_application::Page;
use toolkit_application::services::{ProjectView, Session};
use toolkit_domain::{Member, User};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::extractors::encode_cursor;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterBody {
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// 8..=128 characters.
    #[schema(example = "correct horse battery staple")]
    pub password: String,
    #[schema(example = "Ada Lovelace")]
    pub display_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshTokenBody {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDto {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserDto {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            display_name: user.display_name.as_str().to_owned(),
            created_at: user.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionDto {
    pub user: UserDto,
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

impl From<Session> for SessionDto {
    fn from(session: Session) -> Self {
        Self {
            user: UserDto::from(&session.user),
            access_token: session.access_token,
            refresh_token: session.refresh_token,
            token_type: "Bearer",
            expires_in: session.expires_in_seconds,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateProjectBody {
    pub name: String,
    /// `[a-z0-9-]{1,64}`; derived from `name` when absent.
    pub slug: Option<String>,
    pub description: Option<String>,
}

/// `null` and absent differ: `"description": null` clears it, no `description` keeps it.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateProjectBody {
    pub name: Option<String>,
    /// Changing the slug needs the owner role.
    pub slug: Option<String>,
    /// `null` clears the description.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

/// The GitHub link of a project (filled once sync is configured).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitHubLinkDto {
    pub owner: String,
    pub repo: String,
    pub branch: String,
    pub path: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectDto {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    /// The caller's role in this project.
    #[schema(example = "owner")]
    pub role: &'static str,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub github: Option<GitHubLinkDto>,
}

impl From<ProjectView> for ProjectDto {
    fn from(view: ProjectView) -> Self {
        let p = view.project;
        Self {
            id: p.id.as_uuid(),
            slug: p.slug.as_str().to_owned(),
            name: p.name.as_str().to_owned(),
            description: p.description.map(|d| d.as_str().to_owned()),
            role: view.role.as_str(),
            created_at: p.created_at,
            updated_at: p.updated_at,
            github: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberDto {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    #[schema(example = "editor")]
    pub role: &'static str,
    pub added_at: DateTime<Utc>,
}

impl From<Member> for MemberDto {
    fn from(m: Member) -> Self {
        Self {
            user_id: m.user_id.as_uuid(),
            email: m.email.as_str().to_owned(),
            display_name: m.display_name.as_str().to_owned(),
            role: m.role.as_str(),
            added_at: m.added_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutMemberBody {
    /// `owner`, `editor` or `viewer`.
    pub role: String,
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageDto<T> {
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> PageDto<T> {
    pub fn from_page<U>(page: Page<U>, map: impl FnMut(U) -> T) -> Self {
        Self {
            items: page.items.into_iter().map(map).collect(),
            next_cursor: page.next.map(encode_cursor),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthDto {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyDto {
    #[schema(example = "ready")]
    pub status: &'static str,
    /// Each dependency and whether it answered (`ok` or `failed`).
    #[schema(value_type = Object)]
    pub checks: serde_json::Map<String, serde_json::Value>,
}
