//! Item 3: connections that send their headers a byte at a time, stop half-way through a body,
//! sit idle after a response, never read their answer, or simply pile up. Before, all of them
//! stayed open indefinitely (~1,100 exhausted the file limit and `/health` stopped answering);
//! now each is closed by a timeout or refused at the connection limit, and the server keeps
//! serving. The limits are shortened to 1 s here; the defaults (30 s) are unit-tested in
//! `http/server.rs`.

use std::time::Duration;

use mechafil_api::http::AppState;
use mechafil_api::http::server::{ServerLimits, connection_stats};
use tokio::io::AsyncWriteExt;

use super::http_support::{TestServer, config, demo_served};
use super::{closed_within, connect, send};

const SHORT: Duration = Duration::from_secs(1);
/// How long a test waits for something a 1 s timeout should do: generous, so a loaded CI
/// machine cannot fail it, and finite, so the old behaviour (never) fails it.
const PATIENCE: Duration = Duration::from_secs(10);

fn short_limits(max_connections: usize) -> ServerLimits {
    ServerLimits {
        header_read_timeout: SHORT,
        body_read_timeout: SHORT,
        write_stall_timeout: SHORT,
        max_connections,
    }
}

async fn server(max_connections: usize) -> TestServer {
    let state = AppState::new(config(), Ok(demo_served()));
    TestServer::start_with_limits(state, short_limits(max_connections)).await
}

#[tokio::test]
async fn headers_trickled_a_byte_at_a_time_are_cut_off() {
    let server = server(64).await;
    let (mut reader, mut writer) = connect(&server.base).await.into_split();
    let trickle = tokio::spawn(async move {
        for byte in b"GET /health HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slow\r\n\r\n" {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut seen = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, async {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a connection trickling its headers was still open after {PATIENCE:?}");
    assert!(!String::from_utf8_lossy(&seen).contains("200 OK"), "the trickled request was answered");
    trickle.abort();
    // The server still answers others.
    assert_eq!(server.get("/health").await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let server = server(64).await;
    let mut stream = connect(&server.base).await;
    send(&mut stream, b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    let seen = closed_within(&mut stream, PATIENCE).await.expect("the idle connection was never closed");
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"), "the request was answered first");
    server.stop().await;
}

#[tokio::test]
async fn a_body_that_stops_half_way_gets_408_and_the_connection_closes() {
    let server = server(64).await;
    let mut stream = connect(&server.base).await;
    send(
        &mut stream,
        b"POST /simulate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"rr\": 0.5",
    )
    .await;
    let seen =
        closed_within(&mut stream, PATIENCE).await.expect("the stalled body's connection was never closed");
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("did not arrive within"), "our JSON error body: {text}");
    server.stop().await;
}

#[tokio::test]
async fn a_get_whose_body_never_comes_does_not_hold_the_connection() {
    let server = server(64).await;
    let mut stream = connect(&server.base).await;
    send(&mut stream, b"GET /health HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n").await;
    let seen = closed_within(&mut stream, PATIENCE).await.expect("the connection was never closed");
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_never_reads_its_answer_is_disconnected() {
    let server = server(64).await;
    let before = connection_stats().write_stalls_total;
    // A tiny receive buffer, so the server's writes stall after a few hundred kB of a ~7 MB answer.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream =
        socket.connect(server.base.trim_start_matches("http://").parse().unwrap()).await.unwrap();
    let body = br#"{"forecast_length_days": 7300}"#;
    let head =
        format!("POST /simulate/full HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n", body.len());
    send(&mut stream, head.as_bytes()).await;
    send(&mut stream, body).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while connection_stats().write_stalls_total == before {
        assert!(tokio::time::Instant::now() < deadline, "the stalled writer was never disconnected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Reading now gets what was buffered, then the end of the connection.
    assert!(closed_within(&mut stream, PATIENCE).await.is_some());
    server.stop().await;
}

#[tokio::test]
async fn many_silent_connections_neither_stop_health_nor_stay_open() {
    let server = server(1024).await;
    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(connect(&server.base).await);
    }
    let (status, health) = server.get("/health").await;
    assert_eq!(status, 200, "{health}");
    for stream in &mut silent {
        assert!(closed_within(stream, PATIENCE).await.is_some(), "a silent connection stayed open");
    }
    server.stop().await;
}

#[tokio::test]
async fn connections_over_the_limit_are_closed_at_once_and_service_resumes() {
    let server = server(16).await;
    let mut held = Vec::new();
    for _ in 0..16 {
        held.push(connect(&server.base).await);
    }
    // Give the accept loop time to take the 16 slots (they are accepted in order).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = connect(&server.base).await;
    let seen = closed_within(&mut extra, Duration::from_secs(5)).await.expect("the 17th connection was kept");
    assert!(seen.is_empty());
    // The held ones time out (1 s), and the server answers again.
    for stream in &mut held {
        assert!(closed_within(stream, PATIENCE).await.is_some());
    }
    assert_eq!(server.get("/health").await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn oversized_headers_are_refused_by_hyper_and_the_server_keeps_serving() {
    let server = server(64).await;
    let mut stream = connect(&server.base).await;
    let mut request = String::from("GET /health HTTP/1.1\r\nHost: localhost\r\n");
    for i in 0..200 {
        request += &format!("X-Filler-{i}: {}\r\n", "y".repeat(64));
    }
    request += "\r\n";
    send(&mut stream, request.as_bytes()).await;
    let seen = closed_within(&mut stream, PATIENCE).await.expect("closed after the refusal");
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 431"), "{}", String::from_utf8_lossy(&seen));
    assert_eq!(server.get("/health").await.0, 200);
    server.stop().await;
}
