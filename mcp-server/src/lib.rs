//! # mcp-server
//!
//! The MechaFil MCP server: lets Claude (Desktop over stdio, Claude.ai and other clients over
//! streamable HTTP) run Filecoin economics forecasts by calling the MechaFil HTTP API
//! (`docs/API.md`). It is a thin typed layer: it never simulates and never opens the database;
//! it validates arguments, calls the API, and shapes answers so every number carries its date
//! and unit.
//!
//! Where to look:
//! - [`tools`]: the rmcp `ServerHandler`: the tools (`fetch_context`, `simulate`,
//!   `get_historical_data`, `provide_plot` and the analyses in [`tools::analysis`]), the
//!   resources, prompts ([`tools::prompts`]) and completions; [`tools::definitions`] the tool
//!   schemas; [`tools::args`] and [`tools::params`] argument reading (scenario rules from
//!   `mechafil_core::rules`); [`tools::dated`] dates, sampling and key figures.
//! - [`api_client`]: the API client (budget, retries with backoff and jitter).
//! - [`http`]: the stateless streamable HTTP transport; [`stdio`]: the stdio transport.
//! - [`context`]: the embedded context document (`src/context.md`); [`series`]: units and kinds
//!   of the 44 series; [`catalogue`]: every series and history field; [`plot`]: PNG charts.
//! - [`config`]: flags and environment variables.

pub mod api_client;
pub mod catalogue;
pub mod config;
pub mod context;
pub mod http;
pub mod plot;
pub mod series;
pub mod stdio;
pub mod tools;

pub use api_client::{ApiClient, ApiError, RetryPolicy};
pub use config::{Cli, Config, HttpConfig, Transport};
pub use tools::MechafilServer;
