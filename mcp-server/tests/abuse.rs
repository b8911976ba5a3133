//! The hardening issue's breakages, reproduced on loopback: each test failed before its fix.
//!
//! - Slow and idle connections: headers at a byte at a time, partial bodies and idle keep-alives
//!   were never closed (`axum::serve` has no header timeout), and enough of them stopped the
//!   server answering.
//! - Memory: a 4 MiB body of numbers cost 416 MB (1.19 GB for 20 at once): bodies are now
//!   bounded in size, scanned for their number of values before parsing, and large ones served a
//!   few at a time; 20 concurrent maximal bodies keep the process under 150 MB.
//! - `provide_plot`: a span overflowing f64 spun a thread forever; a start date far in the future
//!   panicked on date arithmetic and the client got no answer.
//! - Malformed `tools/call` (arguments a list or a string, no name) answered -32601 "method not
//!   found" instead of saying what is wrong.
//! - Cancellation: a cancelled call (a `notifications/cancelled` over stdio, a client that
//!   disconnects over HTTP) drops its API request.

mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::api::Api;
use common::{
    InProcessServer, binary_command, call, closed_port_url, free_port, spawn_http_binary, stdio_client, text,
};
use mcp_server::HttpConfig;
use mcp_server::http::HttpLimits;
use rmcp::model::{CallToolRequestParams, ClientRequest, Request};
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Short timeouts, so the test sees connections closed within seconds.
fn quick_limits() -> HttpConfig {
    HttpConfig {
        limits: HttpLimits {
            header_read_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            ..HttpLimits::default()
        },
        ..HttpConfig::default()
    }
}

/// Whether the server closes `stream` within `within` (a read returns end-of-file or an error).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // An answer (a 408, say) may come before the close: keep reading.
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

fn raw_request(body: &str) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Reads one HTTP answer on `stream` (status line and headers, then `Content-Length` bytes).
async fn read_answer(stream: &mut TcpStream) -> (u16, String) {
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).await.unwrap();
    let code = status.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.unwrap();
    (code, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_partial_bodies_and_idle_connections_are_closed_and_do_not_stop_the_server() {
    let server = InProcessServer::start(quick_limits(), &closed_port_url(), Duration::from_millis(300)).await;
    let addr = server.addr;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string();

    // Headers a byte at a time, for longer than the header timeout.
    let mut slow = Vec::new();
    for _ in 0..40 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"POST /mcp HTTP/1.1\r\nHo").await.unwrap();
        slow.push(stream);
    }
    // Headers complete, body announced but never finished.
    let mut partial = Vec::new();
    for _ in 0..40 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: 1000\r\n\r\n{\"jsonrpc\"";
        stream.write_all(head.as_bytes()).await.unwrap();
        partial.push(stream);
    }
    // One complete request each, then idle.
    let mut idle = Vec::new();
    for _ in 0..40 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(raw_request(&ping).as_bytes()).await.unwrap();
        let (status, _) = read_answer(&mut stream).await;
        assert_eq!(status, 200);
        idle.push(stream);
    }

    // With all of them open, the server still answers at once.
    let started = Instant::now();
    let client = common::http_client(&server.mcp_url()).await;
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), common::TOOL_NAMES.len());
    assert!(started.elapsed() < Duration::from_secs(1), "answered after {:?}", started.elapsed());
    client.cancel().await.unwrap();

    // Keep dripping header bytes: the header timeout counts from the first, not the last.
    for stream in &mut slow {
        let _ = stream.write_all(b"s").await;
    }
    for (kind, streams) in
        [("slow headers", &mut slow), ("partial bodies", &mut partial), ("idle keep-alives", &mut idle)]
    {
        for (i, stream) in streams.iter_mut().enumerate() {
            assert!(closed_within(stream, Duration::from_secs(5)).await, "{kind}: connection {i} still open");
        }
    }
    server.stop().await;
}

/// A request that POSTs `body` to `url` with `accept`; status and body text.
async fn post_raw(url: &str, body: Vec<u8>) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// A `simulate` call with `per_list` values in each of six per-day lists, each number written
/// with `digits` significant digits: the largest valid request is six lists of 7,300.
fn simulate_body(id: u64, per_list: usize, digits: usize) -> Vec<u8> {
    let number = format!("0.{}", "7".repeat(digits));
    let list = format!("[{}]", vec![number.as_str(); per_list].join(","));
    let knobs = ["rbp", "rr", "fpr", "lock_target", "fil_plus_m", "qa_renew_relative_multiplier"];
    let arguments: Vec<String> = knobs.iter().map(|k| format!("\"{k}\":{list}")).collect();
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{{\"name\":\"simulate\",\"arguments\":{{{},\"requested_metric\":\"circ_supply\"}}}}}}",
        arguments.join(",")
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_before_they_are_parsed() {
    let server = InProcessServer::start_default().await;
    let url = server.mcp_url();
    let limits = HttpLimits::default();

    // Over the byte limit: refused from its Content-Length, before the body is sent (a client
    // still writing it may see the connection close instead of the 413: raw TCP shows the 413).
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n",
        limits.max_body_bytes + 1
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (status, _) = read_answer(&mut stream).await;
    assert_eq!(status, 413);
    // Without a Content-Length (chunked): refused at the limit while it is read.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
    for _ in 0..(limits.max_body_bytes / 0x10000 + 1) {
        // One chunk past the limit: the server reads it all, refuses, and closes cleanly.
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let (status, _) = read_answer(&mut stream).await;
    assert_eq!(status, 413);
    // Under the byte limit but with far too many values (the report's body of numbers).
    let many = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{{\"name\":\"simulate\",\"arguments\":{{\"rbp\":[{}]}}}}}}",
        vec!["1"; 400_000].join(",")
    );
    assert!(many.len() < limits.max_body_bytes);
    let (status, body) = post_raw(&url, many.into_bytes()).await;
    assert_eq!(status, 413, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["id"], 5);
    assert_eq!(answer["error"]["code"], -32600);
    assert!(answer["error"]["message"].as_str().unwrap().contains("more than 60000 JSON values"), "{answer}");
    let deep = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\",\"params\":{}{}}}",
        "[".repeat(100),
        "]".repeat(100)
    );
    let (status, body) = post_raw(&url, deep.into_bytes()).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("deeper than 32 levels"), "{body}");
    // The largest valid request passes (and fails later, at the API that is down).
    let (status, body) = post_raw(&url, simulate_body(7, 7300, 16)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("could not reach the MechaFil API"), "{body}");
    server.stop().await;
}

/// Resident memory high-water mark of `pid`, in MiB.
#[cfg(target_os = "linux")]
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024.0
}

/// Twenty concurrent maximal bodies (the report: 1.19 GB) keep the server under 150 MB: ten of
/// the largest valid `simulate` (answered by the real API) and ten bodies of numbers just under
/// the byte limit (refused by the scan).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_maximal_bodies_stay_under_150_mb() {
    let api = Api::start().await;
    let port = free_port();
    let mut child = spawn_http_binary(port, &api.base, 60.0).await;
    let pid = child.id().unwrap();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let limits = HttpLimits::default();
    let numbers = {
        let mut body = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"provide_plot\",\"arguments\":{\"series\":[".to_vec();
        while body.len() < limits.max_body_bytes - 100 {
            body.extend_from_slice(b"1,");
        }
        body.extend_from_slice(b"1]}}}");
        body
    };
    let before = peak_rss_mib(pid);
    let requests = (0..20).map(|i| {
        let body = if i % 2 == 0 { simulate_body(i, 7300, 16) } else { numbers.clone() };
        let url = url.clone();
        tokio::spawn(async move { post_raw(&url, body).await })
    });
    let answers = futures_util::future::join_all(requests).await;
    // Memory first: before the fix, the failure to report is the memory, not the answers.
    let peak = peak_rss_mib(pid);
    println!(
        "mcp-server peak resident memory: {before:.1} MiB before, {peak:.1} MiB after 20 concurrent maximal bodies"
    );
    assert!(peak < 150.0, "peak resident memory {peak:.1} MiB");
    for (i, answer) in answers.into_iter().enumerate() {
        let (status, body) = answer.unwrap();
        if i % 2 == 0 {
            // Six 7,300-day lists of 0.777...: a valid 20-year scenario the API answers.
            assert_eq!(status, 200, "{body}");
            assert!(body.contains("\"isError\":false"), "{}", &body[..body.len().min(400)]);
        } else {
            assert_eq!(status, 413, "{}", &body[..body.len().min(400)]);
        }
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provide_plot_answers_every_request_quickly() {
    let server = InProcessServer::start_default().await;
    let client = common::http_client(&server.mcp_url()).await;
    let started = Instant::now();
    // A span that overflows f64: it used to spin a thread at 100 % forever.
    let result = call(
        &client,
        "provide_plot",
        json!({"chart": {"series": [1e308, -1e308], "label": "overflow", "start_date": "2025-01-06"}}),
    )
    .await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    common::agree::assert_png(&result, "abuse_overflow");
    // A start date far in the future with 20,000 points: it used to panic on date arithmetic.
    let result = call(
        &client,
        "provide_plot",
        json!({"chart": {"series": vec![1.0; 20_000], "label": "far", "start_date": "+243000-01-01"}}),
    )
    .await;
    assert_eq!(result.is_error, Some(true));
    assert!(text(&result).contains("start_date"), "{}", text(&result));
    let result = call(
        &client,
        "provide_plot",
        json!({"series": vec![1.0; 20_000], "start_date": "2199-06-01", "timestep_days": 7}),
    )
    .await;
    assert!(
        text(&result).contains("start_date: the last of 20000 values would fall after 2200"),
        "{}",
        text(&result)
    );
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    // The server is still there.
    assert_eq!(call(&client, "fetch_context", json!({})).await.is_error, Some(false));
    client.cancel().await.unwrap();
    server.stop().await;
}

/// `tools/call` whose `arguments` is a list or a string, or that has no `name`: a clear error
/// (a tool error, or -32602 naming what is missing), never -32601 "method not found".
#[tokio::test]
async fn malformed_tool_calls_say_what_is_wrong_over_http() {
    let server = InProcessServer::start_default().await;
    for (params, expected_code, expected) in [
        (
            json!({"name": "provide_plot", "arguments": [1, 2]}),
            None,
            "arguments: expected an object of named arguments",
        ),
        (json!({"name": "simulate", "arguments": "{\"rbp\": 3}"}), None, "got a string"),
        (json!({"arguments": {"series": "circ_supply"}}), Some(-32602), "tools/call needs a `name`"),
        (json!({"name": 7}), Some(-32602), "tools/call needs a `name`"),
    ] {
        let request = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params});
        let (status, body) = post_raw(&server.mcp_url(), request.to_string().into_bytes()).await;
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["id"], 3);
        match expected_code {
            None => {
                assert_eq!(answer["result"]["isError"], true, "{answer}");
                assert!(
                    answer["result"]["content"][0]["text"].as_str().unwrap().contains(expected),
                    "{answer}"
                );
            }
            Some(code) => {
                assert_eq!(answer["error"]["code"], code, "{answer}");
                assert!(answer["error"]["message"].as_str().unwrap().contains(expected), "{answer}");
            }
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn malformed_tool_calls_say_what_is_wrong_over_stdio() {
    let mut command = binary_command(&closed_port_url(), 0.5);
    command.args(["--transport", "stdio"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let lines = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "simulate", "arguments": ["rbp", 3]}}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"arguments": {}}}),
    ];
    for line in &lines {
        stdin.write_all(format!("{line}\n").as_bytes()).await.unwrap();
    }
    stdin.flush().await.unwrap();
    let mut answers = std::collections::HashMap::new();
    while answers.len() < 3 {
        let line = tokio::time::timeout(Duration::from_secs(10), stdout.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let message: Value = serde_json::from_str(&line).unwrap();
        answers.insert(message["id"].as_u64().unwrap(), message);
    }
    assert_eq!(answers[&2]["result"]["isError"], true, "{}", answers[&2]);
    assert!(
        answers[&2]["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("expected an object of named arguments")
    );
    assert_eq!(answers[&3]["error"]["code"], -32602, "{}", answers[&3]);
    drop(stdin);
    let _ = child.wait().await;
}

/// An "API" that accepts connections and never answers, counting the connections closed by the
/// other side.
struct SilentApi {
    url: String,
    accepted: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
}

impl SilentApi {
    async fn start() -> SilentApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (accepted, closed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (a, c) = (accepted.clone(), closed.clone());
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                a.fetch_add(1, Ordering::SeqCst);
                let c = c.clone();
                tokio::spawn(async move {
                    let mut buffer = [0u8; 65536];
                    while !matches!(stream.read(&mut buffer).await, Ok(0) | Err(_)) {}
                    c.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        SilentApi { url, accepted, closed }
    }

    async fn wait_for(&self, counter: &AtomicUsize, at_least: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if counter.load(Ordering::SeqCst) >= at_least {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_drops_its_api_request_over_stdio() {
    let api = SilentApi::start().await;
    let client = stdio_client(&api.url, 60.0).await;
    let request = ClientRequest::CallToolRequest(Request::new(
        CallToolRequestParams::new("simulate")
            .with_arguments(common::args(json!({"forecast_length_days": 30}))),
    ));
    let handle =
        client.peer().send_cancellable_request(request, PeerRequestOptions::no_options()).await.unwrap();
    assert!(api.wait_for(&api.accepted, 1, Duration::from_secs(10)).await, "the API was never called");
    handle.cancel(Some("the user changed their mind".into())).await.unwrap();
    assert!(api.wait_for(&api.closed, 1, Duration::from_secs(5)).await, "the API request was not dropped");
    // The server goes on answering.
    assert_eq!(call(&client, "fetch_context", json!({})).await.is_error, Some(false));
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_drops_the_api_request_over_http() {
    let api = SilentApi::start().await;
    let server = InProcessServer::start(HttpConfig::default(), &api.url, Duration::from_secs(60)).await;
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "simulate", "arguments": {"forecast_length_days": 30}}});
    for accept in ["application/json", "application/json, text/event-stream"] {
        let before = api.closed.load(Ordering::SeqCst);
        let accepted = api.accepted.load(Ordering::SeqCst);
        let call = reqwest::Client::new()
            .post(server.mcp_url())
            .header("content-type", "application/json")
            .header("accept", accept)
            .body(request.to_string())
            .send();
        let waiting = tokio::spawn(async move {
            let response = call.await.unwrap();
            // The SSE answer starts at once; its body is what waits.
            let _ = response.bytes().await;
        });
        assert!(
            api.wait_for(&api.accepted, accepted + 1, Duration::from_secs(10)).await,
            "{accept}: the API was never called"
        );
        waiting.abort();
        assert!(
            api.wait_for(&api.closed, before + 1, Duration::from_secs(5)).await,
            "{accept}: the API request was not dropped"
        );
    }
    server.stop().await;
}
