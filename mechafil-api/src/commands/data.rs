//! Data-layer commands: `update-cache`, `import`, `export`, `snapshots`, `activate`.

use super::GlobalArgs;

/// The data-layer subcommands.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum DataCommand {
    /// Fetch network data from Spacescope into the store and activate it.
    UpdateCache,
}

/// Runs one data-layer command.
pub async fn run(command: DataCommand, _global: &GlobalArgs) -> anyhow::Result<()> {
    match command {
        DataCommand::UpdateCache => anyhow::bail!("update-cache is not implemented yet"),
    }
}
