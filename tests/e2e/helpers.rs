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
    init_logs();
    let url = toolkit_db::testing::fresh_database_url().await;
    let mut settings = Settings::for_tests(&url).expect("test settings");
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
