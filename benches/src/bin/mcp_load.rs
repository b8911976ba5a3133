//! Load tool for `mcp-server` over streamable HTTP: resident memory under concurrent maximal
//! bodies, and answers while slow clients hold connections open.
//!
//! ```text
//! cargo build --release -p mechafil-api -p mcp-server -p benches
//! target/release/mcp_load memory [--mcp target/release/mcp-server] [--api target/release/mechafil-api] [--clients 20] [--rounds 3]
//! target/release/mcp_load slow   [--mcp target/release/mcp-server] [--connections 300] [--seconds 15]
//! ```
//! Both spawn the binaries themselves on free loopback ports (the API on its demo snapshot, in a
//! fresh data directory) and stop them at the end.
//!
//! `memory`: `clients` concurrent POSTs per round, half the largest valid `simulate` (six
//! per-day lists of 7,300 numbers, ~0.9 MB, answered by the API), half a body of numbers just
//! under the 2 MiB limit (refused by the value scan). Prints the answers' statuses and the MCP
//! server's resident memory (`VmRSS`) and its high-water mark (`VmHWM`) from `/proc`.
//! `slow`: opens `connections` connections that send their headers a byte per second, half of
//! them then a partial body, and probes `tools/list` every 100 ms meanwhile; prints the probe
//! latencies and how many slow connections the server closed. Figures: `benches/README.md`.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use benches::proc_status_mib;
use clap::{Parser, Subcommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

#[derive(Parser)]
#[command(about = "Load tests of mcp-server (streamable HTTP) over loopback")]
struct Args {
    #[command(subcommand)]
    command: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Resident memory under concurrent maximal bodies.
    Memory {
        #[arg(long, default_value = "target/release/mcp-server")]
        mcp: PathBuf,
        #[arg(long, default_value = "target/release/mechafil-api")]
        api: PathBuf,
        #[arg(long, default_value_t = 20)]
        clients: usize,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Answers while slow clients hold connections.
    Slow {
        #[arg(long, default_value = "target/release/mcp-server")]
        mcp: PathBuf,
        #[arg(long, default_value_t = 300)]
        connections: usize,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
    },
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn wait_until_up(url: &str) -> Result<()> {
    let http = reqwest::Client::new();
    for _ in 0..400 {
        if http.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("{url} did not answer within 10 s")
}

/// The API on its demo snapshot and the MCP server in front of it; returns both and the MCP URL.
async fn start(mcp: &PathBuf, api: Option<&PathBuf>) -> Result<(Child, Option<Child>, String)> {
    let api_port = free_port()?;
    let api_child = match api {
        Some(binary) => {
            let data_dir = std::env::temp_dir().join(format!("mcp_load-{}-{api_port}", std::process::id()));
            std::fs::create_dir_all(&data_dir)?;
            let child = Command::new(binary)
                .args(["serve", "--host", "127.0.0.1", "--port", &api_port.to_string()])
                .env("MECHAFIL_DATA_DIR", &data_dir)
                .env_remove("SPACESCOPE_TOKEN")
                .env_remove("SPACESCOPE_AUTH_FILE")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("starting {}", binary.display()))?;
            wait_until_up(&format!("http://127.0.0.1:{api_port}/health")).await?;
            Some(child)
        }
        None => None,
    };
    let port = free_port()?;
    let child = Command::new(mcp)
        .args(["--transport", "http", "--host", "127.0.0.1", "--port", &port.to_string()])
        .env("MECHAFIL_SERVER_URL", format!("http://127.0.0.1:{api_port}"))
        .env("MECHAFIL_API_BUDGET_SECS", "60")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", mcp.display()))?;
    wait_until_up(&format!("http://127.0.0.1:{port}/health")).await?;
    Ok((child, api_child, format!("http://127.0.0.1:{port}/mcp")))
}

/// `(VmRSS, VmHWM)` of `pid` in MiB.
fn memory_of(pid: u32) -> Result<(f64, f64)> {
    Ok((proc_status_mib(pid, "VmRSS:")?, proc_status_mib(pid, "VmHWM:")?))
}

fn simulate_body(id: usize) -> String {
    let list = format!("[{}]", vec!["0.7777777777777777"; 7300].join(","));
    let knobs = ["rbp", "rr", "fpr", "lock_target", "fil_plus_m", "qa_renew_relative_multiplier"];
    let arguments: Vec<String> = knobs.iter().map(|k| format!("\"{k}\":{list}")).collect();
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{{\"name\":\"simulate\",\"arguments\":{{{},\"requested_metric\":\"circ_supply\"}}}}}}",
        arguments.join(",")
    )
}

fn numbers_body(id: usize) -> String {
    let mut body = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{{\"name\":\"provide_plot\",\"arguments\":{{\"series\":["
    );
    while body.len() < 2 * 1024 * 1024 - 100 {
        body.push_str("1,");
    }
    body.push_str("1]}}}");
    body
}

async fn memory(mcp: &PathBuf, api: &PathBuf, clients: usize, rounds: usize) -> Result<()> {
    let (child, api_child, url) = start(mcp, Some(api)).await?;
    let pid = child.id().context("the server's pid")?;
    let (rss, _) = memory_of(pid)?;
    println!("mcp-server at start: {rss:.1} MiB resident");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;
    let bodies: Vec<String> =
        (0..clients).map(|i| if i % 2 == 0 { simulate_body(i) } else { numbers_body(i) }).collect();
    for round in 1..=rounds {
        let started = Instant::now();
        let calls = bodies.iter().map(|body| {
            let (http, url, body) = (http.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                let response = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("accept", "application/json")
                    .body(body)
                    .send()
                    .await?;
                let status = response.status().as_u16();
                let text = response.text().await?;
                Ok::<_, reqwest::Error>((status, text.contains("\"isError\":false")))
            })
        });
        let mut statuses = std::collections::BTreeMap::new();
        let mut answered = 0;
        for call in calls {
            let (status, ok) = call.await??;
            *statuses.entry(status).or_insert(0) += 1;
            answered += usize::from(ok);
        }
        let (rss, peak) = memory_of(pid)?;
        println!(
            "round {round}: {clients} concurrent bodies in {:.2} s, statuses {statuses:?}, {answered} simulate answers; \
             resident {rss:.1} MiB, peak {peak:.1} MiB",
            started.elapsed().as_secs_f64()
        );
    }
    drop(child);
    drop(api_child);
    Ok(())
}

async fn slow(mcp: &PathBuf, connections: usize, seconds: u64) -> Result<()> {
    let (child, _, url) = start(mcp, None).await?;
    let addr = url.trim_start_matches("http://").trim_end_matches("/mcp").to_string();
    let closed = Arc::new(AtomicUsize::new(0));
    let mut drippers = Vec::new();
    for i in 0..connections {
        let (addr, closed) = (addr.clone(), closed.clone());
        drippers.push(tokio::spawn(async move {
            let Ok(mut stream) = tokio::net::TcpStream::connect(&addr).await else { return };
            let head = if i % 2 == 0 {
                "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json\r\n".to_string()
            } else {
                "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n{".to_string()
            };
            let mut buffer = [0u8; 1024];
            for byte in head.bytes().chain(std::iter::repeat(b' ')) {
                if stream.write_all(&[byte]).await.is_err() {
                    break;
                }
                // A read that ends (EOF or error) within the second means the server closed it.
                match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buffer)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    _ => {}
                }
            }
            closed.fetch_add(1, Ordering::SeqCst);
        }));
    }
    let http = reqwest::Client::new();
    let probe = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    let mut latencies = Vec::new();
    let mut failures = 0;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        let started = Instant::now();
        let answer = http
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(probe.clone())
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => latencies.push(started.elapsed()),
            _ => failures += 1,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    latencies.sort();
    let ms = |d: Option<&Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
    println!(
        "{connections} slow connections for {seconds} s: probes answered {} (failed {failures}), p50 {:.2} ms, \
         p99 {:.2} ms, max {:.2} ms; slow connections closed by the server: {}",
        latencies.len(),
        ms(latencies.get(latencies.len() / 2)),
        ms(latencies.get(latencies.len() * 99 / 100)),
        ms(latencies.last()),
        closed.load(Ordering::SeqCst),
    );
    for dripper in drippers {
        dripper.abort();
    }
    drop(child);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    match Args::parse().command {
        Mode::Memory { mcp, api, clients, rounds } => memory(&mcp, &api, clients, rounds).await,
        Mode::Slow { mcp, connections, seconds } => slow(&mcp, connections, seconds).await,
    }
}
