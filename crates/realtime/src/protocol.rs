//! The WebSocket protocol: JSON text frames, one object each, validated like request DTOs.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use toolkit_application::ports::FeedEvent;
use uuid::Uuid;

/// A message from the client.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum ClientMessage {
    #[serde(rename_all = "camelCase")]
    Subscribe {
        project_id: Uuid,
        after_seq: Option<i64>,
    },
    #[serde(rename_all = "camelCase")]
    Unsubscribe {
        project_id: Uuid,
    },
    Ping {},
    Auth {
        token: String,
    },
}

/// Server messages that are not events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMessage {
    #[serde(rename_all = "camelCase")]
    Subscribed {
        project_id: Uuid,
        current_seq: i64,
    },
    #[serde(rename_all = "camelCase")]
    Unsubscribed {
        project_id: Uuid,
        reason: &'static str,
    },
    Pong,
    #[serde(rename = "resync.required", rename_all = "camelCase")]
    ResyncRequired {
        project_id: Uuid,
    },
    #[serde(rename_all = "camelCase")]
    Authenticated {
        expires_at: String,
    },
    #[serde(rename_all = "camelCase")]
    Error {
        code: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        project_id: Option<Uuid>,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

impl ServerMessage {
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"type":"error","code":"internal"}"#.to_owned())
    }

    pub fn error(code: &'static str, detail: impl Into<String>) -> Self {
        ServerMessage::Error {
            code,
            project_id: None,
            detail: Some(detail.into()),
        }
    }
}

/// An event as sent to clients: `{"type","projectId","seq","at","actor","data"}`.
pub fn event_text(event: &FeedEvent) -> String {
    let e = &event.event;
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    json!({
        "type": e.kind,
        "projectId": e.project_id.map(|p| p.to_string()),
        "seq": e.seq,
        "at": e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "actor": parse(&e.actor_json),
        "data": parse(&e.data_json),
    })
    .to_string()
}

/// Parses a client frame; the error text is safe to send back.
///
/// # Errors
/// A description of what is wrong with the message.
pub fn parse_client(text: &str) -> Result<ClientMessage, String> {
    serde_json::from_str(text).map_err(|e| {
        let message = e.to_string();
        message.split(" at line ").next().unwrap_or(&message).to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_parse_strictly() {
        let id = Uuid::now_v7();
        assert_eq!(
            parse_client(&format!(
                r#"{{"type":"subscribe","projectId":"{id}","afterSeq":5}}"#
            )),
            Ok(ClientMessage::Subscribe {
                project_id: id,
                after_seq: Some(5)
            })
        );
        assert_eq!(parse_client(r#"{"type":"ping"}"#), Ok(ClientMessage::Ping {}));
        for bad in [
            "",
            "{}",
            "[]",
            r#"{"type":"dance"}"#,
            r#"{"type":"subscribe"}"#,
            r#"{"type":"subscribe","projectId":"nope"}"#,
            r#"{"type":"ping","x":1}"#,
        ] {
            assert!(parse_client(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_messages_have_the_documented_shape() {
        let id = Uuid::nil();
        let v: Value =
            serde_json::from_str(&ServerMessage::ResyncRequired { project_id: id }.to_text()).unwrap();
        assert_eq!(v, json!({"type": "resync.required", "projectId": id.to_string()}));
        let v: Value = serde_json::from_str(
            &ServerMessage::Subscribed {
                project_id: id,
                current_seq: 7,
            }
            .to_text(),
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"type": "subscribed", "projectId": id.to_string(), "currentSeq": 7})
        );
        let v: Value = serde_json::from_str(&ServerMessage::error("bad_message", "x").to_text()).unwrap();
        assert_eq!(v, json!({"type": "error", "code": "bad_message", "detail": "x"}));
    }
}
