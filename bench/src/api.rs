//! The few REST calls that set a benchmark up: a user, a project, docs and an API key.

use anyhow::{Context, bail};
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

/// A client for one server, signed in as a freshly registered user.
pub struct Api {
    pub http: Client,
    pub base: String,
    pub token: String,
}

/// A doc as the benchmarks need it: where it lives and its current version.
pub struct Doc {
    pub url: String,
    pub version: i64,
}

/// The HTTP client every benchmark uses: keep-alive, no proxy, a bounded timeout.
pub fn client() -> anyhow::Result<Client> {
    Ok(Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(256)
        .timeout(std::time::Duration::from_secs(10))
        .build()?)
}

/// About 4 KiB of Markdown, the size of a typical `CLAUDE.md`.
pub fn content_4k(tag: &str) -> String {
    let mut text = format!("# Bench doc {tag}\n\n");
    let mut line = 0;
    while text.len() < 4096 {
        line += 1;
        text.push_str(&format!(
            "- rule {line}: keep functions small, name things plainly, test behaviour.\n"
        ));
    }
    text
}

/// The version in an `ETag: "<n>"` header.
pub fn etag_version(response: &reqwest::Response) -> anyhow::Result<i64> {
    response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_matches('"').parse().ok())
        .context("no numeric ETag in the response")
}

async fn expect_json(request: RequestBuilder, want: StatusCode) -> anyhow::Result<Value> {
    let response = request.send().await?;
    let status = response.status();
    let body = response.text().await?;
    if status != want {
        bail!("expected {want}, got {status}: {body}");
    }
    Ok(serde_json::from_str(&body)?)
}

impl Api {
    /// Registers a new user (unique email, so a reused database works too).
    pub async fn register(http: Client, base: &str) -> anyhow::Result<Api> {
        let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
        let body = json!({"email": email, "password": "bench-password-123", "displayName": "Bench"});
        let answer = expect_json(
            http.post(format!("{base}/api/v1/auth/register")).json(&body),
            StatusCode::CREATED,
        )
        .await
        .context("register")?;
        let token = answer["accessToken"]
            .as_str()
            .context("no accessToken")?
            .to_owned();
        Ok(Api {
            http,
            base: base.to_owned(),
            token,
        })
    }

    /// A request to `/api/v1{path}` with the user's bearer token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// Creates a project; its id.
    pub async fn project(&self) -> anyhow::Result<String> {
        let slug = format!("bench-{}", uuid::Uuid::new_v4().simple());
        let answer = expect_json(
            self.request(Method::POST, "/projects")
                .json(&json!({"name": "Bench", "slug": slug})),
            StatusCode::CREATED,
        )
        .await
        .context("create a project")?;
        Ok(answer["id"].as_str().context("no project id")?.to_owned())
    }

    /// Creates a doc at `path` with about 4 KiB of content.
    pub async fn doc(&self, project: &str, path: &str) -> anyhow::Result<Doc> {
        self.doc_with(project, path, &content_4k(path)).await
    }

    /// Creates a doc at `path` with `content`.
    pub async fn doc_with(&self, project: &str, path: &str, content: &str) -> anyhow::Result<Doc> {
        let answer = expect_json(
            self.request(Method::POST, &format!("/projects/{project}/docs"))
                .json(&json!({"path": path, "content": content})),
            StatusCode::CREATED,
        )
        .await
        .with_context(|| format!("create doc {path}"))?;
        let id = answer["id"].as_str().context("no doc id")?;
        Ok(Doc {
            url: format!("{}/api/v1/projects/{project}/docs/{id}", self.base),
            version: answer["version"].as_i64().context("no doc version")?,
        })
    }

    /// Creates an API key with `docs:read` and `docs:write`; the key itself.
    pub async fn key(&self, project: &str) -> anyhow::Result<String> {
        let answer = expect_json(
            self.request(Method::POST, &format!("/projects/{project}/api-keys"))
                .json(&json!({"name": "bench", "scopes": ["docs:read", "docs:write"]})),
            StatusCode::CREATED,
        )
        .await
        .context("create an API key")?;
        Ok(answer["key"].as_str().context("no key")?.to_owned())
    }

    /// The project's current bundle etag (as sent in the `ETag` header).
    pub async fn bundle_etag(&self, project: &str, key: &str) -> anyhow::Result<String> {
        let response = self
            .http
            .get(format!("{}/api/v1/projects/{project}/bundle", self.base))
            .header("x-api-key", key)
            .send()
            .await?;
        if response.status() != StatusCode::OK {
            bail!("bundle: expected 200, got {}", response.status());
        }
        Ok(response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .context("no ETag on the bundle")?
            .to_owned())
    }

    /// `PUT` new content with `If-Match`; the new version.
    pub async fn put(&self, doc: &Doc, content: &str) -> anyhow::Result<i64> {
        let response = self
            .http
            .put(&doc.url)
            .bearer_auth(&self.token)
            .header("if-match", format!("\"{}\"", doc.version))
            .json(&json!({"content": content}))
            .send()
            .await?;
        if response.status() != StatusCode::OK {
            bail!("PUT doc: expected 200, got {}", response.status());
        }
        etag_version(&response)
    }
}
