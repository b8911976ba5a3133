//! The `mechafil-api` binary: the HTTP service and the data-layer commands.
//!
//! ```text
//! mechafil-api                         # same as `mechafil-api serve` (HOST/PORT from the environment)
//! mechafil-api serve --port 9000
//! mechafil-api simulate --body '{}'     # what POST /simulate would answer, offline
//! mechafil-api analyze sweep --body @grid.json   # what POST /analyze/sweep would answer
//! mechafil-api update-cache             # fetch from Spacescope into the store
//! mechafil-api --help
//! ```

use clap::{Parser, Subcommand};
use mechafil_api::commands::GlobalArgs;
use mechafil_api::commands::data::{self, DataCommand};
use mechafil_api::commands::serve::{self, AnalyzeArgs, ServeArgs, SimulateArgs};

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
    /// Print what POST /simulate (or /simulate/full with --full) would answer, offline, from
    /// the active snapshot.
    Simulate(SimulateArgs),
    /// Print what POST /analyze/<kind> would answer, offline, from the active snapshot.
    Analyze(AnalyzeArgs),
    #[command(flatten)]
    Data(DataCommand),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve::serve(ServeArgs::from_env_and_defaults(), &cli.global).await,
        Some(Command::Serve(args)) => serve::serve(args, &cli.global).await,
        Some(Command::Simulate(args)) => serve::simulate(args, &cli.global).await,
        Some(Command::Analyze(args)) => serve::analyze(args, &cli.global).await,
        Some(Command::Data(command)) => data::run(command, &cli.global).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
