//! `spawn_app()` and one helper per endpoint.

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

use toolkit_api::{AdvancingClock, Application, Settings};
use toolkit_application::ports::Clock;

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
    start(url, configure, Arc::new(toolkit_api::system::SystemClock)).await
}

/// Starts the real server on a clock the test moves forward ([`AdvancingClock::advance`])
/// instead of sleeping until, say, a lock expires.
pub async fn spawn_app_with_clock(configure: impl FnOnce(&mut Settings)) -> (TestApp, Arc<AdvancingClock>) {
    let url = toolkit_db::testing::fresh_database_url().await;
    let clock = Arc::new(AdvancingClock::default());
    let app = start(&url, configure, clock.clone()).await;
    (app, clock)
}

async fn start(url: &str, configure: impl FnOnce(&mut Settings), clock: Arc<dyn Clock>) -> TestApp {
    init_logs();
    let mut settings = Settings::for_tests(url).expect("test settings");
    configure(&mut settings);
    let app = Application::build_with_clock(settings, clock)
        .await
        .expect("the app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp { address, client }
}

/// Sets an API key's `expires_at` straight in the database (the API speaks in whole days).
pub async fn set_key_expiry(database_url: &str, key_id: &str, expires_at: chrono::DateTime<chrono::Utc>) {
    use sea_orm::{ConnectionTrait, Statement};
    let db = toolkit_db::connect(&toolkit_db::testing::test_settings(database_url.to_owned()))
        .await
        .unwrap();
    let key_id: uuid::Uuid = key_id.parse().unwrap();
    let stmt = Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE api_keys SET expires_at = $1 WHERE id = $2",
        [expires_at.into(), key_id.into()],
    );
    assert_eq!(db.execute_raw(stmt).await.unwrap().rows_affected(), 1);
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

// ----- realtime (WebSocket) -----

/// How long a test waits for any one WebSocket message before failing.
pub const WS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

type WsStream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket client speaking the realtime protocol: one JSON object per text frame.
pub struct WsClient {
    stream: WsStream,
}

/// What the socket gave instead of a JSON text frame.
#[derive(Debug)]
pub enum WsEnd {
    /// A close frame with this code (1005 when the frame carried none).
    Closed(u16),
    /// The stream ended or failed without a close frame.
    Gone(String),
}

impl TestApp {
    /// `ws://.../api/v1/ws` plus `query` (e.g. `"?ticket=..."` or `""`).
    pub fn ws_url(&self, query: &str) -> String {
        format!(
            "{}/api/v1/ws{query}",
            self.address.replacen("http://", "ws://", 1)
        )
    }

    /// Opens `/api/v1/ws{query}` with extra handshake `headers`; the error keeps the HTTP
    /// answer of a refused handshake.
    pub async fn ws_connect(
        &self,
        query: &str,
        headers: &[(&str, &str)],
    ) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
        let mut request = self.ws_url(query).into_client_request()?;
        for (name, value) in headers {
            request.headers_mut().insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let connect = tokio_tungstenite::connect_async(request);
        let (stream, _) = tokio::time::timeout(WS_TIMEOUT, connect)
            .await
            .expect("the WebSocket handshake timed out")?;
        Ok(WsClient { stream })
    }

    /// A socket authenticated with `Authorization: Bearer <access token>`.
    pub async fn ws(&self, access_token: &str) -> WsClient {
        let bearer = format!("Bearer {access_token}");
        self.ws_connect("", &[("authorization", &bearer)])
            .await
            .expect("the WebSocket opens with a bearer token")
    }

    /// A bearer-token socket over a TCP connection with a tiny receive buffer, for a client
    /// that stops reading: the server's writes then block after a few kilobytes.
    pub async fn ws_small_receive_buffer(&self, access_token: &str) -> WsClient {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::http::HeaderValue;
        let mut request = self.ws_url("").into_client_request().unwrap();
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {access_token}")).unwrap(),
        );
        let address: std::net::SocketAddr = self.address.trim_start_matches("http://").parse().unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(2048).unwrap();
        let tcp = socket.connect(address).await.unwrap();
        let connect = tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(tcp));
        let (stream, _) = tokio::time::timeout(WS_TIMEOUT, connect)
            .await
            .expect("the WebSocket handshake timed out")
            .expect("the WebSocket opens");
        WsClient { stream }
    }

    /// One sample of `/metrics`, by its name and labels as printed (e.g.
    /// `housekeeping_runs_total{outcome="ok"}`); `None` when it is not there (yet).
    pub async fn metric(&self, sample: &str) -> Option<i64> {
        let text = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
            .and_then(|n| n.trim().parse().ok())
    }

    /// The `websocket_connections` gauge of `/metrics`: open sockets on this instance.
    pub async fn open_sockets(&self) -> i64 {
        self.metric("websocket_connections")
            .await
            .unwrap_or_else(|| panic!("no websocket_connections gauge in /metrics"))
    }

    /// Rounds the sweeper has finished so far (`housekeeping_runs_total{outcome="ok"}`).
    pub async fn sweeps(&self) -> i64 {
        self.metric(r#"housekeeping_runs_total{outcome="ok"}"#)
            .await
            .unwrap_or(0)
    }

    /// Waits (up to 10 s) until the sweeper has finished `rounds` more rounds than `since`.
    pub async fn wait_for_sweeps(&self, since: i64, rounds: i64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.sweeps().await < since + rounds {
            assert!(
                std::time::Instant::now() < deadline,
                "the sweeper did not finish {rounds} rounds after round {since}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// A socket authenticated with `X-API-Key`.
    pub async fn ws_with_key(&self, key: &str) -> WsClient {
        self.ws_connect("", &[("x-api-key", key)])
            .await
            .expect("the WebSocket opens with an API key")
    }

    /// `POST /api/v1/ws-ticket` (asserting 200) → the ticket.
    pub async fn ws_ticket(&self, access_token: &str) -> String {
        let response = self
            .request(Method::POST, "/api/v1/ws-ticket", Some(access_token))
            .send()
            .await
            .unwrap();
        let body = json_of(response, StatusCode::OK).await;
        assert_eq!(body["expiresIn"], 30, "{body}");
        body["ticket"].as_str().expect("a ticket").to_owned()
    }

    /// The HTTP status of a refused handshake (panics when the socket opens).
    pub async fn ws_refused(&self, query: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
        match self.ws_connect(query, headers).await {
            Ok(_) => panic!("the handshake was accepted; expected a refusal"),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_owned());
                assert_eq!(content_type.as_deref(), Some("application/problem+json"));
                let body: Value = serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                    .expect("a JSON problem body");
                assert_eq!(body["status"], status.as_u16(), "{body}");
                (status, body)
            }
            Err(other) => panic!("the handshake failed without an HTTP answer: {other}"),
        }
    }

    /// A copy that shares the client (for spawned tasks).
    pub fn handle(&self) -> TestApp {
        TestApp {
            address: self.address.clone(),
            client: self.client.clone(),
        }
    }
}

/// An event of the user's own channel (`membership.added` / `membership.removed`).
pub fn is_own_membership_event(message: &Value) -> bool {
    message["projectId"].is_null()
        && message["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("membership."))
}

impl WsClient {
    pub async fn send_text(&mut self, text: &str) {
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        self.stream
            .send(Message::text(text))
            .await
            .expect("send a text frame");
    }

    pub async fn send_json(&mut self, message: &Value) {
        self.send_text(&message.to_string()).await;
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        self.stream
            .send(Message::binary(bytes))
            .await
            .expect("send a binary frame");
    }

    /// The next JSON text frame, or how the socket ended; `None` when nothing came within
    /// `wait`. Protocol-level ping/pong frames are skipped (tungstenite answers pings itself).
    pub async fn next_within(&mut self, wait: std::time::Duration) -> Option<Result<Value, WsEnd>> {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return None,
                Ok(frame) => frame,
            };
            return Some(match frame {
                None => Err(WsEnd::Gone("the stream ended".into())),
                Some(Err(error)) => Err(WsEnd::Gone(error.to_string())),
                Some(Ok(Message::Text(text))) => Ok(serde_json::from_str(text.as_str())
                    .unwrap_or_else(|e| panic!("the server sent a non-JSON text frame ({e}): {text}"))),
                Some(Ok(Message::Close(frame))) => {
                    Err(WsEnd::Closed(frame.map_or(1005, |f| u16::from(f.code))))
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(other)) => panic!("the server sent an unexpected frame: {other:?}"),
            });
        }
    }

    /// Like [`next_within`](Self::next_within), but skips the user's own-channel
    /// `membership.*` events: those of setup steps done just before the socket opened may
    /// still be on their way (the tailer delivers asynchronously), and tests that care about
    /// them use [`recv_any`](Self::recv_any) or [`recv_type`](Self::recv_type).
    pub async fn recv_within(&mut self, wait: std::time::Duration) -> Option<Result<Value, WsEnd>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(Ok(message)) if is_own_membership_event(&message) => {}
                other => return other,
            }
        }
    }

    /// The next JSON message (within [`WS_TIMEOUT`]), skipping own-channel `membership.*`
    /// events (see [`recv_within`](Self::recv_within)); panics on close or silence.
    pub async fn recv(&mut self) -> Value {
        match self.recv_within(WS_TIMEOUT).await {
            Some(Ok(message)) => message,
            Some(Err(end)) => panic!("the socket ended while a message was expected: {end:?}"),
            None => panic!("no message within {WS_TIMEOUT:?}"),
        }
    }

    /// The very next JSON message (within [`WS_TIMEOUT`]), whatever it is.
    pub async fn recv_any(&mut self) -> Value {
        match self.next_within(WS_TIMEOUT).await {
            Some(Ok(message)) => message,
            Some(Err(end)) => panic!("the socket ended while a message was expected: {end:?}"),
            None => panic!("no message within {WS_TIMEOUT:?}"),
        }
    }

    /// The next message of `type`, skipping any others (only where a test allows that).
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WS_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(Ok(message)) if message["type"] == kind => return message,
                Some(Ok(_)) => {}
                Some(Err(end)) => panic!("the socket ended while waiting for {kind}: {end:?}"),
                None => panic!("no {kind} within {WS_TIMEOUT:?}"),
            }
        }
    }

    /// Asserts that no JSON message (other than own-channel `membership.*` events, see
    /// [`recv_within`](Self::recv_within)) arrives within `wait`, and the socket stays open.
    pub async fn expect_silence(&mut self, wait: std::time::Duration) {
        if let Some(got) = self.recv_within(wait).await {
            panic!("expected silence for {wait:?}, got {got:?}");
        }
    }

    /// Waits (up to `wait`) for the server to close the socket, skipping messages; → the code.
    pub async fn expect_close_within(&mut self, wait: std::time::Duration) -> u16 {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(Ok(_)) => {}
                Some(Err(WsEnd::Closed(code))) => return code,
                Some(Err(WsEnd::Gone(why))) => panic!("the socket ended without a close frame: {why}"),
                None => panic!("the socket was not closed within {wait:?}"),
            }
        }
    }

    /// Sends `{"type":"ping"}` and asserts that the very next message is `{"type":"pong"}`.
    pub async fn ping_pong(&mut self) {
        self.send_json(&json!({"type": "ping"})).await;
        assert_eq!(self.recv().await, json!({"type": "pong"}));
    }

    /// Subscribes (asserting `subscribed`) and returns its `currentSeq`.
    pub async fn subscribe(&mut self, project_id: &str, after_seq: Option<i64>) -> i64 {
        let mut message = json!({"type": "subscribe", "projectId": project_id});
        if let Some(after) = after_seq {
            message["afterSeq"] = json!(after);
        }
        self.send_json(&message).await;
        let reply = self.recv().await;
        assert_eq!(reply["type"], "subscribed", "{reply}");
        assert_eq!(reply["projectId"], project_id, "{reply}");
        reply["currentSeq"].as_i64().expect("a numeric currentSeq")
    }

    /// Closes the socket from the client side.
    pub async fn close(mut self) {
        // The server may already be gone; a failed close changes nothing for the test.
        let _ = self.stream.close(None).await;
    }
}
