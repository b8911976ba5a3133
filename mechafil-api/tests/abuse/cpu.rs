//! Item 2: work escaping its budget. Before the CPU budget (`http/cpu.rs`), a client that sent a
//! 1000-scenario batch and hung up left its batch running on rayon's pool, so 100 such clients
//! kept every core busy for minutes. Now the work is chunked and driven by the request, and
//! large requests are admitted a few at a time: after the clients are gone, the process quiets
//! down with a bounded number of threads, and `/health` answers throughout. The time it takes
//! and `/health`'s latency under load are measured by `api_load hangups` / `health-under-batches`
//! (benches/README.md); here only the end state is checked, with generous waits.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{Binary, connect, send};

/// The process's thread count and its CPU time so far (user + system), in clock ticks.
fn threads_and_cpu_ticks(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let threads =
        status.lines().find(|l| l.starts_with("Threads:")).unwrap().split_whitespace().nth(1).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses): utime and stime are 14th and 15th.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    (threads.parse().unwrap(), ticks)
}

#[tokio::test]
async fn clients_that_hang_up_after_a_big_batch_leave_an_idle_process() {
    if !std::path::Path::new("/proc/self/stat").exists() {
        eprintln!("SKIPPED: needs /proc to read the server's threads and CPU time");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Binary::start(dir.path(), &[]);
    let scenarios: Vec<_> = (0..1000).map(|i| json!({"rr": 0.5 + (i % 40) as f64 / 100.0})).collect();
    let body = json!({"scenarios": scenarios, "output": "circ_supply"}).to_string();
    let head = format!(
        "POST /simulate/batch HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    for _ in 0..100 {
        let mut stream = connect(&server.base).await;
        send(&mut stream, head.as_bytes()).await;
        send(&mut stream, body.as_bytes()).await;
        drop(stream); // hang up without waiting for the answer
    }
    // /health answers while whatever was admitted winds down.
    let (status, _) = server.get("/health").await;
    assert_eq!(status, 200);
    // Wait (at most 60 s) for a full second without CPU use.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = threads_and_cpu_ticks(server.pid());
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = threads_and_cpu_ticks(server.pid());
        if now.1 == last.1 {
            break;
        }
        assert!(Instant::now() < deadline, "the server was still working 60 s after the clients left");
        last = now;
    }
    let (threads, _) = threads_and_cpu_ticks(server.pid());
    assert!(threads <= 24, "{threads} threads");
    let (status, _) = server.get("/health").await;
    assert_eq!(status, 200);
    assert!(server.terminate().success());
}

#[tokio::test]
async fn health_answers_while_clients_hammer_batches() {
    let dir = tempfile::tempdir().unwrap();
    let server = Binary::start(dir.path(), &[]);
    let base = server.base.clone();
    let body = json!({"scenarios": vec![json!({}); 200], "output": "circ_supply"});
    let stop = Instant::now() + Duration::from_secs(4);
    let hammers: Vec<_> = (0..4)
        .map(|_| {
            let (base, body) = (base.clone(), body.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut answered = 0;
                while Instant::now() < stop {
                    let r = client.post(format!("{base}/simulate/batch")).json(&body).send().await.unwrap();
                    assert!(r.status() == 200 || r.status() == 429, "{}", r.status());
                    let _ = r.bytes().await;
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut probes = 0;
    while Instant::now() < stop {
        let r = client.get(format!("{base}/health")).send().await.expect("/health answered within 10 s");
        assert_eq!(r.status(), 200);
        probes += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for h in hammers {
        assert!(h.await.unwrap() > 0);
    }
    assert!(probes > 10, "{probes} /health answers in 4 s");
    assert!(server.terminate().success());
}
