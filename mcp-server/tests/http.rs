//! The streamable HTTP transport: rmcp's client over both protocol flows, every tool against
//! the real API (in-process on loopback, `common::api`), the stateless behaviour (a restart
//! between two calls), framing by `Accept`, `/mcp/`, CORS, host checks, the optional bearer
//! token, and graceful shutdown. The API is down in the tests of the transport alone.

mod common;

use std::time::Duration;

use common::agree::{
    assert_analyses_agree_with_the_api, assert_every_tool_agrees_with_the_api, assert_historical_agrees,
    assert_same_json, assert_simulate_agrees, success_json,
};
use common::api::{Api, ReservedPort};
use common::{
    InProcessServer, TOOL_NAMES, assert_valid_tools, call, closed_port_url, free_port, http_client,
    http_config, http_discover_client, read_answer, spawn_http_binary, text,
};
use mcp_server::HttpConfig;
use mcp_server::config::{HostPolicy, OriginPolicy};
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde_json::{Value, json};

const BOTH: &str = "application/json, text/event-stream";

/// A raw JSON-RPC POST; returns status, headers and the messages in the body.
async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (reqwest::StatusCode, HeaderMap, Vec<Value>) {
    let mut request =
        reqwest::Client::new().post(url).header(header::CONTENT_TYPE, "application/json").json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (status, headers, _, messages) = read_answer(request.send().await.expect("POST")).await;
    (status, headers, messages)
}

fn tools_list(id: u32) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"})
}

#[tokio::test]
async fn tools_list_over_streamable_http_with_initialize() {
    let server = InProcessServer::start_default().await;
    let client = http_client(&server.mcp_url()).await;
    assert_eq!(
        client.peer_info().unwrap().protocol_version,
        rmcp::model::ProtocolVersion::LATEST_WITH_INITIALIZE,
        "an initialize client negotiates the newest version that has a handshake"
    );
    assert_valid_tools(&client.list_all_tools().await.unwrap());
    let result = call(&client, "fetch_context", json!({})).await;
    assert_eq!(result.is_error, Some(false));
    let result = call(&client, "simulate", json!({"sector_duration_days": 0})).await;
    assert_eq!(result.is_error, Some(true));
    assert!(
        text(&result).contains("sector_duration_days: 0 is out of range; allowed: 1 <= days <= 3650"),
        "{}",
        text(&result)
    );
    client.cancel().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn the_2026_07_28_flow_works_without_a_handshake() {
    let server = InProcessServer::start_default().await;
    let client = http_discover_client(&server.mcp_url()).await;
    assert_eq!(client.peer_info().unwrap().protocol_version, rmcp::model::ProtocolVersion::V_2026_07_28);
    assert_valid_tools(&client.list_all_tools().await.unwrap());
    let result = call(&client, "fetch_context", json!({})).await;
    assert_eq!(result.is_error, Some(false));
    client.cancel().await.unwrap();
    server.stop().await;
}

/// The API down: a clear tool error; the API up: the same call through the same client and
/// server succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_down_is_a_tool_error_over_http_until_the_api_is_up() {
    let port = ReservedPort::new();
    let server = InProcessServer::start(HttpConfig::default(), &port.url(), Duration::from_secs(2)).await;
    let client = http_client(&server.mcp_url()).await;
    let arguments = json!({"fields": ["circ_supply"]});
    let result = call(&client, "get_historical_data", arguments.clone()).await;
    assert_eq!(result.is_error, Some(true));
    assert!(
        text(&result).starts_with(&format!(
            "get_historical_data: could not reach the MechaFil API at {}/",
            port.url()
        )),
        "{}",
        text(&result)
    );

    let api = Api::start_on(port).await;
    let result = success_json("get_historical_data", &call(&client, "get_historical_data", arguments).await);
    let (status, answer) = api.get("/historical-data?fields=circ_supply").await;
    assert_eq!(status, 200, "{answer}");
    assert_historical_agrees(&result, &answer);
    client.cancel().await.unwrap();
    server.stop().await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_agrees_with_the_api_over_http() {
    let api = Api::start().await;
    let port = free_port();
    let mut server = spawn_http_binary(port, &api.base, 30.0).await;
    let client = http_client(&format!("http://127.0.0.1:{port}/mcp")).await;
    assert_every_tool_agrees_with_the_api(&client, &api).await;
    assert_analyses_agree_with_the_api(&client, &api, "http").await;
    client.cancel().await.unwrap();
    server.start_kill().unwrap();
    server.wait().await.unwrap();
    api.stop().await;
}

/// A restarted process (a machine stopped and started between two calls) keeps serving the
/// same client: no new handshake, the old session id still accepted, real answers before and
/// after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_between_two_calls_does_not_break_the_conversation() {
    let api = Api::start().await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let mut first = spawn_http_binary(port, &api.base, 30.0).await;
    let arguments =
        json!({"forecast_length_days": 120, "requested_metrics": ["network_locked", "total_vest"]});

    let client = http_client(&url).await;
    let before = success_json("simulate", &call(&client, "simulate", arguments.clone()).await);
    assert_simulate_agrees(&api, &arguments, &before).await;
    // The same conversation as a raw client: keep the session id from initialize.
    let (status, headers, _) = post(
        &url,
        &[("accept", BOTH)],
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}),
    )
    .await;
    assert_eq!(status, 200);
    let session_id = headers["mcp-session-id"].to_str().unwrap().to_string();

    first.start_kill().unwrap();
    first.wait().await.unwrap();
    let mut second = spawn_http_binary(port, &api.base, 30.0).await;

    // rmcp's client, with session recovery off, goes on without a new handshake.
    let after = success_json("simulate", &call(&client, "simulate", arguments.clone()).await);
    assert_simulate_agrees(&api, &arguments, &after).await;
    assert_same_json("the same answer after the restart", &after, &before);
    let tools = client.list_all_tools().await.expect("tools/list after the restart");
    assert_eq!(tools.len(), TOOL_NAMES.len());
    // The raw client's old session id is accepted.
    let (status, _, messages) = post(
        &url,
        &[("accept", BOTH), ("mcp-session-id", &session_id), ("mcp-protocol-version", "2025-06-18")],
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "simulate", "arguments": arguments}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(messages[0]["id"], 2);
    assert_eq!(messages[0]["result"]["isError"], false, "{}", messages[0]);
    assert_simulate_agrees(&api, &arguments, &messages[0]["result"]["structuredContent"]).await;

    client.cancel().await.unwrap();
    second.start_kill().unwrap();
    second.wait().await.unwrap();
    api.stop().await;
}

#[tokio::test]
async fn sigterm_shuts_the_http_server_down_cleanly() {
    let port = free_port();
    let mut child = spawn_http_binary(port, &closed_port_url(), 0.5).await;
    let pid = child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let exit =
        tokio::time::timeout(Duration::from_secs(5), child.wait()).await.expect("exits promptly").unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn framing_follows_the_accept_header_and_both_paths_work() {
    let server = InProcessServer::start_default().await;
    for path in ["/mcp", "/mcp/"] {
        let url = format!("http://{}{path}", server.addr);
        let (status, headers, messages) = post(&url, &[("accept", BOTH)], tools_list(1)).await;
        assert_eq!(status, 200, "{path}");
        assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/event-stream"));
        assert_eq!(messages[0]["result"]["tools"].as_array().unwrap().len(), TOOL_NAMES.len());

        let (status, headers, messages) = post(&url, &[("accept", "application/json")], tools_list(2)).await;
        assert_eq!(status, 200, "{path}");
        assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
        assert_eq!(messages[0]["id"], 2);

        let (status, _, _) = post(&url, &[("accept", "text/html")], tools_list(3)).await;
        assert_eq!(status, 406, "{path}");
    }
    // No redirect anywhere: the trailing slash is served directly.
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = client
        .post(format!("http://{}/mcp/", server.addr))
        .header("accept", "application/json")
        .json(&tools_list(4))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // GET and DELETE have no meaning without sessions: 405, as the specification allows.
    let response = reqwest::Client::new()
        .get(server.mcp_url())
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let health: Value =
        reqwest::get(format!("http://{}/health", server.addr)).await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    server.stop().await;
}

#[tokio::test]
async fn cors_admits_browsers_and_exposes_the_session_id() {
    let server = InProcessServer::start_default().await;
    let http = reqwest::Client::new();
    let preflight = http
        .request(reqwest::Method::OPTIONS, server.mcp_url())
        .header("origin", "https://inspector.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type, mcp-session-id, mcp-protocol-version")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    let allowed = headers["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(allowed.contains("mcp-session-id") && allowed.contains("mcp-protocol-version"), "{allowed}");

    let (status, headers, _) = post(
        &server.mcp_url(),
        &[("accept", BOTH), ("origin", "https://inspector.example")],
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "browser", "version": "0"}}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["access-control-allow-origin"], "*");
    let exposed = headers["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(exposed.contains("mcp-session-id"), "{exposed}");
    assert!(headers.contains_key("mcp-session-id"));
    server.stop().await;

    // With a list of origins, others get no CORS header and are refused.
    let config =
        http_config(HostPolicy::List(vec![]), OriginPolicy::List(vec!["https://claude.ai".into()]), None);
    let server = InProcessServer::start(config, &closed_port_url(), Duration::from_millis(300)).await;
    let (status, headers, _) =
        post(&server.mcp_url(), &[("accept", BOTH), ("origin", "https://claude.ai")], tools_list(1)).await;
    assert_eq!(status, 200);
    assert_eq!(headers["access-control-allow-origin"], "https://claude.ai");
    let (status, headers, _) =
        post(&server.mcp_url(), &[("accept", BOTH), ("origin", "https://evil.example")], tools_list(2)).await;
    assert_eq!(status, 403);
    assert!(!headers.contains_key("access-control-allow-origin"));
    server.stop().await;
}

#[tokio::test]
async fn host_header_checks() {
    let server = InProcessServer::start_default().await;
    let with_host = |host: &'static str| async move {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static(host));
        headers.insert(header::ACCEPT, HeaderValue::from_static(BOTH));
        headers
    };
    let http = reqwest::Client::new();
    let send = |url: String, headers: HeaderMap| {
        let http = http.clone();
        async move { http.post(url).headers(headers).json(&tools_list(1)).send().await.unwrap().status() }
    };
    // Loopback names pass by default; a public name does not (DNS-rebinding protection).
    assert_eq!(send(server.mcp_url(), with_host("localhost").await).await, 200);
    assert_eq!(send(server.mcp_url(), with_host("mechafil-mcp.example.org").await).await, 403);
    // /health answers whatever the Host: platform health checks use internal addresses.
    let health = http
        .get(format!("http://{}/health", server.addr))
        .header(header::HOST, "10.0.0.7:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    server.stop().await;

    let config =
        http_config(HostPolicy::List(vec!["mechafil-mcp.example.org".into()]), OriginPolicy::Any, None);
    let server = InProcessServer::start(config, &closed_port_url(), Duration::from_millis(300)).await;
    assert_eq!(send(server.mcp_url(), with_host("mechafil-mcp.example.org").await).await, 200);
    assert_eq!(send(server.mcp_url(), with_host("other.example.org").await).await, 403);
    server.stop().await;

    let config = http_config(HostPolicy::Any, OriginPolicy::Any, None);
    let server = InProcessServer::start(config, &closed_port_url(), Duration::from_millis(300)).await;
    assert_eq!(send(server.mcp_url(), with_host("anything.example").await).await, 200);
    server.stop().await;
}

#[tokio::test]
async fn the_optional_bearer_token_guards_mcp() {
    let config = http_config(HostPolicy::List(vec![]), OriginPolicy::Any, Some("s3cret"));
    let server = InProcessServer::start(config, &closed_port_url(), Duration::from_millis(300)).await;
    let (status, headers, _) = post(&server.mcp_url(), &[("accept", BOTH)], tools_list(1)).await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], "Bearer");
    let (status, _, _) =
        post(&server.mcp_url(), &[("accept", BOTH), ("authorization", "Bearer wrong")], tools_list(1)).await;
    assert_eq!(status, 401);
    let (status, _, messages) =
        post(&server.mcp_url(), &[("accept", BOTH), ("authorization", "Bearer s3cret")], tools_list(1)).await;
    assert_eq!(status, 200);
    assert_eq!(messages[0]["result"]["tools"].as_array().unwrap().len(), TOOL_NAMES.len());
    // Browsers send preflights without credentials; they must still pass.
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, server.mcp_url())
        .header("origin", "https://inspector.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    // rmcp's client with the token works end to end.
    let transport_config =
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            server.mcp_url(),
        )
        .auth_header("s3cret");
    let client = rmcp::ServiceExt::serve(
        (),
        rmcp::transport::StreamableHttpClientTransport::from_config(transport_config),
    )
    .await
    .expect("initialize with the token");
    assert_eq!(client.list_all_tools().await.unwrap().len(), TOOL_NAMES.len());
    client.cancel().await.unwrap();
    server.stop().await;
}
