//! The stdio transport: newline-delimited JSON-RPC on stdin/stdout, as Claude Desktop launches
//! local servers. Stdout carries only protocol messages; logs go to stderr.

use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

use crate::tools::MechafilServer;

/// Serves `server` on stdin/stdout until the client closes stdin or `shutdown` is cancelled.
pub async fn run(server: MechafilServer, shutdown: CancellationToken) -> anyhow::Result<()> {
    let running = server.serve_with_ct(rmcp::transport::stdio(), shutdown).await?;
    let reason = running.waiting().await?;
    tracing::debug!(?reason, "stdio session ended");
    Ok(())
}
