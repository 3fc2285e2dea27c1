//! TLS termination with rustls (`TOOLKIT__SERVER__TLS_CERT` / `_KEY`): `/healthz` over
//! `https://` and a WebSocket over `wss://`, with a self-signed certificate made by rcgen.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::spawn_app_with;

/// A self-signed certificate for 127.0.0.1 written as PEM files, and a client configuration
/// that trusts exactly it.
fn certificate() -> (std::path::PathBuf, std::path::PathBuf, Arc<rustls::ClientConfig>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("tks-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let client =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    (cert, key, Arc::new(client))
}

#[tokio::test]
async fn the_server_speaks_https_and_wss_itself() {
    let (cert, key, client_tls) = certificate();
    let app = spawn_app_with(|s| {
        s.server.tls_cert = Some(cert.display().to_string());
        s.server.tls_key = Some(key.display().to_string());
    })
    .await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let connector = tokio_rustls::TlsConnector::from(client_tls);
    let connect = || async {
        let tcp = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        connector
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .unwrap()
    };
    let mut tls = connect().await;
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Plain HTTP on the TLS port is no longer served.
    let plain = app.client.get(app.url("/healthz")).send().await;
    assert!(plain.is_err() || plain.unwrap().status() != StatusCode::OK);

    // Register over HTTPS, then open a socket over wss:// with the access token.
    let body = r#"{"email":"ada@example.com","password":"correct horse battery","displayName":"Ada"}"#;
    let mut tls = connect().await;
    let request = format!(
        "POST /api/v1/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let session: serde_json::Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let token = session["accessToken"].as_str().unwrap();

    let tls = connect().await;
    let mut request = format!("wss://127.0.0.1:{port}/api/v1/ws")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::client_async(request, tls).await.unwrap();
    assert_eq!(response.status().as_u16(), 101);
    socket
        .send(Message::Ping(b"over tls".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(message) = socket.next().await {
            if let Message::Pong(payload) = message.unwrap() {
                return payload;
            }
        }
        panic!("the socket ended without a pong");
    })
    .await
    .expect("a pong within 10 s");
    assert_eq!(&pong[..], b"over tls");
    let _ = std::fs::remove_dir_all(cert.parent().unwrap());
}
