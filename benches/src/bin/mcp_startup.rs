//! Startup latency of the MCP server over stdio: process start to the `initialize` answer.
//!
//! Claude Desktop starts the server when a conversation needs it and waits for the answer to
//! `initialize`; the issue asks for it within 50 ms. This tool spawns the binary, writes an
//! `initialize` request to its stdin at once, and times until the answer line arrives on stdout,
//! `runs` times, then prints min / median / p95 / max.
//!
//! ```text
//! cargo build --release -p mcp-server
//! cargo run --release -p benches --bin mcp_startup -- [path/to/mcp-server] [runs]
//! ```
//! The default binary is `target/release/mcp-server`, the default run count 50. The API need not
//! run: `initialize` never calls it.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"mcp_startup","version":"0"}}}"#;

/// Spawns the server, sends `initialize`, and returns the time until its answer.
fn one_run(binary: &PathBuf) -> Result<Duration, String> {
    let started = Instant::now();
    let mut child = Command::new(binary)
        .args(["--transport", "stdio"])
        .env("MECHAFIL_SERVER_URL", "http://127.0.0.1:9")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| format!("cannot start {}: {err}", binary.display()))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    writeln!(stdin, "{INITIALIZE}").map_err(|err| err.to_string())?;
    stdin.flush().map_err(|err| err.to_string())?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or("no stdout")?)
        .read_line(&mut line)
        .map_err(|err| err.to_string())?;
    let elapsed = started.elapsed();
    // Closing stdin ends the session; the server exits on its own.
    drop(stdin);
    let _ = child.wait();
    let answer: serde_json::Value =
        serde_json::from_str(&line).map_err(|err| format!("bad answer {line:?}: {err}"))?;
    if answer["result"]["protocolVersion"] != "2025-06-18" {
        return Err(format!("unexpected answer: {line}"));
    }
    Ok(elapsed)
}

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let binary = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/mcp-server"));
    let runs: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(50).max(1);

    // One untimed run so the binary is in the page cache, as it is for a returning user.
    if let Err(err) = one_run(&binary) {
        eprintln!("error: {err}");
        return std::process::ExitCode::FAILURE;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        match one_run(&binary) {
            Ok(elapsed) => times.push(elapsed),
            Err(err) => {
                eprintln!("error: {err}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "mcp-server stdio start -> initialize answer over {runs} runs: min {:.1} ms, median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        ms(times[0]),
        ms(at(0.5)),
        ms(at(0.95)),
        ms(times[times.len() - 1])
    );
    std::process::ExitCode::SUCCESS
}
