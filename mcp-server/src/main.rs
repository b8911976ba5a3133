//! The `mcp-server` binary: the MechaFil MCP server.
//!
//! ```text
//! mcp-server                                   # stdio (Claude Desktop), API at http://localhost:8000
//! MCP_TRANSPORT=http PORT=8080 mcp-server      # streamable HTTP at http://0.0.0.0:8080/mcp
//! mcp-server --transport http --port 8080 --api-url https://mechafil-api.example.org
//! mcp-server --help                            # every flag and its environment variable
//! ```

use clap::Parser;
use mcp_server::{Cli, MechafilServer, Transport};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let config = match Cli::parse().into_config() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err:#}");
            return std::process::ExitCode::from(2);
        }
    };
    // On stdio the client shows stderr in its logs; keep it to warnings unless asked.
    let default_level = match config.transport {
        Transport::Stdio => "warn",
        // rmcp logs every stateless request at info; keep its warnings only.
        Transport::Http => "info,rmcp=warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level)))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();

    // Two worker threads are plenty for a server that mostly waits on the API, and starting
    // fewer threads keeps the time to the first `initialize` answer short.
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            mcp_server::http::shutdown_signal().await;
            on_signal.cancel();
        });
        let server = MechafilServer::new(config.api.clone());
        match config.transport {
            Transport::Stdio => mcp_server::stdio::run(server, shutdown).await,
            Transport::Http => mcp_server::http::run(server, &config.http, shutdown).await,
        }
    });
    // Do not wait for stray tasks (e.g. an API warm-up request) once serving has ended.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
