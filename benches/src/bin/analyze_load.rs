//! Timing of the analyses over HTTP, run from another process on loopback.
//!
//! ```text
//! cargo build --release -p mechafil-api -p benches
//! target/release/mechafil-api serve --host 127.0.0.1 --port 8200 &     # demo snapshot
//! target/release/analyze_load --url http://127.0.0.1:8200 --pid $(pgrep -f 'mechafil-api serve') [--runs 5]
//! ```
//! Times each workload of the analyses issue (the median and the slowest of `--runs` requests,
//! client-side, body read), then probes `/health` every 20 ms while two clients run
//! 10,000-member ensembles, and reports the server's peak resident memory (`VmHWM`, with
//! `--pid`). Figures and the machine: `benches/README.md`. Nothing here asserts a time.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use benches::{percentile, proc_status_mib};
use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Times /analyze/* over loopback")]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    url: String,
    /// The server's process id, for its peak resident memory.
    #[arg(long)]
    pid: Option<u32>,
    /// Requests per workload.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Skip the /health probe under two 10,000-member ensembles.
    #[arg(long)]
    no_probe: bool,
}

/// The workloads of the issue, with their targets (for the report, never asserted).
fn workloads() -> Vec<(&'static str, &'static str, Value, &'static str)> {
    let rbp: Vec<f64> = (0..98).map(|i| 5.0 + f64::from(i) * 195.0 / 97.0).collect();
    let rr: Vec<f64> = (0..42).map(|i| 0.5 + f64::from(i) * 0.4 / 41.0).collect();
    let five = json!({
        "lock": {"series": "lock_ratio", "stat": "end"},
        "supply": {"series": "circ_supply", "stat": "end"},
        "locked": {"series": "network_locked", "stat": "end"},
        "reward": {"series": "day_network_reward", "stat": "end"},
        "roi": {"series": "1y_sector_roi", "stat": "end"},
    });
    vec![
        (
            "ensemble, 1,000 members x 10 y, 3 series, 5 quantiles, weekly",
            "ensemble",
            json!({"members": 1000}),
            "<= 0.4 s",
        ),
        (
            "ensemble, 10,000 members x 10 y, 3 series, 5 quantiles, weekly",
            "ensemble",
            json!({"members": 10000}),
            "<= 4 s",
        ),
        (
            "sweep, 98 x 42 x 2 x 2 = 16,464 cells, lock ratio at 10 y",
            "sweep",
            json!({"axes": {"rbp": rbp, "rr": rr, "fpr": [0.5, 0.9], "sector_duration_days": [360, 720]}}),
            "<= 6 s",
        ),
        (
            "solve, rbp for the lock ratio at 10 y",
            "solve",
            json!({"knob": "rbp", "summary": {"series": "lock_ratio", "stat": "end"}, "target": 0.25}),
            "<= 20 ms",
        ),
        ("sensitivity, all 8 knobs x 5 summaries", "sensitivity", json!({"summaries": five}), "<= 20 ms"),
        (
            "compare, 4 scenarios (0.5x, 0.75x, 1x, 2x onboarding) x 6 series",
            "compare",
            json!({"scenarios": {"x0.5": {"rbp": 1.39}, "x0.75": {"rbp": 2.08}, "x1": {}, "x2": {"rbp": 5.56}}}),
            "<= 5 ms",
        ),
    ]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Result<(Duration, usize)> {
    let started = Instant::now();
    let response = client.post(url).json(body).send().await?;
    let status = response.status();
    let bytes = response.bytes().await?;
    let took = started.elapsed();
    if !status.is_success() {
        bail!("{url}: {status}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(300)]));
    }
    Ok((took, bytes.len()))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;
    let health: Value = client.get(format!("{}/health", args.url)).send().await?.json().await?;
    println!("snapshot: {} {}", health["snapshot"]["source"], health["snapshot"]["current_date"]);
    println!("| workload | median | slowest | answer | target |\n|---|---|---|---|---|");
    for (name, kind, body, target) in workloads() {
        let url = format!("{}/analyze/{kind}", args.url);
        post(&client, &url, &body).await?; // warm-up
        let mut times = Vec::with_capacity(args.runs);
        let mut size = 0;
        for _ in 0..args.runs {
            let (took, bytes) = post(&client, &url, &body).await?;
            times.push(took);
            size = bytes;
        }
        times.sort();
        println!(
            "| {name} | {} | {} | {:.0} kB | {target} |",
            ms(percentile(&times, 0.5)),
            ms(times[times.len() - 1]),
            size as f64 / 1e3
        );
    }
    if !args.no_probe {
        let url = format!("{}/analyze/ensemble", args.url);
        let body = json!({"members": 10000});
        let heavy: Vec<_> = (0..2)
            .map(|_| {
                let (client, url, body) = (client.clone(), url.clone(), body.clone());
                tokio::spawn(async move { post(&client, &url, &body).await })
            })
            .collect();
        let probe_url = format!("{}/health", args.url);
        let mut probes = Vec::new();
        while heavy.iter().any(|h| !h.is_finished()) {
            let started = Instant::now();
            let response = client.get(&probe_url).send().await?;
            response.bytes().await?;
            probes.push(started.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut heavy_times = Vec::new();
        for h in heavy {
            heavy_times.push(h.await??.0);
        }
        probes.sort();
        println!(
            "\n/health while two clients run 10,000-member ensembles ({} and {}): {} probes, p50 {}, p99 {}, max {}",
            ms(heavy_times[0]),
            ms(heavy_times[1]),
            probes.len(),
            ms(percentile(&probes, 0.5)),
            ms(percentile(&probes, 0.99)),
            ms(probes[probes.len() - 1])
        );
    }
    if let Some(pid) = args.pid {
        println!("server peak resident memory (VmHWM): {:.1} MiB", proc_status_mib(pid, "VmHWM:")?);
    }
    Ok(())
}
