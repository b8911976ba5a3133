//! `serve` (the default command) and `simulate`.

use super::GlobalArgs;

/// Options of `serve`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServeArgs {}

/// Runs the HTTP service until SIGINT/SIGTERM.
pub async fn serve(_args: ServeArgs, _global: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("serve is not implemented yet")
}
