//! Helpers shared by the integration tests: starting the MCP server (the binary over stdio or
//! HTTP, or the HTTP app in-process), rmcp clients for both transports, and raw HTTP.
//!
//! Everything talks over loopback. "The API is down" is a loopback port with nothing listening;
//! [`api`] serves the real API (its router and demo snapshot) in-process, and [`agree`] checks
//! tool results against the API's own answers.

#![allow(dead_code)] // Each test file uses a different subset.

pub mod agree;
pub mod api;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use mcp_server::config::{HostPolicy, HttpConfig, OriginPolicy};
use mcp_server::{ApiClient, MechafilServer, RetryPolicy};
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock, JsonObject, Tool};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientLifecycleMode, ClientServiceExt, ServiceExt};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// The rmcp client type used throughout.
pub type Client = RunningService<RoleClient, ()>;

/// The path of the `mcp-server` binary Cargo built for these tests.
pub const BINARY: &str = env!("CARGO_BIN_EXE_mcp-server");

/// A loopback URL with nothing listening: the API is down.
pub fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}")
}

/// A free loopback port (free when this returns; the caller binds it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The binary, with a clean environment: no MCP or API variable of the machine leaks in.
pub fn binary_command(api_url: &str, budget_secs: f64) -> Command {
    let mut command = Command::new(BINARY);
    for (key, _) in std::env::vars() {
        if key.starts_with("MCP_") || key.starts_with("MECHAFIL_") || key == "PORT" {
            command.env_remove(key);
        }
    }
    command
        .env("MECHAFIL_SERVER_URL", api_url)
        .env("MECHAFIL_API_BUDGET_SECS", budget_secs.to_string())
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    command
}

/// An rmcp client of the binary over stdio.
pub async fn stdio_client(api_url: &str, budget_secs: f64) -> Client {
    let mut command = binary_command(api_url, budget_secs);
    command.arg("--transport").arg("stdio");
    let (transport, _stderr) =
        TokioChildProcess::builder(command).stderr(Stdio::null()).spawn().expect("spawn mcp-server");
    ().serve(transport).await.expect("initialize over stdio")
}

/// An rmcp client over streamable HTTP, with the classic `initialize` handshake. Session
/// recovery is off so a test notices any request the server refuses after a restart.
pub async fn http_client(url: &str) -> Client {
    let config =
        StreamableHttpClientTransportConfig::with_uri(url.to_string()).reinit_on_expired_session(false);
    ().serve(StreamableHttpClientTransport::from_config(config)).await.expect("initialize over HTTP")
}

/// An rmcp client over streamable HTTP using the 2026-07-28 flow (`server/discover`, no
/// handshake, protocol metadata on every request).
pub async fn http_discover_client(url: &str) -> Client {
    let config =
        StreamableHttpClientTransportConfig::with_uri(url.to_string()).reinit_on_expired_session(false);
    ().serve_with_lifecycle(
        StreamableHttpClientTransport::from_config(config),
        ClientLifecycleMode::Discover {
            preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
        },
    )
    .await
    .expect("discover over HTTP")
}

/// The MCP HTTP app running in this process.
pub struct InProcessServer {
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl InProcessServer {
    /// Starts the app on a free loopback port with `config` (its `bind` is ignored).
    pub async fn start(config: HttpConfig, api_url: &str, budget: Duration) -> InProcessServer {
        let policy =
            RetryPolicy { budget, initial_backoff: Duration::from_millis(50), ..RetryPolicy::default() };
        let server = MechafilServer::new(ApiClient::new(api_url, policy).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let app = mcp_server::http::router(server, &config, shutdown.child_token());
        let task = tokio::spawn(mcp_server::http::serve(
            listener,
            app,
            config.limits,
            shutdown.clone(),
            Duration::from_secs(2),
        ));
        InProcessServer { addr, shutdown, task }
    }

    /// Default settings, API down.
    pub async fn start_default() -> InProcessServer {
        InProcessServer::start(HttpConfig::default(), &closed_port_url(), Duration::from_millis(300)).await
    }

    /// The MCP endpoint URL.
    pub fn mcp_url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// Stops it and waits until it has.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// An [`HttpConfig`] with the given hosts, origins and token.
pub fn http_config(hosts: HostPolicy, origins: OriginPolicy, token: Option<&str>) -> HttpConfig {
    HttpConfig {
        allowed_hosts: hosts,
        allowed_origins: origins,
        auth_token: token.map(String::from),
        ..HttpConfig::default()
    }
}

/// The binary serving HTTP on `port` with an API budget of `budget_secs`, once its `/health`
/// answers.
pub async fn spawn_http_binary(port: u16, api_url: &str, budget_secs: f64) -> Child {
    let mut command = binary_command(api_url, budget_secs);
    command
        .args(["--transport", "http", "--host", "127.0.0.1", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = command.spawn().expect("spawn mcp-server");
    let health = format!("http://127.0.0.1:{port}/health");
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(&health).send().await.is_ok_and(|r| r.status().is_success()) {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("mcp-server did not start listening on port {port}");
}

/// Arguments from a JSON object literal.
pub fn args(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        other => panic!("arguments must be an object, got {other}"),
    }
}

/// Calls `tool` with `arguments`.
pub async fn call(client: &Client, tool: &'static str, arguments: Value) -> CallToolResult {
    client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args(arguments)))
        .await
        .unwrap_or_else(|err| panic!("{tool} failed at the protocol level: {err}"))
}

/// The first text block of a result.
pub fn text(result: &CallToolResult) -> &str {
    result
        .content
        .iter()
        .find_map(|block| match block {
            ContentBlock::Text(text) => Some(text.text.as_str()),
            _ => None,
        })
        .expect("a text block")
}

/// The tools, in `tools/list` order.
pub const TOOL_NAMES: [&str; 9] = [
    "fetch_context",
    "simulate",
    "get_historical_data",
    "provide_plot",
    "compare_scenarios",
    "forecast_range",
    "sweep",
    "solve_for",
    "sensitivity",
];

/// Problems that make a schema unportable: a `format` (ajv's default mode throws on unknown
/// ones such as `double`), a type array (`["number", "null"]`, flagged by the MCP Inspector), a
/// `$ref`.
pub fn portability_problems(path: &str, schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    match schema {
        Value::Object(map) => {
            // Keyword values are strings; a property *named* "format" or "type" has a schema.
            for (key, bad) in [
                ("format", map.get("format").is_some_and(Value::is_string)),
                ("$ref", map.get("$ref").is_some_and(Value::is_string)),
            ] {
                if bad {
                    problems.push(format!("{path}: {key}"));
                }
            }
            if map.get("type").is_some_and(Value::is_array) {
                problems.push(format!("{path}: type array {}", map["type"]));
            }
            for (key, value) in map {
                problems.extend(portability_problems(&format!("{path}.{key}"), value));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                problems.extend(portability_problems(&format!("{path}[{i}]"), item));
            }
        }
        _ => {}
    }
    problems
}

/// Checks the tools, their order, and that each input and output schema is a valid, portable
/// JSON Schema (draft 2020-12) of an object; and the annotations every tool has.
pub fn assert_valid_tools(tools: &[Tool]) {
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    assert_eq!(names, TOOL_NAMES);
    for tool in tools {
        let output = tool.output_schema.as_ref().unwrap_or_else(|| panic!("{}: no output schema", tool.name));
        for (kind, schema) in [("input", &tool.input_schema), ("output", output)] {
            let schema = Value::Object((**schema).clone());
            assert_eq!(schema["type"], "object", "{} {kind}", tool.name);
            if let Err(err) = jsonschema::draft202012::meta::validate(&schema) {
                panic!("{} {kind}: invalid schema ({err}): {schema}", tool.name);
            }
            let problems = portability_problems(&format!("{} {kind}", tool.name), &schema);
            assert!(problems.is_empty(), "{problems:#?}");
        }
        assert!(
            tool.description.as_ref().is_some_and(|d| d.len() > 100),
            "{} needs a description",
            tool.name
        );
        assert!(tool.title.is_some(), "{} needs a title", tool.name);
        let annotations =
            tool.annotations.as_ref().unwrap_or_else(|| panic!("{}: no annotations", tool.name));
        assert_eq!(annotations.read_only_hint, Some(true), "{}", tool.name);
    }
}

/// Reads an answer of `/mcp`: status, headers, content type and its JSON-RPC messages (none for
/// an error status or an empty body).
pub async fn read_answer(
    response: reqwest::Response,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, String, Vec<Value>) {
    let status = response.status();
    let headers = response.headers().clone();
    let content_type =
        headers.get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = response.text().await.expect("answer body");
    let messages = if status.is_success() && !body.is_empty() {
        jsonrpc_messages(&content_type, &body)
    } else {
        Vec::new()
    };
    (status, headers, content_type, messages)
}

/// The JSON-RPC messages of an SSE body (`data:` lines), or the body itself if it is JSON.
pub fn jsonrpc_messages(content_type: &str, body: &str) -> Vec<Value> {
    if content_type.starts_with("application/json") {
        return vec![serde_json::from_str(body).expect("JSON body")];
    }
    assert!(content_type.starts_with("text/event-stream"), "unexpected content type {content_type}");
    body.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim)
        .filter(|data| !data.is_empty())
        .map(|data| serde_json::from_str(data).expect("JSON in a data: line"))
        .collect()
}
