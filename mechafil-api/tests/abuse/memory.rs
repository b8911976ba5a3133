//! Item 1: the memory of request bodies. A body was parsed into a full JSON tree before any limit
//! applied: one 4 MiB body of numbers cost ~100 MB, 20 at once reached 1.0 GB resident. Now the
//! byte limit is checked as the body arrives, the number of JSON values while it is parsed, and
//! large bodies are admitted two at a time, so 20 concurrent maximal bodies stay far below the
//! 150 MB target (the figure is measured by `api_load body-memory`, see benches/README.md).

use std::time::Duration;

use futures_util::future::join_all;
use mechafil_api::http::AppState;
use mechafil_api::http::body::{BODY_LIMIT, LARGE_BODY_LIMIT, MAX_VALUES};
use serde_json::Value;

use super::http_support::{TestServer, config, demo_served};
use super::{Binary, closed_within, connect, send};

/// `{"rbp": [1,1,1,...]}` of about `bytes` bytes.
fn numbers_body(bytes: usize) -> String {
    let n = bytes / 2;
    format!("{{\"rbp\": [{}1]}}", "1,".repeat(n.saturating_sub(8)))
}

/// `{"scenarios": [{"rbp": [1,1,...]}], "output": "circ_supply"}` of about `bytes` bytes.
fn batch_numbers_body(bytes: usize) -> String {
    let n = bytes / 2;
    format!(
        "{{\"scenarios\": [{{\"rbp\": [{}1]}}], \"output\": \"circ_supply\"}}",
        "1,".repeat(n.saturating_sub(40))
    )
}

async fn demo_server() -> TestServer {
    TestServer::start(AppState::new(config(), Ok(demo_served()))).await
}

#[tokio::test]
async fn a_body_over_the_byte_limit_is_refused_declared_or_chunked() {
    let server = demo_server().await;
    let body = numbers_body(4 * 1024 * 1024);
    // Declared length: refused before reading.
    let response = server.client.post(server.url("/simulate")).body(body.clone()).send().await.unwrap();
    assert_eq!(response.status(), 413);
    let error: Value = response.json().await.unwrap();
    assert!(error["error"].as_str().unwrap().contains(&BODY_LIMIT.to_string()), "{error}");
    // Chunked, no length: refused once the limit is passed, without waiting for the rest.
    let mut stream = connect(&server.base).await;
    send(&mut stream, b"POST /simulate HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await;
    for chunk in body.as_bytes().chunks(64 * 1024) {
        send(&mut stream, format!("{:x}\r\n", chunk.len()).as_bytes()).await;
        send(&mut stream, chunk).await;
        send(&mut stream, b"\r\n").await;
    }
    let seen = closed_within(&mut stream, Duration::from_secs(20)).await.expect("answered and closed");
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 413"), "{}", String::from_utf8_lossy(&seen));
    server.stop().await;
}

#[tokio::test]
async fn a_body_with_more_values_than_the_limit_is_refused_while_parsing() {
    let server = demo_server().await;
    // 1 MiB: under the byte limit, ~500,000 numbers: over the value limit.
    let response =
        server.client.post(server.url("/simulate")).body(numbers_body(1024 * 1024)).send().await.unwrap();
    assert_eq!(response.status(), 413);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"].as_str().unwrap().contains(&format!("more than {MAX_VALUES} JSON values")),
        "{error}"
    );
    // Six series of the longest forecast are still welcome.
    let series = format!("[{}]", vec!["0.5"; 7300].join(","));
    let body = format!(
        "{{\"rr\": {series}, \"fpr\": {series}, \"lock_target\": {series}, \"output\": \"circ_supply\"}}"
    );
    let response = server.client.post(server.url("/simulate")).body(body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    server.stop().await;
}

/// Peak and current resident memory of `pid`, MB (`VmHWM`, `VmRSS`).
fn memory_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = |key: &str| -> f64 {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap() / 1024.0
    };
    (kb("VmHWM:"), kb("VmRSS:"))
}

#[tokio::test]
async fn twenty_concurrent_maximal_bodies_stay_under_150_mb() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("SKIPPED: needs /proc to read the server's memory");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Binary::start(dir.path(), &[]);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
    let ordinary = numbers_body(BODY_LIMIT - 64);
    let large = batch_numbers_body(LARGE_BODY_LIMIT - 64);
    for (path, body) in [("/simulate", &ordinary), ("/simulate/full", &ordinary), ("/simulate/batch", &large)]
    {
        let requests = (0..20).map(|_| {
            let request = client.post(format!("{}{path}", server.base)).body(body.clone()).send();
            async move { request.await.map(|r| r.status().as_u16()) }
        });
        // Each is refused (value limit) or, past the queue of large bodies, told to retry; the
        // server may answer that before reading the body and close, which the client sees as
        // a broken pipe while still sending (status 0 here).
        let statuses: Vec<u16> = join_all(requests)
            .await
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| if e.is_request() { 0 } else { panic!("{e}") }))
            .collect();
        assert!(statuses.iter().all(|s| [0, 413, 429].contains(s)), "{path}: {statuses:?}");
        assert!(statuses.contains(&413), "{path}: {statuses:?}");
    }
    let (peak, now) = memory_mb(server.pid());
    eprintln!("resident memory: peak {peak:.1} MB, now {now:.1} MB");
    assert!(peak < 150.0, "the server peaked at {peak:.1} MB resident");
    assert!(server.terminate().success());
}
