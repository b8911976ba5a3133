//! Measurements of the API under abuse, each against a fresh `mechafil-api serve` process it
//! starts itself (demo snapshot, a temporary data directory, loopback only), so that its peak
//! memory and thread counts belong to the measurement alone.
//!
//! ```text
//! cargo build --release -p mechafil-api -p benches
//! target/release/api_abuse body-memory          [--binary target/release/mechafil-api] [--clients 20]
//! target/release/api_abuse hangups              [--clients 100] [--scenarios 1000]
//! target/release/api_abuse health-under-batches [--clients 4] [--seconds 20] [--scenarios 1000] [--gzip]
//! target/release/api_abuse slow-connections     [--connections 1100] [--seconds 40]
//! ```
//! `body-memory`: for each kind of maximal body (the issue's 4 MiB of numbers to `/simulate` and
//! to `/simulate/batch`, 2 MiB of numbers to `/simulate`, 8 MiB to `/simulate/batch`, the
//! largest valid `/simulate/full`), `--clients` clients send one at once; the server's peak
//! resident memory (`VmHWM`) after each round.
//! `hangups`: clients send a batch and hang up at once; how long until the process uses no CPU,
//! and its threads 3 s after the last client left.
//! `health-under-batches`: clients post batches in a loop while a probe gets `/health` every
//! 50 ms; the probe's latency percentiles.
//! `slow-connections`: connections that send their headers one byte a second; `/health`'s
//! latency while they are open, and how long until the server has closed them all.
//! Figures and the machine: `benches/README.md`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use benches::{percentile, proc_status};
use clap::{Parser, Subcommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser)]
#[command(about = "Abuse measurements of mechafil-api over loopback")]
struct Args {
    /// The server binary to start.
    #[arg(long, global = true, default_value = "target/release/mechafil-api")]
    binary: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Peak resident memory under concurrent maximal bodies.
    BodyMemory {
        #[arg(long, default_value_t = 20)]
        clients: usize,
    },
    /// Clients that hang up right after sending a batch.
    Hangups {
        #[arg(long, default_value_t = 100)]
        clients: usize,
        #[arg(long, default_value_t = 1000)]
        scenarios: usize,
    },
    /// /health latency while clients hammer /simulate/batch.
    HealthUnderBatches {
        #[arg(long, default_value_t = 4)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 1000)]
        scenarios: usize,
        /// Ask for gzip-compressed answers (as browsers do).
        #[arg(long)]
        gzip: bool,
    },
    /// Slow-header connections: /health latency, and time until they are closed.
    SlowConnections {
        #[arg(long, default_value_t = 1100)]
        connections: usize,
        #[arg(long, default_value_t = 40)]
        seconds: u64,
    },
}

/// A server process on a free loopback port and a fresh data directory.
struct Server {
    child: tokio::process::Child,
    url: String,
    dir: PathBuf,
}

impl Server {
    async fn start(binary: &PathBuf) -> Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("api_abuse-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let child = tokio::process::Command::new(binary)
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .env("MECHAFIL_DATA_DIR", &dir)
            .env("RUST_LOG", "warn")
            .env_remove("SPACESCOPE_TOKEN")
            .env_remove("SPACESCOPE_AUTH_FILE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while reqwest::get(format!("{url}/health")).await.is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                bail!("the server did not answer within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Server { child, url, dir })
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// A field of `/proc/<pid>/status`, e.g. `VmHWM` (kB) or `Threads`.
    fn status(&self, key: &str) -> Result<u64> {
        proc_status(self.pid(), key)
    }

    /// User + system CPU time, clock ticks.
    fn cpu_ticks(&self) -> Result<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        let fields: Vec<&str> = stat[stat.rfind(')').context("stat")? + 2..].split_whitespace().collect();
        Ok(fields[11].parse::<u64>()? + fields[12].parse::<u64>()?)
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{label}: n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
        samples.len(),
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99)),
        ms(samples.last().copied().unwrap_or_default())
    );
}

fn numbers(path_field: &str, bytes: usize) -> String {
    let n = bytes / 2;
    match path_field {
        "batch" => format!(
            "{{\"scenarios\": [{{\"rbp\": [{}1]}}], \"output\": \"circ_supply\"}}",
            "1,".repeat(n - 40)
        ),
        _ => format!("{{\"rbp\": [{}1]}}", "1,".repeat(n - 8)),
    }
}

async fn body_memory(binary: &PathBuf, clients: usize) -> Result<()> {
    let series = format!("[{}]", vec!["0.30000000000000004"; 7300].join(","));
    let valid = format!(
        "{{\"rbp\": {series}, \"rr\": {series}, \"fpr\": {series}, \"lock_target\": {series}, \
         \"fil_plus_m\": {series}, \"qa_renew_relative_multiplier\": {series}}}"
    );
    let rounds: Vec<(&str, &str, String)> = vec![
        ("4 MiB of numbers (the issue's body)", "/simulate", numbers("simulate", 4 << 20)),
        ("4 MiB of numbers", "/simulate/batch", numbers("batch", 4 << 20)),
        ("2 MiB of numbers (the ordinary limit)", "/simulate", numbers("simulate", (2 << 20) - 64)),
        ("8 MiB of numbers (the large limit)", "/simulate/batch", numbers("batch", (8 << 20) - 64)),
        ("six 7300-day series, valid (~1 MB; a ~13 MB answer)", "/simulate/full", valid),
    ];
    let client = reqwest::Client::builder().timeout(Duration::from_secs(300)).build()?;
    // Each kind in a fresh process (its own peak), then all of them in one process (what a
    // long-lived server accumulates).
    let mut shared: Option<Server> = None;
    for pass in ["fresh process per kind", "one process for all kinds"] {
        println!("== {pass}");
        for (what, path, body) in &rounds {
            let fresh;
            let server = if pass.starts_with("fresh") {
                fresh = Server::start(binary).await?;
                &fresh
            } else {
                if shared.is_none() {
                    shared = Some(Server::start(binary).await?);
                }
                shared.as_ref().expect("started")
            };
            let at_start = server.status("VmRSS:")? as f64 / 1024.0;
            let requests = (0..clients).map(|_| {
                let request = client.post(format!("{}{path}", server.url)).body(body.clone()).send();
                async move {
                    match request.await {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let _ = r.bytes().await;
                            status
                        }
                        Err(_) => 0, // refused before the body was sent (429 then close)
                    }
                }
            });
            let started = Instant::now();
            let mut statuses = futures_join_all(requests).await;
            statuses.sort_unstable();
            statuses.dedup();
            println!(
                "{clients} x {what} to {path}: statuses {statuses:?} in {:.2} s; resident at start {at_start:.1} MB, peak {:.1} MB, after {:.1} MB",
                started.elapsed().as_secs_f64(),
                server.status("VmHWM:")? as f64 / 1024.0,
                server.status("VmRSS:")? as f64 / 1024.0
            );
        }
    }
    if let Some(server) = shared {
        server.stop().await;
    }
    Ok(())
}

/// Joins futures without pulling futures-util into the benches: one task each.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<u16>
where
    F: std::future::Future<Output = u16> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap_or(0));
    }
    out
}

fn batch_request(scenarios: usize) -> Vec<u8> {
    let list: Vec<String> =
        (0..scenarios).map(|i| format!("{{\"rr\": {}}}", 0.5 + (i % 40) as f64 / 100.0)).collect();
    let body = format!("{{\"scenarios\": [{}], \"output\": \"circ_supply\"}}", list.join(","));
    let mut request = format!(
        "POST /simulate/batch HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body.as_bytes());
    request
}

async fn hangups(binary: &PathBuf, clients: usize, scenarios: usize) -> Result<()> {
    let server = Server::start(binary).await?;
    let addr = server.url.trim_start_matches("http://").to_string();
    let request = batch_request(scenarios);
    let threads_before = server.status("Threads:")?;
    for _ in 0..clients {
        let mut stream = TcpStream::connect(&addr).await?;
        stream.write_all(&request).await?;
        drop(stream);
    }
    let left = Instant::now();
    let mut idle_at = None;
    let mut last = server.cpu_ticks()?;
    let mut threads_at_3s = None;
    while left.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = server.cpu_ticks()?;
        if now == last && idle_at.is_none() {
            idle_at = Some(left.elapsed());
        } else if now != last {
            idle_at = None;
        }
        last = now;
        if threads_at_3s.is_none() && left.elapsed() >= Duration::from_secs(3) {
            threads_at_3s = Some((server.status("Threads:")?, server.cpu_ticks()?));
        }
        if threads_at_3s.is_some() && idle_at.is_some_and(|t| left.elapsed() - t > Duration::from_secs(2)) {
            break;
        }
    }
    let (threads, ticks_at_3s) = threads_at_3s.context("ran less than 3 s")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "{clients} clients sent a {scenarios}-scenario batch and hung up: CPU stopped {} after the last left; \
         3 s after: {threads} threads (before: {threads_before}), CPU ticks in the next second: {}",
        idle_at.map_or("never (60 s)".into(), |t| format!("{:.2} s", t.as_secs_f64())),
        server.cpu_ticks()? - ticks_at_3s.min(server.cpu_ticks()?),
    );
    let started = Instant::now();
    reqwest::get(format!("{}/health", server.url)).await?;
    println!("/health then: {:.2} ms", started.elapsed().as_secs_f64() * 1e3);
    print_metrics(
        &server.url,
        &[
            "mechafil_cpu_jobs_total",
            "mechafil_large_requests_rejected_total",
            "mechafil_http_requests_total{route=\"/simulate/batch\"",
        ],
    )
    .await?;
    server.stop().await;
    Ok(())
}

/// Prints the `/metrics` samples whose line starts with one of `prefixes`.
async fn print_metrics(url: &str, prefixes: &[&str]) -> Result<()> {
    let text = reqwest::get(format!("{url}/metrics")).await?.text().await?;
    for line in text.lines().filter(|l| prefixes.iter().any(|p| l.starts_with(p))) {
        println!("  {line}");
    }
    Ok(())
}

async fn health_under_batches(
    binary: &PathBuf,
    clients: usize,
    seconds: u64,
    scenarios: usize,
    gzip: bool,
) -> Result<()> {
    let server = Server::start(binary).await?;
    // Serialised once: the clients share the machine's cores with the server, so they should
    // spend as little of them as they can.
    let body = serde_json::to_vec(
        &serde_json::json!({"scenarios": vec![serde_json::json!({}); scenarios], "output": "circ_supply"}),
    )?;
    let stop = Instant::now() + Duration::from_secs(seconds);
    let mut hammers = Vec::new();
    for _ in 0..clients {
        let (url, body) = (server.url.clone(), body.clone());
        hammers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let (mut ok, mut busy) = (0, 0);
            while Instant::now() < stop {
                let mut request = client
                    .post(format!("{url}/simulate/batch"))
                    .header("content-type", "application/json")
                    .body(body.clone());
                if gzip {
                    request = request.header("accept-encoding", "gzip");
                }
                match request.send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                        ok += 1;
                    }
                    _ => busy += 1,
                }
            }
            (ok, busy)
        }));
    }
    // The probe runs on a thread and runtime of its own, so that what it measures is the
    // server's answer, not a wait for this process' workers busy with the clients' answers.
    let health = format!("{}/health", server.url);
    let samples = std::thread::spawn(move || -> Result<Vec<Duration>> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async move {
            let client = reqwest::Client::new();
            let mut samples = Vec::new();
            while Instant::now() < stop {
                let started = Instant::now();
                let r = client.get(&health).send().await?;
                let _ = r.bytes().await?;
                samples.push(started.elapsed());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(samples)
        })
    });
    let samples = tokio::task::spawn_blocking(move || samples.join().expect("the probe thread")).await??;
    let (mut ok, mut busy) = (0, 0);
    for h in hammers {
        let (o, b) = h.await?;
        ok += o;
        busy += b;
    }
    let how = if gzip { " (gzip answers)" } else { "" };
    println!(
        "{clients} clients x {scenarios}-scenario batches{how} for {seconds} s: {ok} answered, {busy} refused or failed"
    );
    report("GET /health meanwhile", samples);
    server.stop().await;
    Ok(())
}

async fn slow_connections(binary: &PathBuf, connections: usize, seconds: u64) -> Result<()> {
    let server = Server::start(binary).await?;
    let addr = server.url.trim_start_matches("http://").to_string();
    let opened = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let stream = TcpStream::connect(&addr).await?;
        tasks.push(tokio::spawn(async move {
            let (mut reader, mut writer) = stream.into_split();
            let started = Instant::now();
            let trickle = async {
                for byte in b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: yes\r\n".iter().cycle() {
                    if writer.write_all(&[*byte]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            };
            let closed = async {
                let mut buf = [0u8; 256];
                loop {
                    match reader.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            };
            tokio::select! {
                () = closed => Some(started.elapsed()),
                () = trickle => None,
                () = tokio::time::sleep(Duration::from_secs(seconds)) => None,
            }
        }));
    }
    println!("{connections} slow connections opened in {:.2} s", opened.elapsed().as_secs_f64());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let mut samples = Vec::new();
    let mut failures = 0;
    let probe_until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < probe_until {
        let started = Instant::now();
        match client.get(format!("{}/health", server.url)).send().await {
            Ok(r) if r.status() == 200 => samples.push(started.elapsed()),
            _ => failures += 1,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    report(&format!("GET /health with {connections} slow connections open ({failures} failed)"), samples);
    let mut closed = Vec::new();
    let mut open = 0;
    for t in tasks {
        match t.await? {
            Some(after) => closed.push(after),
            None => open += 1,
        }
    }
    closed.sort();
    println!(
        "closed by the server: {} (first after {:.1} s, last after {:.1} s); still open after {seconds} s: {open}",
        closed.len(),
        closed.first().map_or(0.0, Duration::as_secs_f64),
        closed.last().map_or(0.0, Duration::as_secs_f64)
    );
    server.stop().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    match args.command {
        Command::BodyMemory { clients } => body_memory(&args.binary, clients).await,
        Command::Hangups { clients, scenarios } => hangups(&args.binary, clients, scenarios).await,
        Command::HealthUnderBatches { clients, seconds, scenarios, gzip } => {
            health_under_batches(&args.binary, clients, seconds, scenarios, gzip).await
        }
        Command::SlowConnections { connections, seconds } => {
            slow_connections(&args.binary, connections, seconds).await
        }
    }
}
