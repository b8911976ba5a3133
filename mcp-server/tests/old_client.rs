//! Raw HTTP, playing the reference ecosystem's thin JS/Python clients: `initialize` with an
//! old protocol version and `Accept: application/json, text/event-stream`, the session id read
//! from the response header, `notifications/initialized` sent *with an id*, then tool calls with
//! flat arguments and the singular `requested_metric`, answers parsed from SSE `data:` lines.
//!
//! The server calls the real API (in-process on loopback, `common::api`): the `simulate` answer
//! read from the SSE `data:` line holds the API's own series.

mod common;

use std::time::Duration;

use common::agree::assert_simulate_agrees;
use common::api::Api;
use common::{InProcessServer, read_answer};
use mcp_server::HttpConfig;
use reqwest::header::{self, HeaderMap};
use serde_json::{Value, json};

const ACCEPT: &str = "application/json, text/event-stream";

struct OldClient {
    http: reqwest::Client,
    url: String,
    session_id: Option<String>,
    protocol_version: &'static str,
}

impl OldClient {
    /// One POST as the reference clients send it; returns status, headers and the messages.
    async fn send(&self, body: Value) -> (reqwest::StatusCode, HeaderMap, Vec<Value>) {
        let mut request = self
            .http
            .post(&self.url)
            .header(header::ACCEPT, ACCEPT)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(session_id) = &self.session_id {
            request = request
                .header("Mcp-Session-Id", session_id)
                .header("MCP-Protocol-Version", self.protocol_version);
        }
        let (status, headers, content_type, messages) =
            read_answer(request.send().await.expect("POST /mcp")).await;
        if !messages.is_empty() {
            // The reference clients read `data:` lines: the answer must be SSE-framed.
            assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        }
        (status, headers, messages)
    }

    async fn initialize(&mut self) -> Value {
        let (status, headers, messages) = self
            .send(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": self.protocol_version,
                "capabilities": {},
                "clientInfo": {"name": "mechafil-js-client", "version": "0.1.0"}
            }}))
            .await;
        assert_eq!(status, 200);
        let session_id = headers.get("mcp-session-id").expect("a session id on initialize").to_str().unwrap();
        assert!(session_id.len() >= 16, "{session_id}");
        self.session_id = Some(session_id.to_string());
        messages.into_iter().next().expect("an initialize answer")
    }

    async fn call_tool(&self, id: u32, name: &str, arguments: Value) -> Value {
        let (status, _, messages) = self
            .send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                         "params": {"name": name, "arguments": arguments}}))
            .await;
        assert_eq!(status, 200);
        let answer = messages.into_iter().find(|m| m["id"] == id).expect("an answer with the request's id");
        answer["result"].clone()
    }
}

async fn old_client(server: &InProcessServer, protocol_version: &'static str) -> OldClient {
    OldClient { http: reqwest::Client::new(), url: server.mcp_url(), session_id: None, protocol_version }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_2024_11_05_client_flow() {
    let api = Api::start().await;
    let server = InProcessServer::start(HttpConfig::default(), &api.base, Duration::from_secs(30)).await;
    let mut client = old_client(&server, "2024-11-05").await;

    let init = client.initialize().await;
    assert_eq!(init["id"], 0);
    assert_eq!(init["result"]["protocolVersion"], "2024-11-05");
    assert_eq!(init["result"]["serverInfo"]["name"], "mechafil-mcp");
    assert!(init["result"]["capabilities"]["tools"].is_object());

    // `notifications/initialized` with an id: tolerated and answered, not an error.
    let (status, _, messages) =
        client.send(json!({"jsonrpc": "2.0", "id": 1, "method": "notifications/initialized"})).await;
    assert_eq!(status, 200);
    assert_eq!(messages, [json!({"jsonrpc": "2.0", "id": 1, "result": {}})]);
    // The proper notification (no id) is accepted too.
    let (status, _, messages) =
        client.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    assert_eq!(status, 202);
    assert!(messages.is_empty());

    let (status, _, messages) = client.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = messages[0]["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, common::TOOL_NAMES);

    let context = client.call_tool(3, "fetch_context", json!({})).await;
    assert_eq!(context["isError"], false);
    assert!(context["content"][0]["text"].as_str().unwrap().starts_with("# MechaFil"));

    // Flat arguments with the singular `requested_metric`; the thin clients read the JSON text
    // of the first content block.
    let arguments = json!({"forecast_length_days": 60, "requested_metric": "available_supply"});
    let simulate = client.call_tool(4, "simulate", arguments.clone()).await;
    assert_eq!(simulate["isError"], false, "{simulate}");
    let result: Value = serde_json::from_str(simulate["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_simulate_agrees(&api, &arguments, &result).await;
    let series = result["series"]["available_supply"].as_array().unwrap();
    assert!(!series.is_empty() && series.iter().all(Value::is_f64), "{}", result["series"]);

    // A wrong metric name is a tool error naming the valid ones, before any API call.
    let wrong = client.call_tool(5, "simulate", json!({"requested_metric": "supply"})).await;
    assert_eq!(wrong["isError"], true);
    assert!(wrong["content"][0]["text"].as_str().unwrap().contains("valid names: days,"));
    server.stop().await;
    api.stop().await;
}

#[tokio::test]
async fn every_protocol_version_with_initialize_is_negotiated_as_asked() {
    let server = InProcessServer::start_default().await;
    for version in ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"] {
        let mut client = old_client(&server, version).await;
        let init = client.initialize().await;
        assert_eq!(init["result"]["protocolVersion"], version);
        let (status, _, messages) =
            client.send(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"})).await;
        assert_eq!(status, 200, "{version}");
        assert_eq!(
            messages[0]["result"]["tools"].as_array().unwrap().len(),
            common::TOOL_NAMES.len(),
            "{version}"
        );
    }
    // A client asking for an unknown future version gets the newest one with a handshake.
    let mut client = old_client(&server, "2099-01-01").await;
    let init = client.initialize().await;
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
    server.stop().await;
}

#[tokio::test]
async fn any_session_id_is_accepted_and_none_is_needed() {
    let server = InProcessServer::start_default().await;
    let mut client = old_client(&server, "2025-03-26").await;
    client.session_id = Some("made-up-by-a-client-that-never-initialized".into());
    let result = client.call_tool(1, "fetch_context", json!({})).await;
    assert_eq!(result["isError"], false);
    client.session_id = None;
    let result = client.call_tool(2, "fetch_context", json!({})).await;
    assert_eq!(result["isError"], false);
    server.stop().await;
}
