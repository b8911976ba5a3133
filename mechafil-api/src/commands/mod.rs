//! The CLI subcommands of the `mechafil-api` binary, one module per group. This is the binary
//! edge: errors are `anyhow` with context.
//!
//! - [`data`]: `update-cache`, `import`, `export`, `snapshots`, `activate` (the data layer).
//! - [`serve`]: `serve` (the default) and `simulate` (the HTTP API).

use std::path::PathBuf;

pub mod data;
pub mod serve;

/// Options every subcommand shares.
#[derive(clap::Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Directory of the redb snapshot store.
    #[arg(long, env = "MECHAFIL_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`), with colours only on a terminal.
/// `try_init`: a second call (tests, nested commands) keeps the first subscriber.
pub fn init_tracing() {
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
