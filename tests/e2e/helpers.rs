//! `spawn_app()` and one helper per endpoint.

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use toolkit_api::{Application, Settings};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
}

/// A registered user with a live session.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
}

fn init_logs() {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt().with_env_filter("info").try_init();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the real server with test settings, adjusted by `configure`.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let url = toolkit_db::testing::fresh_database_url().await;
    spawn_app_on(&url, configure).await
}

/// Starts another server instance on an existing database (several instances, one database).
pub async fn spawn_app_on(url: &str, configure: impl FnOnce(&mut Settings)) -> TestApp {
    init_logs();
    let mut settings = Settings::for_tests(url).expect("test settings");
    configure(&mut settings);
    let app = Application::build(settings).await.expect("the app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp { address, client }
}

/// Reads a problem document, checking the media type and the members every problem has.
pub async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let request_id = response
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("https://toolkit-sync.dev/problems/")
    );
    assert!(body["title"].is_string());
    assert_eq!(body["requestId"], request_id.as_str());
    assert!(body["instance"].as_str().unwrap().starts_with('/'));
    body
}

pub fn problem_slug(body: &Value) -> &str {
    body["type"].as_str().unwrap().rsplit('/').next().unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token)).send().await.unwrap()
    }

    pub async fn send_json(&self, method: Method, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(method, path, token).json(body).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.request(Method::DELETE, path, Some(token))
            .send()
            .await
            .unwrap()
    }

    pub async fn register(&self, email: &str, password: &str, display_name: &str) -> Response {
        let body = json!({"email": email, "password": password, "displayName": display_name});
        self.send_json(Method::POST, "/api/v1/auth/register", None, &body)
            .await
    }

    /// Registers a fresh user named `name` (email `<name>@example.com`).
    pub async fn user(&self, name: &str) -> TestUser {
        let email = format!("{name}@example.com");
        let response = self.register(&email, "correct horse battery", name).await;
        assert_eq!(response.status(), StatusCode::CREATED, "register {name}");
        let body: Value = response.json().await.unwrap();
        TestUser {
            id: body["user"]["id"].as_str().unwrap().to_owned(),
            email,
            access_token: body["accessToken"].as_str().unwrap().to_owned(),
            refresh_token: body["refreshToken"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.send_json(
            Method::POST,
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.send_json(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            &json!({"refreshToken": refresh_token}),
        )
        .await
    }

    pub async fn create_project(&self, token: &str, body: &Value) -> Response {
        self.send_json(Method::POST, "/api/v1/projects", Some(token), body)
            .await
    }

    /// Creates a project named `name` and returns its id.
    pub async fn project(&self, owner: &TestUser, name: &str) -> String {
        let response = self
            .create_project(&owner.access_token, &json!({"name": name}))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    pub async fn put_member(&self, token: &str, project_id: &str, user_id: &str, role: &str) -> Response {
        let path = format!("/api/v1/projects/{project_id}/members/{user_id}");
        self.send_json(Method::PUT, &path, Some(token), &json!({"role": role}))
            .await
    }
}

// ----- docs, locks, revisions, trash, search, events -----

/// Asserts the status (showing the body when it differs) and parses the JSON body.
pub async fn json_of(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The `ETag` header of a response (panics when there is none).
pub fn etag(response: &Response) -> String {
    response
        .headers()
        .get("etag")
        .expect("an ETag header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The entity tag of a doc version, as the server sends it: `"<version>"`.
pub fn quoted(version: i64) -> String {
    format!("\"{version}\"")
}

/// Seconds since the Unix epoch of an RFC 3339 UTC timestamp (`2026-11-24T10:00:00.123Z`).
pub fn unix_seconds(timestamp: &str) -> f64 {
    let (date, time) = timestamp
        .split_once('T')
        .unwrap_or_else(|| panic!("not RFC 3339: {timestamp}"));
    let time = time
        .strip_suffix('Z')
        .or_else(|| time.strip_suffix("+00:00"))
        .unwrap_or_else(|| panic!("not UTC: {timestamp}"));
    let mut ymd = date.split('-').map(|p| p.parse::<i64>().unwrap());
    let (y, m, d) = (ymd.next().unwrap(), ymd.next().unwrap(), ymd.next().unwrap());
    let mut hms = time.split(':');
    let (h, min) = (
        hms.next().unwrap().parse::<i64>().unwrap(),
        hms.next().unwrap().parse::<i64>().unwrap(),
    );
    let s: f64 = hms.next().unwrap().parse().unwrap();
    // days from civil (Howard Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    #[allow(clippy::cast_precision_loss)]
    let whole = (days * 86_400 + h * 3600 + min * 60) as f64;
    whole + s
}

/// Now, in seconds since the Unix epoch.
pub fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The `items` of a list body.
pub fn items(body: &Value) -> &Vec<Value> {
    body["items"].as_array().expect("an items array")
}

impl TestApp {
    pub fn docs_path(project_id: &str) -> String {
        format!("/api/v1/projects/{project_id}/docs")
    }

    pub fn doc_path(project_id: &str, doc_id: &str) -> String {
        format!("/api/v1/projects/{project_id}/docs/{doc_id}")
    }

    /// Registers `name` and makes them a member of the project with `role`.
    pub async fn member(&self, owner: &TestUser, project_id: &str, name: &str, role: &str) -> TestUser {
        let user = self.user(name).await;
        let response = self
            .put_member(&owner.access_token, project_id, &user.id, role)
            .await;
        assert_eq!(response.status(), StatusCode::OK, "add {name} as {role}");
        user
    }

    /// `POST /projects/{id}/docs` with any body.
    pub async fn post_doc(&self, token: &str, project_id: &str, body: &Value) -> Response {
        self.send_json(Method::POST, &Self::docs_path(project_id), Some(token), body)
            .await
    }

    /// Creates a doc (asserting 201) and returns it.
    pub async fn create_doc(&self, token: &str, project_id: &str, path: &str, content: &str) -> Value {
        let response = self
            .post_doc(token, project_id, &json!({"path": path, "content": content}))
            .await;
        json_of(response, StatusCode::CREATED).await
    }

    pub async fn get_doc(&self, token: &str, project_id: &str, doc_id: &str) -> Response {
        self.get(&Self::doc_path(project_id, doc_id), token).await
    }

    /// `PUT` a doc; `if_match` is the raw header value, e.g. `Some("\"1\"")`.
    pub async fn put_doc(
        &self,
        token: &str,
        project_id: &str,
        doc_id: &str,
        if_match: Option<&str>,
        body: &Value,
    ) -> Response {
        let mut request = self
            .request(Method::PUT, &Self::doc_path(project_id, doc_id), Some(token))
            .json(body);
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        request.send().await.unwrap()
    }

    pub async fn delete_doc(
        &self,
        token: &str,
        project_id: &str,
        doc_id: &str,
        if_match: Option<&str>,
    ) -> Response {
        let mut request = self.request(Method::DELETE, &Self::doc_path(project_id, doc_id), Some(token));
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        request.send().await.unwrap()
    }

    /// `POST .../lock` with `body` (e.g. `{}` or `{"ttlSeconds": 60}`).
    pub async fn lock_doc(&self, token: &str, project_id: &str, doc_id: &str, body: &Value) -> Response {
        let path = format!("{}/lock", Self::doc_path(project_id, doc_id));
        self.send_json(Method::POST, &path, Some(token), body).await
    }

    /// `DELETE .../lock`, with `?force=true` when `force`.
    pub async fn unlock_doc(&self, token: &str, project_id: &str, doc_id: &str, force: bool) -> Response {
        let mut path = format!("{}/lock", Self::doc_path(project_id, doc_id));
        if force {
            path.push_str("?force=true");
        }
        self.delete(&path, token).await
    }

    /// `POST` without a body, with an optional `If-Match`.
    pub async fn post_empty(&self, token: &str, path: &str, if_match: Option<&str>) -> Response {
        let mut request = self.request(Method::POST, path, Some(token));
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        request.send().await.unwrap()
    }

    /// Every event of the project with `seq > after`, following `nextCursor` page by page.
    pub async fn events_after(&self, token: &str, project_id: &str, after: i64) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after = after.to_string();
        loop {
            let path = format!("/api/v1/projects/{project_id}/events?after={after}&limit=200");
            let page = json_of(self.get(&path, token).await, StatusCode::OK).await;
            all.extend(items(&page).iter().cloned());
            match page["nextCursor"].as_str() {
                Some(next) => after = next.to_owned(),
                None => return all,
            }
        }
    }

    /// The highest `seq` of the project's events so far (0 when there are none).
    pub async fn last_seq(&self, token: &str, project_id: &str) -> i64 {
        self.events_after(token, project_id, 0)
            .await
            .last()
            .map_or(0, |e| e["seq"].as_i64().unwrap())
    }
}
