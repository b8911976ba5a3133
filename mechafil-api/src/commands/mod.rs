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
