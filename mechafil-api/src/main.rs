//! The `mechafil-api` binary: the HTTP service and the data-layer commands.
//!
//! ```text
//! mechafil-api                      # same as `mechafil-api serve`
//! mechafil-api update-cache         # fetch from Spacescope into the store
//! mechafil-api --help
//! ```

use clap::{Parser, Subcommand};
use mechafil_api::commands::GlobalArgs;
use mechafil_api::commands::data::{self, DataCommand};
use mechafil_api::commands::serve::{self, ServeArgs};

#[derive(Parser, Debug)]
#[command(name = "mechafil-api", version, about = "MechaFil Filecoin economics service")]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the HTTP API (the default command).
    Serve(ServeArgs),
    #[command(flatten)]
    Data(DataCommand),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve::serve(args, &cli.global).await,
        Command::Data(command) => data::run(command, &cli.global).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
