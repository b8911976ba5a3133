//! Load tool for `mechafil-api`, run from another process on loopback.
//!
//! ```text
//! cargo build --release -p mechafil-api -p benches
//! target/release/api_load latency     --url http://127.0.0.1:8000 [--requests 2000] [--body '{}']
//! target/release/api_load concurrency --url http://127.0.0.1:8000 [--clients 16] [--seconds 20]
//! target/release/api_load memory      --url http://127.0.0.1:8000 --pid <server pid> [--lengths 1000]
//! target/release/api_load cold-start  --binary target/release/mechafil-api --data-dir DIR [--runs 20]
//! ```
//! `latency`: sequential `POST /simulate` with one client; p50/p90/p99/max.
//! `concurrency`: N clients in a loop for S seconds while a probe hits `/health` every 50 ms;
//! throughput, errors, latency percentiles of both.
//! `memory`: resident memory of the server before and after one request per forecast length
//! 1..=N (each a different length, which made the reference service grow by 40 MB each).
//! `cold-start`: spawns the server on a free port and times process start -> first 200 from
//! `POST /simulate`. Figures and the machine: `benches/README.md`.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use benches::{percentile, proc_status};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Load tests of mechafil-api over loopback")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sequential POST /simulate latency.
    Latency {
        #[arg(long, default_value = "http://127.0.0.1:8000")]
        url: String,
        #[arg(long, default_value_t = 2000)]
        requests: usize,
        #[arg(long, default_value = "{}")]
        body: String,
    },
    /// Concurrent clients plus a /health probe.
    Concurrency {
        #[arg(long, default_value = "http://127.0.0.1:8000")]
        url: String,
        #[arg(long, default_value_t = 16)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value = "{}")]
        body: String,
    },
    /// Resident memory across distinct forecast lengths.
    Memory {
        #[arg(long, default_value = "http://127.0.0.1:8000")]
        url: String,
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 1000)]
        lengths: usize,
    },
    /// Process start to the first 200 from /simulate.
    ColdStart {
        #[arg(long, default_value = "target/release/mechafil-api")]
        binary: PathBuf,
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{label}: n={} p50={:.2} ms p90={:.2} ms p99={:.2} ms max={:.2} ms",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.90)),
        ms(percentile(&samples, 0.99)),
        ms(samples.last().copied().unwrap_or_default()),
    );
}

fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder().timeout(Duration::from_secs(30)).pool_max_idle_per_host(64).build()?)
}

async fn post_simulate(client: &reqwest::Client, url: &str, body: &str) -> Result<Duration> {
    let started = Instant::now();
    let response = client
        .post(format!("{url}/simulate"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?;
    let status = response.status();
    let bytes = response.bytes().await?;
    if !status.is_success() {
        bail!("{status}: {}", String::from_utf8_lossy(&bytes));
    }
    Ok(started.elapsed())
}

async fn latency(url: &str, requests: usize, body: &str) -> Result<()> {
    let client = client()?;
    for _ in 0..20 {
        post_simulate(&client, url, body).await?; // warm the connection
    }
    let mut samples = Vec::with_capacity(requests);
    for _ in 0..requests {
        samples.push(post_simulate(&client, url, body).await?);
    }
    report(&format!("POST /simulate {body}"), samples);
    Ok(())
}

async fn concurrency(url: &str, clients: usize, seconds: u64, body: &str) -> Result<()> {
    let client = client()?;
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (client, url, body, stop, errors) =
            (client.clone(), url.to_string(), body.to_string(), stop.clone(), errors.clone());
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match post_simulate(&client, &url, &body).await {
                    Ok(d) => samples.push(d),
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("error: {e:#}");
                        }
                    }
                }
            }
            samples
        }));
    }
    let probe = {
        let (client, url, stop, errors) = (client.clone(), url.to_string(), stop.clone(), errors.clone());
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                match client.get(format!("{url}/health")).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        samples.push(started.elapsed());
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            samples
        })
    };
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{clients} clients for {seconds} s: {} requests, {:.0} req/s, {} errors",
        all.len(),
        all.len() as f64 / elapsed,
        errors.load(Ordering::Relaxed)
    );
    report("POST /simulate under load", all);
    report("GET /health under load", probe.await?);
    if errors.load(Ordering::Relaxed) > 0 {
        bail!("there were errors");
    }
    Ok(())
}

async fn memory(url: &str, pid: u32, lengths: usize) -> Result<()> {
    let client = client()?;
    let body = |f: usize| format!("{{\"forecast_length_days\": {f}}}");
    // Warm up across the whole range of lengths, longest included, so that per-thread
    // buffers and allocator pools reach their working size before the baseline.
    for f in (1..=7300).step_by(365).chain([7300]) {
        for _ in 0..4 {
            post_simulate(&client, url, &body(f)).await?;
        }
    }
    let before = proc_status(pid, "VmRSS:")?;
    let mut passes = Vec::new();
    for pass in 0..2 {
        let mut peak = 0;
        for i in 1..=lengths {
            // Distinct lengths spread over 1..=7300 (a different set on each pass).
            let f = 1 + (i * 7 + pass) % 7300;
            post_simulate(&client, url, &body(f)).await?;
            if i % 100 == 0 {
                peak = peak.max(proc_status(pid, "VmRSS:")?);
            }
        }
        passes.push((proc_status(pid, "VmRSS:")?, peak));
    }
    let mib = |k: u64| k as f64 / 1024.0;
    println!("RSS after warm-up {:.1} MiB", mib(before));
    for (i, (after, peak)) in passes.iter().enumerate() {
        println!(
            "  after pass {} ({lengths} distinct forecast lengths): {:.1} MiB (peak {:.1} MiB, {:+.1} MiB vs warm-up)",
            i + 1,
            mib(*after),
            mib(*peak),
            mib(*after) - mib(before)
        );
    }
    Ok(())
}

async fn cold_start(binary: &PathBuf, data_dir: &PathBuf, runs: usize) -> Result<()> {
    let client = client()?;
    let mut samples = Vec::new();
    for _ in 0..runs {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let mut child = tokio::process::Command::new(binary)
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .env("MECHAFIL_DATA_DIR", data_dir)
            .env_remove("SPACESCOPE_TOKEN")
            .env_remove("SPACESCOPE_AUTH_FILE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let elapsed = loop {
            if let Ok(d) = post_simulate(&client, &url, "{}").await {
                let _ = d;
                break started.elapsed();
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!("no answer within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        samples.push(elapsed);
        child.kill().await.ok();
        child.wait().await.ok();
    }
    report("process start -> first 200 from POST /simulate", samples);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    match Args::parse().command {
        Command::Latency { url, requests, body } => latency(&url, requests, &body).await,
        Command::Concurrency { url, clients, seconds, body } => {
            concurrency(&url, clients, seconds, &body).await
        }
        Command::Memory { url, pid, lengths } => memory(&url, pid, lengths).await,
        Command::ColdStart { binary, data_dir, runs } => cold_start(&binary, &data_dir, runs).await,
    }
}
